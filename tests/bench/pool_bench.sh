#!/usr/bin/env bash
# Pool acceptance benchmark (issue "Pool"): a connection storm, a concurrency spike and
# 10,000 idle client connections through Sluice, whose pool caps the primary at 50 backend
# connections. Run by hand, not in CI. It starts its own fleet (primary max_connections 100)
# and a fresh Sluice per scenario on 127.0.0.1, and stops them on exit.
#
#   tests/bench/pool_bench.sh [--quick] [--out DIR] [--no-build]
#
#   --quick      smaller sizes (200 storm clients, spike to 100, 1,000 idle): under a minute
#   --out DIR    output directory (default: a new /tmp/sluice-pool-bench.XXXXXX); the table is
#                written to DIR/pool-results.txt, raw connload JSON and logs beside it
#   --no-build   use what is already built (SLUICE=..., CONNLOAD=... or BUILD_DIR)
#
# Scenarios (each bounded in count and time):
#   storm  STORM_CLIENTS clients connect at once and each runs STORM_STATEMENTS autocommit
#          point selects; through Sluice (cap 50), then straight to MariaDB (max_connections
#          100) with Sluice stopped. While the storm runs through Sluice, a root session
#          counts the primary's connections of user app every 50 ms; Max_used_connections
#          is read after a FLUSH STATUS taken just before the storm.
#   spike  SPIKE_BASE clients run point selects in a loop; after SPIKE_WARM s the clients grow
#          to SPIKE_PEAK within SPIKE_RAMP s and stay SPIKE_SECONDS s. Statement latency
#          before/during, and stats_mysql_connection_pool (admin port) sampled every 250 ms:
#          Queue, Queue_wait_p50_us, Queue_wait_p99_us, Exhausted when the columns exist.
#   scale  IDLE_CLIENTS connections through Sluice (connload hold: non-blocking API, one
#          thread), each authenticated and ran one statement, then held idle; Sluice's VmRSS
#          before and while they are held gives bytes per idle client connection.
#
# Targets checked (PASS/FAIL): storm through Sluice without a failed statement; primary
# connections from Sluice <= cap; storm connect p95 < 600 ms; spike without errors; idle
# client connection <= 16 KiB of Sluice RSS.
#
# Environment (defaults in brackets; --quick values after the slash):
#   POOL_BENCH_BASE_PORT [33100]  fleet primary port; Sluice = +11, its admin = +12
#   POOL_BENCH_THREADS [2]        Sluice mysql-threads
#   POOL_BENCH_CAP [50]           mysql_servers.max_connections of the primary
#   POOL_BENCH_PRIMARY_MAX [100]  the primary's max_connections
#   STORM_CLIENTS [2000/200]  STORM_STATEMENTS [20]
#   SPIKE_BASE [10]  SPIKE_PEAK [1000/100]  SPIKE_WARM [3/2]  SPIKE_RAMP [1]
#   SPIKE_SECONDS [4/2]
#   IDLE_CLIENTS [10000/1000]  IDLE_HOLD [5/3] seconds (>= 3: the readings take 1.5 s)
#   BUILD_DIR [build]  SLUICE, CONNLOAD  paths to prebuilt binaries (override BUILD_DIR)
#
# Full run: about a minute on a 2-core machine (--quick: under 30 s).
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd -P)
FLEET_SH=$SRC/tests/fleet.sh
PY=/usr/bin/python3

# shellcheck source=tests/bench/lib.sh
. "$SRC/tests/bench/lib.sh"
bench_args pool_bench.sh "$@"

q_or_full() { # QUICK-VALUE FULL-VALUE
    if ((QUICK)); then echo "$1"; else echo "$2"; fi
}

BASE_PORT=${POOL_BENCH_BASE_PORT:-33100}
SLUICE_THREADS=${POOL_BENCH_THREADS:-2}
CAP=${POOL_BENCH_CAP:-50}
PRIMARY_MAX=${POOL_BENCH_PRIMARY_MAX:-100}
STORM_CLIENTS=${STORM_CLIENTS:-$(q_or_full 200 2000)}
STORM_STATEMENTS=${STORM_STATEMENTS:-20}
SPIKE_BASE=${SPIKE_BASE:-10}
SPIKE_PEAK=${SPIKE_PEAK:-$(q_or_full 100 1000)}
SPIKE_WARM=${SPIKE_WARM:-$(q_or_full 2 3)}
SPIKE_RAMP=${SPIKE_RAMP:-1}
SPIKE_SECONDS=${SPIKE_SECONDS:-$(q_or_full 2 4)}
IDLE_CLIENTS=${IDLE_CLIENTS:-$(q_or_full 1000 10000)}
IDLE_HOLD=${IDLE_HOLD:-$(q_or_full 3 5)}
BUILD_DIR=${BUILD_DIR:-$SRC/build}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR=$SRC/$BUILD_DIR

