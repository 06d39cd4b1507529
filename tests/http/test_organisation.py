"""The controller's block: escaped, CSP-neutral, the same on the consent settings page and the link interstitial."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.http.organisation import LABELS, mailto, organisation_block
from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.policy.organisation import Organisation
from tests.conftest import StartGateway

KEY = "raw:" + "organisation-test-key-of-forty-bytes-000"
HOSTILE: dict[str, Any] = {
    "name": "Acme <AS> & \"Co\"",
    "dpo": {
        "name": "Ola O'Brien <script>alert(1)</script>",
        "email": "dpo&x?y=1#z@acme.example",
        "phone": "+47 00 00 00 00",
        "address": "Gate 1 <b>\n\n0000 By & Land",
    },
    "privacy_notice_url": '/privacy?a=1&b="x"',
}


class Tree(HTMLParser):
    """Tags with their attributes, and the text under each open element (for the block: under aside)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.aside_text: list[str] = []
        self._depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "aside":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "aside":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.aside_text.append(data)

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def test_nothing_without_an_organisation() -> None:
    assert organisation_block(None) == ""
    assert organisation_block(None, "nb") == ""


def test_every_value_is_escaped_and_links_are_exact() -> None:
    html = organisation_block(Organisation.model_validate(HOSTILE))
    assert "<script" not in html and "<b>" not in html
    tree = Tree(html)
    assert {tag for tag, _ in tree.tags} == {"aside", "p", "strong", "br", "a"}
    text = "".join(tree.aside_text)
    assert "Controller: Acme <AS> & \"Co\"" in text
    assert "Data protection officer: Ola O'Brien <script>alert(1)</script>" in text
    assert "E-mail: dpo&x?y=1#z@acme.example" in text
    assert "Phone: +47 00 00 00 00" in text
    assert "Address: Gate 1 <b>, 0000 By & Land" in text
    links = [attrs["href"] for attrs in tree.find("a")]
    assert links == ["mailto:dpo%26x%3Fy%3D1%23z@acme.example", '/privacy?a=1&b="x"']
    assert tree.find("aside") == [{"class": "pgw-org", "aria-label": LABELS["en"]["region"]}]


def test_no_inline_style_or_script_so_any_csp_allows_it() -> None:
    html = organisation_block(Organisation.model_validate(HOSTILE))
    for _, attrs in Tree(html).tags:
        assert not {"style", "nonce", "src"} & attrs.keys()
        assert not any(name.startswith("on") for name in attrs)
    assert "<style" not in html


def test_only_what_is_given() -> None:
    tree = Tree(organisation_block(Organisation.model_validate({"name": "Acme AS"})))
    assert "".join(tree.aside_text) == "Controller: Acme AS"
    assert not tree.find("a")
    only_email = Organisation.model_validate({"name": "Acme AS", "dpo": {"email": "dpo@acme.example"}})
    tree = Tree(organisation_block(only_email))
    assert "".join(tree.aside_text) == "Controller: Acme ASData protection officerE-mail: dpo@acme.example"
    assert [a["href"] for a in tree.find("a")] == ["mailto:dpo@acme.example"]


def test_languages() -> None:
    organisation = Organisation.model_validate(HOSTILE)
    norwegian = "".join(Tree(organisation_block(organisation, "nb")).aside_text)
    assert "Behandlingsansvarlig: Acme" in norwegian and "Personvernombud: Ola" in norwegian
    assert "Personvernerkl\u00e6ring" in norwegian
    assert organisation_block(organisation, "de") == organisation_block(organisation, "en")  # no labels: English


@pytest.mark.parametrize(
    ("email", "url"),
    [("dpo@acme.example", "mailto:dpo@acme.example"), ("dpo+help@acme.example", "mailto:dpo+help@acme.example"),
     ("a%b@acme.example", "mailto:a%25b@acme.example"), ("a&b@acme.example", "mailto:a%26b@acme.example")],
)
def test_mailto(email: str, url: str) -> None:
    assert mailto(email) == url


# --- through the real gateway ---------------------------------------------------------------


def pages_policy(tmp_path: Path, organisation: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "consent": {"enabled": True, "keys": [{"id": "k1", "secret": KEY}],
                    "categories": {"necessary": {"cookies": [{"name": "sessionid"}]}}},
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": KEY}]},
        "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
    }
    if organisation is not None:
        doc["organisation"] = organisation
    return doc


async def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, allow_redirects=False, headers=headers) as response:
            return response.status, dict(response.headers), await response.text()


async def gateway_pages(start_gateway: StartGateway, tmp_path: Path, organisation: dict[str, Any] | None,
                        **headers: str) -> dict[str, tuple[dict[str, str], str]]:
    gw = await start_gateway(pages_policy(tmp_path, organisation))
    base: str = gw.base_url  # type: ignore[attr-defined]
    token = LinkSigner(KeyRing.from_config([("k1", KEY)], "k1"), ttl=3600).sign("https://example.org/docs")
    out = {}
    for name, path in (("settings", "/_privacy/consent/settings"), ("interstitial", f"/_l/{token}")):
        status, response_headers, body = await fetch(base + path, **headers)
        assert status == 200, (name, body)
        out[name] = (response_headers, body)
    return out


async def test_the_gateway_pages_show_the_block_escaped(start_gateway: StartGateway, tmp_path: Path) -> None:
    pages = await gateway_pages(start_gateway, tmp_path, HOSTILE)
    expected = organisation_block(Organisation.model_validate(HOSTILE))
    for name, (headers, body) in pages.items():
        assert body.count('<aside class="pgw-org"') == 1, name
        assert expected in body, name  # one rendering, both pages
        assert "Acme &lt;AS&gt; &amp; &quot;Co&quot;" in body and "<script>alert" not in body, name
        assert 'href="mailto:dpo%26x%3Fy%3D1%23z@acme.example"' in body, name
    # The pages' CSPs are what they were: the block needs nothing from them.
    assert pages["settings"][0]["Content-Security-Policy"].startswith("default-src 'none'; style-src 'self';")
    assert "script-src" not in pages["interstitial"][0]["Content-Security-Policy"]
    # The settings page's block follows the visitor's language.
    (tmp_path / "nb").mkdir()
    norwegian = await gateway_pages(start_gateway, tmp_path / "nb", HOSTILE, **{"Accept-Language": "nb"})
    assert "Behandlingsansvarlig: <strong>Acme" in norwegian["settings"][1]
    assert "Controller: <strong>Acme" in norwegian["interstitial"][1]  # the interstitial is in English


async def test_no_block_without_an_organisation(start_gateway: StartGateway, tmp_path: Path) -> None:
    pages = await gateway_pages(start_gateway, tmp_path, None)
    for name, (_, body) in pages.items():
        assert "<aside" not in body and "Controller" not in body and "mailto:" not in body, name
