"""The proxy's stats tables on the admin port, as an operator reads them:
stats_mysql_query_rules (rule hits), stats_mysql_global (ProxySQL's counters),
stats_mysql_commands_counters (statements by type with latency buckets) and
stats_mysql_processlist (one row per client session, the statement running)."""

import re
import shutil
import subprocess
import urllib.request

import pymysql
import pytest

import harness
from harness import admin, closing_all, connect, q, q1, q_in_background, replica_servers, unique

pytestmark = pytest.mark.proxy_only

BUCKETS = ["cnt_100us", "cnt_500us", "cnt_1ms", "cnt_5ms", "cnt_10ms", "cnt_50ms",
           "cnt_100ms", "cnt_500ms", "cnt_1s", "cnt_5s", "cnt_10s", "cnt_INFs"]


def typed(row):
    """The admin port sends every value as text: numbers back to int."""
    return {k: int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v
            for k, v in row.items()}


def rows(adm, sql, args=None):
    with adm.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql, args)
        return [typed(r) for r in cur.fetchall()]


def settle(read, ok, seconds=5):
    """read() until ok(value) (harness.poll): a worker updates its counters just after the
    client has the response, so a reader may be a moment early."""
    return harness.poll(read, ok, seconds)


def commands(adm):
    """{Command: row dict} of stats_mysql_commands_counters."""
    return {r["Command"]: r for r in rows(adm, "SELECT * FROM stats_mysql_commands_counters")}


def globals_(adm):
    return {name: int(value) for name, value in
            q(adm, "SELECT Variable_Name, Variable_Value FROM stats_mysql_global")}


def test_commands_counters_count_each_type_with_its_latency(sluice):
    target = sluice()
    adm = admin(target)
    conn = connect(target)
    table = unique("t_cmd")
    try:
        before = commands(adm)
        # ProxySQL's list: every type has a row even before it is used.
        for name in ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "COMMIT",
                     "ROLLBACK", "SET", "SHOW", "CREATE_TABLE", "DROP_TABLE", "UNKNOWN",
                     "SELECT_FOR_UPDATE", "START_TRANSACTION", "SHOW_TABLE_STATUS"):
            assert name in before, name
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % table)
        for i in range(5):
            q(conn, "INSERT INTO %s VALUES (%d, %d)" % (table, i, i))
        q(conn, "/* hint */ UPDATE %s SET v = v + 1 WHERE id = 1" % table)
        q(conn, "REPLACE INTO %s VALUES (9, 9)" % table)
        q(conn, "BEGIN")
        q(conn, "SELECT * FROM %s WHERE id = 2 FOR UPDATE" % table)
        q(conn, "DELETE FROM %s WHERE id = 2" % table)
        q(conn, "COMMIT")
        q(conn, "START TRANSACTION")
        q(conn, "ROLLBACK")
        for _ in range(7):
            q(conn, "SELECT COUNT(*) FROM %s" % table)
        q(conn, "SELECT SLEEP(0.2)")
        q(conn, "SET @x = 1")
        q(conn, "SHOW TABLES")
        q(conn, "SHOW TABLE STATUS")
        with pytest.raises(pymysql.err.MySQLError):
            q(conn, "SELEKT 1")  # an error still counts, as UNKNOWN
        q(conn, "DROP TABLE %s" % table)
        after = settle(lambda: commands(adm),
                       lambda a: a["DROP_TABLE"]["Total_cnt"] > before["DROP_TABLE"]["Total_cnt"])
        want = {"CREATE_TABLE": 1, "INSERT": 5, "UPDATE": 1, "REPLACE": 1, "BEGIN": 1,
                "SELECT_FOR_UPDATE": 1, "DELETE": 1, "COMMIT": 1, "START_TRANSACTION": 1,
                "ROLLBACK": 1, "SELECT": 8, "SET": 1, "SHOW": 1, "SHOW_TABLE_STATUS": 1,
                "UNKNOWN": 1, "DROP_TABLE": 1}
        for name, n in want.items():
            got = after[name]["Total_cnt"] - before[name]["Total_cnt"]
            # pymysql sends nothing of its own after connecting, so counts are exact.
            assert got == n, (name, got, n)
        for name, row in after.items():
            assert sum(row[b] for b in BUCKETS) == row["Total_cnt"], name
        sel_b, sel_a = before["SELECT"], after["SELECT"]
        # SLEEP(0.2) took at least 200 ms: in the 500 ms bucket (or later on a slow box).
        slow = sum(sel_a[b] - sel_b[b] for b in ("cnt_500ms", "cnt_1s", "cnt_5s"))
        assert slow >= 1
        assert sel_a["Total_Time_us"] - sel_b["Total_Time_us"] >= 200000
    finally:
        conn.close()
        adm.close()


