"""The bounded queue's drop policy, the packing of bursts into messages, and the retry waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risk_manager.notify import Notification, NotificationKind, Priority, RetryPolicy
from risk_manager.notify.batch import render_batch
from risk_manager.notify.queue import NotificationQueue

T0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def note(n: int, priority: Priority = Priority.LOW, body: str = "") -> Notification:
    kind = NotificationKind.WARNING if priority is Priority.LOW else NotificationKind.ENFORCEMENT
    at = T0 + timedelta(seconds=n)
    return Notification(
        kind=kind,
        title=f"item {n}",
        body=body,
        at=at,
        shown_at=f"10:00:{n:02d}",
        account=7,
        rule="RULE-003",
        priority=priority,
    )


def titles(items: list[Notification]) -> list[str]:
    return [item.title for item in items]


def test_a_full_queue_drops_the_oldest_low_priority_item_and_counts_it():
    queue = NotificationQueue(3)
    for item in (note(1), note(2, Priority.HIGH), note(3), note(4)):
        queue.put(item)
    assert queue.dropped == 1
    assert titles(queue.drain()) == ["item 2", "item 3", "item 4"]


def test_a_queue_full_of_high_priority_items_drops_a_new_low_one():
    queue = NotificationQueue(2)
    for item in (note(1, Priority.HIGH), note(2, Priority.HIGH), note(3)):
        queue.put(item)
    assert queue.dropped == 1
    assert titles(queue.drain()) == ["item 1", "item 2"]


def test_a_queue_full_of_high_priority_items_makes_room_for_a_new_high_one():
    queue = NotificationQueue(2)
    for item in (note(1, Priority.HIGH), note(2, Priority.HIGH), note(3, Priority.HIGH)):
        queue.put(item)
    assert queue.dropped == 1
    assert titles(queue.drain()) == ["item 2", "item 3"]


def test_drain_returns_items_in_arrival_order_and_empties_the_queue():
    queue = NotificationQueue(10)
    for item in (note(1), note(2, Priority.HIGH), note(3)):
        queue.put(item)
    assert titles(queue.drain()) == ["item 1", "item 2", "item 3"]
    assert len(queue) == 0


def test_a_queue_needs_room_for_one_item():
    with pytest.raises(ValueError, match="at least 1"):
        NotificationQueue(0)


def test_one_notification_is_one_message_with_its_title_as_subject():
    [message] = render_batch([note(1, body="why")], max_chars=2000, max_messages=3)
    assert message.text == "[10:00:01 · account 7 · RULE-003] item 1\nwhy"
    assert message.subject == "Risk Manager: item 1 (account 7)"


def test_a_burst_is_one_message_listing_every_item_when_it_fits():
    items = [note(n) for n in range(10)]
    [message] = render_batch(items, max_chars=2000, max_messages=3)
    assert message.text.startswith("10 notifications (10:00:00 to 10:00:09)\n\n")
    assert all(f"item {n}\n" in message.text + "\n" for n in range(10))
    assert message.subject == "Risk Manager: 10 notifications (10 warning)"


def test_a_burst_too_long_for_one_message_is_split_and_no_message_exceeds_the_limit():
    items = [note(n, body="x" * 150) for n in range(20)]
    messages = render_batch(items, max_chars=2000, max_messages=5)
    assert 1 < len(messages) <= 5
    assert all(len(m.text) <= 2000 for m in messages)
    assert sum(m.text.count("] item ") for m in messages) == 20


def test_a_burst_beyond_the_message_cap_keeps_high_priority_items_and_counts_the_rest():
    items = [note(n, body="x" * 300) for n in range(40)] + [note(99, Priority.HIGH, body="LOCKED")]
    messages = render_batch(items, max_chars=2000, max_messages=2)
    text = "\n".join(m.text for m in messages)
    assert len(messages) == 2
    assert "LOCKED" in text
    shown = text.count("] item ")
    footer = f"… and {41 - shown} more not shown (every decision is in the audit log)"
    assert messages[-1].text.endswith(footer)


def test_an_item_longer_than_a_message_is_clipped():
    [message] = render_batch([note(1, body="y" * 5000)], max_chars=2000, max_messages=3)
    assert len(message.text) == 2000
    assert message.text.endswith("…")


def test_retry_waits_double_up_to_the_cap_and_retry_after_is_honoured_up_to_its_cap():
    policy = RetryPolicy(attempts=6, first_delay=1.0, max_delay=5.0, max_retry_after=60.0)
    assert [policy.wait_before(n, None) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.wait_before(1, 7.5) == 7.5
    assert policy.wait_before(1, 3600.0) == 60.0
