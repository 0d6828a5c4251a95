/*
 * Pool bookkeeping without a database: the last-minute figures (queue-wait
 * percentiles, window expiry, the Little's-law advisor), the weighted
 * choice of a server, fail-fast, and offline states, observed through the
 * pool's own counters. Servers have a cap of 0 where a request must queue,
 * so nothing ever connects.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "pool/pool_int.h"

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
    struct pool_settings settings = {.connect_timeout_ms = 1000};
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
    struct pool_settings settings = {.connect_timeout_ms = 1000};
    struct pool *p = pool_new(specs, 2, 1, &settings);
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
    struct pool_settings settings = {.connect_timeout_ms = 1000};
    struct pool_waiter *w[200];
    struct pool_server_stats st[2];
    struct pool_conn *conn;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct pool *p = pool_new(specs, 2, 1, &settings);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_percentiles),
        cmocka_unit_test(test_small_waits_exact),
        cmocka_unit_test(test_advisor_littles_law),
        cmocka_unit_test(test_weighted_choice_and_fail_fast),
        cmocka_unit_test(test_gtid_positions),
        cmocka_unit_test(test_max_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
