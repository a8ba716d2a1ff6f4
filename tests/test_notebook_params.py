"""Notebooks as a user runs them: one papermill parameters cell each, a run with other
parameters, the clear missing-token stop, and no plotting state changed by importing the package
inside a real Jupyter kernel."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

# Slow (each test runs a notebook in a kernel): the full suite runs it, not the fast core.
pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
PARAMETERS = {"USE_LIVE_API", "MONTH", "AS_OF", "TIMEZONE"}


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/html", "")))
            parts.append(str(out.get("evalue", "")))
    return "\n".join(parts)


def test_notebooks_are_all_here():
    assert [p.name for p in NOTEBOOKS] == [
        "01_explore_usage.ipynb",
        "02_monthly_finance_report.ipynb",
        "03_what_changed.ipynb",
        "04_dashboard.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_the_four_settings(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {
        t.id
        for node in ast.walk(ast.parse(tagged[0].source))
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert PARAMETERS <= names
    # Nothing else sets them: the parameters cell is the only switch.
    for cell in nb.cells:
        if cell.cell_type == "code" and cell is not tagged[0]:
            assigned = {
                t.id
                for node in ast.walk(ast.parse(cell.source.replace("%matplotlib inline", "")))
                if isinstance(node, ast.Assign)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
            assert not assigned & PARAMETERS, (path.name, assigned & PARAMETERS)
    # No developer notes in what a reader sees.
    text = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "validated" not in text and "nbval" not in text.lower()


def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel picks its own (inline) backend, as in Jupyter; the suite's Agg must not leak in.
    monkeypatch.delenv("MPLBACKEND", raising=False)


def test_papermill_runs_what_changed_for_another_month(tmp_path, monkeypatch):
    import papermill as pm

    _kernel_env(monkeypatch)
    out = tmp_path / "out.ipynb"
    source = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    pm.execute_notebook(
        str(source),
        str(out),
        parameters={"MONTH": "2026-09", "AS_OF": "2026-09-20 12:00"},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    text = _outputs_text(nb)
    assert "19 of 30 days complete" in text
    assert "to 2026-09-19, Europe/Kyiv, source: sample; month: 2026-09" in text
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_the_report_notebook_writes_the_report_commands_files(tmp_path, monkeypatch):
    """Notebook 02 writes the workbook and the PDF of one report, the one `report` writes: the
    same history in both (the report's default), the same sections, the same bytes."""
    import papermill as pm
    from support import run_cli

    _kernel_env(monkeypatch)
    work, cli_dir = tmp_path / "notebook", tmp_path / "cli"
    work.mkdir()
    cli_dir.mkdir()
    source = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    pm.execute_notebook(
        str(source),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        cwd=str(work),
        progress_bar=False,
    )
    text = _outputs_text(nbformat.read(tmp_path / "out.ipynb", as_version=4))
    assert "2026-10: 24 months of history" in text and "ties to the ledger" in text
    done = run_cli("report", "--sample", "--quiet", cwd=cli_dir)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in work.iterdir())
    assert names == ["generect-usage-2026-10.pdf", "generect-usage-2026-10.xlsx"]
    for name in names:
        assert (work / name).read_bytes() == (cli_dir / name).read_bytes(), name


def test_live_api_without_a_token_stops_with_the_message(tmp_path, monkeypatch):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    _kernel_env(monkeypatch)
    monkeypatch.delenv("GENERECT_API_TOKEN", raising=False)
    source = next(p for p in NOTEBOOKS if p.name.startswith("01_"))
    with pytest.raises(PapermillExecutionError) as caught:
        pm.execute_notebook(
            str(source),
            str(tmp_path / "out.ipynb"),
            parameters={"USE_LIVE_API": True},
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
    assert caught.value.ename == "MissingTokenError"
    assert "GENERECT_API_TOKEN is not set" in caught.value.evalue


# --- plotting state inside a real kernel -----------------------------------------------------

PROBE = """
import importlib, json, pkgutil
import matplotlib
import matplotlib.pyplot as plt
%matplotlib inline
import generect_reports

before = matplotlib.get_backend()
changed = {}
names = sorted(m.name for m in \
pkgutil.walk_packages(generect_reports.__path__, "generect_reports."))
for name in names:
    if name.endswith("__main__") or name not in MODULES:
        continue
    importlib.import_module(name)
    now = matplotlib.get_backend()
    if now != before:
        changed[name] = now
        plt.switch_backend(before)
print("RESULT" + json.dumps({"before": before, "changed": changed, "seen": names}))
"""


def _probe(modules: list[str]) -> dict:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        code = f"MODULES = {modules!r}\n" + PROBE
        lines: list[str] = []
        errors: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                lines.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        kc.execute_interactive(code, timeout=120, output_hook=hook)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not errors, errors
    text = "".join(lines)
    return json.loads(text[text.index("RESULT") + 6 :].strip())


def _assert_inline(backend: str) -> None:
    """The kernel's own backend is the inline one, however this matplotlib spells it
    ("inline" from 3.11, the module path before): a switch to Agg would then show."""
    assert "inline" in backend.lower() and backend.lower() != "agg", backend


def test_importing_the_package_keeps_the_kernels_backend(monkeypatch):
    """Every module but the PDF renderer (checked on its own below)."""
    _kernel_env(monkeypatch)
    import pkgutil

    import generect_reports

    everything = [
        m.name for m in pkgutil.walk_packages(generect_reports.__path__, "generect_reports.")
    ]
    result = _probe([n for n in everything if n != "generect_reports.render.pdf.document"])
    _assert_inline(result["before"])
    assert len(result["seen"]) > 20 and set(everything) <= set(result["seen"])
    assert result["changed"] == {}


def test_importing_the_pdf_renderer_keeps_the_kernels_backend(monkeypatch):
    _kernel_env(monkeypatch)
    result = _probe(["generect_reports.render.pdf.document"])
    _assert_inline(result["before"])
    assert result["changed"] == {}, (
        "render/pdf/document.py changes the kernel's plotting backend when imported"
    )
