"""The readers of the release check find figures by their labels, whatever the layout, and the
check reports any disagreement (so a passing check is not a vacuous one)."""

from __future__ import annotations

from figures import excel_display, html_table, labelled, text_records, text_table, tiles

ROWS = ["search_database", "unattributed", "Total"]
LABELS = ["Operation", "Credits", "Share", "Change %"]

RIGHT_ALIGNED = """
Operations
  Operation                 Credits    Share   Change %
  search_database             9,811    29.3%      +8.2%
  unattributed                  550     1.7%        n/a
  Total                      33,441   100.0%     +11.9%

  Estimated cost by operation
  Operation                 Credits    Share   Change %
  search_database                 1        2          3
"""

REORDERED = """
Operation            Change %     Share          Credits      Year ago
search_database      +8.2%        29.3%          9,811        6,375
unattributed         n/a          1.7%           550          0

Total                +11.9%       100.0%         33,441       22,878
"""

EXPECTED = {
    "search_database": {"Credits": "9,811", "Share": "29.3%", "Change %": "+8.2%"},
    "unattributed": {"Credits": "550", "Share": "1.7%", "Change %": "n/a"},
    "Total": {"Credits": "33,441", "Share": "100.0%", "Change %": "+11.9%"},
}


def _figures(table: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {
        row: {k: v for k, v in cells.items() if k != "Operation"} for row, cells in table.items()
    }


def test_a_text_table_is_read_by_its_labels_in_any_column_order():
    assert _figures(text_table(RIGHT_ALIGNED, LABELS, ROWS)) == EXPECTED
    assert _figures(text_table(REORDERED, LABELS, ROWS)) == EXPECTED


def test_a_prefix_label_does_not_take_the_longer_labels_column():
    header = "  Operation   Est. cost Cost share Credit share   Change   Change %"
    row = "  preview        $10.79      1.3%        16.1%     +410      +8.2%"
    got = text_table(
        header + "\n" + row, ["Operation", "Cost share", "Change", "Change %"], ["preview"]
    )
    assert got["preview"]["Cost share"] == "1.3%"
    assert got["preview"]["Change"] == "+410" and got["preview"]["Change %"] == "+8.2%"


def test_equal_labels_are_told_apart_by_their_order():
    text = (
        "  Operation     2026-Q3     2026-Q2     change     2025-Q3     change\n"
        "  preview        14,873      14,103      +5.5%      12,423     +19.7%\n"
    )
    got = text_table(text, ["Operation", "change", "change#2"], ["preview"])["preview"]
    assert got["change"] == "+5.5%" and got["change#2"] == "+19.7%"


def test_records_labelled_values_and_tiles():
    text = (
        "   Operation        Reason                  Credits\n"
        "   preview          pending at month end    -60.41\n"
        "   search_database  reversed                -250.95\n"
        "\n"
        "Credits this month:            33,441  (October 2026)\n"
        " Credits so far          Change vs Sep 1-10\n"
        "\n"
        " 10,488                  -0.5%\n"
    )
    records = text_records(text, ["Operation", "Reason", "Credits"])
    assert [(r["Operation"], r["Reason"], r["Credits"]) for r in records] == [
        ("preview", "pending at month end", "-60.41"),
        ("search_database", "reversed", "-250.95"),
    ]
    assert labelled(text, "Credits this month") == "33,441"
    assert tiles(text, ["Credits so far", "Change vs"]) == {
        "Credits so far": "10,488",
        "Change vs Sep 1-10": "-0.5%",
    }


def test_an_html_table_is_read_by_its_header_row():
    html = (
        "<table><tr><td><table>"
        "<tr><th>Operation</th><th>Share</th><th>Credits</th></tr>"
        "<tr><td>search_<wbr>database</td><td>29.3%</td><td>9,811</td></tr>"
        "<tr><td>Total</td><td>100.0%</td><td>33,441</td></tr>"
        "</table></td></tr></table>"
    )
    got = html_table(html, ["Operation", "Credits", "Share"], ROWS)
    assert got["search_database"]["Credits"] == "9,811"
    assert got["Total"]["Share"] == "100.0%"


def test_cells_are_displayed_through_their_number_formats():
    signed = "\\+#,##0;\\-#,##0;0"
    assert excel_display(3567, signed) == "+3,567"
    assert excel_display(-20, signed) == "-20"
    assert excel_display(0, signed) == "0"
    assert excel_display(0.119401486242217, "\\+0.0%;\\-0.0%;0.0%") == "+11.9%"
    assert excel_display(-3.2, '\\$#,##0.00;"-$"#,##0.00') == "-$3.20"
    assert excel_display(81.94, '"+$"#,##0.00;"-$"#,##0.00;\\$0.00') == "+$81.94"
    assert excel_display(33441, "#,##0") == "33,441"
    assert excel_display(20612.75, "#,##0.00") == "20,612.75"
    assert excel_display("n/a", "0.0%") == "n/a"


def test_the_check_names_every_disagreement():
    from test_cross_artefact import _disagreements

    readings = {
        "pdf": {"search_database": "+35.7%", "unattributed": "n/a", "Total": "+33.8%"},
        "workbook": {"search_database": "+33.8%", "unattributed": "-", "Total": ""},
        "email text": {"search_database": "+33.8%", "Total": "+33.8%"},
    }
    assert _disagreements(readings) == [
        "search_database: pdf '+35.7%', workbook '+33.8%', email text '+33.8%'"
    ]
