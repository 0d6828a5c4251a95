"""Query rules apply to server-side prepared statements as to text: with the read/write split
of configs/rw-split.sql a prepared read runs on a replica and a prepared write on the
primary, a prepared read inside a transaction stays on the transaction's backend, and an
error_msg rule refuses the statement at PREPARE. capi_client's "session" check drives one
C API connection step by step (PyMySQL has no server-side prepared statements)."""

import os
import subprocess

import pytest

import harness
from harness import q1, replica_servers, unique

pytestmark = pytest.mark.proxy_only

RW_SPLIT = os.path.join(harness.SOURCE_ROOT, "configs", "rw-split.sql")


@pytest.fixture(scope="module")
def capi_client(tmp_path_factory):
    return harness.capi_client_path(str(tmp_path_factory.mktemp("capi")))


@pytest.fixture
def rw(sluice, fleet):
    harness.require(fleet.replica_ports,
                    "the fleet has no replicas (SLUICE_TEST_REPLICAS=0)")
    with open(RW_SPLIT) as f:
        rules = f.read()

    def start(extra=""):
        return sluice(cap=10, extra_sql=replica_servers(fleet) + rules + "\n" + extra)
    return start


def session(capi_client, target, *steps):
    """Runs steps on one C API connection; returns their results in order."""
    f = target.fleet
    cmd = [capi_client, target.host, str(target.port), f.app_user, f.app_password, "app",
           f.app2_user, f.app2_password, "session"] + list(steps)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                       universal_newlines=True)
    assert r.returncode == 0 and "ok session\n" in r.stdout, r.stdout
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("r") and ": " in line:
            n, _, result = line.partition(": ")
            out[int(n[1:])] = result
    assert len(out) == len(steps), r.stdout
    return [out[i + 1] for i in range(len(steps))]


def ports(results):
    return [int(r) for r in results]


def test_prepared_read_runs_on_a_replica_like_text(rw, fleet, capi_client):
    target = rw()
    res = session(capi_client, target,
                  "q:SELECT @@port",
                  "prep:p=SELECT @@port",
                  "exec:p", "exec:p", "exec:p", "exec:p")
    assert int(res[0]) in fleet.replica_ports, res
    assert res[1] == "prepared"
    assert set(ports(res[2:6])) <= set(fleet.replica_ports), res


def test_prepared_write_and_locking_read_run_on_the_primary(rw, fleet, capi_client):
    target = rw()
    t = unique("psw")
    res = session(capi_client, target,
                  "q:CREATE TABLE %s (id INT PRIMARY KEY, port INT)" % t,
                  "prep:ins=INSERT INTO %s VALUES (1, @@port)" % t,
                  "exec:ins",
                  "prep:lock=SELECT @@port FROM DUAL FOR UPDATE",
                  "exec:lock")
    # A write on a replica fails with 1290 (read_only); the row says where it ran.
    assert res[1] == "prepared" and res[2] == "OK 1", res
    assert int(res[4]) == fleet.primary_port, res
    root = fleet.root(db="app")
    try:
        assert q1(root, "SELECT port FROM %s WHERE id = 1" % t) == fleet.primary_port
        root.cursor().execute("DROP TABLE %s" % t)
    finally:
        root.close()


def test_prepared_read_in_a_transaction_stays_on_its_backend(rw, fleet, capi_client):
    target = rw()
    res = session(capi_client, target,
                  "prep:before=SELECT @@port",   # prepared outside: on a replica
                  "exec:before",
                  "q:BEGIN",
                  "exec:before",                 # the transaction's backend (primary)
                  "prep:inside=SELECT @@port",   # prepared inside the transaction
                  "exec:inside",
                  "q:COMMIT",
                  "exec:inside",                 # after it: a replica again (re-prepared)
                  "exec:before")
    assert int(res[1]) in fleet.replica_ports, res
    assert res[2] == "OK 0"
    assert int(res[3]) == fleet.primary_port, res
    assert int(res[5]) == fleet.primary_port, res
    assert int(res[7]) in fleet.replica_ports, res
    assert int(res[8]) in fleet.replica_ports, res


FIREWALL = ("INSERT INTO mysql_query_rules (rule_id, active, match_pattern, error_msg, apply) "
            "VALUES (1, 1, 'secret_col', 'secret_col is not for you', 1);\n")


def test_error_msg_rule_blocks_text_and_prepared_statement(rw, capi_client):
    target = rw(FIREWALL)
    res = session(capi_client, target,
                  "q:SELECT 'secret_col' AS secret_col",
                  "prep:s=SELECT 'secret_col' AS secret_col",
                  "prep:ok=SELECT 'fine' AS x",
                  "exec:ok")
    assert res[0] == "ERR 1148 42000 secret_col is not for you", res
    assert res[1] == "ERR 1148 42000 secret_col is not for you", res
    assert res[2] == "prepared" and res[3] == "fine", res


def test_rules_changed_after_prepare_apply_at_execute(rw, fleet, capi_client):
    """The rules run again at each execute: a rule loaded after the PREPARE applies."""
    target = rw()
    admin = harness.connect(target, user="admin", password="admin", db=None,
                            port=target.admin_port)
    f = target.fleet
    cmd = [capi_client, target.host, str(target.port), f.app_user, f.app_password, "app",
           f.app2_user, f.app2_password, "session", "prep:p=SELECT @@port", "exec:p",
           "q:SELECT SLEEP(2)", "exec:p"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    try:
        # The first execute has run (capi_client's output is line-buffered): load the rule
        # while the session sleeps.
        first = [proc.stdout.readline(), proc.stdout.readline()]
        assert first[0] == "r1: prepared\n", first
        assert int(first[1].split(": ")[1]) in fleet.replica_ports, first
        with admin.cursor() as cur:
            cur.execute(FIREWALL.replace("secret_col", "@@port"))
            cur.execute("LOAD MYSQL QUERY RULES TO RUNTIME")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        admin.close()
    assert "ok session" in out, out
    assert "r4: ERR 1148 42000 @@port is not for you" in out, out


def test_prepared_statements_count_in_rule_hits_and_digests(rw, capi_client):
    target = rw()
    session(capi_client, target, "prep:p=SELECT @@port", "exec:p", "exec:p", "exec:p")
    admin = harness.connect(target, user="admin", password="admin", db=None,
                            port=target.admin_port)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT hits FROM stats_mysql_query_rules WHERE rule_id = 300")
            hits = int(cur.fetchone()[0])
            cur.execute("SELECT hostgroup, count_star FROM stats_mysql_query_digest "
                        "WHERE digest_text = 'SELECT @@port'")
            rows = cur.fetchall()
    finally:
        admin.close()
    # The PREPARE and each of the three executes went through the rules.
    assert hits == 4, hits
    assert [(int(h), int(c)) for h, c in rows] == [(1, 3)], rows
