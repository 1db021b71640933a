"""Live content that contradicts the pinned product link (标准6.4.3(2); 5.3.1(4)(5)), and
special-category items pinned without the qualification they need (4.1.2; 4.3.2.1(3); 5.3.1(2)).

For each transcript, claims are extracted (detectors.claims) and compared with the items the
room had on screen around the transcript's ts (``ctx.items``, see detectors.products). The
comparison is three-valued per item: consistent, contradicted, or unknown (the link says
nothing about that field). A claim is reported only when it is consistent with *no* item
version on screen and contradicted by at least one: the anchor may be talking about an item
pinned seconds later, or quoting the price from before a mid-pitch update, and precision
matters more than recall for automatic action. With no item on screen nothing is reported.

missing_license is reported once per item per transcript, for items already pinned at the
transcript's ts; its span is the whole transcript, because the violation is the item being
pitched, not any particular words.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from rapidfuzz import fuzz

from detectors.base import SEVERITIES, DetectContext, Finding
from detectors.claims import Claim, ClaimExtractor, Claims, attribute_text
from detectors.lexicon import Entry, Lexicon, LexiconError, lexicon_version, load_lexicon
from detectors.normalize import normalize
from detectors.products import ITEM_CATEGORIES
from detectors.segmenter import private_tokenizer

__all__ = ["LinkMismatchDetector"]

LEXICON_FILE = "link_mismatch.yaml"
_EXTRA_KEYS = ("kind", "material", "family", "parent", "pct", "place", "dimension", "factor",
               "item_category", "tail_digits", "tail_letters", "group", "brand", "confidence",
               "grace_s", "tolerance_abs", "tolerance_rel", "pct_tolerance", "purity_min_pct",
               "fuzzy_threshold")
# Thresholds each rule must carry (beyond confidence and grace_s).
_RULE_PARAMS = {
    "price": ("tolerance_abs", "tolerance_rel"),
    "material": ("pct_tolerance", "purity_min_pct"),
    "origin": (),
    "spec": ("tolerance_rel",),
    "product_name": ("fuzzy_threshold",),
    "missing_license": (),
}
_REQUIRED_SETS = ("material_keys", "origin_keys", "spec_keys", "brand_keys", "coupon_keys",
                  "final_price_cues", "coupon_price_cues", "reference_price_cues", "discount_cues",
                  "other_amount_cues", "coupon_words", "half_price_second", "buy_one_get_one",
                  "multi_buy_classifiers", "negation_cues", "comparison_cues", "purity_cues",
                  "origin_before_cues", "origin_after_cues", "nonexclusive_families",
                  "mention_cues", "spec_skip_cues", "spec_pack_cues", "upcoming_cues")
_KIND_KEYS = {
    "rule": ("confidence", "grace_s"), "material": ("material", "family"), "place": ("place",),
    "unit": ("dimension", "factor"), "license": ("item_category", "tail_digits"),
    "noun": ("group",), "brand": ("brand",),
}
_LINK_CACHE_SIZE = 512  # parsed link views; items change rarely compared to transcripts
_OFF_SCREEN_FACTOR = 0.9  # confidence factor when the item was only within the grace window

_Verdict = tuple[str, str] | None  # ("ok", "") | ("mismatch", rule name) | None = unknown


@dataclass(frozen=True, slots=True)
class _Rule:
    entry: Entry
    confidence: float
    grace_s: float
    params: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class _LinkView:
    """What one item version's title and attributes say, parsed once (cached by content)."""

    materials: tuple[Claim, ...]
    places: frozenset[str]
    # Whether the origin text ends with a place we know: 江苏宿迁 does not (宿迁 is unknown),
    # so a spoken 阳澄湖 (in 江苏) cannot be taken as consistent with it.
    origin_resolved: bool
    specs: tuple[tuple[str, float, str], ...]  # (dimension, base value, count classifier)
    brands: frozenset[str]  # canonical lexicon brands named in brand attribute or title
    brand_text: str  # normalized brand attribute
    title: str  # normalized
    title_tokens: tuple[str, ...]
    noun_groups: frozenset[str]
    coupon: float | None


