"""A real SMTP server for the email tests (aiosmtpd on 127.0.0.1, a free port), the messages it accepted,
and running the email job the way the worker does, with a pinned clock.

    with smtp_server() as smtp:
        settings = mail_settings(smtp.url)
        await notify(now, settings, worker="test")
        assert smtp.messages[0]["Subject"] == ...
"""

from __future__ import annotations

import email
import email.policy
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from server.settings import Settings


@dataclass
class Inbox:
    """What the test SMTP server accepted, as parsed messages; `refuse` makes it answer a code instead."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # as received, for header checks
    refuse: str | None = None  # e.g. "451 4.3.0 try later" or "550 5.1.1 no such user"
    url: str = ""

    async def handle_DATA(self, server: SMTP, session, envelope) -> str:
        if self.refuse:
            return self.refuse
        self.raw.append(envelope.original_content or envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield inbox
    finally:
        controller.stop()


def mail_settings(smtp_url: str = "") -> Settings:
    """The environment's settings with this SMTP server (none: the outbox) and a fixed base URL."""
    from dataclasses import replace

    return replace(Settings.from_env(), smtp_url=smtp_url, base_url="https://cadence.example.org",
                   mail_from="Cadence <cadence@example.org>")


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    """The message's parts by content type (text/plain, text/html, text/calendar)."""
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
