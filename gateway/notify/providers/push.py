"""What the push providers (FCM, Expo) share: deciding on a push, its neutral texts, its data.

A push goes to a device token, not an address: it is decided as one copy for
the single recipient ``""`` from the sender ``""``, with the push's title as
the subject. Rules without recipient, audience or sender conditions apply to
it (``recipients: ["*"]`` matches it too); an audience rule never matches.

A hidden push shows the template's ``push_title`` and ``push_body``. Its data
keeps only the route's ``data_keys`` (``push_mode: neutral``), or becomes
``{"case_id": ..., "token": ...}`` (``push_mode: id_only``): the case id and
the signed token of its link, for an app that loads the case itself, as
Mattermost's ``id_loaded`` pushes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...policy.notifications import EgressRoute
from ..rewriter import ApiContent, Notifier
from ..rules import Decision
from .base import hidden_texts

#: The one recipient a push is decided for (device tokens are not addresses).
PUSH_RECIPIENTS = ("",)
PUSH_SENDER = ""


@dataclass(frozen=True, slots=True)
class HiddenPush:
    """The neutral texts of a hidden push and what its data maps become."""

    title: str
    body: str
    keys: frozenset[str]
    ids: dict[str, str] | None  # id_only: the only data a push keeps

    def data(self, original: Any) -> dict[str, Any]:
        """``original`` (a data map, or None when absent) as it may go on."""
        if self.ids is not None:
            return dict(self.ids)
        if not isinstance(original, dict):
            return {}
        return {key: value for key, value in original.items() if key in self.keys}




def decide_push(notifier: Notifier, route: EgressRoute,
                content: ApiContent) -> tuple[tuple[Decision, ...], HiddenPush | None]:
    """The push's decisions and, unless it passes, its neutral form; Refusal when blocked or not rewritable."""
    decisions = notifier.decide(PUSH_RECIPIENTS, PUSH_SENDER, content.subject)
    neutral = hidden_texts(notifier, decisions, content, PUSH_RECIPIENTS, content.subject)
    if neutral is None:
        return decisions, None
    ids: dict[str, str] | None = None
    if route.push_mode == "id_only":
        if neutral.case_id is None:  # an id-only push without the id would be an empty promise
            raise notifier.failure("no_case_id")
        ids = {"case_id": neutral.case_id, "token": notifier.case_token(content, neutral.case_id)}
    return decisions, HiddenPush(neutral.push_title, neutral.push_body, frozenset(route.data_keys), ids)
