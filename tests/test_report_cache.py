"""Monthly reports kept between roll-ups: a second run over unchanged inputs reads every report
back (the same reports, the same files, byte for byte), anything that changed is built again, a
broken entry costs nothing but its build, ``--no-cache`` keeps nothing, and nothing kept is
secret. The accounts are real clients against local servers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import stat
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily
from support import run_cli

from generect_reports.accounts import AccountSpec
from generect_reports.fetch.multi import open_accounts
from generect_reports.reports.assemble import ReportSettings
from generect_reports.reports.model_cache import FOLDER, ReportCache
from generect_reports.reports.rollup import rollup_report

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
from fleetapi import Fleet  # noqa: E402

MONTH = "2026-10"
SETTINGS = ReportSettings(history=6)
#: Where a report carries the time its data were read: all that differs between two runs.
STAMPS = {
    "as_of",
    "daily.attrs['fetched_at']",
    "sections.budget.attrs['as_of']",
    "sections.burnup.attrs['as_of']",
}


@pytest.fixture
def servers():
    """Four accounts, each on its own local server with its own token and usage."""
    fakes = {}
    for k in range(4):
        fakes[f"acct{k}"] = FakeGenerect(
            token=f"{TOKEN}-{k}",
            daily=simple_daily(
                dt.date(2025, 1, 1), dt.date(2026, 12, 31), {"preview": 1.0 + k, "email_find": 2.0}
            ),
        ).start()
    yield fakes
    for fake in fakes.values():
        fake.stop()


def _open(fakes, *, no_cache: bool = False):
    specs = [AccountSpec(name=n, token_env=f"T_{n}", api_url=f.url) for n, f in fakes.items()]
    environ = {f"T_{n}": f.token for n, f in fakes.items()}
    return open_accounts(specs, timezone="UTC", environ=environ, no_cache=no_cache)


def _rollup(fakes, cache, settings_for=lambda _: SETTINGS, *, no_cache=False):
    with _open(fakes, no_cache=no_cache) as multi:
        return rollup_report(multi, MONTH, settings_for, report_cache=cache)


def _differences(a, b, path: str = "") -> list[str]:
    """Where two reports differ: every field, frames cell by cell and their ``attrs``."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        out = []
        for f in dataclasses.fields(a):
            sub = f"{path}.{f.name}" if path else f.name
            out += _differences(getattr(a, f.name), getattr(b, f.name), sub)
        return out
    if isinstance(a, pd.DataFrame):
        out = _differences(dict(a.attrs), dict(b.attrs), f"{path}.attrs")
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            out.append(path)
        return out
    if isinstance(a, dict):
        if set(a) != set(b):
            return [path]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}[{k!r}]")]
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if a is pd.NaT or b is pd.NaT:
        return [] if a is b else [path]
    if isinstance(a, float) and math.isnan(a):
        return [] if isinstance(b, float) and math.isnan(b) else [path]
    return [] if a == b else [path]


def _entries(cache: ReportCache) -> list[Path]:
    return sorted(cache.directory.glob("*.report"))


def test_a_second_rollup_reads_every_report_back_and_they_are_the_reports_built_now(
    servers, tmp_path
):
    cold_cache = ReportCache(tmp_path)
    cold = _rollup(servers, cold_cache)
    assert (cold_cache.hits, cold_cache.stored) == (0, 4)
    time.sleep(1.1)  # read a second later: the reports must say so
    warm_cache = ReportCache(tmp_path)
    warm = _rollup(servers, warm_cache)
    assert (warm_cache.hits, warm_cache.stored) == (4, 0)  # not one report built again
    fresh = _rollup(servers, False)
    for name in ("accounts", "operations", "trend"):
        pd.testing.assert_frame_equal(getattr(warm, name), getattr(fresh, name), check_exact=True)
    for name, rep in warm.reports.items():
        # Every figure, frame and note is the one built now; only the read time differs, and
        # the kept report carries this run's, not the first run's.
        assert set(_differences(rep, fresh.reports[name])) <= STAMPS
        assert rep.as_of > cold.reports[name].as_of
        assert rep.as_of == rep.daily.attrs["fetched_at"] == rep.sections.budget.attrs["as_of"]
        assert rep.as_of == rep.sections.burnup.attrs["as_of"]
        assert _differences(rep, cold.reports[name]) != []  # the first run's stamp is gone


