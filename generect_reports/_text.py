"""How an operation name (or any text from the API) is held and shown by each writer.

The API may send any JSON string as an operation name. The toolkit decides once, where the
response is parsed (:func:`generect_reports.fetch.usage.operation_name`): a name is kept
verbatim in every frame, unless no writer can hold it, in which case the response is malformed.
Each writer then encodes the verbatim name losslessly and visibly:

======================  ==========================================================================
writer                  encoding
======================  ==========================================================================
CSV                     verbatim UTF-8, every text field quoted; a formula-like first character
                        gets the OWASP ``'`` prefix (``render/records/export.csv_safe``)
JSON                    verbatim; the JSON encoder writes C0 controls as ``\\u001b``
table, PDF, email,      :func:`display_text`: ``\\``, controls, format characters (bidi, zero-
messages                width), separators and noncharacters as Python escapes (``\\x1b``,
                        ``\\u202e``, ``\\ufffe``); long names cut by :func:`truncate_for_layout`
xlsx (openpyxl, raw     :func:`xlsx_text`: code points XML 1.0 cannot hold (C0 but tab, line
OOXML)                  feed and carriage return; U+FFFE, U+FFFF) in Excel's ``_xHHHH_`` form and a
                        literal ``_xHHHH_`` as ``_x005F_xHHHH_``; Excel and LibreOffice show the
                        original characters, openpyxl reads the escaped form back
                        (:func:`xlsx_decode` undoes it)
xlsx (XlsxWriter)       :func:`xlsxwriter_text`: XlsxWriter escapes C0 and ``_xHHHH_`` itself;
                        U+FFFE and U+FFFF, which it would write raw (a workbook that is not
                        well-formed), become the visible ``\\ufffe``
======================  ==========================================================================

Refused at the parsing boundary (:func:`unholdable_reason`): lone surrogates (U+D800 to
U+DFFF, valid in JSON text as ``"\\ud800"`` but not in UTF-8, so no file can store them) and
names whose xlsx form exceeds a spreadsheet cell (32,767 characters).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "replace_secrets",
    "mask_secret",
    "EXCEL_CELL_MAX",
    "escape_invisible",
    "display_text",
    "terminal_text",
    "visible_char",
    "name_list",
    "truncate_for_layout",
    "unholdable_reason",
    "xlsx_decode",
    "xlsx_text",
    "xlsxwriter_text",
]

#: Characters an Excel cell holds at most.
EXCEL_CELL_MAX = 32_767

_SURROGATE = re.compile("[\ud800-\udfff]")
# Code points XML 1.0 cannot hold. A carriage return is legal but turns into a line feed when
# the XML is read unless written as a character reference: the writer does that (openpyxl
# does; raw sheet XML uses ``&#13;``), so the ``_x000D_`` form is not needed.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LITERAL_ESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_ESCAPED = re.compile("_x([0-9A-Fa-f]{4})_")


def unholdable_reason(text: str) -> str | None:
    """Why no writer can hold ``text`` (a phrase for the error message), or None if one can."""
    bad = _SURROGATE.search(text)
    if bad:
        return (
            f"holds a lone surrogate (U+{ord(bad.group()):04X}), which no file encoding can store"
        )
    if len(xlsx_text(text)) > EXCEL_CELL_MAX:
        return f"is longer than a spreadsheet cell holds ({EXCEL_CELL_MAX:,} characters)"
    return None


def xlsx_text(text: str) -> str:
    """``text`` in the OOXML string form (ST_Xstring) for openpyxl cells and raw sheet XML.

    Lossless: :func:`xlsx_decode` (and Excel, and LibreOffice) give back ``text``.
    """
    if "_x" in text:
        text = _LITERAL_ESCAPE.sub(r"_x005F_\1", text)
    return _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def xlsx_decode(text: str) -> str:
    """Undo :func:`xlsx_text` (the reading side of ST_Xstring, which openpyxl leaves undone)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def xlsxwriter_text(text: str) -> str:
    """``text`` for XlsxWriter's ``write_string``: it escapes C0 controls and literal
    ``_xHHHH_`` itself, but writes U+FFFE and U+FFFF raw; those two are shown escaped."""
    return text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_VISIBLE_CACHE: dict[str, bool] = {}


