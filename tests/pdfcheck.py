"""Reading a PDF back the way a reader sees it: real font sizes from the text operators (pypdf),
word boxes from poppler's ``pdftotext -bbox-layout``, pages as PNG from ``pdftoppm``."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader


def _exe(name: str) -> str:
    exe = shutil.which(name)
    assert exe, f"poppler-utils is required: apt-get install poppler-utils ({name} not found)"
    return exe


def pdftotext(path: Path, *, layout: bool = True) -> str:
    args = [_exe("pdftotext"), *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def font_sizes(path: Path) -> list[list[tuple[float, str]]]:
    """Per page, (effective size in points, text) of every shown string: the ``Tf`` size scaled
    by the text and transformation matrices in force when the string is drawn."""
    pages = []
    for page in PdfReader(path).pages:
        found: list[tuple[float, str]] = []

        def visit(text, cm, tm, _font, size, found=found):
            if not text.strip():
                return
            a = tm[0] * cm[0] + tm[1] * cm[2]
            b = tm[0] * cm[1] + tm[1] * cm[3]
            c = tm[2] * cm[0] + tm[3] * cm[2]
            d = tm[2] * cm[1] + tm[3] * cm[3]
            found.append((float(size) * math.sqrt(abs(a * d - b * c)), text))

        page.extract_text(visitor_text=visit)
        pages.append(found)
    return pages


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)


def words(path: Path) -> list[list[Word]]:
    """Every word's box, page by page, as poppler lays the page out."""
    out = subprocess.run(
        [_exe("pdftotext"), "-bbox-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pages = []
    for chunk in out.split("<page ")[1:]:
        pages.append(
            [
                Word(float(a), float(b), float(c), float(d), t)
                for a, b, c, d, t in _WORD.findall(chunk)
            ]
        )
    return pages


def overlaps(page: list[Word], tolerance: float = 0.25) -> list[tuple[Word, Word]]:
    """Pairs of words whose boxes intersect by more than ``tolerance`` points both ways."""
    found = []
    ordered = sorted(page, key=lambda w: w.x0)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.x0 >= a.x1 - tolerance:
                break
            if (
                min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance
                and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance
            ):
                found.append((a, b))
    return found


def render_pages(path: Path, folder: Path, dpi: int = 80) -> list[Path]:
    """The pages as PNG files in ``folder`` (kept so a failure can be looked at)."""
    prefix = folder / path.stem
    subprocess.run(
        [_exe("pdftoppm"), "-png", "-r", str(dpi), str(path), str(prefix)],
        check=True,
        capture_output=True,
    )
    return sorted(folder.glob(f"{path.stem}-*.png"))
