"""Loading and validating policies: exact error texts, directory merges, secrets."""

from __future__ import annotations

import hashlib
import pickle
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.policy import LoadedPolicy, PolicyError, format_issues, load_policy, load_policy_text

GOOD = """\
listen: {host: 0.0.0.0, port: 8080}
upstream:
  url: http://helpdesk:8081/
  timeouts: {connect: 2s, first_byte: 1m}
limits: {max_body_bytes: 20MiB, header_timeout: 250ms}
client_ip:
  trusted_proxies: [lb]
ip_lists:
  lb: [10.1.0.0/16]
  office: [192.0.2.0/24, "2001:db8::/32", vpn]
  vpn: [198.51.100.10-198.51.100.40]
routes:
  - {name: uploads, path: /attachments/, max_body_bytes: 100MiB}
firewall:
  default: allow
  rules:
    - name: agents
      path: /agent/
      methods: [GET, POST]
      allow: [office, 127.0.0.1]
      status: 404
    - name: admin
      path: /admin/**
      deny: [0.0.0.0/0, "::/0"]
      shadow: true
"""


# Given to policies under test that leave the (required) upstream out, so their line numbers stay put.
UPSTREAM = "http://helpdesk.test:8000"


def errors_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), "site.yaml", env=env or {}, default_upstream=UPSTREAM)
    return format_issues(info.value).splitlines()


def rule(body: str) -> str:
    """A policy with one firewall rule whose remaining lines are ``body`` (from line 4)."""
    return "firewall:\n  rules:\n    - name: r\n" + textwrap.indent(textwrap.dedent(body), "      ")


def test_a_complete_policy_loads() -> None:
    loaded = load_policy_text(GOOD, env={})
    policy = loaded.policy
    assert policy.upstream.url == "http://helpdesk:8081"
    assert policy.upstream.timeouts.first_byte == 60.0
    assert policy.limits.max_body_bytes == 20 * 1024 * 1024
    assert policy.limits.header_timeout == 0.25
    assert policy.ip_lists["office"] == ("192.0.2.0/24", "2001:db8::/32", "vpn")
    assert [r.name for r in policy.firewall.rules] == ["agents", "admin"]
    assert policy.firewall.rules[0].methods == ("GET", "POST")
    assert loaded.files == ()
    assert len(loaded.checksum) == 64 and loaded.short_checksum == loaded.checksum[:12]


def test_a_policy_naming_only_its_upstream_means_every_other_default() -> None:
    policy = load_policy_text("upstream: {url: http://helpdesk:8000}\n", env={}).policy
    assert policy.listen.port == 8080 and policy.firewall.rules == ()
    assert not policy.consent.enabled and not policy.links.enabled


EMPTY = "a policy file must set at least one key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", f"site.yaml:1: the file is empty; {EMPTY}"),
        ("\n  \n", f"site.yaml:1: the file is empty; {EMPTY}"),
        ("\ufeff", f"site.yaml:1: the file is empty; {EMPTY}"),
        ("# nothing set yet\n", f"site.yaml:1: the file holds only comments; {EMPTY}"),
        ("# a\n\n   # b\n", f"site.yaml:1: the file holds only comments; {EMPTY}"),
        ("---\n", f"site.yaml:2: the top level is null; {EMPTY}"),  # an empty document after the marker
        ("null\n", f"site.yaml:1: the top level is null; {EMPTY}"),
        ("# header\n~\n", f"site.yaml:2: the top level is null; {EMPTY}"),
        ("{}\n", f"site.yaml:1: the top level is an empty mapping; {EMPTY}"),
    ],
)
def test_an_empty_document_is_an_error_not_a_policy_of_defaults(text: str, expected: str) -> None:
    # Even where the upstream is supplied: an empty file is a file caught mid-write or a mistake.
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env={}, default_upstream=UPSTREAM)
    assert str(info.value) == expected


def test_an_empty_file_in_a_policy_directory_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "10-base.yaml", "upstream: {url: http://helpdesk:8000}\n")
    write(tmp_path, "20-firewall.yaml", "")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path, env={})
    assert str(info.value) == f"{tmp_path}/20-firewall.yaml:1: the file is empty; {EMPTY}"


MISSING_UPSTREAM = "upstream.url: required key missing: the helpdesk's base URL, e.g. http://helpdesk.internal:8000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\n", f"site.yaml:1: {MISSING_UPSTREAM}"),
        ("firewall: {default: deny}\nupstream:\n  via: true\n", f"site.yaml:2: {MISSING_UPSTREAM}"),
    ],
)
def test_the_upstream_url_is_required(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env={})
    assert str(info.value) == expected


