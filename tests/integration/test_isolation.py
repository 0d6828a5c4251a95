"""Isolation proof: sessions sharing backend connections never see each other's state, and
a session holding state that cannot be replayed keeps its backend and leaves it clean."""

import datetime

import pymysql
import pytest

from harness import connect, error_code, q, q1, unique

ROUNDS = 50
PROBE = ("SELECT DATABASE(), @@SESSION.sql_mode, @@character_set_client, CHARSET('x'), "
         "@@time_zone, FROM_UNIXTIME(0), '1' || '0', @@pseudo_thread_id")
# '1' || '0' is 1 (logical OR) without PIPES_AS_CONCAT and '10' with it. Nothing in the probe
# raises a warning: a proxy may keep a backend for a session until its next statement after
# warnings, which with one backend would stall the other session of this test.


def test_two_interleaved_sessions_on_one_backend_each_see_their_own_state(sluice):
    target = sluice(cap=1)
    t = unique("iso")
    a = connect(target, db="app", charset="utf8mb4")
    b = connect(target, db="sbtest", charset="latin1")
    try:
        for sql in ("USE app", "SET SESSION sql_mode = 'ANSI_QUOTES'", "SET NAMES utf8mb4",
                    "SET time_zone = '+00:00'", "CREATE TABLE %s (v INT)" % t):
            q(a, sql)
        for sql in ("USE sbtest", "SET SESSION sql_mode = 'PIPES_AS_CONCAT'",
                    "SET NAMES latin1", "SET time_zone = '+05:00'",
                    "CREATE TABLE %s (v INT)" % t):
            q(b, sql)
        want_a = ("app", "ANSI_QUOTES", "utf8mb4", "utf8mb4", "+00:00",
                  datetime.datetime(1970, 1, 1, 0, 0), 1)
        want_b = ("sbtest", "PIPES_AS_CONCAT", "latin1", "latin1", "+05:00",
                  datetime.datetime(1970, 1, 1, 5, 0), "10")
        for i in range(ROUNDS):
            ra = q(a, PROBE)[0]
            rb = q(b, PROBE)[0]
            assert ra[:-1] == want_a, "round %d: session A sees %r" % (i, ra)
            assert rb[:-1] == want_b, "round %d: session B sees %r" % (i, rb)
            if not target.direct:
                assert ra[-1] == rb[-1], \
                    "round %d: two backend connections in use with a cap of 1" % i
            # Unqualified writes land in each session's own schema.
            q(a, "INSERT INTO %s VALUES (%d)" % (t, i))
            q(b, "INSERT INTO %s VALUES (%d)" % (t, 1000 + i))
        assert q(a, "SELECT COUNT(*), MIN(v), MAX(v) FROM app.%s" % t) == ((ROUNDS, 0, 49),)
        assert q(a, "SELECT COUNT(*), MIN(v), MAX(v) FROM sbtest.%s" % t) == \
            ((ROUNDS, 1000, 1049),)
        q(a, "DROP TABLE app.%s" % t)
        q(a, "DROP TABLE sbtest.%s" % t)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("kind", ["user_variable", "temporary_table"])
def test_session_with_unreplayable_state_keeps_its_backend_and_leaves_it_clean(sluice, fleet,
                                                                              kind):
    target = sluice(cap=2)
    tmp = unique("pin_tmp")
    a = connect(target)
    other = connect(target)
    try:
        if kind == "user_variable":
            q(a, "SET @x = 42")
            probe_a = "SELECT @@pseudo_thread_id, @x"
            want_a = 42
        else:
            q(a, "CREATE TEMPORARY TABLE %s (v INT)" % tmp)
            q(a, "INSERT INTO %s VALUES (1), (2)" % tmp)
            probe_a = "SELECT @@pseudo_thread_id, (SELECT COUNT(*) FROM %s)" % tmp
            want_a = 2
        cid = q1(a, "SELECT @@pseudo_thread_id")
        for i in range(20):
            ocid, ox = q(other, "SELECT @@pseudo_thread_id, @x")[0]
            assert ox is None, "round %d: another session sees @x = %r" % (i, ox)
            if kind == "temporary_table":
                with pytest.raises(pymysql.err.ProgrammingError) as ei:
                    q(other, "SELECT * FROM %s" % tmp)
                assert error_code(ei.value) == 1146
            assert ocid != cid, "round %d: another session ran on the pinned backend" % i
            assert q(a, probe_a) == ((cid, want_a),), "round %d: session A lost its " \
                "backend or its state" % i
    finally:
        other.close()
        a.close()

    # Two new sessions, each pinned by a variable of its own, cover both backend slots; the
    # one that gets A's old backend (if it still exists) must find it clean.
    e = connect(target)
    f = connect(target)
    try:
        seen = set()
        for s, name in ((e, "e"), (f, "f")):
            q(s, "SET @probe = '%s'" % name)
            row = q(s, "SELECT @@pseudo_thread_id, @x, @probe")[0]
            assert row[1:] == (None, name), "session %s sees %r" % (name, row)
            with pytest.raises(pymysql.err.ProgrammingError) as ei:
                q(s, "SELECT * FROM %s" % tmp)
            assert error_code(ei.value) == 1146
            assert q1(s, "SELECT @@pseudo_thread_id") == row[0]
            seen.add(row[0])
        if not target.direct:
            assert len(seen) == 2, "two pinned sessions share backend %s" % seen
            on_server = fleet.connection_ids("app")
            assert len(on_server) <= 2, "cap 2 but the primary shows %s" % on_server
            if cid in on_server:
                assert cid in seen
    finally:
        e.close()
        f.close()
