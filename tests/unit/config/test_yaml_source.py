"""Line-aware YAML parsing: every key path maps to its line; ${ENV}; YAML 1.2 scalars; syntax errors."""

from __future__ import annotations

from datetime import date

import pytest

from risk_manager.config.yaml_source import format_path, parse_yaml


def test_every_key_and_list_item_maps_to_the_line_it_is_written_on() -> None:
    doc = parse_yaml("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", "f.yaml", {})
    assert doc.lines[("a",)] == 1
    assert doc.lines[("a", "b")] == 2
    assert doc.lines[("a", "c")] == 3
    assert doc.lines[("a", "c", 0)] == 4
    assert doc.lines[("a", "c", 1, "d")] == 5


def test_a_missing_key_is_located_at_its_deepest_existing_parent() -> None:
    doc = parse_yaml("rules:\n  max_contracts:\n    enabled: true\n", "f.yaml", {})
    assert doc.line_of(("rules", "max_contracts", "limit")) == 2
    assert doc.line_of(("nothing", "here")) == 1


def test_values_are_shown_as_written_not_as_parsed() -> None:
    doc = parse_yaml('a: 0.50\nb: "17:00"\nc: 1_000\n', "f.yaml", {})
    assert doc.shown(("a",)) == "0.50"
    assert doc.shown(("b",)) == '"17:00"'
    assert doc.shown(("c",)) == "1_000"


def test_unquoted_clock_times_stay_text_instead_of_yaml_1_1_sexagesimal_numbers() -> None:
    doc = parse_yaml("start: 17:00\nend: 08:30\n", "f.yaml", {})
    assert doc.data == {"start": "17:00", "end": "08:30"}


def test_yes_no_on_off_are_words_and_only_true_false_are_booleans() -> None:
    doc = parse_yaml("a: [yes, no, on, off, NO]\nb: true\nc: False\n", "f.yaml", {})
    assert doc.data == {"a": ["yes", "no", "on", "off", "NO"], "b": True, "c": False}


def test_numbers_and_dates_parse_as_yaml_1_2_core_schema() -> None:
    doc = parse_yaml("i: -500\nf: 0.25\ne: 1e3\nz: 007\nd: 2026-12-25\n", "f.yaml", {})
    assert doc.data == {"i": -500, "f": 0.25, "e": 1000.0, "z": "007", "d": date(2026, 12, 25)}


def test_env_reference_is_replaced_anywhere_in_a_string() -> None:
    doc = parse_yaml("url: https://${HOST}:${PORT}/api\n", "f.yaml", {"HOST": "example.com", "PORT": "8443"})
    assert doc.issues == []
    assert doc.data == {"url": "https://example.com:8443/api"}
    assert doc.shown(("url",)) == "https://${HOST}:${PORT}/api"


def test_env_reference_inside_a_flow_mapping_parses_as_config_md_writes_it() -> None:
    doc = parse_yaml('telegram: {bot_token: ${TELEGRAM_TOKEN}, chat_id: "12345"}\n', "f.yaml",
                     {"TELEGRAM_TOKEN": "abc"})
    assert doc.issues == []
    assert doc.data == {"telegram": {"bot_token": "abc", "chat_id": "12345"}}


def test_double_dollar_is_a_literal_dollar() -> None:
    doc = parse_yaml("a: pa$$word\nb: cost $5\n", "f.yaml", {})
    assert doc.data == {"a": "pa$word", "b": "cost $5"}


def test_missing_env_var_is_an_error_naming_file_line_key_and_variable() -> None:
    doc = parse_yaml("x: 1\nnotify:\n  url: ${NOT_SET_ANYWHERE}\n", "risk_config.yaml", {})
    [issue] = doc.issues
    assert (issue.file, issue.line, issue.path) == ("risk_config.yaml", 3, "notify.url")
    assert "NOT_SET_ANYWHERE is not set" in issue.message
    assert str(issue).startswith("risk_config.yaml:3: notify.url = ${NOT_SET_ANYWHERE}: ")


def test_every_missing_env_var_is_reported_not_just_the_first() -> None:
    doc = parse_yaml("a: ${ONE}\nb: ${TWO}\n", "f.yaml", {})
    assert [i.line for i in doc.issues] == [1, 2]


