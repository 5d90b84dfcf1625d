"""YAML loading that remembers where every key was written, with ``${ENV}`` substitution.

PyYAML's composer gives a node tree with marks; we build the plain Python data from it ourselves
and keep, for every key path, the line of the key and the value exactly as written. Validation
errors can then point at ``risk_config.yaml:14`` and show ``500`` rather than a Python repr.

The resolver is narrowed to YAML 1.2's core schema for numbers and booleans: YAML 1.1 reads an
unquoted ``17:00`` as the integer 1020 and ``no``/``on`` as booleans, which turns a session time
or a symbol into nonsense before any validator sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from risk_manager.config.errors import REDACTED, ConfigIssue, is_secret_key

KeyPath = tuple[str | int, ...]

_ENV = re.compile(r"\$\$|\ue000([^\ue001]*)\ue001|\$\{([^}]*)\}")
# ``${NAME}`` is hidden from the YAML parser behind private-use characters: in a flow mapping such
# as ``{bot_token: ${TELEGRAM_TOKEN}, chat_id: 1}`` its braces would otherwise be read as YAML syntax
# (CONFIG.md's own example is written that way).
_PREPASS = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HIDDEN = re.compile(r"\ue000([^\ue001]*)\ue001")


def _hide_refs(text: str) -> str:
    if "\ue000" in text or "\ue001" in text:
        return text  # cannot hide unambiguously; plain YAML rules apply
    return _PREPASS.sub(lambda m: m.group(0) if m.group(0) == "$$" else f"\ue000{m.group(1)}\ue001", text)


def _show_refs(text: str) -> str:
    return _HIDDEN.sub(lambda m: f"${{{m.group(1)}}}", text)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A value that is nothing but one ``${NAME}`` reference shows the reference, which is not secret.
ONLY_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema ints, floats and booleans (no sexagesimal, no yes/no)."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def format_path(path: KeyPath) -> str:
    """``('accounts', 0, 'id')`` -> ``accounts[0].id``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class YamlDoc:
    """One parsed file: its data, the line of every key path, the text of every scalar as written."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    raw: dict[KeyPath, str] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    env_failed: set[KeyPath] = field(default_factory=set)  # values whose ${VAR} could not be resolved

    def line_of(self, path: KeyPath) -> int:
        """Line of ``path``, or of its deepest ancestor that exists in the file (1 for the root)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return self.lines.get((), 1)

    def has(self, path: KeyPath) -> bool:
        return path in self.lines

    def shown(self, path: KeyPath) -> str | None:
        """The value at ``path`` as written in the file (secrets replaced), or None for mappings/lists."""
        raw = self.raw.get(path)
        if raw is not None and any(is_secret_key(part) for part in path) and not ONLY_ENV_REF.match(raw):
            return REDACTED
        return raw

    def at(self, path: KeyPath) -> Any:
        """The parsed value at ``path`` (KeyError/IndexError when absent)."""
        value = self.data
        for part in path:
            value = value[part]
        return value


def parse_yaml(text: str, file: str, env: Mapping[str, str]) -> YamlDoc:
    """Parse ``text`` into a YamlDoc. Syntax errors and unset ``${VARS}`` become issues, all of them."""
    doc = YamlDoc(file=file, data=None)
    loader = _Loader(_hide_refs(text))
    try:
        node = loader.get_single_node()
        doc.data = {} if node is None else _build(node, (), doc, loader, env)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            message = f"unsupported YAML value: {problem}; write plain numbers, text, lists and mappings"
        else:
            mark, message = plain_syntax_error(exc)
        doc.issues.append(ConfigIssue(file, mark.line + 1 if mark else None, "", None, message))
        doc.data = None
    except yaml.YAMLError as exc:
        doc.issues.append(ConfigIssue(file, None, "", None, f"YAML error: {exc}"))
        doc.data = None
    finally:
        loader.dispose()
    if doc.data is not None and not isinstance(doc.data, dict):
        doc.issues.append(
            ConfigIssue(
                file,
                doc.lines.get((), 1),
                "",
                None,
                "the file must be a mapping of keys (key: value), not a list or a single value",
            )
        )
        doc.data = None
    return doc


_CLOSERS = {"flow mapping": ("{", "}"), "flow sequence": ("[", "]")}
# PyYAML's token names, for the rare message no rule below rewrites.
_JARGON = {
    "<block end>": "the end of the indented block",
    "<block mapping start>": "a more indented key",
    "<block sequence start>": "a more indented list",
    "<scalar>": "a value",
    "<stream end>": "the end of the file",
}


