"""Read-your-writes on a fleet whose replica lags by design (MASTER_DELAY): with
mysql-causal_reads a session always reads its own writes; without it, stale reads happen.
Also the cross-connection form: SELECT @@last_gtid on one connection, /* min_gtid=... */ on
another. Through Sluice only; starts its own one-replica fleet."""

import os
import subprocess
import tempfile
import time

import pytest

import harness
from harness import connect, q, q1, unique

pytestmark = pytest.mark.proxy_only

ITERATIONS = 1000
ROUTE_READS = """
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply)
  VALUES (10, 1, '^SELECT', 1, 1);
"""


@pytest.fixture(scope="module")
def lagging_fleet():
    harness.require(harness.mariadbd_path() is not None, "mariadbd is not installed")
    d = tempfile.mkdtemp(prefix="sluice-lag-")
    port = harness.free_ports(2, (24500, 24999), consecutive=True)[0]
    fleet_sh = os.path.join(harness.SOURCE_ROOT, "tests", "fleet.sh")
    r = subprocess.run([fleet_sh, "start", d, "--base-port", str(port), "--replicas", "1",
                        "--replica-delay", "2"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=180)
    assert r.returncode == 0, r.stdout
    try:
        yield harness.Fleet(os.path.join(d, "fleet.env"))
    finally:
        subprocess.run([fleet_sh, "stop", d], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        subprocess.run(["rm", "-rf", d])


@pytest.fixture
def sluice_on(request, lagging_fleet, tmp_path):
    targets = []

    def make(causal):
        binary = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build",
                                                               "sluice")
        extra = ("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
                 "VALUES (1, '%s', %d, 10);\n" % (lagging_fleet.host,
                                                   lagging_fleet.replica_ports[0]))
        extra += ROUTE_READS
        extra += ("INSERT OR REPLACE INTO global_variables VALUES ('mysql-causal_reads', '%s'), "
                  "('mysql-causal_reads_timeout', '1');\n" % ("true" if causal else "false"))
        t = harness.start_sluice(binary, lagging_fleet, str(tmp_path / ("s%d" % len(targets))),
                                 cap=10, extra_sql=extra)
        targets.append(t)
        return t

    yield make
    for t in targets:
        t.stop()
        assert not t.problems, "%s\n%s" % (t.problems, t.stderr_tail())


def wait_for_table(fleet, table, timeout=20, rows=0):
    """The replica applies events MASTER_DELAY seconds late: wait until it has the table
    (and everything written before it), and at least `rows` rows in it."""
    import pymysql
    conn = pymysql.connect(host=fleet.host, port=fleet.replica_ports[0], user=fleet.root_user,
                           password=fleet.root_password, database="app", autocommit=True)
    try:
        harness.wait_until(lambda: q(conn, "SHOW TABLES LIKE '%s'" % table) and
                           q1(conn, "SELECT COUNT(*) FROM %s" % table) >= rows,
                           timeout, "the replica to get table %s" % table, interval=0.2)
    finally:
        conn.close()


def write_then_read(target, n):
    conn = connect(target)
    t = unique("causal")
    q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % t)
    wait_for_table(target.fleet, t)
    stale = 0
    replica_reads = 0
    for i in range(n):
        q(conn, "INSERT INTO %s VALUES (%d, %d)" % (t, i, i))
        if q1(conn, "SELECT COUNT(*) FROM %s WHERE id = %d" % (t, i)) != 1:
            stale += 1
        if i % 100 == 0 and q1(conn, "SELECT @@port") == target.fleet.replica_ports[0]:
            replica_reads += 1
    conn.close()
    return stale, replica_reads


def test_causal_reads_see_every_write_while_the_replica_lags(sluice_on):
    target = sluice_on(causal=True)
    stale, _ = write_then_read(target, ITERATIONS)
    print("causal reads on: %d stale reads of %d" % (stale, ITERATIONS))
    assert stale == 0


def test_without_causal_reads_stale_reads_happen(sluice_on):
    target = sluice_on(causal=False)
    stale, replica_reads = write_then_read(target, 50)
    print("causal reads off: %d stale reads of 50" % stale)
    assert replica_reads > 0  # reads did go to the replica
    assert stale > 0


