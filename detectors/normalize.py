"""Fold Chinese live-stream text into one canonical form for matching, keeping the way back.

``normalize(text)`` applies, per code point and in one ``str.translate`` pass (C speed):

* NFKC (full/half width, ligatures, math alphanumerics 𝐳𝐮𝐢 → zui, ① → 1, ⑴ → 1, ² → 2),
  lowercase, and Latin accents stripped (wēixìn → weixin);
* traditional → simplified, from the official OpenCC ``t2s`` conversion applied to each
  character of planes 0–2 once at import. OpenCC is phrase-based; converting char by char keeps
  the length fixed (so offsets stay exact) at the cost of a few phrase-only readings (乾淨 stays
  乾净 instead of 干净). Patterns go through the same function, so both sides always agree;
* digit symbols that never form words → ASCII digits (➃ ❶ ⓿ ①, superscripts, full width);
* everything that is not a letter or a digit is dropped — spaces, punctuation, dots, dashes,
  slashes, emoji, zero-width and bidi marks, combining marks, variation selectors, tag
  characters — so that 全 网 最 低 / 加.微.信 / 全-网-最-低 all read as one word. Only % ¥ + are
  kept (➕ → +) because prices and "加" obfuscations need them.

Chinese numerals (一 二 两 幺 壹 …) are words as much as digits (第一, 一起, 三星), so they are
folded only with ``fold_digits=True`` — the view handle/phone extraction uses. The default view
is the one lexicon words are matched in.

Offsets back to the original are computed lazily: most texts never match anything, so the
hot path is two ``translate`` calls and a regex scan, and the offset array is built (also with
C-speed primitives) only when a detector asks for a span. A detector whose automaton runs on a
char-by-char transform of the normalized text (homophone folding, a code for the automaton)
gets it from the original with one ``translate`` through a :class:`View`, and normalizes only
the texts where the automaton hits.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import Iterator, Sequence, overload

import opencc

__all__ = ["CHINESE_DIGITS", "Normalized", "View", "normalize", "normalized_text"]

# The translate tables cover planes 0-2 (BMP, emoji/symbols, CJK ext. B-F). A list indexed by
# code point is about twice as fast as a dict in str.translate; code points past its end are
# left untouched by translate (letters in practice), except the tag / variation-selector
# supplement block, which is invisible and removed by regex below.
_TABLE_SIZE = 0x30000
_INVISIBLE_ASTRAL = re.compile("[\U000e0000-\U000e0fff]")
_ANY_ASTRAL_PAST_TABLE = re.compile("[\U00030000-\U0010ffff]")

# Symbols that carry meaning for some detector (prices, "+v" style contact lures).
_KEPT_SYMBOLS = frozenset("%¥+")
_EXTRA_MAP = {"➕": "+"}  # not an NFKC equivalent of "+", but used as one

# Chinese numerals that stand for one digit each (traditional forms are already simplified by
# the time this applies). Positional ones (十 百 千 万) are not digits and stay.
CHINESE_DIGITS = {
    **dict(zip("〇零一二三四五六七八九", "00123456789")),
    **dict(zip("壹贰叁肆伍陆柒捌玖", "123456789")),
    "幺": "1",
    "两": "2",
}


def _t2s_by_char() -> dict[str, str]:
    """OpenCC t2s, forced to one output char per input char (see module docstring)."""
    ranges = (range(0x3400, 0x4DC0), range(0x4E00, 0xA000), range(0xF900, 0xFB00),
              range(0x20000, _TABLE_SIZE))
    chars = [chr(cp) for r in ranges for cp in r if unicodedata.category(chr(cp)) == "Lo"]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # OpenCC merged lines: fall back to one call per char
        converted = [opencc.OpenCC("t2s").convert(c) for c in chars]
    return {c: s for c, s in zip(chars, converted) if c != s and len(s) == 1}


def _keep(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or ch in _KEPT_SYMBOLS


def _digit_symbol(ch: str) -> str | None:
    """➃ ❶ ⓿ and other "No" digits that NFKC leaves alone → '4', '1', '0'."""
    if unicodedata.category(ch) != "No":
        return None
    value = unicodedata.numeric(ch, -1.0)
    return str(int(value)) if value >= 0 and value == int(value) else None


def _fold_char(ch: str, t2s: dict[str, str]) -> str:
    if ch in _EXTRA_MAP:
        return _EXTRA_MAP[ch]
    out = []
    for c in unicodedata.normalize("NFKC", ch).lower():
        digit = _digit_symbol(c)
        if digit is not None:
            out.append(digit)
            continue
        stripped = "".join(d for d in unicodedata.normalize("NFD", c) if not unicodedata.combining(d))
        if stripped.isascii() and stripped:
            c = stripped
        c = t2s.get(c, c)
        if _keep(c):
            out.append(c)
    return "".join(out)


def _build_tables() -> tuple[list[object], list[object], list[object]]:
    """(default table, digit-folding table, width mask table) for str.translate."""
    t2s = _t2s_by_char()
    table: list[object] = list(range(_TABLE_SIZE))
    widths: list[object] = ["\x01"] * _TABLE_SIZE
    for cp in range(_TABLE_SIZE):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:  # lone surrogates: drop, never raise
            table[cp], widths[cp] = None, "\x00"
            continue
        folded = _fold_char(ch, t2s)
        if folded != ch:
            table[cp] = folded or None
            widths[cp] = chr(len(folded))
    digits = list(table)
    for cp in range(_TABLE_SIZE):
        value = table[cp]
        folded = chr(value) if isinstance(value, int) else value
        if isinstance(folded, str) and folded in CHINESE_DIGITS:
            digits[cp] = CHINESE_DIGITS[folded]
    return table, digits, widths


_TABLE, _DIGIT_TABLE, _WIDTH_TABLE = _build_tables()


class _LazyOffsets(Sequence[int]):
    """offsets[i] = index in the original of the char that produced normalized char i."""

    __slots__ = ("_original", "_values")

    def __init__(self, original: str) -> None:
        self._original = original
        self._values: list[int] | None = None

    def _get(self) -> list[int]:
        if self._values is None:
            self._values = _compute_offsets(self._original)
        return self._values

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> list[int]: ...
    def __getitem__(self, i: int | slice) -> int | list[int]:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[int]:
        return iter(self._get())


def _compute_offsets(original: str) -> list[int]:
    # One mask char per source char whose code is the number of normalized chars it produced.
    mask = original.translate(_WIDTH_TABLE)
    if not mask.isascii():  # code points past the table survived translate unchanged
        mask = _INVISIBLE_ASTRAL.sub("\x00", mask)
        mask = _ANY_ASTRAL_PAST_TABLE.sub("\x01", mask)
    widths = mask.encode("ascii")
    if max(widths, default=0) <= 1:
        return list(compress(range(len(widths)), widths))
    return [i for i, w in enumerate(widths) for _ in range(w)]


@dataclass(frozen=True, slots=True)
class Normalized:
    original: str
    text: str  # normalized, for matching only
    offsets: Sequence[int]  # len(offsets) == len(text); built lazily on first use

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Normalized [start, end) → original [s, e), e covering the last source char fully."""
        if end <= start:
            pos = self.offsets[start] if start < len(self.text) else len(self.original)
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1

    def index_at(self, pos: int) -> int:
        """The first normalized index whose source char is at or after original index ``pos``
        (a bisection at C speed, not through the lazy sequence's Python indexing)."""
        offsets = self.offsets
        return bisect_left(offsets._get() if isinstance(offsets, _LazyOffsets) else offsets, pos)


