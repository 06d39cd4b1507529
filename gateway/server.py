"""Process assembly: listeners, the upstream connection pools, reloads, shutdown.

``Gateway`` owns the one reference that requests read (``runtime``); a reload
compiles a complete new Runtime before swapping it, and a failed reload keeps
the last good one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from .admin import make_admin_app
from .anonymise.metrics import anonymisation_metrics
from .anonymise.schedule import RetentionRunner
from .http.framing import require_compiled_parser
from .http.upstream_client import UpstreamPool
from .listener import ProxyServer
from .logs import flush_access_logs
from .metrics import Metrics
from .notify.apns import ApnsServer
from .notify.egress import CompiledEgress, EgressServer
from .notify.smtp import CompiledRelay, SmtpRelayServer
from .policy.loader import SETTLE_SECONDS, LoadedPolicy, PolicyError, load_policy
from .policy.schema import Policy, StoreSettings
from .proxy import Proxy
from .requests.worker import RequestsWorker, portal_of
from .runtime import Runtime, needs_store
from .store import Store, store_for
from .store.health import StoreProbe
from .watcher import PolicyWatcher

log = logging.getLogger("gateway.server")

_GC_THRESHOLD = 50_000
_CLEANUP_TIMEOUT = 1.0  # aiohttp's shutdown, after stop() drained (the admin listener's too)
_METRICS_FLUSH_EVERY = 1.0


class Gateway:
    def __init__(
        self, loaded: LoadedPolicy, metrics: Metrics | None = None, policy_path: Path | None = None,
        *, default_upstream: str | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.policy_path = policy_path
        self.default_upstream = default_upstream  # the demo's helpdesk, for policies that name none
        self.runtime = Runtime(loaded.policy, self.metrics, loaded.checksum)
        self.metrics.reload_success.set(1)
        self.metrics.reload_timestamp.set(time.time())
        self.metrics.set_policy(loaded.checksum[:12])
        self._session: aiohttp.ClientSession | None = None
        self._metrics_timer: asyncio.TimerHandle | None = None
        self._upstreams: dict[tuple[str, int, float, int, str | None], UpstreamPool] = {}
        self._runner: web.BaseRunner | None = None
        self._server: ProxyServer | None = None
        self._admin_runner: web.AppRunner | None = None
        self._watcher: PolicyWatcher | None = None
        self._reload_lock = asyncio.Lock()
        self._stores: dict[StoreSettings, Store] = {}
        # store_up and /readyz follow the database without traffic; a reload moves the probe to the new store.
        self._store_probe = StoreProbe(lambda: self.runtime.store)
        # The data-subject requests' work after verification (helpdesk case, mails, export), retried until done.
        self.requests_worker = RequestsWorker(lambda: portal_of(self.runtime), self.metrics)
        # Retention schedules: one run per anonymisation.every among all replicas (a lease in the store).
        self.retention = RetentionRunner(self._current_retention, self.metrics)
        # The anonymisation families are exported from the start, before the first case or schedule run.
        anonymisation_metrics(self.metrics)
        self.public_port = 0
        self.admin_port = 0
        self.smtp_port = 0
        self._relay: SmtpRelayServer | None = None
        self._last_relay: CompiledRelay | None = self.runtime.relay
        self.egress_port = 0
        self._egress: EgressServer | None = None
        self.apns_port = 0
        self._apns: ApnsServer | None = None
        self._last_egress: CompiledEgress | None = self.runtime.egress
        self.stopped = asyncio.Event()

    def upstream_pool(self, rt: Runtime) -> UpstreamPool:
        """The connection pool to ``rt``'s upstream (a reload may point at another one)."""
        if rt.upstream_pool is not None:
            return rt.upstream_pool
        upstream = rt.policy.upstream
        key = (upstream.url, upstream.max_connections, upstream.timeouts.connect, rt.limits.max_header_bytes,
               upstream.tls_ca)
        pool = self._upstreams.get(key)
        if pool is None:
            # A replaced pool keeps serving the requests already on it; its idle connections time out.
            pool = self._upstreams[key] = UpstreamPool(
                upstream.url,
                max_connections=upstream.max_connections,
                connect_timeout=upstream.timeouts.connect,
                max_head_bytes=rt.limits.max_header_bytes,
                ssl_context=rt.upstream_ssl,
            )
        rt.upstream_pool = pool
        return pool

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("gateway not started")
        return self._session

    async def start(
        self, *, reuse_port: bool = False, watch: bool = True, watch_interval: float = 1.0, admin: bool = True
    ) -> None:
        require_compiled_parser()
        if needs_store(self.runtime.policy):
            self.runtime = await self._compile(self.runtime.policy, self.runtime.checksum)
        policy = self.runtime.policy
        upstream = policy.upstream
        connector = aiohttp.TCPConnector(
            limit=upstream.max_connections,
            limit_per_host=upstream.max_connections,
            ttl_dns_cache=60,
            enable_cleanup_closed=False,
            keepalive_timeout=30,
        )
        self.upstream_pool(self.runtime)
        # Only WebSocket hand-shakes still go through aiohttp's client.
        self._session = aiohttp.ClientSession(
            connector=connector,
            # A shared cookie jar would replay one visitor's cookies to another.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Bodies pass through as the upstream encoded them.
            auto_decompress=False,
            trust_env=False,
            timeout=self.runtime.client_timeout,
            max_line_size=policy.limits.max_header_bytes,
            max_field_size=policy.limits.max_header_bytes,
            read_bufsize=2**16,
        )
        server = self._server = ProxyServer(
            Proxy(self, self.metrics), limits=policy.limits, metrics=self.metrics,
            # Read per connection: a reload's trusted proxies apply at once.
            trusted_peer=lambda ip: self.runtime.client_ip.is_trusted(ip),
        )
        # stop() drains (drain_timeout) before the runner's cleanup, which then finds nothing in flight.
        self._runner = web.ServerRunner(server, shutdown_timeout=_CLEANUP_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, policy.listen.host, policy.listen.port,
            reuse_port=reuse_port, backlog=1024,
        )
        await site.start()
        self.public_port = int(self._runner.addresses[0][1])
        if admin and policy.admin.enabled:
            self._admin_runner = web.AppRunner(
                make_admin_app(self), access_log=None, shutdown_timeout=_CLEANUP_TIMEOUT
            )
            await self._admin_runner.setup()
            admin_site = web.TCPSite(self._admin_runner, policy.admin.host, policy.admin.port, reuse_port=reuse_port)
            await admin_site.start()
            self.admin_port = int(self._admin_runner.addresses[0][1])
        if self.runtime.relay is not None:
            self._relay = SmtpRelayServer(self._current_relay)
            await self._relay.start(reuse_port=reuse_port)
            self.smtp_port = self._relay.port
        if self.runtime.egress is not None:
            self._egress = EgressServer(self._current_egress)
            await self._egress.start(reuse_port=reuse_port)
            self.egress_port = self._egress.port
            if self.runtime.egress.settings.apns_listen is not None:  # HTTP/2, for Apple's push API
                self._apns = ApnsServer(self._current_egress)
                await self._apns.start(reuse_port=reuse_port)
                self.apns_port = self._apns.port
        self._flush_metrics()
        self._store_probe.start()
        self.requests_worker.start()
        self.retention.start()
        if watch and self.policy_path is not None:
            self._watcher = PolicyWatcher(self.policy_path, self.reload, interval=watch_interval)
            self._watcher.start()
        log.info(
            "gateway listening",
            extra={"fields": {"listen": f"{policy.listen.host}:{self.public_port}",
                              "admin": f"{policy.admin.host}:{self.admin_port}" if self.admin_port else None,
                              "smtp": self._relay_address(),
                              "upstream": upstream.url, "policy": self.runtime.checksum[:12]}},
        )

    async def reload(self) -> bool:
        """Load, compile and swap the policy; keep the last good one on failure."""
        if self.policy_path is None:
            return False
        async with self._reload_lock:
            self.metrics.reload_timestamp.set(time.time())
            try:
                # settle: a file caught mid-write (truncated, half rewritten) is not loaded.
                loaded = await asyncio.to_thread(
                    load_policy, self.policy_path, default_upstream=self.default_upstream, settle=SETTLE_SECONDS
                )
                runtime = await self._compile(loaded.policy, loaded.checksum)
            except PolicyError as exc:
                self._reload_failed(str(exc))
                return False
            except Exception as exc:  # a filter failing to compile must not kill serving
                self._reload_failed(f"{type(exc).__name__}: {exc}")
                return False
            changed = _listener_changes(self.runtime, runtime)
            if changed:
                log.warning("reload cannot change the listeners; restart to apply",
                            extra={"fields": {"keys": changed}})
            previous, self.runtime = self.runtime, runtime
            if runtime.relay is not None:
                self._last_relay = runtime.relay
            if runtime.egress is not None:
                self._last_egress = runtime.egress
            self._retire_pools(keep=self.upstream_pool(runtime))
            previous.access_log.flush()
            self.metrics.reload_success.set(1)
            self.metrics.reloads.labels("success").inc()
            self.metrics.set_policy(loaded.checksum[:12])
            log.info("policy reloaded", extra={"fields": {"policy": loaded.checksum[:12]}})
            return True

    async def _compile(self, policy: Policy, checksum: str) -> Runtime:
        """A Runtime with its store opened (stores are kept across reloads, one per store section)."""
        store = None
        if needs_store(policy):
            store = self._stores.get(policy.store)
            if store is None:
                store = store_for(policy.store)
                await store.open()
                self._stores[policy.store] = store
                log.info("state store opened", extra={"fields": {"store": policy.store.url.split("://")[0]}})
        return Runtime(policy, self.metrics, checksum, store=store)

    def _reload_failed(self, errors: str) -> None:
        self.metrics.reload_success.set(0)
        self.metrics.reloads.labels("failure").inc()
        log.error(
            "policy reload failed; keeping the last good policy",
            extra={"fields": {"policy": self.runtime.checksum[:12], "errors": errors.splitlines()[:50]}},
        )

    def _retire_pools(self, keep: UpstreamPool) -> None:
        """Pools of earlier upstream settings: requests on them finish, nothing goes back to them."""
        for key, pool in list(self._upstreams.items()):
            if pool is not keep:
                del self._upstreams[key]
                pool.retire()

    def _flush_metrics(self) -> None:
        """Push batched metric updates to prometheus-client every second (the workers' files)."""
        pools = self._upstreams.values()
        self.metrics.upstream_connections.labels("open").set(sum(pool.open_connections for pool in pools))
        self.metrics.upstream_connections.labels("idle").set(sum(pool.idle_connections for pool in pools))
        store = self.runtime.store
        if store is not None:
            errors = sum(s.errors for s in self._stores.values() if s.backend == store.backend)
            self.metrics.observe_store(store.backend, up=store.up is not False, errors=errors)
        self.metrics.batches.flush()
        if self._metrics_timer is not None:
            self._metrics_timer.cancel()
        self._metrics_timer = asyncio.get_running_loop().call_later(_METRICS_FLUSH_EVERY, self._flush_metrics)

    def _current_retention(self) -> tuple[Policy, Store] | None:
        store = self.runtime.store
        return None if store is None else (self.runtime.policy, store)

    def _current_relay(self) -> CompiledRelay:
        # A reload that turns the relay off keeps the last one until a restart (listeners are bound once).
        relay = self.runtime.relay or self._last_relay
        if relay is None:
            raise RuntimeError("the SMTP relay runs without a compiled relay")
        return relay

    def _current_egress(self) -> CompiledEgress:
        egress = self.runtime.egress or self._last_egress
        if egress is None:
            raise RuntimeError("the egress listener runs without a compiled egress")
        return egress

    def _relay_address(self) -> str | None:
        relay = self.runtime.relay
        return f"{relay.settings.listen.host}:{self.smtp_port}" if relay is not None and self.smtp_port else None

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish within the drain timeout, cut off the rest.

        The whole stop takes the drain timeout plus a moment: requests still
        running then are cancelled (each gets its access-log line, reason
        ``shutdown``), and every log is written out before returning.
        """
        if self._watcher is not None:
            await self._watcher.stop()
        if self._relay is not None:
            # No new SMTP clients; a message cut before its 250 stays in the helpdesk's queue.
            await self._relay.close()
            self._relay = None
        if self._egress is not None:
            await self._egress.close()
            self._egress = None
        if self._apns is not None:
            await self._apns.close()
            self._apns = None
        if self._runner is not None and self._server is not None:
            for site in list(self._runner.sites):
                await site.stop()  # no new connections from here on
            await asyncio.sleep(0)  # requests accepted just before start being handled
            drain = self.runtime.limits.drain_timeout
            cut = await self._server.drain(drain)
            if cut:
                log.warning("requests cut off at the end of the drain",
                            extra={"fields": {"requests": cut, "drain_timeout": drain}})
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
        if self._runner is not None:
            await self._runner.cleanup()
        flush_access_logs()
        if self._metrics_timer is not None:
            self._metrics_timer.cancel()
            self._metrics_timer = None
        self.metrics.batches.flush()
        if self._session is not None:
            await self._session.close()
        for pool in self._upstreams.values():
            await pool.close()
        self._upstreams.clear()
        await self._store_probe.stop()
        await self.requests_worker.stop()
        await self.retention.stop()
        for store in self._stores.values():
            await store.close()
        self._stores.clear()
        flush_access_logs()
        self.stopped.set()

    async def serve_forever(self, *, reuse_port: bool = False, admin: bool = True) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the policy."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        await self.start(reuse_port=reuse_port, admin=admin)
        _tune_gc()
        await stop.wait()
        log.info("shutting down", extra={"fields": {"drain_timeout": self.runtime.limits.drain_timeout}})
        await self.stop()


def _tune_gc() -> None:
    """Make the cyclic garbage collector run far less often while serving.

    Each request allocates a few hundred short-lived objects, almost none in
    cycles; with the default threshold (700) a young-generation collection
    runs every few requests and showed up as several percent of CPU. Objects
    alive after start-up (modules, compiled policy) are frozen out of every
    collection.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_THRESHOLD, 50, 100)


