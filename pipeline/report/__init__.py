"""Report stage: pure chart functions and the static-site renderer."""
