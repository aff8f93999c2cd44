"""Designer: people admin — list accounts, create one with a role and an initial password, reset a password,
deactivate someone who left (and reactivate them), and the latest roster and people changes."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from server.auth import access, designer_only
from server.controllers.forms import Form
from server.controllers.requests import now
from server.errors import UserError
from server.services import people, roster_changes
from server.services.people import ROLES

MIN_PASSWORD = 10


def read_password(form: Form, name: str = "password") -> str:
    value = str(form.fields.get(name, "") or "")
    if len(value) < MIN_PASSWORD:
        form.fail(name, f"Use at least {MIN_PASSWORD} characters.")
    elif len(value) > 1024:
        form.fail(name, "That password is too long.")
    return value


class PeopleController(Controller):
    path = "/people"
    opt = access(designer_only)

    async def _context(self, *, page: int = 1, query: str = "", **extra) -> dict:
        # a form about one person (its error) shows that person's row, wherever it is in the list
        listing = await people.people_page(page, query, person_id=extra.get("reset_id"))
        context = {"people": listing.rows, "listing": listing, "values": {"role": "learner", "timezone": "UTC"},
                   "errors": {},
                   "roles": ROLES, "notice": None, "reset_errors": {}, "reset_id": None, "problem": None,
                   "changes": await roster_changes.latest(limit=30)}
        context.update(extra)
        return context

    @get("/")
    async def index(self, request: Request) -> Template:
        page = request.query_params.get("page", "1")
        return Template("designer/people.html", context=await self._context(
            page=int(page) if page.isdigit() and len(page) < 7 else 1, query=request.query_params.get("q", "")))

    @post("/")
    async def create(self, request: Request) -> Response:
        form = await Form.read(request)
        values = {
            "email": form.email(),
            "name": form.text("name", label="Name"),
            "role": form.choice("role", ROLES, label="Role"),
            "timezone": form.zone(),
        }
        password = read_password(form)
        if "email" not in form.errors and await people.email_taken(values["email"]):
            form.fail("email", f"{values['email']} has an account already.")
        if not form.ok:
            return Template("designer/people.html", context=await self._context(values=values, errors=form.errors),
                            status_code=400)
        await people.create_person(**values, password=password)
        return Template("designer/people.html",
                        context=await self._context(notice=f"Created {values['name']} ({values['role']})."))

    @post("/{person_id:int}/password")
    async def reset_password(self, request: Request, person_id: FromPath[int]) -> Response:
        name = await people.person_name(person_id)
        if name is None:
            raise NotFoundException("no such person")
        form = await Form.read(request)
        password = read_password(form)
        if not form.ok:
            return Template("designer/people.html", status_code=400,
                            context=await self._context(reset_errors=form.errors, reset_id=person_id))
        await people.set_password(person_id, password)
        return Template("designer/people.html", context=await self._context(notice=f"New password set for {name}."))

    @post("/{person_id:int}/deactivate")
    async def deactivate(self, request: Request, person_id: FromPath[int]) -> Response:
        """They can no longer sign in, their sessions end, their feed URL answers 404; records stay."""
        return await self._switch(request, person_id, people.deactivate,
                                  "{name} is deactivated: signed out everywhere, calendar feed URL revoked.")

    @post("/{person_id:int}/reactivate")
    async def reactivate(self, request: Request, person_id: FromPath[int]) -> Response:
        return await self._switch(request, person_id, people.reactivate,
                                  "{name} can sign in again; their calendar feed has a new URL.")

    async def _switch(self, request: Request, person_id: int, change, words: str) -> Response:
        if await people.person_name(person_id) is None:
            raise NotFoundException("no such person")
        try:
            name = await change(person_id, actor=request.user.id, now=now(request))
        except UserError as error:
            return Template("designer/people.html", status_code=409, context=await self._context(problem=str(error)))
        return Template("designer/people.html", context=await self._context(notice=words.format(name=name)))
