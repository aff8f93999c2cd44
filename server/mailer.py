"""SMTP delivery from the worker (stdlib smtplib): CADENCE_SMTP_URL names the server.

    smtp://[USER:PASSWORD@]HOST[:PORT]      port 25 by default (587 for submission); STARTTLS when the server
                                            offers it, required with ?starttls=required
    smtps://[USER:PASSWORD@]HOST[:PORT]     TLS from the first byte, port 465 by default

A refusal with a 5xx code is permanent (DeliveryFailed(permanent=True)): retrying cannot help. Anything else
(connection refused, timeouts, 4xx) is temporary, and services/notifications/delivery.py retries it with backoff.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import anyio

from server.services.notifications import delivery, due
from server.services.notifications.delivery import DeliveryFailed, SendReport
from server.services.notifications.due import Scheduled
from server.settings import Settings

TIMEOUT = 20  # seconds per SMTP conversation step
# A message claimed longer ago than this and still `sending` was left by a worker that died: every SMTP step
# times out well before it, so a live worker is never taken for a dead one.
INTERRUPTED_AFTER = timedelta(seconds=TIMEOUT * 6)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # smtps: TLS from the start
    starttls: str  # "auto" (when offered) or "required"
    username: str = ""
    password: str = ""

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        return cls(host=parts.hostname or "localhost", port=parts.port or (465 if tls else 25), tls=tls,
                   starttls=(query.get("starttls") or ["auto"])[0],
                   username=unquote(parts.username or ""), password=unquote(parts.password or ""))

    def send(self, message: EmailMessage) -> None:
        """Deliver one message; DeliveryFailed says why not."""
        context = ssl.create_default_context()
        try:
            if self.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            with client:
                client.ehlo()
                if not self.tls:
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif self.starttls == "required":
                        raise DeliveryFailed(f"{self.host} does not offer STARTTLS", permanent=True)
                if self.username:
                    client.login(self.username, self.password)
                refused = client.send_message(message)
            if refused:
                raise DeliveryFailed("refused recipients: " + ", ".join(sorted(refused)), permanent=True)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            raise DeliveryFailed(f"recipient refused: {_words(error.recipients)}",
                                 permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryFailed(f"authentication failed ({error.smtp_code})", permanent=True) from None
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
            raise DeliveryFailed(f"{error.smtp_code} {text}", permanent=error.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"{self.host}:{self.port}: {error or type(error).__name__}") from None


def _words(recipients: dict) -> str:
    return "; ".join(f"{who} ({code} {text.decode(errors='replace') if isinstance(text, bytes) else text})"
                     for who, (code, text) in sorted(recipients.items()))


async def notify(now: datetime, settings: Settings, *, worker: str) -> tuple[Scheduled, SendReport, list[int]]:
    """One pass of the email job (every minute in the worker; `cadence notify` by hand): schedule what is
    due, report what a dead worker left mid-send, send what is due. With no CADENCE_SMTP_URL, messages are
    rendered into the outbox instead of sent."""
    from server import mail

    scheduled = await due.schedule(now)
    interrupted = await delivery.report_interrupted(now, INTERRUPTED_AFTER)
    server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url else None

    async def deliver(rendered: delivery.Rendered, context: dict) -> None:
        message = mail.build_email(rendered, context, settings)
        await anyio.to_thread.run_sync(server.send, message)

    report = await delivery.send_due(now, settings, worker=worker,
                                     render=lambda context: mail.render(context, settings),
                                     deliver=deliver if server else None)
    return scheduled, report, interrupted
