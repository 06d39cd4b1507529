"""The Zammad adapter against a recording fake of Zammad's REST API v1 (tests/support/helpdesk_apis.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from gateway.helpdesks.base import Attachment, HelpdeskError, NewCase, NotSupported
from gateway.helpdesks.zammad import Zammad
from gateway.policy.helpdesks import HelpdeskSettings
from tests.support.helpdesk_apis import FakeZammad

JANE = "jane@example.com"


class Waits(list[float]):
    """Stands in for asyncio.sleep: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def zammad() -> AsyncIterator[FakeZammad]:
    fake = await FakeZammad(token="zammad-token").start()
    yield fake
    await fake.stop()


def settings_for(fake: FakeZammad, **changes: object) -> HelpdeskSettings:
    values: dict[str, object] = {"adapter": "zammad", "url": fake.url, "token": "zammad-token",
                                 "queue": "Privacy requests", "retries": 2, "backoff": 0.5, "max_wait": 10}
    return HelpdeskSettings.model_validate({**values, **changes})


@pytest.fixture
async def waits() -> Waits:
    return Waits()


@pytest.fixture
async def adapter(zammad: FakeZammad, waits: Waits) -> AsyncIterator[Zammad]:
    async with Zammad(settings_for(zammad), sleep=waits) as opened:
        yield opened


def seed(zammad: FakeZammad) -> tuple[list[int], int]:
    """Three tickets of Jane's, one of Mary Jane's (whose address holds Jane's), one of Bob's."""
    jane = zammad.add_user(JANE, "Jane", "Doe")
    mary = zammad.add_user("mary.jane@example.com")
    bob = zammad.add_user("bob@example.com")
    janes = [zammad.add_ticket(jane, f"Jane {n}")["id"] for n in range(3)]
    zammad.add_ticket(mary, "Mary Jane")
    other = zammad.add_ticket(bob, "Bob")["id"]
    return janes, other


async def test_find_cases_pages_through_the_search_and_keeps_only_the_requesters(
    zammad: FakeZammad, adapter: Zammad
) -> None:
    janes, _ = seed(zammad)
    adapter.per_page = 2

    found = await adapter.find_cases(JANE)

    assert [r.id for r in found] == [str(i) for i in janes]
    assert [(r.reference, r.title) for r in found] == [(str(31000 + i), f"Jane {n}") for n, i in enumerate(janes)]
    searches = zammad.seen("/api/v1/tickets/search")
    # Pages 1 and 2 hold Jane's three and Mary Jane's (the search matches words); page 3, empty, ends it.
    assert [s.query["page"] for s in searches] == ["1", "2", "3"]
    for search in searches:
        assert search.query["query"] == 'customer.email:"jane@example.com"'
        assert search.query["per_page"] == "2" and search.query["expand"] == "true"
        assert search.headers["Authorization"] == "Token token=zammad-token"
        assert search.headers["Accept"] == "application/json"
    # Each customer the search turned up is read once, and Mary Jane's ticket is dropped.
    assert sorted(r.path for r in zammad.seen("/api/v1/users/10") + zammad.seen("/api/v1/users/11")) == [
        "/api/v1/users/10", "/api/v1/users/11"]
    assert await adapter.find_cases("nobody@example.com") == []
    assert await adapter.find_cases("JANE@example.com") == found


async def test_a_reference_narrows_the_search_to_that_number(zammad: FakeZammad, adapter: Zammad) -> None:
    janes, bobs = seed(zammad)
    number = str(31000 + janes[1])

    for written in (number, f"Ticket#{number}", f"#{number}", f"[Ticket#{number}]"):
        [ref] = await adapter.find_cases(JANE, written)
        assert ref.id == str(janes[1]) and ref.reference == number
    assert zammad.seen("/api/v1/tickets/search")[-1].query["query"] == (
        f'customer.email:"jane@example.com" AND number:{number}')
    assert await adapter.find_cases(JANE, str(31000 + bobs)) == []  # Bob's number, Jane's address
    before = len(zammad.requests)
    assert await adapter.find_cases(JANE, "my request") == []  # no number: nothing to ask
    assert len(zammad.requests) == before


