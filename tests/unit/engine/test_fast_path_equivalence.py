"""The quote fast path never changes a decision: for any event stream, an engine that skips quotes
inside the rules' quiet bands decides exactly what an engine evaluating every quote decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_manager.domain.events import OrderSide, OrderType
from risk_manager.engine.policy import RuleSet
from risk_manager.rules.registry import rule_class

from engine_helpers import ES, MNQ, T0, EngineHarness, account_event, order, pos, quote, trade

QUOTE_RULES: dict[str, dict[str, Any]] = {
    "daily_realized_loss": {"limit": -400, "include_unrealized": True},
    "daily_unrealized_loss": {"limit": -150, "price_source": "last"},
    "max_unrealized_profit": {"target": 200, "price_source": "mid"},
    "daily_realized_profit": {"target": 600, "include_unrealized": True},
    "trade_management": {
        "breakeven": {"enabled": True, "trigger_ticks": 8, "offset_ticks": 1},
        "trailing": {"enabled": True, "activation_ticks": 12, "distance_ticks": 6},
    },
}
BASE = {MNQ: 21000.0, ES: 5800.0}


def build(fast_path: bool, keys: list[str]) -> EngineHarness:
    rules = [
        rule_class(k)(rule_class(k).config_model.model_validate({"enabled": True, **QUOTE_RULES[k]}))
        for k in keys
    ]
    return EngineHarness(*rules, warn_at=("0.5", "0.75", "0.9"), fast_path=fast_path)


contracts = st.sampled_from([MNQ, ES])
accounts = st.sampled_from([7, 8])
ticks = st.integers(-120, 120)


@st.composite
def events(draw: st.DrawFn) -> tuple[int, Any]:
    gap = draw(st.integers(0, 90))
    kind = draw(st.sampled_from(["quote"] * 6 + ["position", "trade", "stop"]))
    cid = draw(contracts)
    base = BASE[cid]
    if kind == "quote":
        last = base + draw(ticks) * 0.25
        spread = draw(st.integers(0, 2)) * 0.25
        partial = draw(st.sampled_from(["full", "last", "book"]))
        if partial == "last":
            return gap, quote(cid, last)
        if partial == "book":
            return gap, quote(cid, None, last - spread, last)
        return gap, quote(cid, last, last - spread, last)
    account = draw(accounts)
    if kind == "position":
        size = draw(st.integers(-3, 3))
        avg = base + draw(st.integers(-20, 20)) * 0.25
        return gap, pos(cid, size, f"{avg:.2f}", account=account)
    if kind == "trade":
        pnl = draw(st.one_of(st.none(), st.integers(-600, 400).map(lambda c: f"{c / 2:.2f}")))
        return gap, trade(draw(st.integers(1, 40)), cid, f"{base:.2f}", pnl=pnl, fees="0.74", account=account)
    stop = base + draw(ticks) * 0.25
    side = draw(st.sampled_from([OrderSide.SELL, OrderSide.BUY]))
    return gap, order(
        draw(st.integers(1, 5)),
        cid,
        type=OrderType.STOP,
        side=side,
        stop_price=f"{stop:.2f}",
        account=account,
    )


def run(stream: list[tuple[int, Any]], fast_path: bool, keys: list[str]) -> list[dict[str, Any]]:
    h = build(fast_path, keys)
    for gap, event in stream:
        h.apply(event, at=h.now + timedelta(seconds=gap))
    h.tick(hours=30)  # across a daily reset
    return [a.record(t) | {"inputs": a.inputs} for t, a in h.log]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=120))
def test_skipping_quotes_inside_quiet_bands_never_changes_a_decision(stream: list[tuple[int, Any]]) -> None:
    keys = list(QUOTE_RULES)
    assert run(stream, True, keys) == run(stream, False, keys)


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), min_size=1, max_size=80), st.sampled_from(list(QUOTE_RULES)))
def test_each_quote_sensitive_rule_alone_gives_the_same_decisions_with_the_fast_path(
    stream: list[tuple[int, Any]], key: str
) -> None:
    assert run(stream, True, [key]) == run(stream, False, [key])


def test_the_fast_path_really_skips_quotes() -> None:
    """Guard against a band that is always empty (which would pass the tests above trivially)."""
    h = build(True, list(QUOTE_RULES))
    h.apply(quote(MNQ, 21000.0, 20999.75, 21000.0), pos(MNQ, 1, "21000"))
    calls = 0
    engine = h.engine
    original = engine._evaluate_quote

    def counting(*args: Any) -> None:
        nonlocal calls
        calls += 1
        original(*args)

    engine._evaluate_quote = counting  # type: ignore[method-assign]
    for i in range(50):
        h.apply(quote(MNQ, 21000.0 - (i % 3) * 0.25), at=T0 + timedelta(seconds=i))
    assert calls < 10


# ---- busy and copier streams (issue 9: the band index must decide exactly as full evaluation) ----

walk_steps = st.sampled_from([-1, 1, -1, 1, -1, 1, -3, 3, 0])


@st.composite
def busy_streams(draw: st.DrawFn) -> list[tuple[int, Any]]:
    """Several accounts with positions in the same contracts at once, prices walking on the tick
    grid (so trailing stops keep moving), positions opening, growing, reversing and closing, stops
    placed and moved by hand, executions with P&L."""
    accounts_ = list(range(7, 7 + draw(st.integers(3, 8))))
    price = dict(BASE)
    stream: list[tuple[int, Any]] = []
    for _ in range(draw(st.integers(10, 160))):
        gap = draw(st.integers(0, 20))
        kind = draw(st.sampled_from(["quote"] * 10 + ["position", "position", "stop", "trade"]))
        cid = draw(contracts)
        if kind == "quote":
            price[cid] += draw(walk_steps) * 0.25
            p = price[cid]
            stream.append((gap, quote(cid, p, p - 0.25, p) if draw(st.booleans()) else quote(cid, p)))
            continue
        account = draw(st.sampled_from(accounts_))
        if kind == "position":
            size = draw(st.integers(-3, 3))
            avg = price[cid] + draw(st.integers(-4, 4)) * 0.25
            stream.append((gap, pos(cid, size, f"{avg:.2f}", account=account)))
        elif kind == "stop":
            side = draw(st.sampled_from([OrderSide.SELL, OrderSide.BUY]))
            stop = price[cid] + draw(st.integers(-30, 30)) * 0.25
            stream.append(
                (
                    gap,
                    order(
                        account * 10 + draw(st.integers(1, 3)),
                        cid,
                        type=OrderType.STOP,
                        side=side,
                        stop_price=f"{stop:.2f}",
                        account=account,
                    ),
                )
            )
        else:
            pnl = draw(st.one_of(st.none(), st.integers(-600, 400).map(lambda c: f"{c / 2:.2f}")))
            stream.append(
                (gap, trade(draw(st.integers(1, 60)), cid, f"{price[cid]:.2f}", pnl=pnl, account=account))
            )
    return stream


@st.composite
def copier_streams(draw: st.DrawFn) -> list[tuple[int, Any]]:
    """N accounts holding the same MNQ and ES positions from the same entry with the same stops;
    quotes wander a few ticks around a centre and now and then break out by 20-30 ticks."""
    n = draw(st.integers(2, 10))
    side = draw(st.sampled_from([1, -1]))
    stream: list[tuple[int, Any]] = [(0, quote(cid, BASE[cid], BASE[cid] - 0.25, BASE[cid])) for cid in BASE]
    for account in range(7, 7 + n):
        for k, cid in enumerate(BASE):
            stream.append((0, pos(cid, side, f"{BASE[cid]:.2f}", account=account)))
            stop = BASE[cid] - side * 40 * 0.25
            stop_side = OrderSide.SELL if side > 0 else OrderSide.BUY
            stream.append(
                (0, order(account * 10 + k, cid, side=stop_side, stop_price=f"{stop:.2f}", account=account))
            )
    centre = dict(BASE)
    offset = dict.fromkeys(BASE, 0)
    for _ in range(draw(st.integers(10, 200))):
        cid = draw(contracts)
        if draw(st.integers(0, 14)) == 0:  # a breakout: a run of ticks in one direction
            direction = draw(st.sampled_from([1, -1]))
            for _ in range(draw(st.integers(20, 30))):
                centre[cid] += direction * 0.25
                stream.append((1, quote(cid, centre[cid] + offset[cid] * 0.25)))
        else:
            offset[cid] = max(-6, min(6, offset[cid] + draw(walk_steps)))
            p = centre[cid] + offset[cid] * 0.25
            stream.append((draw(st.integers(0, 5)), quote(cid, p, p - 0.25, p)))
    return stream


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy_streams())
def test_on_busy_streams_the_band_index_decides_exactly_as_full_evaluation(
    stream: list[tuple[int, Any]],
) -> None:
    keys = list(QUOTE_RULES)
    assert run(stream, True, keys) == run(stream, False, keys)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copier_streams())
def test_on_copier_streams_the_band_index_decides_exactly_as_full_evaluation(
    stream: list[tuple[int, Any]],
) -> None:
    keys = list(QUOTE_RULES)
    assert run(stream, True, keys) == run(stream, False, keys)


def evaluations_of_wandering_quotes(accounts: int) -> int:
    h = build(True, list(QUOTE_RULES))
    for account in range(7, 7 + accounts):
        h.apply(quote(MNQ, 21000.0, 20999.75, 21000.0), pos(MNQ, 1, "21000", account=account))
        h.apply(order(account, MNQ, stop_price="20990", account=account))
    calls = 0
    engine = h.engine
    original = engine._evaluate_quote

    def counting(*args: Any) -> None:
        nonlocal calls
        calls += 1
        original(*args)

    engine._evaluate_quote = counting  # type: ignore[method-assign]
    for i in range(200):
        p = 21000.0 + ((i % 7) - 3) * 0.25  # within 3 ticks: below breakeven and warnings
        h.apply(quote(MNQ, p, p - 0.25, p), at=h.now + timedelta(seconds=1))
    return calls


def test_on_a_copier_stream_quotes_inside_the_bands_wake_nobody_however_many_accounts() -> None:
    """The point of the index: wandering quotes cost no evaluation, at 3 accounts as at 30."""
    assert evaluations_of_wandering_quotes(3) == 0
    assert evaluations_of_wandering_quotes(30) == 0


# ---- account events and the other rules (an account event recomputes only the bands it can move) ----

# Every quote rule, RULE-003 on the balance, and the rules that decide on orders and positions: their
# decisions (markers, lockouts) are what an account event's band refresh must notice or may skip.
ACCOUNT_RULES: dict[str, dict[str, Any]] = {
    **QUOTE_RULES,
    "daily_realized_loss": {"limit": -400, "include_unrealized": True, "pnl_source": "balance"},
    "no_stop_loss_grace": {"grace_period_seconds": 30},
    "auth_loss_guard": {},
    "max_contracts": {"limit": 4},
}


def build_with(fast_path: bool, config: dict[str, dict[str, Any]]) -> EngineHarness:
    rules = [
        rule_class(k)(rule_class(k).config_model.model_validate({"enabled": True, **v}))
        for k, v in config.items()
    ]
    return EngineHarness(*rules, warn_at=("0.5", "0.75", "0.9"), fast_path=fast_path)


@st.composite
def account_streams(draw: st.DrawFn) -> list[tuple[int, Any]]:
    """Busy streams with balance updates (the day's P&L from the balance moves on them alone),
    canTrade turning false and back, and stops placed and cancelled."""
    stream = draw(busy_streams())
    balance = {7: 50_000, 8: 50_000, 9: 50_000}
    out: list[tuple[int, Any]] = []
    for item in stream:
        out.append(item)
        kind = draw(st.sampled_from(["none"] * 5 + ["balance", "balance", "cannot", "cancel"]))
        account = draw(st.sampled_from(sorted(balance)))
        if kind == "balance":
            balance[account] += draw(st.integers(-300, 200))
            update = account_event(True, account=account, balance=balance[account])
            out.append((draw(st.integers(0, 5)), update))
        elif kind == "cannot":
            out.append((0, account_event(False, account=account, balance=balance[account])))
            back = account_event(True, account=account, balance=balance[account])
            out.append((draw(st.integers(1, 40)), back))
        elif kind == "cancel":
            out.append(
                (0, order(account * 10 + draw(st.integers(1, 3)), draw(contracts), status=3, account=account))
            )
    return out


def run_with(stream: list[tuple[int, Any]], fast_path: bool, config: dict[str, dict[str, Any]]) -> list[Any]:
    h = build_with(fast_path, config)
    for gap, event in stream:
        h.apply(event, at=h.now + timedelta(seconds=gap))
    h.tick(hours=30)
    return [a.record(t) | {"inputs": a.inputs} for t, a in h.log]


# The busy day's rule set: every quote-sensitive rule marks at the last price (the book bands stay
# unbounded, and a quote is tested against the last-price heaps alone).
LAST_PRICE_RULES: dict[str, dict[str, Any]] = {
    **QUOTE_RULES,
    "max_unrealized_profit": {"target": 200, "price_source": "last"},
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy_streams())
def test_on_busy_streams_with_every_band_on_the_last_price_the_band_index_decides_as_full_evaluation(
    stream: list[tuple[int, Any]],
) -> None:
    assert run_with(stream, True, LAST_PRICE_RULES) == run_with(stream, False, LAST_PRICE_RULES)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_streams())
def test_with_account_events_and_every_kind_of_decision_the_fast_path_decides_as_full_evaluation(
    stream: list[tuple[int, Any]],
) -> None:
    """The reference engine recomputes every band and wake-up after every account event; the fast
    one keeps the bands an event cannot have moved (Rule.band_reads)."""
    assert run_with(stream, True, ACCOUNT_RULES) == run_with(stream, False, ACCOUNT_RULES)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_streams())
def test_a_trades_based_daily_loss_keeps_its_bands_across_balance_updates_and_decides_the_same(
    stream: list[tuple[int, Any]],
) -> None:
    config = {**ACCOUNT_RULES, "daily_realized_loss": {"limit": -400, "include_unrealized": True}}
    assert run_with(stream, True, config) == run_with(stream, False, config)


def test_a_balance_update_recomputes_only_the_bands_that_read_the_balance() -> None:
    def band_calls(pnl_source: str) -> int:
        loss = {"limit": -400, "include_unrealized": True, "pnl_source": pnl_source}
        h = build_with(
            True, {"daily_realized_loss": loss, "daily_unrealized_loss": QUOTE_RULES["daily_unrealized_loss"]}
        )
        h.apply(quote(MNQ, 21000.0), pos(MNQ, 1, "21000"), account_event(True, balance="50000"))
        calls = 0
        for rule in h.engine.policy.rules_for(7).rules:  # type: ignore[union-attr]
            original = rule.price_band

            def counting(view: Any, position: Any, _original: Any = original) -> Any:
                nonlocal calls
                calls += 1
                return _original(view, position)

            rule.price_band = counting  # type: ignore[method-assign]
        h.apply(account_event(True, balance="50100"), at=h.now + timedelta(seconds=1))
        return calls

    assert band_calls("trades") == 0  # the balance is read by no band: every band is kept
    assert band_calls("balance") == 1  # RULE-003 on the balance: its band on the one position


def test_a_rule_naming_an_input_no_event_changes_is_refused_when_its_rule_set_is_made() -> None:
    """A misspelt band input would never trigger a refresh, leaving the rule's bands stale."""
    loss = rule_class("daily_unrealized_loss")
    rule = loss(loss.config_model.model_validate({"enabled": True, "limit": -150}))

    class Misspelt(type(rule)):  # type: ignore[misc]
        @property
        def band_reads(self) -> frozenset[str]:
            return frozenset({"order"})

    with pytest.raises(ValueError, match=r"RULE-004 band_reads names \['order'\]"):
        RuleSet((Misspelt(rule.config),))


# RULE-006 locking on the second execution in a minute, beside two rules with bands.
FREQUENCY_AND_BANDS: dict[str, dict[str, Any]] = {
    "daily_realized_loss": {"limit": -400, "include_unrealized": True},
    "daily_unrealized_loss": QUOTE_RULES["daily_unrealized_loss"],
    "trade_frequency_limit": {"per_minute": 1, "per_hour": 60, "per_session": 400},
}


def band_calls(h: EngineHarness) -> list[str]:
    """From now on, the id of the rule of each band computed for account 7, in order."""
    called: list[str] = []
    for rule in h.engine.policy.rules_for(7).rules:  # type: ignore[union-attr]
        original = rule.price_band

        def counting(view: Any, position: Any, _original: Any = original, _id: str = rule.id) -> Any:
            called.append(_id)
            return _original(view, position)

        rule.price_band = counting  # type: ignore[method-assign]
    return called


def test_a_lockout_taken_on_a_trade_recomputes_only_the_bands_its_decision_can_have_moved() -> None:
    """A lockout is read by no band: taking one changes its rule's marker, as any decision does, and
    the bands reading what the trade changed (the day) are recomputed; the others are kept."""
    h = build_with(True, FREQUENCY_AND_BANDS)
    h.apply(quote(MNQ, 21000.0), pos(MNQ, 1, "21000"), trade(1, MNQ, "21000"))
    called = band_calls(h)
    actions = h.apply(trade(2, MNQ, "21000"), at=h.now + timedelta(seconds=10))
    assert ("RULE-006", "lockout") in [(a.rule, a.kind) for a in actions]
    assert called == ["RULE-003"]


# RULE-006 and RULE-007 lock the account on executions (a lockout taken on a trade event).
LOCKING_RULES: dict[str, dict[str, Any]] = {
    **ACCOUNT_RULES,
    "trade_frequency_limit": {"per_minute": 2, "per_hour": 6, "per_session": 12},
    "cooldown_after_loss": {"tiers": [{"loss": -150, "cooldown": "1m"}]},
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_streams())
def test_with_lockouts_taken_on_executions_the_fast_path_decides_as_full_evaluation(
    stream: list[tuple[int, Any]],
) -> None:
    assert run_with(stream, True, LOCKING_RULES) == run_with(stream, False, LOCKING_RULES)


def test_a_lockout_ending_on_its_timer_recomputes_only_the_bands_of_its_own_rule() -> None:
    """A lockout's end clears its rule's breach markers, on every contract: the bands of that rule
    (none for RULE-006, which has no band) and of rules reading markers (none) move; a timer moves
    no position and no other input, so the other bands are kept."""
    h = build_with(True, FREQUENCY_AND_BANDS)
    h.apply(quote(MNQ, 21000.0), quote(ES, 5800.0), pos(MNQ, 1, "21000"), pos(ES, 1, "5800"))
    h.apply(trade(1, MNQ, "21000"), trade(2, MNQ, "21000"), at=h.now + timedelta(seconds=1))
    assert h.state.lockouts.get(("RULE-006", "account", None)) is not None
    called = band_calls(h)
    actions = h.tick(minutes=2)
    assert [(a.rule, a.kind) for a in actions] == [("RULE-006", "unlock")]
    assert called == []
