"""Find and validate contact handles: mainland mobile and fixed-line numbers, QQ numbers,
WeChat ids.

Works on the digit-folded normalized view (``normalize(text, fold_digits=True).text``), where
一三八 一二三四 五六七八, ①③⑧ and 138-1234-5678 all read 13812345678. The formats are
facts of those systems, not policy; which contact word may carry which format, and how far a
handle may sit from it, are lexicon data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from detectors.normalize import CHINESE_DIGITS, Normalized

FORMATS: dict[str, re.Pattern[str]] = {
    "mobile": re.compile(r"(?:86)?1[3-9][0-9]{9}"),
    "qq": re.compile(r"[1-9][0-9]{4,10}"),
    # Fixed lines: 0 + 2-3 digit area code + 7-8 digit number (010 6552 8899, 0755-…), and
    # the nationwide 400 service numbers.
    "landline": re.compile(r"0[1-9][0-9]{8,10}|400[0-9]{7}"),
    # WeChat ids are 6-20 chars starting with a letter; _ and - were dropped by normalize.
    "wechat_id": re.compile(r"[a-z][a-z0-9]{5,19}"),
}
# The shortest handle of each format (the gate for contact words valid only before a handle).
MIN_LENGTH = {"mobile": 11, "qq": 5, "landline": 10, "wechat_id": 6}
# A standalone mobile number: not glued to other digits or letters (order numbers, SKUs).
_MOBILE_ANYWHERE = re.compile(r"(?<![0-9a-z])(?:86)?1[3-9][0-9]{9}(?![0-9])")
# The chars of the default view that the digit-folded view reads as digits.
_DIGIT_LIKE = "0123456789" + "".join(CHINESE_DIGITS)
_TOKEN = re.compile(r"[a-z0-9]+")
_ID_JOINERS = frozenset("_-＿－.．")  # normalize drops them; full-width ones included (jimu.wang.1314)


@dataclass(frozen=True, slots=True)
class Handle:
    format: str
    start: int  # [start, end) in the normalized view
    end: int
    value: str


def handle_after(norm: Normalized, view: str, pos: int, window: int,
                 formats: Iterable[str]) -> Handle | None:
    """The handle starting at most ``window`` chars after ``pos``, if one of ``formats`` fits.

    Only non-alphanumeric chars (号, 是, 搜 …) may sit in between, so the search never jumps
    over an unrelated number to reach a later one.
    """
    limit = min(pos + window + 1, len(view))
    start = next((i for i in range(pos, limit) if view[i].isascii() and view[i].isalnum()), None)
    if start is None:
        return None
    match = _TOKEN.match(view, start)
    assert match is not None  # view[start] is an ASCII letter or digit
    end = _cut_at_gap(norm, view, start, match.end()) if view[start].isalpha() else match.end()
    token = view[start:end]
    for fmt in formats:
        if FORMATS[fmt].fullmatch(token):
            return Handle(fmt, start, end, token)
    return None


def mobile_precheck(fold: Callable[[str], str]) -> re.Pattern[str]:
    """A regex for 11 digit-like chars in a row in ``fold`` of the default normalized view, for
    a ``fold`` that maps it char by char (homophone folding): where it finds nothing, the
    digit-folded view holds no mobile number, and most texts are ruled out without it."""
    return re.compile("[" + re.escape("".join(sorted(set(fold(_DIGIT_LIKE))))) + "]{11}")


def handle_gate(window: int, min_length: int) -> re.Pattern[str]:
    """A regex that, matched at ``pos`` of the default normalized view, finds a run of
    ``min_length`` chars that the digit-folded view reads as ASCII letters or digits starting
    at most ``window`` chars after ``pos``. Where it fails, ``handle_after`` on the digit-folded
    view at ``pos`` with at most that window finds no handle of at least that length."""
    chars = re.escape("".join(sorted(set(_DIGIT_LIKE) | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))))
    return re.compile(f"(?s).{{0,{window}}}[{chars}]{{{min_length}}}")


def mobiles(view: str) -> Iterator[Handle]:
    """Every standalone mainland mobile number in ``view``."""
    for m in _MOBILE_ANYWHERE.finditer(view):
        yield Handle("mobile", m.start(), m.end(), m.group())


def _cut_at_gap(norm: Normalized, view: str, start: int, end: int) -> int:
    """End a letter-led id where the original had a space or punctuation (vx abc123 thanks):
    normalize glued the words together, the original still separates them. Digits are not
    cut, because numbers are written in groups (138 1234 5678), and neither is a spaced-out
    id whose first chunks are too short to be one."""
    offsets, original = norm.offsets, norm.original
    for i in range(start + 1, end):
        gap = original[offsets[i - 1] + 1:offsets[i]]
        if gap and not set(gap) <= _ID_JOINERS:
            # Letters then one spaced digit group is one id (ptxie 668, spoken digits included).
            if gap.isspace() and view[start:i].isalpha() and view[i:end].isdigit():
                continue
            # A chunk too short to be an id was spaced out on purpose (xm ajie 520, gc yd 88):
            # the next chunk belongs to it.
            if gap.isspace() and i - start < MIN_LENGTH["wechat_id"]:
                continue
            return i
    return end
