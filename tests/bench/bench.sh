#!/usr/bin/env bash
# Throughput and latency benchmark: MariaDB directly vs HAProxy (mode tcp) vs Sluice.
# Run by hand, not in CI. It starts its own fleet, HAProxy and Sluice on 127.0.0.1 and
# stops them on exit.
#
#   tests/bench/bench.sh [--quick] [--out DIR] [--no-build]
#
#   --quick      1 repeat, 5 s per run (smoke test, about 3 minutes)
#   --out DIR    output directory (default: a new /tmp/sluice-bench.XXXXXX); the table and
#                every raw figure are written to DIR/bench-results.txt
#   --no-build   use what is already built (SLUICE=..., CONNLOAD=... or BUILD_DIR)
#
# Workloads, each run against the three targets interleaved (target order rotates per
# repeat), BENCH_REPEATS times, reporting the median:
#   sysbench oltp_point_select and oltp_read_only at 1, 8 and 64 threads (user app, sbtest)
#   connect-per-request (connload cpr: connect, SELECT 1, close) at 8 and 64 clients
#   SELECT 1 round trip on one persistent connection (connload latency)
#
# Environment (defaults in brackets):
#   BENCH_BASE_PORT [23000]  fleet primary port; HAProxy = +10, Sluice = +11, admin = +12
#   BENCH_REPEATS [3]        BENCH_TIME [10] seconds per run   BENCH_LAT_TIME [5]
#   BENCH_PS_MODE [auto]     sysbench --db-ps-mode (auto = server-side prepared statements)
#   BENCH_TABLES [4]         BENCH_TABLE_SIZE [10000]
#   BENCH_POOL [64]          Sluice mysql_servers.max_connections for the primary
#   BENCH_PRIMARY_MAX [500]  primary max_connections (must be >= BENCH_POOL)
#   BENCH_THREADS [1]        proxy threads: Sluice mysql-threads and HAProxy nbthread alike
#                            (on 2 cores shared with sysbench and MariaDB, one proxy thread
#                            measured faster than two for both proxies)
#   BENCH_REPLICAS [0]       replicas in the fleet (unused by the workloads)
#   BENCH_TARGETS ["direct haproxy sluice"]
#   BUILD_DIR [build]        meson build dir; configured with buildtype=release if absent
#   SLUICE, CONNLOAD         paths to prebuilt binaries (override BUILD_DIR)
#
# A missing or failing Sluice does not abort the run: its column shows n/a and the reason
# is printed. Default run time is about 14 minutes on a 2-core machine.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd -P)
FLEET_SH=$SRC/tests/fleet.sh

# shellcheck source=tests/bench/lib.sh
. "$SRC/tests/bench/lib.sh"
bench_args bench.sh "$@"

BASE_PORT=${BENCH_BASE_PORT:-23000}
REPEATS=${BENCH_REPEATS:-3}
RUN_TIME=${BENCH_TIME:-10}
LAT_TIME=${BENCH_LAT_TIME:-5}
if ((QUICK)); then
    REPEATS=1
    RUN_TIME=5
    LAT_TIME=5
fi
PS_MODE=${BENCH_PS_MODE:-auto}
TABLES=${BENCH_TABLES:-4}
TABLE_SIZE=${BENCH_TABLE_SIZE:-10000}
POOL=${BENCH_POOL:-64}
PRIMARY_MAX=${BENCH_PRIMARY_MAX:-500}
SLUICE_THREADS=${BENCH_THREADS:-1}
PROXY_THREADS=$SLUICE_THREADS
REPLICAS=${BENCH_REPLICAS:-0}
read -r -a TARGETS <<<"${BENCH_TARGETS:-direct haproxy sluice}"
BUILD_DIR=${BUILD_DIR:-$SRC/build}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR=$SRC/$BUILD_DIR

HAPROXY_PORT=$((BASE_PORT + 10))
SLUICE_PORT=$((BASE_PORT + 11))
SLUICE_ADMIN_PORT=$((BASE_PORT + 12))
HOST=127.0.0.1

if ((POOL > PRIMARY_MAX)); then
    echo "bench.sh: BENCH_POOL ($POOL) must not exceed BENCH_PRIMARY_MAX ($PRIMARY_MAX)" >&2
    exit 2
fi

