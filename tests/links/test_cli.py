"""``python -m gateway links …`` as real subprocesses against a policy file and a SQLite store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkClaims, LinkSigner
from tests.conftest import free_port

SECRET = "raw:" + "cli-link-signing-key-for-the-tests-0001"
RING = KeyRing.from_config([("k1", SECRET)], "k1")
TOKEN = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"


@pytest.fixture(autouse=True)
def link_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLI_TEST_LINK_KEY", SECRET)  # the subprocesses inherit it


def write_policy(tmp_path: Path, links: str, store: str | None = None) -> Path:
    path = tmp_path / "policy.yaml"
    store = store or f"sqlite:///{tmp_path}/s.sqlite3"
    path.write_text(f'upstream: {{url: "http://127.0.0.1:9"}}\nlinks:\n{links}\nstore: {{url: "{store}"}}\n')
    return path


LINKS = """  enabled: true
  endpoint: /go/
  keys: [{id: k1, secret: "${CLI_TEST_LINK_KEY}"}]
  rules: [{hosts: [long.example.org], action: sign, ttl: 30d}]"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, LINKS)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "links", *map(str, args)], capture_output=True, text=True, timeout=60
    )


def verify(token: str) -> LinkClaims:
    return LinkSigner(RING, ttl=3600).verify(token)


def test_sign_prints_base_endpoint_and_token(policy: Path) -> None:
    url = "https://example.org/a?utm_source=x&b=%20"
    before = time.time()
    out = run("sign", "--policy", policy, "--base", "https://help.example.com/", url)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    match = re.fullmatch(rf"https://help\.example\.com/go/({TOKEN})\n", out.stdout)
    assert match, out.stdout
    claims = verify(match[1])
    assert (claims.url, claims.kid, claims.case, claims.recipient) == (url, "k1", None, None)
    assert before - 1 <= claims.iat <= time.time()
    week = 7 * 86400
    assert week <= claims.exp - claims.iat <= week + 1  # exactly links.ttl: no expiry bucket


def test_sign_with_ttl_case_and_no_base(policy: Path) -> None:
    out = run("sign", "--policy", policy, "--ttl", "1h", "--case", "case-42", "https://example.org/")
    assert out.returncode == 0, out.stderr
    match = re.fullmatch(rf"/go/({TOKEN})\n", out.stdout)
    assert match, out.stdout
    claims = verify(match[1])
    assert claims.case == "case-42"
    assert 3600 <= claims.exp - claims.iat <= 3600 + 1


def test_a_one_second_link_expires_after_a_second(policy: Path) -> None:
    """Was: the signer's 60 s minimum bucket kept a ``--ttl 1s`` link valid for a minute and more."""
    out = run("sign", "--policy", policy, "--ttl", "1s", "https://example.org/")
    assert out.returncode == 0, out.stderr
    claims = verify(out.stdout.strip().rsplit("/", 1)[1])
    assert 1 <= claims.exp - claims.iat <= 2  # whole seconds: iat rounded down, exp up


@pytest.mark.parametrize(
    ("url", "sep"), [("https://help.example.com/case/7", "?"), ("https://help.example.com/case/7?x=1", "&")]
)
def test_sign_param_appends_the_token_as_a_query_parameter(policy: Path, url: str, sep: str) -> None:
    out = run("sign", "--policy", policy, "--base", "https://ignored.example", "--param", "_gt", url)
    assert out.returncode == 0, out.stderr
    match = re.fullmatch(rf"{re.escape(url + sep)}_gt=({TOKEN})\n", out.stdout)
    assert match, out.stdout
    assert verify(match[1]).url == url


# "https://help.example.com/case/7#top" prints ".../case/7#top?_gt=<token>":
# the token lands in the fragment, which browsers never send, so the
# require_token path refuses the link.
def test_sign_param_goes_before_the_fragment(policy: Path) -> None:
    out = run("sign", "--policy", policy, "--param", "_gt", "https://help.example.com/case/7#top")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(rf"https://help\.example\.com/case/7\?_gt={TOKEN}#top\n", out.stdout), out.stdout


def test_sign_refuses_a_url_it_cannot_sign_with_a_message(policy: Path) -> None:
    out = run("sign", "--policy", policy, "ftp://example.org/file")
    assert out.returncode != 0 and out.stdout == ""
    assert "Traceback" not in out.stderr and "http" in out.stderr


def test_inspect_a_valid_token(policy: Path) -> None:
    signed = run("sign", "--policy", policy, "--case", "c-1", "https://example.org/x")
    token = signed.stdout.strip().rsplit("/", 1)[1]
    claims = verify(token)
    out = run("inspect", "--policy", policy, token)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "valid": True,
        "claims": {
            "url": "https://example.org/x", "kid": "k1", "jti": claims.jti, "case": "c-1", "recipient": None,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.iat)),
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.exp)),
        },
    }