async def test_read_case_has_the_articles_notes_and_attachments(zammad: FakeZammad, adapter: Zammad) -> None:
    jane = zammad.add_user(JANE, "Jane", "Doe", phone="+47 22 33 44 55", mobile="912 34 567")
    ticket = zammad.add_ticket(jane, "Printer on fire", articles=[
        {"body": "<p>It smokes.</p>", "attachments": [("smoke.jpg", 48213, "image/jpeg")]},
        {"body": "Called her back.", "sender": "Agent", "internal": True},
        {"body": "We sent a technician.", "sender": "Agent",
         "attachments": [("report.pdf", 1200, "application/pdf"), ("notes.txt", 12, "text/plain")]},
    ])

    case = await adapter.read_case(str(ticket["id"]))

    assert (case.id, case.reference, case.title) == (str(ticket["id"]), ticket["number"], "Printer on fire")
    assert (case.status, case.queue, case.requester) == ("open", "Users", JANE)
    # The customer's contact: the name from firstname and lastname, the phone and the mobile; one read of it.
    assert (case.requester_name, case.requester_phones) == ("Jane Doe", ("+47 22 33 44 55", "912 34 567"))
    assert len(zammad.seen(f"/api/v1/users/{jane}")) == 1
    assert case.created == ticket["created_at"] and case.updated == ticket["updated_at"]
    assert case.fields == {"priority": "2 normal"}  # the owner "-" is nobody
    smoke, note, reply = case.messages
    assert (smoke.author, smoke.text, smoke.public) == (JANE, "<p>It smokes.</p>", True)
    [smoke_jpg] = smoke.attachments
    assert smoke_jpg == Attachment("smoke.jpg", 48213, "image/jpeg", smoke_jpg.id)  # Zammad's size is a string
    assert smoke_jpg.id == str(zammad.articles[ticket["id"]][0]["attachments"][0]["id"])
    assert (note.author, note.public, note.attachments) == ("Agent Smith", False, ())
    assert reply.public and [a.name for a in reply.attachments] == ["report.pdf", "notes.txt"]
    assert zammad.seen(f"/api/v1/ticket_articles/by_ticket/{ticket['id']}")[0].query["expand"] == "true"

    with pytest.raises(HelpdeskError) as missing:
        await adapter.read_case("999")
    assert missing.value.status == 404 and missing.value.retryable is False


async def test_open_case_posts_the_ticket_with_group_customer_article_and_tags(
    zammad: FakeZammad, adapter: Zammad
) -> None:
    ref = await adapter.open_case(NewCase(title="Erasure request R-9", body="Art. 17: erase my data.",
                                          requester="new.person@example.com", tags=("dsar", "erasure")))

    [posted] = zammad.seen("/api/v1/tickets", "POST")
    assert posted.headers["Content-Type"] == "application/json"
    assert posted.json() == {
        "title": "Erasure request R-9", "group": "Privacy requests", "customer_id": "guess:new.person@example.com",
        "article": {"subject": "Erasure request R-9", "body": "Art. 17: erase my data.", "type": "note",
                    "internal": False, "content_type": "text/plain"},
        "tags": "dsar,erasure",
    }
    made = zammad.tickets[int(ref.id)]
    assert ref.reference == made["number"] and ref.title == "Erasure request R-9"
    assert made["group_id"] == 3 and zammad.users[made["customer_id"]]["email"] == "new.person@example.com"

    # A group given by id is sent as group_id; an unknown group is Zammad's 422, not retryable.
    await adapter.open_case(NewCase(title="t", body="b", requester=JANE, queue="1"))
    assert zammad.seen("/api/v1/tickets", "POST")[-1].json()["group_id"] == 1
    with pytest.raises(HelpdeskError) as unknown:
        await adapter.open_case(NewCase(title="t", body="b", requester=JANE, queue="Nowhere"))
    assert unknown.value.status == 422 and unknown.value.retryable is False