def test_kept_reports_write_the_same_files_byte_for_byte(servers, tmp_path):
    from generect_reports.deliver.parallel import write_report_files
    from generect_reports.render.pdf.rollup import write_rollup_pdf
    from generect_reports.render.xlsx.rollup import write_rollup_workbook

    # A look-back time fixes every stamp, so whole files can be compared.
    settings = ReportSettings(history=6, as_of=pd.Timestamp("2026-11-20 09:00"))
    cache = ReportCache(tmp_path / "cache")
    written = {}
    for run, report_cache in (("built", False), ("kept", cache), ("read back", cache)):
        rep = _rollup(servers, report_cache, lambda _: settings)
        folder = tmp_path / run.replace(" ", "-")
        folder.mkdir()
        write_rollup_workbook(rep, folder / "accounts.xlsx")
        write_rollup_pdf(rep, folder / "accounts.pdf")
        one = rep.reports["acct2"]
        write_report_files(one, folder / "acct2.xlsx", folder / "acct2.pdf")
        written[run] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert (cache.hits, cache.stored) == (4, 4)
    assert len(written["built"]) == 4
    assert written["read back"] == written["built"] == written["kept"]


def test_only_the_account_whose_data_changed_is_built_again(servers, tmp_path, monkeypatch):
    cache = ReportCache(tmp_path)
    _rollup(servers, cache)
    # Account 2's October is restated, and read again into a new usage cache.
    for day in servers["acct2"].daily:
        if day.month == 10 and day.year == 2026:
            servers["acct2"].daily[day] = {"preview": 7.0, "email_find": 2.0}
    monkeypatch.setenv("GENERECT_REPORTS_CACHE_DIR", str(tmp_path / "usage-again"))
    again = ReportCache(tmp_path)
    rep = _rollup(servers, again)
    assert (again.hits, again.stored) == (3, 1)
    credits = dict(zip(rep.accounts["account"], rep.accounts["credits"]))
    assert credits["acct2"] == 31 * 9.0  # the restated figure, not the kept one
    assert credits["acct1"] == 31 * 4.0
    assert len(_entries(cache)) == 5  # the old entry stays until pruned


def test_a_settings_change_builds_that_account_again(servers, tmp_path):
    from generect_reports.analysis.budget import Budgets

    _rollup(servers, ReportCache(tmp_path))
    budget = ReportSettings(history=6, budgets=Budgets(monthly_credits=50.0))
    one = ReportCache(tmp_path)
    rep = _rollup(servers, one, lambda name: budget if name == "acct1" else SETTINGS)
    assert (one.hits, one.stored) == (3, 1)
    rows = rep.reports["acct1"].sections.budget
    assert 50.0 in rows["threshold"].tolist()
    longer = ReportCache(tmp_path)
    _rollup(servers, longer, lambda _: ReportSettings(history=7))
    assert (longer.hits, longer.stored) == (0, 4)
    titled = ReportCache(tmp_path)
    _rollup(servers, titled, lambda name: ReportSettings(history=6, account=f"Team {name}"))
    assert (titled.hits, titled.stored) == (0, 4)


def test_a_broken_entry_is_built_again_and_rewritten_without_a_word(servers, tmp_path, recwarn):
    cache = ReportCache(tmp_path)
    first = _rollup(servers, cache)
    entries = _entries(cache)
    assert len(entries) == 4
    entries[0].write_bytes(b"not a report")
    entries[1].write_bytes(entries[1].read_bytes()[:-100])  # torn
    flipped = bytearray(entries[2].read_bytes())
    flipped[-50] ^= 0xFF  # one bit of rot
    entries[2].write_bytes(bytes(flipped))
    again = ReportCache(tmp_path)
    rep = _rollup(servers, again)
    assert rep.complete and (again.hits, again.stored) == (1, 3)
    assert rep.total == first.total and rep.accounts.equals(first.accounts)
    assert not [w for w in recwarn if "cache" in str(w.message)]
    third = ReportCache(tmp_path)
    _rollup(servers, third)
    assert (third.hits, third.stored) == (4, 0)  # rewritten whole
    # An entry others may write is never unpickled: built again, and rewritten private.
    entries[3].chmod(0o666)
    fourth = ReportCache(tmp_path)
    _rollup(servers, fourth)
    assert (fourth.hits, fourth.stored) == (3, 1)
    assert stat.S_IMODE(entries[3].stat().st_mode) == 0o600


