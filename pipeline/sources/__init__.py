"""Sources of papers: each turns an external format into raw records (one dict per record)."""
