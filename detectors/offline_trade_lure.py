"""Detect lures to trade off the platform (标准 6.4.5(7) 引导用户进行线下交易).

Three things are looked for, all described as data in ``lexicons/offline_trade_lure.yaml``
(see its header for the entry kinds): contact handles and the words that introduce them
(加微信, vx:abc123, 扣扣 一二三四五六七八九, 电话 138-1234-5678), off-platform payment
phrases (不走平台, 支付宝直接转) and redirects to other platforms (去某宝下单).

Cost is kept on the rare path: a message costs one ``str.translate`` (straight to the
homophone-folded normalized view, see ``normalize.View``), one Aho-Corasick pass over the entry
words and two regex searches (emoji that stand for a word, a run of digits long enough for a
mobile number). Only when an entry word hits or a mobile number may be there is the text
normalized, and only when an entry word hits does the detector look for cue words, look at
their context, extract handles, or segment the text with jieba (to tell 加微信 from 参加微信抽奖
/ 大家微信).

Viewers split a lure over several danmaku (加 / V / abc123). When the current message has no
finding on its own, the detector scans the speaker's recent messages joined with it and keeps
what reaches into the current message, its span clipped to the current text.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import ahocorasick
import jieba

from detectors.base import SEVERITIES, DetectContext, Finding
from detectors.handles import FORMATS, MIN_LENGTH, Handle, handle_after, handle_gate, mobile_precheck, mobiles
from detectors.homophones import HomophoneFolder, build_folder
from detectors.lexicon import Entry, Lexicon, lexicon_version, load_lexicon
from detectors.segmenter import private_tokenizer
from detectors.normalize import Normalized, View, normalize

LEXICON_FILE = "offline_trade_lure.yaml"
_EXTRA_KEYS = ("kind", "alone", "handles", "window", "end_boundary", "before", "after", "require",
               "handle_only", "after_window", "symbols", "own_category")
_KINDS = frozenset({"phrase", "contact", "anchor", "handle", "guard"})
_REQUIRES = frozenset({"either", "before", "after", "both"})
# Sets with a fixed role in the matching logic (their words are lexicon data).
_ADD_VERBS, _CONTACT_CUES, _HOMOPHONE_WORDS = "add_verbs", "contact_cues", "homophone_words"
# A sound-alike match is less certain than a spelled one; split-message matches likewise.
_FUZZY_CONFIDENCE = 0.8
_JOINED_CONFIDENCE = 0.9


@dataclass(frozen=True, slots=True)
class _Rule:
    """A lexicon entry compiled for matching."""

    entry: Entry
    kind: str
    pattern: str  # normalized
    exceptions: tuple[str, ...]  # normalized
    alone: bool
    handles: tuple[str, ...]
    window: int
    end_boundary: bool
    before: str | None
    after: str | None
    require: str
    handle_only: bool = False  # a contact word (群, 座机) that is a lure only with a handle after it
    after_window: int = 0  # anchors: how far the ``after`` word may be (default ``window``)
    own_category: bool = False  # guards: silence only matches of the guard's own category


@dataclass(frozen=True, slots=True)
class _Word:
    """What one automaton key stands for: a rule's pattern or a word of a named set."""

    pattern: str  # normalized spelling; the automaton key is its homophone-folded form
    rule: _Rule | None = None
    set_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    word: _Word
    fuzzy: bool  # matched through a sound-alike, not as spelled


@dataclass(frozen=True, slots=True)
class _Match:
    """A lure found in one text, in normalized coordinates, before it becomes a Finding."""

    rule: _Rule
    start: int
    end: int
    fuzzy: bool
    handle: Handle | None = None
    via: str = ""  # which context made it fire: alone, add_verb, cue, handle, before, after
    # Start of the anchor word itself when a ``before`` cue extended the match (去|淘宝): a
    # guard word that contains that cue (我去|淘宝, 为啥要去|快手) governs the match too.
    word_start: int | None = None


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0002ffff"


