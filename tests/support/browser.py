"""Headless Chromium driven over the DevTools protocol, and the demo helpdesk behind the gateway for it.

Chromium comes from Debian's ``chromium`` package (``scripts/install-browser.sh``).
Without it a browser test is skipped locally and fails when ``CI=true``. The
browser only ever talks to 127.0.0.1: every other host name resolves to nothing.
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

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.demo.helpdesk import CSP, make_app
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.server import Gateway

POLICIES = Path(__file__).resolve().parent.parent.parent / "policies"
TIMEOUT = 20.0
CANDIDATES = ("/usr/bin/chromium",)


def chromium() -> str:
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
    binary = chromium()
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
async def demo_site(tmp_path: Path) -> AsyncIterator[Site]:
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
    del doc["anonymisation"]["schedules"]  # no retention run: it would go to the demo's port 8081, outside the test
    loaded = load_policy_text(yaml.safe_dump(doc, sort_keys=False), "demo.yaml", base_dir=POLICIES)
    gateway = Gateway(loaded, Metrics())
    await gateway.start(watch=False)
    try:
        yield Site(f"http://127.0.0.1:{gateway.public_port}", received)
    finally:
        await gateway.stop()
        await helpdesk.cleanup()
