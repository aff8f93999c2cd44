"""A cohort's Q&A board: questions and answers, posted without a reload (htmx) and with plain forms.

Learners reach only their own cohorts' boards, facilitators the boards of cohorts they run, designers all;
any other board is "not found". Every write answers htmx with the board region (`board/_board.html`) and a
plain form with a redirect back to the post (or the page again with the message, 400).
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from models.tables import Person
from server.auth import access, role_guard
from server.controllers.forms import Form
from server.controllers.requests import now, wants_fragment
from server.errors import UserError
from server.services import board
from server.services.session_followup import support_contacts


async def _access(request: Request, cohort_id: int) -> board.Access:
    me: Person = request.user
    access = await board.board_access(me.id, me.role, cohort_id)
    if access is None:
        raise NotFoundException()
    return access


async def _page_context(request: Request, access: board.Access, **extra) -> dict:
    me: Person = request.user
    context = {
        "board": await board.board(access, me.id),
        "support": await support_contacts(me.id) if not access.moderator else (),
        "errors": {},
        "values": {},
    }
    context.update(extra)
    return context


async def _answer(request: Request, access: board.Access, *, anchor: str = "", error: tuple[str, str] | None = None,
                  values: dict | None = None) -> Response:
    """After a write: the board region for htmx (messages next to the form that failed), else a redirect
    back to the post, or the whole page with the message (400)."""
    errors = dict([error]) if error else {}
    if wants_fragment(request):
        context = await _page_context(request, access, errors=errors, values=values or {} if error else {})
        return Template("board/_board.html", context=context)
    if error:
        context = await _page_context(request, access, errors=errors, values=values or {})
        return Template("board/page.html", context=context, status_code=400)
    return Redirect(f"/board/{access.cohort_id}{anchor}", status_code=303)


def _refused(error: UserError) -> None:
    if isinstance(error, board.NotYours):
        raise PermissionDeniedException(str(error))


class BoardController(Controller):
    path = "/board"
    opt = access(role_guard(Person.Role.learner.value, Person.Role.facilitator.value))
    include_in_schema = False

    @get("/")
    async def index(self, request: Request) -> Response:
        """My boards; with one board, that board."""
        me: Person = request.user
        boards = await board.my_boards(me.id, me.role)
        if len(boards) == 1:
            return Redirect(f"/board/{boards[0]['id']}", status_code=303)
        return Template("board/index.html", context={"boards": boards})

    @get("/{cohort_id:int}")
    async def page(self, request: Request, cohort_id: FromPath[int]) -> Template:
        access = await _access(request, cohort_id)
        return Template("board/page.html", context=await _page_context(request, access))

    @post("/{cohort_id:int}/questions", status_code=200)
    async def ask(self, request: Request, cohort_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        values = await _fields(request, "title", "body", "topic")
        try:
            question_id = await board.post_question(access, request.user.id, **values, now=now(request))
        except UserError as error:
            return await _answer(request, access, error=("question", str(error)), values={"question": values})
        return await _answer(request, access, anchor=f"#question-{question_id}")

    @get("/{cohort_id:int}/questions/{question_id:int}/edit")
    async def edit_question_form(self, request: Request, cohort_id: FromPath[int], question_id: FromPath[int]) -> Template:
        access = await _access(request, cohort_id)
        question = await board.question_view(access, request.user.id, question_id)
        if question is None:
            raise NotFoundException()
        if not question.mine:
            raise PermissionDeniedException("You can edit only your own questions.")
        context = {"board": await board.board(access, request.user.id, question_id=question_id), "q": question,
                   "errors": {}, "values": {}}
        if wants_fragment(request):
            return Template("board/_question_edit.html", context=context)
        return Template("board/edit.html", context=context)

    @post("/{cohort_id:int}/questions/{question_id:int}", status_code=200)
    async def edit_question(self, request: Request, cohort_id: FromPath[int], question_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        values = await _fields(request, "title", "body", "topic")
        try:
            if not await board.edit_question(access, request.user.id, question_id, **values, now=now(request)):
                raise NotFoundException()
        except UserError as error:
            _refused(error)
            return await _answer(request, access, error=(f"question-{question_id}", str(error)))
        return await _answer(request, access, anchor=f"#question-{question_id}")

    @post("/{cohort_id:int}/questions/{question_id:int}/delete", status_code=200)
    async def delete_question(self, request: Request, cohort_id: FromPath[int], question_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        try:
            if not await board.delete_question(access, request.user.id, question_id):
                raise NotFoundException()
        except UserError as error:
            _refused(error)
            raise
        return await _answer(request, access)

    @post("/{cohort_id:int}/questions/{question_id:int}/pin", status_code=200)
    async def pin(self, request: Request, cohort_id: FromPath[int], question_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        pinned = await _flag(request, "pinned")
        try:
            if not await board.pin_question(access, question_id, pinned):
                raise NotFoundException()
        except UserError as error:
            _refused(error)
            raise
        return await _answer(request, access, anchor=f"#question-{question_id}")

    @post("/{cohort_id:int}/questions/{question_id:int}/answers", status_code=200)
    async def reply(self, request: Request, cohort_id: FromPath[int], question_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        values = await _fields(request, "body")
        try:
            answer_id = await board.post_answer(access, request.user.id, question_id, **values, now=now(request))
        except UserError as error:
            return await _answer(request, access, error=(f"answer-{question_id}", str(error)),
                                 values={f"answer-{question_id}": values})
        if answer_id is None:
            raise NotFoundException()
        return await _answer(request, access, anchor=f"#answer-{answer_id}")

    @get("/{cohort_id:int}/answers/{answer_id:int}/edit")
    async def edit_answer_form(self, request: Request, cohort_id: FromPath[int], answer_id: FromPath[int]) -> Template:
        access = await _access(request, cohort_id)
        found = await board.board(access, request.user.id)
        answer = next((a for q in found.questions for a in q.answers if a.id == answer_id), None)
        if answer is None:
            raise NotFoundException()
        if not answer.mine:
            raise PermissionDeniedException("You can edit only your own answers.")
        context = {"board": found, "a": answer, "errors": {}, "values": {}}
        if wants_fragment(request):
            return Template("board/_answer_edit.html", context=context)
        return Template("board/edit.html", context=context)

    @post("/{cohort_id:int}/answers/{answer_id:int}", status_code=200)
    async def edit_answer(self, request: Request, cohort_id: FromPath[int], answer_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        values = await _fields(request, "body")
        try:
            if await board.edit_answer(access, request.user.id, answer_id, **values, now=now(request)) is None:
                raise NotFoundException()
        except UserError as error:
            _refused(error)
            return await _answer(request, access, error=(f"edit-answer-{answer_id}", str(error)))
        return await _answer(request, access, anchor=f"#answer-{answer_id}")

    @post("/{cohort_id:int}/answers/{answer_id:int}/delete", status_code=200)
    async def delete_answer(self, request: Request, cohort_id: FromPath[int], answer_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        try:
            question_id = await board.delete_answer(access, request.user.id, answer_id)
        except UserError as error:
            _refused(error)
            raise
        if question_id is None:
            raise NotFoundException()
        return await _answer(request, access, anchor=f"#question-{question_id}")

    @post("/{cohort_id:int}/answers/{answer_id:int}/accept", status_code=200)
    async def accept(self, request: Request, cohort_id: FromPath[int], answer_id: FromPath[int]) -> Response:
        access = await _access(request, cohort_id)
        accepted = await _flag(request, "accepted")
        try:
            question_id = await board.accept_answer(access, answer_id, accepted)
        except UserError as error:
            _refused(error)
            raise
        if question_id is None:
            raise NotFoundException()
        return await _answer(request, access, anchor=f"#answer-{answer_id}")


async def _fields(request: Request, *names: str) -> dict[str, str]:
    form = await Form.read(request)
    return {name: str(form.fields.get(name, "") or "") for name in names}


async def _flag(request: Request, name: str) -> bool:
    """A yes/no field: "1" or "0"; anything else is a 400."""
    value = (await _fields(request, name))[name]
    if value not in ("0", "1"):
        raise HTTPException(status_code=400, detail=f"{name}: expected 1 or 0.")
    return value == "1"
