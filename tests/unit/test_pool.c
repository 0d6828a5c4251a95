/*
 * Pool bookkeeping and the life of connections, without a database: the
 * last-minute figures (queue-wait percentiles, window expiry, the
 * Little's-law advisor), the weighted choice of a server, fail-fast and
 * offline states, observed through the pool's own counters; then failed
 * connects (a port where nothing listens) and shunning, and the lending,
 * return, cancel and cross-worker hand-over of connections that stand in
 * for established ones (see fake_conn()). Loops are driven until a
 * condition holds, within a deadline, never for a fixed time.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
/* clang-format on */

#include "pool/pool_int.h"

/* Settings for pools that never wait on a connect long. */
static const struct pool_settings quick = {.connect_timeout_ms = 1000};

static void test_wait_percentiles(void **state)
{
    (void)state;
    struct server *s = calloc(1, sizeof(*s));
    struct pool_server_stats st;
    uint64_t now = 1000000;

    assert_non_null(s);
    s->since = 0;
    /* 1..1000 ms, one each: median 500 ms, p99 990 ms. */
    for (uint64_t ms = 1; ms <= 1000; ms++)
        pool_record_wait(s, ms * 1000u, now);
    memset(&st, 0, sizeof(st));
    pool_stats_fill(s, &st, now);
    assert_int_equal(st.waits_last_min, 1000);
    assert_in_range(st.wait_p50_us, 500000 * 81 / 100, 500000 * 119 / 100);
    assert_in_range(st.wait_p99_us, 990000 * 81 / 100, 990000 * 119 / 100);

    /* A minute later the windows have expired. */
    memset(&st, 0, sizeof(st));
    pool_stats_fill(s, &st, now + 61000);
    assert_int_equal(st.waits_last_min, 0);
    assert_int_equal(st.wait_p99_us, 0);
    free(s);
}

static void test_small_waits_exact(void **state)
{
    (void)state;
    struct server *s = calloc(1, sizeof(*s));
    struct pool_server_stats st;

    assert_non_null(s);
    for (int i = 0; i < 10; i++)
        pool_record_wait(s, 3, 5000);
    memset(&st, 0, sizeof(st));
    pool_stats_fill(s, &st, 5000);
    assert_int_equal(st.wait_p50_us, 3);
    assert_int_equal(st.wait_p99_us, 3);
    free(s);
}

static void test_advisor_littles_law(void **state)
{
    (void)state;
    struct server *s = calloc(1, sizeof(*s));
    struct pool_server_stats st;
    uint64_t start = 10 * 60000;

    assert_non_null(s);
    s->since = 0;
    /* Ten borrows a second of 200 ms each for a minute: L = 10 * 0.2 = 2. */
    for (uint64_t t = 0; t < 60000; t += 100) {
        struct pool_window *w = pool_window_now(s, start + t);
        w->borrows++;
        w->hold_us += 200000;
        if (w->peak_lent < 3)
            w->peak_lent = 3;
    }
    memset(&st, 0, sizeof(st));
    pool_stats_fill(s, &st, start + 59999);
    assert_true(st.borrows_per_sec > 9.0 && st.borrows_per_sec < 11.5);
    assert_true(st.avg_hold_us > 199999.0 && st.avg_hold_us < 200001.0);
    assert_true(st.avg_in_use > 1.8 && st.avg_in_use < 2.3);
    /* 2 + 3 * sqrt(2) = 6.24 */
    assert_int_equal(st.suggested, 7);
    assert_int_equal(st.peak_in_use, 3);
    free(s);
}

static int callbacks;
static void never_cb(void *arg, struct pool_conn *conn, int err, const char *errmsg)
{
    (void)arg;
    (void)conn;
    (void)err;
    (void)errmsg;
    callbacks++;
}

