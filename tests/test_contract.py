"""The versioned JSON contract: every command's document against its shipped schema (each variant:
a running and a past month, no limit, a month that does not tie, one customer), the golden
usage document, the schema fingerprints that force a schema_version bump, and NDJSON."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from click.testing import CliRunner
from support import run_cli

from generect_reports.cli import cli
from generect_reports.render.records import export
from generect_reports.render.records.contract import (
    ENVELOPE,
    bundle,
    load_schema,
    schema_names,
    validate_document,
)

GOLDEN = Path(__file__).parent / "golden"
FINGERPRINTS = GOLDEN / "schema_fingerprints.json"
FIXED_AT = "2026-11-02T08:00:00+00:00"
SCHEMAS = (
    Path(__file__).resolve().parent.parent / "generect_reports" / "render" / "records" / "schemas"
)

#: Extra arguments a command needs besides --sample --format json (none by default, so a new
#: command's schema is picked up and checked as soon as its file exists).
COMMAND_ARGS: dict[str, list[str]] = {
    "usage": ["--start", "2026-05-01", "--end", "2026-06-30", "--period", "week"],
    "reconcile": ["--month", "2026-10"],
    "chargeback": ["--month", "2026-10"],
    "journal": ["--month", "2026-10", "--purchases", "--split", "operation"],
}


def _json_commands() -> list[str]:
    """Commands whose --format accepts json (read from their help text)."""
    names = []
    for name, command in cli.commands.items():
        fmt = next((p for p in command.params if p.name == "fmt"), None)
        if fmt is not None and "json" in (fmt.help or ""):
            names.append(name)
    return sorted(names)


def test_every_json_command_has_a_schema():
    assert "usage" in _json_commands()
    assert set(_json_commands()) <= set(schema_names())


@pytest.mark.parametrize("name", schema_names())
def test_command_json_validates_against_its_schema(name):
    result = CliRunner().invoke(
        cli, [name, "--sample", "--format", "json", *COMMAND_ARGS.get(name, [])]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    validate_document(doc, name)
    assert doc["command"] == name and doc["schema_version"] == export.SCHEMA_VERSION
    assert doc["unit"] == "credits" and doc["source"] == "sample"


@pytest.mark.parametrize("name", schema_names())
def test_schema_references_the_envelope(name):
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"$ref": "envelope.schema.json"} in schema["allOf"]
    assert schema["properties"]["command"] == {"const": name}


@pytest.mark.parametrize("name", schema_names())
def test_each_schema_file_validates_on_its_own(name):
    """A user's plain ``jsonschema.validate(doc, schema)`` on one shipped file, with no registry
    and no network: the envelope's rules (schema_version required) are enforced from inside."""
    result = CliRunner().invoke(
        cli, [name, "--sample", "--format", "json", *COMMAND_ARGS.get(name, [])]
    )
    doc = json.loads(result.stdout)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    broken = copy.deepcopy(doc)
    broken.pop("schema_version")
    with pytest.raises(jsonschema.ValidationError, match="schema_version"):
        jsonschema.validate(broken, schema)


@pytest.mark.parametrize("name", schema_names())
def test_bundled_envelope_is_the_shipped_envelope(name, update_golden):
    """Each command file carries the envelope under ``$defs``; --update-golden re-bundles them
    after the envelope changes, so the copies can never drift from it."""
    path = SCHEMAS / f"{name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    bundled = bundle(schema, load_schema(ENVELOPE))
    if update_golden and bundled != schema:
        path.write_text(json.dumps(bundled, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        schema = bundled
    assert schema == bundled, f"{path.name} carries a stale envelope: run pytest --update-golden"
    assert schema["$defs"][ENVELOPE]["$id"].endswith("/envelope.schema.json")


def test_envelope_schema_names_the_current_version():
    assert load_schema(ENVELOPE)["properties"]["schema_version"]["const"] == export.SCHEMA_VERSION


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.pop("timezone"), "timezone"),
        (lambda d: d.update(unit="usd"), "credits"),
        (lambda d: d["rows"][0].update(credits="12"), "number"),
        (lambda d: d["rows"][0].update(extra=1), "extra"),
        (lambda d: d.update(surprise=True), "surprise"),
        (lambda d: d.update(generated_at="yesterday"), "date-time"),
        (lambda d: d.update(start="2026-13-01"), "date"),
        (lambda d: d["totals"].pop("credits"), "credits"),
    ],
)
def test_schema_rejects_broken_documents(sample, mutate, needle):
    doc = export.usage_document(sample.iloc[:40].copy().__finalize__(sample), generated_at=FIXED_AT)
    validate_document(doc)
    broken = copy.deepcopy(doc)
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError) as err:
        validate_document(broken)
    assert needle in str(err.value.message) + str(list(err.value.path))


