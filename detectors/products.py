"""Per-room product-link state: which items were on screen when.

The state is a plain dict of lists/dicts/str/float so the worker can keep it in a changelog
table (orjson-serialised) and ``livemod scan`` in an ordinary dict. Every function here is
pure: ``apply_product_event`` returns a *new* state and leaves the old one untouched, so a
malformed event that raises :class:`ProductEventError` cannot corrupt what the room had.

Shape::

    {"clock": float,                      # newest event ts seen, drives pruning
     "pinned":   [Entry, ...],            # newest pin first
     "unpinned": [Entry, ...]}            # newest unpin first, bounded
    Entry = {"item_id": str, "pinned_at": float, "unpinned_at": float | None,
             "versions": [{"ts": float, "item": Item}, ...]}   # newest version first

Timing and the "talks before pinning" case
------------------------------------------
Events are processed in arrival order per room, so a transcript *processed* before the pin
it talks about cannot see that pin, and nothing is deferred: the detector simply finds no
item on screen and emits nothing (precision over recall). The forward tolerance of
:func:`items_at` covers the common real case instead: ASR stamps a transcript with the
*start* of the utterance but emits it when the utterance ends, so a pin made mid-sentence is
processed first yet carries a later ts than the transcript. A caller that can afford the
latency may instead judge a transcript once the room's clock has passed ``ts + grace_s``
(``livemod scan`` can, reading a file); then pins and re-pricings that follow the words also
count, as the labeled corpus assumes.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

# Item category vocabulary shared with the corpus and the lexicons (a schema, not policy).
ITEM_CATEGORIES = frozenset({
    "food", "health_food", "drug", "medical_device", "cosmetics", "apparel", "jewelry",
    "electronics", "home", "publication", "baby", "other",
})
OPS = frozenset({"pin", "unpin", "update"})

# Bounds so a room's state never grows without limit. A room that never unpins still
# only keeps MAX_PINNED items; history older than keep_s is dropped once superseded.
MAX_PINNED = 20
MAX_UNPINNED = 20
MAX_VERSIONS = 8
DEFAULT_KEEP_S = 60.0  # callers pass grace_s × a factor; 60 s = 6 × the default 10 s grace


class ProductEventError(ValueError):
    """A product event the caller should dead-letter; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_json_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool)) or _is_number(v)


def validate_item(item: Any, op: str = "pin") -> list[str]:
    """Problems with ``item`` for ``op``; empty when it is usable.

    ``unpin`` only needs the item id; ``pin``/``update`` need a full, JSON-safe item.
    """
    if not isinstance(item, Mapping):
        return ["item is not an object"]
    problems: list[str] = []
    item_id = item.get("item_id")
    if not isinstance(item_id, str) or not item_id.strip():
        problems.append("item_id missing or not a non-empty string")
    if op == "unpin":
        return problems
    if not isinstance(item.get("title"), str):
        problems.append("title missing or not a string")
    price = item.get("price")
    if not _is_number(price) or price <= 0:
        problems.append(f"price {price!r} is not a positive number")
    if item.get("category") not in ITEM_CATEGORIES:
        problems.append(f"category {item.get('category')!r} not in the item vocabulary")
    attributes = item.get("attributes", {})
    if not isinstance(attributes, Mapping):
        problems.append("attributes is not an object")
    else:
        for key, value in attributes.items():
            values = value if isinstance(value, list) else [value]
            if not isinstance(key, str) or not all(_is_json_scalar(v) for v in values):
                problems.append(f"attribute {key!r} is not a string key with scalar value(s)")
    licenses = item.get("licenses", [])
    if not isinstance(licenses, list) or not all(isinstance(x, str) for x in licenses):
        problems.append("licenses is not a list of strings")
    return problems


