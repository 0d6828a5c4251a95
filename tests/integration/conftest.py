"""Fixtures for Sluice's integration tests.

Environment:
  SLUICE_BIN          the sluice executable (default: SOURCE_ROOT/build/sluice)
  SLUICE_CAPI_CLIENT  the built capi_client (default: compiled on the fly with cc)
  SLUICE_SOURCE_ROOT  the repository (default: two levels up from here)
  SLUICE_FLEET_ENV    use the running fleet this fleet.env describes instead of starting one
  SLUICE_TEST_DIRECT  1: connect straight to the primary instead of through Sluice (checks
                      the tests themselves against a real server; proxy-only tests skip)
  SLUICE_KEEP_LOGS    1: keep each Sluice's work directory (config, stderr) after the test

  CI                  true: a missing part (MariaDB, a replica, sysbench, promtool, the
                      mariadb client, the sluice binary) fails the tests that need it
                      instead of skipping them (harness.require)

Without MariaDB installed (and no SLUICE_FLEET_ENV) every test is skipped and pytest exits
77, which meson reports as a skipped test; with CI=true every test fails instead.
"""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

NO_MARIADB_REASON = "mariadbd is not installed (Debian package mariadb-server)"
_no_mariadb = False


def pytest_configure(config):
    global _no_mariadb
    config.addinivalue_line("markers",
                            "proxy_only: meaningful only through Sluice, skipped in direct mode")
    _no_mariadb = (not os.environ.get("SLUICE_FLEET_ENV")) and harness.mariadbd_path() is None


def pytest_collection_modifyitems(config, items):
    for item in items:
        # Direct mode is a choice, not a missing part: proxy-only tests skip even under CI.
        if not _no_mariadb and harness.DIRECT and item.get_closest_marker("proxy_only"):
            item.add_marker(pytest.mark.skip(reason="only meaningful through Sluice"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before any fixture: skip (or, under CI, fail) every test when MariaDB is missing.
    harness.require(not _no_mariadb, NO_MARIADB_REASON)


def pytest_sessionfinish(session, exitstatus):
    if _no_mariadb and not harness.CI and session.testsfailed == 0:
        session.exitstatus = 77


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    env_path = os.environ.get("SLUICE_FLEET_ENV")
    started = None
    if not env_path:
        workdir = str(tmp_path_factory.mktemp("fleet"))
        env_path = harness.start_fleet(workdir,
                                       replicas=int(os.environ.get("SLUICE_TEST_REPLICAS",
                                                                   "2")))
        started = env_path
    try:
        f = harness.Fleet(env_path)
        # The 20 MiB BLOB and LOAD DATA LOCAL tests need these (fleet.sh sets the first in
        # my.cnf; set both here so an externally started fleet works too). Sessions opened
        # after this see the new values.
        conn = f.root()
        try:
            harness.q(conn, "SET GLOBAL max_allowed_packet = 67108864")
            harness.q(conn, "SET GLOBAL local_infile = ON")
        finally:
            conn.close()
        yield f
    finally:
        if started:
            harness.stop_fleet(started)


def _sluice_binary():
    b = os.environ.get("SLUICE_BIN")
    if b:
        if not os.access(b, os.X_OK):
            pytest.fail("SLUICE_BIN=%s is not an executable" % b)
        return b
    b = os.path.join(harness.SOURCE_ROOT, "build", "sluice")
    harness.require(os.access(b, os.X_OK),
                    "no sluice binary: set SLUICE_BIN or build into %s "
                    "(or run with SLUICE_TEST_DIRECT=1)" % b)
    return b


@pytest.fixture
def sluice(fleet, request, tmp_path):
    """Factory: sluice(cap=10, threads=2, extra_sql='') starts a Sluice in front of the
    fleet's primary (hostgroup 0, users app and app2) and returns a harness.Target. In direct
    mode it returns the primary itself. Teardown stops every instance with SIGTERM and fails
    the test on a non-zero exit or sanitizer output."""
    targets = []

    def start(cap=10, threads=2, extra_sql=""):
        if harness.DIRECT:
            return harness.Target(fleet.host, fleet.primary_port, direct=True, cap=cap,
                                  fleet=fleet)
        binary = _sluice_binary()
        workdir = str(tmp_path / ("sluice%d" % len(targets)))
        t = harness.start_sluice(binary, fleet, workdir, cap=cap, threads=threads,
                                 extra_sql=extra_sql)
        targets.append(t)
        return t

    yield start

    problems = []
    for t in targets:
        t.stop()
        problems.extend("%s: %s" % (t, p) for p in t.problems)
    test_failed = getattr(request.node, "rep_call", None) is not None and \
        request.node.rep_call.failed
    if problems or test_failed:
        for t in targets:
            print("\n==== stderr tail of %r (%s) ====\n%s" % (t, t.stderr_path,
                                                           t.stderr_tail(80)))
    if not os.environ.get("SLUICE_KEEP_LOGS") and not problems and not test_failed:
        for t in targets:
            shutil.rmtree(t.workdir, ignore_errors=True)
    if problems:
        pytest.fail("sluice did not shut down cleanly:\n  " + "\n  ".join(problems))


@pytest.fixture
def target(sluice):
    """The default target: a Sluice with a cap of 10 on the primary."""
    return sluice()