class LinkMismatchDetector:
    name = "link_mismatch"
    applies_to = frozenset({"transcript"})

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.version = lexicon_version([lexicon])
        _validate(lexicon)
        self._rules = {e.category: _rule(e) for e in lexicon.entries if e.extra["kind"] == "rule"}
        # Callers fetch items with the widest grace; each rule narrows to its own.
        self.grace_s = max(r.grace_s for r in self._rules.values())
        self._extractor = ClaimExtractor(lexicon)
        self._sets = lexicon.sets
        self._nonexclusive = frozenset(lexicon.sets["nonexclusive_families"])
        self._material_parent = _parents(lexicon, "material")
        self._place_parent = _parents(lexicon, "place")
        self._licenses: dict[str, list[tuple[Entry, re.Pattern[str]]]] = {}
        for e in lexicon.entries:
            if e.extra["kind"] == "license":
                self._licenses.setdefault(e.extra["item_category"], []).append((e, _license_re(e)))
        # A private tokenizer: jieba's global one is shared with other detectors.
        self._tokenizer = private_tokenizer()
        for e in lexicon.entries:
            if e.extra["kind"] in ("noun", "brand"):
                self._tokenizer.add_word(normalize(e.pattern).text)
        self._link_cache: OrderedDict[tuple, _LinkView] = OrderedDict()

    @classmethod
    def load(cls, lexicon_dir: str | Path) -> "LinkMismatchDetector":
        return cls(load_lexicon(Path(lexicon_dir) / LEXICON_FILE, extra_keys=_EXTRA_KEYS))

    # ------------------------------------------------------------------ entry point
    def detect(self, ctx: DetectContext) -> list[Finding]:
        if not ctx.items or not ctx.text:
            return []
        spoken = self._extractor.extract(ctx.text)
        findings = self._missing_licenses(ctx)
        checks: tuple[tuple[str, Sequence[Claim], Callable[..., _Verdict]], ...] = (
            ("product_name", spoken.of("noun") + spoken.of("brand"), self._name),
            ("price", [c for c in spoken.of("price") if c.kind in ("final", "coupon", "multi")], self._price),
            ("material", spoken.of("material"), self._material),
            ("origin", spoken.of("origin"), self._origin),
            ("spec", spoken.of("spec"), self._spec),
        )
        other_product: set[str] = set()  # items the anchor is evidently not talking about
        for category, claims, check in checks:
            items = [i for i in self._on_screen(ctx, self._rules[category]) if i.get("item_id") not in other_product]
            if spoken.upcoming:
                items = [i for i in items if (i.get("pinned_at") or 0) > ctx.ts]
            if not claims or not items:
                continue
            views = [(item, self._view(item)) for item in items]
            for claim in claims:
                finding = self._judge(ctx, category, claim, views, spoken, check)
                if finding is not None:
                    findings.append(finding)
                    if finding.details["rule"] == "product_type_differs":
                        # 保温杯 spoken over a pinned 电饭煲: its price, material... are not what
                        # was described, so comparing them would only repeat the same mismatch.
                        other_product.add(finding.details["item_id"])
                    break  # one finding per category per transcript: the first is the evidence
        return findings

    def _judge(self, ctx: DetectContext, category: str, claim: Claim,
               views: list[tuple[Mapping[str, Any], _LinkView]], spoken: Claims,
               check: Callable[..., _Verdict]) -> Finding | None:
        mismatch: tuple[Mapping[str, Any], str] | None = None
        for item, view in views:
            verdict = check(claim, item, view, spoken, ctx)
            if verdict is None:
                continue
            if verdict[0] == "ok":
                return None
            mismatch = mismatch or (item, verdict[1])
        if mismatch is None:
            return None
        item, sub_rule = mismatch
        rule = self._rules[category]
        # Material and origin severity comes from the spoken term (18K金 outranks 棉).
        severity = claim.entry.severity if category in ("material", "origin") and claim.entry else rule.entry.severity
        confidence = rule.confidence * (1.0 if _pinned_at(item, ctx.ts) else _OFF_SCREEN_FACTOR)
        return Finding(
            detector=self.name, category=category, severity=severity, rule_id=rule.entry.id,
            span=claim.span, matched=claim.text, legal_basis=rule.entry.legal_basis,
            normalized=normalize(claim.text).text, confidence=confidence,
            details={"field": category, "spoken": claim.text, "link": self._link_value(category, item),
                     "item_id": item.get("item_id", ""), "rule": sub_rule},
        )

    # ------------------------------------------------------------------ item views
    def _on_screen(self, ctx: DetectContext, rule: _Rule) -> list[Mapping[str, Any]]:
        """Items within this rule's grace window (items without times count as on screen)."""
        lo, hi = ctx.ts - rule.grace_s, ctx.ts + rule.grace_s
        out = []
        for item in ctx.items:
            pinned, unpinned = item.get("pinned_at"), item.get("unpinned_at")
            if (pinned is None or pinned <= hi) and (unpinned is None or unpinned >= lo) and \
                    item.get("version_ts", pinned or lo) <= hi:
                out.append(item)
        return out

    def _view(self, item: Mapping[str, Any]) -> _LinkView:
        attributes = item.get("attributes") or {}
        # Everything the view reads is in the key, so a changed item never gets a stale view.
        key = (item.get("item_id"), item.get("title"), item.get("price"), repr(sorted(attributes.items(), key=str)))
        cached = self._link_cache.get(key)
        if cached is not None:
            self._link_cache.move_to_end(key)
            return cached
        title = str(item.get("title", ""))

        def claims_of(keys: str) -> Claims:
            text = attribute_text(attributes, self._sets[keys])
            return self._extractor.extract(text or title, assert_only=False)

        materials = claims_of("material_keys").of("material")
        origin_claims = claims_of("origin_keys").of("origin")
        origin_text = attribute_text(attributes, self._sets["origin_keys"]) or title
        places = {c.value for c in origin_claims}
        resolved = bool(origin_claims) and origin_claims[-1].span[1] >= len(origin_text.rstrip())
        places |= {c.value for c in self._extractor.extract(attribute_text(attributes, self._sets["material_keys"]),
                                                            assert_only=False).of("origin")}
        brand_text = attribute_text(attributes, self._sets["brand_keys"])
        title_claims = self._extractor.extract(title + "；" + brand_text, assert_only=False)
        norm_title = normalize(title).text
        coupon = _number_or_none(attribute_text(attributes, self._sets["coupon_keys"]))
        view = _LinkView(
            materials=tuple(materials), places=frozenset(places), origin_resolved=resolved,
            specs=self._link_specs(attributes, title), brands=frozenset(c.value for c in title_claims.of("brand")),
            brand_text=normalize(brand_text).text, title=norm_title,
            title_tokens=tuple(t for t in self._tokenizer.lcut(norm_title + normalize(brand_text).text) if t.strip()),
            noun_groups=frozenset(c.value for c in title_claims.of("noun")), coupon=coupon)
        self._link_cache[key] = view
        if len(self._link_cache) > _LINK_CACHE_SIZE:
            self._link_cache.popitem(last=False)
        return view

    def _link_specs(self, attributes: Mapping[str, Any], title: str) -> tuple[tuple[str, float, str], ...]:
        """Every quantity the link states, plus totals (10g*20袋 → 200 g; 500ml + 6瓶 → 3 l)."""
        texts = [attribute_text({k: v}, self._sets["spec_keys"]) for k, v in attributes.items()]
        texts = [t for t in texts if t] or [title]
        out: list[tuple[str, float, str]] = []
        for text in texts:
            out += [(c.kind, c.value, c.unit) for c in self._extractor.extract(text, assert_only=False).of("spec")]
        counts = [v for d, v, _ in out if d == "count" and v > 1]
        # The link may give the unit (330g*5袋) or the total (750g, 30袋): derive the other.
        out += [(d, x, "") for d, v, _ in list(out) if d != "count" for n in counts for x in (v * n, v / n)]
        return tuple(out)

    def _link_value(self, category: str, item: Mapping[str, Any]) -> str:
        if category == "price":
            return f"{float(item.get('price', 0)):g}"
        if category == "product_name":
            return str(item.get("title", ""))
        keys = {"material": "material_keys", "origin": "origin_keys", "spec": "spec_keys"}[category]
        return attribute_text(item.get("attributes") or {}, self._sets[keys]) or str(item.get("title", ""))

    # ------------------------------------------------------------------ checks
    def _price(self, claim: Claim, item: Mapping[str, Any], view: _LinkView, spoken: Claims,
               ctx: DetectContext) -> _Verdict:
        price = item.get("price")
        if not isinstance(price, (int, float)) or price <= 0:
            return None
        rule = self._rules["price"].params
        discounts = [c.value for c in spoken.of("price") if c.kind == "discount"]
        if view.coupon:
            discounts.append(view.coupon)

        def near(x: float, y: float) -> bool:
            return abs(x - y) <= max(rule["tolerance_abs"], rule["tolerance_rel"] * y)

        if claim.kind == "multi":
            n = claim.count
            totals = {n * price}
            if spoken.half_second:
                totals.add(price * (n - 0.5))
            if spoken.buy_one_get_one:
                totals.add(price * math.ceil(n / 2))
            if any(d == "count" and v == n for d, v, _ in view.specs):
                totals.add(price)  # 两瓶29.9 for a link that is itself a 2-bottle pack
            totals |= {t - d for t in set(totals) for d in discounts}
            return ("ok", "") if any(near(claim.value, t) for t in totals) else ("mismatch", "multi_buy_arithmetic")
        if near(claim.value, price) or any(near(claim.value, price - d) for d in discounts):
            return ("ok", "")
        if claim.kind == "coupon" or spoken.coupon_mentioned:
            return ("mismatch", "coupon_arithmetic")
        return ("mismatch", "price_differs")

    def _material(self, claim: Claim, item: Mapping[str, Any], view: _LinkView, spoken: Claims,
                  ctx: DetectContext) -> _Verdict:
        family = claim.kind
        same_family = [m for m in view.materials if m.kind == family]
        if not same_family:
            return None
        related = [m for m in same_family if self._related(claim.value, m.value, self._material_parent)]
        if not related:
            return None if family in self._nonexclusive else ("mismatch", "conflict")
        params = self._rules["material"].params
        link_pct = max((m.pct for m in related if m.pct is not None), default=None)
        if claim.pure:
            blend = len(related) < len(same_family)
            if blend or (link_pct is not None and link_pct < params["purity_min_pct"] - params["pct_tolerance"]):
                return ("mismatch", "purity")
        if claim.pct is not None and link_pct is not None and claim.pct > link_pct + params["pct_tolerance"]:
            return ("mismatch", "content")
        return ("ok", "")

    def _origin(self, claim: Claim, item: Mapping[str, Any], view: _LinkView, spoken: Claims,
                ctx: DetectContext) -> _Verdict:
        if not view.places:
            return None
        for place in view.places:
            if claim.value in _chain(place, self._place_parent):  # 新疆 vs 新疆阿克苏
                return ("ok", "")
            if view.origin_resolved and place in _chain(claim.value, self._place_parent):  # 阿克苏 vs 新疆
                return ("ok", "")
        return ("mismatch", "origin_differs")

    def _spec(self, claim: Claim, item: Mapping[str, Any], view: _LinkView, spoken: Claims,
              ctx: DetectContext) -> _Verdict:
        values = [v for d, v, unit in view.specs
                  if d == claim.kind and (claim.kind != "count" or not claim.unit or not unit or unit == claim.unit)]
        if not values:
            return None
        tol = self._rules["spec"].params["tolerance_rel"]
        if any(abs(claim.value - v) <= tol * v for v in values):
            return ("ok", "")
        return ("mismatch", "quantity_differs")

    def _name(self, claim: Claim, item: Mapping[str, Any], view: _LinkView, spoken: Claims,
              ctx: DetectContext) -> _Verdict:
        threshold = self._rules["product_name"].params["fuzzy_threshold"]
        spoken_text = normalize(claim.text).text
        fuzzy = max((fuzz.ratio(spoken_text, t) for t in view.title_tokens), default=0.0)
        if claim.field == "brand":
            # Naming the link's own brand anywhere makes other brand names comparisons.
            own = view.brands & {c.value for c in spoken.of("brand")} or \
                (view.brand_text and view.brand_text in normalize(ctx.text).text)
            if own or claim.value in view.brands or spoken_text in view.title or fuzzy >= threshold:
                return ("ok", "")
            return ("mismatch", "brand_differs") if (view.brand_text or view.brands) else None
        if claim.value in view.noun_groups or spoken_text in view.title or fuzzy >= threshold:
            return ("ok", "")
        return ("mismatch", "product_type_differs") if view.noun_groups else None

    @staticmethod
    def _related(a: str, b: str, parent: Mapping[str, str]) -> bool:
        """a is b, or one is (transitively) a kind of / contained in the other."""
        return b in _chain(a, parent) or a in _chain(b, parent)

    # ------------------------------------------------------------------ licences
    def _missing_licenses(self, ctx: DetectContext) -> list[Finding]:
        rule = self._rules["missing_license"]
        items = self._on_screen(ctx, rule)
        # Items already pinned when the words were spoken; a pin arriving in the forward grace
        # window only counts when nothing else was on screen.
        current = [i for i in items if _pinned_at(i, ctx.ts)] or items
        seen: set[str] = set()
        findings = []
        for item in current:  # newest version of each item comes first
            item_id = str(item.get("item_id", ""))
            if item_id in seen:
                continue
            seen.add(item_id)
            patterns = self._licenses.get(item.get("category", ""))
            licenses = [normalize(x).text for x in item.get("licenses") or [] if isinstance(x, str)]
            if not patterns or any(rx.search(x) for x in licenses for _, rx in patterns):
                continue
            severity = max((e.severity for e, _ in patterns), key=SEVERITIES.index)
            findings.append(Finding(
                detector=self.name, category="missing_license", severity=severity, rule_id=rule.entry.id,
                span=(0, len(ctx.text)), matched=ctx.text, legal_basis=rule.entry.legal_basis,
                confidence=rule.confidence,
                details={"field": "licenses", "spoken": "", "link": "; ".join(item.get("licenses") or []),
                         "item_id": item_id, "rule": f"missing_{item.get('category')}_license"}))
        return findings


