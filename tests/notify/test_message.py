"""Reading notifications: raw header lines, decoded subjects and bodies, names, unreadable input."""

from __future__ import annotations

import pytest

from gateway.notify.message import Notification, UnreadableMessage, header_fields, html_text, split_head
from tests.notify.samples import CUSTOMER, CUSTOMER_NAME, ticket_update


def test_split_head_takes_the_first_blank_line_for_either_line_end() -> None:
    assert split_head(b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore") == (b"A: 1\r\nB: 2", b"body\r\n\r\nmore")
    assert split_head(b"A: 1\n\nbody") == (b"A: 1", b"body")
    assert split_head(b"A: 1\r\n") == (b"A: 1\r\n", b"")


def test_header_fields_keep_folded_lines_and_refuse_a_line_without_a_name() -> None:
    fields = header_fields(b"Subject: a\r\n  b\r\nTo: x@y\r\n")
    assert fields == [("subject", b"Subject: a\r\n  b\r\n"), ("to", b"To: x@y\r\n")]
    with pytest.raises(UnreadableMessage) as bad:
        header_fields(b"Subject: a\r\nno colon here\r\n")
    assert bad.value.reason == "bad_header"


def test_subject_body_and_names_are_decoded() -> None:
    note = Notification(ticket_update())
    assert note.subject == "[support-12] (Updated) Ny melding fra Bjørn Ålesund"  # RFC 2047
    plain, html = note.texts()  # QP decoded; the attachment is not a text body
    assert "diabetes type 2" in plain and "Attachment-secret" not in plain + html
    assert "ticket=support-12&email=" in html  # entities decoded for searching
    assert note.names[CUSTOMER] == CUSTOMER_NAME
    assert note.raw_fields(frozenset({"message-id"}))[0].startswith(b"Message-ID: <")


def test_broken_base64_is_unreadable_only_when_the_body_is_read() -> None:
    raw = b"Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%\r\n"
    note = Notification(raw)
    assert note.subject == "hi"
    try:
        texts = note.texts()
    except UnreadableMessage as exc:
        assert exc.reason == "bad_body"
    else:  # the email package may decode what it can; then no undecoded byte is returned as text
        assert "%%%" not in "".join(texts)


def test_an_unknown_charset_is_unreadable() -> None:
    raw = b"Subject: hi\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\nbody\r\n"
    with pytest.raises(UnreadableMessage):
        Notification(raw).texts()


def test_html_text_keeps_attributes_and_drops_scripts() -> None:
    assert "https://a/?x=1&y=2" in html_text('<a href="https://a/?x=1&amp;y=2">t</a>')
    assert "secret" not in html_text("<script>secret()</script><p>ok</p>")
