"""JSON-lines logging: formatter fields, exceptions without tracebacks, IP masking, the access log."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import Any, Iterator

import orjson
import pytest

from gateway.logs import AccessLog, IPMasker, JsonFormatter, setup_logging

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def json_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.logs.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [orjson.loads(line) for line in text.splitlines()]


def test_formatter_base_fields(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    logger.warning("reload failed for %s", "policy.yaml")
    [entry] = lines(stream)
    assert set(entry) == {"ts", "level", "logger", "msg"}
    assert entry["level"] == "warning"
    assert entry["logger"] == "tests.logs.json"
    assert entry["msg"] == "reload failed for policy.yaml"
    assert TS.match(entry["ts"]), entry["ts"]


def test_formatter_structured_fields(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    logger.info("decision", extra={"fields": {"filter": "firewall", "rule": "agent", "count": 3, "obj": object}})
    [entry] = lines(stream)
    assert entry["filter"] == "firewall"
    assert entry["rule"] == "agent"
    assert entry["count"] == 3
    assert entry["obj"] == str(object)  # non-JSON values are stringified, not an error


def test_formatter_ignores_non_dict_fields(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    logger.info("x", extra={"fields": ["not", "a", "dict"]})
    [entry] = lines(stream)
    assert set(entry) == {"ts", "level", "logger", "msg"}


def _fail_with_request_data() -> None:
    cookie = "session=SECRET-COOKIE-VALUE"  # a local a traceback renderer could show
    raise ValueError(f"bad header ({len(cookie)} bytes)")


def test_exception_without_traceback(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    try:
        _fail_with_request_data()
    except ValueError:
        logger.exception("filter failed", extra={"fields": {"filter": "firewall"}})
    text = stream.getvalue()
    assert text.count("\n") == 1  # one line per event
    assert "Traceback" not in text
    assert "SECRET-COOKIE-VALUE" not in text
    assert "_fail_with_request_data" not in text
    assert "test_logs.py" not in text
    [entry] = lines(stream)
    assert entry["level"] == "error"
    assert entry["error"] == "ValueError: bad header (27 bytes)"
    assert entry["filter"] == "firewall"


def test_exception_message_is_capped(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    try:
        raise RuntimeError("x" * 10_000)
    except RuntimeError:
        logger.exception("boom")
    [entry] = lines(stream)
    assert len(entry["error"]) == 500
    assert entry["error"].startswith("RuntimeError: xxx")


def test_no_exception_field_without_exc_info(json_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_logger
    logger.error("plain", exc_info=False)
    [entry] = lines(stream)
    assert "error" not in entry


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    quiet = {name: logging.getLogger(name).level for name in ("aiohttp.server", "aiohttp.access")}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)


def test_setup_logging(restore_logging: None) -> None:
    stream = io.StringIO()
    setup_logging("warning", stream)
    logging.getLogger("tests.logs.setup").info("dropped")
    logging.getLogger("tests.logs.setup").warning("kept")
    logging.getLogger("aiohttp.server").error("Error handling request: b'GET /?token=secret'")
    [entry] = lines(stream)
    assert entry["msg"] == "kept"
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("aiohttp.server").level == logging.CRITICAL
    assert logging.getLogger("aiohttp.access").level == logging.CRITICAL


@pytest.mark.parametrize(
    ("ip", "masked"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("192.0.2.0", "192.0.2.0/24"),
        ("10.1.2.255", "10.1.2.0/24"),
        ("2001:db8:1:2::1", "2001:db8:1::/48"),
        ("2001:DB8:abcd:ffff:1:2:3:4", "2001:db8:abcd::/48"),
        ("not-an-ip", "invalid"),
        ("192.0.2.300", "invalid"),
        ("", ""),
    ],
)
def test_truncated(ip: str, masked: str) -> None:
    assert IPMasker("truncated")(ip) == masked


def test_full_is_unchanged() -> None:
    mask = IPMasker("full")
    assert mask("192.0.2.77") == "192.0.2.77"
    assert mask("2001:db8::1") == "2001:db8::1"


def test_hashed_stable_and_distinct() -> None:
    mask = IPMasker("hashed")
    a = mask("192.0.2.77")
    assert re.fullmatch(r"[0-9a-f]{16}", a)
    assert mask("192.0.2.77") == a
    assert mask("192.0.2.78") != a
    assert mask("2001:db8::1") != a
    assert "192.0.2" not in a
    assert mask("") == ""


def test_hashed_key_is_per_masker() -> None:
    # The key is random per process (per masker): a hash cannot be reversed by
    # hashing all 2**32 addresses without the key.
    assert IPMasker("hashed")("192.0.2.77") != IPMasker("hashed")("192.0.2.77")


def test_masker_cache_is_bounded() -> None:
    mask = IPMasker("truncated")
    for i in range(5000):
        mask(f"10.{i // 256 % 256}.{i % 256}.1")
    assert len(mask._cache) <= 4097
    assert mask("10.0.0.1") == "10.0.0.0/24"


def test_access_log_writes_one_json_line() -> None:
    stream = io.BytesIO()
    log = AccessLog(True, "truncated", stream)
    log.write({"method": "GET", "status": 200, "client_ip": log.mask_ip("192.0.2.77")})
    log.write({"method": "POST", "status": 403})
    raw = stream.getvalue()
    assert raw.count(b"\n") == 2 and raw.endswith(b"\n")
    first, second = (orjson.loads(line) for line in raw.splitlines())
    assert first["method"] == "GET" and first["status"] == 200
    assert first["client_ip"] == "192.0.2.0/24"
    assert TS.match(first["ts"])
    assert second["status"] == 403


def test_access_log_redacts_paths_that_carry_secrets() -> None:
    stream = io.BytesIO()
    log = AccessLog(True, "truncated", stream, redact_path=lambda p: "/_l/~h:0" if p.startswith("/_l/") else p)
    log.write({"method": "GET", "path": "/_l/eyJhbGciOi.secret.sig"})
    log.write({"method": "GET", "path": "/tickets/1"})
    log.write({"method": "GET", "path": "-"})
    raw = stream.getvalue()
    assert b"secret" not in raw
    assert [orjson.loads(line)["path"] for line in raw.splitlines()] == ["/_l/~h:0", "/tickets/1", "-"]


def test_access_log_mask_follows_mode() -> None:
    assert AccessLog(True, "full", io.BytesIO()).mask_ip("192.0.2.77") == "192.0.2.77"
    assert AccessLog(True, "hashed", io.BytesIO()).mask_ip("192.0.2.77") != "192.0.2.77"


def test_access_log_disabled_writes_nothing() -> None:
    stream = io.BytesIO()
    AccessLog(False, "full", stream).write({"method": "GET"})
    assert stream.getvalue() == b""


class BrokenPipe(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_access_log_broken_stream_does_not_raise() -> None:
    AccessLog(True, "full", BrokenPipe()).write({"method": "GET"})  # type: ignore[arg-type]
    closed = io.BytesIO()
    closed.close()
    AccessLog(True, "full", closed).write({"method": "GET"})


async def test_access_log_batches_lines_within_a_loop() -> None:
    stream = io.BytesIO()
    log = AccessLog(True, "truncated", stream)
    log.write({"n": 1})
    log.write({"n": 2})
    assert stream.getvalue() == b""  # buffered: one write per batch
    await asyncio.sleep(AccessLog.FLUSH_DELAY * 2)
    assert [orjson.loads(line)["n"] for line in stream.getvalue().splitlines()] == [1, 2]


async def test_access_log_flushes_at_once_when_the_batch_is_large() -> None:
    stream = io.BytesIO()
    log = AccessLog(True, "truncated", stream)
    while not stream.getvalue():
        log.write({"filler": "x" * 1000})
    assert len(stream.getvalue()) >= AccessLog.FLUSH_BYTES
    log.flush()


async def test_flush_access_logs_writes_every_pending_batch_at_once() -> None:
    # At shutdown the flush timers no longer run: the batches of earlier runtimes must go out too.
    from gateway.logs import flush_access_logs

    streams = [io.BytesIO(), io.BytesIO()]
    logs = [AccessLog(True, "truncated", stream) for stream in streams]
    for number, access_log in enumerate(logs):
        access_log.write({"event": "access", "n": number})
    assert [stream.getvalue() for stream in streams] == [b"", b""]  # batched
    flush_access_logs()
    assert [orjson.loads(stream.getvalue())["n"] for stream in streams] == [0, 1]
