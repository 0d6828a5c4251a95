"""The command line an operator expects of a daemon: --version, --help, --check-config,
one Sluice per datadir, --pidfile, SIGHUP reopening the log after logrotate moved it, and
exit statuses that tell a configuration error (2) from a runtime error (1)."""

import os
import signal
import subprocess

import pytest

import harness
from harness import connect, q1

pytestmark = pytest.mark.proxy_only


def binary():
    b = os.environ.get("SLUICE_BIN") or os.path.join(harness.SOURCE_ROOT, "build", "sluice")
    assert os.access(b, os.X_OK), "no sluice binary at %s" % b
    return b


def run(*args, timeout=30):
    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def fleet_config(fleet):
    """A valid script on free ports, and those ports (client, admin)."""
    port, admin_port = harness.free_ports(2, harness.SLUICE_PORT_RANGE)
    return harness.sluice_config(fleet, port, admin_port, 4, 1), port, admin_port


def test_version_names_the_build_and_the_libraries():
    r = run("--version")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("sluice "), out
    assert "buildtype=" in out, out
    for lib in ("libuv", "MariaDB Connector/C", "PCRE2", "SQLite"):
        assert lib in out, out


def test_help_lists_every_option():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for opt in ("--datadir", "--config", "--foreground", "--pidfile", "--check-config",
                "--version", "--help", "SIGHUP"):
        assert opt in r.stdout, (opt, r.stdout)
    bad = run("--no-such-option")
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_check_config(tmp_path, fleet):
    good, _, _ = fleet_config(fleet)
    r = run("--check-config", write(tmp_path / "good.sql", good))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(": OK")

    typo = good + "INSERT OR REPLACE INTO global_variables VALUES ('mysql-max_conections', '9');\n"
    r = run("--check-config", write(tmp_path / "typo.sql", typo))
    assert r.returncode == 1
    line = typo.count("\n")
    assert "line %d" % line in r.stderr, r.stderr
    assert "unknown variable 'mysql-max_conections'" in r.stderr, r.stderr
    assert "'mysql-max_connections'" in r.stderr, r.stderr

    r = run("--check-config", write(tmp_path / "syntax.sql", "SELECT 1;\nINSERT INTO;\n"))
    assert r.returncode == 1
    assert "line 2" in r.stderr and "syntax error" in r.stderr, r.stderr
    # Nothing of the temporary store is left behind, and no datadir was needed.
    assert not (tmp_path / "sluice.db").exists()


def test_config_error_exits_2_and_names_the_setting(tmp_path, fleet):
    good, _, _ = fleet_config(fleet)
    typo = write(tmp_path / "typo.sql",
                 good + "INSERT INTO global_variables VALUES ('mysql-threds', '2');\n")
    r = run("--datadir", str(tmp_path / "d1"), "--config", typo, "--foreground")
    assert r.returncode == 2, r.stderr
    assert "mysql-threds" in r.stderr and "'mysql-threads'" in r.stderr, r.stderr

    bad_iface = write(tmp_path / "iface.sql",
                      good + "UPDATE global_variables SET variable_value = 'nonsense'"
                             " WHERE variable_name = 'mysql-interfaces';\n")
    r = run("--datadir", str(tmp_path / "d2"), "--config", bad_iface, "--foreground")
    assert r.returncode == 2, r.stderr
    assert "mysql-interfaces" in r.stderr, r.stderr

    bad_admin = write(tmp_path / "admin.sql",
                      good + "UPDATE global_variables SET variable_value = '127.0.0.1'"
                             " WHERE variable_name = 'admin-mysql_ifaces';\n")
    r = run("--check-config", bad_admin)
    assert r.returncode == 1 and "admin-mysql_ifaces" in r.stderr, r.stderr
    r = run("--datadir", str(tmp_path / "d3"), "--config", bad_admin, "--foreground")
    assert r.returncode == 2, r.stderr
    assert "admin-mysql_ifaces" in r.stderr, r.stderr


def test_port_in_use_exits_1_and_names_the_setting(tmp_path, fleet):
    """A runtime error (the port is taken by the fleet's primary) is not a config error."""
    cfg, port, admin_port = fleet_config(fleet)
    cfg = cfg.replace("'127.0.0.1:%d'), ('admin" % port,
                      "'127.0.0.1:%d'), ('admin" % fleet.primary_port)
    r = run("--datadir", str(tmp_path / "d"), "--config", write(tmp_path / "c.sql", cfg),
            "--foreground")
    assert r.returncode == 1, r.stderr
    assert "mysql-interfaces" in r.stderr, r.stderr


def start_daemon(tmp_path, fleet, pidfile):
    cfg, port, admin_port = fleet_config(fleet)
    datadir = tmp_path / "data"
    r = run("--datadir", str(datadir), "--config", write(tmp_path / "c.sql", cfg),
            "--pidfile", str(pidfile))
    assert r.returncode == 0, r.stderr
    target = harness.Target(harness.HOST, port, direct=False, fleet=fleet)
    assert harness.wait_port(harness.HOST, port, 10), "the detached sluice never listened"
    return datadir, target, admin_port


def test_detached_pidfile_lock_and_sighup(tmp_path, fleet):
    pidfile = tmp_path / "sluice.pid"
    datadir, target, _ = start_daemon(tmp_path, fleet, pidfile)
    pid = int(pidfile.read_text().strip())
    try:
        assert os.path.exists("/proc/%d" % pid)
        conn = connect(target)
        assert q1(conn, "SELECT 1") == 1
        conn.close()

        # A second Sluice on the same datadir is refused and names the first.
        r = run("--datadir", str(datadir), "--foreground", timeout=15)
        assert r.returncode == 1, r.stderr
        assert "already runs" in r.stderr and str(pid) in r.stderr, r.stderr

        # logrotate: move the log away, SIGHUP, and the next lines go to a new file.
        log = datadir / "sluice.log"
        os.rename(log, datadir / "sluice.log.1")
        os.kill(pid, signal.SIGHUP)
        harness.wait_until(lambda: log.exists() and "log file reopened" in log.read_text(),
                           10, "a new sluice.log after SIGHUP")
        assert "log file reopened" not in (datadir / "sluice.log.1").read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % pid), 30,
                           "the detached sluice to exit")
    assert not pidfile.exists(), "the pidfile outlived the process"
    # The datadir is free again.
    r = run("--check-config", str(tmp_path / "c.sql"))
    assert r.returncode == 0, r.stderr
