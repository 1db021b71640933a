"""Fold homophones of contact words onto one spelling, by pinyin.

Viewers dodge keyword filters by swapping a character of 加微信 for one that sounds the
same (加薇信, 佳微芯, 嘉我微). Listing every variant by hand never ends, so the table is
built once from pypinyin's dictionary: every character whose primary reading equals (tones
ignored, since 芯 xīn and 信 xìn are used interchangeably) the reading of a character of
the given words is mapped to one canonical character for that syllable. Folding is a
``str.translate``: one character in, one character out, so offsets stay valid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict


def _reading(codepoint: int) -> str | None:
    """The primary reading, toneless. Rare secondary readings (有 also reads wěi) would turn
    everyday characters into sound-alikes of 微."""
    raw = pinyin_dict.get(codepoint)
    return to_normal(raw.split(",")[0]) if raw else None


@dataclass(frozen=True, slots=True)
class HomophoneFolder:
    # str.translate table: a list indexed by code point (about twice as fast as a dict),
    # identity except for the sound-alikes, and as long as the highest one needs.
    table: Sequence[int | str]

    def fold(self, text: str) -> str:
        return text.translate(self.table)

    def all_sound_alike(self, text: str) -> bool:
        """True if every character of ``text`` was substituted: a run of pure sound-alikes
        (价位心 -> 加微信) is a coincidence, one spelled character (佳微芯) makes it a lure."""
        table = self.table
        return all(ord(ch) < len(table) and table[ord(ch)] != ord(ch) for ch in text)


def build_folder(words: Iterable[str]) -> HomophoneFolder:
    canonical: dict[str, str] = {}  # syllable -> first character of the words with it
    for word in words:
        for ch in word:
            syllable = _reading(ord(ch))
            if syllable is not None:  # Latin letters and digits are compared as spelled
                canonical.setdefault(syllable, ch)
    changes: dict[int, str] = {}
    for codepoint in pinyin_dict:
        target = canonical.get(_reading(codepoint) or "")
        if target is not None and chr(codepoint) != target:
            changes[codepoint] = target
    table: list[int | str] = list(range(max(changes, default=-1) + 1))
    for codepoint, target in changes.items():
        table[codepoint] = target
    return HomophoneFolder(table=table)
