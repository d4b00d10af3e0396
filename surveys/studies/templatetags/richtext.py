"""``{{ text|rich_text }}``: a researcher's Markdown as sanitised HTML (surveys/studies/richtext.py)."""

from django import template

from surveys.studies.richtext import rich_text_render

register = template.Library()


@register.filter
def rich_text(text: str):
    return rich_text_render(text=text)
