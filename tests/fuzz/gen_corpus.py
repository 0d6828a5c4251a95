#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ from the packets and
statements below, so that each seed says what it is.

    tests/fuzz/gen_corpus.py [TARGET...]

Rewrites the named targets' generated seeds (all targets by default); files
whose names start with "crash-" or "repro-" are reproducers kept by hand and are
left alone. Seeds are named <what>.bin or <what>.sql. Run it after changing a
target's input format, then commit the corpus.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Capability and status flags, as codec/codec.h names them.
LONG_PASSWORD = 0x1
FOUND_ROWS = 0x2
CONNECT_WITH_DB = 0x8
PROTOCOL_41 = 0x200
SSL = 0x800
TRANSACTIONS = 0x2000
SECURE_CONNECTION = 0x8000
MULTI_STATEMENTS = 0x10000
MULTI_RESULTS = 0x20000
PLUGIN_AUTH = 0x80000
CONNECT_ATTRS = 0x100000
PLUGIN_AUTH_LENENC = 0x200000
SESSION_TRACK = 0x800000
DEPRECATE_EOF = 0x1000000

IN_TRANS = 0x1
AUTOCOMMIT = 0x2
MORE_RESULTS = 0x8
CURSOR_EXISTS = 0x40
STATE_CHANGED = 0x4000

MARIADB_CAPS = (LONG_PASSWORD | FOUND_ROWS | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS
                | SECURE_CONNECTION | MULTI_STATEMENTS | MULTI_RESULTS | PLUGIN_AUTH
                | CONNECT_ATTRS | PLUGIN_AUTH_LENENC | SESSION_TRACK)


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


def lenenc(v):
    if v < 0xfb:
        return bytes([v])
    if v <= 0xffff:
        return b'\xfc' + u16(v)
    if v <= 0xffffff:
        return b'\xfd' + struct.pack('<I', v)[:3]
    return b'\xfe' + struct.pack('<Q', v)


def lstr(s):
    s = s.encode() if isinstance(s, str) else s
    return lenenc(len(s)) + s


def packet(payload, seq):
    return struct.pack('<I', len(payload))[:3] + bytes([seq & 0xff]) + payload


def native_token(password, scramble):
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    mask = hashlib.sha1(scramble + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, mask))


SCRAMBLE = bytes(range(1, 21))
TOKEN = native_token('pw', SCRAMBLE)


# ---- packets -------------------------------------------------------------

def handshake_response(caps, user='app', db='shop', plugin='mysql_native_password', attrs=True):
    p = u32(caps) + u32(16 << 20) + bytes([45]) + bytes(23) + user.encode() + b'\0'
    if caps & PLUGIN_AUTH_LENENC:
        p += lstr(TOKEN)
    elif caps & SECURE_CONNECTION:
        p += bytes([len(TOKEN)]) + TOKEN
    else:
        p += TOKEN.replace(b'\0', b'x') + b'\0'
    if caps & CONNECT_WITH_DB:
        p += db.encode() + b'\0'
    if caps & PLUGIN_AUTH:
        p += plugin.encode() + b'\0'
    if attrs and caps & CONNECT_ATTRS:
        kv = lstr('_client_name') + lstr('libmariadb') + lstr('_pid') + lstr('4242')
        p += lstr(kv)
    return p


def change_user(user='app', db='shop', charset=45, plugin='mysql_native_password'):
    return (user.encode() + b'\0' + bytes([len(TOKEN)]) + TOKEN + db.encode() + b'\0'
            + u16(charset) + plugin.encode() + b'\0')


def ok(affected=0, last_id=0, status=AUTOCOMMIT, warnings=0, info=b'', state=None, hdr=0):
    p = bytes([hdr]) + lenenc(affected) + lenenc(last_id) + u16(status) + u16(warnings)
    if state is None:
        return p + (lstr(info) if info else b'')
    return p + lstr(info) + lstr(state)


def track_sysvar(name, value):
    return b'\x00' + lstr(lstr(name) + lstr(value))


def track_schema(name):
    return b'\x01' + lstr(lstr(name))


def track_state(flag='1'):
    return b'\x02' + lstr(lstr(flag))


def err(code, state, msg):
    return b'\xff' + u16(code) + (b'#' + state.encode() if state else b'') + msg.encode()