def test_a_default_upstream_fills_in_only_what_the_policy_leaves_out() -> None:
    assert load_policy_text("version: 1\n", default_upstream=UPSTREAM).policy.upstream.url == UPSTREAM
    policy = load_policy_text("upstream: {via: true}\n", default_upstream=UPSTREAM).policy
    assert policy.upstream.url == UPSTREAM and policy.upstream.via
    named = load_policy_text("upstream: {url: 'http://other:1'}\n", default_upstream=UPSTREAM).policy
    assert named.upstream.url == "http://other:1"


NET = "'10.0.0.300/8' is not an IPv4 or IPv6 network"
NOT_MATCHED_PATH = "is not a path as the gateway matches it (decoded, no '//', '.', '..' or ';')"
INVALID = {
    "bad CIDR": (rule("allow: [10.0.0.0/8, 10.0.0.300/8]"), [f"site.yaml:4: firewall.rules[0].allow[1]: {NET}"]),
    "bad range": (
        rule("deny: [10.0.0.5-10.0.0.256]"),
        ["site.yaml:4: firewall.rules[0].deny[0]: '10.0.0.5-10.0.0.256' is not an IPv4 or IPv6 range"],
    ),
    "empty range": (
        rule("deny: [10.0.0.40-10.0.0.5]"),
        ["site.yaml:4: firewall.rules[0].deny[0]: '10.0.0.40-10.0.0.5' is an empty range (start after end)"],
    ),
    "mixed-version range": (
        rule("deny: ['10.0.0.1-::1']"),
        ["site.yaml:4: firewall.rules[0].deny[0]: '10.0.0.1-::1' mixes IPv4 and IPv6"],
    ),
    "bad address": (
        "client_ip:\n  trusted_proxies:\n    - 10.0.0.256\n",
        ["site.yaml:3: client_ip.trusted_proxies[0]: '10.0.0.256' is not an IPv4 or IPv6 address"],
    ),
    "neither address nor name": (
        rule("allow: [office lan]"),
        [
            "site.yaml:4: firewall.rules[0].allow[0]: "
            "'office lan' is neither an IPv4/IPv6 address, network or range nor a list name"
        ],
    ),
    "unknown key with suggestion": (
        "listen:\n  prot: 80\n",
        ["site.yaml:2: listen.prot: unknown key 'prot' (did you mean 'port'?)"],
    ),
    "unknown key listing valid keys": (
        "listen:\n  tls: true\n",
        [
            "site.yaml:2: listen.tls: unknown key 'tls' "
            "(valid keys: host, port, server_names, unknown_host_status, headers_with_underscores)"
        ],
    ),
    "unknown top-level key": ("firewal: {}\n", ["site.yaml:1: firewal: unknown key 'firewal' (did you mean 'firewall'?)"]),
    "wrong type: integer": ("listen:\n  port: abc\n", ["site.yaml:2: listen.port: expected an integer, got 'abc'"]),
    "wrong type: mapping": ("firewall: [a]\n", ["site.yaml:1: firewall: expected a mapping, got a list"]),
    "wrong type: list": (
        "firewall:\n  rules:\n    name: r\n",
        ["site.yaml:2: firewall.rules: expected a list, got a mapping"],
    ),
    "wrong type: string": ("upstream:\n  url: 8081\n", ["site.yaml:2: upstream.url: expected a string, got 8081"]),
    "wrong type: boolean": ("upstream:\n  via: maybe\n", ["site.yaml:2: upstream.via: expected true or false, got 'maybe'"]),
    "port out of range": ("listen:\n  port: 70000\n", ["site.yaml:2: listen.port: must be <= 65535, got 70000"]),
    "bad duration": (
        "limits:\n  body_timeout: 5 minutes\n",
        ["site.yaml:2: limits.body_timeout: '5 minutes' is not a duration (use e.g. 30s, 250ms, 5m, 7d)"],
    ),
    "negative duration": (
        "limits:\n  drain_timeout: -5\n",
        ["site.yaml:2: limits.drain_timeout: -5 is negative; a duration must be >= 0"],
    ),
    "zero duration where positive is needed": (
        "limits:\n  header_timeout: 0s\n",
        ["site.yaml:2: limits.header_timeout: must be > 0, got 0"],
    ),
    "bad size": (
        "limits:\n  max_body_bytes: 10 megabytes\n",
        ["site.yaml:2: limits.max_body_bytes: '10 megabytes' is not a size (use e.g. 16KiB, 10MiB, 1GiB)"],
    ),
    "size below minimum": (
        "limits:\n  max_header_bytes: 512B\n",
        ["site.yaml:2: limits.max_header_bytes: must be >= 1024, got 512"],
    ),
    "bad literal": (
        "firewall:\n  default: block\n",
        ["site.yaml:2: firewall.default: must be one of 'allow', 'deny', got 'block'"],
    ),
    "bad single-value literal": ("version: 2\n", ["site.yaml:1: version: must be 1, got 2"]),
    "missing rule name": (
        "firewall:\n  rules:\n    - path: /agent/\n      allow: [127.0.0.1]\n",
        ["site.yaml:3: firewall.rules[0].name: required key missing"],
    ),
    "rule that is not a mapping": (
        "firewall:\n  rules:\n    - agents\n",
        ["site.yaml:3: firewall.rules[0]: expected a mapping, got 'agents'"],
    ),
    "bad rule name": (
        "firewall:\n  rules:\n    - name: 1st\n",
        [
            "site.yaml:3: firewall.rules[0].name: "
            "'1st' is not a valid name (letters, digits, '_', '.', '-'; starts with a letter)"
        ],
    ),
    "bad ip list name": (
        "ip_lists:\n  my office: [10.0.0.0/8]\n",
        [
            "site.yaml:2: ip_lists['my office']: "
            "'my office' is not a valid name (letters, digits, '_', '.', '-'; starts with a letter)"
        ],
    ),
    "status out of range": (rule("status: 200"), ["site.yaml:4: firewall.rules[0].status: must be >= 400, got 200"]),
    "duplicate key": (
        "listen:\n  host: 0.0.0.0\n  port: 80\n  port: 8080\n",
        ["site.yaml:4: listen.port: duplicate key 'port' (first at line 3)"],
    ),
    "python tag": (
        "upstream: !!python/object/apply:os.system [id]\n",
        ["site.yaml:1: upstream: YAML tags are not allowed ('!!python/object/apply:os.system')"],
    ),
    "local tag": ("listen:\n  host: !env HOST\n", ["site.yaml:2: listen.host: YAML tags are not allowed ('!env')"]),
    "anchor and alias": (
        "ip_lists:\n  office: &office [10.0.0.0/8]\n  vpn: *office\n",
        [
            "site.yaml:2: ip_lists.office: anchors and aliases are not allowed ('&office'); "
            "name shared addresses once under ip_lists",
            "site.yaml:3: ip_lists.vpn: anchors and aliases are not allowed ('*office'); "
            "name shared addresses once under ip_lists",
        ],
    ),
    "key that is not a string": ("80: open\n", ["site.yaml:1: mapping key 80 is not a string (quote it)"]),
    "YAML 1.1 boolean as a key": ("ip_lists:\n  on: [10.0.0.1]\n", ["site.yaml:2: ip_lists: mapping key on is not a string (quote it)"]),
    "top level not a mapping": ("- listen\n", ["site.yaml:1: the top level must be a mapping of settings, not a list"]),
    "invalid YAML": (
        "listen:\n  port: 80\n host: x\n",
        ["site.yaml:3: invalid YAML: expected <block end>, but found '<block mapping start>' (while parsing a block mapping at line 1)"],
    ),
    "unknown ip list with suggestion": (
        "ip_lists:\n  office: [10.0.0.0/8]\n" + rule("allow: [offce]"),
        ["site.yaml:6: firewall.rules[0].allow[0]: unknown ip list 'offce' (did you mean 'office'?)"],
    ),
    "unknown ip list": (
        "client_ip:\n  trusted_proxies: [loadbalancers]\n",
        ["site.yaml:2: client_ip.trusted_proxies[0]: unknown ip list 'loadbalancers'"],
    ),
    "ip list cycle": (
        "ip_lists:\n  a: [10.0.0.1, b]\n  b: [c]\n  c: [a]\n",
        ["site.yaml:4: ip_lists.c[0]: ip lists refer to each other in a cycle: a -> b -> c -> a"],
    ),
    "ip list naming itself": (
        "ip_lists:\n  a: [a]\n",
        ["site.yaml:2: ip_lists.a[0]: ip lists refer to each other in a cycle: a -> a"],
    ),
    "duplicate rule name": (
        "firewall:\n  rules:\n    - name: agents\n    - name: admin\n    - name: agents\n",
        ["site.yaml:5: firewall.rules[2].name: duplicate rule name 'agents' (first at line 3)"],
    ),
    "duplicate route name": (
        "routes:\n  - {name: api, path: /api/}\n  - {name: api, path: /v2/}\n",
        ["site.yaml:3: routes[1].name: duplicate route name 'api' (first at line 2)"],
    ),
    "bad URL": (
        "upstream:\n  url: ftp://helpdesk\n",
        ["site.yaml:2: upstream.url: 'ftp://helpdesk' is not an http:// or https:// URL with a host"],
    ),
    "URL with a query": (
        "upstream:\n  url: http://helpdesk/?a=1\n",
        ["site.yaml:2: upstream.url: 'http://helpdesk/?a=1' must not have a query or fragment"],
    ),
    "bad method": (rule("methods: [GET, post]"), ["site.yaml:4: firewall.rules[0].methods: 'post' is not an upper-case HTTP method"]),
    "empty methods": (
        "routes:\n  - name: api\n    methods: []\n",
        ["site.yaml:3: routes[0].methods: must not be empty (leave it out to match every method)"],
    ),
    "path without '/'": (rule("path: agent/"), ["site.yaml:4: firewall.rules[0].path: 'agent/' must start with '/'"]),
    "path and path_exact together": (
        rule("path: /agent/\npath_exact: /agent/login"),
        ["site.yaml:3: firewall.rules[0]: give either path or path_exact, not both"],
    ),
    "route with path and path_exact": (
        "routes:\n  - name: api\n    path: /api/\n    path_exact: /api\n",
        ["site.yaml:2: routes[0]: give either path or path_exact, not both"],
    ),
    "path_exact without '/'": (rule("path_exact: agent"), ["site.yaml:4: firewall.rules[0].path_exact: 'agent' must start with '/'"]),
    "path_exact with '//'": (rule("path_exact: /agent//login"), [f"site.yaml:4: firewall.rules[0].path_exact: '/agent//login' {NOT_MATCHED_PATH}"]),
    "path_exact with '..'": (rule("path_exact: /agent/../admin"), [f"site.yaml:4: firewall.rules[0].path_exact: '/agent/../admin' {NOT_MATCHED_PATH}"]),
    "path_exact with an escape": (rule("path_exact: /agent%2Flogin"), [f"site.yaml:4: firewall.rules[0].path_exact: '/agent%2Flogin' {NOT_MATCHED_PATH}"]),
    "path_exact with params": (rule("path_exact: /agent;x=1"), [f"site.yaml:4: firewall.rules[0].path_exact: '/agent;x=1' {NOT_MATCHED_PATH}"]),
    "bad server names": (
        "listen:\n  server_names:\n    - help.example.com\n    - 'help.example.com:443'\n    - 'a b'\n    - '*'\n",
        [
            "site.yaml:4: listen.server_names[1]: 'help.example.com:443' has a port; server names match the host without its port",
            "site.yaml:5: listen.server_names[2]: 'a b' is not a host name, IPv4 or IPv6 address, or *.name",
            "site.yaml:6: listen.server_names[3]: '*' is not a host name, IPv4 or IPv6 address, or *.name",
        ],
    ),
    "empty server names": (
        "listen:\n  server_names: []\n",
        ["site.yaml:2: listen.server_names: must not be empty (leave it out to serve every host)"],
    ),
    "unknown host status": (
        "listen:\n  unknown_host_status: 404\n",
        ["site.yaml:2: listen.unknown_host_status: must be one of 421, 400, got 404"],
    ),
    "bad underscore action": (
        "listen:\n  headers_with_underscores: ignore\n",
        ["site.yaml:2: listen.headers_with_underscores: must be one of 'drop', 'reject', 'allow', got 'ignore'"],
    ),
    "bad route underscore action": (
        "routes:\n  - {name: api, headers_with_underscores: strip}\n",
        ["site.yaml:2: routes[0].headers_with_underscores: must be one of 'drop', 'reject', 'allow', got 'strip'"],
    ),
    "bad header names to strip": (
        "upstream:\n  strip_request_headers: [X-Ok, 'X Bad', 'X-*-Bad']\n",
        [
            "site.yaml:2: upstream.strip_request_headers[1]: 'X Bad' is not a header name (or a prefix ending in '*')",
            "site.yaml:2: upstream.strip_request_headers[2]: 'X-*-Bad' is not a header name (or a prefix ending in '*')",
        ],
    ),
    "headers the gateway sets itself": (
        "upstream:\n  set_headers:\n    Host: host\n    X-Forwarded-For: client_ip\n",
        [
            "site.yaml:3: upstream.set_headers.Host: 'Host' is set by the gateway itself",
            "site.yaml:4: upstream.set_headers.X-Forwarded-For: 'X-Forwarded-For' is set by the gateway itself",
        ],
    ),
    "set header that is not a name": (
        "upstream:\n  set_headers:\n    'X Real': client_ip\n",
        ["site.yaml:3: upstream.set_headers['X Real']: 'X Real' is not a header name"],
    ),
    "set header from a value the gateway does not decide": (
        "upstream:\n  set_headers:\n    X-Real-IP: cookie\n",
        ["site.yaml:3: upstream.set_headers.X-Real-IP: must be one of 'client_ip', 'proto', 'host', got 'cookie'"],
    ),
    "unset environment variable": (
        "upstream:\n  url: ${HELPDESK_URL}\n",
        ["site.yaml:2: upstream.url: environment variable HELPDESK_URL is not set"],
    ),
    "upstream CA that is not PEM": (
        "upstream:\n  url: https://help.example\n  tls_ca: not a certificate\n",
        ["site.yaml:3: upstream.tls_ca: tls_ca holds no usable PEM certificate"],
    ),
    "malformed reference": (
        "listen:\n  host: ${1HOST}\n",
        ["site.yaml:2: listen.host: '${1HOST}' is not a reference: use ${NAME}, ${file:PATH} or $${ for a literal '${'"],
    ),
    "unclosed reference": (
        "listen:\n  host: '${HOST'\n",
        ["site.yaml:2: listen.host: unclosed '${' (write '$${' for a literal '${')"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_policy_reports_exact_errors(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_every_error_of_a_file_is_reported_at_once_in_line_order() -> None:
    text = """\
        listen:
          port: eighty
        ip_lists:
          office: [10.0.0.0/8]
        firewall:
          default: block
          rules:
            - name: agents
              path: agent/
              allow: [offce, 10.0.0.300/8]
            - path: /admin/
              methods: [get]
        upstream:
          url: helpdesk:8081
          via: yes
          tls: true
        """
    assert errors_of(text) == [
        "site.yaml:2: listen.port: expected an integer, got 'eighty'",
        "site.yaml:6: firewall.default: must be one of 'allow', 'deny', got 'block'",
        "site.yaml:9: firewall.rules[0].path: 'agent/' must start with '/'",
        "site.yaml:10: firewall.rules[0].allow[1]: '10.0.0.300/8' is not an IPv4 or IPv6 network",
        "site.yaml:10: firewall.rules[0].allow[0]: unknown ip list 'offce' (did you mean 'office'?)",
        "site.yaml:11: firewall.rules[1].name: required key missing",
        "site.yaml:12: firewall.rules[1].methods: 'get' is not an upper-case HTTP method",
        "site.yaml:14: upstream.url: 'helpdesk:8081' is not an http:// or https:// URL with a host",
        "site.yaml:16: upstream.tls: unknown key 'tls' (did you mean 'tls_ca'?)",
    ]


def test_policy_error_keeps_its_issues_across_pickling() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_text("listen: {port: x}\n", env={})
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.issues == info.value.issues and str(copy) == str(info.value)


# --- secrets -----------------------------------------------------------------


def test_environment_references_are_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_HOST", "10.1.2.3")
    text = "listen:\n  host: ${GW_TEST_HOST}\n  port: '${GW_TEST_PORT}'\nupstream:\n  url: http://${UP}:81/$${x}\n"
    monkeypatch.setenv("GW_TEST_PORT", "9000")
    monkeypatch.setenv("UP", "helpdesk")
    policy = load_policy_text(text).policy
    assert (policy.listen.host, policy.listen.port) == ("10.1.2.3", 9000)
    assert policy.upstream.url == "http://helpdesk:81/${x}"


def test_file_references_are_read_relative_to_the_policy(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "host").write_text("10.9.8.7\n")
    (tmp_path / "url").write_bytes(b"http://helpdesk\r\n")
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f"listen:\n  host: ${{file:secrets/host}}\nupstream:\n  url: ${{file:{tmp_path / 'url'}}}\n")
    policy = load_policy(policy_file, env={}).policy
    assert policy.listen.host == "10.9.8.7"
    assert policy.upstream.url == "http://helpdesk"


def test_only_one_trailing_newline_is_stripped(tmp_path: Path) -> None:
    (tmp_path / "host").write_text("a\n\n")
    loaded = load_policy_text("listen: {host: '${file:host}'}", env={}, base_dir=tmp_path, default_upstream=UPSTREAM)
    assert loaded.policy.listen.host == "a\n"


def test_unreadable_secret_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("listen:\n  host: ${file:missing.key}\nupstream: {url: http://h}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "policy.yaml", env={})
    assert str(info.value) == (
        f"{tmp_path}/policy.yaml:2: listen.host: secret file '{tmp_path}/missing.key' "
        "cannot be read (No such file or directory)"
    )


SECRET = "s3cr'et\\value\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("listen:\n  port: ${TOKEN}\n", "site.yaml:2: listen.port: expected an integer, got '${TOKEN}'"),
        (
            "upstream:\n  url: 'x${TOKEN}'\n",
            "site.yaml:2: upstream.url: 'x${TOKEN}' is not an http:// or https:// URL with a host",
        ),
        ("routes:\n  - name: a\n    methods: ['${TOKEN}']\n", "site.yaml:3: routes[0].methods: '${TOKEN}' is not an upper-case HTTP method"),
        ("client_ip:\n  trusted_proxies: ['${TOKEN}']\n", None),
        ("listen: {port: 1, port: '${TOKEN}'}\n", None),
        ("listen:\n  port: ${file:token}\n", "site.yaml:2: listen.port: expected an integer, got '${file:token}'"),
    ],
)
def test_secret_values_never_appear_in_errors(tmp_path: Path, text: str, expected: str | None) -> None:
    (tmp_path / "token").write_text(SECRET)
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env={"TOKEN": SECRET}, base_dir=tmp_path, default_upstream=UPSTREAM)
    message = str(info.value)
    for fragment in ("s3cr", "value", repr(SECRET)[1:-1]):
        assert fragment not in message
    if expected is not None:
        assert message == expected
    # The validation error holding the raw input must not ride along as context.
    assert info.value.__context__ is None and info.value.__cause__ is None


INLINE = "key material must be a reference, not inline: write ${ENV_VAR} or ${file:path}"
INLINE_PASSWORD = "the password must be a reference, not inline: write postgresql://user:${PGPASSWORD}@host/db"
LINK_KEY = "raw:a-link-signing-key-of-enough-length-0001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"links:\n  keys:\n    - id: a\n      secret: '{LINK_KEY}'\n", f"site.yaml:4: links.keys[0].secret: {INLINE}"),
        (f"consent:\n  keys: [{{id: a, secret: '{LINK_KEY}'}}]\n", f"site.yaml:2: consent.keys[0].secret: {INLINE}"),
        # Escaped, a '${' is literal text: still inline.
        ("links:\n  keys: [{id: a, secret: '$${KEY}-and-more-than-32-bytes-of-text'}]\n", f"site.yaml:2: links.keys[0].secret: {INLINE}"),
        # A reference inside other text: part of the key is still written here.
        ("links:\n  keys: [{id: a, secret: 'abc${KEY}'}]\n", f"site.yaml:2: links.keys[0].secret: {INLINE}"),
        ("store:\n  url: postgresql://gw:hunter2@db:5432/gw\n", f"site.yaml:2: store.url: {INLINE_PASSWORD}"),
        ("store:\n  url: 'postgresql://gw@db/gw?password=hunter2'\n", f"site.yaml:2: store.url: {INLINE_PASSWORD}"),
        ("store:\n  url: 'postgresql://${PGUSER}:x${PGPASSWORD}@db/gw'\n", f"site.yaml:2: store.url: {INLINE_PASSWORD}"),
    ],
)
def test_inline_secrets_are_refused_without_echoing_them(text: str, expected: str) -> None:
    lines = errors_of(text, env={"KEY": LINK_KEY, "PGUSER": "gw", "PGPASSWORD": "pw"})
    assert lines == [expected]  # reported once (not also as "too short"), and the value is not echoed


