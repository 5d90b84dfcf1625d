"""Admin edits of the config files that change one value and leave every other byte as it was.

A round-trip dump (ruamel.yaml's, or any) re-flows the aligned flow mappings the config files are
written in, so an edit is a splice instead: ruamel.yaml composes the file into nodes with exact
character spans, the edit replaces the span of the one value (or inserts one ``key: value`` into the
mapping that lacks it), and the result is parsed again to prove it holds what was asked. Comments,
alignment, quoting and key order outside the edited value are untouched.

Nothing is written here without validation: :func:`check_edits` runs the real loader
(:func:`~risk_manager.config.loader.load_config_texts`) on the would-be files and raises its
ConfigError, and :func:`write_edits` replaces each file atomically (temp file + ``os.replace``),
keeping its mode (a credentials file is always 0600).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from risk_manager.config.errors import REDACTED, ConfigError, ConfigIssue, is_secret_key
from risk_manager.config.loader import FILE_ORDER, LoadedConfig, load_config_texts
from risk_manager.config.yaml_source import KeyPath, format_path

__all__ = [
    "SECRET_FILE_MODE",
    "EditRefused",
    "FileEdit",
    "append_item",
    "check_edits",
    "edit_value",
    "parse_typed_value",
    "read_texts",
    "write_atomic",
    "write_edits",
]

SECRET_FILE_MODE = 0o600
NEW_FILE_MODE = 0o644


class EditRefused(ValueError):
    """The edit cannot be made as asked; the message says why and what to type instead."""


@dataclass(frozen=True)
class FileEdit:
    """One file's new text, what changed in it (readable lines, secrets masked) and its mode."""

    name: str
    before: str | None  # None: the file is new
    after: str
    changes: tuple[str, ...]
    secret: bool = False  # holds a secret: written 0600 whatever the old mode was


# ---- values as users type them ----------------------------------------------------------------------


def _yaml() -> YAML:
    # YAML 1.2 core schema, as the loader reads (config/yaml_source.py): ``17:00`` and ``no`` stay strings.
    return YAML(typ="safe", pure=True)


def parse_typed_value(text: str) -> Any:
    """A value as a user types it on the command line (``-250``, ``true``, ``30s``, ``[RTY, ES]``)."""
    if "\n" in text or "\r" in text:
        raise EditRefused("a value is one line: type it without line breaks")
    if not text.strip():
        return ""
    try:
        value = _yaml().load(text)
    except YAMLError:
        return text  # not YAML syntax: taken as the string typed (quoted when written)
    if isinstance(value, dict | list) and not text.lstrip().startswith(("[", "{")):
        return text.strip()  # ``Done, for today: bye`` is a message, not a mapping
    return value


# ---- the splice ------------------------------------------------------------------------------------


def edit_value(text: str, file: str, path: KeyPath, value: Any, *, raw: str | None = None) -> tuple[str, str]:
    """``text`` with the value at ``path`` set to ``value``; returns (new text, old value as written,
    or ``(unset)``). ``raw``: the user's own spelling, kept when it reads back as ``value``."""
    root = _compose(text, file)
    candidates = _renderings(value, raw, secret=is_secret_key(path[-1]))
    for rendered in candidates:
        new, old = _splice(text, root, file, path, rendered)
        if _read_back(new, path) == (value, True):
            return new, old
    shown = REDACTED if is_secret_key(path[-1]) else (raw if raw is not None else json.dumps(value))
    raise EditRefused(f"{file}: cannot write {shown} at {format_path(path)} so that it reads back the same")


# ``${NAME}`` in a flow mapping would be read as YAML braces (the loader hides it too): hidden behind
# private-use characters of the same length, so every node's span is still the span in the file.
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNHIDE = re.compile("\ue000([A-Za-z_][A-Za-z0-9_]*)\ue001\ue001")


def _hide(text: str) -> str:
    return _ENV_REF.sub(lambda m: f"\ue000{m.group(1)}\ue001\ue001", text)


def _unhide(value: Any) -> Any:
    return _UNHIDE.sub(lambda m: f"${{{m.group(1)}}}", value) if isinstance(value, str) else value


def _compose(text: str, file: str) -> MappingNode | None:
    try:
        node = YAML(typ="rt").compose(_hide(text))
    except YAMLError as exc:
        raise EditRefused(
            f"{file} is not valid YAML, so it cannot be edited safely: fix it first ({exc})"
        ) from None
    if node is None:
        return None
    if not isinstance(node, MappingNode):
        raise EditRefused(f"{file} does not hold a mapping of keys at the top: fix it first")
    return node


_PLAIN_SAFE = re.compile(r"^[^\s,\[\]{}#&*!|>'\"%@`][^,\[\]{}#]*$")


