"""A mail server on 127.0.0.1 that accepts every message and keeps it, for tests whose mail is sent by
another process (a celery worker), out of reach of Django's in-process outbox. It speaks just the
plain SMTP a client without TLS or login uses: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

import email
import socketserver
from dataclasses import dataclass, field
from email.message import Message

from tests.fakes.listening import Listening


@dataclass
class FakeSmtp(Listening):
    messages: list[Message] = field(default_factory=list)

    def __enter__(self) -> "FakeSmtp":
        outbox = self.messages

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self):
                self.reply("220 fake ESMTP")
                for raw in self.rfile:
                    verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb == "DATA":
                        self.reply("354 end with a line holding a dot")
                        outbox.append(email.message_from_bytes(self.data()))
                        self.reply("250 kept")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

            def data(self) -> bytes:
                lines = []
                for raw in self.rfile:
                    if raw.rstrip(b"\r\n") == b".":
                        break
                    lines.append(raw[1:] if raw.startswith(b"..") else raw)  # undo dot-stuffing
                return b"".join(lines)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        server.daemon_threads = True
        return self.serve(server)

    def wait_for(self, count: int, *, timeout_s: float) -> list[Message]:
        return self.wait_until(self.messages, count, timeout_s=timeout_s)
