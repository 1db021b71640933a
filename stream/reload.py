"""Hot reload of the lexicons: a changed file is validated and swapped in between events;
an invalid one is rejected with a clear error and the previous version keeps serving."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from detectors.registry import DetectorSet, LexiconError, load_detectors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    changed: bool
    error: str = ""


class ReloadingDetectors:
    """Holds the current DetectorSet; call it to get the set in force now."""

    def __init__(self, lexicon_dir: Path) -> None:
        self.lexicon_dir = Path(lexicon_dir)
        self._fingerprint = self._scan()
        self._current = load_detectors(self.lexicon_dir)  # a bad file at start-up is fatal
        self.rejected_fingerprint: tuple = ()

    def __call__(self) -> DetectorSet:
        return self._current

    def _scan(self) -> tuple:
        return tuple(
            (p.name, p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(self.lexicon_dir.glob("*.y*ml"))
        )

    def changed(self) -> bool:
        fingerprint = self._scan()
        return fingerprint != self._fingerprint and fingerprint != self.rejected_fingerprint

    def reload(self) -> ReloadResult:
        """Load the directory again if it changed. Safe to run in a worker thread."""
        fingerprint = self._scan()
        if fingerprint == self._fingerprint or fingerprint == self.rejected_fingerprint:
            return ReloadResult(changed=False)
        try:
            fresh = load_detectors(self.lexicon_dir)
        except LexiconError as exc:
            # Remember the bad state so it is reported once, not on every poll.
            self.rejected_fingerprint = fingerprint
            log.error("lexicon reload rejected, keeping %s: %s", self._current.version, exc)
            return ReloadResult(changed=False, error=str(exc))
        previous = self._current.version
        self._current, self._fingerprint = fresh, fingerprint
        self.rejected_fingerprint = ()
        log.info("lexicons reloaded: %s -> %s", previous, fresh.version)
        return ReloadResult(changed=True)
