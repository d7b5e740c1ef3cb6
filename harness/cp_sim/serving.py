"""An ASGI app served by uvicorn on a free port, in a thread of the harness.

Both simulators (the platform, the scripted model) serve this way: the socket is
bound before the server starts, so its port is known at once, and ``start``
returns only once connections are accepted.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Self

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 10.0


class ThreadedServer:
    """Serves an ASGI app on ``host`` and a free port until :meth:`stop`.

    Args:
        app: What to serve.
        host: The address to bind: 127.0.0.1, or a container network's gateway.
        name: Names the thread and the error when it does not start.
    """

    def __init__(self, app: ASGIApp, host: str, name: str) -> None:
        self.name = name
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    @property
    def host(self) -> str:
        """The bound address."""
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL as the harness reaches it."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the {self.name} did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
