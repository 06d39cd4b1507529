"""What anonymising one case changes, decided before anything is changed (pure).

:func:`plan_case` reads a case as an adapter gives it (``helpdesks.base.Case``)
and returns a :class:`CasePlan`: the requester's new identity (the pseudonym,
and an address under the reserved ``.invalid`` domain, so a helpdesk that
insists on an e-mail address still has one and no mail can reach anybody),
the title, the messages and the fields whose text changes, the attachments to
delete (or none, when the policy keeps them), and the replacements by kind.
What a plan keeps by design: dates, queue, status, priority, tags and
agents' names, so statistics still work. A dry run prints the plan's
:meth:`CasePlan.summary` and changes nothing; an execution performs exactly
the plan's operations. Neither the summary nor the audit trail holds a
removed value: kinds and counts only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from ..helpdesks.base import Attachment, Case
from ..sensitive.scanner import Scanner
from .text import Identifiers, anonymise_text

#: Fields a plan never rewrites: what statistics need, and what holds no person.
KEPT_FIELDS = frozenset({"priority", "status", "queue", "category", "tags", "created", "updated", "due_date",
                         "assigned_to", "agent", "group", "type"})


def invalid_address(pseudonym: str) -> str:
    """``Customer 7f3a`` as ``customer-7f3a@anonymised.invalid`` (RFC 2606: .invalid never resolves)."""
    return re.sub(r"[^a-z0-9]+", "-", pseudonym.lower()).strip("-") + "@anonymised.invalid"


@dataclass(frozen=True, slots=True)
class MessageEdit:
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class CasePlan:
    case_id: str
    reference: str
    action: Literal["anonymise", "delete"]
    pseudonym: str
    requester: str  # the new address
    title: str | None  # None: unchanged
    messages: tuple[MessageEdit, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    attachments: tuple[tuple[str, Attachment], ...] = ()  # (message id, attachment) to delete
    replacements: Counter[str] = field(default_factory=Counter)

    @property
    def changes_anything(self) -> bool:
        return (self.action == "delete" or self.title is not None or bool(self.messages) or bool(self.fields)
                or bool(self.attachments))

    def operations(self) -> list[str]:
        """The adapter operations this plan needs, by name (for the audit trail and a dry run)."""
        if self.action == "delete":
            return ["delete_case"]
        ops = ["update_requester"]
        if self.title is not None or self.fields:
            ops.append("update_case")
        ops += ["update_message"] * len(self.messages)
        ops += ["delete_attachment"] * len(self.attachments)
        return ops

    def summary(self) -> dict[str, Any]:
        """What a dry run shows and an audit record keeps: no value, only kinds, counts and operations."""
        return {
            "case": self.reference or self.case_id, "action": self.action,
            "replacements": dict(sorted(self.replacements.items())), "messages_changed": len(self.messages),
            "attachments_deleted": len(self.attachments), "operations": Counter(self.operations()),
        }


def plan_case(case: Case, *, identifiers: Identifiers, scanner: Scanner | None, pseudonym: str,
              action: Literal["anonymise", "delete"] = "anonymise", keep_attachments: Collection[str] = (),
              ) -> CasePlan:
    """The plan for one case; ``keep_attachments``: content types (``image/png``, ``image/*``) kept."""
    if action == "delete":
        return CasePlan(case.id, case.reference, "delete", pseudonym, invalid_address(pseudonym), None)
    counts: Counter[str] = Counter()

    def clean(text: str) -> str:
        new, found = anonymise_text(text, identifiers, scanner)
        counts.update(found)
        return new

    title = clean(case.title)
    messages = []
    attachments: list[tuple[str, Attachment]] = []
    for message in case.messages:
        text = clean(message.text)
        if text != message.text:
            messages.append(MessageEdit(message.id, text))
        attachments += [(message.id, a) for a in message.attachments if not _kept(a, keep_attachments)]
    fields = {}
    for name, value in case.fields.items():
        if name in KEPT_FIELDS or not isinstance(value, str):
            continue
        new = clean(value)
        if new != value:
            fields[name] = new
    if case.requester:
        counts["requester"] += 1
    return CasePlan(case.id, case.reference, "anonymise", pseudonym, invalid_address(pseudonym),
                    title if title != case.title else None, tuple(messages), fields, tuple(attachments), counts)


def _kept(attachment: Attachment, kept: Collection[str]) -> bool:
    kind = attachment.content_type.split(";")[0].strip().lower()
    return any(kind == k or (k.endswith("/*") and kind.startswith(k[:-1])) for k in kept)
