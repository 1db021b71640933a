#!/usr/bin/env bash
# livemod: run a real single-node Apache Kafka broker (KRaft, combined
# broker+controller) locally, without Docker, from official Maven Central jars.
#
# Usage: deploy/kafka/kafka.sh {fetch|up|down|status|reset|cli CLASS [ARGS...]}
#
#   fetch   resolve Kafka + log4j2 jars into deploy/kafka/target/lib (idempotent)
#   up      fetch if needed, make TLS material and SCRAM password once, format storage
#           once, start broker, wait until ready. A running broker started from an
#           older configuration (e.g. without the SASL_SSL listener) is restarted.
#   down    stop the broker started by this script (SIGTERM, then SIGKILL)
#   status  exit 0 if the broker is running and answers API requests, else 1
#   reset   down + delete the data folder
#   cli     run a Kafka CLI class against the jars, e.g.
#             kafka.sh cli org.apache.kafka.tools.TopicCommand \
#                 --bootstrap-server 127.0.0.1:9092 --list
#
# Listeners: PLAINTEXT on 127.0.0.1:$LIVEMOD_KAFKA_PORT and SASL_SSL (SCRAM-SHA-512
# over TLS) on 127.0.0.1:$LIVEMOD_KAFKA_SASL_PORT, user "livemod". Clients of the
# SASL_SSL listener use these files from <data>/tls/ (made once, kept across restarts):
#   ca.pem              CA certificate that signed the broker's (LIVEMOD_SSL_CAFILE)
#   livemod.password    the livemod user's password, mode 600 (LIVEMOD_SASL_PASSWORD_FILE)
#
# Environment:
#   LIVEMOD_KAFKA_DATA             data folder (default: deploy/kafka/data)
#   LIVEMOD_KAFKA_PORT             client PLAINTEXT port (default 9092)
#   LIVEMOD_KAFKA_SASL_PORT        client SASL_SSL port (default 9094)
#   LIVEMOD_KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   LIVEMOD_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   LIVEMOD_KAFKA_TOOLS_LOG_LEVEL  log level of `cli` tools, to stderr (default WARN)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
LIB_DIR="$SCRIPT_DIR/target/lib"
STAMP="$LIB_DIR/.fetch-complete"
TEMPLATE="$SCRIPT_DIR/server.properties"
LOG4J_CONF="$SCRIPT_DIR/log4j2.properties"

DATA_DIR="$(realpath -m -- "${LIVEMOD_KAFKA_DATA:-$SCRIPT_DIR/data}")"
PORT="${LIVEMOD_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${LIVEMOD_KAFKA_CONTROLLER_PORT:-9093}"
SASL_PORT="${LIVEMOD_KAFKA_SASL_PORT:-9094}"
START_TIMEOUT="${LIVEMOD_KAFKA_START_TIMEOUT:-90}"
HOST=127.0.0.1
BOOTSTRAP="$HOST:$PORT"

PID_FILE="$DATA_DIR/kafka.pid"
CONF_FILE="$DATA_DIR/server.properties"
KRAFT_DIR="$DATA_DIR/kraft-logs"
LOG_DIR="$DATA_DIR/logs"
OUT_FILE="$LOG_DIR/kafka.out"
SERVER_LOG="$LOG_DIR/server.log"

TLS_DIR="$DATA_DIR/tls"
CA_PEM="$TLS_DIR/ca.pem"
KEYSTORE="$TLS_DIR/broker.p12"
KEYSTORE_PW_FILE="$TLS_DIR/keystore.password"
SASL_USER=livemod
SASL_PW_FILE="$TLS_DIR/$SASL_USER.password"
# Hash of the password file whose SCRAM credential the cluster metadata holds.
SCRAM_STAMP="$TLS_DIR/scram-user.sha256"