def eof(status=AUTOCOMMIT, warnings=0):
    return b'\xfe' + u16(warnings) + u16(status)


def coldef(name, table='t', ctype=0xfd, ext=None):
    p = lstr('def') + lstr('shop') + lstr(table) + lstr(table) + lstr(name) + lstr(name)
    if ext is not None:
        p += lstr(ext)
    return p + lenenc(0x0c) + u16(45) + u32(1024) + bytes([ctype]) + u16(0) + b'\0' + u16(0)


def text_row(*values):
    return b''.join(b'\xfb' if v is None else lstr(v) for v in values)


def result_set(names, rows, status=AUTOCOMMIT, seq=1, more=False):
    out = packet(lenenc(len(names)), seq)
    seq += 1
    for n in names:
        out += packet(coldef(n), seq)
        seq += 1
    out += packet(eof(status), seq)
    seq += 1
    for r in rows:
        out += packet(text_row(*r), seq)
        seq += 1
    out += packet(eof(status | (MORE_RESULTS if more else 0)), seq)
    return out


# ---- codec: mode byte, then the parser's input ----------------------------

def codec_seeds():
    tracked = (track_sysvar('autocommit', 'ON') + track_schema('shop') + track_state()
               + track_sysvar('last_gtid', '0-1-42')
               + track_sysvar('character_set_client', 'utf8mb4'))
    return {
        'handshake_mariadb.bin': b'\x00' + handshake_response(MARIADB_CAPS),
        'handshake_no_lenenc_no_db.bin':
            b'\x00' + handshake_response(PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH),
        'handshake_oldauth_nul.bin': b'\x00' + handshake_response(PROTOCOL_41 | CONNECT_WITH_DB),
        'handshake_sslrequest.bin': b'\x00' + u32(MARIADB_CAPS | SSL) + u32(16 << 20)
        + bytes([45]) + bytes(23),
        'change_user.bin': b'\x01' + u32(MARIADB_CAPS) + change_user(),
        'change_user_old.bin': b'\x01' + u32(PROTOCOL_41 | SECURE_CONNECTION)
        + b'app\0' + bytes([20]) + TOKEN,
        'ok_plain.bin': b'\x02' + u32(PROTOCOL_41) + ok(1, 0, AUTOCOMMIT, 0,
                                                        b'Rows matched: 1  Changed: 1'),
        'ok_tracked.bin': b'\x02' + u32(MARIADB_CAPS)
        + ok(0, 7, AUTOCOMMIT | IN_TRANS | STATE_CHANGED, 1, b'', tracked),
        'ok_eof_header.bin': b'\x02' + u32(MARIADB_CAPS | DEPRECATE_EOF)
        + ok(0, 0, AUTOCOMMIT, 0, hdr=0xfe),
        'err_sqlstate.bin': b'\x03' + err(1064, '42000', 'You have an error in your SQL syntax'),
        'err_no_sqlstate.bin': b'\x03' + err(1040, None, 'Too many connections'),
        'eof.bin': b'\x04' + eof(AUTOCOMMIT | MORE_RESULTS, 2),
        'span_two_packets.bin': b'\x05' + packet(b'\x03SELECT 1', 0) + packet(b'\x01', 0),
        'span_truncated.bin': b'\x05' + packet(b'\x03SELECT 1', 0)[:8],
        'reader_ops.bin': b'\x06' + bytes([0, 1, 2, 3, 0x14, 5, 0x15, 6, 7, 8])
        + b'\x01\x02\x03\x04\x05\xfc\x00\x01\x03abc\x05hello\0rest!',
        'native_hash.bin': b'\x07*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19',
        'native_password.bin': b'\x07' + SCRAMBLE + b'secret password',
        'writers.bin': b'\x08' + u32(0x12345678) + u32(DEPRECATE_EOF | 3) + b'hello, world',
    }


# ---- response: see fuzz_response.c for the header ---------------------------

RESP_QUERY, RESP_EXECUTE, RESP_FETCH, RESP_PREPARE, RESP_FIELD_LIST, RESP_SIMPLE, \
    RESP_ANY_ONE = range(7)


def resp(kind, flags, body, chunk=0):
    """flags: bit 0 client DEPRECATE_EOF, 1 swallow, 2 strip_meta, 3 cache_meta,
    4 capture_row, 5 backend SESSION_TRACK, 6 the statement has a cached
    definition set; chunk: bytes per read (0: all at once)."""
    return bytes([kind, flags, chunk]) + body


