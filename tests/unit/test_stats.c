/*
 * Unit tests for stats/, linked alone:
 *   - the pin reason of statements the server flagged as changing session
 *     state (table-driven: statement -> reason);
 *   - pin accounting: gauges, events and the pinning statements as a
 *     session's reasons come and go; sessions per hostgroup;
 *   - the processlist exchange with real threads and loops: an answer
 *     gathers every worker's rows; a worker that never answers only delays
 *     the answer by the bound, while the main loop keeps running; a
 *     cancelled waiter is not called;
 *   - the error table: merge over workers, reset, the bound and eviction;
 *   - prepared statement counts: holders add up, a text held by nobody goes.
 */
#include "stats/stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static const struct {
    const char *sql;
    const char *reason;
} cases[] = {
    {"SET @x = 1", "user_variable"},
    {"set @x:=1, @@session.sql_mode = ''", "user_variable"},
    {"SELECT @a := id FROM t", "user_variable"},
    {"  /* app */ SET @`quoted` = 2", "user_variable"},
    {"CREATE TEMPORARY TABLE t (id INT)", "temporary_table"},
    {"create\n temporary table if not exists t select @x", "temporary_table"},
    {"/* c */ CREATE TEMPORARY TABLE t LIKE u", "temporary_table"},
    {"PREPARE s FROM 'SELECT ?'", "sql_prepare"},
    {"PREPARE s FROM @sql", "sql_prepare"},
    {"EXECUTE s USING @x", "sql_prepare"},
    {"DEALLOCATE PREPARE s", "sql_prepare"},
    /* '@' inside quotes or in @@system variables is not a user variable. */
    {"SELECT 'user@host'", "session_state"},
    {"SELECT `a@b` FROM t", "session_state"},
    {"SET @@session.wait_timeout = 10", "session_state"},
    {"CREATE TABLE temporary_x (id INT)", "session_state"},
    {"PREPAREX", "session_state"},
    {"", "session_state"},
    {"/* unterminated", "session_state"},
};

static void test_state_reasons(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum stats_pin_reason r = stats_pin_state_reason(cases[i].sql, strlen(cases[i].sql));
        if (strcmp(stats_pin_reason_name(r), cases[i].reason) != 0)
            fail_msg("%s: got %s, want %s", cases[i].sql, stats_pin_reason_name(r),
                     cases[i].reason);
    }
}

static void test_reason_names(void **state)
{
    (void)state;
    for (int r = 0; r < STATS_PIN_N; r++)
        assert_string_not_equal(stats_pin_reason_name(r), "?");
    assert_string_equal(stats_pin_reason_name(STATS_PIN_N), "?");
    assert_string_equal(stats_pin_reason_name(-1), "?");
}

static void test_pin_accounting(void **state)
{
    (void)state;
    struct stats *st;
    assert_int_equal(stats_new(2, &st), 0);
    struct stats_worker *w0 = stats_worker(st, 0), *w1 = stats_worker(st, 1);
    struct stats_pin_account a = STATS_PIN_ACCOUNT_INIT, b = STATS_PIN_ACCOUNT_INIT;
    unsigned txn = STATS_PIN_BIT(STATS_PIN_TRANSACTION),
             var = STATS_PIN_BIT(STATS_PIN_USER_VARIABLE);

    stats_pin_update(w0, &a, txn, txn, 11, "BEGIN");
    stats_pin_update(w1, &b, txn | var, txn | var, 22, "SET @x = ?");
    assert_int_equal(stats_pinned_now(st, STATS_PIN_TRANSACTION), 2);
    assert_int_equal(stats_pinned_now(st, STATS_PIN_USER_VARIABLE), 1);
    assert_int_equal(stats_pinned_sessions(st), 2);
    /* The transaction ends; the variable stays: still pinned. */
    stats_pin_update(w1, &b, var, 0, 0, "");
    assert_int_equal(stats_pinned_now(st, STATS_PIN_TRANSACTION), 1);
    assert_int_equal(stats_pinned_sessions(st), 2);
    stats_pin_update(w0, &a, 0, 0, 0, "");
    stats_pin_update(w1, &b, 0, 0, 0, "");
    assert_int_equal(stats_pinned_sessions(st), 0);
    assert_int_equal(stats_pin_events(st, STATS_PIN_TRANSACTION), 2);

    stats_pin_hostgroup(w0, &a, 10);
    stats_pin_hostgroup(w1, &b, 10);
    stats_pin_hostgroup(w1, &b, 20);
    struct admin_session_stats ss;
    assert_int_equal(stats_session_stats(st, &ss), 0);
    assert_int_equal(ss.n_reasons, STATS_PIN_N);
    assert_string_equal(ss.reasons[STATS_PIN_TRANSACTION].reason, "transaction");
    assert_int_equal(ss.reasons[STATS_PIN_TRANSACTION].total, 2);
    /* Two statements pinned for a transaction, merged over the workers. */
    assert_int_equal(ss.n_digests, 3);
    uint64_t hg10 = 0, hg20 = 0;
    for (size_t i = 0; i < ss.n_hostgroups; i++) {
        if (ss.hostgroups[i].hostgroup == 10)
            hg10 = ss.hostgroups[i].client_sessions;
        if (ss.hostgroups[i].hostgroup == 20)
            hg20 = ss.hostgroups[i].client_sessions;
    }
    assert_int_equal(hg10, 1);
    assert_int_equal(hg20, 1);
    stats_session_free(&ss);
    stats_pin_hostgroup(w0, &a, -1);
    stats_pin_hostgroup(w1, &b, -1);
    stats_free(st);
}

