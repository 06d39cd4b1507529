"""A real django-helpdesk for integration tests: migrated, seeded and served by gunicorn on loopback.

``django_helpdesk`` (session-scoped) starts one for the whole run::

    def test_x(django_helpdesk: Helpdesk) -> None:
        django_helpdesk.url          # http://127.0.0.1:PORT (the upstream of a gateway)
        django_helpdesk.prefix       # /helpdesk/
        django_helpdesk.staff_user, django_helpdesk.staff_password, django_helpdesk.queue_id
        django_helpdesk.staff_token  # the staff user's REST framework token (Authorization: Token ...)
        django_helpdesk.mails()      # the mails it sent, oldest first (email.message.Message)

``helpdesk_gateway`` starts the real gateway with policies/django-helpdesk.yaml
in front of it, and ``helpdesk_visitors`` makes browsers that talk to it from
an address (X-Forwarded-For; the policy trusts 127.0.0.1 as a proxy)::

    async def test_y(helpdesk_gateway, helpdesk_visitors) -> None:
        gateway = await helpdesk_gateway()              # or (links={"ttl": "1h"}): merged into the policy
        customer = helpdesk_visitors(gateway, OUTSIDE)
        response, body = await customer.get("/helpdesk/tickets/submit/")
        form = form_with(body.decode(), "submitter_email")   # what a browser would post, CSRF token included
        response, body = await customer.submit(form, "/helpdesk/tickets/submit/", {...}, {"attachment": (...)})

``start_helpdesk(data_dir)`` starts another helpdesk (a context manager), for a
test that needs its own database or settings (``env`` reaches settings.py);
``helpdesk_policy(helpdesk, tmp_dir)`` writes the policy pointed at any helpdesk.

The project is tests/support/django_helpdesk/: SQLite, media and mail files
under the data directory, helpdesk at /helpdesk/, Django's admin at /admin/.
"""

from __future__ import annotations

import base64
import email
import email.message
import importlib.util
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway

OFFICE = "192.0.2.10"  # in the policy's office list
OUTSIDE = "203.0.113.50"
ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "django-helpdesk.yaml"
SETTINGS = "tests.support.django_helpdesk.settings"
START_TIMEOUT = 60.0
SEED_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
# The consent and link keys the policy takes from the environment (${...}): fresh for each run.
POLICY_ENV = {
    "HELPDESK_CONSENT_KEY": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "HELPDESK_LINK_KEY": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "HELPDESK_LEGAL_KEY": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode(),
}


@dataclass
class Helpdesk:
    url: str
    data_dir: Path
    staff_user: str
    staff_password: str
    staff_token: str
    queue_id: int
    queue_slug: str
    log_path: Path
    prefix: str = "/helpdesk/"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def mails(self) -> list[email.message.Message]:
        """Every mail the helpdesk has sent so far (one file per message), oldest first."""
        if not self.mail_dir.is_dir():
            return []
        found: list[email.message.Message] = []
        for path in sorted(self.mail_dir.iterdir(), key=lambda p: (p.stat().st_mtime_ns, p.name)):
            # The file backend writes messages separated by a line of dashes.
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk))
        return found

    def log(self) -> str:
        """gunicorn's and Django's output so far (errors with tracebacks land here)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _env(data_dir: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HELPDESK_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE=SETTINGS,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra or {})
    return env


# Straight to loopback, whatever http_proxy says.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answering(url: str) -> bool:
    try:
        with DIRECT.open(url, timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def start_helpdesk(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[Helpdesk]:
    """Migrate and seed a helpdesk in ``data_dir``, serve it on a free loopback port, stop it on exit."""
    for module in ("helpdesk", "gunicorn"):  # the test extra installs both
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"{module} is not installed: pip install -e '.[test]'")
    data_dir.mkdir(parents=True, exist_ok=True)
    environ = _env(data_dir, env)
    user, password, slug = "agent", secrets.token_urlsafe(12), "support"
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.support.django_helpdesk.seed", user, password, slug],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=SEED_TIMEOUT,
    )
    if seeded.returncode != 0:
        pytest.fail(f"django-helpdesk: migrate/seed failed:\n{seeded.stdout}{seeded.stderr}")
    queue_id, token = seeded.stdout.strip().splitlines()[-1].split()

    log_path = data_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        # Port 0: gunicorn binds a free port and names it in its log, so two runs never race for one.
        # Keep-alive above the gateway's 30 s idle time, so the helpdesk never closes a pooled connection first.
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
                "--worker-class", "gthread", "--threads", "4", "--keep-alive", "120", "--timeout", "60",
                "--graceful-timeout", "5", "--no-control-socket", "--error-logfile", "-",
                "tests.support.django_helpdesk.wsgi:application",
            ],
            cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    helpdesk = Helpdesk(
        url="", data_dir=data_dir, staff_user=user, staff_password=password, staff_token=token,
        queue_id=int(queue_id), queue_slug=slug, log_path=log_path, process=process,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"django-helpdesk: gunicorn exited with {process.returncode}:\n{helpdesk.log()}")
            if not helpdesk.url and (found := re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", helpdesk.log())):
                helpdesk.url = found.group(1)
            if helpdesk.url and _answering(helpdesk.url + helpdesk.prefix):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"django-helpdesk: not answering after {START_TIMEOUT:.0f}s:\n{helpdesk.log()}")
            time.sleep(0.1)
        yield helpdesk
    finally:
        _stop(process)


def _die_with_parent() -> None:
    """Linux: gunicorn gets SIGTERM if the test run dies without tearing the fixture down."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its worker
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


