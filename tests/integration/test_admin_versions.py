"""Configuration versions, DIFF, ROLLBACK, rule tests and lint through the admin port
(PyMySQL and the mariadb client), with live traffic moving as rules are loaded and rolled
back."""

import subprocess

import pymysql
import pytest

import harness
from harness import admin, connect, error_code, q, q1, replica_servers

pytestmark = pytest.mark.proxy_only


def run(conn, sql):
    """Rows and warning count of one statement."""
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall(), cur._result.warning_count


def versions(a):
    return [(int(r[0]), r[3], int(r[4]))
            for r in q(a, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES")]


def test_versions_diff_rollback_rule_tests_and_lint(sluice, fleet):
    harness.require(fleet.replica_ports, "the fleet has no replicas")
    target = sluice(extra_sql=replica_servers(fleet))
    app = connect(target)
    a = admin(target)
    assert q1(app, "SELECT @@port") == fleet.primary_port
    (v0, _, _), = versions(a)  # the start-up load

    # LOAD twice: two versions with the same checksum; reads move to a replica.
    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
         "destination_hostgroup, apply) VALUES (10, 1, '^SELECT', 1, 1)")
    q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    vs = versions(a)
    assert len(vs) == 3 and vs[1][1] == vs[2][1] != vs[0][1] and vs[1][2] == 1, vs
    assert q1(app, "SELECT @@port") in fleet.replica_ports

    # DIFF: MEMORY against RUNTIME, column by column; DIFF against a version.
    q(a, "UPDATE mysql_query_rules SET comment = 'reads' WHERE rule_id = 10")
    rows = q(a, "DIFF MYSQL QUERY RULES")
    assert [tuple(r) for r in rows] == [
        ("changed", "mysql_query_rules", "rule_id=10", "comment", "reads", None)], rows
    rows = q(a, "DIFF MYSQL QUERY RULES VERSION %d RUNTIME" % v0)
    assert [(r[0], r[2]) for r in rows] == [("layer_b_only", "rule_id=10")], rows

    # ROLLBACK to the start-up version: reads go back to the primary, same session.
    q(a, "ROLLBACK MYSQL QUERY RULES TO VERSION %d" % v0)
    assert q1(app, "SELECT @@port") == fleet.primary_port
    assert q1(a, "SELECT COUNT(*) FROM mysql_query_rules") in (0, "0")
    assert len(versions(a)) == 4
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(a, "ROLLBACK MYSQL QUERY RULES TO VERSION 9999")
    assert error_code(exc.value) == 1105 and "no version 9999" in str(exc.value)

    # A rule test that the new rules break refuses the LOAD; FORCE loads it.
    q(a, "INSERT INTO mysql_query_rules_tests (test_id, username, query, expected_hostgroup) "
         "VALUES (1, '%s', 'SELECT @@port', 0)" % fleet.app_user)
    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
         "destination_hostgroup, apply) VALUES (10, 1, '^SELECT', 1, 1)")
    with pytest.raises(pymysql.err.MySQLError) as exc:
        q(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    assert error_code(exc.value) == 1105
    assert "test 1 (SELECT @@port): expected hostgroup 0, got 1" in str(exc.value)
    assert q1(app, "SELECT @@port") == fleet.primary_port
    rows = q(a, "SHOW WARNINGS")
    assert len(rows) == 1 and rows[0][0] == "Warning" and "rule test 1 failed" in rows[0][2]
    _, warnings = run(a, "LOAD MYSQL QUERY RULES TO RUNTIME FORCE")
    assert warnings == 1
    assert q1(app, "SELECT @@port") in fleet.replica_ports

    # Lint: a rule to a hostgroup without servers loads, with a warning, as the mariadb
    # client shows it.
    q(a, "DELETE FROM mysql_query_rules_tests")
    q(a, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, "
         "destination_hostgroup, apply) VALUES (20, 1, '^UPDATE', 42, 1)")
    _, warnings = run(a, "LOAD MYSQL QUERY RULES TO RUNTIME")
    assert warnings == 1
    rows = q(a, "SHOW WARNINGS")
    assert [(r[0], int(r[1])) for r in rows] == [("Warning", 1105)], rows
    assert "rule 20: destination_hostgroup 42 has no server" in rows[0][2]
    base = ["mariadb", "-h", target.host, "-P", str(target.admin_port), "-uadmin", "-padmin",
            "--skip-ssl"]
    r = subprocess.run(base + ["-e", "LOAD MYSQL QUERY RULES TO RUNTIME; SHOW WARNINGS"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    assert r.returncode == 0, r.stdout
    assert "rule 20: destination_hostgroup 42 has no server" in r.stdout, r.stdout
    r = subprocess.run(base + ["-N", "-B", "-e", "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 7, r.stdout
    app.close()
    a.close()
