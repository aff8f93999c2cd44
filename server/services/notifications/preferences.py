"""Each person's choice per kind of email (immediately, in a daily digest, or off), and the opaque
unsubscribe tokens that turn one kind off in one click (RFC 8058)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from models.tables import (
    Cohort,
    Membership,
    NotificationPreference,
    UnsubscribeToken,
)
from server.db import write_transaction
from server.errors import UserError
from server.services.notifications.kinds import KIND, KINDS, Mode, program_defaults


async def preferences(person_id: int) -> list[dict]:
    """Each kind with the person's mode (their own choice, else the default of their first program, else
    Cadence's) and whether it is their own choice."""
    rows = await NotificationPreference.select(NotificationPreference.kind, NotificationPreference.mode).where(
        NotificationPreference.person == person_id)
    chosen = {r["kind"]: r["mode"] for r in rows}
    program = await Membership.select(Membership.cohort.program.notification_defaults.as_alias("defaults")).where(
        Membership.person == person_id).order_by(Membership.id).first()
    defaults = program_defaults(program["defaults"]) if program else {}
    return [{"kind": k.name, "label": k.label, "modes": k.modes,
             "mode": chosen.get(k.name) if chosen.get(k.name) in k.modes else defaults.get(k.name, k.default),
             "own": k.name in chosen} for k in KINDS]


async def set_preferences(person_id: int, modes: dict[str, str], *, now: datetime) -> None:
    """Store the person's modes (only known kinds and their modes; a UserError otherwise)."""
    for kind, mode in modes.items():
        if kind not in KIND:
            raise UserError(f"unknown kind of email {kind!r}")
        if mode not in KIND[kind].modes:
            raise UserError(f"{KIND[kind].label}: choose one of {', '.join(KIND[kind].modes)}")
    async with write_transaction():
        for kind, mode in modes.items():
            await _set_mode(person_id, kind, mode, now)


async def _set_mode(person_id: int, kind: str, mode: str, now: datetime) -> None:
    await NotificationPreference.insert(
        NotificationPreference(person=person_id, kind=kind, mode=mode, updated_at=now)
    ).on_conflict(target=(NotificationPreference.person, NotificationPreference.kind), action="DO UPDATE",
                  values=[NotificationPreference.mode, NotificationPreference.updated_at])


async def mode_now(person: int, kind: str, cohort: int | None) -> str:
    """The mode in force for this kind now: the person's choice, else the cohort's program default, else
    Cadence's."""
    chosen = await NotificationPreference.select(NotificationPreference.mode).where(
        (NotificationPreference.person == person) & (NotificationPreference.kind == kind)).first()
    if chosen and chosen["mode"] in KIND[kind].modes:
        return chosen["mode"]
    if cohort is not None:
        program = await Cohort.select(Cohort.program.notification_defaults.as_alias("defaults")).where(
            Cohort.id == cohort).first()
        if program:
            default = program_defaults(program["defaults"]).get(kind)
            if default:
                return default
    return KIND[kind].default


def _token(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), f"unsubscribe:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def unsubscribe_token(person_id: int, kind: str, secret_key: str, *, now: datetime) -> str:
    """The person's opaque unsubscribe token for this kind (made once, the same in every message)."""
    row = await UnsubscribeToken.select(UnsubscribeToken.nonce).where(
        (UnsubscribeToken.person == person_id) & (UnsubscribeToken.kind == kind)).first()
    if row is None:
        nonce = secrets.token_hex(16)
        await UnsubscribeToken.insert(UnsubscribeToken(person=person_id, kind=kind, nonce=nonce,
                                                       token_hash=_hash(_token(secret_key, nonce)),
                                                       created_at=now)).on_conflict(action="DO NOTHING")
        row = await UnsubscribeToken.select(UnsubscribeToken.nonce).where(
            (UnsubscribeToken.person == person_id) & (UnsubscribeToken.kind == kind)).first()
    return _token(secret_key, row["nonce"])


async def unsubscribe_target(token: str) -> dict | None:
    """{person, name, kind, label, mode} for a token, or None when it is not one of ours."""
    if not (token.isascii() and token.isalnum() and len(token) <= 80):
        return None
    row = await UnsubscribeToken.select(UnsubscribeToken.person, UnsubscribeToken.kind,
                                        UnsubscribeToken.person.name.as_alias("name")).where(
        UnsubscribeToken.token_hash == _hash(token)).first()
    if row is None or row["kind"] not in KIND:
        return None
    mode = await NotificationPreference.select(NotificationPreference.mode).where(
        (NotificationPreference.person == row["person"]) & (NotificationPreference.kind == row["kind"])).first()
    return {"person": row["person"], "name": row["name"], "kind": row["kind"], "label": KIND[row["kind"]].label,
            "off": bool(mode and mode["mode"] == Mode.off.value)}


async def unsubscribe(token: str, *, now: datetime) -> dict | None:
    """Turn off the token's kind for its person (one click, RFC 8058). None when the token is unknown."""
    target = await unsubscribe_target(token)
    if target is None:
        return None
    async with write_transaction():
        await _set_mode(target["person"], target["kind"], Mode.off.value, now)
    return {**target, "off": True}
