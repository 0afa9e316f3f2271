"""Serving the console with uvicorn, as `masp web` does."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pipeline.app import App
from pipeline.web.app import create_app


class Server(uvicorn.Server):
    """Uvicorn, stopping on SIGTERM or SIGINT with exit status 0 as `masp run` does (uvicorn
    itself raises the signal again once stopped, which would end the process as killed)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(app: App, host: str, port: int) -> None:
    """Serve until stopped. The reverse proxy on this machine passes the client's address in
    X-Forwarded-For, which the sign-in throttle counts: uvicorn trusts it from 127.0.0.1 only.

    One process (no `workers`): actions take turns under a lock in this process
    (Visit.exclusive), each process would open its own App and document reader (memory), and
    SQLite takes one writer at a time. The access log stays on: it is the only line per
    request, and turning it off saved no measurable processor time (issue 15). Uvicorn's
    h11 parser, not httptools: a request's parsing is a small part of its ~1 ms floor, not
    worth another compiled dependency. No gzip: pages are ~30-60 KB on a local network, and
    compressing pages that hold the CSRF token next to text a person typed invites BREACH."""
    config = uvicorn.Config(
        create_app(app),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_level="info",
    )
    Server(config).run()
