"""The request path and host as the gateway matches them.

Rules are matched against a normalised path while the raw target is forwarded
unchanged. That is only safe if the upstream cannot read the raw target as a
different path than the one we matched: every ambiguity is a way around a
firewall rule (``/public/..%2fagent/`` matched as public, served as
``/agent/``). So anything two servers could disagree on is rejected with
BadPath (the proxy answers 400) instead of being guessed.
"""

from __future__ import annotations

import re

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
