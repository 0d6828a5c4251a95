"""Tracked session variables replayed on another backend keep their exact value: a string
with a backslash and a quote, with and without NO_BACKSLASH_ESCAPES in the session's
sql_mode. A pool of one backend connection and a noise session with other state (harness.Noise)
make every statement of the tested session run on a backend that needs the replay."""

import pytest

from harness import Noise, connect, q

# default_master_connection is a session variable that takes any string (up to 64 bytes),
# and the server reports it through session tracking like any other.
VAR = "default_master_connection"


@pytest.mark.proxy_only
@pytest.mark.parametrize("sql_mode, literal, value", [
    ("", "'a\\\\b''c\\\\n'", "a\\b'c\\n"),                    # '\\' is one backslash
    ("NO_BACKSLASH_ESCAPES", "'x\\y''z\\'", "x\\y'z\\"),      # '\' is a backslash
], ids=["default_sql_mode", "no_backslash_escapes"])
def test_string_with_backslash_and_quote_survives_backend_changes(sluice, sql_mode, literal,
                                                                  value):
    target = sluice(cap=1, threads=1)
    conn = connect(target)
    noise = Noise(target)
    if sql_mode:
        q(conn, "SET SESSION sql_mode = '%s'" % sql_mode)
    q(conn, "SET SESSION %s = %s" % (VAR, literal))
    for _ in range(3):
        noise.between()
        got = q(conn, "SELECT @@session.%s, HEX(@@session.%s), @@session.sql_mode"
                % (VAR, VAR))[0]
        assert got[0] == value, got
        assert got[1] == value.encode().hex().upper(), got
        assert (sql_mode in got[2]) if sql_mode else "NO_BACKSLASH_ESCAPES" not in got[2], got
    noise.close()
    conn.close()