def _clean_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Only the known fields, as fresh plain containers (nothing shared with the event)."""
    return {
        "item_id": item["item_id"],
        "title": item["title"],
        "price": float(item["price"]),
        "category": item["category"],
        "attributes": copy.deepcopy(dict(item.get("attributes", {}))),
        "licenses": list(item.get("licenses", [])),
    }


def _validate_event(event: Mapping[str, Any]) -> tuple[str, float, Mapping[str, Any]]:
    if not isinstance(event, Mapping):
        raise ProductEventError("event is not an object")
    op = event.get("op")
    if op not in OPS:
        raise ProductEventError(f"op {op!r} not one of pin/unpin/update")
    ts = event.get("ts")
    if not _is_number(ts):
        raise ProductEventError(f"ts {ts!r} is not a number")
    problems = validate_item(event.get("item"), op)
    if problems:
        raise ProductEventError("; ".join(problems))
    return op, float(ts), event["item"]


def empty_state() -> dict[str, Any]:
    return {"clock": 0.0, "pinned": [], "unpinned": []}


def _take(entries: list[dict[str, Any]], item_id: str) -> dict[str, Any] | None:
    """Remove and return the entry for ``item_id`` from ``entries`` (in place)."""
    for i, entry in enumerate(entries):
        if entry["item_id"] == item_id:
            return entries.pop(i)
    return None


def _prune_versions(versions: list[dict[str, Any]], clock: float, keep_s: float) -> list:
    # The newest version is always current; older ones only matter inside the grace window.
    head, rest = versions[:1], versions[1:MAX_VERSIONS]
    return head + [v for i, v in enumerate(rest) if versions[i]["ts"] >= clock - keep_s]


def apply_product_event(
    state: Mapping[str, Any] | None, event: Mapping[str, Any], keep_s: float = DEFAULT_KEEP_S
) -> dict[str, Any]:
    """The room state after ``event``; raises ProductEventError (state untouched) if malformed.

    ``keep_s`` bounds history: unpinned items and superseded versions older than it go.
    """
    op, ts, item = _validate_event(event)
    new = copy.deepcopy(dict(state)) if state else empty_state()
    clock = max(float(new.get("clock", 0.0)), ts)
    new["clock"] = clock
    pinned: list[dict[str, Any]] = new["pinned"]
    unpinned: list[dict[str, Any]] = new["unpinned"]
    item_id = item["item_id"]

    if op == "pin":
        # A re-pin starts a fresh on-screen interval; earlier history of the item is moot.
        _take(pinned, item_id)
        _take(unpinned, item_id)
        pinned.insert(0, {"item_id": item_id, "pinned_at": ts, "unpinned_at": None,
                          "versions": [{"ts": ts, "item": _clean_item(item)}]})
        for overflow in pinned[MAX_PINNED:]:
            overflow["unpinned_at"] = ts
            unpinned.insert(0, overflow)
        del pinned[MAX_PINNED:]
    elif op == "unpin":
        entry = _take(pinned, item_id)
        if entry is not None:  # unpin of an item we never saw pinned: nothing was on screen
            entry["unpinned_at"] = ts
            unpinned.insert(0, entry)
    else:  # update
        # Only items currently or recently on screen matter; an update to an unknown item
        # says nothing about what viewers saw, so it is ignored rather than treated as a pin.
        entry = next((e for e in pinned + unpinned if e["item_id"] == item_id), None)
        if entry is not None:
            entry["versions"].insert(0, {"ts": ts, "item": _clean_item(item)})
            entry["versions"].sort(key=lambda v: v["ts"], reverse=True)

    for entry in pinned + unpinned:
        entry["versions"] = _prune_versions(entry["versions"], clock, keep_s)
    new["unpinned"] = [e for e in unpinned if e["unpinned_at"] >= clock - keep_s][:MAX_UNPINNED]
    return new


def items_at(state: Mapping[str, Any] | None, ts: float, grace_s: float) -> list[dict[str, Any]]:
    """Item versions on screen around ``ts``, newest pin first, newest version first.

    An item counts if it was pinned no later than ``ts + grace_s`` and not unpinned before
    ``ts - grace_s``. Of its versions, every one valid somewhere in [ts-grace, ts+grace]
    is returned, so a price changed seconds ago still matches what the anchor says.
    Each returned dict is the item plus ``pinned_at``, ``unpinned_at`` and ``version_ts``.
    """
    if not state:
        return []
    lo, hi = ts - grace_s, ts + grace_s
    entries = [e for e in state.get("pinned", []) + state.get("unpinned", [])
               if e["pinned_at"] <= hi and (e["unpinned_at"] is None or e["unpinned_at"] >= lo)]
    entries.sort(key=lambda e: e["pinned_at"], reverse=True)
    out: list[dict[str, Any]] = []
    for entry in entries:
        valid_until = math.inf  # versions are newest first: each is valid until the next one
        for version in entry["versions"]:
            if version["ts"] <= hi and valid_until >= lo:
                # Shallow: detectors only read items, and this runs once per transcript.
                out.append({**version["item"], "pinned_at": entry["pinned_at"],
                            "unpinned_at": entry["unpinned_at"], "version_ts": version["ts"]})
            valid_until = version["ts"]
    return out
