"""Shared helpers for Sluice's integration tests.

The tests talk to a real MariaDB fleet (tests/fleet.sh) either through a Sluice process
started per test (the normal mode) or directly to the primary (SLUICE_TEST_DIRECT=1, used to
check the tests themselves against a real server). Every wait here is bounded.
"""

import contextlib
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pymysql
import pytest

HOST = "127.0.0.1"
SOURCE_ROOT = os.environ.get(
    "SLUICE_SOURCE_ROOT",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
FLEET_SCRIPT = os.path.join(SOURCE_ROOT, "tests", "fleet.sh")
DIRECT = os.environ.get("SLUICE_TEST_DIRECT", "") not in ("", "0")
# Under CI (.ci/run runs tests/run.sh with CI=true) every part the tests need must be there:
# a missing one fails the test instead of skipping it (see require()).
CI = os.environ.get("CI") == "true"

# Ports this suite may use (the fleet takes a few consecutive ports of the lower half,
# Sluice instances take two ports of the upper half).
FLEET_PORT_RANGE = (22000, 22499)
SLUICE_PORT_RANGE = (22500, 22999)

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def mariadbd_path():
    """The mariadbd that tests/fleet.sh will run ($MARIADBD, as fleet.sh reads it), or None."""
    if os.environ.get("MARIADBD"):
        p = os.environ["MARIADBD"]
        return p if os.access(p, os.X_OK) else None
    return shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else None)


def require(cond, reason):
    """Skips the running test (or fixture) with reason unless cond holds. With CI=true a
    missing part (a replica, sysbench, promtool, the mariadb client, MariaDB itself) fails
    the test with the same reason instead: a CI run must not pass by skipping."""
    if cond:
        return
    if CI:
        pytest.fail("%s (CI=true: a missing part fails)" % reason, pytrace=False)
    pytest.skip(reason)


def unique(prefix):
    """A table name that does not collide with other tests or other runs."""
    return "%s_%d_%06d" % (prefix, os.getpid(), random.randrange(1000000))


# --- ports -------------------------------------------------------------------------------

def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_port_lock = threading.Lock()
_ports_handed_out = set()


def free_ports(count, port_range, consecutive=False):
    """count free ports from port_range (consecutive ones if asked), not handed out before
    by this process, unless the range ran out: then ports handed out earlier that nothing
    holds any more (their Sluice or fleet stopped) are used again."""
    lo, hi = port_range
    with _port_lock:
        for attempt in range(2):
            for _ in range(500):
                if consecutive:
                    base = random.randint(lo, hi - count + 1)
                    cand = list(range(base, base + count))
                else:
                    cand = random.sample(range(lo, hi + 1), count)
                if any(p in _ports_handed_out for p in cand):
                    continue
                if all(port_free(p) for p in cand):
                    _ports_handed_out.update(cand)
                    return cand
            if attempt == 0:
                _ports_handed_out.difference_update(
                    [p for p in range(lo, hi + 1) if p in _ports_handed_out and port_free(p)])
    raise RuntimeError("no free ports in %s" % (port_range,))


def wait_port(host, port, timeout, proc=None):
    """True once host:port accepts a TCP connection; False at the deadline or when proc
    exits first."""
    def up():
        if proc is not None and proc.poll() is not None:
            return "exited"
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return "up"
        except OSError:
            return None
    return poll(up, bool, timeout, interval=0.05) == "up"


# --- the fleet ---------------------------------------------------------------------------

def parse_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            parts = shlex.split(value)
            env[key.strip()] = parts[0] if len(parts) == 1 else " ".join(parts)
    return env


