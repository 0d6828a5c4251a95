"""Each pool setting shown acting on the real fleet: warm-up (count, rate limit, jitter),
idle timeout, maximum age, keep-alive pings, test-on-borrow, fail-fast, connect errors
retried elsewhere and shunning, weights, OFFLINE_SOFT / OFFLINE_HARD, per-user backend
limits, and the queue-wait and advisor figures."""

import threading
import time

import pymysql
import pytest

import harness
from harness import Deadline, admin, connect, error_code, mysql_variables, poll, q, q1, wait_until

pytestmark = pytest.mark.proxy_only


def pool_rows(a, where=""):
    with a.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT * FROM stats_mysql_connection_pool " + where +
                    " ORDER BY hostgroup, srv_port")
        return cur.fetchall()


def run_concurrently(target, sql, n, user=None, password=None):
    """n sessions run sql at once; returns (elapsed seconds per session, errors)."""
    conns = [connect(target, user=user, password=password) for _ in range(n)]
    times, errors = [None] * n, []
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        t0 = time.monotonic()
        try:
            q(conns[i], sql)
        except pymysql.err.MySQLError as e:
            errors.append(e)
        times[i] = time.monotonic() - t0

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in conns:
        c.close()
    return times, errors


def test_warm_up_fills_min_idle_at_the_rate_limit_with_jitter(sluice, fleet):
    harness.require(len(fleet.replica_ports) >= 2, "needs two replicas")
    servers = "".join(
        "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) "
        "VALUES (1, '%s', %d, 20);\n" % (fleet.host, p) for p in fleet.replica_ports)
    rate = 5
    target = sluice(extra_sql=servers + mysql_variables(
        min_idle_connections=10, connection_warmup_rate=rate,
        connection_warmup_jitter_ms=5000))
    a = admin(target)
    samples = []  # (t, {port: ConnOK})
    t0 = time.monotonic()
    deadline = Deadline(20)
    while not deadline.expired():
        rows = pool_rows(a)
        samples.append((time.monotonic() - t0,
                        {int(r["srv_port"]): int(r["ConnOK"]) for r in rows}))
        if all(int(r["ConnFree"]) >= 10 for r in rows) and len(rows) == 3:
            break
        time.sleep(0.05)  # the sampling interval of the warm-up curve checked below
    rows = pool_rows(a)
    assert len(rows) == 3
    for r in rows:
        assert int(r["ConnFree"]) == 10, rows  # exactly the minimum, not more
        assert int(r["ConnERR"]) == 0
    ports = [int(r["srv_port"]) for r in rows]
    first = {}
    for p in ports:
        made = [(t, s[p]) for t, s in samples if p in s]
        first[p] = next(t for t, n in made if n > 0)
        # Never faster than the rate limit: over any stretch, at most rate per second
        # (plus the one that may land at each end of the stretch).
        for i, (ti, ni) in enumerate(made):
            for tj, nj in made[i + 1:]:
                assert nj - ni <= rate * (tj - ti) + 2, (p, ti, ni, tj, nj)
        # Ten connections at five per second take at least 1.8 s from the first one.
        done = next(t for t, n in made if n >= 10)
        assert done - first[p] >= (10 - 1) / rate * 0.9, (p, first[p], done)
    # Jitter: the servers did not start warming in step.
    assert max(first.values()) - min(first.values()) > 0.05, first
    # The primary holds what the pool says.
    assert fleet.count_connections() >= 10


def test_idle_timeout_closes_idle_connections_above_min_idle(sluice, fleet):
    target = sluice(cap=10, extra_sql=mysql_variables(connection_idle_timeout_ms=800,
                                                min_idle_connections=2))
    times, errors = run_concurrently(target, "SELECT SLEEP(0.3)", 6)
    assert not errors
    a = admin(target)
    assert int(pool_rows(a)[0]["ConnFree"]) >= 5
    poll(lambda: int(pool_rows(a)[0]["ConnFree"]), lambda n: n <= 2, 6)
    assert int(pool_rows(a)[0]["ConnFree"]) == 2  # down to the minimum, kept there
    time.sleep(1.5)  # the thing under test: nearly two idle timeouts pass, nothing closes
    assert int(pool_rows(a)[0]["ConnFree"]) == 2
    assert fleet.count_connections() == 2


