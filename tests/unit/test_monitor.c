/*
 * Monitor decisions without sockets or threads: a hand-made configuration
 * and targets, check results fed to mon_result_apply(), and the effective
 * server list from mon_effective().
 */
#include "monitor/monitor_int.h"

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

struct fixture {
    struct admin_config cfg;
    struct admin_server servers[3];
    struct admin_repl_hostgroup repl;
    struct monitor m;
    struct mon_target t[3]; /* primary :1, replicas :2 and :3 */
};

static void server(struct admin_server *s, int hg, int port, int max_lag)
{
    memset(s, 0, sizeof(*s));
    s->hostgroup = hg;
    snprintf(s->host, sizeof(s->host), "db");
    s->port = port;
    s->weight = 100;
    s->max_connections = 10;
    s->max_replication_lag = max_lag;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    server(&fx->servers[0], 0, 1, 0);
    server(&fx->servers[1], 1, 2, 10);
    server(&fx->servers[2], 1, 3, 10);
    fx->repl = (struct admin_repl_hostgroup){.writer_hostgroup = 0, .reader_hostgroup = 1};
    fx->cfg.servers = fx->servers;
    fx->cfg.n_servers = 3;
    fx->cfg.repl_hostgroups = &fx->repl;
    fx->cfg.n_repl_hostgroups = 1;
    fx->cfg.monitor_enabled = 1;
    fx->cfg.monitor_ping_max_failures = 2;
    fx->cfg.shun_recovery_time_sec = 0;
    fx->m.cfg = &fx->cfg;
    for (int i = 0; i < 3; i++) {
        struct mon_target *t = &fx->t[i];
        t->m = &fx->m;
        snprintf(t->host, sizeof(t->host), "db");
        t->port = i + 1;
        t->read_only = -1;
        t->lag = -1;
        t->max_lag = i ? 10 : 0;
        t->next = i < 2 ? &fx->t[i + 1] : NULL;
    }
    fx->m.targets = &fx->t[0];
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void feed(struct fixture *fx, int port, enum mon_kind kind, bool ok, int64_t value,
                 bool value_null)
{
    struct mon_result r = {.t = &fx->t[port - 1],
                           .kind = kind,
                           .ok = ok,
                           .alive = ok,
                           .value = value,
                           .value_null = value_null};
    mon_result_apply(&fx->m, &r);
}

/* The effective row of (hg, port), or NULL. */
static const struct admin_server *row(struct fixture *fx, int hg, int port, size_t *n)
{
    static struct admin_server keep[8];
    struct admin_server *v = NULL;
    assert_int_equal(mon_effective(&fx->m, &v, n), 0);
    assert_true(*n <= 8);
    memcpy(keep, v, *n * sizeof(*v));
    free(v);
    for (size_t i = 0; i < *n; i++)
        if (keep[i].hostgroup == hg && keep[i].port == port)
            return &keep[i];
    return NULL;
}

static void test_read_only_places_servers(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    /* Nothing known yet: as configured. */
    assert_non_null(row(fx, 0, 1, &n));
    assert_int_equal(n, 3);
    feed(fx, 1, MON_READ_ONLY, true, 0, false);
    feed(fx, 2, MON_READ_ONLY, true, 1, false);
    feed(fx, 3, MON_READ_ONLY, true, 1, false);
    fx->cfg.monitor_writer_is_also_reader = 1;
    assert_non_null(row(fx, 1, 1, &n)); /* the writer also reads */
    assert_int_equal(n, 4);
    fx->cfg.monitor_writer_is_also_reader = 0;
    assert_null(row(fx, 1, 1, &n));
    assert_int_equal(n, 3);
    /* Promotion: :2 writable, :1 read-only. */
    feed(fx, 2, MON_READ_ONLY, true, 0, false);
    feed(fx, 1, MON_READ_ONLY, true, 1, false);
    assert_non_null(row(fx, 0, 2, &n));
    assert_null(row(fx, 0, 1, &n));
    const struct admin_server *old = row(fx, 1, 1, &n);
    assert_non_null(old);
    assert_int_equal(old->max_connections, 10);
    /* A failed check keeps the last placement. */
    feed(fx, 2, MON_READ_ONLY, false, 0, true);
    assert_non_null(row(fx, 0, 2, &n));
}

static void test_ping_failures_shun_and_recover(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    feed(fx, 2, MON_PING, false, 0, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    feed(fx, 2, MON_PING, false, 0, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    feed(fx, 2, MON_PING, true, 0, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    /* With a recovery time, a good ping right after a failure is not enough. */
    fx->cfg.shun_recovery_time_sec = 60;
    feed(fx, 2, MON_PING, false, 0, false);
    feed(fx, 2, MON_PING, false, 0, false);
    feed(fx, 2, MON_PING, true, 0, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    /* Configured OFFLINE_SOFT stays so. */
    fx->servers[2].status = ADMIN_SERVER_OFFLINE_SOFT;
    assert_int_equal(row(fx, 1, 3, &n)->status, ADMIN_SERVER_OFFLINE_SOFT);
}

static void test_lag_hysteresis_and_weight(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    feed(fx, 2, MON_LAG, true, 3, false);
    assert_int_equal(row(fx, 1, 2, &n)->weight, 100);
    feed(fx, 2, MON_LAG, true, 10, false); /* at the maximum: 10% */
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    assert_int_equal(row(fx, 1, 2, &n)->weight, 10);
    feed(fx, 2, MON_LAG, true, 8, false); /* 5 + 3/5 of the way: 100 - 54 */
    assert_int_equal(row(fx, 1, 2, &n)->weight, 46);
    feed(fx, 2, MON_LAG, true, 11, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    feed(fx, 2, MON_LAG, true, 6, false); /* under the maximum, over half: still out */
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    feed(fx, 2, MON_LAG, false, 0, true); /* a failed check is not "no lag" */
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    feed(fx, 2, MON_LAG, true, 5, false);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    feed(fx, 3, MON_LAG, true, 0, true); /* replication stopped */
    assert_int_equal(row(fx, 1, 3, &n)->status, ADMIN_SERVER_SHUNNED);
    /* The writer is never lag-shunned. */
    assert_int_equal(row(fx, 0, 1, &n)->status, ADMIN_SERVER_ONLINE);
}

static void test_disabled_uses_config(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    feed(fx, 2, MON_READ_ONLY, true, 0, false);
    feed(fx, 2, MON_PING, false, 0, false);
    feed(fx, 2, MON_PING, false, 0, false);
    fx->cfg.monitor_enabled = 0;
    fx->servers[1].status = ADMIN_SERVER_SHUNNED;
    const struct admin_server *s = row(fx, 1, 2, &n);
    assert_non_null(s);
    assert_int_equal(s->status, ADMIN_SERVER_SHUNNED);
    assert_int_equal(n, 3);
}

/* A probe of 500 ms that got no answer, starting at start_ms. */
static enum mon_live_event silent(struct mon_liveness *l, int64_t start_ms, int64_t recovery_ms)
{
    return mon_liveness_note(l, false, start_ms, start_ms + 500, 1500, recovery_ms);
}

static enum mon_live_event answer(struct mon_liveness *l, int64_t at_ms, int64_t recovery_ms)
{
    return mon_liveness_note(l, true, at_ms, at_ms + 1, 1500, recovery_ms);
}

/* The pure liveness rule: 1.5 s without any answer (2 checks at least)
 * shuns; 2 answers in a row bring the server back; one answer ends a
 * silence. */
static void test_liveness_shun_and_back(void **state)
{
    (void)state;
    struct mon_liveness l = {0};
    assert_int_equal(silent(&l, 1000, 10000), MON_LIVE_SAME);
    assert_int_equal(silent(&l, 1500, 10000), MON_LIVE_SAME);
    assert_int_equal(answer(&l, 2000, 10000), MON_LIVE_SAME);
    assert_int_equal(l.failures, 0); /* slow for a moment is not frozen */
    assert_int_equal(silent(&l, 3000, 10000), MON_LIVE_SAME);
    assert_int_equal(silent(&l, 3500, 10000), MON_LIVE_SAME); /* 1 s of silence */
    assert_int_equal(silent(&l, 4000, 10000), MON_LIVE_SHUN); /* 1.5 s */
    assert_true(l.shunned);
    assert_false(l.damped); /* never back before: no flapping */
    assert_int_equal(silent(&l, 4500, 10000), MON_LIVE_SAME);
    /* Resumed: back after two answers in a row, not after the first, and
     * without waiting out the 10 s recovery time. */
    assert_int_equal(answer(&l, 5000, 10000), MON_LIVE_SAME);
    assert_int_equal(silent(&l, 5500, 10000), MON_LIVE_SAME);
    assert_true(l.shunned);
    assert_int_equal(answer(&l, 6000, 10000), MON_LIVE_SAME);
    assert_int_equal(answer(&l, 6500, 10000), MON_LIVE_BACK);
    assert_false(l.shunned);
    assert_int_equal(answer(&l, 7000, 10000), MON_LIVE_SAME);

    /* The window is time, not a count: one long check (a 1.5 s ping)
     * needs a second unanswered one, and two long ones are enough. */
    struct mon_liveness p = {0};
    assert_int_equal(mon_liveness_note(&p, false, 0, 1500, 1500, 0), MON_LIVE_SAME);
    assert_int_equal(mon_liveness_note(&p, false, 1500, 2000, 1500, 0), MON_LIVE_SHUN);
    /* Out of order (a ping of the health thread ends after probes that
     * started later): the silence began with the earliest start. */
    struct mon_liveness o = {0};
    assert_int_equal(mon_liveness_note(&o, false, 600, 1100, 1500, 0), MON_LIVE_SAME);
    assert_int_equal(mon_liveness_note(&o, false, 0, 1000, 1500, 0), MON_LIVE_SAME);
    assert_int_equal(mon_liveness_note(&o, false, 1100, 1600, 1500, 0), MON_LIVE_SHUN);
    /* Window 0: two unanswered checks in a row are enough. */
    struct mon_liveness z = {0};
    assert_int_equal(mon_liveness_note(&z, false, 0, 1, 0, 0), MON_LIVE_SAME);
    assert_int_equal(mon_liveness_note(&z, false, 1, 2, 0, 0), MON_LIVE_SHUN);
}

/* A server shunned again within the recovery time of coming back flaps: it
 * stays out until the recovery time passed since its last failure. */
static void test_liveness_flapping_waits(void **state)
{
    (void)state;
    struct mon_liveness l = {0};
    for (int i = 0; i < 4; i++)
        (void)silent(&l, 1000 + i * 500, 10000);
    assert_true(l.shunned);
    (void)answer(&l, 3500, 10000);
    assert_int_equal(answer(&l, 4000, 10000), MON_LIVE_BACK);
    for (int i = 0; i < 3; i++)
        (void)silent(&l, 5000 + i * 500, 10000);
    assert_true(l.shunned); /* silent 5000-6500 */
    assert_true(l.damped);
    for (int i = 0; i < 10; i++)
        assert_int_equal(answer(&l, 7000 + i * 500, 10000), MON_LIVE_SAME);
    assert_int_equal(answer(&l, 16500, 10000), MON_LIVE_BACK);
    /* Shunned long after coming back: prompt again. */
    for (int i = 0; i < 4; i++)
        (void)silent(&l, 40000 + i * 500, 10000);
    assert_true(l.shunned);
    assert_false(l.damped);
}

/* Which results count: connect and COM_PING checks by whether the server
 * answered; read_only and lag queries only when they got an answer. */
static void test_result_answered(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        enum mon_kind kind;
        bool ok, alive, not_replica;
        int want;
    } cases[] = {
        /* A table reads best one case a line. */
        /* clang-format off */
        {MON_LIVENESS,  true,  true,  false,  1},
        {MON_LIVENESS,  false, false, false,  0},
        {MON_PING,      true,  true,  false,  1},
        {MON_PING,      false, false, false,  0},
        {MON_CONNECT,   false, true,  false,  1}, /* 1040 Too many connections: it is up */
        {MON_CONNECT,   false, false, false,  0},
        {MON_READ_ONLY, true,  false, false,  1},
        {MON_READ_ONLY, false, false, false, -1}, /* a query may wait on a lock */
        {MON_LAG,       true,  false, false,  1},
        {MON_LAG,       false, false, true,   1}, /* empty SHOW SLAVE STATUS: an answer */
        {MON_LAG,       false, false, false, -1},
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mon_result r = {.t = &fx->t[1],
                               .kind = cases[i].kind,
                               .ok = cases[i].ok,
                               .alive = cases[i].alive,
                               .not_replica = cases[i].not_replica};
        assert_int_equal(mon_result_answered(&r), cases[i].want);
    }
}

/* A check of kind started at at_ms that took 500 ms. */
static void feed_live(struct fixture *fx, int port, enum mon_kind kind, bool answered,
                      int64_t at_ms)
{
    /* value 1: read_only=1 keeps a replica in the reader hostgroup. */
    struct mon_result r = {.t = &fx->t[port - 1],
                           .kind = kind,
                           .ok = answered,
                           .alive = answered,
                           .value = 1,
                           .start_ms = at_ms,
                           .end_ms = at_ms + 500};
    mon_result_apply(&fx->m, &r);
}

/* Through mon_result_apply: every kind of check feeds liveness, and a
 * liveness shun is a SHUNNED server (OFFLINE_HARD to the pool). */
static void test_liveness_from_every_check(void **state)
{
    struct fixture *fx = *state;
    size_t n;
    fx->cfg.monitor_liveness_interval_ms = 500;
    fx->cfg.monitor_liveness_window_ms = 1500;
    fx->cfg.monitor_ping_max_failures = 100; /* the ping rule stays out of this */
    feed_live(fx, 2, MON_LIVENESS, false, 1000);
    feed_live(fx, 2, MON_PING, false, 1500);
    feed_live(fx, 2, MON_READ_ONLY, false, 1600); /* a failed query tells nothing */
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    feed_live(fx, 2, MON_CONNECT, false, 2000); /* silent 1000-2500 */
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    assert_false(fx->t[1].ping_shunned);
    /* Only the frozen server. */
    assert_int_equal(row(fx, 1, 3, &n)->status, ADMIN_SERVER_ONLINE);
    assert_int_equal(row(fx, 0, 1, &n)->status, ADMIN_SERVER_ONLINE);
    /* Answers of any check count toward coming back. */
    feed_live(fx, 2, MON_LIVENESS, true, 3000);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_SHUNNED);
    feed_live(fx, 2, MON_READ_ONLY, true, 3100);
    assert_int_equal(row(fx, 1, 2, &n)->status, ADMIN_SERVER_ONLINE);
    /* Liveness off (interval 0): unanswered checks shun nothing here. */
    fx->cfg.monitor_liveness_interval_ms = 0;
    for (int i = 0; i < 5; i++)
        feed_live(fx, 3, MON_LIVENESS, false, 1000 + i * 500);
    assert_int_equal(row(fx, 1, 3, &n)->status, ADMIN_SERVER_ONLINE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_only_places_servers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_failures_shun_and_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lag_hysteresis_and_weight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_uses_config, setup, teardown),
        cmocka_unit_test(test_liveness_shun_and_back),
        cmocka_unit_test(test_liveness_flapping_waits),
        cmocka_unit_test_setup_teardown(test_result_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_liveness_from_every_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