def test_no_cache_keeps_and_reads_nothing(servers, tmp_path):
    _rollup(servers, ReportCache(tmp_path))
    cache = ReportCache(tmp_path)
    _rollup(servers, cache, no_cache=True)
    assert (cache.hits, cache.stored) == (0, 0)


def test_a_running_month_is_never_kept(servers, tmp_path):
    cache = ReportCache(tmp_path)
    running = pd.Timestamp.now(tz="UTC").strftime("%Y-%m")
    with _open(servers) as multi:
        rep = rollup_report(multi, running, lambda _: SETTINGS, report_cache=cache)
    assert not rep.month_complete
    assert (cache.hits, cache.stored) == (0, 0) and _entries(cache) == []


def test_entries_are_private_and_bounded(servers, tmp_path):
    cache = ReportCache(tmp_path)
    _rollup(servers, cache)
    sizes = [p.stat().st_size for p in _entries(cache)]
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in _entries(cache)} == {0o600}
    # Room for two and a half entries: the ones used least recently go.
    small = ReportCache(tmp_path / "small", max_bytes=int(max(sizes) * 2.5))
    _rollup(servers, small)
    assert small.stored == 4
    left = _entries(small)
    assert 1 <= len(left) <= 2
    assert sum(p.stat().st_size for p in left) <= small.max_bytes


def test_the_cli_keeps_reports_in_its_cache_folder_and_no_secret_in_them(servers, tmp_path):
    cache_dir = tmp_path / "cache"
    lines, env = [], {"GENERECT_REPORTS_CACHE_DIR": str(cache_dir)}
    for name, fake in servers.items():
        env[f"T_{name}"] = fake.token
        lines.append(f'[accounts.{name}]\ntoken_env = "T_{name}"\napi_url = "{fake.url}"\n')
    config = tmp_path / "fleet.toml"
    config.write_text("\n".join(lines))
    common = ["--config", str(config), "--all-accounts", "--timezone", "UTC", "--quiet"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["report", "--month", MONTH, "--history", "6", *common]
    off = run_cli(*args, "--no-cache", "--xlsx", str(out_dir / "a.xlsx"), env=env)
    assert off.returncode == 0, off.stderr
    assert not (cache_dir / FOLDER).exists()  # --no-cache: nothing kept
    for _ in range(2):
        out = run_cli(*args, "--xlsx", str(out_dir / "a.xlsx"), env=env)
        assert out.returncode == 0, out.stderr
    kept = sorted((cache_dir / FOLDER).iterdir())
    assert len(kept) == 4
    secrets = [fake.token.encode() for fake in servers.values()]
    for path in cache_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert not any(s in blob for s in secrets), path.name
            assert TOKEN.encode() not in blob, path.name


def test_reports_built_in_workers_are_kept_and_read_back(tmp_path, forkable):
    with Fleet(8, latency=0.0, rate=None) as fleet:
        specs, environ = [], {}
        for k, (url, token) in enumerate(fleet.accounts):
            specs.append(AccountSpec(name=f"a{k}", token_env=f"T_{k}", api_url=url))
            environ[f"T_{k}"] = token
        counts = []
        for _ in range(2):
            cache = ReportCache(tmp_path)
            with open_accounts(specs, timezone="UTC", environ=environ) as multi:
                rep = rollup_report(multi, MONTH, lambda _: SETTINGS, report_cache=cache)
            assert rep.complete
            counts.append((cache.hits, cache.stored))
    assert counts == [(0, 8), (8, 0)]
