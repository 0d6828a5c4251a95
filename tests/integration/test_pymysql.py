"""What a PyMySQL application sees through Sluice: auth, queries, types, transactions,
errors, large results and packets, and session state that must survive multiplexing.

Tests about session state use a pool of one backend connection (cap=1) and a second
"noise" session with different state whose statements run in between, so the two sessions
share the backend connection and any state Sluice fails to carry becomes visible.
"""

import datetime
import decimal
import hashlib
import os
import time

import pymysql
import pytest
from pymysql.constants import CLIENT

from harness import Noise, closing_all, connect, error_code, q, q1, unique


# --- connect and auth --------------------------------------------------------------------

def test_connect_with_good_password_and_select_1(target):
    with closing_all(connect(target)) as conn:
        assert q(conn, "SELECT 1") == ((1,),)
        assert q1(conn, "SELECT CURRENT_USER()").startswith("app@")


def test_wrong_password_is_refused_with_1045_without_hanging(target):
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as ei:
        connect(target, password="not-the-password")
    assert error_code(ei.value) == 1045
    assert "Access denied" in str(ei.value)
    assert time.monotonic() - t0 < 5
    # A failed login leaves the proxy working for others.
    with closing_all(connect(target)) as conn:
        assert q1(conn, "SELECT 1") == 1


def test_unknown_user_is_refused_with_1045(target):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        connect(target, user="nosuchuser", password="x")
    assert error_code(ei.value) == 1045


def test_version_comment_and_version_answer(target):
    with closing_all(connect(target)) as conn:
        comment = q1(conn, "SELECT @@version_comment LIMIT 1")
        assert isinstance(comment, str) and comment != ""
        version = q1(conn, "SELECT VERSION()")
        assert isinstance(version, str) and version[0].isdigit()


def test_session_without_default_schema_sees_no_database(sluice):
    target = sluice(cap=1)
    noise = Noise(target)  # leaves the only backend connection in schema sbtest
    conn = connect(target, db=None)
    try:
        for _ in range(3):
            noise.between()
            assert q1(conn, "SELECT DATABASE()") is None
        with pytest.raises(pymysql.err.OperationalError) as ei:
            q(conn, "SELECT * FROM no_schema_selected_table")
        assert error_code(ei.value) == 1046  # No database selected
    finally:
        conn.close()
        noise.close()


def test_select_db_and_use_change_schema(sluice):
    target = sluice(cap=1)
    with closing_all(connect(target, db="app"), Noise(target)) as (conn, noise):
        assert q1(conn, "SELECT DATABASE()") == "app"
        conn.select_db("sbtest")  # COM_INIT_DB
        for _ in range(3):
            noise.between()
            assert q1(conn, "SELECT DATABASE()") == "sbtest"
        q(conn, "USE app")  # COM_QUERY
        for _ in range(3):
            noise.between()
            assert q1(conn, "SELECT DATABASE()") == "app"
        with pytest.raises(pymysql.err.OperationalError) as ei:
            conn.select_db("no_such_schema_xyz")
        assert error_code(ei.value) == 1049
        noise.between()
        assert q1(conn, "SELECT DATABASE()") == "app"
        # Unqualified names resolve in the session's schema.
        t = unique("usedb")
        q(conn, "CREATE TABLE sbtest.%s (v INT)" % t)
        q(conn, "INSERT INTO sbtest.%s VALUES (7)" % t)
        conn.select_db("sbtest")
        noise.between()
        assert q1(conn, "SELECT v FROM %s" % t) == 7
        q(conn, "DROP TABLE %s" % t)


# --- data round trip ---------------------------------------------------------------------