class Fleet:
    def __init__(self, env_path):
        self.env_path = env_path
        e = parse_env_file(env_path)
        self.env = e
        self.dir = e.get("FLEET_DIR", os.path.dirname(env_path))
        self.host = e.get("FLEET_HOST", HOST)
        self.primary_port = int(e["FLEET_PRIMARY_PORT"])
        self.replica_ports = [int(p) for p in e.get("FLEET_REPLICA_PORTS", "").split()]
        self.root_user = e.get("FLEET_ROOT_USER", "root")
        self.root_password = e.get("FLEET_ROOT_PASSWORD", "rootpass")
        self.app_user = e.get("FLEET_APP_USER", "app")
        self.app_password = e.get("FLEET_APP_PASSWORD", "apppass")
        self.app2_user = e.get("FLEET_APP2_USER", "app2")
        self.app2_password = e.get("FLEET_APP2_PASSWORD", "app2pass")

    def root(self, db=None, **kw):
        """A direct connection to the primary as root (to inspect the server's view)."""
        args = dict(host=self.host, port=self.primary_port, user=self.root_user,
                    password=self.root_password, database=db, autocommit=True,
                    connect_timeout=10, read_timeout=60, write_timeout=120,
                    charset="utf8mb4")
        args.update(kw)
        return pymysql.connect(**args)

    def root_query(self, sql, args=None):
        conn = self.root()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def count_connections(self, user="app", conn=None):
        """Connections the primary holds for user, counted by the server itself."""
        sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s"
        if conn is not None:
            with conn.cursor() as cur:
                cur.execute(sql, (user,))
                return cur.fetchone()[0]
        return self.root_query(sql, (user,))[0][0]

    def connection_ids(self, user="app"):
        rows = self.root_query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        return {r[0] for r in rows}

    def global_status(self, name):
        rows = self.root_query("SHOW GLOBAL STATUS LIKE %s", (name,))
        return int(rows[0][1])


def start_fleet(workdir, replicas=0, timeout=180):
    """Start a fleet with tests/fleet.sh under workdir on free ports; returns its fleet.env
    path."""
    last = None
    for _ in range(3):
        base = free_ports(replicas + 1, FLEET_PORT_RANGE, consecutive=True)[0]
        fdir = os.path.join(workdir, "fleet-%d" % base)
        r = subprocess.run(["bash", FLEET_SCRIPT, "start", fdir, "--base-port", str(base),
                            "--replicas", str(replicas)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, universal_newlines=True)
        if r.returncode == 0:
            return os.path.join(fdir, "fleet.env")
        last = r.stdout
        subprocess.run(["bash", FLEET_SCRIPT, "stop", fdir], timeout=120)
        if "already in use" not in r.stdout:
            break
    raise RuntimeError("tests/fleet.sh start failed:\n%s" % last)


def stop_fleet(env_path):
    fdir = os.path.dirname(env_path)
    subprocess.run(["bash", FLEET_SCRIPT, "stop", fdir], timeout=120)


# --- Sluice ------------------------------------------------------------------------------

def sluice_config(fleet, port, admin_port, cap, threads, extra_sql="", metrics_port=None):
    return (
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
        "VALUES (0, '%s', %d, %d);\n"
        "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES "
        "('%s', '%s', 0), ('%s', '%s', 0);\n"
        "INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES "
        "('mysql-interfaces', '%s:%d'), ('admin-mysql_ifaces', '%s:%d'), "
        "('mysql-threads', '%d');\n"
        "%s"
        "%s\n" % (fleet.host, fleet.primary_port, cap,
                  fleet.app_user, fleet.app_password, fleet.app2_user, fleet.app2_password,
                  HOST, port, HOST, admin_port, threads,
                  # Each instance its own metrics port, so tests never collide on 6070.
                  "INSERT OR REPLACE INTO global_variables VALUES ('admin-restapi_port', '%d');\n"
                  % metrics_port if metrics_port else
                  "INSERT OR REPLACE INTO global_variables VALUES "
                  "('admin-restapi_enabled', 'false');\n",
                  extra_sql))


def replica_servers(fleet, cap=10):
    """Config rows putting every replica of fleet in hostgroup 1, cap connections each."""
    return "".join(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
        "VALUES (1, '%s', %d, %d);\n" % (fleet.host, p, cap) for p in fleet.replica_ports)


def mysql_variables(**values):
    """Config rows setting mysql-NAME to value for each NAME=value."""
    return "".join("INSERT OR REPLACE INTO global_variables VALUES ('mysql-%s', '%s');\n"
                   % (k, v) for k, v in values.items())


def tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no file %s)" % path
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