def test_gtid_handed_to_another_connection(sluice_on):
    target = sluice_on(causal=False)
    writer = connect(target)
    t = unique("handoff")
    q(writer, "CREATE TABLE %s (id INT PRIMARY KEY)" % t)
    q(writer, "INSERT INTO %s VALUES (1)" % t)
    gtid = q1(writer, "SELECT @@last_gtid")
    assert gtid and gtid.count("-") == 2, gtid
    reader = connect(target)
    wait_for_table(target.fleet, t, rows=1)  # the replica has the first row, and lags again
    q(writer, "INSERT INTO %s VALUES (2)" % t)
    gtid = q1(writer, "SELECT @@last_gtid")
    # Without the hint the lagging replica answers and misses the new row...
    assert q1(reader, "SELECT COUNT(*) FROM %s" % t) == 1
    # ...with it the read sees the write.
    assert q1(reader, "/* min_gtid=%s */ SELECT COUNT(*) FROM %s" % (gtid, t)) == 2
    writer.close()
    reader.close()


def test_known_replica_position_skips_the_wait(sluice, fleet):
    """With the monitor reading the replica's GTID position, a causal read on a replica that
    already applied the session's write runs without MASTER_GTID_WAIT: each read is one
    SELECT on the replica, not two."""
    harness.require(fleet.replica_ports, "needs a replica")
    replica = fleet.replica_ports[0]
    extra = ("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
             "VALUES (1, '%s', %d, 10);\n" % (fleet.host, replica))
    extra += ROUTE_READS
    extra += ("INSERT OR REPLACE INTO global_variables VALUES ('mysql-causal_reads', 'true'), "
              "('mysql-causal_reads_timeout', '1000'), "
              "('mysql-monitor_username', '%s'), ('mysql-monitor_password', '%s'), "
              "('mysql-monitor_replication_lag_interval', '200');\n"
              % (fleet.env.get("FLEET_MONITOR_USER", "monitor"),
                 fleet.env.get("FLEET_MONITOR_PASSWORD", "monitorpass")))
    target = sluice(extra_sql=extra)
    c = connect(target)
    t = unique("pos")
    q(c, "CREATE TABLE %s (id INT PRIMARY KEY)" % t)
    q(c, "INSERT INTO %s VALUES (1)" % t)
    root = fleet.root()
    rconn = harness.pymysql.connect(host=fleet.host, port=replica, user=fleet.root_user,
                                    password=fleet.root_password, autocommit=True)
    # Replication applies the row; then a lag check that started after that (it reads the
    # GTID position too) tells Sluice the replica has it.
    pos = q1(root, "SELECT @@gtid_binlog_pos")
    assert q1(rconn, "SELECT MASTER_GTID_WAIT(%s, 20)", (pos,)) == 0, \
        "the replica did not apply the insert within 20 s"
    applied_us = int(time.time() * 1e6)
    adm = harness.admin(target)
    checked = ("SELECT COUNT(*) FROM mysql_server_replication_lag_log WHERE port = %d "
               "AND error IS NULL AND time_start_us > %d" % (replica, applied_us))
    harness.wait_until(lambda: int(q1(adm, checked)) > 0, 10,
                       "a lag check of the replica after the insert")
    adm.close()

    def com_select():
        return int(q(rconn, "SHOW GLOBAL STATUS LIKE 'Com_select'")[0][1])

    before = com_select()
    for _ in range(20):
        assert q1(c, "SELECT COUNT(*) FROM %s" % t) == 1
    after = com_select()
    # 20 reads, plus the monitor's own few position checks; 40+ if each read waited first.
    assert after - before < 30, after - before
    # And a fresh write is still never read stale: its position is not known yet, so the
    # read waits on the replica (or runs on the primary).
    q(c, "INSERT INTO %s VALUES (2)" % t)
    assert q1(c, "SELECT COUNT(*) FROM %s" % t) == 2
    q(root, "DROP TABLE app.%s" % t)
    rconn.close()
    root.close()
