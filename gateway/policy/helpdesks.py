"""The helpdesk the gateway asks about cases: which API, where, which credentials, how patiently.

One :class:`HelpdeskSettings` configures one adapter of ``gateway/helpdesks``
(the ``requests`` section embeds it as ``requests.helpdesk``). Credentials are
given by reference (``${ENV}`` or ``${file:...}``): the loader rejects
``password``, ``token``, ``api_token`` and ``secret`` written inline, wherever
they appear. Each adapter takes its own set of credentials and refuses the
others, so a key meant for one helpdesk is never sent to another.
"""

from __future__ import annotations

import ssl
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .schema_base import Model
from .units import Duration

Adapter = Literal["django-helpdesk", "zammad", "zendesk", "webhook"]

#: The credential keys of each adapter: exactly one of its alternatives, complete.
CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "django-helpdesk": (("username", "password"), ("token",)),
    "zammad": (("token",), ("username", "password")),
    "zendesk": (("email", "api_token"),),
    "webhook": (("secret",),),
}
_CREDENTIAL_KEYS = ("username", "password", "token", "email", "api_token", "secret")
#: The webhook's HMAC key: as long as the hash, as Stripe's and GitHub's are.
MIN_WEBHOOK_SECRET_BYTES = 32


def _queue_text(value: Any) -> Any:
    """A queue id may be written as a YAML number; it is kept as text."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a queue id or name")
    return str(value) if isinstance(value, int) else value


QueueName = Annotated[str, BeforeValidator(_queue_text)]


class HelpdeskSettings(Model):
    """One helpdesk API and how to reach it."""

    adapter: Adapter = Field(description="django-helpdesk, zammad, zendesk or webhook. Required.")
    url: str = Field(
        description="django-helpdesk: where it is mounted (http://helpdesk:8000/helpdesk; its API is "
        "<url>/api/); zammad: its base URL (https://zammad.example.com); zendesk: "
        "https://<subdomain>.zendesk.com; webhook: the URL the signed POST goes to. Required."
    )
    queue: QueueName | None = Field(
        None,
        description="Where data-subject requests are opened: django-helpdesk: the queue's id; zammad: the "
        "group's name (or id); zendesk: the group's id; webhook: passed on as is. Required except for webhook.",
    )
    username: str | None = Field(None, description="django-helpdesk, zammad: the staff/agent login, with "
                                 "password (HTTP Basic).")
    password: str | None = Field(None, repr=False, description="With username: ${ENV} or ${file:...}.")
    token: str | None = Field(
        None, repr=False, description="zammad: an access token (Authorization: Token token=...); django-helpdesk: "
        "a REST framework token, if the site enabled TokenAuthentication. ${ENV} or ${file:...}.",
    )
    email: str | None = Field(None, description="zendesk: the agent's e-mail address, with api_token.")
    api_token: str | None = Field(None, repr=False, description="zendesk: an API token (Basic email/token:"
                                  "api_token). ${ENV} or ${file:...}.")
    secret: str | None = Field(
        None, repr=False, description=f"webhook: the HMAC-SHA256 key (its UTF-8 bytes, at least "
        f"{MIN_WEBHOOK_SECRET_BYTES}) the receiver verifies the signature with. ${{ENV}} or ${{file:...}}.",
    )
    timeout: Duration = Field(30.0, gt=0, description="For one whole request and its answer. Absent: 30s.")
    connect_timeout: Duration = Field(10.0, gt=0, description="For the connection to be made. Absent: 10s.")
    retries: int = Field(
        3, ge=0, le=10, description="Tries after the first when the helpdesk answers 429 or 5xx, times out or "
        "cannot be reached; then the error is retryable and the caller tries again later. Absent: 3.",
    )
    backoff: Duration = Field(1.0, gt=0, description="Wait before the first retry, doubled for each next one "
                              "(with jitter). Absent: 1s.")
    max_wait: Duration = Field(
        60.0, gt=0, description="Longest wait between two tries. A Retry-After asking for more ends the tries "
        "at once (the error is retryable). Absent: 60s.",
    )
    tls_ca: str | None = Field(None, description="PEM certificates trusted besides the system's CAs for an "
                               "https:// url, e.g. ${file:helpdesk-ca.pem}. Absent: the system's CAs only.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("the URL must not hold credentials: give them as the adapter's own keys, by reference")
        if parts.fragment:
            raise ValueError(f"{value!r} must not have a fragment")
        return value

    @field_validator("tls_ca")
    @classmethod
    def _check_tls_ca(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ssl.create_default_context().load_verify_locations(cadata=value)
            except (ssl.SSLError, ValueError):
                raise ValueError("tls_ca holds no usable PEM certificate") from None
        return value

    @model_validator(mode="after")
    def _check_adapter(self) -> HelpdeskSettings:
        given = tuple(key for key in _CREDENTIAL_KEYS if getattr(self, key) is not None)
        alternatives = CREDENTIALS[self.adapter]
        if given not in [tuple(k for k in _CREDENTIAL_KEYS if k in alt) for alt in alternatives]:
            wanted = " or ".join(" and ".join(alt) for alt in alternatives)
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"the {self.adapter} adapter takes {wanted}{found}")
        if self.adapter != "webhook" and urlsplit(self.url).query:
            raise ValueError(f"the {self.adapter} url is a base URL: no query")
        if self.adapter != "webhook" and not self.queue:
            raise ValueError(f"the {self.adapter} adapter needs queue: where data-subject requests are opened")
        if self.adapter in ("django-helpdesk", "zendesk") and self.queue is not None and not self.queue.isdigit():
            what = "queue" if self.adapter == "django-helpdesk" else "group"
            raise ValueError(f"{self.adapter} names the {what} by its numeric id, not {self.queue!r}")
        if self.secret is not None and len(self.secret.encode("utf-8")) < MIN_WEBHOOK_SECRET_BYTES:
            raise ValueError(f"the webhook secret must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes")  # never echoed
        if self.max_wait < self.backoff:
            raise ValueError("max_wait must be at least backoff")
        return self
