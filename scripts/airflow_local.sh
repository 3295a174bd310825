#!/usr/bin/env bash
# Local Airflow 3 for Research Trends: the four processes started separately, on 127.0.0.1.
#
#   scripts/airflow_local.sh start    migrate the metadata DB, create the writer pool, start
#                                     api-server, scheduler, dag-processor and triggerer in the
#                                     background, wait until the API answers, print URL + password
#   scripts/airflow_local.sh stop     stop exactly the processes `start` recorded (by pid)
#   scripts/airflow_local.sh status   which recorded processes are alive
#
# AIRFLOW_EXECUTOR=celery (`make airflow-celery`) runs the CeleryExecutor instead: PostgreSQL
# metadata, a Redis broker and Celery workers, also on 127.0.0.1 only, started before and
# stopped after the four processes (scripts/airflow_celery.sh says how). Default: local
# (LocalExecutor, SQLite metadata).
#
# `airflow standalone` is not used: it opens log-server ports on all interfaces. Here the
# scheduler and triggerer skip their log servers (the API server reads task logs from disk), so
# the API port on 127.0.0.1 is the only port that listens.
#
# Environment (all optional):
#   AIRFLOW_HOME   default <repo>/airflow_home (SQLite metadata, logs/, pids/, env.sh)
#   AIRFLOW_PORT   default 8080
#   TRENDS_HOME    default <repo>/var; made absolute, since tasks run in other directories
#   AIRFLOW_DAGS_FOLDER    default <repo>/dags
#   TRENDS_NOTIFY_*        where failed tasks are reported (see .env.example); passed through
#   AIRFLOW_START_TIMEOUT  seconds to wait for the API, default 180
#   AIRFLOW_EXECUTOR       local (default) or celery; the Celery settings: airflow_celery.sh
#
# AIRFLOW_HOME holds the admin password in plain text (Airflow's simple auth manager), the
# generated airflow.cfg and env.sh: `start` makes the folder and those files its owner's only
# (0700, 0600); Airflow itself would write the password file 0644.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${AIRFLOW_BIN:-$REPO/.venv/bin}"
export AIRFLOW_HOME="$(realpath -m "${AIRFLOW_HOME:-$REPO/airflow_home}")"
PORT="${AIRFLOW_PORT:-8080}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
PIDS="$AIRFLOW_HOME/pids"
LOGS="$AIRFLOW_HOME/logs"
PROCESSES=(api-server scheduler dag-processor triggerer)
EXECUTOR="${AIRFLOW_EXECUTOR:-local}"
POOL=trends_writer
PASSWORDS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}"

export AIRFLOW__CORE__DAGS_FOLDER="$(realpath -m "${AIRFLOW_DAGS_FOLDER:-$REPO/dags}")"
# plugins/trends_report.py: the published report in the UI (a "Trends report" nav entry)
export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO/plugins"
# Every Airflow process (tasks, DAG parsing, the report plugin) imports this checkout's
# `pipeline`, also when the environment was installed from another checkout.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
CELERY_WORKER_NAMES=()
CELERY_SERVICES=()
case "$EXECUTOR" in
  local) ;;
  celery) source "$REPO/scripts/airflow_celery.sh" ;; # overrides the executor and the database
  *) echo "airflow: AIRFLOW_EXECUTOR must be local or celery, not '$EXECUTOR'" >&2; exit 2 ;;
esac
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$LOGS"
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="$URL"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$URL/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
# SQLite takes one writer: keep the scheduler's own parallelism modest on a small machine.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-8}"
export TRENDS_HOME="$(cd "$REPO" && realpath -m "${TRENDS_HOME:-var}")"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

say() { echo "airflow: $*"; }

# A recorded pid counts only while it is alive and still the program it was (pids get reused):
# postgres, redis-server, or an airflow process (a Celery worker renames itself after celery).
alive() {
  local name="$1" pid="$2" program=airflow
  case "$name" in
    postgres) program=postgres ;;
    redis) program=redis-server ;;
    worker-*) program='airflow|celery' ;;
  esac
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq "$program"
}

