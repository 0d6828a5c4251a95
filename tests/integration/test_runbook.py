"""A ProxySQL operator's runbook, as written in ProxySQL's documentation, run against Sluice's
admin port: SET on global variables, the layer moves in both directions with their aliases, the
stats and monitor schema names, SHOW MYSQL STATUS|VARIABLES, and PROXYSQL PAUSE, RESUME, FLUSH
QUERY CACHE and FLUSH LOGS. Every statement is checked for its effect, not only for "no
error"; where Sluice deliberately differs (LOAD ... FROM CONFIG) the error must say so."""

import pymysql
import pytest

import harness
from harness import connect, error_code, q, q1, unique, wait_until

pytestmark = pytest.mark.proxy_only


class Runbook:
    """The admin connection, counting the runbook's statements."""

    def __init__(self, target):
        self.conn = harness.admin(target)
        self.count = 0

    def run(self, sql):
        self.count += 1
        return q(self.conn, sql)

    def one(self, sql):
        rows = self.run(sql)
        assert len(rows) == 1 and len(rows[0]) == 1, (sql, rows)
        return rows[0][0]

    def fails(self, sql, code):
        self.count += 1
        with pytest.raises(pymysql.err.MySQLError) as exc:
            q(self.conn, sql)
        assert error_code(exc.value) == code, (sql, exc.value)
        return str(exc.value)

    def var(self, name, layer=""):
        # Checking reads are not runbook statements.
        return q1(self.conn, "SELECT variable_value FROM %sglobal_variables "
                             "WHERE variable_name = '%s'" % (layer, name))


