"""Personal data in request bodies: flagged to the helpdesk, masked, or refused before it arrives.

On a request whose route or path some ``sensitive.rules`` name (or on every
request when ``sensitive.sensitive_fields`` is set) and whose body is a form,
a multipart form, JSON or text/plain, each text in the body is scanned.
``sensitive_fields`` come first: a field they name is masked or refused
whole, whatever it holds. Otherwise, for each value found, the first rule
whose fields and detectors fit decides (a shadow rule is counted and
skipped, as in the firewall):

- ``flag``: the value passes; ``X-Privacy-Flags: no_fnr,card`` (the kinds
  found) goes upstream. A client's own X-Privacy-Flags never does.
- ``mask``: the value becomes ``*******1234`` or ``[card:1a2b3c4d]``.
- ``reject``: 422 ``sensitive_data``, naming the field and the kind of data.

Only the replaced bytes change (see ``http.forms``); the proxy sets the
new Content-Length. A body that does not parse as its type is refused (400
``unreadable_body``) unless every rule that applies is in shadow mode: what
cannot be read cannot be checked. Values never reach a log, a metric or a
reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import translate
from typing import TYPE_CHECKING, Literal

from ..chain import RejectBody
from ..exchange import LocalReply
from ..http.encoding import response_charset
from ..http.forms import Decoded, Unreadable, decode, kind_of
from ..lib.keyring import decode_secret
from ..policy.schema import RouteMatch
from ..rewrite.htmlstream import HtmlStreamRewriter
from ..routing import Matcher
from ..sensitive import actions
from ..sensitive.custom import from_spec
from ..sensitive.kinds import describe
from ..sensitive.pages import PageMarks, PageRule
from ..sensitive.scanner import Scanner, builtin_detectors
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import BodyRewriter, Exchange
    from ..metrics import Metrics
    from ..policy.schema import Policy
    from ..policy.sensitive import Sensitive, SensitiveField, SensitivePage, SensitiveRule
    from ..sensitive.base import Detector
    from ..store import Store

log = logging.getLogger("gateway.sensitive")

NAME = "sensitive"  # the policy section
FLAGS_HEADER = "X-Privacy-Flags"
FIELD_KIND = "field"  # the kind counted for a sensitive_fields match

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
UNREADABLE = LocalReply(400, "unreadable_body", "The gateway could not read this request body to check it for personal data.")
_SAFE_FIELD = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")


def _globs(globs: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Case-insensitive field globs; a glob with a dot is matched against the dotted JSON path."""
    return tuple((re.compile(translate(g.lower()), re.S), "." in g) for g in globs)


def _field_matches(globs: tuple[tuple[re.Pattern[str], bool], ...], field: str, path: str) -> bool:
    return any(p.match((path if dotted else field).lower()) is not None for p, dotted in globs)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    routes: frozenset[str] | None
    matcher: Matcher | None
    fields: tuple[tuple[re.Pattern[str], bool], ...]
    kinds: frozenset[str] | None
    action: Literal["flag", "mask", "reject"]
    mask: Literal["last4", "token"]
    mode: Literal["enforce", "shadow"]

    @classmethod
    def of(cls, rule: SensitiveRule) -> _Rule:
        return cls(
            rule.name, None if rule.routes is None else frozenset(rule.routes),
            None if rule.path is None else Matcher(RouteMatch(path=rule.path)), _globs(rule.fields),
            None if rule.detectors is None else frozenset(rule.detectors), rule.action, rule.mask,
            "shadow" if rule.shadow else "enforce",
        )

    def applies(self, ex: Exchange) -> bool:
        if self.routes is not None and ex.route.name not in self.routes:
            return False
        return self.matcher is None or self.matcher.matches(ex.method, ex.host, ex.path)


