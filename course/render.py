"""Markdown to safe HTML: python-markdown, then nh3 sanitising, then `exercise:ID` / `lesson:ID` links resolved.

Sanitising happens before the site's links are put in, so the (cached) sanitised HTML never depends on
the request, and the resolver's own URLs are escaped as they are inserted.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from functools import lru_cache

import markdown
import nh3
from markupsafe import Markup, escape

# resolve_link(kind, ident) -> URL, where kind is "exercise" or "lesson"; None leaves the link text unlinked.
LinkResolver = Callable[[str, str], str | None]

ALLOWED_TAGS = frozenset({
    "p", "h2", "h3", "h4", "ul", "ol", "li", "blockquote", "em", "strong", "code", "pre", "a",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "hr", "br",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"scope"}}
# `exercise:` and `lesson:` survive sanitising only so they can be resolved below; nothing else leaves this module
# with those schemes. Author-written relative links are refused: the only site links are the resolver's.
URL_SCHEMES = frozenset({"http", "https", "mailto", "exercise", "lesson"})
# Tags whose content is dropped as well as the tag, since their text is code or chrome, not prose.
CLEAN_CONTENT_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "textarea",
                                "select", "svg", "math"})
MARKDOWN_EXTENSIONS = ("extra", "sane_lists", "smarty")

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(CLEAN_CONTENT_TAGS),
    attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)
# The page's own title is its only <h1>, so a `# Heading` in a body becomes <h2>; <h5>/<h6> fold into <h4>.
_HEADING_SHIFT = (
    (re.compile(r"<(/?)h1\b", re.IGNORECASE), r"<\1h2"),
    (re.compile(r"<(/?)h[56]\b", re.IGNORECASE), r"<\1h4"),
)
# nh3 always writes attributes double-quoted and escaped, so this matches every site link it lets through.
_SITE_LINK_RE = re.compile(r'<a href="(exercise|lesson):([^"]*)"')


@lru_cache(maxsize=1024)
def sanitised_html(text: str) -> str:
    """Render Markdown and sanitise it; cached by text, since lessons render on every page view."""
    html = markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    for pattern, replacement in _HEADING_SHIFT:
        html = pattern.sub(replacement, html)
    return _CLEANER.clean(html)


def resolve_site_links(html: str, resolve_link: LinkResolver | None) -> str:
    """Replace `exercise:ID` / `lesson:ID` hrefs in sanitised HTML with the resolver's URLs (escaped)."""

    def replace(match: re.Match[str]) -> str:
        """Put the resolved URL in, or drop the href when the target is unknown."""
        # The id is still HTML-escaped as nh3 wrote it; the resolver gets the plain text.
        url = resolve_link(match.group(1), htmllib.unescape(match.group(2))) if resolve_link else None
        return "<a" if url is None else f'<a href="{escape(url)}"'

    return _SITE_LINK_RE.sub(replace, html)


def render_markdown(text: str, resolve_link: LinkResolver | None = None) -> Markup:
    """Return author Markdown as sanitised HTML, safe to put into a template unescaped."""
    return Markup(resolve_site_links(sanitised_html(text), resolve_link))  # noqa: S704 - sanitised by nh3 above
