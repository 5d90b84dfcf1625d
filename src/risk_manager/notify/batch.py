"""Pack a burst of notifications into as few messages as a channel allows.

A channel has a size limit per message (Discord 2000 characters, Telegram 4096) and the notifier
a cap on messages per batch, so a burst never floods the trader's phone: what does not fit is
counted in a last line instead of being sent. When everything fits the items stay in time order;
when not, HIGH-priority items (enforcements, lockouts, failures) go first so they are the ones
that get through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
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
    clip = room - len(header) - 2
    # Texts are made only for what is shown: a 1,000-item burst costs a few dozen texts, so the
    # event loop that also runs enforcement is never held up by wording what nobody will read.
    chunks, shown = _pack(header, (_clip(item.text(), clip) for item in items), room, max_messages)
    if shown < len(items):
        by_priority = sorted(items, key=lambda item: -item.priority)  # stable: time order kept within
        chunks, shown = _pack(header, (_clip(item.text(), clip) for item in by_priority), room, max_messages)
    texts = ["\n\n".join(chunk) for chunk in chunks]
    texts[0] = f"{header}\n\n{texts[0]}"
    if shown < len(items):
        left_out = len(items) - shown
        texts[-1] += f"\n\n{ELLIPSIS} and {left_out} more not shown (every decision is in the audit log)"
    return [Message(subject, text) for text in texts]


def _pack(header: str, blocks: Iterator[str], room: int, max_messages: int) -> tuple[list[list[str]], int]:
    """Greedy packing of whole blocks into at most ``max_messages``; the first also carries the header.

    Returns the messages' blocks and how many blocks they hold; packing stops at the first block
    that would need one message more.
    """
    chunks: list[list[str]] = [[]]
    used = len(header) + 2
    packed = 0
    for block in blocks:
        if chunks[-1] and used + 2 + len(block) > room:
            if len(chunks) == max_messages:
                break
            chunks.append([])
            used = 0
        used += len(block) + (2 if chunks[-1] else 0)
        chunks[-1].append(block)
        packed += 1
    return chunks, packed


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