# ---------------------------------------------------------------------- helpers
def _pinned_at(item: Mapping[str, Any], ts: float) -> bool:
    pinned, unpinned = item.get("pinned_at"), item.get("unpinned_at")
    return (pinned is None or pinned <= ts) and (unpinned is None or unpinned >= ts)


def _chain(name: str, parent: Mapping[str, str]) -> list[str]:
    out = [name]
    while out[-1] in parent and len(out) < 16:  # bounded: a cycle is a lexicon error anyway
        out.append(parent[out[-1]])
    return out


def _parents(lexicon: Lexicon, kind: str) -> dict[str, str]:
    return {e.extra[kind]: e.extra["parent"] for e in lexicon.entries
            if e.extra["kind"] == kind and e.extra.get("parent")}


def _number_or_none(text: str) -> float | None:
    m = re.search(r"\d+(?:\.\d+)?", text)
    return float(m.group()) if m else None


def _license_re(entry: Entry) -> re.Pattern[str]:
    letters = normalize(str(entry.extra.get("tail_letters", ""))).text
    tail = (f"[{re.escape(letters)}]{{0,2}}" if letters else "") + rf"\d{{{int(entry.extra['tail_digits'])}}}"
    return re.compile(re.escape(normalize(entry.pattern).text) + tail)