def test_sql_prepared_statements_count_as_their_own_types(sluice):
    target = sluice()
    with closing_all(admin(target)) as adm, closing_all(connect(target)) as conn:
        before = commands(adm)["SELECT"]["Total_cnt"]
        # SQL-level PREPARE/EXECUTE are COM_QUERYs named by their own keyword (binary
        # protocol executes count by their statement's text: see the sysbench test).
        q(conn, "PREPARE s1 FROM 'SELECT 1'")
        q(conn, "EXECUTE s1")
        q(conn, "DEALLOCATE PREPARE s1")
        after = settle(lambda: commands(adm), lambda a: a["DEALLOCATE"]["Total_cnt"] >= 1)
        assert after["PREPARE"]["Total_cnt"] >= 1
        assert after["EXECUTE"]["Total_cnt"] >= 1
        assert after["DEALLOCATE"]["Total_cnt"] >= 1
        assert after["SELECT"]["Total_cnt"] == before


def test_global_figures_move(sluice):
    target = sluice(threads=2)
    with closing_all(admin(target)) as adm:
        # The harness's probes of the ports are connections too: wait until they are gone.
        g0 = settle(lambda: globals_(adm), lambda g: g["Client_Connections_connected"] == 0)
        for name in ("ProxySQL_Uptime", "Active_Transactions", "Client_Connections_aborted",
                     "Client_Connections_connected", "Client_Connections_created",
                     "Questions", "Server_Connections_aborted",
                     "Server_Connections_connected", "Server_Connections_created",
                     "Queue_length", "Pinned_sessions", "MySQL_Thread_Workers"):
            assert name in g0, name
        assert g0["MySQL_Thread_Workers"] == 2
        conns = [connect(target) for _ in range(3)]
        try:
            for c in conns:
                assert q1(c, "SELECT 1") == 1
            q(conns[0], "BEGIN")
            q(conns[0], "SELECT 1")
            with pytest.raises(pymysql.err.MySQLError):
                connect(target, password="wrong")
            g1 = settle(lambda: globals_(adm), lambda g: g["Questions"] - g0["Questions"] >= 5)
            assert g1["Client_Connections_connected"] - g0["Client_Connections_connected"] == 3
            assert g1["Client_Connections_created"] - g0["Client_Connections_created"] >= 4
            assert g1["Client_Connections_aborted"] - g0["Client_Connections_aborted"] == 1
            assert g1["Questions"] - g0["Questions"] == 5
            # Routing five statements took some time, and not much of it.
            assert 0 < g1["Query_Processor_time_nsec"] - g0["Query_Processor_time_nsec"] \
                < 5 * 10**9
            assert g1["Active_Transactions"] == 1
            assert g1["Pinned_sessions"] == 1
            assert g1["Server_Connections_connected"] >= 1
            assert g1["Server_Connections_created"] >= 1
            assert g1["Queue_length"] == 0
            q(conns[0], "COMMIT")
            g2 = settle(lambda: globals_(adm), lambda g: g["Active_Transactions"] == 0)
            assert g2["Active_Transactions"] == 0
            assert g2["Pinned_sessions"] == 0
        finally:
            for c in conns:
                c.close()
        harness.wait_until(lambda: globals_(adm)["Client_Connections_connected"] ==
                           g0["Client_Connections_connected"], 10,
                           "closed sessions to be no longer counted")


