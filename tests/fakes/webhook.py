"""A researcher's webhook receiver, on a loopback address: it keeps every POST it gets (headers and
body) and answers each with the next status of its script (200 once the script is used up), as a real
receiver that is down for a while would, or sends the caller elsewhere (``redirect_to``), as a
hostile one might. ``verified`` checks a call's signature as docs/notifications.md tells receivers to."""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fakes.listening import Listening


@dataclass
class Call:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def verified(self, secret: str) -> bool:
        """The receiver's check: HMAC-SHA256 of "<X-IRIS-Timestamp>.<body>" under the secret."""
        signed = self.headers["X-IRIS-Timestamp"].encode() + b"." + self.body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers["X-IRIS-Signature"])


@dataclass
class WebhookReceiver(Listening):
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 after the last
    host: str = "127.0.0.1"
    bind_port: int = 0  # 0: any free port
    redirect_to: str = ""  # when set, every call is answered 307 with this Location
    calls: list[Call] = field(default_factory=list)

    def __enter__(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.calls.append(Call(self.path, dict(self.headers), body))
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                else:
                    self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return self.serve(ThreadingHTTPServer((self.host, self.bind_port), Handler))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/iris-hook"

    def wait_for(self, count: int, *, timeout_s: float) -> list[Call]:
        return self.wait_until(self.calls, count, timeout_s=timeout_s)