HOST=127.0.0.1
SLUICE_PORT=$((BASE_PORT + 11))
ADMIN_PORT=$((BASE_PORT + 12))
QUERY="SELECT v FROM pool_bench WHERE id = 42"
P95_CONNECT_TARGET_MS=600
IDLE_BYTES_TARGET=16384

if ((CAP > PRIMARY_MAX)); then
    echo "pool_bench.sh: POOL_BENCH_CAP ($CAP) must not exceed POOL_BENCH_PRIMARY_MAX ($PRIMARY_MAX)" >&2
    exit 2
fi

if [[ -z "$OUT" ]]; then
    OUT=$(mktemp -d /tmp/sluice-pool-bench.XXXXXX)
else
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd -P)
fi
RESULTS=$OUT/pool-results.txt
LOGS=$OUT/logs
mkdir -p "$LOGS"

log() { echo "pool_bench.sh: $*" >&2; }
die() {
    echo "pool_bench.sh: error: $*" >&2
    exit 1
}

# ---- cleanup ---------------------------------------------------------------------------

SLUICE_PID=""
FLEET_DIR=$OUT/fleet
FLEET_STARTED=0
BG_PIDS=() # samplers and background connload runs

stop_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

sluice_stop() {
    [[ -n "$SLUICE_PID" ]] || return 0
    stop_pid "$SLUICE_PID"
    SLUICE_PID=""
}

cleanup() {
    trap - EXIT INT TERM
    stop_bg
    sluice_stop
    if ((FLEET_STARTED)); then
        "$FLEET_SH" stop "$FLEET_DIR" || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ---------------------------------------------------------------------

# Every client connection takes a descriptor in connload and one in Sluice.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [[ "$NOFILE" != unlimited ]] && ((NOFILE < IDLE_CLIENTS + 1000)); then
    log "ulimit -n is $NOFILE (hard limit); idle clients reduced from $IDLE_CLIENTS to $((NOFILE - 1000))"
    IDLE_CLIENTS=$((NOFILE - 1000))
fi
for tool in mariadb "$PY"; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x "$FLEET_SH" ]] || die "$FLEET_SH not found or not executable"

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for p in "$SLUICE_PORT" "$ADMIN_PORT"; do
    port_in_use "$p" && die "port $p on $HOST is already in use (set POOL_BENCH_BASE_PORT)"
done

# ---- build -----------------------------------------------------------------------------

if ((!NO_BUILD)); then
    if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
        log "configuring $BUILD_DIR (buildtype=release)"
        meson setup "$BUILD_DIR" "$SRC" --buildtype=release >"$LOGS/meson-setup.log" 2>&1 ||
            die "meson setup failed (see $LOGS/meson-setup.log)"
    fi
    log "building sluice and connload in $BUILD_DIR"
    ninja -C "$BUILD_DIR" sluice tests/bench/connload >"$LOGS/build.log" 2>&1 ||
        die "build failed (see $LOGS/build.log)"
fi
SLUICE=${SLUICE:-$BUILD_DIR/sluice}
CONNLOAD=${CONNLOAD:-$BUILD_DIR/tests/bench/connload}
[[ -x "$SLUICE" ]] || die "no sluice binary at $SLUICE"
[[ -x "$CONNLOAD" ]] || die "no connload binary at $CONNLOAD"

# ---- fleet -----------------------------------------------------------------------------

log "starting fleet in $FLEET_DIR (primary port $BASE_PORT, max_connections $PRIMARY_MAX)"
FLEET_STARTED=1
"$FLEET_SH" start "$FLEET_DIR" --base-port "$BASE_PORT" --replicas 0 \
    --primary-max-connections "$PRIMARY_MAX" >"$LOGS/fleet-start.log" 2>&1 ||
    die "fleet start failed (see $LOGS/fleet-start.log)"
