"""Monitor and failover under load: each case starts its own throwaway fleet (one primary,
two replicas) and its own Sluice with short monitor intervals, runs a few client threads
through Sluice while a fault is injected, and prints the figures the failover issue asks
for (client errors, seconds until traffic moved, worst statement latency, rows written vs
found). Through Sluice only.

The kill -9 and SIGSTOP cases run twice: with the short intervals ('fast') and with the
monitor's shipped defaults ('defaults'), whose liveness probe must catch a dead or frozen
server within about 2 s on its own.

Layout of every case: hostgroup 0 = writer (the primary), hostgroup 1 = readers (the
replicas), mysql_replication_hostgroups (0, 1), SELECTs routed to 1, writer not also a
reader, so the port answering a SELECT tells which replica served it.
"""

import os
import signal
import subprocess
import tempfile
import threading
import time

import pymysql
import pytest

import harness
from harness import q, q1

pytestmark = pytest.mark.proxy_only

# Fleets of this file take their ports here, apart from the shared suite's range.
PORT_RANGE = (32200, 32899)

PING_INTERVAL_MS = 300
PING_TIMEOUT_MS = 400
PING_MAX_FAILURES = 2
READ_ONLY_INTERVAL_MS = 300
LAG_INTERVAL_MS = 500
CONNECT_TIMEOUT_MS = 1000  # mysql-connect_timeout_server (pool connects)
# Detection bound for a dead or hung server: every failed ping costs at most its timeout,
# pings are an interval apart, plus one interval before the first failing ping starts.
PING_DETECT_S = (PING_MAX_FAILURES * (PING_TIMEOUT_MS + PING_INTERVAL_MS)
                 + PING_INTERVAL_MS) / 1000.0
MARGIN_S = 1.5  # 2 shared cores: scheduling slack

# The shipped liveness probe (admin/config.c, configs/default.sql): a COM_PING every
# LIVE_INTERVAL_MS with LIVE_TIMEOUT_MS to answer, on a thread of its own; a server that
# answered no check for LIVE_WINDOW_MS is shunned, 2 answers in a row bring it back.
LIVE_INTERVAL_MS = 500
LIVE_TIMEOUT_MS = 500
LIVE_WINDOW_MS = 1500
# Worst case: the server froze just after a probe answered; the next probe starts an
# interval later, and probes run back to back from then on until the window is full.
LIVE_DETECT_S = (LIVE_INTERVAL_MS + LIVE_WINDOW_MS) / 1000.0


class Profile:
    """Monitor timing a case runs with: settings to load and the bounds they promise."""

    def __init__(self, name, settings, detect_s, back_s):
        self.name = name
        self.settings = settings
        self.detect_s = detect_s  # a dead or frozen server is SHUNNED within this
        self.back_s = back_s  # a resumed one is ONLINE again within this

    def __repr__(self):
        return self.name


FAST = Profile("fast", {
    "mysql-monitor_connect_interval": "1000",
    "mysql-monitor_connect_timeout": "500",
    "mysql-monitor_ping_interval": str(PING_INTERVAL_MS),
    "mysql-monitor_ping_timeout": str(PING_TIMEOUT_MS),
    "mysql-monitor_ping_max_failures": str(PING_MAX_FAILURES),
    "mysql-monitor_read_only_interval": str(READ_ONLY_INTERVAL_MS),
    "mysql-monitor_read_only_timeout": "500",
    "mysql-monitor_replication_lag_interval": str(LAG_INTERVAL_MS),
    "mysql-monitor_replication_lag_timeout": "500",
    "mysql-shun_recovery_time_sec": "1",
}, detect_s=PING_DETECT_S, back_s=1 + PING_INTERVAL_MS / 1000.0)

# Every mysql-monitor_* timing and shun_recovery_time_sec as shipped. Back: 2 answers in a
# row, an interval apart, the first within an interval (or a probe's timeout) of resuming.
DEFAULTS = Profile("defaults", {}, detect_s=LIVE_DETECT_S,
                   back_s=(LIVE_INTERVAL_MS + max(LIVE_INTERVAL_MS, LIVE_TIMEOUT_MS)) / 1000.0)

