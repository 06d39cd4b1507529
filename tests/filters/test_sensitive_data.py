"""Personal data in request bodies, through the real gateway on loopback: each encoding, each action."""

from __future__ import annotations

import base64
import json
import logging
import random
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from bench import sensitive_corpus as corpus
from gateway.lib.keyring import decode_secret
from gateway.sensitive import actions
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.support.upstream import SEEN

_RND = random.Random(20261202)
FNR = corpus.no_fnr(_RND)
CARD = corpus.card_number(_RND).replace(" ", "").replace("-", "")
EMAIL = corpus.email_address(_RND)
KEY = "raw:" + "a-sensitive-data-token-key-0000001"
VALUES = (FNR, CARD, EMAIL)


def policy(*rules: dict[str, Any], **section: Any) -> dict[str, Any]:
    return {
        "routes": [{"name": "tickets", "path": "/echo-body/tickets"}],
        "sensitive": {"enabled": True, "keys": [{"id": "t1", "secret": KEY}], "rules": list(rules), **section},
    }


MASK = {"name": "mask-tickets", "routes": ["tickets"], "action": "mask"}


async def post(gw: Gateway, path: str, body: bytes, content_type: str, **headers: str) -> tuple[int, Any, Any]:
    """Status, what the upstream received (headers, body) or the gateway's reply body, and the reply headers."""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.base_url}{path}", data=body, headers={"Content-Type": content_type, **headers},  # type: ignore[attr-defined]
        ) as resp:
            raw = await resp.read()
            if resp.status == 200:
                seen = orjson.loads(raw)
                received = (dict((k.lower(), v) for k, v in seen["headers"]), base64.b64decode(seen["body_b64"]))
                return resp.status, received, resp.headers
            return resp.status, raw, resp.headers


def detections(gw: Gateway, kind: str, action: str, mode: str, route: str = "tickets") -> float:
    value = gw.metrics.registry.get_sample_value(
        "privacy_gateway_sensitive_detections_total", {"kind": kind, "action": action, "route": route, "mode": mode}
    )
    return 0.0 if value is None else value


async def test_a_form_value_is_masked_to_its_last_four(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(MASK))
    body = f"subject=Hello+there&comment=my+number+is+{FNR}%2C+thanks&n=1".encode()
    status, (headers, received), _ = await post(gw, "/echo-body/tickets", body, "application/x-www-form-urlencoded")
    assert status == 200
    masked = "*" * 7 + FNR[-4:]
    assert received == f"subject=Hello+there&comment=my+number+is+{masked}%2C+thanks&n=1".encode()
    assert headers["content-length"] == str(len(received))
    assert "x-privacy-flags" not in headers
    assert detections(gw, "no_fnr", "mask", "enforce") == 1


async def test_flag_adds_the_kinds_found_and_a_client_cannot_forge_the_header(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy({"name": "flag", "routes": ["tickets"], "action": "flag"}))
    body = f"a={FNR}&b=card+{CARD}".encode()
    status, (headers, received), _ = await post(
        gw, "/echo-body/tickets", body, "application/x-www-form-urlencoded", **{"X-Privacy-Flags": "forged"}
    )
    assert status == 200 and received == body
    assert headers["x-privacy-flags"] == "card,no_fnr"
    status, (headers, received), _ = await post(
        gw, "/echo-body/tickets", b"a=nothing", "application/x-www-form-urlencoded", **{"X-Privacy-Flags": "forged"}
    )
    assert status == 200 and "x-privacy-flags" not in headers


async def test_json_string_leaves_are_masked_with_a_keyed_token_types_and_layout_kept(
    start_gateway: StartGateway,
) -> None:
    gw = await start_gateway(policy({**MASK, "mask": "token"}))
    document = {"n": 1.50, "ok": True, "none": None, "list": [1, f"card {CARD}"], "who": {"mail": EMAIL, "k": "x"}}
    body = json.dumps(document, indent=2).encode()
    status, (headers, received), _ = await post(gw, "/echo-body/tickets", body, "application/json")
    assert status == 200
    key = decode_secret(KEY)
    card_token, mail_token = actions.token(key, "card", CARD), actions.token(key, "email", EMAIL)
    assert card_token.startswith("[card:") and len(card_token) == len("[card:12345678]")
    expected = body.replace(CARD.encode(), card_token.encode()).replace(EMAIL.encode(), mail_token.encode())
    assert received == expected  # indentation, 1.5, true, null untouched
    assert json.loads(received)["list"] == [1, f"card {card_token}"]
    assert headers["content-length"] == str(len(received))


