"""The Zendesk adapter against a recording fake of Zendesk's REST API v2 (tests/support/helpdesk_apis.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from gateway.helpdesks.base import Attachment, HelpdeskError, NewCase, NotSupported
from gateway.helpdesks.zendesk import Zendesk
from gateway.policy.helpdesks import HelpdeskSettings
from tests.support.helpdesk_apis import FakeZendesk

JANE = "jane@example.com"
AUTH = "Basic " + base64.b64encode(b"agent@example.com/token:zendesk-token").decode()


class Waits(list[float]):
    """Stands in for asyncio.sleep: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def zendesk() -> AsyncIterator[FakeZendesk]:
    fake = await FakeZendesk().start()
    yield fake
    await fake.stop()


def settings_for(fake: FakeZendesk, **changes: object) -> HelpdeskSettings:
    values: dict[str, object] = {"adapter": "zendesk", "url": fake.url, "email": "agent@example.com",
                                 "api_token": "zendesk-token", "queue": 360002, "retries": 2, "backoff": 0.5,
                                 "max_wait": 30}
    return HelpdeskSettings.model_validate({**values, **changes})


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def adapter(zendesk: FakeZendesk, waits: Waits) -> AsyncIterator[Zendesk]:
    async with Zendesk(settings_for(zendesk), sleep=waits) as opened:
        yield opened


def seed(zendesk: FakeZendesk) -> tuple[list[int], int]:
    """Three tickets of Jane's, one of Mary Jane's (whose address holds Jane's), one of Bob's."""
    jane = zendesk.add_user(JANE, "Jane Doe")
    mary = zendesk.add_user("mary.jane@example.com")
    bob = zendesk.add_user("bob@example.com")
    janes = [zendesk.add_ticket(jane, f"Jane {n}")["id"] for n in range(3)]
    zendesk.add_ticket(mary, "Mary Jane")
    other = zendesk.add_ticket(bob, "Bob")["id"]
    return janes, other


async def test_find_cases_follows_next_page_and_keeps_only_the_requesters(
    zendesk: FakeZendesk, adapter: Zendesk
) -> None:
    janes, _ = seed(zendesk)
    adapter.per_page = 2

    found = await adapter.find_cases(JANE)

    assert [(r.id, r.reference, r.title) for r in found] == [(str(i), str(i), f"Jane {n}") for n, i in enumerate(janes)]
    searches = zendesk.seen("/api/v2/search.json")
    assert [s.query.get("page") for s in searches] == [None, "2"]  # page 2 from next_page; it has no next
    for search in searches:
        assert search.query["query"] == "type:ticket requester:jane@example.com"
        assert search.query["include"] == "tickets(users)" and search.query["per_page"] == "2"
        assert search.headers["Authorization"] == AUTH
    assert await adapter.find_cases("nobody@example.com") == []


async def test_pagination_links_are_followed_on_the_configured_host_only(
    zendesk: FakeZendesk, adapter: Zendesk
) -> None:
    janes, _ = seed(zendesk)
    zendesk.next_page_host = "zendesk.attacker.example"  # an answer naming another host
    adapter.per_page = 2
    assert [r.id for r in await adapter.find_cases(JANE)] == [str(i) for i in janes]
    assert len(zendesk.seen("/api/v2/search.json")) == 2  # page 2 came here, with the credentials


