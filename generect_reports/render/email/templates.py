"""The email templates' environment: sandboxed, and confined to its template folders.

A template folder is meant to be copied and edited (``--template DIR``), so its templates are
not trusted code: they render in Jinja2's immutable sandbox (no attributes that start with an
underscore, no mutation of what they are given), and a template, or anything it includes, whose
real path leaves its folder (a symlink to ``/etc/passwd``) is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["template_environment"]


def _loader(folders: Sequence[str]) -> Any:
    from jinja2 import FileSystemLoader, TemplateNotFound

    class ConfinedLoader(FileSystemLoader):
        """A file loader that refuses a template whose real path is outside every folder."""

        def get_source(
            self, environment: Any, template: str
        ) -> tuple[str, str, Callable[[], bool]]:
            source, filename, uptodate = super().get_source(environment, template)
            real = os.path.realpath(filename)
            roots = [os.path.realpath(folder) for folder in self.searchpath]
            if not any(os.path.commonpath([real, root]) == root for root in roots):
                # Said as not found, so the message names the template and not the target.
                raise TemplateNotFound(f"{template} (it leads outside the template folder)")
            return source, filename, uptodate

    return ConfinedLoader(list(folders))


def template_environment(
    folders: Sequence[str], *, finalize: Callable[[Any], Any], strict: bool = True
) -> Any:
    """A sandboxed Jinja2 environment over ``folders`` (searched in order), HTML autoescaped."""
    from jinja2 import StrictUndefined, Undefined, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=_loader(folders),
        autoescape=select_autoescape(["html", "html.j2"], default=False),
        undefined=StrictUndefined if strict else Undefined,
        keep_trailing_newline=True,
        finalize=finalize,
    )
