"""The request budget, on explicit times: enforcement first, polling waits, stop moves coalesce."""

from __future__ import annotations

import pytest

from risk_manager.broker.projectx.budget import DEFAULT, HISTORY, Limit, Priority, RequestBudget

CLOSE, PROTECT, ROUTINE = Priority.CLOSE, Priority.PROTECT, Priority.ROUTINE


def small(count: int = 10, window: float = 60.0, protect: int = 2, routine: int = 4) -> RequestBudget:
    return RequestBudget({DEFAULT: Limit(count, window), HISTORY: Limit(3, 30.0)},
                         {PROTECT: protect, ROUTINE: routine})


def test_routine_requests_stop_short_of_the_limit_so_a_close_still_goes_at_once() -> None:
    budget = small()
    tickets = [budget.submit(ROUTINE)[0] for _ in range(10)]
    granted, wake = budget.grant(0.0)
    assert granted == tickets[:6]  # 10 - reserve 4
    assert wake == 60.0  # when the first of them leaves the window
    close, _ = budget.submit(CLOSE)
    granted, _ = budget.grant(1.0)
    assert granted == [close]


def test_a_waiting_close_is_granted_before_stop_moves_and_searches_queued_earlier() -> None:
    budget = small(count=3, protect=0, routine=0)
    for _ in range(3):
        budget.submit(ROUTINE)
    assert len(budget.grant(0.0)[0]) == 3
    search, _ = budget.submit(ROUTINE)
    stop, _ = budget.submit(PROTECT)
    close, _ = budget.submit(CLOSE)
    assert budget.grant(30.0) == ([], 60.0)
    assert budget.grant(60.0)[0] == [close, stop, search]


def test_the_window_slides_each_request_frees_its_slot_exactly_one_window_after_it_was_sent() -> None:
    budget = small(count=2, protect=0, routine=0)
    budget.submit(ROUTINE)
    budget.grant(0.0)
    budget.submit(ROUTINE)
    budget.grant(10.0)
    late, _ = budget.submit(ROUTINE)
    assert budget.grant(59.9) == ([], 60.0)
    assert budget.grant(60.0)[0] == [late]
    assert budget.used(DEFAULT, 60.0) == 2
    assert budget.used(DEFAULT, 70.0) == 1


def test_nothing_behind_a_waiting_close_overtakes_it_even_where_the_bucket_would_allow_it() -> None:
    budget = small(count=4, protect=0, routine=2)
    budget.submit(ROUTINE)
    budget.submit(ROUTINE)
    budget.grant(0.0)
    # 2 used: a routine request may not go (2 >= 4 - 2) and must not block a close behind it
    search, _ = budget.submit(ROUTINE)
    close, _ = budget.submit(CLOSE)
    assert budget.grant(1.0)[0] == [close]
    assert budget.waiting() == 1
    assert budget.grant(60.0)[0] == [search]


def test_stop_moves_of_one_order_coalesce_while_waiting_latest_price_wins() -> None:
    budget = small(count=1, protect=0, routine=0)
    budget.submit(CLOSE)
    budget.grant(0.0)
    first, fresh = budget.submit(PROTECT, key=("modify", 55), payload={"stopPrice": 100})
    again, fresh_again = budget.submit(PROTECT, key=("modify", 55), payload={"stopPrice": 101})
    other, _ = budget.submit(PROTECT, key=("modify", 56), payload={"stopPrice": 7})
    assert fresh and not fresh_again and again is first
    assert first.payload == {"stopPrice": 101} and first.joined == 1
    assert budget.waiting() == 2
    granted, _ = budget.grant(60.0)
    assert granted == [first]
    # once sent, a new move of the same order is a new request
    later, fresh_later = budget.submit(PROTECT, key=("modify", 55), payload={"stopPrice": 102})
    assert fresh_later and later is not first
    assert budget.grant(120.0)[0] == [other]


def test_200_accounts_trailing_one_contract_never_starve_a_flatten() -> None:
    budget = RequestBudget()  # the gateway's 200 / 60 s, default reserves
    sent_moves = 0
    for quote in range(50):  # 50 quotes, each moving the stop of all 200 accounts
        now = quote * 0.1
        for account in range(200):
            budget.submit(PROTECT, key=("modify", account), payload={"stopPrice": quote})
        sent_moves += len(budget.grant(now)[0])
    assert budget.waiting() <= 200  # coalesced: at most one waiting move per order
    assert sent_moves == 190  # stop moves never take the last 10 requests of the window
    flatten = [budget.submit(CLOSE)[0] for _ in range(3)]  # cancel, close, close
    granted, _ = budget.grant(5.0)
    assert granted == flatten


