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
