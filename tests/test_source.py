"""The source seam: ``open_source`` chooses the sample or the API once; the sample answers every
question as of one instant; the API source sends everything to the URL it was given."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fakeapi import TOKEN

from generect_reports.errors import InputError, InvalidTimezone, MissingTokenError
from generect_reports.fetch import plan as FP
from generect_reports.fetch.account import load_sample_account, sample_snapshot
from generect_reports.fetch.api import ApiSource
from generect_reports.fetch.sample import SampleSource
from generect_reports.fetch.source import Source, open_source
from generect_reports.fetch.usage import SAMPLE_AS_OF, sample_as_of


def test_open_source_chooses_once():
    sample = open_source(sample=True)
    assert isinstance(sample, SampleSource) and isinstance(sample, Source)
    assert (sample.kind, sample.timezone, sample.offline) == ("sample", "Europe/Kyiv", True)
    with pytest.raises(InputError, match="recorded in Europe/Kyiv"):
        open_source(sample=True, timezone="UTC")
    with pytest.raises(InvalidTimezone):
        open_source(sample=True, timezone="Mars/Base")


def test_the_api_source_needs_a_token_before_any_request(api):
    with pytest.raises(MissingTokenError):
        open_source(sample=False, api_url=api.url)
    assert api.requests == []


def test_the_sample_answers_everything_as_of_one_instant():
    source = open_source(sample=True)
    now = source.now()
    assert now == sample_as_of() == pd.Timestamp(SAMPLE_AS_OF, tz="Europe/Kyiv")
    assert source.today().isoformat() == "2026-11-01"
    planned = source.report_usage("2026-10", 24)
    usage = source.usage("2026-10-01", "2026-11-30")
    tokens = source.tokens("2026-10-01", "2026-10-31")
    ledger = source.ledger("2026-10")
    account = source.account()
    assert {
        planned.daily.attrs["fetched_at"],
        planned.monthly.attrs["fetched_at"],
        usage.attrs["fetched_at"],
        tokens.attrs["fetched_at"],
        ledger.anchor.at,
        account.fetched_at,
    } == {now}
    assert usage.attrs["end"] == "2026-10-31"  # an end after the data is clipped, as the API does
    # The ledger's anchor is /me/'s balance at that instant, and the account says the same.
    assert account.balance == ledger.anchor.balance == 93862.27
    assert account.used_this_month == usage["credits"].sum() == 33441.0
    assert account.api_month == "2026-10" and account.monthly_limit == 30000.0


def test_the_bundled_sample_files_share_the_instant():
    from generect_reports._resources import data_file

    anchor = json.loads(data_file("sample_ledger_anchor.json").read_text(encoding="utf-8"))
    assert pd.Timestamp(anchor["as_of"]) == sample_as_of()


def test_the_account_derivation_reproduces_the_recorded_snapshot():
    recorded = sample_snapshot()
    assert str(recorded.fetched_at) == "2026-10-22 00:00:00+03:00"
    assert load_sample_account(as_of=recorded.fetched_at) == recorded
    assert load_sample_account(as_of="2026-10-22 00:00") == recorded  # a naive time is local


def test_sample_settled_and_refresh():
    import datetime as dt

    source = open_source(sample=True)
    assert source.settled(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert not source.settled(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert not source.refreshable and source.remember_reported("2026-10", {}, closed=True) == []
    assert source.in_timezone("Europe/Kyiv").now() == source.now()


def test_the_api_source_asks_the_url_it_was_given(api, monkeypatch):
    monkeypatch.setenv("GENERECT_API_TOKEN", TOKEN)
    monkeypatch.setenv("GENERECT_API_URL", "http://127.0.0.1:9")  # nothing listens there
    with open_source(sample=False, api_url=api.url, timezone="UTC", progress=False) as source:
        assert isinstance(source, ApiSource) and source.base_url == api.url.rstrip("/")
        assert (source.kind, source.offline, source.refreshable) == ("api", False, True)
        usage = source.report_usage("2026-05", 12)
        account = source.account()
        frame = source.usage("2026-05-01", "2026-05-03")
        other = source.in_timezone("Europe/Kyiv")
        assert other.timezone == "Europe/Kyiv" and other.client is source.client
    plan = FP.report_plan("2026-05", 12, today=source.today())
    assert len(api.usage_requests()) == len(plan.requests)  # the days were cached by then
    assert usage.daily.attrs["source"] == "api" and account.plan
    assert list(frame["period"].unique()) == ["2026-05-01", "2026-05-02", "2026-05-03"]
    assert {r.path for r in api.requests} >= {"/api/v1/accounts/me/", "/api/v1/accounts/usage/"}


def test_without_the_cache_nothing_is_refreshable(token_env):
    source = open_source(sample=False, no_cache=True)
    assert not source.refreshable
    assert source.remember_reported("2026-05", {"usage": {"a": 1}}, closed=True) == []
