"""Fonts installed after matplotlib built its font list are found without deleting any cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STALE = """
import sys
from pathlib import Path
import matplotlib
from matplotlib import font_manager

# The list matplotlib would have cached before the Noto fonts were installed.
manager = font_manager.FontManager()
manager.ttflist = [f for f in manager.ttflist if not f.name.startswith("Noto")]
path = Path(matplotlib.get_cachedir(), f"fontlist-v{font_manager.FontManager.__version__}.json")
font_manager.json_dump(manager, path)
print(path)
"""

CHAIN = """
import json
from matplotlib import font_manager
before = sorted({f.name for f in font_manager.fontManager.ttflist})
from generect_reports.theme import font_chain
print(json.dumps({"before": before, "chain": font_chain("DejaVu Sans")}))
"""


def _run(code: str, config_dir: Path) -> str:
    env = {**os.environ, "MPLCONFIGDIR": str(config_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return (done.stdout.strip().splitlines() or [""])[-1]


def test_fonts_installed_after_a_first_run_join_the_chain(tmp_path):
    """A stale font list (built before fonts-noto-core, which .ci/run installs) gains the Noto
    faces on the next report, and is written back so the process after it needs no rescan."""
    cache = Path(_run(STALE, tmp_path))
    assert not [f for f in json.loads(cache.read_text())["ttflist"] if "Noto" in f["name"]]

    first = json.loads(_run(CHAIN, tmp_path))
    assert not [n for n in first["before"] if n.startswith("Noto")]  # the list really was stale
    assert "Noto Sans Devanagari" in first["chain"]
    assert first["chain"][0] == "DejaVu Sans"

    second = json.loads(_run(CHAIN, tmp_path))
    assert "Noto Sans Devanagari" in second["before"]  # written back to matplotlib's cache
    assert second["chain"] == first["chain"]


def test_a_current_font_list_is_left_as_it_is(tmp_path):
    """With every font of the chain already listed, nothing is rescanned or rewritten."""
    _run("import matplotlib.font_manager", tmp_path)  # matplotlib builds its own list
    (cache,) = tmp_path.glob("fontlist-v*.json")
    stamp = cache.stat().st_mtime_ns
    code = "from generect_reports import theme\nprint(theme.font_chain('DejaVu Sans'))\n"
    # The CJK face is not among the CI fonts, so one rescan per process may happen; it must find
    # nothing new and leave the file alone.
    _run(code, tmp_path)
    assert cache.stat().st_mtime_ns == stamp
