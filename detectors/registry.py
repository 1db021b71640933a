"""The one place that lists the detectors and runs them.

Disabling a detector is removing its line from ``DETECTORS``. A detector that raises is
reported and skipped; the others still run (one bad rule must not blind the pipeline).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Callable, Sequence

from .base import DetectContext, Detector, Finding
from .lexicon import LexiconError
from .link_mismatch import LinkMismatchDetector
from .offline_trade_lure import OfflineTradeLureDetector
from .prohibited_claim import ProhibitedClaimDetector

DETECTORS: tuple[Callable[[Path], Detector], ...] = (
    ProhibitedClaimDetector.load,
    OfflineTradeLureDetector.load,
    LinkMismatchDetector.load,
)

__all__ = ["DetectorSet", "DetectorFailure", "LexiconError", "load_detectors"]


@dataclass(frozen=True, slots=True)
class DetectorFailure:
    detector: str
    error: str


@dataclass(frozen=True, slots=True)
class DetectorSet:
    detectors: tuple[Detector, ...]
    version: str
    _by_kind: dict[str, tuple[Detector, ...]] = field(default_factory=dict, repr=False)

    def run(
        self, ctx: DetectContext, on_time: Callable[[str, float], None] | None = None
    ) -> tuple[list[Finding], list[DetectorFailure]]:
        """All detectors for ``ctx.kind``; ``on_time(name, seconds)``, when given, receives
        each detector's time (callers pass it on a sample of events: timing costs)."""
        findings: list[Finding] = []
        failures: list[DetectorFailure] = []
        for detector in self._by_kind.get(ctx.kind, ()):
            started = perf_counter() if on_time else 0.0
            try:
                findings.extend(detector.detect(ctx))
            except Exception as exc:  # noqa: BLE001 - isolate a faulty detector, report it
                failures.append(DetectorFailure(detector.name, f"{type(exc).__name__}: {exc}"[:300]))
            if on_time:
                on_time(detector.name, perf_counter() - started)
        return findings, failures

    def names(self) -> Sequence[str]:
        return [d.name for d in self.detectors]


def load_detectors(lexicon_dir: Path) -> DetectorSet:
    """Load every registered detector from ``lexicon_dir``; raises LexiconError on a bad file."""
    detectors = tuple(load(Path(lexicon_dir)) for load in DETECTORS)
    by_kind: dict[str, tuple[Detector, ...]] = {}
    for kind in ("transcript", "danmaku"):
        by_kind[kind] = tuple(d for d in detectors if kind in d.applies_to)
    version = "+".join(d.version for d in detectors)  # each is name@version+digest
    return DetectorSet(detectors, version, by_kind)