static void test_weighted_choice_and_fail_fast(void **state)
{
    (void)state;
    static const struct pool_server_spec specs[] = {
        {.hostgroup = 0, .host = "a", .port = 1, .max_connections = 0, .weight = 1},
        {.hostgroup = 0, .host = "b", .port = 2, .max_connections = 0, .weight = 3},
        {.hostgroup = 0,
         .host = "c",
         .port = 3,
         .max_connections = 0,
         .weight = 5,
         .status = POOL_SERVER_OFFLINE_SOFT},
    };
    struct pool_settings settings = quick;
    struct pool_waiter *waiters[800];
    struct pool_server_stats st[3];
    uv_loop_t loop;
    struct pool *p;

    assert_int_equal(uv_loop_init(&loop), 0);
    p = pool_new(specs, 3, 1, &settings);
    assert_non_null(p);
    assert_int_equal(pool_worker_attach(p, 0, &loop), 0);
    for (int i = 0; i < 800; i++) {
        struct pool_conn *conn;
        assert_int_equal(
            pool_acquire(p, 0, 0, "app", "pw", false, 0, never_cb, NULL, &conn, &waiters[i]),
            POOL_PENDING);
    }
    for (int i = 0; i < 3; i++)
        pool_server_stats(p, (size_t)i, &st[i]);
    /* 1:3 by weight; the offline server gets nothing. */
    assert_int_equal(st[0].waiting + st[1].waiting, 800);
    assert_in_range(st[0].waiting, 150, 250);
    assert_int_equal(st[2].waiting, 0);
    assert_int_equal(st[0].exhausted + st[1].exhausted, 800);
    assert_string_equal(pool_strerror(POOL_EOVERLOAD), "hostgroup overloaded");
    assert_int_equal(st[2].status, POOL_SERVER_OFFLINE_SOFT);

    /* Fail fast once 100 wait on a server: every new request is refused. */
    settings.fail_fast_queue_length = 100;
    pool_configure(p, &settings);
    struct pool_conn *conn;
    struct pool_waiter *w;
    assert_int_equal(pool_acquire(p, 0, 0, "app", "pw", false, 0, never_cb, NULL, &conn, &w),
                     POOL_EOVERLOAD);
    assert_null(w);
    pool_server_stats(p, 0, &st[0]);
    pool_server_stats(p, 1, &st[1]);
    assert_int_equal(st[0].fail_fast + st[1].fail_fast, 1);

    /* No usable server at all. */
    assert_int_equal(pool_acquire(p, 0, 7, "app", "pw", false, 0, never_cb, NULL, &conn, &w),
                     POOL_ENOSERVER);

    for (int i = 0; i < 800; i++)
        pool_cancel(p, waiters[i]);
    pool_server_stats(p, 0, &st[0]);
    assert_int_equal(st[0].waiting, 0);
    assert_int_equal(callbacks, 0);
    pool_worker_detach(p, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pool_free(p);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_gtid_positions(void **state)
{
    (void)state;
    static const struct pool_server_spec specs[] = {
        {.hostgroup = 1, .host = "r1", .port = 3307, .max_connections = 1, .weight = 1},
        {.hostgroup = 2, .host = "r1", .port = 3307, .max_connections = 1, .weight = 1},
    };
    struct pool *p = pool_new(specs, 2, 1, &quick);
    assert_non_null(p);
    struct pool_conn conn = {.pool = p, .server = &p->servers[1]};

    /* Unknown until the monitor says. */
    assert_false(pool_conn_has_gtid(&conn, "0-1-10"));
    pool_set_applied_gtid(p, "r1", 3307, "0-1-10,2-5-7");
    /* Every hostgroup entry of r1:3307 takes it. */
    conn.server = &p->servers[0];
    assert_true(pool_conn_has_gtid(&conn, "0-1-10"));
    assert_true(pool_conn_has_gtid(&conn, "0-1-9"));
    assert_true(pool_conn_has_gtid(&conn, "0-3-9")); /* sequence order, any server id */
    assert_false(pool_conn_has_gtid(&conn, "0-1-11"));
    assert_true(pool_conn_has_gtid(&conn, "2-5-7"));
    assert_false(pool_conn_has_gtid(&conn, "1-1-1")); /* a domain it has not seen */
    assert_false(pool_conn_has_gtid(&conn, "garbage"));
    assert_false(pool_conn_has_gtid(&conn, "0-1-10x"));
    pool_set_applied_gtid(p, "r1", 3307, "");
    assert_false(pool_conn_has_gtid(&conn, "0-1-1"));
    pool_free(p);
}

static void test_max_latency(void **state)
{
    (void)state;
    static const struct pool_server_spec specs[] = {
        {.hostgroup = 0, .host = "a", .port = 1, .weight = 1, .max_latency_ms = 5},
        {.hostgroup = 0, .host = "b", .port = 2, .weight = 1, .max_latency_ms = 5},
    };
    struct pool_waiter *w[200];
    struct pool_server_stats st[2];
    struct pool_conn *conn;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct pool *p = pool_new(specs, 2, 1, &quick);
    assert_non_null(p);
    assert_int_equal(pool_worker_attach(p, 0, &loop), 0);

    /* a answers in 10 ms, over its 5 ms bound: b takes everything. */
    pool_set_latency(p, "a", 1, 10000);
    pool_set_latency(p, "b", 2, 1000);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pool_acquire(p, 0, 0, "u", "", false, 0, never_cb, NULL, &conn, &w[i]),
                         POOL_PENDING);
    pool_server_stats(p, 0, &st[0]);
    pool_server_stats(p, 1, &st[1]);
    assert_int_equal(st[0].waiting, 0);
    assert_int_equal(st[1].waiting, 100);
    assert_int_equal(st[0].latency_us, 10000);

    /* Both slow: neither is refused, the weights decide again. */
    pool_set_latency(p, "b", 2, 20000);
    for (int i = 100; i < 200; i++)
        assert_int_equal(pool_acquire(p, 0, 0, "u", "", false, 0, never_cb, NULL, &conn, &w[i]),
                         POOL_PENDING);
    pool_server_stats(p, 0, &st[0]);
    assert_in_range(st[0].waiting, 25, 75);

    for (int i = 0; i < 200; i++)
        pool_cancel(p, w[i]);
    pool_worker_detach(p, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pool_free(p);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------- connections and loops */

/* What a pool_ready_cb saw. */
struct ready {
    int calls;
    int err;
    struct pool_conn *conn;
    char msg[256];
};

static void ready_cb(void *arg, struct pool_conn *conn, int err, const char *errmsg)
{
    struct ready *r = arg;
    r->calls++;
    r->err = err;
    r->conn = conn;
    snprintf(r->msg, sizeof(r->msg), "%s", errmsg ? errmsg : "");
}

/* Runs every loop once, without blocking when there are several (they
 * take turns on this thread), until cond holds or 5 s pass. */
#define RUN_UNTIL(loops, n, cond)                                                                  \
    do {                                                                                           \
        uint64_t deadline_ = uv_hrtime() + 5000000000u;                                            \
        while (!(cond) && uv_hrtime() < deadline_)                                                 \
            for (int i_ = 0; i_ < (n); i_++)                                                       \
                uv_run((loops)[i_], (n) == 1 ? UV_RUN_ONCE : UV_RUN_NOWAIT);                       \
        assert_true(cond);                                                                         \
    } while (0)

/* Detaches every worker, lets the loops close their handles (bounded), and
 * frees the pool: nothing may be left on any loop. */
static void teardown_pool(struct pool *p, uv_loop_t **loops, int n)
{
    for (int i = 0; i < n; i++)
        pool_worker_detach(p, i);
    for (int i = 0; i < n; i++) {
        uint64_t deadline = uv_hrtime() + 5000000000u;
        while (uv_run(loops[i], UV_RUN_NOWAIT) && uv_hrtime() < deadline)
            ;
    }
    pool_free(p);
    for (int i = 0; i < n; i++)
        assert_int_equal(uv_loop_close(loops[i]), 0);
}

static struct pool_server_stats stats_of(struct pool *p, size_t index)
{
    struct pool_server_stats st;
    pool_server_stats(p, index, &st);
    return st;
}

/* A port on 127.0.0.1 that refuses connections: a bound TCP socket that
 * does not listen, held (in *fd) so nobody else takes the port. */
static int refusing_port(int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/*
 * An established connection without a server. A real connect needs a
 * MariaDB server, which unit tests do not have, so this builds the
 * connection as connect_finish() leaves it, through pool_int.h: its socket
 * is one end of a socketpair(), its uv_poll_t lives on worker's loop, it
 * has no MYSQL handle (pool_conn_free() then skips mysql_close(), so the
 * test closes the socket itself), and its slot is counted by hand as
 * pool_start_connect()'s callers do. pool_offer() then puts it in play,
 * idle on worker.
 */
static struct pool_conn *fake_conn(struct pool *p, size_t server, int worker, int fd,
                                   const char *user)
{
    struct server *s = &p->servers[server];
    struct pool_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->pool = p;
    c->server = s;
    c->worker = worker;
    c->state = CONN_CONNECTING;
    c->fd = fd;
    snprintf(c->user, sizeof(c->user), "%s", user);
    assert_int_equal(uv_poll_init_socket(p->workers[worker].loop, &c->poll, fd), 0);
    c->poll_inited = true;
    c->poll.data = c;
    pthread_mutex_lock(&s->lock);
    s->open++;
    pthread_mutex_unlock(&s->lock);
    pool_offer(c);
    return c;
}

/* A pool whose n workers (1 or 2) each run a loop of their own, and the
 * socketpair of paired_conn() (-1: none, or closed by the test). */
struct rig {
    uv_loop_t loop[2];
    uv_loop_t *loops[2];
    int n;
    struct pool *p;
    int sv[2];
};

static struct pool *rig_start(struct rig *g, const struct pool_server_spec *specs, size_t n_specs,
                              int n, const struct pool_settings *settings)
{
    g->n = n;
    g->sv[0] = g->sv[1] = -1;
    for (int i = 0; i < n; i++) {
        g->loops[i] = &g->loop[i];
        assert_int_equal(uv_loop_init(&g->loop[i]), 0);
    }
    g->p = pool_new(specs, n_specs, n, settings);
    assert_non_null(g->p);
    for (int i = 0; i < n; i++)
        assert_int_equal(pool_worker_attach(g->p, i, &g->loop[i]), 0);
    return g->p;
}

/* teardown_pool(), then closes the socketpair. */
static void rig_stop(struct rig *g)
{
    teardown_pool(g->p, g->loops, g->n);
    for (int i = 0; i < 2; i++)
        if (g->sv[i] >= 0)
            close(g->sv[i]);
}

/* A fake_conn() of user app on one end of a new socketpair, g->sv. */
static struct pool_conn *paired_conn(struct rig *g, size_t server, int worker)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, g->sv), 0);
    return fake_conn(g->p, server, worker, g->sv[0], "app");
}

/* pool_acquire() for app on worker, reporting to r through ready_cb. */
static int acquire(struct pool *p, int worker, int hostgroup, struct ready *r,
                   struct pool_conn **conn, struct pool_waiter **w)
{
    return pool_acquire(p, worker, hostgroup, "app", "pw", false, 0, ready_cb, r, conn, w);
}

static void test_connect_failure_shuns(void **state)
{
    (void)state;
    int lfd;
    int port = refusing_port(&lfd);
    struct pool_server_spec spec = {
        .hostgroup = 0, .host = "127.0.0.1", .port = port, .max_connections = 4, .weight = 1};
    struct pool_settings settings = {
        .connect_timeout_ms = 3000, .shun_on_failures = 2, .shun_recovery_ms = 60000};
    struct rig g;
    struct pool_conn *conn;
    struct pool_waiter *w;

    struct pool *p = rig_start(&g, &spec, 1, 1, &settings);
    for (uint64_t i = 1; i <= 2; i++) {
        struct ready r = {0};
        assert_int_equal(acquire(p, 0, 0, &r, &conn, &w), POOL_PENDING);
        assert_int_equal(r.calls, 0); /* never inside pool_acquire */
        RUN_UNTIL(g.loops, g.n, r.calls > 0);
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.err, POOL_ECONNECT);
        assert_null(r.conn);
        assert_non_null(strstr(r.msg, "127.0.0.1"));
        /* The failed connection closes from the loop and frees its slot. */
        RUN_UNTIL(g.loops, g.n, stats_of(p, 0).open == 0);
        assert_int_equal(stats_of(p, 0).created_err, i);
        assert_int_equal(stats_of(p, 0).created_ok, 0);
        assert_int_equal(stats_of(p, 0).status, i < 2 ? POOL_SERVER_ONLINE : POOL_SERVER_SHUNNED);
    }
    /* Shunned: no usable server, refused at once. */
    assert_int_equal(acquire(p, 0, 0, NULL, &conn, &w), POOL_ENOSERVER);
    rig_stop(&g);
    close(lfd);
}

