"""Sampling profile of a running worker with py-spy (attached by pid, non-blocking, so the
worker runs unmodified), summarised by where an event's time goes."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Stacks that run library code on behalf of a livemod call are named by that call (first
# matching rule, any frame): sending is aiokafka code inside the worker's send step.
ANCESTOR_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("one-off: jieba dictionary load on first use", re.compile(r"^Tokenizer\.initialize \(.*jieba")),
    ("send: worker._send_outputs → aiokafka producer", re.compile(r"^(?:\w+\.)?_send_outputs \((?:.*/)?stream/worker\.py")),
    ("state: changelog tables", re.compile(r"\((?:.*/)?stream/state\.py")),
    ("lexicon hot reload: stream/rules.py", re.compile(r"\((?:.*/)?stream/rules\.py")),
)
# Otherwise the frame nearest the leaf that belongs to a known part names the stack.
LEAF_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("detectors", re.compile(r"\((?:.*/)?detectors/")),
    ("decode: stream/events.py", re.compile(r"\((?:.*/)?stream/events\.py")),
    ("policy & records: stream/policy, enforcement, records", re.compile(r"\((?:.*/)?stream/(policy|enforcement|records)\.py")),
    ("pipeline & worker loop (other livemod code)", re.compile(r"\((?:.*/)?stream/")),
    ("aiokafka: fetch, produce, commit", re.compile(r"\((?:.*/)?aiokafka/")),
)
IDLE = "idle: event loop waiting in epoll"
OTHER = "asyncio loop & other"


def classify(frames: list[str]) -> str:
    if frames and frames[-1].startswith("EpollSelector.select ("):
        return IDLE
    for name, pattern in ANCESTOR_RULES:
        if any(pattern.search(f) for f in frames):
            return name
    for frame in reversed(frames):
        for name, pattern in LEAF_RULES:
            if pattern.search(frame):
                return name
    return OTHER


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def pyspy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def attach(pid: int, out: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` into ``out`` (collapsed stacks); stop with :func:`detach`."""
    exe = pyspy()
    if exe is None:
        raise RuntimeError("py-spy not installed (.venv/bin/pip install py-spy)")
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                             "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def detach(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f'{m["func"]} ({path}:{m["line"]})'


def summarize(collapsed: Path, events: int, cpu_s: float, top: int = 25) -> dict[str, Any]:
    """Shares per category, the top functions by self and inclusive time and, with the
    worker's CPU time for ``events`` events, CPU microseconds per event (idle samples are
    shown but carry no CPU)."""
    by_category: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        total += count
        category = classify(frames)
        by_category[category] += count
        if category == IDLE:
            continue
        names = [re.sub(r":\d+\)$", ")", _short(f)) for f in frames]
        if names:
            self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    busy = total - by_category[IDLE]
    us_per_sample = (cpu_s * 1e6 / events / busy) if busy and events else 0.0

    def table(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [{"what": k, "share": round(v / total, 4),
                 "us_per_event": 0.0 if k == IDLE else round(v * us_per_sample, 2)}
                for k, v in counter.most_common(n)]

    return {"samples": total, "events": events, "cpu_s": round(cpu_s, 2),
            "us_per_event": round(cpu_s * 1e6 / events, 1) if events else None,
            "categories": table(by_category, len(by_category)),
            "top_self": table(self_time, top), "top_inclusive": table(inclusive, top)}


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"profile: {s['samples']} samples, {s['events']} events, worker CPU {s['cpu_s']} s "
             f"→ {s['us_per_event']} µs CPU per event", "", "| where | share | µs/event |", "|---|---:|---:|"]
    lines += [f"| {r['what']} | {r['share']:.1%} | {r['us_per_event']} |" for r in s["categories"]]
    lines += ["", "| top self time | share | µs/event |", "|---|---:|---:|"]
    lines += [f"| `{r['what']}` | {r['share']:.1%} | {r['us_per_event']} |" for r in s["top_self"]]
    lines += ["", "| top inclusive time | share | µs/event |", "|---|---:|---:|"]
    lines += [f"| `{r['what']}` | {r['share']:.1%} | {r['us_per_event']} |" for r in s["top_inclusive"]]
    return "\n".join(lines)
