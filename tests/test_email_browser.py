"""The email as a phone and a desktop show it: the HTML part rendered by real headless Chromium
(Debian's /usr/bin/chromium driven by Playwright) at 390 px and 900 px.

The inline chart is made reachable by replacing its ``cid:`` reference with a ``data:`` URI, as a
mail client resolves it. Screenshots are saved in the test's tmp folder and named on failure.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

import generect_reports as g
from generect_reports.render.email import message as mail

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CASES = {
    "2026-10": dict(month="2026-10"),
    "2026-03": dict(month="2026-03"),
    "running-2026-10": dict(month="2026-10", as_of="2026-10-11 09:30"),
}


pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module", params=sorted(CASES))
def message(request):
    kw = dict(CASES[request.param])
    rep = g.build_report(g.load_sample(), kw.pop("month"), **kw)
    return request.param, rep, mail.build_message(rep, to=["a@example.com"], sender="r@example.com")


def html_with_inline_image(msg) -> str:
    html = msg.get_body(("html",)).get_content()
    (image,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    cid = image["Content-ID"].strip("<>")
    assert f"cid:{cid}" in html
    data = base64.b64encode(image.get_content()).decode()
    return html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")


@pytest.mark.parametrize("width", [390, 900])
def test_fits_the_screen_and_is_not_blank(browser, message, width, tmp_path):
    name, _, msg = message
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.set_content(html_with_inline_image(msg), wait_until="load")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        loaded = page.evaluate(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
        image_width = page.evaluate("document.images[0].getBoundingClientRect().width")
        shot = tmp_path / f"email-{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    problems = []
    if scroll > width:
        problems.append(f"scrollWidth {scroll} > viewport {width}")
    if not loaded:
        problems.append("the chart did not load")
    if image_width > width:
        problems.append(f"chart {image_width} px wide in a {width} px viewport")
    if colours is not None and len(colours) < 50:
        problems.append(f"screenshot is nearly blank ({len(colours)} colours)")
    if problems:
        print(f"screenshot: {shot}")
        pytest.fail("; ".join(problems) + f"\nscreenshot left at {shot}")
    assert scroll <= width and loaded


def test_html_is_built_for_mail_clients(message):
    _, _, msg = message
    html = msg.get_body(("html",)).get_content()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<style" not in html  # Gmail and Outlook drop style blocks: inline styles only
    img = re.search(r"<img [^>]*>", html).group(0)
    assert "max-width:640px" in img and "width:100%" in img and "height:auto" in img
    # Borders sit on cells: Gmail and Outlook ignore them on rows.
    assert not re.search(r"<tr[^>]*border", html)
    assert "border-bottom:1px solid" in html


def test_chart_is_drawn_at_twice_its_layout_width(message):
    _, _, msg = message
    html = msg.get_body(("html",)).get_content()
    (image,) = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    width_attr = int(re.search(r'<img [^>]*width="(\d+)"', html).group(1))
    pixels = Image.open(io.BytesIO(image.get_content())).size[0]
    assert pixels == pytest.approx(2 * width_attr, abs=2)


def test_both_parts_tell_the_same_story(message):
    _, rep, msg = message
    from generect_reports.reports import presentation as P

    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    html_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html.replace("<wbr>", ""))).replace(
        "&#39;", "'"
    )
    plain = re.sub(r"\s+", " ", text)
    for line in [*rep.narrative, *P.driver_lines(rep), *P.anomaly_lines(rep)]:
        flat = re.sub(r"\s+", " ", line)
        assert flat in plain, line
        assert flat in html_text, line
    for note in rep.notes:  # each note once per part
        assert plain.count(note) == 1 and html_text.count(note) == 1, note
    f = rep.formats
    assert f.credits(rep.total) in msg["Subject"] and f.signed_pct(rep.change_pct) in msg["Subject"]
    assert f"{rep.total:,.2f}" not in msg["Subject"] + plain  # whole credits: no false decimals


def test_the_first_phone_screen_has_the_exceptions_and_the_figures(browser, tmp_path):
    """At 390 px wide the exceptions and the KPI block start within the first 844 px (one
    phone screen), and the preheader is in the message but not on it."""
    from generect_reports.fetch.source import open_source
    from generect_reports.reports import assemble

    rep = assemble.monthly_report(open_source(sample=True), "2026-10")
    msg = mail.build_message(rep, to=["a@example.com"], sender="r@example.com")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.set_content(html_with_inline_image(msg), wait_until="load")
        top = page.evaluate("document.getElementById('kpis').getBoundingClientRect().top")
        block = page.evaluate("document.getElementById('exceptions').getBoundingClientRect()")
        shown = page.evaluate("document.body.innerText")
        shot = tmp_path / "email-first-screen.png"
        page.screenshot(path=str(shot))
    finally:
        page.close()
    assert block["top"] < top < 844 - 60, f"KPIs start at {top:.0f} px; see {shot}"
    assert "Over the plan limit" in shown and "Credits this month" in shown
    assert "no exceptions need action" not in shown and "need action." not in shown
