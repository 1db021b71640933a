#!/usr/bin/env bash
# `make demo`: the whole pipeline on the bundled sample session, on a real local broker.
# Starts what is not running (broker, worker), replays samples/demo_session.jsonl through
# Kafka, prints the output records as they arrive, then stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
KAFKA=deploy/kafka/kafka.sh
SAMPLE=${1:-samples/demo_session.jsonl}
# A fresh prefix per run: the demo's topics and consumer group never mix with earlier runs.
export LIVEMOD_TOPIC_PREFIX="demo$(date +%s)."
export LIVEMOD_PARTITIONS=${LIVEMOD_PARTITIONS:-3}
export LIVEMOD_SESSION_TIMEOUT_S=10 LIVEMOD_REBALANCE_TIMEOUT_S=10 LIVEMOD_HEARTBEAT_INTERVAL_S=1
LOG_DIR=.livemod-data/demo
mkdir -p "$LOG_DIR"

started_broker=0
if ! bash "$KAFKA" status >/dev/null 2>&1; then
  bash "$KAFKA" up
  started_broker=1
fi
worker_pid=""
cleanup() {
  [[ -n "$worker_pid" ]] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  if [[ $started_broker == 1 ]]; then bash "$KAFKA" down; fi
}
trap cleanup EXIT

$BIN/livemod topics create
$BIN/livemod worker --loglevel info >"$LOG_DIR/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 1 120); do
  grep -q "livemod worker: ready" "$LOG_DIR/worker.log" 2>/dev/null && break
  kill -0 "$worker_pid" 2>/dev/null || { cat "$LOG_DIR/worker.log"; exit 1; }
  sleep 0.5
done
echo "worker ready (log: $LOG_DIR/worker.log); replaying $SAMPLE"
$BIN/livemod produce "$SAMPLE"
echo "---- output records ----"
$BIN/livemod tail --from-beginning --idle-exit 6 | tee "$LOG_DIR/outputs.txt"
echo "---- summary ----"
awk '{print $1}' "$LOG_DIR/outputs.txt" | sort | uniq -c
