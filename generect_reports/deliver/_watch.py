"""A wall-clock deadline for a conversation over sockets (an SMTP session, a webhook post).

Socket timeouts apply to each read, so a server that sends a byte a second (a trickled SMTP
banner, slow HTTP headers, a reply after DATA that never ends) holds a socket timeout off for
ever. A :class:`SocketWatch` keeps its own copy of every socket the conversation opens and, once
the deadline passes, shuts them down from a timer thread: the blocked read returns at once and
the conversation fails as timed out. Shutting down a copy stops the socket for every holder,
also after TLS has wrapped the original object.

A signal (Ctrl-C, SIGTERM, SIGHUP) raised while a read is blocked ends the read at once; the
caller then closes its socket with :meth:`SocketWatch.abort`, without the polite goodbye (SMTP
``QUIT``) that would wait on the same slow server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

__all__ = ["SocketWatch"]


class SocketWatch:
    """Shut down every registered socket when ``seconds`` of wall clock have passed.

    Use as a context manager: the timer starts on entry and stops on exit, which also closes
    the watch's copies (never the caller's sockets).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._copies: list[socket.socket] = []
        self._timer: threading.Timer | None = None

    def left(self) -> float:
        """Seconds left before the deadline (never below a millisecond, for socket timeouts)."""
        return max(0.001, self.deadline - time.monotonic())

    def add(self, sock: socket.socket) -> None:
        """Watch ``sock`` (a duplicate is kept, so wrapping or closing the original is fine)."""
        try:
            copy = sock.dup()
        except OSError:
            return
        with self._lock:
            if self.expired:
                self._shut(copy)
            self._copies.append(copy)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for copy in self._copies:
                self._shut(copy)

    def abort(self) -> None:
        """Cut every watched connection now (on a signal): no goodbye, no waiting."""
        with self._lock:
            for copy in self._copies:
                self._shut(copy)

    def __enter__(self) -> SocketWatch:
        self.deadline = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            copies, self._copies = self._copies, []
        for copy in copies:
            with contextlib.suppress(OSError):
                copy.close()