def _visible(char: str) -> bool:
    seen = _VISIBLE_CACHE.get(char)
    if seen is None:
        # isprintable() is False for controls (Cc), format characters (Cf: bidi controls,
        # zero-width joiners), separators other than space, surrogates, private use and
        # unassigned code points (noncharacters included).
        seen = char.isprintable() and unicodedata.category(char) != "Co"
        if len(_VISIBLE_CACHE) < 4096:
            _VISIBLE_CACHE[char] = seen
    return seen


def visible_char(char: str) -> bool:
    """``char`` shows as itself: not a control, format (bidi, zero-width) or separator
    character, surrogate, private-use or unassigned code point (noncharacters included)."""
    return _visible(char)


def escape_invisible(text: str) -> str:
    """Invisible, bidi and control characters of ``text`` as escapes, line breaks and tabs kept,
    everything else (backslashes included) unchanged: for prose such as the email's sentences,
    which may hold a raw name next to one already shown with :func:`display_text`."""
    if text.isprintable():
        return text
    return "".join(c if c in "\n\t" or _visible(c) else _escape(c) for c in text)


def terminal_text(text: str, *, keep_lines: bool = False) -> str:
    """Server text made safe to show on a terminal: every control character (ESC, BEL, the C1
    CSI), bidi and zero-width character, separator and noncharacter becomes a visible Python
    escape, so an error ``detail``, a ledger ``type`` or a plan name cannot change the title,
    clear the screen or reorder the line. Printable text (any script) is unchanged.

    The one function for text reaching stderr or a table on stdout; ``keep_lines`` keeps line
    feeds (a whole table), otherwise a line feed is escaped too (an error is one line).
    """
    if text.isprintable():
        return text
    keep = "\n" if keep_lines else ""
    return "".join(c if c in keep or _visible(c) else _escape(c) for c in text)


def display_text(text: str) -> str:
    """``text`` for a reader: every character that is invisible, moves other text (bidi) or
    controls a terminal is shown as a Python escape, and ``\\`` as ``\\\\``, so the shown form
    maps back to exactly one name. Printable text (any script) is unchanged."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        c if c != "\\" and _visible(c) else ("\\\\" if c == "\\" else _escape(c)) for c in text
    )


def truncate_for_layout(text: str, width: int = 60, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` characters, ending in ``ellipsis`` when cut.

    For layout only (table cells, tiles, legends): data and workbooks keep the full name.
    Apply it after :func:`display_text`, so an escape is never split in a way that hides it.
    """
    if width < 1:
        raise ValueError("width must be at least 1")
    if len(text) <= width:
        return text
    return text[: max(0, width - len(ellipsis))] + ellipsis


def name_list(names: Iterable[str], width: int = 60) -> str:
    """Names for a sentence (a report note, a warning): each shown with :func:`display_text`
    and cut to ``width`` characters, joined by commas."""
    return ", ".join(truncate_for_layout(display_text(str(n)), width) for n in names)


#: Shorter values are not searched for: replacing them would mangle ordinary text, and a real
#: token is far longer.
MIN_SECRET_LENGTH = 8


#: A secret shorter than this is hinted as ``****`` alone: its last 4 would nearly give it away.
HINT_MIN_LENGTH = 12


def mask_secret(value: str) -> str:
    """The printable hint of a secret: ``****`` and its last 4 characters."""
    text = str(value)
    return "****" + (text[-4:] if len(text) >= HINT_MIN_LENGTH else "")


def replace_secrets(value: Any, replacements: Mapping[str, str]) -> Any:
    """``value`` (parsed JSON) with every occurrence of each secret, in keys and strings at any
    depth, replaced by its hint. Secrets shorter than :data:`MIN_SECRET_LENGTH` are left alone."""
    pairs = sorted(
        ((k, v) for k, v in replacements.items() if len(k) >= MIN_SECRET_LENGTH),
        key=lambda kv: -len(kv[0]),  # a token that contains another is replaced whole
    )
    if not pairs:
        return value

    def text(s: str) -> str:
        for secret, hint in pairs:
            if secret in s:
                s = s.replace(secret, hint)
        return s

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return text(node)
        if isinstance(node, dict):
            return {text(k) if isinstance(k, str) else k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)
