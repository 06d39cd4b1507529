"""``privacy-gateway links …``: sign a URL, inspect a token, revoke, list revocations."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..lib.keyring import KeyRing
from ..policy.units import parse_duration
from .signing import LinkClaims, LinkSigner, TokenExpired, TokenInvalid

EXIT_STORE_UNAVAILABLE = 3


def _load(policy_path: str) -> Any:
    from ..policy.loader import PolicyError, load_policy

    try:
        policy = load_policy(Path(policy_path)).policy
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None
    if not policy.links.keys:
        print(f"{policy_path}: links.keys is empty; nothing can be signed or checked", file=sys.stderr)
        raise SystemExit(1)
    return policy


def _signer(policy: Any) -> LinkSigner:
    links = policy.links
    ring = KeyRing.from_config([(k.id, k.secret) for k in links.keys], links.current_key or links.keys[0].id)
    # One link at a time: no shared token, and the expiry is exactly --ttl (no bucket).
    return LinkSigner(ring, ttl=links.ttl, leeway=links.leeway, bucket=1, cache_size=0)


def cmd_sign(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    try:
        ttl = parse_duration(args.ttl) if args.ttl else None
        token = _signer(policy).sign(args.url, ttl=ttl, case=args.case, recipient=args.recipient)
    except ValueError as exc:
        print(f"links sign: {exc}", file=sys.stderr)
        return 2
    if args.param:
        # The token goes into the query, before any fragment (browsers never send fragments).
        base, hash_, fragment = args.url.partition("#")
        sep = "&" if "?" in base else "?"
        print(f"{base}{sep}{args.param}={token}{hash_}{fragment}")
    else:
        print(f"{args.base.rstrip('/')}{policy.links.endpoint}{token}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Exit 0: valid; 1: invalid, expired or revoked; 3: the store could not be asked about revocations."""
    from ..store import StoreError

    policy = _load(args.policy)
    result: dict[str, Any]
    try:
        claims = _signer(policy).verify(args.token)
    except TokenExpired as exc:
        result = {"valid": False, "reason": "expired", "claims": _claims(exc.claims)}
    except TokenInvalid as exc:
        result = {"valid": False, "reason": exc.reason}
    else:
        # The endpoint refuses a revoked token: so must the answer here.
        async def revoked(store: Any) -> bool:
            return bool(await store.is_revoked(
                jti=claims.jti, case=claims.case, recipient=claims.recipient, now=time.time(), issued_at=claims.iat
            ))

        try:
            is_revoked = asyncio.run(_with_store(policy, revoked))
        except StoreError as exc:
            result = {"valid": False, "reason": "store_unavailable", "claims": _claims(claims)}
            print(json.dumps(result, indent=2))
            print(f"links inspect: the signature is good, but revocations could not be checked: {exc}", file=sys.stderr)
            return EXIT_STORE_UNAVAILABLE
        result = {"valid": False, "reason": "revoked", "claims": _claims(claims)} if is_revoked else {
            "valid": True, "claims": _claims(claims)
        }
    print(json.dumps(result, indent=2))
    return 0 if result["valid"] else 1


def _claims(claims: LinkClaims) -> dict[str, Any]:
    return {
        "url": claims.url, "kid": claims.kid, "jti": claims.jti, "case": claims.case,
        "recipient": claims.recipient,
        "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.iat)),
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.exp)),
    }


async def _with_store(policy: Any, action: Any) -> Any:
    from ..store import store_for

    store = store_for(policy.store)
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def _ask_store(command: str, policy: Any, action: Any) -> Any:
    """``action(store)``'s result; exit 3 with the reason on stderr when the store cannot be reached."""
    from ..store import StoreError

    try:
        return asyncio.run(_with_store(policy, action))
    except StoreError as exc:
        print(f"{command}: the store could not be reached: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_STORE_UNAVAILABLE) from None


def cmd_revoke(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    kinds = [(k, v) for k, v in (("token", args.token_id), ("case", args.case), ("recipient", args.recipient)) if v]
    if len(kinds) != 1:
        print("give exactly one of --token-id, --case, --recipient", file=sys.stderr)
        return 2
    kind, value = kinds[0]
    # A revocation can be forgotten once every token it refuses has expired anyway.
    longest = max([policy.links.ttl] + [r.ttl for r in policy.links.rules if r.ttl]) * 1.05 + 3600
    expires_at = time.time() + longest

    async def revoke(store: Any) -> None:
        await store.revoke(kind, value, expires_at=expires_at, reason=args.reason or "")

    _ask_store("links revoke", policy, revoke)
    print(f"revoked {kind} {value!r} (kept until {time.strftime('%Y-%m-%d', time.gmtime(expires_at))})")
    return 0


def cmd_revocations(args: argparse.Namespace) -> int:
    policy = _load(args.policy)

    async def listing(store: Any) -> Any:
        return await store.revocations()

    for item in _ask_store("links revocations", policy, listing):
        print(json.dumps({"kind": item.kind, "value": item.value, "created_at": item.created_at,
                          "expires_at": item.expires_at, "reason": item.reason}))
    return 0


def add_link_commands(sub: Any) -> None:
    links = sub.add_parser("links", help="sign, inspect and revoke link tokens").add_subparsers(dest="links_command", required=True)
    sign = links.add_parser("sign", help="print a signed gateway link for a URL")
    sign.add_argument("--policy", required=True)
    sign.add_argument("url")
    sign.add_argument("--ttl", help="e.g. 7d (absent: links.ttl)")
    sign.add_argument("--case", help="bind the token to a case id (revocable together)")
    sign.add_argument("--recipient", help="bind the token to a recipient hash")
    sign.add_argument("--base", default="", help="public base URL of the gateway, e.g. https://help.example.com")
    sign.add_argument("--param", help="append the token as this query parameter instead (links.require_token paths)")
    sign.set_defaults(func=cmd_sign)
    inspect = links.add_parser(
        "inspect", help="verify a token, check the store for revocations and show its claims "
        "(exit 0 valid, 1 invalid/expired/revoked, 3 store unreachable)",
    )
    inspect.add_argument("--policy", required=True)
    inspect.add_argument("token")
    inspect.set_defaults(func=cmd_inspect)
    revoke = links.add_parser("revoke", help="revoke a token id, or every token of a case or recipient")
    revoke.add_argument("--policy", required=True)
    revoke.add_argument("--token-id")
    revoke.add_argument("--case")
    revoke.add_argument("--recipient")
    revoke.add_argument("--reason", default="")
    revoke.set_defaults(func=cmd_revoke)
    listing = links.add_parser("revocations", help="list revocations (JSON lines)")
    listing.add_argument("--policy", required=True)
    listing.set_defaults(func=cmd_revocations)
