"""An account's breach markers re-arm as a scan of every marker would: a position's own (and those
nested under it), a rule's, whatever came before."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_manager.engine.state import Markers

from engine_helpers import ES, MNQ

CONTRACTS = [MNQ, ES, "ODD:ID"]
subjects = st.one_of(
    st.sampled_from(CONTRACTS).map(lambda c: f"pos:{c}"),
    st.tuples(st.sampled_from(CONTRACTS), st.sampled_from(["warn:0.5", "stop:1"])).map(
        lambda t: f"pos:{t[0]}:{t[1]}"
    ),
    st.sampled_from(["account", "order:1", "symbol:MNQ", "position", "pos:"]),
)
markers = st.tuples(st.sampled_from(["RULE-001", "RULE-004", "LOCKOUT"]), subjects)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), markers),
        st.tuples(st.just("position"), st.sampled_from(CONTRACTS), st.booleans()),
        st.tuples(st.just("rule"), st.sampled_from(["RULE-001", "RULE-004", "LOCKOUT"])),
        st.tuples(st.just("clear")),
    ),
    max_size=40,
)


def scanned(reference: set[tuple[str, str]], step: tuple[Any, ...]) -> set[tuple[str, str]]:
    """What a scan of every marker leaves after ``step``."""
    kind = step[0]
    if kind == "add":
        return reference | {step[1]}
    if kind == "position":
        subject = f"pos:{step[1]}"
        return {m for m in reference if not (m[1] == subject or (step[2] and m[1].startswith(subject + ":")))}
    if kind == "rule":
        return {m for m in reference if m[0] != step[1]}
    return set()


@settings(max_examples=300, deadline=None)
@given(steps)
def test_markers_re_arm_exactly_as_a_scan_of_every_marker(sequence: list[tuple[Any, ...]]) -> None:
    kept, reference = Markers(), set[tuple[str, str]]()
    for step in sequence:
        reference = scanned(reference, step)
        if step[0] == "add":
            kept.add(step[1])
        elif step[0] == "position":
            kept.rearm_position(step[1], nested=step[2])
        elif step[0] == "rule":
            kept.rearm_rule(step[1])
        else:
            kept.clear()
        assert kept == reference


def test_markers_made_from_a_list_re_arm_and_survive_a_pickle() -> None:
    kept = pickle.loads(pickle.dumps(Markers([("RULE-004", f"pos:{MNQ}:warn:0.5"), ("RULE-001", "account")])))
    kept.rearm_position(MNQ, nested=True)
    assert kept == {("RULE-001", "account")}
