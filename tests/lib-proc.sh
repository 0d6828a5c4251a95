# shellcheck shell=bash
# Shared by demo.sh and the benchmarks in tests/bench/ (source it; it defines functions
# only). The caller defines log MESSAGE, which stop_pid uses.

# stop_pid PID: SIGTERM, up to 10 s for the process to exit, then SIGKILL (and log says
# so); reaps it when it is a child of this shell.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "sluice (pid $pid) did not exit 10 s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
