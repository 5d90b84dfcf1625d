"""Load a config directory: parse, substitute ``${ENV}``, validate, merge per-account overrides.

``load_config`` is pure apart from reading the files and the environment it is given: the same
inputs give the same LoadedConfig or the same ConfigError, so a daemon can re-run it on a change and
keep its last good config when the new one fails.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from risk_manager.config.errors import REDACTED, ConfigError, ConfigIssue, is_secret_key
from risk_manager.config.models import AccountsConfig, ApiConfig, TimersConfig
from risk_manager.config.rules_section import (
    RiskConfigBase,
    RulesBase,
    cross_rule_problems,
    risk_config_model,
    rules_model,
)
from risk_manager.config.runtime import build_calendar, build_contracts, build_policy
from risk_manager.config.yaml_source import ONLY_ENV_REF, KeyPath, YamlDoc, format_path, parse_yaml
from risk_manager.domain.calendar import TradingCalendar
from risk_manager.domain.contracts import ContractTable
from risk_manager.domain.values import UNTIL_SESSION_START, Duration
from risk_manager.engine.policy import Policy
from risk_manager.rules.registry import RULE_KEYS

RISK_FILE = "risk_config.yaml"
TIMERS_FILE = "timers.yaml"
TIMERS_ALT_FILE = "timers_config.yaml"
ACCOUNTS_FILE = "accounts.yaml"
API_FILE = "api_config.yaml"
FILE_ORDER = (RISK_FILE, TIMERS_FILE, TIMERS_ALT_FILE, ACCOUNTS_FILE, API_FILE)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration and the runtime objects built from it (see config/runtime.py)."""

    risk: RiskConfigBase
    timers: TimersConfig
    accounts: AccountsConfig
    api: ApiConfig
    # Merged rules of each account that has overrides (accounts without overrides use risk.rules).
    account_rules: Mapping[int, RulesBase] = field(default_factory=dict)
    directory: Path | None = None
    files: tuple[str, ...] = ()
    warnings: tuple[ConfigIssue, ...] = ()
    # file name -> key paths of secrets written literally in it (for the file-mode warning)
    secret_paths: Mapping[str, list[KeyPath]] = field(default_factory=dict)

    # ---- who is monitored with which rules ----------------------------------------------------

    def monitored(self, account_id: int) -> bool:
        entry = self.accounts.entry(account_id)
        if entry is None:
            return self.accounts.monitor == "all_active"
        return entry.enabled

    def rules_for(self, account_id: int) -> RulesBase | None:
        """The rules that apply to an account (overrides merged), or None when it is not monitored."""
        if not self.monitored(account_id):
            return None
        return self.account_rules.get(account_id, self.risk.rules)

    # ---- runtime objects (config/runtime.py) ---------------------------------------------------

    def policy(self) -> Policy:
        """Account id -> RuleSet of freshly built rule instances (None for unmonitored accounts)."""
        return build_policy(self)

    def calendar(self) -> TradingCalendar:
        """The TradingCalendar of timers.yaml (CalendarUnavailable if CME is asked for but missing)."""
        return build_calendar(self)

    def contracts(self) -> ContractTable:
        """The built-in contract table with ``instruments:`` on top."""
        return build_contracts(self)

    def redacted(self) -> dict[str, Any]:
        """All settings as plain data, every secret replaced by ``***`` (safe to print or serve)."""
        return {
            "risk": _redact(self.risk.model_dump(mode="json", by_alias=True)),
            "timers": self.timers.model_dump(mode="json", by_alias=True),
            "accounts": self.accounts.model_dump(mode="json", by_alias=True),
            "api": self.api.redacted(),
        }