@pytest.mark.parametrize("kind", ["token-id", "case"])
def test_inspect_says_revoked_for_a_revoked_token(policy: Path, kind: str) -> None:
    """Was: ``valid: true`` for a token the endpoint refuses, since the store was never asked."""
    signed = run("sign", "--policy", policy, "--case", "c-2", "https://example.org/y")
    token = signed.stdout.strip().rsplit("/", 1)[1]
    assert run("inspect", "--policy", policy, token).returncode == 0
    time.sleep(1.05)  # a case revocation reaches tokens issued (whole seconds) at or before it
    revoked = run("revoke", "--policy", policy, f"--{kind}", verify(token).jti if kind == "token-id" else "c-2")
    assert revoked.returncode == 0, revoked.stderr
    out = run("inspect", "--policy", policy, token)
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["valid"] is False and result["reason"] == "revoked"
    assert result["claims"]["jti"] == verify(token).jti


def test_inspect_says_so_when_the_store_cannot_be_reached(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LINKS, store=f"postgresql://gateway@127.0.0.1:{free_port()}/gateway")
    token = LinkSigner(RING, ttl=3600).sign("https://example.org/z")
    out = run("inspect", "--policy", policy, token)
    assert out.returncode == 3
    result = json.loads(out.stdout)
    assert result["valid"] is False and result["reason"] == "store_unavailable"
    assert result["claims"]["url"] == "https://example.org/z"
    assert out.stderr.startswith("links inspect: the signature is good, but revocations could not be checked: ")
    assert "cannot connect" in out.stderr and "Traceback" not in out.stderr
    for args in (["revoke", "--case", "c-1"], ["revocations"]):
        other = run(args[0], "--policy", policy, *args[1:])
        assert other.returncode == 3 and other.stdout == ""
        assert other.stderr.startswith(f"links {args[0]}: the store could not be reached: ")
        assert "Traceback" not in other.stderr


def _tampered() -> str:
    good = LinkSigner(RING, ttl=3600).sign("https://example.org/a")
    header, payload, signature = good.split(".")
    forged = LinkSigner(RING, ttl=3600).sign("https://evil.example/a").split(".")[1]
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_tampered, "bad_signature"),
        (lambda: LinkSigner(KeyRing.from_config([("k9", SECRET)], "k9"), ttl=60).sign("https://example.org/"), "unknown_key"),
        (lambda: "not-a-token", "malformed"),
    ],
)
def test_inspect_refuses_a_bad_token_with_its_reason(policy: Path, make: object, reason: str) -> None:
    out = run("inspect", "--policy", policy, make())  # type: ignore[operator]
    assert out.returncode == 1
    assert json.loads(out.stdout) == {"valid": False, "reason": reason}


def test_inspect_an_expired_token_shows_its_claims(policy: Path) -> None:
    old = LinkSigner(RING, ttl=60, leeway=0, clock=lambda: 1_000_000.0)
    token = old.sign("https://example.org/old", case="c-9")
    claims = old.verify(token)
    out = run("inspect", "--policy", policy, token)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["valid"] is False and result["reason"] == "expired"
    assert result["claims"]["url"] == "https://example.org/old" and result["claims"]["case"] == "c-9"
    assert result["claims"]["expires_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.exp))
    assert result["claims"]["expires_at"].startswith("1970-01-12T")


@pytest.mark.parametrize("flags", [[], ["--token-id", "t1", "--case", "c1"], ["--case", "c1", "--recipient", "r1"], ["--case", ""]])
def test_revoke_needs_exactly_one_target(policy: Path, flags: list[str], tmp_path: Path) -> None:
    out = run("revoke", "--policy", policy, *flags)
    assert out.returncode == 2
    assert out.stderr == "give exactly one of --token-id, --case, --recipient\n"
    assert out.stdout == ""
    assert not (tmp_path / "s.sqlite3").exists()  # refused before the store is opened


def test_revoke_and_list_revocations(policy: Path) -> None:
    assert run("revocations", "--policy", policy).stdout == ""
    before = time.time()
    first = run("revoke", "--policy", policy, "--token-id", "jti-1", "--reason", "leaked in a forward")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("revoked token 'jti-1' (kept until ")
    second = run("revoke", "--policy", policy, "--case", "case-7")
    assert second.returncode == 0, second.stderr
    listing = run("revocations", "--policy", policy)
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["kind"], r["value"], r["reason"]) for r in rows] == [("token", "jti-1", "leaked in a forward"), ("case", "case-7", "")]
    longest = 30 * 86400  # the longest rule ttl: every token it may refuse expires before the revocation does
    for row in rows:
        assert before - 1 <= row["created_at"] <= time.time()
        assert row["expires_at"] - row["created_at"] >= longest
        assert set(row) == {"kind", "value", "created_at", "expires_at", "reason"}


def test_a_policy_without_keys_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "  enabled: false")
    for args in (["sign", "https://example.org/"], ["inspect", "x.y.z"], ["revocations"]):
        out = run(args[0], "--policy", policy, *args[1:])
        assert out.returncode == 1
        assert out.stdout == ""
        assert out.stderr == f"{policy}: links.keys is empty; nothing can be signed or checked\n"


def test_an_invalid_policy_is_reported_like_check_does(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "  enabled: true")
    out = run("sign", "--policy", policy, "https://example.org/")
    assert out.returncode == 1
    assert out.stderr == f"{policy}:2: links: keys: at least one signing key is required when links are enabled\n"
