#!/usr/bin/env bash
# Start, stop and inspect a local MariaDB fleet (one primary, N GTID replicas) for tests,
# benchmarks and the demo. Every node runs as its own mariadbd process on 127.0.0.1 with its
# own datadir, socket, pid file and error log under DIR, so several fleets can run at once
# with different DIRs and ports.
#
#   tests/fleet.sh start DIR [--base-port P] [--replicas N] [--primary-max-connections M]
#                            [--replica-delay SECONDS]
#   tests/fleet.sh stop DIR                 stop every node (idempotent; waits for exit)
#   tests/fleet.sh status DIR               print nodes and replication state; exit 1 if a
#                                           node is down
#   tests/fleet.sh stop-node DIR INDEX      stop one node (0 = primary, 1.. = replicas)
#   tests/fleet.sh start-node DIR INDEX     restart a stopped node with its old data
#
# Defaults: P=3307, N=2, M=500 (replicas always 500), delay 0.
# Layout: DIR/node0 is the primary (port P, server_id 1); DIR/nodeK is replica K (port P+K,
# server_id K+1). Each node dir holds my.cnf, data/, mariadbd.sock, mariadbd.pid, error.log.
# DIR/fleet.env is a shell-sourceable KEY=value file (lists are double-quoted, space-separated)
# with FLEET_DIR, FLEET_HOST, FLEET_PRIMARY_PORT, FLEET_REPLICA_PORTS, FLEET_{ROOT,APP,APP2,
# MONITOR,REPL}_{USER,PASSWORD}, FLEET_PIDS (primary first), FLEET_PRIMARY_PID,
# FLEET_REPLICA_PIDS, FLEET_PRIMARY_SOCKET and FLEET_PRIMARY_MAX_CONNECTIONS. stop-node and
# start-node rewrite it (a stopped node's pid is 0).
#
# Users (created on the primary, replicated):
#   root@localhost, root@127.0.0.1 / rootpass  ALL + GRANT OPTION (root@localhost also via
#                                              unix_socket, which this script uses)
#   app@% / apppass, app2@% / app2pass         ALL ON *.* minus READ_ONLY ADMIN and
#                                              CONNECTION ADMIN: writes on a replica fail
#                                              with 1290, and max_connections applies
#   monitor@% / monitorpass                    PROCESS, BINLOG MONITOR, SLAVE MONITOR
#   repl@% / replpass                          REPLICATION SLAVE
# Databases: app, sbtest.
# GTIDs: the primary writes domain 0; replica K uses gtid_domain_id=K for local writes.
set -euo pipefail

readonly HOST=127.0.0.1
readonly ROOT_PASSWORD=rootpass
readonly APP_USER=app APP_PASSWORD=apppass
readonly APP2_USER=app2 APP2_PASSWORD=app2pass
readonly MONITOR_USER=monitor MONITOR_PASSWORD=monitorpass
readonly REPL_USER=repl REPL_PASSWORD=replpass
readonly READY_TIMEOUT=30   # seconds for one mariadbd to accept connections
readonly SYNC_TIMEOUT=60    # seconds for all replicas to catch up
readonly STOP_TIMEOUT=30    # seconds for a node to exit after SIGTERM before SIGKILL

MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
MARIADB=${MARIADB:-$(command -v mariadb || echo /usr/bin/mariadb)}
INSTALL_DB=${MARIADB_INSTALL_DB:-$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "fleet.sh: error: $*" >&2
    exit 1
}

log() {
    echo "fleet.sh: $*" >&2
}

now_ms() {
    date +%s%3N
}

# --- per-node paths --------------------------------------------------------------------

node_dir() { echo "$DIR/node$1"; }
node_cnf() { echo "$DIR/node$1/my.cnf"; }
node_pidfile() { echo "$DIR/node$1/mariadbd.pid"; }
node_errlog() { echo "$DIR/node$1/error.log"; }
node_sock() {
    # Unix socket paths are limited to 107 bytes; fall back to a short directory.
    if [[ -f "$DIR/sockdir" ]]; then
        echo "$(cat "$DIR/sockdir")/node$1.sock"
    else
        echo "$DIR/node$1/mariadbd.sock"
    fi
}

