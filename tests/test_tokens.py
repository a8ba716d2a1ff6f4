"""Per-token analytics: month windows sent as instants with offsets, lenient period parsing,
nullable and past tokens, faults, the cache, the sample, and customer tokens kept secret."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import tokendata as T
from fakeapi import CUSTOMER_TOKEN, TOKEN

from generect_reports import periods as P
from generect_reports.errors import (
    AuthenticationError,
    InputError,
    MalformedResponseError,
    ServerError,
)
from generect_reports.fetch.cache import UsageCache
from generect_reports.fetch.tokens import (
    customer_label,
    fetch_token_usage,
    load_sample_tokens,
    mask_token,
    month_window,
    parse_token_data,
)


@pytest.fixture
def tapi(api):
    return T.install(api)


def counts(frame: pd.DataFrame, month: str) -> dict[str, tuple[dict[str, int], int, int, int]]:
    sub = frame[frame["month"] == month]
    out = {}
    for customer, g in sub.groupby("customer"):
        eps = {e: int(r) for e, r in zip(g["endpoint"], g["requests"]) if e}
        first = g.iloc[0]
        out[customer] = (
            eps,
            int(first["status_2xx"]),
            int(first["status_4xx"]),
            int(first["status_5xx"]),
        )
    return out


def test_month_window_is_the_local_month_as_instants():
    oct_ = P.Bucket(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "2026-10")
    start, end = month_window(oct_, "Europe/Kyiv")
    assert start.isoformat() == "2026-10-01T00:00:00+03:00"
    assert end.isoformat() == "2026-10-31T23:59:59.999999+02:00"  # after the DST change
    may = P.Bucket(dt.date(2026, 5, 1), dt.date(2026, 5, 31), "2026-05")
    assert month_window(may, "Europe/Kyiv")[1].isoformat() == "2026-05-31T23:59:59.999999+03:00"
    # a zone whose midnight is skipped by DST starts at the first real instant of the day
    day = P.Bucket(dt.date(2026, 9, 6), dt.date(2026, 9, 6), "x")
    first, _ = month_window(day, "America/Santiago")
    assert first.astimezone(dt.UTC) == dt.datetime(2026, 9, 6, 4, tzinfo=dt.UTC)


def test_kyiv_month_is_sent_as_instants_and_counted_right(tapi, client):
    frame = fetch_token_usage(
        "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    [req] = tapi.token_requests()
    assert req.params == {
        "start_date": "2026-10-01T00:00:00+03:00",
        "end_date": "2026-10-31T23:59:59.999999+02:00",
        "timezone": "Europe/Kyiv",
    }
    assert counts(frame, "2026-10") == T.OCTOBER
    assert list(frame.columns[:7]) == [
        "customer",
        "client_id",
        "token_hint",
        "active",
        "endpoint",
        "requests",
        "ok_ratio",
    ]
    assert frame.attrs["windows"]["2026-10"] == [
        "2026-10-01T00:00:00+03:00",
        "2026-10-31T23:59:59.999999+02:00",
    ]
    assert frame.attrs["timezone"] == "Europe/Kyiv" and frame.attrs["source"] == "api"
    acme = frame[frame["customer"] == "acme-corp"].iloc[0]
    assert acme["ok_ratio"] == pytest.approx(147 / 157) and acme["token_hint"] == "****6c7d"


def test_bare_dates_or_offsetless_instants_would_count_wrong(tapi, client):
    """The server reads a bare date as midnight and a bare time as UTC: both lose or add traffic."""
    path = "/api/v1/accounts/tokens/analytics/"

    def total(**params):
        data = client.get(path, {**params, "timezone": "Europe/Kyiv"})["data"]
        return data["total_requests"]

    right = sum(sum(v[0].values()) for v in T.OCTOBER.values())
    assert (
        total(start_date="2026-10-01T00:00:00+03:00", end_date="2026-10-31T23:59:59.999999+02:00")
        == right
    )
    assert total(start_date="2026-10-01", end_date="2026-10-31") != right
    assert total(start_date="2026-10-01T00:00:00", end_date="2026-10-31T23:59:59") != right
    with pytest.raises(InputError):
        client.token_analytics("2026-10-01", "2026-10-31", timezone="Europe/Kyiv")
    with pytest.raises(InputError):
        client.token_analytics("2026-10-01T00:00:00", "2026-10-31T23:59:59", timezone="Europe/Kyiv")


def test_timezone_only_renders_the_period(tapi, client):
    kyiv = client.token_analytics(
        "2026-10-01T00:00:00+03:00", "2026-10-31T23:59:59.999999+02:00", timezone="Europe/Kyiv"
    )
    utc = client.token_analytics(
        "2026-10-01T00:00:00+03:00", "2026-10-31T23:59:59.999999+02:00", timezone="UTC"
    )
    assert kyiv["total_requests"] == utc["total_requests"]
    assert kyiv["period"] == {"start": "2026-10-01T00:00:00", "end": "2026-10-31T23:59:59"}
    assert utc["period"] == {"start": "2026-09-30T21:00:00", "end": "2026-10-31T21:59:59"}


def test_revoked_idle_and_nameless_tokens(tapi, client):
    frame = fetch_token_usage(
        "2026-09-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert len(tapi.token_requests()) == 2  # one request per month
    old = frame[frame["customer"] == "old-co"]
    assert set(old["active"]) == {False}
    assert counts(frame, "2026-09")["old-co"][0] == {T.EMAIL: 30}
    idle = frame[(frame["customer"] == "Idle") & (frame["month"] == "2026-10")]
    assert len(idle) == 1 and idle.iloc[0]["endpoint"] == "" and idle.iloc[0]["requests"] == 0
    assert pd.isna(idle.iloc[0]["ok_ratio"]) and pd.isna(idle.iloc[0]["client_id"])
    anon = frame[frame["customer"] == "token ****55e9"].iloc[0]
    assert pd.isna(anon["name"]) and pd.isna(anon["client_id"])
    # newest first, as the API lists them, within each month
    oct_order = list(dict.fromkeys(frame.loc[frame["month"] == "2026-10", "customer"]))
    assert oct_order == ["Idle", "token ****55e9", "canary", "acme-corp", "old-co"]


def test_customer_identity_and_masking():
    assert customer_label("acme", "Acme", "****1234") == "acme"
    assert customer_label(None, "Acme", "****1234") == "Acme"
    assert customer_label("  ", None, "****1234") == "token ****1234"
    assert mask_token("abcdefghijkl1234") == "****1234"
    assert mask_token("short123") == "****"
    masked = parse_token_data(
        {
            "period": {"start": "2026-10-01", "end": "2026-10-31"},
            "tokens": [
                {
                    "token": CUSTOMER_TOKEN,
                    "name": None,
                    "client_id": None,
                    "is_active": False,
                    "by_endpoint": {"/a/": 3},
                    "by_status": {"2xx": 2, "4xx": 1},
                }
            ],
        }
    )
    assert CUSTOMER_TOKEN not in json.dumps(masked)
    assert masked["tokens"][0]["token_hint"] == "****4e62" and masked["total_requests"] == 3
    assert parse_token_data(masked) == masked  # a masked (cached) answer passes through unchanged


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"tokens": {"a": 1}}, "'tokens' is missing or not a list"),
        ({"tokens": [{"token": CUSTOMER_TOKEN, "by_endpoint": {"/a/": -1}}]}, "negative"),
        ({"tokens": [{"token": CUSTOMER_TOKEN, "by_endpoint": {"/a/": 1.5}}]}, "whole number"),
        ({"tokens": [{"token": CUSTOMER_TOKEN, "by_status": {"2xx": True}}]}, "not a count"),
        ({"tokens": [{"token": CUSTOMER_TOKEN, "is_active": "yes"}]}, "is_active"),
        ({"tokens": [{"token": CUSTOMER_TOKEN, "name": 5}]}, "name of token #1 (****4e62)"),
        ({"tokens": [{"name": "x"}]}, "no token value"),
    ],
)
def test_malformed_answers_never_echo_a_token(data, fragment):
    with pytest.raises(MalformedResponseError) as info:
        parse_token_data(data)
    assert fragment in str(info.value)
    assert CUSTOMER_TOKEN not in str(info.value) + repr(info.value)


@pytest.mark.parametrize(
    "kind", ["invalid_json", "no_data", "tokens_not_list", "bad_count", "short_window"]
)
def test_malformed_or_wrong_window_answers(tapi, client, kind):
    tapi.fail(kind, times=-1)
    with pytest.raises(MalformedResponseError) as info:
        fetch_token_usage(
            "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
        )
    assert "2026-10" in str(info.value)
    assert CUSTOMER_TOKEN not in str(info.value) and TOKEN not in str(info.value)


def test_period_with_an_offset_is_accepted(tapi, client):
    tapi.fail("offset_period", times=-1)
    frame = fetch_token_usage(
        "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert counts(frame, "2026-10") == T.OCTOBER


def test_transient_faults_are_retried_and_auth_is_not(tapi, client):
    tapi.fail("500", times=2)
    frame = fetch_token_usage(
        "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert counts(frame, "2026-10") == T.OCTOBER and len(client.waits) == 2
    tapi.fail("503", times=-1)
    with pytest.raises(ServerError, match="period 2026-10"):
        fetch_token_usage(
            "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
        )
    tapi.faults.clear()
    tapi.fail("echo_token_401")
    with pytest.raises(AuthenticationError) as info:
        fetch_token_usage(
            "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
        )
    assert TOKEN not in str(info.value)


def test_closed_months_are_cached_masked(tapi, client, isolated_env):
    cache = UsageCache(isolated_env)
    first = fetch_token_usage(
        "2026-09-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=cache
    )
    assert len(tapi.token_requests()) == 2
    again = fetch_token_usage(
        "2026-09-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=cache
    )
    assert len(tapi.token_requests()) == 2  # closed months never re-fetched
    pd.testing.assert_frame_equal(first, again)
    cache.close()
    for path in isolated_env.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for secret in T.SECRETS + [TOKEN]:
                assert secret.encode() not in blob


def test_no_token_or_client_id_sent_back(tapi, client):
    fetch_token_usage(
        "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    for req in tapi.token_requests():
        assert "token" not in req.params and "client_id" not in req.params
        for secret in T.SECRETS:
            assert secret not in req.path + str(req.params)


def test_sample_token_analytics():
    frame = load_sample_tokens()
    assert frame.attrs["source"] == "sample" and frame.attrs["timezone"] == "Europe/Kyiv"
    assert frame["month"].min() == "2025-01" and frame["month"].max() == "2026-10"
    customers = set(frame["customer"])
    assert {"acme-corp", "globex", "initech", "hooli", "Staging", "token ****e5f1"} == customers
    globex = frame[frame["customer"] == "globex"].groupby("month")["requests"].sum()
    assert (
        globex["2026-02"] > 0
        and globex["2026-04":].sum() == 0
        and not frame.loc[frame["customer"] == "globex", "active"].any()
    )
    assert frame.loc[frame["customer"] == "initech", "month"].min() == "2026-08"
    nameless = frame[frame["customer"] == "token ****e5f1"].iloc[0]
    assert pd.isna(nameless["name"]) and pd.isna(nameless["client_id"])
    hooli = frame[frame["customer"] == "hooli"].drop_duplicates("month").set_index("month")
    failed = (hooli["status_4xx"] + hooli["status_5xx"]) / hooli["token_requests"]
    assert failed["2026-10"] > 0.5 and (failed.drop("2026-10") < 0.1).all()
    assert (frame.loc[frame["customer"] == "Staging", "requests"] == 0).all()


def test_sample_tokens_follow_the_sample_usage():
    """Every operation with credits in a month has requests mapping to it, and none without."""
    from generect_reports.analysis.chargeback import load_endpoint_mapping, map_endpoints
    from generect_reports.analysis.usage import to_monthly
    from generect_reports.fetch.usage import load_sample

    tokens = load_sample_tokens()
    usage = to_monthly(load_sample(period="month"))
    ops = map_endpoints(tokens["endpoint"], load_endpoint_mapping())
    touched = set(zip(tokens["month"][ops.notna() & (tokens["requests"] > 0)], ops.dropna()))
    charged = {
        (m, o)
        for m, o, c in zip(usage["month"], usage["operation"], usage["credits"])
        if c and o != "unattributed"
    }
    assert touched == charged
    assert ("2026-03", "enrich_realtime") not in touched and (
        "2025-08",
        "phone_find",
    ) not in touched


def test_sample_refuses_other_zones_and_partial_months():
    with pytest.raises(InputError):
        load_sample_tokens(timezone="UTC")
    with pytest.raises(InputError):
        load_sample_tokens("2026-10-05", "2026-10-31")


@pytest.mark.parametrize("kind", ["429", "drop", "truncate", "html502", "proxy_json"])
def test_usual_transient_faults_are_retried(tapi, client, kind):
    tapi.fail(kind, times=1)
    frame = fetch_token_usage(
        "2026-10-01", "2026-10-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert counts(frame, "2026-10") == T.OCTOBER
    assert len(tapi.token_requests()) == 2


def test_unknown_timezone_is_refused_before_any_request(tapi, client):
    from generect_reports.errors import InvalidTimezone

    with pytest.raises(InvalidTimezone):
        fetch_token_usage(
            "2026-10-01", "2026-10-31", timezone="Mars/Olympus", client=client, cache=False
        )
    assert tapi.token_requests() == []
