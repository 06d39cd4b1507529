"""The django-helpdesk adapter against the real django-helpdesk (tests/support/helpdesk.py), over its REST API."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.helpdesks.base import HelpdeskError, NewCase, NotSupported
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.policy.helpdesks import HelpdeskSettings
from tests.conftest import free_port
from tests.support.helpdesk import Helpdesk, form_with


def settings_for(helpdesk: Helpdesk, **changes: object) -> HelpdeskSettings:
    values: dict[str, object] = {
        "adapter": "django-helpdesk", "url": helpdesk.url + "/helpdesk", "queue": helpdesk.queue_id,
        "username": helpdesk.staff_user, "password": helpdesk.staff_password,
        "timeout": 20, "retries": 1, "backoff": 0.01, "max_wait": 1,
    }
    return HelpdeskSettings.model_validate({**values, **changes})


@pytest.fixture
async def adapter(django_helpdesk: Helpdesk) -> AsyncIterator[DjangoHelpdesk]:
    async with DjangoHelpdesk(settings_for(django_helpdesk)) as opened:
        yield opened


def someone() -> str:
    return f"person.{secrets.token_hex(4)}@example.com"


async def add_followup(helpdesk: Helpdesk, ticket_id: str, comment: str, *, public: bool,
                       files: dict[str, tuple[bytes, str]] | None = None) -> None:
    """A follow-up through the API itself (multipart, with attachments), as an agent's tool would add it."""
    auth = base64.b64encode(f"{helpdesk.staff_user}:{helpdesk.staff_password}".encode()).decode()
    form = aiohttp.FormData()
    # No title: django-helpdesk would rename the ticket to it.
    for name, value in {"ticket": ticket_id, "comment": comment, "public": "true" if public else "false"}.items():
        form.add_field(name, value)
    for filename, (content, content_type) in (files or {}).items():
        form.add_field("attachments", content, filename=filename, content_type=content_type)
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.post(f"{helpdesk.url}/helpdesk/api/followups/", data=form,
                                headers={"Authorization": f"Basic {auth}"}) as response:
            assert response.status == 201, await response.text()


async def submit_public_form(helpdesk: Helpdesk, email: str, title: str, attachment: bytes) -> None:
    """The helpdesk's own public form, straight to it (no gateway): a ticket whose first follow-up has no user."""
    async with aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{helpdesk.url}/helpdesk/tickets/submit/") as response:
            form = form_with(await response.text(), "submitter_email")
        data = aiohttp.FormData()
        fields = {**form.fields, "queue": str(helpdesk.queue_id), "title": title, "submitter_email": email,
                  "priority": "3", "body": "Please send me what you hold about me."}
        for name, value in fields.items():
            data.add_field(name, value)
        data.add_field("attachment", attachment, filename="passport-scan.pdf", content_type="application/pdf")
        async with session.post(f"{helpdesk.url}/helpdesk/tickets/submit/", data=data) as response:
            assert response.status == 200 and response.url.path == "/helpdesk/view/", await response.text()


async def test_a_case_opens_in_the_queue_and_reads_back(adapter: DjangoHelpdesk, django_helpdesk: Helpdesk) -> None:
    requester = someone()
    ref = await adapter.open_case(NewCase(title="Access request R-1", body="Art. 15: a copy of my data.",
                                          requester=requester, tags=("dsar",)))
    assert ref.id.isdigit() and ref.reference == ref.id and ref.title == "Access request R-1"

    case = await adapter.read_case(ref.id)
    assert (case.id, case.title, case.requester) == (ref.id, "Access request R-1", requester)
    assert case.queue == str(django_helpdesk.queue_id) and case.status == "open"
    assert case.fields["priority"] == "3" and case.fields["description"] == "Art. 15: a copy of my data."
    [opened] = case.messages
    assert opened.text == "Art. 15: a copy of my data." and opened.public and opened.attachments == ()
    assert opened.author == "user 1"  # the API's staff user opened it
    assert case.created == case.updated == opened.created and opened.created.startswith("20")


