"""The Parquet history store: closed months written as hive partitions with a manifest, read back
by DuckDB; idempotent re-runs, a running month refused, a damaged manifest rebuilt, and many
accounts with one failing."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily
from support import run_cli

from generect_reports.deliver.history import MANIFEST, partition_path, sync_history
from generect_reports.fetch.history import open_history
from generect_reports.fetch.source import open_source


def _sync(store, *args, env=None):
    return run_cli("sync", "--to", str(store), *args, env=env)


def test_the_samples_closed_months_read_back_through_duckdb(tmp_path):
    store = tmp_path / "store"
    out = _sync(store, "--sample", "--since", "2026-09", "--until", "2026-10")
    assert out.returncode == 0, out.stderr
    assert "6 partition(s) written, 0 unchanged" in out.stderr
    manifest = json.loads((store / MANIFEST).read_text())
    assert set(manifest["partitions"]) == {
        partition_path(d, "default", m)
        for d in ("usage", "ledger", "tokens")
        for m in ("2026-09", "2026-10")
    }
    con = open_history(store)
    by_month = con.sql(
        "SELECT month, sum(credits) FROM usage GROUP BY month ORDER BY month"
    ).fetchall()
    # The report's totals for these months (the sample's September and October 2026).
    assert by_month == [("2026-09", 29874.0), ("2026-10", 33441.0)]
    with open_source(sample=True) as source:
        ledger = source.ledger("2026-10").ledger
        tokens = source.tokens(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert con.execute("SELECT count(*) FROM ledger WHERE month = '2026-10'").fetchone() == (
        len(ledger),
    )
    assert con.execute("SELECT sum(requests) FROM tokens WHERE month = '2026-10'").fetchone() == (
        int(tokens["requests"].sum()),
    )
    # Instants are stored in UTC with their zone beside them: the first Kyiv midnight of October.
    first = con.execute(
        "SELECT min(period_start), any_value(timezone) FROM usage WHERE month = '2026-10'"
    ).fetchone()
    assert first[0].astimezone(dt.UTC) == dt.datetime(2026, 9, 30, 21, 0, tzinfo=dt.UTC)
    assert first[1] == "Europe/Kyiv"


def test_a_second_sync_rewrites_nothing(tmp_path):
    store = tmp_path / "store"
    with open_source(sample=True) as source:
        first = sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
        stamps = {p: os.stat(store / p).st_mtime_ns for p in first.written}
        again = sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
    assert first.written == [partition_path("usage", "default", "2026-10")]
    assert again.written == [] and again.unchanged == first.written
    assert {p: os.stat(store / p).st_mtime_ns for p in first.written} == stamps


def test_a_damaged_manifest_is_rebuilt(tmp_path):
    store = tmp_path / "store"
    with open_source(sample=True) as source:
        sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
        (store / MANIFEST).write_text("{not json")
        again = sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
    assert again.written == [partition_path("usage", "default", "2026-10")]
    assert json.loads((store / MANIFEST).read_text())["partitions"]


def test_a_running_month_is_refused_and_nothing_is_written(tmp_path):
    store = tmp_path / "store"
    out = _sync(store, "--sample", "--since", "2026-11", "--until", "2026-11")
    assert out.returncode == 2 and "2026-11 is not closed yet" in out.stderr
    assert not list(store.glob("dataset=*"))


def test_sync_needs_a_folder():
    out = run_cli("sync", "--sample")
    assert out.returncode == 2 and "--to DIR" in out.stderr


def test_a_store_is_refused_when_it_is_none(tmp_path):
    from generect_reports.errors import InputError

    with pytest.raises(InputError, match="not a history store"):
        open_history(tmp_path)


def test_many_accounts_each_have_their_partitions_and_a_failure_is_named(tmp_path):
    servers = {}
    env = {"GENERECT_API_TIMEOUT": "1", "GENERECT_API_DEADLINE": "2"}
    lines = []
    for k, name in enumerate(["alpha", "beta", "gamma"]):
        fake = FakeGenerect(
            token=f"{TOKEN}-{k}",
            daily=simple_daily(dt.date(2026, 1, 1), dt.date(2026, 3, 31), {"preview": 1.0 + k}),
        ).start()
        servers[name] = fake
        env[f"T_{k}"] = fake.token if name != "gamma" else "wrong-token"
        lines.append(f'[accounts.{name}]\ntoken_env = "T_{k}"\napi_url = "{fake.url}"\n')
    config = tmp_path / "c.toml"
    config.write_text("\n".join(lines) + f'\n[history]\npath = "{tmp_path / "store"}"\n')
    try:
        out = run_cli(
            "sync",
            "--config",
            str(config),
            "--all-accounts",
            "--since",
            "2026-02",
            "--until",
            "2026-02",
            "--dataset",
            "usage",
            env=env,
        )
    finally:
        for fake in servers.values():
            fake.stop()
    assert out.returncode == 3, out.stderr
    assert "partial: 1 account(s) failed (gamma)" in out.stderr and "wrong-token" not in out.stderr
    con = open_history(tmp_path / "store")
    assert con.sql(
        "SELECT account, sum(credits) FROM usage GROUP BY account ORDER BY account"
    ).fetchall() == [("alpha", 28.0), ("beta", 56.0)]


def test_instants_are_microsecond_utc_timestamps_that_spark_and_trino_read(tmp_path):
    import pyarrow.parquet as pq

    store = tmp_path / "store"
    with open_source(sample=True) as source:
        sync_history({"default": source}, store, ["2026-10"], datasets=["usage", "ledger"])
    for dataset in ("usage", "ledger"):
        schema = pq.read_schema(store / partition_path(dataset, "default", "2026-10"))
        stamps = [f for f in schema if str(f.type).startswith("timestamp")]
        assert stamps and all(str(f.type) == "timestamp[us, tz=UTC]" for f in stamps), schema


def _view_sql(con, name):
    return con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [name]).fetchall()[0][
        0
    ]


def test_one_schema_binds_by_position_and_a_mixed_store_still_lines_up_by_name(tmp_path):
    """The manifest's schema fingerprints decide how DuckDB binds the files: one schema across a
    dataset needs no footer read up front; a partition with other columns (written by another
    version), or one the manifest does not describe, makes the view line columns up by name,
    and the figures are the same either way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = tmp_path / "store"
    with open_source(sample=True) as source:
        sync_history({"default": source}, store, ["2026-09", "2026-10"], datasets=["usage"])
    manifest = json.loads((store / MANIFEST).read_text())
    assert len({e["schema"] for e in manifest["partitions"].values()}) == 1
    con = open_history(store)
    assert "union_by_name" not in _view_sql(con, "usage").lower()
    totals = "SELECT month, sum(credits) FROM usage GROUP BY month ORDER BY month"
    expected = [("2026-09", 29874.0), ("2026-10", 33441.0)]
    assert con.sql(totals).fetchall() == expected

    # September as another version wrote it: one more column, in another place.
    rel = partition_path("usage", "default", "2026-09")
    table = pq.read_table(store / rel)
    table = table.add_column(0, "note", pa.array(["x"] * len(table)))
    pq.write_table(table, store / rel)
    from generect_reports.deliver.history import schema_fingerprint

    manifest["partitions"][rel]["schema"] = schema_fingerprint(table.schema)
    (store / MANIFEST).write_text(json.dumps(manifest))
    con = open_history(store)
    assert "union_by_name" in _view_sql(con, "usage").lower()
    assert con.sql(totals).fetchall() == expected
    assert con.sql("SELECT count(note) FROM usage WHERE month = '2026-10'").fetchall() == [(0,)]

    # A manifest that does not describe every file (an older store) is read by name too.
    del manifest["partitions"][rel]["schema"]
    (store / MANIFEST).write_text(json.dumps(manifest))
    assert "union_by_name" in _view_sql(open_history(store), "usage").lower()


