"""Routing by mysql_query_rules against the real fleet: reads on replicas, writes on the
primary, transactions stay put, rewrites and firewall rules act. Through Sluice only."""

import os
import subprocess
import tempfile

import pymysql
import pytest

import harness
from harness import connect, error_code, q, q1, replica_servers, unique

pytestmark = pytest.mark.proxy_only

RW_RULES = """
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply)
  VALUES (10, 1, '^SELECT .* FOR UPDATE', 0, 1);
INSERT INTO mysql_query_rules (rule_id, active, match_pattern, destination_hostgroup, apply)
  VALUES (20, 1, '^SELECT', 1, 1);
"""


@pytest.fixture
def rw(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas (SLUICE_TEST_REPLICAS=0)")

    def start(extra=""):
        return sluice(cap=10, extra_sql=replica_servers(fleet) + RW_RULES + extra)
    return start


def test_reads_go_to_replicas_and_writes_to_the_primary(rw, fleet):
    target = rw()
    t = unique("rw")
    conn = connect(target)
    q(conn, "CREATE TABLE %s (id INT PRIMARY KEY, v INT)" % t)
    ports = set()
    for i in range(20):
        ports.add(q1(conn, "SELECT @@port"))
    assert ports <= set(fleet.replica_ports), ports
    # A write that went to a replica would fail with 1290 (read_only).
    for i in range(10):
        q(conn, "INSERT INTO %s VALUES (%d, %d)" % (t, i, i * i))
    root = fleet.root(db="app")
    assert q1(root, "SELECT COUNT(*) FROM %s" % t) == 10
    root.close()
    conn.close()


def test_locking_read_and_transaction_stay_on_the_primary(rw, fleet):
    target = rw()
    conn = connect(target)
    assert q1(conn, "SELECT @@port FROM DUAL FOR UPDATE") == fleet.primary_port
    q(conn, "BEGIN")
    # Inside the transaction a plain read matches the replica rule but must stay.
    for _ in range(5):
        assert q1(conn, "SELECT @@port") == fleet.primary_port
    q(conn, "COMMIT")
    assert q1(conn, "SELECT @@port") in fleet.replica_ports
    conn.close()


def test_rewrite_rule_changes_the_statement(rw):
    target = rw(
        "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, replace_pattern, "
        "apply) VALUES (5, 1, 'SELECT 1 AS answer', 'SELECT 42 AS answer', 0);\n")
    conn = connect(target)
    assert q1(conn, "SELECT 1 AS answer") == 42
    assert q1(conn, "SELECT 2 AS answer") == 2
    conn.close()


def test_firewall_rule_rejects_and_ok_rule_answers(rw):
    target = rw(
        "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, error_msg, apply) "
        "VALUES (1, 1, '^DROP TABLE', 'Dropping tables is not allowed here', 1);\n"
        "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, OK_msg, apply) "
        "VALUES (2, 1, '^SET sluice_noop', 'ignored', 1);\n")
    conn = connect(target)
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(conn, "DROP TABLE IF EXISTS anything")
    assert error_code(exc.value) == 1148
    assert "not allowed" in str(exc.value)
    q(conn, "SET sluice_noop = 1")  # would be error 1193 on a server
    assert q1(conn, "SELECT 7") == 7
    conn.close()


def test_bad_regex_is_refused_at_start_with_the_rule_named(fleet):
    binary = os.environ.get("SLUICE_BIN") or os.path.join(
        harness.SOURCE_ROOT, "build", "sluice")
    with tempfile.TemporaryDirectory(prefix="sluice-badre-") as d:
        port, aport = harness.free_ports(2, harness.SLUICE_PORT_RANGE)
        cfg = os.path.join(d, "config.sql")
        with open(cfg, "w") as f:
            f.write(harness.sluice_config(fleet, port, aport, 5, 1,
                                          "INSERT INTO mysql_query_rules (rule_id, active, "
                                          "match_pattern, destination_hostgroup) VALUES "
                                          "(77, 1, 'SELECT (unclosed', 0);"))
        r = subprocess.run([binary, "--datadir", os.path.join(d, "data"), "--config", cfg,
                            "--foreground"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                           universal_newlines=True)
    assert r.returncode != 0
    assert "77" in r.stdout and "match_pattern" in r.stdout, r.stdout


def test_hostgroup_hint_in_leading_comment_when_enabled(rw, fleet):
    # The digest drops comments, so this rule sends the hinted statement to the readers.
    by_digest = ("INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
                 "destination_hostgroup, apply) VALUES (5, 1, '^SELECT @@port', 1, 1);\n")
    on = rw(by_digest +
            "INSERT OR REPLACE INTO global_variables VALUES ('mysql-hostgroup_hints', 'true');\n")
    conn = connect(on)
    assert q1(conn, "/* hostgroup=0 */ SELECT @@port") == fleet.primary_port
    assert q1(conn, "SELECT @@port") in fleet.replica_ports
    conn.close()
    off = rw(by_digest)
    conn = connect(off)
    assert q1(conn, "/* hostgroup=0 */ SELECT @@port") in fleet.replica_ports
    conn.close()
