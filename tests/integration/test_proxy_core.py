"""Behaviour of the proxy itself: bounded memory while streaming, auth switch for MySQL 8
clients, unknown commands, graceful shutdown. Through Sluice only."""

import hashlib
import os
import socket
import struct
import threading
import time

import pymysql
import pytest

import harness
from harness import connect, error_code, q, q1, rss_kib

pytestmark = pytest.mark.proxy_only


def test_1_gib_result_streams_with_bounded_proxy_memory(sluice):
    """1 GiB of rows (1,024 rows of 1 MiB) pass through while Sluice's RSS stays small:
    rows are relayed as they arrive, never collected."""
    target = sluice(cap=4)
    conn = connect(target, cursorclass=pymysql.cursors.SSCursor, read_timeout=600)
    pid = target.proc.pid
    before = rss_kib(pid)
    peak = before
    total = 0
    rows = 0
    with conn.cursor() as cur:
        cur.execute("SELECT seq, REPEAT(CHAR(65 + seq % 26), 1048576) FROM seq_1_to_1024")
        for seq, payload in cur:
            rows += 1
            total += len(payload)
            first = payload[:1]
            if isinstance(first, bytes):
                first = first.decode()
            assert first == chr(65 + seq % 26)
            if rows % 64 == 0:
                peak = max(peak, rss_kib(pid))
    conn.close()
    assert rows == 1024
    assert total == 1024 * 1048576
    growth_mib = (peak - before) / 1024.0
    print("sluice RSS before %d KiB, peak %d KiB, growth %.1f MiB for 1 GiB relayed"
          % (before, peak, growth_mib))
    # A relay that held the result would grow by about 1 GiB; streaming needs a few
    # buffers of at most a couple of MiB (a 1 MiB row passes through a 64 KiB buffer).
    assert growth_mib < 64


def _read_packet(sock):
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        assert chunk, "connection closed while reading a header"
        hdr += chunk
    length = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    seq = hdr[3]
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, "connection closed while reading a payload"
        body += chunk
    return seq, body


def _send_packet(sock, seq, payload):
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)