# Nodes present under DIR, sorted numerically.
list_nodes() {
    local d
    for d in "$DIR"/node*; do
        [[ -d "$d" ]] || continue
        echo "${d##*/node}"
    done | sort -n
}

node_port() {
    sed -n 's/^port=//p' "$(node_cnf "$1")"
}

# Pid of node $1 if its mariadbd is running (checks the process really is our mariadbd, so a
# reused pid is never signalled); empty otherwise.
node_pid() {
    local pidfile pid
    pidfile=$(node_pidfile "$1")
    for pidfile in "$pidfile" "$pidfile.launch"; do
        [[ -s "$pidfile" ]] || continue
        pid=$(tr -dc '0-9' <"$pidfile")
        [[ -n "$pid" ]] || continue
        if [[ -r "/proc/$pid/cmdline" ]] &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--defaults-file=$(node_cnf "$1")"; then
            echo "$pid"
            return 0
        fi
    done
    return 0
}

# Run SQL on node $1 as root over its Unix socket (unix_socket auth); extra args go to the
# client. Output is batch mode without column names.
sql() {
    local n=$1
    shift
    "$MARIADB" --no-defaults --protocol=socket -S "$(node_sock "$n")" -uroot \
        --batch --skip-column-names --connect-timeout=5 "$@"
}

errlog_tail() {
    local f
    f=$(node_errlog "$1")
    echo "---- last 30 lines of $f ----" >&2
    if [[ -f "$f" ]]; then tail -n 30 "$f" >&2; else echo "(no error log)" >&2; fi
    echo "----" >&2
}

node_fail() {
    local n=$1
    shift
    echo "fleet.sh: error: node$n (port $(node_port "$n" 2>/dev/null || echo '?')): $*" >&2
    errlog_tail "$n"
    exit 1
}

port_in_use() {
    # bash's /dev/tcp: connect succeeds only if something listens.
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# --- configuration ---------------------------------------------------------------------

write_cnf() {
    local n=$1 port=$2 max_conn=$3
    local d
    d=$(node_dir "$n")
    {
        echo "[mariadbd]"
        echo "user=root"
        echo "datadir=$d/data"
        echo "port=$port"
        echo "bind_address=$HOST"
        echo "socket=$(node_sock "$n")"
        echo "pid_file=$(node_pidfile "$n")"
        echo "log_error=$(node_errlog "$n")"
        echo "tmpdir=$d/tmp"
        echo "server_id=$((n + 1))"
        # Each node writes its own GTID domain (primary 0): a stray local write on a replica
        # (root has READ_ONLY ADMIN) then cannot break gtid_strict_mode replication of
        # domain 0, which it otherwise does at the next event from the primary.
        echo "gtid_domain_id=$n"
        echo "log_bin=$d/data/binlog"
        echo "relay_log=$d/data/relay"
        echo "binlog_format=ROW"
        echo "gtid_strict_mode=ON"
        echo "log_slave_updates=ON"
        echo "max_connections=$max_conn"
        echo "max_connect_errors=1000000000"
        echo "max_allowed_packet=64M"
        echo "skip_name_resolve=ON"
        echo "character_set_server=utf8mb4"
        echo "collation_server=utf8mb4_general_ci"
        echo "performance_schema=OFF"
        echo "innodb_buffer_pool_size=64M"
        echo "innodb_log_file_size=48M"
        echo "innodb_flush_log_at_trx_commit=2"
        echo "innodb_use_native_aio=OFF"
        echo "sync_binlog=0"
        echo "key_buffer_size=8M"
        echo "skip_slave_start=OFF"
        if ((n > 0)); then
            echo "read_only=ON"
        fi
    } >"$(node_cnf "$n")"
}

# --- process control -------------------------------------------------------------------

launch_node() {
    local n=$1 pid
    mkdir -p "$(node_dir "$n")/tmp"
    rm -f "$(node_pidfile "$n")" "$(node_pidfile "$n").launch"
    # setsid: the server must not die with the caller's terminal or process group.
    setsid "$MARIADBD" --defaults-file="$(node_cnf "$n")" </dev/null \
        >>"$(node_dir "$n")/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" >"$(node_pidfile "$n").launch"
}

# Wait until node $1 answers a query over its socket; fail with the error log otherwise.
wait_ready() {
    local n=$1 deadline
    deadline=$(($(date +%s) + READY_TIMEOUT))
    while :; do
        if sql "$n" -e 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        if [[ -z "$(node_pid "$n")" ]]; then
            node_fail "$n" "mariadbd exited during start-up"
        fi
        if (($(date +%s) >= deadline)); then
            node_fail "$n" "mariadbd not ready after ${READY_TIMEOUT}s"
        fi
        sleep 0.1
    done
}

# Waits until node $1's process $2 has exited; at epoch second $3 it is killed instead.
wait_exit() {
    local n=$1 pid=$2 deadline=$3
    while kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s) >= deadline)); then
            log "node$n (pid $pid) did not exit after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
    done
}

