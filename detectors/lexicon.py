"""Load and validate the YAML word lists every detector matches against.

File shape::

    lexicon: prohibited_claim        # which detector's vocabulary the categories come from
    version: "2026.11.27.1"          # human version; a content digest is added on load
    description: ...                 # optional, free text
    sets:                            # optional named lists of literals (context cues etc.)
      negation_cues: [不是, 没有]
    entries:
      - id: abs.quanwang_zuidi       # unique in the file, [a-z0-9_.]+
        pattern: 全网最低             # a literal, matched after detectors.normalize
        category: absolute_term
        severity: high
        legal_basis: "标准6.4.5(3); 《广告法》第九条第(三)项"
        exceptions: [全网最低价保护]   # optional benign collocations that contain the pattern
        # detector-specific keys, declared by the caller through ``extra_keys``

Patterns are literals only: no regex can backtrack on a hostile danmaku. Every problem is a
:class:`LexiconError` whose message starts with ``file:line:``, so a bad file is refused at
load (and a hot reload keeps the previous version) with a pointer to the line to fix.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping

import yaml

from detectors.base import SEVERITIES
from detectors.normalize import normalize

__all__ = ["CATEGORIES", "Entry", "Lexicon", "LexiconError", "load_lexicon", "lexicon_version"]

MAX_FILE_BYTES = 5 * 1024 * 1024

# The shared category vocabulary, per detector (fixed by the project, not tuned by operators).
CATEGORIES: Mapping[str, frozenset[str]] = {
    "prohibited_claim": frozenset({
        "absolute_term", "medical_claim", "false_promotion", "state_symbol", "banned_goods",
        "vulgar", "fake_transaction"}),
    "offline_trade_lure": frozenset({"contact_handle", "offline_payment", "platform_redirect"}),
    "link_mismatch": frozenset({"price", "material", "origin", "spec", "product_name",
                                "missing_license"}),
}

_ID = re.compile(r"[a-z0-9_.]+")
_TOP_KEYS = frozenset({"lexicon", "version", "description", "sets", "entries"})
_REQUIRED = ("id", "pattern", "category", "severity", "legal_basis")
_ENTRY_KEYS = frozenset(_REQUIRED) | {"exceptions"}


class LexiconError(ValueError):
    """A lexicon file is unreadable or invalid; the message names ``file:line``."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    pattern: str
    category: str
    severity: str
    legal_basis: str
    exceptions: tuple[str, ...] = ()
    line: int = 0  # 1-based line of the entry in its file
    extra: Mapping[str, Any] = field(default_factory=dict)  # detector-specific keys


@dataclass(frozen=True, slots=True)
class Lexicon:
    name: str
    version: str
    digest: str  # sha256 of the file bytes, first 12 hex digits
    path: Path
    entries: tuple[Entry, ...]
    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def error(self, entry: Entry, message: str) -> LexiconError:
        """For detector-specific validation of ``entry.extra``: same ``file:line:`` format."""
        return LexiconError(f"{self.path}:{entry.line}: entry {entry.id!r}: {message}")


def lexicon_version(lexicons: Iterable[Lexicon]) -> str:
    """One string for evidence: which version and content of each lexicon produced a finding."""
    return ";".join(sorted(f"{lx.name}@{lx.version}+{lx.digest}" for lx in lexicons))


def load_lexicon(path: str | Path, extra_keys: Collection[str] = ()) -> Lexicon:
    """Parse and validate ``path``; ``extra_keys`` are the entry keys the caller understands
    beyond the common ones (anything else is rejected, so a typo never silently does nothing)."""
    path = Path(path)
    raw, node, data = read_yaml(path, LexiconError, MAX_FILE_BYTES)
    return _Validator(path, frozenset(extra_keys)).lexicon(node, data, hashlib.sha256(raw).hexdigest()[:12])


def read_yaml(path: Path, error: type[ValueError], max_bytes: int) -> tuple[bytes, yaml.Node | None, Any]:
    """Read a YAML data file safely: size-checked, UTF-8, safe loader only. Returns the raw
    bytes (for the digest), the composed node (for line numbers) and the data; every problem
    raises ``error`` with a ``file:line:`` message."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path}:1: file is {size} bytes, over the {max_bytes} limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}:0: cannot read: {exc}") from exc
    try:
        node, data = _parse(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}:1: not UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise error(f"{path}:{line}: invalid YAML: {exc}") from exc
    return raw, node, data


# libyaml's C parser when PyYAML has it (10x faster at load and reload); both are safe loaders.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct in one parse, so every value has its node (and line) at hand."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _child(node: yaml.Node, key: str) -> yaml.Node:
    """The value node of ``key`` in a mapping node (the mapping itself if the key is absent)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return node


