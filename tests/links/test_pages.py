"""Pages of the redirect endpoint: hostile URLs are shown, never executed."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from gateway.lib.keyring import KeyRing
from gateway.links import pages
from gateway.links.signing import LinkSigner

ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "p", "strong", "code", "a"}


class Page(HTMLParser):
    """What a browser would build from the page: tags, attributes, text per element."""

    def __init__(self, data: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(data.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag != "meta":
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self._open and self._open[-1] == tag, (tag, self._open)
        self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)

    def links(self) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == "a"]


HOSTILE = [
    "https://example.org/docs?a=1&b=2",
    'https://example.org/"><script>alert(1)</script>',
    "https://example.org/?q=<script>alert('x')</script>",
    "https://example.org/#\" onmouseover=\"alert(1)",
    "https://example.org/?x=' onfocus='alert(1)' autofocus='",
    "https://example.org/?next=javascript:alert(document.cookie)",
    "https://example.org/javascript:alert(1)",
    "https://example.org/?a=&amp;&lt;b&gt;&#x27;",
    "https://example.org/</code></p><img src=x onerror=alert(1)>",
    "https://example.org/<!--",
    "https://example.org/]]></style><script>",
    "https://user:pa'ss@example.org:8443/p",
    'https://exa"mple<b>.org/',  # a host that is not one: shown as text all the same
]


@pytest.mark.parametrize("url", HOSTILE)
def test_the_interstitial_shows_a_hostile_url_as_text_and_links_to_it_exactly(url: str) -> None:
    body = pages.interstitial(url)
    page = Page(body)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert [tag for tag, _ in page.tags].count("a") == 1
    (link,) = page.links()
    assert link == {"class": "go", "href": url, "rel": "noopener noreferrer"}  # no injected attribute
    assert "".join(page.text["code"]) == url
    assert all(attrs.keys() <= {"charset", "name", "content", "lang", "class", "href", "rel"} for _, attrs in page.tags)
    assert b"<script" not in body.lower()


@pytest.mark.parametrize("url", HOSTILE)
def test_the_interstitial_names_the_host(url: str) -> None:
    page = Page(pages.interstitial(url))
    strong = "".join(page.text["strong"])
    a_text = "".join(page.text["a"])
    assert a_text == f"Continue to {strong}"
    assert strong in url.lower()
    if url.startswith("https://example.org/"):
        assert strong == "example.org"


def test_the_continue_link_is_exactly_escaped() -> None:
    body = pages.interstitial('https://example.org/?a=1&b="2"&c=<3>\'')
    assert b'href="https://example.org/?a=1&amp;b=&quot;2&quot;&amp;c=&lt;3&gt;&#x27;"' in body


def test_a_javascript_url_can_never_reach_the_interstitial() -> None:
    # The endpoint only shows URLs from a verified token, and only http(s) URLs are signed.
    signer = LinkSigner(KeyRing.from_config([("k1", "raw:" + "k" * 40)], "k1"), ttl=60)
    for url in ["javascript:alert(1)", "JavaScript://example.org/%0aalert(1)", "data:text/html,<script>", " https://example.org/"]:
        with pytest.raises(ValueError):
            signer.sign(url)


@pytest.mark.parametrize("make", [pages.expired, pages.refused, pages.unavailable, lambda: pages.interstitial("https://example.org/")])
def test_pages_load_nothing_and_send_no_referrer(make: object) -> None:
    body = make()  # type: ignore[operator]
    assert isinstance(body, bytes)
    page = Page(body)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    metas = [attrs for tag, attrs in page.tags if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    assert {"name": "referrer", "content": "no-referrer"} in metas
    assert not any("src" in attrs for _, attrs in page.tags)
    assert b"<script" not in body and b"url(" not in body and b"@import" not in body
    assert page.text["title"] == page.text["h1"]


def test_the_pages_say_what_happened() -> None:
    assert "".join(Page(pages.expired()).text["h1"]) == "This link has expired"
    assert "".join(Page(pages.refused()).text["h1"]) == "This link is not valid"
    assert "".join(Page(pages.unavailable()).text["h1"]) == "Please try again"
    assert "".join(Page(pages.interstitial("https://example.org/")).text["h1"]) == "You are leaving the help centre"


def _csp() -> dict[str, list[str]]:
    headers = dict(pages.SECURITY_HEADERS)
    directives: dict[str, list[str]] = {}
    for part in headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        assert name not in directives
        directives[name] = values
    return directives


def test_security_headers() -> None:
    names = [name.lower() for name, _ in pages.SECURITY_HEADERS]
    assert len(names) == len(set(names))
    headers = dict(pages.SECURITY_HEADERS)
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "noindex" in headers["X-Robots-Tag"]


def test_the_csp_allows_nothing_but_the_inline_style() -> None:
    csp = _csp()
    assert csp["default-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    assert csp["style-src"] == ["'unsafe-inline'"]
    assert not {"script-src", "script-src-elem", "script-src-attr", "img-src", "connect-src", "frame-src"} & csp.keys()
    assert not any("unsafe-eval" in v or "*" in v or "data:" in v for values in csp.values() for v in values)