async def test_find_cases_finds_the_requesters_tickets_and_nobody_elses(
    adapter: DjangoHelpdesk, django_helpdesk: Helpdesk
) -> None:
    alice, bob = someone(), someone()
    mine = [await adapter.open_case(NewCase(title=f"Alice {n}", body="b", requester=alice)) for n in range(2)]
    mixed = await adapter.open_case(NewCase(title="Alice shouting", body="b", requester=alice.upper()))
    theirs = await adapter.open_case(NewCase(title="Bob", body="b", requester=bob))

    found = await adapter.find_cases(alice)
    assert [r.id for r in found] == [r.id for r in (*mine, mixed)]  # addresses compare case-insensitively
    assert [r.title for r in found] == ["Alice 0", "Alice 1", "Alice shouting"]
    assert [r.id for r in await adapter.find_cases(bob)] == [theirs.id]
    assert await adapter.find_cases(someone()) == []

    # Two tickets a page: Bob's ticket is on the third page or later, Alice's span pages.
    adapter.page_size = 2
    assert int(theirs.id) > 4
    assert [r.id for r in await adapter.find_cases(alice)] == [r.id for r in found]
    assert [r.id for r in await adapter.find_cases(bob)] == [theirs.id]


async def test_a_reference_narrows_to_that_ticket_if_it_is_theirs(adapter: DjangoHelpdesk) -> None:
    alice, bob = someone(), someone()
    first = await adapter.open_case(NewCase(title="One", body="b", requester=alice))
    await adapter.open_case(NewCase(title="Two", body="b", requester=alice))
    bobs = await adapter.open_case(NewCase(title="Bob's", body="b", requester=bob))

    for written in (first.id, f"#{first.id}", f"[support-{first.id}]", f"support-{first.id}"):
        assert [r.id for r in await adapter.find_cases(alice, written)] == [first.id], written
    assert await adapter.find_cases(alice, bobs.id) == []  # exists, but is not Alice's
    assert await adapter.find_cases(alice, "999999") == []  # no such ticket
    assert await adapter.find_cases(alice, "my last request") == []  # no number in it


async def test_a_case_reads_whole_with_follow_ups_notes_and_attachments(
    adapter: DjangoHelpdesk, django_helpdesk: Helpdesk
) -> None:
    requester = someone()
    title = f"Portability {secrets.token_hex(3)}"
    await submit_public_form(django_helpdesk, requester, title, b"%PDF-1.4 scan")
    [ref] = await adapter.find_cases(requester)
    assert ref.title == title
    await add_followup(django_helpdesk, ref.id, "Here is your export.", public=True, files={
        "export.pdf": (b"%PDF-1.4 cases", "application/pdf"), "summary.txt": (b"two cases", "text/plain"),
    })
    await add_followup(django_helpdesk, ref.id, "Identity checked by phone.", public=False)

    case = await adapter.read_case(ref.id)
    assert case.requester == requester and case.title == title
    assert (case.requester_name, case.requester_phones) == ("", ())  # the API reads no contact record
    opened, reply, note = case.messages
    # The public form's follow-up has no user: it is the submitter's, with the file they attached.
    assert opened.author == requester and opened.text == "Please send me what you hold about me."
    assert [(a.name, a.size, a.content_type) for a in opened.attachments] == [
        ("passport-scan.pdf", 13, "application/pdf")]
    assert reply.author == "user 1" and reply.public and reply.text == "Here is your export."
    assert sorted((a.name, a.size, a.content_type) for a in reply.attachments) == [
        ("export.pdf", 14, "application/pdf"), ("summary.txt", 9, "text/plain")]
    assert note.public is False and note.text == "Identity checked by phone." and note.attachments == ()
    assert opened.created <= reply.created <= note.created == case.updated
    assert case.created == opened.created


