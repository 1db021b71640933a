"""CPU time and memory of a process from /proc (Linux), sampled from outside so the
measured process runs unmodified."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        # The command name may contain spaces and parentheses: fields start after the last ')'.
        rest = fh.read().rpartition(")")[2].split()
    return (int(rest[11]) + int(rest[12])) / _TICKS  # fields 14 and 15 of proc(5)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak resident set) in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


@dataclass(slots=True)
class ProcSampler:
    """Call :meth:`sample` now and then; CPU% and peak RSS cover the calls made."""

    pid: int
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (monotonic s, cpu s, rss KiB)
    hwm_kib: int = 0

    def sample(self) -> None:
        try:
            cpu, mem = cpu_seconds(self.pid), memory_kib(self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return  # the process ended between two samples
        self.samples.append((time.monotonic(), cpu, mem["VmRSS"]))
        self.hwm_kib = max(self.hwm_kib, mem["VmHWM"])

    def cpu_percent(self, since: float | None = None, until: float | None = None) -> float | None:
        """CPU time over wall time between the samples nearest ``since`` and ``until``
        (100 = one core busy)."""
        window = [s for s in self.samples if (since is None or s[0] >= since) and (until is None or s[0] <= until)]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return None
        return 100 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])

    def cpu_used(self, since: float | None = None, until: float | None = None) -> float:
        window = [s for s in self.samples if (since is None or s[0] >= since) and (until is None or s[0] <= until)]
        return window[-1][1] - window[0][1] if len(window) >= 2 else 0.0
