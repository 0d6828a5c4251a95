"""What a libmysqlclient (MariaDB Connector/C) application sees through Sluice: the text
protocol and prepared statements (capi_client.c does the work; one check per test)."""

import os
import subprocess

import pytest

import harness


@pytest.fixture(scope="module")
def capi_client(tmp_path_factory):
    return harness.capi_client_path(str(tmp_path_factory.mktemp("capi")))


def run_capi(capi_client, target, *checks, db="app", timeout=180):
    f = target.fleet
    cmd = [capi_client, target.host, str(target.port), f.app_user, f.app_password, db,
           f.app2_user, f.app2_password] + list(checks)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, universal_newlines=True)
    except subprocess.TimeoutExpired as e:
        pytest.fail("capi_client %s did not finish within %ds; output so far:\n%s"
                    % (" ".join(checks), timeout, e.output))
    assert r.returncode == 0, "capi_client %s exited %d:\n%s" % (" ".join(checks),
                                                                 r.returncode, r.stdout)
    for c in checks:
        assert "ok %s\n" % c in r.stdout, r.stdout
    return r.stdout


CHECKS = [
    # (check, what it proves)
    ("bad_password", "wrong password: error 1045 with SQLSTATE 28000"),
    ("text_query", "text protocol: rows, NULLs, binary strings, affected rows, insert id, "
                   "a streamed 50,000-row result, error 1146 and recovery"),
    ("stmt_types", "prepared INSERT/SELECT with INT, VARCHAR, DOUBLE, DATETIME, BLOB and NULL "
                   "parameters and results"),
    ("stmt_many", "one prepared INSERT and one SELECT each executed 1,000 times, then closed"),
    ("stmt_errors", "prepare errors 1146/1064 and execute error 1062 pass through"),
    ("long_data", "mysql_stmt_send_long_data in chunks, twice"),
    ("stmt_reset", "mysql_stmt_reset discards long data and an unfinished result"),
    ("cursor", "read-only cursor, prefetch 10, over 1,000 rows with other statements "
               "between fetches"),
    ("change_user", "COM_CHANGE_USER to app2 (CURRENT_USER, variables reset) and back"),
    ("reset_connection", "COM_RESET_CONNECTION clears variables, temporary tables, "
                         "sql_mode and the open transaction"),
    ("charset_latin1", "a latin1 handshake gives latin1 character sets (no SET NAMES sent), "
                       "stores e acute as E9, survives COM_CHANGE_USER and comes back after "
                       "SET NAMES and COM_RESET_CONNECTION"),
    ("ping", "mysql_ping"),
    ("multi_statement", "MULTI_STATEMENTS_ON/OFF via COM_SET_OPTION, several result sets, "
                        "an error in the middle"),
    ("local_infile", "LOAD DATA LOCAL INFILE of 1,000 lines"),
]


@pytest.mark.parametrize("check", [c for c, _ in CHECKS])
def test_capi(capi_client, target, check):
    run_capi(capi_client, target, check)


def test_capi_statement_cache_is_bounded_and_first_statement_reprepared(capi_client, sluice,
                                                                       fleet):
    """300 different statements through one backend connection: the first is still usable
    (re-prepared where needed) and the server does not accumulate 300 statements."""
    target = sluice(cap=1)
    before = fleet.global_status("Prepared_stmt_count")
    run_capi(capi_client, target, "stmt_reprepare")
    after = fleet.global_status("Prepared_stmt_count")
    # Direct: every closed statement is gone. Through Sluice: at most the per-connection
    # cache bound (50 by default) stays prepared on the single backend connection.
    limit = 0 if target.direct else 60
    assert after - before <= limit, \
        "Prepared_stmt_count grew from %d to %d" % (before, after)


def test_capi_all_checks_in_one_process_with_two_backends(capi_client, sluice):
    """Every check again, one after another in one process, over a pool of two backend
    connections and two worker threads."""
    target = sluice(cap=2, threads=2)
    out = run_capi(capi_client, target, *[c for c, _ in CHECKS])
    assert out.count("ok ") == len(CHECKS)