async def test_a_429_waits_what_retry_after_says_and_a_500_backs_off(
    zammad: FakeZammad, adapter: Zammad, waits: Waits
) -> None:
    janes, _ = seed(zammad)
    zammad.fail("/api/v1/tickets/search", 429, headers={"Retry-After": "7"})
    assert len(await adapter.find_cases(JANE)) == 3
    assert waits == [7.0]

    zammad.fail(f"/api/v1/tickets/{janes[0]}", 500)
    case = await adapter.read_case(str(janes[0]))
    assert case.title == "Jane 0"
    assert len(waits) == 2 and 0.25 <= waits[1] <= 0.5  # backoff 0.5s, with jitter down to half
    assert len(zammad.seen(f"/api/v1/tickets/{janes[0]}")) == 2


async def test_errors_after_the_last_try_are_retryable_and_say_no_more_than_needed(
    zammad: FakeZammad, adapter: Zammad, waits: Waits
) -> None:
    seed(zammad)
    zammad.fail("/api/v1/tickets/search", 502, times=3)
    with pytest.raises(HelpdeskError) as info:
        await adapter.find_cases(JANE)
    assert (info.value.retryable, info.value.status) == (True, 502)
    assert str(info.value) == "zammad: find cases: answered 502 after 3 tries"
    assert len(zammad.seen("/api/v1/tickets/search")) == 3
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.5 <= waits[1] <= 1.0  # 0.5s, then doubled, with jitter

    # A Retry-After longer than max_wait ends the tries at once, still retryable.
    zammad.fail("/api/v1/tickets/search", 429, headers={"Retry-After": "3600"})
    with pytest.raises(HelpdeskError) as later:
        await adapter.find_cases(JANE)
    assert (later.value.retryable, later.value.status, len(waits)) == (True, 429, 2)


async def test_a_post_that_may_have_been_acted_on_is_not_repeated(
    zammad: FakeZammad, adapter: Zammad, waits: Waits
) -> None:
    case = NewCase(title="Access", body="b", requester=JANE)
    zammad.fail("/api/v1/tickets", 500, method="POST")
    with pytest.raises(HelpdeskError) as info:
        await adapter.open_case(case)
    assert (info.value.retryable, info.value.status) == (True, 500)
    assert len(zammad.seen("/api/v1/tickets", "POST")) == 1 and waits == []

    # 429 and 503 say the request was not acted on: those are repeated.
    zammad.fail("/api/v1/tickets", 429, method="POST", headers={"Retry-After": "1"})
    zammad.fail("/api/v1/tickets", 503, method="POST")
    ref = await adapter.open_case(case)
    assert len(zammad.seen("/api/v1/tickets", "POST")) == 4 and len(waits) == 2 and waits[0] == 1.0
    assert [t["id"] for t in zammad.tickets.values()] == [int(ref.id)]  # one ticket, not three


async def test_wrong_credentials_are_not_retried(zammad: FakeZammad, waits: Waits) -> None:
    async with Zammad(settings_for(zammad, token="expired"), sleep=waits) as adapter:
        with pytest.raises(HelpdeskError) as info:
            await adapter.find_cases(JANE)
    assert (info.value.retryable, info.value.status, waits) == (False, 401, [])
    assert str(info.value) == "zammad: find cases: answered 401 (check the credentials)"
    assert len(zammad.requests) == 1


async def test_login_and_password_go_as_basic_auth(zammad: FakeZammad, waits: Waits) -> None:
    zammad.login = ("agent@example.com", "pass-word")
    seed(zammad)
    settings = settings_for(zammad, token=None, username="agent@example.com", password="pass-word")
    async with Zammad(settings, sleep=waits) as adapter:
        assert len(await adapter.find_cases(JANE)) == 3
    expected = "Basic " + base64.b64encode(b"agent@example.com:pass-word").decode()
    assert {r.headers["Authorization"] for r in zammad.requests} == {expected}


PSEUDONYM, ALIAS = "Customer 7f3a", "customer-7f3a@anonymised.invalid"


