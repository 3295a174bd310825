"""The docs stay true to the code: links resolve, and the data dictionary names every column."""

import re

import pytest
from conftest import REPO, TOY_ROWS, seed_toy_fit

from pipeline.trends import build_marts

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_local_links_resolve(page):
    text = page.read_text()
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def dictionary_sections() -> dict[str, str]:
    """Each `### name[, name]` section of docs/data-dictionary.md, by every name it covers."""
    text = (REPO / "docs" / "data-dictionary.md").read_text()
    sections = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        for name in heading.split(","):
            sections[name.strip()] = body
    return sections


def test_data_dictionary_lists_every_table_mart_and_column(store):
    seed_toy_fit(store, TOY_ROWS)
    build_marts(store)
    columns = store.query(
        "select c.table_name, c.column_name from duckdb_columns() c"
        " join duckdb_tables() t on t.table_oid = c.table_oid"
        " where not t.temporary and not t.internal"
    )
    views = store.query(
        "select view_name from duckdb_views() where not temporary and not internal"
    )["view_name"]
    sections = dictionary_sections()
    undocumented = sorted(set(columns["table_name"]) - set(sections))
    undocumented += sorted(set(views) - set(sections))
    assert not undocumented, f"tables or views without a section: {undocumented}"
    missing = [
        f"{row.table_name}.{row.column_name}"
        for row in columns.itertuples()
        if f"`{row.column_name}`" not in sections[row.table_name]
    ]
    assert not missing, f"columns missing from docs/data-dictionary.md: {missing}"
