"""detectors.automaton and normalize.View: the fast paths find exactly what the plain ones do."""
from __future__ import annotations

import ahocorasick
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.automaton import CodedAutomaton
from detectors.homophones import build_folder
from detectors.normalize import View, normalize

# Text that mixes lexicon-like words with everything normalize treats specially: traditional
# forms, full width, drops, multi-char folds (⑩), astral chars past the table, tag characters.
BITS = ["全网最低", "最低", "第一", "第一次", "加微信", "佳薇芯", "全網", "ＶＸ", "⑩", "㈠", " ", "，", "🔥",
        "\U000e0041", "\U00030001", "\U0010ffff", "\ud800", "a", "ab", "1", "%"]
TEXT = st.lists(st.one_of(st.sampled_from(BITS), st.text(max_size=3)), max_size=25).map("".join)
WORDS = st.lists(st.one_of(st.sampled_from(["全网最低", "最低", "第一", "第一次", "加微信", "微信", "vx", "10", "%"]),
                           st.text(min_size=1, max_size=3)), min_size=1, max_size=12, unique=True)


def plain_find(words: list[str], text: str) -> list[tuple[int, int]]:
    automaton = ahocorasick.Automaton()
    for index, word in enumerate(words):
        automaton.add_word(word, index)
    automaton.make_automaton()
    return list(automaton.iter(normalize(text).text))


@settings(max_examples=100, deadline=None)
@given(words=WORDS, text=TEXT)
def test_coded_automaton_finds_what_pyahocorasick_finds_in_the_normalized_text(words: list[str], text: str) -> None:
    words = list(dict.fromkeys(w for w in (normalize(w).text for w in words) if w))
    if words:
        assert CodedAutomaton(words).find(text) == plain_find(words, text)


def test_coded_automaton_without_words_finds_nothing() -> None:
    assert CodedAutomaton([]).find("全网最低") == []


FOLD = build_folder(["加微信"]).table
FOLDED = View(FOLD)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_view_is_the_normalized_text_translated(text: str) -> None:
    assert FOLDED(text) == normalize(text).text.translate(FOLD)


def test_coded_automaton_with_a_large_alphabet() -> None:
    # ~2,000 chars: code chars then overlap ASCII letters and digits, which must not matter.
    words = [chr(0x4E00 + i) + chr(0x4E01 + i) for i in range(0, 3000, 3)] + ["abc", "12", "a"]
    text = "".join(chr(0x4E00 + (i * 7919) % 3100) + ("abc" if i % 13 == 0 else "") + ("1 2" if i % 17 == 0 else "")
                   for i in range(5000))
    assert CodedAutomaton(words).find(text) == plain_find(words, text)