recorded_pid() { cat "$PIDS/$1.pid" 2>/dev/null || true; }

# Every process a start may have recorded, in stopping order: Airflow's, workers, services.
# Found from the pid files too, so `stop` also ends what a start with other settings began.
recorded_names() {
  local file name
  local -a names=("${PROCESSES[@]}")
  for file in "$PIDS"/worker-*.pid; do
    [[ -e "$file" ]] && names+=("$(basename "$file" .pid)")
  done
  for name in redis postgres; do [[ -e "$PIDS/$name.pid" ]] && names+=("$name"); done
  printf '%s\n' "${names[@]}" | awk '!seen[$0]++'
}

running() {
  local name
  for name in $(recorded_names); do
    alive "$name" "$(recorded_pid "$name")" && return 0
  done
  return 1
}

password() {
  "$BIN/python" - "$PASSWORDS" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as fh:
        print(json.load(fh).get("admin", "?"))
except OSError:
    print("?")
EOF
}

# The folder and its secrets readable by their owner only. The password file is created empty
# (0600) before the API server first starts: Airflow opens it for appending, so it keeps the mode;
# files made by an earlier start (0644) are narrowed here too.
protect() {
  chmod go-rwx "$AIRFLOW_HOME"
  [[ -e "$PASSWORDS" ]] || (umask 077 && : >>"$PASSWORDS")
  local file
  for file in "$PASSWORDS" "$AIRFLOW_HOME/airflow.cfg" "$AIRFLOW_HOME/env.sh"; do
    [[ -e "$file" ]] && chmod 600 "$file"
  done
  return 0
}

write_env() {
  # For an operator's shell: `source airflow_home/env.sh` then use .venv/bin/airflow.
  {
    echo "# written by scripts/airflow_local.sh start"
    env | grep -E '^(AIRFLOW_HOME|AIRFLOW__[A-Z_]+|TRENDS_HOME|PYTHONPATH|HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE)=' |
      sort | sed -E "s/^([^=]+)=(.*)$/export \1='\2'/"
  } >"$AIRFLOW_HOME/env.sh"
}

