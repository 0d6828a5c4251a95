"""Prometheus metrics over HTTP (admin-restapi_enabled, admin-restapi_port; ops/metrics.c).

Each Sluice gets its own admin-restapi_port so parallel instances do not collide; the whole
exposition is validated with `promtool check metrics` (Debian package prometheus, installed by
tests/lib-install.sh: a missing promtool fails the test rather than skipping it).
"""

import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pymysql
import pytest

import harness

pytestmark = pytest.mark.proxy_only

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def start(sluice, **kw):
    """A Sluice with metrics on a free port; returns (target, metrics base URL)."""
    port = harness.free_ports(1, harness.SLUICE_PORT_RANGE)[0]
    sql = ("INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES "
           "('admin-restapi_enabled', 'true'), ('admin-restapi_port', '%d');" % port)
    target = sluice(extra_sql=sql, **kw)
    # The MySQL port listens from proxy_new(); the metrics listener a moment later.
    assert harness.wait_port(harness.HOST, port, 10, target.proc), \
        "metrics port %d not listening" % port
    return target, "http://%s:%d" % (harness.HOST, port)


def get(url, method="GET"):
    """(status, content type, body text) of one request; HTTP errors included."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode("utf-8")


def raw(port, data):
    """Sends data as it is and returns everything the server answers before closing."""
    with socket.create_connection((harness.HOST, port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks)


def parse(text):
    """{(name, frozenset of (label, value)): float} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, "no sample %s%r in the exposition" % (name, labels)
    return samples[key]


def promtool_check(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (Debian package prometheus; "
                    "tests/lib-install.sh installs it)")
    r = subprocess.run([promtool, "check", "metrics"], input=text, universal_newlines=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip(), \
        "promtool check metrics (exit %d):\n%s" % (r.returncode, r.stdout)


def test_metrics_scrape(sluice, fleet):
    target, base = start(sluice, cap=7)
    n = 25
    conn = harness.connect(target)
    try:
        for i in range(n):
            assert harness.q1(conn, "SELECT %d" % i) == i
        conn.ping(reconnect=False)
        with pytest.raises(pymysql.err.OperationalError) as ei:
            harness.connect(target, password="wrong")
        assert harness.error_code(ei.value) == 1045

        status, ctype, body = get(base + "/metrics")
        assert status == 200
        assert ctype == CONTENT_TYPE
        promtool_check(body)
        s = parse(body)
        assert value(s, "sluice_up") == 1
        assert value(s, "sluice_build_info", version="0.1.0") == 1
        assert value(s, "sluice_start_time_seconds") > 1.6e9
        assert value(s, "sluice_commands_total", command="COM_QUERY") >= n
        assert value(s, "sluice_commands_total", command="COM_PING") >= 1
        assert value(s, "sluice_client_connections_accepted_total") >= 2
        assert value(s, "sluice_client_connections") >= 1
        assert value(s, "sluice_client_auth_failures_total") >= 1
        assert value(s, "sluice_queries_total") >= n
        assert value(s, "sluice_query_time_seconds_total") > 0

        server = dict(hostgroup="0", server="%s:%d" % (fleet.host, fleet.primary_port))
        assert value(s, "sluice_pool_connections_max", **server) == 7
        used = value(s, "sluice_pool_connections_used", **server)
        free = value(s, "sluice_pool_connections_free", **server)
        assert 1 <= used + free <= 7
        assert value(s, "sluice_pool_queue_length", **server) == 0
        assert value(s, "sluice_pool_connections_created_total", **server) >= 1
        assert value(s, "sluice_pool_connection_errors_total", **server) == 0
        assert 1 <= value(s, "sluice_pool_connections_max_used", **server) <= 7
        assert value(s, "sluice_pool_server_status", status="ONLINE", **server) == 1
        assert value(s, "sluice_pool_server_status", status="SHUNNED", **server) == 0
        # Nobody queued: the wait histogram is there and empty.
        assert value(s, "sluice_pool_queue_wait_seconds_count", **server) == 0
        assert value(s, "sluice_pool_queue_wait_seconds_bucket", le="+Inf", **server) == 0
    finally:
        conn.close()


def test_queue_wait_histogram_counts_waits(sluice, fleet):
    target, base = start(sluice, cap=1)
    holder = harness.connect(target, autocommit=False)
    harness.q(holder, "BEGIN")
    harness.q(holder, "SELECT 1")
    waiter = harness.connect(target)
    t = threading.Thread(target=lambda: harness.q(waiter, "SELECT 2"))
    t.start()
    server = dict(hostgroup="0", server="%s:%d" % (fleet.host, fleet.primary_port))
    harness.wait_until(lambda: value(parse(get(base + "/metrics")[2]),
                                     "sluice_pool_queue_length", **server) == 1,
                       10, "the second statement to queue")
    # The thing under test: the queued statement waits 0.3 s more for the holder's connection.
    time.sleep(0.3)
    holder.commit()
    t.join(10)
    status, _, body = get(base + "/metrics")
    assert status == 200
    promtool_check(body)
    s = parse(body)
    assert value(s, "sluice_pool_queue_wait_seconds_count", **server) == 1
    assert value(s, "sluice_pool_queue_wait_seconds_bucket", le="0.1", **server) == 0
    assert value(s, "sluice_pool_queue_wait_seconds_bucket", le="0.5", **server) == 1
    assert 0.25 <= value(s, "sluice_pool_queue_wait_seconds_sum", **server) <= 0.5
    assert value(s, "sluice_pool_exhausted_total", **server) == 1
    holder.close()
    waiter.close()

    # HEAD: the headers of a scrape, no body.
    status, ctype, body = get(base + "/metrics", method="HEAD")
    assert (status, ctype, body) == (200, CONTENT_TYPE, "")
    # A query string does not change the path.
    assert get(base + "/metrics?x=1")[0] == 200


def test_metrics_errors(sluice):
    target, base = start(sluice)
    port = int(base.rsplit(":", 1)[1])
    assert get(base + "/")[0] == 404
    assert get(base + "/metricsx")[0] == 404
    assert get(base + "/metrics", method="POST")[0] == 405

    resp = raw(port, b"this is not http\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400 "), resp[:80]
    resp = raw(port, b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400 "), resp[:80]
    resp = raw(port, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 431 "), resp[:80]
    # HTTP/1.0 and bare LF line ends are fine; the server closes after one response.
    resp = raw(port, b"GET /metrics HTTP/1.0\n\n")
    assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), resp[:80]
    assert b"\r\nConnection: close\r\n" in resp
    assert b"\nsluice_up 1\n" in resp

    # A client that sends nothing is dropped at the deadline, not kept forever; meanwhile
    # scrapes still work (the loop never waits for it).
    with socket.create_connection((harness.HOST, port), timeout=15) as idle:
        assert get(base + "/metrics")[0] == 200
        idle.settimeout(15)
        assert idle.recv(100) == b""

    # Sluice still serves its clients.
    conn = harness.connect(target)
    try:
        assert harness.q1(conn, "SELECT 1") == 1
    finally:
        conn.close()


def test_metrics_disabled(sluice):
    port = harness.free_ports(1, harness.SLUICE_PORT_RANGE)[0]
    target = sluice(extra_sql="INSERT OR REPLACE INTO global_variables "
                              "(variable_name, variable_value) VALUES "
                              "('admin-restapi_enabled', 'false'), "
                              "('admin-restapi_port', '%d');" % port)
    conn = harness.connect(target)
    try:
        assert harness.q1(conn, "SELECT 1") == 1
    finally:
        conn.close()
    assert not harness.wait_port(harness.HOST, port, 0.5)
