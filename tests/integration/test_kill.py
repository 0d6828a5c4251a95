"""KILL and KILL QUERY with the id a client got from the handshake or CONNECTION_ID()
(issue 11). Through Sluice that id is Sluice's session id: KILL QUERY ends the session's
running statement with the server's 1317 wherever it runs, KILL [CONNECTION] ends the session
(its transaction rolled back), an id no session has gives 1094, another user's session 1095.
Each test that a direct connection can run asserts what the server does."""

import threading
import time

import pymysql
import pytest

import harness
from harness import connect, error_code, q, q1


class Background:
    """Runs one statement on conn in a thread; .error is the exception it ended with."""

    def __init__(self, conn, sql):
        self.error = None
        self.rows = None
        self.done = threading.Event()
        self.started = time.monotonic()
        self.ended = None

        def run():
            try:
                self.rows = q(conn, sql)
            except Exception as e:  # noqa: BLE001 - the test looks at it
                self.error = e
            finally:
                self.ended = time.monotonic()
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout):
        assert self.done.wait(timeout), "the statement did not end within %gs" % timeout
        return self.ended - self.started


def _running(observer, conn_id, text):
    """Whether session conn_id runs a statement containing text, as the server or Sluice
    lists it (a direct processlist, or a short sleep through Sluice, whose processlist is on
    the admin port)."""
    rows = q(observer, "SHOW PROCESSLIST")
    return any(r[0] == conn_id and r[7] and text in r[7] for r in rows)


def _started(target, other, victim_id):
    if target.direct:
        harness.wait_until(lambda: _running(other, victim_id, "SLEEP"), 5, "the SLEEP to run")
    else:
        time.sleep(0.5)


def test_connection_id_is_the_handshake_id(target):
    conn = connect(target)
    cid = q1(conn, "SELECT CONNECTION_ID()")
    assert isinstance(cid, int)
    assert cid == conn.thread_id()
    assert q1(conn, "select connection_id();") == cid
    conn.close()


def test_kill_query_ends_the_statement_and_the_session_goes_on(target):
    victim, killer = connect(target), connect(target)
    sleeper = Background(victim, "SELECT SLEEP(30)")
    _started(target, killer, victim.thread_id())
    q(killer, "KILL QUERY %d" % victim.thread_id())
    took = sleeper.join(10)
    assert took < 5
    assert isinstance(sleeper.error, pymysql.err.OperationalError), sleeper.error
    assert error_code(sleeper.error) == 1317
    assert q1(victim, "SELECT 1") == 1
    assert q1(killer, "SELECT 1") == 1
    victim.close()
    killer.close()


def test_kill_query_of_ones_own_session(target):
    conn = connect(target)
    with pytest.raises(pymysql.err.OperationalError) as e:
        q(conn, "KILL QUERY %d" % conn.thread_id())
    assert error_code(e.value) == 1317
    assert q1(conn, "SELECT 1") == 1
    conn.close()


@pytest.mark.proxy_only
def test_kill_query_reaches_a_statement_on_another_backend(sluice, fleet):
    """CONNECTION_ID() runs on the primary, the SLEEP on a replica: the id still names the
    session, and the kill finds the replica's thread."""
    harness.require(fleet.replica_ports, "needs a replica")
    rules = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
             "destination_hostgroup, apply) VALUES (1, 1, '^SELECT SLEEP', 1, 1);\n")
    target = sluice(extra_sql=harness.replica_servers(fleet) + rules)
    victim, killer = connect(target), connect(target)
    cid = q1(victim, "SELECT CONNECTION_ID()")
    assert cid == victim.thread_id()
    sleeper = Background(victim, "SELECT SLEEP(30), @@port")
    time.sleep(0.5)
    q(killer, "KILL QUERY %d" % cid)
    assert sleeper.join(10) < 5
    assert error_code(sleeper.error) == 1317
    assert q(victim, "SELECT SLEEP(0), @@port")[0][1] in fleet.replica_ports
    assert q1(victim, "SELECT @@port") == fleet.primary_port
    victim.close()
    killer.close()