async def test_a_missing_case_and_a_missing_queue_are_not_retryable(adapter: DjangoHelpdesk) -> None:
    with pytest.raises(HelpdeskError) as missing:
        await adapter.read_case("999999")
    assert missing.value.status == 404 and missing.value.retryable is False
    assert str(missing.value) == "django-helpdesk: read case: answered 404 (not found)"

    with pytest.raises(HelpdeskError) as no_queue:
        await adapter.open_case(NewCase(title="t", body="b", requester=someone(), queue="999999"))
    assert no_queue.value.status == 400 and no_queue.value.retryable is False

    with pytest.raises(HelpdeskError) as not_an_id:
        await adapter.read_case("support-1")
    assert not_an_id.value.retryable is False and not_an_id.value.status is None


async def test_wrong_credentials_are_not_retryable(django_helpdesk: Helpdesk) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = settings_for(django_helpdesk, password="not-the-password")
    async with DjangoHelpdesk(settings, sleep=sleep) as adapter:
        with pytest.raises(HelpdeskError) as info:
            await adapter.find_cases(someone())
    # REST framework answers 403 to failed Basic credentials when session authentication comes first.
    assert info.value.status == 403 and info.value.retryable is False and waits == []
    assert str(info.value) == "django-helpdesk: find cases: answered 403 (check the credentials and their permissions)"


async def test_a_helpdesk_that_is_down_is_retryable(django_helpdesk: Helpdesk) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    requester = someone()
    settings = settings_for(django_helpdesk, url=f"http://127.0.0.1:{free_port()}/helpdesk", retries=2)
    async with DjangoHelpdesk(settings, sleep=sleep) as adapter:
        for call in (adapter.find_cases(requester), adapter.read_case("1"),
                     adapter.open_case(NewCase(title="t", body="b", requester=requester))):
            with pytest.raises(HelpdeskError) as info:
                await call
            assert info.value.retryable is True and info.value.status is None
            assert requester not in str(info.value) and "127.0.0.1" not in str(info.value)
    assert str(info.value) == "django-helpdesk: open case: cannot connect after 3 tries"
    assert len(waits) == 6  # two waits per call: a refused connection is safe to retry, even a POST


async def api_ticket(helpdesk: Helpdesk, ticket_id: str) -> tuple[int, dict[str, object]]:
    """The ticket as the helpdesk's own API shows it (not through the adapter)."""
    auth = base64.b64encode(f"{helpdesk.staff_user}:{helpdesk.staff_password}".encode()).decode()
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.get(f"{helpdesk.url}/helpdesk/api/tickets/{ticket_id}/",
                               headers={"Authorization": f"Basic {auth}"}) as response:
            return response.status, (await response.json() if response.status == 200 else {})