# shellcheck disable=SC1091
source "$FLEET_DIR/fleet.env"
PRIMARY_PORT=$FLEET_PRIMARY_PORT

# root over TCP; one statement per call
root_sql() {
    mariadb --no-defaults --skip-ssl --protocol=tcp -h "$HOST" -P "$PRIMARY_PORT" \
        -u "$FLEET_ROOT_USER" -p"$FLEET_ROOT_PASSWORD" --connect-timeout=5 -N -B -e "$1"
}

admin_sql() {
    mariadb --no-defaults --skip-ssl --protocol=tcp -h "$HOST" -P "$ADMIN_PORT" -u admin \
        -padmin --connect-timeout=2 -B -e "$1"
}

probe() {
    mariadb --no-defaults --skip-ssl --protocol=tcp -h "$HOST" -P "$1" -u "$FLEET_APP_USER" \
        -p"$FLEET_APP_PASSWORD" --connect-timeout=3 -N -B -e 'SELECT 1' >/dev/null 2>&1
}

log "creating app.pool_bench (1,000 rows)"
root_sql "CREATE TABLE IF NOT EXISTS app.pool_bench (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL)
    ENGINE=InnoDB; INSERT IGNORE INTO app.pool_bench SELECT seq, CONCAT('row-', seq)
    FROM app.seq_1_to_1000" || die "cannot create app.pool_bench"

# ---- Sluice ----------------------------------------------------------------------------

# sluice_start NAME: a fresh Sluice (own datadir) for one scenario; dies when it won't come up.
sluice_start() {
    local name=$1 dir=$OUT/sluice-$1 i
    rm -rf "$dir"
    mkdir -p "$dir/data"
    cat >"$dir/config.sql" <<EOF
INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) VALUES (0,'$HOST',$PRIMARY_PORT,$CAP);
INSERT INTO mysql_users (username, password, default_hostgroup, default_schema, max_connections) VALUES ('$FLEET_APP_USER','$FLEET_APP_PASSWORD',0,'app',20000);
INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES
 ('mysql-interfaces','$HOST:$SLUICE_PORT'), ('admin-mysql_ifaces','$HOST:$ADMIN_PORT'),
 ('mysql-threads','$SLUICE_THREADS'), ('mysql-max_connections','20000'),
 ('mysql-monitor_username','$FLEET_MONITOR_USER'), ('mysql-monitor_password','$FLEET_MONITOR_PASSWORD'),
 ('admin-restapi_enabled','false');
EOF
    "$SLUICE" --datadir "$dir/data" --config "$dir/config.sql" --foreground \
        >"$LOGS/sluice-$name.log" 2>&1 &
    SLUICE_PID=$!
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SLUICE_PID" 2>/dev/null || break
        probe "$SLUICE_PORT" && return 0
        sleep 0.1
    done
    tail -n 15 "$LOGS/sluice-$name.log" | sed 's/^/    sluice.log: /' >&2
    die "sluice ($name) did not answer SELECT 1 on port $SLUICE_PORT within 10 s"
}

sluice_rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SLUICE_PID/status" 2>/dev/null || echo n/a
}

sluice_alive() {
    [[ -n "$SLUICE_PID" ]] && kill -0 "$SLUICE_PID" 2>/dev/null
}

# ---- JSON helpers ----------------------------------------------------------------------

# jget FILE KEY[.KEY...] -> value of the first JSON line, n/a when missing or null
jget() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        line = next(l for l in f if l.startswith("{"))
    v = json.loads(line)
    for k in sys.argv[2].split("."):
        v = v[k]
    if v is None:
        raise KeyError
    print(round(v, 1) if isinstance(v, float) else v)
except Exception:
    print("n/a")
EOF
}

# jerrs FILE KEY... -> "1040 x 1850, 2013 x 150" summed over the given error objects, or none
jerrs() {
    "$PY" - "$@" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        line = next(l for l in f if l.startswith("{"))
    d = json.loads(line)
except Exception:
    print("n/a")
    sys.exit(0)
tot = {}
for k in sys.argv[2:]:
    for code, n in (d.get(k) or {}).items():
        tot[code] = tot.get(code, 0) + n
print(", ".join("%s x %d" % (c, n) for c, n in sorted(tot.items(), key=lambda x: -x[1]))
      or "none")
EOF
}

