"""The servers under test, each started in its own process group and always stopped.

- NGINX as the static upstream (``nginx_upstream``) and as a ``proxy_pass``
  reverse proxy with upstream keep-alive (``nginx_proxy``);
- the gateway, ``python -m gateway serve --policy P --workers N``, with the
  full policy of ``gateway_policy`` and its access log on stdout, redirected
  to a file;
- optionally mitmproxy (``mitmdump`` in reverse mode) from its own venv.

Every server binds 127.0.0.1 only. ``Servers`` is a context manager: on exit
each process group gets its polite stop signal, then SIGKILL after a timeout.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Callable

import psutil
from content import SET_COOKIES

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A started process tree: the root pid, its children, where its output went."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, stop_signal: int, log: Path) -> None:
        self.name, self.proc, self.port, self.stop_signal, self.log = name, proc, port, stop_signal, log
        self.admin_port: int | None = None

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def listeners(self) -> int:
        """How many processes of the tree listen on the server's port."""
        count = 0
        for proc in self.processes():
            try:
                conns = proc.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == self.port for c in conns):
                count += 1
        return count

    def wait_ready(self, listeners: int = 1, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}:\n{tail(self.log)}")
            if self.listeners() >= listeners:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: nothing listens on {self.port} after {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, self.stop_signal)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of the group (workers of a killed supervisor, NGINX workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.name} (pid {self.proc.pid}) did not stop", file=sys.stderr)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Servers:
    """Starts servers under ``root`` and stops every one of them on exit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Server] = []

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()

    def spawn(self, name: str, cmd: list[str], port: int, stop_signal: int, *, stdout: Path | None = None,
              env: dict[str, str] | None = None) -> Server:
        log = self.root / f"{name}.stderr"
        out: IO[bytes] | int = subprocess.DEVNULL
        with log.open("wb") as err:
            if stdout is not None:
                out = stdout.open("wb")
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=self.root,
                                        env=env, start_new_session=True)
            finally:
                if not isinstance(out, int):
                    out.close()
        server = Server(name, proc, port, stop_signal, log)
        self.started.append(server)
        return server

    # NGINX -------------------------------------------------------------------

    def _nginx(self, name: str, port: int, http_block: str, workers: int) -> Server:
        conf = self.root / f"{name}.conf"
        tmp = self.root / f"{name}-tmp"
        tmp.mkdir(exist_ok=True)
        conf.write_text(
            f"worker_processes {workers}; daemon off; pid {self.root}/{name}.pid;\n"
            f"error_log {self.root}/{name}.error.log warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
            "  keepalive_requests 1000000; keepalive_timeout 75s; server_tokens off;\n"
            f"{http_block}}}\n"
        )
        cmd = ["nginx", "-e", str(self.root / f"{name}.error.log"), "-c", str(conf), "-p", str(self.root)]
        server = self.spawn(name, cmd, port, signal.SIGQUIT)
        server.wait_ready()
        return server

    def nginx_upstream(self, www: Path, workers: int) -> Server:
        port = free_port()
        cookies = "".join(f'    add_header Set-Cookie "{value}";\n' for value in SET_COOKIES)
        block = (
            "  access_log off; sendfile on; tcp_nopush on;\n"
            "  types { text/html html; application/octet-stream bin; } default_type application/octet-stream;\n"
            f"  server {{\n    listen 127.0.0.1:{port}; root {www};\n"
            f"    location = /page.html {{\n{cookies}    }}\n  }}\n"
        )
        return self._nginx("nginx-upstream", port, block, workers)

    def nginx_proxy(self, upstream_port: int, workers: int, buffers: str | None = None) -> Server:
        """proxy_pass with upstream keep-alive; access log on (to a file), like the gateway's.

        Response buffering as NGINX ships it (``proxy_buffers 8 4k``) unless ``buffers`` says
        otherwise (e.g. "16 64k"); never to temporary files, so the disk stays out of it.
        """
        port = free_port()
        tuning = f"      proxy_buffers {buffers};\n" if buffers else ""
        block = (
            f"  access_log {self.root}/nginx-proxy.access.log;\n"
            f"  upstream helpdesk {{ server 127.0.0.1:{upstream_port}; keepalive 128; keepalive_requests 1000000; }}\n"
            f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n"
            "      proxy_pass http://helpdesk; proxy_http_version 1.1; proxy_set_header Connection \"\";\n"
            "      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $remote_addr;\n"
            f"      proxy_max_temp_file_size 0;\n{tuning}    }}\n  }}\n"
        )
        return self._nginx("nginx-proxy", port, block, workers)

    # The gateway -------------------------------------------------------------

    def gateway(self, name: str, upstream_port: int, workers: int,
                policy_text: Callable[[Path, str, int, int, int], str] | None = None) -> Server:
        """``policy_text(root, name, port, admin, upstream_port)`` writes another policy than the full one."""
        port, admin = free_port(), free_port()
        policy = self.root / f"{name}.yaml"
        policy.write_text((policy_text or gateway_policy)(self.root, name, port, admin, upstream_port))
        cmd = [sys.executable, "-m", "gateway", "serve", "--policy", str(policy), "--workers", str(workers)]
        server = self.spawn(name, cmd, port, signal.SIGTERM, stdout=self.root / f"{name}.access.log")
        server.admin_port = admin
        server.wait_ready(listeners=workers)
        return server

    # A minimal aiohttp proxy (the framework's own cost) ------------------------

    def aiohttp_minimal(self, upstream_port: int) -> Server:
        port = free_port()
        script = Path(__file__).with_name("minimal_proxy.py")
        server = self.spawn("aiohttp-minimal", [sys.executable, str(script), str(port), str(upstream_port)], port,
                            signal.SIGTERM)
        server.wait_ready()
        return server

    # mitmproxy ---------------------------------------------------------------

    def mitmproxy(self, mitmdump: Path, upstream_port: int) -> Server:
        port = free_port()
        cmd = [str(mitmdump), "--mode", f"reverse:http://127.0.0.1:{upstream_port}/", "--listen-host", "127.0.0.1",
               "--listen-port", str(port), "-q", "--set", f"confdir={self.root / 'mitmproxy-conf'}",
               "--set", "flow_detail=0"]
        server = self.spawn("mitmproxy", cmd, port, signal.SIGTERM)
        server.wait_ready()
        return server


def write_key(path: Path) -> str:
    """A random 32-byte key as base64 text in ``path``; returns the policy's reference to it."""
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    path.chmod(0o600)
    return f"${{file:{path.name}}}"


