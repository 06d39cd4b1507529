"""Header handling between client and upstream: hop-by-hop removal, forwarding headers.

Hop-by-hop headers describe one connection and never cross the proxy
(RFC 9110 §7.6.1). Client-address, identity and override headers from the
client are lies until proven otherwise: they are removed, and the ones the
helpdesk needs are set anew from what the gateway derived itself.

Header names with '_' are dropped (or refused) by default: WSGI servers map
``X_Forwarded_For`` and ``X-Forwarded-For`` to the same ``HTTP_X_FORWARDED_FOR``
key, and a CGI-style ``SCRIPT_NAME`` header moves the path a framework serves.
"""

from __future__ import annotations

from typing import Iterable, Literal, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

from ..lib.bounded import remember

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization", "proxy-connection",
    }
)

# Whole families a helpdesk (or a module in front of it) may take a client address,
# scheme, certificate or signed-in user from: X-Forwarded-* (For, Proto, Host, User,
# Email, Client-Cert, Uri...), oauth2-proxy's X-Auth-Request-*, AWS ALB's OIDC headers.
STRIPPED_PREFIXES = ("x-forwarded-", "x-auth-request-", "x-amzn-oidc-")

# Every other name a framework might read a client address, scheme, URL, method or
# user from (README "What the helpdesk receives" lists them).
FORWARDING = frozenset(
    {
        # client address and scheme
        "forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip",
        "fastly-client-ip", "x-cluster-client-ip", "x-original-forwarded-for", "client-ip",
        "x-originating-ip", "x-remote-ip", "x-remote-addr", "front-end-https", "x-url-scheme",
        "x-scheme", "x-arr-ssl",
        # host, URL and method overrides
        "x-host", "x-original-host", "x-http-host-override", "x-original-url", "x-original-uri",
        "x-rewrite-url", "x-http-method-override", "x-http-method", "x-method-override",
        # identity set by an authenticating front end
        "remote-user", "x-remote-user", "x-user", "x-username", "x-email", "x-auth-user",
        "x-authenticated-user", "x-webauth-user", "x-ms-client-principal", "x-ms-client-principal-name",
        "x-ms-client-principal-id", "x-goog-authenticated-user-email", "x-goog-authenticated-user-id",
        "cf-access-authenticated-user-email", "cf-access-jwt-assertion",
        # client certificates verified by a TLS front end
        "ssl-client-cert", "x-ssl-client-cert", "x-client-cert", "ssl-client-verify",
        "x-ssl-client-verify", "x-ssl-client-dn", "x-ssl-client-s-dn", "x-arr-clientcert",
    }
)

# Handled by the gateway itself on the request side.
_REQUEST_OWN = frozenset({"host", "expect"})
# What RequestHeaderRules.classify says of a request header name.
_KEEP, _DROP, _UNDERSCORE, _UNDERSCORE_DROP = 0, 1, 2, 3

# Values ``upstream.set_headers`` may send: computed by the gateway, never copied from the client.
SetHeaderSource = Literal["client_ip", "proto", "host"]
UnderscoreAction = Literal["drop", "reject", "allow"]


class RequestHeaderRules:
    """What never goes upstream as the client sent it; built once per policy.

    ``strip`` adds names (lower case; a trailing ``*`` makes a prefix) to the
    default set; ``set_headers`` names headers set from the gateway's own
    values, so the client's copies are removed too.
    """

    __slots__ = ("drop_keep_length", "drop_with_length", "kinds", "prefixes", "set_headers")

    def __init__(self, strip: Iterable[str] = (), set_headers: Mapping[str, SetHeaderSource] | None = None) -> None:
        names = {n.lower() for n in strip if not n.endswith("*")}
        prefixes = tuple(n.lower()[:-1] for n in strip if n.endswith("*"))
        self.set_headers = tuple((set_headers or {}).items())
        names |= {name.lower() for name, _ in self.set_headers}
        self.drop_keep_length = HOP_BY_HOP | FORWARDING | _REQUEST_OWN | names
        self.drop_with_length = self.drop_keep_length | {"content-length"}
        self.prefixes = STRIPPED_PREFIXES + prefixes
        # Verdict per name as sent: names repeat across requests, so most cost one lookup.
        self.kinds: dict[str, int] = {}

    def classify(self, name: str) -> int:
        """_KEEP, _DROP, or for a name with '_': _UNDERSCORE (passes where allowed) or
        _UNDERSCORE_DROP (reads as a dropped name once '_' is taken as '-')."""
        lower = name.lower()
        if lower in self.drop_keep_length or lower.startswith(self.prefixes):
            kind = _DROP
        elif "_" in lower:
            folded = lower.replace("_", "-")
            stripped = folded in self.drop_keep_length or folded.startswith(self.prefixes)
            kind = _UNDERSCORE_DROP if stripped else _UNDERSCORE
        else:
            kind = _KEEP
        return remember(self.kinds, name, kind, 1024)