def _renderings(value: Any, raw: str | None, *, secret: bool) -> list[str]:
    out: list[str] = []
    if isinstance(value, str):
        if not secret and raw is not None and _PLAIN_SAFE.match(raw.strip()):
            out.append(raw.strip())
        out.append(json.dumps(value, ensure_ascii=False))  # a JSON string is a YAML double-quoted one
        return out
    if raw is not None:
        out.append(raw.strip())
    out.append(_flow(value))
    return out


def _flow(value: Any) -> str:
    """A value as one line of YAML flow text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


def _read_back(text: str, path: KeyPath) -> tuple[Any, bool]:
    try:
        data = _yaml().load(_hide(text))
    except YAMLError:
        return None, False
    for part in path:
        in_list = isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data)
        if in_list or (isinstance(data, dict) and part in data):
            data = data[part]
        else:
            return None, False
    return _unhide(data), True


def _splice(text: str, root: MappingNode | None, file: str, path: KeyPath, rendered: str) -> tuple[str, str]:
    if root is None:  # an empty file
        return text + ("" if not text or text.endswith("\n") else "\n") + _block(path, rendered, 0), "(unset)"
    node: Node = root
    for depth, part in enumerate(path):
        child = _child(node, part)
        if child is None:
            if isinstance(part, int) or not isinstance(node, MappingNode):
                raise EditRefused(f"{file}: {format_path(path[:depth + 1])} does not exist")
            return _insert(text, node, path, depth, rendered), "(unset)"
        node = child
    if isinstance(node, MappingNode | SequenceNode) and not node.flow_style:
        raise EditRefused(
            f"{file}: {format_path(path)} is a block of several lines: set its keys one at a time "
            f"({format_path(path)}.KEY VALUE)"
        )
    start, end = node.start_mark.index, node.end_mark.index
    old = text[start:end]
    if isinstance(node, ScalarNode) and str(node.tag).endswith(":null") and not old.strip():
        old = "(empty)"
    if is_secret_key(path[-1]):
        old = REDACTED if old not in ("(empty)", "null", "~") else old
    if start == end:  # ``key:`` with nothing after it: the value goes after the colon (one space)
        colon = len(text[:start].rstrip())
        if colon > 0 and text[colon - 1] == ":":
            start = end = colon
    pad = " " if start == end and start > 0 and text[start - 1] == ":" else ""
    after = _keep_comment_column(text[end:], len(pad + rendered) - (end - start))
    return text[:start] + pad + rendered + after, old


def _keep_comment_column(after: str, grown: int) -> str:
    """The text after an edited value with the spaces before a trailing ``# comment`` adjusted so the
    comment stays in its column (at least one space before it)."""
    match = re.match(r"([\]},]*)( +)#", after)  # the value may close a flow mapping first: `-250}   #`
    if match is None or grown == 0:
        return after
    closers, spaces = match.group(1), match.group(2)
    return closers + " " * max(1, len(spaces) - grown) + after[len(closers) + len(spaces):]


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == part), None)
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: Node = node.value[part]
        return item
    return None


def _insert(text: str, mapping: MappingNode, path: KeyPath, depth: int, rendered: str) -> str:
    """Add ``path[depth]: …`` (nested as needed) as the last key of ``mapping``."""
    rest = path[depth:]
    if mapping.flow_style:
        close = mapping.end_mark.index - 1
        while close > 0 and text[close] != "}":
            close -= 1
        inner = text[mapping.start_mark.index + 1:close]
        entry = _flow_entry(rest, rendered)
        sep = ", " if inner.strip() else ""
        before = text[:close].rstrip(" ") if inner.strip() else text[:close]
        return before + sep + entry + text[close:]
    if not mapping.value:  # an empty block mapping is written as `{}` (flow): handled above
        raise EditRefused(f"cannot add {format_path(path)}: its parent mapping is empty")
    indent = mapping.value[0][0].start_mark.column
    at = _line_after(text, _last_end(mapping))
    block = _block(rest, rendered, indent)
    if at == len(text) and text and not text.endswith("\n"):
        return text + "\n" + block
    return text[:at] + block + text[at:]


def _flow_entry(rest: Sequence[str | int], rendered: str) -> str:
    out = rendered
    for part in reversed(rest[1:]):
        out = f"{{{part}: {out}}}"
    return f"{rest[0]}: {out}"


def _block(rest: Sequence[str | int], rendered: str, indent: int) -> str:
    lines = []
    for i, part in enumerate(rest[:-1]):
        lines.append(" " * (indent + 2 * i) + f"{part}:")
    lines.append(" " * (indent + 2 * (len(rest) - 1)) + f"{rest[-1]}: {rendered}")
    return "\n".join(lines) + "\n"


def _last_end(node: Node) -> int:
    """Where the last value written in ``node`` ends (a block collection ends after its last value)."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return _last_end(node.value[-1][1])
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return _last_end(node.value[-1])
    end: int = node.end_mark.index
    return end