def test_processlist_shows_running_statement_and_idle_sessions(sluice):
    target = sluice(threads=2)
    adm = admin(target)
    busy = connect(target)
    idle = connect(target)
    busy_id = busy.thread_id()
    idle_id = idle.thread_id()
    t, done = q_in_background(busy, "SELECT SLEEP(2) AS zzz")
    try:
        assert q1(idle, "SELECT 1") == 1
        t.start()
        # Until it holds its backend: the first statement waits for a connect.
        row = harness.wait_until(
            lambda: rows(adm, "SELECT * FROM stats_mysql_processlist WHERE info IS NOT NULL "
                              "AND info LIKE '%SLEEP(2)%' AND srv_port IS NOT NULL"),
            5, "the running statement to show")[0]
        assert row["SessionID"] == busy_id
        assert row["command"] == "Query"
        assert row["info"] == "SELECT SLEEP(2) AS zzz"
        assert row["hostgroup"] == 0
        assert row["user"] == "app"
        assert row["db"] == "app"
        assert row["cli_host"] == "127.0.0.1"
        assert row["cli_port"] > 0
        assert row["srv_port"] == target.fleet.primary_port
        assert row["srv_host"] is not None and row["l_srv_port"] > 0
        assert row["ThreadID"] in (0, 1)
        assert 0 <= row["time_ms"] < 5000
        found = rows(adm, "SELECT * FROM stats_mysql_processlist WHERE SessionID = %s",
                     (idle_id,))
        assert len(found) == 1
        assert found[0]["command"] == "Sleep"
        assert found[0]["info"] is None
        assert found[0]["srv_host"] is None  # multiplexed: no backend held while idle
        assert q1(adm, "SELECT COUNT(*) FROM stats_mysql_processlist") in (2, "2")
        assert done.wait(10)
    finally:
        t.join(10)
        busy.close()
        idle.close()
        adm.close()


def test_rule_hits_count_up_survive_a_reload_and_restart_when_changed(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas")
    servers = replica_servers(fleet)
    rules = ("INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
             "destination_hostgroup, apply) VALUES (10, 1, '^SELECT .* FOR UPDATE', 0, 1);\n"
             "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
             "destination_hostgroup, apply) VALUES (20, 1, '^SELECT', 1, 1);\n")
    target = sluice(extra_sql=servers + rules)
    with closing_all(admin(target)) as adm, closing_all(connect(target)) as conn:
        def hits():
            return {int(r): int(h)
                    for r, h in q(adm, "SELECT rule_id, hits FROM stats_mysql_query_rules")}
        h0 = hits()
        assert set(h0) == {10, 20}
        for _ in range(4):
            q(conn, "SELECT 1")
        h1 = settle(hits, lambda h: h[20] - h0[20] >= 4)
        assert h1[20] - h0[20] == 4
        assert h1[10] == h0[10]
        q(adm, "UPDATE mysql_query_rules SET active = 0 WHERE rule_id = 10")
        q(adm, "LOAD MYSQL QUERY RULES TO RUNTIME")
        h2 = hits()
        assert set(h2) == {20}
        assert h2[20] == h1[20]  # rule 20 did not change: its count carries over
        # A session takes the new rule set at its next statement.
        q(conn, "SELECT 1")
        assert settle(hits, lambda h: h[20] >= h1[20] + 1)[20] == h1[20] + 1
        # A comment is not the rule's definition; its pattern is.
        q(adm, "UPDATE mysql_query_rules SET comment = 'reads' WHERE rule_id = 20")
        q(adm, "LOAD MYSQL QUERY RULES TO RUNTIME")
        assert hits()[20] == h1[20] + 1
        q(adm, "UPDATE mysql_query_rules SET match_pattern = '^SELECT ' WHERE rule_id = 20")
        q(adm, "LOAD MYSQL QUERY RULES TO RUNTIME")
        assert hits()[20] == 0
        q(conn, "SELECT 1")
        assert settle(hits, lambda h: h[20] >= 1)[20] == 1


def test_new_tables_are_read_only_and_listed(sluice):
    target = sluice()
    with closing_all(admin(target)) as adm:
        tables = {r[0] for r in q(adm, "SHOW TABLES")}
        for t in ("stats_mysql_query_rules", "stats_mysql_global",
                  "stats_mysql_commands_counters", "stats_mysql_processlist"):
            assert t in tables
            with pytest.raises(pymysql.err.MySQLError):
                q(adm, "DELETE FROM %s" % t)
        # Joined in one statement: each refilled once, no error.
        n = q1(adm, "SELECT COUNT(*) FROM stats_mysql_global g, stats_mysql_commands_counters c "
                    "WHERE c.Command = 'SELECT'")
        assert int(n) >= 10


def test_latency_histogram_in_the_metrics(sluice):
    target = sluice()
    assert harness.wait_port(target.host, target.metrics_port, 10, target.proc)
    with closing_all(connect(target)) as conn:
        for _ in range(3):
            q(conn, "SELECT 1")
        q(conn, "DO 1")

        def scrape():
            url = "http://%s:%d/metrics" % (target.host, target.metrics_port)
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read().decode("utf-8")

        def sample(text, name, **labels):
            lab = ",".join('%s="%s"' % kv for kv in labels.items())
            m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(lab)), text, re.M)
            return float(m.group(1)) if m else None

        text = settle(scrape, lambda t: sample(
            t, "sluice_commands_latency_seconds_count", command="UNKNOWN") == 1)
        assert sample(text, "sluice_commands_latency_seconds_count", command="SELECT") == 3
        assert sample(text, "sluice_commands_latency_seconds_bucket", command="SELECT",
                      le="+Inf") == 3
        assert sample(text, "sluice_commands_latency_seconds_bucket", command="SELECT",
                      le="10") == 3
        assert sample(text, "sluice_commands_latency_seconds_sum", command="SELECT") > 0
        # Types never seen stay out of the exposition.
        assert sample(text, "sluice_commands_latency_seconds_count", command="GRANT") is None
        # The whole exposition, histograms included, passes promtool (test_metrics.py
        # requires promtool; here it is a bonus, except under CI where nothing may be
        # missing).
        promtool = shutil.which("promtool")
        if harness.CI:
            harness.require(promtool is not None, "promtool is not installed (Debian package "
                                                  "prometheus; tests/lib-install.sh installs it)")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            assert r.returncode == 0, r.stdout.decode()


