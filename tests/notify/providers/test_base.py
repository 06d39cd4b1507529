"""The provider base: unknown paths refused, passthroughs forwarded, the shared helpers."""

from __future__ import annotations

import re

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.notify.providers.base import ApiRefusal, ApiRequest, Provider, Rewritten, json_body
from gateway.notify.rewriter import Notifier
from gateway.policy.notifications import EgressRoute

ROUTE = EgressRoute.model_validate({"provider": "expo", "upstream": "https://exp.host"})


def request(method: str, path: str, body: bytes = b"{}") -> ApiRequest:
    return ApiRequest(method, path, "", CIMultiDictProxy(CIMultiDict()), body)


class Example(Provider):
    name = "example"
    operations = (("POST", re.compile(r"/send"), lambda self, req, notifier: Rewritten(b"rewritten")),)
    passthrough = (("POST", re.compile(r"/token")),)


def test_known_passthrough_and_unknown_paths() -> None:
    provider = Example(ROUTE)
    notifier: Notifier = None  # type: ignore[assignment]  # not reached by these operations
    rewritten = provider.rewrite(request("POST", "/send"), notifier)
    assert rewritten is not None and rewritten.body == b"rewritten"
    assert provider.rewrite(request("POST", "/token"), notifier) is None
    with pytest.raises(ApiRefusal) as refused:
        provider.rewrite(request("GET", "/send"), notifier)
    assert refused.value.status == 404 and refused.value.reason == "unknown_path"


def test_json_body_refuses_what_is_not_json() -> None:
    assert json_body(Example(ROUTE), request("POST", "/send", b'{"a": 1}')) == {"a": 1}
    with pytest.raises(ApiRefusal) as refused:
        json_body(Example(ROUTE), request("POST", "/send", b"{not json"))
    assert (refused.value.status, refused.value.reason) == (400, "bad_json")