def test_max_age_recycles_connections(sluice):
    target = sluice(extra_sql=mysql_variables(connection_max_age_ms=700))
    c = connect(target)
    ids = []
    deadline = Deadline(3)
    while not deadline.expired():
        ids.append(q1(c, "SELECT @@pseudo_thread_id"))
        time.sleep(0.1)  # paces the statements: 0.1 s apart, about 7 per connection age
    # One connection served everything for ~0.7 s, then the next one: several in 3 s,
    # each used for a run of consecutive statements, none ever again after replaced.
    distinct = list(dict.fromkeys(ids))
    assert len(distinct) >= 3, ids
    for i, cid in enumerate(distinct[:-1]):
        later = ids[ids.index(distinct[i + 1]):]
        assert cid not in later, ids
        assert ids.count(cid) <= 9, ids  # 0.7 s at 0.1 s per statement, with slack


def test_keepalive_ping_keeps_idle_connections_past_wait_timeout(sluice, fleet):
    root = fleet.root()
    q(root, "SET GLOBAL wait_timeout = 2")
    try:
        kept = sluice(extra_sql=mysql_variables(ping_interval_server_msec=500))
        unpinged = sluice(extra_sql=mysql_variables(ping_interval_server_msec=0))
        ck, cu = connect(kept), connect(unpinged)
        first_kept = q1(ck, "SELECT @@pseudo_thread_id")
        first_unpinged = q1(cu, "SELECT @@pseudo_thread_id")
        # Both stay idle until the server has closed the unpinged one (wait_timeout 2 s);
        # the pinged one was idle at least as long.
        wait_until(lambda: first_unpinged not in fleet.connection_ids(), 10,
                   "the server to close the unpinged idle connection")
        # Without pings the server closed its idle connection (wait_timeout); Sluice
        # noticed and the next statement ran on a new one, without an error.
        assert q1(cu, "SELECT @@pseudo_thread_id") != first_unpinged
        # With pings every 0.5 s the same backend connection is still there.
        assert q1(ck, "SELECT @@pseudo_thread_id") == first_kept
        rows = pool_rows(admin(kept))
        assert int(rows[0]["Latency_us"]) > 0  # the last ping's round trip
    finally:
        q(root, "SET GLOBAL wait_timeout = 28800")
        root.close()


def test_test_on_borrow_pings_before_each_lend(sluice, fleet):
    target = sluice(extra_sql=mysql_variables(test_on_borrow="true", ping_interval_server_msec=0))
    c = connect(target)
    q1(c, "SELECT 1")
    before = fleet.global_status("Com_admin_commands")
    for _ in range(10):
        assert q1(c, "SELECT 1") == 1
    after = fleet.global_status("Com_admin_commands")
    assert after - before >= 10  # one COM_PING per borrow

    # And a connection killed on the server is never lent: the statement still works.
    cid = q1(c, "SELECT @@pseudo_thread_id")
    q(fleet.root(), "KILL %d" % cid)
    assert q1(c, "SELECT 2") == 2
    assert q1(c, "SELECT @@pseudo_thread_id") != cid


def hold_transaction(target):
    c = connect(target, autocommit=False)
    q(c, "BEGIN")
    q(c, "SELECT 1")
    return c


def test_fail_fast_on_queue_length(sluice):
    target = sluice(cap=1, extra_sql=mysql_variables(queue_fail_fast_length=1,
                                               connect_timeout_server_max=5000))
    holder = hold_transaction(target)
    waiter_result = []
    waiter = connect(target)

    def wait_in_queue():
        try:
            waiter_result.append(q1(waiter, "SELECT 'queued'"))
        except pymysql.err.MySQLError as e:
            waiter_result.append(e)

    t = threading.Thread(target=wait_in_queue)
    t.start()
    a = admin(target)
    wait_until(lambda: int(pool_rows(a)[0]["Queue"]) >= 1, 5, "the waiter to queue")
    third = connect(target)
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as exc:
        q(third, "SELECT 1")
    assert time.monotonic() - t0 < 0.5  # refused at once, not after the 5 s deadline
    assert error_code(exc.value) == 9002
    assert "hostgroup 0 is overloaded" in str(exc.value)
    holder.commit()
    t.join(10)
    assert waiter_result == ["queued"]
    assert q1(third, "SELECT 3") == 3  # the refused session stays usable
    assert int(pool_rows(a)[0]["FailFast"]) == 1
    holder.close()