/* ------------------------------------------------- processlist exchange */

#define N_WORKERS 3

struct fake_worker {
    struct stats *st;
    int index;
    bool mute; /* never answers */
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    bool stop;
};

struct exchange {
    struct stats *st;
    uv_loop_t loop;
    struct fake_worker w[N_WORKERS];
    struct stats_plist_wait wait, other;
    int done_calls, other_calls;
    uint64_t done_at_ms, asked_at_ms;
    uv_timer_t ticker; /* proves the main loop runs while a round is out */
    int ticks_before_done;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_fake_wake(uv_async_t *h)
{
    struct fake_worker *fw = h->data;
    if (fw->stop) {
        uv_close((uv_handle_t *)&fw->wake, NULL);
        return;
    }
    struct stats_worker *ws = stats_worker(fw->st, fw->index);
    if (fw->mute || !stats_plist_asked(ws))
        return;
    struct admin_process *rows = calloc(2, sizeof(*rows));
    for (int i = 0; i < 2; i++) {
        rows[i].thread_id = fw->index;
        rows[i].session_id = (uint32_t)(fw->index * 10 + i);
    }
    stats_plist_publish(fw->st, ws, rows, 2);
}

static void *fake_worker_main(void *arg)
{
    struct fake_worker *fw = arg;
    uv_run(&fw->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void wake_fake(void *arg, int index)
{
    struct exchange *x = arg;
    uv_async_send(&x->w[index].wake);
}

static void on_tick(uv_timer_t *t)
{
    struct exchange *x = t->data;
    if (!x->done_calls)
        x->ticks_before_done++;
}

static void on_done(struct stats_plist_wait *w)
{
    struct exchange *x = (struct exchange *)((char *)w - offsetof(struct exchange, wait));
    x->done_calls++;
    x->done_at_ms = now_ms();
    uv_timer_stop(&x->ticker);
    uv_close((uv_handle_t *)&x->ticker, NULL);
    stats_plist_close(x->st);
}

static void on_other(struct stats_plist_wait *w)
{
    struct exchange *x = (struct exchange *)((char *)w - offsetof(struct exchange, other));
    x->other_calls++;
}

static void exchange_run(struct exchange *x, int mute_index, bool cancel_other)
{
    memset(x, 0, sizeof(*x));
    assert_int_equal(stats_new(N_WORKERS, &x->st), 0);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    for (int i = 0; i < N_WORKERS; i++) {
        struct fake_worker *fw = &x->w[i];
        fw->st = x->st;
        fw->index = i;
        fw->mute = i == mute_index;
        assert_int_equal(uv_loop_init(&fw->loop), 0);
        uv_async_init(&fw->loop, &fw->wake, on_fake_wake);
        fw->wake.data = fw;
        assert_int_equal(pthread_create(&fw->thread, NULL, fake_worker_main, fw), 0);
    }
    assert_int_equal(stats_plist_open(x->st, &x->loop, wake_fake, x), 0);
    uv_timer_init(&x->loop, &x->ticker);
    x->ticker.data = x;
    uv_timer_start(&x->ticker, on_tick, 10, 10);
    x->wait.done = on_done;
    x->other.done = on_other;
    x->asked_at_ms = now_ms();
    stats_plist_ask(x->st, &x->wait);
    stats_plist_ask(x->st, &x->other);
    if (cancel_other)
        stats_plist_cancel(x->st, &x->other);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N_WORKERS; i++) {
        x->w[i].stop = true;
        uv_async_send(&x->w[i].wake);
        pthread_join(x->w[i].thread, NULL);
        uv_loop_close(&x->w[i].loop);
    }
    assert_int_equal(uv_loop_close(&x->loop), 0);
}

static void test_plist_every_worker(void **state)
{
    (void)state;
    struct exchange x;
    exchange_run(&x, -1, false);
    assert_int_equal(x.done_calls, 1);
    /* other asked while the round was out, so it waits for the next one,
     * which the close before it dropped: no call. */
    assert_int_equal(x.other_calls, 0);
    assert_true(x.done_at_ms - x.asked_at_ms < STATS_PLIST_WAIT_MS);
    struct admin_process *rows;
    size_t n;
    assert_int_equal(stats_plist_rows(x.st, &rows, &n), 0);
    assert_int_equal(n, 2 * N_WORKERS);
    int seen[N_WORKERS] = {0};
    for (size_t i = 0; i < n; i++)
        seen[rows[i].thread_id]++;
    for (int i = 0; i < N_WORKERS; i++)
        assert_int_equal(seen[i], 2);
    free(rows);
    stats_free(x.st);
}

static void test_plist_mute_worker(void **state)
{
    (void)state;
    struct exchange x;
    exchange_run(&x, 1, true);
    assert_int_equal(x.done_calls, 1);
    assert_int_equal(x.other_calls, 0);
    /* The round ends at the bound, and the main loop ran meanwhile. */
    assert_true(x.done_at_ms - x.asked_at_ms >= STATS_PLIST_WAIT_MS - 5);
    assert_true(x.ticks_before_done >= 10);
    struct admin_process *rows;
    size_t n;
    assert_int_equal(stats_plist_rows(x.st, &rows, &n), 0);
    assert_int_equal(n, 2 * (N_WORKERS - 1));
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(rows[i].thread_id, 1);
    free(rows);
    stats_free(x.st);
}

static void test_plist_closed_answers_at_once(void **state)
{
    (void)state;
    struct exchange x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(stats_new(1, &x.st), 0);
    x.other.done = on_other;
    stats_plist_ask(x.st, &x.other);
    assert_int_equal(x.other_calls, 1);
    struct admin_process *rows;
    size_t n;
    assert_int_equal(stats_plist_rows(x.st, &rows, &n), 0);
    assert_int_equal(n, 0);
    free(rows);
    assert_string_equal(stats_strerror(STATS_ENOMEM), "out of memory");
    assert_string_equal(stats_strerror(12345), "unknown stats error");
    stats_free(x.st);
}

/* ------------------------------------------------------------- errors */

static struct stats_error an_error(const char *user, int err_no, const char *msg)
{
    struct stats_error e = {
        .hostgroup = 10,
        .hostname = "127.0.0.1",
        .port = 3306,
        .username = user,
        .client_address = "10.0.0.1",
        .schemaname = "app",
        .err_no = err_no,
        .msg = msg,
        .msg_len = strlen(msg),
    };
    return e;
}

static const struct admin_mysql_error *find_error(const struct admin_mysql_error *rows, size_t n,
                                                  const char *user, int err_no)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].username, user) == 0 && rows[i].err_no == err_no)
            return &rows[i];
    return NULL;
}