DEFAULT_RULES = RequestHeaderRules()


def connection_tokens(values: Iterable[str]) -> frozenset[str]:
    """Header names listed in Connection headers; they are hop-by-hop too."""
    return frozenset(
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    )


def _end_to_end(incoming: CIMultiDict[str] | CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    """A copy of ``incoming`` without ``drop`` and without the headers its Connection headers name."""
    named = incoming.getall("Connection", ())
    if named:
        drop = drop | connection_tokens(named)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in drop:
            out.add(name, value)
    return out


def upstream_request_headers(
    incoming: CIMultiDictProxy[str],
    *,
    client_ip: str,
    proto: str,
    forwarded_host: str,
    host: str,
    via: bool,
    keep_length: bool,
    rules: RequestHeaderRules = DEFAULT_RULES,
    underscores: UnderscoreAction = "drop",
) -> tuple[CIMultiDict[str], int]:
    """Headers to send upstream, and how many client fields had a '_' in their name.

    End-to-end headers of the client without ``rules``' drop set, plus our own
    forwarding set. With ``underscores`` other than ``allow`` the fields whose
    name holds a '_' are left out and counted (the caller refuses the request
    on ``reject``); with ``allow`` they pass, but a name that reads as a
    stripped one once '_' is taken as '-' is still removed.
    """
    drop = rules.drop_keep_length if keep_length else rules.drop_with_length
    # Names Connection lists beyond the usual hop-by-hop ones (most say just keep-alive).
    named = incoming.getall("Connection", ())
    extra = connection_tokens(named) - drop if named else frozenset()
    kinds = rules.kinds
    check = underscores != "allow"
    underscored = 0
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        kind = kinds.get(name)
        if kind is None:
            kind = rules.classify(name)
        if kind != _KEEP:
            if kind == _DROP:
                continue
            if check:
                underscored += 1
                continue
            if kind == _UNDERSCORE_DROP:
                continue
        if extra and name.lower() in extra:
            continue
        out.add(name, value)
    if not keep_length:
        out.popall("Content-Length", None)
    out["Host"] = host
    out["X-Forwarded-For"] = client_ip
    out["X-Forwarded-Proto"] = proto
    out["X-Forwarded-Host"] = forwarded_host
    for name, source in rules.set_headers:
        out[name] = client_ip if source == "client_ip" else proto if source == "proto" else forwarded_host
    if via:
        out.add("Via", "1.1 privacy-gateway")
    return out, underscored


def downstream_response_headers(incoming: CIMultiDict[str] | CIMultiDictProxy[str], *, via: bool) -> CIMultiDict[str]:
    """Headers of the upstream response that may reach the client."""
    out = _end_to_end(incoming, HOP_BY_HOP)
    if via:
        out.add("Via", "1.1 privacy-gateway")
    return out


def head_size(raw_headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of the header block as sent: ``name: value\\r\\n`` per field."""
    return sum(len(name) + len(value) + 4 for name, value in raw_headers)


def is_websocket_upgrade(headers: CIMultiDictProxy[str]) -> bool:
    return (
        headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in headers.get("Connection", "").lower()
    )


def forwarded_proto(headers: CIMultiDictProxy[str], *, trusted_peer: bool, secure: bool) -> str:
    """The scheme the client used: a trusted proxy's word for it, else this connection's."""
    if trusted_peer:
        claimed = headers.get("X-Forwarded-Proto", "").strip().lower()
        if claimed in ("http", "https"):
            return claimed
    return "https" if secure else "http"