async def test_multipart_text_fields_are_masked_and_file_parts_pass_byte_for_byte(
    start_gateway: StartGateway,
) -> None:
    gw = await start_gateway(policy(MASK))
    file_bytes = b"\x00\xff binary " + FNR.encode() + b"\r\n--not-the-boundary\r\n" + bytes(range(256))
    form = aiohttp.FormData()
    form.add_field("comment", f"fnr {FNR}")
    form.add_field("attachment", file_bytes, filename="scan.bin", content_type="application/octet-stream")
    payload = form()
    sink = _Sink()
    await payload.write(sink)  # type: ignore[arg-type]
    status, (headers, received), _ = await post(gw, "/echo-body/tickets", sink.data, payload.content_type)
    assert status == 200
    assert file_bytes in received
    assert f"fnr {'*' * 7}{FNR[-4:]}".encode() in received
    assert received == sink.data.replace(f"fnr {FNR}".encode(), f"fnr {'*' * 7}{FNR[-4:]}".encode(), 1)


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    async def write(self, chunk: bytes) -> None:
        self.data += bytes(chunk)


async def test_a_text_plain_body_is_masked(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(MASK))
    text = f"Hei, kortet mitt er {CARD}.\n"
    status, (_, received), _ = await post(gw, "/echo-body/tickets", text.encode("latin-1"), "text/plain; charset=latin-1")
    assert status == 200
    assert received == f"Hei, kortet mitt er {'*' * (len(CARD) - 4)}{CARD[-4:]}.\n".encode("latin-1")


@pytest.mark.parametrize(("accept", "kind"), [("application/json", "json"), ("text/html", "html")])
async def test_reject_names_the_field_and_kind_never_the_value(
    start_gateway: StartGateway, upstream: web.AppRunner, accept: str, kind: str
) -> None:
    gw = await start_gateway(policy({"name": "no-ids", "routes": ["tickets"], "detectors": ["no_fnr"], "action": "reject"}))
    body = orjson.dumps({"ticket": {"comment": f"my fnr is {FNR}"}})
    before = len(upstream.app[SEEN])
    status, reply, headers = await post(gw, "/echo-body/tickets", body, "application/json", Accept=accept)
    assert status == 422
    assert FNR.encode() not in reply and FNR[-4:].encode() not in reply
    text = "The field 'comment' holds a Norwegian national identity number (no_fnr). Remove it and send again."
    if kind == "json":
        assert orjson.loads(reply) == {"status": 422, "reason": "sensitive_data", "message": text}
    else:
        assert text.replace("'", "&#x27;").encode() in reply
    assert len(upstream.app[SEEN]) == before  # nothing reached the helpdesk
    assert detections(gw, "no_fnr", "reject", "enforce") == 1
    # A refusal, not a filter failure.
    assert gw.metrics.registry.get_sample_value("privacy_gateway_filter_errors_total", {"filter": "sensitive"}) is None


async def test_shadow_counts_and_changes_nothing(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy({"name": "try-reject", "routes": ["tickets"], "action": "reject", "shadow": True}))
    body = f"comment={FNR}".encode()
    status, (headers, received), _ = await post(gw, "/echo-body/tickets", body, "application/x-www-form-urlencoded")
    assert status == 200 and received == body and "x-privacy-flags" not in headers
    assert detections(gw, "no_fnr", "reject", "shadow") == 1
    assert detections(gw, "no_fnr", "reject", "enforce") == 0


async def test_a_shadow_rule_is_skipped_and_the_next_rule_decides(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(
        {"name": "try-reject", "routes": ["tickets"], "action": "reject", "shadow": True}, MASK,
    ))
    status, (_, received), _ = await post(gw, "/echo-body/tickets", f"c={FNR}".encode(), "application/x-www-form-urlencoded")
    assert status == 200 and received == f"c={'*' * 7}{FNR[-4:]}".encode()


