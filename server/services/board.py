"""A cohort's Q&A board: questions (optionally about one of the cohort's modules or sessions) and answers.

Who may do what, decided here once (`board_access`):
- the cohort's learners read the board and post; they edit and delete their own posts;
- its facilitators (members, or running one of its sessions) and designers also moderate: accept an answer
  (at most one per question), pin a question, delete any post;
- anyone else (another cohort's learners, managers) gets None: the front doors answer "not found".
Posts are Markdown, stored as written and rendered sanitised (server/services/rich_text.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from models.tables import Answer, AsyncModule, Cohort, LiveSession, Membership, Person, Question
from server.db import fetch, write_transaction
from server.errors import UserError
from server.services.clock import check_aware
from server.services.rich_text import render_markdown
from server.services.schedule import facilitated_cohorts, learner_memberships

TITLE_LENGTH = 200
BODY_LENGTH = 10_000


class NotYours(UserError):
    """Editing or deleting someone else's post without being a moderator."""


@dataclass(frozen=True)
class Access:
    cohort_id: int
    cohort_name: str
    moderator: bool
    section_ids: tuple[int, ...]  # the learner's own sections of the cohort (moderators: empty = all)


@dataclass(frozen=True)
class Topic:
    value: str  # "module-12" / "session-5"
    title: str
    at: datetime  # a module's due instant, a session's start


@dataclass(frozen=True)
class AnswerView:
    id: int
    question_id: int
    author_id: int | None
    author_name: str
    author_facilitates: bool
    body: str
    html: str
    accepted: bool
    created_at: datetime
    edited_at: datetime | None
    mine: bool


@dataclass(frozen=True)
class QuestionView:
    id: int
    author_id: int | None
    author_name: str
    author_facilitates: bool
    title: str
    body: str
    html: str
    topic: Topic | None
    pinned: bool
    created_at: datetime
    edited_at: datetime | None
    mine: bool
    answers: tuple[AnswerView, ...]  # the accepted answer first, then oldest first

    @property
    def answered(self) -> bool:
        return any(a.accepted for a in self.answers)


@dataclass(frozen=True)
class Board:
    access: Access
    questions: tuple[QuestionView, ...]  # pinned first, then newest first
    topics: tuple[Topic, ...]  # what a question may be about, by instant


async def my_boards(person_id: int, account_role: str) -> list[dict]:
    """The cohorts whose board the person may open, as {"id", "name"} by name."""
    if account_role == Person.Role.designer.value:
        return await fetch("SELECT id, name FROM cohort ORDER BY name")
    # one query (on every learner and facilitator page): the cohorts they learn in, facilitate, or lead a session of
    return await fetch(
        "SELECT id, name FROM cohort WHERE id IN (SELECT cohort FROM membership WHERE person = {} AND role IN ({}, {})"
        " AND left_at IS NULL UNION SELECT cohort FROM live_session WHERE facilitator = {}) ORDER BY name",
        person_id, Membership.Role.learner.value, Membership.Role.facilitator.value, person_id)


async def board_access(person_id: int, account_role: str, cohort_id: int) -> Access | None:
    cohort = await Cohort.select(Cohort.id, Cohort.name).where(Cohort.id == cohort_id).first()
    if cohort is None:
        return None
    if account_role == Person.Role.designer.value or cohort_id in await _moderated(person_id):
        return Access(cohort_id=cohort_id, cohort_name=cohort["name"], moderator=True, section_ids=())
    sections = [m["section"] for m in await learner_memberships(person_id) if m["cohort"] == cohort_id]
    if not sections:
        return None
    return Access(cohort_id=cohort_id, cohort_name=cohort["name"], moderator=False,
                  section_ids=tuple(sorted(s for s in sections if s is not None)))


async def _moderated(person_id: int) -> list[int]:
    """Cohorts the person facilitates as a member or runs a session of."""
    running = await fetch("SELECT DISTINCT cohort FROM live_session WHERE facilitator = {}", person_id)
    return sorted(set(await facilitated_cohorts(person_id)) | {r["cohort"] for r in running})