def test_proxysql_runbook(sluice, fleet):
    target = sluice(threads=1)
    rb = Runbook(target)

    # Variables: SET changes MEMORY, LOAD ... TO RUNTIME applies it.
    rb.run("SET mysql-max_stmts_per_connection=33")
    assert rb.var("mysql-max_stmts_per_connection") == "33"
    assert rb.var("mysql-max_stmts_per_connection", "runtime_") == "50"
    rb.run("LOAD MYSQL VARIABLES TO RUNTIME")
    assert rb.var("mysql-max_stmts_per_connection", "runtime_") == "33"
    rb.run("SET mysql-max_connections=5000")
    assert rb.var("mysql-max_connections") == "5000"
    rb.run("SET mysql-default_charset='utf8'")
    assert rb.var("mysql-default_charset") == "utf8"
    rb.run("SET mysql-monitor_ping_interval = 2000")
    assert rb.var("mysql-monitor_ping_interval") == "2000"
    rb.run("LOAD MYSQL VARIABLES FROM MEMORY")
    assert rb.var("mysql-max_connections", "runtime_") == "5000"
    assert rb.var("mysql-default_charset", "runtime_") == "utf8"
    msg = rb.fails("SET mysql-max_conections=1", 1193)
    assert "mysql-max_connections" in msg
    msg = rb.fails("SET monitor-ping_interval=2000", 1193)
    assert "mysql-monitor_ping_interval" in msg
    msg = rb.fails("SET mysql-max_connections=0", 1105)
    assert "not an integer" in msg
    assert rb.var("mysql-max_connections") == "5000"
    # What client libraries send stays harmless.
    before = q(rb.conn, "SELECT * FROM global_variables ORDER BY variable_name")
    rb.run("SET NAMES utf8mb4")
    rb.run("SET autocommit=1")
    rb.run("SET SESSION sql_mode='TRADITIONAL'")
    assert q(rb.conn, "SELECT * FROM global_variables ORDER BY variable_name") == before

    # Both directions between MEMORY, DISK and RUNTIME, with RUN/MEM aliases.
    rb.run("SAVE MYSQL VARIABLES TO DISK")
    assert rb.var("mysql-max_stmts_per_connection", "disk.") == "33"
    rb.run("SET mysql-max_stmts_per_connection=44")
    rb.run("LOAD MYSQL VARIABLES FROM DISK")
    assert rb.var("mysql-max_stmts_per_connection") == "33"
    rb.run("SET mysql-max_stmts_per_connection=45")
    rb.run("LOAD MYSQL VARIABLES TO MEM")
    assert rb.var("mysql-max_stmts_per_connection") == "33"
    rb.run("SET mysql-max_stmts_per_connection=46")
    rb.run("SAVE MYSQL VARIABLES FROM RUNTIME")
    assert rb.var("mysql-max_stmts_per_connection") == "33"
    port = rb.var("admin-restapi_port")
    rb.run("SET admin-restapi_port=%d" % (int(port) + 1))
    assert rb.var("admin-restapi_port") == str(int(port) + 1)
    rb.run("LOAD ADMIN VARIABLES FROM DISK")
    assert rb.var("admin-restapi_port") == port

    replica = fleet.replica_ports[0] if fleet.replica_ports else fleet.primary_port
    rb.run("INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (1, '%s', %d)"
           % (fleet.host, replica))
    rb.run("LOAD MYSQL SERVERS TO RUN")
    assert q1(rb.conn, "SELECT COUNT(*) FROM runtime_mysql_servers WHERE hostgroup_id = 1") \
        == "1"
    rb.run("SAVE MYSQL SERVERS TO DISK")
    assert q1(rb.conn, "SELECT COUNT(*) FROM disk.mysql_servers WHERE hostgroup_id = 1") == "1"
    rb.run("DELETE FROM mysql_servers WHERE hostgroup_id = 1")
    rb.run("SAVE MYSQL SERVERS TO MEM")
    assert q1(rb.conn, "SELECT COUNT(*) FROM mysql_servers WHERE hostgroup_id = 1") == "1"

    rb.run("UPDATE mysql_users SET max_connections = 7 WHERE username = '%s'" % fleet.app_user)
    rb.run("LOAD MYSQL USERS TO RUNTIME")
    rb.run("SAVE MYSQL USERS TO DISK")
    assert q1(rb.conn, "SELECT max_connections FROM disk.mysql_users WHERE username = '%s'"
              % fleet.app_user) == "7"
    rb.run("LOAD MYSQL USERS FROM DISK")
    assert q1(rb.conn, "SELECT max_connections FROM mysql_users WHERE username = '%s'"
              % fleet.app_user) == "7"

    # A cached statement, for the stats and FLUSH QUERY CACHE.
    rb.run("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, cache_ttl, apply) "
           "VALUES (10, 1, '^SELECT 42', 60000, 1)")
    rb.run("LOAD MYSQL QUERY RULES FROM MEMORY")
    assert q1(rb.conn, "SELECT cache_ttl FROM runtime_mysql_query_rules WHERE rule_id = 10") \
        == "60000"
    rb.run("SAVE MYSQL QUERY RULES TO DISK")
    assert q1(rb.conn, "SELECT COUNT(*) FROM disk.mysql_query_rules WHERE rule_id = 10") == "1"
    apps = [connect(target), connect(target)]
    for _ in range(3):
        assert q1(apps[0], "SELECT 42 AS x") == 42

    # Stats, with ProxySQL's schema names.
    users = rb.run("SELECT username, frontend_connections, frontend_max_connections "
                   "FROM stats.stats_mysql_users ORDER BY username")
    assert (fleet.app_user, 2, 7) in [(u, int(c), int(m)) for u, c, m in users], users
    g = dict(rb.run("SELECT Variable_Name, Variable_Value FROM stats.stats_mysql_global"))
    assert int(g["Query_Cache_Entries"]) >= 1 and int(g["Query_Cache_count_GET_OK"]) >= 2, g
    assert int(g["Client_Connections_connected"]) >= 2
    status = dict(rb.run("SHOW MYSQL STATUS"))
    assert int(status["Questions"]) >= 3 and "ProxySQL_Uptime" in status
    variables = dict(rb.run("SHOW MYSQL VARIABLES"))
    assert variables["mysql-max_stmts_per_connection"] == "33"
    assert all(k.startswith("mysql-") for k in variables)
    rows = rb.run("SELECT hostgroup, digest_text, count_star FROM stats.stats_mysql_query_digest"
                  " WHERE digest_text LIKE 'SELECT ?%%'")
    assert sum(int(r[2]) for r in rows) >= 3, rows
    rows = rb.run("SELECT count_star FROM stats.stats_mysql_query_digest_reset "
                  "WHERE digest_text LIKE 'SELECT ?%%'")
    assert sum(int(r[0]) for r in rows) >= 3
    assert rb.one("SELECT COUNT(*) FROM stats.stats_mysql_query_digest "
                  "WHERE digest_text LIKE 'SELECT ?%%'") == "0"
    pool = rb.run("SELECT hostgroup, srv_host, srv_port, status, ConnUsed, ConnFree "
                  "FROM stats.stats_mysql_connection_pool WHERE hostgroup = 0")
    assert [(int(r[0]), r[1], int(r[2])) for r in pool] == \
        [(0, fleet.host, fleet.primary_port)], pool
    cmds = dict(rb.run("SELECT Command, Total_cnt FROM stats.stats_mysql_commands_counters"))
    assert int(cmds["SELECT"]) >= 3
    plist = rb.run("SELECT user FROM stats.stats_mysql_processlist")
    assert [r[0] for r in plist].count(fleet.app_user) == 2
    rb.run("SELECT * FROM monitor.mysql_server_ping_log ORDER BY time_start_us DESC LIMIT 5")
    cols = [r[1] for r in q(rb.conn, "PRAGMA table_info(mysql_server_connect_log)")]
    rb.run("SELECT %s FROM monitor.mysql_server_connect_log LIMIT 5" % ", ".join(cols))
    tables = [r[0] for r in rb.run("SHOW TABLES FROM stats")]
    for t in ("stats_mysql_users", "stats_mysql_global", "stats_mysql_query_digest"):
        assert t in tables
    assert "mysql_servers" not in tables
    assert sorted(r[0] for r in rb.run("SHOW TABLES FROM monitor")) == [
        "mysql_server_connect_log", "mysql_server_ping_log", "mysql_server_read_only_log",
        "mysql_server_replication_lag_log"]
    assert [r[0] for r in rb.run("SHOW DATABASES")] == ["main", "disk", "stats", "monitor"]
    assert "read-only" in rb.fails("DELETE FROM stats.stats_mysql_global", 1105)

    # PROXYSQL FLUSH QUERY CACHE empties every worker's cache.
    rb.run("PROXYSQL FLUSH QUERY CACHE")

    def cache_empty():
        g = dict(q(rb.conn, "SELECT Variable_Name, Variable_Value FROM stats_mysql_global"))
        return g["Query_Cache_Entries"] == "0" and g["Query_Cache_Memory_bytes"] == "0"
    wait_until(cache_empty, 5, "the query cache to be empty")
    rb.run("PROXYSQL FLUSH LOGS")
    wait_until(lambda: "PROXYSQL FLUSH LOGS" in target.stderr_tail(20), 5, "the log line")

    # Where Sluice differs, the error says so.
    assert "differs from ProxySQL" in rb.fails("LOAD MYSQL SERVERS FROM CONFIG", 1105)
    assert "not supported by Sluice" in rb.fails("PROXYSQL RESTART", 1064)

    for c in apps:
        c.close()
    assert rb.count >= 40, rb.count
    rb.conn.close()


