"""Fictional tickets of the demo helpdesk.

Every person, address, phone number and card number here is made up: names are
placeholders, e-mail domains are reserved for examples (RFC 2606), phone
numbers are all zeros or in Ofcom's range for drama (+44 20 7946 0xxx), and the
card number is the well-known test card.

Message texts are plain text with a tiny link markup, ``[text](url)``; bare
``http(s)://`` URLs are links too. The same text renders as HTML (ticket pages)
and as plain text (the ``.txt`` export, shaped like a notification e-mail).

:data:`TICKETS` is the seed; each app holds its own :class:`Desk`, a copy the
helpdesk's API (:mod:`.api`) changes and its pages show. Tickets 5 and 6 are
closed years ago and full of their customer's personal data, for retention
schedules to find (``anonymisation`` in ``policies/demo.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

SUPPORT_EMAIL = "support@helpdesk.example"


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    email: str
    phone: str


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    mime_type: str
    size: int  # bytes (the demo keeps no file, only what the helpdesk's record says)
    id: int = 0  # numbered by the Desk


@dataclass(frozen=True, slots=True)
class Message:
    author: str  # a customer's or an agent's display name
    from_agent: bool
    sent: str  # ISO 8601, UTC
    text: str
    attachments: tuple[Attachment, ...] = ()
    public: bool = True  # False: an internal note, shown to agents only
    title: str = ""  # what the helpdesk called the message (django-helpdesk: the ticket's title then)
    id: int = 0  # numbered by the Desk


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    subject: str
    status: str  # open, pending, solved, closed
    priority: str  # low, normal, high
    customer: Customer
    messages: tuple[Message, ...]
    description: str = ""  # what the customer first wrote (the Desk copies the first message when empty)
    resolution: str = ""  # the agent's closing words


_KARI = Customer("Kari Nordmann (fictional)", "kari.nordmann@example.com", "+47 000 00 000")
_OLA = Customer("Ola Nordmann (fictional)", "ola.nordmann@example.net", "+47 000 00 001")
_JANE = Customer("Jane Doe (fictional)", "jane.doe@example.org", "+44 0000 000000")
_MAX = Customer("Max Mustermann (fictional)", "max.mustermann@example.com", "+49 000 0000000")
_AGENT = "Alex (demo agent)"
_LONDON_PHONE = "+44 20 7946 0123"  # Kari's number abroad, in tickets 5 and 6

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
    # Closed long ago: what a retention schedule is for.
    Ticket(5, "Change of address", "closed", "normal", _KARI, (
        Message(_KARI.name, False, "2021-03-01T09:12:00Z",
                "Hello, I am moving to London for a year. Please update my details: Kari Nordmann,"
                " fødselsnummer 01010012356, phone " + _LONDON_PHONE + ", e-mail " + _KARI.email
                + ". My new lease is attached.",
                (Attachment("lease-agreement.pdf", "application/pdf", 48_213),)),
        Message(_AGENT, True, "2021-03-01T10:40:00Z",
                "Done: your account now has the new address. We will call " + _LONDON_PHONE
                + " if anything is missing."),
    ), resolution="Address updated for " + _KARI.email + "."),
    Ticket(6, "Refund to my bank account", "closed", "low", _KARI, (
        Message(_KARI.name, False, "2021-06-14T16:03:00Z",
                "Please refund the March invoice. Kari Nordmann, fnr 01010012356, reachable on "
                + _LONDON_PHONE + " or " + _KARI.email + "."),
        Message(_AGENT, True, "2021-06-15T08:20:00Z", "The refund was paid today. Thank you, Kari!"),
    ), resolution="Refunded."),
)


class Desk:
    """The tickets of one running demo helpdesk, in memory: a numbered copy of the seed, changed by its API.

    Messages (follow-ups) and attachments get ids unique across tickets, as a
    helpdesk's database gives them. Tickets are immutable records: a change
    replaces the ticket.
    """

    def __init__(self, seed: Iterable[Ticket] = TICKETS) -> None:
        self._tickets: dict[int, Ticket] = {}
        self._last_message = self._last_attachment = 0
        for ticket in seed:
            first = ticket.messages[0].text if ticket.messages else ""
            # As django-helpdesk does: a follow-up is titled by its ticket's title of the moment.
            self.put(replace(ticket, description=ticket.description or first, messages=tuple(
                self.numbered(replace(m, title=m.title or ticket.subject)) for m in ticket.messages)))

    def numbered(self, message: Message) -> Message:
        """``message`` with the next ids (its own and its attachments')."""
        self._last_message += 1
        attachments = []
        for attachment in message.attachments:
            self._last_attachment += 1
            attachments.append(replace(attachment, id=self._last_attachment))
        return replace(message, id=self._last_message, attachments=tuple(attachments))

    def tickets(self) -> list[Ticket]:
        return sorted(self._tickets.values(), key=lambda t: t.id)

    def get(self, ticket_id: int) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def put(self, ticket: Ticket) -> None:
        self._tickets[ticket.id] = ticket

    def delete(self, ticket_id: int) -> bool:
        return self._tickets.pop(ticket_id, None) is not None

    def next_id(self) -> int:
        return max(self._tickets, default=0) + 1

    def message(self, message_id: int) -> tuple[Ticket, Message] | None:
        """The message with that id and its ticket."""
        for ticket in self._tickets.values():
            for message in ticket.messages:
                if message.id == message_id:
                    return ticket, message
        return None
