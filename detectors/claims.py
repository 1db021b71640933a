"""Claims in a piece of text: prices, materials, origins, quantities, brands, product types.

Used on both sides of the comparison: on the anchor's transcript (where context cues decide
whether a number is a price or a word is an assertion) and on the link's title/attributes.
Matching runs on :func:`detectors.normalize.normalize` output; every claim keeps the span of
the *original* text. Numeral grammar (一百二 = 120, 一块九毛九 = 1.99) is linguistics and lives
here; every word list an operator tunes comes from ``lexicons/link_mismatch.yaml``.

normalize drops punctuation, including the decimal point, so decimals are recovered by
looking at what the original text had between two digits (19.9 → "199" in the normalized
text, but the original has a '.' between the 9s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import ahocorasick

from detectors.lexicon import Entry, Lexicon
from detectors.normalize import Normalized, normalize

__all__ = ["Claim", "Claims", "ClaimExtractor", "parse_chinese_number"]

# --- numeral grammar (linguistics, not policy) -------------------------------------------
_CN_DIGITS = {**dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9))), "幺": 1}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "[零〇幺一二两三四五六七八九十百千万]+(?:点[零〇一二三四五六七八九]+)?"
_NUM = rf"(?:\d+|{_CN_NUM})"
_DIGIT1 = "[0-9一二两三四五六七八九]"
# An amount: ¥? number currency? jiao? fen?  (九块九, 一块九毛九, 99块9, ¥99, 五毛)
_AMOUNT = re.compile(
    rf"(?P<yen>¥)?(?P<num>{_NUM})"
    rf"(?:(?P<cur>块钱|块|元|圆|米)(?:(?P<jiao>{_DIGIT1})(?:(?P<mao>毛|角)(?P<fen>{_DIGIT1})?)?"
    rf"(?![0-9十百千万件瓶盒袋套支个份罐条双箱斤克号码]|包(?!邮)))?"
    rf"|(?P<mao_only>毛|角))?")
# What follows a bare number that makes it a size, weight, date, count... rather than money.
_NOT_MONEY_NEXT = frozenset("码号克斤两升支件瓶盒袋包桶个月日年岁度分秒天%折片粒颗罐条只卷套双箱寸米层抽页本册人位楼期代款色毫公厘gklmcwhv")
_CLAUSE_CHARS = "，。！？,!?；;、\n～~…"
_CLAUSE_PUNCT = re.compile(f"[{_CLAUSE_CHARS}]")
_PHONE_DIGITS = 7  # a digit run this long is an id or phone number, never a price here
_CUE_WINDOW = 8  # normalized chars before an amount searched for a price cue
_FILLER = "是就也都为只要才"
_AFTER_CUE_WINDOW = 4  # 云南普洱正宗产区: an origin cue may follow the place by a word
_LEAD_CHARS = 8  # a product word this close to the start of a transcript names the item
_MENTION_WINDOW = 10  # chars after 这款/这个… (same clause) in which a product word is "this" item  # may sit between a cue and its amount (原价是199)


def parse_chinese_number(s: str) -> float | None:
    """一百二 → 120, 三百八十八 → 388, 一万二千八 → 12800, 一九九 → 199, 九点九 → 9.9."""
    if not s:
        return None
    if "点" in s:
        whole, frac = s.split("点", 1)
        head = parse_chinese_number(whole) if whole else 0
        if head is None or not frac or any(c not in _CN_DIGITS for c in frac):
            return None
        return head + float("0." + "".join(str(_CN_DIGITS[c]) for c in frac))
    if all(c in _CN_DIGITS for c in s):  # digit-by-digit reading (一九九) or a single digit
        return float(int("".join(str(_CN_DIGITS[c]) for c in s)))
    total, section, num, last_unit, zero = 0, 0, None, 0, False
    for c in s:
        if c in _CN_DIGITS:
            zero = zero or _CN_DIGITS[c] == 0
            num = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            section += (1 if num is None else num) * _CN_UNITS[c]
            num, last_unit, zero = None, _CN_UNITS[c], False
        elif c == "万":
            total += (section + (num or 0)) * 10000
            section, num, last_unit, zero = 0, None, 10000, False
        else:
            return None
    if num is not None:
        # Elision: 一百二 means 120, 一万二 12000; after 零 (一百零八) the digit is a unit digit.
        section += num * (last_unit // 10) if last_unit >= 100 and not zero else num
    return float(total + section)


def _plain_number(raw: str) -> float | None:
    if raw.isdigit():
        return float(raw) if len(raw) < _PHONE_DIGITS else None
    return parse_chinese_number(raw)


def _clause_start(norm: Normalized, start: int, end: int) -> int:
    """First normalized index of [start, end) after the last clause break the original had
    there: normalize drops punctuation, so 足金九九九，一克 must not read as 9991 g."""
    for k in range(end - 1, start, -1):
        if _CLAUSE_PUNCT.search(norm.original, norm.offsets[k - 1] + 1, norm.offsets[k]):
            return k
    return start


def _number(norm: Normalized, start: int, end: int) -> float | None:
    """The number at normalized [start, end), with a decimal point normalize dropped put back."""
    raw = norm.text[start:end]
    if raw.isdigit() and len(raw) < _PHONE_DIGITS:
        for k in range(start + 1, end):
            gap = norm.original[norm.offsets[k - 1] + 1:norm.offsets[k]]
            if "." in gap or "．" in gap:
                return float(f"{raw[:k - start]}.{raw[k - start:]}")
    return _plain_number(raw)


# --- claims -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Claim:
    field: str  # price | material | origin | spec | brand | noun
    kind: str  # price: final|coupon|reference|discount|multi|other; spec: mass|volume|count
    value: Any  # float (price, quantity in g/ml/units) or canonical name
    span: tuple[int, int]  # original text
    text: str  # original text of the span
    count: int = 1  # multi-buy: how many units the amount buys
    pct: float | None = None  # stated or implied content (18K金 = 75)
    pure: bool = False  # 纯X / 100%X
    unit: str = ""  # count classifier (瓶) or "" for any
    entry: Entry | None = None


@dataclass(frozen=True, slots=True)
class Claims:
    claims: tuple[Claim, ...]
    half_second: bool = False  # 第二件半价
    buy_one_get_one: bool = False  # 买一送一 / 拍一发二
    coupon_mentioned: bool = False
    upcoming: bool = False  # 马上上链接: the words are about an item not pinned yet

    def of(self, field_: str) -> list[Claim]:
        return [c for c in self.claims if c.field == field_]


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int  # normalized
    end: int
    entry: Entry


def _cues(lexicon: Lexicon, name: str) -> tuple[str, ...]:
    return tuple(sorted({normalize(w).text for w in lexicon.sets.get(name, ())}, key=len, reverse=True))


@dataclass
class ClaimExtractor:
    lexicon: Lexicon
    _automaton: Any = field(init=False, repr=False)
    _sets: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _spec_re: re.Pattern[str] = field(init=False, repr=False)
    _units: dict[str, Entry] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sets = {name: _cues(self.lexicon, name) for name in self.lexicon.sets}
        self._automaton = ahocorasick.Automaton()
        by_pattern: dict[str, list[Entry]] = {}
        for entry in self.lexicon.entries:
            if entry.extra.get("kind") in ("material", "place", "noun", "brand"):
                by_pattern.setdefault(normalize(entry.pattern).text, []).append(entry)
        for pattern, entries in by_pattern.items():
            self._automaton.add_word(pattern, (pattern, tuple(entries)))
        self._automaton.make_automaton()
        self._units = {normalize(e.pattern).text: e for e in self.lexicon.entries
                       if e.extra.get("kind") == "unit"}
        units = "|".join(re.escape(u) for u in sorted(self._units, key=len, reverse=True))
        self._spec_re = re.compile(rf"(?P<num>{_NUM}|半)(?P<unit>{units})")

    # ---- helpers over the normalized text
    def _cue_before(self, text: str, pos: int, names: Iterable[str], gap: int = 0) -> str | None:
        """Name of the set whose cue ends within ``gap`` filler chars before ``pos``."""
        for skip in range(gap + 1):
            end = pos - skip
            if skip and (end < 0 or text[end] not in _FILLER):
                break
            for name in names:
                if any(text.endswith(cue, 0, end) for cue in self._sets.get(name, ())):
                    return name
        return None

    def _has_near(self, text: str, start: int, end: int, name: str, before: int, after: int) -> bool:
        window = text[max(0, start - before):start] + "\x00" + text[end:end + after]
        return any(cue in window for cue in self._sets.get(name, ()))

    def _hits(self, text: str) -> list[_Hit]:
        """Vocabulary hits, leftmost-longest per kind, minus listed benign collocations."""
        found: dict[str, list[_Hit]] = {}
        for end_idx, (pattern, entries) in self._automaton.iter(text):
            start = end_idx - len(pattern) + 1
            if pattern.isascii() and (text[start - 1:start].isascii() and text[start - 1:start].isalpha()
                                      or text[end_idx + 1:end_idx + 2].isascii() and text[end_idx + 1:end_idx + 2].isalpha()):
                continue  # ASCII alias inside a longer word (pu in tpu)
            for entry in entries:
                if any(self._inside_exception(text, start, pattern, x) for x in entry.exceptions):
                    continue
                found.setdefault(entry.extra["kind"], []).append(_Hit(start, end_idx + 1, entry))
        out: list[_Hit] = []
        for hits in found.values():
            hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
            last_end = -1
            for h in hits:
                if h.start >= last_end:
                    out.append(h)
                    last_end = h.end
        return sorted(out, key=lambda h: h.start)

    @staticmethod
    def _inside_exception(text: str, start: int, pattern: str, exception: str) -> bool:
        x = normalize(exception).text
        at = x.find(pattern)
        return at >= 0 and text.startswith(x, start - at) and start - at >= 0

    def _claim(self, norm: Normalized, field_: str, kind: str, value: Any, s: int, e: int, **kw: Any) -> Claim:
        span = norm.span(s, e)
        return Claim(field_, kind, value, span, norm.original[span[0]:span[1]], **kw)

    # ---- prices
    def prices(self, norm: Normalized) -> list[Claim]:
        text, out, prev_end = norm.text, [], 0
        for m in _AMOUNT.finditer(text):
            raw = m.group("num")
            if len(raw) > 1 and raw[-1] in "一两" and raw[-2] in _CN_DIGITS and not m.group("cur") and \
                    text[m.end():m.end() + 1] in self._sets["multi_buy_classifiers"]:
                # 一百二一件 / 六十九两瓶: the last numeral counts the items, not the money
                m = _AMOUNT.match(text, m.start(), m.end() - 1) or m
            cut = _clause_start(norm, m.start("num"), m.end("num"))
            if cut != m.start("num"):
                m = _AMOUNT.match(text, cut, m.end()) or m
            claim = self._price(norm, m, max(prev_end, m.start() - _CUE_WINDOW))
            if claim is not None:
                out.append(claim)
                prev_end = m.end()
        return out

    def _price(self, norm: Normalized, m: re.Match[str], window_start: int) -> Claim | None:
        """``window_start``: where cue search may begin (never before the previous amount, so
        原价199现价99 reads 99 as 现价, and 外面专柜卖88 reads 88 as a reference price)."""
        text = norm.text
        value = _number(norm, m.start("num"), m.end("num"))
        if value is None or value <= 0:
            return None
        cur = m.group("cur")
        if m.group("mao_only"):
            value, cur = value / 10, "毛"
        if m.group("jiao"):
            value += (_CN_DIGITS.get(m.group("jiao")) or int(m.group("jiao"))) / 10
        if m.group("fen"):
            value += (_CN_DIGITS.get(m.group("fen")) or int(m.group("fen"))) / 100
        start, end = m.start(), m.end()
        nxt = text[end:end + 1]
        window = text[window_start:start]
        cue = self._cue_before(text, start, ("other_amount_cues", "coupon_price_cues", "discount_cues",
                                             "final_price_cues", "reference_price_cues"), gap=2)
        classifiers = "|".join(self._sets["multi_buy_classifiers"])
        count = self._multi_buy_count(norm, window_start, start)
        after = re.match(rf"(一|[二两三四五六七八九])(?:{classifiers})", text[end:end + 2])
        if after and _CLAUSE_PUNCT.search(norm.original, norm.span(start, end)[1], norm.span(end, end + 1)[0]):
            after = None  # 拍一发二，两支: the count belongs to the next clause
        if after and after.group(1) != "一":
            count = count or int(_plain_number(after.group(1)) or 0)  # 六十九两瓶
        if cur is None and not m.group("yen"):
            # A bare number is money only after a price cue or in a multi-buy (拍两件149,
            # 69两瓶), before 包邮 / 一件, or as a clause of its own (…，一百二，…); never
            # when a unit follows (只要两件, 3号链接, 165码).
            if nxt in _NOT_MONEY_NEXT and not after and not text.startswith("包邮", end) or not (
                    cue or count or after or text.startswith("包邮", end) or self._own_clause(norm, start, end)):
                return None
        if cur == "米" and cue is None:
            return None  # 米 is slang for 元 only in a price context (一米六五 is a height)
        if cur == "块" and nxt in _NOT_MONEY_NEXT and not text.startswith("包邮", end):
            return None
        if any(c in window for c in self._sets["reference_price_cues"]):
            return self._claim(norm, "price", "reference", value, start, end)
        # 第二件49 prices the second item only; 一包才1.99 is a per-unit estimate: neither is checked
        if cue == "other_amount_cues" or re.search(rf"(?:第[二2]|一)(?:{classifiers})(?:只要|才|就|是)*$", window):
            return self._claim(norm, "price", "other", value, start, end)
        if cue == "discount_cues" or any(text.startswith(w, end) for w in self._sets["coupon_words"]) or \
                text.startswith("的券", end):
            return self._claim(norm, "price", "discount", value, start, end)
        if count:
            return self._claim(norm, "price", "multi", value, start, end, count=count)
        coupon = any(c in window for c in self._sets["coupon_price_cues"])
        return self._claim(norm, "price", "coupon" if coupon else "final", value, start, end)

    @staticmethod
    def _own_clause(norm: Normalized, start: int, end: int) -> bool:
        """The amount is a whole clause of the original (…，一百二，…)."""
        s, e = norm.span(start, end)
        before, after = norm.original[:s].rstrip(), norm.original[e:].lstrip()
        return (not before or before[-1] in _CLAUSE_CHARS) and (not after or after[0] in _CLAUSE_CHARS)

    def _multi_buy_count(self, norm: Normalized, window_start: int, amount_start: int) -> int:
        """N of 两件149 / 拍三盒297 right before an amount, in the same clause; 0 if none.
        A count in the previous clause (一箱十二盒，四十九) describes the pack, not a deal."""
        classifiers = "|".join(self._sets["multi_buy_classifiers"])
        m = re.search(rf"(?<!第)(\d{{1,3}}|十[一二三四五六七八九]?|[二两三四五六七八九]十?)(?:{classifiers})"
                      rf"(?:一共|总共|共|只要|才|到手|就|是)*$", norm.text[window_start:amount_start])
        if m is None:
            return 0
        gap_from = norm.span(window_start + m.end(1), window_start + m.end(1) + 1)[1]
        gap_to = norm.span(amount_start, amount_start + 1)[0]
        if _CLAUSE_PUNCT.search(norm.original, gap_from, gap_to):
            return 0
        count = _plain_number(m.group(1))
        return int(count) if count and count >= 2 else 0

    # ---- materials
    def materials(self, norm: Normalized, hits: list[_Hit], assert_only: bool) -> list[Claim]:
        text, out = norm.text, []
        for h in hits:
            if h.entry.extra["kind"] != "material":
                continue
            if assert_only and (self._has_near(text, h.start, h.end, "negation_cues", 4, 0)
                                or self._has_near(text, h.start, h.end, "comparison_cues", 4, 0)):
                continue
            pct = _float(h.entry.extra.get("pct"))
            stated = self._percent_around(norm, h)
            pure = bool(self._cue_before(text, h.start, ("purity_cues",))) or (stated is not None and stated >= 100)
            out.append(self._claim(norm, "material", h.entry.extra.get("family", ""), h.entry.extra["material"],
                                   h.start, h.end, pct=stated if stated is not None else pct, pure=pure,
                                   entry=h.entry))
        return out

    def _percent_around(self, norm: Normalized, h: _Hit) -> float | None:
        text = norm.text
        after = re.match(rf"(?:含量|占比|的)?(?:(\d+)%|百分之({_CN_NUM}))", text[h.end:h.end + 12])
        # 100%新疆长绒棉: a stated share may be a few characters before the material
        before = re.search(rf"(?:(\d+)%[\u4e00-\u9fff]{{0,3}}|百分之({_CN_NUM})[\u4e00-\u9fff]{{0,3}}|(\d+|{_CN_NUM})的?)$",
                           text[max(0, h.start - 12):h.start])
        for m, base in ((after, h.end), (before, max(0, h.start - 12))):
            if m is None:
                continue
            for g in (1, 2, 3):
                if g <= (m.re.groups or 0) and m.group(g):
                    value = _number(norm, base + m.start(g), base + m.end(g))
                    if value is not None and 0 < value <= 100:
                        return value
        return None

    # ---- origins
    def origins(self, norm: Normalized, hits: list[_Hit], assert_only: bool) -> list[Claim]:
        text, out = norm.text, []
        # A place right before a material or product word names its origin (新疆棉, 内蒙古的牛肉).
        heads = {h.start for h in hits if h.entry.extra["kind"] in ("material", "noun")}
        for h in hits:
            if h.entry.extra["kind"] != "place":
                continue
            if assert_only:
                if self._has_near(text, h.start, h.end, "negation_cues", 4, 0):
                    continue
                standalone = h.entry.extra["place"] in ("境外", "中国") and h.entry.pattern in ("进口", "国产")
                cued = (self._cue_before(text, h.start, ("origin_before_cues",), gap=1)
                        or any(c in text[h.end:h.end + _AFTER_CUE_WINDOW] for c in self._sets["origin_after_cues"])
                        or h.end in heads or text.startswith("的", h.end) and h.end + 1 in heads)
                if not (standalone or cued):
                    continue
            out.append(self._claim(norm, "origin", "place", h.entry.extra["place"], h.start, h.end, entry=h.entry))
        return out

    # ---- quantities
    def specs(self, norm: Normalized, assert_only: bool) -> list[Claim]:
        text, out = norm.text, []
        for m in self._spec_re.finditer(text):
            unit = self._units[m.group("unit")]
            end = m.end()
            if unit.pattern.isascii() and text[end:end + 1].isascii() and text[end:end + 1].isalpha():
                continue  # 16gb, 5lbs
            if any(self._inside_exception(text, m.start("unit"), m.group("unit"), x) for x in unit.exceptions):
                continue
            num_start = _clause_start(norm, m.start("num"), m.end("num"))
            value = 0.5 if m.group("num") == "半" else _number(norm, num_start, m.end("num"))
            if value is None or value <= 0:
                continue
            if m.group("unit") == "两" and not m.group("num").isdigit():
                continue  # 两 after a Chinese numeral is the numeral "two" (两斤), not the unit
            dimension = unit.extra["dimension"]
            tail = re.match(r"[0-9一二三四五六七八九]{1,2}(?![0-9十百千万])", text[end:end + 3]) \
                if m.group("unit") == "米" else None
            if tail:  # 一米八 = 1.8 m, 一米六五 = 1.65 m
                digits = "".join(str(_CN_DIGITS.get(c, c)) for c in tail.group())
                value, end = value + int(digits) / 10 ** len(digits), end + tail.end()
            if assert_only:
                if dimension == "count":
                    # 一袋三百三十克 describes one unit; a count claim is 24瓶装 or 一箱24瓶
                    if not (text.startswith("装", end) or value > 1 and
                            self._has_near(text, m.start(), end, "spec_pack_cues", 3, 0)):
                        continue
                elif self._has_near(text, m.start(), end, "spec_skip_cues", 4, 3):
                    continue
            out.append(self._claim(norm, "spec", dimension, value * float(unit.extra["factor"]), num_start, end,
                                   unit=m.group("unit") if dimension == "count" else "", entry=unit))
            # 180x30cm / 200*230cm: the first side has the unit of the second
            side = re.search(r"(\d+)[x乘]$", text[max(0, num_start - 6):num_start])
            if side and dimension != "count":
                s0 = num_start - len(side.group())
                out.append(self._claim(norm, "spec", dimension, float(side.group(1)) * float(unit.extra["factor"]),
                                       s0, s0 + len(side.group(1)), entry=unit))
        for m in re.finditer(rf"拍({_NUM})[发送]({_NUM})", text):  # 拍一发二 claims two units
            value = _number(norm, m.start(2), m.end(2))
            if value:
                out.append(self._claim(norm, "spec", "count", value, m.start(), m.end()))
        return out

    # ---- product mentions
    def mentions(self, norm: Normalized, hits: list[_Hit], assert_only: bool) -> list[Claim]:
        text, out = norm.text, []
        for h in hits:
            kind = h.entry.extra["kind"]
            if kind == "brand":
                if assert_only and (self._has_near(text, h.start, h.end, "comparison_cues", 4, 0)
                                    or self._has_near(text, h.start, h.end, "negation_cues", 4, 0)
                                    or any(text.startswith(c, h.end) for c in ("同款", "平替"))):
                    continue
                out.append(self._claim(norm, "brand", "brand", h.entry.extra["brand"], h.start, h.end, entry=h.entry))
            elif kind == "noun":
                # A type word is a claim about *this* item only right after 这款/这个/N号链接是…
                lo = _clause_start(norm, max(0, h.start - _MENTION_WINDOW), h.start)
                if assert_only and h.start > _LEAD_CHARS and \
                        not any(c in text[lo:h.start] for c in self._sets["mention_cues"]):
                    continue
                out.append(self._claim(norm, "noun", "noun", h.entry.extra["group"], h.start, h.end, entry=h.entry))
        return out

    def extract(self, text: str, assert_only: bool = True) -> Claims:
        """All claims in ``text``. ``assert_only`` (speech) applies the context cues; link
        text (titles, attributes) is taken at face value."""
        norm = normalize(text)
        hits = self._hits(norm.text)
        claims = (self.prices(norm) if assert_only else []) + self.materials(norm, hits, assert_only) + \
            self.origins(norm, hits, assert_only) + self.specs(norm, assert_only) + \
            self.mentions(norm, hits, assert_only)
        t = norm.text
        return Claims(tuple(claims), upcoming=any(w in t for w in self._sets.get("upcoming_cues", ())),
                      half_second=any(w in t for w in self._sets["half_price_second"]),
                      buy_one_get_one=any(w in t for w in self._sets["buy_one_get_one"]),
                      coupon_mentioned=any(w in t for w in self._sets["coupon_words"]))


def _float(v: Any) -> float | None:
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def attribute_text(attributes: Mapping[str, Any], keys: Iterable[str]) -> str:
    """The values of the attributes named by ``keys`` (matched normalized), joined by '；'."""
    wanted = {normalize(k).text for k in keys}
    parts = []
    for k, v in attributes.items():
        if normalize(str(k)).text in wanted:
            parts.extend(str(x) for x in (v if isinstance(v, list) else [v]))
    return "；".join(parts)
