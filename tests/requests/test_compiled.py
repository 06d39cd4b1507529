"""The section compiled once: off without enabled; the consent codec and legal-basis ring when those are on."""

from __future__ import annotations

from typing import Any

import yaml

from gateway.policy.loader import load_policy_text
from gateway.requests.compiled import compile_requests
from gateway.requests.tokens import read_token
from tests.support.portal import portal_policy

ENV = {"K": "raw:" + "a-data-subject-request-key-000001", "C": "raw:" + "a-consent-cookie-key-0000000000001",
       "H": "a-webhook-secret-of-32-bytes-000001"}


def policy(**extra: Any):  # type: ignore[no-untyped-def]
    doc = portal_policy(2526, 8080)
    doc["requests"]["keys"] = [{"id": "r1", "secret": "${K}"}]
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    doc["requests"]["api_tokens"] = []
    doc.update(extra)
    return load_policy_text(yaml.safe_dump(doc), "p.yaml", env=ENV, default_upstream="http://h.test").policy


def test_off_is_none_and_on_has_what_the_portal_needs() -> None:
    assert compile_requests(policy(requests={"enabled": False})) is None
    compiled = compile_requests(policy())
    assert compiled is not None and compiled.consent is None and compiled.legal_ring is None
    assert compiled.frame.prefix == "/_privacy/requests" and "Kari Nordmann" in compiled.frame.contact["nb"]
    link = compiled.status_link("DSR-ABCDE-12345", 1_700_000_000)
    assert link.startswith("http://127.0.0.1:8080/_privacy/requests/status/")
    assert read_token(compiled.keys, link.rpartition("/")[2], "status", 1_700_000_000) == "DSR-ABCDE-12345"


def test_the_consent_cookie_and_legal_basis_records_are_read_with_their_own_keys() -> None:
    compiled = compile_requests(policy(
        consent={"enabled": True, "keys": [{"id": "c", "secret": "${C}"}]},
        legal_basis={"enabled": True, "keys": [{"id": "l", "secret": "${C}"}], "routes": [
            {"name": "r", "path": "/signup", "basis": "contract", "purpose": "Accounts", "notice": {"en": "x"}}]},
    ))
    assert compiled is not None and compiled.consent is not None and compiled.consent[1] == "pgw_consent"
    assert compiled.legal_ring is not None and compiled.legal_ring.kids == ("l",)