def test_round_trip_of_null_emoji_datetime_decimal_and_binary_blob(target):
    t = unique("types")
    with closing_all(connect(target)) as conn:
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, s VARCHAR(100) CHARACTER SET utf8mb4, "
                "dt DATETIME, d DECIMAL(20,6), b BLOB, n INT NULL) "
                "DEFAULT CHARSET=utf8mb4" % t)
        text = "snake \U0001F40D and \U0001F600 \u00fcnic\u00f6de \u4e2d\u6587"
        rows = [
            (1, text,
             datetime.datetime(2024, 2, 29, 23, 59, 58),
             decimal.Decimal("12345678901234.123456"), bytes(range(256)) * 4, None),
            (2, "", datetime.datetime(1970, 1, 1, 0, 0, 1), decimal.Decimal("-0.000001"),
             b"\x00\x00'\"\\\x1a\xff", 42),
            (3, None, None, None, None, None),
        ]
        with conn.cursor() as cur:
            n = cur.executemany("INSERT INTO %s VALUES (%%s, %%s, %%s, %%s, %%s, %%s)" % t,
                                rows)
            assert n == 3
        got = q(conn, "SELECT id, s, dt, d, b, n FROM %s ORDER BY id" % t)
        assert list(got) == rows
        assert q(conn, "SELECT CHAR_LENGTH(s), LENGTH(s), LENGTH(b) FROM %s WHERE id = 1"
                 % t) == ((len(text), len(text.encode("utf-8")), 1024),)
        assert q1(conn, "SELECT COUNT(*) FROM %s WHERE n IS NULL" % t) == 2
        q(conn, "DROP TABLE %s" % t)


# --- transactions ------------------------------------------------------------------------

