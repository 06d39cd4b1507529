"""The policy language: typed, frozen models.

Every model forbids unknown keys (a typo is an error, never a silently ignored
setting) and every field documents what it means when absent or empty. The
JSON Schema printed by ``privacy-gateway schema`` is generated from here.
"""

from __future__ import annotations

import re
import ssl
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from ..http.headers import HOP_BY_HOP, SetHeaderSource, UnderscoreAction
from ..http.paths import BadHost, BadPath, normalize_path, parse_host
from .anonymisation import Anonymisation
from .consent import Consent
from .helpdesks import HelpdeskSettings
from .legal_basis import LegalBasis
from .links import Links
from .notifications import Notifications
from .organisation import Organisation
from .requests import Requests
from .schema_base import Model
from .sensitive import Sensitive
from .units import AddressRef, ByteSize, Duration, Name, check_name

_HTTP_METHOD = re.compile(r"^[A-Z]{1,20}$")
# An RFC 9110 field name (token).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# Set by the gateway itself; upstream.set_headers cannot take them over.
_GATEWAY_SET = HOP_BY_HOP | {
    "host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
}


def _check_rule_name(value: str) -> str:
    check_name(value)
    if value == "default":
        raise ValueError("'default' is reserved for the decision taken when no rule or route matches")
    return value


def _check_server_name(value: str) -> str:
    """A host name or address (no port) as Host carries it, or ``*.`` before one; normalised."""
    wildcard = value.startswith("*.")
    name = value[2:] if wildcard else value
    if not wildcard and name.count(":") > 1 and not name.startswith("["):
        name = f"[{name}]"  # a bare IPv6 address
    try:
        authority, host = parse_host(name)
    except BadHost:
        raise ValueError(f"{value!r} is not a host name, IPv4 or IPv6 address, or *.name") from None
    if ":" in authority.rpartition("]")[2]:
        raise ValueError(f"{value!r} has a port; server names match the host without its port")
    if wildcard and authority.startswith("["):
        raise ValueError(f"{value!r} is not a host name, IPv4 or IPv6 address, or *.name")
    return ("*." if wildcard else "") + host


def _check_header_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a header name")
    return value


def _check_strip_name(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value.removesuffix("*")) or "*" in value[:-1]:
        raise ValueError(f"{value!r} is not a header name (or a prefix ending in '*')")
    return value


def _check_set_name(value: str) -> str:
    _check_header_name(value)
    if value.lower() in _GATEWAY_SET:
        raise ValueError(f"{value!r} is set by the gateway itself")
    return value


ServerName = Annotated[str, AfterValidator(_check_server_name)]
StripName = Annotated[str, AfterValidator(_check_strip_name)]
SetHeaderName = Annotated[str, AfterValidator(_check_set_name)]
RuleName = Annotated[str, AfterValidator(_check_rule_name)]


class Listener(Model):
    """Where the public (proxying) listener binds."""

    host: str = Field("127.0.0.1", description="Address to bind. Absent: 127.0.0.1. Use 0.0.0.0 or :: in a container.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port. Absent: 8080. 0 picks a free port (tests).")
    server_names: tuple[ServerName, ...] | None = Field(
        None,
        description="Host names (or addresses) this gateway serves, matched without the port; *.example.com "
        "matches every name below example.com, not example.com itself. Others get unknown_host_status "
        "before any filter runs. Absent: every host. Empty: an error.",
    )
    unknown_host_status: Literal[421, 400] = Field(
        421, description="Status for a Host not in server_names (reason unknown_host). Absent: 421."
    )
    headers_with_underscores: UnderscoreAction = Field(
        "drop",
        description="Request header names with '_': drop them, reject the request (400 bad_header), or "
        "allow them (a WSGI server may read X_Forwarded_For as X-Forwarded-For). Routes may override. "
        "Absent: drop.",
    )

    @field_validator("server_names")
    @classmethod
    def _check_server_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("must not be empty (leave it out to serve every host)")
        return value


class AdminListener(Model):
    """The admin listener: /metrics, /healthz, /readyz, /explain. Never the public port."""

    host: str = Field("127.0.0.1", description="Address to bind. Absent: 127.0.0.1 (only local scrapers).")
    port: int = Field(9100, ge=0, le=65535, description="TCP port. Absent: 9100.")
    enabled: bool = Field(True, description="Absent: true. false runs no admin listener (no metrics).")


class UpstreamTimeouts(Model):
    connect: Duration = Field(5.0, description="TCP (and TLS) connect to the upstream. Absent: 5s. Exceeded: 504.")
    first_byte: Duration = Field(
        60.0,
        description="From the end of the request body to the upstream's response head. Absent: 60s. Exceeded: 504.",
    )
    idle: Duration = Field(
        60.0, description="Longest silence while reading the upstream response body. Absent: 60s."
    )