@pytest.mark.parametrize(
    "secret",
    ["${KEY}", "${file:link.key}", "raw:${PLAIN}", "base64:${B64}", "hex:${file:link.hex}"],
)
def test_secrets_given_by_reference_are_accepted(tmp_path: Path, secret: str) -> None:
    (tmp_path / "link.key").write_text(LINK_KEY + "\n")
    (tmp_path / "link.hex").write_text("ab" * 32)
    env = {"KEY": LINK_KEY, "PLAIN": "p" * 32, "B64": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="}
    text = f"links:\n  keys: [{{id: a, secret: '{secret}'}}]\nconsent:\n  keys: [{{id: c, secret: '{secret}'}}]\n"
    policy = load_policy_text(text, env=env, base_dir=tmp_path, default_upstream=UPSTREAM).policy
    assert policy.links.keys[0].secret == policy.consent.keys[0].secret != secret


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///state.sqlite3",
        "postgresql://gw@db:5432/gw",
        "postgresql://gw:${PGPASSWORD}@db:5432/gw",
        "postgresql://${PGUSER}:${file:pg.pass}@db/gw",
        "postgresql://gw@db/gw?password=${PGPASSWORD}&sslmode=require",
        "${STORE_URL}",
    ],
)
def test_store_urls_without_an_inline_password_are_accepted(tmp_path: Path, url: str) -> None:
    (tmp_path / "pg.pass").write_text("pw\n")
    env = {"PGUSER": "gw", "PGPASSWORD": "pw", "STORE_URL": "postgresql://gw:pw@db/gw"}
    loaded = load_policy_text(f"store:\n  url: '{url}'\n", env=env, base_dir=tmp_path, default_upstream=UPSTREAM)
    assert loaded.policy.store.url.startswith(("sqlite:", "postgresql:"))


