"""The request path and host as the gateway matches them.

Rules are matched against a normalised path while the raw target is forwarded
unchanged. That is only safe if the upstream cannot read the raw target as a
different path than the one we matched: every ambiguity is a way around a
firewall rule (``/public/..%2fagent/`` matched as public, served as
``/agent/``). So anything two servers could disagree on is rejected with
BadPath (the proxy answers 400) instead of being guessed.

The host is the other way round: it is parsed strictly and the normalised
value is both matched and forwarded, so rules decide on what the helpdesk
receives.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable

from ..lib.bounded import remember

# Unreserved, sub-delims, ':' and '@' (RFC 3986 pchar) plus '/': nothing to decode or doubt.
_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/]*")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})?")
_DOUBLE_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# C0, DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class BadPath(ValueError):
    """A path the gateway refuses to interpret; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _unescape(segment: str) -> str:
    # Non-ASCII arrives from aiohttp as surrogate-escaped bytes; undo that first.
    try:
        raw = segment.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise BadPath("not_utf8", "path is not valid UTF-8") from None

    def byte(m: re.Match[bytes]) -> bytes:
        if m.group(1) is None:
            raise BadPath("bad_escape", "path has a '%' not followed by two hex digits")
        return bytes((int(m.group(1), 16),))

    try:
        # Strict UTF-8 also refuses overlong forms (%c0%af for '/') that lax decoders accept.
        return _ESCAPE.sub(byte, raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("not_utf8", "path is not valid UTF-8 once percent-decoded") from None


def normalize_path(raw_path: str) -> str:
    """The path used for matching: decoded, parameters cut, slashes merged.

    ``raw_path`` is the origin-form request target as received (aiohttp's
    ``request.raw_path``; not ``request.path``, which already decoded %2F);
    a query is cut off. Rejected, each because some upstream reads it
    differently from a plain matcher:

    - ``not_absolute``: not starting with '/', nothing to match against;
    - ``fragment``: a raw '#', never sent by clients; servers cut it or not;
    - ``bad_escape``: '%' without two hex digits; servers repair these differently;
    - ``not_utf8``: bytes that are not UTF-8 (or overlong UTF-8) once decoded;
      servers fall back to Latin-1, best-fit mappings, or decode '/' from them;
    - ``dot_segment``: '.' or '..' (also %2e, and '..;x' which Tomcat reads as
      '..'); the upstream resolves them and lands outside the matched prefix;
    - ``encoded_slash``: %2F; some servers decode it into a separator, some not;
    - ``backslash``: '\\' or %5C; Windows servers and some frameworks read '/';
    - ``control_char``: NUL and other controls; C servers truncate at NUL and
      CR/LF end up in logs and headers;
    - ``double_escape``: '%25' followed by hex (``%252e``); a server that
      decodes twice sees an escape this matcher never saw.

    Kept but normalised: repeated slashes are merged (servers do, so
    ``//agent/`` is ``/agent/``), and ``;params`` are cut from each segment
    (servlet containers route ``/agent;x/`` to ``/agent/``, so rules must
    see ``/agent/`` too).
    """
    raw_path = raw_path.partition("?")[0]
    if not raw_path.startswith("/"):
        raise BadPath("not_absolute", "path does not start with '/'")
    if "#" in raw_path:
        raise BadPath("fragment", "path has a raw '#'")
    # Fast path: the common, fully plain path without dot segments or '//'.
    if _PLAIN.fullmatch(raw_path) and "//" not in raw_path and "/." not in raw_path:
        return raw_path
    out: list[str] = []
    for raw_segment in raw_path.split("/")[1:]:
        decoded = _unescape(raw_segment)
        # Checked whole, parameters included: a server that ignores ';' reads them as path.
        if "/" in decoded:
            raise BadPath("encoded_slash", "path has an encoded '/' (%2F)")
        if "\\" in decoded:
            raise BadPath("backslash", "path has a backslash")
        if _CONTROL.search(decoded):
            raise BadPath("control_char", "path has a control character")
        if "%" in decoded and _DOUBLE_ESCAPE.search(decoded):
            raise BadPath("double_escape", "path has a double percent-encoding (%25xx)")
        segment = decoded.partition(";")[0]
        if segment in (".", ".."):
            raise BadPath("dot_segment", "path has a '.' or '..' segment")
        out.append(segment)
    trailing = out[-1] == ""  # never empty: raw_path starts with "/"
    path = "/" + "/".join(s for s in out if s)
    return path + "/" if trailing and path != "/" else path


class BadHost(ValueError):
    """A Host (or trusted X-Forwarded-Host) value the gateway refuses to interpret."""


# reg-name labels as DNS and the common servers read them, an optional trailing dot, an
# optional port; no percent-escapes, sub-delims, userinfo, whitespace or second port.
_HOST = re.compile(r"((?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63})\.?(?::([1-9][0-9]{0,4}))?")
_IPV6_HOST = re.compile(r"\[([0-9a-f:.]+)\](?::([1-9][0-9]{0,4}))?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_IPV4_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")


_HOST_MEMO: dict[str, tuple[str, str]] = {}


def parse_host(value: str) -> tuple[str, str]:
    """``(authority, name)`` of a Host value (see _parse_host); good answers are remembered."""
    hit = _HOST_MEMO.get(value)
    if hit is not None:
        return hit
    return remember(_HOST_MEMO, value, _parse_host(value), 256)


def _parse_host(value: str) -> tuple[str, str]:
    """``(authority, name)`` of a Host value: ``uri-host [":" port]``, normalised once.

    ``authority`` is what goes upstream (Host and X-Forwarded-Host): lower case,
    one trailing dot removed, the port kept. ``name`` is what rules and
    ``listen.server_names`` match: the same without port and brackets. A
    reg-name whose last label is a number must be a plain dotted-quad IPv4
    address: ``127.1`` or ``0x7f.0.0.1`` mean 127.0.0.1 to some parsers and a
    name to others. Ports are 1-65535 without leading zeros. Anything else
    raises BadHost: lists (``a, b``), userinfo, ``host:80:80``, paths,
    ``;``, whitespace, percent-escapes, IPv6 zone ids.
    """
    if not value.isascii():  # str.lower() maps some non-ASCII letters to ASCII ones
        raise BadHost("host is not ASCII")
    lower = value.lower()
    m = _HOST.fullmatch(lower)
    if m is not None:
        name, port = m.group(1), m.group(2)
        if len(name) > 253:
            raise BadHost("host name is longer than 253 characters")
        last = name.rpartition(".")[2]
        if _NUMERIC_LABEL.fullmatch(last):
            octets = name.split(".")
            if len(octets) != 4 or not all(_IPV4_OCTET.fullmatch(o) and int(o) < 256 for o in octets):
                raise BadHost("host is neither a name nor a dotted-quad IPv4 address")
    else:
        m = _IPV6_HOST.fullmatch(lower)
        if m is None:
            raise BadHost("host is not a name, IPv4 or [IPv6] address with an optional port")
        name, port = m.group(1), m.group(2)
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            raise BadHost("host has a malformed IPv6 address") from None
    if port is None:
        return (f"[{name}]" if m.re is _IPV6_HOST else name), name
    if int(port) > 65535:
        raise BadHost("host has a port above 65535")
    return (f"[{name}]:{port}" if m.re is _IPV6_HOST else f"{name}:{port}"), name


def normalize_host(host: str) -> str:
    """Host as rules match it: lower case, no port, no brackets, no trailing dot.

    Idempotent, so it may be applied to a host the proxy already cleaned.
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:  # name or IPv4 with a port; a bare IPv6 has more colons
        host = host.partition(":")[0]
    return host.removesuffix(".")


def server_name_matcher(names: tuple[str, ...] | None) -> Callable[[str], bool] | None:
    """A test for a normalised host name against ``listen.server_names``; None serves every host.

    ``*.example.com`` matches every name below example.com (any depth, as
    NGINX's ``server_name``), not example.com itself.
    """
    if names is None:
        return None
    exact = frozenset(n for n in names if not n.startswith("*."))
    suffixes = tuple(n[1:] for n in names if n.startswith("*."))
    if not suffixes:
        return exact.__contains__
    return lambda host: host in exact or host.endswith(suffixes)
