"""The neutral message: kept fields byte for byte, a valid MIME structure, nothing else."""

from __future__ import annotations

from email import message_from_bytes, policy

from gateway.notify.compose import KEPT_FIELDS, compose


def test_kept_lines_first_then_a_valid_alternative() -> None:
    kept = [b"Message-ID: <1@x>\r\n", b"References: <0@x>\r\n <1@x>\r\n"]
    data = compose(kept, "Sak T1 – ny melding", "Hei\n", "<p>Hei</p>", "nb")
    assert data.startswith(b"Message-ID: <1@x>\r\nReferences: <0@x>\r\n <1@x>\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    parsed = message_from_bytes(data, policy=policy.default)
    assert str(parsed["Subject"]) == "Sak T1 – ny melding"
    assert parsed["Content-Language"] == "nb"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hei"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hei</p>"
    assert not parsed.defects


def test_text_only_and_without_a_subject() -> None:
    parsed = message_from_bytes(compose([], None, "only text\n", None, None), policy=policy.default)
    assert parsed.get_content_type() == "text/plain" and parsed["Subject"] is None


def test_the_kept_fields_are_threading_and_addressing_only() -> None:
    assert KEPT_FIELDS == {"message-id", "in-reply-to", "references", "date", "from", "to", "cc", "reply-to",
                           "auto-submitted", "precedence"}
