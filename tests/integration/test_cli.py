"""The mariadb command-line client through Sluice."""

import shutil
import subprocess

import pytest

import harness
from harness import unique

MARIADB = shutil.which("mariadb") or shutil.which("mysql")


@pytest.fixture(autouse=True)
def mariadb_client():
    harness.require(MARIADB is not None, "mariadb client not installed")


def cli(target, *args, password=None, stdin=None, timeout=60):
    f = target.fleet
    cmd = [MARIADB, "--no-defaults", "-h", target.host, "-P", str(target.port),
           "--protocol=tcp", "-u", f.app_user,
           "-p" + (password if password is not None else f.app_password),
           "--skip-ssl", "--connect-timeout=10"] + list(args)
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, universal_newlines=True)


def test_cli_select_1_batch_output(target):
    r = cli(target, "-B", "-N", "-e", "SELECT 1")
    assert (r.returncode, r.stdout, r.stderr) == (0, "1\n", "")


def test_cli_select_with_column_names_and_tabs(target):
    r = cli(target, "-B", "app", "-e", "SELECT 1 AS a, 'x y' AS b, NULL AS c, DATABASE() AS d")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "a\tb\tc\td\n1\tx y\tNULL\tapp\n"


def test_cli_multi_statement_script(target):
    t = unique("cli")
    script = ("CREATE TABLE {t} (id INT PRIMARY KEY, s VARCHAR(20));\n"
              "INSERT INTO {t} VALUES (1, 'one'), (2, 'two'), (3, NULL);\n"
              "SET @total = (SELECT SUM(id) FROM {t});\n"
              "SELECT id, s FROM {t} ORDER BY id;\n"
              "SELECT @total;\n"
              "USE sbtest;\n"
              "SELECT DATABASE();\n"
              "DROP TABLE app.{t};\n").format(t=t)
    r = cli(target, "-B", "-N", "app", stdin=script)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1\tone\n2\ttwo\n3\tNULL\n6\nsbtest\n"
    # The same as one -e argument (the client sends it statement by statement).
    r = cli(target, "-B", "-N", "app", "-e", script.replace("\n", " "))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1\tone\n2\ttwo\n3\tNULL\n6\nsbtest\n"


def test_cli_bad_sql_exits_1_with_error_1064(target):
    r = cli(target, "-B", "-N", "-e", "SELEC 1")
    assert r.returncode == 1
    assert "ERROR 1064 (42000)" in r.stderr, r.stderr


def test_cli_script_stops_at_missing_table_error_1146(target):
    r = cli(target, "-B", "-N", "app",
            stdin="SELECT 'before';\nSELECT * FROM no_such_table_cli;\nSELECT 'after';\n")
    assert r.returncode == 1
    assert r.stdout == "before\n"
    assert "ERROR 1146 (42S02)" in r.stderr, r.stderr
    # --force carries on after the error.
    r = cli(target, "-B", "-N", "--force", "app",
            stdin="SELECT 'before';\nSELECT * FROM no_such_table_cli;\nSELECT 'after';\n")
    assert r.stdout == "before\nafter\n"
    assert "ERROR 1146 (42S02)" in r.stderr, r.stderr


def test_cli_bad_password_exits_1_with_error_1045(target):
    r = cli(target, "-e", "SELECT 1", password="wrong-password")
    assert r.returncode == 1
    assert "1045" in r.stderr and "(28000)" in r.stderr, r.stderr
    assert "Access denied" in r.stderr
    assert r.stdout == ""


def test_cli_status_command_uses_com_statistics(target):
    # "status" runs SELECT DATABASE(), USER(), and COM_STATISTICS (the Uptime/Threads line).
    r = cli(target, "app", "-e", "status")
    assert r.returncode == 0, r.stderr
    assert "Server version:" in r.stdout
    assert "Current database:\tapp\n" in r.stdout
    assert "Current user:\t\tapp@" in r.stdout
    assert "Uptime:" in r.stdout and "Threads:" in r.stdout and "Questions:" in r.stdout
