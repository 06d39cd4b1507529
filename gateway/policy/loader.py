"""Loading a policy from a file or a directory, reporting every problem at once.

A policy is one YAML file, or a directory of them. A directory merges every
``*.yaml`` and ``*.yml`` file directly in it, in lexical order of file name
(hidden files and subdirectories are skipped; symbolic links to files, as
Kubernetes ConfigMaps mount them, are followed):

- mappings merge key by key, recursively;
- lists concatenate in file order, so the firewall rules of ``10-base.yaml``
  are checked before those of ``20-site.yaml``;
- any other value (a number, a string, ...) may be set by one file only;
  setting it in two is an error naming both places.

Lexical means character by character: ``9-x.yaml`` sorts after ``10-y.yaml``,
so number prefixes should have the same width. In messages a list index is
the index in the merged list; the ``file:line`` prefix names the file.

Validation collects everything it finds: YAML problems, every pydantic error
(placed on the line of the deepest key that exists), then checks across the
policy: named ip lists exist and do not refer to each other in a cycle, route
and firewall rule names are unique, secrets and passwords are written as
``${...}`` references (checked on the text as written, before substitution).
Any problem raises ``PolicyError``.

Reloads read the files twice, a moment apart, and use them only when both
reads agree, so a file caught while it is being rewritten is not loaded.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from .errors import Issue, Loc, PolicyError, describe, show
from .requests import check_mail_route
from .schema import Policy
from .sensitive import KINDS as SENSITIVE_KINDS
from .units import NAME, is_address_literal
from .yamlsource import MAX_BYTES, Node, parse_yaml

__all__ = ["LoadedPolicy", "PolicyError", "load_policy", "load_policy_text"]

_MAX_MESSAGE = 300
_MISSING_UPSTREAM = "required key missing: the helpdesk's base URL, e.g. http://helpdesk.internal:8000"


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A valid policy and where it came from."""

    policy: Policy
    checksum: str  # sha256 hex over file names and contents
    files: tuple[Path, ...]

    @property
    def short_checksum(self) -> str:
        """Enough of the checksum for a log line or a metric label."""
        return self.checksum[:12]


Source = tuple[str, bytes, Path]  # file name as shown, its bytes, the directory ${file:...} resolves in

SETTLE_SECONDS = 0.075  # between the two reads of a reload
_SETTLE_READS = 5  # at most this many reads, so a reload waits at most 0.3 s for a writer


def load_policy(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    default_upstream: str | None = None,
    settle: float = 0.0,
) -> LoadedPolicy:
    """Load and validate the policy file or directory at ``path``.

    ``env`` resolves ``${NAME}`` references; absent: the process environment.
    ``default_upstream`` is the upstream URL when the policy names none (the
    demo command's own helpdesk). With ``settle`` > 0 (reloads), the files are
    only used once two reads ``settle`` seconds apart agree: an editor or a
    deploy tool caught between truncating and rewriting a file is waited for,
    and a file that keeps changing is an error rather than half a policy.
    """
    root = Path(path)
    files, sources, issues = _read(root)
    if settle > 0:
        for _ in range(_SETTLE_READS - 1):
            time.sleep(settle)
            again = _read(root)
            if again == (files, sources, issues):
                break
            files, sources, issues = again
        else:
            raise PolicyError([
                Issue(str(root), 0, (), f"the policy files kept changing while being read "
                      f"({_SETTLE_READS} reads {settle * 1000:.0f} ms apart); not loaded")
            ])
    if issues:
        raise PolicyError(issues)
    return LoadedPolicy(_compile(sources, env, default_upstream), _checksum(sources), tuple(files))


def _read(root: Path) -> tuple[list[Path], list[Source], list[Issue]]:
    """The policy files at ``root``, their contents, and the problems reading them."""
    if root.is_dir():
        files = sorted(
            (p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()),
            key=lambda p: p.name,
        )
        if not files:
            return [], [], [Issue(str(root), 0, (), "no *.yaml or *.yml files in this directory")]
    else:
        files = [root]
    sources: list[Source] = []
    unreadable: list[Issue] = []
    for file in files:
        try:
            with file.open("rb") as handle:
                sources.append((str(file), handle.read(MAX_BYTES + 1), file.parent))
        except OSError as exc:
            unreadable.append(Issue(str(file), 0, (), f"cannot read: {exc.strerror or exc}"))
    return files, sources, unreadable