def upstream_ssl_context(tls_ca: str | None) -> ssl.SSLContext:
    """Certificate and host-name checks as browsers do them, with ``tls_ca`` trusted too."""
    context = ssl.create_default_context()
    if tls_ca is not None:
        try:
            context.load_verify_locations(cadata=tls_ca)
        except (ssl.SSLError, ValueError):
            raise ValueError("tls_ca holds no usable PEM certificate") from None
    return context


class Upstream(Model):
    """The helpdesk behind the gateway."""

    url: str = Field(
        description="Base URL (http or https, no query). Required: a policy without it would be a gateway "
        "in front of nothing (only the demo command supplies its own helpdesk).",
    )
    host_header: Literal["client", "upstream"] = Field(
        "client",
        description="Host sent upstream: 'client' passes the client's Host, 'upstream' uses the URL's host. Absent: client.",
    )
    via: bool = Field(False, description="Add a Via header both ways. Absent: false.")
    max_connections: int = Field(
        100, ge=1, le=100_000, description="Size of the keep-alive connection pool. Absent: 100."
    )
    timeouts: UpstreamTimeouts = Field(default_factory=UpstreamTimeouts)
    tls_ca: str | None = Field(
        None,
        description="PEM certificates trusted for an https:// upstream besides the system's CAs, "
        "e.g. ${file:helpdesk-ca.pem} (a private CA). Absent: the system's CAs only.",
    )
    strip_request_headers: tuple[StripName, ...] = Field(
        (),
        description="Client request headers removed besides the built-in list (X-Forwarded-*, Forwarded, "
        "X-Real-IP, X-Original-URL, X-HTTP-Method-Override, Remote-User...; see README). A trailing * "
        "makes a prefix (X-Acme-Auth-*). Absent or empty: the built-in list only.",
    )
    set_headers: dict[SetHeaderName, SetHeaderSource] = Field(
        default_factory=dict,
        description="Headers sent upstream with a value the gateway decided, never the client's copy: "
        "client_ip (the address the firewall decided on), proto (http or https), host (the validated "
        "Host). E.g. {X-Real-IP: client_ip}. Absent or empty: none.",
    )

    @field_validator("tls_ca")
    @classmethod
    def _check_tls_ca(cls, value: str | None) -> str | None:
        if value is not None:
            upstream_ssl_context(value)  # a PEM that does not load is a policy error, not a failed request
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} must not have a query or fragment")
        return value.rstrip("/")


class Limits(Model):
    """Limits of the public listener; defaults suit a helpdesk."""

    max_header_bytes: ByteSize = Field(
        32 * 1024,
        ge=1024,
        description="Total size of the request head (all header lines). Absent: 32KiB. Exceeded: 431.",
    )
    max_body_bytes: ByteSize = Field(
        10 * 1024 * 1024,
        description="Request body cap, counted while streaming; routes may override. Absent: 10MiB. Exceeded: 413.",
    )
    header_timeout: Duration = Field(
        10.0, gt=0, description="Time a client has to send a complete request head (slowloris). Absent: 10s."
    )
    body_timeout: Duration = Field(
        30.0, gt=0, description="Longest silence while receiving a request body. Absent: 30s. Exceeded: 408."
    )
    send_timeout: Duration = Field(
        60.0, gt=0, description="Longest a write to a slow-reading client may stall. Absent: 60s."
    )
    keepalive_timeout: Duration = Field(75.0, description="Idle keep-alive connections close after this. Absent: 75s.")
    max_connections: int = Field(
        1024, ge=1, description="Client connections served at once per worker; more wait in the backlog. Absent: 1024."
    )
    drain_timeout: Duration = Field(
        30.0,
        description="On SIGTERM, time in-flight requests get to finish; the rest are cut off (logged with "
        "reason shutdown). Absent: 30s.",
    )
    body_total_timeout: Duration = Field(
        300.0,
        gt=0,
        description="Longest a whole request body may take to arrive, however steadily it trickles. "
        "Absent: 300s. Exceeded: 408 body_timeout.",
    )
    max_connections_per_ip: int = Field(
        256,
        ge=0,
        description="Client connections served at once per socket peer address, per worker; peers in "
        "client_ip.trusted_proxies are exempt. A load balancer that is not listed there needs a higher "
        "cap, or 0 (no cap). Absent: 256. Exceeded: 503 too_many_connections.",
    )


class ClientIP(Model):
    """How the client address is derived."""

    trusted_proxies: tuple[AddressRef, ...] = Field(
        (),
        description="Peers whose X-Forwarded-For is believed (addresses, networks, ranges, list names). "
        "Absent or empty: none; the socket peer is the client.",
    )


