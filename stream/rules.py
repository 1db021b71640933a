"""The rulebook in force: compiled detectors plus the enforcement policy, loaded together
from the lexicon directory and hot-reloaded together.

A changed file is validated and swapped in between events; an invalid one is rejected with
a clear error (reported once, as an alert) and the previous rulebook keeps serving.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from detectors.registry import DetectorSet, LexiconError, load_detectors

from .policy import Policy, PolicyError, load_policy

log = logging.getLogger(__name__)

POLICY_FILE = "policy.yaml"


class RulebookError(ValueError):
    """A lexicon or the policy is invalid; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Rulebook:
    detectors: DetectorSet
    policy: Policy

    @property
    def lexicon_version(self) -> str:
        return self.detectors.version

    @property
    def policy_version(self) -> str:
        return self.policy.full_version


def load_rulebook(lexicon_dir: Path) -> Rulebook:
    try:
        return Rulebook(load_detectors(lexicon_dir), load_policy(Path(lexicon_dir) / POLICY_FILE))
    except (LexiconError, PolicyError) as exc:
        raise RulebookError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class ReloadResult:
    changed: bool
    error: str = ""


class ReloadingRules:
    """Holds the current Rulebook; call it to get the one in force now."""

    def __init__(self, lexicon_dir: Path) -> None:
        self.lexicon_dir = Path(lexicon_dir)
        self._fingerprint = self._scan()
        self._current = load_rulebook(self.lexicon_dir)  # a bad file at start-up is fatal
        self._rejected: tuple = ()

    def __call__(self) -> Rulebook:
        return self._current

    def _scan(self) -> tuple:
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(self.lexicon_dir.glob("*.y*ml")))

    def changed(self) -> bool:
        fingerprint = self._scan()
        return fingerprint != self._fingerprint and fingerprint != self._rejected

    def reload(self) -> ReloadResult:
        """Load the directory again if it changed. Safe to run in a worker thread."""
        fingerprint = self._scan()
        if fingerprint in (self._fingerprint, self._rejected):
            return ReloadResult(changed=False)
        try:
            fresh = load_rulebook(self.lexicon_dir)
        except RulebookError as exc:
            # Remember the bad state so it is reported once, not on every poll.
            self._rejected = fingerprint
            log.error("rulebook reload rejected, keeping %s / %s: %s",
                      self._current.lexicon_version, self._current.policy_version, exc)
            return ReloadResult(changed=False, error=str(exc))
        previous = self._current
        self._current, self._fingerprint, self._rejected = fresh, fingerprint, ()
        log.info("rulebook reloaded: lexicons %s -> %s; policy %s -> %s", previous.lexicon_version,
                 fresh.lexicon_version, previous.policy_version, fresh.policy_version)
        return ReloadResult(changed=True)
