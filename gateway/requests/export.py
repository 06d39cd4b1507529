"""The export of an access or portability request: everything held about the requester, in one ZIP.

What goes in (GDPR Art. 15(3), 20):

- the requester's cases in the helpdesk, with their messages and the
  attachments' metadata (``find_cases`` and ``read_case``); each case is
  checked once more to be the requester's own, whatever the adapter says;
- what the gateway itself holds: the consent receipts of the browser that
  asked (the consent id of its cookie when it sent the request), the
  legal-basis records made for the address (by its keyed hash), and the
  data-subject requests made for it.

The ZIP holds ``data.json`` (all of it, machine-readable), one CSV per table
(``cases``, ``messages``, ``attachments``, ``consent_receipts``,
``legal_basis_records``, ``requests``) and ``index.html``, a readable summary
(no script, no remote content). A helpdesk that cannot be searched (the
webhook) leaves the cases out and says so in the summary.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any

import orjson

from ..helpdesks.base import Case, HelpdeskAdapter, same_address
from ..legal import proof
from ..store import Store
from ..store.requests import SubjectRequest
from .compiled import CompiledRequests
from .lifecycle import Private
from .texts import iso_time

#: Cases read for one export at most: a requester with more is exported in part and told so.
MAX_CASES = 500
_ZIP_EPOCH = 315532800.0  # 1980-01-01: the earliest time a ZIP entry can carry


@dataclass(frozen=True, slots=True)
class Gathered:
    request: SubjectRequest
    email: str
    cases: list[Case]
    cases_note: str  # why cases are missing or cut, "" when all are in
    consent_receipts: list[dict[str, Any]]
    legal_records: list[dict[str, Any]]
    requests: list[dict[str, Any]]


def _request_row(r: SubjectRequest) -> dict[str, Any]:
    return {"request_id": r.request_id, "type": r.kind, "state": r.state, "received": iso_time(r.created_at),
            "due": iso_time(r.due_at), "reason": r.reason, "case_reference": r.case_reference}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


async def gather(compiled: CompiledRequests, store: Store, request: SubjectRequest, private: Private,
                 adapter: HelpdeskAdapter | None) -> Gathered:
    """Everything for the export (HelpdeskError and StoreError pass through: the caller retries)."""
    email = private.email
    cases: list[Case] = []
    note = ""
    if adapter is None:
        note = "No helpdesk is configured: the export holds what the gateway keeps."
    elif not adapter.can_search:
        note = "The helpdesk cannot be searched from here: its cases are sent to you separately."
    else:
        found = await adapter.find_cases(email)
        if len(found) > MAX_CASES:
            note = f"You have {len(found)} cases; the first {MAX_CASES} are here, ask us for the rest."
        for ref in found[:MAX_CASES]:
            case = await adapter.read_case(ref.id)
            if same_address(case.requester, email):  # never another person's case, whatever the search said
                cases.append(case)
    receipts = []
    for consent_id in private.consents:
        for receipt in await store.receipts_for(consent_id):
            row = {"consent_id": receipt.consent_id, "created": _iso(receipt.created_at), "method": receipt.method,
                   "consent_version": receipt.consent_version, "choices": dict(receipt.choices),
                   "page_path": receipt.page_path, "ip_truncated": receipt.ip_truncated}
            receipts.append(row)
    legal = []
    if compiled.legal_ring is not None:
        for record in await store.legal_records_for(proof.email_hashes(compiled.legal_ring, email)):
            row = {**record.to_dict(), "created": _iso(record.created_at)}
            row.pop("created_at")
            row.pop("email_hash")
            legal.append(row)
    requests = [_request_row(r) for r in await store.requests_for(compiled.keys.email_hashes(email))]
    return Gathered(request, email, cases, note, receipts, legal, requests)


def _case_dict(case: Case) -> dict[str, Any]:
    doc = asdict(case)
    doc["messages"] = [{**asdict(m), "attachments": [asdict(a) for a in m.attachments]} for m in case.messages]
    return doc


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v) for k, v in row.items()})
    return out.getvalue().encode("utf-8-sig")  # the BOM: spreadsheets read UTF-8 then


def tables(g: Gathered) -> dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]]:
    cases = [{k: v for k, v in _case_dict(c).items() if k != "messages"} for c in g.cases]
    messages = [{"case_id": c.id, "case_reference": c.reference, **{k: v for k, v in asdict(m).items()
                                                                    if k != "attachments"}}
                for c in g.cases for m in c.messages]
    attachments = [{"case_id": c.id, "message_id": m.id, **asdict(a)} for c in g.cases for m in c.messages
                   for a in m.attachments]
    return {
        "cases": (("id", "reference", "title", "status", "queue", "created", "updated", "requester", "fields"), cases),
        "messages": (("case_id", "case_reference", "id", "author", "created", "public", "text"), messages),
        "attachments": (("case_id", "message_id", "id", "name", "size", "content_type"), attachments),
        "consent_receipts": (("consent_id", "created", "method", "consent_version", "choices", "page_path",
                              "ip_truncated"), g.consent_receipts),
        "legal_basis_records": (("record_id", "created", "route", "basis", "purpose", "notice_version", "language",
                                 "ip_truncated", "event", "withdraws"), g.legal_records),
        "requests": (("request_id", "type", "state", "received", "due", "reason", "case_reference"), g.requests),
    }


def _summary(g: Gathered, organisation: str, generated: str) -> bytes:
    def table(title: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
        if not rows:
            return f"<h2>{escape(title)}</h2><p>None.</p>"
        head = "".join(f"<th>{escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
                       for row in rows)
        return f"<h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [f"<h1>Your data{' at ' + escape(organisation) if organisation else ''}</h1>",
             f"<p>Request {escape(g.request.request_id)} ({escape(g.request.kind)}), made with "
             f"{escape(g.email)}. Made on {escape(generated)}. The same data is in data.json (machine-readable) "
             "and in one CSV file per table.</p>"]
    if g.cases_note:
        parts.append(f"<p><strong>{escape(g.cases_note)}</strong></p>")
    for case in g.cases:
        rows = "".join(
            f"<li><p><strong>{escape(m.author)}</strong>, {escape(m.created)}"
            f"{'' if m.public else ' (internal note)'}</p><pre>{escape(m.text)}</pre>"
            + ("<p>Attachments: " + ", ".join(escape(a.name) for a in m.attachments) + "</p>" if m.attachments else "")
            + "</li>" for m in case.messages)
        parts.append(f"<h2>Case {escape(case.reference)}: {escape(case.title)}</h2><p>Status {escape(case.status)}, "
                     f"opened {escape(case.created)}, updated {escape(case.updated)}.</p><ol>{rows}</ol>")
    if not g.cases and not g.cases_note:
        parts.append("<h2>Cases</h2><p>None.</p>")
    t = tables(g)
    for name, title in (("consent_receipts", "Consent decisions of your browser"),
                        ("legal_basis_records", "Legal basis of your submissions"),
                        ("requests", "Your privacy requests")):
        columns, table_rows = t[name]
        parts.append(table(title, columns, table_rows))
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2rem .4rem;text-align:left;"
             "vertical-align:top}pre{white-space:pre-wrap;background:#f5f5f5;padding:.5rem}")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
            f"<title>Your data</title><style>{style}</style></head><body>{''.join(parts)}</body></html>").encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def archive(g: Gathered, *, organisation: str, now: float) -> bytes:
    """The ZIP: data.json, the CSV tables, index.html."""
    generated = _iso(now)
    document = {
        "request": _request_row(g.request), "generated": generated, "email": g.email,
        "cases": [_case_dict(c) for c in g.cases], "cases_note": g.cases_note,
        "consent_receipts": g.consent_receipts, "legal_basis_records": g.legal_records, "requests": g.requests,
    }
    out = io.BytesIO()
    stamp = datetime.fromtimestamp(max(now, _ZIP_EPOCH), timezone.utc).timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, data: bytes) -> None:
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)

        put("data.json", orjson.dumps(document, option=orjson.OPT_INDENT_2))
        for name, (columns, rows) in tables(g).items():
            put(f"{name}.csv", _csv(columns, rows))
        put("index.html", _summary(g, organisation, generated))
    return out.getvalue()
