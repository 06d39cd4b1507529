"""The filter chain: phase order, short-circuit, the error boundary, body rewriter chaining."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aiohttp.web import BaseRequest

from gateway.chain import FILTER_FAILED, Chain, FilterError, RejectBody, RewriteError, finish, rewrite
from gateway.exchange import BodyRewriter, Exchange, LocalReply
from gateway.filters.base import Filter
from gateway.filters.firewall import Firewall
from gateway.metrics import Metrics
from gateway.routing import CompiledRoute
from tests.support.policy import make_policy

POLICY = make_policy()


def make_exchange(client_ip: str = "203.0.113.7", path: str = "/") -> Exchange:
    return Exchange(
        request=cast(BaseRequest, None),  # no filter here touches the request
        method="GET",
        path=path,
        host="helpdesk.example",
        peer_ip=client_ip,
        client_ip=client_ip,
        route=CompiledRoute("default", 1 << 20, 60.0),
    )


class Boom(Exception):
    pass


class Probe(Filter):
    """A filter that records its calls and misbehaves on demand."""

    name = "probe"

    def __init__(
        self,
        metrics: Metrics,
        calls: list[str],
        *,
        reply: LocalReply | None = None,
        fail: str | None = None,
        wants: bool = False,
        suffix: bytes = b"",
        rewriter: BodyRewriter | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(POLICY, metrics)
        self.calls = calls
        self.reply = reply
        self.fail = fail
        self.wants = wants
        self.suffix = suffix
        self.rewriter = rewriter
        self.error = error if error is not None else Boom("filter bug")

    def _enter(self, phase: str) -> None:
        self.calls.append(f"{self.name}.{phase}")
        if self.fail == phase:
            raise self.error

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        self._enter("request")
        return self.reply

    def wants_request_body(self, ex: Exchange) -> bool:
        self._enter("wants_request_body")
        return self.wants

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        self._enter("request_body")
        return body + self.suffix

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        self._enter("response_headers")
        return self.rewriter


def fresh() -> tuple[Metrics, list[str]]:
    return Metrics(), []


def probe(name: str, metrics: Metrics, calls: list[str], **kwargs: Any) -> Probe:
    cls = cast(type[Probe], type(f"Probe_{name}", (Probe,), {"name": name}))
    return cls(metrics, calls, **kwargs)


def filter_errors(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value("privacy_gateway_filter_errors_total", {"filter": name})
    return 0.0 if value is None else value


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.chain" and r.levelno == logging.ERROR]


def assert_logged(caplog: pytest.LogCaptureFixture, name: str, phase: str) -> None:
    [record] = failure_records(caplog)
    assert record.getMessage() == "filter failed"
    assert getattr(record, "fields") == {"filter": name, "phase": phase}
    assert record.exc_info is not None and record.exc_info[0] is Boom


async def test_request_runs_in_policy_order() -> None:
    metrics, calls = fresh()
    chain = Chain([probe("a", metrics, calls), probe("b", metrics, calls), probe("c", metrics, calls)], metrics)
    assert await chain.request(make_exchange()) is None
    assert calls == ["a.request", "b.request", "c.request"]


async def test_empty_chain() -> None:
    metrics = Metrics()
    chain = Chain([], metrics)
    ex = make_exchange()
    assert await chain.request(ex) is None
    assert chain.body_filters(ex) == ()
    assert await chain.request_body(ex, (), b"body") == b"body"
    assert await chain.response_headers(ex) == []


async def test_first_local_reply_stops_the_chain() -> None:
    metrics, calls = fresh()
    first = LocalReply(403, "first")
    chain = Chain(
        [probe("a", metrics, calls), probe("b", metrics, calls, reply=first),
         probe("c", metrics, calls, reply=LocalReply(404, "second"))],
        metrics,
    )
    assert await chain.request(make_exchange()) is first
    assert calls == ["a.request", "b.request"]


async def test_request_phase_failure_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    metrics, calls = fresh()
    chain = Chain(
        [probe("a", metrics, calls), probe("broken", metrics, calls, fail="request"), probe("c", metrics, calls)],
        metrics,
    )
    with caplog.at_level(logging.ERROR, logger="gateway.chain"):
        reply = await chain.request(make_exchange())
    assert reply is FILTER_FAILED
    assert (reply.status, reply.reason) == (502, "filter_error")
    assert calls == ["a.request", "broken.request"]  # never reaches the next filter
    assert filter_errors(metrics, "broken") == 1
    assert filter_errors(metrics, "a") == 0
    assert_logged(caplog, "broken", "request")


async def test_body_filters_selects_those_that_opt_in() -> None:
    metrics, calls = fresh()
    a, b, c = probe("a", metrics, calls, wants=True), probe("b", metrics, calls), probe("c", metrics, calls, wants=True)
    chain = Chain([a, b, c], metrics)
    assert chain.body_filters(make_exchange()) == (a, c)


async def test_request_body_chained_in_order() -> None:
    metrics, calls = fresh()
    a, c = probe("a", metrics, calls, suffix=b"+a"), probe("c", metrics, calls, suffix=b"+c")
    chain = Chain([a, c], metrics)
    assert await chain.request_body(make_exchange(), (a, c), b"body") == b"body+a+c"
    assert calls == ["a.request_body", "c.request_body"]


class Refuses(Filter):
    name = "refuses"

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        raise RejectBody(LocalReply(422, "sensitive_data", "no"))


async def test_a_body_refusal_is_its_reply_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    metrics, calls = fresh()
    refuses, later = Refuses(make_policy(), metrics), probe("later", metrics, calls, suffix=b"+later")
    chain = Chain([refuses, later], metrics)
    with caplog.at_level(logging.ERROR, logger="gateway.chain"), pytest.raises(FilterError) as info:
        await chain.request_body(make_exchange(), (refuses, later), b"body")
    assert info.value.reply == LocalReply(422, "sensitive_data", "no") and info.value.filter_name == "refuses"
    assert calls == [] and filter_errors(metrics, "refuses") == 0 and not failure_records(caplog)


async def test_response_hooks_run_in_reverse_order() -> None:
    metrics, calls = fresh()
    r1, r3 = Upper(), Replace(b"X", b"Y")
    chain = Chain(
        [probe("a", metrics, calls, rewriter=r1), probe("b", metrics, calls), probe("c", metrics, calls, rewriter=r3)],
        metrics,
    )
    rewriters = await chain.response_headers(make_exchange())
    assert calls == ["c.response_headers", "b.response_headers", "a.response_headers"]
    assert rewriters == [r3, r1]  # the order in which the body passes through them


@pytest.mark.parametrize("phase", ["wants_request_body", "request_body", "response_headers"])
async def test_failure_in_later_phases_raises_filter_error(phase: str, caplog: pytest.LogCaptureFixture) -> None:
    metrics, calls = fresh()
    broken = probe("broken", metrics, calls, fail=phase, wants=True)
    chain = Chain([probe("a", metrics, calls, wants=True), broken], metrics)
    ex = make_exchange()
    with caplog.at_level(logging.ERROR, logger="gateway.chain"), pytest.raises(FilterError) as info:
        if phase == "wants_request_body":
            chain.body_filters(ex)
        elif phase == "request_body":
            await chain.request_body(ex, chain.filters, b"body")
        else:
            await chain.response_headers(ex)
    err = info.value
    assert err.filter_name == "broken"
    assert err.reply is FILTER_FAILED
    assert err.__cause__ is None and err.__suppress_context__  # the filter's exception is not chained on
    assert filter_errors(metrics, "broken") == 1
    assert filter_errors(metrics, "a") == 0
    assert_logged(caplog, "broken", phase)
    if phase == "response_headers":
        assert calls == ["broken.response_headers"]  # "a" runs after it in reverse order: never reached


async def test_each_failure_counts_once() -> None:
    metrics, calls = fresh()
    chain = Chain([probe("broken", metrics, calls, fail="request")], metrics)
    for _ in range(3):
        assert await chain.request(make_exchange()) is FILTER_FAILED
    assert filter_errors(metrics, "broken") == 3


async def test_cancellation_is_not_a_filter_error() -> None:
    metrics, calls = fresh()
    chain = Chain([probe("slow", metrics, calls, fail="request", error=asyncio.CancelledError())], metrics)
    with pytest.raises(asyncio.CancelledError):
        await chain.request(make_exchange())
    assert filter_errors(metrics, "slow") == 0


async def test_real_firewall_reply_stops_the_chain() -> None:
    metrics, calls = fresh()
    policy = make_policy({"firewall": {"default": "deny"}})
    chain = Chain([Firewall(policy, metrics), probe("after", metrics, calls)], metrics)
    reply = await chain.request(make_exchange())
    assert reply is not None and (reply.status, reply.reason) == (403, "firewall_denied")
    assert calls == []


async def test_real_firewall_bad_client_ip_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    metrics, calls = fresh()
    chain = Chain([Firewall(make_policy(), metrics), probe("after", metrics, calls)], metrics)
    with caplog.at_level(logging.ERROR, logger="gateway.chain"):
        assert await chain.request(make_exchange(client_ip="not-an-ip")) is FILTER_FAILED
    assert calls == []
    assert filter_errors(metrics, "firewall") == 1
    [record] = failure_records(caplog)
    assert getattr(record, "fields")["filter"] == "firewall"


class Upper:
    def feed(self, chunk: bytes) -> bytes:
        return chunk.upper()

    def finish(self) -> bytes:
        return b""


class Replace:
    def __init__(self, old: bytes, new: bytes) -> None:
        self.old, self.new = old, new

    def feed(self, chunk: bytes) -> bytes:
        return chunk.replace(self.old, self.new)

    def finish(self) -> bytes:
        return b""


class HoldBack:
    """Keeps the last byte of each chunk until the next one (a real rewriter's lookahead)."""

    def __init__(self) -> None:
        self.pending = b""
        self.finished = False

    def feed(self, chunk: bytes) -> bytes:
        data = self.pending + chunk
        self.pending = data[-1:]
        return data[:-1]

    def finish(self) -> bytes:
        self.finished = True
        out, self.pending = self.pending, b""
        return out


class Raising:
    def __init__(self, in_finish: bool = False) -> None:
        self.in_finish = in_finish

    def feed(self, chunk: bytes) -> bytes:
        if not self.in_finish:
            raise Boom("rewriter bug")
        return chunk

    def finish(self) -> bytes:
        raise Boom("rewriter bug")


def test_rewrite_chains_in_order() -> None:
    metrics = Metrics()
    assert rewrite([Upper(), Replace(b"X", b"y")], b"x-x", metrics) == b"y-y"
    assert rewrite([Replace(b"x", b"z"), Upper()], b"x-x", metrics) == b"Z-Z"
    assert rewrite([], b"as is", metrics) == b"as is"


def test_finish_passes_each_tail_through_the_next() -> None:
    metrics = Metrics()
    first, second = HoldBack(), HoldBack()
    rewriters: list[BodyRewriter] = [first, Upper(), second]
    assert rewrite(rewriters, b"abc", metrics) == b"A"  # "c" held by first, "B" by second
    assert finish(rewriters, metrics) == b"BC"
    assert first.finished and second.finished


def test_finish_with_nothing_held() -> None:
    metrics = Metrics()
    assert finish([Upper(), Replace(b"a", b"b")], metrics) == b""
    assert finish([], metrics) == b""


@pytest.mark.parametrize("in_finish", [False, True])
def test_raising_rewriter_is_a_rewrite_error(in_finish: bool, caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    rewriters: list[BodyRewriter] = [Upper(), Raising(in_finish)]
    with caplog.at_level(logging.ERROR, logger="gateway.chain"), pytest.raises(RewriteError) as info:
        if in_finish:
            finish(rewriters, metrics)
        else:
            rewrite(rewriters, b"chunk", metrics)
    assert info.value.__suppress_context__
    assert filter_errors(metrics, "Raising") == 1
    [record] = failure_records(caplog)
    assert record.getMessage() == "body rewriter failed"
    assert getattr(record, "fields") == {"rewriter": "Raising"}


class _RequestOnly(Filter):
    name = "request-only"

    async def on_request(self, ex: Exchange) -> None:
        return None


def test_each_phase_awaits_only_the_filters_that_take_part_in_it() -> None:
    request_only = _RequestOnly(POLICY, Metrics())
    both = Probe(Metrics(), [])
    chain = Chain([request_only, both], Metrics())
    assert chain._on_request == (request_only, both)
    assert chain._on_response == (both,)
    assert chain.filters == (request_only, both)  # the full list is kept for everything else


@pytest.mark.parametrize(
    ("dispositions", "rewrite_route", "kept"),
    [
        ((), True, True),
        (("inline",), True, True),
        (("Inline; filename=page.html",), True, True),
        (("attachment; filename=notes.txt",), True, False),
        ((" ATTACHMENT ",), True, False),
        (("form-data; name=x",), True, False),  # an unknown type is handled as attachment (RFC 6266)
        (("inline", "attachment"), True, False),
        ((), False, False),  # routes[].rewrite: false
    ],
)
async def test_downloads_and_routes_without_rewrite_get_no_body_rewriter(
    dispositions: tuple[str, ...], rewrite_route: bool, kept: bool
) -> None:
    metrics, calls = fresh()
    seen: list[bool] = []

    class Looks(Probe):
        async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
            seen.append(ex.rewrite_body)
            return self.rewriter

    upper = Upper()
    chain = Chain([Looks(metrics, calls, rewriter=upper)], metrics)
    ex = make_exchange()
    ex.route = CompiledRoute("media", 1 << 20, 60.0, rewrite=rewrite_route)
    for value in dispositions:
        ex.response_headers.add("Content-Disposition", value)
    assert await chain.response_headers(ex) == ([upper] if kept else [])
    assert seen == [kept]  # filters are told before they run, so they can skip their work


class _Redacting(Filter):
    name = "redacting"

    def __init__(self, fail: bool = False) -> None:
        super().__init__(POLICY, Metrics())
        self.fail = fail

    def log_path(self, path: str) -> str | None:
        if self.fail:
            raise Boom(path)
        return "/secret/~h:0" if path.startswith("/secret/") else None


def test_log_path_asks_the_filters_that_redact(caplog: pytest.LogCaptureFixture) -> None:
    assert not Chain([_RequestOnly(POLICY, Metrics())], Metrics()).redacts_paths
    chain = Chain([_RequestOnly(POLICY, Metrics()), _Redacting()], Metrics())
    assert chain.redacts_paths
    assert chain.log_path("/secret/token-value") == "/secret/~h:0"
    assert chain.log_path("/tickets/1") == "/tickets/1"
    broken = Chain([_Redacting(fail=True)], Metrics())
    with caplog.at_level(logging.ERROR, logger="gateway.chain"):
        assert broken.log_path("/secret/token-value") == "-"  # fail closed: nothing of the path
    assert "token-value" not in caplog.text
