import duckdb
import pytest

from pipeline.store import StoreLockedError, open_reader, open_writer
from pipeline.store.db import parse_size
from pipeline.store.sqlfiles import (
    load_sql,
    parse_statements,
    schema_migrations,
    split_statements,
)


def test_migrations_are_recorded_once(tmp_path):
    db = tmp_path / "w.duckdb"
    with open_writer(db) as s:
        versions = s.query("select version, name from schema_version order by version")
        assert versions["version"].tolist() == [v for v, _, _ in schema_migrations()]
        assert s.table_exists("papers") and s.table_exists("paper_embeddings")
    with open_writer(db) as s:  # reopening applies nothing twice
        assert s.migrate() == []
        assert s.scalar("select count(*) from schema_version") == len(schema_migrations())


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "w.duckdb"
    with open_writer(db, tmp_path / "writer.lock"):
        with pytest.raises(StoreLockedError, match=r"another trends process \(pid \d+\)"):
            with open_writer(db, tmp_path / "writer.lock"):
                pass
    with open_writer(db, tmp_path / "writer.lock"):  # released afterwards
        pass


def test_published_copy_is_readable_while_the_writer_works(tmp_path):
    db, pub = tmp_path / "w.duckdb", tmp_path / "pub.duckdb"
    with open_writer(db) as s:
        s.execute("create table t as select range as x from range(10)")
        s.publish_copy(pub)
        s.execute("insert into t select range from range(5)")  # writer keeps working
        with open_reader(pub) as r:
            assert r.scalar("select count(*) from t") == 10
            with pytest.raises(duckdb.Error):
                r.execute("insert into t values (1)")
        s.publish_copy(pub)
    with open_reader(pub) as r:
        assert r.scalar("select count(*) from t") == 15


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.execute("create table t (x int)")
        raise RuntimeError("boom")
    assert not store.table_exists("t")


def test_named_parameters_are_bound_not_interpolated(store):
    store.execute("create table t (x varchar)")
    hostile = "x'); drop table papers; --"
    store.execute("insert into t values ($v)", {"v": hostile})
    assert store.scalar("select x from t") == hostile
    assert store.table_exists("papers")


def test_sql_names_cannot_escape_the_sql_folder():
    with pytest.raises(ValueError, match="outside"):
        load_sql("../pyproject")


def test_split_statements_drops_comments():
    assert split_statements("-- c; x\nselect 1;\n\nselect 2;") == ["select 1", "select 2"]
    assert split_statements("-- nothing but a comment;\n") == []


def test_statements_split_where_duckdb_does():
    # a `;` in a string or a comment ends nothing; the hand splitter on `;` cut both
    found = split_statements("select ';' as a; -- x; y\nselect 'b;c' as b")
    assert found == ["select ';' as a", "select 'b;c' as b"]


def test_statements_know_their_named_parameters():
    first, second = parse_statements(
        "select $a, '$not_a_param' as s; -- $nor_this\ninsert into t values ($b, $a)"
    )
    assert first.parameters == {"a"}
    assert second.parameters == {"a", "b"}


def test_only_the_parameters_a_statement_binds_are_passed(store, tmp_path):
    # DuckDB rejects a parameter a statement does not bind; "$y" in a string binds nothing
    # (the regex that looked for "$name" in the text passed it)
    path = tmp_path / "x.parquet"
    assert store.spool("select $x as x, '$y' as s", {"x": 1, "y": 2}, path) == 1


def test_reader_of_missing_database_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="trends run"):
        with open_reader(tmp_path / "nope.duckdb"):
            pass


def test_writers_cap_duckdbs_buffer_pool(tmp_path):
    from pipeline.config import load_settings
    from pipeline.runner import writer

    settings = load_settings(home=tmp_path, duckdb_memory_limit="256MB")
    with writer(settings) as s:
        limit = s.scalar("select current_setting('memory_limit')")
    assert limit.endswith("MiB") and 200 < float(limit.split()[0]) <= 256
    with open_writer(tmp_path / "default.duckdb") as s:  # no limit given: DuckDB's own default
        assert s.scalar("select current_setting('memory_limit')") != limit


@pytest.mark.parametrize("value", ["lots", "1 TB", "-1GB", "1GB; drop table papers"])
def test_a_bad_memory_limit_is_refused_with_its_name(value):
    from pydantic import ValidationError

    from pipeline.config import load_settings

    with pytest.raises(ValidationError, match="duckdb_memory_limit"):
        load_settings(duckdb_memory_limit=value)


def test_a_query_spooled_in_parts_gives_every_row_once(store, tmp_path):
    import pyarrow.parquet as pq

    sql = (
        "select i, i * 2 as twice from range(1000) t(i)"
        " where i >= $low and hash(i) % $parts = $part"
    )
    whole = store.spool(sql, {"low": 10}, tmp_path / "one.parquet")
    split = store.spool(sql, {"low": 10}, tmp_path / "seven.parquet", parts=7)
    assert whole == split == 990
    rows = pq.read_table(tmp_path / "seven.parquet").to_pandas().sort_values("i")
    assert rows["i"].tolist() == list(range(10, 1000))
    with pytest.raises(TypeError, match="named parameters"):
        store.spool("select ?", [1], tmp_path / "x.parquet", parts=2)


@pytest.mark.parametrize(
    ("text", "size"),
    [("244.1 MiB", int(244.1 * 1024**2)), ("1GB", 10**9), ("18.8 GiB", int(18.8 * 1024**3)),
     ("512 bytes", 512)],
)  # fmt: skip
def test_duckdb_sizes_parse(text, size):
    assert parse_size(text) == size


def test_the_store_knows_its_memory_limit(tmp_path):
    with open_writer(tmp_path / "w.duckdb", memory_limit="64MB") as store:
        assert 60 * 1024**2 <= store.memory_limit_bytes() <= 64 * 1000**2
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_the_last_statement_loses_its_semicolon_and_comment():
    assert split_statements("select 1;\nselect 2; -- done\n") == ["select 1", "select 2"]