# --- reloads: files caught while being written --------------------------------


GOOD_FILE = "upstream: {url: http://helpdesk:8000}\nfirewall: {default: deny}\n"


def test_a_settled_load_waits_until_two_reads_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("")  # truncated by an editor that is about to write the new text
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 1:
            policy.write_text(GOOD_FILE)  # the writer finishes during the first pause

    monkeypatch.setattr("gateway.policy.loader.time.sleep", sleep)
    loaded = load_policy(policy, env={}, settle=0.05)
    assert loaded.policy.firewall.default == "deny"
    assert pauses == [0.05, 0.05]  # empty, full, full: the last two agree


def test_a_file_that_keeps_changing_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(GOOD_FILE)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        policy.write_text(GOOD_FILE + f"# write {len(pauses)}\n")

    monkeypatch.setattr("gateway.policy.loader.time.sleep", sleep)
    with pytest.raises(PolicyError) as info:
        load_policy(policy, env={}, settle=0.05)
    assert str(info.value) == f"{policy}: the policy files kept changing while being read (5 reads 50 ms apart); not loaded"
    assert len(pauses) == 4  # bounded: a reload waits at most 4 pauses


def test_a_settled_load_of_a_file_that_stays_empty_is_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("")
    with pytest.raises(PolicyError) as info:
        load_policy(policy, env={}, settle=0.01)
    assert str(info.value) == f"{policy}:1: the file is empty; a policy file must set at least one key"