stop_node() {
    local n=$1 pid
    pid=$(node_pid "$n")
    if [[ -z "$pid" ]]; then
        rm -f "$(node_pidfile "$n").launch"
        return 0
    fi
    kill -CONT "$pid" 2>/dev/null || true # in case a test left it SIGSTOPped
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$n" "$pid" "$(($(date +%s) + STOP_TIMEOUT))"
    rm -f "$(node_pidfile "$n").launch"
}

# --- replication -----------------------------------------------------------------------

setup_replica() {
    local n=$1 primary_port=$2
    sql "$n" -e "CHANGE MASTER TO MASTER_HOST='$HOST', MASTER_PORT=$primary_port,
            MASTER_USER='$REPL_USER', MASTER_PASSWORD='$REPL_PASSWORD',
            MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
        START SLAVE;" 2>&1 || node_fail "$n" "CHANGE MASTER / START SLAVE failed"
}

slave_field() {
    # $1 node, $2 field name of SHOW SLAVE STATUS
    sql "$1" --column-names --vertical -e 'SHOW SLAVE STATUS' 2>/dev/null |
        sed -n "s/^ *$2: //p" | head -n 1
}

# Wait until replica $1 has applied everything up to GTID position $2.
wait_caught_up() {
    local n=$1 pos=$2 deadline=$3 remaining res io sqlt
    while :; do
        remaining=$((deadline - $(date +%s)))
        if ((remaining <= 0)); then
            echo "fleet.sh: error: replica node$n did not reach GTID '$pos' within ${SYNC_TIMEOUT}s" >&2
            sql "$n" --column-names --vertical -e 'SHOW SLAVE STATUS' >&2 || true
            errlog_tail "$n"
            exit 1
        fi
        # Short waits so a broken replication thread is reported quickly.
        res=$(sql "$n" -e "SELECT MASTER_GTID_WAIT('$pos', 1)" 2>/dev/null || echo err)
        if [[ "$res" == 0 ]]; then
            return 0
        fi
        io=$(slave_field "$n" Slave_IO_Running)
        sqlt=$(slave_field "$n" Slave_SQL_Running)
        if [[ "$sqlt" == No ]]; then
            echo "fleet.sh: error: replica node$n SQL thread stopped" >&2
            sql "$n" --column-names --vertical -e 'SHOW SLAVE STATUS' >&2 || true
            errlog_tail "$n"
            exit 1
        fi
        if [[ "$io" == No ]] && [[ -n "$(slave_field "$n" Last_IO_Error)" ]]; then
            echo "fleet.sh: error: replica node$n IO thread stopped" >&2
            sql "$n" --column-names --vertical -e 'SHOW SLAVE STATUS' >&2 || true
            errlog_tail "$n"
            exit 1
        fi
    done
}

# --- fleet.env -------------------------------------------------------------------------

