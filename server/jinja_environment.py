"""How our Jinja environments run templates, faster than Jinja's defaults and with the same output.

- `output_text`: what each autoescaped `{{ x }}` writes, without building a Markup (`_OutputCodeGenerator`
  compiles outputs to it through Jinja's `code_generator_class` hook, and yields each run of text and outputs
  as one string).
- `CallContext`: a template's call of an unmarked function, built-in method or macro goes straight to it.
- `RowsEnvironment`: `row.column` on a dict row without an exception, globals as a plain dict; the emails' and
  the base of the pages'.
- `PageEnvironment`: the pages', whose output is ASCII (`character_references`).

Each is checked against Jinja's own behaviour in tests/test_app_foundation.py. What templates can call (filters,
globals, the zone picker) is in server/templating.py.
"""

from __future__ import annotations

from functools import lru_cache
from types import BuiltinFunctionType, FunctionType, MethodType

import markupsafe
from jinja2 import Environment
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context, Macro, Undefined
from jinja2.utils import internalcode
from markupsafe import Markup, escape

__all__ = ["CallContext", "PageEnvironment", "RowsEnvironment", "character_references", "output_text"]


# MarkupSafe's escaping of a str (C in its speedups); its public `escape` wraps the same call in a Markup.
_escape_text = getattr(markupsafe, "_escape_inner", None) or (lambda text: str(escape(text)))


def output_text(value) -> str:
    """What `{{ value }}` writes in an autoescaped template: exactly `str(markupsafe.escape(value))`.

    Jinja wraps each output in `escape()`, which builds a Markup (a Python `__new__`) that the page's join only
    turns back into text: about 0.45 us per `{{ }}`, a few hundred times per page. This returns the same text
    in about 0.06 us for a str, an int or a Markup (checked against `escape` by a test)."""
    kind = type(value)
    if kind is str:
        return _escape_text(value)
    if kind is Markup:
        return value
    if kind is int:
        return str(value)
    if isinstance(value, Undefined):  # `{{ "x" if c }}` when not c: asking it for __html__ raises inside Jinja
        return _escape_text(str(value))
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _escape_text(str(value))


def character_references(text: str) -> str:
    """`text` in ASCII: every other character as an HTML character reference ("·" -> "&#183;"), which a browser
    reads back as the character in text, attributes, titles and text areas alike."""
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def ascii_output_text(value) -> str:
    """`output_text`, in ASCII (see `PageEnvironment`)."""
    kind = type(value)
    if kind is int:
        return str(value)
    text = _escape_text(value) if kind is str else value if kind is Markup else output_text(value)
    return text if text.isascii() else character_references(text)


class _OutputCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `environment.output_text(x)` for each `{{ x }}` in autoescaped templates
    instead of `escape(x)` (Jinja's documented `Environment.code_generator_class` hook; a test checks that the
    compiled code uses it)."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.output_text(")
        if finalize.src is not None:
            self.write(finalize.src)

    def visit_Output(self, node, frame) -> None:
        """One `yield` for a run of template text and `{{ }}`s, not one per piece.

        Jinja yields each piece, and a block's pieces pass through every generator above it (the block, the base
        template, the page: ~20 ns a piece a level); the people page yielded ~2,200. Outside a macro, a run
        is written as Jinja writes it into a macro's buffer (`buffer.extend((a, b, c))`), with the "buffer" a
        `_Pieces` that joins them, and that string yielded. The pieces and their order are Jinja's own."""
        if frame.buffer is not None or len(node.nodes) < 2:
            super().visit_Output(node, frame)
            return
        frame.buffer = "yield environment.pieces"
        try:
            super().visit_Output(node, frame)
        finally:
            frame.buffer = None

    def _output_const_repr(self, group) -> str:
        if getattr(self.environment, "ascii_pages", False):  # the template's own text, once, at compile time
            return repr(character_references("".join(map(str, group))))
        return super()._output_const_repr(group)


class _Pieces:
    """What `_OutputCodeGenerator.visit_Output` writes a run of output into: `extend` joins the pieces (str or
    Markup) into one str, `append` keeps a lone piece as it is."""

    extend = staticmethod("".join)

    @staticmethod
    def append(piece):
        return piece


