"""Renderings of the tidy frame for ``usage``: table, CSV, the versioned JSON document, NDJSON
and Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd

__all__ = [
    "render",
    "to_csv",
    "to_json",
    "csv_safe",
    "FORMULA_PREFIXES",
    "json_document",
    "dumps_document",
    "SCHEMA_VERSION",
    "usage_rows",
    "usage_document",
    "iter_ndjson",
    "to_ndjson",
    "frame_complete",
    "require_pyarrow",
    "PARQUET_EXTRA",
    "usage_parquet_table",
    "write_usage_parquet",
    "PARQUET_METADATA_KEY",
    "parquet_table",
    "write_parquet_table",
    "parquet_attrs",
]

#: Cell text starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(text: str) -> str:
    """Prefix a text cell with ``'`` when a spreadsheet would read it as a formula (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _iso(frame: pd.DataFrame) -> pd.Series:
    # ISO 8601 with the local offset, e.g. 2026-05-01T00:00:00+03:00
    return frame["period_start"].map(lambda ts: ts.isoformat())


def _account_column(frame: pd.DataFrame) -> dict[str, Any]:
    """``{"account": names}`` for a frame of several accounts, else nothing (one account's frame
    stays exactly as it always was)."""
    if "account" not in frame.columns:
        return {}
    return {"account": frame["account"].astype(str)}


def to_csv(frame: pd.DataFrame) -> str:
    out = pd.DataFrame(
        {
            **{k: v.map(csv_safe) for k, v in _account_column(frame).items()},
            "period_start": _iso(frame),
            "period": frame["period"].astype(str),
            "operation": frame["operation"].astype(str).map(csv_safe),
            "credits": frame["credits"],
        }
    )
    # Quote every text field: a carriage return inside an operation name would otherwise end
    # the row early (the csv module only quotes fields holding the line terminator it writes).
    return out.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)


def usage_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The tidy rows as JSON-ready dicts, names verbatim (JSON is data, not a spreadsheet);
    ``account`` first when the frame holds several accounts."""
    rows = [
        {"period_start": ts.isoformat(), "period": str(p), "operation": str(o), "credits": float(c)}
        for ts, p, o, c in zip(
            frame["period_start"], frame["period"], frame["operation"], frame["credits"]
        )
    ]
    if "account" in frame.columns:
        rows = [{"account": str(a), **row} for a, row in zip(frame["account"], rows)]
    return rows


def to_json(frame: pd.DataFrame, *, generated_at: Any = None) -> str:
    """The ``usage`` JSON document (see :func:`usage_document`) as text."""
    return dumps_document(usage_document(frame, generated_at=generated_at))


def iter_ndjson(frame: pd.DataFrame) -> Iterator[str]:
    """One compact JSON object per tidy row, each a line ending in ``\\n`` (for large ranges)."""
    for row in usage_rows(frame):
        yield json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n"


def to_ndjson(frame: pd.DataFrame) -> str:
    return "".join(iter_ndjson(frame))


def _printable(text: str) -> str:
    """Controls, bidi and zero-width characters (a terminal escape sequence or a name that
    reorders the line) shown escaped; see :func:`generect_reports._text.display_text`."""
    from generect_reports._text import display_text

    return display_text(text)


def to_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no usage in this range)\n"
    shown = pd.DataFrame(
        {
            **{k: v.map(_printable) for k, v in _account_column(frame).items()},
            "period": frame["period"].astype(str),
            "operation": frame["operation"].astype(str).map(_printable),
            "credits": frame["credits"].map(lambda v: f"{v:,.2f}"),
        }
    )
    total = frame["credits"].sum()
    text = shown.to_string(index=False) + f"\n\ntotal credits: {total:,.2f}"
    failed = frame.attrs.get("accounts_failed") or []
    if failed:
        # A total without some accounts must never read as the whole.
        names = ", ".join(_printable(str(f["account"])) for f in failed)
        text += f" (partial: {len(failed)} account(s) failed: {names})"
    return text + "\n"


def render(frame: pd.DataFrame, fmt: str) -> str:
    return {"csv": to_csv, "json": to_json, "ndjson": to_ndjson, "table": to_table}[fmt](frame)


# --- the versioned JSON document every command prints with --format json ----------------------

#: Bump on any change of a field's name, type or meaning (tests hold the schemas to it).
SCHEMA_VERSION = "1.1"


def _jsonable(value: Any) -> Any:
    """Plain JSON values: timestamps as ISO 8601 with offset, NaN as null, numpy as Python."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_document(
    command: str,
    rows: list[dict[str, Any]],
    *,
    source: str,
    timezone: str,
    period: str | None,
    start: Any,
    end: Any,
    complete: bool,
    totals: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    generated_at: Any = None,
    unit: str = "credits",
) -> dict[str, Any]:
    """The one JSON envelope (DESIGN 'Contracts') for ``command``'s output.

    ``rows`` are the command's table rows; ``totals`` its sums; ``fields`` the command's own
    top-level fields (status, reconciliation, chargeback). ``generated_at`` defaults to now, in
    UTC; tests pass a fixed value so documents can be compared.
    """
    if generated_at is None:
        generated_at = pd.Timestamp.now(tz="UTC").floor("s")
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "generated_at": generated_at,
        "source": source,
        "unit": unit,
        "timezone": timezone,
        "period": period,
        "start": start,
        "end": end,
        "complete": bool(complete),
        "rows": rows,
        "totals": totals or {},
    }
    for key, value in (fields or {}).items():
        if key in doc:
            raise ValueError(f"field {key!r} would replace an envelope field")
        doc[key] = value
    return _jsonable(doc)


