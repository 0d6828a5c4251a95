"""Rule actions beyond routing, against the real fleet: cache_ttl (the query cache),
timeout (the statement is killed on the server), delay, retries, START TRANSACTION READ ONLY
on a reader, and causal reads switched per user (mysql_users.attributes). Through Sluice
only."""

import shutil
import subprocess
import time
import urllib.request

import pymysql
import pytest

import harness
from harness import connect, error_code, q, q1, unique

pytestmark = pytest.mark.proxy_only


def replica_servers(fleet, ports=None, cap=10):
    return "".join(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
        "VALUES (1, '%s', %d, %d);\n" % (fleet.host, p, cap)
        for p in (ports if ports is not None else fleet.replica_ports))


def metrics(target):
    """The metrics endpoint as {name: value} for unlabelled samples."""
    port = target.metrics_port
    assert harness.wait_port(harness.HOST, port, 10, target.proc)
    with urllib.request.urlopen("http://%s:%d/metrics" % (harness.HOST, port),
                                timeout=10) as r:
        body = r.read().decode("utf-8")
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split(" ")
            out[name] = float(value)
    return out


def with_metrics(sluice, extra_sql, threads=1):
    port = harness.free_ports(1, harness.SLUICE_PORT_RANGE)[0]
    sql = ("INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES "
           "('admin-restapi_enabled', 'true'), ('admin-restapi_port', '%d');\n" % port)
    target = sluice(threads=threads, extra_sql=sql + extra_sql)
    target.metrics_port = port
    return target


@pytest.fixture
def cached_table(fleet):
    t = unique("qc")
    root = fleet.root(db="app")
    q(root, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % t)
    q(root, "INSERT INTO %s VALUES (1, 1)" % t)
    yield t, root
    q(root, "DROP TABLE IF EXISTS %s" % t)
    root.close()


CACHE_RULE = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, cache_ttl, "
              "apply) VALUES (10, 1, '%s', %d, 1);\n")


def cached_reader(sluice, pattern, ttl):
    """with_metrics() with CACHE_RULE for pattern and ttl, and a session on it."""
    target = with_metrics(sluice, CACHE_RULE % (pattern, ttl))
    return target, connect(target)


def test_cached_select_is_answered_from_the_cache_until_its_ttl(sluice, cached_table):
    t, root = cached_table
    ttl = 2000
    # One worker: the cache is per worker, and the test wants every connection on it.
    target, conn = cached_reader(sluice, "^SELECT v FROM qc_", ttl)
    sql = "SELECT v FROM %s WHERE id = 1" % t
    start = time.monotonic()
    assert q1(conn, sql) == 1
    q(root, "UPDATE %s SET v = 2 WHERE id = 1" % t)
    before = metrics(target)
    # The table changed underneath; the cached answer stays until the TTL.
    for _ in range(5):
        assert q1(conn, sql) == 1
    after = metrics(target)
    assert after["sluice_query_cache_hits_total"] - before["sluice_query_cache_hits_total"] == 5
    assert after["sluice_query_cache_entries"] >= 1
    assert after["sluice_query_cache_bytes"] > 0
    # Another connection of the same user shares the entry; another user does not.
    other = connect(target)
    assert q1(other, sql) == 1
    other.close()
    app2 = connect(target, user=target.fleet.app2_user, password=target.fleet.app2_password)
    assert q1(app2, sql) == 2
    app2.close()
    # The same text in another schema is another key.
    assert q1(conn, "SELECT v FROM app.%s WHERE id = 1" % t) == 2
    # Hits show in the digest statistics under hostgroup -1, as in ProxySQL.
    adm = pymysql.connect(host=target.host, port=target.admin_port, user="admin",
                          password="admin", autocommit=True)
    rows = q(adm, "SELECT hostgroup, count_star, sum_rows_sent FROM stats_mysql_query_digest "
                  "WHERE digest_text LIKE 'SELECT v FROM qc%%' AND username = 'app' "
                  "ORDER BY hostgroup")
    adm.close()
    assert [tuple(map(int, r)) for r in rows] == [(-1, 6, 6), (0, 1, 1)], rows
    # The thing under test: the TTL runs out (with 0.3 s to spare).
    time.sleep(max(0.0, ttl / 1000.0 + 0.3 - (time.monotonic() - start)))
    assert q1(conn, sql) == 2
    assert metrics(target)["sluice_query_cache_misses_total"] >= 3
    conn.close()