/* A request whose connect fails tries the hostgroup's other server before
 * its callback reports the error. */
static void test_connect_failure_rerouted(void **state)
{
    (void)state;
    int fd[2];
    struct pool_server_spec specs[2];
    for (int i = 0; i < 2; i++)
        specs[i] = (struct pool_server_spec){.hostgroup = 3,
                                             .host = "127.0.0.1",
                                             .port = refusing_port(&fd[i]),
                                             .max_connections = 1,
                                             .weight = 1};
    struct pool_settings settings = {.connect_timeout_ms = 3000};
    struct rig g;
    struct pool_conn *conn;
    struct pool_waiter *w;
    struct ready r = {0};

    struct pool *p = rig_start(&g, specs, 2, 1, &settings);
    assert_int_equal(acquire(p, 0, 3, &r, &conn, &w), POOL_PENDING);
    RUN_UNTIL(g.loops, g.n, r.calls > 0);
    assert_int_equal(r.err, POOL_ECONNECT);
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).open + stats_of(p, 1).open == 0);
    assert_int_equal(stats_of(p, 0).created_err, 1);
    assert_int_equal(stats_of(p, 1).created_err, 1);
    assert_int_equal(r.calls, 1);
    rig_stop(&g);
    close(fd[0]);
    close(fd[1]);
}