@dataclass(slots=True)
class _Validator:
    path: Path
    extra_keys: frozenset[str]

    def fail(self, node: yaml.Node | None, message: str) -> LexiconError:
        return LexiconError(f"{self.path}:{_line(node)}: {message}")

    def check_keys(self, node: yaml.Node, allowed: frozenset[str], where: str) -> None:
        seen: set[str] = set()
        for k, _ in node.value:
            if k.value in seen:
                raise self.fail(k, f"{where}: duplicate key {k.value!r}")
            if k.value not in allowed:
                raise self.fail(k, f"{where}: unknown key {k.value!r} (allowed: {', '.join(sorted(allowed))})")
            seen.add(k.value)

    def lexicon(self, node: yaml.Node | None, data: Any, digest: str) -> Lexicon:
        if not isinstance(data, dict) or node is None:
            raise self.fail(node, "top level must be a mapping with lexicon, version, entries")
        self.check_keys(node, _TOP_KEYS, "top level")
        name = data.get("lexicon")
        if name not in CATEGORIES:
            raise self.fail(_child(node, "lexicon"), f"unknown lexicon name {name!r} (known: {', '.join(sorted(CATEGORIES))})")
        version = data.get("version")
        if not isinstance(version, (str, int, float)) or not str(version).strip():
            raise self.fail(_child(node, "version"), "missing version")
        sets = self.sets(_child(node, "sets"), data.get("sets", {}))
        entries_node, entries = _child(node, "entries"), data.get("entries")
        if not isinstance(entries, list) or not entries:
            raise self.fail(entries_node, "entries must be a non-empty list")
        seen: dict[str, int] = {}
        parsed = []
        for item_node, item in zip(entries_node.value, entries):
            entry = self.entry(item_node, item, CATEGORIES[name])
            if entry.id in seen:
                raise self.fail(item_node, f"entry {entry.id!r}: duplicate id (first at line {seen[entry.id]})")
            seen[entry.id] = entry.line
            parsed.append(entry)
        return Lexicon(name, str(version), digest, self.path, tuple(parsed), sets)

    def sets(self, node: yaml.Node, data: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(data, dict):
            raise self.fail(node, "sets must be a mapping of name -> list of strings")
        out = {}
        for name, words in data.items():
            if not isinstance(words, list) or not all(isinstance(w, str) and normalize(w).text for w in words):
                raise self.fail(_child(node, name), f"set {name!r}: must be a list of non-empty strings")
            out[str(name)] = tuple(words)
        return out

    def entry(self, node: yaml.Node, data: Any, categories: frozenset[str]) -> Entry:
        if not isinstance(data, dict):
            raise self.fail(node, "each entry must be a mapping")
        label = f"entry {data.get('id')!r}"
        self.check_keys(node, _ENTRY_KEYS | self.extra_keys, label)
        for key in _REQUIRED:
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise self.fail(_child(node, key), f"{label}: missing or empty {key}")
        if not _ID.fullmatch(data["id"]):
            raise self.fail(_child(node, "id"), f"{label}: id must match [a-z0-9_.]+")
        if data["category"] not in categories:
            raise self.fail(_child(node, "category"), f"{label}: unknown category {data['category']!r}")
        if data["severity"] not in SEVERITIES:
            raise self.fail(_child(node, "severity"), f"{label}: unknown severity {data['severity']!r}")
        pattern = normalize(data["pattern"]).text
        if not pattern:
            raise self.fail(_child(node, "pattern"), f"{label}: pattern is empty after normalization")
        exceptions = data.get("exceptions", [])
        if not isinstance(exceptions, list) or not all(isinstance(x, str) for x in exceptions):
            raise self.fail(_child(node, "exceptions"), f"{label}: exceptions must be a list of strings")
        for x in exceptions:
            if pattern not in normalize(x).text:
                raise self.fail(_child(node, "exceptions"), f"{label}: exception {x!r} does not contain the pattern")
        extra = {k: v for k, v in data.items() if k in self.extra_keys}
        return Entry(data["id"], data["pattern"], data["category"], data["severity"],
                     data["legal_basis"].strip(), tuple(exceptions), _line(node), extra)
