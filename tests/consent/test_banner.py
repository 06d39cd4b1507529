"""The banner's HTML: accessible structure, escaping, no inline code, nonces, ASCII-safe fragments."""

from __future__ import annotations

from html.parser import HTMLParser

from gateway.consent.assets import SCRIPT, STYLESHEET
from gateway.consent.banner import banner_fragment, settings_link_fragment, settings_page, settings_url
from gateway.consent.texts import build_copies
from tests.consent.support import policy

COPIES = build_copies(policy().consent)
PREFIX = "/_privacy/consent"


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(html: bytes) -> Elements:
    parser = Elements()
    parser.feed(html.decode("ascii"))
    return parser


def banner(**kwargs: object) -> bytes:
    args: dict[str, object] = dict(
        prefix=PREFIX, choices={"analytics": True}, return_to="/tickets/1?x=1&y=<2>", gpc=False,
        privacy_url=None, script_nonce="", style_nonce="",
    )
    args.update(kwargs)
    return banner_fragment(COPIES["nb"], **args)  # type: ignore[arg-type]


def test_the_banner_is_an_accessible_form() -> None:
    doc = parse(banner())
    region = doc.find("div", id="pgw-consent")[0]
    assert region["role"] == "region" and region["aria-labelledby"] == "pgw-consent-title" and region["lang"] == "nb"
    assert doc.find("h2", id="pgw-consent-title")
    form = doc.find("form")[0]
    assert (form["method"], form["action"]) == ("post", PREFIX)
    boxes = doc.find("input", type="checkbox")
    ids = [b["id"] for b in boxes]
    assert ids == ["pgw-c-necessary", "pgw-c-preferences", "pgw-c-analytics", "pgw-c-marketing"]
    for box in boxes:
        assert doc.find("label", **{"for": str(box["id"])}), box
        described = box.get("aria-describedby")
        assert described and [a for t, a in doc.elements if a.get("id") == described]
    necessary = boxes[0]
    assert "disabled" in necessary and "checked" in necessary and "name" not in necessary
    assert "checked" in boxes[2] and "checked" not in boxes[1]
    buttons = [(b["name"], b["value"]) for b in doc.find("button")]
    assert buttons == [("action", "reject"), ("action", "accept"), ("action", "save")]
    assert doc.find("button", value="reject")[0].get("class") == doc.find("button", value="accept")[0].get("class")


def test_no_inline_code_or_style_and_same_origin_files() -> None:
    doc = parse(banner())
    for _, attrs in doc.elements:
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs)
    assert doc.find("link", rel="stylesheet")[0]["href"] == STYLESHEET.url(PREFIX)
    script = doc.find("script")[0]
    assert script["src"] == SCRIPT.url(PREFIX) and "defer" in script and "nonce" not in script


def test_nonces_and_left_out_files() -> None:
    doc = parse(banner(script_nonce="n1", style_nonce="n2"))
    assert doc.find("script")[0]["nonce"] == "n1" and doc.find("link")[0]["nonce"] == "n2"
    bare = parse(banner(script_nonce=None, style_nonce=None))
    assert not bare.find("script") and not bare.find("link") and bare.find("form")


def test_values_are_escaped_and_the_fragment_is_ascii() -> None:
    html = banner(return_to='/a?b="c"&d=<e>')
    assert html.isascii()
    assert b'value="/a?b=&quot;c&quot;&amp;d=&lt;e&gt;"' in html
    assert b"Godta alle" in html and b"p&#229;" in html  # "på" as a character reference
    doc = parse(html)
    assert doc.find("input", name="return")[0]["value"] == '/a?b="c"&d=<e>'
    assert doc.find("input", name="lang")[0]["value"] == "nb"


def test_gpc_note_and_privacy_link() -> None:
    doc = parse(banner(gpc=True, privacy_url="/privacy?a=1"))
    assert doc.find("p", **{"class": "pgw-note"})
    assert doc.find("a", href="/privacy?a=1")
    assert not parse(banner()).find("p", **{"class": "pgw-note"})


def test_data_attributes_feed_the_script() -> None:
    region = parse(banner()).find("div", id="pgw-consent")[0]
    assert region["data-settings-url"] == settings_url(PREFIX, "/tickets/1?x=1&y=<2>")
    assert region["data-settings-label"] == COPIES["nb"].ui["settings"]
    assert region["data-saved-label"] == COPIES["nb"].ui["saved"]


def test_settings_url_keeps_the_return_path_in_one_parameter() -> None:
    assert settings_url(PREFIX, "/a?b=1&c=2") == f"{PREFIX}/settings?return=/a%3Fb%3D1%26c%3D2"


def test_settings_link() -> None:
    html = settings_link_fragment(COPIES["en"], prefix=PREFIX, return_to="/x", style_nonce="")
    doc = parse(html)
    assert doc.find("a")[0]["href"] == settings_url(PREFIX, "/x")
    assert doc.find("link", rel="stylesheet") and b"Cookie settings" in html
    assert not parse(settings_link_fragment(COPIES["en"], prefix=PREFIX, return_to="/", style_nonce=None)).find("link")


def test_settings_page_is_a_whole_document_with_the_current_choices() -> None:
    html = settings_page(
        COPIES["en"], prefix=PREFIX, choices={"preferences": True}, return_to="/back", gpc=True, privacy_url=None
    )
    text = html.decode("utf-8")
    assert text.startswith("<!doctype html><html lang=\"en\">")
    doc = parse(html.decode("utf-8").encode("ascii", "xmlcharrefreplace"))
    assert doc.find("h1", id="pgw-consent-title") and doc.find("main", id="pgw-consent")
    assert "checked" in doc.find("input", value="preferences")[0]
    assert "checked" not in doc.find("input", value="analytics")[0]
    assert doc.find("a", href="/back") and doc.find("p", **{"class": "pgw-note"})
    assert not doc.find("script")
