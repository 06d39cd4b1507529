"""Safe YAML reading that remembers where every value came from.

We stop at PyYAML's SafeLoader *compose* step and never construct objects from
tags: the node graph becomes a tree of ``Node`` that carry file and line, so
validation can point at the source. Rejected, each with its line:

- explicit tags (``!tag``, ``!!python/...``): nothing is ever built from a tag;
- anchors and aliases: an alias bomb composes cheaply and explodes when
  expanded; shared addresses belong in ``ip_lists``;
- duplicate keys, non-string keys, a top level that is not a mapping;
- an empty document (an empty file, only comments, ``null``, ``{}``);
- files over 1 MiB, text that is not UTF-8, invalid YAML.

String values may refer to secrets: ``${NAME}`` is the environment variable
NAME, ``${file:PATH}`` the content of PATH (relative to the policy file's
directory) less one trailing newline, and ``$${`` a literal ``${``. A node
remembers what was substituted so error messages can show the reference
instead of the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from .errors import Issue, Loc

MAX_BYTES = 1 << 20
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_STRING_KEY_TAGS = {_TAG + "str", _TAG + "merge", _TAG + "value"}
_REF = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\}?)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_ALIASES = "anchors and aliases are not allowed ({}); name shared addresses once under ip_lists"

Scalar = str | int | float | bool | None


@dataclass(slots=True)
class Node:
    """A value with its origin. Mapping values carry their key's line."""

    value: dict[str, Node] | list[Node] | Scalar
    file: str
    line: int
    raw: str | None = None  # source text, when ${...} references were substituted
    secrets: tuple[tuple[str, str], ...] = ()  # (substituted value, reference)
    broken: bool = False  # an issue is already reported here; further ones are noise

    def plain(self) -> object:
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value

    def find(self, loc: Loc) -> tuple[Node, bool]:
        """The deepest node along ``loc``, and whether all of ``loc`` exists."""
        node = self
        for step in loc:
            if isinstance(node.value, dict) and isinstance(step, str) and step in node.value:
                node = node.value[step]
            elif isinstance(node.value, list) and isinstance(step, int) and 0 <= step < len(node.value):
                node = node.value[step]
            else:
                return node, False
        return node, True

    def walk(self) -> Iterator[Node]:
        yield self
        if isinstance(self.value, (dict, list)):
            for child in self.value.values() if isinstance(self.value, dict) else self.value:
                yield from child.walk()

    def redact(self, text: str) -> str:
        """Replace any secret from this subtree in ``text`` by its reference."""
        pairs: list[tuple[str, str]] = []
        for node in self.walk():
            if node.secrets and isinstance(node.value, str) and node.raw is not None:
                pairs += [(node.value, node.raw), *node.secrets]
        for value, ref in sorted(pairs, key=lambda p: -len(p[0])):
            if value:  # quoted forms first, so the quotes do not hint at the content
                for form, replacement in ((repr(value), repr(ref)), (value, ref), (repr(value)[1:-1], ref)):
                    text = text.replace(form, replacement)
        return text


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer notes tags and anchors instead of honouring them."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.rejected: dict[int, list[str]] = {}  # id(yaml node) -> problems
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(AliasEvent):
            alias = self.get_event()  # type: ignore[no-untyped-call]
            node: yaml.Node = ScalarNode(_TAG + "null", "", alias.start_mark, alias.end_mark)
            self.rejected[id(node)] = [_NO_ALIASES.format(f"'*{alias.anchor}'")]
            return node
        event = self.peek_event()  # type: ignore[no-untyped-call]
        problems = []
        if event.anchor is not None:
            problems.append(_NO_ALIASES.format(f"'&{event.anchor}'"))
        if event.tag is not None:
            tag = "!!" + event.tag[len(_TAG):] if event.tag.startswith(_TAG) else event.tag
            problems.append(f"YAML tags are not allowed ({tag!r})")
        if self.depth >= MAX_DEPTH:
            raise _TooDeep(event.start_mark.line + 1)
        self.depth += 1
        self.descend_resolver(parent, index)
        # Anchors are never registered, so no alias can ever be resolved.
        if self.check_event(ScalarEvent):
            node = self.compose_scalar_node(None)  # type: ignore[arg-type]
        elif self.check_event(MappingStartEvent):
            node = self.compose_mapping_node(None)  # type: ignore[arg-type]
        else:
            node = self.compose_sequence_node(None)  # type: ignore[arg-type]
        self.ascend_resolver()
        self.depth -= 1
        if problems:
            self.rejected[id(node)] = problems
        return node


