"""The dashboard across accounts: an account picker over "All accounts", the roll-up the
``report`` command writes for the same accounts (the same model, the same files), and each
account's own dashboard. Three local API servers, one token each; one of them refused in the
partial cases. The browser test runs the real ``dashboard --all-accounts`` command in Chromium
and checks it with axe-core."""

from __future__ import annotations

import datetime as dt
import re
import sys
from html import unescape

import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily
from support import run_cli

SECRET = "gk_live_5e4d3c2b1a09f8e7d6c5"

ACCOUNTS = {
    "north": {"search_database": 40.0, "email_find": 2.5},
    "south": {"search_database": 12.0, "enrich_database": 7.25},
    "west": {"preview": 30.0},
}


@pytest.fixture
def trio(tmp_path, monkeypatch):
    """Three accounts with their own servers, tokens and usage; the tokens in the environment."""
    servers = {}
    env = {"GENERECT_REPORTS_CACHE_DIR": str(tmp_path / "cache")}
    lines = []
    for name, ops in ACCOUNTS.items():
        fake = FakeGenerect(
            token=f"{TOKEN}-{name}",
            daily=simple_daily(dt.date(2025, 9, 1), dt.date(2026, 11, 30), ops),
        ).start()
        servers[name] = fake
        env[f"TOKEN_{name.upper()}"] = fake.token
        tag = "inland" if name == "north" else "coast"
        lines.append(
            f'[accounts.{name}]\ntoken_env = "TOKEN_{name.upper()}"\napi_url = "{fake.url}"\n'
            f'label = "{name.title()} Region"\ntags = ["{tag}"]\n'
        )
    config = tmp_path / "accounts.toml"
    config.write_text("\n".join(lines))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GENERECT_API_TIMEOUT", "1")
    monkeypatch.setenv("GENERECT_API_DEADLINE", "2")
    yield servers, env, config
    for fake in servers.values():
        fake.stop()


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _rows(html: str, css: str) -> list[list[str]]:
    table = re.search(rf"<table class='{css}'.*?</table>", html, re.S)
    assert table, css
    return [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), re.S)
    ]