/* One slot, so that a request waits while the connection is lent; nothing
 * connects, but a bug that did would be refused at once on port 1. */
static const struct pool_server_spec one_slot = {
    .hostgroup = 0, .host = "127.0.0.1", .port = 1, .max_connections = 1, .weight = 1};

static void test_release_reuses_or_closes(void **state)
{
    (void)state;
    struct rig g;
    struct pool_conn *conn, *got;
    struct pool_waiter *w;
    struct ready r = {0};

    struct pool *p = rig_start(&g, &one_slot, 1, 1, &quick);
    struct pool_conn *c = paired_conn(&g, 0, 0);
    assert_int_equal(stats_of(p, 0).idle, 1);

    /* Idle and of the same account: lent at once, no callback. */
    assert_int_equal(acquire(p, 0, 0, &r, &got, &w), 0);
    assert_ptr_equal(got, c);
    assert_int_equal(stats_of(p, 0).idle, 0);
    pool_release(c, true);
    assert_int_equal(stats_of(p, 0).idle, 1);
    assert_int_equal(acquire(p, 0, 0, &r, &got, &w), 0);
    assert_ptr_equal(got, c);

    /* Returned while a request waits: it goes to that request, from the
     * loop rather than inside pool_release. */
    assert_int_equal(acquire(p, 0, 0, &r, &conn, &w), POOL_PENDING);
    assert_int_equal(stats_of(p, 0).waiting, 1);
    pool_release(c, true);
    assert_int_equal(r.calls, 0);
    RUN_UNTIL(g.loops, g.n, r.calls > 0);
    assert_int_equal(r.err, 0);
    assert_ptr_equal(r.conn, c);
    struct pool_server_stats st = stats_of(p, 0);
    assert_int_equal(st.created_ok + st.created_err, 0); /* never a new connect */
    assert_int_equal(st.open, 1);

    /* Not reusable: closed, its slot freed. */
    pool_release(c, false);
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).open == 0);
    assert_int_equal(stats_of(p, 0).idle, 0);
    rig_stop(&g);
}