BROKER_JVM_OPTS=(
  -Xms256m -Xmx512m
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
)
# CLI tools: short-lived, so optimise for JVM startup time.
TOOL_JVM_OPTS=(
  -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Djava.awt.headless=true
)

die() { echo "kafka.sh: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "LIVEMOD_KAFKA_PORT must be a number: $PORT"
[[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "LIVEMOD_KAFKA_CONTROLLER_PORT must be a number"
[[ "$SASL_PORT" =~ ^[0-9]+$ ]] || die "LIVEMOD_KAFKA_SASL_PORT must be a number"
[[ "$PORT" != "$CONTROLLER_PORT" && "$SASL_PORT" != "$PORT" && "$SASL_PORT" != "$CONTROLLER_PORT" ]] ||
  die "client, SASL_SSL and controller ports must all differ"

# ---------------------------------------------------------------- fetch
lib_complete() {
  [[ -f "$STAMP" ]] || return 1
  # Re-fetch if the pom changed since the last successful fetch.
  [[ "$(cat "$STAMP")" == "$(pom_hash)" ]] || return 1
  compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null &&
    compgen -G "$LIB_DIR/kafka-tools-[0-9]*.jar" >/dev/null &&
    compgen -G "$LIB_DIR/log4j-slf4j-impl-*.jar" >/dev/null
}

pom_hash() { sha256sum "$SCRIPT_DIR/pom.xml" | cut -d' ' -f1; }

cmd_fetch() {
  if lib_complete; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ required)"
  echo "fetching Kafka jars from Maven Central into $LIB_DIR ..."
  local t0=$SECONDS
  rm -rf "$LIB_DIR"
  mkdir -p "$SCRIPT_DIR/target"
  local mvn_log="$SCRIPT_DIR/target/fetch.log"
  if ! (cd "$SCRIPT_DIR" && mvn -B -q -Dstyle.color=never -f pom.xml package) >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    die "mvn dependency fetch failed (see $mvn_log)"
  fi
  pom_hash >"$STAMP"
  echo "fetched $(ls "$LIB_DIR"/*.jar | wc -l) jars in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- helpers
classpath() { echo "$LIB_DIR/*"; }

# CLI tools log WARN+ to stderr only. They get their own tiny log4j2 config
# (generated under target/) so no file appender is ever set up for them.
TOOLS_LOG4J_CONF="$SCRIPT_DIR/target/tools-log4j2.properties"
tools_log4j_conf() {
  [[ -f "$TOOLS_LOG4J_CONF" ]] && return 0
  mkdir -p "$SCRIPT_DIR/target"
  cat >"$TOOLS_LOG4J_CONF.tmp" <<'LOG4J'
status = warn
name = livemod-kafka-tools
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:livemod.kafka.level:-WARN}
rootLogger.appenderRef.stderr.ref = STDERR
LOG4J
  mv "$TOOLS_LOG4J_CONF.tmp" "$TOOLS_LOG4J_CONF"
}

# Run a Kafka CLI main class (args passed through) against the fetched jars.
run_tool() {
  local cls="$1"; shift
  tools_log4j_conf
  java "${TOOL_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONF" \
    -Dlivemod.kafka.level="${LIVEMOD_KAFKA_TOOLS_LOG_LEVEL:-WARN}" \
    -cp "$(classpath)" "$cls" "$@"
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Prints the pid if a broker started by this script (for this data folder) is alive.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: must be our kafka.Kafka with our config file.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $CONF_FILE" || return 1
  echo "$pid"
}

# One API-versions round trip with a JVM admin client (bounded by timeout).
api_check() {
  local secs="${1:-30}"
  tools_log4j_conf
  timeout "$secs" java "${TOOL_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J_CONF" -Dlivemod.kafka.level=ERROR \
    -cp "$(classpath)" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$BOOTSTRAP" >/dev/null 2>&1
}

# The broker config for this data folder, to stdout (it holds the keystore password).
render_config() {
  sed -e "s|@PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@SASL_PORT@|$SASL_PORT|g" \
      -e "s|@LOG_DIRS@|$KRAFT_DIR|g" \
      -e "s|@KEYSTORE@|$KEYSTORE|g" \
      -e "s|@KEYSTORE_PASSWORD@|$(cat "$KEYSTORE_PW_FILE")|g" \
      "$TEMPLATE"
}

# ---------------------------------------------------------------- TLS + SCRAM
# Secrets are alphanumeric so they need no quoting in properties files, sed or
# SCRAM's [name=...,password=...] syntax.
new_secret() {
  local s
  s="$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')"
  echo "${s:0:32}"
}

# Create a secret file (mode 600) unless it exists: the keystore, the SCRAM credential
# in the metadata and clients' configuration all depend on it staying the same.
ensure_secret() {
  [[ -s "$1" ]] && return 0
  (umask 077 && new_secret >"$1.tmp") && mv "$1.tmp" "$1"
}

# A local CA and a broker certificate signed by it (SAN IP:127.0.0.1, DNS:localhost) in
# a PKCS12 keystore, made once with keytool (part of the JDK the broker needs anyway).
# Python clients trust ca.pem. The CA key is discarded: it never signs anything else,
# and `reset` (or deleting tls/) makes a new pair.
make_tls() {
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  ensure_secret "$KEYSTORE_PW_FILE"
  ensure_secret "$SASL_PW_FILE"
  [[ -s "$KEYSTORE" && -s "$CA_PEM" ]] && return 0
  command -v keytool >/dev/null || die "keytool not found (part of the JDK 17+)"
  echo "making TLS material in $TLS_DIR (local CA + broker certificate)"
  local work
  work="$(mktemp -d "$TLS_DIR/.work.XXXXXX")"
  # -storepass:file keeps the password off the command line; PKCS12 key password = store password.
  local kt=(keytool -J-XX:TieredStopAtLevel=1 -storetype PKCS12 -storepass:file "$KEYSTORE_PW_FILE")
  local validity=3650 san="san=ip:127.0.0.1,dns:localhost"
  {
    "${kt[@]}" -genkeypair -keystore "$work/ca.p12" -alias ca -keyalg RSA -keysize 2048 \
      -validity "$validity" -dname "CN=livemod local Kafka CA" -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign &&
    "${kt[@]}" -exportcert -rfc -keystore "$work/ca.p12" -alias ca -file "$work/ca.pem" &&
    "${kt[@]}" -genkeypair -keystore "$work/broker.p12" -alias broker -keyalg RSA -keysize 2048 \
      -validity "$validity" -dname "CN=localhost" -ext "$san" &&
    "${kt[@]}" -certreq -keystore "$work/broker.p12" -alias broker -file "$work/broker.csr" &&
    "${kt[@]}" -gencert -keystore "$work/ca.p12" -alias ca -infile "$work/broker.csr" \
      -outfile "$work/broker.pem" -rfc -validity "$validity" \
      -ext "$san" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth &&
    "${kt[@]}" -importcert -noprompt -keystore "$work/broker.p12" -alias ca -file "$work/ca.pem" &&
    "${kt[@]}" -importcert -noprompt -keystore "$work/broker.p12" -alias broker -file "$work/broker.pem"
  } >"$LOG_DIR/keytool.out" 2>&1 || {
    cat "$LOG_DIR/keytool.out" >&2
    rm -rf "$work"
    die "keytool failed making the TLS material"
  }
  chmod 600 "$work/broker.p12"
  chmod 644 "$work/ca.pem"
  mv "$work/broker.p12" "$KEYSTORE"
  mv "$work/ca.pem" "$CA_PEM"
  rm -rf "$work"
}

scram_stamp() { sha256sum "$SASL_PW_FILE" | cut -d' ' -f1; }

# Data folders formatted before the SASL_SSL listener existed have no SCRAM user, and a
# re-made password file no longer matches the stored credential. Rather than asking for
# a reset (which loses every topic), upsert the credential through the running broker
# over PLAINTEXT: the same command works for both cases and is idempotent.
ensure_scram_user() {
  [[ -f "$SCRAM_STAMP" && "$(cat "$SCRAM_STAMP")" == "$(scram_stamp)" ]] && return 0
  echo "adding SCRAM-SHA-512 user $SASL_USER through the running broker"
  # Like StorageTool, ConfigCommand takes the password only as an argument (its
  # --add-config-file rejects SCRAM entries); the tool runs for a few seconds, once.
  if ! run_tool kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
      --entity-type users --entity-name "$SASL_USER" \
      --add-config "SCRAM-SHA-512=[password=$(cat "$SASL_PW_FILE")]" >"$LOG_DIR/scram.out" 2>&1; then
    mask_secrets "$LOG_DIR/scram.out"
    cat "$LOG_DIR/scram.out" >&2
    die "could not add SCRAM user $SASL_USER; '$0 reset' re-creates the data folder with it"
  fi
  mask_secrets "$LOG_DIR/scram.out"
  scram_stamp >"$SCRAM_STAMP"
}

# Mask the passwords in a tool's output file (tools echo arguments they reject).
mask_secrets() {
  sed -i -e "s|$(cat "$SASL_PW_FILE")|***|g" -e "s|$(cat "$KEYSTORE_PW_FILE")|***|g" "$1"
}

# Random Kafka cluster id: 16 random bytes, base64url without padding
# (same format as `kafka-storage.sh random-uuid`), never starting with '-'.
random_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* && "$id" != "AAAAAAAAAAAAAAAAAAAAAA" ]] && break
  done
  echo "$id"
}