def test_all_accounts_is_the_rollup_the_report_command_writes(trio, tmp_path):
    import openpyxl

    from generect_reports.notebook.rollup import AccountsDashboard, open_accounts_dashboard

    servers, env, config = trio
    out = run_cli(
        "report",
        "--config",
        str(config),
        "--all-accounts",
        "--month",
        "2026-10",
        "--xlsx",
        str(tmp_path / "cli.xlsx"),
        "--pdf",
        str(tmp_path / "cli.pdf"),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    board = open_accounts_dashboard(
        config=str(config), all_accounts=True, month="2026-10", export_dir=str(tmp_path)
    )
    assert isinstance(board, AccountsDashboard)
    assert board.picker.options == (
        ("All accounts", ""),
        ("North Region", "north"),
        ("South Region", "south"),
        ("West Region", "west"),
    )
    assert board.picker.value == "" and board.body.children == (board.views[""],)
    html = board.rollup_view.value
    assert "Generect usage across accounts, October 2026" in _text(html)
    assert "partial" not in html.lower()
    # The accounts ranked as the workbook ranks them, with the figures its cells hold.
    sheet = openpyxl.load_workbook(tmp_path / "cli.xlsx", data_only=True)["Accounts"]
    rows = _rows(html, "generect-rollup-accounts")
    assert rows[0][:5] == ["Account", "Credits", "Change", "Year over year", "Cost"]
    for r, row in zip(range(6, 9), rows[1:4], strict=True):
        label, credits = sheet.cell(r, 2).value, sheet.cell(r, 3).value
        cost = next(
            sheet.cell(r, c).value
            for c in range(1, 14)
            if sheet.cell(5, c).value and "cost" in str(sheet.cell(5, c).value).lower()
        )
        assert row[0] == label and row[1] == f"{credits:,.2f}" and row[4] == f"${cost:,.2f}"
    assert [r[0] for r in rows[1:4]] == ["North Region", "West Region", "South Region"]
    # October: 31 days of each account's daily credits; the total is their sum.
    assert rows[4][:2] == ["Total", f"{31 * 91.75:,.2f}"] == ["Total", "2,844.25"]
    ops = _rows(html, "generect-rollup-operations")
    assert [r[0] for r in ops[1:]] == [
        "search_database",
        "preview",
        "enrich_database",
        "email_find",
        "Total",
    ]
    assert sum(float(r[2].rstrip("%")) for r in ops[1:-1]) == pytest.approx(100.0)
    # The report files of the view are the command's, byte for byte.
    xlsx, pdf = board.write_reports()
    assert xlsx.name == "generect-usage-accounts-2026-10.xlsx"
    assert xlsx.read_bytes() == (tmp_path / "cli.xlsx").read_bytes()
    assert pdf.read_bytes() == (tmp_path / "cli.pdf").read_bytes()
    assert "generect-usage-accounts-2026-10.pdf" in board.report_links.value
    # Picking an account shows that account's own dashboard, built once.
    board.picker.value = "west"
    (west,) = board.body.children
    assert board.dashboards["west"].report.total == 31 * 30.0
    assert "Generect credit usage: West Region" in board.dashboards["west"].header.value
    board.show("")
    board.show("west")
    assert board.body.children == (west,)
    # Every account asked with its own token only.
    for name, fake in servers.items():
        assert {r.authorization for r in fake.requests} == {f"Token {TOKEN}-{name}"}
    board.close()


def test_a_failed_account_makes_the_view_partial_and_names_it(trio, monkeypatch):
    from generect_reports.notebook.rollup import open_accounts_dashboard

    servers, env, config = trio
    monkeypatch.setenv("TOKEN_SOUTH", "wrong-" + SECRET)
    board = open_accounts_dashboard(config=str(config), tags=["coast", "inland"], month="2026-10")
    html = board.rollup_view.value
    text = _text(html)
    assert "Generect usage across accounts, October 2026 (partial: 1 of 3 accounts failed)" in text
    assert "Partial: not included, as they could not be read: south." in text
    assert "2 of 3 accounts (partial)" in text
    rows = _rows(html, "generect-rollup-accounts")
    assert rows[-1][:2] == ["Total (partial)", f"{31 * 72.5:,.2f}"]
    failed = _rows(html, "generect-rollup-failed")
    assert failed[1][0] == "south" and failed[1][2] == "3" and "401" in failed[1][1]
    assert dict(board.picker.options)["South Region (could not be read)"] == "south"
    board.show("south")
    (line,) = board.body.children
    assert _text(line.value).startswith("Account South Region could not be read: ")
    assert "Traceback" not in line.value and SECRET not in html + line.value
    assert board.rollup.complete is False
    board.close()


def test_one_account_is_its_own_dashboard_and_a_shared_link_picks_an_account(trio):
    from generect_reports.notebook.dashboard import Dashboard
    from generect_reports.notebook.rollup import open_accounts_dashboard

    servers, env, config = trio
    one = open_accounts_dashboard(config=str(config), accounts=["west"], month="2026-10")
    assert isinstance(one, Dashboard) and one.report.total == 31 * 30.0
    assert not servers["north"].requests and not servers["south"].requests
    one.close()
    board = open_accounts_dashboard(
        config=str(config),
        all_accounts=True,
        month="2026-10",
        view="account=north&period=week&token=x",
    )
    assert board.picker.value == "north"
    assert board.dashboards["north"].explorer.granularity.value == "week"
    board.close()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--all-accounts", "--sample"], "sample"),
        (["--account", "nowhere"], "unknown account 'nowhere'"),
        (["--tag", "mountain"], "no account is tagged 'mountain'"),
    ],
)
def test_a_bad_selection_is_exit_2_before_any_request(trio, args, needle):
    servers, env, config = trio
    out = run_cli("dashboard", "--config", str(config), "--port", "0", *args, env=env, timeout=60)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and "dashboard on" not in out.stderr
    assert not any(fake.requests for fake in servers.values())