async def topics(access: Access) -> tuple[Topic, ...]:
    """The cohort's modules and sessions a question may be about (a learner: their own sections' sessions)."""
    modules = await AsyncModule.select(AsyncModule.id, AsyncModule.title, AsyncModule.due_at).where(
        AsyncModule.cohort == access.cohort_id)
    where = LiveSession.cohort == access.cohort_id
    if not access.moderator:
        if not access.section_ids:
            where = None
        else:
            where = where & LiveSession.section.is_in(list(access.section_ids))
    sessions = []
    if where is not None:
        sessions = await LiveSession.select(
            LiveSession.id, LiveSession.starts_at, LiveSession.section.key.as_alias("section_key")
        ).where(where)
    found = [Topic(value=f"module-{m['id']}", title=f"Module: {m['title']}", at=m["due_at"]) for m in modules]
    found += [Topic(value=f"session-{s['id']}", title="Live session" + _section_suffix(s["section_key"], access),
                    at=s["starts_at"]) for s in sessions]
    return tuple(sorted(found, key=lambda t: (t.at, t.value)))


def _section_suffix(section_key: str | None, access: Access) -> str:
    if access.moderator and section_key:
        return f" (section {section_key.rsplit('/', 1)[-1]})"
    return ""


async def board(access: Access, viewer_id: int, *, question_id: int | None = None) -> Board:
    """The board as the viewer sees it (or only one question of it); a constant number of queries."""
    where = Question.cohort == access.cohort_id
    if question_id is not None:
        where = where & (Question.id == question_id)
    rows = await Question.select(Question.all_columns(), Question.author.name.as_alias("author_name")).where(where)
    answers = []
    if rows:
        answers = await Answer.select(Answer.all_columns(), Answer.author.name.as_alias("author_name")).where(
            Answer.question.is_in([r["id"] for r in rows]))
    facilitators = {r["person"] for r in await Membership.select(Membership.person).where(
        (Membership.cohort == access.cohort_id) & (Membership.role == Membership.Role.facilitator.value))}
    all_topics = await topics(access)
    by_value = {t.value: t for t in all_topics}
    by_question: dict[int, list[AnswerView]] = defaultdict(list)
    for a in answers:
        by_question[a["question"]].append(AnswerView(
            id=a["id"], question_id=a["question"], author_id=a["author"], author_name=a["author_name"] or "a former member",
            author_facilitates=a["author"] in facilitators, body=a["body"], html=render_markdown(a["body"]),
            accepted=bool(a["accepted"]), created_at=a["created_at"], edited_at=a["edited_at"],
            mine=a["author"] == viewer_id,
        ))
    questions = []
    for q in rows:
        value = f"module-{q['module']}" if q["module"] else f"session-{q['session']}" if q["session"] else ""
        questions.append(QuestionView(
            id=q["id"], author_id=q["author"], author_name=q["author_name"] or "a former member",
            author_facilitates=q["author"] in facilitators, title=q["title"], body=q["body"] or "",
            html=render_markdown(q["body"] or ""), topic=by_value.get(value), pinned=bool(q["pinned"]),
            created_at=q["created_at"], edited_at=q["edited_at"], mine=q["author"] == viewer_id,
            answers=tuple(sorted(by_question[q["id"]], key=lambda a: (not a.accepted, a.created_at, a.id))),
        ))
    questions.sort(key=lambda q: (not q.pinned, -q.created_at.timestamp(), -q.id))
    return Board(access=access, questions=tuple(questions), topics=all_topics)


async def question_view(access: Access, viewer_id: int, question_id: int) -> QuestionView | None:
    found = (await board(access, viewer_id, question_id=question_id)).questions
    return found[0] if found else None


# --- writes (each one transaction; None = no such post on this board) ----------------------------------------

def _title(title: str) -> str:
    title = title.strip()
    if not title:
        raise UserError("Question: write a short title.")
    if len(title) > TITLE_LENGTH:
        raise UserError(f"Question: the title can be at most {TITLE_LENGTH} characters.")
    return title


def _body(body: str, *, required: bool) -> str:
    body = body.strip()
    if required and not body:
        raise UserError("Answer: write something first.")
    if len(body) > BODY_LENGTH:
        raise UserError(f"The text can be at most {BODY_LENGTH} characters.")
    return body