def test_polling_never_takes_the_requests_kept_for_stops_and_closes() -> None:
    budget = RequestBudget()
    for _ in range(500):
        budget.submit(ROUTINE)
    assert len(budget.grant(0.0)[0]) == 160
    stops = [budget.submit(PROTECT)[0] for _ in range(40)]
    assert budget.grant(0.1)[0] == stops[:30]  # stops pass the waiting searches, up to 190
    closes = [budget.submit(CLOSE)[0] for _ in range(10)]
    assert budget.grant(0.2)[0] == closes  # and the last 10 are for closing


def test_history_bars_have_their_own_window() -> None:
    budget = small()
    bars = [budget.submit(ROUTINE, HISTORY)[0] for _ in range(4)]
    search, _ = budget.submit(ROUTINE)
    granted, wake = budget.grant(0.0)
    assert sorted(t.seq for t in granted) == sorted(t.seq for t in [*bars[:3], search])
    assert wake == 30.0
    assert budget.grant(30.0)[0] == [bars[3]]


def test_a_429_holds_every_request_until_its_retry_after() -> None:
    budget = small()
    budget.hold(5.0)
    close, _ = budget.submit(CLOSE)
    assert budget.grant(1.0) == ([], 5.0)
    assert budget.grant(5.0)[0] == [close]


def test_a_withdrawn_request_no_longer_waits_and_no_longer_coalesces() -> None:
    budget = small(count=1, protect=0)
    budget.submit(CLOSE)
    budget.grant(0.0)
    ticket, _ = budget.submit(PROTECT, key="k", payload=1)
    budget.cancel(ticket)
    assert budget.waiting() == 0
    assert budget.submit(PROTECT, key="k", payload=2)[1] is True


def test_a_budget_refuses_a_limit_that_allows_nothing_and_an_unknown_bucket() -> None:
    with pytest.raises(ValueError, match="positive count"):
        RequestBudget({DEFAULT: Limit(0, 60.0)})
    with pytest.raises(ValueError, match="unknown rate-limit bucket"):
        RequestBudget().submit(ROUTINE, "bars")


def test_requests_in_flight_are_capped_and_a_freed_slot_goes_to_the_waiting_close_first() -> None:
    budget = RequestBudget({DEFAULT: Limit(100, 60.0), HISTORY: Limit(3, 30.0)}, {}, max_in_flight=2)
    moves = [budget.submit(PROTECT, key=("Order/modify", i), slotted=True)[0] for i in range(4)]
    granted, _ = budget.grant(0.0)
    assert granted == moves[:2] and budget.in_flight == 2  # the others wait here, not in the HTTP pool
    read, _ = budget.submit(CLOSE, slotted=True)  # a flatten's re-read
    assert budget.grant(0.1)[0] == []
    budget.finished(moves[0])
    budget.finished(moves[0])  # once only
    assert budget.in_flight == 1
    assert budget.grant(0.2)[0] == [read]  # ahead of the stop moves queued before it
    # a stop move still waiting coalesces: the latest price is the one sent
    again, fresh = budget.submit(PROTECT, key=("Order/modify", 3), payload="latest", slotted=True)
    assert not fresh and again is moves[3] and moves[3].payload == "latest"


def test_a_login_is_granted_while_every_slot_is_held_by_requests_waiting_for_its_token() -> None:
    budget = RequestBudget({DEFAULT: Limit(100, 60.0), HISTORY: Limit(3, 30.0)}, {}, max_in_flight=1)
    held, _ = budget.submit(ROUTINE, slotted=True)
    assert budget.grant(0.0)[0] == [held]
    waiting, _ = budget.submit(CLOSE, slotted=True)
    login, _ = budget.submit(CLOSE)  # unslotted: Auth/loginKey
    assert budget.grant(0.1)[0] == [login]
    assert budget.waiting() == 1 and budget.in_flight == 1
    budget.finished(held)
    assert budget.grant(0.2)[0] == [waiting]


def test_max_in_flight_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        RequestBudget(max_in_flight=0)