/* Two workers' counts of one key merge; the latest message wins; reset
 * reads and empties. */
static void test_errors_merge_and_reset(void **state)
{
    (void)state;
    struct stats *st;
    assert_int_equal(stats_new(2, &st), 0);
    struct stats_error e = an_error("u1", 1062, "Duplicate entry '1' for key 'PRIMARY'");
    stats_error_record(stats_worker(st, 0), &e, 100);
    stats_error_record(stats_worker(st, 0), &e, 105);
    e.msg = "Duplicate entry '2' for key 'PRIMARY'";
    e.msg_len = strlen(e.msg);
    stats_error_record(stats_worker(st, 1), &e, 110);
    struct stats_error other = an_error("u2", 1146, "Table 'app.x' doesn't exist");
    stats_error_record(stats_worker(st, 1), &other, 90);

    struct admin_mysql_error *rows;
    size_t n;
    assert_int_equal(stats_errors_rows(st, false, &rows, &n), 0);
    assert_int_equal(n, 2);
    const struct admin_mysql_error *r = find_error(rows, n, "u1", 1062);
    assert_non_null(r);
    assert_int_equal(r->count_star, 3);
    assert_int_equal(r->first_seen, 100);
    assert_int_equal(r->last_seen, 110);
    assert_string_equal(r->last_error, "Duplicate entry '2' for key 'PRIMARY'");
    assert_int_equal(r->hostgroup, 10);
    assert_string_equal(r->schemaname, "app");
    assert_string_equal(r->client_address, "10.0.0.1");
    free(rows);

    /* The reset read returns what was there, then nothing is left. */
    assert_int_equal(stats_errors_rows(st, true, &rows, &n), 0);
    assert_int_equal(n, 2);
    free(rows);
    assert_int_equal(stats_errors_rows(st, false, &rows, &n), 0);
    assert_int_equal(n, 0);
    free(rows);
    stats_error_record(stats_worker(st, 0), &e, 200);
    assert_int_equal(stats_errors_rows(st, false, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].count_star, 1);
    assert_int_equal(rows[0].first_seen, 200);
    free(rows);
    stats_free(st);
}