@dataclass(frozen=True, slots=True)
class _Field:
    globs: tuple[tuple[re.Pattern[str], bool], ...]
    action: Literal["mask", "reject"]
    mask: Literal["last4", "token"]
    mode: Literal["enforce", "shadow"]

    @classmethod
    def of(cls, spec: SensitiveField) -> _Field:
        return cls(_globs((spec.field,)), spec.action, spec.mask, "shadow" if spec.shadow else "enforce")


@dataclass(frozen=True, slots=True)
class _Page:
    routes: frozenset[str] | None
    matcher: Matcher | None
    rule: PageRule

    @classmethod
    def of(cls, page: SensitivePage) -> _Page:
        return cls(
            None if page.routes is None else frozenset(page.routes),
            None if page.path is None else Matcher(RouteMatch(path=page.path)),
            PageRule(page.name, None if page.detectors is None else frozenset(page.detectors), page.mark, page.mask,
                     page.notice, page.shadow),
        )

    def applies(self, ex: Exchange) -> bool:
        if self.routes is not None and ex.route.name not in self.routes:
            return False
        return self.matcher is None or self.matcher.matches(ex.method, ex.host, ex.path)


def detectors_for(config: Sensitive) -> list[Detector]:
    """The built-in and custom detectors whose kinds some rule or page names (all when one names none)."""
    wanted: set[str] | None = set()
    for scope in (*config.rules, *config.pages):
        if scope.detectors is None or wanted is None:
            wanted = None
        else:
            wanted.update(scope.detectors)
    custom: list[Detector] = [from_spec(spec) for spec in config.custom_detectors()]
    return [d for d in builtin_detectors() + custom if wanted is None or wanted.intersection(d.kinds)]


