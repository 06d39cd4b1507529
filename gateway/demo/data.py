"""Fictional tickets of the demo helpdesk.

Every person, address, phone number and card number here is made up: names are
placeholders, e-mail domains are reserved for examples (RFC 2606), phone
numbers are all zeros and the card number is the well-known test card.

Message texts are plain text with a tiny link markup, ``[text](url)``; bare
``http(s)://`` URLs are links too. The same text renders as HTML (ticket pages)
and as plain text (the ``.txt`` export, shaped like a notification e-mail).
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORT_EMAIL = "support@helpdesk.example"


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    email: str
    phone: str


@dataclass(frozen=True, slots=True)
class Message:
    author: str  # a customer's or an agent's display name
    from_agent: bool
    sent: str  # ISO 8601, UTC
    text: str


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    subject: str
    status: str  # open, pending, solved
    priority: str  # low, normal, high
    customer: Customer
    messages: tuple[Message, ...]


_KARI = Customer("Kari Nordmann (fictional)", "kari.nordmann@example.com", "+47 000 00 000")
_OLA = Customer("Ola Nordmann (fictional)", "ola.nordmann@example.net", "+47 000 00 001")
_JANE = Customer("Jane Doe (fictional)", "jane.doe@example.org", "+44 0000 000000")
_MAX = Customer("Max Mustermann (fictional)", "max.mustermann@example.com", "+49 000 0000000")
_AGENT = "Alex (demo agent)"

TICKETS: tuple[Ticket, ...] = (
    Ticket(1, "Cannot reset my password", "open", "high", _KARI, (
        Message(_KARI.name, False, "2024-05-02T08:14:00Z",
                "Hi! I followed [the reset guide](https://example.org/docs/account/reset-password"
                "?utm_source=newsletter&utm_medium=email&utm_campaign=spring) but the link in the"
                " e-mail says it has expired."),
        Message(_AGENT, True, "2024-05-02T09:03:00Z",
                "Sorry about that! This short video shows each step:"
                " https://www.youtube.com/watch?v=aqz-KE-bpKQ&t=42s\n"
                "If it still fails, write to [our support address](mailto:" + SUPPORT_EMAIL
                + "?subject=Password%20reset) or look at [your other tickets](/tickets/2)."),
    )),
    Ticket(2, "Invoice charged twice", "pending", "normal", _OLA, (
        Message(_OLA.name, False, "2024-05-03T12:40:00Z",
                "My card 4111 1111 1111 1111 was charged twice for invoice INV-0042."
                " Call me on " + _OLA.phone + " if you need more details."),
        Message(_AGENT, True, "2024-05-03T13:15:00Z",
                "The refund is on its way: [invoice INV-0042](https://billing.example.com/invoices/INV-0042"
                "?fbclid=IwAR0demo&gclid=demo123). How refunds work:"
                " https://example.org/docs/billing#refunds"),
    )),
    Ticket(3, "Feature request: dark mode", "open", "low", _JANE, (
        Message(_JANE.name, False, "2024-05-04T18:22:00Z",
                "Could the portal get a dark mode? Many people asked for it in"
                " [the forum](https://forum.example.net/t/dark-mode/123?utm_source=helpdesk&utm_content=link)."),
        Message(_AGENT, True, "2024-05-05T07:30:00Z",
                "Thanks! Until then, see https://example.org/docs/appearance and"
                " [ticket 1](/tickets/1) for a similar request."),
    )),
    Ticket(4, "Request for a copy of my data (GDPR Art. 15)", "solved", "normal", _MAX, (
        Message(_MAX.name, False, "2024-05-06T10:05:00Z",
                "Please send me a copy of all personal data you hold about me, as " + _MAX.email + "."),
        Message(_AGENT, True, "2024-05-07T11:45:00Z",
                "Your export is ready: https://example.org/docs/privacy/export"
                "?utm_source=helpdesk&utm_medium=ticket. Questions go to our data protection"
                " officer: [dpo@helpdesk.example](mailto:dpo@helpdesk.example)."),
    )),
)


def find_ticket(ticket_id: int) -> Ticket | None:
    for ticket in TICKETS:
        if ticket.id == ticket_id:
            return ticket
    return None
