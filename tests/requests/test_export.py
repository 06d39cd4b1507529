"""The export: the requester's cases (and nobody else's, whatever the helpdesk says) and what the gateway holds,
as JSON, CSV tables and a readable summary in one ZIP."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import yaml

from gateway.helpdesks.base import Case, CaseRef, Message
from gateway.legal import proof
from gateway.policy.loader import load_policy_text
from gateway.requests import export, lifecycle
from gateway.requests.compiled import compile_requests
from gateway.store import ConsentReceipt, SQLiteStore
from gateway.store.legal import LegalRecord
from tests.support.portal import RecordingHelpdesk, portal_policy

ENV = {"K": "raw:" + "a-data-subject-request-key-000001", "H": "a-webhook-secret-of-32-bytes-000001",
       "L": "raw:" + "a-legal-basis-record-key-00000001"}
EMAIL = "kari@example.no"


def compiled_policy() -> Any:
    doc: dict[str, Any] = portal_policy(2526, 8080)
    doc["requests"]["keys"] = [{"id": "r1", "secret": "${K}"}]
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    doc["requests"]["api_tokens"] = []
    doc["legal_basis"] = {"enabled": True, "keys": [{"id": "l1", "secret": "${L}"}], "routes": [
        {"name": "signup", "path": "/signup", "basis": "consent", "purpose": "Accounts", "notice": {"en": "x"}}]}
    policy = load_policy_text(yaml.safe_dump(doc), "p.yaml", env=ENV, default_upstream="http://h.test").policy
    compiled = compile_requests(policy)
    assert compiled is not None
    return compiled


class LyingHelpdesk(RecordingHelpdesk):
    """Its search also lists another person's case."""

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        return [CaseRef(c.id, c.reference, c.title) for c in self.cases.values()]


class OneWay(RecordingHelpdesk):
    can_search = False


async def test_the_export_holds_the_requesters_data_and_only_theirs(tmp_path: Path) -> None:
    compiled = compiled_policy()
    helpdesk = LyingHelpdesk()
    helpdesk.add(Case("1", "support-1", "Mine <b>", "open", "q", "c", "u", "KARI@example.no",
                      (Message("m", "Kari", "t", 'Line one\nsaid "hi", ok'),)))
    helpdesk.add(Case("2", "support-2", "Ola's", "open", "q", "c", "u", "ola@example.no",
                      (Message("n", "Ola", "t", "Ola's secret"),)))
    private = lifecycle.Private("access", EMAIL, "", "", "en", ("consent-of-this-browser",))
    request = lifecycle.verified(compiled.keys, private, now=1_700_000_000, due_days=30, automatic=False)
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        await store.add_request(request)
        await store.add_receipt(ConsentReceipt("consent-of-this-browser", 1_700_000_000.0, {"analytics": True}, "1",
                                               "h", "banner", "192.0.2.0/24", "Firefox", "/"))
        await store.add_receipt(ConsentReceipt("another-browser", 1_700_000_000.0, {"analytics": False}, "1",
                                               "h", "banner", "192.0.2.0/24", "Firefox", "/"))
        for n, who in ((1, EMAIL), (2, "ola@example.no")):
            await store.add_legal_record(LegalRecord(f"{n:032x}", 1_700_000_000.0, "signup", "consent", "Accounts",
                                                     "", "en", proof.email_hash(compiled.legal_ring, who),
                                                     "192.0.2.0/24", "given"))
        gathered = await export.gather(compiled, store, request, private, helpdesk)
    assert [c.reference for c in gathered.cases] == ["support-1"]
    assert [r["consent_id"] for r in gathered.consent_receipts] == ["consent-of-this-browser"]
    assert [r["record_id"] for r in gathered.legal_records] == [f"{1:032x}"]
    assert "email_hash" not in gathered.legal_records[0]
    assert [r["request_id"] for r in gathered.requests] == [request.request_id]

    archive = export.archive(gathered, organisation="Example AS", now=1_700_000_100)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        data = json.loads(zf.read("data.json"))
        messages = list(csv.DictReader(io.StringIO(zf.read("messages.csv").decode("utf-8-sig"))))
        cases = zf.read("cases.csv")
        summary = zf.read("index.html").decode()
    everything = archive.decode("latin-1")
    assert "Ola" not in json.dumps(data) and "Ola" not in summary and "Ola's secret" not in everything
    assert messages == [{"case_id": "1", "case_reference": "support-1", "id": "m", "author": "Kari", "created": "t",
                         "public": "True", "text": 'Line one\nsaid "hi", ok'}]
    assert cases.startswith(b"\xef\xbb\xbfid,reference,title")
    assert "Mine &lt;b&gt;" in summary and "<script" not in summary and "Your data at Example AS" in summary
    assert data["generated"] == "2023-11-14T22:15:00Z" and data["email"] == EMAIL


async def test_a_helpdesk_that_cannot_be_searched_leaves_a_note_instead_of_cases(tmp_path: Path) -> None:
    compiled = compiled_policy()
    private = lifecycle.Private("portability", EMAIL, "", "", "en")
    request = lifecycle.verified(compiled.keys, private, now=1_700_000_000, due_days=30, automatic=False)
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        one_way = await export.gather(compiled, store, request, private, OneWay())
        none = await export.gather(compiled, store, request, private, None)
    assert one_way.cases == [] and "cannot be searched" in one_way.cases_note
    assert "No helpdesk" in none.cases_note
    summary = zipfile.ZipFile(io.BytesIO(export.archive(one_way, organisation="", now=0))).read("index.html")
    assert b"cannot be searched" in summary
