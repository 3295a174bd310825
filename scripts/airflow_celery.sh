# shellcheck shell=bash
# The CeleryExecutor part of scripts/airflow_local.sh (sourced by it with AIRFLOW_EXECUTOR=celery;
# `make airflow-celery`): PostgreSQL as the metadata database, Redis as the Celery broker, and
# AIRFLOW_CELERY_WORKERS Celery workers, all on 127.0.0.1, with data, logs and pids under
# AIRFLOW_HOME and every process recorded so that `stop` ends exactly these.
#
#   $AIRFLOW_HOME/postgres/data   the PostgreSQL cluster (initdb on first start, kept after)
#   $AIRFLOW_HOME/redis/          Redis' working folder (no persistence: the broker holds only
#                                 queued task messages; the scheduler re-queues lost ones)
#   $AIRFLOW_HOME/secrets/        0700; each file 0600: the generated PostgreSQL and Redis
#                                 passwords, redis.conf (requirepass), pgpass, and the two URLs
#                                 Airflow reads through AIRFLOW__..._CMD (never in env.sh)
#   $AIRFLOW_HOME/logs/           postgres.log, redis.log, worker-N.log beside the Airflow logs
#
# Environment (all optional):
#   AIRFLOW_POSTGRES_PORT    default 54329 (not 5432: a system PostgreSQL keeps its port)
#   AIRFLOW_REDIS_PORT       default 63799 (not 6379)
#   AIRFLOW_CELERY_WORKERS   default 2: worker-1 takes the queues `default` and `embed`, the
#                            others `embed` only (the mapped embedding shards, dags/trends_common)
#   AIRFLOW_CELERY_CONCURRENCY  tasks per worker at a time, default 1 (a shard uses the cores)
#   AIRFLOW_POSTGRES_BIN     folder of initdb/postgres/pg_ctl, default the newest
#                            /usr/lib/postgresql/*/bin (Debian's postgresql package)
#
# PostgreSQL refuses to run as root. Run by root (as here, and in CI), the script starts initdb
# and postgres in a user namespace (`unshare --user --map-user=1000`) where they run as uid 1000,
# mapped back to root outside: the cluster's files stay root's, under AIRFLOW_HOME (0700), and
# no system account or ownership change is needed. This passes PostgreSQL's check; it is not
# privilege separation. Run by an unprivileged user, postgres simply runs as that user.

PG_PORT="${AIRFLOW_POSTGRES_PORT:-54329}"
REDIS_PORT="${AIRFLOW_REDIS_PORT:-63799}"
WORKERS="${AIRFLOW_CELERY_WORKERS:-2}"
CONCURRENCY="${AIRFLOW_CELERY_CONCURRENCY:-1}"
SECRETS="$AIRFLOW_HOME/secrets"
PG_DATA="$AIRFLOW_HOME/postgres/data"
REDIS_DIR="$AIRFLOW_HOME/redis"
PG_USER=airflow
PG_DB=airflow
EMBED_QUEUE=embed
DEFAULT_QUEUE=default

[[ "$WORKERS" =~ ^[1-9][0-9]?$ ]] || { echo "airflow: AIRFLOW_CELERY_WORKERS must be 1-99, not '$WORKERS'" >&2; exit 2; }
[[ "$CONCURRENCY" =~ ^[1-9][0-9]?$ ]] || { echo "airflow: AIRFLOW_CELERY_CONCURRENCY must be 1-99, not '$CONCURRENCY'" >&2; exit 2; }

# the newest installed PostgreSQL server (Debian keeps each major version in its own folder)
pg_bin() {
  if [[ -n "${AIRFLOW_POSTGRES_BIN:-}" ]]; then echo "$AIRFLOW_POSTGRES_BIN"; return; fi
  find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname
}
PG_BIN="$(pg_bin)"

CELERY_WORKER_NAMES=()
for ((i = 1; i <= WORKERS; i++)); do CELERY_WORKER_NAMES+=("worker-$i"); done
# started first, stopped last
CELERY_SERVICES=(postgres redis)

export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
# The URLs hold the passwords: Airflow runs these commands when it needs them, so neither the
# processes' environment nor env.sh carries a password.
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD="cat $SECRETS/sql_alchemy_conn"
export AIRFLOW__CELERY__BROKER_URL_CMD="cat $SECRETS/broker_url"
unset AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
export AIRFLOW__CELERY__WORKER_CONCURRENCY="$CONCURRENCY"
export AIRFLOW__OPERATORS__DEFAULT_QUEUE="$DEFAULT_QUEUE"

# The prefix that runs a PostgreSQL program as a non-root uid (see the header). `unshare`
# without --fork execs the program, so a recorded pid is the postmaster's own.
AS_PG=()
[[ "$(id -u)" == 0 ]] && AS_PG=(unshare --user --map-user=1000 --map-group=1000)