async def test_fields_and_detectors_narrow_a_rule(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(
        {"name": "ids-in-comments", "routes": ["tickets"], "fields": ["comment"], "detectors": ["no_fnr"],
         "action": "reject"},
        {"name": "flag-rest", "routes": ["tickets"], "action": "flag"},
    ))
    body = f"comment=mail+{EMAIL}&title={FNR}".encode()
    status, (headers, received), _ = await post(gw, "/echo-body/tickets", body, "application/x-www-form-urlencoded")
    assert status == 200 and received == body and headers["x-privacy-flags"] == "email,no_fnr"
    status, _, _ = await post(gw, "/echo-body/tickets", f"comment={FNR}".encode(), "application/x-www-form-urlencoded")
    assert status == 422


async def test_sensitive_fields_are_masked_or_refused_whatever_they_hold(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(sensitive_fields=[
        {"field": "password*", "action": "mask"}, {"field": "customer.ssn", "action": "reject"},
    ]))
    body = b'{"password1": "hunter2-secret", "customer": {"ssn": "not a number"}, "ssn": "x"}'
    status, reply, _ = await post(gw, "/echo-body/elsewhere", body, "application/json", Accept="application/json")
    assert status == 422 and b"not a number" not in reply
    assert orjson.loads(reply)["message"] == "The field 'ssn' may not be sent here. Remove it and send again."
    status, (_, received), _ = await post(gw, "/echo-body/elsewhere", b'{"password1": "hunter2-secret", "ssn": "x"}', "application/json")
    assert status == 200 and received == b'{"password1": "**********cret", "ssn": "x"}'
    assert detections(gw, "field", "mask", "enforce", route="default") == 2  # the refused request's too
    assert detections(gw, "field", "reject", "enforce", route="default") == 1


async def test_other_routes_and_types_pass_untouched(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(MASK))
    body = f"comment={FNR}".encode()
    status, (_, received), _ = await post(gw, "/echo-body/other", body, "application/x-www-form-urlencoded")
    assert status == 200 and received == body
    status, (_, received), _ = await post(gw, "/echo-body/tickets", body, "application/octet-stream")
    assert status == 200 and received == body


async def test_an_unreadable_body_is_refused_unless_only_shadow_rules_apply(start_gateway: StartGateway) -> None:
    gw = await start_gateway(policy(MASK))
    status, reply, _ = await post(gw, "/echo-body/tickets", b'{"a": "unterminated', "application/json",
                                  Accept="application/json")
    assert status == 400 and orjson.loads(reply)["reason"] == "unreadable_body"
    status, reply, _ = await post(gw, "/echo-body/tickets", b"gzipped?", "text/plain", **{"Content-Encoding": "gzip"})
    assert status == 400
    gw = await start_gateway(policy({**MASK, "shadow": True}))
    status, (_, received), _ = await post(gw, "/echo-body/tickets", b'{"a": "unterminated', "application/json")
    assert status == 200 and received == b'{"a": "unterminated'