def _redact(data: Any, key: object = None) -> Any:
    if isinstance(data, dict):
        return {k: _redact(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact(v, key) for v in data]
    if is_secret_key(key) and data is not None:
        return REDACTED
    return data


# ---- entry points --------------------------------------------------------------------------------


def load_config(directory: Path | str, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and validate the config files in ``directory``; raise ConfigError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            message = (
                f"this is a file, not a config directory: pass the directory that holds it "
                f"({directory.parent})"
            )
        else:
            message = "config directory does not exist: pass --config DIR with your config files"
        raise ConfigError([ConfigIssue(str(directory), None, "", None, message)])
    texts: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    for name in FILE_ORDER:
        path = directory / name
        yml = path.with_suffix(".yml")
        if yml.exists() and not path.exists():
            issues.append(
                ConfigIssue(
                    yml.name, None, "", None, f"config files end in .yaml: rename {yml.name} to {path.name}"
                )
            )
        if path.is_file():
            try:
                texts[name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                issues.append(ConfigIssue(name, None, "", None, f"cannot read the file: {exc}"))
    if RISK_FILE not in texts and not any(i.file == RISK_FILE for i in issues):
        issues.insert(
            0,
            ConfigIssue(
                str(directory / RISK_FILE),
                None,
                "",
                None,
                f"no {RISK_FILE} in {directory}: it is required "
                "(see docs/configuration.md); create it or pass --config DIR",
            ),
        )
    if issues:
        raise ConfigError(issues)
    loaded = load_config_texts(texts, env=os.environ if env is None else env, directory=directory)
    warnings = list(loaded.warnings) + _permission_warnings(directory, loaded)
    return LoadedConfig(
        loaded.risk,
        loaded.timers,
        loaded.accounts,
        loaded.api,
        loaded.account_rules,
        directory,
        loaded.files,
        tuple(warnings),
        loaded.secret_paths,
    )


def load_config_texts(
    texts: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> LoadedConfig:
    """Validate config file contents given as {file name: YAML text} (the loader behind load_config)."""
    env = {} if env is None else env
    if TIMERS_FILE in texts and TIMERS_ALT_FILE in texts:
        raise ConfigError(
            [
                ConfigIssue(
                    TIMERS_ALT_FILE,
                    None,
                    "",
                    None,
                    f"both {TIMERS_FILE} and {TIMERS_ALT_FILE} exist: keep one",
                )
            ]
        )
    unknown = sorted(set(texts) - set(FILE_ORDER))
    if unknown:
        raise ConfigError(
            [
                ConfigIssue(
                    name, None, "", None, f"not a config file name: use one of {', '.join(FILE_ORDER)}"
                )
                for name in unknown
            ]
        )
    if RISK_FILE not in texts:
        raise ConfigError([ConfigIssue(RISK_FILE, None, "", None, f"{RISK_FILE} is required")])

    docs = {name: parse_yaml(text, name, env) for name, text in texts.items()}
    issues: list[ConfigIssue] = [issue for doc in docs.values() for issue in doc.issues]
    warnings: list[ConfigIssue] = []

    risk_doc = docs[RISK_FILE]
    risk = _validate(risk_config_model(), risk_doc, issues)
    timers_doc = docs.get(TIMERS_FILE) or docs.get(TIMERS_ALT_FILE)
    timers = _validate(TimersConfig, timers_doc, issues) if timers_doc else TimersConfig()
    accounts_doc = docs.get(ACCOUNTS_FILE)
    accounts = _validate(AccountsConfig, accounts_doc, issues) if accounts_doc else AccountsConfig()
    if accounts_doc is not None:
        duplicates = _duplicate_accounts(accounts_doc)
        issues.extend(duplicates)
        if duplicates:
            accounts = None
    api_doc = docs.get(API_FILE)
    api = _validate(ApiConfig, api_doc, issues) if api_doc else ApiConfig()

    account_rules: dict[int, RulesBase] = {}
    if risk is not None:
        issues.extend(_cross_rule_issues(risk.rules, risk_doc, None, ("rules",), None))
        warnings.extend(_rules_without_enabled(risk_doc, ("rules",)))
        if accounts is not None and accounts_doc is not None:
            for index, entry in enumerate(accounts.accounts):
                if not entry.overrides.rules:
                    continue
                merged = _validate_account_rules(index, entry.id, risk_doc, accounts_doc, issues)
                if merged is not None:
                    account_rules[entry.id] = merged
    if (
        timers is not None
        and timers.holidays.calendar == "cme"
        and importlib.util.find_spec("exchange_calendars") is None
    ):
        assert timers_doc is not None
        issues.append(
            ConfigIssue(
                timers_doc.file,
                timers_doc.line_of(("holidays", "calendar")),
                "holidays.calendar",
                timers_doc.shown(("holidays", "calendar")),
                "the CME calendar needs the exchange_calendars package: run pip install 'risk-manager[cme]', "
                "or set calendar: none and list the dates under holidays.dates / holidays.early_close",
            )
        )
    if risk is not None and timers is not None:
        issues.extend(
            _session_issues(risk, account_rules, accounts, timers, risk_doc, accounts_doc, timers_doc)
        )
    nobody = accounts is not None and not any(a.enabled for a in accounts.accounts)
    if accounts is not None and accounts.monitor == "listed" and nobody:
        line = accounts_doc.line_of(("monitor",)) if accounts_doc else None
        warnings.append(
            ConfigIssue(
                ACCOUNTS_FILE,
                line,
                "monitor",
                "listed",
                "no enabled account is listed, so no account is monitored",
                "warning",
            )
        )

    if issues or risk is None or timers is None or accounts is None or api is None:
        raise ConfigError(_ordered(issues))
    files = tuple(name for name in FILE_ORDER if name in texts)
    secrets = {name: found for name, doc in docs.items() if (found := _literal_secrets(doc))}
    return LoadedConfig(
        risk, timers, accounts, api, account_rules, directory, files, tuple(warnings), secrets
    )


def _duplicate_accounts(doc: YamlDoc) -> list[ConfigIssue]:
    """An account id listed twice, named at both entries' lines (one issue per repeat)."""
    entries = doc.data.get("accounts") if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        return []
    first_line: dict[object, int] = {}
    found: list[ConfigIssue] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or isinstance(entry["id"], bool | dict | list):
            continue
        path: KeyPath = ("accounts", index, "id")
        line = doc.line_of(path)
        account = entry["id"]
        if account in first_line:
            found.append(ConfigIssue(
                doc.file, line, format_path(path), doc.shown(path),
                f"account {account} is listed twice, on lines {first_line[account]} and {line}: "
                "merge the two entries into one",
            ))
        else:
            first_line[account] = line
    return found


def _ordered(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    order = {name: i for i, name in enumerate(FILE_ORDER)}
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (order.get(i.file, len(order)), i.line or 0))


# ---- validation and error translation ------------------------------------------------------------


def _validate(model: type[M], doc: YamlDoc | None, issues: list[ConfigIssue]) -> M | None:
    if doc is None or doc.data is None:
        return None
    # A section whose contents are all commented out (``rules:`` and nothing under it) is empty,
    # not an error: it takes its defaults.
    data = {key: value for key, value in doc.data.items() if value is not None}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues.extend(translate(exc, doc, model))
        return None


def translate(
    exc: ValidationError,
    doc: YamlDoc,
    model: type[BaseModel] | None = None,
    *,
    data: Any = None,
    prefix: KeyPath = (),
    account: int | None = None,
    fallback: YamlDoc | None = None,
) -> list[ConfigIssue]:
    """Turn a pydantic ValidationError into ConfigIssues naming file, line, key path, value and fix.

    ``data`` is what was validated (default: the document's data); ``prefix`` is where that data sits
    in ``doc`` (an account's ``overrides.rules``); ``fallback`` is the document a value came from
    when it is not in ``doc`` (the base rules an override was merged onto).
    """
    data = doc.data if data is None else data
    grouped: dict[KeyPath, list[str]] = {}
    values: dict[KeyPath, str | None] = {}
    for error in exc.errors(include_url=False):
        path, on_key = _data_path(data, error["loc"], error["type"])
        if (*prefix, *path) in doc.env_failed:
            continue  # already reported: the environment variable it needs is not set
        message = _message(error, path, on_key, model)
        if any(is_secret_key(part) for part in path):
            message = _scrub(message, error.get("input"))
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
        if error["type"] not in ("missing", "extra_forbidden") and not on_key:
            full = (*prefix, *path)
            if doc.has(full):
                values.setdefault(path, doc.shown(full))
            elif fallback is not None and fallback.has(("rules", *path)):
                values.setdefault(path, fallback.shown(("rules", *path)))
    issues = []
    who = f"account {account}: " if account is not None else ""
    for path, messages in grouped.items():
        full = (*prefix, *path)
        issues.append(
            ConfigIssue(
                doc.file, doc.line_of(full), format_path(full), values.get(path), who + "; or ".join(messages)
            )
        )
    return issues


def _data_path(data: Any, loc: tuple[int | str, ...], kind: str) -> tuple[KeyPath, bool]:
    """The key path in the data for an error location (dropping pydantic's union-member tags)."""
    path: list[str | int] = []
    current = data
    on_key = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            on_key = True
            continue
        present = (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        )
        if present:
            path.append(part)
            current = current[part]
        elif last and kind == "missing":
            path.append(part)  # a required key that is absent
            current = None
        # else: a union member's tag such as "function-after[...]": not part of the file's structure
    return tuple(path), on_key


_HINTS = {
    "int_parsing": "must be a whole number, e.g. 5",
    "int_type": "must be a whole number, e.g. 5",
    "int_from_float": "must be a whole number, e.g. 5",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "float_parsing": "must be a number, e.g. 10",
    "float_type": "must be a number, e.g. 10",
    "decimal_parsing": "must be a number, e.g. -500",
    "decimal_type": "must be a number, e.g. -500",
    "string_type": "must be text (put it in quotes)",
    "list_type": "must be a list, e.g. [a, b]",
    "tuple_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping of keys, e.g. {key: value}",
    "model_type": "must be a mapping of keys, e.g. {key: value}",
    "model_attributes_type": "must be a mapping of keys, e.g. {key: value}",
    "date_parsing": 'must be a date YYYY-MM-DD, e.g. "2026-12-25"',
    "date_from_datetime_parsing": 'must be a date YYYY-MM-DD, e.g. "2026-12-25"',
    "date_type": 'must be a date YYYY-MM-DD, e.g. "2026-12-25"',
}


def _message(error: Mapping[str, Any], path: KeyPath, on_key: bool, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key_message(path, model)
    if kind == "missing":
        parent = format_path(path[:-1]) or "the top level"
        return f"required setting is missing: add {path[-1]}: under {parent}"
    message = _HINTS.get(kind) or str(error["msg"])
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    message = message.replace("Input should be", "must be")
    message = re.sub(r"; got [^:;]*$", "", message)  # the value is shown already
    if on_key:
        message = f"the key {path[-1]!r}: {message}"
    return message


def _unknown_key_message(path: KeyPath, model: type[BaseModel] | None) -> str:
    key = path[-1]
    allowed = _allowed_keys(model, path[:-1]) if model is not None else None
    what = "unknown rule" if allowed == list(RULE_KEYS) else "unknown key"
    message = f"{what} {key!r}"
    if allowed:
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if close:
            message += f": did you mean {close[0]!r}?"
        message += f" (allowed here: {', '.join(allowed)})"
    else:
        message += ": remove it"
    return message


def _allowed_keys(model: type[BaseModel], path: KeyPath) -> list[str] | None:
    """The keys the model accepts at ``path`` (None when it is not a single model there)."""
    candidates: list[Any] = [model]
    for part in path:
        nxt: list[Any] = []
        for candidate in candidates:
            nxt.extend(_step(candidate, part))
        candidates = nxt
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) != 1:
        return None
    return [f.alias or name for name, f in models[0].model_fields.items()]


def _unwrap(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Union or type(annotation).__name__ == "UnionType":
        return [t for arg in get_args(annotation) for t in _unwrap(arg) if t is not type(None)]
    if type(annotation).__name__ == "_AnnotatedAlias":
        return _unwrap(get_args(annotation)[0])
    return [annotation]


def _step(annotation: Any, part: str | int) -> list[Any]:
    out: list[Any] = []
    for t in _unwrap(annotation):
        origin = get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            for name, info in t.model_fields.items():
                if part in (name, info.alias):
                    out.extend(_unwrap(info.annotation))
        elif origin in (list, tuple) and isinstance(part, int):
            args = [a for a in get_args(t) if a is not Ellipsis]
            if args:
                out.extend(_unwrap(args[0]))
        elif origin is dict:
            out.extend(_unwrap(get_args(t)[1]))
    return out


def _scrub(message: str, value: Any) -> str:
    if isinstance(value, str) and value:
        message = message.replace(repr(value), REDACTED).replace(value, REDACTED)
    return message


# ---- cross-rule checks, per-account overrides, sessions -----------------------------------------


def _cross_rule_issues(
    rules: RulesBase,
    doc: YamlDoc,
    base_doc: YamlDoc | None,
    prefix: KeyPath,
    account: int | None,
) -> list[ConfigIssue]:
    """Cross-rule problems of ``rules`` written at ``prefix`` of ``doc``.

    For an account, ``doc`` is accounts.yaml and ``prefix`` its ``overrides.rules``; a setting the
    account does not override comes from ``base_doc`` (risk_config.yaml). The issue is attached to
    a key the account overrides when there is one (that is what made the pair conflict), and names
    where the other key is.
    """
    issues = []
    for problem in cross_rule_problems(rules):
        first, second = problem.path, problem.other
        if account is not None and not doc.has((*prefix, *first)) and doc.has((*prefix, *second)):
            first, second = second, first
        here = (*prefix, *first)
        shown = doc.shown(here) if doc.has(here) else None
        if shown is None:
            shown = str(problem.value if first == problem.path else problem.other_value)
        who = f"account {account}: " if account is not None else ""
        where = _where(doc, base_doc, prefix, second)
        issues.append(
            ConfigIssue(
                doc.file,
                doc.line_of(here),
                format_path(here),
                shown,
                f"{who}{problem.message} (rules.{'.'.join(second)} is set in {where})",
            )
        )
    return issues


def _where(doc: YamlDoc, base_doc: YamlDoc | None, prefix: KeyPath, rule_path: tuple[str, str]) -> str:
    path = (*prefix, *rule_path)
    if doc.has(path) or base_doc is None:
        return f"{doc.file} line {doc.line_of(path)}"
    base_path = ("rules", *rule_path)
    if base_doc.has(base_path):
        return f"{base_doc.file} line {base_doc.line_of(base_path)}"
    return f"{base_doc.file} (its default value)"


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` merged into ``base``: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def _validate_account_rules(
    index: int, account_id: int, risk_doc: YamlDoc, accounts_doc: YamlDoc, issues: list[ConfigIssue]
) -> RulesBase | None:
    prefix: KeyPath = ("accounts", index, "overrides", "rules")
    base = risk_doc.data.get("rules") or {}
    override = accounts_doc.at(prefix)
    merged = deep_merge(base, override)
    try:
        rules = rules_model().model_validate(merged)
    except ValidationError as exc:
        issues.extend(
            translate(
                exc,
                accounts_doc,
                rules_model(),
                data=merged,
                prefix=prefix,
                account=account_id,
                fallback=risk_doc,
            )
        )
        return None
    issues.extend(_cross_rule_issues(rules, accounts_doc, risk_doc, prefix, account_id))
    return rules


def _rules_without_enabled(doc: YamlDoc, prefix: KeyPath) -> list[ConfigIssue]:
    """A rule written with settings but no ``enabled:`` is off (the default); say so, it is easy to miss.

    Only for risk_config.yaml: an account override without ``enabled`` keeps the base setting.
    """
    try:
        section = doc.at(prefix)
    except (KeyError, IndexError, TypeError):
        return []
    if not isinstance(section, dict):
        return []
    warnings = []
    for key, value in section.items():
        if isinstance(value, dict) and "enabled" not in value and key in RULE_KEYS:
            path = (*prefix, key)
            warnings.append(
                ConfigIssue(
                    doc.file,
                    doc.line_of(path),
                    format_path(path),
                    None,
                    "has no 'enabled:' so the rule is OFF; add enabled: true to use it",
                    "warning",
                )
            )
    return warnings


def _session_issues(
    risk: RiskConfigBase,
    account_rules: Mapping[int, RulesBase],
    accounts: AccountsConfig | None,
    timers: TimersConfig,
    risk_doc: YamlDoc,
    accounts_doc: YamlDoc | None,
    timers_doc: YamlDoc | None,
) -> list[ConfigIssue]:
    """Settings that need session hours when timers.yaml defines none.

    An account is reported only for what its own overrides add (the base problems are reported
    once, at risk_config.yaml).
    """
    if timers.session_hours is not None:
        return []
    timers_name = timers_doc.file if timers_doc else TIMERS_FILE
    places: list[tuple[str, RulesBase, YamlDoc, KeyPath]] = [("", risk.rules, risk_doc, ("rules",))]
    if accounts is not None and accounts_doc is not None:
        for index, entry in enumerate(accounts.accounts):
            if entry.id in account_rules:
                places.append(
                    (
                        f"account {entry.id}: ",
                        account_rules[entry.id],
                        accounts_doc,
                        ("accounts", index, "overrides", "rules"),
                    )
                )
    issues = []
    for label, rules, doc, prefix in places:
        for key, config in rules.enabled():
            path: KeyPath = (*prefix, key)
            if label and not doc.has(path):
                continue
            if key == "session_block_outside":
                issues.append(
                    ConfigIssue(
                        doc.file,
                        doc.line_of(path),
                        format_path(path),
                        None,
                        f"{label}session_block_outside is enabled but no session_hours are set: "
                        f"add session_hours (start, end, timezone, days) to {timers_name}",
                    )
                )
                continue
            for sub, value in _walk(config):
                if isinstance(value, Duration) and value.until == UNTIL_SESSION_START:
                    if label and not doc.has((*path, *sub)):
                        continue
                    issues.append(
                        ConfigIssue(
                            doc.file,
                            doc.line_of((*path, *sub)),
                            format_path((*path, *sub)),
                            UNTIL_SESSION_START,
                            f"{label}until_session_start needs session_hours in {timers_name}: add them, "
                            "or use a fixed duration or until_reset",
                        )
                    )
    return issues


def _walk(value: Any, path: KeyPath = ()) -> Iterable[tuple[KeyPath, Any]]:
    """Every leaf of a config model, with its key path."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), (*path, name))
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    else:
        yield path, value


_NO_VALUE = ("(empty)", "null", "~", "Null", "NULL")


def _literal_secrets(doc: YamlDoc) -> list[KeyPath]:
    """Key paths of secret values written in the file itself (not taken from ``${ENV}``)."""
    return [
        path
        for path, raw in doc.raw.items()
        if path and is_secret_key(path[-1]) and not ONLY_ENV_REF.match(raw) and raw not in _NO_VALUE
    ]


def _permission_warnings(directory: Path, loaded: LoadedConfig) -> list[ConfigIssue]:
    """A secret written in a file others can read is a leak waiting to happen (CONFIG.md: mode 0600)."""
    if os.name != "posix":
        return []
    warnings = []
    for name, paths in loaded.secret_paths.items():
        path = directory / name
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            keys = ", ".join(format_path(p) for p in paths)
            warnings.append(
                ConfigIssue(
                    name,
                    None,
                    keys,
                    None,
                    f"this file holds a secret ({keys}) and others can read it "
                    f"(mode {mode:04o}): run chmod 600 {path}, or take the value from "
                    "the environment with ${NAME}",
                    "warning",
                )
            )
    return warnings
