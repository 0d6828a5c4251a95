"""Raw MySQL wire protocol for the hostile-peer tests: a client that sends exactly the bytes a
test wants, and a small fake server that plays a rogue or broken backend.

Only what the tests need: protocol 41 handshakes with mysql_native_password, COM_QUERY, and
OK/ERR packets. Nothing here is a general driver."""

import hashlib
import socket
import struct
import threading

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_LOCAL_FILES = 0x80
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000

CLIENT_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
               | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)


def header(length, seq):
    return struct.pack("<I", length)[:3] + bytes([seq & 0xff])


def packet(payload, seq):
    return header(len(payload), seq) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_packet(sock):
    """(seq, payload) of the next packet."""
    h = recv_exact(sock, 4)
    length = h[0] | h[1] << 8 | h[2] << 16
    return h[3], recv_exact(sock, length)


def native_token(password, scramble):
    if not password:
        return b""
    s1 = hashlib.sha1(password.encode()).digest()
    s2 = hashlib.sha1(s1).digest()
    s3 = hashlib.sha1(scramble + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, s3))


def parse_greeting(payload):
    """The 20-byte scramble of a protocol 10 greeting."""
    pos = payload.index(b"\0", 1) + 1 + 4  # version, thread id
    part1 = payload[pos:pos + 8]
    pos += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10  # filler, caps, charset, status, caps, len, reserved
    part2 = payload[pos:pos + 12]
    return part1 + part2


def handshake_response(user, token, scramble_len_ok=True, plugin=b"mysql_native_password",
                       caps=CLIENT_CAPS, db=None):
    if db:
        caps |= CLIENT_CONNECT_WITH_DB
    body = struct.pack("<IIB", caps, 1 << 24, 45) + b"\0" * 23
    body += user.encode() + b"\0" + bytes([len(token)]) + token
    if db:
        body += db.encode() + b"\0"
    body += plugin + b"\0"
    return body


class Client:
    """A connected socket that has read the greeting."""

    def __init__(self, host, port, timeout=10, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        seq, greeting = read_packet(self.sock)
        if greeting[:1] == b"\xff":
            raise ConnectionRefusedError(error_of(greeting))
        self.scramble = parse_greeting(greeting)

    def login(self, user, password, plugin=b"mysql_native_password", caps=CLIENT_CAPS, db=None):
        """The first packet of the answer, as (seq, payload)."""
        token = native_token(password, self.scramble) if plugin == b"mysql_native_password" \
            else b"\x01" * 32
        self.sock.sendall(packet(handshake_response(user, token, plugin=plugin, caps=caps,
                                                    db=db), 1))
        return read_packet(self.sock)

    def query(self, sql):
        self.sock.sendall(packet(b"\x03" + sql.encode(), 0))
        return read_packet(self.sock)

    def prepare(self, sql):
        """COM_STMT_PREPARE: the statement id, or the ERR payload's (code, state, msg)."""
        self.sock.sendall(packet(b"\x16" + sql.encode(), 0))
        _, first = read_packet(self.sock)
        if first[:1] == b"\xff":
            return error_of(first)
        stmt_id, ncols, nparams = struct.unpack("<IHH", first[1:9])
        for _ in range(nparams + (1 if nparams else 0) + ncols + (1 if ncols else 0)):
            read_packet(self.sock)  # definitions and their EOFs
        return stmt_id

    def close(self):
        self.sock.close()


def error_of(payload):
    """(code, sqlstate, message) of an ERR packet payload."""
    assert payload[:1] == b"\xff", "not an ERR packet: %r" % payload[:40]
    code = struct.unpack("<H", payload[1:3])[0]
    return code, payload[4:9].decode(), payload[9:].decode("utf-8", "replace")


def ok_packet(status=0x0002):
    return b"\x00\x00\x00" + struct.pack("<HH", status, 0)


def err_packet(code, sqlstate, msg):
    return b"\xff" + struct.pack("<H", code) + b"#" + sqlstate.encode() + msg.encode()


class FakeServer:
    """A MySQL server that accepts any login and answers each COM_QUERY with
    self.answer(conn, sql) -> list of raw packets (payloads; sequence ids are added), or
    None to close the connection. Every byte received after login is kept in `received`."""

    def __init__(self, answer):
        self.answer = answer
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.received = bytearray()
        self.queries = []
        self.lock = threading.Lock()
        self.stopped = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _greeting(self):
        caps = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_LOCAL_FILES
                | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
                | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
        return (b"\x0a" + b"10.11.6-MariaDB-fake\0" + struct.pack("<I", 7) + b"abcdefgh\0"
                + struct.pack("<H", caps & 0xffff) + bytes([45]) + struct.pack("<H", 2)
                + struct.pack("<H", caps >> 16) + bytes([21]) + b"\0" * 10
                + b"ijklmnopqrst\0" + b"mysql_native_password\0")

    def _serve(self, conn):
        try:
            conn.sendall(packet(self._greeting(), 0))
            seq, _ = read_packet(conn)
            conn.sendall(packet(ok_packet(), seq + 1))
            while True:
                seq, payload = read_packet(conn)
                with self.lock:
                    self.received += payload
                if payload[:1] == b"\x01":
                    return
                if payload[:1] == b"\x0e":  # COM_PING
                    conn.sendall(packet(ok_packet(), seq + 1))
                    continue
                sql = payload[1:].decode("utf-8", "replace")
                with self.lock:
                    self.queries.append(sql)
                replies = self.answer(conn, sql)
                if replies is None:
                    return
                s = seq + 1
                for r in replies:
                    if isinstance(r, bytes):
                        conn.sendall(packet(r, s))
                        s += 1
                    else:
                        r(conn)  # a callable sends raw bytes itself
        except (OSError, ConnectionError):
            pass
        finally:
            conn.close()

    def received_bytes(self):
        with self.lock:
            return bytes(self.received)

    def stop(self):
        self.stopped = True
        self.listener.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def lenenc_str(b):
    assert len(b) < 251
    return bytes([len(b)]) + b


def eof_packet(status=0x0002):
    return b"\xfe\x00\x00" + struct.pack("<H", status)


def result_one(value):
    """The packets of a one-column, one-row text result set holding value (bytes)."""
    coldef = (lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
              + lenenc_str(b"v") + lenenc_str(b"") + b"\x0c" + struct.pack("<HIBHB", 33, 255,
                                                                            0xfd, 0, 0)
              + b"\0\0")
    return [b"\x01", coldef, eof_packet(), lenenc_str(value), eof_packet()]


def change_user_payload(user, token, db=None, plugin=b"mysql_native_password"):
    """COM_CHANGE_USER with a native token computed by the caller."""
    return (b"\x11" + user.encode() + b"\0" + bytes([len(token)]) + token
            + (db.encode() if db else b"") + b"\0" + struct.pack("<H", 45) + plugin + b"\0")
