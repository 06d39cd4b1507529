"""Structured JSON-lines logging: process events and the access log.

No cookies, no query strings, no Authorization values and no full client
addresses (unless the policy asks for them) ever reach a log line. A path that
carries a secret (a link token under ``/_l/``) is logged as its filter
redacts it (see ``Filter.log_path``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import sys
import time
import weakref
from typing import IO, Any, Callable, Literal

import orjson

from .lib.bounded import remember

IPMode = Literal["full", "truncated", "hashed"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={"fields": {...}}`` adds structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type and message only: tracebacks can hold request data.
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"[:500]
        return orjson.dumps(entry, default=str).decode()


def _timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def setup_logging(level: str = "info", stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp logs parse errors with the offending bytes; keep those out of the log.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.getLogger("aiohttp.access").setLevel(logging.CRITICAL)
    # aiosmtpd logs every peer and command at info; the relay logs its own decisions.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


class IPMasker:
    """Turns a client address into what the policy allows a log to hold."""

    def __init__(self, mode: IPMode) -> None:
        self.mode = mode
        self._key = os.urandom(16)
        self._cache: dict[str, str] = {}

    def __call__(self, ip: str) -> str:
        if self.mode == "full" or not ip:
            return ip
        masked = self._cache.get(ip)
        if masked is None:
            masked = remember(self._cache, ip, self._mask(ip), 4097)
        return masked

    def _mask(self, ip: str) -> str:
        if self.mode == "hashed":
            return hmac.new(self._key, ip.encode(), hashlib.sha256).hexdigest()[:16]
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return "invalid"
        prefix = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class AccessLog:
    """Writes one JSON line per request to a binary stream (stdout by default).

    Lines are buffered and written at most ``FLUSH_DELAY`` seconds later (or
    once ``FLUSH_BYTES`` are pending): one write per batch, not per request.
    ``redact_path`` turns an entry's ``path`` into what the log may show.
    """

    FLUSH_DELAY = 0.25
    FLUSH_BYTES = 64 * 1024

    def __init__(
        self,
        enabled: bool,
        ip_mode: IPMode,
        stream: IO[bytes] | None = None,
        *,
        redact_path: Callable[[str], str] | None = None,
    ) -> None:
        self.enabled = enabled
        self.mask_ip = IPMasker(ip_mode)
        self._redact_path = redact_path
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        _access_logs.add(self)

    def write(self, entry: dict[str, Any]) -> None:
        if not self.enabled:
            return
        entry["ts"] = _now_timestamp()
        path = entry.get("path")
        if self._redact_path is not None and isinstance(path, str):
            entry["path"] = self._redact_path(path)
        line = orjson.dumps(entry) + b"\n"
        self._pending.append(line)
        self._pending_bytes += len(line)
        if self._pending_bytes >= self.FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.FLUSH_DELAY, self.flush)
            except RuntimeError:  # no loop (a command-line use): write now
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken log pipe must not fail requests


# Every live access log, so that shutdown can write out the batches of earlier runtimes too.
_access_logs: weakref.WeakSet[AccessLog] = weakref.WeakSet()


def flush_access_logs() -> None:
    """Write every buffered access-log line now (before the process exits: timers no longer run)."""
    for access_log in list(_access_logs):
        access_log.flush()


_second_cache: tuple[int, str] = (0, "")


def _now_timestamp() -> str:
    """``_timestamp(time.time())`` with the formatted seconds cached (strftime per line is measurable)."""
    global _second_cache
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_cache[1]}.{int(now % 1 * 1000):03d}Z"
