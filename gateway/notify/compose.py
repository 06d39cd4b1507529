"""Writing the neutral message that replaces a hidden notification (stdlib ``email``).

Only the threading and addressing fields of the original are kept, byte for
byte; everything else (body, attachments, other headers, DKIM signatures the
rewrite would break) is left behind. The new parts are UTF-8, with the
transfer encoding and line lengths chosen by ``email.policy.SMTP``.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

from .message import split_head

#: Fields of the original that go out unchanged: replies thread, addressing stays.
KEPT_FIELDS = frozenset({
    "message-id", "in-reply-to", "references", "date", "from", "to", "cc", "reply-to",
    # Loop prevention: auto-responders must still see an automatic message.
    "auto-submitted", "precedence",
})


def compose(kept: list[bytes], subject: str | None, text: str, html: str | None, language: str | None) -> bytes:
    """The neutral message: ``kept`` raw header lines, then a new subject (None: none) and body (CRLF line ends)."""
    message = EmailMessage(policy=policy.SMTP)
    if subject is not None:
        message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        for part in message.iter_parts():
            del part["MIME-Version"]  # the email package repeats it in the parts; once at the top is the rule
    if language:  # after add_alternative, which moves Content-* fields into the first part
        message["Content-Language"] = language
    head, body = split_head(message.as_bytes(policy=policy.SMTP))
    return b"".join(kept) + head + b"\r\n\r\n" + body