if [[ -z "$OUT" ]]; then
    OUT=$(mktemp -d /tmp/sluice-bench.XXXXXX)
else
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd -P)
fi
RESULTS=$OUT/bench-results.txt
RAW=$OUT/raw.tsv
LOGS=$OUT/logs
mkdir -p "$LOGS"
: >"$RAW"

log() { echo "bench.sh: $*" >&2; }
die() {
    echo "bench.sh: error: $*" >&2
    exit 1
}

# ---- cleanup ---------------------------------------------------------------------------

HAPROXY_PIDFILE=$OUT/haproxy.pid
SLUICE_PID=""
FLEET_DIR=$OUT/fleet
FLEET_STARTED=0

cleanup() {
    local pid
    trap - EXIT INT TERM
    if [[ -s "$HAPROXY_PIDFILE" ]]; then
        while read -r pid; do
            [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null
        done <"$HAPROXY_PIDFILE"
        rm -f "$HAPROXY_PIDFILE"
    fi
    if [[ -n "$SLUICE_PID" ]] && kill -0 "$SLUICE_PID" 2>/dev/null; then
        stop_pid "$SLUICE_PID"
    fi
    if ((FLEET_STARTED)); then
        "$FLEET_SH" stop "$FLEET_DIR" || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ---------------------------------------------------------------------

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for tool in sysbench haproxy mariadb gcc pkg-config; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install sysbench haproxy mariadb-client gcc pkg-config libmariadb-dev)"
done
[[ -x "$FLEET_SH" ]] || die "$FLEET_SH not found or not executable"

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for p in "$HAPROXY_PORT" "$SLUICE_PORT" "$SLUICE_ADMIN_PORT"; do
    port_in_use "$p" && die "port $p on $HOST is already in use (set BENCH_BASE_PORT)"
done

# ---- build -----------------------------------------------------------------------------

SLUICE_NA_REASON=""
if ((!NO_BUILD)); then
    if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
        log "configuring $BUILD_DIR (buildtype=release)"
        fresh=0
        [[ -e "$BUILD_DIR" ]] || fresh=1
        if ! meson setup "$BUILD_DIR" "$SRC" --buildtype=release >"$LOGS/meson-setup.log" 2>&1; then
            log "meson setup failed (see $LOGS/meson-setup.log)"
            # leave no half-configured build directory behind
            if ((fresh)); then rm -rf "$BUILD_DIR"; fi
        fi
    fi
    if [[ -f "$BUILD_DIR/build.ninja" ]]; then
        log "building sluice and connload in $BUILD_DIR"
        ninja -C "$BUILD_DIR" sluice >"$LOGS/build-sluice.log" 2>&1 ||
            log "building sluice failed (see $LOGS/build-sluice.log)"
        ninja -C "$BUILD_DIR" tests/bench/connload >"$LOGS/build-connload.log" 2>&1 ||
            log "building connload with ninja failed (see $LOGS/build-connload.log)"
    fi
fi
SLUICE=${SLUICE:-$BUILD_DIR/sluice}
CONNLOAD=${CONNLOAD:-$BUILD_DIR/tests/bench/connload}
if [[ ! -x "$CONNLOAD" ]]; then
    CONNLOAD=$OUT/connload
    log "compiling connload directly into $CONNLOAD"
    # shellcheck disable=SC2046
    gcc -O2 -Wall -Wextra $(pkg-config --cflags libmariadb) "$SRC/tests/bench/connload.c" \
        "$SRC/tests/bench/connload_hold.c" \
        $(pkg-config --libs libmariadb) -lpthread -o "$CONNLOAD" || die "cannot build connload"
fi
if [[ ! -x "$SLUICE" ]]; then
    SLUICE_NA_REASON="no sluice binary at $SLUICE"
fi

# ---- fleet -----------------------------------------------------------------------------

log "starting fleet in $FLEET_DIR (primary port $BASE_PORT, max_connections $PRIMARY_MAX)"
FLEET_STARTED=1
"$FLEET_SH" start "$FLEET_DIR" --base-port "$BASE_PORT" --replicas "$REPLICAS" \
    --primary-max-connections "$PRIMARY_MAX" || die "fleet start failed"
# shellcheck disable=SC1091
source "$FLEET_DIR/fleet.env"
PRIMARY_PORT=$FLEET_PRIMARY_PORT
APP_USER=$FLEET_APP_USER
APP_PASSWORD=$FLEET_APP_PASSWORD

SB_COMMON=(--db-driver=mysql --mysql-host="$HOST" --mysql-user="$APP_USER"
    --mysql-password="$APP_PASSWORD" --mysql-db=sbtest --tables="$TABLES"
    --table-size="$TABLE_SIZE")
log "preparing sysbench tables ($TABLES x $TABLE_SIZE rows) on the primary"
sysbench oltp_read_only "${SB_COMMON[@]}" --mysql-port="$PRIMARY_PORT" prepare \
    >"$LOGS/sysbench-prepare.log" 2>&1 || die "sysbench prepare failed (see $LOGS/sysbench-prepare.log)"

# ---- HAProxy ---------------------------------------------------------------------------

cat >"$OUT/haproxy.cfg" <<EOF
global
    maxconn 8000
    nbthread $PROXY_THREADS

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    maxconn 8000

frontend mysql_in
    bind $HOST:$HAPROXY_PORT
    default_backend mysql_primary

backend mysql_primary
    server primary $HOST:$PRIMARY_PORT maxconn 8000
EOF
HAPROXY_NA_REASON=""
if haproxy -D -p "$HAPROXY_PIDFILE" -f "$OUT/haproxy.cfg" >"$LOGS/haproxy.log" 2>&1; then
    log "haproxy on $HOST:$HAPROXY_PORT (pid $(cat "$HAPROXY_PIDFILE" 2>/dev/null))"
else
    HAPROXY_NA_REASON="haproxy failed to start (see $LOGS/haproxy.log)"
    log "$HAPROXY_NA_REASON"
fi

# ---- Sluice ----------------------------------------------------------------------------

# One statement through a target; succeeds when the target answers SELECT 1.
probe() {
    mariadb --no-defaults --skip-ssl --protocol=tcp -h "$HOST" -P "$1" -u "$APP_USER" \
        -p"$APP_PASSWORD" --connect-timeout=3 -N -B -e 'SELECT 1' >/dev/null 2>&1
}

if [[ -z "$SLUICE_NA_REASON" ]]; then
    rm -rf "$OUT/sluice-data"
    mkdir -p "$OUT/sluice-data"
    cat >"$OUT/sluice.sql" <<EOF
INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) VALUES (0,'$HOST',$PRIMARY_PORT,$POOL);
INSERT INTO mysql_users (username, password, default_hostgroup, default_schema) VALUES ('$APP_USER','$APP_PASSWORD',0,'sbtest');
INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES ('mysql-interfaces','$HOST:$SLUICE_PORT'), ('admin-mysql_ifaces','$HOST:$SLUICE_ADMIN_PORT'), ('mysql-threads','$SLUICE_THREADS');
EOF
    "$SLUICE" --datadir "$OUT/sluice-data" --config "$OUT/sluice.sql" --foreground \
        >"$LOGS/sluice.log" 2>&1 &
    SLUICE_PID=$!
    ok=0
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
            break
        fi
        if probe "$SLUICE_PORT"; then
            ok=1
            break
        fi
        sleep 0.1
    done
    if ((ok)); then
        log "sluice on $HOST:$SLUICE_PORT (pid $SLUICE_PID, pool cap $POOL, $SLUICE_THREADS threads)"
    elif ! kill -0 "$SLUICE_PID" 2>/dev/null; then
        SLUICE_NA_REASON="sluice exited at start-up (see $LOGS/sluice.log)"
    else
        SLUICE_NA_REASON="sluice does not answer SELECT 1 on port $SLUICE_PORT within 10 s (see $LOGS/sluice.log)"
    fi