async def test_a_case_is_rewritten_through_the_api_and_keeps_its_metadata(
    adapter: DjangoHelpdesk, django_helpdesk: Helpdesk
) -> None:
    requester = someone()
    await submit_public_form(django_helpdesk, requester, "Kari Nordmann: invoice", b"%PDF-1.4 passport")
    [ref] = await adapter.find_cases(requester)
    await add_followup(django_helpdesk, ref.id, "Call Kari on 22 33 44 55.", public=False,
                       files={"id-card.png": (b"\x89PNG id", "image/png")})
    before = await adapter.read_case(ref.id)
    _, raw_before = await api_ticket(django_helpdesk, ref.id)
    opened, note = before.messages
    assert DjangoHelpdesk.capabilities == {"update_requester", "update_case", "update_message", "delete_attachment",
                                           "delete_case"}

    await adapter.update_requester(ref.id, "Customer 7f3a", "customer-7f3a@anonymised.invalid")
    titles = {key: value for key, value in before.fields.items() if key.startswith("followup_")}
    assert titles == {f"followup_title:{note.id}": "Kari Nordmann: invoice",  # the ticket's title, copied
                      f"followup_title:{opened.id}": "Ticket Opened Via Web",
                      f"followup_recipients:{opened.id}": requester}  # the "ticket opened" mail went to them
    with pytest.raises(NotSupported) as refused:
        await adapter.update_case(ref.id, title="[name]: invoice", fields={
            "description": "Send me [name]'s data.", f"followup_title:{note.id}": "[name]: invoice",
            f"followup_recipients:{opened.id}": "[e-mail]"})
    assert str(refused.value) == f"django-helpdesk: update case: fields followup_recipients:{opened.id}: not supported"
    await adapter.update_message(ref.id, opened.id, "Send me [name]'s data.")
    await adapter.update_message(ref.id, note.id, "Call [name] on [phone].")
    for message in before.messages:
        for attachment in message.attachments:
            assert attachment.id.isdigit()
            await adapter.delete_attachment(ref.id, message.id, attachment.id)
            await adapter.delete_attachment(ref.id, message.id, attachment.id)  # gone already: success again

    status, raw = await api_ticket(django_helpdesk, ref.id)
    assert status == 200 and raw["title"] == "[name]: invoice"
    assert raw["submitter_email"] == "customer-7f3a@anonymised.invalid"
    assert raw["description"] == "Send me [name]'s data."
    followups = raw["followup_set"]
    assert isinstance(followups, list)
    assert [f["comment"] for f in followups] == ["Send me [name]'s data.", "Call [name] on [phone]."]
    assert [f["title"] for f in followups] == ["Ticket Opened Via Web", "[name]: invoice"]
    assert all(f["followupattachment_set"] == [] for f in followups)
    assert "Kari" not in repr(raw) and "22 33" not in repr(raw)
    # django-helpdesk records whom it mailed each follow-up to; its API cannot change that (refused above).
    assert [f["email_recipients"] for f in followups] == [[requester], []]
    assert requester not in repr({k: v for k, v in raw.items() if k != "followup_set"})
    # What statistics need stays: status, priority, queue, the follow-ups' dates and authors, visibility.
    for key in ("status", "priority", "queue", "assigned_to", "on_hold", "due_date"):
        assert raw[key] == raw_before[key], key
    followups_before = raw_before["followup_set"]
    assert isinstance(followups_before, list)
    assert [(f["date"], f["user"], f["public"]) for f in followups] == [
        (f["date"], f["user"], f["public"]) for f in followups_before]


async def test_metadata_fields_are_refused_and_the_rest_is_written(adapter: DjangoHelpdesk) -> None:
    ref = await adapter.open_case(NewCase(title="Ola's laptop", body="b", requester=someone()))
    with pytest.raises(NotSupported) as refused:
        await adapter.update_case(ref.id, title="[name]'s laptop", fields={"priority": "1", "resolution": "[name]"})
    assert str(refused.value) == "django-helpdesk: update case: fields priority: not supported"
    assert refused.value.retryable is False
    case = await adapter.read_case(ref.id)
    assert case.title == "[name]'s laptop" and case.fields["resolution"] == "[name]" and case.fields["priority"] == "3"
    with pytest.raises(NotSupported) as no_users:
        await adapter.delete_requester(someone())
    assert str(no_users.value) == "django-helpdesk: delete requester: not supported"


async def test_a_case_is_deleted_once_and_deleting_it_again_is_success(
    adapter: DjangoHelpdesk, django_helpdesk: Helpdesk
) -> None:
    ref = await adapter.open_case(NewCase(title="Spam", body="b", requester=someone()))
    await add_followup(django_helpdesk, ref.id, "more spam", public=True, files={"x.txt": (b"x", "text/plain")})
    await adapter.delete_case(ref.id)
    assert (await api_ticket(django_helpdesk, ref.id))[0] == 404
    await adapter.delete_case(ref.id)  # already gone: the listing answers, so it is really gone

    # A URL that reaches no API answers 404 too: that is not a deletion.
    async with DjangoHelpdesk(settings_for(django_helpdesk, url=django_helpdesk.url + "/elsewhere")) as lost:
        with pytest.raises(HelpdeskError) as info:
            await lost.delete_case(ref.id)
        assert info.value.status == 404
        with pytest.raises(HelpdeskError):
            await lost.delete_attachment(ref.id, "1", "1")