def _fingerprint(schema: object) -> str:
    """Hash of a schema's structure: titles and descriptions may change, nothing else. The
    bundled envelope is left out: the envelope has its own fingerprint."""
    if isinstance(schema, dict) and ENVELOPE in schema.get("$defs", {}):
        defs = {k: v for k, v in schema["$defs"].items() if k != ENVELOPE}
        schema = {k: v for k, v in schema.items() if k != "$defs"} | (
            {"$defs": defs} if defs else {}
        )

    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {
                k: strip(v)
                for k, v in node.items()
                if k not in ("title", "description", "$comment")
            }
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = json.dumps(strip(schema), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_fingerprint_sees_field_changes_not_wording():
    schema = load_schema("usage")
    reworded = copy.deepcopy(schema)
    reworded["properties"]["rows"]["items"]["properties"]["credits"]["description"] = "other words"
    renamed = copy.deepcopy(schema)
    item = renamed["properties"]["rows"]["items"]
    item["properties"]["amount"] = item["properties"].pop("credits")
    assert _fingerprint(reworded) == _fingerprint(schema) != _fingerprint(renamed)


def test_schema_changes_need_a_schema_version_bump(update_golden):
    """Each schema's structure is stored per schema_version: changing a field without bumping
    SCHEMA_VERSION fails here. --update-golden records new schemas and new versions only; it
    never rewrites the fingerprint of a version that already shipped."""
    stored = json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.exists() else {}
    version = export.SCHEMA_VERSION
    changed, missing = [], []
    for name in [ENVELOPE, *schema_names()]:
        current = _fingerprint(load_schema(name))
        known = stored.setdefault(name, {})
        if version not in known:
            if update_golden:
                known[version] = current
            else:
                missing.append(name)
        elif known[version] != current:
            changed.append(name)
    if update_golden:
        FINGERPRINTS.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    assert not changed, (
        f"schema(s) {changed} changed under schema_version {version}: bump "
        "SCHEMA_VERSION (and the envelope's const), then run pytest --update-golden"
    )
    assert not missing, f"no fingerprint for {missing} at {version}: run pytest --update-golden"


def test_golden_usage_document(sample, update_golden):
    from generect_reports import load_sample

    monthly = load_sample(period="month")
    text = export.to_json(monthly, generated_at=FIXED_AT)
    path = GOLDEN / "usage.json"
    if update_golden:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    doc = json.loads(text)
    validate_document(doc)
    # the totals tie out to the rows, in integer hundredths
    assert round(sum(r["credits"] for r in doc["rows"]) * 100) == round(
        doc["totals"]["credits"] * 100
    )
    assert round(sample["credits"].sum() * 100) == round(doc["totals"]["credits"] * 100)
    assert doc["fetched_at"] == "2026-11-01T00:00:00+02:00" and doc["generated_at"] == FIXED_AT
    # the sample is read on 2026-11-01, so October is not closed yet
    assert doc["complete"] is False


def test_complete_only_when_every_bucket_closed():
    from generect_reports import load_sample

    assert export.usage_document(load_sample("2026-09-01", "2026-10-29"))["complete"] is True
    assert export.usage_document(load_sample("2026-09-01", "2026-10-30"))["complete"] is False


def test_json_keeps_names_verbatim():
    from helpers import frame

    odd = frame(
        [("2026-03-01", '=HYPERLINK("x")', 2.0), ("2026-03-01", "naïve\nop", 1.0)],
        fetched_at="2026-03-10",
    )
    doc = json.loads(export.to_json(odd, generated_at=FIXED_AT))
    assert [r["operation"] for r in doc["rows"]] == ['=HYPERLINK("x")', "naïve\nop"]
    assert doc["totals"]["by_operation"]["naïve\nop"] == 1.0
    validate_document(doc)


def test_ndjson_streams_one_row_per_line():
    args = ["usage", "--sample", "--start", "2025-01-01", "--end", "2026-10-31"]
    out = run_cli(*args, "--format", "ndjson")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    doc = json.loads(run_cli(*args, "--format", "json").stdout)
    assert len(lines) == len(doc["rows"]) > 5000
    assert [json.loads(line) for line in lines] == doc["rows"]
    assert all("\n" not in line and line.startswith("{") for line in lines)


def test_ndjson_to_a_file(tmp_path):
    target = tmp_path / "u.ndjson"
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-02",
        "--format",
        "ndjson",
        "--output",
        str(target),
    )
    assert out.returncode == 0 and out.stdout == ""
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 16 and set(rows[0]) == {"period_start", "period", "operation", "credits"}