@pytest.fixture(scope="session")
def django_helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Helpdesk]:
    """One django-helpdesk for the whole run; tests share its database, so they make their own tickets."""
    with start_helpdesk(tmp_path_factory.mktemp("django-helpdesk")) as helpdesk:
        yield helpdesk


def helpdesk_policy(helpdesk: Helpdesk, tmp_dir: Path, **overrides: Any) -> Path:
    """policies/django-helpdesk.yaml in front of ``helpdesk``: free ports, a store in ``tmp_dir``.

    Set the environment from ``POLICY_ENV`` (monkeypatch.setenv) before loading it.
    ``overrides`` are merged into the document, e.g. ``logging={"access_log": True}``.
    """
    doc = yaml.safe_load(POLICY.read_text())
    doc["listen"] = {"host": "127.0.0.1", "port": 0}
    doc["admin"] = {"host": "127.0.0.1", "port": 0}
    doc["upstream"]["url"] = helpdesk.url
    doc["store"] = {"url": f"sqlite:///{tmp_dir / 'gateway-state.sqlite3'}"}
    doc["logging"] = {"access_log": False}
    for key, value in overrides.items():
        doc[key] = {**doc[key], **value} if isinstance(value, dict) and isinstance(doc.get(key), dict) else value
    path = tmp_dir / "django-helpdesk.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


StartHelpdeskGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def helpdesk_gateway(
    django_helpdesk: Helpdesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StartHelpdeskGateway]:
    """Start the real gateway with policies/django-helpdesk.yaml in front of ``django_helpdesk``.

    Call it with policy overrides (merged per top-level section); the gateway
    has ``base_url``; it stops at the end of the test.
    """
    for name, value in POLICY_ENV.items():
        monkeypatch.setenv(name, value)
    started: list[Gateway] = []

    async def start(**overrides: Any) -> Gateway:
        directory = tmp_path / f"gateway-{len(started)}"
        directory.mkdir()
        path = helpdesk_policy(django_helpdesk, directory, **overrides)
        gateway = Gateway(load_policy(path), Metrics(), policy_path=path)
        await gateway.start()
        gateway.base_url = f"http://127.0.0.1:{gateway.public_port}"  # type: ignore[attr-defined]
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