async def test_a_follow_up_of_another_ticket_is_not_taken_for_this_ones(adapter: DjangoHelpdesk) -> None:
    mine = await adapter.open_case(NewCase(title="Mine", body="mine", requester=someone()))
    theirs = await adapter.open_case(NewCase(title="Theirs", body="theirs", requester=someone()))
    [their_message] = (await adapter.read_case(theirs.id)).messages
    with pytest.raises(HelpdeskError) as info:
        await adapter.update_message(mine.id, their_message.id, "[name]")
    assert info.value.retryable is False and "not a follow-up of that ticket" in str(info.value)
    with pytest.raises(HelpdeskError):
        await adapter.update_message(mine.id, "m1", "x")  # not an id of this helpdesk


async def test_a_note_is_an_internal_follow_up_and_the_ticket_stays_as_it_was(
    adapter: DjangoHelpdesk, django_helpdesk: Helpdesk
) -> None:
    ref = await adapter.open_case(NewCase("[DSR-1] Data-subject request: Erasure", "Erase me.", someone()))
    _, before = await api_ticket(django_helpdesk, ref.id)
    await adapter.add_note(ref.id, "Erasure done: 2 cases anonymised.")
    status, after = await api_ticket(django_helpdesk, ref.id)
    assert status == 200
    followups = after["followup_set"]
    assert isinstance(followups, list)
    [note] = [f for f in followups if f["comment"] == "Erasure done: 2 cases anonymised."]
    assert note["public"] is False and note["user"] is not None  # by the API's user, not the submitter
    assert {k: after[k] for k in ("title", "status", "submitter_email", "queue")} == {
        k: before[k] for k in ("title", "status", "submitter_email", "queue")}
    case = await adapter.read_case(ref.id)
    assert [m.public for m in case.messages if m.text == "Erasure done: 2 cases anonymised."] == [False]
    with pytest.raises(HelpdeskError) as missing:
        await adapter.add_note("999999", "nobody's")
    assert not missing.value.retryable


async def test_cases_are_listed_by_state_and_last_change_for_retention(adapter: DjangoHelpdesk) -> None:
    import time

    who = someone()
    closed = await adapter.open_case(NewCase(title="Old and closed", body="b", requester=who))
    still_open = await adapter.open_case(NewCase(title="Old and open", body="b", requester=who))
    await adapter.client.send_json("PATCH", f"/api/tickets/{closed.id}/", {"status": 4}, operation="close")
    later = time.time() + 5
    listed = {c.id: c for c in await adapter.list_cases(["closed", "resolved"], later)}
    assert closed.id in listed and still_open.id not in listed
    mine = listed[closed.id]
    assert (mine.status, mine.requester, mine.reference) == ("closed", who, closed.id)
    assert later - 120 < mine.updated < later  # its follow-up's date
    assert closed.id not in {c.id for c in await adapter.list_cases(["closed"], mine.updated - 1)}  # not yet due
    assert await adapter.list_cases(["spam"], later) == []  # no such state in django-helpdesk
    assert len(await adapter.list_cases(["closed", "open"], later, limit=1)) == 1


async def test_a_rest_framework_token_reads_and_writes_cases(django_helpdesk: Helpdesk) -> None:
    settings = settings_for(django_helpdesk, username=None, password=None, token=django_helpdesk.staff_token)
    who = someone()
    async with DjangoHelpdesk(settings) as adapter:
        ref = await adapter.open_case(NewCase(title="By token", body="Opened with a token.", requester=who))
        await adapter.add_note(ref.id, "Noted with a token.")
        case = await adapter.read_case(ref.id)
    assert (case.title, case.requester) == ("By token", who)
    assert [m.public for m in case.messages if m.text == "Noted with a token."] == [False]

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    wrong = settings_for(django_helpdesk, username=None, password=None, token=secrets.token_hex(20))
    async with DjangoHelpdesk(wrong, sleep=sleep) as adapter:
        with pytest.raises(HelpdeskError) as info:
            await adapter.read_case(ref.id)
    # As with Basic: session authentication comes first, so REST framework answers 403.
    assert info.value.status == 403 and info.value.retryable is False and waits == []
    assert str(info.value) == "django-helpdesk: read case: answered 403 (check the credentials and their permissions)"