PROFILES = pytest.mark.parametrize("profile", [FAST, DEFAULTS], ids=["fast", "defaults"])

# Reads to hostgroup 1, everything else to the user's default hostgroup 0.
SELECT_RULE = ("INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup, apply) VALUES (10, 1, '^SELECT', 1, 1);\n")


def monitor_sql(fleet, profile=FAST, max_lag=0, retries=3, history_ms=600000,
                rules_sql=SELECT_RULE, settings=None):
    """Servers, replication hostgroups, rules and settings: the profile's monitor timing,
    then the case's own settings (None: those of the fault cases; {}: none)."""
    servers = "".join(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections,"
        " max_replication_lag) VALUES (1, '%s', %d, 20, %d);\n" % (fleet.host, p, max_lag)
        for p in fleet.replica_ports)
    if settings is None:
        settings = {
            "mysql-monitor_writer_is_also_reader": "false",
            "mysql-monitor_history": str(history_ms),
            "mysql-query_retries_on_failure": str(retries),
            "mysql-connect_timeout_server": str(CONNECT_TIMEOUT_MS),
            "mysql-connect_timeout_server_max": "2000",
        }
    merged = {
        "mysql-monitor_username": fleet.env.get("FLEET_MONITOR_USER", "monitor"),
        "mysql-monitor_password": fleet.env.get("FLEET_MONITOR_PASSWORD", "monitorpass"),
    }
    merged.update(profile.settings)
    merged.update(settings)
    return (servers +
            "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup)"
            " VALUES (0, 1);\n" + rules_sql +
            "".join("INSERT OR REPLACE INTO global_variables VALUES ('%s', '%s');\n" % kv
                    for kv in merged.items()))