def dumps_document(doc: dict[str, Any]) -> str:
    """The document as indented UTF-8 JSON text (names kept verbatim, no NaN)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --- usage as a document -----------------------------------------------------------------------


def frame_complete(frame: pd.DataFrame) -> bool:
    """True when every bucket of the frame's range was closed at its ``fetched_at``.

    A closed bucket ended more than :data:`~generect_reports.periods.CLOSED_AFTER_DAYS` days
    before the data was fetched, so its figures will not change; an empty range is complete.
    """
    from generect_reports import periods as P

    attrs = frame.attrs
    if not attrs.get("start") or not attrs.get("end"):
        return True
    if attrs.get("fetched_at") is None:
        return False  # no read time: nothing proves the buckets were final
    fetched = pd.Timestamp(attrs["fetched_at"])
    tz = P.get_timezone(str(attrs.get("timezone", "UTC")))
    now = fetched.tz_localize(tz) if fetched.tzinfo is None else fetched
    last = P.buckets(attrs["start"], attrs["end"], "day")[-1]
    # Buckets close in order, so the range is complete exactly when its last day is closed.
    return P.is_closed(last, tz, now.to_pydatetime())


def _credits_total(values: Any) -> float:
    # Summed exactly in integer hundredths when every value is a whole hundredth (the API's
    # grain), so the JSON total carries no binary noise such as 1234.5600000001.
    import numpy as np

    from generect_reports.analysis.pricing import to_hundredths

    arr = np.asarray(values, dtype="float64")
    hundredths = to_hundredths(arr)
    if np.allclose(hundredths / 100.0, arr, rtol=0, atol=1e-9):
        return int(hundredths.sum()) / 100
    return math.fsum(arr.tolist())


def usage_document(frame: pd.DataFrame, *, generated_at: Any = None) -> dict[str, Any]:
    """The ``usage`` command's JSON document: the envelope with the tidy rows.

    ``totals`` holds ``credits`` (all rows) and ``by_operation``; the command's own fields are
    ``fetched_at`` (when the data was read) and, for fiscal quarters and years,
    ``fiscal_year_start`` and ``fiscal_year_naming``. ``complete`` is :func:`frame_complete`.
    """
    attrs = frame.attrs
    fields: dict[str, Any] = {"fetched_at": attrs.get("fetched_at")}
    for key in ("fiscal_year_start", "fiscal_year_naming"):
        if key in attrs:
            fields[key] = attrs[key]
    by_op = {
        str(op): _credits_total(g)
        for op, g in frame.groupby(frame["operation"].astype(str), sort=True)["credits"]
    }
    totals: dict[str, Any] = {"credits": _credits_total(frame["credits"]), "by_operation": by_op}
    if "accounts" in attrs:
        fields["accounts"] = [str(a) for a in attrs["accounts"]]
        fields["accounts_failed"] = list(attrs.get("accounts_failed") or [])
        answered = frame.groupby(frame["account"].astype(str), sort=False)["credits"]
        by_account = {str(name): _credits_total(g) for name, g in answered}
        totals["by_account"] = {
            name: by_account.get(name, 0.0)
            for name in fields["accounts"]
            if name not in {f["account"] for f in fields["accounts_failed"]}
        }
    return json_document(
        "usage",
        usage_rows(frame),
        source=str(attrs.get("source", "api")),
        timezone=str(attrs.get("timezone", "UTC")),
        period=attrs.get("period"),
        start=attrs.get("start"),
        end=attrs.get("end"),
        # Partial when an account failed, whatever the buckets say.
        complete=frame_complete(frame) and bool(attrs.get("complete", True)),
        totals=totals,
        fields=fields,
        generated_at=generated_at,
    )


# --- Parquet ------------------------------------------------------------------------------------

#: The optional extra that brings pyarrow.
PARQUET_EXTRA = "parquet"
#: Key of the file-level metadata entry that holds the frame's attrs (as JSON).
PARQUET_METADATA_KEY = b"generect_reports"


def require_pyarrow() -> Any:
    """Import pyarrow, or raise :class:`InputError` (exit 2) naming the extra to install."""
    from generect_reports.errors import InputError

    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InputError(
            f"Parquet output needs pyarrow: pip install 'generect-reports[{PARQUET_EXTRA}]'"
        ) from None
    return pyarrow


def parquet_table(frame: pd.DataFrame, *, categorical: tuple[str, ...] = ()) -> Any:
    """``frame`` as a pyarrow Table: ``categorical`` columns dictionary-encoded, tz-aware
    timestamps kept with their zone, and the frame's attrs as the file metadata entry
    :data:`PARQUET_METADATA_KEY` (JSON; timestamps as ISO 8601)."""
    pa = require_pyarrow()
    out = frame.copy()
    for name in categorical:
        out[name] = out[name].astype(str).astype("category")
    attrs = _jsonable(dict(frame.attrs))
    out.attrs = {}
    table = pa.Table.from_pandas(out, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_METADATA_KEY] = json.dumps(
        {"schema_version": SCHEMA_VERSION, "attrs": attrs}, ensure_ascii=False
    ).encode("utf-8")
    # pandas (>= 2.1) restores frame.attrs from this key in read_parquet.
    meta[b"PANDAS_ATTRS"] = json.dumps(attrs, ensure_ascii=False).encode("utf-8")
    return table.replace_schema_metadata(meta)


def usage_parquet_table(frame: pd.DataFrame) -> Any:
    """The tidy usage frame as a pyarrow Table (operations categorical)."""
    return parquet_table(
        frame[["period_start", "period", "operation", "credits"]].copy().__finalize__(frame),
        categorical=("operation",),
    )


def write_parquet_table(table: Any, path: Any) -> Any:
    """Write a pyarrow Table to ``path`` atomically (zstd-compressed)."""
    import pyarrow.parquet as pq

    from generect_reports._atomic import atomic_path

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def write_usage_parquet(frame: pd.DataFrame, path: Any) -> Any:
    """Write the tidy usage frame to the Parquet file ``path`` (atomically)."""
    return write_parquet_table(usage_parquet_table(frame), path)


def parquet_attrs(path: Any) -> dict[str, Any]:
    """The frame attrs stored in a Parquet file written here (``{}`` when there are none)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PARQUET_METADATA_KEY)
    return json.loads(raw)["attrs"] if raw else {}
