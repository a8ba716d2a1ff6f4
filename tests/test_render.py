"""The report's workbook and PDF rendered side by side (a forked child renders the workbook),
and the font subsets kept across runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import generect_reports as g
from generect_reports.deliver import parallel as render
from generect_reports.errors import GenerectError, InputError
from generect_reports.render.pdf import fontcache
from generect_reports.render.pdf.document import render_pdf
from generect_reports.render.xlsx.workbook import render_workbook

_fork_platform = pytest.mark.skipif(
    not render._can_fork(), reason="fork is not used on this platform"
)


def needs_fork(test):  # type: ignore[no-untyped-def]
    """A test of the forked child: on a platform that forks, from a process that can."""
    return _fork_platform(pytest.mark.usefixtures("forkable")(test))


@pytest.fixture(scope="module")
def rep(sample):
    return g.build_report(sample, "2026-03")


def _no_children() -> bool:
    """No child of this process is left, running or unreaped, but multiprocessing's resource
    tracker and fork server: other tests start them (a spawn context; ``run_cli``), and they live
    as long as the process."""
    return not [pid for pid in _children_of(os.getpid()) if not _is_multiprocessing_helper(pid)]


def _is_multiprocessing_helper(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(
        name in command
        for name in (b"multiprocessing.resource_tracker", b"multiprocessing.forkserver")
    )


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@needs_fork
def test_parallel_gives_the_bytes_of_one_process(rep, monkeypatch):
    xlsx, pdf = render.render_report_files(rep)
    assert xlsx == render_workbook(rep) and pdf == render_pdf(rep)
    monkeypatch.setattr(render, "_can_fork", lambda: False)
    assert render.render_report_files(rep) == (xlsx, pdf)
    assert _no_children()


def test_one_file_is_rendered_in_this_process(rep, monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked for one file"))
    xlsx, pdf = render.render_report_files(rep, want_xlsx=False)
    assert xlsx is None and pdf is not None and pdf.startswith(b"%PDF")


def test_both_files_written_and_no_temporary_files(rep, tmp_path):
    render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert (tmp_path / "r.xlsx").read_bytes().startswith(b"PK")
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert _leftovers(tmp_path) == []
    assert _no_children()


@needs_fork
def test_an_error_in_the_child_is_raised_here_as_itself(rep, tmp_path, monkeypatch):
    def broken(_rep):
        raise InputError("the PDF cannot be made")

    monkeypatch.setattr(render, "_render_pdf", broken)
    with pytest.raises(InputError, match="the PDF cannot be made") as info:
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert info.value.exit_code == 2
    # As in one process: the workbook, written first, is in place; no PDF, no temporary file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]
    assert _no_children()


@needs_fork
def test_a_workbook_error_writes_nothing(rep, tmp_path, monkeypatch):
    def broken(_rep):
        raise InputError("the workbook cannot be made")

    monkeypatch.setattr(render, "_render_xlsx", broken)
    with pytest.raises(InputError, match="the workbook cannot be made"):
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert list(tmp_path.iterdir()) == []
    assert _no_children()


class _Awkward(GenerectError):
    """An error whose constructor pickle cannot call again."""

    exit_code = 4

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")


@needs_fork
def test_an_error_that_cannot_be_pickled_keeps_its_text_and_exit_code(rep, monkeypatch):
    def broken(_rep):
        raise _Awkward(500, "server said no")

    monkeypatch.setattr(render, "_render_pdf", broken)
    with pytest.raises(GenerectError, match="500: server said no") as info:
        render.render_report_files(rep)
    assert info.value.exit_code == 4


@needs_fork
def test_a_child_that_dies_is_a_clean_error(rep, tmp_path, monkeypatch):
    def killed(_rep):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(render, "_render_pdf", killed)
    with pytest.raises(render.ChildFailed, match="signal 9") as info:
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert info.value.exit_code == 1 and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]
    assert _no_children()


@needs_fork
def test_interrupt_stops_the_child_and_leaves_nothing(rep, tmp_path, monkeypatch):
    def interrupted(_rep):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "_render_xlsx", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert list(tmp_path.iterdir()) == []
    assert _no_children()


@needs_fork
def test_cli_reports_a_child_failure_in_one_line(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from generect_reports.cli import cli

    def broken(_rep):
        raise InputError("the PDF cannot be made")

    monkeypatch.setattr(render, "_render_pdf", broken)
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "--sample",
            "--month",
            "2026-03",
            "--quiet",
            "--xlsx",
            str(tmp_path / "r.xlsx"),
            "--pdf",
            str(tmp_path / "r.pdf"),
        ],
    )
    assert result.exit_code == 2
    assert result.output.strip() == "error: the PDF cannot be made"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]


def test_in_one_process_the_same_files_are_written_on_a_pdf_error(rep, tmp_path, monkeypatch):
    def broken(_rep):
        raise InputError("no PDF today")

    monkeypatch.setattr(render, "_can_fork", lambda: False)
    monkeypatch.setattr(render, "_render_pdf", broken)
    with pytest.raises(InputError, match="no PDF today"):
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]


def test_the_collector_is_restored(rep):
    import gc

    render.render_report_files(rep)
    assert gc.isenabled()
    gc.disable()
    try:
        render.render_report_files(rep, want_xlsx=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


@needs_fork
def test_a_worker_forked_before_the_data_draws_the_same_pdf(rep, tmp_path):
    with render.start_pdf_worker() as worker:
        assert worker is not None
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf", worker=worker)
    assert (tmp_path / "r.pdf").read_bytes() == render_pdf(rep)
    assert (tmp_path / "r.xlsx").read_bytes() == render_workbook(rep)
    assert _no_children()


@needs_fork
def test_a_worker_alone_draws_the_pdf_only(rep, tmp_path):
    with render.start_pdf_worker() as worker:
        render.write_report_files(rep, None, tmp_path / "r.pdf", worker=worker)
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]
    assert _no_children()


@needs_fork
def test_an_unused_worker_is_stopped(rep):
    with pytest.raises(InputError):
        with render.start_pdf_worker() as worker:
            assert worker is not None and worker.pid
            raise InputError("the data could not be loaded")
    assert _no_children()


@needs_fork
def test_an_error_in_the_worker_is_raised_here(rep, tmp_path, monkeypatch):
    def broken(_rep):
        raise InputError("the PDF cannot be made")

    monkeypatch.setattr(render, "_render_pdf", broken)  # before the fork: the worker has it too
    with render.start_pdf_worker() as worker, pytest.raises(InputError, match="cannot be made"):
        render.write_report_files(rep, tmp_path / "r.xlsx", tmp_path / "r.pdf", worker=worker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]
    assert _no_children()


def test_no_worker_where_there_is_no_fork(monkeypatch):
    monkeypatch.setattr(render, "_can_fork", lambda: False)
    with render.start_pdf_worker() as worker:
        assert worker is None


def _children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


@needs_fork
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "sig,code,group",
    [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, True), (signal.SIGHUP, 129, False)],
    ids=["sigterm-to-the-parent", "ctrl-c-to-the-group", "sighup-to-the-parent"],
)
def test_a_signal_while_rendering_leaves_no_file_and_no_child(tmp_path, sig, code, group):
    """SIGTERM or SIGHUP (a closed terminal) to the process, or Ctrl-C to its whole group,
    while the PDF child draws."""
    import time

    proc = _report_process(tmp_path)
    deadline = time.monotonic() + 60
    while not (children := _children_of(proc.pid)):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] in ("error: terminated", "error: interrupted")
    assert list(tmp_path.iterdir()) == []
    _assert_gone(children)


def _assert_gone(children: list[int]) -> None:
    for child in children:  # stopped and reaped, not left running or as a zombie
        assert (
            not os.path.exists(f"/proc/{child}")
            or "Z" in open(f"/proc/{child}/stat").read().split()[2]
        )


def _report_process(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "generect_reports",
            "report",
            "--sample",
            "--month",
            "2026-03",
            "--xlsx",
            str(tmp_path / "r.xlsx"),
            "--pdf",
            str(tmp_path / "r.pdf"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Python installs its Ctrl-C handler only when SIGINT is not ignored at start-up.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # noqa: PLW1509


@needs_fork
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "sig,wait", [(signal.SIGKILL, 0.0), (signal.SIGKILL, 0.05), (signal.SIGTERM, 0.3)]
)
def test_a_killed_pdf_child_is_one_line_never_a_silent_exit(tmp_path, sig, wait):
    """The out-of-memory killer takes the PDF child (at once, while the report is still being
    built, or later): one line naming the signal and exit 1, never a silent 141."""
    import time

    proc = _report_process(tmp_path)
    deadline = time.monotonic() + 60
    while not (children := _children_of(proc.pid)):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.001)
    time.sleep(wait)
    os.kill(children[0], sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert err.strip().splitlines()[-1] == f"error: PDF renderer stopped (signal {int(sig)})"
    assert not (tmp_path / "r.pdf").exists()
    assert [p.name for p in tmp_path.iterdir()] in ([], ["r.xlsx"])  # no temporary file
    _assert_gone(children)


def test_email_attachments_are_the_report_files(rep):
    from generect_reports.render.email.message import build_message

    message = build_message(rep, to=["finance@example.com"], sender="reports@example.com")
    parts = {
        p.get_filename(): p.get_content() for p in message.iter_attachments() if p.get_filename()
    }
    assert parts[f"generect-usage-{rep.month}.xlsx"] == render_workbook(rep)
    assert parts[f"generect-usage-{rep.month}.pdf"] == render_pdf(rep)


# --------------------------------------------------------------------------- font subsets


def _entries(folder):
    return sorted(folder.glob("*.bin"))


def test_subsets_are_cached_and_give_the_same_bytes(rep, tmp_path, monkeypatch):
    monkeypatch.setattr(fontcache, "subset_cache_dir", lambda: tmp_path)
    first = render_pdf(rep)
    stored = _entries(tmp_path)
    assert stored  # one per embedded font
    from matplotlib.backends import _backend_pdf_ps

    def no_subsetting(*_a, **_k):
        raise AssertionError("subset again although cached")

    monkeypatch.setitem(fontcache._originals, "get_glyphs_subset", no_subsetting)
    assert render_pdf(rep) == first
    assert _entries(tmp_path) == stored
    # Outside a render matplotlib's own functions are back in place.
    assert _backend_pdf_ps.get_glyphs_subset is not fontcache._cached_get_glyphs_subset


def test_a_corrupt_subset_is_not_trusted(rep, tmp_path, monkeypatch):
    monkeypatch.setattr(fontcache, "subset_cache_dir", lambda: tmp_path)
    first = render_pdf(rep)
    for entry in _entries(tmp_path):
        data = bytearray(entry.read_bytes())
        data[-10] ^= 0xFF  # a flipped byte inside the font
        entry.write_bytes(bytes(data))
    truncated = _entries(tmp_path)[0]
    truncated.write_bytes(truncated.read_bytes()[:20])
    assert render_pdf(rep) == first
    assert render_pdf(rep) == first  # rewritten entries are good again


def test_an_unwritable_cache_is_skipped(rep, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(fontcache, "subset_cache_dir", lambda: blocker / "subsets")
    assert render_pdf(rep).startswith(b"%PDF")


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GENERECT_REPORTS_CACHE_DIR", str(tmp_path))
    assert fontcache.subset_cache_dir() == tmp_path / "font-subsets"


def test_other_threads_subset_as_usual(tmp_path):
    """While one thread renders with the cache, another thread's subsetting is untouched."""
    import threading

    from matplotlib.backends import _backend_pdf_ps

    seen: list[object] = []
    with fontcache.cached_font_subsets(tmp_path):
        worker = threading.Thread(
            target=lambda: seen.append(fontcache._threads.get(threading.get_ident()))
        )
        worker.start()
        worker.join()
        assert _backend_pdf_ps.get_glyphs_subset is fontcache._cached_get_glyphs_subset
    assert seen == [None]
    assert _backend_pdf_ps.get_glyphs_subset is not fontcache._cached_get_glyphs_subset


