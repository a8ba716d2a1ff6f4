"""Benchmark fixtures (helpers are in benchutil.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@pytest.fixture(scope="session")
def results() -> dict[str, object]:
    """Figures collected across benchmarks, printed at the end for BENCHMARKS.md."""
    store: dict[str, object] = {}
    yield store
    if store:
        out = Path(".benchmarks")
        out.mkdir(exist_ok=True)
        target = out / "figures.json"
        old = json.loads(target.read_text()) if target.is_file() else {}
        target.write_text(json.dumps({**old, **store}, indent=2, sort_keys=True))
        print("\n\nBENCHMARK FIGURES (also in .benchmarks/figures.json)")
        for key, value in store.items():
            print(f"  {key}: {value}")
