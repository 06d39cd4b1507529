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

import asyncio
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.demo.helpdesk import CSP, make_app
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.server import Gateway

POLICIES = Path(__file__).resolve().parent.parent / "policies"
TIMEOUT = 20.0
CANDIDATES = ("/usr/bin/chromium",)


def _chromium() -> str:
    found = shutil.which("chromium") or next((c for c in CANDIDATES if Path(c).exists()), None)
    if found is None:
        message = "headless Chromium is not installed (run scripts/install-browser.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


class Page:
    """One tab, driven over a flattened DevTools session."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, session=self.session, **params)

    async def navigate(self, url: str) -> None:
        loaded = self.browser.expect("Page.loadEventFired", self.session)
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(loaded, TIMEOUT)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def click(self, selector: str, *, navigates: bool) -> None:
        """A real mouse click in the middle of the element."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        assert box is not None, f"nothing matches {selector!r}"
        loaded = self.browser.expect("Page.loadEventFired", self.session) if navigates else None
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        if loaded is not None:
            await asyncio.wait_for(loaded, TIMEOUT)

    async def wait_for(self, expression: str) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not await self.evaluate(expression):
                await asyncio.sleep(0.05)

    async def jar(self, url: str) -> set[str]:
        """Names of the cookies the browser holds for ``url`` (HttpOnly included)."""
        return {c["name"] for c in (await self.send("Network.getCookies", urls=[url]))["cookies"]}

    async def document_cookie(self) -> set[str]:
        text = await self.evaluate("document.cookie")
        return {pair.split("=", 1)[0].strip() for pair in text.split(";") if pair.strip()}