def response_seeds():
    tracked = (track_sysvar('autocommit', 'OFF') + track_schema('billing') + track_state()
               + track_sysvar('character_set_connection', 'latin1')
               + track_sysvar('last_gtid', '0-1-77'))
    rs = result_set(['id', 'name'], [('1', 'a'), ('2', None)])
    prep = (packet(b'\x00' + u32(5) + u16(2) + u16(1) + b'\x00' + u16(0), 1)
            + packet(coldef('?'), 2) + packet(eof(), 3)
            + packet(coldef('id'), 4) + packet(eof(), 5))
    binary_row = b'\x00\x00' + u32(7)
    exec_rs = (packet(b'\x01', 1) + packet(coldef('id', ctype=3), 2) + packet(eof(), 3)
               + packet(binary_row, 4) + packet(eof(), 5))
    exec_cached = packet(b'\x01\x00', 1) + packet(binary_row, 2) + packet(eof(), 3)
    ext = b'\x00' + lstr('json')
    ext_rs = (packet(b'\x01', 1) + packet(coldef('doc', ext=ext), 2) + packet(eof(), 3)
              + packet(text_row('{}'), 4) + packet(eof(), 5))
    return {
        'query_ok_tracked.bin': resp(RESP_QUERY, 0x20, packet(
            ok(1, 9, AUTOCOMMIT | STATE_CHANGED, 0, b'', tracked), 1)),
        'query_resultset.bin': resp(RESP_QUERY, 0, rs),
        'query_resultset_deprecate_eof.bin': resp(RESP_QUERY, 0x01, rs, 7),
        'query_multi_results.bin': resp(RESP_QUERY, 0, result_set(['a'], [('1',)], more=True)
                                        + result_set(['b'], [('2',)], seq=6)),
        'query_err.bin': resp(RESP_QUERY, 0, packet(err(1146, '42S02', "Table doesn't exist"), 1)),
        'query_local_infile.bin': resp(RESP_QUERY, 0, packet(b'\xfb/tmp/data.csv', 1)),
        'query_capture_row.bin': resp(RESP_QUERY, 0x12, result_set(['@@x'], [('42',)])),
        'query_ext_metadata.bin': resp(RESP_QUERY, 0x04, ext_rs),
        'prepare.bin': resp(RESP_PREPARE, 0, prep),
        'prepare_swallowed.bin': resp(RESP_PREPARE, 0x03, prep, 3),
        'execute_binary.bin': resp(RESP_EXECUTE, 0x08, exec_rs),
        'execute_cached_meta.bin': resp(RESP_EXECUTE, 0x48, exec_cached),
        'execute_cursor.bin': resp(RESP_EXECUTE, 0, packet(b'\x01', 1)
                                   + packet(coldef('id', ctype=3), 2)
                                   + packet(eof(AUTOCOMMIT | CURSOR_EXISTS), 3)),
        'fetch.bin': resp(RESP_FETCH, 0, packet(binary_row, 1) + packet(eof(0x80 | 2), 2)),
        'field_list.bin': resp(RESP_FIELD_LIST, 0, packet(coldef('id'), 1)
                               + packet(coldef('name'), 2) + packet(eof(), 3)),
        'simple_ok.bin': resp(RESP_SIMPLE, 0, packet(ok(), 1)),
        'simple_eof.bin': resp(RESP_SIMPLE, 0, packet(eof(), 1)),
        'statistics.bin': resp(RESP_ANY_ONE, 0, packet(b'Uptime: 42  Threads: 1', 1)),
        'big_row.bin': resp(RESP_QUERY, 0, packet(b'\x01', 1) + packet(coldef('b'), 2)
                            + packet(eof(), 3) + packet(lstr(b'x' * 300), 4)
                            + packet(eof(), 5), 64),
    }


# ---- SQL text targets -------------------------------------------------------

