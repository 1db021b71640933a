"""Claims a live-stream seller may not make: absolute terms, medical efficacy, false promises,
state symbols, banned goods, vulgarity and fake transactions.

Matching is one Aho-Corasick pass over the normalized text (see detectors.normalize), so
obfuscations such as 全 网 最 低, 全網最低 or 全🔥网最低 hit the same entry. Most events hit
nothing and cost two C-speed passes (see detectors.automaton), without being normalized. Each
hit then goes through context checks, cheapest first, each one a way a literal hit is not a
claim:

1. ``exceptions``: the hit is part of a benign collocation listed on the entry
   (最佳赏味期, 一级能效 — SAMR's 2023 guide exempts consumer tips and graded standards).
2. ``exempt_item_categories``: the newest item pinned in the room is of a category allowed to
   state this (a drug may state its approved indication 降血压; a food or cosmetic may not).
   Guarantees such as 根治/无副作用 carry no exemption: 《广告法》第十六条 bans them for drugs too.
   Likewise a medical hit right after an ``approved_function_cues`` word quotes a health
   food's registered function (保健功能是增强免疫力), whatever is pinned.
3. Cue sets from the lexicon's ``sets``, looked up in the same clause of the *original* text:
   ``negation_cues`` before the hit (我们不说全网最低) or ``negation_after_cues`` after it
   (管制刀具我们是不卖的, 刷单是违法的 — the rest of the sentence, since a verdict often
   follows a comma: 空包就是假发货，违法的); a question (``question_cues`` before,
   ``question_particles`` or ？ after: 是全网最低吗?) asserts and offers nothing, whoever
   asks it, and so does a clause that ends in a ``question_finals`` word right after the hit
   (能治风湿不); for absolute terms, a ``goal_cues`` word earlier in the clause (争做第一) exempts as in the 2023 guide, and
   so are ``own_range_cues`` (我们家最便宜的一款: a comparison inside one's own range) for
   entries marked ``own_range_exempt``; entries marked ``not_clause_initial`` do not count
   when they open their clause (第一，面料好 enumerates).
   A question that is an offer (象牙雕件有要的吗, ``offer_cues``) still offers. Vulgarity is not
   a claim: questions and after-cues (狗东西 骗子) never excuse it.
4. Co-occurrence: an entry with ``requires_any`` / ``requires_before`` / ``requires_after``
   (names of sets) counts only when a word of one of those sets stands within ``within``
   normalized chars of the hit (on that side), inside its clause — or its sentence, with
   ``scope: sentence``, for claims that ASR and chat spread over commas (中奖的家人，先付手续费).
   A cue preceded by a ``cue_negation_cues`` word (不收手续费, 免运费) is no cue. This is how
   paraphrases are caught that no literal lists: a trigger (中奖, 血糖, 胸) that is benign alone.
   ``requires_all`` (a list of set names) is the all-of concept rule: a word of *every* named
   set must stand within ``within`` of the hit (补单 + reward + task words: each concept a set).
   ``unless_any`` is the converse: a word of that set near the hit makes it no claim (A货 next to
   翡翠 grades jadeite). ``repeated`` entries count only when said twice in the message
   (最后十单…最后十单: a single deadline may be true, a hammered one is the pitch).
5. ``whole_word``: a private jieba tokenizer, with the lexicon as user dictionary, must cut the
   text at both ends of the hit (第一 is rejected inside 第一次, 万能 inside 万能胶). Run last,
   and only for entries that ask for it, because it is the expensive check.

Overlapping hits of one category are one claim: the most severe, then longest, is kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from detectors.automaton import CodedAutomaton
from detectors.base import SEVERITIES, DetectContext, Finding
from detectors.segmenter import private_tokenizer
from detectors.lexicon import Entry, Lexicon, LexiconError, lexicon_version, load_lexicon
from detectors.normalize import Normalized, normalize, normalized_text

__all__ = ["ProhibitedClaimDetector"]

ITEM_CATEGORIES = frozenset({
    "food", "health_food", "drug", "medical_device", "cosmetics", "apparel", "jewelry",
    "electronics", "home", "publication", "baby", "other"})
_FLAGS = ("whole_word", "own_range_exempt", "not_clause_initial", "repeated")
_SIDES = {"requires_any": "any", "requires_before": "before", "requires_after": "after",
          "unless_any": "any"}
_EXTRA_KEYS = (*_FLAGS, "exempt_item_categories", *_SIDES, "requires_all", "within", "scope")
_REQUIRED_SETS = ("negation_cues", "negation_after_cues", "question_cues", "question_particles",
                  "goal_cues", "own_range_cues", "offer_cues", "cue_negation_cues",
                  "approved_function_cues", "question_finals")
_MAX_WITHIN = 40  # a co-occurrence further apart than this is no longer one statement
# Insults and sexual remarks offend as questions too, and assert nothing an after-cue could negate.
_NOT_CLAIMS = frozenset({"vulgar"})

# Clause punctuation bounds the context windows; decorative separators (. - ~ space) do not.
_CLAUSE_BREAK = re.compile(r"[，。！？!?；;,\n\r]")
_SENTENCE_BREAK = re.compile(r"[。！？!?；;\n\r]")
# Chat uses a space as a comma: a space after a word and before another word of two or more
# characters ends what question_finals look at (能降血糖不 我爸糖尿病: the 不 asks). A spacing
# obfuscation (全 网 最 低 价) puts spaces between single characters and is no break.
_SPACE_BREAK = re.compile(r"(?<=\S)\s+(?=\S\S)")
_QUESTION_MARKS = frozenset("?？")
_CONTEXT_CHARS = 24  # original chars looked at on each side of a hit
_CUE_GAP = 4  # normalized chars allowed between a preceding cue and the hit (不是说全网最低)
_TAIL_CHARS = 8  # normalized chars after the hit searched for a question particle
_JIEBA_MARGIN = 8  # normalized chars of context on each side given to jieba
_APPROVED_GAP = 6  # normalized chars between 保健功能是 and the hit (保健功能是辅助降血脂)
_CUE_NEGATION_GAP = 3  # normalized chars allowed between a cue negation and its cue (不收任何手续费)


@dataclass(frozen=True, slots=True)
class _Rule:
    entry: Entry
    normalized: str
    # (exception text, offset of the pattern inside it) pairs, all normalized.
    exceptions: tuple[tuple[str, int], ...]
    exempt_items: frozenset[str]
    whole_word: bool
    own_range_exempt: bool
    not_clause_initial: bool
    # (side, set name) pairs, side in any|before|after; empty for a plain literal entry.
    repeated: bool = False
    requires: tuple[tuple[str, str], ...] = ()
    # (side, set name) pairs whose words, within ``within``, make the hit no claim.
    unless: tuple[tuple[str, str], ...] = ()
    # ("any", set name) pairs of which each must have a word within ``within`` (all-of rule).
    requires_all: tuple[tuple[str, str], ...] = ()
    within: int = 0
    sentence_scope: bool = False


class ProhibitedClaimDetector:
    name = "prohibited_claim"
    applies_to = frozenset({"transcript", "danmaku"})

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.version = lexicon_version([lexicon])
        self._rules = tuple(_rule(lexicon, e) for e in lexicon.entries)
        self._cues = {name: tuple(normalize(w).text for w in words) for name, words in lexicon.sets.items()}
        self._finders = {name: _finder(words) for name, words in self._cues.items()}
        self._max_cue = max(len(w) for name in _REQUIRED_SETS for w in self._cues[name])
        seen: dict[str, Entry] = {}
        for rule in self._rules:
            if rule.normalized in seen:
                raise lexicon.error(rule.entry, f"pattern normalizes to {rule.normalized!r} like entry {seen[rule.normalized].id!r}")
            seen[rule.normalized] = rule.entry
        self._automaton = CodedAutomaton([rule.normalized for rule in self._rules])
        # Per rule, the necessary condition of its co-occurrence rules, tested inline before
        # _accept: most hits of a trigger such as 全国, 回购 or 拍一单 have no cue within reach.
        union: dict[tuple[str, ...], re.Pattern[str]] = {}
        self._reach = tuple(self._reach_check(rule, union) for rule in self._rules)
        # Private instance: the global jieba dictionary is shared with other detectors.
        self._tokenizer = private_tokenizer()
        for rule in self._rules:
            self._tokenizer.add_word(rule.normalized)

    @classmethod
    def load(cls, lexicon_dir: Path) -> "ProhibitedClaimDetector":
        lexicon = load_lexicon(Path(lexicon_dir) / "prohibited_claim.yaml", extra_keys=_EXTRA_KEYS)
        missing = [name for name in _REQUIRED_SETS if name not in lexicon.sets]
        if missing:
            raise LexiconError(f"{lexicon.path}:1: missing sets: {', '.join(missing)}")
        return cls(lexicon)

    def detect(self, ctx: DetectContext) -> list[Finding]:
        if ctx.kind not in self.applies_to:
            return []
        found = self._automaton.find(ctx.text)
        if not found:  # most texts: never normalized
            return []
        norm = normalize(ctx.text)
        text, rules, reach = norm.text, self._rules, self._reach
        hits = []
        for end, i in found:
            rule = rules[i]
            start, end = end + 1 - len(rule.normalized), end + 1
            check = reach[i]
            if check is not None:
                # Cues ignoring clause breaks, as _cooccurs first looks: None where it would fail.
                lo, hi = max(0, start - rule.within), end + rule.within
                before, after, every = check
                if (before is not None or after is not None) and not (
                        (before is not None and before.search(text, lo, start) is not None)
                        or (after is not None and after.search(text, end, hi) is not None)):
                    continue
                if any(f.search(text, lo, start) is None and f.search(text, end, hi) is None for f in every):
                    continue
            hits.append((start, end, rule))
        if not hits:
            return []
        item_category = _newest_item_category(ctx.items)
        accepted = [h for h in hits if self._accept(norm, h[0], h[1], h[2], item_category)]
        return [self._finding(norm, start, end, rule) for start, end, rule in _one_per_claim(accepted)]

    def _accept(self, norm: Normalized, start: int, end: int, rule: _Rule, item_category: str | None) -> bool:
        text = norm.text
        if any(text.startswith(x, start - k) for x, k in rule.exceptions if start >= k):
            return False
        if item_category in rule.exempt_items:
            return False
        # Said once, 最后三件 may be true; hammered in one breath (最后三件，真的最后三件了) it
        # is the fabricated-scarcity pitch.
        if rule.repeated and norm.text.count(rule.normalized) < 2:
            return False
        if rule.requires and not self._cooccurs(norm, start, end, rule, rule.requires):
            return False
        if rule.unless and self._cooccurs(norm, start, end, rule, rule.unless):
            return False
        if rule.requires_all and not self._cooccurs(norm, start, end, rule, rule.requires_all, every=True):
            return False
        s, e = norm.span(start, end)
        before, after, asked, final = _clause_context(norm.original, s, e)
        # 是不是 asks; the 不是 inside it negates nothing (这内衣是不是很骚). Nor does a cue the
        # entry itself requires before it (再也不 of 再也不感冒: the 不 is the claim).
        masked = self._mask(before, "question_cues")
        for side, set_name in rule.requires:
            if side != "after":
                masked = self._mask(masked, set_name)
        for _, set_name in rule.requires_all:
            masked = self._mask(masked, set_name)
        if self._cue_before(masked, "negation_cues"):
            return False
        claim = rule.entry.category not in _NOT_CLAIMS
        if claim and self._has("negation_after_cues", _sentence_after(norm.original, e)):
            return False
        if rule.entry.category == "medical_claim" and self._cue_before(
                before, "approved_function_cues", _APPROVED_GAP):
            return False
        if claim and (asked or self._cue_before(before, "question_cues")
                      or self._has("question_particles", after[:_TAIL_CHARS])
                      or final in self._cues["question_finals"]) and not self._has("offer_cues", before + after):
            return False
        # A goal governs the rest of its clause (力争做到华东地区销量第一), not just the next words.
        if rule.entry.category == "absolute_term" and self._has("goal_cues", before):
            return False
        if rule.own_range_exempt and self._cue_before(before, "own_range_cues"):
            return False
        if rule.not_clause_initial and not before:
            return False
        return not rule.whole_word or self._is_whole_word(text, start, end)

    def _reach_check(self, rule: _Rule, union: dict[tuple[str, ...], re.Pattern[str]]
                     ) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, tuple[re.Pattern[str], ...]] | None:
        """For a rule with ``requires`` or ``requires_all``: a finder of any required word that
        may stand before the hit, one for after it (None for no such set), and one finder per
        ``requires_all`` set. Without a match of these within ``within`` chars, clause breaks
        ignored, ``_cooccurs`` fails and with it ``_accept``."""
        if not rule.requires and not rule.requires_all:
            return None

        def finder(names: tuple[str, ...]) -> re.Pattern[str] | None:
            if not names:
                return None
            if names not in union:
                union[names] = _finder([w for name in names for w in self._cues[name]])
            return union[names]

        before = tuple(sorted({n for side, n in rule.requires if side != "after"}))
        after = tuple(sorted({n for side, n in rule.requires if side != "before"}))
        return finder(before), finder(after), tuple(self._finders[n] for _, n in rule.requires_all)

    def _cue_before(self, before: str, set_name: str, gap: int = _CUE_GAP, owner: str | None = None) -> bool:
        """A cue ending at most ``gap`` chars before the hit; a one-char cue (不, 别) must touch
        it, or 不要错过全网最低价 would read as a negation. With ``owner``, a word of that set
        standing in the gap takes the cue for itself (不用垫付一单一结: 不用 negates 垫付, not
        一单一结)."""
        tail = before[-(self._max_cue + gap):]
        if not self._has(set_name, tail):  # the common case, settled by one regex scan
            return False
        for cue in self._cues[set_name]:
            k = tail.rfind(cue)
            if k < 0 or len(tail) - (k + len(cue)) > (gap if len(cue) > 1 else 0):
                continue
            if owner is None or not self._has(owner, tail[k + len(cue):]):
                return True
        return False

    def _mask(self, text: str, set_name: str) -> str:
        """``text`` with the words of a set blanked out, lengths kept."""
        if not self._has(set_name, text):
            return text
        for cue in self._cues[set_name]:
            if cue in text:
                text = text.replace(cue, "\0" * len(cue))
        return text

    def _cooccurs(self, norm: Normalized, start: int, end: int, rule: _Rule,
                  pairs: tuple[tuple[str, str], ...], every: bool = False) -> bool:
        """A word of a required set within ``rule.within`` normalized chars of the hit, on the
        set's side, without crossing a clause (or sentence) break of the original text; with
        ``every``, a word of each set (the window is computed once for all of them)."""
        lo, hi = max(0, start - rule.within), min(len(norm.text), end + rule.within)
        # Most hits have no such word even with breaks ignored: settled before the offsets
        # back to the original and its breaks are computed.
        if not self._cue_near(norm.text, pairs, lo, start, end, hi, self._some_cue, every):
            return False
        offsets, original = norm.offsets, norm.original
        breaks = _SENTENCE_BREAK if rule.sentence_scope else _CLAUSE_BREAK
        s, e = norm.span(start, end)
        if lo < start:
            cut = list(breaks.finditer(original, offsets[lo], s))
            if cut:
                lo = max(lo, norm.index_at(cut[-1].end()))
        if hi > end:
            cut_after = breaks.search(original, e, offsets[hi - 1] + 1)
            if cut_after:
                hi = min(hi, norm.index_at(cut_after.start()))
        return self._cue_near(norm.text, pairs, lo, start, end, hi, self._asserted_cue, every)

    @staticmethod
    def _cue_near(text: str, pairs: tuple[tuple[str, str], ...], lo: int, start: int, end: int, hi: int,
                  found: Callable[[str, str, int, int], bool], every: bool = False) -> bool:
        """``found`` for some (side, set) pair in text[lo:start] (before) or text[end:hi] (after);
        with ``every``, for each pair."""
        windows = {"before": ((lo, start),), "after": ((end, hi),), "any": ((lo, start), (end, hi))}
        results = (any(found(text, set_name, w_lo, w_hi) for w_lo, w_hi in windows[side]) for side, set_name in pairs)
        return all(results) if every else any(results)

    def _some_cue(self, text: str, set_name: str, lo: int, hi: int) -> bool:
        """A word of the set lies within text[lo:hi]."""
        return self._finders[set_name].search(text, lo, hi) is not None

    def _asserted_cue(self, text: str, set_name: str, lo: int, hi: int) -> bool:
        """A word of the set lies within text[lo:hi] at least once without a cue negation right
        before it. Whether a cue is negated depends only on where it starts, so each start
        position is checked once, whichever words start there."""
        return any(not self._cue_before(text[:m.start()], "cue_negation_cues", _CUE_NEGATION_GAP, set_name)
                   for m in self._finders[set_name].finditer(text, lo, hi))

    def _has(self, set_name: str, text: str) -> bool:
        """Some word of the set occurs in ``text``."""
        return self._finders[set_name].search(text) is not None

    def _is_whole_word(self, text: str, start: int, end: int) -> bool:
        # Latin/digit edges: jieba would happily cut "usb" into u|sb once "sb" is a user word.
        if (start > 0 and _is_alnum(text[start]) and _is_alnum(text[start - 1])) or (
                end < len(text) and _is_alnum(text[end - 1]) and _is_alnum(text[end])):
            return False
        lo = max(0, start - _JIEBA_MARGIN)
        cuts, pos = {0}, 0
        for token in self._tokenizer.cut(text[lo:end + _JIEBA_MARGIN], HMM=False):
            pos += len(token)
            cuts.add(pos)
        return start - lo in cuts and end - lo in cuts

    def _finding(self, norm: Normalized, start: int, end: int, rule: _Rule) -> Finding:
        s, e = norm.span(start, end)
        entry = rule.entry
        return Finding(
            detector=self.name, category=entry.category, severity=entry.severity,
            rule_id=entry.id, span=(s, e), matched=norm.original[s:e],
            legal_basis=entry.legal_basis, normalized=norm.text[start:end],
            details={"lexicon_version": self.version, "pattern": entry.pattern})


def _finder(words: Sequence[str]) -> re.Pattern[str]:
    """A regex matching, with zero width, wherever one of ``words`` starts and fits before the
    end of the searched range: one C-speed scan instead of one ``in`` per word. The empty set
    matches nowhere."""
    if not words:
        return re.compile(r"(?!)")
    return re.compile("(?=(?:" + "|".join(map(re.escape, words)) + "))")


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _one_per_claim(hits: list[tuple[int, int, _Rule]]) -> list[tuple[int, int, _Rule]]:
    """Within each run of overlapping hits (so long transcripts stay linear), most severe then
    longest first, drop hits overlapping a kept hit of the same category: 全网最低价 is one
    claim (全网最低 + 最低价), and so is 根治鼻炎 (根治 + 治鼻炎)."""
    runs: list[list[tuple[int, int, _Rule]]] = []
    run_end = -1
    for hit in sorted(hits, key=lambda h: h[0]):
        if not runs or hit[0] >= run_end:
            runs.append([])
        runs[-1].append(hit)
        run_end = max(run_end, hit[1])
    kept: list[tuple[int, int, _Rule]] = []
    for run in runs:
        chosen: list[tuple[int, int, _Rule]] = []
        for h in sorted(run, key=lambda h: (-SEVERITIES.index(h[2].entry.severity), h[0] - h[1], h[0])):
            if not any(k[2].entry.category == h[2].entry.category and k[0] < h[1] and h[0] < k[1]
                       for k in chosen):
                chosen.append(h)
        kept.extend(sorted(chosen, key=lambda h: h[0]))
    return kept


def _rule(lexicon: Lexicon, entry: Entry) -> _Rule:
    normalized = normalize(entry.pattern).text
    exceptions = []
    for x in entry.exceptions:
        nx = normalize(x).text
        k = nx.find(normalized)
        while k >= 0:
            exceptions.append((nx, k))
            k = nx.find(normalized, k + 1)
    flags = {key: entry.extra.get(key, False) for key in _FLAGS}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise lexicon.error(entry, f"{key} must be true or false")
    exempt = entry.extra.get("exempt_item_categories", [])
    if not isinstance(exempt, list) or not set(exempt) <= ITEM_CATEGORIES:
        raise lexicon.error(entry, f"exempt_item_categories must be a list of {sorted(ITEM_CATEGORIES)}")
    return _Rule(entry, normalized, tuple(exceptions), frozenset(exempt), **flags,
                 **_cooccurrence(lexicon, entry))


def _cooccurrence(lexicon: Lexicon, entry: Entry) -> dict[str, Any]:
    """The validated ``requires_*`` / ``within`` / ``scope`` keys of ``entry`` as _Rule fields."""
    requires: list[tuple[str, str]] = []
    unless: list[tuple[str, str]] = []
    for key, side in _SIDES.items():
        names = entry.extra.get(key, [])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise lexicon.error(entry, f"{key} must be a set name or a list of set names")
        for name in names:
            if name not in lexicon.sets:
                known = ", ".join(sorted(lexicon.sets))
                raise lexicon.error(entry, f"{key}: unknown set {name!r} (known: {known})")
            (unless if key == "unless_any" else requires).append((side, name))
    every = entry.extra.get("requires_all", [])
    if not isinstance(every, list) or not all(isinstance(n, str) for n in every) or len(every) == 1:
        raise lexicon.error(entry, "requires_all must be a list of two or more set names")
    for name in every:
        if name not in lexicon.sets:
            known = ", ".join(sorted(lexicon.sets))
            raise lexicon.error(entry, f"requires_all: unknown set {name!r} (known: {known})")
    if len(set(every)) != len(every):
        raise lexicon.error(entry, "requires_all names a set twice")
    within, scope = entry.extra.get("within"), entry.extra.get("scope", "clause")
    if not requires and not unless and not every:
        if "within" in entry.extra or "scope" in entry.extra:
            raise lexicon.error(entry, "within and scope need requires_any, requires_before, "
                                       "requires_after, requires_all or unless_any")
        return {}
    if type(within) is not int or not 1 <= within <= _MAX_WITHIN:
        raise lexicon.error(entry, f"within must be a whole number of characters from 1 to {_MAX_WITHIN}")
    if scope not in ("clause", "sentence"):
        raise lexicon.error(entry, "scope must be clause or sentence")
    return {"requires": tuple(requires), "unless": tuple(unless),
            "requires_all": tuple(("any", name) for name in every),
            "within": within, "sentence_scope": scope == "sentence"}


def _newest_item_category(items: Sequence[Mapping[str, object]]) -> str | None:
    """The item most likely being talked about: the newest pin (items come newest first)."""
    for item in items:
        category = item.get("category") if isinstance(item, Mapping) else None
        if isinstance(category, str):
            return category
    return None


def _clause_context(original: str, s: int, e: int) -> tuple[str, str, bool, str]:
    """Normalized text before and after original[s:e] within its clause, whether the clause
    ends with a question mark, and the words right after the hit up to a chat space
    (``_SPACE_BREAK``), where a final 不/没 asks (能降血糖不 我爸糖尿病)."""
    before = original[max(0, s - _CONTEXT_CHARS):s]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end():]
    after = original[e:e + _CONTEXT_CHARS]
    stop = _CLAUSE_BREAK.search(after)
    asked = stop is not None and stop.group() in _QUESTION_MARKS
    if stop is not None:
        after = after[:stop.start()]
    space = _SPACE_BREAK.search(after)
    folded = normalized_text(after)
    return normalized_text(before), folded, asked, folded if space is None else normalized_text(after[:space.start()])


def _sentence_after(original: str, e: int) -> str:
    """Normalized text after original[e:] up to the end of its sentence (commas included)."""
    after = original[e:e + _CONTEXT_CHARS]
    stop = _SENTENCE_BREAK.search(after)
    return normalized_text(after[:stop.start()] if stop else after)