start() {
  mkdir -p "$AIRFLOW_HOME" "$PIDS" "$LOGS"
  protect
  if running; then
    say "already running at $URL (pids in $PIDS); stop it with: make airflow-stop"
    return 0
  fi
  local port
  for port in "$PORT" $([[ "$EXECUTOR" == celery ]] && celery_ports); do
    if ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
      say "port $port is already in use; choose another (AIRFLOW_PORT, AIRFLOW_POSTGRES_PORT, AIRFLOW_REDIS_PORT)"
      return 1
    fi
  done
  local t0=$SECONDS
  say "AIRFLOW_HOME=$AIRFLOW_HOME, TRENDS_HOME=$TRENDS_HOME, DAGs from $AIRFLOW__CORE__DAGS_FOLDER"
  say "executor: $AIRFLOW__CORE__EXECUTOR"
  if [[ "$EXECUTOR" == celery ]]; then
    celery_start_services || { stop >/dev/null; return 1; }
  fi
  "$BIN/airflow" db migrate >"$LOGS/db-migrate.log" 2>&1 ||
    { say "db migrate failed; see $LOGS/db-migrate.log"; tail -n 20 "$LOGS/db-migrate.log"; stop >/dev/null; return 1; }
  "$BIN/airflow" pools set "$POOL" 1 "one writer of the trends working database at a time" \
    >"$LOGS/pools.log" 2>&1 ||
    { say "creating pool $POOL failed; see $LOGS/pools.log"; stop >/dev/null; return 1; }
  write_env
  protect

  # Each process gets its own process group (job control on), so `stop` can end its children
  # (task supervisors, parsing processes, uvicorn workers) with it.
  set -m
  local name args
  for name in "${PROCESSES[@]}"; do
    case "$name" in
      api-server) args=(api-server --host "$HOST" --port "$PORT") ;;
      scheduler) args=(scheduler --skip-serve-logs) ;;
      dag-processor) args=(dag-processor) ;;
      triggerer) args=(triggerer --skip-serve-logs) ;;
    esac
    nohup "$BIN/airflow" "${args[@]}" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
  done
  set +m
  [[ "$EXECUTOR" == celery ]] && celery_start_workers

  local deadline=$((SECONDS + ${AIRFLOW_START_TIMEOUT:-180}))
  until curl -fsS -o /dev/null "$URL/api/v2/monitor/health" 2>/dev/null; do
    for name in "${PROCESSES[@]}" "${CELERY_WORKER_NAMES[@]}" "${CELERY_SERVICES[@]}"; do
      if ! alive "$name" "$(recorded_pid "$name")"; then
        say "$name exited during start-up; last lines of $LOGS/$name.log:"
        tail -n 20 "$LOGS/$name.log"
        stop >/dev/null
        return 1
      fi
    done
    if ((SECONDS > deadline)); then
      say "the API did not answer within ${AIRFLOW_START_TIMEOUT:-180}s; see $LOGS/api-server.log"
      stop >/dev/null
      return 1
    fi
    sleep 1
  done
  protect
  say "up in $((SECONDS - t0))s: ${PROCESSES[*]} ${CELERY_WORKER_NAMES[*]} ${CELERY_SERVICES[*]} (pids in $PIDS)"
  [[ "$EXECUTOR" == celery ]] && celery_summary
  say "UI:       $URL"
  say "report:   $URL/trends-report/  (the \"Trends report\" entry of the UI's navigation)"
  say "login:    admin / $(password)   (from $PASSWORDS, mode 0600)"
  say "logs:     $LOGS"
  say "CLI:      source $AIRFLOW_HOME/env.sh && $BIN/airflow dags list"
  say "stop:     make airflow-stop"
}

# Stop the named recorded processes together, and wait for them (30 s, then SIGKILL).
stop_group() {
  local signal="$1" name pid stopped=0
  shift
  for name in "$@"; do
    pid="$(recorded_pid "$name")"
    if alive "$name" "$pid"; then
      if [[ "$name" == postgres ]]; then
        kill -INT "$pid" 2>/dev/null || true # "fast" shutdown: the postmaster ends its backends
      else
        # the group first (children included), then the process itself should it have left it
        kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
      fi
      stopped=$((stopped + 1))
    fi
  done
  local deadline=$((SECONDS + 30))
  for name in "$@"; do
    pid="$(recorded_pid "$name")"
    [[ -z "$pid" ]] && continue
    while alive "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
    if alive "$name" "$pid"; then
      say "$name (pid $pid) ignored SIG$signal; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # members of its group still winding down (a task, a parsing process, a backend) go with it
    local member
    for member in $(pgrep -g "$pid" 2>/dev/null || true); do
      alive "$name" "$member" && kill -KILL "$member" 2>/dev/null || true
    done
    rm -f "$PIDS/$name.pid"
  done
  STOPPED=$((STOPPED + stopped))
}

# Airflow's processes and the workers first (they still talk to the broker and the database),
# then Redis and PostgreSQL.
stop() {
  local name
  local -a first=() services=()
  STOPPED=0
  for name in $(recorded_names); do
    case "$name" in
      postgres | redis) services+=("$name") ;;
      *) first+=("$name") ;;
    esac
  done
  stop_group TERM "${first[@]}"
  ((${#services[@]})) && stop_group TERM "${services[@]}"
  say "stopped $STOPPED process(es)"
}

status() {
  local name pid
  for name in $(recorded_names); do
    pid="$(recorded_pid "$name")"
    if alive "$name" "$pid"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
  done
  running && echo "UI: $URL" || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