class Target:
    """Where a test connects: a Sluice process, or the primary itself in direct mode."""

    def __init__(self, host, port, direct, cap=None, fleet=None):
        self.host = host
        self.port = port
        self.direct = direct
        self.cap = cap
        self.fleet = fleet
        self.proc = None
        self.stderr_path = None
        self.workdir = None
        self.problems = []
        self._stopped = False

    def stop(self, timeout=30):
        """SIGTERM and wait (bounded). Records a problem if the exit is not clean."""
        if self.proc is None or self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.problems.append("sluice did not exit within %ds of SIGTERM" % timeout)
                self.proc.kill()
                self.proc.wait(timeout=10)
        rc = self.proc.returncode
        if rc != 0:
            self.problems.append("sluice exit code %s (expected 0)" % rc)
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode("utf-8", "replace")
        except OSError:
            err = ""
        for marker in SANITIZER_MARKERS:
            if marker in err:
                self.problems.append("sluice stderr contains %r" % marker)

    def stderr_tail(self, lines=60):
        if self.stderr_path is None:
            return ""
        return tail(self.stderr_path, lines)

    def __repr__(self):
        return "<Target %s:%d %s>" % (self.host, self.port,
                                      "direct" if self.direct else "sluice")


def sluice_metrics_ports(extra_sql, metrics_port):
    """The metrics port a Sluice configured with extra_sql listens on, as a list ([] when
    extra_sql turns the endpoint off; extra_sql's own port when it sets one)."""
    if re.search(r"'admin-restapi_enabled',\s*'false'", extra_sql):
        return []
    m = re.search(r"'admin-restapi_port',\s*'(\d+)'", extra_sql)
    return [int(m.group(1))] if m else [metrics_port]


def start_sluice(binary, fleet, workdir, cap=10, threads=2, extra_sql="", start_timeout=10):
    port, admin_port, metrics_port = free_ports(3, SLUICE_PORT_RANGE)
    os.makedirs(workdir, exist_ok=True)
    datadir = os.path.join(workdir, "data")
    os.makedirs(datadir, exist_ok=True)
    cfg = os.path.join(workdir, "config.sql")
    with open(cfg, "w") as f:
        f.write(sluice_config(fleet, port, admin_port, cap, threads, extra_sql, metrics_port))
    t = Target(HOST, port, direct=False, cap=cap, fleet=fleet)
    t.admin_port = admin_port
    t.metrics_port = metrics_port
    t.workdir = workdir
    t.stderr_path = os.path.join(workdir, "sluice.stderr")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    with open(t.stderr_path, "wb") as errf, open(os.path.join(workdir, "sluice.stdout"),
                                                 "wb") as outf:
        t.proc = subprocess.Popen([binary, "--datadir", datadir, "--config", cfg,
                                   "--foreground"],
                                  stdin=subprocess.DEVNULL, stdout=outf, stderr=errf,
                                  env=env)
    # Sluice opens its client port last, so the first wait covers the others; waiting for
    # each port the tests use keeps a test from racing a listener all the same.
    ports = [port, admin_port] + sluice_metrics_ports(extra_sql, metrics_port)
    if not all(wait_port(HOST, p, start_timeout, t.proc) for p in ports):
        rc = t.proc.poll()
        if rc is None:
            t.proc.kill()
            t.proc.wait(timeout=10)
        raise RuntimeError(
            "sluice did not accept connections on %s ports %s within %ds (exit code %s); "
            "stderr tail:\n%s" % (HOST, ports, start_timeout, rc, t.stderr_tail()))
    return t


# --- clients -----------------------------------------------------------------------------

def connect(target, user=None, password=None, db="app", **kw):
    """A PyMySQL connection to target (autocommit on unless asked otherwise)."""
    fleet = target.fleet
    args = dict(host=target.host, port=target.port,
                user=user if user is not None else fleet.app_user,
                password=password if password is not None else fleet.app_password,
                database=db, autocommit=True, connect_timeout=10, read_timeout=60,
                write_timeout=60, charset="utf8mb4")
    args.update(kw)
    return pymysql.connect(**args)


