"""A viewer's last few messages per room, for detecting handles split across messages.

Kept in memory with a time-to-live and a global size cap (LRU), not in a changelogged
table: the window is seconds long, and with a million viewers a table would hold a key per
viewer for ever. Losing it on failover costs at most one split handle straddling the restart.
"""
from __future__ import annotations

from collections import OrderedDict, deque

from detectors.base import PriorMessage


class RecentMessages:
    def __init__(self, window_s: float, per_speaker: int, max_speakers: int = 200_000) -> None:
        self.window_s = window_s
        self.per_speaker = per_speaker
        self.max_speakers = max_speakers
        self._by_speaker: OrderedDict[tuple[str, str], deque[PriorMessage]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_speaker)

    def recent(self, room_id: str, speaker_id: str, now: float) -> tuple[PriorMessage, ...]:
        messages = self._by_speaker.get((room_id, speaker_id))
        if not messages:
            return ()
        return tuple(m for m in messages if now - self.window_s <= m.ts <= now)

    def add(self, room_id: str, speaker_id: str, message: PriorMessage) -> None:
        key = (room_id, speaker_id)
        messages = self._by_speaker.get(key)
        if messages is None:
            messages = self._by_speaker[key] = deque(maxlen=self.per_speaker)
        else:
            self._by_speaker.move_to_end(key)
        messages.append(message)
        # Least recently active first: drop speakers whose newest message left the window,
        # so memory follows the window's traffic, not the number of viewers ever seen.
        by_speaker = self._by_speaker
        horizon = message.ts - self.window_s
        while by_speaker:
            oldest = next(iter(by_speaker.values()))
            if oldest[-1].ts >= horizon and len(by_speaker) <= self.max_speakers:
                break
            by_speaker.popitem(last=False)