def test_fail_fast_on_queue_wait(sluice):
    target = sluice(cap=1, extra_sql=mysql_variables(queue_fail_fast_wait_ms=300,
                                               connect_timeout_server_max=5000))
    holder = hold_transaction(target)
    waiter = connect(target)
    out = []
    t = threading.Thread(target=lambda: out.append(q1(waiter, "SELECT 'late'")))
    t.start()
    a = admin(target)
    wait_until(lambda: int(pool_rows(a)[0]["Queue"]) >= 1, 5, "the waiter to queue")
    time.sleep(0.4)  # the thing under test: the head of the queue waits past the 300 ms bound
    late = connect(target)
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as exc:
        q(late, "SELECT 1")
    assert error_code(exc.value) == 9002 and time.monotonic() - t0 < 0.5
    holder.commit()
    t.join(10)
    assert out == ["late"]
    # Closes again on its own once waits drop (the breaker holds for about a second).
    def select_4():
        try:
            return q1(late, "SELECT 4")
        except pymysql.err.OperationalError as e:
            assert error_code(e) == 9002, e  # still open: refused, the session usable
            return None
    assert wait_until(select_4, 3, "the breaker to close") == 4
    holder.close()
    a.close()


def test_connect_errors_go_to_another_server_and_shun(sluice, fleet):
    # A second server in hostgroup 0 that refuses connections.
    bad = "INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections) " \
          "VALUES (0, '127.0.0.1', 1, 10);\n"
    target = sluice(cap=20, extra_sql=bad + mysql_variables(shun_on_failures=2,
                                                      shun_recovery_time_sec=30))
    # 24 new connections, each to either server at random: the odds that fewer than the two
    # that shun it (shun_on_failures) reach the refusing server are about 1 in 700,000.
    times, errors = run_concurrently(target, "SELECT @@port", 24)
    assert errors == []  # every statement ran, on the primary
    a = admin(target)
    rows = {int(r["srv_port"]): r for r in pool_rows(a)}
    assert int(rows[1]["ConnERR"]) >= 1
    assert rows[1]["status"] == "SHUNNED"
    assert rows[fleet.primary_port]["status"] == "ONLINE"


def test_weights_split_reads(sluice, fleet):
    harness.require(fleet.replica_ports, "needs a replica")
    servers = ("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections,"
               " weight) VALUES (5, '%s', %d, 10, 1), (5, '%s', %d, 10, 9);\n"
               % (fleet.host, fleet.primary_port, fleet.host, fleet.replica_ports[0]))
    target = sluice(extra_sql=servers + mysql_variables(hostgroup_hints="true"))
    c = connect(target)
    ports = [q1(c, "/* hostgroup=5 */ SELECT @@port") for _ in range(300)]
    share = ports.count(fleet.replica_ports[0]) / len(ports)
    assert 0.8 <= share <= 0.97, share  # 90% expected


def test_offline_soft_lets_transactions_finish_and_hard_breaks_them(sluice, fleet):
    target = sluice()
    a = admin(target)
    c = connect(target, autocommit=False)
    q(c, "BEGIN")
    q(c, "SELECT 1")
    q(a, "UPDATE mysql_servers SET status = 'OFFLINE_SOFT'")
    q(a, "LOAD MYSQL SERVERS TO RUNTIME")
    assert q1(c, "SELECT 2") == 2  # the open transaction finishes on its connection
    c.commit()
    other = connect(target)
    with pytest.raises(pymysql.err.OperationalError) as exc:
        q(other, "SELECT 1")
    assert error_code(exc.value) == 9001  # no new work
    poll(fleet.count_connections, lambda n: n == 0, 3)
    assert fleet.count_connections() == 0  # its connections closed once returned

    q(a, "UPDATE mysql_servers SET status = 'ONLINE'")
    q(a, "LOAD MYSQL SERVERS TO RUNTIME")
    c2 = connect(target, autocommit=False)
    q(c2, "BEGIN")
    backend = q1(c2, "SELECT @@pseudo_thread_id")
    q(a, "UPDATE mysql_servers SET status = 'OFFLINE_HARD'")
    q(a, "LOAD MYSQL SERVERS TO RUNTIME")
    wait_until(lambda: backend not in fleet.connection_ids(), 5,
               "OFFLINE_HARD to close the transaction's backend connection")
    with pytest.raises(pymysql.err.MySQLError):
        q(c2, "SELECT 2")  # its connection was closed under it: an error, not a hang
    poll(fleet.count_connections, lambda n: n == 0, 3)
    assert fleet.count_connections() == 0


