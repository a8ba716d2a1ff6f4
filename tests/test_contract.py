"""The versioned JSON contract: every command's document against its shipped schema, the golden
usage document, the schema fingerprints that force a schema_version bump, and NDJSON."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from support import run_cli

from generect_reports.cli import cli
from generect_reports.outputs import export
from generect_reports.outputs.contract import ENVELOPE, load_schema, schema_names, validate_document

GOLDEN = Path(__file__).parent / "golden"
FINGERPRINTS = GOLDEN / "schema_fingerprints.json"
FIXED_AT = "2026-11-02T08:00:00+00:00"

#: Extra arguments a command needs besides --sample --format json (none by default, so a new
#: command's schema is picked up and checked as soon as its file exists).
COMMAND_ARGS: dict[str, list[str]] = {
    "usage": ["--start", "2026-05-01", "--end", "2026-06-30", "--period", "week"],
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
    result = CliRunner().invoke(cli, [name, "--sample", "--format", "json", *COMMAND_ARGS.get(name, [])])
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


def test_envelope_schema_names_the_current_version():
    assert load_schema(ENVELOPE)["properties"]["schema_version"]["const"] == export.SCHEMA_VERSION


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.pop("timezone"), "timezone"),
    (lambda d: d.update(unit="usd"), "credits"),
    (lambda d: d["rows"][0].update(credits="12"), "number"),
    (lambda d: d["rows"][0].update(extra=1), "extra"),
    (lambda d: d.update(surprise=True), "surprise"),
    (lambda d: d.update(generated_at="yesterday"), "date-time"),
    (lambda d: d.update(start="2026-13-01"), "date"),
    (lambda d: d["totals"].pop("credits"), "credits"),
])
def test_schema_rejects_broken_documents(sample, mutate, needle):
    doc = export.usage_document(sample.iloc[:40].copy().__finalize__(sample), generated_at=FIXED_AT)
    validate_document(doc)
    broken = copy.deepcopy(doc)
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError) as err:
        validate_document(broken)
    assert needle in str(err.value.message) + str(list(err.value.path))


def _fingerprint(schema: object) -> str:
    """Hash of a schema's structure: titles and descriptions may change, nothing else."""
    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("title", "description", "$comment")}
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
    assert not changed, (f"schema(s) {changed} changed under schema_version {version}: bump "
                         "SCHEMA_VERSION (and the envelope's const), then run pytest --update-golden")
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
    assert round(sum(r["credits"] for r in doc["rows"]) * 100) == round(doc["totals"]["credits"] * 100)
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

    odd = frame([("2026-03-01", "=HYPERLINK(\"x\")", 2.0), ("2026-03-01", "naïve\nop", 1.0)],
                fetched_at="2026-03-10")
    doc = json.loads(export.to_json(odd, generated_at=FIXED_AT))
    assert [r["operation"] for r in doc["rows"]] == ["=HYPERLINK(\"x\")", "naïve\nop"]
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
    out = run_cli("usage", "--sample", "--start", "2026-05-01", "--end", "2026-05-02", "--format", "ndjson",
                  "--output", str(target))
    assert out.returncode == 0 and out.stdout == ""
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 16 and set(rows[0]) == {"period_start", "period", "operation", "credits"}
