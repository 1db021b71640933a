"""A viewer's recent messages: windowed, and memory bounded by the window's traffic."""
from __future__ import annotations

from detectors.base import PriorMessage
from stream.recent import RecentMessages


def msg(n: int, ts: float) -> PriorMessage:
    return PriorMessage(f"e{n}", ts, f"text {n}")


def test_recent_returns_only_the_window_oldest_first() -> None:
    recent = RecentMessages(window_s=30, per_speaker=4)
    for n, ts in enumerate([0, 10, 20, 35]):
        recent.add("r1", "u1", msg(n, ts))
    assert [m.event_id for m in recent.recent("r1", "u1", now=40)] == ["e1", "e2", "e3"]
    assert recent.recent("r1", "u2", now=40) == ()  # another viewer
    assert recent.recent("r2", "u1", now=40) == ()  # the same viewer in another room


def test_speakers_outside_the_window_are_forgotten() -> None:
    recent = RecentMessages(window_s=30, per_speaker=4, max_speakers=1_000_000)
    for n in range(10_000):  # one message each from 10,000 viewers, one every 10 ms
        recent.add("r1", f"u{n}", msg(n, n * 0.01))
    # only the viewers of the last 30 s (≈ 3,000) are kept, not all 10,000
    assert 2_990 <= len(recent) <= 3_010


def test_an_active_speaker_is_kept_while_idle_ones_go() -> None:
    recent = RecentMessages(window_s=30, per_speaker=4)
    recent.add("r1", "chatty", msg(0, 0))
    recent.add("r1", "idle", msg(1, 1))
    recent.add("r1", "chatty", msg(2, 25))
    recent.add("r1", "late", msg(3, 40))  # idle's last message (t=1) is out of the window
    assert recent.recent("r1", "idle", now=40) == () and len(recent) == 2


def test_the_hard_cap_still_holds() -> None:
    recent = RecentMessages(window_s=3600, per_speaker=2, max_speakers=100)
    for n in range(1_000):
        recent.add("r1", f"u{n}", msg(n, n))
    assert len(recent) == 100
