"""A statement over the server's max_allowed_packet (issue 11). MariaDB reads such a message
only up to the packet that crosses its limit, answers ERR 1153 (SQLSTATE 08S01) and closes the
connection. A direct client is usually still writing then, so it sees its write fail (2006);
Sluice reads the client's whole message before forwarding it, so its client gets the server's
1153, numbered after its last packet, and then the closed connection: the same end, with the
server's reason."""

import os
import socket
import subprocess

import pymysql
import pytest

import harness
import mysqlwire
from harness import connect, error_code

LIMIT = 16 << 20


@pytest.fixture
def small_limit(fleet):
    """The primary's max_allowed_packet at 16 MiB for the test (new connections see it)."""
    root = pymysql.connect(host=fleet.host, port=fleet.primary_port, user=fleet.root_user,
                           password=fleet.root_password, autocommit=True)
    before = harness.q1(root, "SELECT @@global.max_allowed_packet")
    harness.q(root, "SET GLOBAL max_allowed_packet = %d" % LIMIT)
    harness.q(root, "CREATE TABLE IF NOT EXISTS app.big_packet (v LONGTEXT)")
    try:
        yield
    finally:
        harness.q(root, "SET GLOBAL max_allowed_packet = %d" % before)
        root.close()


def _message(size):
    """A COM_QUERY INSERT of about size bytes, split into 16 MiB packets; (bytes, packets)."""
    body = b"\x03INSERT INTO big_packet VALUES ('" + b"x" * size + b"')"
    out, off, seq = b"", 0, 0
    while True:
        chunk = body[off:off + 0xffffff]
        out += mysqlwire.packet(chunk, seq)
        off += len(chunk)
        seq += 1
        if len(chunk) < 0xffffff:
            return out, seq


def _raw_send(target, size):
    """Sends the whole message, then reads: [(seq, payload)...] until the connection closes."""
    fleet = target.fleet
    c = mysqlwire.Client(target.host, target.port, timeout=30)
    assert c.login(fleet.app_user, fleet.app_password, db="app")[1][:1] == b"\x00"
    data, npackets = _message(size)
    try:
        c.sock.sendall(data)
    except OSError:
        pass  # a direct server resets the connection while we write; its ERR is still queued
    replies = []
    try:
        while True:
            replies.append(mysqlwire.read_packet(c.sock))
    except (ConnectionError, OSError):
        pass
    c.close()
    return replies, npackets


@pytest.mark.parametrize("mib", [20, 40])
def test_server_refusal_reaches_a_raw_client_then_the_connection_closes(target, small_limit,
                                                                       mib):
    replies, npackets = _raw_send(target, mib << 20)
    assert len(replies) == 1, replies
    seq, payload = replies[0]
    code, state, msg = mysqlwire.error_of(payload)
    assert (code, state) == (1153, "08S01"), msg
    if not target.direct:
        # Numbered after the client's last packet (Sluice read them all), not after the one
        # where the server stopped reading: the client's library checks the number.
        assert seq == npackets % 256


@pytest.mark.proxy_only
@pytest.mark.parametrize("mib", [20, 40])
def test_pymysql_gets_1153_and_a_closed_session(target, small_limit, mib):
    conn = connect(target, max_allowed_packet=100 << 20)
    with pytest.raises(pymysql.err.OperationalError) as e:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO big_packet VALUES (%s)", ("x" * (mib << 20),))
    assert error_code(e.value) == 1153
    # MariaDB closes the connection after 1153: so does Sluice.
    with pytest.raises(pymysql.err.OperationalError) as e:
        harness.q(conn, "SELECT 1")
    assert error_code(e.value) in (2006, 2013)
    conn.close()
    # Nothing is left behind: a new session works.
    conn = connect(target)
    assert harness.q1(conn, "SELECT 1") == 1
    conn.close()


def test_direct_pymysql_sees_the_connection_end(target, small_limit):
    """What the direct client gets (write fails: 2006), or through Sluice the server's 1153:
    either way the session is over."""
    conn = connect(target, max_allowed_packet=100 << 20)
    with pytest.raises(pymysql.err.OperationalError) as e:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO big_packet VALUES (%s)", ("x" * (40 << 20),))
    assert error_code(e.value) in ((2006, 2013, 1153) if target.direct else (1153,))
    with pytest.raises(pymysql.err.Error):
        harness.q(conn, "SELECT 1")
    conn.close()


@pytest.mark.proxy_only
def test_mariadb_cli_reports_1153(target, small_limit, tmp_path):
    sql = tmp_path / "big.sql"
    with open(sql, "wb") as f:
        f.write(b"INSERT INTO big_packet VALUES ('" + b"x" * (20 << 20) + b"');\n")
    fleet = target.fleet
    with open(sql, "rb") as f:
        p = subprocess.run(["mariadb", "--skip-ssl", "-h", target.host, "-P", str(target.port),
                            "-u", fleet.app_user, "-p" + fleet.app_password,
                            "--max-allowed-packet=100M", "app"],
                           stdin=f, capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")[-300:]
    assert p.returncode == 1
    assert "ERROR 1153 (08S01)" in err, err