celery_check_tools() {
  local missing=()
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] || missing+=("PostgreSQL server (Debian: postgresql)")
  command -v redis-server >/dev/null || missing+=("redis-server (Debian: redis-server)")
  if ((${#missing[@]})); then
    say "missing ${missing[*]}; install with: make celery-deps"
    return 1
  fi
  if [[ "$(id -u)" == 0 ]] && ! unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null; then
    say "PostgreSQL cannot run as root and this machine allows no user namespace; run as an unprivileged user"
    return 1
  fi
}

celery_ports() { echo "$PG_PORT" "$REDIS_PORT"; }

secret() { "$BIN/python" -c 'import secrets; print(secrets.token_hex(24))'; }

# Passwords are made once and kept: the cluster was initialised with its password.
celery_secrets() {
  (umask 077 && mkdir -p "$SECRETS")
  chmod 700 "$SECRETS"
  (
    umask 077
    [[ -s "$SECRETS/postgres.password" ]] || secret >"$SECRETS/postgres.password"
    [[ -s "$SECRETS/redis.password" ]] || secret >"$SECRETS/redis.password"
    local pg_pw redis_pw
    pg_pw="$(cat "$SECRETS/postgres.password")"
    redis_pw="$(cat "$SECRETS/redis.password")"
    echo "127.0.0.1:$PG_PORT:*:$PG_USER:$pg_pw" >"$SECRETS/pgpass"
    # no newline: Airflow takes a _CMD's output as it is
    printf '%s' "postgresql+psycopg2://$PG_USER:$pg_pw@127.0.0.1:$PG_PORT/$PG_DB" >"$SECRETS/sql_alchemy_conn"
    printf '%s' "redis://:$redis_pw@127.0.0.1:$REDIS_PORT/0" >"$SECRETS/broker_url"
    cat >"$SECRETS/redis.conf" <<EOF
# written by scripts/airflow_celery.sh; the broker of the Airflow CeleryExecutor
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $redis_pw
dir $REDIS_DIR
save ""
appendonly no
daemonize no
logfile ""
EOF
  )
  chmod 600 "$SECRETS"/*
}

start_postgres() {
  mkdir -p "$(dirname "$PG_DATA")"
  if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    rm -rf "$PG_DATA"
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$SECRETS/postgres.password" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOGS/postgres-initdb.log" 2>&1 ||
      { say "initdb failed; see $LOGS/postgres-initdb.log"; tail -n 20 "$LOGS/postgres-initdb.log"; return 1; }
  fi
  # TCP on 127.0.0.1 only, no Unix socket (nothing else to secure or to clash with)
  nohup "${AS_PG[@]}" "$PG_BIN/postgres" -D "$PG_DATA" -c listen_addresses=127.0.0.1 \
    -c port="$PG_PORT" -c unix_socket_directories= -c max_connections=200 \
    >"$LOGS/postgres.log" 2>&1 </dev/null &
  echo $! >"$PIDS/postgres.pid"
  local deadline=$((SECONDS + 60))
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
    alive postgres "$(recorded_pid postgres)" ||
      { say "postgres exited during start-up; last lines of $LOGS/postgres.log:"; tail -n 20 "$LOGS/postgres.log"; return 1; }
    ((SECONDS < deadline)) || { say "postgres did not accept connections within 60s"; return 1; }
    sleep 0.5
  done
  local found
  found="$(PGPASSFILE="$SECRETS/pgpass" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" \
    -d postgres -tAc "select 1 from pg_database where datname = '$PG_DB'")" ||
    { say "cannot connect to postgres as $PG_USER; see $LOGS/postgres.log"; return 1; }
  if [[ "$found" != 1 ]]; then
    PGPASSFILE="$SECRETS/pgpass" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB" ||
      { say "createdb $PG_DB failed"; return 1; }
  fi
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  nohup redis-server "$SECRETS/redis.conf" >"$LOGS/redis.log" 2>&1 </dev/null &
  echo $! >"$PIDS/redis.pid"
  local deadline=$((SECONDS + 30))
  until ss -ltnH "sport = :$REDIS_PORT" 2>/dev/null | grep -q .; do
    alive redis "$(recorded_pid redis)" ||
      { say "redis exited during start-up; last lines of $LOGS/redis.log:"; tail -n 20 "$LOGS/redis.log"; return 1; }
    ((SECONDS < deadline)) || { say "redis did not listen within 30s"; return 1; }
    sleep 0.2
  done
}

celery_start_services() {
  celery_check_tools || return 1
  celery_secrets
  set -m # each service in its own process group, like the Airflow processes
  start_postgres || { set +m; return 1; }
  start_redis || { set +m; return 1; }
  set +m
}

# Worker i: its own process group, name (recorded on every task instance it runs, see
# pipeline/celery_worker.py) and queues; no log server (the API server reads the log folder).
celery_start_workers() {
  local i name queues
  set -m
  for ((i = 1; i <= WORKERS; i++)); do
    name="worker-$i"
    queues="$EMBED_QUEUE"
    ((i == 1)) && queues="$DEFAULT_QUEUE,$EMBED_QUEUE"
    TRENDS_WORKER_NAME="$name" AIRFLOW__CORE__HOSTNAME_CALLABLE=pipeline.celery_worker.task_hostname \
      nohup "$BIN/airflow" celery worker --celery-hostname "$name@%h" --queues "$queues" \
      --concurrency "$CONCURRENCY" --skip-serve-logs --without-gossip --without-mingle \
      >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
  done
  set +m
}

celery_summary() {
  say "metadata: PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DATA); broker: Redis on 127.0.0.1:$REDIS_PORT"
  say "workers:  ${CELERY_WORKER_NAMES[*]} (worker-1: queues $DEFAULT_QUEUE,$EMBED_QUEUE; others: $EMBED_QUEUE), $CONCURRENCY task(s) each"
  say "secrets:  $SECRETS (0700; passwords generated, files 0600)"
}
