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
