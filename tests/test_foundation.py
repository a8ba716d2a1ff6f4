"""The shared base of every command: the config file by tables, money rounding, the JSON
envelope and the request planner."""

from __future__ import annotations

import os
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import run_cli

from generect_reports.analysis.pricing import largest_remainder, money_cents, round_money
from generect_reports.config import check_private, load_config
from generect_reports.errors import CheckFailed, ConfigError
from generect_reports.render.records.export import SCHEMA_VERSION, dumps_document, json_document


def test_config_is_read_by_tables(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[email]\nto = ["a@example.com"]\n[calendar]\nfiscal_year_start = 4\n')
    config = load_config(cfg)
    assert config.table("email") == {"to": ["a@example.com"]}
    assert config.table("calendar") == {"fiscal_year_start": 4}
    assert config.table("budget") == {}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('to = ["a@example.com"]\n', "must sit in a table"),
        ("[mail]\nto = 1\n", "unknown table [mail]"),
        ('[email]\npassword = "x"\n', "secrets come from the environment"),
        ("[email\n", "invalid TOML"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path, text, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=None) as info:
        load_config(cfg)
    assert fragment in str(info.value)


def test_config_from_environment_and_missing_file(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[report]\nhistory = 6\n")
    monkeypatch.setenv("GENERECT_REPORTS_CONFIG", str(cfg))
    assert load_config().table("report") == {"history": 6}
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")


def test_private_file_check(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[notify]\n")
    os.chmod(cfg, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        check_private(cfg, "webhook URLs")
    os.chmod(cfg, 0o600)
    check_private(cfg, "webhook URLs")


def test_config_is_a_common_option_and_a_top_level_key_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('to = ["a@example.com"]\n')
    out = run_cli(
        "usage", "--sample", "--start", "2026-10-01", "--end", "2026-10-02", "--config", str(cfg)
    )
    assert out.returncode == 2
    assert "must sit in a table" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_money_is_rounded_half_up_once():
    assert money_cents(3387 * 0.005) == 1694
    assert round_money(16.935) == 16.94
    assert round_money(0.125) == 0.13
    assert round_money(-0.125) == -0.13
    assert money_cents(Decimal("2.675")) == 268
    assert round_money(2.675) == 2.68  # the float prints as 2.675, so a person expects 2.68


@given(
    st.integers(-(10**9), 10**9),
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30),
)
def test_largest_remainder_adds_up(total, weights):
    if sum(weights) == 0:
        if total:
            with pytest.raises(ValueError):
                largest_remainder(total, weights)
        return
    parts = largest_remainder(total, weights)
    assert parts.sum() == total
    exact = np.asarray(weights) / sum(weights) * total
    assert np.all(np.abs(parts - exact) < 1 + 1e-6)


def test_json_document_envelope():
    doc = json_document(
        "usage",
        [{"credits": float("nan")}],
        source="sample",
        timezone="Europe/Kyiv",
        period="day",
        start="2026-10-01",
        end="2026-10-31",
        complete=True,
        totals={"credits": 1.0},
        fields={"extra": 1},
        generated_at="2026-11-01T00:00:00Z",
    )
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["rows"] == [{"credits": None}]
    assert doc["extra"] == 1
    assert dumps_document(doc).endswith("}\n")
    with pytest.raises(ValueError):
        json_document(
            "usage",
            [],
            source="sample",
            timezone="UTC",
            period=None,
            start=None,
            end=None,
            complete=True,
            fields={"rows": []},
        )


def test_check_failed_exit_code():
    assert CheckFailed("x").exit_code == 5
