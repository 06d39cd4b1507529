"""The django-helpdesk adapter against the real django-helpdesk (tests/support/helpdesk.py), over its REST API."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.helpdesks.base import HelpdeskError, NewCase
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