def test_per_user_backend_limit_and_fair_queue(sluice, fleet):
    target = sluice(cap=6, extra_sql="UPDATE mysql_users SET max_backend_connections = 1"
                                     " WHERE username = '%s';\n" % fleet.app_user)
    result = {}

    def run(name, user, password):
        result[name] = run_concurrently(target, "SELECT SLEEP(0.6)", 3, user, password)

    ta = threading.Thread(target=run, args=("limited", fleet.app_user, fleet.app_password))
    tb = threading.Thread(target=run, args=("free", fleet.app2_user, fleet.app2_password))
    ta.start()
    tb.start()
    ta.join(30)
    tb.join(30)
    limited_times, limited_errors = result["limited"]
    free_times, free_errors = result["free"]
    assert not limited_errors and not free_errors
    # The limited user's three statements ran one at a time on one connection...
    assert max(limited_times) >= 1.7, limited_times
    # ...while the other user's ran side by side, not stuck behind them.
    assert max(free_times) < 1.5, free_times


def test_queue_wait_figures_and_advisor(sluice):
    target = sluice(cap=2)
    times, errors = run_concurrently(target, "SELECT SLEEP(0.4)", 6)
    assert not errors
    a = admin(target)
    row = pool_rows(a)[0]
    assert int(row["Exhausted"]) >= 4  # four of six had to queue
    # Traffic per server: the six statements (and the bytes both ways).
    assert int(row["Queries"]) == 6
    assert int(row["Bytes_data_sent"]) >= 6 * len("SELECT SLEEP(0.4)")
    assert int(row["Bytes_data_recv"]) > 6 * 20
    # They waited 0.4 s or 0.8 s: the median and p99 say so (buckets are within 19%).
    assert 300000 <= int(row["Queue_wait_p50_us"]) <= 1000000, row
    assert 600000 <= int(row["Queue_wait_p99_us"]) <= 1000000, row
    with a.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT * FROM stats_mysql_pool_advisor")
        adv = cur.fetchall()[0]
    assert float(adv["avg_hold_us"]) >= 350000
    assert int(adv["peak_in_use"]) == 2
    assert int(adv["suggested_connections"]) >= 1
    assert int(adv["max_connections"]) == 2


def test_keepalive_pings_do_not_grow_the_warm_pool(sluice):
    """A connection out for its keep-alive ping still counts as idle: warm-up does not open
    another one in its place, so pings every 100 ms leave the pool at its minimum."""
    target = sluice(extra_sql=mysql_variables(min_idle_connections=3, connection_warmup_rate=50,
                                        connection_warmup_jitter_ms=0,
                                        ping_interval_server_msec=100))
    a = admin(target)
    poll(lambda: int(pool_rows(a)[0]["ConnOK"]), lambda n: n >= 3, 10)
    time.sleep(2.0)  # the thing under test: about 60 pings go by
    row = pool_rows(a)[0]
    assert int(row["ConnOK"]) == 3, row
    assert int(row["ConnFree"]) + int(row["ConnUsed"]) == 3, row
    assert int(row["Latency_us"]) > 0


def test_a_released_connection_serves_its_hostgroup_queue_on_any_server(sluice, fleet):
    """Requests queue at one server, but they want their hostgroup: when every server of it
    is at its cap, a connection coming back to one server serves a request queued at the
    other instead of idling while it waits for the deadline."""
    harness.require(fleet.replica_ports, "needs a replica")
    servers = ("INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections)"
               " VALUES (5, '%s', %d, 1), (5, '%s', %d, 1);\n"
               % (fleet.host, fleet.primary_port, fleet.host, fleet.replica_ports[0]))
    target = sluice(extra_sql=servers + mysql_variables(hostgroup_hints="true",
                                                  connect_timeout_server_max=4000))
    a = admin(target)
    for _ in range(4):  # the waiter queues at either server at random
        holders = []
        for _ in range(2):  # one transaction on each server: both at their cap
            h = connect(target)
            q(h, "/* hostgroup=5 */ BEGIN")
            q(h, "SELECT 1")
            holders.append(h)
        ports = {q1(h, "SELECT @@port") for h in holders}
        assert ports == {fleet.primary_port, fleet.replica_ports[0]}
        waiter = connect(target)
        out = []
        t = threading.Thread(target=lambda: out.append(q1(waiter, "/* hostgroup=5 */ SELECT 7")))
        t.start()
        wait_until(lambda: sum(int(r["Queue"]) for r in pool_rows(a, "WHERE hostgroup = 5"))
                   >= 1, 5, "the waiter to queue")
        t0 = time.monotonic()
        q(holders[0], "COMMIT")  # frees one server, whichever the waiter queued at
        t.join(10)
        assert out == [7]
        assert time.monotonic() - t0 < 1.5  # not the 4 s deadline
        for c in holders + [waiter]:
            c.close()
    a.close()
