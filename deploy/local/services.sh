#!/usr/bin/env bash
# Start, stop and inspect the five services as local processes (after infra.sh up).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR=$ROOT/.local/run
LOG_DIR=$ROOT/.local/logs
# name:port:env-prefix:store
SERVICES=(
  "order-sync:8001:ORDER_SYNC:order_sync"
  "customer-profile:8002:CUSTOMER_PROFILE:customer_profile"
  "campaign:8003:CAMPAIGN:campaign"
  "support-ticket:8004:SUPPORT_TICKET:mongo"
  "analytics:8005:ANALYTICS:analytics"
)
READY_TIMEOUT=${READY_TIMEOUT:-120}
# An OTLP/HTTP endpoint (http://127.0.0.1:4318 for a local collector) makes every service export
# its spans there; a service already running with another endpoint is restarted.
OTLP_ENDPOINT=${OTLP_ENDPOINT:-}

load_infra_env() {
  if [[ ! -f $ROOT/.local/infra.env ]]; then
    echo "services: no .local/infra.env; run 'make infra' first" >&2
    exit 1
  fi
  set -a; source "$ROOT/.local/infra.env"; set +a
}

running() { [[ -f $RUN_DIR/$1.pid ]] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

# Where a running service sends its spans (empty: nowhere), as it was started.
traced_to() { cat "$RUN_DIR/$1.otlp" 2>/dev/null || true; }

stop_one() {
  local name=$1 pid
  pid=$(cat "$RUN_DIR/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    running "$name" || break
    # A stopped but unreaped process still passes `kill -0`: its /proc state says Z.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
    sleep 0.5
  done
  rm -f "$RUN_DIR/$name.pid" "$RUN_DIR/$name.otlp"
}

start_one() {
  local name=$1 port=$2 prefix=$3 store=$4 public_key=$5
  if running "$name"; then
    if [[ -z $OTLP_ENDPOINT || $(traced_to "$name") == "$OTLP_ENDPOINT" ]]; then
      echo "  $name already running (pid $(cat "$RUN_DIR/$name.pid"))"
      return
    fi
    echo "  $name restarting to send its spans to $OTLP_ENDPOINT"
    stop_one "$name"
  fi
  local -a env=(
    "${prefix}_HTTP_PORT=$port"
    "${prefix}_KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
    "${prefix}_JWT_PUBLIC_KEY_FILE=$public_key"
  )
  if [[ $name == customer-profile ]]; then
    # Personal data is encrypted at rest: a development key file made on first use.
    env+=("${prefix}_PII_KEYS_FILE=$PII_KEYS_FILE")
  fi
  if [[ $store == mongo ]]; then
    env+=("${prefix}_MONGODB_URL=$MONGODB_URL" "${prefix}_MONGODB_DATABASE=support_ticket")
  else
    env+=("${prefix}_DATABASE_URL=${POSTGRES_URL%/}/$store")
  fi
  if [[ -n $OTLP_ENDPOINT ]]; then
    env+=("${prefix}_OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_ENDPOINT")
  fi
  env "${env[@]}" setsid nohup "$ROOT/.venv/bin/$name" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
  echo "$OTLP_ENDPOINT" >"$RUN_DIR/$name.otlp"
  echo "  $name starting (pid $!, log .local/logs/$name.log)"
}

wait_ready() {
  local name=$1 port=$2 deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; do
    if ! running "$name"; then
      echo "services: $name exited; last log lines:" >&2
      tail -n 20 "$LOG_DIR/$name.log" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "services: $name not ready after ${READY_TIMEOUT}s:" >&2
      curl -sS "http://127.0.0.1:$port/health/ready" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  echo "  $name ready: http://127.0.0.1:$port (docs: /docs)"
}

up() {
  load_infra_env
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  local public_key
  public_key=$("$ROOT/.venv/bin/python" -m crm_common.devtoken --key-dir "$ROOT/.local/jwt" --public-key-path)
  PII_KEYS_FILE=$("$ROOT/.venv/bin/python" -m customer_profile.pii keygen --dev-dir "$ROOT/.local/pii")
  echo "services: starting"
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name port prefix store <<<"$entry"
    start_one "$name" "$port" "$prefix" "$store" "$public_key"
  done
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name port _ _ <<<"$entry"
    wait_ready "$name" "$port"
  done
  echo "services: all ready. A token: make token ROLE=admin"
}

down() {
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name _ _ _ <<<"$entry"
    if running "$name"; then
      stop_one "$name"
      echo "  $name stopped"
    fi
    rm -f "$RUN_DIR/$name.pid" "$RUN_DIR/$name.otlp"
  done
}

status() {
  for entry in "${SERVICES[@]}"; do
    IFS=: read -r name port _ _ <<<"$entry"
    if running "$name"; then echo "$name: running on :$port"; else echo "$name: stopped"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
