"""The one place where text a researcher writes (a study's instructions and consent) becomes markup.

Researchers write Markdown (HTML tags of the safe subset below are allowed too, so older instructions
written as HTML still show as before). The result is cleaned by nh3 (the Ammonia sanitiser): only the
tags and attributes listed here survive; scripts, event handlers, styles, forms, frames and
``javascript:`` links are removed. Whatever else reaches a page is escaped by the templates or set
with ``textContent``; nothing but the output of ``rich_text_render`` is ever marked safe.
"""

import functools

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

# Text formatting, lists, headings, links and tables: what instructions and consent forms need.
ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "b", "strong", "i", "em", "u", "s", "small", "sub", "sup", "mark", "code", "pre",
    "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "div",
    "table", "thead", "tbody", "tr", "th", "td", "caption",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# nl2br: a line break the researcher typed stays a line break, as plain text did before Markdown.
MARKDOWN_EXTENSIONS = ["nl2br", "sane_lists", "tables"]


# A study's texts are rendered on every participant's consent and runner page, and change rarely:
# remembering the last few renderings saves the ~0.6-0.8 ms of Markdown and sanitising per page load.
RENDERED_TEXTS_KEPT = 256


def rich_text_render(*, text: str) -> SafeString:
    """Markdown -> HTML of the allowed subset; links open in a new tab and never pass our referrer."""
    return _rendered(text or "")


@functools.lru_cache(maxsize=RENDERED_TEXTS_KEPT)
def _rendered(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS)
    clean = nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=set(ALLOWED_URL_SCHEMES), link_rel="noopener noreferrer nofollow",
                      set_tag_attribute_values={"a": {"target": "_blank"}})
    return mark_safe(clean)  # noqa: S308 - nh3 has just removed everything outside the allowed subset