fi
if [[ -n "$SLUICE_NA_REASON" ]]; then
    log "SLUICE TARGET NOT AVAILABLE: $SLUICE_NA_REASON; its column will show n/a"
    if [[ -s "$LOGS/sluice.log" ]]; then
        tail -n 15 "$LOGS/sluice.log" | sed 's/^/    sluice.log: /' >&2
    fi
fi

target_port() {
    case "$1" in
    direct) echo "$PRIMARY_PORT" ;;
    haproxy) echo "$HAPROXY_PORT" ;;
    sluice) echo "$SLUICE_PORT" ;;
    esac
}

# Empty when the target can be measured, else the reason.
target_unavailable() {
    case "$1" in
    haproxy)
        if [[ -n "$HAPROXY_NA_REASON" ]]; then echo "$HAPROXY_NA_REASON"; fi ;;
    sluice)
        if [[ -n "$SLUICE_NA_REASON" ]]; then
            echo "$SLUICE_NA_REASON"
        elif ! kill -0 "$SLUICE_PID" 2>/dev/null; then
            SLUICE_NA_REASON="sluice exited during the run (see $LOGS/sluice.log)"
            echo "$SLUICE_NA_REASON"
        fi ;;
    esac
}

# ---- workloads -------------------------------------------------------------------------
# name | kind | parameter | threads/clients | unit
WORKLOADS=(
    "point_select_1|sysbench|oltp_point_select|1|qps"
    "point_select_8|sysbench|oltp_point_select|8|qps"
    "point_select_64|sysbench|oltp_point_select|64|qps"
    "read_only_1|sysbench|oltp_read_only|1|tps"
    "read_only_8|sysbench|oltp_read_only|8|tps"
    "read_only_64|sysbench|oltp_read_only|64|tps"
    "cpr_8|cpr|SELECT 1|8|req/s"
    "cpr_64|cpr|SELECT 1|64|req/s"
    "select1_latency|latency|SELECT 1|1|us"
)
# Extra rows derived from the same runs: name|unit
#   point_select_1_lat_ms   sysbench avg latency at 1 thread (ms)
#   select1_p99_us          p99 of the SELECT 1 round trip
#   cpr_8_errors, cpr_64_errors