async def test_the_requester_becomes_the_pseudonym_and_the_title_changes(zammad: FakeZammad, adapter: Zammad) -> None:
    jane = zammad.add_user(JANE, "Jane", "Doe")
    first = zammad.add_ticket(jane, "Jane Doe: printer", articles=[{"body": "I am Jane Doe."}])
    second = zammad.add_ticket(jane, "Jane again")

    await adapter.update_requester(str(first["id"]), PSEUDONYM, ALIAS)
    await adapter.update_requester(str(second["id"]), PSEUDONYM, ALIAS)  # the same pseudonym user, found again
    await adapter.update_case(str(first["id"]), title="[name]: printer")

    [made] = zammad.seen("/api/v1/users", "POST")
    assert made.json() == {"firstname": PSEUDONYM, "lastname": "", "email": ALIAS, "roles": ["Customer"]}
    pseudonym_id = next(u["id"] for u in zammad.users.values() if u["email"] == ALIAS)
    assert first["customer_id"] == second["customer_id"] == pseudonym_id
    assert first["title"] == "[name]: printer" and jane in zammad.users  # her own user is not changed
    case = await adapter.read_case(str(first["id"]))
    assert case.requester == ALIAS and case.messages[0].text == "I am Jane Doe."  # articles stay as written
    assert (case.requester_name, case.requester_phones) == (PSEUDONYM, ())  # the contact is the pseudonym's now
    puts = zammad.seen(f"/api/v1/tickets/{first['id']}", "PUT")
    assert [p.json() for p in puts] == [{"customer_id": pseudonym_id}, {"title": "[name]: printer"}]


async def test_articles_attachments_and_fields_cannot_be_changed(zammad: FakeZammad, adapter: Zammad) -> None:
    ticket = zammad.add_ticket(zammad.add_user(JANE), "Jane's", articles=[
        {"body": "Jane", "attachments": [("id.png", 10, "image/png")]}])
    case = await adapter.read_case(str(ticket["id"]))
    assert (case.requester_name, case.requester_phones) == ("", ())  # a customer without name or phones
    [article] = case.messages
    assert Zammad.capabilities == {"update_requester", "update_case", "delete_case", "delete_requester"}
    with pytest.raises(NotSupported) as message:
        await adapter.update_message(case.id, article.id, "[name]")
    assert str(message.value) == "zammad: update message: not supported" and message.value.retryable is False
    with pytest.raises(NotSupported):
        await adapter.delete_attachment(case.id, article.id, article.attachments[0].id)
    with pytest.raises(NotSupported) as fields:
        await adapter.update_case(case.id, title="[name]'s", fields={"organization": "[name] AS"})
    assert str(fields.value) == "zammad: update case: fields organization: not supported"
    assert ticket["title"] == "[name]'s"  # what it could write, it wrote
    assert [(r.method, r.path) for r in zammad.requests if r.method != "GET"] == [
        ("PUT", f"/api/v1/tickets/{ticket['id']}")]


async def test_a_case_is_deleted_and_deleting_it_again_is_success(zammad: FakeZammad, adapter: Zammad) -> None:
    ticket = zammad.add_ticket(zammad.add_user(JANE), "Spam")
    await adapter.delete_case(str(ticket["id"]))
    assert ticket["id"] not in zammad.tickets
    await adapter.delete_case(str(ticket["id"]))  # 404, and the API answers: gone
    assert len(zammad.seen("/api/v1/users/me")) == 1

    zammad.fail("/api/v1/users/me", 404)  # a 404 from something that is not Zammad's API
    with pytest.raises(HelpdeskError) as info:
        await adapter.delete_case(str(ticket["id"]))
    assert info.value.status == 404


async def test_deleting_the_requester_queues_zammads_data_privacy_task(zammad: FakeZammad, adapter: Zammad) -> None:
    jane, bob = zammad.add_user(JANE), zammad.add_user("bob@example.com")
    zammad.add_user("mary.jane@example.com")  # found by the search's words, not Jane
    janes = zammad.add_ticket(jane, "Jane's")
    bobs = zammad.add_ticket(bob, "Bob's")

    await adapter.delete_requester(JANE)
    await adapter.delete_requester(JANE.upper())  # a task for her exists: done already
    [posted] = zammad.seen("/api/v1/data_privacy_tasks", "POST")[:1]
    assert posted.json() == {"deletable_type": "User", "deletable_id": jane}
    assert len(zammad.privacy_tasks) == 1

    zammad.run_privacy_tasks()  # Zammad's scheduler: the user and the tickets she is the customer of go
    assert jane not in zammad.users and janes["id"] not in zammad.tickets and bobs["id"] in zammad.tickets
    await adapter.delete_requester(JANE)  # nobody with that address: nothing to do
    assert len(zammad.seen("/api/v1/data_privacy_tasks", "POST")) == 2