# --- every document variant a command prints, not one sample run ------------------------------


@pytest.mark.parametrize(
    "name, args, code",
    [
        ("status", [], 0),
        ("status", ["--fail-at", "100"], 5),  # fails the check, still prints the whole document
        ("status", ["--min-runway-days", "120"], 5),
        ("reconcile", ["--month", "2026-10"], 0),  # ties (pending and reversed explain it)
        (
            "reconcile",
            ["--month", "2026-02"],
            5,
        ),  # does not tie (unmapped type), JSON still printed
        ("reconcile", ["--month", "2025-01"], 0),  # the account's first month
        ("chargeback", ["--month", "2026-10"], 0),
        (
            "chargeback",
            ["--month", "2026-10", "--customer", "****41de"],
            0,
        ),  # one customer by token hint
        ("chargeback", ["--month", "2026-10", "--customer", "acme-corp"], 0),
        (
            "chargeback",
            ["--month", "2025-01"],
            0,
        ),  # first month: no previous month for the growth check
    ],
)
def test_command_variants_validate(name, args, code):
    result = CliRunner().invoke(cli, [name, "--sample", "--format", "json", *args])
    assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    validate_document(doc, name)
    assert doc["command"] == name and doc["rows"]


def test_reconcile_document_that_does_not_tie_names_why():
    out = run_cli("reconcile", "--sample", "--month", "2026-02", "--format", "json")
    assert out.returncode == 5 and "does not tie" in out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc)
    assert doc["reconciliation"]["ties"] is False
    assert doc["reconciliation"]["unmapped_types"] == ["email_verify_bulk"]
    assert {r["reason"] for r in doc["rows"]} == {"reversed", "unmapped type"}


def test_chargeback_for_one_customer_keeps_account_totals():
    whole = json.loads(
        CliRunner()
        .invoke(cli, ["chargeback", "--sample", "--format", "json", "--month", "2026-10"])
        .stdout
    )
    one = json.loads(
        CliRunner()
        .invoke(
            cli,
            [
                "chargeback",
                "--sample",
                "--format",
                "json",
                "--month",
                "2026-10",
                "--customer",
                "****41de",
            ],
        )
        .stdout
    )
    validate_document(one)
    assert [c["customer"] for c in one["customers"]] == ["hooli"]
    assert {r["customer"] for r in one["rows"]} == {"hooli"}
    assert one["totals"] == whole["totals"] and one["operations"] == whole["operations"]
    assert (one["start"], one["end"]) == ("2026-10-01", "2026-10-31")