# Several detectors normalize the same event text in turn; the result is immutable, so the
# last few are kept and the second detector gets the first one's work for free.
@lru_cache(maxsize=8)
def normalize(text: str, fold_digits: bool = False) -> Normalized:
    """Canonical form of ``text`` for matching; ``fold_digits`` also turns 一/壹/幺/两 into digits."""
    return Normalized(text, _translate(text, _DIGIT_TABLE if fold_digits else _TABLE), _LazyOffsets(text))


def normalized_text(text: str) -> str:
    """``normalize(text).text`` alone, without offsets or a cache entry: for the short context
    snippets around a hit, which would otherwise push event texts out of the cache."""
    return _translate(text, _TABLE)


def _translate(text: str, table: list[object]) -> str:
    folded = text.translate(table)
    if _INVISIBLE_ASTRAL.search(folded):
        folded = _INVISIBLE_ASTRAL.sub("", folded)
    return folded


class View:
    """``normalize(text).text.translate(table)`` for a char-by-char ``table`` (a str.translate
    list: one char in, any string out), in one ``translate`` of the original text through both
    tables composed. Chars of the normalized text past the end of ``table`` stay as they are,
    or become ``past`` when it is given (an encoding that must cover every char)."""

    __slots__ = ("_table", "_past", "_beyond", "_composed")

    def __init__(self, table: Sequence[object], past: str | None = None) -> None:
        self._table, self._past = table, past
        self._beyond = re.compile(f"[{re.escape(chr(len(table)))}-\U0010ffff]")
        # A normalize-table entry is an int (one char, most of them), a str, or None (dropped).
        self._composed = [self._char(v) if isinstance(v, int) else v if v is None
                          else "".join(map(_as_str, map(self._char, map(ord, v))))
                          for v in _TABLE]

    def _char(self, codepoint: int) -> object:
        """The translate value for one char of the normalized text."""
        if codepoint < len(self._table):
            return self._table[codepoint]
        return codepoint if self._past is None else self._past

    def __call__(self, text: str) -> str:
        out = text.translate(self._composed)
        # Code points past the normalize table (rare; the invisible ones among them must go)
        # pass the composed translate unchanged: such a text takes the two-step way. An ASCII
        # result (an automaton's code) has none, which str.isascii tells without a scan.
        if out.isascii() or _ANY_ASTRAL_PAST_TABLE.search(out) is None:
            return out
        out = normalize(text).text.translate(self._table)
        return out if self._past is None else self._beyond.sub(self._past, out)


def _as_str(value: object) -> str:
    """A translate-table value as the text it stands for."""
    return chr(value) if isinstance(value, int) else "" if value is None else str(value)