def plain_syntax_error(exc: yaml.MarkedYAMLError) -> tuple[yaml.Mark | None, str]:
    """A YAML syntax error in plain words, with the line the user has to fix.

    PyYAML notices a problem where parsing cannot go on, which is often not where the mistake is:
    an unclosed ``{`` is noticed on the next line, so the opening line is reported instead.
    """
    problem = exc.problem or ""
    context = exc.context or ""
    where = exc.problem_mark or exc.context_mark
    opened = exc.context_mark
    for name, (opening, closing) in _CLOSERS.items():
        if name in context and opened is not None:
            return opened, (
                f"the {opening} opened on this line is not closed: add {closing} at its end "
                f"(or a , between items)"
            )
    if "quoted scalar" in context and opened is not None:
        return opened, "the quote opened on this line is not closed: add the closing quote"
    if r"'\t'" in problem:
        return where, "a tab is used for indentation: indent with spaces only"
    if problem.startswith("expected <block end>") and "block" in context:
        return where, (
            "this line's indentation does not match the lines above it: keys of one mapping "
            "start in the same column (indent with spaces, two per level)"
        )
    if problem == "mapping values are not allowed here":
        return where, (
            "a 'key: value' where none can be: the line above may lack the ':' after its key, "
            "this line may be indented too deep, or a value containing ': ' needs quotes"
        )
    for token, words in _JARGON.items():
        problem = problem.replace(token, words)
        context = context.replace(token, words)
    context = f" ({context})" if context else ""
    return where, f"YAML syntax error: {problem}{context}; check indentation, colons and quotes"


def _build(node: Node, path: KeyPath, doc: YamlDoc, loader: _Loader, env: Mapping[str, str]) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        value = loader.construct_object(node, deep=True)
        doc.raw[path] = _as_written(node)
        if isinstance(value, str):
            value = _substitute(value, path, node, doc, env)
        return value
    if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag!r} is not allowed here", node.start_mark
        )
    if isinstance(node, SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_build(item, (*path, index), doc, loader, env))
        return items
    if isinstance(node, MappingNode):
        _check_duplicates(node, path, doc, loader)
        loader.flatten_mapping(node)  # resolve ``<<: *anchor`` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, str):
                key = _show_refs(key)  # keys are never substituted
            if isinstance(key, list | dict):
                doc.issues.append(
                    ConfigIssue(
                        doc.file,
                        key_node.start_mark.line + 1,
                        format_path(path),
                        None,
                        "a key must be a single word, not a list or mapping",
                    )
                )
                continue
            child = (*path, key)
            doc.lines[child] = key_node.start_mark.line + 1  # the line of the key, later merges win
            result[key] = _build(value_node, child, doc, loader, env)
        return result
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node.tag}", node.start_mark)


def _check_duplicates(node: MappingNode, path: KeyPath, doc: YamlDoc, loader: _Loader) -> None:
    """A key written twice is an error: YAML silently keeps the last one, hiding the other value."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            doc.issues.append(
                ConfigIssue(
                    doc.file,
                    line,
                    format_path((*path, key)),
                    None,
                    f"key written twice (first on line {seen[key]}): keep one",
                )
            )
        else:
            seen[key] = line


def _as_written(node: ScalarNode) -> str:
    text = _show_refs(str(node.value))
    if node.style in ("'", '"'):
        return f"{node.style}{text}{node.style}"
    return text if text else "(empty)"


def _substitute(value: str, path: KeyPath, node: ScalarNode, doc: YamlDoc, env: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` by the environment variable NAME; ``$$`` is a literal ``$``."""
    if "$" not in value and "\ue000" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) if match.group(1) is not None else match.group(2)
        line = node.start_mark.line + 1
        shown = doc.shown(path)
        if not _ENV_NAME.match(name):
            doc.env_failed.add(path)
            doc.issues.append(
                ConfigIssue(
                    doc.file,
                    line,
                    format_path(path),
                    shown,
                    f"${{{name}}} is not a valid environment variable reference: "
                    "use ${NAME} with letters, digits and _ ($$ is a literal $)",
                )
            )
            return ""
        if name not in env:
            doc.env_failed.add(path)
            doc.issues.append(
                ConfigIssue(
                    doc.file,
                    line,
                    format_path(path),
                    shown,
                    f"environment variable {name} is not set: export {name}=... "
                    "before starting, or write the value in the file",
                )
            )
            return ""
        return env[name]

    return _ENV.sub(replace, value)