async def _topic_columns(access: Access, topic: str) -> dict:
    topic = topic.strip()
    if not topic:
        return {"module": None, "session": None}
    if topic not in {t.value for t in await topics(access)}:
        raise UserError("About: choose one of this cohort's modules or sessions, or nothing.")
    kind, _, number = topic.partition("-")
    return {"module": int(number), "session": None} if kind == "module" else {"module": None, "session": int(number)}


async def post_question(access: Access, author_id: int, *, title: str, body: str, topic: str, now: datetime) -> int:
    check_aware(now)
    values = {"title": _title(title), "body": _body(body, required=False), **await _topic_columns(access, topic)}
    async with write_transaction():
        row = Question(cohort=access.cohort_id, author=author_id, created_at=now, **values)
        await row.save()
    return row.id


async def edit_question(access: Access, editor_id: int, question_id: int, *, title: str, body: str, topic: str,
                        now: datetime) -> bool:
    check_aware(now)
    values = {"title": _title(title), "body": _body(body, required=False), **await _topic_columns(access, topic)}
    async with write_transaction():
        row = await _question(access, question_id)
        if row is None:
            return False
        if row["author"] != editor_id:
            raise NotYours("You can edit only your own questions.")
        await Question.update({getattr(Question, k): v for k, v in values.items()} | {Question.edited_at: now}).where(
            Question.id == question_id)
    return True


async def delete_question(access: Access, person_id: int, question_id: int) -> bool:
    async with write_transaction():
        row = await _question(access, question_id)
        if row is None:
            return False
        if row["author"] != person_id and not access.moderator:
            raise NotYours("You can delete only your own questions.")
        await Question.delete().where(Question.id == question_id)
    return True


async def pin_question(access: Access, question_id: int, pinned: bool) -> bool:
    if not access.moderator:
        raise NotYours("Only the cohort's facilitators pin questions.")
    async with write_transaction():
        if await _question(access, question_id) is None:
            return False
        await Question.update({Question.pinned: pinned}).where(Question.id == question_id)
    return True


async def post_answer(access: Access, author_id: int, question_id: int, *, body: str, now: datetime) -> int | None:
    check_aware(now)
    body = _body(body, required=True)
    async with write_transaction():
        if await _question(access, question_id) is None:
            return None
        row = Answer(question=question_id, author=author_id, body=body, created_at=now)
        await row.save()
    return row.id


async def edit_answer(access: Access, editor_id: int, answer_id: int, *, body: str, now: datetime) -> int | None:
    """The answer's question id, or None when the answer is not on this board."""
    check_aware(now)
    body = _body(body, required=True)
    async with write_transaction():
        row = await _answer(access, answer_id)
        if row is None:
            return None
        if row["author"] != editor_id:
            raise NotYours("You can edit only your own answers.")
        await Answer.update({Answer.body: body, Answer.edited_at: now}).where(Answer.id == answer_id)
    return row["question"]


async def delete_answer(access: Access, person_id: int, answer_id: int) -> int | None:
    async with write_transaction():
        row = await _answer(access, answer_id)
        if row is None:
            return None
        if row["author"] != person_id and not access.moderator:
            raise NotYours("You can delete only your own answers.")
        await Answer.delete().where(Answer.id == answer_id)
    return row["question"]


async def accept_answer(access: Access, answer_id: int, accepted: bool) -> int | None:
    """Accept an answer (the question's earlier accepted answer is no longer) or take the acceptance back."""
    if not access.moderator:
        raise NotYours("Only the cohort's facilitators accept answers.")
    async with write_transaction():
        row = await _answer(access, answer_id)
        if row is None:
            return None
        if accepted:
            await Answer.update({Answer.accepted: False}).where(
                (Answer.question == row["question"]) & (Answer.accepted == True))  # noqa: E712 (SQL, not Python)
        await Answer.update({Answer.accepted: accepted}).where(Answer.id == answer_id)
    return row["question"]


async def _question(access: Access, question_id: int) -> dict | None:
    return await Question.select(Question.id, Question.author).where(
        (Question.id == question_id) & (Question.cohort == access.cohort_id)).first()


async def _answer(access: Access, answer_id: int) -> dict | None:
    return await Answer.select(Answer.id, Answer.author, Answer.question).where(
        (Answer.id == answer_id) & (Answer.question.cohort == access.cohort_id)).first()
