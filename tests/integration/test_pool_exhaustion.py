"""Pool exhaustion: with every backend connection of the primary held by an open transaction,
a further statement waits in Sluice's queue for at most mysql-connect_timeout_server_max and
then fails with error 9001, leaving its session usable; a connection released before that
deadline goes to the waiting statement at once."""

import threading
import time

import pymysql
import pytest

from harness import connect, error_code, q, q1

CAP = 2
DEADLINE_MS = 1500
# The queue timer starts when the statement reaches Sluice, a moment after the client sent
# it: allow that much earlier than the deadline, and a second of scheduling noise after it.
EARLY_MARGIN_S = 0.05
LATE_MARGIN_S = 1.0
# mysql-connect_timeout_server (one connect attempt) must not exceed the queue deadline.
EXTRA_SQL = ("INSERT OR REPLACE INTO global_variables (variable_name, variable_value) "
             "VALUES ('mysql-connect_timeout_server', '%d'), "
             "('mysql-connect_timeout_server_max', '%d');\n" % (DEADLINE_MS // 2, DEADLINE_MS))


def hold_both_backends(target, fleet):
    """Two sessions, each in an open transaction that has run a statement, so each pins one
    of the CAP backend connections."""
    holders = []
    for _ in range(CAP):
        c = connect(target, autocommit=False)
        holders.append(c)
        q(c, "START TRANSACTION")
        q(c, "SELECT 1")
    assert fleet.count_connections("app") == CAP
    return holders


def timed(conn, sql):
    """(elapsed seconds, result or None, exception or None) of one statement."""
    t0 = time.monotonic()
    try:
        res = q1(conn, sql)
        return time.monotonic() - t0, res, None
    except pymysql.MySQLError as e:
        return time.monotonic() - t0, None, e


@pytest.mark.proxy_only
def test_statement_fails_with_9001_at_the_queue_deadline(sluice, fleet):
    target = sluice(cap=CAP, threads=2, extra_sql=EXTRA_SQL)
    holders = hold_both_backends(target, fleet)
    c = connect(target, read_timeout=30)
    try:
        elapsed, res, exc = timed(c, "SELECT 'third'")
        deadline = DEADLINE_MS / 1000.0
        assert exc is not None, "third session ran (%r) although both backends are pinned" % (
            res,)
        assert error_code(exc) == 9001, "expected error 9001, got %r" % (exc,)
        msg = exc.args[1] if len(exc.args) > 1 else ""
        assert "hostgroup 0" in msg, "error message does not name the hostgroup: %r" % msg
        assert elapsed >= deadline - EARLY_MARGIN_S, \
            "9001 after %.3f s, before the %.3f s deadline" % (elapsed, deadline)
        assert elapsed < deadline + LATE_MARGIN_S, \
            "9001 only after %.3f s (deadline %.3f s)" % (elapsed, deadline)
        assert fleet.count_connections("app") <= CAP

        # The session survives the error: once a backend is free it runs statements again.
        holders[0].commit()
        elapsed, res, exc = timed(c, "SELECT 'after 9001'")
        assert exc is None, "session unusable after 9001: %r" % (exc,)
        assert res == "after 9001"
        assert elapsed < deadline / 2, "statement after the release waited %.3f s" % elapsed
    finally:
        for h in holders:
            h.close()
        c.close()


@pytest.mark.proxy_only
def test_release_before_the_deadline_serves_the_waiter_at_once(sluice, fleet):
    target = sluice(cap=CAP, threads=2, extra_sql=EXTRA_SQL)
    holders = hold_both_backends(target, fleet)
    c = connect(target, read_timeout=30)
    result = []
    try:
        th = threading.Thread(target=lambda: result.append(timed(c, "SELECT 'c ran'")),
                              daemon=True)
        th.start()
        # Still queued a while later: the cap holds.
        th.join(timeout=0.3)
        assert result == [], "third session ran although both backends are pinned"
        t_commit = time.monotonic()
        holders[1].commit()
        th.join(timeout=10)
        served_after = time.monotonic() - t_commit
        assert result, "third session did not finish within 10 s of the release"
        elapsed, res, exc = result[0]
        assert exc is None, "third session failed: %r" % (exc,)
        assert res == "c ran"
        # Released at about 0.3 s of a 1.5 s deadline: served well before the deadline.
        assert elapsed < DEADLINE_MS / 1000.0 * 0.7, \
            "third session took %.3f s in all (deadline %.3f s)" % (elapsed,
                                                                   DEADLINE_MS / 1000.0)
        assert served_after < 0.5, "served %.3f s after the release" % served_after
        assert fleet.count_connections("app") <= CAP
    finally:
        for h in holders:
            h.close()
        c.close()