class Browser:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.waiters: list[tuple[str, str | None, asyncio.Future[dict[str, Any]]]] = []
        self.log: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # every request a page sent (Network.requestWillBeSent)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            doc = json.loads(message.data)
            if "id" in doc:
                future = self.pending.pop(doc["id"], None)
                if future is not None and not future.done():
                    if "error" in doc:
                        future.set_exception(AssertionError(f"DevTools error: {doc['error']}"))
                    else:
                        future.set_result(doc.get("result", {}))
                continue
            if doc.get("method") == "Log.entryAdded":
                self.log.append(doc["params"]["entry"])
            elif doc.get("method") == "Network.requestWillBeSent":
                self.requests.append(doc["params"]["request"])
            for waiter in list(self.waiters):
                method, session, future = waiter
                if doc.get("method") == method and session in (None, doc.get("sessionId")) and not future.done():
                    future.set_result(doc.get("params", {}))
                    self.waiters.remove(waiter)

    def expect(self, method: str, session: str | None) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters.append((method, session, future))
        return future

    async def send(self, method: str, *, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, TIMEOUT)

    async def new_page(self, *, javascript: bool = True) -> Page:
        context = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = (await self.send("Target.createTarget", url="about:blank", browserContextId=context))["targetId"]
        session = (await self.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        if not javascript:
            await page.send("Emulation.setScriptExecutionDisabled", value=True)
        return page


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    binary = _chromium()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    process = subprocess.Popen(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        async with asyncio.timeout(TIMEOUT):
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                assert process.poll() is None, f"Chromium exited with status {process.returncode}"
                await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws:
                client = Browser(ws)
                try:
                    yield client
                finally:
                    client.reader.cancel()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# A helpdesk stylesheet at its most hostile: what Bootstrap does to a legend, plus
# an author rule with !important on every element.
AGGRESSIVE_CSS = """\
html{font-size:10px}
legend{font-size:24px;float:left;width:100%;padding:0;margin-bottom:.5rem;line-height:inherit}
*{color:red !important;font-family:serif !important;letter-spacing:3px !important}
button{background:yellow;border:0;font-size:30px;border-radius:0}
fieldset,div,form{display:inline;margin:40px;border:0}
"""


@dataclass
class Site:
    url: str
    upstream: list[str] = field(default_factory=list)  # "METHOD /path" of the requests the helpdesk received


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The demo helpdesk behind the gateway, with the shipped demo policy (ports and store changed).

    The helpdesk also serves ``/styled``, a page under ``AGGRESSIVE_CSS``, and
    records every request it receives.
    """
    received: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/favicon.ico":  # the browser's own, at a time of its choosing
            received.append(f"{request.method} {request.path}")
        return await handler(request)

    async def styled(request: web.Request) -> web.Response:
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Styled</title>'
            '<link rel="stylesheet" href="/static/aggressive.css"></head><body><p>A hostile stylesheet.</p></body></html>'
        )
        return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": CSP})

    async def aggressive(request: web.Request) -> web.Response:
        return web.Response(text=AGGRESSIVE_CSS, content_type="text/css")

    app = make_app()
    app.middlewares.append(record)
    app.router.add_get("/styled", styled)
    app.router.add_get("/static/aggressive.css", aggressive)
    helpdesk = web.AppRunner(app, access_log=None)
    await helpdesk.setup()
    await web.TCPSite(helpdesk, "127.0.0.1", 0).start()
    doc = yaml.safe_load((POLICIES / "demo.yaml").read_text())
    doc["listen"] = {"host": "127.0.0.1", "port": 0}
    doc["admin"] = {"host": "127.0.0.1", "port": 0}
    doc["upstream"]["url"] = f"http://127.0.0.1:{helpdesk.addresses[0][1]}"
    doc["store"] = {"url": f"sqlite:///{tmp_path / 'state.sqlite3'}"}
    doc["logging"]["access_log"] = False
    doc["notifications"]["smtp"]["listen"]["port"] = 0  # the demo's relay and egress listener, on free ports
    doc["notifications"]["egress"]["listen"]["port"] = 0
    loaded = load_policy_text(yaml.safe_dump(doc, sort_keys=False), "demo.yaml", base_dir=POLICIES)
    gateway = Gateway(loaded, Metrics())
    await gateway.start(watch=False)
    try:
        yield Site(f"http://127.0.0.1:{gateway.public_port}", received)
    finally:
        await gateway.stop()
        await helpdesk.cleanup()


def test_a_missing_browser_fails_in_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(f"{__name__}.CANDIDATES", ())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="scripts/install-browser.sh"):
        _chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _chromium()


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
async def test_analytics_cookie_follows_consent_in_a_real_browser(browser: Browser, site: Site, javascript: bool) -> None:
    page = await browser.new_page(javascript=javascript)
    base = site.url

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
        upstream_before, sent_before = len(site.upstream), len(browser.requests)
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
        assert site.upstream[upstream_before:] == []  # nothing, and no cookie, went to the helpdesk
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
    assert not [line for line in site.upstream if "object" in line]  # the script never posted to a made-up URL


async def test_the_script_reports_a_rejection_without_loading_a_page(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await page.navigate(site.url + "/")
    await page.evaluate(
        "window.pgwMarker = 'same page'; window.pgwEvents = [];"
        " document.addEventListener('privacy-gateway:consent', e => window.pgwEvents.push(e.detail))"
    )
    upstream_before = len(site.upstream)
    await page.click("#pgw-consent button[value=reject]", navigates=False)
    await page.wait_for("window.pgwMarker !== 'same page' || window.pgwEvents.length > 0")
    assert await page.evaluate("window.pgwMarker") == "same page"
    state = (await page.evaluate("window.pgwEvents"))[0]
    assert state["decided"] is True and state["method"] == "banner"
    assert {c["name"]: c["granted"] for c in state["categories"]}["analytics"] is False
    assert site.upstream[upstream_before:] == []
    assert "pgw_consent" in await page.jar(site.url)
    await page.navigate(site.url + "/")
    assert not await banner_present(page)
    assert "_ga" not in await page.jar(site.url)


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
async def test_the_helpdesk_stylesheet_does_not_reach_the_banner(browser: Browser, site: Site, javascript: bool) -> None:
    page = await browser.new_page(javascript=javascript)
    await page.navigate(site.url + "/styled")
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