def test_cache_serves_clients_with_and_without_deprecate_eof(sluice, cached_table, fleet):
    # The mariadb command-line client (Connector/C) and PyMySQL frame result sets
    # differently: each gets what was stored for its own kind of client.
    cli = shutil.which("mariadb") or shutil.which("mysql")
    harness.require(cli is not None, "no mariadb command-line client")
    t, root = cached_table
    target = with_metrics(sluice, CACHE_RULE % ("^SELECT v, id FROM qc_", 30000))
    sql = "SELECT v, id FROM %s" % t

    def run_cli():
        r = subprocess.run([cli, "--skip-ssl", "-h", target.host, "-P", str(target.port),
                            "-u", fleet.app_user, "-p" + fleet.app_password, "-N", "-B",
                            "app", "-e", sql + "; " + sql],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        assert r.returncode == 0, r.stdout
        return r.stdout.split()

    conn = connect(target)
    assert q(conn, sql) == ((1, 1),)
    assert run_cli() == ["1", "1", "1", "1"]
    q(root, "UPDATE %s SET v = 5" % t)
    assert q(conn, sql) == ((1, 1),)
    assert run_cli() == ["1", "1", "1", "1"]
    conn.close()


def test_writes_are_never_cached_and_transactions_bypass_the_cache(sluice, cached_table):
    t, root = cached_table
    # A rule that would cache everything.
    target, conn = cached_reader(sluice, ".", 30000)
    sql = "SELECT v FROM %s WHERE id = 1" % t
    for i in range(2, 5):
        q(conn, "INSERT INTO %s VALUES (%d, %d)" % (t, i, i))
    assert q1(root, "SELECT COUNT(*) FROM %s" % t) == 4
    assert q1(conn, sql) == 1
    q(root, "UPDATE %s SET v = 9 WHERE id = 1" % t)
    assert q1(conn, sql) == 1  # cached
    q(conn, "BEGIN")
    assert q1(conn, sql) == 9  # inside a transaction the server answers
    q(conn, "UPDATE %s SET v = 10 WHERE id = 1" % t)
    assert q1(conn, sql) == 10
    q(conn, "COMMIT")
    assert q1(conn, sql) == 1  # outside again: the entry is still there
    # Autocommit off: every read is in a transaction.
    q(conn, "SET autocommit = 0")
    assert q1(conn, sql) == 10
    q(conn, "COMMIT")
    q(conn, "SET autocommit = 1")
    # A read that fails is not cached.
    with pytest.raises(pymysql.err.MySQLError):
        q(conn, "SELECT nope FROM %s" % t)
    with pytest.raises(pymysql.err.MySQLError):
        q(conn, "SELECT nope FROM %s" % t)
    conn.close()


def test_cache_size_zero_at_runtime_empties_and_disables_it(sluice, cached_table):
    t, root = cached_table
    target, conn = cached_reader(sluice, "^SELECT v FROM qc_", 60000)
    sql = "SELECT v FROM %s WHERE id = 1" % t
    assert q1(conn, sql) == 1
    q(root, "UPDATE %s SET v = 3 WHERE id = 1" % t)
    assert q1(conn, sql) == 1
    assert metrics(target)["sluice_query_cache_entries"] == 1
    adm = pymysql.connect(host=target.host, port=target.admin_port, user="admin",
                          password="admin", autocommit=True)
    q(adm, "UPDATE global_variables SET variable_value = '0' "
           "WHERE variable_name = 'mysql-query_cache_size_MB'")
    q(adm, "LOAD MYSQL VARIABLES TO RUNTIME")
    adm.close()
    # Sessions pick up the new snapshot between statements.
    assert q1(conn, sql) == 3
    assert q1(conn, sql) == 3
    assert metrics(target)["sluice_query_cache_entries"] == 0
    conn.close()


def test_big_result_streams_and_is_not_cached(sluice, cached_table):
    t, root = cached_table
    target, conn = cached_reader(sluice, "^SELECT REPEAT", 30000)
    sql = "SELECT REPEAT('x', 1024 * 1024) AS a, seq FROM seq_1_to_3"
    before = metrics(target)
    rows = q(conn, sql)
    assert len(rows) == 3 and len(rows[0][0]) == 1024 * 1024
    rows = q(conn, sql)
    assert len(rows) == 3
    after = metrics(target)
    assert after["sluice_query_cache_hits_total"] == before["sluice_query_cache_hits_total"]
    assert after["sluice_query_cache_stores_total"] == before["sluice_query_cache_stores_total"]
    conn.close()


def sleeping(fleet, marker):
    rows = fleet.root_query("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                            "WHERE INFO LIKE %s AND ID <> @@pseudo_thread_id",
                            ("%" + marker + "%",))
    return rows[0][0]


def test_timeout_kills_the_statement_and_the_session_goes_on(sluice, fleet):
    target = sluice(extra_sql="INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
                              "timeout, apply) VALUES (10, 1, 'SLEEP', 1000, 1);\n")
    conn = connect(target)
    marker = unique("tmo")
    start = time.monotonic()
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(conn, "SELECT SLEEP(5) AS %s" % marker)
    took = time.monotonic() - start
    assert error_code(exc.value) == 1907, exc.value
    assert "query_timeout" in str(exc.value)
    assert 0.9 <= took < 2.5, took
    assert q1(conn, "SELECT 1") == 1
    # The server no longer runs it.
    harness.poll(lambda: sleeping(fleet, marker), lambda n: n == 0, 2)
    assert sleeping(fleet, marker) == 0
    # Statements under the timeout are untouched.
    assert q1(conn, "SELECT SLEEP(0.1)") == 0
    conn.close()


def test_timeout_in_a_transaction_ends_the_session(sluice, fleet):
    target = sluice(extra_sql="INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
                              "timeout, apply) VALUES (10, 1, 'SLEEP', 500, 1);\n")
    conn = connect(target)
    q(conn, "BEGIN")
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(conn, "SELECT SLEEP(3)")
    assert error_code(exc.value) == 1907
    # The transaction died with its backend: the session is closed, not moved.
    with pytest.raises(pymysql.err.MySQLError):
        q(conn, "SELECT 1")
    conn.close()
    conn = connect(target)
    assert q1(conn, "SELECT 1") == 1
    conn.close()


def test_delay_slows_the_statement(sluice):
    # One worker: the claim below is that the delay does not block the worker's loop, so
    # both sessions must be on the same worker.
    target = sluice(threads=1,
                    extra_sql="INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
                              "delay, apply) VALUES (10, 1, '^SELECT 42', 600, 1);\n")
    conn = connect(target)
    start = time.monotonic()
    assert q1(conn, "SELECT 7") == 7
    fast = time.monotonic() - start
    start = time.monotonic()
    assert q1(conn, "SELECT 42") == 42
    slow = time.monotonic() - start
    assert slow >= 0.55, slow
    assert fast < 0.3, fast
    # The worker is not blocked meanwhile: another session runs while one is delayed.
    other = connect(target)
    import threading
    th = threading.Thread(target=lambda: q(conn, "SELECT 42"))
    th.start()
    adm = harness.admin(target)
    harness.wait_until(lambda: q(adm, "SELECT 1 FROM stats_mysql_processlist "
                                      "WHERE info = 'SELECT 42'"), 5,
                       "the delayed statement to show in the processlist")
    adm.close()
    start = time.monotonic()
    assert q1(other, "SELECT 8") == 8
    assert time.monotonic() - start < 0.3
    th.join()
    other.close()
    conn.close()


def kill_when_running(fleet, marker, timeout=10):
    """KILLs the server connection running a statement that contains marker."""
    root = fleet.root()
    try:
        rows = harness.poll(lambda: q(root, "SELECT ID FROM information_schema.PROCESSLIST "
                                            "WHERE INFO LIKE %s AND ID <> @@pseudo_thread_id",
                                      ("%" + marker + "%",)), bool, timeout)
        if rows:
            q(root, "KILL %d" % rows[0][0])
            return True
    finally:
        root.close()
    return False


def test_retries_zero_on_a_rule_disables_the_retry(sluice, fleet):
    # A backend killed under an autocommit read: the global retry runs it again; a rule
    # with retries=0 hands the failure to the client instead.
    extra = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, retries, apply) "
             "VALUES (10, 1, 'no_retry', 0, 1);\n"
             "INSERT OR REPLACE INTO global_variables VALUES "
             "('mysql-query_retries_on_failure', '1');\n")
    target = sluice(extra_sql=extra)
    import threading

    def run(tag):
        marker = unique(tag)
        conn = connect(target)
        out = {}

        def read():
            try:
                out["rows"] = q(conn, "SELECT COUNT(*) AS %s FROM seq_1_to_40000000 "
                                      "WHERE seq %% 7 = 1" % marker)
            except pymysql.err.MySQLError as e:
                out["error"] = error_code(e)
        th = threading.Thread(target=read)
        th.start()
        assert kill_when_running(fleet, marker)
        th.join(60)
        conn.close()
        return out

    retried = run("retry")
    assert retried.get("rows") == ((5714286,),), retried
    failed = run("no_retry")
    assert failed.get("error") == 2013, failed