def test_pause_and_resume(sluice, fleet):
    target = sluice(threads=2)
    adm = harness.admin(target)
    before = connect(target)
    q(adm, "PROXYSQL PAUSE")
    # A new client waits in the backlog: no greeting within its timeout.
    with pytest.raises(pymysql.err.OperationalError):
        connect(target, connect_timeout=1)
    # Sessions already connected go on.
    assert q1(before, "SELECT 1") == 1
    q(adm, "PROXYSQL RESUME")
    after = wait_until(lambda: _try_connect(target), 5, "a new client after RESUME")
    assert q1(after, "SELECT 2") == 2
    after.close()
    before.close()
    adm.close()


def _try_connect(target):
    try:
        return connect(target, connect_timeout=2)
    except pymysql.err.OperationalError:
        return None


def test_schema_names_do_not_touch_other_tables(sluice):
    target = sluice()
    adm = harness.admin(target)
    t = unique("stats")
    # An operator's own table called like a schema keeps working.
    q(adm, "CREATE TABLE %s (stats INT)" % t)
    q(adm, "INSERT INTO %s VALUES (1)" % t)
    assert q1(adm, "SELECT %s.stats FROM %s" % (t, t)) == "1"
    q(adm, "DROP TABLE %s" % t)
    adm.close()
