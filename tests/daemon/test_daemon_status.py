"""The daemon's read model carries the gateway connection state as the supervisor sees it, and the
last enforcement outcome, which the daemon feeds back into the engine as a journaled event."""

from __future__ import annotations

from dataclasses import replace

from daemon_helpers import ACCOUNT, Guard, eventually
from projectx_helpers import FAST_HUB
from sim_helpers import run

from risk_manager.domain.events import EnforcementOutcome
from risk_manager.domain.status import ConnectionState, EnforcementStatus

RULES = {"daily_realized_loss": {"enabled": True, "limit": -500}}
# a first reconnect attempt about a second after the loss: long enough to read the state meanwhile
SLOW_RECONNECT = replace(FAST_HUB, backoff_initial=2.0, backoff_max=2.0)


def test_statuses_report_connected_then_reconnecting_after_a_hub_drop_then_connected_again(
    guard: Guard,
) -> None:
    async def body() -> None:
        async with guard(RULES, client={"hub": SLOW_RECONNECT}) as g:

            def connection() -> ConnectionState:
                statuses = g.daemon.statuses()
                assert [s.account_id for s in statuses] == [ACCOUNT]
                return statuses[0].connection

            await eventually(lambda: connection() is ConnectionState.CONNECTED, what="connected")
            g.gw.fault({"hub": "user", "action": "drop"})
            await eventually(lambda: connection() is ConnectionState.RECONNECTING, what="reconnecting")
            await eventually(lambda: connection() is ConnectionState.CONNECTED, timeout=10,
                             what="connected again")
            assert g.gw.state()["hubConnections"].get("user", 0) >= 2

    run(body, timeout=30)


def test_each_enforcement_outcome_goes_back_into_the_engine_as_a_journaled_event_and_shows_in_the_status(
    guard: Guard,
) -> None:
    async def body() -> None:
        rules = {"max_contracts": {"enabled": True, "limit": 2, "enforcement": "reduce_to_limit"}}
        async with guard(rules) as g:
            await g.trade("MNQ", 5)
            row = await g.audited("RULE-001", "close_position")

            def last() -> EnforcementStatus | None:
                [status] = g.daemon.statuses()
                return status.last_enforcement

            shown = await eventually(last, what="the last enforcement in the read model")
            assert shown.action_id == row.action_id
            assert (shown.rule, shown.action, shown.outcome) == ("RULE-001", "close_position", "ok")
            assert shown.detail == row.outcome == "done: reduced to 2"
            assert shown.latency_ms == row.latency_ms
            g.daemon.persistent.flush()  # type: ignore[union-attr]
            journaled = [e for _seq, _t, e in g.store.iter_journal(0) if isinstance(e, EnforcementOutcome)]
            assert [(e.action_id, e.outcome) for e in journaled] == [(row.action_id, "ok")]

    run(body, timeout=30)


def test_a_refused_enforcement_is_reported_to_the_engine_as_refused(guard: Guard) -> None:
    async def body() -> None:
        rules = {"max_contracts": {"enabled": True, "limit": 2, "enforcement": "reduce_to_limit"}}
        async with guard(rules) as g:
            g.gw.set_account(ACCOUNT, kind="live")  # refuses partial closes: the whole position is closed
            await g.trade("MNQ", 5)
            await eventually(lambda: g.positions() == {}, what="the whole position closed instead")
            await eventually(
                lambda: (s := g.daemon.statuses()[0].last_enforcement) is not None and s.outcome == "refused",
                what="the refusal reported to the engine",
            )

    run(body, timeout=30)