def gateway_policy(root: Path, name: str, port: int, admin: int, upstream_port: int) -> str:
    """The full policy: firewall with named lists, consent (banner off), link signing, metrics, access log."""
    links_key = write_key(root / f"{name}-links.key")
    consent_key = write_key(root / f"{name}-consent.key")
    return f"""\
listen: {{host: 127.0.0.1, port: {port}}}
admin: {{host: 127.0.0.1, port: {admin}}}          # metrics on
upstream: {{url: "http://127.0.0.1:{upstream_port}", max_connections: 256}}
ip_lists:
  office: [192.0.2.0/24, "2001:db8:1::/48"]
  vpn: [198.51.100.10-198.51.100.40]
  staff: [office, vpn]
  blocked: [203.0.113.0/24, "2001:db8:dead::/48", 100.64.0.1]
routes:
  - {{name: files, path: /files/}}
  - {{name: big, path: /big/}}
firewall:
  enabled: true
  default: allow
  rules:                                   # every request walks all four rules
    - {{name: agent-area, path: /agent/, allow: [staff]}}
    - {{name: admin-hidden, path: /admin/, allow: [office], status: 404}}
    - {{name: api-trial, path: /api/, allow: [staff], shadow: true}}
    - {{name: blocklist, deny: [blocked]}}
links:
  enabled: true
  default_action: sign
  internal_hosts: ["127.0.0.1", "localhost", "help.example"]
  rules:
    - {{hosts: ["*.youtube.com", "youtube.com"], action: strip}}
  keys:
    - {{id: bench, secret: "{links_key}"}}
consent:
  enabled: true
  version: "bench"
  keys:
    - {{id: bench, secret: "{consent_key}"}}
  categories:
    necessary: {{cookies: [{{name: sessionid}}]}}
    analytics: {{cookies: [{{glob: "_ga*"}}, {{name: _gid}}]}}
  banner: {{enabled: false}}                 # same bytes as NGINX's page but for the signed links
store:
  url: "sqlite:///{root}/{name}-state.sqlite3"
logging:
  access_log: true                         # stdout, redirected to {name}.access.log
  client_ip: truncated
"""