def _line_after(text: str, index: int) -> int:
    """The start of the line after the one ``index`` is on (a value's trailing comment stays put)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def append_item(text: str, file: str, path: KeyPath, item: Any) -> str:
    """``text`` with ``item`` (written as one flow line) added at the end of the list at ``path``;
    a missing list is created with it."""
    rendered = _flow(item)
    root = _compose(text, file)
    node: Node | None = root
    for part in path:
        node = _child(node, part) if node is not None else None
    if node is None or (isinstance(node, ScalarNode) and str(node.tag).endswith(":null")):
        new, _old = _splice(text, root, file, path, f"[{rendered}]")
    elif not isinstance(node, SequenceNode):
        raise EditRefused(f"{file}: {format_path(path)} is not a list: fix it first")
    elif node.flow_style:
        close = node.end_mark.index - 1
        while close > 0 and text[close] != "]":
            close -= 1
        sep = ", " if node.value else ""
        new = text[:close].rstrip(" ") + sep + rendered + text[close:] if node.value else (
            text[:close] + rendered + text[close:]
        )
    else:
        dash = node.value[0].start_mark.column - 2
        at = _line_after(text, _last_end(node))
        line = " " * dash + f"- {rendered}\n"
        new = text + ("\n" if text and not text.endswith("\n") else "") + line if at == len(text) else (
            text[:at] + line + text[at:]
        )
    data, found = _read_back(new, path)
    if not found or not isinstance(data, list) or data[-1] != item:
        raise EditRefused(f"{file}: cannot add {rendered} to {format_path(path)} so it reads back the same")
    return new


# ---- whole files -----------------------------------------------------------------------------------


def read_texts(directory: Path) -> dict[str, str]:
    """The config files present in ``directory`` by name (the loader's set of names)."""
    texts = {}
    for name in FILE_ORDER:
        path = directory / name
        if path.is_file():
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def check_edits(
    directory: Path, edits: Iterable[FileEdit], env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Validate the config as it would be after ``edits`` with the real loader (raises ConfigError),
    and build what the daemon builds from it, so a config that validates but cannot run is refused too
    (ConfigError naming the directory)."""
    texts = read_texts(directory)
    for edit in edits:
        texts[edit.name] = edit.after
    loaded = load_config_texts(texts, env=os.environ if env is None else env, directory=directory)
    try:
        loaded.calendar()
        loaded.policy()
        loaded.contracts()
    except (ValueError, RuntimeError, ImportError) as exc:
        raise ConfigError([ConfigIssue(str(directory), None, "", None, f"cannot be used: {exc}")]) from None
    return loaded


def write_edits(directory: Path, edits: Iterable[FileEdit]) -> None:
    for edit in edits:
        if edit.before == edit.after:
            continue
        path = directory / edit.name
        write_atomic(path, edit.after, SECRET_FILE_MODE if edit.secret else None)


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` all at once (a reader sees the old file or the new, never half),
    with ``mode`` or else the old file's mode (new files: 0644)."""
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600: a secret is never readable by others, not even for a moment
        os.chmod(temp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


# ---- the admin's edits -----------------------------------------------------------------------------


def set_values(
    directory: Path,
    name: str,
    values: Sequence[tuple[KeyPath, Any, str | None]],
    *,
    template: str = "",
    secret: bool = False,
) -> FileEdit:
    """One file with each (path, value, raw spelling) set; a missing file starts from ``template``."""
    path = directory / name
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    text = before if before is not None else template
    changes = []
    for key_path, value, raw in values:
        text, old = edit_value(text, name, key_path, value, raw=raw)
        hidden = secret and is_secret_key(key_path[-1])
        new = REDACTED if hidden else (raw.strip() if raw is not None else _flow(value))
        where = format_path(key_path) if name == FILE_ORDER[0] else f"{name} {format_path(key_path)}"
        if old != new:
            changes.append(f"{where}: {old} → {new}")
        elif hidden:
            changes.append(f"{where}: replaced")
    return FileEdit(name, before, text, tuple(changes), secret)


def rule_path(dotted: str, rule_keys: Iterable[str]) -> KeyPath:
    """``daily_realized_loss.limit`` -> ``rules.daily_realized_loss.limit``; a path that starts with a
    top-level section of risk_config.yaml (``general.timezone``, ``rules.…``) is taken as it is."""
    parts: list[str | int] = []
    for part in dotted.strip().split("."):
        if not part:
            raise EditRefused(f"{dotted!r} has an empty part: write RULE.KEY, e.g. daily_realized_loss.limit")
        parts.append(int(part) if part.isdigit() else part)
    first = parts[0]
    keys = set(rule_keys)
    if first in keys:
        return ("rules", *parts)
    if first in ("rules", "general", "instruments", "daemon", "admin"):
        return tuple(parts)
    from difflib import get_close_matches

    near = get_close_matches(str(first), sorted(keys), n=1)
    hint = f" (did you mean {near[0]}?)" if near else f"; rules: {', '.join(sorted(keys))}"
    raise EditRefused(f"{first!r} is not a rule{hint}")
