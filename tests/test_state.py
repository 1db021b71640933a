"""The worker's changelog tables (stream/state.py) without a broker: what a batch writes to
the changelog, what a restore rebuilds, and the sweep that keeps subject histories bounded."""
from __future__ import annotations

import orjson

from detectors.base import Finding
from stream.rules import load_rulebook
from stream.settings import REPO_ROOT
from stream.state import ChangelogTable


def test_drain_gives_the_latest_value_per_changed_key_in_its_partition() -> None:
    table = ChangelogTable("p.state.rooms")
    table.partition = 2
    table["r1"] = {"v": 1}
    table["r1"] = {"v": 2}  # only the latest value is written
    table.partition = 0
    table["r2"] = {"v": 3}
    assert sorted(table.drain()) == [(0, b"r2", b'{"v":3}'), (2, b"r1", b'{"v":2}')]
    assert table.drain() == []  # nothing changed since


def test_a_delete_is_a_tombstone_in_the_partition_the_key_was_written_to() -> None:
    table = ChangelogTable("p.state.history")
    table.partition = 1
    table["viewer:u1"] = {"hits": {}}
    table.drain()
    table.partition = 2  # another event's partition: the key still lives in 1
    table.pop("viewer:u1")
    assert table.drain() == [(1, b"viewer:u1", None)]
    assert "viewer:u1" not in table


def test_restore_replays_the_changelog_and_later_records_win() -> None:
    source = ChangelogTable("t")
    source.partition = 0
    source["a"], source["b"] = {"n": 1}, {"n": 2}
    first = source.drain()
    source["a"] = {"n": 10}
    del source["b"]
    log = first + source.drain()

    restored = ChangelogTable("t")
    for partition, key, value in log:
        restored.restore(partition, key, value)
    assert dict(restored) == {"a": {"n": 10}}
    assert restored.drain() == []  # reading the changelog back writes nothing


def test_forget_drops_memory_without_writing_tombstones() -> None:
    table = ChangelogTable("t")
    table["a"] = 1
    table.forget()
    assert len(table) == 0 and table.drain() == []


def _history_for(policy, event_id: str, ts: float) -> dict:
    finding = Finding(detector="offline_trade_lure", category="contact_handle", severity="high", rule_id="x",
                      span=(0, 3), matched="加微信", legal_basis="6.4.5(7)")
    _decisions, history = policy.decide("viewer", "u1", "r1", [finding], event_id, ts, "加微信", None)
    assert history["hits"], "the shipped policy must count a contact-handle lure"
    return history


def test_sweep_drops_histories_with_nothing_left_in_any_window() -> None:
    policy = load_rulebook(REPO_ROOT / "lexicons").policy
    longest = max(rule.window_s for rule in policy.rules)
    now = 1_800_000_000.0
    table = ChangelogTable("t")
    table.partition = 4
    table["viewer:old"] = _history_for(policy, "e-old", now - longest - 1)
    table["viewer:recent"] = _history_for(policy, "e-recent", now - 1)
    table.drain()
    assert table.sweep(lambda history: policy.history_expired(history, now)) == 1
    assert list(table) == ["viewer:recent"]
    assert table.drain() == [(4, b"viewer:old", None)]
    # What the worker stores survives the JSON round trip the changelog puts it through.
    assert not policy.history_expired(orjson.loads(orjson.dumps(table["viewer:recent"])), now)
