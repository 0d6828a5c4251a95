#!/usr/bin/env bash
# Sluice demo: a local MariaDB primary with two replicas, and Sluice in front of them.
#
#   ./demo.sh          install missing packages, build, start the fleet and Sluice
#   ./demo.sh stop     stop Sluice and the fleet
#   ./demo.sh status   show what is running
#
# Everything lives under ./demo: fleet/ (MariaDB datadirs and logs; primary 127.0.0.1:3307,
# replicas 3308 and 3309), data/ (Sluice's store, recreated on every start so that
# ./demo/sluice.sql, configs/demo.sql plus the read/write split rules of
# configs/rw-split.sql, is applied), sluice.log and sluice.pid.
# Set SLUICE_BIN to run an already built binary instead of building ./build/sluice.
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd -P)
DEMO="$ROOT/demo"
FLEET="$DEMO/fleet"
PIDFILE="$DEMO/sluice.pid"
LOGFILE="$DEMO/sluice.log"
SLUICE_PORT=6033
START_TIMEOUT=30

# shellcheck source=tests/lib-proc.sh
source "$ROOT/tests/lib-proc.sh"

die() {
    echo "demo: error: $*" >&2
    exit 1
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Pid of the demo's sluice if it is running, else empty.
sluice_pid() {
    local pid
    [[ -s "$PIDFILE" ]] || return 0
    pid=$(tr -dc '0-9' <"$PIDFILE")
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--datadir $DEMO/data"; then
        echo "$pid"
    fi
}

log() { echo "demo: $*" >&2; }

stop_sluice() {
    local pid
    pid=$(sluice_pid)
    if [[ -n "$pid" ]]; then
        stop_pid "$pid"
        echo "demo: sluice stopped"
    fi
    rm -f "$PIDFILE"
}

cmd_stop() {
    stop_sluice
    "$ROOT/tests/fleet.sh" stop "$FLEET"
}

cmd_status() {
    local pid
    pid=$(sluice_pid)
    if [[ -n "$pid" ]]; then
        echo "sluice    127.0.0.1:$SLUICE_PORT  pid $pid  running"
    else
        echo "sluice    127.0.0.1:$SLUICE_PORT  stopped"
    fi
    if [[ -d "$FLEET" ]]; then
        "$ROOT/tests/fleet.sh" status "$FLEET" || true
    fi
}

cmd_start() {
    # shellcheck source=tests/lib-install.sh
    source "$ROOT/tests/lib-install.sh"
    sluice_install_packages

    local bin
    if [[ -n "${SLUICE_BIN:-}" ]]; then
        bin=$SLUICE_BIN
        [[ -x "$bin" ]] || die "SLUICE_BIN=$bin is not an executable"
    else
        echo "demo: building Sluice (meson, build dir ./build)"
        if [[ ! -f build/meson-private/coredata.dat ]]; then
            rm -rf build
            meson setup build >/dev/null || die "meson setup build failed"
        fi
        ninja -C build || die "build failed (ninja -C build)"
        bin="$ROOT/build/sluice"
        [[ -x "$bin" ]] || die "build produced no $bin"
    fi

    # Start from a clean slate: a previous demo is stopped, the store is recreated.
    cmd_stop >/dev/null 2>&1 || true
    local p
    for p in "$SLUICE_PORT" 6032; do
        ! port_open "$p" || die "port $p is already in use (another Sluice or ProxySQL?)"
    done
    mkdir -p "$DEMO"
    rm -rf "$DEMO/data" "$FLEET"

    echo "demo: starting MariaDB (primary 3307, replicas 3308 3309) in $FLEET"
    "$ROOT/tests/fleet.sh" start "$FLEET" --base-port 3307 --replicas 2

    cat "$ROOT/configs/demo.sql" "$ROOT/configs/rw-split.sql" >"$DEMO/sluice.sql"
    echo "demo: starting Sluice ($bin)"
    : >"$LOGFILE"
    setsid nohup "$bin" --datadir "$DEMO/data" --config "$DEMO/sluice.sql" --foreground \
        </dev/null >>"$LOGFILE" 2>&1 &
    echo "$!" >"$PIDFILE"

    local deadline=$(($(date +%s) + START_TIMEOUT))
    until port_open "$SLUICE_PORT"; do
        if [[ -z "$(sluice_pid)" ]]; then
            echo "demo: error: sluice exited during start-up; last lines of $LOGFILE:" >&2
            tail -n 30 "$LOGFILE" >&2
            cmd_stop >/dev/null 2>&1 || true
            exit 1
        fi
        if (($(date +%s) >= deadline)); then
            echo "demo: error: sluice does not accept connections on 127.0.0.1:$SLUICE_PORT after ${START_TIMEOUT}s; last lines of $LOGFILE:" >&2
            tail -n 30 "$LOGFILE" >&2
            cmd_stop >/dev/null 2>&1 || true
            exit 1
        fi
        sleep 0.1
    done

    local check
    if check=$(mariadb --no-defaults -h127.0.0.1 -P"$SLUICE_PORT" -uapp -papppass app \
        --skip-ssl --batch --skip-column-names --connect-timeout=5 \
        -e 'SELECT CONCAT(@@hostname, ":", @@port)' 2>&1); then
        echo "demo: smoke test through Sluice OK (answered by $check)"
    else
        echo "demo: warning: smoke test through Sluice failed: $check" >&2
    fi

    cat <<EOF

Sluice is running (pid $(cat "$PIDFILE"), log $LOGFILE).

Connect through Sluice (reads go to the replicas, writes to the primary):
  mariadb -h127.0.0.1 -P$SLUICE_PORT -uapp -papppass app
Admin interface (ProxySQL's tables and commands):
  mariadb -h127.0.0.1 -P6032 -uadmin -padmin

The MariaDB servers directly (user app/apppass, root/rootpass, monitor/monitorpass):
  primary   mariadb -h127.0.0.1 -P3307 -uapp -papppass app
  replica1  mariadb -h127.0.0.1 -P3308 -uapp -papppass app   (read_only: writes fail with 1290)
  replica2  mariadb -h127.0.0.1 -P3309 -uapp -papppass app

Stop everything with: ./demo.sh stop
EOF
}

case "${1:-start}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
-h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    ;;
*)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