record() { # repeat workload target value
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"
}

# run_sysbench REPEAT NAME TEST THREADS TARGET
run_sysbench() {
    local r=$1 name=$2 test=$3 threads=$4 target=$5 port f qps tps lat errs
    port=$(target_port "$target")
    f="$LOGS/r$r-$name-$target.log"
    if ! timeout $((RUN_TIME + 60)) sysbench "$test" "${SB_COMMON[@]}" --mysql-port="$port" \
        --threads="$threads" --time="$RUN_TIME" --db-ps-mode="$PS_MODE" --report-interval=0 \
        --rand-type=uniform run >"$f" 2>&1; then
        log "  $name $target: sysbench failed (see $f): $(grep -m1 -iE 'fatal|error' "$f")"
        record "$r" "$name" "$target" "n/a"
        return
    fi
    qps=$(awk '/^ *queries:/ { gsub(/\(/, "", $3); print $3; exit }' "$f")
    tps=$(awk '/^ *transactions:/ { gsub(/\(/, "", $3); print $3; exit }' "$f")
    lat=$(awk '/^ *avg:/ { print $2; exit }' "$f")
    errs=$(awk '/^ *ignored errors:/ { print $3; exit }' "$f")
    if [[ "$test" == oltp_point_select ]]; then
        record "$r" "$name" "$target" "${qps:-n/a}"
    else
        record "$r" "$name" "$target" "${tps:-n/a}"
    fi
    if [[ "$name" == point_select_1 ]]; then
        record "$r" point_select_1_lat_ms "$target" "${lat:-n/a}"
    fi
    log "  $name $target: qps ${qps:-?} tps ${tps:-?} avg ${lat:-?} ms errors ${errs:-?}"
}

json_field() { # JSON-LINE KEY -> number or empty
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"
}

json_obj_field() { # JSON-LINE OBJECT KEY
    sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9.]*\).*/\1/p" <<<"$1"
}