# The JSON line counts errors by code; connload writes the first message of each code to
# its stderr, NAME.err.
run_connload() { # NAME TIMEOUT ARGS... -> JSON line in $LOGS/NAME.json, stderr in NAME.err
    local name=$1 tmo=$2
    shift 2
    timeout "$tmo" "$CONNLOAD" "$@" --host "$HOST" --user "$FLEET_APP_USER" \
        --password "$FLEET_APP_PASSWORD" --db app --query "$QUERY" --label "$name" --json \
        >"$LOGS/$name.json" 2>"$LOGS/$name.err"
    local rc=$?
    if ((rc == 124)); then
        log "  $name: connload hit its ${tmo} s time limit"
    fi
    return 0
}

# ---- scenario 1: storm -----------------------------------------------------------------

# processlist sampler: one root session, a count of app's connections every ~50 ms
PL_STOP=$OUT/sampler.stop
pl_sampler_start() { # OUTFILE
    rm -f "$PL_STOP"
    (
        for ((i = 0; i < 20 * 600; i++)); do
            [[ -e "$PL_STOP" ]] && break
            echo "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='$FLEET_APP_USER';"
            sleep 0.05
        done
    ) | mariadb --no-defaults --skip-ssl --protocol=tcp -h "$HOST" -P "$PRIMARY_PORT" \
        -u "$FLEET_ROOT_USER" -p"$FLEET_ROOT_PASSWORD" -N -B -n >"$1" 2>"$1.err" &
    BG_PIDS+=($!)
}
pl_sampler_stop() {
    touch "$PL_STOP"
    stop_bg
}

storm_timeout=$((60 + STORM_CLIENTS / 20))
log "storm through Sluice: $STORM_CLIENTS clients x $STORM_STATEMENTS statements, cap $CAP"
sluice_start storm # its start-up probe leaves one backend connection in the pool
pl_sampler_start "$OUT/storm-processlist.txt"
sleep 0.3
root_sql "FLUSH STATUS" || log "FLUSH STATUS failed"
run_connload storm-sluice "$storm_timeout" storm --port "$SLUICE_PORT" \
    --clients "$STORM_CLIENTS" --statements "$STORM_STATEMENTS" --connect-timeout 10 \
    --read-timeout 30
sleep 0.2
pl_sampler_stop
STORM_MAX_USED=$(root_sql "SHOW GLOBAL STATUS LIKE 'Max_used_connections'" | awk '{ print $2 }')
STORM_PL_MAX=$(sort -n "$OUT/storm-processlist.txt" | tail -n 1)
STORM_PL_N=$(grep -c . "$OUT/storm-processlist.txt")
STORM_SLUICE_ALIVE=yes
sluice_alive || STORM_SLUICE_ALIVE="no (see $LOGS/sluice-storm.log)"
sluice_stop

log "storm straight to MariaDB (max_connections $PRIMARY_MAX), Sluice stopped"
run_connload storm-direct "$storm_timeout" storm --port "$PRIMARY_PORT" \
    --clients "$STORM_CLIENTS" --statements "$STORM_STATEMENTS" --connect-timeout 10 \
    --read-timeout 30
