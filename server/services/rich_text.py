"""Markdown that people write (Q&A posts, session notes) turned into HTML that is safe to show.

Two libraries, each for what it does well: markdown-it-py renders CommonMark with raw HTML switched off (it is
shown as text) and refuses javascript:/data: links; nh3 (Ammonia) then keeps only an allow-list of tags and
attributes, only http(s) and mailto links, and gives every link rel="noopener noreferrer nofollow" and
target="_blank". Images are not allowed (a post could otherwise load a tracking pixel for every reader).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del"}
LINK_REL = "noopener noreferrer nofollow"
URL_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def render_markdown(text: str) -> str:
    """Sanitised HTML for `text` (Markdown); the empty string for an empty text."""
    if not text.strip():
        return ""
    return nh3.clean(
        _markdown.render(text),
        tags=TAGS,
        attributes={"a": {"href", "title"}, "th": {"style"}, "td": {"style"}},
        filter_style_properties={"text-align"},
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