/* A worker's table stays at STATS_ERRORS_MAX keys: a new key takes the
 * place of the least counted one, the often counted ones stay; a long
 * message is cut. */
static void test_errors_bounded(void **state)
{
    (void)state;
    struct stats *st;
    assert_int_equal(stats_new(1, &st), 0);
    struct stats_worker *ws = stats_worker(st, 0);
    struct stats_error hot = an_error("hot", 1045, "Access denied");
    for (int i = 0; i < 5; i++)
        stats_error_record(ws, &hot, 1);
    char user[32];
    for (int i = 0; i < STATS_ERRORS_MAX + 200; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        struct stats_error e = an_error(user, 1064, "syntax");
        stats_error_record(ws, &e, 2);
    }
    char big[600];
    memset(big, 'x', sizeof(big));
    struct stats_error longmsg = an_error("hot", 2000, "");
    longmsg.msg = big;
    longmsg.msg_len = sizeof(big);
    stats_error_record(ws, &longmsg, 3);

    struct admin_mysql_error *rows;
    size_t n;
    assert_int_equal(stats_errors_rows(st, false, &rows, &n), 0);
    assert_int_equal(n, STATS_ERRORS_MAX);
    const struct admin_mysql_error *r = find_error(rows, n, "hot", 1045);
    assert_non_null(r);
    assert_int_equal(r->count_star, 5);
    r = find_error(rows, n, "hot", 2000);
    assert_non_null(r);
    char cut[sizeof(r->last_error)];
    memcpy(cut, r->last_error, sizeof(cut));
    assert_int_equal(strlen(cut), sizeof(cut) - 1);
    /* A new key got in although the table was full. */
    assert_int_equal(r->count_star, 1);
    free(rows);
    stats_free(st);
}

/* Client and backend holders of a text add up over workers; a text held
 * by nobody leaves the table. */
static void test_stmts_ref_and_unref(void **state)
{
    (void)state;
    struct stats *st;
    assert_int_equal(stats_new(2, &st), 0);
    const char *sql = "SELECT ?";
    struct stats_stmt e = {.hash = 42,
                           .sql = sql,
                           .sql_len = strlen(sql),
                           .digest = 7,
                           .hostgroup = 1,
                           .schemaname = "app",
                           .username = "u",
                           .nparams = 1,
                           .ncols = 1};
    struct stats_worker *w0 = stats_worker(st, 0), *w1 = stats_worker(st, 1);
    assert_true(stats_stmt_ref(w0, &e, false));
    assert_true(stats_stmt_ref(w0, &e, true));
    assert_true(stats_stmt_ref(w1, &e, false));

    struct admin_prepared_stmt *rows;
    size_t n;
    assert_int_equal(stats_stmts_rows(st, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].ref_count_client, 2);
    assert_int_equal(rows[0].ref_count_server, 1);
    assert_string_equal(rows[0].query, "SELECT ?");
    assert_int_equal(rows[0].num_params, 1);
    free(rows);

    stats_stmt_unref(w0, 42, false);
    stats_stmt_unref(w1, 42, false);
    assert_int_equal(stats_stmts_rows(st, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].ref_count_client, 0);
    free(rows);
    stats_stmt_unref(w0, 42, true);
    assert_int_equal(stats_stmts_rows(st, &rows, &n), 0);
    assert_int_equal(n, 0);
    free(rows);
    stats_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_reasons),
        cmocka_unit_test(test_pin_accounting),
        cmocka_unit_test(test_plist_every_worker),
        cmocka_unit_test(test_plist_mute_worker),
        cmocka_unit_test(test_plist_closed_answers_at_once),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_errors_merge_and_reset),
        cmocka_unit_test(test_errors_bounded),
        cmocka_unit_test(test_stmts_ref_and_unref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