# wait (bounded) for the server to drop the storm's sessions before the next scenario
for ((i = 0; i < 100; i++)); do
    n=$(root_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='$FLEET_APP_USER'" 2>/dev/null)
    [[ "$n" == 0 ]] && break
    sleep 0.1
done

# ---- scenario 2: spike -----------------------------------------------------------------

log "spike through Sluice: $SPIKE_BASE clients, then $SPIKE_PEAK within $SPIKE_RAMP s for $SPIKE_SECONDS s"
sluice_start spike
SPIKE_SAMPLES=$OUT/spike-admin.tsv
: >"$SPIKE_SAMPLES"
rm -f "$PL_STOP" "$LOGS/spike.err"
# admin sampler: stats_mysql_connection_pool every 250 ms, each row tagged with the phase
# connload announced on stderr (before / during / after)
(
    for ((i = 0; i < 4 * 600; i++)); do
        [[ -e "$PL_STOP" ]] && break
        phase=before
        if grep -q CONNLOAD_SPIKE_END "$LOGS/spike.err" 2>/dev/null; then
            phase=after
        elif grep -q CONNLOAD_SPIKE_START "$LOGS/spike.err" 2>/dev/null; then
            phase=during
        fi
        admin_sql "SELECT * FROM stats_mysql_connection_pool" 2>/dev/null |
            sed "s/^/$phase\t/" >>"$SPIKE_SAMPLES"
        sleep 0.25
    done
) &
BG_PIDS+=($!)
spike_timeout=$((60 + SPIKE_PEAK / 20 + ${SPIKE_WARM%.*} + ${SPIKE_SECONDS%.*}))
run_connload spike "$spike_timeout" spike --port "$SLUICE_PORT" --clients "$SPIKE_PEAK" \
    --base-clients "$SPIKE_BASE" --warm-seconds "$SPIKE_WARM" --ramp-seconds "$SPIKE_RAMP" \
    --seconds "$SPIKE_SECONDS" --connect-timeout 10 --read-timeout 30
sleep 0.5
touch "$PL_STOP"
stop_bg
SPIKE_ADMIN_FINAL=$(admin_sql "SELECT * FROM stats_mysql_connection_pool" 2>/dev/null |
    sed 's/^/final\t/')
printf '%s\n' "$SPIKE_ADMIN_FINAL" >>"$SPIKE_SAMPLES"
SPIKE_SLUICE_ALIVE=yes
sluice_alive || SPIKE_SLUICE_ALIVE="no (see $LOGS/sluice-spike.log)"
sluice_stop

# admin_col PHASE COLUMN AGG -> AGG (max or last) of COLUMN over the rows of PHASE, n/a when
# the column does not exist (columns are found by name in each sample's header line)
admin_col() {
    awk -F'\t' -v ph="$1" -v col="$2" -v agg="$3" '
        $1 != ph { next }
        $2 == "hostgroup" { idx = 0; for (i = 2; i <= NF; i++) if ($i == col) idx = i; next }
        idx > 0 { v = $idx + 0; n++; last = v; if (n == 1 || v > max) max = v }
        END { if (!n) print "n/a"; else if (agg == "max") print max; else print last }
    ' "$SPIKE_SAMPLES"
}

# ---- scenario 3: scale -----------------------------------------------------------------

log "scale: $IDLE_CLIENTS idle client connections through Sluice"
sluice_start scale
run_connload scale-warm 60 storm --port "$SLUICE_PORT" --clients 10 --statements 10
sleep 1
RSS_BEFORE=$(sluice_rss_kb)
rm -f "$LOGS/scale.err"
(run_connload scale 600 hold --port "$SLUICE_PORT" --clients "$IDLE_CLIENTS" \
    --concurrency 200 --seconds "$IDLE_HOLD" --verify --connect-timeout 20 --read-timeout 30) &
SCALE_BG=$!
BG_PIDS+=("$SCALE_BG")
RSS_HELD=n/a
SLUICE_FDS=n/a
for ((i = 0; i < 3000; i++)); do # up to 300 s to open them all
    grep -q CONNLOAD_IDLE_READY "$LOGS/scale.err" 2>/dev/null && break
    kill -0 "$SCALE_BG" 2>/dev/null || break
    sleep 0.1
done
if grep -q CONNLOAD_IDLE_READY "$LOGS/scale.err" 2>/dev/null; then
    sleep 0.5
    SLUICE_FDS=$(find "/proc/$SLUICE_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    SCALE_PRIMARY_CONNS=$(root_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='$FLEET_APP_USER'")
    # the largest of a few readings while the connections are held
    for ((i = 0; i < 3; i++)); do
        r=$(sluice_rss_kb)
        if [[ "$RSS_HELD" == n/a ]] || { [[ "$r" != n/a ]] && ((r > RSS_HELD)); }; then
            RSS_HELD=$r
        fi
        sleep 0.3
    done
else
    log "  connload never reported its connections open (see $LOGS/scale.err)"
fi
wait "$SCALE_BG" 2>/dev/null
BG_PIDS=()
sleep 3 # Sluice gives freed memory back within its 2 s housekeeping period
RSS_AFTER=$(sluice_rss_kb)
SCALE_SLUICE_ALIVE=yes
sluice_alive || SCALE_SLUICE_ALIVE="no (see $LOGS/sluice-scale.log)"
sluice_stop

# ---- report ----------------------------------------------------------------------------

check() { # VALUE OP THRESHOLD -> PASS / FAIL / n/a
    awk -v v="$1" -v op="$2" -v th="$3" 'BEGIN {
        if (v == "n/a" || v == "" || th == "n/a") { print "n/a"; exit }
        if (op == "<") ok = v + 0 < th + 0
        else if (op == "<=") ok = v + 0 <= th + 0
        else if (op == "==") ok = v + 0 == th + 0
        else ok = v + 0 >= th + 0
        print ok ? "PASS" : "FAIL" }'
}