def q(conn, sql, args=None):
    """Run one statement, return all rows."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def q1(conn, sql, args=None):
    """Run one statement, return the first column of the only row."""
    rows = q(conn, sql, args)
    assert len(rows) == 1, "%s: expected one row, got %r" % (sql, rows)
    return rows[0][0]


@contextlib.contextmanager
def closing_all(*things):
    """Yields things (the thing itself when there is one) and closes each, in order, when
    the block ends, as a try/finally would: `with closing_all(connect(target),
    Noise(target)) as (conn, noise):`."""
    try:
        yield things[0] if len(things) == 1 else things
    finally:
        for thing in things:
            thing.close()


def q_in_background(conn, sql):
    """A thread (not started) that runs q(conn, sql), and an Event set when it has ended,
    whichever way."""
    done = threading.Event()

    def run():
        try:
            q(conn, sql)
        finally:
            done.set()

    return threading.Thread(target=run), done


def error_code(exc):
    return exc.args[0] if exc.args else None


class Noise:
    """A second session on the same target, with state deliberately different from the
    session under test, whose statements run between the tested session's statements.

    With a Sluice pool of one backend connection, this makes the two sessions share that
    backend, so any session state the proxy fails to carry shows up. Each statement runs on
    a worker thread: if the proxy keeps the backend for the tested session (pinning), the
    noise waits without blocking the test, and between() gives up waiting after a moment.
    """

    SETUP = ("USE sbtest",
             "SET NAMES latin1",
             "SET SESSION sql_mode = 'TRADITIONAL'",
             "SET SESSION time_zone = '+03:00'",
             "SET SESSION div_precision_increment = 2",
             "SET SESSION max_statement_time = 77")

    def __init__(self, target, statements=("SELECT 1",)):
        self.conn = connect(target, db="sbtest", charset="latin1")
        for sql in self.SETUP:
            q(self.conn, sql)
        self.statements = list(statements)
        self.n = 0
        self.errors = []
        self.results = []
        self.threads = []

    def _run(self, sql):
        try:
            self.results.append(q(self.conn, sql))
        except Exception as e:  # recorded, reported by close()
            self.errors.append("%s: %r" % (sql, e))

    def between(self, wait=1.0):
        # One statement at a time: wait for the previous one before starting the next.
        for th in self.threads:
            th.join(timeout=60)
            assert not th.is_alive(), "noise statement did not finish within 60 s"
        self.threads = []
        sql = self.statements[self.n % len(self.statements)]
        self.n += 1
        th = threading.Thread(target=self._run, args=(sql,), daemon=True)
        th.start()
        self.threads.append(th)
        th.join(timeout=wait)

    def close(self, check=True):
        for th in self.threads:
            th.join(timeout=60)
        alive = any(th.is_alive() for th in self.threads)
        try:
            if not alive:
                # Noise's own state must be intact too.
                row = q(self.conn, "SELECT DATABASE(), @@character_set_client, "
                                   "@@time_zone, @@max_statement_time")[0]
                if check:
                    assert row == ("sbtest", "latin1", "+03:00", 77.0), \
                        "noise session lost its state: %r" % (row,)
        finally:
            self.conn.close()
        if check:
            assert not alive, "noise statement still running after 60 s"
            assert not self.errors, "noise session errors: %s" % self.errors


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def expired(self):
        return self.left() <= 0


# --- waiting -----------------------------------------------------------------------------
# A test waits on what it then asserts, never for a fixed time: poll() and wait_until() are
# the bounded waits. A fixed time.sleep() elsewhere is the thing under test (a session kept
# idle past a timeout, a load paced), and says so in a comment.

def poll(read, ok, timeout, interval=0.02):
    """Calls read() until ok(value) holds or timeout seconds have passed; returns the last
    value read either way, so that the caller's own assertions report the actual figures."""
    deadline = Deadline(timeout)
    while True:
        v = read()
        if ok(v) or deadline.expired():
            return v
        time.sleep(min(interval, max(0.0, deadline.left())))


def wait_until(fn, timeout, what, interval=0.02):
    """Calls fn() until it returns a true value, and returns that value; fails the test
    ("timed out after N s waiting for WHAT") if that takes longer than timeout seconds."""
    v = poll(fn, bool, timeout, interval)
    if not v:
        raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))
    return v


def admin(target, user="admin", password="admin"):
    """A connection to target's admin port."""
    return pymysql.connect(host=target.host, port=target.admin_port, user=user,
                           password=password, autocommit=True, connect_timeout=10,
                           read_timeout=30)


def rss_kib(pid):
    """The resident set size of process pid, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def capi_client_path(workdir):
    """The C API client: SLUICE_CAPI_CLIENT, or compiled here with cc + pkg-config."""
    p = os.environ.get("SLUICE_CAPI_CLIENT")
    if p:
        return p
    here = os.path.dirname(os.path.abspath(__file__))
    srcs = [os.path.join(here, f) for f in ("capi_client.c", "capi_session.c", "capi_charset.c")]
    out = os.path.join(workdir, "capi_client")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True)
    subprocess.run(["cc", "-O1", "-g", "-Wall", "-Wextra", "-o", out] + srcs
                   + flags.stdout.split(), check=True, timeout=120)
    return out


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)