def _listener_changes(old: Runtime, new: Runtime) -> list[str]:
    changed = []
    old_smtp, new_smtp = old.relay, new.relay
    if (old_smtp is None) != (new_smtp is None) or (
        old_smtp is not None and new_smtp is not None and old_smtp.settings.listen != new_smtp.settings.listen
    ):
        changed.append("notifications.smtp.listen")
    old_egress, new_egress = old.egress, new.egress
    if (old_egress is None) != (new_egress is None) or (
        old_egress is not None and new_egress is not None and old_egress.settings.listen != new_egress.settings.listen
    ):
        changed.append("notifications.egress.listen")
    old_apns = old_egress.settings.apns_listen if old_egress is not None else None
    if old_apns != (new_egress.settings.apns_listen if new_egress is not None else None):
        changed.append("notifications.egress.apns_listen")
    # The public address is bound once; listen's host and header checks apply per request.
    if (old.policy.listen.host, old.policy.listen.port) != (new.policy.listen.host, new.policy.listen.port):
        changed.append("listen")
    if old.policy.admin != new.policy.admin:
        changed.append("admin")
    # Read once by the listener and runner; the other limits apply per request.
    for key in _LISTENER_LIMITS:
        if getattr(old.policy.limits, key) != getattr(new.policy.limits, key):
            changed.append(f"limits.{key}")
    return changed


_LISTENER_LIMITS = (
    "max_header_bytes", "header_timeout", "keepalive_timeout", "max_connections", "max_connections_per_ip",
)
