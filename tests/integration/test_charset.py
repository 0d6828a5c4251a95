"""The character set a client announces in its handshake, and session state in general,
through Sluice: what a direct connection to the primary gives, value by value.

PyMySQL sends no SET NAMES: the handshake's collation id alone decides the session's
character_set_client, _connection, _results and collation_connection. Sluice's pool of one
backend connection on one worker makes consecutive sessions share that connection, so state
one session leaves behind (its character set, a tracked variable) shows up in the next one
unless the proxy resets it."""

import contextlib
import struct

import pymysql
import pymysql.connections
import pytest
from pymysql.charset import Charset

import mysqlwire
from harness import Target, connect, q, unique

CHARSET_VARS = ("SELECT @@character_set_client, @@character_set_connection, "
                "@@character_set_results, @@collation_connection")

# Session variables another session may change; each must be back to the server's value for
# a session that never set it. Values chosen to differ from the defaults.
TRACKED = [
    ("sql_mode", "'ANSI'"),
    ("time_zone", "'+05:00'"),
    ("max_statement_time", "7"),
    ("div_precision_increment", "9"),
    ("default_master_connection", "'leftover'"),
    ("optimizer_search_depth", "5"),
    ("group_concat_max_len", "77"),
    ("sql_select_limit", "3"),
    ("tx_isolation", "'SERIALIZABLE'"),
    ("lc_time_names", "'de_DE'"),
]

STATE = ("SELECT @@character_set_client, @@character_set_connection, "
         "@@character_set_results, @@collation_connection, DATABASE(), "
         "@@character_set_database, @@collation_database, "
         + ", ".join("@@session.%s" % name for name, _ in TRACKED))


def direct(fleet):
    return Target(fleet.host, fleet.primary_port, direct=True, fleet=fleet)


def shared(sluice):
    """A Sluice whose sessions all share one backend connection."""
    return sluice(cap=1, threads=1)


def charset_vars(target, charset):
    conn = connect(target, charset=charset)
    try:
        return q(conn, CHARSET_VARS)[0]
    finally:
        conn.close()


@pytest.mark.parametrize("charset", ["latin1", "cp1250", "utf8mb4", "koi8r", "sjis", "utf8"])
def test_handshake_charset_as_direct(sluice, fleet, charset):
    target = shared(sluice)
    # Another character set first, on the same backend connection: its state must not stay.
    charset_vars(target, "cp1250" if charset == "latin1" else "latin1")
    got = charset_vars(target, charset)
    want = charset_vars(direct(fleet), charset)
    assert got[0] == want[0], (got, want)
    assert got[1] == want[1], (got, want)
    assert got[2] == want[2], (got, want)
    assert got[3] == want[3], (got, want)


@contextlib.contextmanager
def handshake_id(collation_id):
    """PyMySQL announcing any collation id; results decoded as latin-1, which maps every
    byte, so values compare byte for byte whatever character set they come in."""
    saved = pymysql.connections.charset_by_name
    pymysql.connections.charset_by_name = lambda name: Charset(collation_id, "latin_1", "x", "")
    try:
        yield
    finally:
        pymysql.connections.charset_by_name = saved


def answer_for_id(target, collation_id):
    with handshake_id(collation_id):
        try:
            conn = connect(target, charset="latin1")
        except pymysql.err.MySQLError as e:
            return ("error",) + tuple(e.args)
    try:
        return tuple(v.decode("latin_1") if isinstance(v, bytes) else v
                     for v in q(conn, CHARSET_VARS)[0])
    finally:
        conn.close()


def test_every_handshake_id_as_direct(sluice, fleet):
    """Ids 0..255 (all a handshake can carry), one after the other on one backend
    connection: known ids, unknown ones (the server's defaults) and refused ones (ucs2,
    utf16, utf32: error 1231) all answer as directly."""
    target = shared(sluice)
    ids = list(range(256))
    ids += list(reversed(ids))  # each id also after a different neighbour
    differ = []
    for i in ids:
        got, want = answer_for_id(target, i), answer_for_id(direct(fleet), i)
        if got != want:
            differ.append((i, got, want))
    assert not differ, differ


@pytest.fixture
def latin1_table(fleet):
    name = unique("cs_latin1")
    root = fleet.root(db="app")
    q(root, "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET latin1) "
            "ENGINE=InnoDB" % name)
    try:
        yield name
    finally:
        q(root, "DROP TABLE %s" % name)
        root.close()


def test_latin1_client_stores_e_acute_as_one_byte(sluice, fleet, latin1_table):
    target = shared(sluice)
    charset_vars(target, "utf8mb4")  # the backend connection had utf8mb4 before
    for row_id, t in ((1, target), (2, direct(fleet))):
        conn = connect(t, charset="latin1")
        try:
            assert q(conn, "SELECT @@sql_mode")[0][0].find("STRICT_TRANS_TABLES") >= 0
            q(conn, "INSERT INTO %s VALUES (%%s, %%s)" % latin1_table, (row_id, "café"))
            assert q(conn, "SELECT HEX(v), v FROM %s WHERE id = %%s" % latin1_table,
                     (row_id,))[0] == ("636166E9", "café")
        finally:
            conn.close()
    conn = connect(direct(fleet))
    try:
        assert q(conn, "SELECT id, HEX(v) FROM %s ORDER BY id" % latin1_table) == \
            ((1, "636166E9"), (2, "636166E9"))
    finally:
        conn.close()


