"""Hostile and careless peers: clients that flood, stall, spray passwords or send oversized
messages, and backends that misbehave. Each test checks what an operator would: Sluice stays
up, its memory stays bounded, ordinary clients keep being served, and the peer gets a clear
error. Raw-protocol peers come from mysqlwire.py; a fake server plays the broken backend."""

import os
import resource
import socket
import subprocess
import threading
import time

import pymysql
import pytest

import harness
import mysqlwire
from harness import Deadline, connect, error_code, q, q1, rss_kib

pytestmark = pytest.mark.proxy_only


admin = harness.admin


def asan_slack_kib(target):
    """What AddressSanitizer adds to RSS: it keeps freed memory in its quarantine (up to
    256 MiB) to catch use after free, so a workload that allocates and frees a lot looks as
    if it grew. The bounds below hold for the normal build; under ASan they get this much
    more, and the sanitizer's own checks are the point of that run."""
    r = subprocess.run(["ldd", target.proc.args[0]], stdout=subprocess.PIPE,
                       universal_newlines=True)
    return 320 * 1024 if "libasan" in r.stdout else 0


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def client_works_now(target):
    """Whether an ordinary client gets in and is answered (False when refused)."""
    try:
        return ordinary_client_works(target)
    except pymysql.err.OperationalError:
        return False


def ordinary_client_works(target):
    conn = connect(target, connect_timeout=5)
    try:
        return q1(conn, "SELECT 1") == 1
    finally:
        conn.close()


# --- pre-auth memory ----------------------------------------------------------------------

def flood(target, stop, sent):
    """Log in never; send chains of 16 MiB packets (header ff ff ff, then the bytes), again
    and again, reconnecting whenever Sluice closes the connection."""
    chunk = b"\0" * 65536
    while not stop.is_set():
        try:
            s = socket.create_connection((target.host, target.port), timeout=2)
            s.recv(4096)  # the greeting
            seq = 1
            while not stop.is_set():
                s.sendall(mysqlwire.header(0xffffff, seq))
                for _ in range(256):
                    s.sendall(chunk)
                    sent[0] += len(chunk)
                seq += 1
        except OSError:
            pass


def test_pre_auth_flood_keeps_memory_bounded_and_serves_others(sluice):
    target = sluice()
    assert ordinary_client_works(target)
    before = rss_kib(target.proc.pid)
    stop = threading.Event()
    sent = [0]
    threads = [threading.Thread(target=flood, args=(target, stop, sent), daemon=True)
               for _ in range(4)]
    for t in threads:
        t.start()
    peak = before
    served = 0
    deadline = Deadline(6)
    try:
        while not deadline.expired():
            peak = max(peak, rss_kib(target.proc.pid))
            assert ordinary_client_works(target)
            served += 1
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    print("\nflood: %.0f MiB offered; RSS %d KiB before, peak %d KiB; %d ordinary clients served"
          % (sent[0] / 1048576.0, before, peak, served))
    assert served >= 10
    # Before the bound, four such clients took RSS from 9 MiB to 2 GiB in 8 s.
    assert peak - before < 32 * 1024 + asan_slack_kib(target), \
        "RSS grew by %d KiB under the flood" % (peak - before)


def test_login_message_over_the_bound_is_refused(sluice):
    target = sluice()
    c = mysqlwire.Client(target.host, target.port)
    try:
        c.sock.sendall(mysqlwire.header(1 << 20, 1))
        _, payload = mysqlwire.read_packet(c.sock)
        assert mysqlwire.error_of(payload)[0] == 1153
        assert c.sock.recv(1) == b""  # and closed
    finally:
        c.close()


def logged_in(target, **kw):
    c = mysqlwire.Client(target.host, target.port, **kw)
    _, ok = c.login(target.fleet.app_user, target.fleet.app_password)
    assert ok[:1] == b"\x00", "login failed: %r" % (ok,)
    return c