def test_status_without_limit_in_overdraft_validates(token_env):
    """Against the API: no plan limit (rows empty), a negative balance (runway 0, runs out today),
    no preview_tier in /me/."""
    token_env.me.update(monthly_limit=0, balance=-250, preview_tier=None)
    out = run_cli("status", "--format", "json", "--fail-at", "100")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc)
    assert doc["rows"] == [] and doc["account"]["monthly_limit"] is None
    assert doc["account"]["preview_tier"] is None and doc["account"]["balance"] == -250
    assert doc["runway_days"] == 0 and doc["run_out_date"] == doc["as_of"][:10]


def test_status_every_budget_kind_validates(token_env, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[budget]\nmonthly_credits = 100\nmonthly_money = 1000\n"
        "[budget.operations]\nemail_find = 20\n"
    )
    out = run_cli("status", "--config", str(cfg), "--format", "json", "--fail-at", "100")
    assert out.returncode == 5, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc)
    assert [r["kind"] for r in doc["rows"]] == ["limit", "budget", "operation", "money"]
    assert [r["unit"] for r in doc["rows"]] == ["credits", "credits", "credits", "USD"]
    assert {c["level"] for c in doc["checks"]} == {"fail"}


def _status_document(frame, account, checks):
    """The status document as the command assembles it (cli.status)."""
    from generect_reports.render import budget as B

    first = pd.Timestamp(frame.attrs["month"] + "-01").date()
    return export.json_document(
        "status",
        B.status_rows(frame),
        source=account.source,
        timezone="Europe/Kyiv",
        period="month",
        start=first,
        end=first.replace(day=frame.attrs["days_in_month"]),
        complete=bool(frame.attrs["complete"]),
        generated_at=FIXED_AT,
        totals={
            "used_credits": frame.attrs["used_credits"],
            "projected_credits": frame.attrs["projected_credits"],
        },
        fields=B.status_fields(frame, account, checks),
    )


@pytest.mark.parametrize(
    "month, as_of, limit, balance",
    [
        ("2026-09", "2026-10-22T00:00:00+03:00", 30000.0, 25384.0),  # a past month: no projection
        ("2026-10", "2026-10-22T00:00:00+03:00", None, -10.0),  # no limit, overdraft
        ("2026-10", "2026-10-01T00:00:00+03:00", 30000.0, 0.0),  # first day: nothing elapsed yet
    ],
)
def test_status_documents_from_the_library_validate(month, as_of, limit, balance):
    from generect_reports import load_sample
    from generect_reports.analysis.budget import budget_status, check_thresholds
    from generect_reports.fetch.account import parse_account

    usage = load_sample("2026-08-01", "2026-10-21", period="day")
    frame = budget_status(
        usage,
        month,
        limit=limit,
        budgets={"monthly_money": 50, "operations": {"preview": 10}},
        balance=balance,
        as_of=as_of,
    )
    account = parse_account(
        {
            "plan": "Pro",
            "credits": {"balance": balance, "used_this_month": 0, "monthly_limit": limit},
        },
        fetched_at=as_of,
        source="sample",
    )
    doc = _status_document(frame, account, check_thresholds(frame, fail_at=100, min_runway_days=5))
    validate_document(doc, "status")
    if month == "2026-09":
        assert doc["complete"] is True and doc["totals"]["projected_credits"] is None
        assert all(r["projected"] is None and r["projected_share"] is None for r in doc["rows"])


def test_status_document_with_zero_burn_has_unlimited_runway():
    from helpers import frame as usage_frame

    from generect_reports.analysis.budget import budget_status
    from generect_reports.fetch.account import parse_account

    usage = usage_frame([("2026-10-01", "preview", 0.0)], fetched_at="2026-10-10")
    status = budget_status(
        usage, "2026-10", limit=100.0, balance=500.0, as_of="2026-10-10T00:00:00+03:00"
    )
    account = parse_account(
        {"plan": "Free", "credits": {"balance": 500, "used_this_month": 0}},
        fetched_at="2026-10-10T00:00:00+03:00",
        source="api",
    )
    doc = _status_document(status, account, [])
    validate_document(doc)
    assert (
        doc["runway_unlimited"] is True
        and doc["runway_days"] is None
        and doc["run_out_date"] is None
    )