format_storage() {
  [[ -f "$KRAFT_DIR/meta.properties" ]] && return 0
  local cid
  cid="$(random_cluster_id)"
  echo "formatting KRaft storage in $KRAFT_DIR (cluster id $cid, SCRAM user $SASL_USER)"
  # StorageTool takes SCRAM credentials only as arguments; the format runs for a second, once.
  run_tool kafka.tools.StorageTool format -t "$cid" -c "$CONF_FILE" --ignore-formatted \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$(cat "$SASL_PW_FILE")]" \
    >"$LOG_DIR/format.out" 2>&1 || {
    mask_secrets "$LOG_DIR/format.out"
    cat "$LOG_DIR/format.out" >&2
    die "storage format failed"
  }
  mask_secrets "$LOG_DIR/format.out"
  scram_stamp >"$SCRAM_STAMP"
}

show_log_tail() {
  echo "---- tail of $SERVER_LOG ----" >&2
  tail -n 40 "$SERVER_LOG" >&2 2>/dev/null || echo "(no server.log)" >&2
  echo "---- tail of $OUT_FILE ----" >&2
  tail -n 20 "$OUT_FILE" >&2 2>/dev/null || echo "(no kafka.out)" >&2
}

# Serialise up/down/reset on the same data folder.
take_lock() {
  if command -v flock >/dev/null; then
    exec 9>"$DATA_DIR/.kafka.sh.lock"
    flock -w 120 9 || die "could not lock $DATA_DIR (another kafka.sh running?)"
  fi
}