def errors_of(adm, table="stats_mysql_errors"):
    return rows(adm, "SELECT * FROM %s" % table)


def test_errors_count_backend_errors_per_user_schema_and_errno(sluice):
    """A duplicate key the backend refuses shows in stats_mysql_errors with its errno,
    server, user, schema and client address; stats_mysql_errors_reset reads and resets."""
    target = sluice()
    table = unique("t_err")
    with closing_all(admin(target)) as adm, closing_all(connect(target)) as conn:
        q(conn, "CREATE TABLE %s (id INT PRIMARY KEY)" % table)
        q(conn, "INSERT INTO %s VALUES (1)" % table)
        for _ in range(3):
            with pytest.raises(pymysql.err.IntegrityError):
                q(conn, "INSERT INTO %s VALUES (1)" % table)
        dup = harness.wait_until(
            lambda: [r for r in errors_of(adm) if r["errno"] == 1062 and r["count_star"] >= 3],
            5, "the duplicate key errors to be counted")[0]
        assert dup["count_star"] == 3
        assert dup["hostgroup"] == 0
        assert dup["hostname"] == target.fleet.host
        assert dup["port"] == target.fleet.primary_port
        assert dup["username"] == target.fleet.app_user
        assert dup["schemaname"] == "app"
        assert dup["client_address"] == "127.0.0.1"
        assert "Duplicate entry" in dup["last_error"]
        assert 0 < dup["first_seen"] <= dup["last_seen"]
        # A syntax error quotes the statement: a password in it is masked.
        with pytest.raises(pymysql.err.MySQLError):
            q(conn, "CREATE USERR x IDENTIFIED BY 'hunter2secret'")
        syntax = harness.wait_until(
            lambda: [r for r in errors_of(adm) if r["errno"] == 1064], 5,
            "the syntax error to be counted")[0]
        assert "hunter2secret" not in syntax["last_error"]
        # The reset table shows the counts and starts them again.
        reset = errors_of(adm, "stats_mysql_errors_reset")
        assert {r["errno"] for r in reset} >= {1062, 1064}
        assert [r for r in errors_of(adm) if r["errno"] in (1062, 1064)] == []
        with pytest.raises(pymysql.err.IntegrityError):
            q(conn, "INSERT INTO %s VALUES (1)" % table)
        again = harness.wait_until(
            lambda: [r for r in errors_of(adm) if r["errno"] == 1062], 5,
            "the error after the reset to be counted")[0]
        assert again["count_star"] == 1
        q(conn, "DROP TABLE %s" % table)