class Setup:
    """One throwaway fleet and one Sluice in front of it."""

    def __init__(self, tmp, **monitor_kw):
        self.dir = tempfile.mkdtemp(prefix="fleet-", dir=tmp)
        self.fleet_sh = os.path.join(harness.SOURCE_ROOT, "tests", "fleet.sh")
        last = ""
        for _ in range(3):
            base = harness.free_ports(3, PORT_RANGE, consecutive=True)[0]
            r = subprocess.run([self.fleet_sh, "start", self.dir, "--base-port", str(base),
                                "--replicas", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=180)
            if r.returncode == 0:
                break
            last = r.stdout
            subprocess.run([self.fleet_sh, "stop", self.dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        else:
            raise RuntimeError("fleet.sh start failed:\n" + last)
        self.fleet = harness.Fleet(os.path.join(self.dir, "fleet.env"))
        binary = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build",
                                                               "sluice")
        self.sluice = harness.start_sluice(binary, self.fleet, os.path.join(tmp, "sluice"),
                                           cap=20, extra_sql=monitor_sql(self.fleet,
                                                                         **monitor_kw))
        self.stopped = set()

    def pid(self, index):
        env = harness.parse_env_file(os.path.join(self.dir, "fleet.env"))
        return int(env["FLEET_PIDS"].split()[index])

    def node(self, index, *args):
        r = subprocess.run([self.fleet_sh] + list(args) + [self.dir, str(index)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        assert r.returncode == 0, r.stdout

    def direct(self, index, **kw):
        port = self.fleet.primary_port if index == 0 else self.fleet.replica_ports[index - 1]
        return pymysql.connect(host=self.fleet.host, port=port, user="root",
                               password=self.fleet.root_password, autocommit=True,
                               connect_timeout=5, read_timeout=10, **kw)

    def admin(self):
        return pymysql.connect(host=harness.HOST, port=self.sluice.admin_port, user="admin",
                               password="admin", autocommit=True, connect_timeout=5,
                               read_timeout=10)

    def admin_rows(self, sql):
        c = self.admin()
        try:
            return q(c, sql)
        finally:
            c.close()

    def close(self):
        for idx in self.stopped:
            try:
                os.kill(self.pid(idx), signal.SIGCONT)
            except (OSError, ValueError, KeyError):
                pass
        try:
            self.sluice.stop()
            problems = self.sluice.problems
            tail = self.sluice.stderr_tail()
        finally:
            subprocess.run([self.fleet_sh, "stop", self.dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        assert not problems, "%s\n%s" % (problems, tail)


@pytest.fixture
def setup(tmp_path):
    made = []

    def make(**kw):
        s = Setup(str(tmp_path), **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


class Load:
    """n client threads through Sluice, each running fn(conn, i) in a loop until stop();
    records (start, latency, result or None, error code or None) per statement. A client
    whose connection broke reconnects."""

    def __init__(self, target, fn, n=3, read_timeout=30):
        self.target, self.fn, self.read_timeout = target, fn, read_timeout
        self.samples = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(n)]
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def _run(self, i):
        conn = None
        k = 0
        while not self.stopping.is_set():
            start = time.monotonic()
            res, err = None, None
            try:
                if conn is None:
                    conn = harness.connect(self.target, read_timeout=self.read_timeout,
                                           connect_timeout=5)
                res = self.fn(conn, i * 1000000 + k)
            except pymysql.MySQLError as e:
                err = harness.error_code(e) or -1
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
            with self.lock:
                self.samples.append((start, time.monotonic() - start, res, err))
            k += 1
            if err:
                time.sleep(0.02)
        if conn is not None:
            conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a client thread hung"
        return sorted(self.samples)

    def wait(self, seconds):
        time.sleep(seconds)


def status_of(s, port, conn=None):
    sql = "SELECT status FROM stats_mysql_connection_pool WHERE srv_port = %d" % port
    rows = q(conn, sql) if conn is not None else s.admin_rows(sql)
    return rows[0][0] if rows else None


def wait_status(s, port, want, timeout, since=None):
    """Seconds from since (default: now) until stats_mysql_connection_pool shows want (a
    status or a tuple of them) for port, or None. One admin connection for the whole wait:
    with busy client threads holding the GIL, a connect per poll would blur the figure."""
    t0 = time.monotonic() if since is None else since
    wanted = (want,) if isinstance(want, str) else tuple(want)
    deadline = harness.Deadline(timeout)
    a = s.admin()
    try:
        while not deadline.expired():
            if status_of(s, port, a) in wanted:
                return time.monotonic() - t0
            time.sleep(0.02)
    finally:
        a.close()
    return None


def read_port(conn, _):
    return q1(conn, "SELECT @@port")


def errors(samples, since=0):
    return [s for s in samples if s[3] is not None and s[0] >= since]


@PROFILES
def test_replica_kill9_reads_continue(setup, profile):
    """(a) kill -9 of a replica under autocommit reads: the reads that were on it run again
    on the other replica (mysql-query_retries_on_failure), so clients see no error."""
    s = setup(profile=profile, retries=3)
    victim, other = s.fleet.replica_ports
    load = Load(s.sluice, read_port, n=4)
    time.sleep(2)
    t_kill = time.monotonic()
    os.kill(s.pid(1), signal.SIGKILL)
    # Long enough for reads after the detection bound.
    time.sleep(max(4.0, profile.detect_s + MARGIN_S + 0.5))
    samples = load.stop()
    errs = errors(samples)
    after = [x for x in samples if x[0] > t_kill and x[3] is None]
    last_victim = max([x[0] + x[1] for x in after if x[2] == victim], default=t_kill)
    print("\n(a) replica kill -9: %d reads, %d client errors %s, reads served by the killed "
          "replica until %.2f s after the kill, %d reads after the kill on %s" % (
              len(samples), len(errs), sorted({e[3] for e in errs}), last_victim - t_kill,
              len(after), sorted({x[2] for x in after})))
    assert {x[2] for x in samples if x[0] < t_kill} == {victim, other}
    late = [x for x in after if x[0] > t_kill + profile.detect_s + MARGIN_S]
    assert late and all(x[2] == other for x in late)
    assert status_of(s, victim) == "SHUNNED"
    # Reads that broke on the killed replica ran again (retry); connects refused by it
    # before the monitor shunned it went to the hostgroup's other server.
    assert not [e for e in errs if e[3] == 2013], "a broken read reached the client"
    assert not errs, "%d client errors before the shun: %s" % (len(errs), errs[:3])


@PROFILES
def test_replica_sigstop_shunned_then_back(setup, profile):
    """(b) SIGSTOP on a replica: shunned within the ping bound (defaults: the liveness
    bound), no client waits much longer than that; SIGCONT brings it back."""
    s = setup(profile=profile, retries=3)
    detect = profile.detect_s
    victim, other = s.fleet.replica_ports
    load = Load(s.sluice, read_port, n=3)
    time.sleep(1.5)
    s.stopped.add(1)
    t_stop = time.monotonic()
    os.kill(s.pid(1), signal.SIGSTOP)
    shunned_at = wait_status(s, victim, "SHUNNED", detect + 5)
    # The freeze lasts past the bound, so reads start after it while it is still frozen.
    time.sleep(max(0.0, max(3.5, detect + MARGIN_S + 1.0) - (time.monotonic() - t_stop)))
    t_cont = time.monotonic()
    os.kill(s.pid(1), signal.SIGCONT)
    s.stopped.discard(1)
    online_at = wait_status(s, victim, "ONLINE", 8)
    back_at = None
    deadline = harness.Deadline(4)
    while not deadline.expired():
        with load.lock:
            if any(x[2] == victim and x[0] > t_cont for x in load.samples):
                back_at = time.monotonic() - t_cont
                break
        time.sleep(0.05)
    samples = load.stop()
    during = [x for x in samples if t_stop <= x[0] < t_cont]
    worst = max(x[1] for x in samples)
    fmt = lambda v: "%.2f" % v if v is not None else "never"  # noqa: E731
    print("\n(b) replica SIGSTOP: shunned after %s s (bound %.1f s), %d client errors %s, "
          "worst statement %.2f s, ONLINE again %s s and reads on it %s s after SIGCONT" % (
              fmt(shunned_at), detect, len(errors(samples)),
              sorted({e[3] for e in errors(samples)}), worst, fmt(online_at), fmt(back_at)))
    assert shunned_at is not None and shunned_at <= detect + MARGIN_S
    late = [x for x in during if x[0] > t_stop + detect + MARGIN_S]
    assert late and all(x[2] == other for x in late if x[3] is None)
    assert online_at is not None and online_at <= profile.back_s + MARGIN_S
    # OFFLINE_HARD broke the connections hung on the stopped server; the reads ran again.
    assert worst <= detect + MARGIN_S, "a client waited %.2f s" % worst
    assert back_at is not None, "no reads on the replica once back ONLINE"


@PROFILES
def test_primary_kill9_writes_fail_fast_then_resume(setup, profile):
    """(c) kill -9 of the primary under writes: clear errors, fast, never a hang; after
    fleet.sh start-node the same Sluice takes writes again; every acknowledged row is
    there."""
    s = setup(profile=profile)
    c = harness.connect(s.sluice)
    q(c, "CREATE TABLE IF NOT EXISTS app.fo_w (id BIGINT PRIMARY KEY, port INT)")
    c.close()
    acked = []

    def write(conn, k):
        q(conn, "INSERT INTO app.fo_w VALUES (%s, @@port)", (k,))
        acked.append(k)
        return k

    load = Load(s.sluice, write, n=3)
    time.sleep(2)
    t_kill = time.monotonic()
    os.kill(s.pid(0), signal.SIGKILL)
    time.sleep(3)
    t_start = time.monotonic()
    s.node(0, "start-node")
    resumed = None
    deadline = harness.Deadline(15)
    while not deadline.expired():
        with load.lock:
            if any(x[3] is None and x[0] > t_start for x in load.samples):
                resumed = time.monotonic() - t_start
                break
        time.sleep(0.1)
    time.sleep(1)
    samples = load.stop()
    outage = [x for x in samples if t_kill <= x[0] < t_start]
    errs = errors(samples)
    worst = max(x[1] for x in outage) if outage else 0
    d = s.direct(0)
    found = {r[0] for r in q(d, "SELECT id FROM app.fo_w")}
    d.close()
    missing = [k for k in acked if k not in found]
    print("\n(c) primary kill -9: %d writes during the outage, errors %s, worst write "
          "latency during the outage %.2f s, writes resumed %s s after start-node, "
          "rows acknowledged %d, rows found %d, acknowledged but missing %d" % (
              len(outage), sorted({e[3] for e in errs}), worst,
              "%.2f" % resumed if resumed is not None else "never", len(acked), len(found),
              len(missing)))
    assert errors(outage), "writes during the outage should fail"
    assert worst <= CONNECT_TIMEOUT_MS / 1000.0 + MARGIN_S, "a write waited %.2f s" % worst
    assert resumed is not None
    assert not missing


def test_promotion_moves_writes(setup):
    """(d) promotion: replica 1 stops replicating and becomes writable, the old primary
    read-only: writes follow within two read_only intervals."""
    s = setup()
    c = harness.connect(s.sluice)
    q(c, "CREATE TABLE IF NOT EXISTS app.fo_p (id BIGINT PRIMARY KEY, port INT)")
    c.close()
    d0 = s.direct(0)
    pos = q1(d0, "SELECT @@gtid_binlog_pos")
    d0.close()
    d1 = s.direct(1)
    q(d1, "SELECT MASTER_GTID_WAIT(%s, 10)", (pos,))

    def write(conn, k):
        q(conn, "INSERT INTO app.fo_p VALUES (%s, @@port)", (k,))
        return k

    load = Load(s.sluice, write, n=2)
    time.sleep(1.5)
    new_port = s.fleet.replica_ports[0]
    q(d1, "STOP SLAVE")
    q(d1, "SET GLOBAL read_only = 0")
    d0 = s.direct(0)
    t_flip = time.monotonic()
    q(d0, "SET GLOBAL read_only = 1")
    d0.close()
    moved = None
    deadline = harness.Deadline(8)
    while not deadline.expired():
        if q(d1, "SELECT COUNT(*) FROM app.fo_p WHERE port = %s", (new_port,))[0][0]:
            moved = time.monotonic() - t_flip
            break
        time.sleep(0.05)
    time.sleep(0.5)
    samples = load.stop()
    d1.close()
    errs = errors(samples, since=t_flip)
    rows = [tuple(int(v) for v in r) for r in
            s.admin_rows("SELECT hostgroup_id, port FROM runtime_mysql_servers ORDER BY 1, 2")]
    print("\n(d) promotion: writes on the new primary %s s after the flip (bound %.1f s), "
          "%d write errors meanwhile %s, runtime_mysql_servers %s" % (
              "%.2f" % moved if moved is not None else "never",
              2 * READ_ONLY_INTERVAL_MS / 1000.0, len(errs), sorted({e[3] for e in errs}),
              rows))
    assert moved is not None and moved <= 2 * READ_ONLY_INTERVAL_MS / 1000.0 + MARGIN_S
    assert (0, new_port) in rows and (1, s.fleet.primary_port) in rows
    assert (0, s.fleet.primary_port) not in rows


def test_lag_shuns_reader_and_brings_it_back(setup):
    """(e) replica with its SQL thread stopped while writes continue (lag unknown, then
    growing): reads leave it; START SLAVE brings them back."""
    s = setup(max_lag=1)
    victim, other = s.fleet.replica_ports
    c = harness.connect(s.sluice)
    q(c, "CREATE TABLE IF NOT EXISTS app.fo_l (id BIGINT PRIMARY KEY)")
    c.close()

    def write(conn, k):
        q(conn, "INSERT INTO app.fo_l VALUES (%s)", (k,))

    writes = Load(s.sluice, write, n=1)
    reads = Load(s.sluice, read_port, n=2)
    time.sleep(1.5)
    d1 = s.direct(1)
    t_stop = time.monotonic()
    q(d1, "STOP SLAVE SQL_THREAD")
    gone = wait_status(s, victim, "SHUNNED", 6)
    time.sleep(2)
    t_start = time.monotonic()
    q(d1, "START SLAVE SQL_THREAD")
    online_at = wait_status(s, victim, "ONLINE", 6)
    back = None
    deadline = harness.Deadline(4)
    while not deadline.expired():
        with reads.lock:
            if any(x[2] == victim and x[0] > t_start for x in reads.samples):
                back = time.monotonic() - t_start
                break
        time.sleep(0.05)
    rs = reads.stop()
    writes.stop()
    d1.close()
    lagging = [x for x in rs if t_stop + LAG_INTERVAL_MS / 1000.0 + MARGIN_S < x[0] < t_start]
    lag_rows = s.admin_rows("SELECT COUNT(*) FROM mysql_server_replication_lag_log WHERE port = "
                            "%d AND repl_lag IS NULL AND error IS NULL" % victim)[0][0]
    lag_rows = int(lag_rows)
    print("\n(e) lag: replica shunned %s s after STOP SLAVE SQL_THREAD, %d reads while it "
          "lagged (on %s), ONLINE again %s s and reads back on it %s s after START SLAVE, "
          "%d NULL-lag log rows, %d read errors" % (
              "%.2f" % gone if gone is not None else "never", len(lagging),
              sorted({x[2] for x in lagging}),
              "%.2f" % online_at if online_at is not None else "never",
              "%.2f" % back if back is not None else "never", lag_rows, len(errors(rs))))
    assert gone is not None and gone <= LAG_INTERVAL_MS / 1000.0 + MARGIN_S
    assert lagging and all(x[2] == other for x in lagging if x[3] is None)
    # Back once a check sees it caught up; the replica's own Seconds_Behind_Master takes a
    # moment to settle after START SLAVE, so the bound is loose.
    assert online_at is not None and online_at <= 4 * LAG_INTERVAL_MS / 1000.0 + 2 * MARGIN_S
    assert lag_rows > 0
    assert not errors(rs)
    assert back is not None, "no reads on the replica once back ONLINE"


def test_monitor_logs_bounded_and_show_errors(setup):
    """(f) the monitor log tables keep mysql-monitor_history worth of rows and show the
    errors of a stopped server."""
    history_ms = 2000
    s = setup(history_ms=history_ms)
    victim = s.fleet.replica_ports[1]
    time.sleep(1)
    s.node(2, "stop-node")
    time.sleep(history_ms / 1000.0 + 2)
    a = s.admin()
    now_us = int(time.time() * 1e6)
    counts = {}
    for t in ("connect", "ping", "read_only", "replication_lag"):
        counts[t] = int(q1(a, "SELECT COUNT(*) FROM mysql_server_%s_log" % t))
    # Pruned about once a second: nothing older than history plus that.
    old = int(q1(a, "SELECT COUNT(*) FROM mysql_server_ping_log WHERE time_start_us < %d"
             % (now_us - (history_ms + 1500) * 1000)))
    ping_errs = q(a, "SELECT ping_error FROM mysql_server_ping_log WHERE port = %d AND "
                     "ping_error IS NOT NULL ORDER BY time_start_us DESC LIMIT 1" % victim)
    conn_errs = int(q1(a, "SELECT COUNT(*) FROM mysql_server_connect_log WHERE port = %d AND "
                      "connect_error IS NOT NULL" % victim))
    with pytest.raises(pymysql.MySQLError) as e:
        q(a, "DELETE FROM mysql_server_ping_log")
    status = q1(a, "SELECT status FROM runtime_mysql_servers WHERE port = %d" % victim)
    a.close()
    # Per server: (history + the 1 s between prunes) / interval rows, plus one in flight.
    bound = 3 * ((history_ms + 1000) / PING_INTERVAL_MS + 2)
    print("\n(f) logs: rows %s (ping bound %d), rows older than history %d, last ping error "
          "of the stopped server %r, connect errors %d, its status %s" % (
              counts, bound, old, ping_errs[0][0] if ping_errs else None, conn_errs, status))
    assert old == 0
    assert counts["ping"] <= bound
    assert ping_errs and conn_errs > 0
    assert "read-only" in str(e.value)
    assert status == "SHUNNED"