def fresh_state(target, db="app"):
    conn = connect(target, charset="utf8mb4", db=db)
    try:
        return q(conn, STATE)[0]
    finally:
        conn.close()


@pytest.fixture
def latin1_db(fleet):
    """A schema whose default character set is not the server's."""
    name = unique("cs_db")
    fleet.root_query("CREATE DATABASE %s CHARACTER SET latin1 COLLATE latin1_german1_ci" % name)
    try:
        yield name
    finally:
        fleet.root_query("DROP DATABASE %s" % name)


@pytest.mark.parametrize("keep_open", [False, True], ids=["closed", "still_open"])
def test_tracked_variables_do_not_leak_to_next_session(sluice, fleet, latin1_db, keep_open):
    """A session changes every tracked variable kind (SET NAMES with a collation, the schema
    and with it character_set_database, numbers, strings, sql_mode, time_zone) and closes or stays idle; the next session on the
    same backend connection sees what a fresh direct session sees, and the first one, when
    still open, keeps its own state."""
    target = shared(sluice)
    dirty = connect(target, charset="latin1")
    q(dirty, "SET NAMES cp1250 COLLATE cp1250_czech_cs")
    q(dirty, "USE %s" % latin1_db)
    q(dirty, "USE sbtest")
    for name, value in TRACKED:
        q(dirty, "SET SESSION %s = %s" % (name, value))
    dirty_state = q(dirty, STATE)[0]
    clean = fresh_state(direct(fleet))
    # Every variable the test sets differs from a fresh session's (the schema's character
    # set, columns 5 and 6, is sbtest's: the server's default).
    assert all(d != c for i, (d, c) in enumerate(zip(dirty_state, clean)) if i not in (5, 6)), \
        (dirty_state, clean)
    if not keep_open:
        dirty.close()
    # The schema's character set comes with the schema, not from the previous session.
    for db in (latin1_db, "app"):
        got, want = fresh_state(target, db), fresh_state(direct(fleet), db)
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, "%s: column %d of %s: %r, directly %r" % (db, i, STATE, g, w)
    if keep_open:
        assert q(dirty, STATE)[0] == dirty_state
        dirty.close()


def test_sql_mode_ansi_then_fresh_session(sluice, fleet):
    target = shared(sluice)
    conn = connect(target)
    q(conn, "SET SESSION sql_mode = 'ANSI'")
    conn.close()
    conn = connect(target)
    try:
        assert q(conn, "SELECT @@session.sql_mode = @@global.sql_mode, @@session.sql_mode")[0][0]
    finally:
        conn.close()


def test_reset_connection_goes_back_to_handshake_charset(sluice, fleet):
    """COM_RESET_CONNECTION after SET NAMES: the handshake's character set again, as
    MariaDB does."""
    results = []
    for t in (shared(sluice), direct(fleet)):
        conn = connect(t, charset="cp1250")
        q(conn, "SET NAMES utf8mb4")
        conn._execute_command(0x1F, b"")  # COM_RESET_CONNECTION: PyMySQL has no method
        conn._read_ok_packet()
        results.append(q(conn, CHARSET_VARS)[0])
        conn.close()
    assert results[0] == results[1] == ("cp1250", "cp1250", "cp1250", "cp1250_general_ci")


def change_user_to(target, collation_id):
    """The four character-set variables (one string) after COM_CHANGE_USER naming
    collation_id (16 bits, unlike the handshake's 8), or the error's (code, message)."""
    f = target.fleet
    c = mysqlwire.Client(target.host, target.port)
    try:
        first = c.login(f.app_user, f.app_password, db="app")[1]
        assert first[:1] == b"\x00", first
        token = mysqlwire.native_token(f.app_password, c.scramble)
        payload = (b"\x11" + f.app_user.encode() + b"\0" + bytes([len(token)]) + token
                   + b"app\0" + struct.pack("<H", collation_id) + b"mysql_native_password\0")
        c.sock.sendall(mysqlwire.packet(payload, 0))
        seq, answer = mysqlwire.read_packet(c.sock)
        if answer[:1] == b"\xfe":  # MariaDB asks again, with a new scramble
            scramble = answer[answer.index(b"\0") + 1:].rstrip(b"\0")
            c.sock.sendall(mysqlwire.packet(mysqlwire.native_token(f.app_password, scramble),
                                            seq + 1))
            answer = mysqlwire.read_packet(c.sock)[1]
        if answer[:1] == b"\xff":
            code, _, msg = mysqlwire.error_of(answer)
            return code, msg
        assert answer[:1] == b"\x00", answer
        c.sock.sendall(mysqlwire.packet(b"\x03SELECT CONCAT_WS(',', @@character_set_client, "
                                        b"@@character_set_connection, @@character_set_results, "
                                        b"@@collation_connection)", 0))
        packets = [mysqlwire.read_packet(c.sock)[1] for _ in range(4)]  # count, def, EOF, row
        row = packets[3]
        return row[1:1 + row[0]].decode()
    finally:
        c.close()


@pytest.mark.parametrize("collation_id", [8, 26, 35, 255, 608, 1027, 2048, 2047, 3000])
def test_change_user_charset_as_direct(sluice, fleet, collation_id):
    """COM_CHANGE_USER's collation id, including ids above 255 that no handshake can carry
    (utf8mb4_croatian_ci, the UCA 14.0 ones) and unknown ones."""
    assert change_user_to(shared(sluice), collation_id) == change_user_to(direct(fleet),
                                                                          collation_id)