def test_a_secret_value_is_never_shown_but_its_env_reference_is() -> None:
    doc = parse_yaml("api_key: literal-secret\nbot_token: ${TOKEN}\npassword: x${TOKEN}\n", "f.yaml", {})
    assert doc.shown(("api_key",)) == "***"
    assert doc.shown(("bot_token",)) == "${TOKEN}"
    assert doc.shown(("password",)) == "***"
    assert all("literal-secret" not in str(i) for i in doc.issues)


def test_syntax_error_names_file_and_line() -> None:
    doc = parse_yaml("general:\n  timezone: America/Chicago\n rules: {\n", "risk_config.yaml", {})
    [issue] = doc.issues
    assert issue.file == "risk_config.yaml"
    assert issue.line == 3
    assert "indentation does not match the lines above it" in issue.message
    assert doc.data is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # PyYAML notices the missing } on line 3; the mistake is on line 2.
        ("rules:\n  max_contracts: {enabled: true, limit: 5\n  symbol_blocks: {}\n", 2, "the { opened"),
        ("general:\n  warn_at: [0.5, 0.75\nrules: {}\n", 2, "the [ opened on this line is not closed"),
        ("rules:\n  max_contracts:\n    enabled: true\n   limit: 5\n", 4, "indentation does not match"),
        ('general:\n  timezone: "America/Chicago\nrules: {}\n', 2, "the quote opened on this line"),
        ("rules:\n  max_contracts\n    enabled: true\n", 3, "may lack the ':' after its key"),
    ],
)
def test_syntax_errors_are_in_plain_words_at_the_line_to_fix(text: str, line: int, words: str) -> None:
    [issue] = parse_yaml(text, "risk_config.yaml", {}).issues
    assert issue.line == line
    assert words in issue.message
    assert "<" not in issue.message  # no parser jargon such as <block end>


def test_tab_indentation_is_a_syntax_error_with_a_line() -> None:
    doc = parse_yaml("rules:\n\tmax_contracts: {}\n", "f.yaml", {})
    assert doc.issues[0].line == 2


def test_a_key_written_twice_is_an_error_on_the_second_line() -> None:
    doc = parse_yaml("rules:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml", {})
    [issue] = doc.issues
    assert (issue.line, issue.path) == (4, "rules.a")
    assert "first on line 2" in issue.message


def test_merge_keys_are_resolved_and_explicit_keys_win() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "f.yaml", {})
    assert doc.issues == []
    assert doc.data["m"] == {"x": 1, "y": 3}


def test_python_tags_are_refused() -> None:
    doc = parse_yaml("a: !!python/object/apply:os.system [echo]\n", "f.yaml", {})
    assert "unsupported YAML value" in doc.issues[0].message
    assert doc.issues[0].line == 1


def test_a_file_that_is_not_a_mapping_is_an_error() -> None:
    doc = parse_yaml("- a\n- b\n", "f.yaml", {})
    assert "must be a mapping" in doc.issues[0].message


def test_an_empty_file_is_an_empty_mapping() -> None:
    doc = parse_yaml("# nothing yet\n", "f.yaml", {})
    assert doc.data == {}
    assert doc.issues == []


def test_key_paths_print_with_dots_and_list_indexes() -> None:
    assert format_path(("accounts", 0, "overrides", "rules")) == "accounts[0].overrides.rules"
    assert format_path(()) == ""


def test_union_member_tags_of_pydantic_errors_are_not_shown_as_keys() -> None:
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, ValidationError

    from risk_manager.config.loader import translate

    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int

    class Outer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int | Literal["auto"]
        y: Inner | list[int]

    doc = parse_yaml("x: abc\ny: {a: q, b: 1}\n", "f.yaml", {})
    try:
        Outer.model_validate(doc.data)
    except ValidationError as exc:
        rendered = [str(issue) for issue in translate(exc, doc, Outer)]
    assert rendered == [
        "f.yaml:1: x = abc: must be a whole number, e.g. 5; or must be 'auto'",
        "f.yaml:2: y.a = q: must be a whole number, e.g. 5",
        "f.yaml:2: y.b: unknown key 'b' (allowed here: a)",
        "f.yaml:2: y: must be a list, e.g. [a, b]",
    ]