def parse_yaml(data: bytes, file: str, *, base_dir: Path, env: Mapping[str, str]) -> tuple[Node | None, list[Issue]]:
    """Parse one policy file. The tree is None when nothing usable could be read."""
    if len(data) > MAX_BYTES:
        return None, [Issue(file, 0, (), f"file is larger than 1 MiB ({len(data)} bytes)")]
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [Issue(file, line, (), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")]
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _TooDeep as exc:
        return None, [Issue(file, exc.line, (), f"nested more than {MAX_DEPTH} levels deep")]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_issue(exc, file)]
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        return None, [Issue(file, line, (), f"invalid YAML: character U+{exc.character:04X} is not allowed")]
    # An empty document is an error, never a policy of defaults: a file caught
    # while an editor truncates it would otherwise switch enforcement off.
    if root is None:
        return None, [Issue(file, 1, (), f"{_what_is_empty(text)}; {_SETS_NOTHING}")]
    if isinstance(root, ScalarNode) and root.tag == _TAG + "null":
        return None, [Issue(file, root.start_mark.line + 1, (), f"the top level is null; {_SETS_NOTHING}")]
    if isinstance(root, MappingNode) and not root.value and id(root) not in loader.rejected:
        return None, [Issue(file, root.start_mark.line + 1, (), f"the top level is an empty mapping; {_SETS_NOTHING}")]
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        return None, [Issue(file, root.start_mark.line + 1, (), f"the top level must be a mapping of settings, not {kind}")]
    builder = _Builder(loader, file, base_dir, env)
    return builder.build(root, (), root.start_mark.line + 1), builder.issues


_SETS_NOTHING = "a policy file must set at least one key"


def _what_is_empty(text: str) -> str:
    """A document without a node holds nothing but blanks and comments."""
    return "the file holds only comments" if text.strip() else "the file is empty"


def _syntax_issue(exc: yaml.MarkedYAMLError, file: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 0
    message = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
    if exc.problem and exc.context:
        message += f" ({exc.context}"
        if exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    return Issue(file, line, (), message)


class _Builder:
    """Turns composed YAML nodes into ``Node``, collecting issues on the way."""

    def __init__(self, loader: _Loader, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.loader, self.file, self.base_dir, self.env = loader, file, base_dir, env
        self.issues: list[Issue] = []

    def issue(self, line: int, loc: Loc, message: str) -> None:
        self.issues.append(Issue(self.file, line, loc, message))

    def build(self, ynode: yaml.Node, loc: Loc, line: int) -> Node:
        problems = self.loader.rejected.get(id(ynode), [])
        for problem in problems:
            self.issue(line, loc, problem)
        if isinstance(ynode, MappingNode):
            node = self._mapping(ynode, loc, line)
        elif isinstance(ynode, SequenceNode):
            items = [self.build(y, loc + (i,), y.start_mark.line + 1) for i, y in enumerate(ynode.value)]
            node = Node(items, self.file, line)
        elif isinstance(ynode, ScalarNode) and not problems:
            node = self._scalar(ynode, loc, line)
        else:  # a tagged scalar: keep its text, build nothing from the tag
            node = Node(str(ynode.value), self.file, line)
        node.broken = node.broken or bool(problems)
        return node

    def _mapping(self, ynode: MappingNode, loc: Loc, line: int) -> Node:
        out: dict[str, Node] = {}
        for ykey, yvalue in ynode.value:
            key_line = ykey.start_mark.line + 1
            key = self._key(ykey, loc, key_line)
            if key is None:
                continue
            if key in out:
                self.issue(key_line, loc + (key,), f"duplicate key {key!r} (first at line {out[key].line})")
                continue
            out[key] = self.build(yvalue, loc + (key,), key_line)
        return Node(out, self.file, line)

    def _key(self, ykey: yaml.Node, loc: Loc, line: int) -> str | None:
        problems = self.loader.rejected.get(id(ykey), [])
        for problem in problems:
            self.issue(line, loc, problem)
        if problems:
            return None
        if isinstance(ykey, ScalarNode) and ykey.tag in _STRING_KEY_TAGS:
            return str(ykey.value)
        if isinstance(ykey, ScalarNode):
            self.issue(line, loc, f"mapping key {_short(str(ykey.value)) or '(empty)'} is not a string (quote it)")
        else:
            kind = "a list" if isinstance(ykey, SequenceNode) else "a mapping"
            self.issue(line, loc, f"mapping key is {kind}, not a string")
        return None

    def _scalar(self, ynode: ScalarNode, loc: Loc, line: int) -> Node:
        text, tag = str(ynode.value), ynode.tag
        if tag == _TAG + "str":
            return self._substitute(text, loc, line)
        if tag == _TAG + "null":
            return Node(None, self.file, line)
        construct = {
            _TAG + "bool": self.loader.construct_yaml_bool,
            _TAG + "int": self.loader.construct_yaml_int,
            _TAG + "float": self.loader.construct_yaml_float,
        }.get(tag)
        try:
            if construct is not None:
                return Node(construct(ynode), self.file, line)
        except ValueError:  # Python refuses to convert integers of thousands of digits
            self.issue(line, loc, "number has too many digits")
            return Node(text, self.file, line, broken=True)
        return Node(text, self.file, line)  # timestamps and the like stay text

    def _substitute(self, text: str, loc: Loc, line: int) -> Node:
        if "${" not in text:
            return Node(text, self.file, line)
        secrets: list[tuple[str, str]] = []
        failed: list[str] = []

        def replace(match: re.Match[str]) -> str:
            ref = match.group(0)
            if ref == "$${":
                return "${"
            value = self._resolve(match.group("body"), bool(match.group("close")), loc, line)
            if value is None:
                failed.append(ref)
                return ref
            secrets.append((value, ref))
            return value

        value = _REF.sub(replace, text)
        return Node(value, self.file, line, raw=text, secrets=tuple(secrets), broken=bool(failed))

    def _resolve(self, body: str, closed: bool, loc: Loc, line: int) -> str | None:
        if not closed:
            self.issue(line, loc, "unclosed '${' (write '$${' for a literal '${')")
        elif body.startswith("file:"):
            return self._read_secret(body[len("file:"):], loc, line)
        elif _ENV_NAME.fullmatch(body):
            value = self.env.get(body)
            if value is None:
                self.issue(line, loc, f"environment variable {body} is not set")
            return value
        else:
            ref = "${" + _short(body) + "}"
            self.issue(line, loc, f"{ref!r} is not a reference: use ${{NAME}}, ${{file:PATH}} or $${{ for a literal '${{'")
        return None

    def _read_secret(self, written: str, loc: Loc, line: int) -> str | None:
        if not written:
            self.issue(line, loc, "'${file:}' names no file")
            return None
        path = self.base_dir / written  # an absolute path replaces the base
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                problem = "is larger than 1 MiB"
            else:
                text = data.decode("utf-8")
                return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        except UnicodeDecodeError:
            problem = "is not valid UTF-8"
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            problem = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
        self.issue(line, loc, f"secret file {str(path)!r} {problem}")
        return None


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