def _native_token(password, scramble):
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(scramble + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def _greeting_scramble(body):
    assert body[0] == 10, "protocol version 10"
    end = body.index(b"\0", 1)
    pos = end + 1 + 4
    part1 = body[pos:pos + 8]
    pos += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
    part2 = body[pos:pos + 12]
    return part1 + part2


def test_mysql8_client_with_caching_sha2_is_switched_to_native(sluice, fleet):
    """A client that answers the greeting with caching_sha2_password (as MySQL 8 clients do)
    gets an auth switch request to mysql_native_password and logs in with it."""
    target = sluice()
    sock = socket.create_connection((target.host, target.port), timeout=10)
    try:
        seq, greeting = _read_packet(sock)
        scramble = _greeting_scramble(greeting)
        caps = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x00002000
        sha2_token = hashlib.sha256(b"not-a-native-token").digest()
        resp = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
        resp += fleet.app_user.encode() + b"\0"
        resp += bytes([len(sha2_token)]) + sha2_token
        resp += b"app\0" + b"caching_sha2_password\0"
        _send_packet(sock, 1, resp)
        seq, body = _read_packet(sock)
        assert body[0] == 0xFE, "expected an auth switch request, got %r" % body[:20]
        plugin_end = body.index(b"\0", 1)
        assert body[1:plugin_end] == b"mysql_native_password"
        new_scramble = body[plugin_end + 1:plugin_end + 21]
        _send_packet(sock, seq + 1, _native_token(fleet.app_password, new_scramble))
        seq, body = _read_packet(sock)
        assert body[0] == 0x00, "expected OK after the switch, got %r" % body[:60]
        # The session works: COM_QUERY SELECT 1 returns a result set with one column.
        _send_packet(sock, 0, b"\x03SELECT 41+1")
        seq, body = _read_packet(sock)
        assert body == b"\x01"
    finally:
        sock.close()


def test_bad_password_after_auth_switch_gets_1045(sluice, fleet):
    target = sluice()
    sock = socket.create_connection((target.host, target.port), timeout=10)
    try:
        _read_packet(sock)
        caps = 0x00000200 | 0x00008000 | 0x00080000
        resp = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
        resp += fleet.app_user.encode() + b"\0" + bytes([32]) + b"x" * 32
        resp += b"caching_sha2_password\0"
        _send_packet(sock, 1, resp)
        seq, body = _read_packet(sock)
        assert body[0] == 0xFE
        _send_packet(sock, seq + 1, b"y" * 20)
        seq, body = _read_packet(sock)
        assert body[0] == 0xFF
        code = body[1] | body[2] << 8
        assert code == 1045
        assert body[3:9] == b"#28000"
    finally:
        sock.close()


def test_unknown_command_gets_error_and_session_stays_usable(target):
    conn = connect(target)
    # COM_DEBUG (0x0d) and a command byte no server knows (0x7f).
    for command in (0x0D, 0x7F):
        conn._execute_command(command, b"")
        with pytest.raises(pymysql.err.OperationalError) as exc:
            conn._read_ok_packet()
        assert error_code(exc.value) == 1047
    assert q1(conn, "SELECT 6*7") == 42
    conn.close()


def test_sigterm_lets_a_running_statement_finish_then_exits_cleanly(sluice):
    target = sluice()
    conn = connect(target)
    idle = connect(target)
    result = {}

    def run():
        try:
            result["rows"] = q(conn, "SELECT SLEEP(1.5), 'done'")
        except Exception as e:  # reported below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    harness.wait_until(lambda: target.fleet.root_query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE INFO LIKE 'SELECT SLEEP(1.5)%'")[0][0], 5, "the statement to run on the server")
    started = time.monotonic()
    target.proc.send_signal(15)
    t.join(timeout=20)
    assert not t.is_alive()
    assert "error" not in result, "running statement failed: %r" % result.get("error")
    assert result["rows"] == ((0, "done"),)
    target.proc.wait(timeout=20)
    elapsed = time.monotonic() - started
    assert target.proc.returncode == 0
    assert elapsed < 10, "shutdown took %.1fs" % elapsed
    # New connections are refused once it stopped.
    with pytest.raises(OSError):
        socket.create_connection((target.host, target.port), timeout=2)
    idle.close()
    conn.close()


# --- a raw protocol client, to compare Sluice's bytes with the server's ---------------

CLIENT_PROTOCOL_41 = 0x00000200
CLIENT_SECURE_CONNECTION = 0x00008000
CLIENT_PLUGIN_AUTH = 0x00080000
CLIENT_CONNECT_WITH_DB = 0x00000008
CLIENT_TRANSACTIONS = 0x00002000
CLIENT_MULTI_STATEMENTS = 0x00010000
CLIENT_MULTI_RESULTS = 0x00020000
CLIENT_PS_MULTI_RESULTS = 0x00040000
CLIENT_DEPRECATE_EOF = 0x01000000
CLIENT_LONG_PASSWORD = 0x00000001  # also "not a MariaDB-extended client"


class RawClient:
    def __init__(self, host, port, user, password, db, extra_caps=0):
        self.sock = socket.create_connection((host, port), timeout=20)
        seq, greeting = _read_packet(self.sock)
        scramble = _greeting_scramble(greeting)
        caps = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION |
                CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB | CLIENT_TRANSACTIONS |
                CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | extra_caps)
        token = _native_token(password, scramble)
        resp = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
        resp += user.encode() + b"\0" + bytes([len(token)]) + token
        resp += db.encode() + b"\0" + b"mysql_native_password\0"
        _send_packet(self.sock, seq + 1, resp)
        seq, body = _read_packet(self.sock)
        assert body[0] == 0x00, "login failed: %r" % body
        self.deprecate_eof = bool(extra_caps & CLIENT_DEPRECATE_EOF)

    def command(self, payload):
        _send_packet(self.sock, 0, payload)

    def packets_until_end(self, max_packets=1000):
        """Reads one whole response to COM_QUERY / COM_STMT_EXECUTE: result sets until the
        last OK/EOF/ERR without MORE_RESULTS. Returns [(seq, payload)]."""
        out = []
        state = "first"
        cols = 0
        while len(out) < max_packets:
            seq, body = _read_packet(self.sock)
            out.append((seq, body))
            b0 = body[0] if body else None
            if state == "first":
                if b0 == 0xFF:
                    return out
                if b0 == 0x00:
                    if not _more_results_ok(body):
                        return out
                    continue
                cols = body[0]
                state = "cols"
                continue
            if state == "cols":
                cols -= 1
                if cols == 0:
                    state = "rows" if self.deprecate_eof else "cols_eof"
                continue
            if state == "cols_eof":
                assert b0 == 0xFE
                state = "rows"
                continue
            if state == "rows":
                if b0 == 0xFF:
                    return out
                if b0 == 0xFE and len(body) < 0xFFFFFF:
                    status = _status_of_end(body, self.deprecate_eof)
                    if status & 0x0008:
                        state = "first"
                        continue
                    return out
        raise AssertionError("response did not end within %d packets" % max_packets)

    def prepare_response(self, sql):
        self.command(b"\x16" + sql.encode())
        seq, body = _read_packet(self.sock)
        out = [(seq, body)]
        assert body[0] == 0x00, body
        ncols, nparams = struct.unpack("<HH", body[5:9])
        n = nparams + (0 if self.deprecate_eof or not nparams else 1)
        n += ncols + (0 if self.deprecate_eof or not ncols else 1)
        for _ in range(n):
            out.append(_read_packet(self.sock))
        return struct.unpack("<I", body[1:5])[0], out

    def close(self):
        try:
            _send_packet(self.sock, 0, b"\x01")
        finally:
            self.sock.close()


