"""Observability without a running stack: the metrics module's API, the Prometheus config and
rules through promtool (its unit tests exercise every alert), the Grafana dashboard and
provisioning, and docker-compose.yml's references. promtool missing fails the tests
(bash deploy/prometheus/install.sh); only `docker compose config` is skipped without Docker."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
import yaml

from stream import metrics
from stream.events import DecodeError
from stream.pipeline import Verdict
from stream.records import Output
from stream.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULES = PROM / "rules" / "livemod.rules.yml"
RULE_TESTS = PROM / "rules" / "livemod.rules.test.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "livemod.json"
COMPOSE = REPO_ROOT / "docker-compose.yml"
DATASOURCE_UID = "livemod-prom"


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def exported_names() -> set[str]:
    """Every series name the registry can export, labelled or not yet set."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {m.name + s for m in metrics.REGISTRY.collect() for s in suffixes[m.type]}


def yaml_load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml_load(RULES)["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def promql_exprs() -> list[str]:
    return [r["expr"] for r in rules()] + [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


# ---- stream/metrics.py ----------------------------------------------------------------------

def test_every_metric_is_livemod_prefixed_and_every_referenced_metric_exists() -> None:
    names = exported_names()
    assert all(n.startswith("livemod_") for n in names)
    referenced = {m for expr in promql_exprs() for m in re.findall(r"\blivemod_[a-z_]+", expr)}
    assert referenced - names == set(), "rules or dashboard refer to metrics stream/metrics.py does not declare"


@pytest.mark.parametrize("out, counter, labels", [
    # A policy measure counts by measure and mode.
    (Output("mod.actions", "r1", {"measure": "mute_user", "mode": "shadow"}),
     "livemod_actions_total", {"measure": "mute_user", "mode": "shadow"}),
    # A cut signal counts by kind.
    (Output("mod.cutoff", "r1", {"op": "cut", "kind": "automatic"}), "livemod_cutoffs_total", {"kind": "automatic"}),
    # Alerts count by severity.
    (Output("mod.alerts", "r1", {"severity": "high", "kind": "decision"}), "livemod_alerts_total", {"severity": "high"}),
    # The breaker's own alert also counts a trip.
    (Output("mod.alerts", "r1", {"severity": "critical", "kind": "breaker_tripped"}), "livemod_breaker_trips_total", {}),
])
def test_published_counts_what_the_record_is(loop: Any, out: Output, counter: str, labels: dict[str, str]) -> None:
    before = value(counter, **labels)
    metrics.published(out, loop.create_future(), None)
    assert value(counter, **labels) == before + 1


def test_a_restore_is_not_a_cutoff(loop: Any) -> None:
    before = value("livemod_cutoffs_total", kind="manual")
    metrics.published(Output("mod.cutoff", "r1", {"op": "restore", "kind": "manual"}), loop.create_future(), None)
    assert value("livemod_cutoffs_total", kind="manual") == before


@pytest.mark.parametrize("fail, event_ts, delivered, failed, observed", [
    (False, 1.0, 1, 0, 1),   # acknowledged: counted, latency observed
    (False, None, 1, 0, 0),  # acknowledged dead letter: no event time, no latency
    (True, 1.0, 0, 1, 0),    # broker error: a delivery failure, no latency
])
def test_delivery_is_counted_when_the_broker_answers(loop: Any, fail: bool, event_ts: float | None,
                                                      delivered: int, failed: int, observed: int) -> None:
    fut: asyncio.Future[Any] = loop.create_future()
    topic = "mod.detections"
    before = (value("livemod_output_records_total", topic=topic), value("livemod_delivery_failures_total", topic=topic),
              value("livemod_end_to_end_latency_seconds_count", topic=topic))
    metrics.published(Output(topic, "r1", {}), fut, event_ts)
    assert value("livemod_output_records_total", topic=topic) == before[0]  # nothing until the broker answers
    if fail:
        fut.set_exception(OSError("broker gone"))
    else:
        fut.set_result(None)
    loop.run_until_complete(asyncio.sleep(0))  # run the done-callbacks
    assert value("livemod_output_records_total", topic=topic) == before[0] + delivered
    assert value("livemod_delivery_failures_total", topic=topic) == before[1] + failed
    assert value("livemod_end_to_end_latency_seconds_count", topic=topic) == before[2] + observed


def test_record_verdict_counts_findings_failures_and_dead_letters() -> None:
    finding = SimpleNamespace(detector="offline_trade_lure", category="contact_handle")
    failure = SimpleNamespace(detector="link_mismatch")
    before = (value("livemod_detections_total", detector="offline_trade_lure", category="contact_handle"),
              value("livemod_detector_errors_total", detector="link_mismatch"),
              value("livemod_dead_letters_total", reason="invalid_json"))
    metrics.record_verdict(Verdict(event=None, findings=[finding, finding], failures=[failure]))  # type: ignore[list-item]
    metrics.record_verdict(Verdict(event=None, error=DecodeError("invalid_json", "truncated")))
    assert value("livemod_detections_total", detector="offline_trade_lure", category="contact_handle") == before[0] + 2
    assert value("livemod_detector_errors_total", detector="link_mismatch") == before[1] + 1
    assert value("livemod_dead_letters_total", reason="invalid_json") == before[2] + 1


def test_a_new_version_replaces_the_old_series() -> None:
    metrics.set_policy_version("v1")
    metrics.set_policy_version("v2")
    assert value("livemod_policy_info", version="v2") == 1
    assert metrics.REGISTRY.get_sample_value("livemod_policy_info", {"version": "v1"}) is None


def test_consumer_lag_per_owned_partition_and_dropped_after_a_rebalance() -> None:
    metrics.update_consumer_lag([("live.danmaku", 0, 120, 100), ("live.danmaku", 1, 50, 0)])
    assert value("livemod_consumer_lag", topic="live.danmaku", partition="0") == 20
    assert value("livemod_consumer_lag", topic="live.danmaku", partition="1") == 50  # nothing committed yet
    # Partition 1 moved to another worker; a partition not fetched yet is not reported.
    metrics.update_consumer_lag([("live.danmaku", 0, 130, 130), ("live.danmaku", 2, None, 0)])
    assert value("livemod_consumer_lag", topic="live.danmaku", partition="0") == 0
    assert metrics.REGISTRY.get_sample_value("livemod_consumer_lag", {"topic": "live.danmaku", "partition": "1"}) is None
    assert metrics.REGISTRY.get_sample_value("livemod_consumer_lag", {"topic": "live.danmaku", "partition": "2"}) is None


# ---- Prometheus: promtool ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `bash deploy/prometheus/install.sh`")
    return path


@pytest.mark.parametrize("args", [
    ["check", "config", str(PROM / "prometheus.yml")],          # local runs
    ["check", "config", str(PROM / "prometheus.compose.yml")],  # docker-compose
    ["check", "rules", str(RULES)],
    ["test", "rules", str(RULE_TESTS)],                         # every alert, firing and quiet
])
def test_promtool(promtool: str, args: list[str]) -> None:
    result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet_and_documented_for_on_call() -> None:
    cases = [case for test in yaml_load(RULE_TESTS)["tests"] for case in test.get("alert_rule_test", [])]
    for rule in (r for r in rules() if "alert" in r):
        name = rule["alert"]
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: needs a firing and a quiet test case"
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        notes = rule["annotations"]
        assert set(notes) >= {"summary", "description", "runbook"}, name
        for key in ("summary", "description"):  # Chinese and English
            assert re.search(r"[\u4e00-\u9fff]", notes[key]) and re.search(r"[A-Za-z]{3}", notes[key]), (name, key)


# ---- Grafana --------------------------------------------------------------------------------

def test_dashboard_json_is_what_the_generator_writes() -> None:
    result = subprocess.run([sys.executable, str(GRAFANA / "build_dashboard.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_and_variables_use_the_provisioned_datasource() -> None:
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID and target["expr"], panel["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"instance", "topic"}
    for v in variables.values():
        assert v["type"] == "query" and v["datasource"]["uid"] == DATASOURCE_UID
        assert re.fullmatch(r"label_values\(.+, \w+\)", v["query"]["query"])
    # The panels the on-call brief asks for, by the metric each one shows.
    shown = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in ("events_consumed", "output_records", "detections", "actions", "cutoffs", "end_to_end_latency",
                   "consumer_lag", "dead_letters", "lexicon_info", "policy_info"):
        assert f"livemod_{metric}" in shown, metric


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    sources = yaml_load(GRAFANA / "provisioning" / "datasources" / "livemod.yml")["datasources"]
    assert [(s["uid"], s["type"], s["url"]) for s in sources] == [(DATASOURCE_UID, "prometheus", "http://prometheus:9090")]
    provider, = yaml_load(GRAFANA / "provisioning" / "dashboards" / "livemod.yml")["providers"]
    mounts = dict(v.split(":")[:2] for v in yaml_load(COMPOSE)["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


# ---- docker-compose.yml -------------------------------------------------------------------------

def test_compose_references_exist() -> None:
    services = yaml_load(COMPOSE)["services"]
    assert {"kafka", "topics", "worker", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (REPO_ROOT / source).exists(), f"{name}: {source} missing"
        if "build" in service:
            assert (REPO_ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
    config = next(a for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    assert (PROM / Path(config.split("=", 1)[1]).name).is_file()
    assert services["topics"]["command"] == ["livemod", "topics", "create"]
    assert services["worker"]["environment"]["LIVEMOD_METRICS_PORT"] == "9464"
    targets = yaml_load(PROM / "prometheus.compose.yml")["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["worker:9464"]


def test_compose_runs_the_prometheus_the_tests_check(promtool: str) -> None:
    # Rules and dashboards are validated by this promtool; deploying another major/minor
    # version would ship what was never checked.
    tested = re.search(r"version (\d+\.\d+)\.", subprocess.run([promtool, "--version"], capture_output=True,
                                                              text=True, timeout=30).stdout)
    image = yaml_load(COMPOSE)["services"]["prometheus"]["image"]
    assert tested is not None and re.fullmatch(rf"prom/prometheus:v{re.escape(tested.group(1))}\.\d+", image), image


def test_compose_config_is_valid_for_docker() -> None:
    has_compose = shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                            capture_output=True).returncode == 0
    if not has_compose:
        pytest.skip("no `docker compose` here; the file's references are checked above")
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