def _is_ascii_alpha(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


class OfflineTradeLureDetector:
    name = "offline_trade_lure"
    applies_to = frozenset({"transcript", "danmaku"})

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.version = lexicon_version([lexicon])
        rules = [_compile(lexicon, e) for e in lexicon.entries]
        self._handle_rules = {r.pattern: r for r in rules if r.kind == "handle"}
        self._alone_mobile = self._handle_rules.get("mobile")
        if self._alone_mobile is not None and not self._alone_mobile.alone:
            self._alone_mobile = None
        self._folder: HomophoneFolder = build_folder(lexicon.sets.get(_HOMOPHONE_WORDS, ()))
        self._folded = View(self._folder.table)
        self._digit_run = mobile_precheck(self._folder.fold)
        self._guards = [r for r in rules if r.kind == "guard"]
        # Contact words that count only before a handle (扣, 威, 维, 群): hits with no run of
        # handle chars long enough right after them are dropped before any context is looked at
        # (扣 of 折扣/扣1, 维 of 纤维 and 维生素 in ordinary selling speech).
        self._handle_gates: dict[str, re.Pattern[str]] = {}
        for r in rules:
            if r.kind == "contact" and r.handle_only:
                fmts = [f for f in r.handles if f in self._handle_rules]
                self._handle_gates[r.entry.id] = handle_gate(
                    max(self._handle_rules[f].window for f in fmts), min(MIN_LENGTH[f] for f in fmts)
                ) if fmts else re.compile("(?!)")
        self._symbols = _SymbolAliases.build(lexicon, rules)
        matched = [r for r in rules if r.kind not in ("handle", "guard")]
        used_sets = {_ADD_VERBS, _CONTACT_CUES} | {
            s for r in (*matched, *self._guards) for s in (r.before, r.after) if s}
        # Two automatons: cue words (去, 号, 多少) are in most texts but matter only around an
        # entry word, so the common text that has none costs one pass over the entry words.
        self._rule_words = self._build_automaton([_Word(r.pattern, rule=r) for r in matched])
        self._cue_words = self._build_automaton([
            _Word(normalize(w).text, set_name=set_name)
            for set_name in sorted(used_sets) for w in lexicon.sets.get(set_name, ())])
        # Loaded at load, not on the first candidate in the hot path; never jieba's global one.
        self._tokenizer = private_tokenizer()

    @classmethod
    def load(cls, lexicon_dir: Path) -> "OfflineTradeLureDetector":
        return cls(load_lexicon(Path(lexicon_dir) / LEXICON_FILE, extra_keys=_EXTRA_KEYS))

    def _build_automaton(self, words: Sequence[_Word]) -> ahocorasick.Automaton | None:
        """Keyed by homophone-folded spelling; None when there are no words (pyahocorasick
        cannot search an empty automaton)."""
        if not words:
            return None
        automaton = ahocorasick.Automaton()
        for word in words:
            key = self._folder.fold(word.pattern)
            existing = automaton.get(key, ())
            automaton.add_word(key, (*existing, word))
        automaton.make_automaton()
        return automaton

    # ---- entry point --------------------------------------------------------------------

    def detect(self, ctx: DetectContext) -> list[Finding]:
        findings = [self._finding(m, norm) for norm, m in self._scan(ctx.text)]
        if findings or not ctx.recent:
            return findings
        return self._detect_joined(ctx)

    def _detect_joined(self, ctx: DetectContext) -> list[Finding]:
        """Scan recent messages + current as one text; keep what reaches into the current one."""
        texts = [p.text for p in ctx.recent] + [ctx.text]
        ids = [p.event_id for p in ctx.recent] + [ctx.event_id]
        starts, pos = [], 0
        for text in texts:
            starts.append(pos)
            pos += len(text) + 1
        joined = "\n".join(texts)  # the newline is dropped by normalize: words join across messages
        here = starts[-1]
        out = []
        for norm, match in self._scan(joined):
            # A contact word completed across messages (加 / V) is only a fragment until a
            # handle arrives; report the message that brings the handle, or a split phrase.
            if match.rule.kind == "contact":
                continue
            full = self._finding(match, norm)
            s, e = full.span
            if e <= here:
                continue
            s = max(s, here)
            touched = [ids[i] for i, st in enumerate(starts) if st < full.span[1] and st + len(texts[i]) > full.span[0]]
            out.append(Finding(
                detector=full.detector, category=full.category, severity=full.severity,
                rule_id=full.rule_id, span=(s - here, e - here), matched=ctx.text[s - here:e - here],
                legal_basis=full.legal_basis, normalized=full.normalized,
                confidence=min(full.confidence, _JOINED_CONFIDENCE),
                details={**full.details, "joined": True, "event_ids": touched,
                         "joined_matched": full.matched}))
        return out

    # ---- scanning one text ----------------------------------------------------------------

    def _scan(self, original: str) -> list[tuple[Normalized, _Match]]:
        aliased = self._symbols.spell(original)
        folded = self._folded(aliased)  # the homophone-folded normalized text, in one translate
        found = _find(self._rule_words, folded)
        # No entry word and no run of digits long enough for a mobile number: the common,
        # cheap exit, before the text is normalized and the cue words are looked for.
        mobile_possible = self._alone_mobile is not None and self._digit_run.search(folded) is not None
        if not found and not mobile_possible:
            return []
        norm = self._symbols.normalized(original, aliased)
        text = norm.text
        rule_hits = _drop_nested(self._hits(text, found))
        gates = self._handle_gates
        # After _drop_nested, so a gated word still shadows the words nested in it.
        rule_hits = [h for h in rule_hits if (gate := gates.get(h.word.rule.entry.id)) is None
                     or gate.match(text, h.end) is not None]
        if not rule_hits and not mobile_possible:
            return []
        digits = normalize(aliased, fold_digits=True).text  # same length and offsets as text
        matches: list[_Match] = []
        if rule_hits:
            cues = self._cue_index(self._hits(text, _find(self._cue_words, folded)))
            segmenter = _Segmenter(text, self._tokenizer)
            for hit in rule_hits:
                match = self._evaluate(hit, norm, text, digits, cues, segmenter)
                if match is not None and not self._guarded(match, cues):
                    matches.append(match)
        if mobile_possible:
            matches += [_Match(self._alone_mobile, h.start, h.end, False, h, "alone") for h in mobiles(digits)]
        return [(norm, m) for m in _dedupe(matches)]

    @staticmethod
    def _hits(text: str, found: Iterable[tuple[int, tuple[_Word, ...]]]) -> list[_Hit]:
        """The words ``_find`` found in the folded view of ``text`` that count as hits."""
        hits = []
        for last, words in found:
            for word in words:
                start, end = last + 1 - len(word.pattern), last + 1
                fuzzy = text[start:end] != word.pattern
                # Sound-alikes count only for add verbs and contact words (their whole point),
                # and not for one-character contact words: one sound-alike of 微 is in every
                # other sentence (为, 位, 未), so 微 and 薇 are listed as spelled.
                if fuzzy and not (word.set_name == _ADD_VERBS or (
                        word.rule and word.rule.kind == "contact" and len(word.pattern) > 1)):
                    continue
                # Latin words must not start inside another Latin word (tb in "atbx").
                if start > 0 and _is_ascii_alpha(word.pattern[0]) and _is_ascii_alpha(text[start - 1]):
                    continue
                hits.append(_Hit(start, end, word, fuzzy))
        return hits

    def _guarded(self, match: _Match, cues: dict[str, "_Cues"]) -> bool:
        """True if the match is said as a warning (不要私下转账, 让你加微信的都是骗子)."""
        for guard in self._guards:
            if guard.own_category and guard.entry.category != match.rule.entry.category:
                continue
            if guard.before and self._guard_before(cues.get(guard.before, _NO_CUES), match, guard.window):
                return True
            if guard.after and _near_after(cues.get(guard.after, _NO_CUES), match.end, guard.window):
                return True
        return False

    @staticmethod
    def _guard_before(cues: "_Cues", match: _Match, window: int) -> bool:
        if _near_before(cues, match.start, window):
            return True
        # Only a guard word spanning the cue's start: 别 before 别买这|去|唯品会 stays a redirect.
        return match.word_start is not None and any(
            c.start < match.start for c in cues.ending_in(match.start + 1, match.word_start))

    @staticmethod
    def _cue_index(hits: Iterable[_Hit]) -> dict[str, "_Cues"]:
        index: dict[str, list[_Hit]] = {}
        for hit in hits:
            if hit.word.set_name is not None:
                index.setdefault(hit.word.set_name, []).append(hit)
        return {name: _Cues(found) for name, found in index.items()}

    def _evaluate(self, hit: _Hit, norm: Normalized, text: str, digits: str,
                  cues: dict[str, "_Cues"], segmenter: "_Segmenter") -> _Match | None:
        rule = hit.word.rule
        assert rule is not None
        if _excepted(text, hit.start, hit.end, rule.exceptions):
            return None
        if rule.kind == "phrase":
            return _Match(rule, hit.start, hit.end, False, via="alone")
        if rule.kind == "anchor":
            return _anchor_match(rule, hit, cues, segmenter)
        return self._contact_match(rule, hit, norm, text, digits, cues, segmenter)

    def _contact_match(self, rule: _Rule, hit: _Hit, norm: Normalized, text: str, digits: str,
                       cues: dict[str, "_Cues"], segmenter: "_Segmenter") -> _Match | None:
        # A handle is the strongest evidence, and the only context in which a Latin contact
        # word may be glued to following letters (vxabc123 but not vip).
        before = _near_before(cues.get(_ADD_VERBS, _NO_CUES), hit.start, rule.window, segmenter)
        handle = self._handle(rule, hit, norm, digits)
        if handle is not None:  # evidence runs from the add verb, if any, to the handle
            start = before.start if before is not None else hit.start
            return _Match(self._handle_rules[handle.format], start, handle.end, hit.fuzzy, handle, "handle")
        if rule.handle_only:
            return None
        nxt = text[hit.end] if hit.end < len(text) else ""
        if _is_ascii_alpha(rule.pattern[-1]) and _is_ascii_alpha(nxt):
            return None
        after = _near_after(cues.get(_CONTACT_CUES, _NO_CUES), hit.end, rule.window, segmenter)
        if rule.end_boundary and _is_cjk(nxt) and after is None:
            return None  # 加微辣, 薇诺娜: the one-char word is the start of another word
        candidates = []
        if before is not None:
            candidates.append(_Match(rule, before.start, hit.end, hit.fuzzy or before.fuzzy, via="add_verb"))
        if after is not None:
            candidates.append(_Match(rule, hit.start, after.end, hit.fuzzy, via="cue"))
        if rule.alone and not hit.fuzzy:
            candidates.append(_Match(rule, hit.start, hit.end, hit.fuzzy, via="alone"))
        for match in candidates:
            if self._plausible(match, text, segmenter):
                return match
        return None

    def _handle(self, rule: _Rule, hit: _Hit, norm: Normalized, digits: str) -> Handle | None:
        nxt = digits[hit.end] if hit.end < len(digits) else ""
        glued = _is_ascii_alpha(rule.pattern[-1]) and _is_ascii_alpha(nxt)
        best = None
        for fmt in rule.handles:
            handle_rule = self._handle_rules.get(fmt)
            if handle_rule is None:
                continue
            window = 0 if glued else handle_rule.window
            found = handle_after(norm, digits, hit.end, window, (fmt,))
            if found is not None and (best is None or found.end > best.end):
                best = found
        return best

    def _plausible(self, match: _Match, text: str, segmenter: "_Segmenter") -> bool:
        """Guards for words matched in context: a sound-alike run needs one spelled character
        (价位心 is not 加微信), and a Chinese match must not begin or end inside a word
        (参加微信抽奖, 大家微信, 价位心动)."""
        span = text[match.start:match.end]
        if match.fuzzy and self._folder.all_sound_alike(span):
            return False
        return segmenter.is_boundary(match.start) and segmenter.is_boundary(match.end)

    # ---- evidence -----------------------------------------------------------------------

    def _finding(self, match: _Match, norm: Normalized) -> Finding:
        s, e = norm.span(match.start, match.end)
        entry = match.rule.entry
        details: dict[str, object] = {"via": match.via}
        if match.handle is not None:
            details["handle_format"] = match.handle.format
            details["handle"] = match.handle.value
        return Finding(
            detector=self.name, category=entry.category, severity=entry.severity,
            rule_id=entry.id, span=(s, e), matched=norm.original[s:e], legal_basis=entry.legal_basis,
            normalized=norm.text[match.start:match.end],
            confidence=_FUZZY_CONFIDENCE if match.fuzzy else 1.0, details=details)


class _Segmenter:
    """jieba word boundaries of one text, computed only if a guard asks."""

    __slots__ = ("_text", "_bounds", "_tokenizer")

    def __init__(self, text: str, tokenizer: jieba.Tokenizer) -> None:
        self._text = text
        self._tokenizer = tokenizer
        self._bounds: set[int] | None = None

    def is_boundary(self, pos: int) -> bool:
        text = self._text
        # Only a position between two Chinese characters can fall inside a word.
        if pos <= 0 or pos >= len(text) or not (_is_cjk(text[pos - 1]) and _is_cjk(text[pos])):
            return True
        if self._bounds is None:
            self._bounds, at = set(), 0
            for token in self._tokenizer.cut(text, HMM=False):
                at += len(token)
                self._bounds.add(at)
        return pos in self._bounds


@dataclass(frozen=True, slots=True)
class _SymbolAliases:
    """Emoji used as names (🐟 闲鱼, 🍠 小红书, 🐧 企鹅/QQ). normalize drops emoji, so before
    normalizing, each such symbol is spelled out as its entry's pattern; the offsets of the
    spelled-out word all point back at the symbol, so evidence spans stay in the original."""

    spelled: dict[str, str]
    finder: re.Pattern[str] | None

    @classmethod
    def build(cls, lexicon: Lexicon, rules: Sequence[_Rule]) -> "_SymbolAliases":
        spelled: dict[str, str] = {}
        for rule in rules:
            symbols = rule.entry.extra.get("symbols", [])
            if not isinstance(symbols, list) or not all(isinstance(x, str) and len(x) == 1 for x in symbols):
                raise lexicon.error(rule.entry, "symbols must be a list of single characters")
            if symbols and rule.kind not in ("contact", "anchor", "phrase"):
                raise lexicon.error(rule.entry, "symbols are only for contact, anchor and phrase entries")
            for symbol in symbols:
                if normalize(symbol).text:
                    raise lexicon.error(rule.entry, f"symbol {symbol!r} survives normalization: list it as a pattern")
                if spelled.setdefault(symbol, rule.pattern) != rule.pattern:
                    raise lexicon.error(rule.entry, f"symbol {symbol!r} already stands for {spelled[symbol]!r}")
        finder = re.compile("[" + "".join(map(re.escape, spelled)) + "]") if spelled else None
        return cls(spelled, finder)

    def spell(self, original: str) -> str:
        """``original`` with each symbol spelled out as its word; ``original`` itself (the
        same object) when it has none, which one regex search tells on the common path."""
        if self.finder is None or self.finder.search(original) is None:
            return original
        return "".join(self.spelled.get(ch, ch) for ch in original)

    def normalized(self, original: str, spelled: str) -> Normalized:
        """The normalized view of ``spelled`` (from :meth:`spell`), its offsets pointing into
        ``original``: every char of a spelled-out word points at its symbol."""
        norm = normalize(spelled)
        if spelled is original:
            return norm
        owner = [i for i, ch in enumerate(original) for _ in self.spelled.get(ch, ch)]
        return Normalized(original, norm.text, [owner[k] for k in norm.offsets])


def _compile(lexicon: Lexicon, entry: Entry) -> _Rule:
    extra = entry.extra
    kind = extra.get("kind", "phrase")
    if kind not in _KINDS:
        raise lexicon.error(entry, f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
    # A handle entry's pattern names a format (wechat_id), which normalize would mangle.
    pattern = entry.pattern.strip() if kind == "handle" else normalize(entry.pattern).text
    handles = tuple(extra.get("handles", ()))
    window, after_window = extra.get("window", 0), extra.get("after_window", 0)
    for key, value in (("window", window), ("after_window", after_window)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 20:
            raise lexicon.error(entry, f"{key} must be an integer 0..20, not {value!r}")
    for key in ("alone", "end_boundary", "handle_only", "own_category"):
        if not isinstance(extra.get(key, False), bool):
            raise lexicon.error(entry, f"{key} must be true or false")
    if after_window and kind != "anchor":
        raise lexicon.error(entry, "after_window is only for anchors")
    if kind == "handle" and pattern not in FORMATS:
        raise lexicon.error(entry, f"handle pattern must name a format {sorted(FORMATS)}")
    for fmt in handles:
        if fmt not in FORMATS:
            raise lexicon.error(entry, f"unknown handle format {fmt!r} (known: {sorted(FORMATS)})")
    for key in ("before", "after"):
        name = extra.get(key)
        if name is not None and name not in lexicon.sets:
            raise lexicon.error(entry, f"{key}: no set named {name!r} under sets")
    require = extra.get("require", "either")
    if require not in _REQUIRES:
        raise lexicon.error(entry, f"require must be one of {sorted(_REQUIRES)}")
    if kind in ("anchor", "guard") and not (extra.get("before") or extra.get("after")):
        raise lexicon.error(entry, f"a {kind} needs a before and/or after set")
    return _Rule(
        entry=entry, kind=kind, pattern=pattern,
        exceptions=tuple(normalize(x).text for x in entry.exceptions),
        alone=extra.get("alone", False), handles=handles, window=window,
        end_boundary=extra.get("end_boundary", False),
        before=extra.get("before"), after=extra.get("after"), require=require,
        handle_only=extra.get("handle_only", False), after_window=after_window,
        own_category=extra.get("own_category", False))


def _find(automaton: ahocorasick.Automaton | None, folded: str) -> list[tuple[int, tuple[_Word, ...]]]:
    """(index of the last char, words keyed so) for each key of ``automaton`` in ``folded``."""
    return list(automaton.iter(folded)) if automaton is not None else []


def _excepted(text: str, start: int, end: int, exceptions: Sequence[str]) -> bool:
    """True if a benign collocation (扣扣子, 微信支付) occurring in text covers this match."""
    for exc in exceptions:
        # Only an occurrence starting at or before ``start`` can cover the match: bound the
        # search there, or a long text costs a scan to its end per hit.
        stop = start + len(exc)
        at = text.find(exc, max(0, start - len(exc) + 1), stop)
        while at != -1:
            if at + len(exc) >= end:
                return True
            at = text.find(exc, at + 1, stop)
    return False


class _Cues:
    """The hits of one cue set in a text, indexed by end and by start, so each lookup near a
    match is a bisection, not a scan (a text may hold thousands of cues and matches)."""

    __slots__ = ("_by_end", "_ends", "_by_start", "_starts")

    def __init__(self, hits: Sequence[_Hit]) -> None:
        self._by_end = sorted(hits, key=lambda c: c.end)
        self._ends = [c.end for c in self._by_end]
        self._by_start = sorted(hits, key=lambda c: c.start)
        self._starts = [c.start for c in self._by_start]

    def ending_in(self, lo: int, hi: int) -> Sequence[_Hit]:
        return self._by_end[bisect_left(self._ends, lo):bisect_right(self._ends, hi)]

    def starting_in(self, lo: int, hi: int) -> Sequence[_Hit]:
        return self._by_start[bisect_left(self._starts, lo):bisect_right(self._starts, hi)]


_NO_CUES = _Cues(())


def _near_before(cues: _Cues, start: int, window: int,
                 segmenter: _Segmenter | None = None) -> _Hit | None:
    """The longest cue ending at most ``window`` chars before ``start``; with a segmenter,
    only a cue that ends a word (not 家 of 家里, not 去 of 去年)."""
    found = [c for c in cues.ending_in(start - window, start)
             if segmenter is None or segmenter.is_boundary(c.end)]
    return min(found, key=lambda c: c.start) if found else None


def _near_after(cues: _Cues, end: int, window: int,
                segmenter: _Segmenter | None = None) -> _Hit | None:
    """The longest cue starting at most ``window`` chars after ``end``; with a segmenter,
    only a cue that starts a word."""
    found = [c for c in cues.starting_in(end, end + window)
             if segmenter is None or segmenter.is_boundary(c.start)]
    return max(found, key=lambda c: c.end) if found else None


def _anchor_match(rule: _Rule, hit: _Hit, cues: dict[str, "_Cues"],
                  segmenter: _Segmenter) -> _Match | None:
    before = _near_before(cues.get(rule.before, _NO_CUES), hit.start, rule.window, segmenter) if rule.before else None
    after = _near_after(cues.get(rule.after, _NO_CUES), hit.end, rule.after_window or rule.window,
                        segmenter) if rule.after else None
    ok = {"either": before or after, "before": before, "after": after,
          "both": before and after}[rule.require]
    if not ok:
        return None
    start = before.start if before else hit.start
    end = after.end if after else hit.end
    via = "+".join(k for k, v in (("before", before), ("after", after)) if v)
    return _Match(rule, start, end, False, via=via, word_start=hit.start if before else None)


def _drop_nested(hits: list[_Hit]) -> list[_Hit]:
    """Within one rule kind keep the longest word: vx over v, 微信号 over 微信. One sweep per
    kind in start order, so a text of ten thousand 微 stays linear."""
    dropped: set[int] = set()
    by_kind: dict[str, list[_Hit]] = {}
    for h in hits:
        by_kind.setdefault(h.word.rule.kind if h.word.rule else "", []).append(h)
    for group in by_kind.values():
        # Longer first among equal starts: an earlier hit reaching as far contains this one.
        max_end, max_end_start = -1, -1
        for h in sorted(group, key=lambda h: (h.start, -h.end)):
            if max_end > h.end or (max_end == h.end and max_end_start < h.start):
                dropped.add(id(h))
            if h.end > max_end:
                max_end, max_end_start = h.end, h.start
    return [h for h in hits if id(h) not in dropped]


def _dedupe(matches: list[_Match]) -> list[_Match]:
    """One match per stretch of text and category: drop one inside another of the same
    category, keeping the higher severity, then the longer span, then the spelled one."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kept: list[_Match] = []
    # Only overlapping matches can contain one another: judge each run of them on its own,
    # so a text full of separate lures stays linear.
    for run in _overlapping_runs(matches):
        chosen: list[_Match] = []
        for m in sorted(run, key=lambda m: (-rank[m.rule.entry.severity], -(m.end - m.start), m.fuzzy, m.start)):
            if not any(k.rule.entry.category == m.rule.entry.category and k.start <= m.start and m.end <= k.end
                       for k in chosen):
                chosen.append(m)
        kept.extend(chosen)
    return sorted(kept, key=lambda m: (m.start, m.end))


def _overlapping_runs(matches: list[_Match]) -> list[list[_Match]]:
    runs: list[list[_Match]] = []
    run_end = -1
    for m in sorted(matches, key=lambda m: m.start):
        if not runs or m.start >= run_end:
            runs.append([])
        runs[-1].append(m)
        run_end = max(run_end, m.end)
    return runs
