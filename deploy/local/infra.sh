#!/usr/bin/env bash
# Starts the suite's real infrastructure for development and CI: Kafka, PostgreSQL and a
# MongoDB-wire server, on 127.0.0.1 only.
#
#   infra.sh up       start what is not running yet (reusing what is), wait until ready,
#                     write .local/infra.env
#   infra.sh down     stop what we started; data is kept
#   infra.sh clean    down, then delete the data (downloaded jars and built binaries are kept)
#   infra.sh status   one line per component
#   infra.sh env      print .local/infra.env
#
# With a Docker engine, `up` uses docker-compose.yml. Without one (our CI machines), it runs local
# processes: Kafka from Maven Central jars, Debian's PostgreSQL 15 in our own cluster, and FerretDB
# embedded in a small Go program. Everything lives under $ROOT/.local (gitignored).
# CRM_INFRA=local or CRM_INFRA=docker forces a mode; the default (auto) asks `docker info` on the
# first `up` and remembers the answer in .local/infra.mode, so down/status/clean act on the same.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/deploy/local
LOCAL=$ROOT/.local
RUN_DIR=$LOCAL/run
ENV_FILE=$LOCAL/infra.env
MODE_FILE=$LOCAL/infra.mode

KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
KAFKA_SASL_PORT=9094
KAFKA_HOME=$LOCAL/kafka
KAFKA_LIBS=$KAFKA_HOME/libs
KAFKA_DATA=$KAFKA_HOME/data
KAFKA_TLS=$KAFKA_HOME/tls
KAFKA_USERS=$KAFKA_HOME/users
# SCRAM-SHA-512 principals of the SASL_SSL listener: a super user and one per service.
KAFKA_SCRAM_USERS=(admin order-sync customer-profile campaign support-ticket analytics)
KAFKA_PID=$RUN_DIR/kafka.pid

