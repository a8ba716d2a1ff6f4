"""Voilà as the ``dashboard`` command runs it: a token on every request, kernels that end.

Run as ``python -m generect_reports.notebook.voila_app NOTEBOOK [voila options]`` by
:func:`~generect_reports.notebook.serve.serve_dashboard`. Three changes to plain Voilà:

- **The token.** :data:`TOKEN_ENV` names the environment variable holding the token (read once,
  then removed, so the kernels never inherit it; never on the command line, where ``ps`` shows
  it to other users). Any request without it, in the URL, the ``Authorization`` header or the
  cookie set by the first good request, gets 403: there is no login page to guess at.
- **Leaving the page ends its kernel.** The page's ``beforeunload`` beacon posts to
  ``/voila/api/shutdown/<kernel>`` with the ``_xsrf`` value it reads from the cookie; plain Voilà
  never sets that cookie, so the post was refused (403) and the kernel lived on. The page
  request now sets it (:func:`set_xsrf_cookie`).
- **A bound on kernels.** :class:`BoundedKernelManager` refuses a new view (503, one line) while
  ``max_kernels`` are running; kernels without a page connected (a ``curl``, a tab that crashed)
  are culled after the idle timeout the command sets.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from .serve import TOKEN_ENV

__all__ = ["TokenIdentityProvider", "BoundedKernelManager", "set_xsrf_cookie", "main"]


class TokenIdentityProvider(PasswordIdentityProvider):
    """Jupyter's token check without its login page: no token, no page (403)."""

    def get_handlers(self) -> list[Any]:
        return []  # no /login form and no /logout

    async def get_user(self, handler: web.RequestHandler) -> Any:
        user = await self._get_user(handler)
        if user is None:
            # Every handler asks here first (pages, kernels, websockets, files): refuse them all
            # alike instead of redirecting a page to a login form.
            raise web.HTTPError(403, "this dashboard needs the token from the URL it printed")
        return user


class BoundedKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with a ceiling on running kernels (one per open view)."""

    max_kernels = Integer(
        8, config=True, help="Most kernels (open views) at once; one more view gets 503."
    )

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if kwargs.get("kernel_id") is None and len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(
                503,
                reason=(
                    f"The dashboard is open in {self.max_kernels} views already: "
                    "close one, or try again in a minute"
                ),
            )
        return str(await super().start_kernel(*args, **kwargs))


def set_xsrf_cookie(handler: Any, notebook: Any = None, cwd: Any = None) -> None:
    """Voilà's pre-launch hook: read the handler's XSRF token, which sets the ``_xsrf`` cookie
    on the page's response (the shutdown beacon sends it back). The notebook is unchanged."""
    handler.xsrf_token  # noqa: B018  (tornado sets the cookie on first access)


def main(argv: list[str] | None = None) -> None:
    """Start Voilà with the token from :data:`TOKEN_ENV` and the classes above."""
    from traitlets.config import Config
    from voila.app import Voila

    token = os.environ.pop(TOKEN_ENV, "")
    if not token:
        sys.exit(f"{TOKEN_ENV} is not set: start the dashboard with 'generect-reports dashboard'")
    config = Config()
    config.Voila.token = token
    config.Voila.identity_provider_class = TokenIdentityProvider
    config.VoilaConfiguration.multi_kernel_manager_class = BoundedKernelManager
    config.VoilaConfiguration.prelaunch_hook = set_xsrf_cookie
    Voila.launch_instance(argv=sys.argv[1:] if argv is None else argv, config=config)


if __name__ == "__main__":
    main()
