"""What the tests' local servers share: each serves on its own thread while its ``with`` block runs,
and a test waits for what it received."""

import socketserver
import threading
import time


class Listening:
    """Subclasses build their server in __enter__ and hand it to ``serve``."""

    def serve(self, server: socketserver.BaseServer):
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @staticmethod
    def wait_until(received: list, count: int, *, timeout_s: float) -> list:
        """What was received once there are ``count`` of them (fewer when the time is up)."""
        deadline = time.monotonic() + timeout_s
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(received)
