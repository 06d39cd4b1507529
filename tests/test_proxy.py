"""The proxy end to end: real gateway, real upstream, real sockets on loopback."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import StartGateway, free_port
from tests.support.upstream import SEEN, make_upstream


def header_map(seen: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


async def fetch_json(url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.request(kwargs.pop("method", "GET"), url, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)


async def test_get_passes_with_forwarding_headers(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    status, seen = await fetch_json(f"{gw.base_url}/echo?q=1", headers={"Host": "help.example.com"})  # type: ignore[attr-defined]
    assert status == 200
    assert seen["path_qs"] == "/echo?q=1"
    headers = header_map(seen)
    assert headers["host"] == ["help.example.com"]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == ["help.example.com"]


async def test_upstream_host_header_mode(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"upstream": {"host_header": "upstream"}})
    _, seen = await fetch_json(f"{gw.base_url}/echo", headers={"Host": "help.example.com"})  # type: ignore[attr-defined]
    host = header_map(seen)["host"][0]
    assert host.startswith("127.0.0.1:")
    assert header_map(seen)["x-forwarded-host"] == ["help.example.com"]


async def test_spoofed_forwarding_headers_from_untrusted_peer_are_replaced(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    spoofed = {
        "X-Forwarded-For": "203.0.113.66",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "Forwarded": "for=203.0.113.66;proto=https",
        "X-Real-IP": "203.0.113.66",
        "True-Client-IP": "203.0.113.66",
    }
    _, seen = await fetch_json(f"{gw.base_url}/echo", headers=spoofed)  # type: ignore[attr-defined]
    headers = header_map(seen)
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"][0].startswith("127.0.0.1")
    for name in ("forwarded", "x-real-ip", "true-client-ip"):
        assert name not in headers


async def test_trusted_proxy_chain_sends_the_decided_address(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"client_ip": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}})
    _, seen = await fetch_json(
        f"{gw.base_url}/echo",  # type: ignore[attr-defined]
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.1.2.3", "X-Forwarded-Proto": "https"},
    )
    headers = header_map(seen)
    # Walked from the right: 10.1.2.3 is trusted, 203.0.113.9 is the client; the spoofable left part is dropped.
    assert headers["x-forwarded-for"] == ["203.0.113.9"]
    assert headers["x-forwarded-proto"] == ["https"]


async def test_several_xff_headers_fail_closed(start_gateway: StartGateway, upstream: web.AppRunner) -> None:
    gw = await start_gateway({"client_ip": {"trusted_proxies": ["127.0.0.1"]}})
    async with aiohttp.ClientSession() as session:
        headers = [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-For", "198.51.100.1")]
        async with session.get(f"{gw.base_url}/echo", headers=headers) as resp:  # type: ignore[attr-defined]
            assert resp.status == 400
            assert resp.headers["X-Gateway-Reason"] == "xff_multiple"
    assert upstream.app[SEEN] == []


async def test_hop_by_hop_headers_removed_both_ways(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{gw.base_url}/echo",  # type: ignore[attr-defined]
            headers={
                "Connection": "keep-alive, X-Drop-Me",
                "X-Drop-Me": "secret",
                "Keep-Alive": "timeout=5",
                "TE": "trailers",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "Proxy-Connection": "keep-alive",
                "X-Kept": "yes",
            },
        ) as resp:
            seen = await resp.json()
        headers = header_map(seen)
        for name in ("x-drop-me", "keep-alive", "te", "proxy-authorization", "proxy-connection"):
            assert name not in headers, name
        assert headers["x-kept"] == ["yes"]
        async with session.get(f"{gw.base_url}/hop") as resp:  # type: ignore[attr-defined]
            assert "X-Secret-Hop" not in resp.headers
            assert "Keep-Alive" not in resp.headers
            assert "Proxy-Authenticate" not in resp.headers
            assert resp.headers["X-End-To-End"] == "passes"
            assert len(resp.headers.getall("Set-Cookie")) == 2


async def test_redirects_are_passed_not_followed(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/redirect", allow_redirects=False) as resp:  # type: ignore[attr-defined]
            assert resp.status == 302
            assert resp.headers["Location"] == "/echo"


async def test_compressed_bodies_pass_untouched(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(f"{gw.base_url}/gzip", headers={"Accept-Encoding": "gzip"}) as resp:  # type: ignore[attr-defined]
            assert resp.headers["Content-Encoding"] == "gzip"
            raw = await resp.read()
    assert gzip.decompress(raw) == b"hello " * 1000


async def test_compressed_request_body_is_not_decoded(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    payload = gzip.compress(b"z" * 10000)
    _, seen = await fetch_json(
        f"{gw.base_url}/echo", method="POST", data=payload,  # type: ignore[attr-defined]
        headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
    )
    assert seen["body_size"] == len(payload)
    assert seen["body_sha256"] == hashlib.sha256(payload).hexdigest()


async def test_no_shared_cookie_jar(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(f"{gw.base_url}/hop") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200  # the upstream set cookies a and b
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            seen = await resp.json()
    assert "cookie" not in header_map(seen)


async def _chunks(total: int, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    block = os.urandom(piece)
    sent = 0
    while sent < total:
        part = block[: min(piece, total - sent)]
        sent += len(part)
        yield part


async def test_streaming_upload_chunked_and_with_length(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"limits": {"max_body_bytes": "64MiB"}})
    total = 32 * 1024 * 1024
    digest = hashlib.sha256()
    async for part in _chunks(total):
        digest.update(part)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.base_url}/upload", data=_chunks(total)) as resp:  # type: ignore[attr-defined]
            seen = await resp.json()
        assert seen["body_size"] == total
        async with session.post(
            f"{gw.base_url}/upload", data=_chunks(total), headers={"Content-Length": str(total)}  # type: ignore[attr-defined]
        ) as resp:
            seen = await resp.json()
        assert seen["body_size"] == total
        headers = header_map(seen)
        assert headers["content-length"] == [str(total)]
        assert "transfer-encoding" not in headers


async def test_streaming_download(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    total = 64 * 1024 * 1024
    received = 0
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/download/{total}") as resp:  # type: ignore[attr-defined]
            assert resp.headers["Content-Length"] == str(total)
            async for chunk in resp.content.iter_any():
                received += len(chunk)
    assert received == total


async def test_body_too_large_by_length_and_while_streaming(start_gateway: StartGateway) -> None:
    gw = await start_gateway({
        "limits": {"max_body_bytes": "1MiB"},
        "routes": [{"name": "uploads", "path": "/upload", "max_body_bytes": "4MiB"}],
    })
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.base_url}/echo", data=io.BytesIO(b"a" * (2 * 1024 * 1024))) as resp:  # type: ignore[attr-defined]
            assert resp.status == 413
            assert resp.headers["X-Gateway-Reason"] == "body_too_large"
        async with session.post(f"{gw.base_url}/upload", data=io.BytesIO(b"a" * (2 * 1024 * 1024))) as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
        async with session.post(f"{gw.base_url}/echo", data=_chunks(3 * 1024 * 1024)) as resp:  # type: ignore[attr-defined]
            assert resp.status == 413
    assert gw.metrics.registry.get_sample_value(
        "privacy_gateway_local_replies_total", {"reason": "body_too_large"}
    ) == 2


async def test_unreachable_upstream_is_502(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"upstream": {"url": f"http://127.0.0.1:{free_port()}"}})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo", headers={"Accept": "application/json"}) as resp:  # type: ignore[attr-defined]
            assert resp.status == 502
            body = await resp.json()
    assert body["reason"] == "upstream_unreachable"
    assert gw.metrics.registry.get_sample_value("privacy_gateway_upstream_errors_total", {"kind": "connect"}) == 1


async def test_slow_upstream_is_504(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"upstream": {"timeouts": {"first_byte": "300ms"}}})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/slow?delay=3") as resp:  # type: ignore[attr-defined]
            assert resp.status == 504
            assert "upstream_timeout" in await resp.text()
    assert gw.metrics.registry.get_sample_value(
        "privacy_gateway_upstream_errors_total", {"kind": "first_byte_timeout"}
    ) == 1


async def test_upstream_stalling_mid_body_aborts_the_connection(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"upstream": {"timeouts": {"idle": "300ms"}}})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/stall?delay=3") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()


async def test_expect_100_continue(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.public_port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"hello")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_websocket_pass_through(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{gw.base_url}/ws", protocols=("chat",)) as ws:  # type: ignore[attr-defined]
            assert ws.protocol == "chat"
            await ws.send_str("hi")
            assert (await ws.receive_str(timeout=5)) == "echo:hi"
            await ws.send_bytes(b"abc")
            assert (await ws.receive_bytes(timeout=5)) == b"cba"
    assert gw.metrics.registry.get_sample_value("privacy_gateway_websocket_sessions") == 0


async def test_websocket_subject_to_firewall(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "ws", "path": "/ws", "allow": ["192.0.2.0/24"]}]}})
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(f"{gw.base_url}/ws")  # type: ignore[attr-defined]
    assert info.value.status == 403


async def test_total_header_size_cap_is_431(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"limits": {"max_header_bytes": "8KiB"}})
    headers = {f"X-Filler-{i}": "v" * 1000 for i in range(10)}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo", headers=headers) as resp:  # type: ignore[attr-defined]
            assert resp.status == 431


async def test_metrics_on_admin_listener_only(start_gateway: StartGateway) -> None:
    gw = await start_gateway()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
        async with session.get(f"http://127.0.0.1:{gw.admin_port}/metrics") as resp:
            text = await resp.text()
        assert 'privacy_gateway_requests_total{route="default",status_class="2xx"} 1.0' in text
        assert "privacy_gateway_policy_reload_success 1.0" in text
        async with session.get(f"http://127.0.0.1:{gw.admin_port}/readyz") as resp:
            assert resp.status == 200
        async with session.get(f"{gw.base_url}/metrics") as resp:  # type: ignore[attr-defined]
            assert resp.status == 404  # the public port forwards; the upstream has no /metrics


async def test_a_helpdesk_that_drops_idle_connections_quickly_loses_no_request(start_gateway: Any) -> None:
    """Like gunicorn's 2 s keep-alive: the gateway's pooled connections are closed under it."""
    runner = web.AppRunner(make_upstream(), access_log=None, keepalive_timeout=0.05)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        gw = await start_gateway({"upstream": {"url": f"http://127.0.0.1:{runner.addresses[0][1]}"}})
        statuses = []
        async with aiohttp.ClientSession() as session:
            for index in range(6):
                async with session.get(f"{gw.base_url}/echo?n={index}") as resp:
                    await resp.read()
                    statuses.append(resp.status)
                await asyncio.sleep(0.02 * index)  # some waits outlast the helpdesk's keep-alive, some not
        assert statuses == [200] * 6
        assert gw.metrics.registry.get_sample_value("privacy_gateway_upstream_errors_total", {"kind": "disconnected"}) is None
    finally:
        await runner.cleanup()


# --- request heads: raw bytes on the wire --------------------------------------------


async def raw_exchange(port: int, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request head as is (it should ask for Connection: close); status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        async with asyncio.timeout(5):
            data = await reader.read()
    finally:
        writer.close()
    status_head, _, body = data.partition(b"\r\n\r\n")
    lines = status_head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ")[1]), fields, body


def get(path: str = "/echo", *fields: bytes, host: bytes | None = b"gw.test", version: bytes = b"HTTP/1.1") -> bytes:
    head = b"GET " + path.encode() + b" " + version + b"\r\n"
    if host is not None:
        head += b"Host: " + host + b"\r\n"
    return head + b"".join(f + b"\r\n" for f in fields) + b"Connection: close\r\n\r\n"


def sample(gw: Any, name: str, **labels: str) -> float:
    return gw.metrics.registry.get_sample_value(f"privacy_gateway_{name}", labels) or 0.0


UNDERSCORED = (b"X_Forwarded_For: 6.6.6.6", b"X_Forwarded_Proto: https", b"SCRIPT_NAME: /pfx")


async def test_header_names_with_underscores_are_dropped_by_default(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway()
    status, _, body = await raw_exchange(gw.public_port, get("/echo", *UNDERSCORED, b"X-Kept: yes"))
    assert status == 200
    headers = header_map(upstream.app[SEEN][0])
    assert not [name for name in headers if "_" in name]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-kept"] == ["yes"]
    assert sample(gw, "underscore_headers_total", route="default", action="drop") == 3


async def test_header_names_with_underscores_rejected_or_allowed_per_route(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({
        "listen": {"headers_with_underscores": "reject"},
        "routes": [{"name": "legacy", "path": "/echo/legacy/", "headers_with_underscores": "allow"}],
    })
    status, fields, _ = await raw_exchange(gw.public_port, get("/echo", *UNDERSCORED))
    assert (status, fields["x-gateway-reason"]) == (400, "bad_header")
    assert upstream.app[SEEN] == []
    assert sample(gw, "underscore_headers_total", route="default", action="reject") == 3
    assert sample(gw, "local_replies_total", reason="bad_header") == 1

    status, _, _ = await raw_exchange(gw.public_port, get("/echo/legacy/x", *UNDERSCORED, b"My_Header: 1"))
    assert status == 200
    headers = header_map(upstream.app[SEEN][0])
    assert headers["script_name"] == ["/pfx"] and headers["my_header"] == ["1"]
    # Allowed names still lose what reads as a forwarding header once '_' is taken for '-'.
    assert "x_forwarded_for" not in headers and "x_forwarded_proto" not in headers
    assert headers["x-forwarded-for"] == ["127.0.0.1"]


BAD_HOSTS = [
    b"gw.test, evil.test", b"user@gw.test", b"gw.test:80:80", b"gw.test/", b"gw.test;x", b"gw .test",
    b"gw.test:0", b"gw.test:65536", b"gw%2etest", b"[fe80::1%25eth0]", b"127.1", b"gw..test", b"",
]


@pytest.mark.parametrize("host", BAD_HOSTS, ids=[h.decode() or "empty" for h in BAD_HOSTS])
async def test_a_host_that_is_not_one_uri_host_and_port_is_400(
    start_gateway: StartGateway, upstream: web.AppRunner, host: bytes
) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "evil", "host": "evil.test", "allow": []}]}})
    status, fields, _ = await raw_exchange(gw.public_port, get("/echo", host=host))
    assert (status, fields["x-gateway-reason"]) == (400, "bad_host")
    assert upstream.app[SEEN] == []


async def test_http_1_0_without_host_is_400(start_gateway: StartGateway, upstream: web.AppRunner) -> None:
    gw = await start_gateway()
    status, fields, _ = await raw_exchange(gw.public_port, get("/echo", host=None, version=b"HTTP/1.0"))
    assert (status, fields["x-gateway-reason"]) == (400, "bad_host")
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", version=b"HTTP/1.0"))
    assert status == 200
    assert len(upstream.app[SEEN]) == 1


async def test_the_host_decided_on_is_the_host_forwarded(start_gateway: StartGateway, upstream: web.AppRunner) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "admin", "host": "admin.test", "allow": []}]}})
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", host=b"ADMIN.Test.:8080"))
    assert status == 403
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", host=b"GW.Test.:8080"))
    assert status == 200
    headers = header_map(upstream.app[SEEN][0])
    assert headers["host"] == ["gw.test:8080"]
    assert headers["x-forwarded-host"] == ["gw.test:8080"]


async def test_a_trusted_proxys_forwarded_host_is_checked_decided_and_forwarded(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({
        "client_ip": {"trusted_proxies": ["127.0.0.1"]},
        "listen": {"server_names": ["help.example.com", "admin.example.com"]},
        "firewall": {"rules": [{"name": "admin", "host": "admin.example.com", "allow": []}]},
    })
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", b"X-Forwarded-Host: Help.Example.COM.", host=b"lb.internal"))
    assert status == 200
    headers = header_map(upstream.app[SEEN][0])
    assert headers["host"] == ["help.example.com"] and headers["x-forwarded-host"] == ["help.example.com"]
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", b"X-Forwarded-Host: admin.example.com", host=b"help.example.com"))
    assert status == 403
    for claimed in (b"X-Forwarded-Host: help.example.com, admin.example.com", b"X-Forwarded-Host: help.example.com/x"):
        status, fields, _ = await raw_exchange(gw.public_port, get("/echo", claimed, host=b"help.example.com"))
        assert (status, fields["x-gateway-reason"]) == (400, "bad_host")
    status, fields, _ = await raw_exchange(gw.public_port, get("/echo", b"X-Forwarded-Host: evil.test", host=b"help.example.com"))
    assert (status, fields["x-gateway-reason"]) == (421, "unknown_host")
    assert len(upstream.app[SEEN]) == 1


async def test_server_names_answer_unknown_hosts_before_any_filter(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({
        "listen": {"server_names": ["help.example.com", "*.example.org"]},
        "firewall": {"default": "deny"},
    })
    for host in (b"evil.test", b"example.org", b"help.example.com.evil.test", b"127.0.0.1"):
        status, fields, _ = await raw_exchange(gw.public_port, get("/echo", host=host))
        assert (status, fields["x-gateway-reason"]) == (421, "unknown_host"), host
    assert sample(gw, "firewall_decisions_total", rule="default", decision="deny", mode="enforce") == 0
    for host in (b"help.example.com:8443", b"HELP.example.com.", b"a.b.example.org"):
        status, fields, _ = await raw_exchange(gw.public_port, get("/echo", host=host))
        assert (status, fields["x-gateway-reason"]) == (403, "firewall_denied"), host
    assert upstream.app[SEEN] == []

    gw400 = await start_gateway({"listen": {"server_names": ["help.example.com"], "unknown_host_status": 400}})
    status, fields, _ = await raw_exchange(gw400.public_port, get("/echo", host=b"evil.test"))
    assert (status, fields["x-gateway-reason"]) == (400, "unknown_host")


IDENTITY = [
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Client-Cert", "X-Forwarded-Protocol",
    "X-Forwarded-Uri", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-HTTP-Method",
    "X-Method-Override", "X-Host", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "X-Client-IP",
    "X-Cluster-Client-IP", "Forwarded", "X-Remote-User", "Remote-User", "X-Auth-Request-User",
    "X-Auth-Request-Email", "X-User", "X-Email",
]


async def test_identity_and_override_headers_from_the_client_never_reach_the_helpdesk(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({
        "client_ip": {"trusted_proxies": ["127.0.0.1"]},  # even a trusted proxy's copies go
        "upstream": {"strip_request_headers": ["X-Acme-User", "X-Sso-*"], "set_headers": {"X-Real-IP": "client_ip"}},
    })
    spoofed = [f"{name}: admin@evil.test".encode() for name in IDENTITY]
    extra = [b"X-Acme-User: admin", b"X-Sso-Login: admin", b"X-Request-Id: kept"]
    status, _, _ = await raw_exchange(gw.public_port, get("/echo", *spoofed, *extra))
    assert status == 200
    seen = upstream.app[SEEN][0]
    values = [value for _, value in seen["headers"]]
    assert not any("admin" in value for value in values), seen["headers"]
    headers = header_map(seen)
    assert headers["x-real-ip"] == ["127.0.0.1"]  # set from the gateway's own decision
    assert headers["x-request-id"] == ["kept"]


async def test_a_404_rule_hides_the_area_like_an_ordinary_not_found(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({"firewall": {"rules": [
        {"name": "hidden", "path": "/echo/admin/", "allow": [], "status": 404},
        {"name": "agents", "path": "/echo/agent/", "allow": []},
    ]}})
    async with aiohttp.ClientSession() as session:
        for accept in ("text/html", "application/json", "*/*"):
            async with session.get(f"{gw.base_url}/echo/admin/x", headers={"Accept": accept}) as resp:  # type: ignore[attr-defined]
                assert resp.status == 404
                assert "X-Gateway-Reason" not in resp.headers
                assert await resp.text() == "Not Found"
        async with session.get(f"{gw.base_url}/echo/agent/x") as resp:  # type: ignore[attr-defined]
            assert (resp.status, resp.headers["X-Gateway-Reason"]) == (403, "firewall_denied")
    assert upstream.app[SEEN] == []
    # The reason stays in the metrics (and the access log).
    assert sample(gw, "local_replies_total", reason="firewall_denied") == 4
    assert sample(gw, "firewall_decisions_total", rule="hidden", decision="deny", mode="enforce") == 3


async def test_path_exact_rule_covers_one_path_only(start_gateway: StartGateway, upstream: web.AppRunner) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "login", "path_exact": "/echo/login", "allow": []}]}})
    async with aiohttp.ClientSession() as session:
        for path, status in (("/echo/login", 403), ("//echo/login;x", 403), ("/echo/login/", 200), ("/echo/login/x", 200), ("/echo/logins", 200)):
            async with session.get(f"{gw.base_url}{path}") as resp:  # type: ignore[attr-defined]
                assert resp.status == status, path