def test_reconcile_document_without_anchor_and_every_reason_validates():
    import dataclasses

    from generect_reports import load_sample
    from generect_reports.analysis.reconcile import REASONS, reconcile
    from generect_reports.fetch import ledger as L
    from generect_reports.render.reconcile import render_json

    inputs = L.load_sample_ledger("2026-10")
    usage = load_sample("2026-10-01", "2026-10-31", period="month")
    result = reconcile(usage, inputs.ledger, month="2026-10")  # no balance: no opening, no closing
    reasons = pd.DataFrame(
        [
            {"operation": "preview", "reason": r, "credits": -1.5, "transactions": 1, "detail": "d"}
            for r in REASONS
        ]
    )
    change = {"item": "preview/success", "before": 10.0, "after": 12.5, "change": 2.5}
    restated = [
        {"month": "2026-09", "kind": kind, "changes": [change]} for kind in ("ledger", "usage")
    ]
    result = dataclasses.replace(
        result,
        reasons=reasons,
        restatements=restated,
        notes=["preview: usage leaves out its pending charges"],
    )
    doc = json.loads(render_json(result, generated_at=FIXED_AT, complete=False))
    validate_document(doc)
    figures = doc["reconciliation"]
    assert figures["opening_balance"] is figures["closing_balance"] is figures["anchor_at"] is None
    assert [r["reason"] for r in doc["rows"]] == list(REASONS)
    broken = copy.deepcopy(doc)
    broken["rows"][0]["reason"] = "rounding"
    with pytest.raises(jsonschema.ValidationError):
        validate_document(broken)


def test_chargeback_document_without_token_analytics_validates():
    from generect_reports import load_sample
    from generect_reports.analysis.chargeback import allocate_credits
    from generect_reports.fetch.tokens import load_sample_tokens
    from generect_reports.render.chargeback import render_chargeback

    usage = load_sample("2026-10-01", "2026-10-31", period="month")
    tokens = load_sample_tokens("2026-09-01", "2026-10-31").iloc[0:0]
    tokens.attrs["windows"] = {}
    alloc = allocate_credits(usage, tokens, month="2026-10")
    doc = json.loads(render_chargeback(alloc, "json", generated_at=FIXED_AT))
    validate_document(doc)
    assert doc["start"] is None and doc["end"] is None
    assert [c["kind"] for c in doc["customers"]] == ["unallocated"]
    assert doc["totals"]["unallocated_credits"] == doc["totals"]["credits"]


@pytest.mark.parametrize(
    "name, args, mutate, needle",
    [
        ("status", [], lambda d: d["rows"][0].update(kind="quota"), "quota"),
        ("status", [], lambda d: d["account"].update(email="x@example.com"), "email"),
        ("status", [], lambda d: d["totals"].pop("projected_credits"), "projected_credits"),
        (
            "reconcile",
            ["--month", "2026-10"],
            lambda d: d["rows"][0].update(transactions=1.5),
            "integer",
        ),
        ("reconcile", ["--month", "2026-10"], lambda d: d.update(period="month"), "month"),
        (
            "reconcile",
            ["--month", "2026-10"],
            lambda d: d["operations"][0].pop("residual"),
            "residual",
        ),
        ("chargeback", ["--month", "2026-10"], lambda d: d["rows"][0].update(token="abc"), "token"),
        ("chargeback", ["--month", "2026-10"], lambda d: d.update(estimate=False), "True"),
        (
            "chargeback",
            ["--month", "2026-10"],
            lambda d: d["customers"][0].update(kind="vip"),
            "vip",
        ),
    ],
)
def test_command_schemas_reject_broken_documents(name, args, mutate, needle):
    doc = json.loads(CliRunner().invoke(cli, [name, "--sample", "--format", "json", *args]).stdout)
    validate_document(doc)
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError) as err:
        validate_document(doc)
    assert needle in str(err.value.message) + str(list(err.value.path))