def test_statement_over_max_allowed_packet_gets_1153_before_it_is_read(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-max_allowed_packet', '1048576');\n")
    c = logged_in(target)
    try:
        # Only the header of a 2 MiB COM_QUERY: the bound is checked on what it announces.
        c.sock.sendall(mysqlwire.header(2 << 20, 0) + b"\x03SELECT ")
        _, payload = mysqlwire.read_packet(c.sock)
        code, state, msg = mysqlwire.error_of(payload)
        assert (code, state) == (1153, "08S01"), msg
    finally:
        c.close()
    assert ordinary_client_works(target)


def test_default_max_allowed_packet_refuses_a_chain_past_64_mib(sluice):
    target = sluice()
    c = logged_in(target)
    try:
        chunk = b"\x03" + b" " * (0xffffff - 1)
        for seq in range(4):  # 4 full packets: 64 MiB - 4 bytes, within the default
            c.sock.sendall(mysqlwire.header(0xffffff, seq) + (chunk if seq == 0 else
                                                              b" " * 0xffffff))
        c.sock.sendall(mysqlwire.header(10, 4))  # the fifth would pass 64 MiB
        _, payload = mysqlwire.read_packet(c.sock)
        assert mysqlwire.error_of(payload)[0] == 1153
    finally:
        c.close()
    assert ordinary_client_works(target)


# --- slow and failed logins ---------------------------------------------------------------

def open_silent(target, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection((target.host, target.port), timeout=5)
        socks.append(s)
    for s in socks:
        mysqlwire.read_packet(s)  # each got its greeting
    return socks


def test_slowloris_of_1000_handshakes_with_defaults(sluice):
    raise_fd_limit(8192)
    target = sluice()
    socks = open_silent(target, 1000)
    try:
        for _ in range(5):
            assert ordinary_client_works(target)
        with admin(target) as a:
            rows = q(a, "SELECT COUNT(*) FROM stats_mysql_processlist")
        assert int(rows[0][0]) >= 1
    finally:
        for s in socks:
            s.close()


def test_silent_logins_are_closed_at_connect_timeout_client(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-connect_timeout_client', '1500');\n")
    socks = open_silent(target, 50)
    start = time.monotonic()
    try:
        for s in socks:
            s.settimeout(10)
            assert s.recv(1) == b""  # closed by Sluice
        took = time.monotonic() - start
        assert 1.0 < took < 5.0, took
    finally:
        for s in socks:
            s.close()
    assert ordinary_client_works(target)


def test_logins_in_progress_have_their_own_cap(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-max_unauthenticated_connections', '20');\n")
    # Hold 20 logins open. The harness's own probe of the port may hold a slot for a
    # moment, so a refused one is tried again until 20 greetings are held.
    socks = []
    deadline = Deadline(5)
    while len(socks) < 20:
        assert not deadline.expired(), "could not hold 20 logins open"
        try:
            socks.append(mysqlwire.Client(target.host, target.port).sock)
        except ConnectionRefusedError:
            time.sleep(0.05)
    try:
        with pytest.raises(ConnectionRefusedError) as e:
            mysqlwire.Client(target.host, target.port)
        assert e.value.args[0][0] == 1040
    finally:
        for s in socks:
            s.close()
    # The slots come back as the silent clients leave.
    harness.wait_until(lambda: client_works_now(target), 5, "an ordinary client to be served")


def timed_wrong_login(target, source):
    c = mysqlwire.Client(target.host, target.port, source=source)
    start = time.monotonic()
    try:
        _, payload = c.login(target.fleet.app_user, "wrong-password")
        took = time.monotonic() - start
        assert mysqlwire.error_of(payload)[0] == 1045
        return took
    finally:
        c.close()


def test_password_spray_backs_off_per_address(sluice):
    """Defaults: each failure doubles the next answer's wait from 100 ms up to 5 s."""
    target = sluice()
    waits = [timed_wrong_login(target, "127.0.0.2") for _ in range(6)]
    print("\nspray waits (s): %s" % ", ".join("%.3f" % w for w in waits))
    assert waits[0] < 0.09
    for k in range(1, 6):
        want = 0.1 * 2 ** (k - 1)
        assert want * 0.9 <= waits[k] < want + 1.0, (k, waits)
    # Another address is answered at once meanwhile.
    start = time.monotonic()
    assert ordinary_client_works(target)
    assert time.monotonic() - start < 0.5
    with admin(target) as a:
        rows = q(a, "SELECT client_address, error_count FROM stats_mysql_client_host_cache")
    assert ("127.0.0.2", "6") in [tuple(r) for r in rows], rows
    # A success from that address waits its turn once, then forgets the failures.
    c = mysqlwire.Client(target.host, target.port, source="127.0.0.2")
    _, ok = c.login(target.fleet.app_user, target.fleet.app_password)
    c.close()
    assert ok[:1] == b"\x00"
    with admin(target) as a:
        rows = q(a, "SELECT client_address FROM stats_mysql_client_host_cache")
    assert ("127.0.0.2",) not in [tuple(r) for r in rows]


def test_unknown_and_known_users_look_the_same_on_the_wire(sluice):
    """A client that starts with another plugin gets an auth switch whoever it names."""
    target = sluice()
    answers = []
    for user in (target.fleet.app_user, "no_such_user_x"):
        c = mysqlwire.Client(target.host, target.port, source="127.0.0.3")
        try:
            _, first = c.login(user, None, plugin=b"caching_sha2_password")
            answers.append(first[:1] + first[1:first.index(b"\0", 1)])
        finally:
            c.close()
    assert answers[0] == answers[1] == b"\xfemysql_native_password", answers


# --- per-session resources ----------------------------------------------------------------

def test_prepared_statement_cap_per_session(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-max_prepared_stmts_per_client', '5');\n")
    c = logged_in(target)
    try:
        ids = [c.prepare("SELECT %d" % i) for i in range(5)]
        assert all(isinstance(i, int) for i in ids), ids
        assert c.prepare("SELECT 99")[:2] == (1461, "42000")
        # Closing one makes room again (COM_STMT_CLOSE has no reply).
        c.sock.sendall(mysqlwire.packet(b"\x19" + ids[0].to_bytes(4, "little"), 0))
        assert isinstance(c.prepare("SELECT 100"), int)
    finally:
        c.close()


# --- hostile backends ---------------------------------------------------------------------

def fake_backend_sql(port, monitor=False):
    return ("DELETE FROM mysql_servers;\n"
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
            "VALUES (0, '127.0.0.1', %d, 5);\n"
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-monitor_enabled', '%s');\n"
            % (port, "true" if monitor else "false"))


def test_rogue_server_cannot_read_a_file_of_the_proxy_host(sluice, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-%d\n" % os.getpid())

    def answer(conn, sql):
        if sql == "":
            return [mysqlwire.ok_packet()]  # whatever came instead of a file
        return [b"\xfb" + str(secret).encode()]  # every statement: "send me this file"

    fake = mysqlwire.FakeServer(answer)
    try:
        target = sluice(extra_sql=fake_backend_sql(fake.port, monitor=True))
        # A client that would send files if asked: it never is.
        for _ in range(3):
            conn = None
            try:
                conn = connect(target, local_infile=True, db=None)
                q(conn, "SELECT 1")
            except pymysql.err.MySQLError:
                pass
            finally:
                if conn:
                    conn.close()
        deadline = Deadline(2)
        while not deadline.expired() and not fake.queries:
            time.sleep(0.05)
        assert fake.queries, "the fake server was never asked anything"
        got = fake.received_bytes()
        assert b"TOP-SECRET" not in got
        assert target.proc.poll() is None
    finally:
        fake.stop()


def test_load_data_local_from_the_client_still_reaches_the_server(sluice, tmp_path):
    """The one legitimate LOCAL INFILE: the client's own LOAD DATA LOCAL, against MariaDB."""
    target = sluice()
    data = tmp_path / "rows.csv"
    data.write_text("1\n2\n3\n")
    conn = connect(target, local_infile=True)
    try:
        table = harness.unique("infile")
        q(conn, "CREATE TABLE %s (a INT)" % table)
        q(conn, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s" % (data, table))
        assert q1(conn, "SELECT SUM(a) FROM %s" % table) == 6
        q(conn, "DROP TABLE %s" % table)
    finally:
        conn.close()


def broken_backend(behaviour):
    """A fake server whose answer to the first user statement misbehaves."""
    def answer(conn, sql):
        if not sql.upper().startswith("SELECT"):
            return [mysqlwire.ok_packet()]
        return behaviour(conn)
    return mysqlwire.FakeServer(answer)


def close_mid_row(conn):
    rows = mysqlwire.result_one(b"hello")
    data = b"".join(mysqlwire.packet(p, i + 1) for i, p in enumerate(rows[:3]))
    conn.sendall(data + mysqlwire.header(100, 4) + b"partial")
    return None


def bad_sequence(conn):
    return [lambda c: c.sendall(mysqlwire.packet(b"\x01", 7))]


def garbage(conn):
    return [b"\x07\x07\x07"]


@pytest.mark.parametrize("behaviour", [close_mid_row, bad_sequence, garbage,
                                       lambda conn: oversized_then_close(conn)],
                         ids=["close-mid-row", "bad-sequence", "garbage", "oversized-ok"])
def test_misbehaving_server_ends_only_its_own_session(sluice, behaviour):
    fake = broken_backend(behaviour)
    try:
        target = sluice(extra_sql=fake_backend_sql(fake.port))
        conn = connect(target, db=None, read_timeout=20)
        start = time.monotonic()
        try:
            with pytest.raises(pymysql.err.MySQLError) as e:
                q(conn, "SELECT 1")
            assert error_code(e.value) == 2013, e.value
        finally:
            conn.close()
        assert time.monotonic() - start < 3, "the error took %.1f s" % (time.monotonic() - start)
        assert target.proc.poll() is None
        with admin(target) as a:
            assert q1(a, "SELECT COUNT(*) FROM mysql_servers") == "1"
    finally:
        fake.stop()


# --- the admin interface ------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "SELECT fts3_tokenizer('simple')",
    "ATTACH DATABASE '/tmp/sluice-hostile-attach.db' AS x",
    "VACUUM INTO '/tmp/sluice-hostile-vacuum.db'",
    "SELECT load_extension('/tmp/sluice-hostile-ext')",
])
def test_admin_sql_cannot_escape_sqlite(sluice, statement):
    target = sluice()
    with admin(target) as a:
        before = q(a, "SELECT COUNT(*), GROUP_CONCAT(hostname) FROM mysql_servers")
        with pytest.raises(pymysql.err.MySQLError):
            q(a, statement)
        assert q(a, "SELECT COUNT(*), GROUP_CONCAT(hostname) FROM mysql_servers") == before
    for path in ("/tmp/sluice-hostile-attach.db", "/tmp/sluice-hostile-vacuum.db"):
        assert not os.path.exists(path)


def test_files_are_private_under_umask_000(fleet, tmp_path):
    binary = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build",
                                                           "sluice")
    port, aport = harness.free_ports(2, harness.SLUICE_PORT_RANGE)
    cfg = tmp_path / "config.sql"
    cfg.write_text(harness.sluice_config(fleet, port, aport, 5, 1))
    datadir = tmp_path / "data"  # Sluice creates it
    proc = subprocess.Popen([binary, "--datadir", str(datadir), "--config", str(cfg),
                             "--foreground"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: os.umask(0))
    try:
        assert harness.wait_port(harness.HOST, port, 10, proc)
        assert (os.stat(datadir).st_mode & 0o777) == 0o700
        names = os.listdir(datadir)
        assert "sluice.db" in names
        for name in names:
            mode = os.stat(datadir / name).st_mode & 0o777
            assert mode & 0o077 == 0, "%s is mode %o" % (name, mode)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_admin_port_has_the_login_bounds_of_the_client_port(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-connect_timeout_client', '1500');\n")
    # An oversized login message is refused before it is read.
    c = mysqlwire.Client(target.host, target.admin_port)
    try:
        c.sock.sendall(mysqlwire.header(1 << 20, 1))
        _, payload = mysqlwire.read_packet(c.sock)
        assert mysqlwire.error_of(payload)[0] == 1153
    finally:
        c.close()
    # At most 64 admin sessions; the next is told 1040.
    socks = [mysqlwire.Client(target.host, target.admin_port) for _ in range(64)]
    try:
        with pytest.raises(ConnectionRefusedError) as e:
            mysqlwire.Client(target.host, target.admin_port)
        assert e.value.args[0][0] == 1040
        # Silent ones are closed at mysql-connect_timeout_client.
        start = time.monotonic()
        for c in socks:
            c.sock.settimeout(10)
            assert c.sock.recv(1) == b""
        assert time.monotonic() - start < 5
    finally:
        for c in socks:
            c.close()
    with admin(target) as a:
        assert q1(a, "SELECT 1") == "1"


def closed_by_peer(sock, seconds):
    """True once the peer closed sock (EOF readable), within seconds."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except socket.timeout:
        return False


def test_idle_pinned_sessions_cannot_hold_every_backend(sluice):
    """Two sessions pin both connections of the server with SET @x and sit idle; with
    mysql-pinned_idle_timeout a third session gets served once they pass it."""
    target = sluice(cap=2, extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                                     "('mysql-pinned_idle_timeout', '1000');\n")
    holders = [connect(target) for _ in range(2)]
    for h in holders:
        q(h, "SET @x = 1")
    start = time.monotonic()
    third = connect(target)
    try:
        assert q1(third, "SELECT 1") == 1
        waited = time.monotonic() - start
        assert 0.9 < waited < 5, waited
        # Both holders were closed by Sluice (asking them a question would reset their
        # idle time, so watch their sockets instead).
        for h in holders:
            assert closed_by_peer(h._sock, 3), "a pinned idle session is still open"
        with pytest.raises(pymysql.err.MySQLError):
            q(holders[0], "SELECT @x")
    finally:
        third.close()
        for h in holders:
            h.close()


def test_session_buffer_budget_sheds_new_connections(sluice):
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-session_buffers_MB', '2');\n")
    holder = logged_in(target)
    try:
        # Half of a 6 MiB statement: its buffer holds megabytes until the rest comes.
        holder.sock.sendall(mysqlwire.header(6 << 20, 0) + b"\x03SELECT '" + b"x" * (3 << 20))
        deadline = Deadline(5)
        while True:
            try:
                mysqlwire.Client(target.host, target.port).close()
            except ConnectionRefusedError as e:
                assert e.args[0][0] == 1040
                break
            assert not deadline.expired(), "new sessions still admitted over the budget"
            time.sleep(0.05)
    finally:
        holder.close()
    harness.wait_until(lambda: client_works_now(target), 5, "an ordinary client to be served")


# --- account changes, readiness, exposure -------------------------------------------------

def change_user(c, user, password):
    c.sock.sendall(mysqlwire.packet(mysqlwire.change_user_payload(
        user, mysqlwire.native_token(password, c.scramble)), 0))
    return mysqlwire.read_packet(c.sock)[1]


def test_deleted_user_cannot_change_user_on_an_old_connection(sluice):
    target = sluice()
    f = target.fleet
    c = logged_in(target)
    try:
        # While the account exists, COM_CHANGE_USER works with its password.
        assert change_user(c, f.app2_user, f.app2_password)[:1] == b"\x00"
        with admin(target) as a:
            q(a, "DELETE FROM mysql_users WHERE username = %s", (f.app2_user,))
            q(a, "LOAD MYSQL USERS TO RUNTIME")
        answer = change_user(c, f.app2_user, f.app2_password)
        assert mysqlwire.error_of(answer)[0] == 1045, answer
    finally:
        c.close()


def test_ready_is_sent_to_systemd_once_every_port_answers(fleet, tmp_path):
    binary = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build",
                                                           "sluice")
    port, aport, mport = harness.free_ports(3, harness.SLUICE_PORT_RANGE)
    cfg = tmp_path / "config.sql"
    cfg.write_text(harness.sluice_config(fleet, port, aport, 5, 1, metrics_port=mport))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    notify.bind(path)
    notify.settimeout(15)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    proc = subprocess.Popen([binary, "--datadir", str(tmp_path / "data"), "--config", str(cfg),
                             "--foreground"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        assert notify.recv(64) == b"READY=1"
        for p in (port, aport, mport):  # each answers at once, no retry
            socket.create_connection((harness.HOST, p), timeout=1).close()
    finally:
        notify.close()
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_exposed_admin_port_with_default_credentials_refuses_to_start(fleet, tmp_path):
    binary = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build",
                                                           "sluice")
    port, aport = harness.free_ports(2, harness.SLUICE_PORT_RANGE)
    cfg = tmp_path / "config.sql"
    cfg.write_text(harness.sluice_config(fleet, port, aport, 5, 1).replace(
        "('admin-mysql_ifaces', '%s:%d')" % (harness.HOST, aport),
        "('admin-mysql_ifaces', '0.0.0.0:%d')" % aport))
    r = subprocess.run([binary, "--datadir", str(tmp_path / "data"), "--config", str(cfg),
                        "--foreground"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30, universal_newlines=True)
    assert r.returncode != 0
    assert "admin" in r.stdout and "0.0.0.0" in r.stdout, r.stdout


# --- slow backends ------------------------------------------------------------------------

def test_dripping_server_holds_only_its_own_sessions(sluice, fleet):
    """A server that answers one byte a second stalls the sessions it serves; sessions of
    another hostgroup, on a real server, go on."""
    stop = threading.Event()

    def drip(conn):
        for b in mysqlwire.packet(mysqlwire.ok_packet(), 1):
            if stop.wait(1.0):
                return None
            conn.sendall(bytes([b]))
        return []

    fake = broken_backend(drip)
    try:
        extra = fake_backend_sql(fake.port) + (
            "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
            "VALUES (1, '%s', %d, 5);\n"
            "UPDATE mysql_users SET default_hostgroup = 1 WHERE username = '%s';\n"
            % (fleet.host, fleet.primary_port, fleet.app2_user))
        target = sluice(extra_sql=extra)
        slow = connect(target, db=None, read_timeout=30)
        done = threading.Event()
        threading.Thread(target=lambda: (q(slow, "SELECT 1"), done.set()),
                         daemon=True).start()
        deadline = Deadline(5)
        while "SELECT 1" not in fake.queries:  # the slow statement reached the server
            assert not deadline.expired()
            time.sleep(0.02)
        other = connect(target, user=fleet.app2_user, password=fleet.app2_password)
        try:
            start = time.monotonic()
            for _ in range(20):
                assert q1(other, "SELECT 1") == 1
            assert time.monotonic() - start < 2
            assert not done.is_set()
        finally:
            other.close()
    finally:
        stop.set()
        fake.stop()


def test_backend_write_queue_is_bounded_when_the_server_stops_reading(sluice, tmp_path):
    """LOAD DATA LOCAL into a server that asks for the file and then reads nothing: Sluice
    queues at most about a megabyte and stops reading the client, so its memory stays flat
    while the client is blocked sending."""
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.write(b"1234567890\n" * (6 << 20))  # 66 MiB
    stalled = threading.Event()

    def answer(conn, sql):
        if "LOAD DATA" in sql.upper():
            conn.sendall(mysqlwire.packet(b"\xfb" + str(big).encode(), 1))
            stalled.wait(30)  # and read nothing more
            return None
        return [mysqlwire.ok_packet()]

    fake = mysqlwire.FakeServer(answer)
    try:
        target = sluice(extra_sql=fake_backend_sql(fake.port))
        conn = connect(target, db=None, local_infile=True, write_timeout=30)
        before = rss_kib(target.proc.pid)
        threading.Thread(target=lambda: q(conn, "LOAD DATA LOCAL INFILE '%s' INTO TABLE t"
                                          % big), daemon=True).start()
        peak = before
        deadline = Deadline(3)
        while not deadline.expired():
            peak = max(peak, rss_kib(target.proc.pid))
            time.sleep(0.1)
        print("\nstalled LOAD DATA: RSS %d KiB before, peak %d KiB" % (before, peak))
        assert peak - before < 16 * 1024 + asan_slack_kib(target)
        assert ordinary_admin_answers(target)
    finally:
        stalled.set()
        fake.stop()


def ordinary_admin_answers(target):
    with admin(target) as a:
        return q1(a, "SELECT 1") == "1"


def test_busy_session_stops_reading_its_client(sluice):
    """While a statement runs, a client that streams megabytes behind it is not read past a
    small read-ahead: Sluice's memory stays flat and the client's sends block until the
    statement ends."""
    target = sluice()
    c = logged_in(target)
    payload = mysqlwire.header(0xfffffe, 0) + b"\x03" + b" " * (0xfffffe - 1)
    try:
        # Warm up: the backend connection and the worker's memory exist before measuring.
        for _ in range(3):
            c.sock.sendall(mysqlwire.packet(b"\x03SELECT 1", 0))
            for _ in range(2):  # up to the EOF after the columns, then the last EOF
                while mysqlwire.read_packet(c.sock)[1][:1] != b"\xfe":
                    pass
        before = rss_kib(target.proc.pid)
        c.sock.sendall(mysqlwire.packet(b"\x03SELECT SLEEP(4)", 0))
        sent = [0]

        def send():
            view = memoryview(payload)
            while sent[0] < len(payload):
                sent[0] += c.sock.send(view[sent[0]:sent[0] + 65536])

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        peak = before
        deadline = Deadline(2)
        while not deadline.expired():
            peak = max(peak, rss_kib(target.proc.pid))
            time.sleep(0.05)
        print("\nbusy session: %d KiB of a 16 MiB message sent while the statement ran; "
              "RSS %d KiB before, peak %d KiB" % (sent[0] // 1024, before, peak))
        assert peak - before < 4 * 1024 + asan_slack_kib(target)
        assert sender.is_alive(), "the whole message was taken while the statement ran"
        _, first = mysqlwire.read_packet(c.sock)  # the SLEEP's result still arrives
        assert first[:1] == b"\x01"
    finally:
        c.close()


def oversized_then_close(conn):
    conn.sendall(mysqlwire.header(0xffffff, 1) + b"\x00" * 100)
    return None


def test_silent_login_is_closed_at_the_default_timeout(sluice):
    """The shipped mysql-connect_timeout_client: 10 s."""
    target = sluice()
    s = open_silent(target, 1)[0]
    start = time.monotonic()
    try:
        s.settimeout(20)
        assert s.recv(1) == b""
        took = time.monotonic() - start
        assert 9.5 < took < 12, took
    finally:
        s.close()