def test_a_text_outside_the_theme_font_uses_the_fallback_chain(sample, recwarn):
    """The pages are built with the theme font alone only when it has every glyph; a name it
    cannot show is drawn from the fallback fonts, without a warning about the first attempt."""
    from generect_reports.render.pdf import document as pdf
    from generect_reports.theme import font_chain

    # .ci/run installs fonts-noto-core: the fallback chain must reach it
    assert "Noto Sans Devanagari" in font_chain("DejaVu Sans"), "fonts-noto-core is not installed"
    frame = sample.copy()
    frame["operation"] = frame["operation"].replace(frame["operation"].iloc[0], "खोज search")
    odd = g.build_report(frame, "2026-03")
    _, rc = pdf._pages(odd)
    assert len(rc["font.family"]) > 1
    assert b"NotoSansDevanagari" in render_pdf(odd)
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
    _, rc = pdf._pages(g.build_report(sample, "2026-03"))
    assert rc["font.family"] == ["DejaVu Sans"]


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX signals")


def test_a_warm_render_does_not_load_the_subsetter(tmp_path):
    """fontTools.subset is loaded on first use: a render whose subsets are all cached never
    loads it, and one that must subset loads it and gives the same bytes."""
    import subprocess

    code = (
        "import sys\n"
        "from generect_reports.render.pdf import fontcache\n"
        "from generect_reports.render.pdf.document import render_pdf\n"
        "import generect_reports as g\n"
        "rep = g.build_report(g.load_sample(), '2026-03')\n"
        "data = render_pdf(rep)\n"
        "print('loaded' if 'fontTools.ttLib.tables.otTables' in sys.modules else 'deferred')\n"
        f"open({str(tmp_path / 'out.pdf')!r} + sys.argv[1], 'wb').write(data)\n"
    )
    env = {**os.environ, "GENERECT_REPORTS_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(i)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        for i in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert [r.stdout.split()[-1] for r in runs] == ["loaded", "deferred"]
    assert (tmp_path / "out.pdf0").read_bytes() == (tmp_path / "out.pdf1").read_bytes()


# --------------------------------------------------------------------------- stacked bars


def test_stacked_bars_are_one_collection_per_operation(rep):
    """Each operation's bars are drawn as one collection (not a patch per bar); the legend and
    ``ax.containers`` still describe every bar, as ``ax.bar`` would."""
    import matplotlib
    from matplotlib.collections import PolyCollection

    from generect_reports.render.pdf import document as pdf

    with matplotlib.rc_context(pdf._rc(rep)):
        page = pdf._page_summary(rep)
    (ax,) = [a for a in page.fig.axes if a.get_legend() is not None]
    stacks = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(stacks) == len(rep.monthly.index) == len(ax.containers)
    assert not any(p.axes is ax for c in ax.containers for p in c.patches)  # recorded, not drawn
    assert [c.get_label() for c in ax.containers] == [str(op) for op in rep.monthly.index]
    # Only the non-empty segments are drawn, each where its rectangle says.
    for stack, bars in zip(stacks, ax.containers):
        drawn = [p for p in bars.patches if p.get_height() > 0]
        assert len(stack.get_paths()) == len(drawn)
        for path, bar in zip(stack.get_paths(), drawn):
            (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
            assert (x0, y0, x1 - x0, y1 - y0) == pytest.approx(
                (bar.get_x(), bar.get_y(), bar.get_width(), bar.get_height())
            )


def test_category_labels_sit_where_tick_labels_would(rep):
    """The history chart's month labels are texts of the figure placed exactly where the tick
    labels were; a template with a vertical grid keeps the ticks (the grid hangs on them)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from generect_reports.render.pdf import document as pdf

    def boxes(grid_axis):
        with matplotlib.rc_context({**pdf._rc(rep), "axes.grid.axis": grid_axis}):
            fig = Figure(figsize=(8, 4))
            renderer = FigureCanvasAgg(fig).get_renderer()
            ax = fig.add_axes((0.1, 0.2, 0.8, 0.7))
            pdf._category_labels(ax, [0.0, 1.0, 2.0], ["Jan\n2026", "Feb", "Mar"], 8.0, pad_pt=3)
            ax.tick_params(axis="x", length=0)
            ax.set_xlim(-0.6, 2.6)
            texts = (
                [t for t in fig.artists if isinstance(t, Text)]
                if grid_axis == "y"
                else [t for t in ax.get_xticklabels()]
            )
            return len(ax.get_xticks()), [t.get_window_extent(renderer).bounds for t in texts]

    plain, with_grid = boxes("y"), boxes("both")
    assert plain[0] == 0 and with_grid[0] == 3
    # Compared as arrays: pytest.approx does not apply a tolerance inside nested tuples.
    assert len(plain[1]) == len(with_grid[1]) == 3
    np.testing.assert_allclose(np.array(plain[1]), np.array(with_grid[1]), rtol=0, atol=0.5)