@dataclass
class Visitor:
    """A browser at one address: its own cookie jar, every request sent through the gateway."""

    session: aiohttp.ClientSession
    base: str
    address: str

    async def get(self, path: str, **kwargs: Any) -> tuple[aiohttp.ClientResponse, bytes]:
        return await self.request("GET", path, **kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[aiohttp.ClientResponse, bytes]:
        """One request (redirects followed unless ``allow_redirects=False``); the response and its whole body."""
        headers = {"X-Forwarded-For": self.address, **kwargs.pop("headers", {})}
        async with self.session.request(method, self.base + path, headers=headers, **kwargs) as response:
            return response, await response.read()

    async def submit(
        self, form: Form, page_path: str, fields: dict[str, str],
        files: dict[str, tuple[str, bytes, str]] | None = None, **kwargs: Any,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """Post ``form`` (found on ``page_path``) as a browser would: its own fields, then ``fields``.

        ``files`` maps a file input to (file name, content, content type).
        """
        values = {**form.fields, **fields}
        action = form.action or page_path
        if form.enctype == "multipart/form-data" or files:
            data = aiohttp.FormData()
            for name, value in values.items():
                data.add_field(name, value)
            for name, (filename, content, content_type) in (files or {}).items():
                data.add_field(name, content, filename=filename, content_type=content_type)
            return await self.request(form.method, action, data=data, **kwargs)
        return await self.request(form.method, action, data=values, **kwargs)

    def cookie(self, name: str) -> str | None:
        """The value of a cookie in this browser's jar, if it holds one."""
        for morsel in self.session.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None


MakeVisitor = Callable[[Gateway, str], Visitor]


@pytest.fixture
async def helpdesk_visitors() -> AsyncIterator[MakeVisitor]:
    """``make(gateway, address)``: a new browser at ``address``; all are closed at the end of the test."""
    sessions: list[aiohttp.ClientSession] = []

    def make(gateway: Gateway, address: str) -> Visitor:
        # unsafe: the jar keeps the cookies of an IP-address host (127.0.0.1).
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
        )
        sessions.append(session)
        return Visitor(session, gateway.base_url, address)  # type: ignore[attr-defined]

    yield make
    for session in sessions:
        await session.close()


def set_cookie_names(response: aiohttp.ClientResponse) -> set[str]:
    """Names of the cookies a response set, over every redirect it followed."""
    names: set[str] = set()
    for hop in (*response.history, response):
        for value in hop.headers.getall("Set-Cookie", []):
            names.add(value.split("=", 1)[0].strip())
    return names


def seen_cookies(response: aiohttp.ClientResponse) -> set[str]:
    """The cookies the helpdesk received (the test project's X-Seen-Cookies header)."""
    return set(filter(None, response.headers.get("X-Seen-Cookies", "").split(",")))


def attachment_links(page: str) -> dict[str, str]:
    """File name -> download path of the attachments a helpdesk page links."""
    return {
        path.rsplit("/", 1)[1]: path
        for path in re.findall(r"""href=['"](/media/helpdesk/attachments/[^'"]+)['"]""", page)
    }


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, str]
    files: list[str]
    attrs: dict[str, str]


class _FormParser(HTMLParser):
    """The forms of a page with what a browser would submit without user input."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._option: dict[str, str | None] | None = None
        self._option_text = ""
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self._form = Form(
                action=attrs.get("action", ""), method=attrs.get("method", "get").upper(),
                enctype=attrs.get("enctype", "application/x-www-form-urlencoded"), fields={}, files=[], attrs=attrs,
            )
            self.forms.append(self._form)
        if self._form is None or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text").lower()
            if kind == "file":
                self._form.files.append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._form.fields[name] = attrs.get("value", "on")
            elif kind not in ("submit", "button", "image", "reset"):
                self._form.fields[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "selected": "selected" if "selected" in attrs else None}
            self._option_text = ""
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text += data
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None and self._form is not None and self._select is not None:
            value = self._option["value"]
            value = self._option_text.strip() if value is None else value
            if self._select_first is None:
                self._select_first = value
            if self._option["selected"] and not self._select_chosen:
                self._form.fields[self._select] = value
                self._select_chosen = True
            self._option = None
        elif tag == "select" and self._select is not None and self._form is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields[self._select] = self._select_first
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields[self._textarea] = self._text.removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._form = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def form_with(html: str, field_name: str) -> Form:
    """The first form of ``html`` that has a field (or file input) named ``field_name``."""
    for form in forms(html):
        if field_name in form.fields or field_name in form.files:
            return form
    raise AssertionError(f"no form with a field {field_name!r} in the page")


_CONSENT_BOX = re.compile(r'<input type="checkbox" name="privacy_consent" value="([0-9a-f]{16})" required>')


def consent_value(html: str) -> str:
    """The value of the consent checkbox the gateway injected into the public form (policies/django-helpdesk.yaml)."""
    found = _CONSENT_BOX.search(html)
    assert found is not None, "no consent checkbox in the form"
    return found.group(1)