def load_policy_text(
    text: str,
    name: str = "<string>",
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    default_upstream: str | None = None,
) -> LoadedPolicy:
    """Load a policy from a string; ``name`` stands for the file in messages.

    Relative ``${file:...}`` paths resolve against ``base_dir`` (absent: the
    current directory); ``default_upstream`` as in ``load_policy``.
    """
    data = text.encode("utf-8", "surrogatepass")
    sources = [(name, data, base_dir or Path.cwd())]
    return LoadedPolicy(_compile(sources, env, default_upstream), _checksum(sources), ())


def _checksum(sources: list[Source]) -> str:
    digest = hashlib.sha256()
    for name, data, _ in sorted(sources, key=lambda s: Path(s[0]).name):
        digest.update(Path(name).name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def _compile(sources: list[Source], env: Mapping[str, str] | None, default_upstream: str | None) -> Policy:
    issues: list[Issue] = []
    root: Node | None = None
    complete = True
    for name, data, base_dir in sources:
        tree, found = parse_yaml(data, name, base_dir=base_dir, env=os.environ if env is None else env)
        issues += found
        if tree is None:
            complete = False
        elif root is None:
            root = tree
        else:
            root = _merge(root, tree, (), issues)
    if root is None:
        raise PolicyError(issues)
    if default_upstream is not None:
        _default_upstream(root, default_upstream)
    issues += _check_secrets(root, ())  # before validation: it marks the nodes it reports
    policy = _validate(root, issues)
    issues += _check_names(root, "routes", "route") + _check_names(root, "firewall.rules", "rule")
    issues += _check_names(root, "notifications.rules", "rule") + _check_notification_names(root)
    issues += _check_notification_link(root) + check_mail_route(root)
    issues += _check_names(root, "sensitive.rules", "rule") + _check_names(root, "sensitive.pages", "page rule")
    issues += _check_names(root, "sensitive.detectors", "detector") + _check_sensitive_routes(root)
    if policy is not None:
        issues += _check_sensitive_kinds(root, policy)
    if complete:  # a list defined in an unreadable file would show up as unknown
        issues += _check_ip_lists(root)
    if issues or policy is None:
        raise PolicyError(issues)
    return policy


def _merge(base: Node, extra: Node, loc: Loc, issues: list[Issue]) -> Node:
    if isinstance(base.value, dict) and isinstance(extra.value, dict):
        merged = dict(base.value)
        for key, node in extra.value.items():
            merged[key] = _merge(merged[key], node, loc + (key,), issues) if key in merged else node
        return Node(merged, base.file, base.line, broken=base.broken or extra.broken)
    if isinstance(base.value, list) and isinstance(extra.value, list):
        return Node(base.value + extra.value, base.file, base.line, broken=base.broken or extra.broken)
    issues.append(Issue(extra.file, extra.line, loc, f"already set in {base.file}:{base.line}"))
    return base


def _validate(root: Node, issues: list[Issue]) -> Policy | None:
    try:
        return Policy.model_validate(root.plain())
    except ValidationError as exc:
        errors = exc.errors()
    # Outside the except block: the ValidationError (which holds the raw input,
    # secrets included) must not become the context of a later PolicyError.
    for error in errors:
        loc = tuple(step for step in error["loc"] if step != "[key]")
        node, exact = root.find(loc)
        # A value already reported (unset variable, tag, alias) would only echo
        # that problem; an unknown key is a problem of its own.
        if exact and error["type"] != "extra_forbidden" and any(n.broken for n in node.walk()):
            continue
        if exact and node.secrets and isinstance(error["input"], str):
            shown = repr(node.raw)
        else:
            shown = show(error["input"])
        message = node.redact(describe(error, shown))
        if error["type"] == "missing" and loc in (("upstream",), ("upstream", "url")):
            loc, message = ("upstream", "url"), _MISSING_UPSTREAM
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        issues.append(Issue(node.file, node.line, loc, message))
    return None


def _default_upstream(root: Node, url: str) -> None:
    """Give the policy ``upstream.url = url`` unless it names its own (or is broken there)."""
    if not isinstance(root.value, dict):
        return
    upstream = root.value.get("upstream")
    if upstream is None:
        root.value["upstream"] = Node({"url": Node(url, root.file, root.line)}, root.file, root.line)
    elif isinstance(upstream.value, dict) and "url" not in upstream.value:
        upstream.value["url"] = Node(url, upstream.file, upstream.line)


# Keys whose values are key material or passwords, wherever they appear.
_SECRET_KEYS = frozenset({"secret", "password", "passphrase", "secret_access_key", "session_token",
                          "recipient_salt", "key",  # key: a private key (PEM), as the APNs listener's
                          "token", "api_token"})  # a helpdesk's API credentials
_SECRET_SUFFIXES = ("_secret", "_password")
# One reference, optionally after the encoding prefix that decode_secret reads.
_SECRET_REF = re.compile(r"(?:(?:base64|hex|raw):)?\$\{(?:file:[^}]+|[A-Za-z_][A-Za-z0-9_]*)\}")
_BARE_REF = re.compile(r"\$\{(?:file:[^}]+|[A-Za-z_][A-Za-z0-9_]*)\}")
_USERINFO = re.compile(r"(?P<user>(?:\$\{[^}]*\}|[^:])*)(?::(?P<password>.*))?", re.S)
_INLINE_SECRET = "key material must be a reference, not inline: write ${ENV_VAR} or ${file:path}"
_INLINE_PASSWORD = (
    "the password must be a reference, not inline: write postgresql://user:${PGPASSWORD}@host/db"
)


def _check_secrets(node: Node, loc: Loc) -> list[Issue]:
    """Secrets are given as ``${ENV}`` or ``${file:...}``, never written into the policy.

    This reads the text as written (``raw``), before references were
    substituted: after substitution a referenced secret looks inline too.
    """
    issues: list[Issue] = []
    if isinstance(node.value, list):
        for index, item in enumerate(node.value):
            issues += _check_secrets(item, loc + (index,))
    if not isinstance(node.value, dict):
        return issues
    for key, child in node.value.items():
        here = loc + (key,)
        written = child.raw if child.raw is not None else child.value
        if not isinstance(written, str) or child.broken:
            issues += _check_secrets(child, here)
            continue
        if key in _SECRET_KEYS or key.endswith(_SECRET_SUFFIXES):
            problem = None if _SECRET_REF.fullmatch(written) else _INLINE_SECRET
        elif here == ("store", "url"):
            problem = None if _store_password_is_ref(written) else _INLINE_PASSWORD
        else:
            continue
        if problem is not None:
            child.broken = True  # its other problems ("too short") would only echo this one
            issues.append(Issue(child.file, child.line, here, problem))
    return issues


def _store_password_is_ref(url: str) -> bool:
    """No password in the URL, or every one given as a reference (userinfo or ``?password=``)."""
    if _BARE_REF.fullmatch(url):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: the store setting reports it
        return True
    passwords = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower().endswith("password")]
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        match = _USERINFO.fullmatch(userinfo)
        if match is not None and match.group("password") is not None:
            passwords.append(match.group("password"))
    return all(_BARE_REF.fullmatch(password) for password in passwords)