def test_kill_connection_ends_an_idle_session(target):
    victim, killer = connect(target), connect(target)
    assert q1(victim, "SELECT 1") == 1
    q(killer, "KILL CONNECTION %d" % victim.thread_id())

    def lost():
        try:
            q(victim, "SELECT 1")
        except pymysql.err.OperationalError as e:
            return error_code(e) in (2006, 2013)
        return False

    assert lost()
    # The id is gone: killing it again is an unknown thread.
    with pytest.raises(pymysql.err.OperationalError) as e:
        q(killer, "KILL %d" % victim.thread_id())
    assert error_code(e.value) == 1094
    killer.close()


def test_kill_connection_ends_a_busy_session_and_rolls_back(target):
    victim, killer = connect(target), connect(target)
    q(killer, "CREATE TABLE IF NOT EXISTS kill_t (id INT PRIMARY KEY)")
    q(killer, "DELETE FROM kill_t")
    q(victim, "BEGIN")
    q(victim, "INSERT INTO kill_t VALUES (1)")
    sleeper = Background(victim, "SELECT SLEEP(30)")
    _started(target, killer, victim.thread_id())
    q(killer, "KILL %d" % victim.thread_id())
    assert sleeper.join(10) < 5
    assert error_code(sleeper.error) == 2013, sleeper.error
    # The transaction died with the connection: its row never appears.
    assert harness.poll(lambda: q1(killer, "SELECT COUNT(*) FROM kill_t"), lambda n: n == 0,
                        5) == 0
    killer.close()


def test_kill_of_an_unknown_id(target):
    conn = connect(target)
    for sql in ("KILL 4000000000", "KILL QUERY 3999999999", "KILL CONNECTION 3999999998"):
        with pytest.raises(pymysql.err.OperationalError) as e:
            q(conn, sql)
        assert error_code(e.value) == 1094
        assert "Unknown thread id" in e.value.args[1]
    assert q1(conn, "SELECT 1") == 1
    conn.close()


def test_kill_of_ones_own_connection(target):
    conn = connect(target)
    with pytest.raises(pymysql.err.OperationalError) as e:
        q(conn, "KILL %d" % conn.thread_id())
    assert error_code(e.value) == 1927
    with pytest.raises(pymysql.err.OperationalError) as e:
        q(conn, "SELECT 1")
    assert error_code(e.value) in (2006, 2013)


@pytest.mark.proxy_only
def test_kill_of_another_users_session_is_refused(target):
    """Sluice lets a user kill only its own sessions (the fleet's app2 has SUPER, so directly
    it could kill app's: Sluice does not look at privileges)."""
    victim = connect(target)
    other = connect(target, user=target.fleet.app2_user, password=target.fleet.app2_password)
    for sql in ("KILL %d", "KILL QUERY %d"):
        with pytest.raises(pymysql.err.OperationalError) as e:
            q(other, sql % victim.thread_id())
        assert error_code(e.value) == 1095
        assert e.value.args[1] == "You are not owner of thread %d" % victim.thread_id()
    assert q1(victim, "SELECT 1") == 1
    victim.close()
    other.close()


@pytest.mark.proxy_only
def test_kill_across_workers(sluice):
    """Sessions on different worker threads: the kill goes through the owner's loop."""
    target = sluice(threads=4)
    conns = [connect(target) for _ in range(8)]
    killer = conns.pop()
    for victim in conns:
        sleeper = Background(victim, "SELECT SLEEP(30)")
        time.sleep(0.2)
        q(killer, "KILL QUERY %d" % victim.thread_id())
        assert sleeper.join(10) < 5
        assert error_code(sleeper.error) == 1317
    for victim in conns:
        assert q1(victim, "SELECT 1") == 1
        victim.close()
    killer.close()
