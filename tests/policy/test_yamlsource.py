"""Safe YAML reading: positions, what is refused, and ${...} secrets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.policy.errors import Issue
from gateway.policy.yamlsource import MAX_BYTES, MAX_DEPTH, Node, parse_yaml


def parse(text: str | bytes, env: dict[str, str] | None = None, base_dir: Path = Path("/")) -> tuple[Node | None, list[str]]:
    data = text.encode() if isinstance(text, str) else text
    tree, issues = parse_yaml(data, "p.yaml", base_dir=base_dir, env=env or {})
    return tree, [str(issue) for issue in issues]


def value(text: str, env: dict[str, str] | None = None, base_dir: Path = Path("/")) -> object:
    tree, issues = parse(text, env, base_dir)
    assert issues == [] and tree is not None
    return tree.plain()


def test_every_key_and_item_knows_its_line() -> None:
    tree, issues = parse("# policy\nfirewall:\n  rules:\n    - name: a\n\n    - name: b\n      allow:\n        - 10.0.0.1\n")
    assert issues == [] and tree is not None
    assert tree.find(("firewall",))[0].line == 2
    assert tree.find(("firewall", "rules", 1))[0].line == 6
    node, exact = tree.find(("firewall", "rules", 1, "allow", 0))
    assert (node.value, node.file, node.line, exact) == ("10.0.0.1", "p.yaml", 8, True)
    # A path that leaves the tree stops at the deepest node that exists.
    node, exact = tree.find(("firewall", "rules", 1, "deny", 0))
    assert (node.line, exact) == (6, False)


def test_scalars_follow_yaml_core_rules_without_tags() -> None:
    doc = value("a: 1\nb: 1.5\nc: true\nd: ~\ne:\nf: '1'\ng: 2024-01-01\nh: 0x1F\ni: yes\n")
    assert doc == {"a": 1, "b": 1.5, "c": True, "d": None, "e": None, "f": "1", "g": "2024-01-01", "h": 31, "i": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!python/object/apply:os.system [id]\n", "p.yaml:1: a: YAML tags are not allowed ('!!python/object/apply:os.system')"),
        ("a: !!python/name:os.system\n", "p.yaml:1: a: YAML tags are not allowed ('!!python/name:os.system')"),
        ("a: !!str 80\n", "p.yaml:1: a: YAML tags are not allowed ('!!str')"),
        ("a: !!binary aGVsbG8=\n", "p.yaml:1: a: YAML tags are not allowed ('!!binary')"),
        ("a: !!set {x}\n", "p.yaml:1: a: YAML tags are not allowed ('!!set')"),
        ("a: ! x\n", "p.yaml:1: a: YAML tags are not allowed ('!')"),
        ("a:\n  - !custom {b: 1}\n", "p.yaml:2: a[0]: YAML tags are not allowed ('!custom')"),
        ("!!str 80: x\n", "p.yaml:1: YAML tags are not allowed ('!!str')"),
    ],
)
def test_explicit_tags_are_refused(text: str, expected: str) -> None:
    assert parse(text)[1] == [expected]


def test_a_tagged_value_is_never_constructed() -> None:
    tree, _ = parse("a: !!python/object/new:builtins.exit [1]\nb: !!float abc\n")
    assert tree is not None
    assert tree.plain() == {"a": [1], "b": "abc"}
    assert tree.find(("a",))[0].broken


def test_anchors_and_undefined_aliases_are_refused() -> None:
    _, issues = parse("a: &x 1\nb: *x\nc: *undefined\n")
    hint = "name shared addresses once under ip_lists"
    assert issues == [
        f"p.yaml:1: a: anchors and aliases are not allowed ('&x'); {hint}",
        f"p.yaml:2: b: anchors and aliases are not allowed ('*x'); {hint}",
        f"p.yaml:3: c: anchors and aliases are not allowed ('*undefined'); {hint}",
    ]


def test_an_alias_bomb_is_never_expanded() -> None:
    lines = ["a: &a [" + ",".join(["lol"] * 20) + "]"]
    for prev, name in zip("abcdefghijklmnop", "bcdefghijklmnopq"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 20) + "]")
    started = time.monotonic()
    tree, issues = parse("\n".join(lines))
    assert time.monotonic() - started < 2
    assert tree is not None and len(issues) == 17 + 16 * 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: 2\na: 3\n", ["p.yaml:3: a: duplicate key 'a' (first at line 1)"]),
        ("x:\n  y: 1\n  y: 1\n  y: 1\n", ["p.yaml:3: x.y: duplicate key 'y' (first at line 2)", "p.yaml:4: x.y: duplicate key 'y' (first at line 2)"]),
        ("{a: 1, a: 2}\n", ["p.yaml:1: a: duplicate key 'a' (first at line 1)"]),
        ("1: a\n", ["p.yaml:1: mapping key 1 is not a string (quote it)"]),
        ("x:\n  null: a\n", ["p.yaml:2: x: mapping key null is not a string (quote it)"]),
        ("x:\n  ? \n  : a\n", ["p.yaml:2: x: mapping key (empty) is not a string (quote it)"]),
        ("off: a\n", ["p.yaml:1: mapping key off is not a string (quote it)"]),
        ("[a]: b\n", ["p.yaml:1: mapping key is a list, not a string"]),
        ("? {a: 1}\n: b\n", ["p.yaml:1: mapping key is a mapping, not a string"]),
    ],
)
def test_duplicate_and_non_string_keys_are_refused(text: str, expected: list[str]) -> None:
    assert parse(text)[1] == expected


def test_quoted_keys_are_strings() -> None:
    assert value("'80': a\n'off': b\n") == {"80": "a", "off": "b"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"- a\n- b\n", "p.yaml:1: the top level must be a mapping of settings, not a list"),
        (b"just text\n", "p.yaml:1: the top level must be a mapping of settings, not a single value"),
        (b"a: 1\nb: \xff\n", "p.yaml:2: not valid UTF-8 (byte 0xff)"),
        (b"a: 1\n---\nb: 2\n", "p.yaml:2: invalid YAML: but found another document (expected a single document in the stream at line 1)"),
        (b"a: [1, 2\n", "p.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 1)"),
        (b"a:\n\tb: 1\n", "p.yaml:2: invalid YAML: found character '\\t' that cannot start any token (while scanning for the next token)"),
        (b"a: \x01\n", "p.yaml:1: invalid YAML: character U+0001 is not allowed"),
        (b"a: " + b"[" * (MAX_DEPTH + 1), f"p.yaml:1: nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_unusable_files_are_reported_with_their_line(data: bytes, expected: str) -> None:
    tree, issues = parse(data)
    assert tree is None and issues == [expected]


def test_files_over_one_mebibyte_are_refused_before_parsing() -> None:
    data = b"a: '" + b"x" * MAX_BYTES + b"'\n"
    tree, issues = parse_yaml(data, "p.yaml", base_dir=Path("/"), env={})
    assert tree is None
    assert issues == [Issue("p.yaml", 0, (), f"file is larger than 1 MiB ({len(data)} bytes)")]
    assert str(issues[0]) == f"p.yaml: file is larger than 1 MiB ({len(data)} bytes)"


def test_byte_order_marks_are_fine() -> None:
    assert parse_yaml("\ufeffa: 1\n".encode(), "p.yaml", base_dir=Path("/"), env={})[0] is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml:1: the file is empty; a policy file must set at least one key"),
        ("\ufeff\n", "p.yaml:1: the file is empty; a policy file must set at least one key"),
        ("# only a comment\n", "p.yaml:1: the file holds only comments; a policy file must set at least one key"),
        ("\n\nnull\n", "p.yaml:3: the top level is null; a policy file must set at least one key"),
        ("{}", "p.yaml:1: the top level is an empty mapping; a policy file must set at least one key"),
    ],
)
def test_an_empty_document_is_refused(text: str, expected: str) -> None:
    # An empty file is what a reader sees while an editor rewrites it; as a policy it would switch everything off.
    assert parse(text) == (None, [expected])


def test_huge_numbers_are_reported_not_crashed_on() -> None:
    _, issues = parse("a: " + "9" * 5000 + "\n")
    assert issues == ["p.yaml:1: a: number has too many digits"]


# --- secrets -----------------------------------------------------------------


def test_environment_references() -> None:
    env = {"HOST": "10.0.0.1", "EMPTY": ""}
    assert value("a: ${HOST}\nb: 'http://${HOST}:80/${EMPTY}'\nc: ['x${HOST}']\n", env) == {
        "a": "10.0.0.1",
        "b": "http://10.0.0.1:80/",
        "c": ["x10.0.0.1"],
    }


def test_dollar_dollar_brace_escapes_a_reference() -> None:
    assert value("a: $${HOST}\nb: 'cost: $5 $$ ${X}'\n", {"X": "x"}) == {"a": "${HOST}", "b": "cost: $5 $$ x"}


def test_references_only_apply_to_string_values() -> None:
    assert value("'${K}': 1\nb: 2\n") == {"${K}": 1, "b": 2}


def test_substituted_values_are_not_expanded_again() -> None:
    assert value("a: ${A}\n", {"A": "${B}", "B": "no"}) == {"a": "${B}"}


def test_file_references(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("line1\nline2\n")
    (tmp_path / "crlf").write_bytes(b"k\r\n")
    assert value(f"a: ${{file:key}}\nb: ${{file:{tmp_path}/crlf}}\n", base_dir=tmp_path) == {"a": "line1\nline2", "b": "k"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: ${NOPE}\n", "p.yaml:1: a: environment variable NOPE is not set"),
        ("a: '${NOPE'\n", "p.yaml:1: a: unclosed '${' (write '$${' for a literal '${')"),
        ("a: ${A B}\n", "p.yaml:1: a: '${A B}' is not a reference: use ${NAME}, ${file:PATH} or $${ for a literal '${'"),
        ("a: ${file:}\n", "p.yaml:1: a: '${file:}' names no file"),
        ("a: ${file:missing}\n", "p.yaml:1: a: secret file '{d}/missing' cannot be read (No such file or directory)"),
        ("a: ${file:.}\n", "p.yaml:1: a: secret file '{d}' cannot be read (Is a directory)"),
        ("a: \"${file:x\\0y}\"\n", "p.yaml:1: a: secret file '{d}/x\\x00y' cannot be read (embedded null byte)"),
        ("a: ${file:latin1}\n", "p.yaml:1: a: secret file '{d}/latin1' is not valid UTF-8"),
        ("a: ${file:big}\n", "p.yaml:1: a: secret file '{d}/big' is larger than 1 MiB"),
    ],
)
def test_bad_references_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    (tmp_path / "big").write_bytes(b"x" * (MAX_BYTES + 1))
    tree, issues = parse(text, base_dir=tmp_path)
    assert issues == [expected.replace("{d}", str(tmp_path))]
    assert tree is not None and tree.find(("a",))[0].broken


def test_a_node_redacts_its_secrets() -> None:
    secret = "pa'ss\nword"
    tree, _ = parse("a:\n  b: 'x-${S}'\n  c: [ok]\n", {"S": secret})
    assert tree is not None
    node = tree.find(("a",))[0]
    assert node.redact(f"bad {'x-' + secret!r} and {secret} and {repr(secret)[1:-1]}") == "bad 'x-${S}' and ${S} and ${S}"
    assert tree.find(("a", "c"))[0].redact(secret) == secret  # only its own subtree