def test_an_unsettled_load_reads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "policy.yaml").write_text(GOOD_FILE)
    monkeypatch.setattr("gateway.policy.loader.time.sleep", lambda seconds: pytest.fail("slept"))
    assert load_policy(tmp_path / "policy.yaml", env={}).policy.firewall.default == "deny"


def test_a_settled_directory_load_sees_files_added_between_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "10-base.yaml", "upstream: {url: http://helpdesk:8000}\n")

    def sleep(seconds: float) -> None:
        if not (tmp_path / "20-firewall.yaml").exists():
            write(tmp_path, "20-firewall.yaml", "firewall: {default: deny}\n")

    monkeypatch.setattr("gateway.policy.loader.time.sleep", sleep)
    loaded = load_policy(tmp_path, env={}, settle=0.05)
    assert loaded.policy.firewall.default == "deny" and len(loaded.files) == 2


# --- directories -------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_directory_files_merge_in_lexical_order(tmp_path: Path) -> None:
    write(tmp_path, "20-site.yml", "firewall:\n  rules:\n    - name: site\nlisten:\n  port: 9000\n")
    write(tmp_path, "10-base.yaml", "ip_lists: {office: [10.0.0.0/8]}\nfirewall:\n  rules:\n    - {name: base, allow: [office]}\n"
          "upstream: {url: http://h}\n")
    write(tmp_path, "3-late.yaml", "firewall:\n  rules:\n    - name: late\n")  # '3' sorts after '2'
    write(tmp_path, ".hidden.yaml", "not: [valid")
    write(tmp_path, "sub/ignored.yaml", "not: [valid")
    write(tmp_path, "README.txt", "not a policy")
    loaded = load_policy(tmp_path, env={})
    assert [rule.name for rule in loaded.policy.firewall.rules] == ["base", "site", "late"]
    assert loaded.policy.listen.port == 9000
    assert loaded.files == (tmp_path / "10-base.yaml", tmp_path / "20-site.yml", tmp_path / "3-late.yaml")