class CallContext(Context):
    """Jinja's context, with a shorter way to call a plain function, a macro or a built-in method.

    Every call in a template (`time_tag(...)`, a macro per row, `errors.get(...)`) goes through `Context.call`,
    which asks the callable and its `__call__` whether they want the context, the evaluation context or the
    environment passed first (`pass_context` & co.): about 1 us a call, and a page makes dozens to hundreds.
    A function or a built-in method that carries no such mark gets exactly the arguments written, so it is
    called at once, and a macro with the evaluation context, as Jinja calls it, or, given every argument by
    position, straight to where its `__call__` ends once it has bound them (`_invoke`); everything else (marked
    functions, callable objects, Undefined) takes Jinja's way.
    """

    @internalcode
    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature (a keyword may be `self`)
        kind = type(__obj)
        if kind is not Macro and (kind not in _PLAIN_CALLABLES or hasattr(__obj, "jinja_pass_arg")):
            return Context.call(__self, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
        try:
            if kind is not Macro:
                return __obj(*args, **kwargs)
            if (kwargs or len(args) != __obj._argument_count or __obj.caller or __obj.catch_kwargs
                    or __obj.catch_varargs):  # its __call__ binds them; it is pass_eval_context (a test checks)
                return __obj(__self.eval_ctx, *args, **kwargs)
            # every argument by position: where Macro.__call__ ends after binding them
            return __obj._invoke(args, __self.eval_ctx.autoescape)
        except StopIteration:
            return __self.environment.undefined("value was undefined because a callable raised a"
                                                " StopIteration exception")


# The callables whose pass_* mark, if any, is on themselves (a callable object's is on its __call__).
_PLAIN_CALLABLES = frozenset({FunctionType, BuiltinFunctionType, MethodType, type(lru_cache()(len))})

_DICT_ATTRIBUTES = frozenset(dir(dict))  # what `getattr(a_dict, name)` finds: a plain dict has no other attributes


class RowsEnvironment(Environment):
    """A Jinja environment that reads `row.column` from a plain dict without raising an exception first.

    Jinja's `x.name` tries `getattr(x, "name")` and only then `x["name"]`. The rows every page renders are
    dicts (`server.db.fetch`), so each `{{ row.name }}` raised and caught an AttributeError: 0.7 us instead of
    0.1 us, twenty times per table row. A plain dict's attributes are exactly `dir(dict)`, so asking for the
    item first for every other name gives the same answer as Jinja's rule, only sooner.

    Its templates also write each autoescaped `{{ x }}` with `output_text` (above)."""

    code_generator_class = _OutputCodeGenerator
    context_class = CallContext
    output_text = staticmethod(output_text)
    pieces = _Pieces()

    def make_globals(self, d):
        """A template's globals as a plain dict (the environment's, then the template's own), not Jinja's ChainMap.

        Every context Jinja makes (each render, include and imported macro file: five or six per page) copies the
        globals with `dict(globals)` and `set(globals)`; on a ChainMap both iterate and look up key by key in
        Python, about 15 us for our two dozen globals, where a dict copies in C. Jinja asks that globals not change
        once a template is loaded; ours are all registered when the app is built, before any template loads."""
        return {**self.globals, **d} if d else dict(self.globals)

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        try:  # Jinja's own rule, written out: a call to super() on every other lookup cost a frame more
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


class PageEnvironment(RowsEnvironment):
    """The pages' environment: a RowsEnvironment whose pages come out in ASCII.

    A page is encoded to UTF-8 bytes once rendered. Python holds a str with one "·" or "←" in a wider form, and
    encoding that costs about 1 ns per character: 100 us for the people page (100 KB), a tenth of its time,
    against 1 us for the same page in ASCII. So the pages write every other character as an HTML character
    reference, which browsers read back as the same character: the template's own text once, when it is
    compiled, and each `{{ x }}` when it is written (`str.isascii` is a flag lookup). Our templates have no
    inline <script> or <style>, the only places where a reference would stay as written. Emails keep their
    characters (server/mail.py uses a RowsEnvironment)."""

    ascii_pages = True
    output_text = staticmethod(ascii_output_text)