def _rule(entry: Entry) -> _Rule:
    params = {k: float(entry.extra[k]) for k in _RULE_PARAMS[entry.category]}
    return _Rule(entry, float(entry.extra["confidence"]), float(entry.extra["grace_s"]), params)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _validate(lexicon: Lexicon) -> None:
    """Detector-specific checks on top of the loader's, each naming file:line."""
    missing_sets = [s for s in _REQUIRED_SETS if s not in lexicon.sets]
    if missing_sets:
        raise LexiconError(f"{lexicon.path}:1: missing sets: {', '.join(missing_sets)}")
    rules: dict[str, Entry] = {}
    names: dict[str, set[str]] = {"material": set(), "place": set()}
    for e in lexicon.entries:
        kind = e.extra.get("kind")
        if kind not in _KIND_KEYS:
            raise lexicon.error(e, f"kind must be one of {', '.join(_KIND_KEYS)}")
        for key in _KIND_KEYS[kind]:
            if e.extra.get(key) in (None, ""):
                raise lexicon.error(e, f"kind {kind} needs {key}")
        if kind == "rule":
            if e.category in rules:
                raise lexicon.error(e, f"second rule for {e.category} (first at line {rules[e.category].line})")
            rules[e.category] = e
            for key in ("confidence", "grace_s", *_RULE_PARAMS[e.category]):
                if not _is_num(e.extra.get(key)) or e.extra[key] < 0:
                    raise lexicon.error(e, f"{key} must be a non-negative number")
            if not 0 < e.extra["confidence"] <= 1:
                raise lexicon.error(e, "confidence must be in (0, 1]")
        elif kind == "unit":
            if e.extra["dimension"] not in ("mass", "volume", "length", "charge", "count") or not _is_num(e.extra["factor"]) \
                    or e.extra["factor"] <= 0:
                raise lexicon.error(e, "unit needs dimension mass|volume|length|charge|count and a positive factor")
        elif kind == "license":
            if e.extra["item_category"] not in ITEM_CATEGORIES:
                raise lexicon.error(e, f"item_category {e.extra['item_category']!r} not in the item vocabulary")
            if not isinstance(e.extra["tail_digits"], int) or e.extra["tail_digits"] < 0:
                raise lexicon.error(e, "tail_digits must be a non-negative integer")
        elif kind in names:
            names[kind].add(e.extra[kind])
            if "pct" in e.extra and not (_is_num(e.extra["pct"]) and 0 < e.extra["pct"] <= 100):
                raise lexicon.error(e, "pct must be a number in (0, 100]")
    for kind, known in names.items():
        for e in lexicon.entries:
            if e.extra.get("kind") == kind and e.extra.get("parent") and e.extra["parent"] not in known:
                raise lexicon.error(e, f"parent {e.extra['parent']!r} is not the {kind} of any entry")
    absent = [c for c in _RULE_PARAMS if c not in rules]
    if absent:
        raise LexiconError(f"{lexicon.path}:1: no rule entry for {', '.join(absent)}")