static void test_cancel_during_delivery(void **state)
{
    (void)state;
    struct rig g;
    struct pool_conn *got;
    struct pool_waiter *w1, *w2, *w3;
    struct ready r1 = {0}, r2 = {0}, r3 = {0};

    struct pool *p = rig_start(&g, &one_slot, 1, 1, &quick);
    struct pool_conn *c = paired_conn(&g, 0, 0);
    assert_int_equal(acquire(p, 0, 0, &r1, &got, &w1), 0);

    /* Two wait; the connection is handed to the first, which is cancelled
     * before the hand-over reaches it: the second gets it. */
    assert_int_equal(acquire(p, 0, 0, &r2, &got, &w2), POOL_PENDING);
    assert_int_equal(acquire(p, 0, 0, &r3, &got, &w3), POOL_PENDING);
    pool_release(c, true);
    assert_int_equal(stats_of(p, 0).waiting, 1);
    pool_cancel(p, w2);
    RUN_UNTIL(g.loops, g.n, r3.calls > 0);
    assert_ptr_equal(r3.conn, c);
    assert_int_equal(r2.calls, 0);

    /* The same with nobody behind: the connection goes back idle. */
    assert_int_equal(acquire(p, 0, 0, &r2, &got, &w2), POOL_PENDING);
    pool_release(c, true);
    pool_cancel(p, w2);
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).idle == 1);
    assert_int_equal(r2.calls, 0);
    assert_int_equal(stats_of(p, 0).open, 1);
    assert_int_equal(stats_of(p, 0).waiting, 0);
    rig_stop(&g);
}

/* What an I/O callback saw; it reads one byte and gives the connection
 * back from inside, as the contract in pool.h allows. */
struct io_seen {
    struct pool_conn *conn;
    int calls;
    int status;
    int events;
};

static void io_release_cb(void *arg, int status, int events)
{
    struct io_seen *io = arg;
    char b;
    io->calls++;
    io->status = status;
    io->events = events;
    assert_int_equal(recv(pool_conn_fd(io->conn), &b, 1, 0), 1);
    pool_release(io->conn, true);
}

static void test_cross_worker_handover(void **state)
{
    (void)state;
    struct rig g;
    struct pool_conn *got;
    struct pool_waiter *w;
    struct ready r1 = {0}, r0 = {0};
    struct io_seen io = {0};

    struct pool *p = rig_start(&g, &one_slot, 1, 2, &quick);
    struct pool_conn *c = paired_conn(&g, 0, 1);

    /* Lent on worker 1; worker 0 queues; the return on worker 1 serves
     * worker 0: its poll handle closes on loop 1, and it arrives through
     * worker 0's inbox with a new one on loop 0. */
    assert_int_equal(acquire(p, 1, 0, &r1, &got, &w), 0);
    assert_int_equal(acquire(p, 0, 0, &r0, &got, &w), POOL_PENDING);
    pool_release(c, true);
    assert_int_equal(r0.calls, 0);
    RUN_UNTIL(g.loops, g.n, r0.calls > 0);
    assert_int_equal(r0.err, 0);
    assert_ptr_equal(r0.conn, c);
    assert_int_equal(c->worker, 0);
    assert_ptr_equal(c->poll.loop, &g.loop[0]);

    /* It works there: readiness reaches the borrower on loop 0, which
     * releases it from its callback; it then idles on worker 0. */
    io.conn = c;
    pool_conn_watch(c, UV_READABLE, io_release_cb, &io);
    assert_int_equal(write(g.sv[1], "x", 1), 1);
    RUN_UNTIL(g.loops, g.n, io.calls > 0);
    assert_int_equal(io.status, 0);
    assert_true(io.events & UV_READABLE);
    assert_int_equal(p->servers[0].idle[0].count, 1);
    assert_int_equal(stats_of(p, 0).open, 1);

    /* An idle connection of worker 0 is donated when worker 1 queues (the
     * slot is taken, so worker 1 cannot connect). */
    r1 = (struct ready){0};
    assert_int_equal(acquire(p, 1, 0, &r1, &got, &w), POOL_PENDING);
    RUN_UNTIL(g.loops, g.n, r1.calls > 0);
    assert_ptr_equal(r1.conn, c);
    assert_ptr_equal(c->poll.loop, &g.loop[1]);
    pool_release(c, true);
    assert_int_equal(p->servers[0].idle[1].count, 1);
    assert_int_equal(stats_of(p, 0).created_ok + stats_of(p, 0).created_err, 0);
    rig_stop(&g);
}

