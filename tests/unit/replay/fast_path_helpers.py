"""What the reader's fast-path tests share: a fast path must give, for any line, the very
ReplayLine the general path gives (compared by repr) or the very same error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from risk_manager.replay.reader import ReplayInputError, _parse_general, parse_line

# What a damaged line gets inserted at its cut (see damaged()).
INSERTS = st.sampled_from([b"", b",", b'"', b"}", b"]", b" ", b"\\", b"\xff", b"0", b"e9", b"-"])


def outcome(read: Any, raw: bytes | str) -> tuple[str, str]:
    try:
        return ("line", repr(read(raw, "day.jsonl", 9)))
    except ReplayInputError as exc:
        return ("error", str(exc))


def assert_same(raw: bytes | str) -> None:
    assert outcome(parse_line, raw) == outcome(_parse_general, raw)


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` seven times in eight, ``odd`` otherwise."""
    return st.integers(0, 7).flatmap(lambda i: odd if i == 0 else good)


def with_odd_top_keys(line: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The line, or now and then the same with a recorder's extra key, a clock flag or no time."""
    return mostly(
        st.just(line),
        st.sampled_from(
            [{**line, "seq": 4}, {**line, "clock": True}, {k: v for k, v in line.items() if k != "t"}]
        ),
    )


def dumps(obj: object) -> bytes:
    """JSON text as any writer might produce it; non-finite floats come out as NaN/Infinity, which
    are not JSON, so both paths must refuse them alike."""
    return json.dumps(obj, allow_nan=True).encode()


def damaged(raw: bytes, cut: int, inserted: bytes, dropped: int) -> bytes:
    """``raw`` with ``dropped`` bytes at ``cut`` replaced by ``inserted``."""
    cut = min(cut, len(raw))
    return raw[:cut] + inserted + raw[cut + dropped :]