async def test_no_value_reaches_the_access_log_or_the_process_log(
    start_gateway: StartGateway, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    doc = policy({"name": "no-cards", "routes": ["tickets"], "detectors": ["card"], "action": "reject"}, MASK)
    doc["logging"] = {"access_log": True, "level": "debug"}
    gw = await start_gateway(doc)
    with caplog.at_level(logging.DEBUG):
        assert (await post(gw, "/echo-body/tickets", f"c={CARD}".encode(), "application/x-www-form-urlencoded"))[0] == 422
        assert (await post(gw, "/echo-body/tickets", f"c={FNR}+{EMAIL}".encode(), "application/x-www-form-urlencoded"))[0] == 200
    gw.runtime.access_log.flush()
    out = capfd.readouterr()
    logged = out.out + out.err + "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert '"sensitive_data"' in out.out  # the refusal is in the access log, by reason
    for value in VALUES:
        assert value not in logged
    assert any(r.name == "gateway.sensitive" for r in caplog.records)


# -- agents' pages ---------------------------------------------------------------------------------------

STAFF_PAGE = (
    "<!DOCTYPE html><html><head><title>Case</title></head><body>"
    "<h1>Case 4711</h1><p>Kunden skriver: mitt fødselsnummer er {fnr}, kort {card}.</p>"
    '<input name="q" value="{card}"><script>var ref = "{card}";</script>'
    "<p>e-post: {email}</p></body></html>"
)


def staff_page(**kw: str) -> str:
    return STAFF_PAGE.format(fnr=FNR, card=CARD, email=EMAIL, **kw)


def pages_policy(*pages: dict[str, Any]) -> dict[str, Any]:
    doc = policy()
    doc["routes"].append({"name": "staff", "path": "/cookie-page"})
    doc["sensitive"]["rules"] = []
    doc["sensitive"]["pages"] = list(pages)
    return doc


async def get_page(gw: Gateway, body: str, **query: str) -> tuple[int, bytes, Any]:
    async with aiohttp.ClientSession(auto_decompress=True) as session:
        params = {"nocookies": "1", "body": body, **query}
        async with session.get(f"{gw.base_url}/cookie-page", params=params) as resp:  # type: ignore[attr-defined]
            return resp.status, await resp.read(), resp.headers


@pytest.mark.parametrize("query", [{}, {"chunk": "7"}, {"chunk": "1", "gzip": "1"}, {"gzip": "1"}])
async def test_a_staff_page_highlights_values_in_its_text_and_says_what_it_holds(
    start_gateway: StartGateway, query: dict[str, str]
) -> None:
    gw = await start_gateway(pages_policy({"name": "staff-view", "routes": ["staff"]}))
    status, body, _ = await get_page(gw, staff_page(), **query)
    assert status == 200
    text = body.decode()
    expected = staff_page().replace(
        f"er {FNR}", f'er <mark class="privacy-gateway-sensitive" data-kind="no_fnr">{FNR}</mark>'
    ).replace(
        f"kort {CARD}", f'kort <mark class="privacy-gateway-sensitive" data-kind="card">{CARD}</mark>'
    ).replace(
        f"e-post: {EMAIL}", f'e-post: <mark class="privacy-gateway-sensitive" data-kind="email">{EMAIL}</mark>'
    )
    notice_at = text.index('<div class="privacy-gateway-notice"')
    assert text[:notice_at] + text[text.index("</div>", notice_at) + 6:] == expected  # nothing else changed
    assert "This page contains 1 national ID number, 1 card number, 1 e-mail address." in text
    assert detections(gw, "card", "highlight", "enforce", route="staff") == 1


async def test_a_masking_page_rule_keeps_the_values_off_the_page(start_gateway: StartGateway) -> None:
    gw = await start_gateway(pages_policy(
        {"name": "ids", "path": "/cookie-page", "detectors": ["no_fnr", "card"], "mark": "mask", "mask": "token"},
    ))
    status, body, _ = await get_page(gw, staff_page(), chunk="5")
    text = body.decode()
    assert status == 200 and FNR not in text.split("<input")[0]
    assert actions.token(decode_secret(KEY), "no_fnr", FNR) in text
    assert f'value="{CARD}"' in text and f'"{CARD}";</script>' in text  # attributes and scripts are not text
    assert EMAIL in text  # not a kind this rule names


async def test_shadow_pages_count_and_change_nothing_and_other_responses_pass(start_gateway: StartGateway) -> None:
    gw = await start_gateway(pages_policy({"name": "try", "routes": ["staff"], "mark": "mask", "shadow": True}))
    assert (await get_page(gw, staff_page()))[1] == staff_page().encode()
    assert detections(gw, "no_fnr", "mask", "shadow", route="staff") == 1
    plain = (await get_page(gw, staff_page(), ctype="text/plain; charset=utf-8"))[1]
    assert plain == staff_page().encode()  # not HTML


async def test_a_page_rule_elsewhere_leaves_the_page_alone(start_gateway: StartGateway) -> None:
    gw = await start_gateway(pages_policy({"name": "staff-view", "path": "/staff/"}))
    assert (await get_page(gw, staff_page()))[1] == staff_page().encode()


async def test_no_page_value_reaches_the_logs(
    start_gateway: StartGateway, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    doc = pages_policy({"name": "staff-view", "routes": ["staff"], "mark": "mask"})
    doc["logging"] = {"access_log": True, "level": "debug"}
    gw = await start_gateway(doc)
    with caplog.at_level(logging.DEBUG):
        assert (await get_page(gw, staff_page()))[0] == 200
    gw.runtime.access_log.flush()
    out = capfd.readouterr()
    logged = out.out + out.err + "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "/cookie-page" in out.out  # the access log line is there
    for value in VALUES:
        assert value not in logged
