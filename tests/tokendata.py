"""Customer tokens and their requests for the local API, with known answers per Kyiv month."""

from __future__ import annotations

import datetime as dt

from fakeapi import CUSTOMER_TOKEN, FakeGenerect, FakeToken, TokenEvent

UTC = dt.UTC
ACME = "tok-acme-7c1d2e3f4a5b6c7d"
ANON = "tok-anon-111122223333444455e9"
OLD = "tok-old-aaaabbbbccccdddd9999"
IDLE = "tok-idle-0000111122223333f00d"
SECRETS = [ACME, ANON, OLD, IDLE, CUSTOMER_TOKEN]

SEARCH = "/api/v1/search/database/leads/"
EMAIL = "/api/v1/email/find/"
COUNT = "/api/v1/search/database/leads/count/"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def install(api: FakeGenerect) -> FakeGenerect:
    """Five tokens: active, canary, nameless, revoked (history in September), idle."""
    api.tokens = [
        FakeToken(ACME, "Acme Corp", "acme-corp", True, "2025-02-01T09:00:00"),
        FakeToken(CUSTOMER_TOKEN, "Canary Ltd", "canary", True, "2025-03-01T00:00:00"),
        FakeToken(ANON, None, None, True, "2025-04-01T00:00:00"),
        FakeToken(OLD, "Old Co", "old-co", False, "2024-06-01T00:00:00"),
        FakeToken(IDLE, "Idle", None, True, "2026-09-01T00:00:00"),
    ]
    ev = TokenEvent
    api.token_events = [
        # 2026-10-01 00:30 in Kyiv: October there, September in UTC
        ev(at("2026-09-30T21:30:00"), ACME, SEARCH, "2xx", 100),
        ev(at("2026-10-15T12:00:00"), ACME, EMAIL, "2xx", 40),
        ev(at("2026-10-15T12:05:00"), ACME, EMAIL, "4xx", 10),
        ev(at("2026-10-16T08:00:00"), ACME, COUNT, "2xx", 7),
        # the 31st during the day: lost by a bare end_date=2026-10-31
        ev(at("2026-10-31T12:00:00"), CUSTOMER_TOKEN, SEARCH, "2xx", 50),
        ev(at("2026-10-20T09:00:00"), CUSTOMER_TOKEN, EMAIL, "5xx", 200),
        # 23:30 on the 31st in Kyiv (+02:00 after the DST change)
        ev(at("2026-10-31T21:30:00"), ANON, EMAIL, "2xx", 20),
        # 2026-11-01 00:30 in Kyiv: November, though still October 31 in UTC
        ev(at("2026-10-31T22:30:00"), ACME, SEARCH, "2xx", 1000),
        # September: the revoked token's history and the canary's quiet month
        ev(at("2026-09-10T10:00:00"), OLD, EMAIL, "2xx", 30),
        ev(at("2026-09-12T10:00:00"), CUSTOMER_TOKEN, EMAIL, "5xx", 5),
        ev(at("2026-09-12T10:00:00"), CUSTOMER_TOKEN, EMAIL, "2xx", 45),
    ]
    return api


#: Kyiv October 2026, as a correct client sees it: customer -> (by_endpoint, 2xx, 4xx, 5xx)
OCTOBER = {
    "acme-corp": ({SEARCH: 100, EMAIL: 50, COUNT: 7}, 147, 10, 0),
    "canary": ({SEARCH: 50, EMAIL: 200}, 50, 0, 200),
    "token ****55e9": ({EMAIL: 20}, 20, 0, 0),
    "old-co": ({}, 0, 0, 0),
    "Idle": ({}, 0, 0, 0),
}
