"""The observability stack against a real Prometheus and the real worker.

A worker with its metrics endpoint judges the demo session (plus two bad messages) on the
real broker; a real Prometheus scrapes it every second with the alert rules loaded. Then:
every PromQL expression of the dashboard and of the rules parses, every dashboard query
returns data, both template variables have values, and the counters Prometheus stored add
up to what was produced. Missing ``prometheus`` fails the test (bash deploy/prometheus/install.sh).
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import yaml

from stream.pipeline import INPUT_KINDS
from stream.settings import REPO_ROOT, Settings
from stream.topics import create_topics

from .kafka_support import WorkerProcess, produce, run

pytestmark = pytest.mark.kafka

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "livemod.rules.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "livemod.json"
SAMPLE = REPO_ROOT / "samples" / "demo_session.jsonl"
TOPIC_OF = {kind: topic for topic, kind in INPUT_KINDS.items()}
# What Grafana substitutes with "All" selected; 15s covers several 1-second scrapes.
GRAFANA_VARS = {"$__rate_interval": "15s", "$instance": ".*", "$topic": ".*"}
BAD = [
    ("live.danmaku", b"r-bad", b'{"event_id": "x1", "room_id": "r-bad"'),  # invalid_json
    ("live.transcript", b"r-bad", b"\xff\xfe\x00"),  # invalid_utf8
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_messages() -> list[tuple[str, bytes, bytes]]:
    """The demo session with event times shifted so that its last event is now: the latency
    histogram then measures the pipeline, not the age of the sample file."""
    events = [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    shift = time.time() - max(e["ts"] for e in events)
    out = []
    for e in events:
        topic = TOPIC_OF[e.pop("type")]
        e["ts"] = round(e["ts"] + shift, 3)
        out.append((topic, e["room_id"].encode(), orjson.dumps(e)))
    return out


class Prometheus:
    def __init__(self, workdir: Path, target_port: int) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run `bash deploy/prometheus/install.sh`")
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "livemod",
                                "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            if exc.code != 400:  # 503 "Service Unavailable" while starting: wait() retries it
                raise
            return json.load(exc)  # 400 on a bad query: the JSON body says why

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def value(self, expr: str) -> float | None:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait(self, what: str, check: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited with {self.proc.returncode}")
            try:
                if check():
                    return
            except OSError:  # not listening, or not ready (HTTPError 503 is an OSError)
                pass
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout}s waiting for {what}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def observed_worker(kafka_settings: Settings, tmp_path: Path) -> Iterator[tuple[Prometheus, int]]:
    """The worker, fed the demo session and two bad messages, scraped by Prometheus."""
    run(create_topics(kafka_settings))
    settings = dataclasses.replace(kafka_settings, metrics_port=free_port())
    messages = demo_messages() + BAD
    with WorkerProcess(settings, tmp_path / "worker.log"):
        prometheus = Prometheus(tmp_path, settings.metrics_port)
        try:
            run(produce(settings, messages))
            prometheus.wait("all input consumed",
                            lambda: prometheus.value("sum(livemod_events_consumed_total)") == len(messages), 60)
            prometheus.wait("consumer lag reported", lambda: prometheus.value("count(livemod_consumer_lag)"), 30)
            # A few more scrapes, so every rate() window holds samples after the last change.
            time.sleep(3)
            yield prometheus, len(messages)
        finally:
            prometheus.stop()


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def dashboard_variables() -> list[tuple[str, str]]:
    variables = json.loads(DASHBOARD.read_text(encoding="utf-8"))["templating"]["list"]
    return [(v["name"], v["query"]["query"]) for v in variables]


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def grafana(expr: str) -> str:
    for name, value in GRAFANA_VARS.items():
        expr = expr.replace(name, value)
    return expr


def test_dashboard_and_rules_against_live_prometheus(observed_worker: tuple[Prometheus, int]) -> None:
    prometheus, produced = observed_worker
    started = time.monotonic()

    # Every dashboard query parses and returns data (families that saw nothing are at 0).
    for expr in dashboard_exprs():
        answer = prometheus.query(grafana(expr))
        assert answer["status"] == "success", (expr, answer.get("error"))
        assert answer["data"]["result"], f"no data for dashboard query: {expr}"

    # Template variables: label_values(selector, label) → the label values API.
    for name, query in dashboard_variables():
        selector, label = re.fullmatch(r"label_values\((.*), (\w+)\)", query).groups()
        answer = prometheus.get(f"/api/v1/label/{label}/values", **{"match[]": grafana(selector)})
        assert answer["status"] == "success" and answer["data"], f"variable {name} has no values"

    # Every rule expression parses (their behaviour is promtool's unit tests' job).
    for expr in rule_exprs():
        answer = prometheus.query(expr)
        assert answer["status"] == "success", (expr, answer.get("error"))
    rules = prometheus.get("/api/v1/rules")["data"]["groups"]
    assert {r["health"] for g in rules for r in g["rules"]} <= {"ok", "unknown"}

    # What Prometheus stored adds up to what the worker was given.
    assert prometheus.value("sum(livemod_events_consumed_total)") == produced
    assert prometheus.value('livemod_dead_letters_total{reason="invalid_json"}') == 1
    assert prometheus.value('livemod_dead_letters_total{reason="invalid_utf8"}') == 1
    assert prometheus.value("sum(livemod_detections_total)") > 0
    assert prometheus.value('livemod_output_records_total{topic="mod.detections"}') > 0
    assert prometheus.value('livemod_end_to_end_latency_seconds_count{topic="mod.detections"}') > 0
    assert prometheus.value("count(livemod_lexicon_info)") == 1
    assert prometheus.value("count(livemod_policy_info)") == 1
    assert prometheus.value('up{job="livemod"}') == 1
    print(f"prometheus checks: {time.monotonic() - started:.1f}s")