PG_PORT=5432
PG_HOME=$LOCAL/pg
PG_DATA=$PG_HOME/data
PG_SOCKET_DIR=$PG_HOME/run
# A Unix socket path is limited to 107 bytes: a deep checkout puts ours under /tmp instead.
if ((${#PG_SOCKET_DIR} > 90)); then
    PG_SOCKET_DIR=/tmp/crm-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
fi
PG_LOG=$PG_HOME/log/postgresql.log
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATABASES=(order_sync customer_profile campaign analytics)

MONGO_PORT=27017
FERRET_HOME=$LOCAL/ferretdb
FERRET_DATA=$FERRET_HOME/data
FERRET_BIN=$LOCAL/bin/crm-ferretdb
FERRET_SRC=$HERE/ferretdb
FERRET_PID=$RUN_DIR/ferretdb.pid

START_NS=$(date +%s%N)

# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

elapsed() {
    local now
    now=$(date +%s%N)
    printf '%d.%ds' $(((now - START_NS) / 1000000000)) $((((now - START_NS) / 100000000) % 10))
}

log() { printf '[infra %6s] %s\n' "$(elapsed)" "$*"; }
die() {
    printf '[infra %6s] ERROR: %s\n' "$(elapsed)" "$*" >&2
    exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# The repo's .venv has PyMongo, which makes the MongoDB probe a real client round trip; a fresh
# machine without it still gets the stdlib-only probes.
python_bin() {
    if [[ -x $ROOT/.venv/bin/python ]]; then
        echo "$ROOT/.venv/bin/python"
    else
        command -v python3 || die "python3 not found"
    fi
}

port_open() { timeout 1 bash -c ">/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# pid of the process listening on a local TCP port, if any (needs root to see other users' pids).
port_owner() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Whether a process runs. A process that died but whose parent has not reaped it yet (a zombie:
# some containers' init reaps late, and our servers are reparented to it) still passes kill -0.
is_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ ${stat##*) } != Z* ]]
}

# A pid file is trusted only if its process is alive AND its command line carries our marker, so a
# stale file whose pid was reused by something else is not mistaken for our server.
alive_pid() {
    local pidfile=$1 marker=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] && is_alive "$pid" || return 1
    [[ $(cmdline_of "$pid") == *"$marker"* ]] || return 1
    echo "$pid"
}

# Finds our running server from its pid file, or, when the file is gone, from whoever holds its
# port (if that process is ours, the pid file is rewritten). Prints the pid; fails if none is ours.
find_ours() {
    local pidfile=$1 marker=$2 port=$3 pid
    if pid=$(alive_pid "$pidfile" "$marker"); then
        echo "$pid"
        return 0
    fi
    rm -f "$pidfile"
    pid=$(port_owner "$port")
    if [[ -n $pid && $(cmdline_of "$pid") == *"$marker"* ]]; then
        echo "$pid" >"$pidfile"
        echo "$pid"
        return 0
    fi
    return 1
}

# Refuses to start on a port that a foreign process holds: its clients would talk to the wrong server.
require_free_port() {
    local port=$1 what=$2 pid
    port_open "$port" || return 0
    pid=$(port_owner "$port")
    die "port $port is already in use by ${pid:+pid $pid: $(cmdline_of "$pid")}${pid:-another process}; stop it to run our $what"
}

# wait_until TIMEOUT_S PID_OR_EMPTY CMD...: polls CMD until it succeeds, failing early (status 2) if
# the server process died. The successful probe's output is left in READY_DETAIL.
READY_DETAIL=
wait_until() {
    local timeout_s=$1 pid=$2
    shift 2
    local deadline=$((SECONDS + timeout_s))
    until READY_DETAIL=$("$@" 2>/dev/null); do
        if [[ -n $pid ]] && ! is_alive "$pid"; then
            return 2
        fi
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# Starts a detached server: its own session (so a closing terminal or CI step does not kill it),
# no stdin, output to a log file. Prints the pid.
spawn() {
    local logfile=$1
    shift
    mkdir -p "$(dirname "$logfile")"
    setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
    echo $!
}

# Sends SIGTERM and waits for a clean exit; SIGKILL only after the grace period.
stop_pid() {
    local pid=$1 what=$2 grace=$3
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + grace))
    while is_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "$what: no exit after ${grace}s, killing pid $pid"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

apt_install() {
    is_root || die "missing $*: install it with apt-get (needs root)"
    log "installing Debian packages: $*"
    if [[ ! -f $LOCAL/.apt-updated ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        mkdir -p "$LOCAL" && touch "$LOCAL/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_base_tools() {
    local missing=()
    command -v ss >/dev/null || missing+=(iproute2)
    command -v setsid >/dev/null || missing+=(util-linux)
    command -v python3 >/dev/null || [[ -x $ROOT/.venv/bin/python ]] || missing+=(python3)
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

# ---------------------------------------------------------------------------------------------
# Docker mode
# ---------------------------------------------------------------------------------------------

docker_answers() {
    command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1
}

use_docker() {
    case ${CRM_INFRA:-auto} in
        docker) return 0 ;;
        local) return 1 ;;
        auto)
            if [[ -f $MODE_FILE ]]; then
                # down/status/clean act on whatever `up` started.
                [[ $(<"$MODE_FILE") == docker ]] && docker_answers
            else
                docker_answers
            fi
            ;;
        *) die "CRM_INFRA must be auto, local or docker" ;;
    esac
}

compose() { (cd "$ROOT" && docker compose "$@"); }

# ---------------------------------------------------------------------------------------------
# Kafka (KRaft, single node, broker + controller)
# ---------------------------------------------------------------------------------------------

ensure_java() {
    if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
        apt_install openjdk-17-jre-headless maven
    fi
    local major
    major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
    ((${major%%.*} >= 17)) || die "Kafka 4 needs Java 17+, found $major"
}

# Copies the broker's runtime jars from Maven Central (cached in ~/.m2) unless the copy matches the
# current pom.xml: a version bump in the pom triggers a fresh copy.
kafka_libs() {
    local pom=$HERE/kafka/pom.xml stamp=$KAFKA_LIBS/.pom.sha256 want
    want=$(sha256sum "$pom" | cut -d' ' -f1)
    if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
        return 0
    fi
    log "kafka: fetching jars with Maven (cached in ~/.m2)"
    rm -rf "$KAFKA_LIBS"
    mkdir -p "$KAFKA_LIBS"
    mkdir -p "$KAFKA_HOME/logs"
    mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$KAFKA_LIBS" >"$KAFKA_HOME/logs/mvn.log" 2>&1 ||
        { tail -n 30 "$KAFKA_HOME/logs/mvn.log" >&2; die "kafka: fetching jars with Maven failed"; }
    echo "$want" >"$stamp"
    log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

# The same JVM settings for the tools and the broker. Heap capped: the machines have 2 cores and
# run the five services and the test suites beside Kafka.
KAFKA_JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    -Dkafka.logs.dir="$KAFKA_HOME/logs"
    -Dlog4j2.configurationFile="file:$HERE/kafka/log4j2.properties"
    -cp "$KAFKA_LIBS/*")

kafka_java() { "${KAFKA_JAVA[@]}" "$@"; }

# Renders server.properties; prints "changed" when it differs from what the broker was started with.
kafka_configure() {
    mkdir -p "$KAFKA_HOME/logs" "$KAFKA_DATA"
    local rendered
    rendered=$(sed -e "s|@DATA_DIR@|$KAFKA_DATA|g" -e "s|@TLS_DIR@|$KAFKA_TLS|g" \
        "$HERE/kafka/server.properties")
    if [[ ! -f $KAFKA_HOME/server.properties || $(<"$KAFKA_HOME/server.properties") != "$rendered" ]]; then
        printf '%s\n' "$rendered" >"$KAFKA_HOME/server.properties"
        echo changed
    fi
}

# A throwaway CA and a broker certificate for 127.0.0.1 and localhost, made once: clients of the
# SASL_SSL listener trust $KAFKA_TLS/ca.pem.
kafka_tls() {
    [[ -f $KAFKA_TLS/broker.pem ]] && return 0
    command -v openssl >/dev/null || apt_install openssl
    log "kafka: making a throwaway CA and the broker's TLS certificate in $KAFKA_TLS"
    mkdir -p "$KAFKA_TLS"
    (
        cd "$KAFKA_TLS"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=crm-suite local CA" \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout broker.key -out broker.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile broker.ext -out broker.crt 2>/dev/null
        # Kafka's PEM key store: the PKCS#8 key, then the certificate chain.
        openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.pk8
        cat broker.pk8 broker.crt ca.pem >broker.pem
        rm -f broker.csr broker.ext ca.srl broker.key broker.pk8
        chmod 600 ca.key broker.pem
    )
}

# The password of a SCRAM user, made on first use.
kafka_password() {
    local file=$KAFKA_USERS/$1
    if [[ ! -s $file ]]; then
        mkdir -p "$KAFKA_USERS"
        (umask 077 && openssl rand -hex 16 >"$file")
    fi
    cat "$file"
}

# KRaft storage is formatted once per data directory; meta.properties marks a formatted one. The
# SCRAM users are part of the initial metadata; scram.users marks storage that has them.
kafka_format() {
    [[ -f $KAFKA_DATA/meta.properties ]] && return 0
    local cluster_id user scram=()
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid | tail -n1)
    for user in "${KAFKA_SCRAM_USERS[@]}"; do
        scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(kafka_password "$user")]")
    done
    log "kafka: formatting storage, cluster id $cluster_id"
    kafka_java kafka.tools.StorageTool format --standalone -g -t "$cluster_id" "${scram[@]}" \
        -c "$KAFKA_HOME/server.properties" >>"$KAFKA_HOME/logs/format.log" 2>&1 ||
        die "kafka: storage format failed, see $KAFKA_HOME/logs/format.log"
    touch "$KAFKA_DATA/scram.users"
}

# Storage formatted by an earlier release has no SCRAM users: add them through the running broker.
kafka_scram_users() {
    [[ -f $KAFKA_DATA/scram.users ]] && return 0
    local user
    for user in "${KAFKA_SCRAM_USERS[@]}"; do
        log "kafka: adding SCRAM user $user"
        kafka_java kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
            --add-config "SCRAM-SHA-512=[password=$(kafka_password "$user")]" \
            --entity-type users --entity-name "$user" >>"$KAFKA_HOME/logs/scram.log" 2>&1 ||
            die "kafka: adding SCRAM user $user failed, see $KAFKA_HOME/logs/scram.log"
    done
    touch "$KAFKA_DATA/scram.users"
}

kafka_ready() { "$(python_bin)" "$HERE/probe.py" kafka "127.0.0.1:$KAFKA_PORT"; }

kafka_marker() { echo "$KAFKA_HOME/server.properties"; }

kafka_up() {
    local pid rc=0 changed
    kafka_tls
    changed=$(kafka_configure)
    if pid=$(find_ours "$KAFKA_PID" "$(kafka_marker)" "$KAFKA_PORT") && [[ -n $changed ]]; then
        log "kafka: its configuration changed, restarting"
        kafka_down
    fi
    if pid=$(find_ours "$KAFKA_PID" "$(kafka_marker)" "$KAFKA_PORT"); then
        log "kafka: already running (pid $pid)"
    else
        require_free_port "$KAFKA_PORT" kafka
        require_free_port "$KAFKA_CONTROLLER_PORT" "kafka controller"
        require_free_port "$KAFKA_SASL_PORT" "kafka SASL_SSL listener"
        ensure_java
        kafka_libs
        kafka_format
        pid=$(spawn "$KAFKA_HOME/logs/stdout.log" "${KAFKA_JAVA[@]}" kafka.Kafka "$(kafka_marker)")
        echo "$pid" >"$KAFKA_PID"
        log "kafka: started (pid $pid), waiting for the broker"
    fi
    wait_until 120 "$pid" kafka_ready || rc=$?
    if ((rc != 0)); then
        tail -n 20 "$KAFKA_HOME/logs/server.log" "$KAFKA_HOME/logs/stdout.log" >&2 2>/dev/null || true
        die "kafka: $( ((rc == 2)) && echo "process exited" || echo "not ready after 120s")"
    fi
    kafka_scram_users
    log "kafka: ready on 127.0.0.1:$KAFKA_PORT ($READY_DETAIL), SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT"
}

kafka_down() {
    local pid
    if pid=$(find_ours "$KAFKA_PID" "$(kafka_marker)" "$KAFKA_PORT"); then
        log "kafka: stopping (pid $pid, controlled shutdown)"
        stop_pid "$pid" kafka 60
        log "kafka: stopped"
    else
        log "kafka: not running"
    fi
    rm -f "$KAFKA_PID"
}

kafka_status() {
    local pid
    if pid=$(find_ours "$KAFKA_PID" "$(kafka_marker)" "$KAFKA_PORT"); then
        if kafka_ready >/dev/null 2>&1; then
            echo "kafka     running  pid $pid  127.0.0.1:$KAFKA_PORT  ready"
        else
            echo "kafka     running  pid $pid  127.0.0.1:$KAFKA_PORT  NOT READY"
        fi
    else
        echo "kafka     stopped"
    fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15 (Debian's binaries, our own cluster)
# ---------------------------------------------------------------------------------------------

ensure_postgres() {
    [[ -x $PG_BIN/postgres ]] || apt_install postgresql-15
    [[ -x $PG_BIN/postgres ]] || die "PostgreSQL binaries not found in $PG_BIN"
}

# initdb and postgres refuse to run as root: as root we run them as the `postgres` system user,
# which owns the cluster; as anyone else we run them as ourselves.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# The postgres user must be able to walk down to .local/pg. Directories we create are 0755; an
# ancestor we do not own (e.g. a home directory) gets only o+x, which allows traversal, not listing.
ensure_traversable() {
    local dir=$PG_HOME
    while [[ $dir != / ]]; do
        if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
            log "postgres: granting o+x on $dir so the postgres user can reach its data directory"
            chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
}

pg_prepare_dirs() {
    mkdir -p "$PG_DATA" "$PG_SOCKET_DIR" "$(dirname "$PG_LOG")"
    chmod 755 "$LOCAL" "$PG_HOME"
    chmod 700 "$PG_DATA"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "the postgres system user is missing (apt-get install postgresql-15)"
        chown -R postgres:postgres "$PG_HOME" "$PG_SOCKET_DIR"
        ensure_traversable
    fi
}

pg_init() {
    [[ -f $PG_DATA/PG_VERSION ]] && return 0
    log "postgres: initdb $PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PG_HOME/log/initdb.log" 2>&1 ||
        die "postgres: initdb failed, see $PG_HOME/log/initdb.log"
    echo "include_if_exists = 'crm.conf'" >>"$PG_DATA/postgresql.conf"
}

# Our settings live in one file that is rewritten on every `up`, so edits here apply on restart.
pg_configure() {
    cat >"$PG_DATA/crm.conf" <<EOF
# Written by deploy/local/infra.sh; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 200
shared_buffers = 256MB
work_mem = 8MB
maintenance_work_mem = 128MB
# synchronous_commit stays on: the services answer a shop once its order is committed, and the
# fault drills kill this server (with it off, a crash loses the last few hundred ms of commits).
timezone = 'UTC'
log_timezone = 'UTC'
log_min_duration_statement = 1000
EOF
    is_root && chown postgres:postgres "$PG_DATA/crm.conf"
    return 0
}

pg_running() {
    local pid
    if [[ -f $PG_DATA/postmaster.pid ]]; then
        pid=$(head -n1 "$PG_DATA/postmaster.pid")
        if [[ $pid =~ ^[0-9]+$ ]] && ! is_alive "$pid"; then
            # A killed server's lock files: PostgreSQL itself trusts kill -0, which a zombie
            # passes, and would refuse to start.
            rm -f "$PG_DATA/postmaster.pid" "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT.lock"
            return 1
        fi
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

pg_psql() {
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres "$@"
}

# Role crm (superuser: tests create and drop their own databases) and one database per service.
pg_provision() {
    pg_psql -d postgres <<'SQL' >/dev/null
SELECT 'CREATE ROLE crm' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm')\gexec
ALTER ROLE crm WITH LOGIN SUPERUSER CREATEDB PASSWORD 'crm';
SQL
    local db
    for db in "${PG_DATABASES[@]}"; do
        pg_psql -d postgres -v db="$db" <<'SQL' >/dev/null
SELECT format('CREATE DATABASE %I OWNER crm', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
    done
}

pg_up() {
    ensure_postgres
    if pg_running && pg_ready; then
        log "postgres: already running (pid $(head -n1 "$PG_DATA/postmaster.pid"))"
        # Settings that need no restart (synchronous_commit, logging) apply at once.
        pg_configure
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
    else
        if ! pg_running; then
            require_free_port "$PG_PORT" postgres
        fi
        pg_prepare_dirs
        pg_init
        pg_configure
        if ! pg_running; then
            log "postgres: starting"
            # pg_ctl itself discards a stale postmaster.pid whose process is gone.
            as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
                { tail -n 20 "$PG_LOG" >&2; die "postgres: start failed, see $PG_LOG"; }
        fi
        wait_until 60 "" pg_ready || die "postgres: not accepting connections after 60s"
    fi
    pg_provision
    log "postgres: ready on 127.0.0.1:$PG_PORT (role crm, databases ${PG_DATABASES[*]})"
}

pg_down() {
    if [[ -x $PG_BIN/pg_ctl && -f $PG_DATA/PG_VERSION ]] && pg_running; then
        log "postgres: stopping (fast)"
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
        log "postgres: stopped"
    else
        log "postgres: not running"
    fi
}

pg_status() {
    if [[ -f $PG_DATA/PG_VERSION ]] && pg_running; then
        local state=NOT\ READY
        pg_ready && state=ready
        echo "postgres  running  pid $(head -n1 "$PG_DATA/postmaster.pid")  127.0.0.1:$PG_PORT  $state"
    else
        echo "postgres  stopped"
    fi
}

# ---------------------------------------------------------------------------------------------
# FerretDB 1.24 (MongoDB wire protocol on SQLite), embedded in deploy/local/ferretdb
# ---------------------------------------------------------------------------------------------

ensure_go() {
    command -v go >/dev/null || die "Go 1.24+ is needed to build FerretDB (Debian's golang is too old)"
    local v
    v=$(go env GOVERSION)
    v=${v#go}
    local major=${v%%.*} minor
    minor=${v#*.}
    minor=${minor%%.*}
    ((major > 1 || minor >= 24)) || die "Go 1.24+ is needed to build FerretDB, found $v"
}

# Rebuilt only when the binary is missing or older than our sources; Go caches modules and builds.
ferret_build() {
    if [[ -x $FERRET_BIN && ! $FERRET_BIN -ot $FERRET_SRC/main.go &&
        ! $FERRET_BIN -ot $FERRET_SRC/go.mod && ! $FERRET_BIN -ot $FERRET_SRC/go.sum ]]; then
        return 0
    fi
    ensure_go
    log "ferretdb: building $FERRET_BIN (about 2 minutes with a cold Go cache)"
    mkdir -p "$(dirname "$FERRET_BIN")"
    # Pure-Go SQLite: no C compiler needed. No VCS stamping: the module sits inside our git repo.
    (cd "$FERRET_SRC" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
        go build -trimpath -o "$FERRET_BIN.tmp" .) || die "ferretdb: go build failed"
    mv "$FERRET_BIN.tmp" "$FERRET_BIN"
    log "ferretdb: built"
}

ferret_ready() { "$(python_bin)" "$HERE/probe.py" mongo "mongodb://127.0.0.1:$MONGO_PORT"; }

ferret_up() {
    local pid rc=0
    if pid=$(find_ours "$FERRET_PID" "$FERRET_BIN" "$MONGO_PORT"); then
        log "ferretdb: already running (pid $pid)"
    else
        require_free_port "$MONGO_PORT" ferretdb
        ferret_build
        mkdir -p "$FERRET_DATA"
        # Log level error: at warn FerretDB logs every client's endSessions (unsupported, harmless).
        pid=$(spawn "$FERRET_HOME/ferretdb.log" "$FERRET_BIN" \
            -listen-addr "127.0.0.1:$MONGO_PORT" -data-dir "$FERRET_DATA" -log-level error)
        echo "$pid" >"$FERRET_PID"
        log "ferretdb: started (pid $pid)"
    fi
    wait_until 30 "$pid" ferret_ready || rc=$?
    if ((rc != 0)); then
        tail -n 20 "$FERRET_HOME/ferretdb.log" >&2 || true
        die "ferretdb: $( ((rc == 2)) && echo "process exited" || echo "not ready after 30s")"
    fi
    log "ferretdb: ready on 127.0.0.1:$MONGO_PORT ($READY_DETAIL)"
}

ferret_down() {
    local pid
    if pid=$(find_ours "$FERRET_PID" "$FERRET_BIN" "$MONGO_PORT"); then
        log "ferretdb: stopping (pid $pid)"
        stop_pid "$pid" ferretdb 15
        log "ferretdb: stopped"
    else
        log "ferretdb: not running"
    fi
    rm -f "$FERRET_PID"
}

ferret_status() {
    local pid
    if pid=$(find_ours "$FERRET_PID" "$FERRET_BIN" "$MONGO_PORT"); then
        local state=NOT\ READY
        ferret_ready >/dev/null 2>&1 && state=ready
        echo "ferretdb  running  pid $pid  127.0.0.1:$MONGO_PORT  $state"
    else
        echo "ferretdb  stopped"
    fi
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

write_env() {
    cat >"$ENV_FILE" <<EOF
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
POSTGRES_URL=postgresql://crm:crm@127.0.0.1:$PG_PORT
MONGODB_URL=mongodb://127.0.0.1:$MONGO_PORT
EOF
    if [[ $(<"$MODE_FILE") == local ]]; then
        # The SASL_SSL listener: SCRAM users' passwords are the files in KAFKA_USERS_DIR.
        cat >>"$ENV_FILE" <<EOF
KAFKA_SASL_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_SASL_PORT
KAFKA_SSL_CAFILE=$KAFKA_TLS/ca.pem
KAFKA_USERS_DIR=$KAFKA_USERS
EOF
    fi
    cat "$ENV_FILE"
}

cmd_up() {
    mkdir -p "$LOCAL" "$RUN_DIR"
    if use_docker; then
        log "docker engine found: docker compose up kafka postgres mongodb"
        compose up -d --wait kafka postgres mongodb
        echo docker >"$MODE_FILE"
    else
        ensure_base_tools
        # PostgreSQL first: it is the quickest, and a later failure leaves something useful up.
        pg_up
        kafka_up
        ferret_up
        echo local >"$MODE_FILE"
    fi
    log "all up"
    write_env
}

cmd_down() {
    if use_docker; then
        compose stop kafka postgres mongodb
    else
        ferret_down
        kafka_down
        pg_down
    fi
}

cmd_clean() {
    if use_docker; then
        compose rm --stop --force kafka postgres mongodb
        docker volume rm -f crm_kafka-data crm_postgres-data crm_mongodb-data >/dev/null
    else
        cmd_down
    fi
    log "deleting data: $KAFKA_DATA $KAFKA_USERS $PG_HOME $FERRET_HOME"
    # Only our own files: .local/run and .local also hold other tools' state (services.sh, jwt keys).
    rm -rf "$KAFKA_DATA" "$KAFKA_USERS" "$PG_HOME" "$FERRET_HOME" "$ENV_FILE" "$MODE_FILE"
    rm -f "$KAFKA_PID" "$FERRET_PID"
    [[ $PG_SOCKET_DIR == "$PG_HOME"/* ]] || rm -rf "$PG_SOCKET_DIR"
}

cmd_status() {
    if use_docker; then
        compose ps kafka postgres mongodb
    else
        pg_status
        kafka_status
        ferret_status
    fi
}

cmd_env() {
    [[ -f $ENV_FILE ]] || die "no $ENV_FILE: run '$0 up' first"
    cat "$ENV_FILE"
}

main() {
    case ${1:-} in
        up) cmd_up ;;
        down) cmd_down ;;
        clean) cmd_clean ;;
        status) cmd_status ;;
        env) cmd_env ;;
        *)
            echo "usage: $0 {up|down|clean|status|env}" >&2
            exit 2
            ;;
    esac
}

main "$@"
