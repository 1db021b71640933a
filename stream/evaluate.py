"""``livemod eval``: precision, recall and F1 of the detectors on a labeled corpus.

A corpus line is a scan line plus ``"expect": [{"detector", "category"}, ...]`` on the
transcript/danmaku events to be scored (product lines set up room state and are not
scored). Scoring is per event: for a detector, an event is a true positive when both the
labels and the findings name that detector; per category likewise with (detector, category).
Each corpus file is replayed with fresh state, in order, through the same pipeline as scan.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .rules import Rulebook
from .scan import scanner, scan_verdicts
from .settings import Settings


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Miss:
    kind: str  # "miss" (false negative) | "false_alarm"
    file: str
    line: int
    event_id: str
    label: str  # "detector/category"
    text: str


@dataclass(slots=True)
class Report:
    by_detector: dict[str, Score] = field(default_factory=dict)
    by_category: dict[str, Score] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    mistakes: list[Miss] = field(default_factory=list)
    scored_events: int = 0


def _count(table: dict[str, Score], key: str, expected: bool, predicted: bool) -> None:
    score = table.setdefault(key, Score())
    if expected and predicted:
        score.tp += 1
    elif predicted:
        score.fp += 1
    elif expected:
        score.fn += 1


def evaluate(files: Iterable[Path], rules: Callable[[], Rulebook], settings: Settings) -> Report:
    report = Report()
    names = list(rules().detectors.names())
    for path in files:
        scan = scanner(rules, settings)
        with open(path, "rb") as fh:
            for number, obj, verdict in scan_verdicts(fh, scan):
                if verdict.error is not None:
                    report.errors.append(f"{path}:{number}: {verdict.error}")
                    continue
                if "expect" not in obj or verdict.event is None or verdict.event.kind not in ("transcript", "danmaku"):
                    continue
                report.scored_events += 1
                expected = {(e["detector"], e["category"]) for e in obj["expect"]}
                predicted = {(f.detector, f.category) for f in verdict.findings}
                for name in names:
                    _count(report.by_detector, name, any(d == name for d, _ in expected),
                           any(d == name for d, _ in predicted))
                for label in expected | predicted:
                    key = "/".join(label)
                    _count(report.by_category, key, label in expected, label in predicted)
                    if label in expected - predicted or label in predicted - expected:
                        report.mistakes.append(Miss(
                            "miss" if label in expected else "false_alarm", str(path), number,
                            verdict.event.event_id, key, getattr(verdict.event, "text", ""),
                        ))
    return report


def format_report(report: Report, show_mistakes: bool = True) -> str:
    lines = [f"scored events: {report.scored_events}", "",
             f"{'detector / category':40} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>5} {'fp':>5} {'fn':>5}"]
    for title, table in (("per detector", report.by_detector), ("per category", report.by_category)):
        lines.append(f"-- {title}")
        for key in sorted(table):
            s = table[key]
            lines.append(f"{key:40} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp:5d} {s.fp:5d} {s.fn:5d}")
    if show_mistakes and report.mistakes:
        counts = Counter(m.kind for m in report.mistakes)
        lines += ["", f"-- misses: {counts['miss']}, false alarms: {counts['false_alarm']}"]
        for m in sorted(report.mistakes, key=lambda m: (m.kind, m.label, m.file, m.line)):
            lines.append(f"{m.kind:11} {m.label:32} {Path(m.file).name}:{m.line} {m.event_id}  {m.text[:80]}")
    if report.errors:
        lines += ["", f"-- unreadable lines: {len(report.errors)}", *report.errors[:20]]
    return "\n".join(lines)