async def test_a_note_is_an_internal_article_the_customer_does_not_see(zammad: FakeZammad, adapter: Zammad) -> None:
    ticket = zammad.add_ticket(zammad.add_user(JANE), "Erasure request", articles=[{"body": "Erase me."}])
    await adapter.add_note(str(ticket["id"]), "Erasure done: 2 cases anonymised.")
    [posted] = zammad.seen("/api/v1/ticket_articles", "POST")
    assert posted.json() == {"ticket_id": ticket["id"], "body": "Erasure done: 2 cases anonymised.", "type": "note",
                             "internal": True, "content_type": "text/plain"}
    case = await adapter.read_case(str(ticket["id"]))
    assert [(m.text, m.public) for m in case.messages] == [
        ("Erase me.", True), ("Erasure done: 2 cases anonymised.", False)]
    with pytest.raises(HelpdeskError) as missing:
        await adapter.add_note("999", "nobody's")
    assert (missing.value.status, missing.value.retryable) == (422, False)


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


async def test_cases_are_listed_by_state_and_last_change_for_retention(
    zammad: FakeZammad, adapter: Zammad, waits: Waits
) -> None:
    jane, bob = zammad.add_user(JANE), zammad.add_user("bob@example.com")

    def ticket(customer: int, state_id: int, updated: str) -> int:
        made = zammad.add_ticket(customer, f"{zammad.states[state_id]} {updated}")
        made.update(state_id=state_id, updated_at=updated)
        return int(made["id"])

    oldest = ticket(bob, 4, "2023-05-01T08:00:00.000Z")
    merged = ticket(jane, 5, "2024-02-01T08:00:00.000Z")
    closed = ticket(jane, 4, "2024-06-30T23:00:00.000Z")
    ticket(jane, 4, "2024-07-01T12:00:00.000Z")  # after the cut, on a day the search's sieve lets through
    ticket(jane, 2, "2023-01-01T08:00:00.000Z")  # open
    ticket(jane, 4, "2025-01-01T08:00:00.000Z")  # closed recently
    reopened = ticket(bob, 2, "2024-01-01T08:00:00.000Z")
    zammad.stale_index[reopened] = {"state_id": 4}  # the index has not seen it reopened yet
    adapter.per_page = 2
    cut = at("2024-07-01T00:00:00+00:00")

    listed = await adapter.list_cases(["Closed", "merged", "spam"], cut)

    assert [(c.id, c.status, c.requester) for c in listed] == [
        (str(oldest), "closed", "bob@example.com"), (str(merged), "merged", JANE), (str(closed), "closed", JANE)]
    assert (listed[0].reference, listed[0].updated) == (str(31000 + oldest), at("2023-05-01T08:00:00+00:00"))
    searches = zammad.seen("/api/v1/tickets/search")
    assert [s.query["page"] for s in searches] == ["1", "2", "3"]  # five hits, two a page: the short third ends it
    for search in searches:
        assert search.query["query"] == 'state.name:("closed" OR "merged") AND updated_at:<2024-07-03'
        assert (search.query["sort_by"], search.query["order_by"]) == ("updated_at", "asc")
        assert (search.query["expand"], search.query["per_page"]) == ("true", "2")
    assert len(zammad.seen(f"/api/v1/users/{jane}")) == len(zammad.seen(f"/api/v1/users/{bob}")) == 1

    # The limit stops the paging; a 429 is waited out as before.
    zammad.fail("/api/v1/tickets/search", 429, headers={"Retry-After": "2"})
    before = len(zammad.seen("/api/v1/tickets/search"))
    assert [c.id for c in await adapter.list_cases(["closed", "merged"], cut, limit=2)] == [str(oldest), str(merged)]
    assert len(zammad.seen("/api/v1/tickets/search")) - before == 3 and waits == [2.0]  # pages 1 (twice) and 2

    # A state Zammad does not have lists nothing, and nothing is searched.
    asked = len(zammad.requests)
    assert await adapter.list_cases(["spam"], cut) == []
    assert [r.path for r in zammad.requests[asked:]] == ["/api/v1/ticket_states"]
