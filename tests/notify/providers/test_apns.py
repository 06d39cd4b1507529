"""The APNs payload rewrite, on its own (tests/notify/test_apns.py drives it through the HTTP/2 listener)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.notify.providers.apns import Apns
from gateway.notify.providers.base import ApiRefusal, ApiRequest
from gateway.notify.rewriter import Notifier, Refusal
from gateway.policy.notifications import EgressRoute
from tests.notify.samples import SECRETS, TICKET_URL, leaks
from tests.notify.test_rewriter import notifier as make_notifier

PATH = "/3/device/" + "a" * 64
TEMPLATES = {"default": {"subject": "New reply on your case {case_id}", "text": "Open it: {link}",
                         "push_title": "Case {case_id} updated", "push_body": "Open the app to read it."}}


def rewrite(payload: Any, *, route: dict[str, Any] | None = None, method: str = "POST", path: str = PATH,
            **policy: Any) -> Any:
    provider = Apns(EgressRoute.model_validate({"provider": "apns", "upstream": "https://api.push.apple.com",
                                                 **(route or {})}))
    notifier: Notifier = make_notifier(templates=TEMPLATES, **policy)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    result = provider.rewrite(ApiRequest(method, path, "", CIMultiDictProxy(CIMultiDict()), body), notifier)
    assert result is not None
    return result


def payload(alert: Any, **custom: Any) -> dict[str, Any]:
    return {"aps": {"alert": alert, "badge": 1, "sound": {"name": "ping.aiff", "volume": 0.5},
                    "category": "REPLY", "content-available": 1, "interruption-level": "active",
                    "target-content-id": SECRETS[0], "filter-criteria": SECRETS[1],
                    "content-state": {"note": SECRETS[5]}},
            "ticket_id": "support-12", "email": SECRETS[4], "link": TICKET_URL, **custom}


@pytest.mark.parametrize("alert", [
    f"[support-12] {SECRETS[0]}: {SECRETS[2]}",
    {"title": f"[support-12] {SECRETS[0]}", "subtitle": SECRETS[1], "body": SECRETS[2],
     "launch-image": SECRETS[6], "title-loc-key": "T", "title-loc-args": [SECRETS[0]],
     "subtitle-loc-key": "S", "subtitle-loc-args": [SECRETS[1]], "loc-key": "B", "loc-args": [SECRETS[3]]},
])
def test_the_alert_and_custom_keys_are_rewritten(alert: Any) -> None:
    result = rewrite(payload(alert), route={"data_keys": ["ticket_id"]})
    assert leaks(result.body) == [] and TICKET_URL.encode() not in result.body
    assert json.loads(result.body) == {
        "aps": {"alert": {"title": "Case support-12 updated", "body": "Open the app to read it."}, "badge": 1,
                "sound": {"name": "ping.aiff", "volume": 0.5}, "category": "REPLY", "content-available": 1,
                "interruption-level": "active"},
        "ticket_id": "support-12",
    }
    assert [d.action for d in result.decisions] == ["hide"]


def test_a_background_push_gets_no_alert_and_id_only_data() -> None:
    result = rewrite({"aps": {"content-available": 1}, "ticket": f"[support-12] {SECRETS[0]}"},
                     route={"push_mode": "id_only"})
    out = json.loads(result.body)
    assert out["aps"] == {"content-available": 1} and set(out) == {"aps", "case_id", "token"}
    assert out["case_id"] == "support-12" and leaks(result.body) == []


def test_a_push_that_passes_is_byte_for_byte() -> None:
    body = json.dumps(payload("[support-12] hello")).encode() + b"  "
    assert rewrite(body, default_action="pass", rules=[]).body == body


def test_a_block_rule_refuses() -> None:
    with pytest.raises(Refusal) as refused:
        rewrite(payload("[support-12] Password reset code"),
                rules=[{"name": "codes", "subject": "reset code", "action": "block"}])
    assert refused.value.reason == "blocked"


@pytest.mark.parametrize(("body", "method", "path", "status", "reason"), [
    (b"{", "POST", PATH, 400, "BadPayload"),
    (b"[]", "POST", PATH, 400, "BadPayload"),
    (b'{"aps": 1}', "POST", PATH, 400, "BadPayload"),
    (b'{"aps": {"alert": ["x"]}}', "POST", PATH, 400, "BadPayload"),
    (b"{}", "GET", PATH, 405, "MethodNotAllowed"),
    (b"{}", "POST", "/3/device/", 404, "BadPath"),
    (b"{}", "POST", "/1/device/abc", 404, "BadPath"),
])
def test_bad_input_is_refused_in_apples_shape(body: bytes, method: str, path: str, status: int, reason: str) -> None:
    with pytest.raises(ApiRefusal) as refused:
        rewrite(body, method=method, path=path)
    assert refused.value.status == status and json.loads(refused.value.body) == {"reason": reason}