def digest_seeds():
    # Two header bytes (see fuzz_digest_rules.c), then the statement.
    statements = {
        'select_in_list': 'SELECT id, name FROM users WHERE id IN (1, 2, 3) AND note = \'x\'',
        'for_update': 'SELECT * FROM orders WHERE id = 42 FOR UPDATE',
        'hinted_comment': '/* app:42 */ SELECT /*+ BKA(t) */ * FROM t -- tail\n',
        'executable_comment': 'SELECT * FROM t /*!50000 FOR UPDATE */',
        'insert_values': "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 0x1f)",
        'literals': "SELECT -1.5e3, X'AB', b'01', N'txt', _utf8mb4'x', DATE '2024-01-01'",
        'multi_statement': 'UPDATE t SET a = 1; SELECT @x := 2; SELECT LAST_INSERT_ID()',
        'named_lock': "SELECT GET_LOCK('job', 10), RELEASE_LOCK('job')",
        'cte': 'WITH c AS (SELECT 1 AS x) SELECT x FROM c',
        'show_warnings': 'SHOW WARNINGS',
        'start_ro': 'START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT;',
        'lock_tables': 'LOCK TABLES t WRITE',
        'set_autocommit': 'SET autocommit = 0',
        'drop_table': 'DROP TABLE IF EXISTS `tmp`',
        'sleep': 'SELECT SLEEP(10), sleep (3)',
        'swap_select': 'SELECT name FROM users WHERE id = 1',
        'quotes': 'SELECT "a""b", \'c\\\'d\', `e``f` FROM t WHERE x LIKE \'%%\'',
    }
    # Header byte 0 picks rule set and facts: 0x01 rw-split, 0x06 synthetic
    # set as alice, 0x52 synthetic in a transaction on billing.
    headers = [b'\x01\x00', b'\x06\x0b', b'\x52\x23', b'\x00\x80', b'\x81\x44']
    seeds = {}
    for i, (name, sql) in enumerate(sorted(statements.items())):
        seeds[name + '.sql'] = headers[i % len(headers)] + sql.encode()
    seeds['rule_from_input.sql'] = (b'\x03\x40' + rb'^(\w+)\s+(\w+)' + b'\0' + rb'\2 \1'
                                    + b'\0' + b'SELECT name FROM t')
    seeds['rule_from_input_global.sql'] = (b'\x03\xc0' + rb'\d+' + b'\0' + b'N' + b'\0'
                                           + b'SELECT 1, 22, 333 IN (1,2)')
    return seeds


def admin_seeds():
    statements = {
        'select_servers': 'SELECT * FROM mysql_servers',
        'insert_server_load': "INSERT INTO mysql_servers (hostgroup_id, hostname, port) "
        "VALUES (2, 'db3', 3307); LOAD MYSQL SERVERS TO RUNTIME",
        'save_disk': 'SAVE MYSQL QUERY RULES TO DISK; LOAD MYSQL QUERY RULES FROM DISK',
        'load_rules_force': 'LOAD MYSQL QUERY RULES TO RUNTIME FORCE; SHOW WARNINGS',
        'bad_rule': "INSERT INTO mysql_query_rules (rule_id, active, match_pattern) "
        "VALUES (99, 1, '(unclosed'); LOAD MYSQL QUERY RULES TO RUN",
        'users_load': "UPDATE mysql_users SET max_connections = 5 WHERE username = 'app'; "
        "LOAD MYSQL USERS TO RUNTIME; SAVE MYSQL USERS FROM RUNTIME",
        'variables': "SET mysql-threads = 4; UPDATE global_variables SET variable_value = '100' "
        "WHERE variable_name = 'mysql-max_connections'; LOAD MYSQL VARIABLES TO RUNTIME",
        'admin_variables': 'LOAD ADMIN VARIABLES TO RUNTIME; SAVE ADMIN VARIABLES TO DISK',
        'explain': "EXPLAIN QUERY RULES FROM MEMORY FOR 'SELECT * FROM t FOR UPDATE' "
        "USER 'app' SCHEMA \"shop\" CLIENT '10.0.0.1'",
        'versions': 'LOAD MYSQL QUERY RULES TO RUNTIME; SHOW CONFIG VERSIONS FOR MYSQL QUERY '
        'RULES; ROLLBACK MYSQL QUERY RULES TO VERSION 1',
        'diff': 'DIFF MYSQL SERVERS MEMORY DISK; DIFF MYSQL QUERY RULES VERSION 1 RUNTIME',
        'stats': 'SELECT * FROM stats_mysql_query_digest; SELECT * FROM stats_mysql_global; '
        'SELECT * FROM stats_mysql_processlist; SELECT count(*) FROM stats_mysql_pin_reasons',
        'stats_reset': 'SELECT * FROM stats_mysql_query_digest_reset; '
        'SELECT * FROM stats_mysql_connection_pool',
        'client_introspection': 'SELECT @@version_comment LIMIT 1; SELECT DATABASE(), USER(), '
        'VERSION(); SHOW DATABASES; SHOW TABLES FROM disk; SHOW CREATE TABLE mysql_users',
        'transaction': "BEGIN; DELETE FROM mysql_query_rules; ROLLBACK; USE main",
        'denied': 'DROP TABLE mysql_servers; ATTACH DATABASE \'/tmp/x.db\' AS x',
        'runtime_readonly': 'DELETE FROM runtime_mysql_servers',
        'rule_tests': "INSERT INTO mysql_query_rules_tests (query, expected_hostgroup) "
        "VALUES ('SELECT 1 FOR UPDATE', 0); LOAD MYSQL QUERY RULES TO RUNTIME",
        'comment_only': '/* nothing */ ;; -- x',
        'pragma': 'PRAGMA table_info(mysql_users)',
    }
    return {name + '.sql': sql.encode() for name, sql in statements.items()}