async def test_a_reference_reads_that_ticket_and_checks_its_requester(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    janes, bobs = seed(zendesk)
    for written in (str(janes[1]), f"#{janes[1]}", f"Request #{janes[1]}"):
        [ref] = await adapter.find_cases(JANE, written)
        assert ref.id == str(janes[1]) and ref.title == "Jane 1"
    shown = zendesk.seen(f"/api/v2/tickets/{janes[1]}.json")[-1]
    assert shown.query["include"] == "users" and shown.headers["Authorization"] == AUTH
    assert await adapter.find_cases(JANE, str(bobs)) == []  # Bob's ticket
    assert await adapter.find_cases(JANE, "99999") == []  # Zendesk's 404
    assert zendesk.seen("/api/v2/search.json") == []  # a reference never searches


async def test_read_case_pages_through_comments_by_cursor(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    jane = zendesk.add_user(JANE, "Jane Doe", phone="+47 22 33 44 55")
    ticket = zendesk.add_ticket(jane, "Refund", group_id=360002, tags=["billing", "vip"], comments=[
        {"body": "I was charged twice.", "attachments": [("statement.pdf", 20480, "application/pdf")]},
        {"body": "Checked the ledger.", "author_id": zendesk.agent, "public": False},
        {"body": "Refunded.", "author_id": zendesk.agent},
        {"body": "Thanks!", "attachments": [("smile.png", 512, "image/png"), ("note.txt", 3, "text/plain")]},
        {"body": "Closing.", "author_id": zendesk.agent},
    ])
    adapter.per_page = 2

    case = await adapter.read_case(str(ticket["id"]))

    assert (case.id, case.reference) == (str(ticket["id"]), str(ticket["id"]))
    assert (case.title, case.status) == ("Refund", "open")
    assert (case.queue, case.requester) == ("Privacy requests", JANE)  # the group's name, sideloaded
    assert (case.requester_name, case.requester_phones) == ("Jane Doe", ("+47 22 33 44 55",))  # the requester's
    assert case.fields == {"priority": "normal", "type": "question", "tags": "billing,vip"}
    assert [m.text for m in case.messages] == ["I was charged twice.", "Checked the ledger.", "Refunded.", "Thanks!",
                                               "Closing."]
    assert [m.author for m in case.messages] == [JANE, "Agent Smith", "Agent Smith", JANE, "Agent Smith"]
    assert [m.public for m in case.messages] == [True, False, True, True, True]
    statement_id = str(zendesk.comments[ticket["id"]][0]["attachments"][0]["id"])
    assert case.messages[0].attachments == (Attachment("statement.pdf", 20480, "application/pdf", statement_id),)
    assert [a.name for a in case.messages[3].attachments] == ["smile.png", "note.txt"]
    pages = zendesk.seen(f"/api/v2/tickets/{ticket['id']}/comments.json")
    assert len(pages) == 3 and all(p.query["page[size]"] == "2" and p.query["include"] == "users" for p in pages)
    assert "page[after]" not in pages[0].query and pages[1].query["page[after]"] != pages[2].query["page[after]"]
    assert zendesk.seen(f"/api/v2/tickets/{ticket['id']}.json")[0].query["include"] == "users,groups"

    with pytest.raises(HelpdeskError) as missing:
        await adapter.read_case("99999")
    assert (missing.value.status, missing.value.retryable) == (404, False)


async def test_read_case_follows_offset_pagination_too(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    zendesk.cursor_pagination, zendesk.offset_page_size = False, 2
    jane = zendesk.add_user(JANE)
    ticket = zendesk.add_ticket(jane, "Old style", comments=[{"body": f"c{n}"} for n in range(5)])
    case = await adapter.read_case(str(ticket["id"]))
    assert [m.text for m in case.messages] == ["c0", "c1", "c2", "c3", "c4"]
    assert (case.requester_name, case.requester_phones) == ("jane", ())  # named by its address; phone null
    pages = zendesk.seen(f"/api/v2/tickets/{ticket['id']}/comments.json")
    assert [p.query.get("page") for p in pages] == [None, "2", "3"]
    assert all(p.query["include"] == "users" for p in pages)  # kept from the first request


async def test_open_case_sends_the_ticket_with_an_idempotency_key(
    zendesk: FakeZendesk, adapter: Zendesk, waits: Waits
) -> None:
    request = NewCase(title="Access request R-3", body="Art. 15, please.", requester="new.person@example.com",
                      tags=("dsar", "access"), idempotency_key="req-3")
    zendesk.fail("/api/v2/tickets.json", 500, method="POST")  # after acting on it, or not: the key makes it safe

    ref = await adapter.open_case(request)

    first, second = zendesk.seen("/api/v2/tickets.json", "POST")
    assert first.json() == second.json() == {"ticket": {
        "subject": "Access request R-3", "comment": {"body": "Art. 15, please."},
        "requester": {"email": "new.person@example.com", "name": "new.person"},
        "group_id": 360002, "tags": ["dsar", "access"],
    }}
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "req-3"
    assert first.headers["Authorization"] == AUTH and len(waits) == 1
    assert ref.title == "Access request R-3" and zendesk.tickets[int(ref.id)]["group_id"] == 360002

    # The same request again (the portal retrying later) is Zendesk's idempotency hit: still one ticket.
    assert await adapter.open_case(request) == ref
    assert len(zendesk.tickets) == 1

    # Without a key each call gets its own; an unknown group is Zendesk's 422.
    await adapter.open_case(NewCase(title="t", body="b", requester=JANE))
    assert zendesk.seen("/api/v2/tickets.json", "POST")[-1].headers["Idempotency-Key"] not in ("", "req-3")
    with pytest.raises(HelpdeskError) as invalid:
        await adapter.open_case(NewCase(title="t", body="b", requester=JANE, queue="42"))
    assert (invalid.value.status, invalid.value.retryable) == (422, False)


async def test_rate_limits_are_waited_out_as_retry_after_says(
    zendesk: FakeZendesk, adapter: Zendesk, waits: Waits
) -> None:
    janes, _ = seed(zendesk)
    zendesk.fail("/api/v2/search.json", 429, headers={"Retry-After": "12"}, body={"error": "APIRateLimitExceeded"})
    zendesk.fail("/api/v2/search.json", 429, headers={"Retry-After": "3"})
    assert [r.id for r in await adapter.find_cases(JANE)] == [str(i) for i in janes]
    assert waits == [12.0, 3.0] and len(zendesk.seen("/api/v2/search.json")) == 3

    zendesk.fail(f"/api/v2/tickets/{janes[0]}/comments.json", 500)
    assert (await adapter.read_case(str(janes[0]))).title == "Jane 0"
    assert len(waits) == 3 and 0.25 <= waits[2] <= 0.5

    zendesk.fail("/api/v2/search.json", 429, headers={"Retry-After": "60"})  # beyond max_wait (30s)
    with pytest.raises(HelpdeskError) as info:
        await adapter.find_cases(JANE)
    assert (info.value.retryable, info.value.status, len(waits)) == (True, 429, 3)
    assert str(info.value) == "zendesk: find cases: answered 429"


async def test_a_wrong_api_token_is_not_retried(zendesk: FakeZendesk, waits: Waits) -> None:
    async with Zendesk(settings_for(zendesk, api_token="revoked"), sleep=waits) as adapter:
        with pytest.raises(HelpdeskError) as info:
            await adapter.find_cases(JANE)
    assert (info.value.retryable, info.value.status, waits) == (False, 401, [])
    assert len(zendesk.requests) == 1 and JANE not in str(info.value)


PSEUDONYM, ALIAS = "Customer 7f3a", "customer-7f3a@anonymised.invalid"
BLOCK = "\u2587"


async def test_the_requester_becomes_the_pseudonym_and_the_subject_changes(
    zendesk: FakeZendesk, adapter: Zendesk
) -> None:
    jane = zendesk.add_user(JANE, "Jane Doe")
    first = zendesk.add_ticket(jane, "Jane Doe: refund")
    second = zendesk.add_ticket(jane, "Again")

    await adapter.update_requester(str(first["id"]), PSEUDONYM, ALIAS)
    await adapter.update_requester(str(second["id"]), PSEUDONYM, ALIAS)
    await adapter.update_case(str(first["id"]), title="[name]: refund")

    made = [u for u in zendesk.users.values() if u["email"] == ALIAS]
    assert len(made) == 1 and made[0]["name"] == PSEUDONYM  # create_or_update: one user per address
    assert first["requester_id"] == second["requester_id"] == made[0]["id"] and jane in zendesk.users
    assert first["subject"] == "[name]: refund"
    assert [p.json() for p in zendesk.seen(f"/api/v2/tickets/{first['id']}.json", "PUT")] == [
        {"ticket": {"requester_id": made[0]["id"]}}, {"ticket": {"subject": "[name]: refund"}}]
    case = await adapter.read_case(str(first["id"]))
    assert (case.requester, case.requester_name, case.requester_phones) == (ALIAS, PSEUDONYM, ())  # the pseudonym's
    with pytest.raises(NotSupported) as fields:
        await adapter.update_case(str(first["id"]), fields={"due_at": "[date]"})
    assert str(fields.value) == "zendesk: update case: fields due_at: not supported"


async def test_a_closed_ticket_refuses_updates(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    ticket = zendesk.add_ticket(zendesk.add_user(JANE), "Jane's", status="closed")
    with pytest.raises(HelpdeskError) as info:
        await adapter.update_case(str(ticket["id"]), title="[name]'s")
    assert (info.value.status, info.value.retryable) == (422, False) and ticket["subject"] == "Jane's"


async def test_a_comment_is_redacted_where_the_new_text_has_labels(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    jane = zendesk.add_user(JANE, "Jane Doe")
    ticket = zendesk.add_ticket(jane, "t", status="closed", comments=[  # redaction works on closed tickets too
        {"body": "I am Jane Doe (jane@example.com), call +47 22 33 44 55. Janet & Jane say hi."}])
    [comment] = zendesk.comments[ticket["id"]]
    new = "I am [name] ([e-mail]), call [phone]. Janet & [name] say hi."

    await adapter.update_message(str(ticket["id"]), str(comment["id"]), new)

    assert comment["plain_body"] == (f"I am {BLOCK * 8} ({BLOCK * 16}), call {BLOCK * 15}. "
                                     f"Janet & {BLOCK * 4} say hi.")  # whole words: Janet stays
    assert "Jane" not in comment["html_body"].replace("Janet", "") and "22 33" not in comment["html_body"]
    [put] = zendesk.seen(f"/api/v2/comment_redactions/{comment['id']}.json", "PUT")
    assert put.json()["ticket_id"] == ticket["id"] and "<redact>Jane Doe</redact>" in put.json()["html_body"]

    await adapter.update_message(str(ticket["id"]), str(comment["id"]), new)  # done: nothing left to redact
    assert len(zendesk.seen(f"/api/v2/comment_redactions/{comment['id']}.json", "PUT")) == 1


async def test_a_text_that_is_not_a_redaction_is_refused(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    ticket = zendesk.add_ticket(zendesk.add_user(JANE), "t", comments=[{"body": "Printer on fire"}])
    [comment] = zendesk.comments[ticket["id"]]
    with pytest.raises(NotSupported) as info:
        await adapter.update_message(str(ticket["id"]), str(comment["id"]), "Printer is fine")
    assert str(info.value) == "zendesk: update message: replacing text (only redaction is): not supported"
    with pytest.raises(HelpdeskError) as missing:
        await adapter.update_message(str(ticket["id"]), "1", "x")
    assert missing.value.status == 404
    assert not zendesk.seen(f"/api/v2/comment_redactions/{comment['id']}.json", "PUT")


async def test_attachments_are_redacted(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    ticket = zendesk.add_ticket(zendesk.add_user(JANE), "t", comments=[
        {"body": "scan", "attachments": [("passport.pdf", 2048, "application/pdf"), ("logo.png", 9, "image/png")]}])
    case = await adapter.read_case(str(ticket["id"]))
    [message] = case.messages
    passport = message.attachments[0]
    await adapter.delete_attachment(case.id, message.id, passport.id)
    await adapter.delete_attachment(case.id, message.id, passport.id)  # again: the same empty file
    after = (await adapter.read_case(case.id)).messages[0].attachments
    assert [(a.name, a.size) for a in after] == [("redacted.txt", 0), ("logo.png", 9)]


async def test_a_case_and_a_requester_are_deleted_for_good(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    jane = zendesk.add_user(JANE)
    zendesk.add_user("mary.jane@example.com")
    ticket = zendesk.add_ticket(jane, "Spam")
    await adapter.delete_case(str(ticket["id"]))
    assert ticket["id"] not in zendesk.tickets and ticket["id"] not in zendesk.deleted_tickets
    await adapter.delete_case(str(ticket["id"]))  # both 404, and the API answers: gone
    zendesk.fail("/api/v2/users/me.json", 404)
    with pytest.raises(HelpdeskError):
        await adapter.delete_case(str(ticket["id"]))  # a 404 from what is not Zendesk's API

    await adapter.delete_requester(JANE)
    assert jane not in zendesk.users and jane not in zendesk.deleted_users
    assert any(u["email"] == "mary.jane@example.com" for u in zendesk.users.values())
    assert [r.path for r in zendesk.requests if r.method == "DELETE"][-2:] == [
        f"/api/v2/users/{jane}.json", f"/api/v2/deleted_users/{jane}.json"]
    await adapter.delete_requester(JANE)  # nobody with that address any more
    assert Zendesk.capabilities == {"update_requester", "update_case", "update_message", "delete_attachment",
                                    "delete_case", "delete_requester"}


async def test_a_note_is_a_private_comment(zendesk: FakeZendesk, adapter: Zendesk) -> None:
    ticket = zendesk.add_ticket(zendesk.add_user(JANE, "Jane Doe"), "Erasure request",
                                comments=[{"body": "Erase me."}])
    await adapter.add_note(str(ticket["id"]), "Erasure done: 2 cases anonymised.")
    [put] = zendesk.seen(f"/api/v2/tickets/{ticket['id']}.json", "PUT")
    assert put.json() == {"ticket": {"comment": {"body": "Erasure done: 2 cases anonymised.", "public": False}}}
    case = await adapter.read_case(str(ticket["id"]))
    assert [(m.text, m.public) for m in case.messages] == [
        ("Erase me.", True), ("Erasure done: 2 cases anonymised.", False)]
    assert ticket["subject"] == "Erasure request"


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


async def test_cases_are_listed_by_state_and_last_change_for_retention(
    zendesk: FakeZendesk, adapter: Zendesk, waits: Waits
) -> None:
    jane, bob = zendesk.add_user(JANE, "Jane Doe"), zendesk.add_user("bob@example.com")

    def ticket(requester: int, status: str, updated: str) -> int:
        made = zendesk.add_ticket(requester, f"{status} {updated}", status=status)
        made["updated_at"] = updated
        return int(made["id"])

    closed = [ticket(jane, "closed", f"2023-0{n}-01T08:00:00Z") for n in (3, 1, 2)]
    solved = ticket(bob, "solved", "2024-06-30T23:00:00Z")
    ticket(jane, "closed", "2024-07-01T12:00:00Z")  # after the cut, on a day the search's sieve lets through
    ticket(jane, "open", "2023-01-01T08:00:00Z")
    ticket(bob, "closed", "2025-01-01T08:00:00Z")  # closed recently
    adapter.per_page = 2
    cut = at("2024-07-01T00:00:00+00:00")

    listed = await adapter.list_cases(["Solved", "closed", "merged"], cut)

    assert [(c.id, c.status, c.requester) for c in listed] == [(str(solved), "solved", "bob@example.com")] + [
        (str(i), "closed", JANE) for i in closed]  # each status by creation, as the export gives them
    assert (listed[1].reference, listed[1].updated) == (str(closed[0]), at("2023-03-01T08:00:00+00:00"))
    exports = zendesk.seen("/api/v2/search/export")
    assert [e.query["query"] for e in exports] == ["status:solved updated<2024-07-03"] + [
        "status:closed updated<2024-07-03"] * 2  # four closed hits, two a page
    assert all(e.query["filter[type]"] == "ticket" and e.query["page[size]"] == "2" for e in exports)
    assert "page[after]" not in exports[1].query and "page[after]" in exports[2].query
    [shown] = zendesk.seen("/api/v2/users/show_many")
    assert shown.query["ids"] == f"{jane},{bob}" and shown.headers["Authorization"] == AUTH

    # The limit stops the paging; a 429 is waited out as before.
    zendesk.fail("/api/v2/search/export", 429, headers={"Retry-After": "3"})
    before = len(zendesk.seen("/api/v2/search/export"))
    assert [c.id for c in await adapter.list_cases(["solved", "closed"], cut, limit=2)] == [str(solved), str(closed[0])]
    assert len(zendesk.seen("/api/v2/search/export")) - before == 3 and waits == [3.0]

    # A status Zendesk does not have lists nothing, and nothing is asked.
    asked = len(zendesk.requests)
    assert await adapter.list_cases(["merged"], cut) == []
    assert len(zendesk.requests) == asked
