"""An output path is written into, or refused, never swapped: special files are streamed into,
write-protected files refused, links kept, every write failure one line with no debris."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest
from support import run_cli

from generect_reports._atomic import atomic_path, write_bytes_atomic
from generect_reports.errors import OutputError, WriteFailed

USAGE = ["usage", "--sample", "--start", "2026-10-01", "--end", "2026-10-03", "--format", "csv"]


def _expected_csv(tmp_path: Path) -> str:
    out = run_cli(*USAGE, "--output", str(tmp_path / "plain.csv"))
    assert out.returncode == 0, out.stderr
    return (tmp_path / "plain.csv").read_text()


def _debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_fifo_is_streamed_into_and_stays_a_fifo(tmp_path):
    expected = _expected_csv(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    out = run_cli(*USAGE, "--output", str(fifo))
    reader.join(30)
    assert out.returncode == 0, out.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got == [expected.encode()]
    assert _debris(tmp_path) == []


@pytest.mark.parametrize("how", ["/dev/stdout", "/proc/self/fd/1", "link"])
def test_stdout_paths_reach_the_reader(tmp_path, how):
    expected = _expected_csv(tmp_path)
    target = how
    if how == "link":
        link = tmp_path / "out.csv"
        link.symlink_to("/proc/self/fd/1")
        target = str(link)
    out = run_cli(*USAGE, "--output", target)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected
    if how == "link":
        assert (tmp_path / "out.csv").is_symlink()


def test_dev_null_stays_a_device(tmp_path):
    before = os.stat("/dev/null")
    out = run_cli(*USAGE, "--output", "/dev/null")
    after = os.stat("/dev/null")
    assert out.returncode == 0, out.stderr
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (
        before.st_ino,
        before.st_rdev,
    )


def test_a_full_device_is_exit_4_in_one_line(tmp_path):
    out = run_cli(*USAGE, "--output", "/dev/full")
    assert out.returncode == 4
    assert out.stderr.count("\n") == 1 and "No space left on device" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_write_protected_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("the controller's copy")
    target.chmod(0o444)
    out = run_cli(*USAGE, "--output", str(target))
    assert out.returncode == 2 and "write-protected" in out.stderr
    assert out.stderr.count("\n") == 1
    assert target.read_text() == "the controller's copy"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert _debris(tmp_path) == []


def test_a_link_to_a_regular_file_is_kept_and_its_file_replaced(tmp_path):
    expected = _expected_csv(tmp_path)
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    out = run_cli(*USAGE, "--output", str(link))
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and real.read_text() == expected
    assert _debris(tmp_path) == []


@pytest.mark.parametrize("length", [233, 250, 255])
def test_long_names_within_the_limit_are_written(tmp_path, length):
    target = tmp_path / ("r" * (length - 4) + ".csv")
    out = run_cli(*USAGE, "--output", str(target))
    assert out.returncode == 0, out.stderr
    assert target.read_text().startswith('"period_start",')
    assert _debris(tmp_path) == []


def test_a_name_over_the_limit_is_exit_2_in_one_line(tmp_path):
    out = run_cli(*USAGE, "--output", str(tmp_path / ("r" * 300 + ".csv")))
    assert out.returncode == 2 and "too long" in out.stderr and out.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "code, kind",
    [(errno.ENOSPC, WriteFailed), (errno.EIO, WriteFailed), (errno.EACCES, OutputError)],
)
def test_a_writer_failing_mid_write_leaves_nothing(tmp_path, code, kind):
    """A writer (XlsxWriter, pyarrow) that wraps the device's OSError in its own exception."""
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"previous")

    class WriterError(Exception):
        pass

    with pytest.raises(kind) as info:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            try:
                raise OSError(code, os.strerror(code))
            except OSError as exc:
                raise WriterError("could not save the workbook") from exc
    assert "\n" not in str(info.value) and str(target) in str(info.value)
    assert target.read_bytes() == b"previous"
    assert _debris(tmp_path) == []


def test_write_bytes_atomic_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_bytes_atomic(fifo, b"x" * (3 << 20))  # more than a pipe holds: really streamed
    reader.join(30)
    assert got == [b"x" * (3 << 20)] and stat.S_ISFIFO(os.stat(fifo).st_mode)


# --- the cache is private ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_cache_is_created_private(monkeypatch, tmp_path):
    """The platform's cache folder 0700, the database and its WAL files 0600, font subsets too."""
    monkeypatch.delenv("GENERECT_REPORTS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    old = os.umask(0o022)  # the usual umask, which would leave files 0644
    try:
        out = run_cli("report", "--sample", "--month", "2026-10", cwd=tmp_path)
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "xdg" / "generect-reports"
    assert _mode(folder) == 0o700
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and {_mode(p) for p in files} == {0o600}
    assert {_mode(p) for p in folder.rglob("*") if p.is_dir()} <= {0o700}


def test_an_open_cache_left_by_an_older_version_is_tightened(monkeypatch, tmp_path):
    monkeypatch.delenv("GENERECT_REPORTS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "generect-reports"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    db = folder / "usage-v1.sqlite3"
    import sqlite3

    sqlite3.connect(db).close()
    db.chmod(0o644)
    from generect_reports.fetch.cache import UsageCache

    cache = UsageCache()
    cache.get_many("account", [])  # opens the store
    cache.close()
    assert _mode(folder) == 0o700 and _mode(db) == 0o600


def test_a_cache_folder_named_by_the_user_keeps_its_mode_and_gets_private_files(
    isolated_env, tmp_path
):
    isolated_env.chmod(0o755)
    out = run_cli("usage", "--sample", "--start", "2026-10-01", "--end", "2026-10-02")
    assert out.returncode == 0, out.stderr
    from generect_reports.fetch.cache import UsageCache

    UsageCache().get_many("account", [])
    assert _mode(isolated_env) == 0o755
    assert {_mode(p) for p in isolated_env.glob("usage-v1.sqlite3*")} <= {0o600}