class RouteMatch(Model):
    """Which requests a route or rule applies to. Absent fields match everything."""

    path: str | None = Field(
        None,
        description="Path prefix on segment boundaries: /agent/ matches /agent, /agent/ and below, not /agents. "
        "A value with * ? or [ is a glob over the whole path: * within one segment, ** across segments. "
        "Absent: every path.",
    )
    path_exact: str | None = Field(
        None,
        description="This one path only, compared whole (no prefix, no glob): /agent/ is not /agent. "
        "Written as the gateway matches paths: decoded, single slashes. Not together with path. "
        "Absent: path decides.",
    )
    methods: tuple[str, ...] | None = Field(
        None, description="HTTP methods, upper case. Absent: every method. Empty: an error."
    )
    host: str | None = Field(
        None, description="Host header (port ignored, case-insensitive), glob allowed (*.example.com). Absent: any host."
    )

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        return value

    @field_validator("path_exact")
    @classmethod
    def _check_path_exact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        try:
            normalized = normalize_path(value)
        except BadPath:
            normalized = ""
        if normalized != value:
            # Requests are matched decoded, slashes merged, ';params' cut: this could never match.
            raise ValueError(f"{value!r} is not a path as the gateway matches it (decoded, no '//', '.', '..' or ';')")
        return value

    @model_validator(mode="after")
    def _check_one_path(self) -> RouteMatch:
        if self.path is not None and self.path_exact is not None:
            raise ValueError("give either path or path_exact, not both")
        return self

    @field_validator("methods")
    @classmethod
    def _check_methods(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must not be empty (leave it out to match every method)")
        for method in value:
            if not _HTTP_METHOD.fullmatch(method):
                raise ValueError(f"{method!r} is not an upper-case HTTP method")
        return value


class Route(RouteMatch):
    """Per-route settings. The first route whose match fits a request applies."""

    name: RuleName = Field(description="Route name, used as the metric label. Required.")
    max_body_bytes: ByteSize | None = Field(None, description="Body cap for this route. Absent: limits.max_body_bytes.")
    first_byte_timeout: Duration | None = Field(
        None, description="Upstream first-byte timeout here. Absent: upstream.timeouts.first_byte."
    )
    headers_with_underscores: UnderscoreAction | None = Field(
        None, description="Request header names with '_' here: drop, reject or allow. Absent: listen.headers_with_underscores."
    )
    rewrite: bool = Field(
        True,
        description="Whether response bodies here may be rewritten (links, the consent banner). "
        "false: bodies pass byte for byte (headers are still filtered). Absent: true.",
    )


class FirewallRule(RouteMatch):
    """One rule. The first rule whose match fits a request decides it."""

    name: RuleName = Field(description="Rule name, used in logs and as the metric label. Required.")
    allow: tuple[AddressRef, ...] | None = Field(
        None,
        description="Only these clients pass (addresses, networks, ranges, list names). "
        "Absent: every client not denied passes. Empty: nobody passes.",
    )
    deny: tuple[AddressRef, ...] = Field(
        (), description="These clients are refused, checked before allow. Absent or empty: none."
    )
    shadow: bool = Field(
        False, description="Report-only: log and count what would be denied, let it pass. Absent: false."
    )
    status: int | None = Field(
        None, ge=400, le=599, description="Status of a denial (404 hides an area). Absent: firewall.status."
    )


class Firewall(Model):
    enabled: bool = Field(True, description="Absent: true. false disables the filter (no rule is evaluated).")
    default: Literal["allow", "deny"] = Field(
        "allow", description="Decision when no rule matches. Absent: allow."
    )
    status: int = Field(403, ge=400, le=599, description="Default denial status. Absent: 403.")
    rules: tuple[FirewallRule, ...] = Field((), description="Checked in order. Absent or empty: the default decides.")


class Logging(Model):
    access_log: bool = Field(True, description="One JSON line per request on stdout. Absent: true.")
    client_ip: Literal["full", "truncated", "hashed"] = Field(
        "truncated",
        description="How client IPs appear in logs: truncated to /24 (IPv4) or /48 (IPv6), "
        "hashed (keyed, per process), or full. Absent: truncated.",
    )
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Absent: info.")


class StoreTimeouts(Model):
    """Bounds on the state store: a store that does not answer fails requests closed (503), promptly."""

    connect: Duration = Field(
        2.0, gt=0, description="Opening a connection to PostgreSQL (at start and when the pool reconnects). Absent: 2s."
    )
    operation: Duration = Field(
        2.0,
        gt=0,
        description="One store operation from start to answer: waiting for a pooled connection, the statement, "
        "an SQLite lock (its busy timeout). Absent: 2s. Exceeded: the request fails closed.",
    )


class StorePool(Model):
    """PostgreSQL connections kept by each gateway process (each worker of ``--workers N`` has its own pool).

    The database sees up to replicas x workers x max_connections connections.
    """

    min_connections: int = Field(
        1, ge=1, le=1000, description="Opened at start and kept open, idle or not. Absent: 1."
    )
    max_connections: int = Field(
        5, ge=1, le=1000,
        description="At most this many at once; an operation waits for a free one within store.timeouts.operation. "
        "Absent: 5.",
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> StorePool:
        if self.min_connections > self.max_connections:
            raise ValueError(
                f"min_connections ({self.min_connections}) is more than max_connections ({self.max_connections})"
            )
        return self


class StoreSettings(Model):
    """Where durable state lives: link revocations, consent receipts."""

    url: str = Field(
        "sqlite:///privacy-gateway-state.sqlite3",
        description="sqlite:///relative/path (to the working directory), sqlite:////absolute/path, or "
        "postgresql://user@host:5432/db for several replicas. Absent: an SQLite file "
        "privacy-gateway-state.sqlite3 in the working directory. Only opened when a filter needs it.",
    )
    receipt_retention: Duration = Field(
        365 * 86400.0, gt=0, description="How long consent receipts are kept. Absent: 365d."
    )
    timeouts: StoreTimeouts = Field(default_factory=StoreTimeouts)
    pool: StorePool = Field(default_factory=StorePool, description="PostgreSQL only; SQLite has one connection.")
    password: str | None = Field(
        None,
        repr=False,
        description="The PostgreSQL password, by reference only: ${ENV_VAR} or ${file:path} (a mounted secret). "
        "Used instead of a password in url, and needs no URL escaping. Absent: the url's (also a reference), "
        "else PGPASSWORD or ~/.pgpass as libpq reads them.",
    )

    @field_validator("url")
    @classmethod
    def _check_store_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(
                f"{value.split(':', 1)[0]!r} is not a supported store; use sqlite:///path or postgresql://..."
            )
        return value

    @model_validator(mode="after")
    def _check_password(self) -> StoreSettings:
        if self.password is None:
            return self
        # The messages never show the URL: after substitution it may hold a password.
        if not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("password is only used with a PostgreSQL store (store.url postgresql://...)")
        try:
            parts = urlsplit(self.url)
            in_url = parts.password is not None or any(
                key.lower() == "password" for key, _ in parse_qsl(parts.query, keep_blank_values=True)
            )
        except ValueError:
            in_url = False
        if in_url:
            raise ValueError("the password is given twice: in url and in password; keep one")
        return self


class Policy(Model):
    """A complete gateway policy."""

    version: Literal[1] = Field(1, description="Policy language version. Absent: 1.")
    listen: Listener = Field(default_factory=Listener)
    admin: AdminListener = Field(default_factory=AdminListener)
    upstream: Upstream = Field(description="The helpdesk behind the gateway. Required (at least its url).")
    limits: Limits = Field(default_factory=Limits)
    client_ip: ClientIP = Field(default_factory=ClientIP)
    ip_lists: dict[Name, tuple[AddressRef, ...]] = Field(
        default_factory=dict,
        description="Named address lists, referenced by name from allow/deny/trusted_proxies. "
        "A list may name other lists. Absent or empty: no named lists.",
    )
    routes: tuple[Route, ...] = Field((), description="Per-route limits, first match wins. Absent: defaults everywhere.")
    firewall: Firewall = Field(default_factory=Firewall)
    links: Links = Field(default_factory=Links)
    consent: Consent = Field(default_factory=Consent)
    notifications: Notifications = Field(default_factory=Notifications)
    sensitive: Sensitive = Field(default_factory=Sensitive)
    organisation: Organisation | None = Field(
        None, description="The controller and its data protection officer, shown on the gateway's pages. "
        "Absent: not shown.",
    )
    legal_basis: LegalBasis = Field(default_factory=LegalBasis)
    requests: Requests = Field(default_factory=Requests)
    anonymisation: Anonymisation = Field(default_factory=Anonymisation)
    store: StoreSettings = Field(default_factory=StoreSettings)
    logging: Logging = Field(default_factory=Logging)

    @model_validator(mode="after")
    def _check_anonymisation_helpdesk(self) -> Policy:
        if self.anonymisation.enabled and self.anonymisation_helpdesk is None:
            raise ValueError("anonymisation: enabled anonymisation needs a helpdesk (anonymisation.helpdesk, or the "
                             "portal's requests.helpdesk)")
        return self

    @property
    def anonymisation_helpdesk(self) -> HelpdeskSettings | None:
        """The helpdesk whose cases are anonymised: anonymisation.helpdesk, or else the portal's."""
        return self.anonymisation.helpdesk or self.requests.helpdesk
