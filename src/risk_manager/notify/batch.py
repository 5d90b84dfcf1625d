"""Pack a burst of notifications into as few messages as a channel allows.

A channel has a size limit per message (Discord 2000 characters, Telegram 4096) and the notifier
a cap on messages per batch, so a burst never floods the trader's phone: what does not fit is
counted in a last line instead of being sent. When everything fits the items stay in time order;
when not, HIGH-priority items (enforcements, lockouts, failures) go first so they are the ones
that get through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from risk_manager.notify.notification import Notification

ELLIPSIS = "…"
# Room kept in every message for the "… and N more" line.
_FOOTER_ROOM = 80


@dataclass(frozen=True, slots=True)
class Message:
    """One message to send: ``subject`` is used by email, ``text`` by every channel."""

    subject: str
    text: str


def render_batch(items: Sequence[Notification], max_chars: int, max_messages: int) -> list[Message]:
    if not items:
        return []
    subject = _subject(items)
    if len(items) == 1:
        return [Message(subject, _clip(items[0].text(), max_chars))]
    header = f"{len(items)} notifications ({_span(items)})"
    room = max_chars - _FOOTER_ROOM
    blocks = [_clip(item.text(), room - len(header) - 2) for item in items]
    chunks = _pack(header, blocks, room)
    if len(chunks) > max_messages:
        order = sorted(range(len(items)), key=lambda i: -items[i].priority)  # stable: time kept within
        chunks = _pack(header, [blocks[i] for i in order], room)
    shown = chunks[:max_messages]
    left_out = sum(len(chunk) for chunk in chunks[max_messages:])
    texts = [
        header + "\n\n" + "\n\n".join(chunk) if n == 0 else "\n\n".join(chunk)
        for n, chunk in enumerate(shown)
    ]
    if left_out:
        texts[-1] += f"\n\n{ELLIPSIS} and {left_out} more not shown (the daemon log has them all)"
    return [Message(subject, text) for text in texts]


def _pack(header: str, blocks: Sequence[str], room: int) -> list[list[str]]:
    """Greedy packing of whole blocks; the first message also carries the header."""
    chunks: list[list[str]] = [[]]
    used = len(header) + 2
    for block in blocks:
        if chunks[-1] and used + 2 + len(block) > room:
            chunks.append([])
            used = 0
        used += len(block) + (2 if chunks[-1] else 0)
        chunks[-1].append(block)
    return chunks


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _span(items: Sequence[Notification]) -> str:
    first, last = min(items, key=lambda n: n.at), max(items, key=lambda n: n.at)
    return first.shown_at if first.at == last.at else f"{first.shown_at} to {last.shown_at}"


def _subject(items: Sequence[Notification]) -> str:
    if len(items) == 1:
        item = items[0]
        account = f" (account {item.account})" if item.account is not None else ""
        return f"Risk Manager: {item.title}{account}"
    counts = Counter(item.kind.value.replace("_", " ") for item in items)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    return f"Risk Manager: {len(items)} notifications ({summary})"
