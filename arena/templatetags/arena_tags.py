from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from arena.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 above


@register.filter(name="answer_letter")
def answer_letter(position: int) -> str:
    return chr(ord("A") + int(position))


@register.filter(name="at")
def at(items: Sequence[Any] | None, index: int) -> Any:
    """``items[index]``, or "" when there is no such item (a template has no subscript)."""
    try:
        return items[int(index)] if items is not None else ""
    except IndexError:
        return ""


@register.filter(name="ordinal")
def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th… 11th, 12th, 13th."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
