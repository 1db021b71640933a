"""Write deploy/grafana/dashboards/livemod.json, the on-call dashboard.

The JSON is generated so that every panel and target carries the same datasource reference
and the same variable filters; edit the PANELS table here and run
``python deploy/grafana/build_dashboard.py``; ``--check`` only compares (tests/test_observability.py
fails when the committed JSON and this script disagree).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "livemod.json"
DATASOURCE = {"type": "prometheus", "uid": "livemod-prom"}
# Variable filters: every query narrows to the chosen workers; input-side ones to the topic too.
INST = 'instance=~"$instance"'
INST_TOPIC = 'instance=~"$instance", topic=~"$topic"'
RATE = "[$__rate_interval]"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat" (instant values, e.g. versions in force)
    extra: dict = field(default_factory=dict)


def latency(q: float, by: str = "") -> Query:
    labels = f"le, {by}" if by else "le"
    return Query(
        f"histogram_quantile({q}, sum by ({labels}) (rate(livemod_end_to_end_latency_seconds_bucket{{{INST}}}{RATE})))",
        f"p{round(q * 100)}" + (f" {{{{{by}}}}}" if by else ""),
    )


PANELS: tuple[Panel, ...] = (
    Panel("Events in / 输入事件", "Input messages consumed per second, by input topic.",
          (Query(f"sum by (topic) (rate(livemod_events_consumed_total{{{INST_TOPIC}}}{RATE}))", "{{topic}}"),), "ops"),
    Panel("Records out / 输出记录", "Output records acknowledged by the broker per second, by output topic.",
          (Query(f"sum by (topic) (rate(livemod_output_records_total{{{INST}}}{RATE}))", "{{topic}}"),), "ops"),
    Panel("End-to-end latency / 端到端延迟",
          "Input event time to output record acknowledged, all output topics. The SLO line is the "
          "recording rule livemod:slo_end_to_end_latency_seconds (100 ms p99 at normal load).",
          (latency(0.5), latency(0.95), latency(0.99), Query("livemod:slo_end_to_end_latency_seconds", "SLO")), "s"),
    Panel("Latency p99 by output topic / 各输出主题 p99",
          "mod.detections is the detection stage; mod.actions, mod.cutoff and mod.alerts include the "
          "policy stage behind mod.enforce.",
          (latency(0.99, "topic"), Query("livemod:slo_end_to_end_latency_seconds", "SLO")), "s"),
    Panel("Consumer lag / 消费积压", "Highwater minus committed offset, per input topic and partition.",
          (Query(f"sum by (topic, partition) (livemod_consumer_lag{{{INST_TOPIC}}})", "{{topic}}[{{partition}}]"),)),
    Panel("Detections by category / 检出（按类别）", "Detector findings per second, by detector and category.",
          (Query(f"sum by (detector, category) (rate(livemod_detections_total{{{INST}}}{RATE}))",
                 "{{detector}}/{{category}}"),), "ops"),
    Panel("Actions by measure / 处置措施", "Measures decided by the policy per second; shadow = logged, not enforced.",
          (Query(f"sum by (measure, mode) (rate(livemod_actions_total{{{INST}}}{RATE}))", "{{measure}} ({{mode}})"),),
          "ops"),
    Panel("Cutoffs / 切断信号", "Cutoff signals per interval by kind, and cutoff-breaker trips.",
          (Query(f"sum by (kind) (increase(livemod_cutoffs_total{{{INST}}}{RATE}))", "{{kind}}"),
           Query(f"sum(increase(livemod_breaker_trips_total{{{INST}}}{RATE}))", "breaker trips")), "short"),
    Panel("Dead letters by reason / 死信（按原因）", "Input messages dead-lettered per interval, by reason.",
          (Query(f"sum by (reason) (increase(livemod_dead_letters_total{{{INST}}}{RATE}))", "{{reason}}"),)),
    Panel("Detector time p99 / 检测器耗时", "Per-detector time per event, p99 (1 event in 16 is timed).",
          (Query(f"histogram_quantile(0.99, sum by (le, detector) (rate(livemod_detector_seconds_bucket{{{INST}}}{RATE})))",
                 "{{detector}}"),), "s"),
    Panel("Failures / 故障", "Detector errors, rejected lexicon reloads and undelivered output records.",
          (Query(f"sum by (detector) (increase(livemod_detector_errors_total{{{INST}}}{RATE}))", "detector error: {{detector}}"),
           Query(f"sum(increase(livemod_lexicon_reload_failures_total{{{INST}}}{RATE}))", "lexicon reload rejected"),
           Query(f"sum by (topic) (increase(livemod_delivery_failures_total{{{INST}}}{RATE}))", "undelivered: {{topic}}"))),
    Panel("Versions in force / 当前版本", "Lexicon and policy versions each worker runs.",
          (Query(f"max by (version) (livemod_lexicon_info{{{INST}}})", "lexicon {{version}}"),
           Query(f"max by (version) (livemod_policy_info{{{INST}}})", "policy {{version}}")),
          kind="stat", extra={"options": {"textMode": "name", "colorMode": "none", "graphMode": "none",
                                          "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}}),
    Panel("Workers / 进程", "Workers up, and uptime of each.",
          (Query(f'sum(up{{job="livemod", {INST}}})', "workers up"),
           Query(f"time() - livemod_worker_start_time_seconds{{{INST}}}", "uptime {{instance}}")),
          kind="stat", extra={"options": {"textMode": "value_and_name", "colorMode": "none", "graphMode": "none",
                                          "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}}),
)


def variable(name: str, query: str) -> dict:
    return {
        "name": name, "label": name, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values", "qryType": 1}, "definition": query,
        "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*", "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def panel_json(index: int, panel: Panel) -> dict:
    width, height = 12, 8
    instant = panel.kind == "stat"
    out = {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": (index % 2) * width, "y": (index // 2) * height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {"datasource": DATASOURCE, "refId": chr(ord("A") + n), "expr": q.expr, "legendFormat": q.legend,
             "instant": instant, "range": not instant}
            for n, q in enumerate(panel.queries)
        ],
    }
    out.update(panel.extra)
    return out


def dashboard() -> dict:
    return {
        "uid": "livemod",
        "title": "livemod — live moderation / 直播审核",
        "tags": ["livemod"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": [
            variable("instance", 'label_values(up{job="livemod"}, instance)'),
            variable("topic", 'label_values(livemod_events_consumed_total{instance=~"$instance"}, topic)'),
        ]},
        "panels": [panel_json(i, p) for i, p in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:  # the test: is the committed JSON what this script writes?
        sys.exit(0 if OUT.read_text(encoding="utf-8") == render() else f"{OUT} is stale: run {sys.argv[0]}")
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