def test_errors_count_failed_backend_connects(sluice):
    """A server that refuses connections: each failed connect shows with the server,
    the hostgroup, and the user and schema it was opened for."""
    dead = harness.free_ports(1, (24500, 24999))[0]
    extra = ("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
             "VALUES (30, '127.0.0.1', %d, 5);\n"
             "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, "
             "destination_hostgroup, apply) VALUES (30, 1, '^SELECT ''dead''', 30, 1);\n" % dead)
    target = sluice(extra_sql=extra)
    with closing_all(admin(target)) as adm, closing_all(connect(target)) as conn:
        with pytest.raises(pymysql.err.MySQLError):
            q(conn, "SELECT 'dead'")
        row = harness.wait_until(
            lambda: [r for r in errors_of(adm) if r["port"] == dead], 5,
            "the failed connect to be counted")[0]
        assert row["hostgroup"] == 30
        assert row["hostname"] == "127.0.0.1"
        assert row["errno"] in (2002, 2003)  # the client library's "can't connect"
        assert row["username"] == target.fleet.app_user
        assert row["schemaname"] == "app"
        assert row["client_address"] == "127.0.0.1"
        assert row["count_star"] >= 1
        assert row["last_error"]


def test_free_connections_list_the_idle_pool(sluice):
    target = sluice(threads=2)
    with closing_all(admin(target)) as adm, closing_all(connect(target)) as conn:
        assert q1(conn, "SELECT 1") == 1
        # The connection goes back to the pool after the statement; a worker's snapshot
        # of its idle list follows at its next 100 ms tick.
        free = harness.wait_until(
            lambda: [r for r in rows(adm, "SELECT * FROM stats_mysql_free_connections")
                     if r["user"] == target.fleet.app_user], 5,
            "the idle connection to show")
        row = free[0]
        assert row["hostgroup"] == 0
        assert row["srv_host"] == target.fleet.host
        assert row["srv_port"] == target.fleet.primary_port
        assert row["fd"] > 0
        assert row["idle_ms"] >= 0
        assert row["schema"] is None and row["mysql_info"] is None
        # A connection lent to a session is not free: a transaction pins it.
        q(conn, "BEGIN")
        q(conn, "SELECT 1")
        harness.wait_until(
            lambda: q1(adm, "SELECT COUNT(*) FROM stats_mysql_free_connections "
                            "WHERE fd = %d" % row["fd"]) in (0, "0"), 5,
            "the pinned connection to leave the free list")
        q(conn, "COMMIT")


def test_prepared_statements_info_counts_clients_and_backends(sluice):
    """A statement a client prepares shows once per text, held by that client and by the
    backend connection it was prepared on; after the client leaves only the backend holds it."""
    import mysqlwire
    target = sluice()
    text = "SELECT ? + 1 AS %s, ?" % unique("c")
    with closing_all(admin(target)) as adm:
        c = mysqlwire.Client(target.host, target.port)
        try:
            _, ok = c.login(target.fleet.app_user, target.fleet.app_password, db="app")
            assert ok[:1] == b"\x00", ok
            assert isinstance(c.prepare(text), int)

            def row():
                return rows(adm, "SELECT * FROM stats_mysql_prepared_statements_info "
                                 "WHERE query = %s", (text,))
            r = harness.wait_until(row, 5, "the prepared statement to show")[0]
            assert r["ref_count_client"] == 1
            assert r["ref_count_server"] == 1
            assert r["num_params"] == 2
            assert r["num_columns"] == 2
            assert r["hostgroup"] == 0
            assert r["username"] == target.fleet.app_user
            assert r["schemaname"] == "app"
            assert r["digest"].startswith("0x") and r["digest"] != "0x" + "0" * 16
        finally:
            c.close()
        r = harness.wait_until(lambda: [x for x in row() if x["ref_count_client"] == 0], 5,
                               "the closed client's statement to be uncounted")[0]
        assert r["ref_count_server"] == 1