def test_read_only_transaction_runs_on_a_replica_and_stays(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas")
    rules = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
             "destination_hostgroup, apply) VALUES (20, 1, '^SELECT', 1, 1);\n")
    target = sluice(extra_sql=replica_servers(fleet) + rules)
    t = unique("ro")
    conn = connect(target)
    q(conn, "CREATE TABLE %s (id INT PRIMARY KEY)" % t)
    q(conn, "START TRANSACTION READ ONLY")
    port = q1(conn, "SELECT @@port")
    assert port in fleet.replica_ports
    for _ in range(5):
        assert q1(conn, "SELECT @@port") == port
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(conn, "INSERT INTO %s VALUES (1)" % t)
    assert error_code(exc.value) in (1792, 1290), exc.value  # the replica's own refusal
    assert q1(conn, "SELECT @@port") == port
    q(conn, "COMMIT")
    # A read-write transaction stays on the primary.
    q(conn, "START TRANSACTION")
    assert q1(conn, "SELECT @@port") == fleet.primary_port
    q(conn, "INSERT INTO %s VALUES (2)" % t)
    q(conn, "COMMIT")
    q(conn, "START TRANSACTION READ WRITE")
    assert q1(conn, "SELECT @@port") == fleet.primary_port
    q(conn, "ROLLBACK")
    q(conn, "DROP TABLE %s" % t)
    conn.close()


