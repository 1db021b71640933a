"""Worker state that survives restarts and moves with its partitions: a dict per table,
backed by a compacted changelog topic.

A key lives in the partition of the event that last wrote it, which is the partition its
own key hashes to on the source topic (rooms on the input topics, subjects on
``mod.enforce``). The worker sets :attr:`ChangelogTable.partition` before it hands each
event to a stage, so the stages see a plain ``MutableMapping``.

Writes are buffered: :meth:`ChangelogTable.drain` returns the latest value of every key
changed since the last call (``None`` = deleted, a tombstone on the compacted topic). The
worker sends those with the batch's outputs and commits the input offsets only after
both are acknowledged, so the changelog is never behind the committed offsets. It can be
*ahead* (a crash after the changelog write, before the commit): replayed events then see
their own effect, which the stages already tolerate (history counts an event id once;
room and report state are overwritten, not accumulated).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, MutableMapping

import orjson


class ChangelogTable(MutableMapping[str, Any]):
    def __init__(self, topic: str) -> None:
        self.topic = topic  # full name of the changelog topic
        self.partition = 0  # partition of the event being processed (set by the worker)
        self._data: dict[str, Any] = {}
        self._home: dict[str, int] = {}  # key → changelog partition
        self._dirty: dict[str, int] = {}  # keys changed since the last drain → partition

    # -- the mapping the stages use ----------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._home[key] = self.partition
        self._dirty[key] = self.partition

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty[key] = self._home.pop(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # -- changelog ------------------------------------------------------------------------------
    def drain(self) -> list[tuple[int, bytes, bytes | None]]:
        """(partition, key, value or None) for every key changed since the last drain."""
        records = [(p, key.encode(), None if key not in self._data else orjson.dumps(self._data[key]))
                   for key, p in self._dirty.items()]
        self._dirty.clear()
        return records

    def restore(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one changelog record read back after an assignment (later records win)."""
        if key is None:
            return
        name = key.decode()
        if value is None:
            self._data.pop(name, None)
            self._home.pop(name, None)
        else:
            self._data[name] = orjson.loads(value)
            self._home[name] = partition

    def forget(self) -> None:
        """Drop everything held in memory, writing nothing (before a restore)."""
        self._data.clear()
        self._home.clear()
        self._dirty.clear()

    def sweep(self, expired: Callable[[Any], bool]) -> int:
        """Delete every entry ``expired`` says is over (written to the changelog as tombstones
        at the next drain); returns how many. Keeps state flat when subjects never return."""
        gone = [key for key, value in self._data.items() if expired(value)]
        for key in gone:
            del self[key]
        return len(gone)
