"""detectors.normalize: one canonical form for matching, and an exact way back to the original."""
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.normalize import normalize

CASES = [
    # (original, normalized) — obfuscations seen in danmaku and ASR output
    ("全 网 最 低 价", "全网最低价"),  # spaces between every char
    ("加.微.信", "加微信"),  # dots
    ("全-网-最-低", "全网最低"),  # dashes
    ("全_网/最|低", "全网最低"),  # underscores, slashes, bars
    ("全網最低價", "全网最低价"),  # traditional script (OpenCC t2s)
    ("全🔥网💥最低", "全网最低"),  # emoji between chars
    ("全\u200b网\u200d最\ufe0f低\u202e", "全网最低"),  # zero-width, joiner, variation selector, RTL
    ("全\u0336网\u0336最\u0336低", "全网最低"),  # combining strike-through
    ("ＡＢＣ１２３", "abc123"),  # full width
    ("𝐍𝐎.𝟏", "no1"),  # math bold
    ("wēi xìn", "weixin"),  # pinyin tone marks
    ("Ⓦⓧ", "wx"),  # circled letters
    ("➃❶⓿①⑴⒈¹₂", "41011112"),  # digit symbols always fold
    ("加➕V", "加+v"),  # heavy plus is a plus
    ("99% ¥9.9", "99%¥99"),  # % and ¥ are kept, the dot is not
    ("一起第一三星", "一起第一三星"),  # Chinese numerals stay words by default
    ("🏴\U000e0067\U000e0062\U000e007f全", "全"),  # flag tag characters
    ("\ud800a\udfff\x00b", "ab"),  # lone surrogates and NUL are dropped, not raised on
    ("", ""),
]


@pytest.mark.parametrize(("original", "expected"), CASES)
def test_normalized_text(original: str, expected: str) -> None:
    assert normalize(original).text == expected


@pytest.mark.parametrize(("original", "expected"), [
    ("一二三四五六七八九〇零", "12345678900"),  # plain numerals
    ("壹贰叁肆伍陆柒捌玖", "123456789"),  # financial numerals
    ("貳陸", "26"),  # traditional financial numerals, simplified first
    ("幺两", "12"),  # phone-number readings of 1 and 2
    ("十百", "十百"),  # positional numerals are not digits
])
def test_fold_digits(original: str, expected: str) -> None:
    assert normalize(original, fold_digits=True).text == expected


@pytest.mark.parametrize(("original", "start", "end", "span"), [
    ("全 网 最 低 价", 0, 4, (0, 7)),  # separators inside the span are covered
    ("全🔥网💥最低", 1, 3, (2, 5)),  # emoji inside, not at the edges
    ("⑩㎏x", 0, 1, (0, 1)),  # half of an expansion still covers its source char
    ("⑩㎏x", 1, 3, (0, 2)),
    ("ab", 2, 2, (2, 2)),  # empty span at the end
])
def test_span(original: str, start: int, end: int, span: tuple[int, int]) -> None:
    assert normalize(original).span(start, end) == span


ANY_TEXT = st.text(st.one_of(
    st.characters(),
    st.sampled_from(["\ud800", "\udfff", "\x00", "\u200b", "\U000e0041", "⑩", "㎏", "﷽", "全", "網"]),
))


@given(ANY_TEXT, st.booleans())
@settings(max_examples=300)
def test_offsets_map_each_char_to_its_source(original: str, fold: bool) -> None:
    norm = normalize(original, fold_digits=fold)
    assert len(norm.offsets) == len(norm.text)
    assert list(norm.offsets) == sorted(norm.offsets)
    for i, source in enumerate(norm.offsets):
        assert 0 <= source < len(original)
        assert norm.text[i] in normalize(original[source], fold_digits=fold).text


@given(ANY_TEXT)
def test_normalization_is_char_local(original: str) -> None:
    # What makes offsets exact: the whole is the concatenation of its chars' normal forms.
    assert normalize(original).text == "".join(normalize(c).text for c in original)


def test_one_megabyte_is_linear_and_fast() -> None:
    text = "主播说全網最低價，加 微 信 ①②③🔥" * 40_000  # ~1M chars
    started = time.perf_counter()
    norm = normalize(text)
    norm.span(len(norm.text) - 3, len(norm.text))
    assert time.perf_counter() - started < 1.0
