"""The read model: Engine.status() builds AccountStatus from engine state, with each enabled rule's
gauge, driven through the real engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from risk_manager.domain.status import AccountStatus, ConnectionState, RuleGauge, TradingState
from risk_manager.rules.daily_realized_loss import DailyRealizedLoss, DailyRealizedLossConfig
from risk_manager.rules.daily_realized_profit import DailyRealizedProfit, DailyRealizedProfitConfig
from risk_manager.rules.daily_unrealized_loss import DailyUnrealizedLoss, DailyUnrealizedLossConfig
from risk_manager.rules.max_contracts import MaxContracts, MaxContractsConfig
from risk_manager.rules.max_contracts_per_instrument import (
    MaxContractsPerInstrument,
    MaxContractsPerInstrumentConfig,
)
from risk_manager.rules.max_unrealized_profit import MaxUnrealizedProfit, MaxUnrealizedProfitConfig
from risk_manager.rules.symbol_blocks import SymbolBlocks, SymbolBlocksConfig
from risk_manager.rules.trade_frequency_limit import TradeFrequencyLimit, TradeFrequencyLimitConfig

from engine_helpers import ACCOUNT, ES, MNQ, T0, EngineHarness, account_event, pos, quote, trade

# T0 is Monday 2026-03-02 08:30 Chicago; the trading day ends at 17:00 CST = 23:00 UTC.
RESET = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
D = Decimal


def every_gauged_rule() -> EngineHarness:
    return EngineHarness(
        MaxContracts(MaxContractsConfig(enabled=True, limit=5)),
        MaxContractsPerInstrument(
            MaxContractsPerInstrumentConfig(enabled=True, default_limit=4, instrument_limits={"ES": 2})
        ),
        DailyRealizedLoss(DailyRealizedLossConfig(enabled=True, limit=D(-500))),
        DailyUnrealizedLoss(DailyUnrealizedLossConfig(enabled=True, limit=D(-300))),
        MaxUnrealizedProfit(MaxUnrealizedProfitConfig(enabled=True, target=D(1000))),
        TradeFrequencyLimit(
            TradeFrequencyLimitConfig(enabled=True, per_minute=3, per_hour=10, per_session=50)
        ),
        DailyRealizedProfit(DailyRealizedProfitConfig(enabled=True, target=D(1000))),
        SymbolBlocks(SymbolBlocksConfig(enabled=True, blocked_symbols=["RTY"])),
    )


def status_of(h: EngineHarness) -> AccountStatus:
    status = h.engine.status(ACCOUNT, h.now)
    assert status is not None
    return status


def gauges(status: AccountStatus) -> dict[str, RuleGauge]:
    return {g.rule: g for g in status.gauges}


def test_an_account_the_engine_has_not_seen_has_no_status() -> None:
    assert EngineHarness().engine.status(ACCOUNT, T0) is None


def test_a_quiet_account_is_active_with_zero_pnl_and_the_next_reset() -> None:
    h = every_gauged_rule()
    h.apply(account_event(balance="50000"))
    status = status_of(h)
    assert status.account_id == ACCOUNT
    assert status.name == f"ACC-{ACCOUNT}"
    assert status.balance == D(50000)
    assert status.trading_day == date(2026, 3, 2)
    assert (status.realized, status.costs, status.unrealized, status.net) == (0, 0, 0, 0)
    assert status.positions == ()
    assert status.lockouts == ()
    assert status.trading_state is TradingState.ACTIVE
    assert status.next_reset == RESET
    assert status.connection is ConnectionState.REPLAY
    assert status.as_of == T0


def test_day_figures_give_the_status_day_counters_without_the_whole_status() -> None:
    h = every_gauged_rule()
    assert h.engine.day_figures(ACCOUNT) is None
    h.apply(trade(1, MNQ, "21000", pnl="-100", fees="2", commissions="1.5"))
    h.apply(trade(2, MNQ, "21010", pnl="40", fees="2", commissions="1.5"))
    day = h.engine.day_figures(ACCOUNT)
    status = status_of(h)
    assert day is not None
    assert (day.account_id, day.label, day.end) == (ACCOUNT, status.trading_day, status.next_reset)
    assert (day.realized, day.costs, day.trade_count) == (D(-60), D(7), 2)
    assert (day.realized, day.costs, day.trade_count) == (status.realized, status.costs, status.trade_count)


def test_positions_are_marked_at_the_last_price_and_sum_into_net() -> None:
    h = every_gauged_rule()
    h.apply(trade(1, MNQ, "21000", pnl="-100", fees="2", commissions="1.5"))
    h.apply(pos(MNQ, 2, "21000"), quote(MNQ, last=21010.0))  # +10 points * 2 contracts * $2 = +40
    status = status_of(h)
    (position,) = status.positions
    assert (position.contract_id, position.symbol, position.size) == (MNQ, "MNQ", 2)
    assert (position.average_price, position.mark, position.unrealized) == (D(21000), D(21010), D(40))
    assert position.opened_at == T0
    assert (status.realized, status.costs, status.unrealized) == (D(-100), D("3.5"), D(40))
    assert status.net == D("-63.5")
    assert status.trade_count == 1


def test_a_position_without_a_quote_leaves_unrealized_unknown_but_net_counts_what_is_known() -> None:
    h = every_gauged_rule()
    h.apply(pos(MNQ, 1, "21000"), quote(MNQ, last=21005.0), pos(ES, 1, "5000"))
    status = status_of(h)
    assert status.unrealized is None
    assert status.net == D(10)
    assert [p.unrealized for p in status.positions] == [None, D(10)]  # sorted by contract id: EP, MNQ


def test_contract_gauges_count_the_account_and_the_symbol_nearest_its_limit() -> None:
    h = every_gauged_rule()
    h.apply(pos(MNQ, 3, "21000"), pos(ES, 2, "5000"))
    by_rule = gauges(status_of(h))
    total = by_rule["RULE-001"]
    assert (total.value, total.limit, total.fraction, total.unit) == (D(5), D(5), D(1), "contracts")
    assert not total.breached  # at the limit is allowed; over it is a breach
    worst = by_rule["RULE-002"]
    assert (worst.subject, worst.value, worst.limit, worst.fraction) == ("ES", D(2), D(2), D(1))
    assert not worst.breached


def test_the_day_pnl_gauges_show_the_loss_limit_and_the_profit_target() -> None:
    h = every_gauged_rule()
    h.apply(trade(1, MNQ, "21000", pnl="-250"))
    by_rule = gauges(status_of(h))
    loss = by_rule["RULE-003"]
    assert (loss.name, loss.value, loss.limit, loss.fraction, loss.unit) == (
        "daily_realized_loss",
        D(-250),
        D(-500),
        D("0.5"),
        "USD",
    )
    assert not loss.breached
    target = by_rule["RULE-013"]
    assert (target.value, target.limit, target.fraction) == (D(-250), D(1000), D(0))


def test_a_breached_loss_limit_shows_a_breached_gauge_and_a_halted_account_until_the_reset() -> None:
    h = every_gauged_rule()
    h.apply(trade(1, MNQ, "21000", pnl="-600"))
    status = status_of(h)
    loss = gauges(status)["RULE-003"]
    assert loss.breached and loss.fraction == D("1.2")
    assert status.trading_state is TradingState.HALTED
    (lockout,) = status.lockouts
    assert (lockout.rule, lockout.scope, lockout.symbol, lockout.until) == (
        "RULE-003",
        "account",
        None,
        RESET,
    )
    assert lockout.since == T0
    assert "day P&L -600.00" in lockout.reason


def test_per_position_gauges_show_the_worst_loss_and_the_best_profit() -> None:
    h = every_gauged_rule()
    h.apply(pos(MNQ, 1, "21000"), pos(ES, 1, "5000"))
    h.apply(quote(MNQ, last=20900.0), quote(ES, last=5002.0))  # MNQ -$200, ES +$100
    by_rule = gauges(status_of(h))
    worst = by_rule["RULE-004"]
    assert (worst.subject, worst.value, worst.limit) == (MNQ, D(-200), D(-300))
    assert worst.fraction is not None and worst.fraction.quantize(D("0.0001")) == D("0.6667")
    best = by_rule["RULE-005"]
    assert (best.subject, best.value, best.limit, best.fraction) == (
        "CON.F.US.EP.H26",
        D(100),
        D(1000),
        D("0.1"),
    )


def test_per_position_gauges_are_absent_without_positions_and_rules_without_a_value_give_none() -> None:
    h = every_gauged_rule()
    h.apply(account_event())
    assert sorted(gauges(status_of(h))) == ["RULE-001", "RULE-003", "RULE-006", "RULE-013"]


def test_the_frequency_gauge_shows_the_window_nearest_its_limit_and_forgets_as_the_clock_moves() -> None:
    h = every_gauged_rule()
    h.apply(trade(1, MNQ, "21000"), trade(2, MNQ, "21000"))
    minute = gauges(status_of(h))["RULE-006"]
    assert (minute.subject, minute.value, minute.limit, minute.unit) == ("per_minute", D(2), D(3), "trades")
    h.tick(minutes=2)
    later = gauges(status_of(h))["RULE-006"]
    assert (later.subject, later.value, later.limit) == ("per_hour", D(2), D(10))


def test_statuses_lists_every_account_by_id_and_reading_changes_no_decision() -> None:
    h = every_gauged_rule()
    h.apply(account_event(account=9), account_event(account=ACCOUNT))
    before = h.engine.next_deadline()
    assert [s.account_id for s in h.engine.statuses(h.now, ConnectionState.CONNECTED)] == [ACCOUNT, 9]
    assert {s.connection for s in h.engine.statuses(h.now)} == {ConnectionState.REPLAY}
    assert h.engine.next_deadline() == before
    assert h.apply(trade(1, MNQ, "21000", pnl="-600"), at=T0 + timedelta(seconds=1))


def test_to_json_writes_utc_times_with_milliseconds_and_money_with_two_decimals() -> None:
    h = every_gauged_rule()
    h.apply(trade(1, MNQ, "21000", pnl="-600.5", fees="1"), pos(MNQ, 1, "21000"), quote(MNQ, last=21000.25))
    data = status_of(h).to_json()
    assert data["realized"] == "-600.50"
    assert data["costs"] == "1.00"
    assert data["unrealized"] == "0.50"
    assert data["net"] == "-601.00"
    assert data["next_reset"] == "2026-03-02T23:00:00.000Z"
    assert data["as_of"] == "2026-03-02T14:30:00.000Z"
    assert data["trading_state"] == "halted"
    assert data["connection"] == "replay"
    assert data["positions"][0]["mark"] == "21000.25"
    assert data["lockouts"][0]["until"] == "2026-03-02T23:00:00.000Z"
    loss = next(g for g in data["gauges"] if g["rule"] == "RULE-003")
    assert (loss["value"], loss["limit"], loss["fraction"], loss["breached"]) == (
        "-601.00",
        "-500.00",
        "1.2020",
        True,
    )
    contracts = next(g for g in data["gauges"] if g["rule"] == "RULE-001")
    assert (contracts["value"], contracts["limit"]) == ("1", "5")
