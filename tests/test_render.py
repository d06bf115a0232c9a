"""Markdown rendering: author Markdown becomes safe HTML, and course links point at the site's pages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from course.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown, sanitised_html


def site_links(kind: str, ident: str) -> str:
    """Resolve links the way the site does, to /lessons/ID and /exercises/ID."""
    return f"/{kind}s/{ident}"


def test_markdown_is_rendered_as_markup():
    """Ordinary Markdown renders, and the result is Markup so templates do not escape it twice."""
    html = render_markdown("## Why\n\nA *short* list:\n\n1. one\n2. two\n\n> quoted\n\n`code`", site_links)
    assert isinstance(html, Markup)
    assert "<h2>Why</h2>" in html
    assert "<em>short</em>" in html
    assert "<ol>\n<li>one</li>" in html
    assert "<blockquote>" in html
    assert "<code>code</code>" in html


def test_tables_survive():
    """Tables from the `extra` extension keep their structure."""
    html = render_markdown("| Say | Avoid |\n|---|---|\n| Thanks | Bye |", site_links)
    for tag in ("<table>", "<thead>", "<tbody>", "<tr>", "<th>Say</th>", "<td>Bye</td>"):
        assert tag in html


def test_course_links_are_resolved():
    """`exercise:ID` and `lesson:ID` become the resolver's URLs; the text stays."""
    html = render_markdown("Try [the quiz](exercise:why-close-quiz) after [the lesson](lesson:recapping-fit).",
                           site_links)
    assert '<a href="/exercises/why-close-quiz" rel="noopener noreferrer">the quiz</a>' in html
    assert '<a href="/lessons/recapping-fit" rel="noopener noreferrer">the lesson</a>' in html
    assert "exercise:" not in html and "lesson:" not in html


def test_reference_style_course_links_are_resolved():
    """Reference-style links work the same as inline ones."""
    html = render_markdown("See [the note][n].\n\n[n]: lesson:thank-you-note", site_links)
    assert 'href="/lessons/thank-you-note"' in html


def test_resolver_urls_are_escaped():
    """Whatever the resolver returns is escaped as an attribute value."""
    html = render_markdown("[x](lesson:a)", lambda kind, ident: '/l?a=1&b="2"')
    assert 'href="/l?a=1&amp;b=&#34;2&#34;"' in html


def test_unresolved_course_link_keeps_its_text_without_href():
    """A link the resolver does not know (or no resolver) loses its href, never keeps the raw scheme."""
    assert render_markdown("[gone](lesson:nowhere)", lambda kind, ident: None) == \
        '<p><a rel="noopener noreferrer">gone</a></p>'
    assert 'href' not in render_markdown("[gone](exercise:nowhere)")


def test_ordinary_links_get_rel_noopener():
    """http, https and mailto links are kept, with rel="noopener noreferrer"."""
    html = render_markdown("[a](https://example.org/x) [b](http://example.org) [c](mailto:careers@example.org)",
                           site_links)
    assert '<a href="https://example.org/x" rel="noopener noreferrer">a</a>' in html
    assert '<a href="http://example.org" rel="noopener noreferrer">b</a>' in html
    assert '<a href="mailto:careers@example.org" rel="noopener noreferrer">c</a>' in html


def test_level_one_headings_become_level_two():
    """The page title is the only <h1>; a body heading `#` is demoted, h5/h6 fold into h4."""
    html = render_markdown("# Big\n\n###### Small", site_links)
    assert "<h2>Big</h2>" in html and "<h4>Small</h4>" in html
    assert "<h1" not in html and "<h6" not in html


ATTACKS = {
    "script tag": "<script>alert(1)</script>Hello",
    "script tag, odd case": "<ScRiPt>alert(1)</sCrIpT>Hello",
    "img onerror": '<img src="x" onerror="alert(1)">Hello',
    "onerror on an allowed tag": '<p onclick="alert(1)">Hello</p>',
    "svg onload": "<svg onload=alert(1)></svg>Hello",
    "javascript link": "[Hello](javascript:alert(1))",
    "javascript link, mixed case": "[Hello](JaVaScRiPt:alert(1))",
    "javascript link, entity encoded": '<a href="&#106;avascript:alert(1)">Hello</a>',
    "javascript link, hex entity and tab": '<a href="jav&#x09;ascript:alert(1)">Hello</a>',
    "javascript link, leading space": '<a href=" javascript:alert(1)">Hello</a>',
    "vbscript link": "[Hello](vbscript:msgbox(1))",
    "data URL link": "[Hello](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data URL image": "![Hello](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)Hello",
    "raw iframe": '<iframe src="https://evil.example/"></iframe>Hello',
    "object embed": '<object data="evil.swf"></object><embed src="evil.swf">Hello',
    "style tag": "<style>body{display:none}</style>Hello",
    "style attribute": '<p style="background:url(javascript:alert(1))">Hello</p>',
    "form": '<form action="https://evil.example/"><input name="password"></form>Hello',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">Hello',
    "html comment": "<!-- <script>alert(1)</script> -->Hello",
    "relative link written by an author": "[Hello](/admin/users)",
    "protocol-relative link": "[Hello](//evil.example/)",
    "course scheme smuggled through a quote": '[Hello](exercise:x"onmouseover="alert(1))',
}
SAFE_HREF_PREFIXES = ("http://", "https://", "mailto:", "/lessons/", "/exercises/")


class TagCollector(HTMLParser):
    """Collects every tag with its attributes (values unescaped, as a browser would read them) and comments."""

    def __init__(self):
        """Start with nothing seen."""
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        """Record an opening tag."""
        self.tags.append((tag, dict(attrs)))

    def handle_comment(self, data):
        """Record a comment."""
        self.comments.append(data)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attacks_are_neutralised(name):
    """Each attack leaves only allowed tags and attributes, and links only to safe places; text survives."""
    html = str(render_markdown(ATTACKS[name], site_links))
    parser = TagCollector()
    parser.feed(html)
    assert not parser.comments, html
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, f"{name}: <{tag}> in {html!r}"
        for attr, value in attrs.items():
            assert attr in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, f"{name}: {attr}= in {html!r}"
            if attr == "href":
                assert value.startswith(SAFE_HREF_PREFIXES), f"{name}: href={value!r}"
                assert "evil.example" not in value and "/admin" not in value
    assert "Hello" in html


def test_only_the_safe_tag_set_is_produced():
    """Tags outside the allowed set are removed but their text is kept."""
    html = render_markdown("<div><span>kept</span> <u>text</u> <h1>title</h1></div>", site_links)
    assert "kept" in html and "text" in html
    for tag in ("<div", "<span", "<u>", "<h1"):
        assert tag not in html


def test_sanitised_html_is_cached_per_text():
    """Rendering the same text twice reuses the cached sanitised HTML; the resolver runs per call."""
    text = "A cached [link](lesson:cached-lesson) for the cache test."
    before = sanitised_html.cache_info().hits
    first = render_markdown(text, site_links)
    second = render_markdown(text, lambda kind, ident: f"/other/{ident}")
    assert sanitised_html.cache_info().hits == before + 1
    assert 'href="/lessons/cached-lesson"' in first
    assert 'href="/other/cached-lesson"' in second