def test_the_same_scalar_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    write(tmp_path, "10-base.yaml", "listen:\n  host: 0.0.0.0\n  port: 8080\nupstream: {url: http://h}\n")
    write(tmp_path, "20-site.yaml", "\nlisten:\n  port: 9090\nfirewall: {rules: []}\n")
    write(tmp_path, "30-more.yaml", "firewall: []\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path, env={})
    assert format_issues(info.value).splitlines() == [
        f"{tmp_path}/20-site.yaml:3: listen.port: already set in {tmp_path}/10-base.yaml:3",
        f"{tmp_path}/30-more.yaml:1: firewall: already set in {tmp_path}/20-site.yaml:4",
    ]


def test_errors_point_into_the_file_that_holds_the_value(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "firewall:\n  rules:\n    - name: one\n")
    write(tmp_path, "b.yaml", "firewall:\n  rules:\n    - name: one\n      allow: [offce]\nlisten: {port: x}\n")
    write(tmp_path, "c.yaml", "ip_lists: {office: [10.0.0.0/8]}\nlisten: {prot: 1}\nupstream: {url: http://h}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path, env={})
    assert format_issues(info.value).splitlines() == [
        f"{tmp_path}/b.yaml:3: firewall.rules[1].name: duplicate rule name 'one' (first at {tmp_path}/a.yaml:3)",
        f"{tmp_path}/b.yaml:4: firewall.rules[1].allow[0]: unknown ip list 'offce' (did you mean 'office'?)",
        f"{tmp_path}/b.yaml:5: listen.port: expected an integer, got 'x'",
        f"{tmp_path}/c.yaml:2: listen.prot: unknown key 'prot' (did you mean 'port'?)",
    ]


def test_a_broken_file_does_not_hide_the_others_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "ip_lists: {office: [10.0.0.0/8]\n")
    write(tmp_path, "b.yaml", "firewall:\n  rules:\n    - {name: x, allow: [office], status: 1}\nupstream: {url: http://h}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path, env={})
    lines = format_issues(info.value).splitlines()
    # 'office' is not reported unknown: it may be defined in the unreadable file.
    assert lines == [
        f"{tmp_path}/a.yaml:2: invalid YAML: expected ',' or '}}', but got '<stream end>' "
        "(while parsing a flow mapping at line 1)",
        f"{tmp_path}/b.yaml:3: firewall.rules[0].status: must be >= 400, got 1",
    ]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path}/nope.yaml: cannot read: No such file or directory"
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path)
    assert str(info.value) == f"{tmp_path}: no *.yaml or *.yml files in this directory"


