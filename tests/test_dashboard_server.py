"""The dashboard server as a team leaves it running: the real ``dashboard`` command (one tornado
process), asked with plain HTTP requests, as a browser, another local user or a ``curl`` would.

- Requests without the token printed at start-up get 403 with one line; the token given once in
  the query becomes an HttpOnly, SameSite=Strict cookie and leaves the address.
- The page's figures are the report's; a link reopens its view; Compare refuses a period outside
  the data and "previous period" never overlaps; a start after the end says so and draws nothing.
- The report downloads are the ``report`` command's bytes; the view's exports carry the unit on
  screen, the header in the first row and the partial-period flag.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import psutil
import pytest
from support import run_cli

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, url: str, work: Path) -> None:
        self.proc, self.port, self.url, self.work = proc, port, url, work
        self.token = url.split("token=")[1]
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.jar = jar

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, *, signed_in: bool = True) -> tuple[int, bytes, dict[str, str]]:
        opener = self.opener if signed_in else urllib.request.build_opener()
        try:
            with opener.open(self.base + path, timeout=120) as reply:
                return reply.status, reply.read(), dict(reply.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)


def _text(html: bytes) -> str:
    body = re.sub(rb"<(style|script)>.*?</\1>", b"", html, flags=re.S).decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dashboard-server")
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GENERECT_DASHBOARD_TOKEN"}
    env.update(GENERECT_REPORTS_CACHE_DIR=str(tmp / "cache"), MPLBACKEND="Agg")
    port = _free_port()
    log = tmp / "server.log"
    # The options that meant something to the old per-view kernels are still accepted.
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port), "--idle-timeout", "4", "--max-views", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            found = re.search(r"dashboard on (\S+)", log.read_text())
            if found:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        srv = Server(proc, port, found.group(1), work)
        status, _body, _headers = srv.get(f"/?token={srv.token}")  # signs the opener in
        assert status == 200
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text()


def test_the_printed_url_carries_a_generated_token(server: Server) -> None:
    # --quiet, yet the URL is printed: with a generated token nobody could open the page else.
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:{server.port}/\?token=[A-Za-z0-9_-]{{40,}}", server.url
    )
    assert server.token not in " ".join(psutil.Process(server.proc.pid).cmdline())
    # One process serves every view: no kernel, no child.
    assert psutil.Process(server.proc.pid).children(recursive=True) == []


@pytest.mark.parametrize(
    "path", ["/", "/?token=wrong", "/chart/main.png", "/report.pdf", "/view.csv", "/login"]
)
def test_requests_without_the_token_are_refused(server: Server, path: str) -> None:
    status, body, _ = server.get(path, signed_in=False)
    assert status == 403
    text = _text(body)
    assert "This dashboard needs the token from the URL it printed." in text
    assert "Traceback" not in text and server.token not in body.decode()


def test_the_token_becomes_a_strict_cookie_and_leaves_the_address(server: Server) -> None:
    opener = urllib.request.build_opener(NoRedirect())
    try:
        opener.open(f"{server.base}/?token={server.token}&period=week", timeout=60)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        assert exc.headers["Location"] == "/?period=week"
        cookie = exc.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and server.token not in cookie
    # The Authorization header works too (for scripts).
    request = urllib.request.Request(
        f"{server.base}/view.csv", headers={"Authorization": f"Token {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 200


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def test_the_page_shows_the_reports_figures(server: Server) -> None:
    from generect_reports.fetch.source import open_source
    from generect_reports.reports.assemble import monthly_report

    rep = monthly_report(open_source(sample=True), None)
    status, body, headers = server.get("/")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    text = _text(body)
    assert f"Credits, {rep.month_name} {rep.total:,.0f}" in text
    assert f"Booked cost ${rep.booked.booked_cost:,.2f}" in text
    assert f"list-price value ${rep.estimated_cost:,.2f}" in text  # $816.15, the PDF's
    assert "Plan limit used" in text and "USE_LIVE_API" not in text and "import" not in text
    # The month picker names months in words, and the sample's timezone says why it is fixed.
    assert "<option value='2026-10' selected>October 2026</option>" in body.decode()
    assert "the bundled sample is recorded in that timezone only" in text
    # The totals' shares add up to the total row's 100.0%.
    shares = re.findall(r"(\d+\.\d)%", text.split("Totals by operation")[1].split("Total ")[0])
    assert round(sum(map(float, shares)), 1) == 100.0


def test_a_shared_link_reopens_its_view(server: Server) -> None:
    from generect_reports.fetch.source import open_source
    from generect_reports.notebook.widgets import filter_usage

    days = open_source(sample=True).report_usage("2026-10", 24).daily
    ops = ["search_database", "email_find"]
    view = "from=2026-10-01&to=2026-10-15&period=day&ops=search_database,email_find&tab=drill"
    _, body, _ = server.get("/?" + view)
    page = body.decode()
    text = _text(body)
    want = filter_usage(days, dates=("2026-10-01", "2026-10-15"), operations=ops)
    assert f"Total {want.to_numpy().sum():,.0f} 100.0%" in text
    assert "Chart: Credits by day, 01 Oct 2026 – 15 Oct 2026" in text
    assert "value='2026-10-01'" in page and "value='day' checked" in page
    assert "value='search_database' checked" in page and "value='preview' checked" not in page
    # The page's own link to the view carries the same view (and never the token).
    link = unescape(re.search(r"class='generect-share-link' href='([^']+)'", page).group(1))
    assert "from=2026-10-01" in link and "ops=search_database,email_find" in link
    assert "token" not in link
    _, again, _ = server.get(link.removeprefix("."))
    assert _text(again) == text
    # A value that does not fit the data is named, never an error.
    _, odd, _ = server.get("/?period=fortnight&ops=nothing")
    assert "Not applied from the link (they do not fit this data): period, ops." in _text(odd)


def test_compare_refuses_a_period_outside_the_data_and_never_overlaps(server: Server) -> None:
    # The explorer's days start on 03 Sep 2026: the year before is outside them.
    _, body, _ = server.get("/?from=2026-10-01&to=2026-10-31&compare=yoy")
    text = _text(body)
    assert "Period A (01 Oct 2025 – 31 Oct 2025) precedes the data" in text
    assert "no comparison" in text and "A: 01 Oct 2025" not in text
    # Previous period: the same length just before, never overlapping, with a chart.
    _, body, _ = server.get("/?from=2026-10-16&to=2026-10-31&compare=previous")
    page, text = body.decode(), _text(body)
    assert "A: 30 Sep 2026 – 15 Oct 2026" in text and "B: 16 Oct 2026 – 31 Oct 2026" in text
    assert "overlap" not in text
    src = unescape(re.search(r"class='generect-compare-chart' src='([^']+)'", page).group(1))
    status, png, headers = server.get("/" + src)
    assert status == 200 and png[:4] == b"\x89PNG" and headers["Content-Type"] == "image/png"
    alt = re.search(r"class='generect-compare-chart'[^>]* alt='([^']+)'", page).group(1)
    assert unescape(alt).startswith("Chart: period A (30 Sep 2026 – 15 Oct 2026) against")


def test_a_start_after_the_end_draws_nothing_and_says_why(server: Server) -> None:
    _, body, _ = server.get("/?from=2026-10-20&to=2026-10-10")
    text = _text(body)
    assert "Pick a start date on or before the end date" in text
    assert "<img" not in body.decode() and "Totals by operation" not in text


def test_a_month_without_data_is_one_line_in_the_page(server: Server) -> None:
    status, body, _ = server.get("/?month=2019-01")
    text = _text(body)
    assert status == 200 and body.decode().count("class='generect-failure'") == 1
    assert "The dashboard cannot open: " in text and "Traceback" not in text


def test_report_downloads_are_the_report_commands_bytes(server: Server, tmp_path: Path) -> None:
    done = run_cli("report", "--sample", "--month", "2026-10", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for ext in ("xlsx", "pdf"):
        status, data, headers = server.get(f"/report.{ext}?month=2026-10")
        name = f"generect-usage-2026-10.{ext}"
        assert status == 200 and f'filename="{name}"' in headers["Content-Disposition"]
        assert data == (tmp_path / name).read_bytes(), name
        assert (server.work / name).read_bytes() == data  # saved in the export folder too


def test_view_exports_are_what_is_on_screen(server: Server) -> None:
    from pypdf import PdfReader

    view = "?from=2026-09-20&to=2026-10-31&period=month&unit=usd"
    _, body, _ = server.get("/" + view)
    text = _text(body)
    status, data, _ = server.get("/view.csv" + view)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0]) == [
        "period_start",
        "period",
        "partial",
        "operation",
        "credits",
        "estimated_usd",
    ]
    assert {r["period"]: r["partial"] for r in rows} == {"2026-09": "True", "2026-10": "False"}
    cents = sum(round(float(r["estimated_usd"]) * 100) for r in rows)
    assert f"Total ${cents / 100:,.2f} 100.0%" in text  # the dollars on screen
    status, data, _ = server.get("/view.xlsx" + view)
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]][:2] == ["period_start", "period"]
    status, data, headers = server.get("/view.pdf" + view)
    assert status == 200 and data[:5] == b"%PDF-"
    pdf_text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert "Estimated USD by month, 20 Sep 2026 – 31 Oct 2026" in pdf_text
    assert f"${cents / 100:,.2f}" in pdf_text and "100.0%" in pdf_text
    name = "generect-usage-2026-09-20-to-2026-10-31-by-month-usd"
    assert {p.name for p in server.work.iterdir()} >= {f"{name}.{e}" for e in ("csv", "pdf")}


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_the_customers_tab_is_the_reports_split_by_customer(server: Server, tmp_path: Path) -> None:
    import openpyxl

    from generect_reports.fetch.source import open_source
    from generect_reports.reports.assemble import monthly_report

    rep = monthly_report(open_source(sample=True), "2026-10")
    alloc = rep.sections.allocation
    f = rep.formats
    view = "?month=2026-10&tab=customers&period=week"
    status, body, _ = server.get("/" + view)
    assert status == 200
    html = body.decode()
    text = _text(body)
    # The tab is a link of its own, marked current; the explorer's chart is not on this view.
    assert re.search(r"<a class='generect-tab' href='[^']*tab=customers[^']*' aria-current", html)
    assert "generect-explorer" not in html and "period=week" in html
    # The money is the chargeback command's booked cost, labelled as its table labels it.
    done = run_cli("chargeback", "--sample", "--month", "2026-10", "--format", "csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    booked: dict[str, int] = {}
    for r in csv.DictReader(io.StringIO(done.stdout)):
        booked[r["customer"]] = booked.get(r["customer"], 0) + round(float(r["booked_cost"]) * 100)
    table = text.split("Credits by customer, October 2026")[1]
    assert table.startswith(" Customer Credits Share booked USD ")
    for r in alloc.customers.itertuples():
        line = (
            f"{r.customer} {f.exact_credits(r.credits)} {f.share(r.share_display)} "
            f"{booked.get(str(r.customer), 0) / 100:,.2f}"
        )
        assert line in table, line
    assert "unallocated, under review" in table
    shares = re.findall(r" (\d+\.\d)% ", table.split(" Total ")[0])
    assert len(shares) == len(alloc.customers) and round(sum(map(float, shares)), 1) == 100.0
    total_cents = round(rep.booked.booked_cost * 100)
    assert f"Total {f.exact_credits(rep.total)} 100.0% {total_cents / 100:,.2f}" in table
    # The file: the header in row 1 with the flag, credits and money, the total the report's.
    status, data, headers = server.get("/customers.csv" + view)
    assert (
        status == 200
        and 'filename="generect-customers-2026-10.csv"' in headers["Content-Disposition"]
    )
    rows = _rows(data)
    assert list(rows[0]) == [
        "month",
        "customer",
        "kind",
        "credits",
        "share_percent",
        "booked_usd",
        "partial_period",
    ]
    assert {r["partial_period"] for r in rows} == {"false"}  # October is over
    body_rows, total = rows[:-1], rows[-1]
    assert total["customer"] == "Total" and total["credits"] == f"{rep.total:.2f}"
    assert sum(round(float(r["credits"]) * 100) for r in body_rows) == round(rep.total * 100)
    assert sum(round(float(r["booked_usd"]) * 100) for r in body_rows) == total_cents
    assert round(sum(float(r["share_percent"]) for r in body_rows), 1) == 100.0
    assert (server.work / "generect-customers-2026-10.csv").read_bytes() == data
    status, data, _ = server.get("/customers.xlsx" + view)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == list(rows[0])
    assert [c.value for c in sheet[2]][:4] == ["2026-10", "acme-corp", "customer", 20612.75]
    assert sheet.cell(row=sheet.max_row, column=6).value == total_cents / 100
    assert (server.work / "generect-customers-2026-10.xlsx").is_file()


def test_the_reconciliation_tab_is_the_reports_tie_out(server: Server) -> None:
    import openpyxl

    from generect_reports.fetch.source import open_source
    from generect_reports.render.reconcile import _num, reconciliation_summary
    from generect_reports.reports.assemble import monthly_report

    rep = monthly_report(open_source(sample=True), "2026-10")
    r = rep.sections.reconciliation
    f = rep.formats
    view = "?month=2026-10&tab=reconciliation"
    status, body, _ = server.get("/" + view)
    text = _text(body)
    assert status == 200 and "Reconciliation, October 2026" in text
    money = r.money
    for line in (
        f"Opening balance {_num(r.opening, f)} {money.opening_cents / 100:,.2f}",
        f"+ Top-ups {_num(r.top_ups, f)} {money.purchases_cents / 100:,.2f}",
        f"− Settled charges {_num(r.charges, f)} {money.consumed_cents / 100:,.2f}",
        f"= Closing balance {_num(r.closing, f)} {money.closing_cents / 100:,.2f}",
        f"Usage {_num(r.usage, f)}",
        f"Difference (settled charges − usage) {_num(r.difference, f, sign=True)}",
        f"Reversed (ledger status error) {_num(r.reversed, f)}",
        reconciliation_summary(r, numbers=f)[0],
    ):
        assert line in text, line
    assert len(r.reasons) and text.count("reserved, not yet settled") == int(
        (r.reasons["detail"] == "reserved, not yet settled").sum()
    )
    status, data, _ = server.get("/reconciliation.csv" + view)
    assert (server.work / "generect-reconciliation-2026-10.csv").read_bytes() == data
    rows = _rows(data)
    assert list(rows[0]) == [
        "month",
        "section",
        "line",
        "operation",
        "credits",
        "booked_usd",
        "detail",
        "partial_period",
    ]
    tie = {x["line"]: x for x in rows if x["section"] == "tie-out"}
    assert tie["opening balance"]["credits"] == f"{r.opening:.2f}"
    assert tie["closing balance"]["booked_usd"] == f"{money.closing_cents / 100:.2f}"
    # The reasons explain the difference to the hundredth.
    reasons = [x for x in rows if x["section"] == "difference"]
    assert len(reasons) == len(r.reasons)
    assert sum(round(float(x["credits"]) * 100) for x in reasons) == round(r.difference * 100)
    assert {x["partial_period"] for x in rows} == {"false"}
    status, data, _ = server.get("/reconciliation.xlsx" + view)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == list(rows[0])
    assert server.get("/reconciliation.pdf" + view)[0] == 404
