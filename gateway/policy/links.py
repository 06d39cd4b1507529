"""The ``links`` policy section: external links stripped or re-signed with an expiry."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from .keys import KeyRef
from .schema_base import Model
from .units import Duration

_PARAM = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

DEFAULT_TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
    "_hsenc", "_hsmi", "mkt_tok", "yclid", "igshid", "twclid", "li_fat_id", "oly_anon_id", "oly_enc_id",
)

Action = Literal["keep", "sign", "strip"]


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    return value


PathPattern = Annotated[str, AfterValidator(_check_path)]


class LinkKey(KeyRef):
    """A link signing key; its id is written into each token's header (kid)."""

class LinkRule(Model):
    """What to do with links to some hosts. The first rule whose hosts match applies."""

    hosts: tuple[str, ...] = Field(
        min_length=1, description="Host globs (*.youtube.com, docs.example.org). Required, not empty."
    )
    action: Action = Field(description="keep, sign (expiring link via the gateway) or strip (text stays). Required.")
    ttl: Duration | None = Field(None, gt=0, description="Token lifetime here. Absent: links.ttl.")
    direct: bool = Field(
        False, description="Redirect with 302 instead of showing the interstitial (trusted hosts). Absent: false."
    )
    strip_tracking: bool | None = Field(None, description="Remove tracking parameters first. Absent: links.strip_tracking.")


class RequireToken(Model):
    """A helpdesk path that only opens with a valid, unexpired token (links sent by e-mail)."""

    path: PathPattern = Field(description="Path prefix or glob, as in firewall rules. Required.")
    param: str = Field("_gt", description="Query parameter carrying the token. Absent: _gt.")

    @field_validator("param")
    @classmethod
    def _check_param(cls, value: str) -> str:
        if not _PARAM.fullmatch(value):
            raise ValueError(f"{value!r} is not a query parameter name")
        return value


class Links(Model):
    enabled: bool = Field(False, description="Absent: false (links pass untouched).")
    internal_hosts: tuple[str, ...] = Field(
        (), description="Host globs whose links are internal and never rewritten. The request's own host "
        "is always internal. Absent or empty: only the request's own host.",
    )
    default_action: Action = Field("sign", description="For external hosts no rule matches. Absent: sign.")
    rules: tuple[LinkRule, ...] = Field((), description="Per-host actions, first match wins. Absent: default_action.")
    ttl: Duration = Field(7 * 86400.0, gt=0, description="Token lifetime. Absent: 7d.")
    leeway: Duration = Field(30.0, description="Clock skew accepted when checking expiry. Absent: 30s.")
    keys: tuple[LinkKey, ...] = Field((), description="The key ring. Required (non-empty) when enabled.")
    current_key: str | None = Field(None, description="Key id used to sign. Absent: the first key.")
    endpoint: str = Field("/_l/", description="Path prefix of the gateway's redirect endpoint. Absent: /_l/.")
    interstitial: bool = Field(
        True, description="Show the destination and continue on click (mail scanners cannot follow it). Absent: true."
    )
    strip_tracking: bool = Field(True, description="Remove tracking parameters before signing. Absent: true.")
    tracking_params: tuple[str, ...] = Field(
        DEFAULT_TRACKING_PARAMS, description="Parameter names or globs counted as tracking. Absent: a built-in list."
    )
    content_types: tuple[str, ...] = Field(
        ("text/html",),
        description="Response types rewritten. Add text/plain to rewrite plain-text pages too (text files "
        "served inline change then). Downloads (Content-Disposition: attachment) are never rewritten. "
        "Absent: text/html.",
    )
    exclude_paths: tuple[PathPattern, ...] = Field(
        (), description="Paths whose responses are never rewritten (e.g. /media/), prefixes or globs "
        "as in firewall rules. Absent or empty: none.",
    )
    rewrite_in_scripts: bool = Field(False, description="Also rewrite inside <script>/<style>. Absent: false.")
    require_token: tuple[RequireToken, ...] = Field(
        (), description="Helpdesk paths that need a valid token. Absent or empty: none."
    )

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        if not (value.startswith("/") and value.endswith("/") and len(value) > 2):
            raise ValueError(f"{value!r} must start and end with '/', e.g. /_l/")
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> Links:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        if self.current_key is not None and self.current_key not in ids:
            raise ValueError(f"current_key: {self.current_key!r} is not the id of a key in links.keys")
        if self.enabled and not self.keys:
            raise ValueError("keys: at least one signing key is required when links are enabled")
        return self
