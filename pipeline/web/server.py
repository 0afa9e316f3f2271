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
    X-Forwarded-For, which the sign-in throttle counts: uvicorn trusts it from 127.0.0.1 only."""
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