# ---------------------------------------------------------------- commands
cmd_up() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  take_lock
  make_tls
  (umask 077 && render_config >"$CONF_FILE.new")
  local pid
  if pid="$(running_pid)" && port_open "$PORT"; then
    if cmp -s "$CONF_FILE.new" "$CONF_FILE" && port_open "$SASL_PORT"; then
      rm -f "$CONF_FILE.new"
      ensure_scram_user
      echo "kafka already running (pid $pid) on $BOOTSTRAP, SASL_SSL on $HOST:$SASL_PORT"
      return 0
    fi
    # Started from an older template (e.g. before the SASL_SSL listener existed):
    # restart on the current one. Data and topics are kept.
    echo "kafka (pid $pid) runs with an outdated configuration; restarting it"
    stop_pid "$pid"
    rm -f "$PID_FILE"
    pid=""
  fi
  if [[ -n "${pid:-}" ]]; then
    # Process alive but not answering on the port: still starting or wedged.
    die "kafka process $pid exists but $BOOTSTRAP is not answering; run '$0 down' first"
  fi
  rm -f "$PID_FILE"
  cmd_fetch
  command -v java >/dev/null || die "java not found (JDK 17+ required)"
  local p
  for p in "$PORT" "$CONTROLLER_PORT" "$SASL_PORT"; do
    if port_open "$p"; then
      die "port $HOST:$p is already in use by another process"
    fi
  done

  local t0 t_ms
  t0="$(date +%s%N)"
  mv "$CONF_FILE.new" "$CONF_FILE"
  mkdir -p "$KRAFT_DIR"
  format_storage

  echo "starting kafka on $BOOTSTRAP (SASL_SSL $HOST:$SASL_PORT, controller $HOST:$CONTROLLER_PORT), data $DATA_DIR"
  # setsid + nohup: the broker survives the calling shell / test session.
  nohup setsid java "${BROKER_JVM_OPTS[@]}" \
    -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -Dlivemod.kafka.logdir="$LOG_DIR" \
    -Dlivemod.kafka.level=INFO \
    -cp "$(classpath)" kafka.Kafka "$CONF_FILE" \
    >"$OUT_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      echo "kafka.sh: broker process $pid exited during startup" >&2
      show_log_tail
      exit 1
    fi
    if port_open "$PORT" && port_open "$SASL_PORT" && api_check 20; then
      break
    fi
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: broker not ready after ${START_TIMEOUT}s; stopping it" >&2
      show_log_tail
      stop_pid "$pid"
      rm -f "$PID_FILE"
      exit 1
    fi
    sleep 0.5
  done
  ensure_scram_user
  t_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf 'kafka ready (pid %s) on %s in %d.%03d s\n' "$pid" "$BOOTSTRAP" \
    $((t_ms / 1000)) $((t_ms % 1000))
  echo "SASL_SSL on $HOST:$SASL_PORT: user $SASL_USER, password file $SASL_PW_FILE, CA $CA_PEM"
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "kafka.sh: pid $pid did not stop within 30 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
}