def _child(node: Node | None, dotted: str) -> Node | None:
    for key in dotted.split("."):
        if node is None or not isinstance(node.value, dict):
            return None
        node = node.value.get(key)
    return node


def _items(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _where(first: Node, here: Node) -> str:
    return f"line {first.line}" if first.file == here.file else f"{first.file}:{first.line}"


def _check_names(root: Node, section: str, what: str) -> list[Issue]:
    """Names label metrics and logs: two routes (or rules) must not share one."""
    issues: list[Issue] = []
    seen: dict[str, Node] = {}
    loc: Loc = tuple(section.split("."))
    for index, item in enumerate(_items(_child(root, section))):
        name = _child(item, "name")
        if name is None or not isinstance(name.value, str):
            continue
        first = seen.setdefault(name.value, name)
        if first is not name:
            message = f"duplicate {what} name {name.value!r} (first at {_where(first, name)})"
            issues.append(Issue(name.file, name.line, loc + (index, "name"), name.redact(message)))
    return issues


def _check_notification_names(root: Node) -> list[Issue]:
    """Audiences and templates that notification rules name must exist (reported where they are named)."""
    issues: list[Issue] = []
    for key, section in (("audience", "notifications.audiences"), ("template", "notifications.templates")):
        defined_node = _child(root, section)
        defined = list(defined_node.value) if defined_node is not None and isinstance(defined_node.value, dict) else []
        for index, rule in enumerate(_items(_child(root, "notifications.rules"))):
            node = _child(rule, key)
            if node is None or not isinstance(node.value, str) or node.value in defined:
                continue
            message = f"unknown {key} {node.value!r}"
            close = difflib.get_close_matches(node.value, defined, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            elif not defined:
                message += f" (define {section})"
            issues.append(Issue(node.file, node.line, ("notifications", "rules", index, key), node.redact(message)))
    return issues


def _check_notification_link(root: Node) -> list[Issue]:
    """A neutral message's link is signed with the links key ring and served by the links endpoint."""
    link = _child(root, "notifications.link")
    enabled = _child(root, "notifications.enabled")
    if link is None or enabled is None or enabled.value is not True:
        return []
    links_on = _child(root, "links.enabled")
    if not _items(_child(root, "links.keys")) or links_on is None or links_on.value is not True:
        message = "the case link is signed and served by links: set links.enabled: true and links.keys"
        return [Issue(link.file, link.line, ("notifications", "link"), message)]
    return []


def _check_sensitive_routes(root: Node) -> list[Issue]:
    """Routes that sensitive rules and pages name must exist (``default`` is the route of every unmatched request)."""
    defined = [n.value for n in (_child(r, "name") for r in _items(_child(root, "routes")))
               if n is not None and isinstance(n.value, str)] + ["default"]
    return _check_named(root, "routes", "route", defined, " (define it in routes)")


def _check_sensitive_kinds(root: Node, policy: Policy) -> list[Issue]:
    """Kinds that sensitive rules and pages name: built-in ones, or a custom or Presidio detector's."""
    known = list(SENSITIVE_KINDS) + list(policy.sensitive.custom_kinds())
    hint = f" (known: {', '.join(known)}; or add a detector in sensitive.detectors or presidio)"
    return _check_named(root, "detectors", "kind", known, hint)


def _check_named(root: Node, key: str, what: str, known: list[str], hint: str) -> list[Issue]:
    """Each name in ``sensitive.rules[].<key>`` and ``sensitive.pages[].<key>`` is one of ``known``."""
    issues: list[Issue] = []
    for section in ("rules", "pages"):
        for index, rule in enumerate(_items(_child(root, f"sensitive.{section}"))):
            for i, node in enumerate(_items(_child(rule, key))):
                if not isinstance(node.value, str) or node.value in known:
                    continue
                close = difflib.get_close_matches(node.value, known, n=1)
                message = f"unknown {what} {node.value!r}" + (f" (did you mean {close[0]!r}?)" if close else hint)
                loc: Loc = ("sensitive", section, index, key, i)
                issues.append(Issue(node.file, node.line, loc, node.redact(message)))
    return issues


def _references(root: Node, lists: dict[str, Node]) -> Iterator[tuple[Loc, Node]]:
    """Every entry that may name an ip list, with its path."""
    for name, entries in lists.items():
        for i, node in enumerate(_items(entries)):
            yield ("ip_lists", name, i), node
    for i, node in enumerate(_items(_child(root, "client_ip.trusted_proxies"))):
        yield ("client_ip", "trusted_proxies", i), node
    for r, rule in enumerate(_items(_child(root, "firewall.rules"))):
        for key in ("allow", "deny"):
            for i, node in enumerate(_items(_child(rule, key))):
                yield ("firewall", "rules", r, key, i), node
    for channel in ("smtp", "egress"):
        for i, node in enumerate(_items(_child(root, f"notifications.{channel}.allow"))):
            yield ("notifications", channel, "allow", i), node


def _list_name(node: Node) -> str | None:
    """The ip list an entry names; None for address literals and malformed entries."""
    if not isinstance(node.value, str) or node.broken:
        return None
    text = node.value.strip()
    return text if NAME.match(text) and not is_address_literal(text) else None


def _check_ip_lists(root: Node) -> list[Issue]:
    lists_node = _child(root, "ip_lists")
    lists = lists_node.value if lists_node is not None and isinstance(lists_node.value, dict) else {}
    issues: list[Issue] = []
    edges: dict[str, list[tuple[Loc, Node, str]]] = {name: [] for name in lists}
    for loc, node in _references(root, lists):
        name = _list_name(node)
        if name is None:
            continue
        if name in lists:
            if loc[0] == "ip_lists":
                edges[str(loc[1])].append((loc, node, name))
            continue
        message = f"unknown ip list {name!r}"
        close = difflib.get_close_matches(name, list(lists), n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        issues.append(Issue(node.file, node.line, loc, node.redact(message)))
    return issues + _find_cycles(edges)


def _find_cycles(edges: dict[str, list[tuple[Loc, Node, str]]]) -> list[Issue]:
    """Report each reference that closes a cycle; iterative, as lists may chain deeply."""
    issues: list[Issue] = []
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(edges[start])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                on_path.discard(path[-1])
                done.add(path.pop())
                continue
            loc, node, target = step
            if target in on_path:
                cycle = " -> ".join(path[path.index(target):] + [target])
                issues.append(Issue(node.file, node.line, loc, f"ip lists refer to each other in a cycle: {cycle}"))
            elif target not in done:
                path.append(target)
                on_path.add(target)
                stack.append(iter(edges[target]))
    return issues