def open_transaction(a, b, t):
    """Session b creates table t; session a starts a transaction that inserts row 1."""
    q(b, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB" % t)
    q(a, "START TRANSACTION")
    q(a, "INSERT INTO %s VALUES (1)" % t)


def test_commit_is_visible_to_another_session_and_rollback_is_not(target):
    t = unique("txn")
    with closing_all(connect(target, autocommit=False), connect(target)) as (a, b):
        open_transaction(a, b, t)
        assert q1(a, "SELECT COUNT(*) FROM %s" % t) == 1
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 0
        a.commit()
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 1

        q(a, "START TRANSACTION")
        q(a, "INSERT INTO %s VALUES (2)" % t)
        q(a, "INSERT INTO %s VALUES (3)" % t)
        assert q1(a, "SELECT COUNT(*) FROM %s" % t) == 3
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 1
        a.rollback()
        assert q1(a, "SELECT COUNT(*) FROM %s" % t) == 1
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 1
        assert q(b, "SELECT id FROM %s" % t) == ((1,),)

        # SQL-level COMMIT/ROLLBACK too.
        q(a, "BEGIN")
        q(a, "INSERT INTO %s VALUES (4)" % t)
        q(a, "ROLLBACK")
        q(a, "BEGIN")
        q(a, "INSERT INTO %s VALUES (5)" % t)
        q(a, "COMMIT")
        assert q(b, "SELECT id FROM %s ORDER BY id" % t) == ((1,), (5,))
        q(b, "DROP TABLE %s" % t)


def test_autocommit_off_then_on_commits_pending_work(target):
    t = unique("autoc")
    with closing_all(connect(target), connect(target)) as (a, b):
        q(b, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB" % t)
        a.autocommit(False)
        assert q1(a, "SELECT @@autocommit") == 0
        q(a, "INSERT INTO %s VALUES (1)" % t)
        q(a, "INSERT INTO %s VALUES (2)" % t)
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 0
        assert q1(a, "SELECT @@autocommit") == 0
        a.autocommit(True)  # SET AUTOCOMMIT=1 commits the open transaction
        assert q1(a, "SELECT @@autocommit") == 1
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 2
        q(a, "INSERT INTO %s VALUES (3)" % t)
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 3
        # autocommit off, then ROLLBACK discards.
        q(a, "SET autocommit = 0")
        q(a, "INSERT INTO %s VALUES (4)" % t)
        q(a, "ROLLBACK")
        q(a, "SET autocommit = 1")
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 3
        q(b, "DROP TABLE %s" % t)


def test_autocommit_off_session_keeps_its_transaction_while_others_run(sluice):
    """A session inside a transaction keeps its backend connection (same @@pseudo_thread_id
    throughout) while another session runs statements on the other one, and the other
    session never sees the uncommitted rows."""
    target = sluice(cap=2)
    t = unique("txnpin")
    a = connect(target, autocommit=False)
    noise = Noise(target, statements=("SELECT COUNT(*) FROM app.%s" % t,))
    try:
        q(a, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB" % t)
        q(a, "INSERT INTO %s VALUES (1)" % t)
        for i in range(2, 6):
            noise.between()
            q(a, "INSERT INTO %s VALUES (%d)" % (t, i))
            assert q1(a, "SELECT COUNT(*) FROM %s" % t) == i
        cid = q1(a, "SELECT @@pseudo_thread_id")
        for _ in range(3):
            noise.between()
            assert q1(a, "SELECT @@pseudo_thread_id") == cid
        a.rollback()
        results = noise.results
        noise.close()
        noise = None
        assert len(results) == 7 and all(r == ((0,),) for r in results), results
        assert q1(a, "SELECT COUNT(*) FROM %s" % t) == 0
        q(a, "DROP TABLE %s" % t)
    finally:
        a.close()
        if noise:
            noise.close(check=False)


# --- multi-statements, large results, large packets --------------------------------------

def test_multi_statement_returns_every_result_set(target):
    conn = connect(target, client_flag=CLIENT.MULTI_STATEMENTS)
    t = unique("multi")
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE %s (id INT PRIMARY KEY); "
                        "INSERT INTO %s VALUES (1), (2), (3); "
                        "SELECT 1 AS a; "
                        "SELECT 'x', 'y' UNION ALL SELECT 'z', NULL; "
                        "SELECT SUM(id) FROM %s; "
                        "DO 0" % (t, t, t))
            assert cur.description is None  # CREATE
            assert cur.nextset()
            assert cur.rowcount == 3  # INSERT
            assert cur.nextset()
            assert cur.fetchall() == ((1,),)
            assert [d[0] for d in cur.description] == ["a"]
            assert cur.nextset()
            assert cur.fetchall() == (("x", "y"), ("z", None))
            assert cur.nextset()
            assert cur.fetchall() == ((decimal.Decimal(6),),)
            assert cur.nextset()
            assert cur.description is None  # DO
            assert not cur.nextset()
            # An error in the middle stops the batch; the session stays usable.
            with pytest.raises(pymysql.err.ProgrammingError) as ei:
                cur.execute("SELECT 1; SELECT * FROM no_such_table_multi; SELECT 3")
                while cur.nextset():
                    pass
            assert error_code(ei.value) == 1146
        assert q(conn, "SELECT 5") == ((5,),)
        q(conn, "DROP TABLE %s" % t)
    finally:
        conn.close()


def test_200000_row_result_arrives_complete(target):
    with closing_all(connect(target)) as conn:
        with conn.cursor() as cur:
            n = cur.execute("SELECT seq, CONCAT('row-', seq) FROM seq_1_to_200000")
            assert n == 200000
            rows = cur.fetchall()
        assert len(rows) == 200000
        assert sum(r[0] for r in rows) == 200000 * 200001 // 2
        assert rows[0] == (1, "row-1") and rows[-1] == (200000, "row-200000")
        # Streamed (unbuffered) read of the same.
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute("SELECT seq FROM seq_1_to_200000")
            count = total = 0
            for (v,) in cur:
                count += 1
                total += v
        assert (count, total) == (200000, 200000 * 200001 // 2)
        # A recursive CTE too (its default bound is 1,000 iterations; raise it for this
        # session), and the session still works after.
        q(conn, "SET SESSION max_recursive_iterations = 300000")
        assert q(conn, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
                       "WHERE n < 200000) SELECT COUNT(*), SUM(n) FROM r") == \
            ((200000, decimal.Decimal(200000 * 200001 // 2)),)
        assert q1(conn, "SELECT 1") == 1


def test_20_mib_blob_round_trip_keeps_sha256(target):
    t = unique("bigblob")
    data = os.urandom(20 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    conn = connect(target, max_allowed_packet=64 * 1024 * 1024, read_timeout=120,
                   write_timeout=120, binary_prefix=True)
    try:
        assert q1(conn, "SELECT @@max_allowed_packet") >= 64 * 1024 * 1024
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, b LONGBLOB)" % t)
        with conn.cursor() as cur:
            assert cur.execute("INSERT INTO %s VALUES (1, %%s)" % t, (data,)) == 1
        assert q(conn, "SELECT LENGTH(b), SHA2(b, 256) FROM %s WHERE id = 1" % t) == \
            ((len(data), digest),)
        got = q1(conn, "SELECT b FROM %s WHERE id = 1" % t)
        assert len(got) == len(data)
        assert hashlib.sha256(got).hexdigest() == digest
        # Exactly 16 MiB - 1 and 16 MiB payloads cross the packet-split boundary.
        for size in (0xFFFFFF - 40, 0xFFFFFF, 0x1000000):
            blob = os.urandom(size)
            got = q1(conn, "SELECT %s AS v", (blob,))  # named: the default name is the bytes
            assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest(), size
        q(conn, "DROP TABLE %s" % t)
    finally:
        conn.close()


# --- errors ------------------------------------------------------------------------------

def test_sql_errors_1064_and_1146_pass_through_and_session_stays_usable(target):
    with closing_all(connect(target)) as conn:
        q(conn, "SET @keep = 'still here'")
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            q(conn, "SELEC 1")
        assert error_code(ei.value) == 1064
        assert "syntax" in ei.value.args[1]
        assert q(conn, "SELECT 1") == ((1,),)
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            q(conn, "SELECT * FROM no_such_table_1146")
        assert error_code(ei.value) == 1146
        assert "no_such_table_1146" in ei.value.args[1]
        assert q(conn, "SELECT 2") == ((2,),)
        with pytest.raises(pymysql.err.IntegrityError) as ei:
            t = unique("dup")
            q(conn, "CREATE TABLE %s (id INT PRIMARY KEY)" % t)
            q(conn, "INSERT INTO %s VALUES (1), (1)" % t)
        assert error_code(ei.value) == 1062
        q(conn, "DROP TABLE %s" % t)
        assert q1(conn, "SELECT @keep") == "still here"


def test_error_inside_transaction_keeps_transaction_open(target):
    t = unique("txnerr")
    with closing_all(connect(target, autocommit=False), connect(target)) as (a, b):
        open_transaction(a, b, t)
        with pytest.raises(pymysql.err.ProgrammingError):
            q(a, "SELECT * FROM no_such_table_txnerr")
        q(a, "INSERT INTO %s VALUES (2)" % t)
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 0
        a.commit()
        assert q1(b, "SELECT COUNT(*) FROM %s" % t) == 2
        q(b, "DROP TABLE %s" % t)


# --- session state across multiplexing ---------------------------------------------------

def session_and_noise(sluice, cap):
    """A session and a Noise session on a new Sluice with a pool of cap backend connections,
    both closed when the with block ends."""
    target = sluice(cap=cap)
    return closing_all(connect(target), Noise(target))


def test_set_names_persists_across_statements(sluice):
    with session_and_noise(sluice, 1) as (conn, noise):
        # In latin1, the two UTF-8 bytes of 'é' are two characters; in utf8mb4 one.
        probe = "SELECT @@character_set_client, @@character_set_results, " \
                "CHAR_LENGTH('\u00e9'), HEX(CONVERT('\u00e9' USING utf8mb4))"
        assert q(conn, probe) == (("utf8mb4", "utf8mb4", 1, "C3A9"),)
        q(conn, "SET NAMES latin1")
        for _ in range(4):
            noise.between()
            assert q(conn, probe) == (("latin1", "latin1", 2, "C383C2A9"),)
        q(conn, "SET NAMES utf8mb4 COLLATE utf8mb4_bin")
        for _ in range(4):
            noise.between()
            assert q(conn, probe) == (("utf8mb4", "utf8mb4", 1, "C3A9"),)
            assert q1(conn, "SELECT @@collation_connection") == "utf8mb4_bin"


def test_user_variable_persists_across_statements(sluice):
    with session_and_noise(sluice, 2) as (conn, noise):
        q(conn, "SET @v = 'hello', @n = 41")
        for i in range(5):
            noise.between()
            assert q(conn, "SELECT @v, @n") == (("hello", 41 + i),)
            q(conn, "SET @n = @n + 1")
        q(conn, "SET @v = NULL")
        noise.between()
        assert q1(conn, "SELECT @v") is None


def test_sql_mode_ansi_quotes_persists_across_statements(sluice):
    with session_and_noise(sluice, 1) as (conn, noise):
        assert q1(conn, 'SELECT "abc"') == "abc"
        q(conn, "SET SESSION sql_mode = 'ANSI_QUOTES'")
        for _ in range(4):
            noise.between()
            assert q1(conn, "SELECT @@SESSION.sql_mode") == "ANSI_QUOTES"
            # With ANSI_QUOTES, "abc" is an identifier: unknown column.
            with pytest.raises(pymysql.err.OperationalError) as ei:
                q(conn, 'SELECT "abc"')
            assert error_code(ei.value) == 1054
        q(conn, "SET SESSION sql_mode = DEFAULT")
        noise.between()
        assert q1(conn, 'SELECT "abc"') == "abc"
        assert q1(conn, "SELECT @@SESSION.sql_mode = @@GLOBAL.sql_mode") == 1


def test_time_zone_persists_across_statements(sluice):
    with session_and_noise(sluice, 1) as (conn, noise):
        q(conn, "SET time_zone = '+05:30'")
        for _ in range(4):
            noise.between()
            assert q(conn, "SELECT @@time_zone, FROM_UNIXTIME(0)") == \
                (("+05:30", datetime.datetime(1970, 1, 1, 5, 30)),)


def test_arbitrary_set_statements_persist(sluice):
    target = sluice(cap=1)
    t = unique("safe")
    with closing_all(connect(target), Noise(target)) as (conn, noise):
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % t)
        q(conn, "INSERT INTO %s VALUES (1, 1), (2, 2)" % t)
        q(conn, "SET SQL_SAFE_UPDATES = 1")
        for _ in range(3):
            noise.between()
            with pytest.raises(pymysql.err.OperationalError) as ei:
                q(conn, "UPDATE %s SET v = 0" % t)
            assert error_code(ei.value) == 1175
        assert q1(conn, "SELECT SUM(v) FROM %s" % t) == 3
        q(conn, "SET SESSION max_statement_time = 5")
        q(conn, "SET @@local.div_precision_increment = 8")
        for _ in range(3):
            noise.between()
            assert q(conn, "SELECT @@max_statement_time, @@SESSION.sql_safe_updates, 1/3") \
                == ((5.0, 1, decimal.Decimal("0.33333333")),)
        q(conn, "SET SQL_SAFE_UPDATES = 0")
        noise.between()
        q(conn, "UPDATE %s SET v = 0" % t)
        assert q1(conn, "SELECT SUM(v) FROM %s" % t) == 0
        q(conn, "DROP TABLE %s" % t)


def test_ping_answers_and_session_continues(target):
    with closing_all(connect(target)) as conn:
        q(conn, "SET @before_ping = 3")
        for _ in range(5):
            conn.ping(reconnect=False)
        assert q1(conn, "SELECT @before_ping") == 3
        assert q1(conn, "SELECT 1") == 1


def test_insert_id_and_affected_rows(target):
    t = unique("ids")
    with closing_all(connect(target)) as conn:
        q(conn, "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, v INT)" % t)
        with conn.cursor() as cur:
            assert cur.execute("INSERT INTO %s (v) VALUES (10), (20), (30)" % t) == 3
            assert cur.rowcount == 3
            assert cur.lastrowid == 1
        assert conn.insert_id() == 1  # first id of a multi-row insert
        assert q1(conn, "SELECT LAST_INSERT_ID()") == 1
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s (v) VALUES (40)" % t)
            assert cur.lastrowid == 4
        assert q1(conn, "SELECT LAST_INSERT_ID()") == 4
        with conn.cursor() as cur:
            assert cur.execute("UPDATE %s SET v = v + 1 WHERE id <= 2" % t) == 2
            # A matched row that does not change is not "affected" unless the client asks
            # for CLIENT_FOUND_ROWS (PyMySQL does not by default).
            assert cur.execute("UPDATE %s SET v = 30 WHERE id = 3" % t) == 0
            assert cur.execute("DELETE FROM %s WHERE id > 2" % t) == 2
            assert cur.execute("SELECT * FROM %s" % t) == 2
        q(conn, "DROP TABLE %s" % t)


def test_found_rows_client_flag_is_honoured(target):
    t = unique("found")
    with closing_all(connect(target, client_flag=CLIENT.FOUND_ROWS)) as conn:
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % t)
        q(conn, "INSERT INTO %s VALUES (1, 1), (2, 2)" % t)
        with conn.cursor() as cur:
            assert cur.execute("UPDATE %s SET v = 1 WHERE id = 1" % t) == 1
        q(conn, "DROP TABLE %s" % t)


def test_last_insert_id_survives_another_session_sharing_the_backend(sluice):
    target = sluice(cap=1)
    t = unique("lid")
    t2 = unique("lidnoise")
    with closing_all(connect(target)) as conn:
        q(conn, "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, v INT)" % t)
        q(conn, "CREATE TABLE sbtest.%s (id INT AUTO_INCREMENT PRIMARY KEY, v INT) "
                "AUTO_INCREMENT=1000" % t2)
        noise = Noise(target, statements=("INSERT INTO %s (v) VALUES (0)" % t2,))
        try:
            for i in range(1, 4):
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO %s (v) VALUES (%d)" % (t, i))
                    assert cur.lastrowid == i
                noise.between()
                assert q1(conn, "SELECT LAST_INSERT_ID()") == i
        finally:
            noise.close()
        q(conn, "DROP TABLE %s" % t)
        q(conn, "DROP TABLE sbtest.%s" % t2)


def test_warnings_of_a_truncating_insert_are_reported(sluice):
    target = sluice(cap=1)
    t = unique("warn")
    with closing_all(connect(target), Noise(target)) as (conn, noise):
        q(conn, "CREATE TABLE %s (s VARCHAR(5))" % t)
        q(conn, "SET SESSION sql_mode = ''")  # truncation is a warning, not an error
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s VALUES ('far too long')" % t)
            assert cur._result.warning_count == 1  # from the OK packet
        noise.between()
        warnings = q(conn, "SHOW WARNINGS")
        assert len(warnings) == 1, warnings
        level, code, message = warnings[0]
        assert (level, code) == ("Warning", 1265)
        assert "'s'" in message

        q(conn, "INSERT INTO %s VALUES ('again too long')" % t)
        noise.between()
        assert q1(conn, "SELECT @@warning_count") == 1

        q(conn, "INSERT INTO %s VALUES ('third too long'), ('and a fourth')" % t)
        noise.between()
        assert q1(conn, "SHOW COUNT(*) WARNINGS") == 2

        q(conn, "INSERT INTO %s VALUES ('ok')" % t)
        noise.between()
        assert q(conn, "SHOW WARNINGS") == ()
        assert q1(conn, "SELECT COUNT(*) FROM %s WHERE s = 'far t'" % t) == 1
        q(conn, "DROP TABLE %s" % t)


def test_sessions_of_two_users_each_see_their_own_user(target):
    app2 = dict(user=target.fleet.app2_user, password=target.fleet.app2_password)
    with closing_all(connect(target), connect(target, **app2)) as (a, b):
        for _ in range(5):
            assert q1(a, "SELECT CURRENT_USER()").startswith("app@")
            assert q1(b, "SELECT CURRENT_USER()").startswith("app2@")