class SensitiveData(Filter):
    """Scans request bodies for personal data and flags, masks or refuses it; marks it on agents' pages."""

    name = NAME

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        config = policy.sensitive
        self._rules = tuple(_Rule.of(rule) for rule in config.rules)
        self._fields = tuple(_Field.of(spec) for spec in config.sensitive_fields)
        self._pages = tuple(_Page.of(page) for page in config.pages)
        # Bodies are decompressed for the page rewriter only when some page is marked.
        self.rewrites_responses = bool(self._pages)  # type: ignore[misc]  # per policy, not per class
        self._content_types = frozenset(config.content_types)
        self._key = decode_secret(config.keys[0].secret) if config.keys else b""
        self._scanner = Scanner(detectors_for(config), floor=config.floor)

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        config = policy.sensitive
        return config.enabled and bool(config.rules or config.sensitive_fields or config.pages)

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        # Only the gateway says what a body holds: a client's own flags would be believed upstream.
        ex.upstream_headers.popall(FLAGS_HEADER, None)
        return None

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        if not self._pages or not ex.rewrite_body or ex.method == "HEAD":
            return None
        if ex.response_status in (204, 304) or ex.response_status < 200:
            return None
        mime, _, params = ex.response_headers.get("Content-Type", "").partition(";")
        if mime.strip().lower() not in PAGE_TYPES:
            return None
        rules = [page.rule for page in self._pages if page.applies(ex)]
        if not rules:
            return None
        route = ex.route.name
        decided: set[tuple[str, str, str]] = set()

        def count(kind: str, rule: PageRule, mode: str) -> None:
            self.metrics.sensitive_detections.labels(kind, rule.mark, route, mode).inc()
            if (rule.mark, rule.name, mode) not in decided:
                decided.add((rule.mark, rule.name, mode))
                ex.decide(NAME, rule.mark, rule.name, mode)

        marks = PageMarks(self._scanner, rules, key=self._key, counted=count)
        return HtmlStreamRewriter(marks.mark, at_body_end=marks.notice, encoding=response_charset(params))

    def wants_request_body(self, ex: Exchange) -> bool:
        kind, _ = kind_of(ex.request.headers.get("Content-Type", ""))
        if kind is None or kind not in self._content_types:
            return False
        rules = tuple(rule for rule in self._rules if rule.applies(ex))
        if not rules and not self._fields:
            return False
        ex.notes[NAME] = rules
        return True

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        rules: tuple[_Rule, ...] = ex.notes.get(NAME, ())
        enforcing = any(r.mode == "enforce" for r in rules) or any(f.mode == "enforce" for f in self._fields)
        try:
            encoding = ex.request.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise Unreadable("an encoded request body")
            decoded = decode(ex.request.headers.get("Content-Type", ""), body, self._content_types)
        except Unreadable:
            if enforcing:
                ex.decide(NAME, "unreadable")
                raise RejectBody(UNREADABLE) from None
            ex.decide(NAME, "unreadable", mode="shadow")
            return body
        if decoded is None:
            return body
        return self._apply(ex, rules, decoded, body)

    def _apply(self, ex: Exchange, rules: tuple[_Rule, ...], decoded: Decoded, body: bytes) -> bytes:
        flags: set[str] = set()
        replacements: dict[int, str] = {}
        taken: set[tuple[str, str, str]] = set()

        def count(kind: str, action: str, mode: str, rule: str) -> None:
            self.metrics.sensitive_detections.labels(kind, action, ex.route.name, mode).inc()
            if (action, rule, mode) not in taken:
                taken.add((action, rule, mode))
                ex.decide(NAME, action, rule, mode)

        for index, part in enumerate(decoded.parts):
            whole = self._whole_field(part.field, part.path, count)
            if whole is not None:
                if whole.action == "reject":
                    self._reject(ex, part.field, FIELD_KIND, "sensitive_fields")
                replacements[index] = self._masked(whole.mask, FIELD_KIND, part.text)
                continue
            applicable = [rule for rule in rules if _field_matches(rule.fields, part.field, part.path)]
            if not applicable or not part.text:
                continue
            spans: list[tuple[int, int, str]] = []
            for detection in self._scanner.scan(part.text):
                for rule in applicable:
                    if rule.kinds is not None and detection.kind not in rule.kinds:
                        continue
                    count(detection.kind, rule.action, rule.mode, rule.name)
                    if rule.mode == "shadow":
                        continue
                    if rule.action == "reject":
                        self._reject(ex, part.field, detection.kind, rule.name)
                    elif rule.action == "flag":
                        flags.add(detection.kind)
                    else:
                        value = part.text[detection.start:detection.end]
                        spans.append((detection.start, detection.end, self._masked(rule.mask, detection.kind, value)))
                    break
            if spans:
                replacements[index] = actions.replace_spans(part.text, spans)
        if flags:
            ex.upstream_headers[FLAGS_HEADER] = ",".join(sorted(flags))
        return decoded.encode(replacements) if replacements else body

    def _whole_field(self, field: str, path: str, count: Callable[[str, str, str, str], None]) -> _Field | None:
        for spec in self._fields:
            if _field_matches(spec.globs, field, path):
                count(FIELD_KIND, spec.action, spec.mode, "sensitive_fields")
                if spec.mode == "enforce":
                    return spec
        return None

    def _masked(self, style: str, kind: str, value: str) -> str:
        return actions.token(self._key, kind, value) if style == "token" else actions.last4(value)

    def _reject(self, ex: Exchange, field: str, kind: str, rule: str) -> None:
        log.info("request refused: personal data in the body",
                 extra={"fields": {"kind": kind, "rule": rule, "route": ex.route.name}})
        raise RejectBody(LocalReply(422, "sensitive_data", reject_message(field, kind, self._scanner)))


def reject_message(field: str, kind: str, scanner: Scanner) -> str:
    """Names the field (unless its name itself looks like data) and the kind; never the value."""
    if not field:
        where = "The text sent"
    elif _SAFE_FIELD.fullmatch(field) and not scanner.scan(field):
        where = f"The field '{field}'"
    else:
        where = "A field"
    if kind == FIELD_KIND:
        return f"{where} may not be sent here. Remove it and send again."
    return f"{where} holds {describe(kind)} ({kind}). Remove it and send again."