row() { # LABEL SLUICE DIRECT [TARGET VERDICT]
    printf '  %-40s %14s %14s   %-12s %s\n' "$1" "$2" "$3" "${4:-}" "${5:-}"
}

S=$LOGS/storm-sluice.json
D=$LOGS/storm-direct.json
SP=$LOGS/spike.json
SC=$LOGS/scale.json
storm_total=$((STORM_CLIENTS * STORM_STATEMENTS))
s_ok=$(jget "$S" statements_ok)
s_fail=$(awk -v a="$s_ok" -v t="$storm_total" 'BEGIN { if (a == "n/a") print "n/a"; else print t - a }')
d_ok=$(jget "$D" statements_ok)
d_fail=$(awk -v a="$d_ok" -v t="$storm_total" 'BEGIN { if (a == "n/a") print "n/a"; else print t - a }')
s_p95=$(jget "$S" connect_ms.p95)
sp_err=$(jget "$SP" errors)
sp_ok=$(jget "$SP" statements_ok)
idle_opened=$(jget "$SC" opened)
bytes_per=$(awk -v a="$RSS_BEFORE" -v b="$RSS_HELD" -v n="$idle_opened" 'BEGIN {
    if (a == "n/a" || b == "n/a" || n == "n/a" || n + 0 == 0) print "n/a"
    else printf "%.0f\n", (b - a) * 1024 / n }')
# the FLUSH STATUS session, the root sampler and Sluice's monitor may count beside the cap
MAX_USED_LIMIT=$((CAP + 3))

