"""Client limits and leak protection, as a user checks them: mysql-max_connections (1040),
mysql_users.max_connections (1226), mysql-idle_transaction_timeout and
mysql-max_transaction_time (the transaction is rolled back and the client disconnected), and
why multiplexing is lost (stats_mysql_pin_reasons, stats_mysql_pin_digests,
stats_mysql_multiplexing and the sluice_pinned_sessions / sluice_pin_events_total metrics)."""

import contextlib
import re
import struct
import time
import urllib.request

import pymysql
import pytest
from pymysql import _auth

import harness
from harness import admin, connect, error_code, mysql_variables, q, q1, unique, wait_until

pytestmark = pytest.mark.proxy_only


def refused(target, **kw):
    """The error (code, message) a login gets, or None if it succeeds."""
    try:
        conn = connect(target, **kw)
    except pymysql.err.MySQLError as e:
        return error_code(e), e.args[1] if len(e.args) > 1 else ""
    conn.close()
    return None


def stderr_text(target):
    with open(target.stderr_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# --- connection limits ----------------------------------------------------------------

def test_global_limit_refuses_with_1040_and_frees_a_slot_on_close(sluice):
    # Two workers: the count must be exact across them.
    target = sluice(threads=2, extra_sql=mysql_variables(max_connections=3))
    conns = [connect(target) for _ in range(3)]
    try:
        for c in conns:
            assert q1(c, "SELECT 1") == 1
        code, msg = refused(target)
        assert code == 1040
        assert "Too many connections" in msg
        # The refused attempts did not take a slot.
        assert refused(target) is not None
        conns.pop().close()
        wait_until(lambda: refused(target) is None, 10, "a freed slot")
        for c in conns:
            assert q1(c, "SELECT 1") == 1
    finally:
        for c in conns:
            c.close()


def test_per_user_limit_refuses_with_1226_while_another_user_connects(sluice, fleet):
    target = sluice(extra_sql="UPDATE mysql_users SET max_connections = 2 "
                              "WHERE username = '%s';\n" % fleet.app_user)
    conns = [connect(target) for _ in range(2)]
    try:
        code, msg = refused(target)
        assert code == 1226
        assert msg == ("User '%s' has exceeded the 'max_user_connections' resource "
                       "(current value: 2)" % fleet.app_user)
        other = connect(target, user=fleet.app2_user, password=fleet.app2_password)
        assert q1(other, "SELECT 1") == 1
        other.close()
        conns.pop().close()
        wait_until(lambda: refused(target) is None, 10, "a freed user slot")
    finally:
        for c in conns:
            c.close()


def change_user(conn, user, password, db="app"):
    """COM_CHANGE_USER (PyMySQL has no API for it); raises the server's error."""
    token = _auth.scramble_native_password(password.encode(), conn.salt)
    payload = (b"\x11" + user.encode() + b"\0" + bytes([len(token)]) + token + db.encode() +
               b"\0" + struct.pack("<H", 45) + b"mysql_native_password\0")
    conn._next_seq_id = 0
    conn.write_packet(payload)
    conn._read_packet()


def test_change_user_moves_the_per_user_count(sluice, fleet):
    target = sluice(extra_sql="UPDATE mysql_users SET max_connections = 1;\n")
    a = connect(target)
    b = connect(target, user=fleet.app2_user, password=fleet.app2_password)
    try:
        # app2 is full: the change is refused and the session ends.
        with pytest.raises(pymysql.err.MySQLError) as ei:
            change_user(a, fleet.app2_user, fleet.app2_password)
        assert error_code(ei.value) == 1226
        with pytest.raises(pymysql.err.OperationalError):
            q(a, "SELECT 1")
        # Its app slot was freed with it (the session is gone once Sluice counts one
        # client); b moves from app2 to app, freeing app2.
        wait_until(lambda: re.search(r"^sluice_client_connections 1$", metrics(target), re.M),
                   10, "the session to end")
        change_user(b, fleet.app_user, fleet.app_password)
        assert q1(b, "SELECT CURRENT_USER()").startswith(fleet.app_user + "@")
        c = connect(target, user=fleet.app2_user, password=fleet.app2_password)
        c.close()
        assert refused(target)[0] == 1226
    finally:
        for conn in (a, b):
            if conn.open:
                conn.close()


# --- leak protection ------------------------------------------------------------------

@contextlib.contextmanager
def scratch_table(target, prefix):
    """A new InnoDB table (id INT PRIMARY KEY) made through a session of its own on target;
    yields (name, session), then drops the table and closes the session."""
    t = unique(prefix)
    setup = connect(target)
    q(setup, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB" % t)
    try:
        yield t, setup
    finally:
        q(setup, "DROP TABLE IF EXISTS %s" % t)
        setup.close()


def test_idle_transaction_is_rolled_back_and_disconnected(sluice, fleet):
    target = sluice(extra_sql=mysql_variables(idle_transaction_timeout=1000))
    with scratch_table(target, "idle_txn") as (t, setup):
        idle_outside = connect(target)
        assert q1(idle_outside, "SELECT 1") == 1
        in_txn = connect(target)
        q(in_txn, "BEGIN")
        q(in_txn, "INSERT INTO %s VALUES (1)" % t)
        # in_txn stays idle until Sluice has given up on it (it logs why, checked below).
        wait_until(lambda: "over mysql-idle_transaction_timeout" in stderr_text(target), 10,
                   "the idle transaction to be ended")
        with pytest.raises(pymysql.err.OperationalError) as ei:
            q(in_txn, "SELECT 1")
        assert error_code(ei.value) in (2006, 2013)
        # The server rolled the insert back when its connection closed.
        wait_until(lambda: fleet.root_query("SELECT COUNT(*) FROM app.%s" % t)[0][0] == 0,
                   10, "the rollback")
        # Idle without a transaction: untouched.
        assert q1(idle_outside, "SELECT 1") == 1
        idle_outside.close()
        log = stderr_text(target)
        assert re.search(r"user '%s' from 127\.0\.0\.1:\d+: transaction open for \d+ ms "
                         r"\(idle for \d+ ms\), over mysql-idle_transaction_timeout \(1000 ms\)"
                         % fleet.app_user, log), log[-2000:]


def test_max_transaction_time_kills_a_running_statement_with_1969(sluice, fleet):
    target = sluice(extra_sql=mysql_variables(max_transaction_time=1500))
    with scratch_table(target, "max_txn") as (t, setup):
        c = connect(target)
        q(c, "BEGIN")
        q(c, "INSERT INTO %s VALUES (1)" % t)
        started = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(c, "SELECT SLEEP(3)")
        assert time.monotonic() - started < 2.9
        assert error_code(ei.value) == 1969
        assert re.match(r"Transaction killed by Sluice: open for \d+ ms, over "
                        r"mysql-max_transaction_time$", ei.value.args[1])
        with pytest.raises(pymysql.err.OperationalError):
            q(c, "SELECT 1")
        wait_until(lambda: fleet.root_query("SELECT COUNT(*) FROM app.%s" % t)[0][0] == 0,
                   10, "the rollback")
        # Short transactions are not affected.
        q(setup, "BEGIN")
        q(setup, "INSERT INTO %s VALUES (2)" % t)
        q(setup, "COMMIT")
        assert q1(setup, "SELECT COUNT(*) FROM %s" % t) == 1
        assert "over mysql-max_transaction_time (1500 ms)" in stderr_text(target)


def test_max_transaction_time_counts_from_the_newest_transaction(sluice):
    # "COMMIT; BEGIN" in one multi-statement: the session never looks idle outside a
    # transaction, yet the transaction after it is new.
    target = sluice(extra_sql=mysql_variables(max_transaction_time=2000))
    c = connect(target, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    try:
        q(c, "BEGIN")
        # The thing under test: two transactions of 1.3 s each, together over the 2 s bound.
        time.sleep(1.3)
        with c.cursor() as cur:
            cur.execute("COMMIT; BEGIN")
            while cur.nextset():
                pass
        time.sleep(1.3)
        assert q1(c, "SELECT 1") == 1
        q(c, "COMMIT")
    finally:
        c.close()


def test_error_inside_a_transaction_keeps_its_backend(sluice):
    # One backend connection: if the failed statement released it, the other session would
    # run inside the open transaction and see its uncommitted row.
    target = sluice(cap=1, extra_sql=mysql_variables(connect_timeout_server=500,
                                                   connect_timeout_server_max=1000))
    t = unique("err_txn")
    c = connect(target)
    q(c, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB" % t)
    try:
        q(c, "BEGIN")
        q(c, "INSERT INTO %s VALUES (1)" % t)
        with pytest.raises(pymysql.err.IntegrityError) as ei:
            q(c, "INSERT INTO %s VALUES (1)" % t)
        assert error_code(ei.value) == 1062
        other = connect(target)
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q(other, "SELECT COUNT(*) FROM %s" % t)
        assert error_code(ei.value) == 9001  # the only backend is still c's
        other.close()
        q(c, "INSERT INTO %s VALUES (2)" % t)
        assert q1(c, "SELECT COUNT(*) FROM %s" % t) == 2
        q(c, "ROLLBACK")
        other = connect(target)
        assert q1(other, "SELECT COUNT(*) FROM %s" % t) == 0
        other.close()
    finally:
        q(c, "DROP TABLE IF EXISTS %s" % t)
        c.close()


# --- why multiplexing is lost ---------------------------------------------------------

def pin_reasons(a):
    # The admin interface answers in text, as ProxySQL's does.
    return {r[0]: (int(r[1]), int(r[2])) for r in q(a, "SELECT reason, pinned_now, total "
                                             "FROM stats_mysql_pin_reasons")}


def pin_digests(a, reason):
    return [r[0] for r in q(a, "SELECT digest_text FROM stats_mysql_pin_digests "
                               "WHERE reason = %s ORDER BY count_star DESC", (reason,))]


def metrics(target):
    url = "http://%s:%d/metrics" % (target.host, target.metrics_port)
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode("utf-8")


def metric(text, name, reason):
    m = re.search(r'^%s\{reason="%s"\} (\S+)$' % (name, reason), text, re.M)
    assert m, "no %s{reason=%s} in the metrics" % (name, reason)
    return float(m.group(1))


def test_pin_reasons_name_the_statements_that_pinned(sluice):
    target = sluice()
    assert harness.wait_port(target.host, target.metrics_port, 10, target.proc)
    a = admin(target)
    try:
        before = pin_reasons(a)
        assert set(before) == {"transaction", "user_variable", "temporary_table",
                               "sql_prepare", "session_state", "named_lock", "lock_tables",
                               "cursor", "long_data", "rule"}
        assert all(v == (0, 0) for v in before.values())

        uv, txn, lock, tmp = (connect(target) for _ in range(4))
        q(uv, "SET @x = 1")
        q(txn, "BEGIN")
        q(lock, "SELECT GET_LOCK('sluice_pin_test', 0)")
        q(tmp, "CREATE TEMPORARY TABLE tmp_pin (id INT)")
        # A worker counts a statement when it has finished with it, which may be a moment
        # after the client already read the reply.
        pinned = ("user_variable", "transaction", "named_lock", "temporary_table")
        wait_until(lambda: all(pin_reasons(a)[reason] == (1, 1) for reason in pinned), 5,
                   "the four pins to be counted")
        r = pin_reasons(a)
        for reason in pinned:
            assert r[reason] == (1, 1), (reason, r)
        assert r["session_state"] == (0, 0)
        assert any("@x" in d for d in pin_digests(a, "user_variable")), \
            pin_digests(a, "user_variable")
        assert pin_digests(a, "transaction") == ["BEGIN"]
        assert any("GET_LOCK" in d.upper() for d in pin_digests(a, "named_lock"))
        assert any("TEMPORARY" in d.upper() for d in pin_digests(a, "temporary_table"))

        text = metrics(target)
        assert metric(text, "sluice_pinned_sessions", "user_variable") == 1
        assert metric(text, "sluice_pin_events_total", "transaction") == 1

        # Ending the transaction and closing the sessions clears the gauges, not the totals.
        q(txn, "COMMIT")
        for c in (uv, txn, lock, tmp):
            c.close()
        wait_until(lambda: all(v[0] == 0 for v in pin_reasons(a).values()), 10,
                   "the gauges to drop")
        r = pin_reasons(a)
        for reason in ("user_variable", "transaction", "named_lock", "temporary_table"):
            assert r[reason] == (0, 1), (reason, r)
    finally:
        a.close()


def test_multiplexing_table_shows_more_sessions_than_backends(sluice):
    target = sluice(cap=5)
    clients = []
    a = admin(target)
    try:
        for _ in range(20):
            c = connect(target)
            assert q1(c, "SELECT 1") == 1
            clients.append(c)
        rows = q(a, "SELECT hostgroup, client_sessions, backends_in_use, sessions_per_backend "
                    "FROM stats_mysql_multiplexing")
        assert len(rows) == 1, rows
        hg, sessions, backends = (int(v) for v in rows[0][:3])
        ratio = rows[0][3]
        assert hg == 0
        assert sessions == 20
        assert backends < sessions
        if backends == 0:
            assert ratio is None
        else:
            assert float(ratio) == pytest.approx(sessions / backends)
    finally:
        for c in clients:
            c.close()
        a.close()
