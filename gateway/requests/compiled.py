"""The ``requests`` section compiled once per policy: keys, mailer, limits, pages, and what the export reads.

The portal, the worker, the CLI and the operators' API all work from one
:class:`CompiledRequests`. Besides its own ring it holds the means to find
what other features keep about a requester: the consent cookie's codec (the
consent receipts of the browser that asks) and the legal-basis ring (records
by e-mail hash). With ``anonymisation`` enabled it holds :class:`Erasure`:
what an approved erasure request needs to anonymise the requester's cases
(the section, its helpdesk, the detectors, and the policy for the journal).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..anonymise.detectors import scanner_for
from ..consent.state import StateCodec
from ..http.organisation import organisation_block
from ..lib.keyring import KeyRing, decode_secret
from ..policy.anonymisation import Anonymisation
from ..policy.helpdesks import HelpdeskSettings
from ..policy.requests import Requests
from ..policy.schema import Policy
from ..sensitive.scanner import Scanner
from .keys import PortalKeys
from .mail import Mailer
from .pages import Frame
from .ratelimit import RateLimiter
from .tokens import make_token


@dataclass(frozen=True, slots=True)
class Erasure:
    """How an approved erasure anonymises the requester's cases: ``policy.anonymisation`` and its helpdesk."""

    policy: Policy  # its anonymisation section; for the journal, link lifetimes and the links' recipient salt
    helpdesk: HelpdeskSettings  # policy.anonymisation_helpdesk
    scanner: Scanner  # every built-in detector and the policy's own (gateway.anonymise.detectors)
    same_helpdesk: bool  # the cases are in the portal's helpdesk (requests.helpdesk), with the request's own case

    @property
    def settings(self) -> Anonymisation:
        return self.policy.anonymisation


@dataclass(frozen=True, slots=True)
class CompiledRequests:
    settings: Requests
    keys: PortalKeys
    mailer: Mailer
    limiter: RateLimiter
    frame: Frame
    public_url: str
    consent: tuple[StateCodec, str] | None  # the consent cookie's codec and name
    legal_ring: KeyRing | None
    erasure: Erasure | None = None  # None: anonymisation is off, an erasure request is answered by people

    def url(self, path: str) -> str:
        """An absolute link for a mail: the policy's public URL, never a request's Host."""
        return self.public_url + self.settings.prefix + path

    def status_link(self, request_id: str, now: float) -> str:
        token = make_token(self.keys, "status", request_id, now + self.settings.status_link_ttl)
        return self.url("/status/" + token)

    def download_link(self, export_id: str, expires_at: float) -> str:
        return self.url("/download/" + make_token(self.keys, "download", export_id, expires_at))



def ring_of(settings: Requests) -> KeyRing:
    return KeyRing.from_config([(k.id, k.secret) for k in settings.keys], settings.keys[0].id)


def compile_requests(policy: Policy) -> CompiledRequests | None:
    """The compiled section; None when the portal is off. The policy's own checks guarantee what it needs."""
    settings = policy.requests
    if not settings.enabled:
        return None
    smtp = policy.notifications.smtp
    if settings.mail is None or settings.public_url is None or smtp is None:
        raise ValueError("requests: an enabled portal needs mail, public_url and notifications.smtp")
    keys = PortalKeys(ring_of(settings))
    consent = policy.consent
    codec = None
    if consent.enabled and consent.keys:
        codec = (StateCodec([decode_secret(k.secret) for k in consent.keys], max_age=consent.cookie.max_age),
                 consent.cookie.name)
    legal = policy.legal_basis
    legal_ring = KeyRing.from_config([(k.id, k.secret) for k in legal.keys], legal.keys[0].id) if legal.keys else None
    frame = Frame(settings.prefix, tuple(settings.languages),
                  {language: organisation_block(policy.organisation, language) for language in settings.languages})
    return CompiledRequests(
        settings, keys, Mailer(smtp.upstream, settings.mail.sender, policy.organisation, settings.mail.subjects),
        RateLimiter(keys, settings.rate_limits), frame, settings.public_url, codec, legal_ring,
        erasure_of(policy),
    )


def erasure_of(policy: Policy) -> Erasure | None:
    """What erasure requests anonymise with; None when anonymisation is off (or has no helpdesk)."""
    helpdesk = policy.anonymisation_helpdesk
    if not policy.anonymisation.enabled or helpdesk is None:
        return None
    return Erasure(policy, helpdesk, scanner_for(policy), helpdesk == policy.requests.helpdesk)
