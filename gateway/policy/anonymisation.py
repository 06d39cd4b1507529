"""The ``anonymisation`` policy section: how the gateway anonymises (or deletes) helpdesk cases.

A case is anonymised on an erasure request, on the operator's command, or by
a retention schedule. The requester becomes a pseudonym (an HMAC of the
address keyed with the first key of ``keys``: the same person gets the same
pseudonym in every case), the texts lose the requester's identifiers and what
the sensitive-data detectors find, attachments go (unless their type is kept);
dates, queue, status, priority, tags and agents stay. Or, with ``delete``, the
whole case goes where the helpdesk can delete it.

The helpdesk is ``helpdesk``, or the portal's (``requests.helpdesk``) when
absent. Retention ``schedules`` run every ``every`` on one replica at a
time (a lease in the store), ``batch_size`` cases per schedule and run, at
most ``rate_limit`` requests a second to the helpdesk.

Only cases in one of ``states`` are touched: an open case is refused unless
the operator forces it (``--force``). States compare case-insensitively with
what the helpdesk calls them (django-helpdesk: closed, resolved, duplicate;
Zammad: closed, merged; Zendesk: solved, closed).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .helpdesks import HelpdeskSettings
from .keys import KeyRef
from .schema_base import Model
from .units import Duration, Name

Action = Literal["anonymise", "delete"]
DEFAULT_STATES = ("closed", "resolved", "solved")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})")


class PseudonymKey(KeyRef):
    """Keys the pseudonyms (HMAC-SHA256 over the address). The first makes them; changing it changes them all,
    so the others are kept only to recognise earlier pseudonyms."""


def _states(value: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(state.strip().casefold() for state in value)
    if not cleaned or any(not state for state in cleaned):
        raise ValueError("must name at least one state, none empty")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("lists a state twice")
    return cleaned


class Schedule(Model):
    """A retention rule: cases in ``states`` not updated for ``older_than`` are anonymised or deleted."""

    name: Name = Field(description="Names the schedule in the audit trail and in metrics. Required.")
    older_than: Duration = Field(gt=0, description="How long since the case was last updated, e.g. 365d. Required.")
    states: tuple[str, ...] = Field(DEFAULT_STATES, description="The case states it applies to (these alone: "
                                    "force does not apply to schedules). Absent: closed, resolved, solved.")
    action: Action = Field("anonymise", description="anonymise or delete. Absent: anonymise.")

    @field_validator("states")
    @classmethod
    def _check_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _states(value)


class Anonymisation(Model):
    enabled: bool = Field(False, description="Absent: false (no case is anonymised, by request or schedule).")
    keys: tuple[PseudonymKey, ...] = Field((), description="The pseudonym key ring, by reference. Required "
                                           "(non-empty) when enabled.")
    action: Action = Field("anonymise", description="What an erasure request or the command does to a case: "
                           "anonymise, or delete (the whole case, where the helpdesk can). Absent: anonymise.")
    states: tuple[str, ...] = Field(DEFAULT_STATES, description="Case states that may be touched; others (an "
                                    "open case) are refused unless forced. Absent: closed, resolved, solved.")
    keep_attachments: tuple[str, ...] = Field(
        (), description="Content types of attachments kept (image/png, or image/* for a whole type); every other "
        "attachment is deleted. Absent: none kept.",
    )
    schedules: tuple[Schedule, ...] = Field((), description="Retention rules, run by the gateway. Absent: none.")
    min_confidence: float = Field(0.3, ge=0.0, le=1.0, description="The detectors' confidence from which a "
                                  "finding in a case is replaced (lower than the page rules': on erasure a missed "
                                  "identifier costs more than a number replaced). Absent: 0.3.")
    every: Duration = Field(3600.0, ge=60, description="How often the gateway runs the schedules (one replica "
                            "at a time, by a lease in the store). Absent: 1h.")
    lease: Duration = Field(600.0, ge=5, le=86400, description="How long a replica's hold on a schedule run, "
                            "or on a case it is anonymising, lasts without being renewed: after a crash, another "
                            "replica takes the run and completes the case once this has passed. Absent: 10m.")
    batch_size: int = Field(100, ge=1, le=10_000, description="Cases handled in one batch of a schedule. "
                            "Absent: 100.")
    rate_limit: float = Field(5.0, gt=0, le=1000, description="Requests per second to the helpdesk's API, at "
                              "most. Absent: 5.")
    helpdesk: HelpdeskSettings | None = Field(
        None, description="The helpdesk whose cases are anonymised (its API, credentials and patience). "
        "Absent: the portal's (requests.helpdesk); one of them is required when enabled.",
    )

    @field_validator("states")
    @classmethod
    def _check_states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _states(value)

    @field_validator("keep_attachments")
    @classmethod
    def _check_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(kind.strip().lower() for kind in value)
        for kind in cleaned:
            if not _CONTENT_TYPE.fullmatch(kind):
                raise ValueError(f"{kind!r} is not a content type like image/png or image/*")
        return cleaned

    @model_validator(mode="after")
    def _check_enabled(self) -> Anonymisation:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        names = [schedule.name for schedule in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError("schedules: names must be unique")
        if self.enabled:
            if not self.keys:
                raise ValueError("enabled anonymisation needs keys (or set enabled: false)")
        return self