write_env() {
    local n primary_port="" replica_ports="" pids="" replica_pids="" primary_pid="" pid tmp
    for n in $(list_nodes); do
        pid=$(node_pid "$n")
        pids+="${pids:+ }${pid:-0}"
        if ((n == 0)); then
            primary_port=$(node_port 0)
            primary_pid=${pid:-0}
        else
            replica_ports+="${replica_ports:+ }$(node_port "$n")"
            replica_pids+="${replica_pids:+ }${pid:-0}"
        fi
    done
    tmp="$DIR/fleet.env.tmp"
    {
        echo "# Written by tests/fleet.sh; shell-sourceable. Lists are space-separated,"
        echo "# primary first in FLEET_PIDS; a pid of 0 means the node is not running."
        echo "FLEET_DIR=$DIR"
        echo "FLEET_HOST=$HOST"
        echo "FLEET_PRIMARY_PORT=$primary_port"
        echo "FLEET_REPLICA_PORTS=\"$replica_ports\""
        echo "FLEET_ROOT_USER=root"
        echo "FLEET_ROOT_PASSWORD=$ROOT_PASSWORD"
        echo "FLEET_APP_USER=$APP_USER"
        echo "FLEET_APP_PASSWORD=$APP_PASSWORD"
        echo "FLEET_APP2_USER=$APP2_USER"
        echo "FLEET_APP2_PASSWORD=$APP2_PASSWORD"
        echo "FLEET_MONITOR_USER=$MONITOR_USER"
        echo "FLEET_MONITOR_PASSWORD=$MONITOR_PASSWORD"
        echo "FLEET_REPL_USER=$REPL_USER"
        echo "FLEET_REPL_PASSWORD=$REPL_PASSWORD"
        echo "FLEET_PIDS=\"$pids\""
        echo "FLEET_PRIMARY_PID=$primary_pid"
        echo "FLEET_REPLICA_PIDS=\"$replica_pids\""
        echo "FLEET_PRIMARY_SOCKET=$(node_sock 0)"
        echo "FLEET_PRIMARY_MAX_CONNECTIONS=$(sed -n 's/^max_connections=//p' "$(node_cnf 0)")"
    } >"$tmp"
    mv -f "$tmp" "$DIR/fleet.env"
}

# --- commands --------------------------------------------------------------------------

# EXIT trap while starting: a failed start stops the nodes it launched.
on_start_exit() {
    local rc=$?
    trap - EXIT
    if ((rc != 0)); then
        log "start failed; stopping the nodes started in $DIR"
        cmd_stop || true
    fi
    exit "$rc"
}