def test_a_missing_token_variable_is_exit_2_naming_it(trio):
    servers, env, config = trio
    env = {k: v for k, v in env.items() if k != "TOKEN_WEST"}
    out = run_cli(
        "dashboard",
        "--config",
        str(config),
        "--all-accounts",
        env={**env, "TOKEN_WEST": ""},
        timeout=60,
    )
    assert out.returncode == 2 and "TOKEN_WEST is not set" in out.stderr
    assert not any(fake.requests for fake in servers.values())


def test_the_served_notebook_names_variables_never_tokens(trio, tmp_path):
    import nbformat

    from generect_reports.notebook.rollup import accounts_notebook

    servers, env, config = trio
    nb = accounts_notebook(config=str(config), tags=["coast"], month="2026-10")
    text = nbformat.writes(nb)
    assert "CONFIG = " in text and "TAGS = ['coast']" in text
    assert not any(fake.token in text for fake in servers.values())


# --- in the browser ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_the_account_picker_in_chromium_with_axe(trio, tmp_path):
    from axecheck import axe_violations, describe
    from playwright.sync_api import sync_playwright
    from test_browser import (
        CHROMIUM,
        CHROMIUM_ARGS,
        DASHBOARD_TOKEN,
        _env,
        _free_port,
        _server,
    )

    servers, env, config = trio
    port = _free_port()
    work = tmp_path / "work"
    work.mkdir()
    run_env = {**_env(tmp_path), **env, "TOKEN_SOUTH": "wrong-" + SECRET}
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--config", str(config)]
    cmd += ["--all-accounts", "--month", "2026-10", "--port", str(port), "--quiet"]
    with (
        _server(cmd, cwd=work, port=port, env=run_env),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"http://127.0.0.1:{port}/?token={DASHBOARD_TOKEN}", timeout=90000)
            page.locator(".generect-rollup-accounts").wait_for(timeout=90000)
            body = page.inner_text("body")
            assert "(partial: 1 of 3 accounts failed)" in body
            assert "Partial: not included, as they could not be read: south." in body
            assert "Total (partial)" in body and f"{31 * 72.5:,.2f}" in body
            assert "USE_LIVE_API" not in body and "import" not in body
            assert SECRET not in page.content()
            picker = page.locator("select[name=account]")
            options = picker.locator("option").all_inner_texts()
            assert options == [
                "All accounts",
                "North Region",
                "South Region (could not be read)",
                "West Region",
            ]
            found = axe_violations(page)
            assert found == [], describe(found)
            # The roll-up's files are the report command's across the same accounts.
            links = page.locator("a.generect-report-file")
            assert links.all_inner_texts() == [
                "generect-usage-accounts-2026-10.xlsx",
                "generect-usage-accounts-2026-10.pdf",
            ]
            # One account: its own key figures, explorer and chart (the picker submits itself).
            with page.expect_navigation():
                picker.select_option("west")
            assert "account=west" in page.url
            page.locator("img.generect-chart").first.wait_for(timeout=60000)
            page.get_by_text("Generect credit usage: West Region").first.wait_for(timeout=30000)
            kpis = page.locator(".generect-kpis").first.inner_text()
            assert "Credits, October 2026" in kpis and "930" in kpis
            found = axe_violations(page)
            assert found == [], describe(found)
            # The failed account: one line, no traceback.
            with page.expect_navigation():
                page.locator("select[name=account]").select_option("south")
            line = page.locator(".generect-failure").first
            line.wait_for(timeout=30000)
            assert line.inner_text().startswith("Account South Region could not be read: ")
            assert "Traceback" not in page.content() and SECRET not in page.content()
            # On a phone: nothing wider than the screen, the picker on it.
            with page.expect_navigation():
                page.locator("select[name=account]").select_option("")
            page.locator(".generect-rollup-accounts").wait_for(timeout=30000)
            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(300)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            box = page.locator("select[name=account]").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390.5
            found = axe_violations(page)
            assert found == [], describe(found)
            assert errors == []
        except BaseException:
            page.screenshot(path=str(tmp_path / "accounts-failure.png"), full_page=True)
            print(f"screenshot of the failure: {tmp_path / 'accounts-failure.png'}")
            raise
        finally:
            browser.close()