# run_connload REPEAT NAME MODE CLIENTS TARGET
run_connload() {
    local r=$1 name=$2 mode=$3 clients=$4 target=$5 port f line v e p99 secs
    port=$(target_port "$target")
    f="$LOGS/r$r-$name-$target.log"
    secs=$RUN_TIME
    [[ "$mode" == latency ]] && secs=$LAT_TIME
    timeout $((secs + 120)) "$CONNLOAD" "$mode" --host "$HOST" --port "$port" \
        --user "$APP_USER" --password "$APP_PASSWORD" --db sbtest --clients "$clients" \
        --seconds "$secs" --connect-timeout 5 --read-timeout 10 --label "$name-$target" \
        --json >"$f" 2>&1
    line=$(grep -m1 '^{' "$f")
    if [[ "$mode" == cpr ]]; then
        v=$(json_field "$line" rps)
        e=$(json_field "$line" errors)
        record "$r" "${name}_errors" "$target" "${e:-n/a}"
        if [[ -z "$v" || "$v" == 0.0 ]]; then
            log "  $name $target: failed (see $f)"
            record "$r" "$name" "$target" "n/a"
            return
        fi
        record "$r" "$name" "$target" "$v"
        log "  $name $target: $v req/s, errors ${e:-?}, p99 $(json_obj_field "$line" request_ms p99) ms"
    else
        v=$(json_obj_field "$line" latency_us avg)
        p99=$(json_obj_field "$line" latency_us p99)
        if [[ -z "$v" ]]; then
            log "  $name $target: failed (see $f)"
            record "$r" "$name" "$target" "n/a"
            record "$r" select1_p99_us "$target" "n/a"
            return
        fi
        record "$r" "$name" "$target" "$v"
        record "$r" select1_p99_us "$target" "${p99:-n/a}"
        log "  $name $target: avg $v us, p99 ${p99:-?} us"
    fi
}

run_one() { # REPEAT WORKLOAD-SPEC TARGET
    local r=$1 spec=$2 target=$3 name kind param n unit why
    IFS='|' read -r name kind param n unit <<<"$spec"
    why=$(target_unavailable "$target")
    if [[ -n "$why" ]]; then
        record "$r" "$name" "$target" "n/a"
        [[ "$kind" == cpr ]] && record "$r" "${name}_errors" "$target" "n/a"
        [[ "$name" == point_select_1 ]] && record "$r" point_select_1_lat_ms "$target" "n/a"
        [[ "$kind" == latency ]] && record "$r" select1_p99_us "$target" "n/a"
        return
    fi
    case "$kind" in
    sysbench) run_sysbench "$r" "$name" "$param" "$n" "$target" ;;
    cpr) run_connload "$r" "$name" cpr "$n" "$target" ;;
    latency) run_connload "$r" "$name" latency 1 "$target" ;;
    esac
}

# ---- warm-up ---------------------------------------------------------------------------

log "warm-up (3 s point select, 8 threads, per target)"
for target in "${TARGETS[@]}"; do
    [[ -z "$(target_unavailable "$target")" ]] || continue
    timeout 60 sysbench oltp_point_select "${SB_COMMON[@]}" --mysql-port="$(target_port "$target")" \
        --threads=8 --time=3 --db-ps-mode="$PS_MODE" run >"$LOGS/warmup-$target.log" 2>&1 ||
        log "  warm-up against $target failed (see $LOGS/warmup-$target.log)"
done

# ---- measurement -----------------------------------------------------------------------

T0=$(date +%s)
nt=${#TARGETS[@]}
for ((r = 1; r <= REPEATS; r++)); do
    log "repeat $r of $REPEATS"
    for spec in "${WORKLOADS[@]}"; do
        # rotate the target order per repeat so no target always runs first
        for ((k = 0; k < nt; k++)); do
            run_one "$r" "$spec" "${TARGETS[$(((k + r - 1) % nt))]}"
        done
    done
done
ELAPSED=$(($(date +%s) - T0))

# ---- report ----------------------------------------------------------------------------

median() { # WORKLOAD TARGET -> median of the numeric values, or n/a
    awk -F'\t' -v w="$1" -v t="$2" '$2 == w && $3 == t && $4 != "n/a" { print $4 }' "$RAW" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

fmt() {
    awk -v a="$1" 'BEGIN {
        if (a == "n/a") print a
        else if (a + 0 >= 100 || a + 0 == int(a + 0)) printf "%.0f\n", a
        else printf "%.2f\n", a }'
}

declare -A MED
ROWS=(
    "point_select_1|oltp_point_select 1 thr|qps"
    "point_select_8|oltp_point_select 8 thr|qps"
    "point_select_64|oltp_point_select 64 thr|qps"
    "read_only_1|oltp_read_only 1 thr|tps"
    "read_only_8|oltp_read_only 8 thr|tps"
    "read_only_64|oltp_read_only 64 thr|tps"
    "cpr_8|connect/request 8 cli|req/s"
    "cpr_64|connect/request 64 cli|req/s"
    "cpr_8_errors|  cpr 8 errors (median)|count"
    "cpr_64_errors|  cpr 64 errors (median)|count"
    "select1_latency|SELECT 1 avg latency|us (lower=better)"
    "select1_p99_us|SELECT 1 p99 latency|us (lower=better)"
    "point_select_1_lat_ms|point_select 1 thr avg lat|ms (lower=better)"
)
for row in "${ROWS[@]}"; do
    IFS='|' read -r key _ _ <<<"$row"
    for t in direct haproxy sluice; do
        MED[$key,$t]=$(median "$key" "$t")
    done
done

added() { # TARGET -> added SELECT 1 latency vs direct (us)
    awk -v a="${MED[select1_latency,$1]}" -v d="${MED[select1_latency,direct]}" 'BEGIN {
        if (a == "n/a" || d == "n/a") print "n/a"; else printf "%.1f\n", a - d }'
}