def test_checksum_covers_file_names_and_contents(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "10-a.yaml", "listen: {port: 1}\n")
    write(tmp_path / "one", "20-b.yaml", "listen: {host: x}\n")
    loaded = load_policy(tmp_path / "one", env={}, default_upstream=UPSTREAM)
    expected = hashlib.sha256()
    for name, data in ((b"10-a.yaml", b"listen: {port: 1}\n"), (b"20-b.yaml", b"listen: {host: x}\n")):
        expected.update(name + b"\0" + str(len(data)).encode() + b"\0" + data)
    assert loaded.checksum == expected.hexdigest()
    # Same files elsewhere: same checksum. One byte changed: another.
    write(tmp_path / "two", "10-a.yaml", "listen: {port: 1}\n")
    write(tmp_path / "two", "20-b.yaml", "listen: {host: x}\n")
    assert load_policy(tmp_path / "two", env={}, default_upstream=UPSTREAM).checksum == loaded.checksum
    first.write_text("listen: {port: 2}\n")
    assert load_policy(tmp_path / "one", env={}, default_upstream=UPSTREAM).checksum != loaded.checksum


def test_loaded_policy_is_frozen() -> None:
    loaded = load_policy_text("upstream: {url: http://h}", env={})
    assert isinstance(loaded, LoadedPolicy)
    with pytest.raises(AttributeError):
        loaded.checksum = "x"  # type: ignore[misc]


