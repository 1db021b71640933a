"""Aho-Corasick over the normalized view of a text, run straight on the original text.

pyahocorasick finds a node's child by a linear scan of its children. At the root, where most
chars of a text start no word, each char is compared with every first char of the lexicon
(411 for prohibited_claim), and the automaton ran at about 100 ns per char. Here each char of
the words' alphabet is written as two code chars, one from a "high" and one from a disjoint
"low" alphabet of about √n chars each, and every other char as two filler chars: no node has
more than about √n children, a word can only match at a char boundary (its code starts with a
high char), and positions in the code are twice those in the normalized text.

The code is a :class:`detectors.normalize.View`, computed from the original text in one
``str.translate``: a text in which no word occurs is never normalized at all.
"""
from __future__ import annotations

from math import isqrt
from typing import Sequence

import ahocorasick

from detectors.normalize import View

__all__ = ["CodedAutomaton"]

_FILLER = "\x00\x00"  # any char outside the words' alphabet
_LOW = 0x01  # low code chars start here, high ones right after the last low one


class CodedAutomaton:
    """Every occurrence of the given normalized ``words`` in ``normalize(text).text``."""

    __slots__ = ("_automaton", "_view")

    def __init__(self, words: Sequence[str]) -> None:
        alphabet = sorted({ch for word in words for ch in word})
        base = isqrt(max(len(alphabet) - 1, 0)) + 1
        high = _LOW + base
        codes = {ch: chr(high + i // base) + chr(_LOW + i % base) for i, ch in enumerate(alphabet)}
        table: list[object] = [_FILLER] * (max(map(ord, alphabet), default=0) + 1)
        for ch, code in codes.items():
            table[ord(ch)] = code
        self._view = View(table, past=_FILLER)
        self._automaton = ahocorasick.Automaton()
        for index, word in enumerate(words):
            self._automaton.add_word("".join(codes[ch] for ch in word), index)
        if words:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, int]]:
        """(index of the word's last char in ``normalize(text).text``, index of the word) for
        each occurrence, in pyahocorasick's order: by end, longest word first."""
        if not len(self._automaton):
            return []
        return [(end // 2, index) for end, index in self._automaton.iter(self._view(text))]