check() { # DESCRIPTION VALUE OP THRESHOLD
    local verdict
    verdict=$(awk -v v="$2" -v op="$3" -v th="$4" 'BEGIN {
        if (v == "n/a" || th == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= th + 0) : (v + 0 <= th + 0)
        print ok ? "PASS" : "FAIL" }')
    printf '  %-52s %8s %s %-8s %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

{
    echo "Sluice benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')  git $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "machine: $(nproc) cores, $(uname -r); $(mariadb --version | sed 's/^.*Distrib //; s/,.*//') server; $(sysbench --version); $(haproxy -v | head -n1 | awk '{print "HAProxy", $3}')"
    echo "settings: repeats $REPEATS (medians), $RUN_TIME s per run ($LAT_TIME s latency), ps-mode $PS_MODE," \
        "$TABLES tables x $TABLE_SIZE rows, Sluice pool cap $POOL, $SLUICE_THREADS threads, primary max_connections $PRIMARY_MAX"
    echo "measurement time: ${ELAPSED} s; output dir: $OUT"
    [[ -n "$HAPROXY_NA_REASON" ]] && echo "HAPROXY NOT MEASURED: $HAPROXY_NA_REASON"
    [[ -n "$SLUICE_NA_REASON" ]] && echo "SLUICE NOT MEASURED (n/a): $SLUICE_NA_REASON"
    echo
    printf '%-28s %-18s %10s %10s %10s %8s %8s %8s\n' workload unit direct haproxy sluice \
        hap/dir slu/dir slu/hap
    for row in "${ROWS[@]}"; do
        IFS='|' read -r key label unit <<<"$row"
        d=${MED[$key,direct]}
        h=${MED[$key,haproxy]}
        s=${MED[$key,sluice]}
        printf '%-28s %-18s %10s %10s %10s %8s %8s %8s\n' "$label" "$unit" "$(fmt "$d")" \
            "$(fmt "$h")" "$(fmt "$s")" "$(ratio "$h" "$d")" "$(ratio "$s" "$d")" "$(ratio "$s" "$h")"
    done
    echo
    echo "added SELECT 1 round-trip latency vs direct: haproxy $(added haproxy) us, sluice $(added sluice) us"
    echo
    echo "Targets (issue 2):"
    check "point select 8 thr: sluice/haproxy" "$(ratio "${MED[point_select_8,sluice]}" "${MED[point_select_8,haproxy]}")" ">=" 0.9
    check "point select 64 thr: sluice/haproxy" "$(ratio "${MED[point_select_64,sluice]}" "${MED[point_select_64,haproxy]}")" ">=" 0.9
    check "connect/request 8 cli: sluice/direct" "$(ratio "${MED[cpr_8,sluice]}" "${MED[cpr_8,direct]}")" ">=" 1.5
    check "connect/request 64 cli: sluice/direct" "$(ratio "${MED[cpr_64,sluice]}" "${MED[cpr_64,direct]}")" ">=" 1.5
    check "added SELECT 1 latency (us): sluice <= haproxy" "$(added sluice)" "<=" "$(added haproxy)"
    echo
    echo "Raw figures (repeat, workload, target, value):"
    sed 's/^/  /' "$RAW"
} | tee "$RESULTS"
echo
log "results written to $RESULTS (logs in $LOGS)"