def test_a_second_sync_gives_an_older_store_its_schema_fingerprints(tmp_path):
    store = tmp_path / "store"
    with open_source(sample=True) as source:
        sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
        manifest = json.loads((store / MANIFEST).read_text())
        for entry in manifest["partitions"].values():
            del entry["schema"]
        (store / MANIFEST).write_text(json.dumps(manifest))
        again = sync_history({"default": source}, store, ["2026-10"], datasets=["usage"])
    assert again.written == []
    entries = json.loads((store / MANIFEST).read_text())["partitions"].values()
    assert all(len(e["schema"]) == 16 for e in entries)
    assert "union_by_name" not in _view_sql(open_history(store), "usage").lower()


def test_the_connection_keeps_no_second_copy_of_the_files_it_reads(tmp_path):
    """DuckDB's own cache of file bytes is off on the store's connection: a scan leaves nothing
    in it, where a default connection reading the same files keeps what it read."""
    import duckdb

    store = tmp_path / "store"
    with open_source(sample=True) as source:
        sync_history({"default": source}, store, ["2026-09", "2026-10"], datasets=["usage"])
    cached = (
        "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
        "WHERE tag = 'OBJECT_CACHE'"
    )
    totals = "SELECT month, sum(credits) FROM usage GROUP BY month ORDER BY month"
    expected = [("2026-09", 29874.0), ("2026-10", 33441.0)]

    con = open_history(store)
    assert con.sql("SELECT current_setting('enable_external_file_cache')").fetchall() == [(False,)]
    assert con.sql(totals).fetchall() == expected
    assert con.sql(cached).fetchall() == [(0,)]

    plain = duckdb.connect()
    files = str(store / "dataset=usage" / "account=*" / "month=*" / "data.parquet")
    plain.execute(
        f"CREATE VIEW usage AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)"
    )
    assert plain.sql(totals).fetchall() == expected
    assert plain.sql(cached).fetchall()[0][0] > 0
