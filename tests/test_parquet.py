"""Parquet output: read back through pandas and DuckDB with the same figures, typed columns and
the frame's attrs in the file metadata; a clear exit 2 when pyarrow is missing."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from support import run_cli

from generect_reports import load_sample
from generect_reports.analysis.pricing import to_hundredths
from generect_reports.render.records import export


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("pq") / "usage.parquet"
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2025-01-01",
        "--end",
        "2026-10-31",
        "--format",
        "parquet",
        "--output",
        str(path),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    return path


def test_pandas_round_trip_is_exact(written, sample):
    back = pd.read_parquet(written)
    assert list(back.columns) == ["period_start", "period", "operation", "credits"]
    assert str(back["period_start"].dt.tz) == "Europe/Kyiv"
    assert isinstance(back["operation"].dtype, pd.CategoricalDtype)
    assert back["credits"].dtype == "float64"
    expected = sample.copy()
    expected["operation"] = expected["operation"].astype("category")
    expected["period_start"] = expected["period_start"].dt.as_unit("us")
    back["period_start"] = back["period_start"].dt.as_unit("us")
    back["period"] = back["period"].astype(expected["period"].dtype)
    back.attrs, expected.attrs = {}, {}
    pd.testing.assert_frame_equal(back, expected, check_categorical=False)
    # instants are the same moments, DST days included
    assert (
        back["period_start"].dt.tz_convert("UTC") == sample["period_start"].dt.tz_convert("UTC")
    ).all()


def test_attrs_travel_as_file_metadata(written, sample):
    stored = export.parquet_attrs(written)
    assert (
        stored["timezone"] == "Europe/Kyiv"
        and stored["source"] == "sample"
        and stored["period"] == "day"
    )
    assert stored["fetched_at"] == sample.attrs["fetched_at"].isoformat()
    assert stored["start"] == "2025-01-01" and stored["end"] == "2026-10-31"
    back = pd.read_parquet(written)
    assert back.attrs["timezone"] == "Europe/Kyiv" and back.attrs["source"] == "sample"


def test_duckdb_reads_the_same_figures(written, sample):
    rows = duckdb.sql(
        f"select operation, sum(credits) as credits, count(*) as n from '{written}' "
        "group by operation order by operation"
    ).fetchall()
    expected = sample.groupby("operation", sort=True)["credits"].agg(["sum", "count"])
    assert [r[0] for r in rows] == list(expected.index)
    assert list(to_hundredths([r[1] for r in rows])) == list(to_hundredths(expected["sum"]))
    assert [r[2] for r in rows] == list(expected["count"])
    first, last = duckdb.sql(
        f"select min(period_start), max(period_start) from '{written}'"
    ).fetchall()[0]
    assert pd.Timestamp(first) == sample["period_start"].min()
    assert pd.Timestamp(last) == sample["period_start"].max()
    month = duckdb.sql(
        f"select sum(credits) from '{written}' where period like '2026-03-%'"
    ).fetchall()[0][0]
    assert month == sample.loc[sample["period"].str.startswith("2026-03"), "credits"].sum()


def test_monthly_parquet_keeps_labels(tmp_path):
    path = tmp_path / "m.parquet"
    frame = load_sample("2026-01-01", "2026-06-30", period="month")
    export.write_usage_parquet(frame, path)
    back = pd.read_parquet(path)
    assert sorted(back["period"].unique()) == [f"2026-0{m}" for m in range(1, 7)]
    assert (
        duckdb.sql(f"select count(distinct operation) from '{path}'").fetchall()[0][0]
        == frame["operation"].nunique()
    )


def test_names_stay_verbatim(tmp_path):
    from helpers import frame

    odd = frame(
        [("2026-03-01", "=cmd|' /C calc'!A0", 2.0), ("2026-03-01", "tab\top", 1.0)],
        fetched_at="2026-03-10",
    )
    path = tmp_path / "odd.parquet"
    export.write_usage_parquet(odd, path)
    assert sorted(pd.read_parquet(path)["operation"].astype(str)) == sorted(
        ["=cmd|' /C calc'!A0", "tab\top"]
    )


def test_parquet_needs_output_path():
    out = run_cli(
        "usage", "--sample", "--start", "2026-05-01", "--end", "2026-05-02", "--format", "parquet"
    )
    assert out.returncode == 2 and "--output" in out.stderr


@pytest.mark.parametrize("fmt, name", [("parquet", "u.parquet"), ("focus", "f.parquet")])
def test_missing_pyarrow_names_the_extra(tmp_path, fmt, name):
    target = tmp_path / name
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from generect_reports.cli import main\n"
        f"main(['usage', '--sample', '--start', '2026-05-01', '--end', '2026-05-02', "
        f"'--format', '{fmt}', '--output', {str(target)!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "pip install 'generect-reports[parquet]'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []
