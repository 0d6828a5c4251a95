"""Multiplexing proof: many client sessions over a few backend connections, counted on the
server itself."""

import threading
import time

import pytest

from harness import Deadline, connect, q, q1, unique

SESSIONS = 200
STATEMENTS = 50  # per session: alternately INSERT and SELECT, all autocommit
CAP = 10
OVERALL_SECONDS = 300


@pytest.mark.proxy_only
def test_200_sessions_run_on_at_most_10_backend_connections(sluice, fleet):
    target = sluice(cap=CAP, threads=2)
    deadline = Deadline(OVERALL_SECONDS)
    t = unique("mux")
    setup = connect(target)
    q(setup, "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, sess INT NOT NULL, "
             "n INT NOT NULL, KEY (sess)) ENGINE=InnoDB" % t)
    setup.close()
    assert fleet.count_connections("app") <= CAP

    errors = []
    done_statements = [0] * SESSIONS
    start_gate = threading.Barrier(SESSIONS + 1, timeout=120)
    # Sessions stay connected until every session has finished its statements, so the
    # backend connections must be shared by sessions that are all open at the same time.
    end_gate = threading.Barrier(SESSIONS, timeout=OVERALL_SECONDS)
    stop_sampling = threading.Event()
    samples = []

    def session(idx):
        conn = None
        try:
            conn = connect(target, read_timeout=120, write_timeout=120, connect_timeout=60)
        except Exception as e:
            errors.append("session %d connect: %r" % (idx, e))
        try:
            start_gate.wait()
        except threading.BrokenBarrierError:
            errors.append("session %d: start barrier broken" % idx)
            end_gate.abort()
            if conn is not None:
                conn.close()
            return
        if conn is None:
            end_gate.abort()
            return
        try:
            inserted = 0
            for i in range(STATEMENTS):
                if deadline.expired():
                    errors.append("session %d: overall deadline reached" % idx)
                    return
                if i % 2 == 0:
                    with conn.cursor() as cur:
                        n = cur.execute("INSERT INTO %s (sess, n) VALUES (%%s, %%s)" % t,
                                        (idx, i))
                    assert n == 1, "insert affected %d rows" % n
                    inserted += 1
                else:
                    got = q(conn, "SELECT COUNT(*), DATABASE() FROM %s WHERE sess = %%s" % t,
                            (idx,))
                    assert got == ((inserted, "app"),), \
                        "session %d saw %r after %d inserts" % (idx, got, inserted)
                done_statements[idx] += 1
        except Exception as e:
            errors.append("session %d statement %d: %r" % (idx, done_statements[idx], e))
        finally:
            try:
                end_gate.wait(timeout=max(0.1, deadline.left()))
            except threading.BrokenBarrierError:
                pass
            conn.close()

    def sampler():
        root = fleet.root()
        try:
            while not stop_sampling.is_set():
                samples.append(fleet.count_connections("app", conn=root))
                time.sleep(0.05)  # the sampling interval
        except Exception as e:
            errors.append("sampler: %r" % (e,))
        finally:
            root.close()

    try:
        run_sessions_and_check(samples, errors, done_statements, session, sampler,
                               start_gate, stop_sampling, deadline, fleet, t)
    finally:
        fleet.root_query("DROP TABLE IF EXISTS app.%s" % t)


def run_sessions_and_check(samples, errors, done_statements, session, sampler, start_gate,
                           stop_sampling, deadline, fleet, t):
    samp = threading.Thread(target=sampler, daemon=True)
    samp.start()
    threads = [threading.Thread(target=session, args=(i,), daemon=True)
               for i in range(SESSIONS)]
    for th in threads:
        th.start()
    try:
        start_gate.wait()
    except threading.BrokenBarrierError:
        pass
    for th in threads:
        th.join(timeout=max(0.1, deadline.left()))
    stop_sampling.set()
    samp.join(timeout=10)
    hung = sum(th.is_alive() for th in threads)

    assert hung == 0, "%d sessions still running after %d s" % (hung, OVERALL_SECONDS)
    assert not errors, "%d errors, first ones: %s" % (len(errors), errors[:5])
    assert sum(done_statements) == SESSIONS * STATEMENTS
    assert len(samples) >= 5, "sampler took only %d samples" % len(samples)
    assert max(samples) <= CAP, \
        "the primary showed %d connections from Sluice (cap %d); samples: %s" % (
            max(samples), CAP, samples)
    assert max(samples) > 0, "the sampler never saw a backend connection"
    rows = fleet.root_query("SELECT COUNT(*), COUNT(DISTINCT sess) FROM app.%s" % t)
    assert rows == ((SESSIONS * STATEMENTS // 2, SESSIONS),)


@pytest.mark.proxy_only
def test_sessions_beyond_the_cap_wait_and_then_run(sluice, fleet):
    """With a cap of 2 and two sessions holding transactions open, a third session's
    statement waits for a backend connection and completes once one is released."""
    target = sluice(cap=2)
    a = connect(target, autocommit=False)
    b = connect(target, autocommit=False)
    c = connect(target)
    try:
        q(a, "START TRANSACTION")
        q(a, "SELECT 1")
        q(b, "START TRANSACTION")
        q(b, "SELECT 1")
        assert fleet.count_connections("app") == 2
        result = []
        th = threading.Thread(target=lambda: result.append(q1(c, "SELECT 'c ran'")),
                              daemon=True)
        th.start()
        th.join(timeout=1.0)
        assert result == [], "third session ran although both backends are in transactions"
        a.commit()
        th.join(timeout=30)
        assert result == ["c ran"]
        assert fleet.count_connections("app") <= 2
        b.commit()
    finally:
        a.close()
        b.close()
        c.close()