{
    echo "Sluice pool benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')  git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')$( ((QUICK)) && echo '  (--quick)')"
    echo "machine: $(nproc) cores, $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(mariadb --version | sed 's/^.*Distrib //; s/,.*//') server; ulimit -n $NOFILE"
    echo "settings: Sluice cap $CAP on a primary with max_connections $PRIMARY_MAX, $SLUICE_THREADS Sluice threads, mysql-max_connections 20000;"
    echo "          statement: $QUERY (autocommit); output dir: $OUT"
    echo
    printf '  %-40s %14s %14s   %-12s %s\n' "" sluice direct target verdict
    echo "1. storm: $STORM_CLIENTS clients connect at once, $STORM_STATEMENTS statements each"
    row "statements ok" "$s_ok" "$d_ok"
    row "statements failed or not run" "$s_fail" "$d_fail" "0" "$(check "$s_fail" == 0)"
    row "clients connected" "$(jget "$S" connected)" "$(jget "$D" connected)"
    row "total time (s)" "$(jget "$S" total_s)" "$(jget "$D" total_s)"
    row "connect p50 (ms)" "$(jget "$S" connect_ms.p50)" "$(jget "$D" connect_ms.p50)"
    row "connect p95 (ms)" "$s_p95" "$(jget "$D" connect_ms.p95)" "< $P95_CONNECT_TARGET_MS" "$(check "$s_p95" "<" "$P95_CONNECT_TARGET_MS")"
    row "connect p99 (ms)" "$(jget "$S" connect_ms.p99)" "$(jget "$D" connect_ms.p99)"
    row "statement p50 (ms)" "$(jget "$S" statement_ms.p50)" "$(jget "$D" statement_ms.p50)"
    row "statement p99 (ms)" "$(jget "$S" statement_ms.p99)" "$(jget "$D" statement_ms.p99)"
    row "primary conns of app, max of samples" "${STORM_PL_MAX:-n/a}" "" "<= $CAP" "$(check "${STORM_PL_MAX:-n/a}" "<=" "$CAP")"
    row "  (processlist samples taken)" "$STORM_PL_N" ""
    row "primary Max_used_connections" "${STORM_MAX_USED:-n/a}" "" "<= $MAX_USED_LIMIT" "$(check "${STORM_MAX_USED:-n/a}" "<=" "$MAX_USED_LIMIT")"
    echo "  errors by code, sluice: $(jerrs "$S" connect_errors_by_code statement_errors_by_code)"
    echo "  errors by code, direct: $(jerrs "$D" connect_errors_by_code statement_errors_by_code)"
    echo "  sluice still running after the storm: $STORM_SLUICE_ALIVE"
    echo
    echo "2. spike: $SPIKE_BASE clients, then $SPIKE_PEAK within $SPIKE_RAMP s for $SPIKE_SECONDS s (through Sluice)"
    row "clients connected" "$(jget "$SP" connected)" ""
    row "statements ok" "$sp_ok" ""
    row "errors (connect + statement)" "$sp_err" "" "0" "$(check "$sp_err" == 0)"
    row "statement p50 before / during (ms)" "$(jget "$SP" before_ms.p50) / $(jget "$SP" during_ms.p50)" ""
    row "statement p99 before / during (ms)" "$(jget "$SP" before_ms.p99) / $(jget "$SP" during_ms.p99)" ""
    row "throughput before / during (stmt/s)" "$(jget "$SP" qps_before) / $(jget "$SP" qps_during)" ""
    row "late clients' connect p95 (ms)" "$(jget "$SP" spike_connect_ms.p95)" ""
    row "Queue, max during the spike" "$(admin_col during Queue max)" ""
    row "Queue_wait_p50_us, last during / final" "$(admin_col during Queue_wait_p50_us last) / $(admin_col final Queue_wait_p50_us last)" ""
    row "Queue_wait_p99_us, last during / final" "$(admin_col during Queue_wait_p99_us last) / $(admin_col final Queue_wait_p99_us last)" ""
    row "Exhausted, last during / final" "$(admin_col during Exhausted last) / $(admin_col final Exhausted last)" ""
    row "MaxConnUsed (final)" "$(admin_col final MaxConnUsed last)" "" "<= $CAP" "$(check "$(admin_col final MaxConnUsed last)" "<=" "$CAP")"
    echo "  errors by code: $(jerrs "$SP" connect_errors_by_code statement_errors_by_code)"
    echo "  admin samples: $(grep -c "^during"$'\t'hostgroup "$SPIKE_SAMPLES") during the spike; sluice still running after it: $SPIKE_SLUICE_ALIVE"
    echo
    echo "3. scale: $IDLE_CLIENTS idle client connections through Sluice (each authenticated, ran one statement)"
    row "connections opened" "$idle_opened" ""
    row "alive at the end (ping)" "$(jget "$SC" alive_at_end)" "" "$idle_opened" "$(check "$(jget "$SC" alive_at_end)" == "$idle_opened")"
    row "open time (s)" "$(jget "$SC" open_s)" ""
    row "connect p50 / p99 (ms)" "$(jget "$SC" connect_ms.p50) / $(jget "$SC" connect_ms.p99)" ""
    row "Sluice VmRSS before (KiB)" "$RSS_BEFORE" ""
    row "Sluice VmRSS while held (KiB)" "$RSS_HELD" ""
    rss_limit=n/a
    [[ "$RSS_BEFORE" =~ ^[0-9]+$ ]] && rss_limit=$((RSS_BEFORE + 8192))
    row "Sluice VmRSS after close (KiB)" "$RSS_AFTER" "" "<= $rss_limit" "$(check "$RSS_AFTER" "<=" "$rss_limit")"
    row "bytes per idle client connection" "$bytes_per" "" "<= $IDLE_BYTES_TARGET" "$(check "$bytes_per" "<=" "$IDLE_BYTES_TARGET")"
    row "Sluice open descriptors while held" "$SLUICE_FDS" ""
    row "primary conns of app while held" "${SCALE_PRIMARY_CONNS:-n/a}" ""
    row "connload RSS while holding (KiB)" "$(jget "$SC" self_rss_kb)" ""
    echo "  errors by code: $(jerrs "$SC" connect_errors_by_code statement_errors_by_code ping_errors_by_code)"
    echo "  sluice still running after it: $SCALE_SLUICE_ALIVE"
    echo
    echo "Raw connload JSON and logs: $LOGS"
} | tee "$RESULTS"
echo
log "results written to $RESULTS"
