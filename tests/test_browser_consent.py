"""A real browser (headless Chromium) behind the gateway, in front of the demo helpdesk.

The demo helpdesk sets the analytics cookie ``_ga`` on every page view. The
test drives Chromium over the DevTools protocol (a websocket, with aiohttp)
and checks, in the browser's cookie jar, in ``document.cookie`` and in what
the helpdesk receives (its ``/echo`` page) that ``_ga`` is absent until the
visitor accepts in the banner, present afterwards, and gone again after the
visitor withdraws on the settings page. Once with JavaScript (the banner's
script posts in the background) and once without (the plain form and its
303). The policy is the shipped ``policies/demo.yaml``.

Chromium comes from Debian's ``chromium`` package (``scripts/install-browser.sh``).
Without it the test is skipped locally and fails when ``CI=true``. The browser
only ever talks to 127.0.0.1: every other host name resolves to nothing.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest

from tests.support import browser as browser_support
from tests.support.browser import Browser, Page, Site


def test_a_missing_browser_fails_in_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(browser_support, "CANDIDATES", ())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="scripts/install-browser.sh"):
        browser_support.chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        browser_support.chromium()


async def upstream_cookies(page: Page, base: str) -> set[str]:
    """The cookie names the helpdesk received for a top-level navigation to its /echo page."""
    await page.navigate(base + "/echo")
    headers = json.loads(await page.evaluate("document.body.innerText"))["headers"]
    cookie = dict(headers).get("Cookie", "") if isinstance(headers, list) else headers.get("Cookie", "")
    return {pair.split("=", 1)[0].strip() for pair in cookie.split(";") if pair.strip()}


async def banner_present(page: Page) -> bool:
    # DevTools may evaluate even where the page's own scripts are disabled.
    return bool(await page.evaluate("document.getElementById('pgw-consent') !== null"))


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_analytics_cookie_follows_consent_in_a_real_browser(browser: Browser, demo_site: Site, javascript: bool) -> None:
    page = await browser.new_page(javascript=javascript)
    base = demo_site.url

    # 1. First visit: the banner, no analytics cookie anywhere.
    await page.navigate(base + "/")
    assert await banner_present(page)
    assert "_ga" not in await page.jar(base)
    assert "_ga" not in await page.document_cookie()
    await page.navigate(base + "/")
    assert "_ga" not in await upstream_cookies(page, base)

    # 2. Accept in the banner.
    await page.navigate(base + "/")
    if javascript:
        await page.evaluate("window.pgwMarker = 'same page'")  # gone if the click loads a page
        upstream_before, sent_before = len(demo_site.upstream), len(browser.requests)
    await page.click("#pgw-consent button[value=accept]", navigates=not javascript)
    if javascript:
        # The script saved it in the background: no page load, the banner gone, the "saved" message shown.
        await page.wait_for("window.pgwMarker !== 'same page' || !!document.querySelector('#pgw-settings .pgw-saved')")
        assert await page.evaluate("window.pgwMarker") == "same page", "the click loaded a page"
        assert await page.evaluate("document.querySelector('#pgw-settings .pgw-saved').textContent") != ""
        assert await page.evaluate("!!document.querySelector('#pgw-settings a')")
        assert not await banner_present(page)
        # The browser fetches /favicon.ico at a time of its choosing: not a request of the script's.
        sent = [r for r in browser.requests[sent_before:] if urlsplit(r["url"]).path != "/favicon.ico"]
        assert [(r["method"], urlsplit(r["url"]).path) for r in sent] == [("POST", "/_privacy/consent")]
        assert "action=accept" in sent[0].get("postData", "").split("&")
        assert demo_site.upstream[upstream_before:] == []  # nothing, and no cookie, went to the helpdesk
    assert "pgw_consent" in await page.jar(base)
    await page.navigate(base + "/")  # the next page view: the helpdesk sets _ga, the gateway lets it through
    assert not await banner_present(page)
    assert "_ga" in await page.jar(base)
    assert "_ga" in await page.document_cookie()
    assert "pgw_consent" not in await page.document_cookie()  # HttpOnly
    assert "_ga" in await upstream_cookies(page, base)

    # 3. Withdraw: the settings link, then "Reject all" on the settings page (a plain form: 303 back).
    await page.navigate(base + "/")
    await page.click("#pgw-settings a", navigates=True)
    await page.click("#pgw-consent button[value=reject]", navigates=True)
    assert "_ga" not in await page.jar(base)
    assert "_ga" not in await page.document_cookie()
    assert "_ga" not in await upstream_cookies(page, base)
    await page.navigate(base + "/")  # the helpdesk tries again; the gateway drops it again
    assert "_ga" not in await page.jar(base)
    assert not await banner_present(page)

    violations = [e for e in browser.log if "Content Security Policy" in e.get("text", "")]
    assert violations == []
    assert not [line for line in demo_site.upstream if "object" in line]  # the script never posted to a made-up URL


async def test_the_script_reports_a_rejection_without_loading_a_page(browser: Browser, demo_site: Site) -> None:
    page = await browser.new_page()
    await page.navigate(demo_site.url + "/")
    await page.evaluate(
        "window.pgwMarker = 'same page'; window.pgwEvents = [];"
        " document.addEventListener('privacy-gateway:consent', e => window.pgwEvents.push(e.detail))"
    )
    upstream_before = len(demo_site.upstream)
    await page.click("#pgw-consent button[value=reject]", navigates=False)
    await page.wait_for("window.pgwMarker !== 'same page' || window.pgwEvents.length > 0")
    assert await page.evaluate("window.pgwMarker") == "same page"
    state = (await page.evaluate("window.pgwEvents"))[0]
    assert state["decided"] is True and state["method"] == "banner"
    assert {c["name"]: c["granted"] for c in state["categories"]}["analytics"] is False
    assert demo_site.upstream[upstream_before:] == []
    assert "pgw_consent" in await page.jar(demo_site.url)
    await page.navigate(demo_site.url + "/")
    assert not await banner_present(page)
    assert "_ga" not in await page.jar(demo_site.url)


STYLE_PROBE = """(() => {
  const style = (selector, ...names) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const computed = getComputedStyle(element);
    return Object.fromEntries(names.map(name => [name, computed.getPropertyValue(name)]));
  };
  return {
    page: style("body > p", "color"),
    root: style("#pgw-consent", "display", "position", "color", "font-size", "letter-spacing", "margin-left"),
    heading: style("#pgw-consent h2", "font-size", "color", "font-family"),
    form: style("#pgw-consent form", "display", "margin-left"),
    fieldset: style("#pgw-consent fieldset", "display", "margin-left", "border-top-style"),
    legend: style("#pgw-consent legend", "font-size", "float", "color", "font-weight", "letter-spacing", "font-family"),
    accept: style("#pgw-consent button[value=accept]", "background-color", "color", "font-size", "border-radius",
                  "font-family", "letter-spacing"),
    save: style("#pgw-consent button[value=save]", "background-color", "color"),
    settings: style("#pgw-settings a", "color", "background-color", "font-size", "font-family"),
    saved: style("#pgw-settings .pgw-saved", "color", "background-color"),
  };
})()"""
DARK, BLUE, WHITE = "rgb(26, 26, 26)", "rgb(11, 79, 156)", "rgb(255, 255, 255)"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_the_helpdesk_stylesheet_does_not_reach_the_banner(browser: Browser, demo_site: Site, javascript: bool) -> None:
    page = await browser.new_page(javascript=javascript)
    await page.navigate(demo_site.url + "/styled")
    styles = await page.evaluate(STYLE_PROBE)
    assert styles["page"] == {"color": "rgb(255, 0, 0)"}  # the hostile stylesheet is in force on the page
    assert styles["root"] == {
        "display": "block", "position": "fixed", "color": DARK, "font-size": "16px", "letter-spacing": "normal",
        "margin-left": styles["root"]["margin-left"],  # auto: centred, whatever the viewport
    }
    assert styles["heading"]["font-size"] == "19.2px" and styles["heading"]["color"] == DARK
    assert styles["heading"]["font-family"].startswith("system-ui")
    assert styles["form"] == {"display": "block", "margin-left": "0px"}
    assert styles["fieldset"] == {"display": "block", "margin-left": "0px", "border-top-style": "solid"}
    legend = styles["legend"]
    assert legend.pop("font-family").startswith("system-ui")
    assert legend == {"font-size": "16px", "float": "none", "color": DARK, "font-weight": "600", "letter-spacing": "normal"}
    accept = styles["accept"]
    assert accept.pop("font-family").startswith("system-ui")
    assert accept == {
        "background-color": BLUE, "color": WHITE, "font-size": "16px", "border-radius": "5px", "letter-spacing": "normal",
    }
    assert styles["save"] == {"background-color": WHITE, "color": BLUE}

    # After accepting: the "Cookie settings" link (and, with the script, the "saved" message) keep their looks too.
    await page.click("#pgw-consent button[value=accept]", navigates=not javascript)
    if javascript:
        await page.wait_for("!!document.querySelector('#pgw-settings .pgw-saved')")
    styles = await page.evaluate(STYLE_PROBE)
    assert styles["root"] is None
    settings = styles["settings"]
    assert settings.pop("font-family").startswith("system-ui")
    assert settings == {"color": BLUE, "background-color": WHITE, "font-size": "14px"}
    if javascript:
        assert styles["saved"] == {"color": WHITE, "background-color": DARK}
    violations = [e for e in browser.log if "Content Security Policy" in e.get("text", "")]
    assert violations == []