# --- robustness --------------------------------------------------------------

KEYS = [
    "version", "listen", "admin", "upstream", "limits", "client_ip", "ip_lists", "routes", "firewall",
    "logging", "port", "host", "url", "rules", "name", "allow", "deny", "path", "methods", "status",
    "default", "trusted_proxies", "timeouts", "connect", "max_body_bytes", "office",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        ["10.0.0.0/8", "10.0.0.1-10.0.0.9", "::1", "office", "${TOKEN}", "$${x}", "${file:x}", "${", "30s",
         "10MiB", "GET", "/agent/", "allow", "http://h", "a -> b"]
    ),  # fmt: skip
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)
HOSTILE_TEXT = st.text(alphabet=list("{}[]:,-&*!|>'\"#%@` \n\t$ab01./?~"), max_size=120)


def outcome(text: str) -> None:
    """Loading either succeeds or raises PolicyError with readable issues; nothing else."""
    try:
        load_policy_text(text, "fuzz.yaml", env={"TOKEN": "Zq9-secret-Zq9"}, default_upstream=UPSTREAM)
    except PolicyError as err:
        assert err.issues
        assert all(str(issue).startswith("fuzz.yaml") for issue in err.issues)
        assert "Zq9-secret" not in str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), TREES, max_size=6))
def test_random_structures_give_a_policy_or_a_policy_error(doc: dict[str, object]) -> None:
    outcome(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_random_text_gives_a_policy_or_a_policy_error(text: str) -> None:
    outcome(text)


def test_alias_bomb_is_rejected_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(PolicyError) as info:
        load_policy_text("\n".join(lines), env={})
    assert len(info.value.issues) < 200


def test_long_hostile_values_are_rejected_in_linear_time() -> None:
    long = ":" * 400_000 + "g"
    with pytest.raises(PolicyError) as info:
        load_policy_text(f"client_ip:\n  trusted_proxies: ['{long}']\nlimits:\n  body_timeout: '1{' ' * 400_000}x'\n", env={},
                         default_upstream=UPSTREAM)
    assert [issue.path for issue in info.value.issues] == [("client_ip", "trusted_proxies", 0), ("limits", "body_timeout")]
    assert all(len(issue.message) <= 300 for issue in info.value.issues)