def test_causal_reads_per_user(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas")
    replica = fleet.replica_ports[0]
    t = unique("cru")
    root = fleet.root(db="app")
    q(root, "CREATE TABLE %s (id INT PRIMARY KEY)" % t)
    gtid = q1(root, "SELECT @@last_gtid")
    rroot = fleet.root(db="app", port=replica)
    assert q1(rroot, "SELECT MASTER_GTID_WAIT(%s, 20)", (gtid,)) == 0
    rules = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
             "destination_hostgroup, apply) VALUES (20, 1, '^SELECT', 1, 1);\n")
    common = replica_servers(fleet, [replica]) + rules + (
        "INSERT OR REPLACE INTO global_variables VALUES ('mysql-causal_reads_timeout', '1');\n")
    # Global off, app on by its attribute; then global on, app2 off by its attribute.
    on_for_app = sluice(extra_sql=common + (
        "INSERT OR REPLACE INTO global_variables VALUES ('mysql-causal_reads', 'false');\n"
        "UPDATE mysql_users SET attributes = '{\"causal_reads\": true}' "
        "WHERE username = '%s';\n" % fleet.app_user))
    off_for_app2 = sluice(extra_sql=common + (
        "INSERT OR REPLACE INTO global_variables VALUES ('mysql-causal_reads', 'true');\n"
        "UPDATE mysql_users SET attributes = '{\"causal_reads\": false}' "
        "WHERE username = '%s';\n" % fleet.app2_user))
    q(rroot, "STOP SLAVE SQL_THREAD")
    try:
        def stale(target, user, password, row):
            conn = connect(target, user=user, password=password)
            q(conn, "INSERT INTO %s VALUES (%d)" % (t, row))
            n = q1(conn, "SELECT COUNT(*) FROM %s WHERE id = %d" % (t, row))
            conn.close()
            return n == 0

        app = (fleet.app_user, fleet.app_password)
        app2 = (fleet.app2_user, fleet.app2_password)
        assert not stale(on_for_app, *app, 1)
        assert stale(on_for_app, *app2, 2)
        assert not stale(off_for_app2, *app, 3)
        assert stale(off_for_app2, *app2, 4)
    finally:
        q(rroot, "START SLAVE SQL_THREAD")
        rroot.close()
        q(root, "DROP TABLE %s" % t)
        root.close()
