"""The admin interface (admin-mysql_ifaces) driven with PyMySQL and the mariadb client:
credentials, SQL over the store, LOAD ... TO RUNTIME moving live traffic, validation that
changes nothing on error, SAVE TO DISK surviving a restart, reload under load."""

import os
import subprocess
import threading
import time

import pymysql
import pytest

import harness
from harness import admin, connect, error_code, q, q1, replica_servers

pytestmark = pytest.mark.proxy_only


def test_admin_login_and_refusals(sluice, fleet):
    target = sluice()
    a = admin(target)
    rows = q(a, "SELECT hostgroup_id, hostname, port FROM mysql_servers")
    assert (0, fleet.host, fleet.primary_port) in [(int(h), n, int(p)) for h, n, p in rows]
    a.close()
    with pytest.raises(pymysql.err.OperationalError) as exc:
        admin(target, password="wrong")
    assert error_code(exc.value) == 1045
    # Application users cannot log in to the admin interface.
    with pytest.raises(pymysql.err.OperationalError) as exc:
        admin(target, user=fleet.app_user, password=fleet.app_password)
    assert error_code(exc.value) == 1045


def test_mariadb_cli_works_against_admin(sluice):
    target = sluice()
    base = ["mariadb", "-h", target.host, "-P", str(target.admin_port), "-uadmin", "-padmin",
            "--skip-ssl"]
    r = subprocess.run(base + ["-N", "-B", "-e", "SHOW TABLES"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
    assert r.returncode == 0, r.stdout
    tables = r.stdout.split()
    for t in ("mysql_servers", "mysql_users", "mysql_query_rules", "global_variables",
              "runtime_mysql_servers"):
        assert t in tables
    r = subprocess.run(base + ["-e", "SELECT * FROM global_variables "
                               "WHERE variable_name='mysql-threads'\\G"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    assert r.returncode == 0, r.stdout
    assert "variable_name: mysql-threads" in r.stdout
    r = subprocess.run(base + ["-e", "SHOW CREATE TABLE mysql_servers"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
    assert r.returncode == 0 and "CREATE TABLE" in r.stdout, r.stdout


def test_rule_loaded_to_runtime_moves_traffic_and_bad_regex_changes_nothing(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas")
    target = sluice(extra_sql=replica_servers(fleet))
    app = connect(target)
    assert q1(app, "SELECT @@port") == fleet.primary_port
    a = admin(target)
    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
         "destination_hostgroup, apply) VALUES (10, 1, '^SELECT', 1, 1)")
    # Not live until loaded.
    assert q1(app, "SELECT @@port") == fleet.primary_port
    q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    assert q1(app, "SELECT @@port") in fleet.replica_ports  # same session, not dropped
    assert q1(a, "SELECT COUNT(*) FROM runtime_mysql_query_rules") in (1, "1")

    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
         "destination_hostgroup) VALUES (11, 1, '^SELECT (broken', 0)")
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    msg = str(exc.value)
    assert "11" in msg and "offset" in msg, msg
    assert q1(a, "SELECT COUNT(*) FROM runtime_mysql_query_rules") in (1, "1")
    assert q1(app, "SELECT @@port") in fleet.replica_ports
    app.close()
    a.close()


def test_save_to_disk_survives_a_restart(sluice, fleet):
    target = sluice()
    a = admin(target)
    q(a, "UPDATE global_variables SET variable_value='4321' "
         "WHERE variable_name='mysql-shutdown_timeout'")
    q(a, "SAVE MYSQL VARIABLES TO DISK")
    a.close()
    target.stop()
    assert not target.problems, target.problems
    datadir = os.path.join(target.workdir, "data")
    cfg = os.path.join(target.workdir, "config.sql")
    errf = open(os.path.join(target.workdir, "restart.stderr"), "wb")
    proc = subprocess.Popen([target.proc.args[0], "--datadir", datadir, "--config", cfg,
                             "--foreground"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=errf)
    try:
        assert harness.wait_port(target.host, target.admin_port, 10, proc)
        a = admin(target)
        assert q1(a, "SELECT variable_value FROM global_variables "
                     "WHERE variable_name='mysql-shutdown_timeout'") == "4321"
        a.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        errf.close()
    assert proc.returncode == 0


def test_reload_under_load_drops_nothing(sluice, fleet):
    target = sluice(cap=10)
    stop = threading.Event()
    failures = []
    done = [0]

    def worker():
        try:
            c = connect(target)
        except Exception as e:
            failures.append(repr(e))
            return
        while not stop.is_set():
            try:
                assert q1(c, "SELECT 1") == 1
                done[0] += 1
            except Exception as e:
                failures.append(repr(e))
                return
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    a = admin(target)
    for i in range(20):
        q(a, "UPDATE mysql_servers SET max_connections = %d" % (8 + i % 5))
        q(a, "LOAD MYSQL SERVERS TO RUNTIME")
        q(a, "LOAD MYSQL USERS TO RUNTIME")
        q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
        time.sleep(0.05)  # paces the reloads so that statements run between them
    stop.set()
    for t in threads:
        t.join(timeout=30)
    a.close()
    print("statements during reloads: %d, failed: %d" % (done[0], len(failures)))
    assert not failures, failures[:5]
    assert done[0] > 100


def test_stats_tables_show_live_digests_and_pool(sluice, fleet):
    target = sluice(cap=5)
    app = connect(target)
    for i in range(7):
        assert q1(app, "SELECT %d + 1" % i) == i + 1
    q(app, "SELECT 'x' FROM DUAL WHERE 1 = 0")
    a = admin(target)
    rows = q(a, "SELECT digest_text, count_star, sum_rows_sent, p50_time, p99_time, digest "
                "FROM stats_mysql_query_digest WHERE username = 'app' "
                "ORDER BY count_star DESC")
    by_text = {r[0]: r for r in rows}
    assert "SELECT ?+?" in by_text or "SELECT ? + ?" in by_text, rows
    r = by_text.get("SELECT ?+?") or by_text.get("SELECT ? + ?")
    assert int(r[1]) == 7 and int(r[2]) == 7
    assert int(r[3]) <= int(r[4])
    assert r[5].startswith("0x") and len(r[5]) == 18
    pool = q(a, "SELECT hostgroup, srv_port, ConnUsed, ConnFree, ConnOK, max_connections "
                "FROM stats_mysql_connection_pool")
    assert any(int(p[0]) == 0 and int(p[1]) == fleet.primary_port and int(p[4]) >= 1 and
               int(p[5]) == 5 for p in pool), pool
    # _reset returns the rows and starts again.
    assert q(a, "SELECT COUNT(*) FROM stats_mysql_query_digest_reset")[0][0] not in (0, "0")
    assert q1(a, "SELECT COUNT(*) FROM stats_mysql_query_digest") in (0, "0")
    a.close()
    app.close()


def test_digest_length_bound_and_rules_on_it(sluice, fleet):
    """mysql-query_digests_max_query_length bounds what a digest looks at: statements that
    differ only after the bound share one digest (and a match_digest rule sees the same
    bounded text)."""
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables VALUES "
                              "('mysql-query_digests_max_query_length', '20');\n")
    app = connect(target)
    q(app, "SELECT 1 AS a, 2 AS bbbbbb, 3 AS c")
    q(app, "SELECT 1 AS a, 2 AS bbbbbb, 'x' AS other_column")
    a = admin(target)
    rows = q(a, "SELECT digest_text, count_star FROM stats_mysql_query_digest "
                "WHERE username = 'app'")
    assert len(rows) == 1 and int(rows[0][1]) == 2, rows
    assert len(rows[0][0]) <= 24, rows  # the first 20 bytes, normalized
    a.close()
    app.close()


def test_explain_query_rules_through_the_admin_port(sluice, fleet):
    target = sluice()
    a = admin(target)
    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
         "destination_hostgroup, apply) VALUES (7, 1, '^SELECT .* FOR UPDATE', 0, 1), "
         "(8, 1, '^SELECT', 1, 1)")
    q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    rows = q(a, "EXPLAIN QUERY RULES FOR 'SELECT c FROM t WHERE id = 5' USER 'app'")
    outcomes = [(r[1], r[3]) for r in rows]
    assert outcomes[0] == ("7", "skipped: match_digest") or outcomes[0] == (7, "skipped: match_digest")
    assert str(outcomes[1][0]) == "8" and outcomes[1][1] == "matched"
    final = rows[-1]
    assert final[3] == "decision" and str(final[4]) == "1"
    assert final[11] == "SELECT c FROM t WHERE id = ?"
    a.close()


def test_admin_transaction_is_one_session_at_a_time_and_rolled_back_on_disconnect(sluice):
    """The store has one SQLite connection: an open BEGIN belongs to its session. Another
    admin session gets error 1205 instead of running inside it, and a session that
    disconnects mid-transaction has it rolled back."""
    target = sluice()
    a, b = admin(target), admin(target)
    q(a, "BEGIN")
    q(a, "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (7, 'tx.example', 1)")
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(b, "SELECT COUNT(*) FROM mysql_servers")
    assert error_code(exc.value) == 1205
    a.close()  # gone without COMMIT

    def count():
        try:
            return (q1(b, "SELECT COUNT(*) FROM mysql_servers WHERE hostgroup_id = 7"),)
        except pymysql.err.MySQLError as e:  # the close may take a moment to be seen
            assert error_code(e) == 1205
            return None
    n, = harness.wait_until(count, 5, "the closed session's transaction to end")
    assert int(n) == 0  # rolled back
    # And a transaction of b's own works as before.
    q(b, "BEGIN")
    q(b, "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (7, 'tx.example', 1)")
    q(b, "COMMIT")
    assert int(q1(b, "SELECT COUNT(*) FROM mysql_servers WHERE hostgroup_id = 7")) == 1
    b.close()