cmd_start() {
    local base_port=3307 replicas=2 primary_max=500 delay=0
    while (($#)); do
        case "$1" in
        --base-port) base_port=${2:?--base-port needs a value}; shift 2 ;;
        --base-port=*) base_port=${1#*=}; shift ;;
        --replicas) replicas=${2:?--replicas needs a value}; shift 2 ;;
        --replicas=*) replicas=${1#*=}; shift ;;
        --primary-max-connections) primary_max=${2:?--primary-max-connections needs a value}; shift 2 ;;
        --primary-max-connections=*) primary_max=${1#*=}; shift ;;
        --replica-delay) delay=${2:?--replica-delay needs a value}; shift 2 ;;
        --replica-delay=*) delay=${1#*=}; shift ;;
        *) die "start: unknown option '$1'" ;;
        esac
    done
    local v
    for v in "$base_port" "$replicas" "$primary_max" "$delay"; do
        [[ "$v" =~ ^[0-9]+$ ]] || die "start: '$v' is not a non-negative integer"
    done
    ((base_port >= 1 && base_port + replicas <= 65535)) || die "start: bad port range"
    # MariaDB silently raises max_connections below 10 to 10.
    ((primary_max >= 10)) || die "start: --primary-max-connections must be >= 10 (MariaDB's minimum)"

    [[ -x "$MARIADBD" ]] || die "mariadbd not found (install mariadb-server)"
    [[ -x "$INSTALL_DB" ]] || die "mariadb-install-db not found (install mariadb-server)"
    [[ -x "$MARIADB" ]] || die "mariadb client not found (install mariadb-client)"

    local t0 n
    t0=$(now_ms)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)

    # Refuse to clobber a running fleet; otherwise start from scratch.
    if [[ -n "$(list_nodes)" ]]; then
        for n in $(list_nodes); do
            [[ -z "$(node_pid "$n")" ]] || die "a fleet is already running in $DIR (node$n, pid $(node_pid "$n")); run: $0 stop $DIR"
        done
    fi
    for n in $(list_nodes); do rm -rf "$(node_dir "$n")"; done
    if [[ -f "$DIR/sockdir" ]]; then rm -rf "$(cat "$DIR/sockdir")"; fi
    rm -rf "$DIR/template" "$DIR/fleet.env" "$DIR/sockdir" "$DIR/install-db.log"

    for ((n = 0; n <= replicas; n++)); do
        if port_in_use $((base_port + n)); then
            die "port $((base_port + n)) on $HOST is already in use"
        fi
    done

    if ((${#DIR} + 20 > 107)); then
        mktemp -d /tmp/fleet-sock.XXXXXX >"$DIR/sockdir"
    fi

    # One initialised datadir, copied for every node. Its own tmpdir: the bootstrap
    # server names its temporary tables after its pid and thread, so two fleets starting
    # at once on one machine could trip over each other's files in /tmp.
    mkdir -p "$DIR/install-tmp"
    if ! "$INSTALL_DB" --no-defaults --datadir="$DIR/template" --user=root \
        --tmpdir="$DIR/install-tmp" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --performance-schema=OFF \
        >"$DIR/install-db.log" 2>&1; then
        echo "fleet.sh: error: mariadb-install-db failed; its output:" >&2
        tail -n 40 "$DIR/install-db.log" >&2
        exit 1
    fi

    for ((n = 0; n <= replicas; n++)); do
        mkdir -p "$(node_dir "$n")"
        cp -a "$DIR/template" "$(node_dir "$n")/data"
        if ((n == 0)); then
            write_cnf "$n" "$base_port" "$primary_max"
        else
            write_cnf "$n" $((base_port + n)) 500
        fi
    done
    rm -rf "$DIR/template"

    # From here on a failure stops whatever was started.
    trap 'on_start_exit' EXIT
    for ((n = 0; n <= replicas; n++)); do launch_node "$n"; done
    for ((n = 0; n <= replicas; n++)); do wait_ready "$n"; done

    # Accounts and schemas, on the primary only; replication carries them to the replicas.
    sql 0 <<SQL || node_fail 0 "creating users and schemas failed"
DELETE FROM mysql.global_priv WHERE User = '';
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;
ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$ROOT_PASSWORD');
CREATE USER root@'127.0.0.1' IDENTIFIED BY '$ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
CREATE USER '$APP_USER'@'%' IDENTIFIED BY '$APP_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$APP_USER'@'%';
REVOKE READ_ONLY ADMIN, CONNECTION ADMIN ON *.* FROM '$APP_USER'@'%';
CREATE USER '$APP2_USER'@'%' IDENTIFIED BY '$APP2_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$APP2_USER'@'%';
REVOKE READ_ONLY ADMIN, CONNECTION ADMIN ON *.* FROM '$APP2_USER'@'%';
CREATE USER '$MONITOR_USER'@'%' IDENTIFIED BY '$MONITOR_PASSWORD';
GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '$MONITOR_USER'@'%';
CREATE USER '$REPL_USER'@'%' IDENTIFIED BY '$REPL_PASSWORD';
GRANT REPLICATION SLAVE ON *.* TO '$REPL_USER'@'%';
CREATE DATABASE app;
CREATE DATABASE sbtest;
SQL
    local pos
    pos=$(sql 0 -e 'SELECT @@GLOBAL.gtid_binlog_pos') || node_fail 0 "cannot read gtid_binlog_pos"

    for ((n = 1; n <= replicas; n++)); do setup_replica "$n" "$base_port"; done
    local sync_deadline=$(($(date +%s) + SYNC_TIMEOUT))
    for ((n = 1; n <= replicas; n++)); do wait_caught_up "$n" "$pos" "$sync_deadline"; done

    # Delay is set only after the replicas have the users, so start-up is not delayed.
    if ((delay > 0)); then
        for ((n = 1; n <= replicas; n++)); do
            sql "$n" -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=$delay; START SLAVE;" ||
                node_fail "$n" "setting MASTER_DELAY failed"
        done
    fi

    # Replication threads must be running (SQL thread may be waiting on the delay).
    local io sqlt
    for ((n = 1; n <= replicas; n++)); do
        local deadline=$(($(date +%s) + 10))
        while :; do
            io=$(slave_field "$n" Slave_IO_Running)
            sqlt=$(slave_field "$n" Slave_SQL_Running)
            [[ "$io" == Yes && "$sqlt" == Yes ]] && break
            if (($(date +%s) >= deadline)); then
                echo "fleet.sh: error: replica node$n: Slave_IO_Running=$io Slave_SQL_Running=$sqlt" >&2
                sql "$n" --column-names --vertical -e 'SHOW SLAVE STATUS' >&2 || true
                errlog_tail "$n"
                exit 1
            fi
            sleep 0.1
        done
    done

    write_env
    trap - EXIT
    local ports="$base_port"
    for ((n = 1; n <= replicas; n++)); do ports+=" $((base_port + n))"; done
    log "fleet up in $DIR: primary $HOST:$base_port, replicas: $((replicas)) (ports: $ports), $(($(now_ms) - t0)) ms"
}

cmd_stop() {
    [[ -d "$DIR" ]] || return 0
    DIR=$(cd "$DIR" && pwd -P)
    local n pids=() pid
    # Signal every node first, then wait, so nodes shut down in parallel. Replicas first so
    # they do not log reconnect noise for the primary going away.
    for n in $(list_nodes | sort -rn); do
        pid=$(node_pid "$n")
        [[ -n "$pid" ]] || continue
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$n:$pid")
    done
    local deadline=$(($(date +%s) + STOP_TIMEOUT)) entry
    for entry in "${pids[@]+"${pids[@]}"}"; do
        n=${entry%%:*}
        pid=${entry#*:}
        wait_exit "$n" "$pid" "$deadline"
    done
    for n in $(list_nodes); do rm -f "$(node_pidfile "$n").launch"; done
    if [[ -f "$DIR/sockdir" ]]; then rm -rf "$(cat "$DIR/sockdir")" && rm -f "$DIR/sockdir"; fi
    if ((${#pids[@]})); then log "fleet in $DIR stopped (${#pids[@]} node(s))"; fi
}

cmd_status() {
    [[ -d "$DIR" ]] || die "no fleet in $DIR"
    DIR=$(cd "$DIR" && pwd -P)
    local n pid role down=0 extra
    [[ -n "$(list_nodes)" ]] || die "no fleet in $DIR"
    for n in $(list_nodes); do
        pid=$(node_pid "$n")
        if ((n == 0)); then role=primary; else role="replica$n"; fi
        extra=""
        if [[ -z "$pid" ]]; then
            down=1
            printf '%-9s %s:%s  stopped\n' "$role" "$HOST" "$(node_port "$n")"
            continue
        fi
        if [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == T* ]]; then
            printf '%-9s %s:%s  pid %s  STOPPED (SIGSTOP)\n' "$role" "$HOST" "$(node_port "$n")" "$pid"
            continue
        fi
        if ((n == 0)); then
            extra="gtid_binlog_pos=$(sql 0 -e 'SELECT @@GLOBAL.gtid_binlog_pos' 2>/dev/null || echo '?')"
        else
            extra="io=$(slave_field "$n" Slave_IO_Running) sql=$(slave_field "$n" Slave_SQL_Running)"
            extra+=" behind=$(slave_field "$n" Seconds_Behind_Master)"
            extra+=" gtid_slave_pos=$(sql "$n" -e 'SELECT @@GLOBAL.gtid_slave_pos' 2>/dev/null || echo '?')"
        fi
        printf '%-9s %s:%s  pid %s  running  %s\n' "$role" "$HOST" "$(node_port "$n")" "$pid" "$extra"
    done
    return "$down"
}

cmd_stop_node() {
    local n=${1:?stop-node needs INDEX}
    DIR=$(cd "$DIR" && pwd -P)
    [[ -d "$(node_dir "$n")" ]] || die "no node$n in $DIR"
    stop_node "$n"
    write_env
}

cmd_start_node() {
    local n=${1:?start-node needs INDEX}
    DIR=$(cd "$DIR" && pwd -P)
    [[ -d "$(node_dir "$n")" ]] || die "no node$n in $DIR"
    [[ -z "$(node_pid "$n")" ]] || die "node$n is already running (pid $(node_pid "$n"))"
    if [[ -f "$DIR/sockdir" ]]; then mkdir -p "$(cat "$DIR/sockdir")"; fi
    launch_node "$n"
    wait_ready "$n"
    write_env
    log "node$n up on $HOST:$(node_port "$n")"
}

(($# >= 2)) || usage
CMD=$1
DIR=$2
shift 2
case "$CMD" in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
stop-node) cmd_stop_node "$@" ;;
start-node) cmd_start_node "$@" ;;
*) usage ;;
esac
