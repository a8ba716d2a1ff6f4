"""axe-core (Deque's accessibility engine, vendored in ``tests/data/axe-core``) run in a Playwright
page: the violations of impact "serious" or "critical", in a form an assertion can print."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "data" / "axe-core" / "axe.min.js"
#: The vendored file's SHA-256 (see tests/data/axe-core/README.md): a changed file fails loudly.
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
#: The impacts a page must not have.
BLOCKING = ("serious", "critical")


def axe_violations(
    page: Any, *, include: str | None = None, exclude: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run axe on ``page`` (only inside the CSS selector ``include`` when given, minus
    ``exclude``) against WCAG 2.x A/AA and best practices; the serious and critical violations,
    each ``{"id", "impact", "help", "nodes": [target and failure summary, ...]}``."""
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256, "axe.min.js changed"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    context: dict[str, Any] = {}
    if include:
        context["include"] = [include]
    if exclude:
        context["exclude"] = [[s] for s in exclude]
    result = page.evaluate(
        """async ([context, hasContext]) => {
             const options = {resultTypes: ['violations'],
                              runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                              'wcag21aa', 'wcag22aa',
                                                              'best-practice']}};
             const r = hasContext ? await axe.run(context, options)
                                  : await axe.run(document, options);
             return r.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || ''))}));
           }""",
        [context, bool(context)],
    )
    return [v for v in result if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as lines for an assertion message."""
    lines = []
    for v in violations:
        lines.append(f"{v['impact']} {v['id']}: {v['help']}")
        lines += [f"    {node}" for node in v["nodes"][:6]]
    return "\n".join(lines)
