"""Cost of cookie consent: the filter per request, and banner injection throughput.

    python bench/consent.py [--rounds 7] [--number 20000]

Per request (µs, best of the rounds, one core, no event loop): the consent
filter's request hook plus its response hook on a typical exchange, i.e. a
Cookie header with six cookies (session, CSRF token, _ga, _gid, lang and the
gateway's consent cookie) and a response with two Set-Cookie headers, for:

- an API response of a visitor who decided (the common case);
- an HTML page of a visitor who decided (plus the settings link);
- an HTML page of a first-time visitor (plus the banner);

(the HTML fragments are reused for a page seen before; "every page a new
URL" builds them each time);
- the same API exchange without any consent cookie;
- the request of ``bench/run.py``: its policy (two categories, banner off),
  ``Cookie: sessionid=…; _ga=…`` without consent cookie, an HTML page with
  the ``sessionid`` and ``_ga`` Set-Cookie headers (``_ga`` is removed both ways).

Then the injector's throughput (MB/s, 10**6 bytes per second) on a 100 KiB
helpdesk page fed in 64 KiB and in 4 KiB chunks, and on a page without
``</body>`` (the injector searches all of it).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from aiohttp.web import BaseRequest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.consent.inject import Injector
from gateway.consent.state import ConsentState
from gateway.exchange import Exchange
from gateway.filters.cookie_consent import CookieConsent
from gateway.metrics import Metrics
from gateway.policy.schema import Policy
from gateway.routing import CompiledRoute

POLICY = Policy.model_validate({"upstream": {"url": "http://127.0.0.1:8081"}, "consent": {
    "enabled": True,
    "version": "v1",
    "keys": [{"id": "bench", "secret": "raw:a benchmark key, thirty-two bytes or more"}],
    "categories": {
        "necessary": {"cookies": [{"name": "sessionid"}, {"glob": "csrf*"}]},
        "preferences": {"cookies": [{"name": "lang"}]},
        "analytics": {"cookies": [{"glob": "_ga*"}, {"name": "_gid"}]},
        "marketing": {"cookies": [{"glob": "_fb*"}]},
    },
}})
# The consent section of bench/servers.py gateway_policy(): what bench/run.py measures under load.
SUITE_POLICY = Policy.model_validate({"upstream": {"url": "http://127.0.0.1:8081"}, "consent": {
    "enabled": True,
    "version": "bench",
    "keys": [{"id": "bench", "secret": "raw:a benchmark key, thirty-two bytes or more"}],
    "categories": {
        "necessary": {"cookies": [{"name": "sessionid"}]},
        "analytics": {"cookies": [{"glob": "_ga*"}, {"name": "_gid"}]},
    },
    "banner": {"enabled": False},
}})
SUITE_COOKIE = "sessionid=abc123def456; _ga=GA1.1.42.1700000000"  # bench/content.py REQUEST_COOKIE
SUITE_SET_COOKIES = (  # bench/content.py SET_COOKIES
    "sessionid=abc123def456; Path=/; HttpOnly; SameSite=Lax",
    "_ga=GA1.1.42.1700000000; Path=/; Max-Age=63072000",
)
SUITE_HEADERS = {  # what wrk sends (bench/measure.py)
    "Host": "127.0.0.1:8080",
    "Cookie": SUITE_COOKIE,
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
}
ROUTE = CompiledRoute("default", 1 << 20, 60.0)


class Request:
    """The parts of a request the consent filter reads."""

    def __init__(self, headers: dict[str, str], raw_path: str) -> None:
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.raw_path = raw_path


def make_exchange(path: str, headers: dict[str, str]) -> Exchange:
    request = Request(headers, path)
    ex = Exchange(
        request=cast(BaseRequest, request), method="GET", path=path.partition("?")[0], host="help.example",
        peer_ip="203.0.113.7", client_ip="203.0.113.7", route=ROUTE,
    )
    upstream: CIMultiDict[str] = CIMultiDict(request.headers)
    upstream["X-Forwarded-Proto"] = "https"
    ex.upstream_headers = upstream
    return ex

SET_COOKIES = ("sessionid=abc123; Path=/; HttpOnly; SameSite=Lax", "_ga=GA1.1.42.1700000000; Max-Age=63072000; Path=/")


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never waits (no event loop in the measurement)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the coroutine waited")


def best(fn: Callable[[], object], number: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def exchange_factory(flt: CookieConsent, cookie: str, content_type: str, *, new_pages: bool = False) -> Callable[[], Exchange]:
    pages = itertools.count()

    def make() -> Exchange:
        path = f"/tickets/{next(pages)}?tab=messages" if new_pages else "/tickets/42?tab=messages"
        ex = make_exchange(path, {"Cookie": cookie, "Accept-Language": "nb,en;q=0.8"})
        ex.response_status = 200
        headers: CIMultiDict[str] = CIMultiDict({"Content-Type": content_type})
        for value in SET_COOKIES:
            headers.add("Set-Cookie", value)
        ex.response_headers = headers
        return ex

    return make


def per_request(number: int, rounds: int) -> None:
    flt = CookieConsent(POLICY, Metrics())
    token = flt.c.codec.encode(ConsentState("abcdefghijklmnopqrstuv", "v1", {"analytics": True}, "banner"))
    base = "sessionid=abc123; csrftoken=Zm9vYmFyYmF6cXV4; _ga=GA1.1.42.1700000000; _gid=GA1.1.7.1700000000; lang=nb"
    html = "text/html; charset=utf-8"
    cases = [
        ("decided visitor, API response", f"{base}; pgw_consent={token}", "application/json", False),
        ("decided visitor, HTML page (+ settings link)", f"{base}; pgw_consent={token}", html, False),
        ("  the same, every page a new URL", f"{base}; pgw_consent={token}", html, True),
        ("first visit, HTML page (+ banner)", base, html, False),
        ("  the same, every page a new URL", base, html, True),
        ("no consent cookie, API response", base, "application/json", False),
    ]
    make_empty = exchange_factory(flt, "", "application/json")
    floor = best(make_empty, number, rounds)  # building the Exchange is not the filter's cost
    print(f"per request (request + response hook), minus {floor * 1e6:.2f} µs to build the test exchange:")
    for label, cookie, content_type, new_pages in cases:
        make = exchange_factory(flt, cookie, content_type, new_pages=new_pages)

        def one() -> None:
            ex = make()
            run(flt.on_request(ex))
            run(flt.on_response_headers(ex))

        print(f"  {label:48} {(best(one, number, rounds) - floor) * 1e6:6.2f} µs")
    suite(number, rounds)


def suite_factory(headers: dict[str, str]) -> Callable[[], Exchange]:
    def make() -> Exchange:
        ex = make_exchange("/page.html", headers)
        ex.response_status = 200
        response: CIMultiDict[str] = CIMultiDict({"Content-Type": "text/html"})
        for value in SUITE_SET_COOKIES:
            response.add("Set-Cookie", value)
        ex.response_headers = response
        return ex

    return make


def suite(number: int, rounds: int) -> None:
    """The request bench/run.py sends, under its policy: undecided visitor, banner off, HTML page."""
    flt = CookieConsent(SUITE_POLICY, Metrics())
    floor = best(suite_factory({k: v for k, v in SUITE_HEADERS.items() if k != "Cookie"}), number, rounds)
    make = suite_factory(SUITE_HEADERS)

    def one() -> None:
        ex = make()
        run(flt.on_request(ex))
        run(flt.on_response_headers(ex))

    label = "bench/run.py request (banner off, _ga removed)"
    print(f"  {label:48} {(best(one, number, rounds) - floor) * 1e6:6.2f} µs")


def helpdesk_page(size: int) -> bytes:
    head = b"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Ticket</title></head><body><main>\n"
    row = (
        b'<article class="msg"><p class="meta">Jane Doe &lt;jane@example.org&gt; - <time>10:00</time></p>'
        b"<p>The parcel has not arrived; the tracking page shows no update since Monday. "
        b'See <a href="https://tracking.example/track?id=1">tracking</a>.</p></article>\n'
    )
    tail = b"</main></body></html>\n"
    body = head + row * ((size - len(head) - len(tail)) // len(row))
    return body + b" " * (size - len(body) - len(tail)) + tail  # exactly ``size`` bytes


def throughput(page: bytes, chunk: int, number: int, rounds: int) -> float:
    pieces = [page[i : i + chunk] for i in range(0, len(page), chunk)]
    fragment = b"<div id=pgw-consent>" + b"x" * 3000 + b"</div>"

    def one() -> None:
        injector = Injector(fragment)
        for piece in pieces:
            injector.feed(piece)
        injector.finish()

    return len(page) / best(one, number, rounds) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    per_request(args.number, args.rounds)
    page = helpdesk_page(100 * 1024)
    no_body = page.replace(b"</body>", b"")
    count = max(args.number // 50, 50)
    print(f"banner injection on a {len(page) // 1024} KiB page:")
    print(f"  64 KiB chunks                {throughput(page, 64 * 1024, count, args.rounds):8.0f} MB/s")
    print(f"  4 KiB chunks                 {throughput(page, 4 * 1024, count, args.rounds):8.0f} MB/s")
    print(f"  64 KiB chunks, no </body>    {throughput(no_body, 64 * 1024, count, args.rounds):8.0f} MB/s")


if __name__ == "__main__":
    main()
