"""The HTTP client against a real local server: auth, slashes, errors, retries, secrets."""

import logging

import pytest
import requests
from fakeapi import TOKEN

from generect_reports import GenerectClient
from generect_reports import errors as E
from generect_reports.fetch.client import resolve_token, retry_delay, should_retry


def test_usage_sends_token_header_and_trailing_slash(api, client):
    data = client.usage("2026-05-01", "2026-05-31", timezone="Europe/Kyiv", period="month")
    assert data["total_credits"] == pytest.approx(31 * 12.5)
    (req,) = api.requests
    assert req.path == "/api/v1/accounts/usage/"
    assert req.authorization == f"Token {TOKEN}"
    assert req.params == {
        "start_date": "2026-05-01",
        "end_date": "2026-05-31",
        "timezone": "Europe/Kyiv",
        "period": "month",
    }
    assert TOKEN not in client.url_for("/api/v1/accounts/usage", {"a": "b"})
    assert client.url_for("/api/v1/accounts/usage").endswith("/usage/")


def test_me_endpoint(client):
    assert client.me()["plan"] == "Pro"


def test_token_prefix_and_env(monkeypatch):
    assert resolve_token("Token abc123") == "abc123"
    monkeypatch.setenv("GENERECT_API_TOKEN", "  token xyz987 ")
    assert resolve_token() == "xyz987"
    monkeypatch.delenv("GENERECT_API_TOKEN")
    with pytest.raises(E.MissingTokenError, match="GENERECT_API_TOKEN"):
        resolve_token()


def test_default_base_url_and_env(monkeypatch):
    assert GenerectClient("t").base_url == "https://api.generect.com"
    monkeypatch.setenv("GENERECT_API_URL", "https://example.test/")
    assert GenerectClient("t").base_url == "https://example.test"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.generect.com",
        "http://10.0.0.5:8000",
        "ftp://x",
        "https://u:p@host",
        # A name is trusted as this machine only when it is exactly localhost: whether these reach
        # this machine depends on a DNS answer.
        "http://foo.localhost:9",
        "http://localhost.example.com:9",
        "http://127.0.0.1.nip.io:9",
    ],
)
def test_refuses_plain_http_except_loopback(url):
    with pytest.raises(E.InputError):
        GenerectClient("t", url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9",
        "http://127.3.2.1:9",
        "http://localhost:9",
        "http://LOCALHOST:9",
        "http://[::1]:9",
    ],
)
def test_loopback_http_allowed(url):
    GenerectClient("t", url)


def test_wrong_token_is_401(api):
    c = GenerectClient("wrong-token", api.url, sleep=lambda s: None)
    with pytest.raises(E.AuthenticationError) as info:
        c.usage("2026-05-01", "2026-05-01")
    assert info.value.exit_code == 3 and info.value.status_code == 401
    assert len(api.requests) == 1  # 4xx is not retried


@pytest.mark.parametrize(
    "kind,cls,code",
    [
        ("402", E.InsufficientFundsError, 4),
        ("403", E.PermissionDeniedError, 3),
        ("404", E.NotFoundError, 4),
    ],
)
def test_status_mapping(api, client, kind, cls, code):
    api.fail(kind)
    with pytest.raises(cls) as info:
        client.usage("2026-05-01", "2026-05-01")
    assert info.value.exit_code == code


def test_validation_error_keeps_field_map(api, client):
    api.fail("400")
    with pytest.raises(E.ValidationError) as info:
        client.usage("2026-05-01", "2026-05-01")
    assert info.value.fields == {"start_date": ["Enter a valid date."]}
    assert "start_date: Enter a valid date." in str(info.value)


@pytest.mark.parametrize(
    "kind", ["429", "500", "503", "html502", "proxy_json", "drop", "truncate", "invalid_json"]
)
def test_transient_faults_recover(api, client, kind):
    api.fail(kind, times=2)
    data = client.usage("2026-05-01", "2026-05-02")
    assert data["total_credits"] == 25.0
    assert len(api.requests) == 3
    assert len(client.waits) == 2


def test_retries_are_bounded(api, client):
    api.fail("500", times=-1)
    with pytest.raises(E.ServerError, match="gave up after 5 attempts"):
        client.usage("2026-05-01", "2026-05-02")
    assert len(api.requests) == 5
    assert all(0 <= w <= 8 for w in client.waits)


def test_html_502_gives_a_clear_error(api, client):
    api.fail("html502", times=-1)
    with pytest.raises(E.ServerError, match="HTML page instead of the error envelope"):
        client.usage("2026-05-01", "2026-05-02")


def test_retry_after_is_honoured(api, client):
    api.fail("429", times=1, arg=3)
    client.usage("2026-05-01", "2026-05-02")
    assert client.waits == [3.0]


def test_hanging_server_times_out_and_is_bounded(api):
    waits = []
    c = GenerectClient(TOKEN, api.url, sleep=waits.append, timeout=(1.0, 0.3), max_attempts=3)
    api.fail("hang", times=-1, arg=1.0)
    with pytest.raises(E.APIConnectionError, match="timed out"):
        c.usage("2026-05-01", "2026-05-02")
    assert len(waits) == 2


def test_total_retry_time_is_bounded(api):
    c = GenerectClient(TOKEN, api.url, sleep=lambda s: None, max_retry_time=0.0)
    api.fail("500", times=-1)
    with pytest.raises(E.ServerError):
        c.usage("2026-05-01", "2026-05-02")
    assert len(api.requests) == 1


def test_refused_connection_is_api_connection_error():
    c = GenerectClient(TOKEN, "http://127.0.0.1:9", sleep=lambda s: None, max_attempts=2)
    with pytest.raises(E.APIConnectionError) as info:
        c.usage("2026-05-01", "2026-05-02")
    assert info.value.exit_code == 4
    assert not isinstance(info.value, requests.RequestException)


def test_backoff_policy():
    assert should_retry(429, 1, 5) and should_retry(None, 1, 5) and should_retry(503, 4, 5)
    assert (
        not should_retry(500, 5, 5) and not should_retry(401, 1, 5) and not should_retry(400, 1, 5)
    )
    assert retry_delay(1, rng=lambda: 1.0) == 0.5
    assert retry_delay(4, rng=lambda: 1.0) == 4.0
    assert retry_delay(10, rng=lambda: 1.0) == 8.0
    assert retry_delay(1, retry_after=2.5) == 2.5


def test_token_never_in_repr_errors_or_logs(api, client, caplog):
    caplog.set_level(logging.DEBUG)
    assert TOKEN not in repr(client)
    api.fail("echo_token_401")
    with pytest.raises(E.AuthenticationError) as info:
        client.usage("2026-05-01", "2026-05-02")
    api.fail("500", times=2)
    client.usage("2026-05-01", "2026-05-02")
    assert TOKEN not in str(info.value) and "***" in str(info.value)
    assert TOKEN not in caplog.text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(client)


def test_redirect_to_another_host_does_not_carry_the_token(api, client):
    api.fail("redirect", arg="http://127.0.0.2:9/elsewhere/")
    with pytest.raises(E.APIError, match="another host"):
        client.usage("2026-05-01", "2026-05-02")
    assert len(api.requests) == 1
