"""Emails as their recipients see them: a notification's context (services/notifications/content.message_context)
rendered with the Jinja templates in web/templates/email/ into a subject, a text part, an HTML part and, for
invitations, a text/calendar part; and those parts made into one MIME message.

This runs in the job worker, where there is no Litestar app, so it has its own Jinja environment over the
email templates only, with autoescaping on for .html and the same filters as the pages
(templating.register_environment). Messages carry no images and no tracking; the HTML is one narrow column
that reads on a phone.

MIME: multipart/alternative of text/plain, text/html and (invitations) text/calendar; method=REQUEST|CANCEL,
the structure Outlook expects and Gmail reads. One-click unsubscribe per kind (RFC 8058): List-Unsubscribe
with the opaque https link plus List-Unsubscribe-Post.
"""

from __future__ import annotations

import email.policy
import functools
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from server.jinja_environment import RowsEnvironment
from server.services.invitations import invitation_calendar
from server.services.notifications.delivery import Rendered
from server.settings import Settings
from server.templating import local_text, register_environment

# Long headers stay on one line instead of being RFC 2047-encoded: a List-Unsubscribe URL must stay readable
# to mail providers (998 is SMTP's line limit).
HEADERS_POLICY = email.policy.SMTP.clone(max_line_length=998)
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates" / "email"


@functools.cache
def _environment() -> Environment:
    env = RowsEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      undefined=StrictUndefined, keep_trailing_newline=True)
    register_environment(env)
    return env


def subject(context: dict) -> str:
    kind = context["kind"]
    zone = context["person"]["timezone"]
    session = context.get("session")
    when = local_text(session["starts_at"], zone) if session else ""
    if kind == "assignment":
        return f"You are enrolled in {context['cohort']['program_name']}"
    if kind == "invitation":
        if context["method"] == "CANCEL":
            return f"Cancelled: {session['title']} ({when})"
        return f"{'Updated: ' if context['is_update'] else 'Invitation: '}{session['title']} ({when})"
    if kind == "upcoming":
        return f"Reminder: {session['title']} {'in 1 hour' if context['hours'] == '1h' else 'on ' + when}"
    if kind == "prework_due":
        return f"Prework due {local_text(context['module']['due_at'], zone)}: {context['module']['title']}"
    if kind == "prework_overdue":
        return f"Overdue: {context['module']['title']}"
    if kind == "missed_session":
        return f"You missed {session['title']}: here is what it covered"
    if kind == "manager_digest":
        return "Your reports this week: readiness and overdue modules"
    if kind == "manager_escalation":
        names = ", ".join(b["name"] for b in context["behind"])
        return f"Not ready for {session['title']} ({when}): {names}"
    if kind == "facilitator_soon":
        return (f"Your session starts at {local_text(session['starts_at'], zone)}: "
                f"{context['ready_count']} of {context['learner_count']} learners ready")
    if kind == "daily_digest":
        return f"Cadence: your daily digest ({len(context['entries'])} item{'s' if len(context['entries']) != 1 else ''})"
    raise ValueError(f"no subject for {kind!r}")


def message_id(context: dict, settings: Settings) -> str:
    """Stable per notification, so a message the designer re-sends by hand is one message to mail clients."""
    domain = _sender(settings).domain or "cadence.invalid"
    digest = hashlib.sha256(context["key"].encode()).hexdigest()[:16]
    return f"<cadence-{context['notification_id']}-{digest}@{domain}>"


def render(context: dict, settings: Settings) -> Rendered:
    env = _environment()
    values = {"c": context, "subject": subject(context)}
    text = env.get_template(f"{context['kind']}.txt").render(values)
    html = env.get_template(f"{context['kind']}.html").render(values)
    calendar = invitation_calendar(context).decode() if context["kind"] == "invitation" else ""
    return Rendered(recipient=context["person"]["email"], subject=values["subject"], text=text, html=html,
                    calendar=calendar, message_id=message_id(context, settings))


def _sender(settings: Settings) -> Address:
    name, address = getaddresses([settings.mail_from])[0]
    local, _, domain = address.partition("@")
    return Address(display_name=name, username=local or "cadence", domain=domain or "localhost")


def build_email(rendered: Rendered, context: dict, settings: Settings) -> EmailMessage:
    message = EmailMessage(policy=HEADERS_POLICY)
    message["From"] = _sender(settings)
    message["To"] = Address(display_name=context["person"]["name"], addr_spec=rendered.recipient)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(context["now"])
    message["Message-ID"] = rendered.message_id or make_msgid(domain="cadence.invalid")
    message["Auto-Submitted"] = "auto-generated"
    if context.get("unsubscribe_url"):
        message["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if rendered.calendar:
        method = context["method"]
        message.add_alternative(rendered.calendar, subtype="calendar", params={"method": method})
    return message
