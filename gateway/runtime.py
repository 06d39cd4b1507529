"""A policy compiled for serving: everything per-request code needs, built once.

Reloading builds a complete new Runtime and swaps one reference; requests in
flight keep the Runtime they started with.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from .chain import Chain
from .exchange import LocalReply
from .filters.registry import FILTER_CLASSES
from .http.clientip import ClientIPResolver
from .http.encoding import narrow_accept_encoding
from .http.headers import RequestHeaderRules
from .http.paths import server_name_matcher
from .http.upstream_client import UpstreamPool
from .logs import AccessLog
from .metrics import Metrics
from .notify.egress import compile_egress
from .notify.smtp import compile_relay
from .policy.schema import Policy, upstream_ssl_context
from .routing import RouteTable
from .store import Store


class Runtime:
    def __init__(self, policy: Policy, metrics: Metrics, checksum: str = "", *, store: Store | None = None) -> None:
        self.policy = policy
        self.checksum = checksum
        self.store = store
        self.routes = RouteTable(policy)
        self.client_ip = ClientIPResolver(policy)
        self.chain = Chain(
            [cls(policy, metrics, store=store) for cls in FILTER_CLASSES if cls.enabled_in(policy)], metrics
        )
        upstream = policy.upstream
        parts = urlsplit(upstream.url)
        self.upstream_base = upstream.url
        self.upstream_ws_base = ("wss" if parts.scheme == "https" else "ws") + upstream.url[len(parts.scheme):]
        self.upstream_host = parts.netloc.rpartition("@")[2]
        self.pass_client_host = upstream.host_header == "client"
        self.via = upstream.via
        # What of the client's request head never reaches the helpdesk, and which host it may ask for.
        self.request_headers = RequestHeaderRules(upstream.strip_request_headers, upstream.set_headers)
        self.serves_host = server_name_matcher(policy.listen.server_names)
        self.unknown_host = LocalReply(
            policy.listen.unknown_host_status, "unknown_host", "This gateway does not serve that host."
        )
        self.timeouts = upstream.timeouts
        self.limits = policy.limits
        # The idle timeout of the response body is enforced per read by the proxy;
        # aiohttp's sock_read would also count the wait for the response head.
        self.client_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=upstream.timeouts.connect, sock_read=None
        )
        self.upstream_ssl = upstream_ssl_context(upstream.tls_ca) if parts.scheme == "https" else None
        # Set by the gateway on first use: pools outlive runtimes with the same upstream settings.
        self.upstream_pool: UpstreamPool | None = None
        rewrites = any(getattr(f, "rewrites_responses", False) for f in self.chain.filters)
        self.narrow_accept_encoding = narrow_accept_encoding if rewrites else None
        self.access_log = AccessLog(
            policy.logging.access_log, policy.logging.client_ip,
            redact_path=self.chain.log_path if self.chain.redacts_paths else None,
        )
        # The SMTP relay's rules, templates and signer: compiled with the rest, swapped with it on reload.
        self.relay = compile_relay(policy, metrics, self.access_log)
        self.egress = compile_egress(policy, self.relay.notifier if self.relay else None, metrics, self.access_log)


def needs_store(policy: Policy) -> bool:
    """Whether an enabled filter keeps durable state under this policy, or anonymisation records its cases."""
    return policy.anonymisation.enabled or any(cls.uses_store and cls.enabled_in(policy) for cls in FILTER_CLASSES)