def _lenenc(body, pos):
    b = body[pos]
    if b < 0xFB:
        return b, pos + 1
    if b == 0xFC:
        return body[pos + 1] | body[pos + 2] << 8, pos + 3
    if b == 0xFD:
        return int.from_bytes(body[pos + 1:pos + 4], "little"), pos + 4
    return int.from_bytes(body[pos + 1:pos + 9], "little"), pos + 9


def _ok_status(body):
    _, pos = _lenenc(body, 1)
    _, pos = _lenenc(body, pos)
    return body[pos] | body[pos + 1] << 8


def _more_results_ok(body):
    return bool(_ok_status(body) & 0x0008)


def _status_of_end(body, deprecate_eof):
    if deprecate_eof:
        return _ok_status(body)
    return body[3] | body[4] << 8


def _normalize(packets):
    """Status flags of OK/EOF packets may differ in bits a proxy does not promise
    (SERVER_QUERY_NO_INDEX_USED and similar); everything else must be identical."""
    out = []
    for seq, body in packets:
        if body and body[0] == 0x00 and len(body) < 64:
            out.append((seq, "OK", _ok_status(body) & 0x000B))
        else:
            out.append((seq, body))
    return out


STATEMENTS = [
    "SELECT 1 AS a, 'x' AS b, NULL AS c",
    "SELECT seq, seq * 2 FROM seq_1_to_5",
    "SELECT 1; SELECT 'two', 2; DO 3",
    "SELECT * FROM no_such_table_xyz",
]


@pytest.mark.parametrize("deprecate_eof", [False, True], ids=["classic_eof", "deprecate_eof"])
def test_responses_match_the_server_byte_for_byte(sluice, fleet, deprecate_eof):
    """The same statements, directly and through Sluice, with and without
    CLIENT_DEPRECATE_EOF: the packets (sequence ids, column definitions, rows, EOF or OK
    terminators) must be the same."""
    target = sluice()
    extra = CLIENT_MULTI_STATEMENTS | (CLIENT_DEPRECATE_EOF if deprecate_eof else 0)
    direct = RawClient(fleet.host, fleet.primary_port, fleet.app_user, fleet.app_password,
                       "app", extra)
    proxied = RawClient(target.host, target.port, fleet.app_user, fleet.app_password, "app",
                        extra)
    try:
        for sql in STATEMENTS:
            direct.command(b"\x03" + sql.encode())
            want = _normalize(direct.packets_until_end())
            proxied.command(b"\x03" + sql.encode())
            got = _normalize(proxied.packets_until_end())
            assert got == want, sql
        # Prepared: the prepare reply (ids differ), then an execute's binary result set.
        d_id, d_prep = direct.prepare_response("SELECT ? + 1 AS n, 'k' AS s")
        p_id, p_prep = proxied.prepare_response("SELECT ? + 1 AS n, 'k' AS s")
        assert [s for s, _ in p_prep] == [s for s, _ in d_prep]
        assert [b for _, b in p_prep[1:]] == [b for _, b in d_prep[1:]]
        for stmt_id, client in ((d_id, direct), (p_id, proxied)):
            client.command(b"\x17" + struct.pack("<IBI", stmt_id, 0, 1) + b"\x00\x01" +
                           struct.pack("<H", 8) + struct.pack("<q", 41))
        want = _normalize(direct.packets_until_end())
        got = _normalize(proxied.packets_until_end())
        assert got == want
    finally:
        direct.close()
        proxied.close()