def session_login(caps=PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | CONNECT_WITH_DB
                  | MULTI_STATEMENTS | MULTI_RESULTS, plugin='mysql_native_password'):
    """The handshake response of user app, who has no password in the fuzz store (an empty
    token passes against any scramble)."""
    p = (u32(caps) + u32(16 << 20) + bytes([45]) + bytes(23) + b'app\0' + b'\0'
         + b'shop\0' + plugin.encode() + b'\0')
    return packet(p, 1)


def session_input(reply, client, chunk=0):
    return bytes([chunk]) + u16(len(reply)) + reply + client


def command(cmd, body=b''):
    return packet(bytes([cmd]) + body, 0)


def session_seeds():
    okp = packet(ok(), 1)
    rows = result_set(['a'], [['1'], ['2']])
    prep = packet(b'\x00' + u32(9) + u16(1) + u16(1) + b'\x00' + u16(0), 1) + packet(
        coldef('?'), 2) + packet(eof(), 3) + packet(coldef('a'), 4) + packet(eof(), 5)
    login = session_login()
    return {
        'login-ping-quit.bin': session_input(okp, login + command(0x0e) + command(0x01)),
        'login-select.bin': session_input(rows, login + command(0x03, b'SELECT a FROM t')),
        'login-select-bytewise.bin': session_input(rows, login + command(0x03, b'SELECT 1'), 1),
        'login-prepare-execute-close.bin': session_input(
            prep, login + command(0x16, b'SELECT ?') + command(0x17, u32(1) + b'\x00' + u32(1)
                                                              + b'\x00\x01\xfd\x00\x01x')
            + command(0x19, u32(1))),
        'login-use-init-db.bin': session_input(okp, login + command(0x02, b'shop')),
        'login-set-option-reset.bin': session_input(
            okp, login + command(0x1b, u16(1)) + command(0x1f)),
        'login-change-user.bin': session_input(okp, login + command(0x11, change_user())),
        'login-sha2-switch.bin': session_input(
            okp, session_login(plugin='caching_sha2_password') + packet(b'', 3)),
        'login-big-header.bin': session_input(okp, login + bytes([0xff, 0xff, 0xff, 0])),
        'preauth-oversize.bin': session_input(okp, bytes([0xff, 0xff, 0x00, 1])),
        'login-error-reply.bin': session_input(packet(err(1064, '42000', 'syntax'), 1),
                                               login + command(0x03, b'SELEC')),
    }


TARGETS = {
    'codec': codec_seeds,
    'digest_rules': digest_seeds,
    'admin_sql': admin_seeds,
    'session': session_seeds,
    'response': response_seeds,
}


def write(target, seeds):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if not name.startswith(('crash-', 'repro-')):
            os.remove(os.path.join(d, name))
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    print(f'{target}: {len(seeds)} seeds')


def main():
    names = sys.argv[1:] or list(TARGETS)
    for t in names:
        if t not in TARGETS:
            sys.exit(f'gen_corpus.py: unknown target {t}')
        write(t, TARGETS[t]())


if __name__ == '__main__':
    main()