static void test_cancel_during_cross_worker_handover(void **state)
{
    (void)state;
    struct rig g;
    struct pool_conn *got;
    struct pool_waiter *w;
    struct ready r1 = {0}, r0 = {0};

    struct pool *p = rig_start(&g, &one_slot, 1, 2, &quick);
    struct pool_conn *c = paired_conn(&g, 0, 1);
    assert_int_equal(acquire(p, 1, 0, &r1, &got, &w), 0);
    assert_int_equal(acquire(p, 0, 0, &r0, &got, &w), POOL_PENDING);

    /* Cancelled while the connection is between the loops. */
    pool_release(c, true);
    pool_cancel(p, w);
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).idle == 1);
    assert_int_equal(r0.calls, 0);
    assert_int_equal(stats_of(p, 0).open, 1);
    /* Kept where it arrived, watched from that loop: the server hanging up
     * is noticed and the idle connection closes. */
    assert_int_equal(c->worker, 0);
    assert_int_equal(p->servers[0].idle[0].count, 1);
    assert_true(c->poll_inited);
    assert_ptr_equal(c->poll.loop, &g.loop[0]);
    close(g.sv[1]);
    g.sv[1] = -1;
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).open == 0);
    rig_stop(&g);
}

/* A slot freed on a shunned server does not take a request queued at
 * another server of the hostgroup: the request would fail there a second
 * time and reach its session as an error. */
static void test_shunned_server_takes_no_queued_request(void **state)
{
    (void)state;
    int lfd;
    struct pool_server_spec specs[] = {
        {.hostgroup = 0,
         .host = "127.0.0.1",
         .max_connections = 1,
         .weight = 1,
         .status = POOL_SERVER_OFFLINE_SOFT},
        {.hostgroup = 0, .host = "127.0.0.1", .port = 1, .max_connections = 1, .weight = 1},
    };
    specs[0].port = refusing_port(&lfd);
    struct pool_settings settings = {
        .connect_timeout_ms = 3000, .shun_on_failures = 1, .shun_recovery_ms = 60000};
    struct rig g;
    struct pool_conn *got;
    struct pool_waiter *w;
    struct ready r = {0};

    struct pool *p = rig_start(&g, specs, 2, 1, &settings);
    /* The second server's only slot is lent (while the first is still out
     * of service), so the request goes to the first, fails, shuns it, and
     * queues at the second. */
    struct pool_conn *c = paired_conn(&g, 1, 0);
    assert_int_equal(acquire(p, 0, 0, NULL, &got, &w), 0);
    specs[0].status = POOL_SERVER_ONLINE;
    assert_int_equal(pool_update(p, specs, 2), 0);
    assert_int_equal(acquire(p, 0, 0, &r, &got, &w), POOL_PENDING);
    RUN_UNTIL(g.loops, g.n, stats_of(p, 0).open == 0 || r.calls > 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(stats_of(p, 0).created_err, 1);
    assert_int_equal(stats_of(p, 0).status, POOL_SERVER_SHUNNED);
    assert_int_equal(stats_of(p, 1).waiting, 1);
    /* It gets the second server's connection when that returns. */
    pool_release(c, true);
    RUN_UNTIL(g.loops, g.n, r.calls > 0);
    assert_int_equal(r.err, 0);
    assert_ptr_equal(r.conn, c);
    pool_release(c, false);
    rig_stop(&g);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_percentiles),
        cmocka_unit_test(test_small_waits_exact),
        cmocka_unit_test(test_advisor_littles_law),
        cmocka_unit_test(test_weighted_choice_and_fail_fast),
        cmocka_unit_test(test_gtid_positions),
        cmocka_unit_test(test_max_latency),
        cmocka_unit_test(test_connect_failure_shuns),
        cmocka_unit_test(test_connect_failure_rerouted),
        cmocka_unit_test(test_shunned_server_takes_no_queued_request),
        cmocka_unit_test(test_release_reuses_or_closes),
        cmocka_unit_test(test_cancel_during_delivery),
        cmocka_unit_test(test_cross_worker_handover),
        cmocka_unit_test(test_cancel_during_cross_worker_handover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