cmd_down() {
  [[ -d "$DATA_DIR" ]] || { echo "kafka not running"; return 0; }
  take_lock
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    echo "kafka not running"
    return 0
  fi
  echo "stopping kafka (pid $pid)"
  stop_pid "$pid"
  rm -f "$PID_FILE"
  echo "kafka stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && port_open "$PORT" && port_open "$SASL_PORT" && lib_complete && api_check 30; then
    echo "kafka running (pid $pid) on $BOOTSTRAP, SASL_SSL on $HOST:$SASL_PORT"
    return 0
  fi
  echo "kafka not running on $BOOTSTRAP"
  return 1
}

cmd_reset() {
  cmd_down
  case "$DATA_DIR" in
    "" | "/" | "$HOME" | "$SCRIPT_DIR" ) die "refusing to delete '$DATA_DIR'" ;;
  esac
  rm -rf "$DATA_DIR"
  echo "removed $DATA_DIR"
}

cmd_cli() {
  [[ $# -ge 1 ]] || die "usage: $0 cli CLASS [ARGS...]"
  cmd_fetch >&2
  run_tool "$@"
}

case "${1:-}" in
  fetch)  cmd_fetch ;;
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
  reset)  cmd_reset ;;
  cli)    shift; cmd_cli "$@" ;;
  *) echo "usage: $0 {fetch|up|down|status|reset|cli CLASS [ARGS...]}" >&2; exit 2 ;;
esac
