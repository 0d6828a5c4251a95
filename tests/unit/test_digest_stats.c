/*
 * Unit tests for digest statistics (router/digest_stats.c): counters,
 * first/last seen, the histogram's buckets and its percentiles against exact
 * nearest-rank values on known distributions (within the documented bound),
 * merging workers, the capacity's overflow entry, resets, truncation of
 * names and texts, and recorders running while a reader merges.
 */
/* clang-format off */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "router/router.h"

static struct router_digest_sample sample(int hg, const char *schema, const char *user,
                                          uint64_t digest, uint64_t us, int64_t now)
{
    return (struct router_digest_sample){.hostgroup = hg,
                                         .schema = schema,
                                         .user = user,
                                         .digest = digest,
                                         .digest_text = "SELECT ?",
                                         .text_len = 8,
                                         .elapsed_us = us,
                                         .rows_affected = 0,
                                         .rows_sent = 1,
                                         .now = now};
}

/* Merges stats[0..n) and returns the rows in *rows (caller frees both). */
static size_t merged(struct router_digest_stats **stats, size_t n, bool reset,
                     struct router_digest_merge **m, struct router_digest_row **rows)
{
    assert_int_equal(router_digest_stats_merge(stats, n, reset, m), 0);
    size_t count = router_digest_merge_count(*m);
    *rows = calloc(count + 1, sizeof(**rows));
    assert_non_null(*rows);
    size_t i = 0;
    while (router_digest_merge_next(*m, &(*rows)[i]))
        i++;
    assert_int_equal(i, count);
    return count;
}

static const struct router_digest_row *find(const struct router_digest_row *rows, size_t n, int hg,
                                            const char *user, uint64_t digest)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].hostgroup == hg && strcmp(rows[i].username, user) == 0 &&
            rows[i].digest == digest && !rows[i].overflow)
            return &rows[i];
    return NULL;
}

static void test_counters(void **state)
{
    (void)state;
    struct router_digest_stats *st = router_digest_stats_new(16, 64);
    assert_non_null(st);
    uint64_t times[] = {120, 30, 500, 45};
    int64_t nows[] = {1000, 1003, 999, 1010};
    for (size_t i = 0; i < 4; i++) {
        struct router_digest_sample s = sample(1, "shop", "app", 0xabc, times[i], nows[i]);
        s.rows_affected = i;
        s.rows_sent = 10 * i;
        router_digest_stats_record(st, &s);
    }
    assert_int_equal(router_digest_stats_size(st), 1);

    struct router_digest_merge *m;
    struct router_digest_row *rows;
    assert_int_equal(merged(&st, 1, false, &m, &rows), 1);
    const struct router_digest_row *r = &rows[0];
    assert_int_equal(r->hostgroup, 1);
    assert_string_equal(r->schemaname, "shop");
    assert_string_equal(r->username, "app");
    assert_string_equal(r->client_address, "");
    assert_int_equal(r->digest, 0xabc);
    assert_string_equal(r->digest_text, "SELECT ?");
    assert_int_equal(r->count_star, 4);
    assert_int_equal(r->sum_time, 695);
    assert_int_equal(r->min_time, 30);
    assert_int_equal(r->max_time, 500);
    assert_int_equal(r->sum_rows_affected, 0 + 1 + 2 + 3);
    assert_int_equal(r->sum_rows_sent, 0 + 10 + 20 + 30);
    /* Out-of-order clocks: the smallest and largest, not first and last. */
    assert_int_equal(r->first_seen, 999);
    assert_int_equal(r->last_seen, 1010);
    assert_false(r->overflow);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(st);
}

/* Each of hostgroup, schema, user and digest makes a key of its own. */
static void test_keys(void **state)
{
    (void)state;
    struct router_digest_stats *st = router_digest_stats_new(16, 64);
    struct router_digest_sample s[] = {
        sample(1, "shop", "app", 1, 10, 1), sample(2, "shop", "app", 1, 10, 1),
        sample(1, "crm", "app", 1, 10, 1),  sample(1, "shop", "bob", 1, 10, 1),
        sample(1, "shop", "app", 2, 10, 1), sample(1, "shop", "app", 1, 10, 1),
        sample(1, NULL, NULL, 1, 10, 1),    sample(1, "", "", 1, 10, 1),
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        router_digest_stats_record(st, &s[i]);
    /* The repeat and NULL = "" fold: 6 keys. */
    assert_int_equal(router_digest_stats_size(st), 6);
    router_digest_stats_free(st);
}

/* Names past ROUTER_DIGEST_NAME_MAX are cut for display only; texts past
 * text_cap are cut. */
/* record_known: a new key is left for the caller to record with its text;
 * a known one is counted without it; a full table counts it as overflow. */
static void test_record_known(void **state)
{
    (void)state;
    struct router_digest_stats *st = router_digest_stats_new(1, 64);
    struct router_digest_sample s = sample(1, "shop", "app", 0x77, 10, 1);
    s.digest_text = NULL;
    assert_false(router_digest_stats_record_known(st, &s));
    assert_int_equal(router_digest_stats_size(st), 0);
    s = sample(1, "shop", "app", 0x77, 10, 1);
    router_digest_stats_record(st, &s);
    s.digest_text = NULL;
    assert_true(router_digest_stats_record_known(st, &s));
    assert_int_equal(router_digest_stats_size(st), 1);

    struct router_digest_merge *m;
    struct router_digest_row *rows;
    assert_int_equal(merged(&st, 1, false, &m, &rows), 1);
    assert_int_equal(rows[0].count_star, 2);
    assert_string_equal(rows[0].digest_text, "SELECT ?");
    free(rows);
    router_digest_merge_free(m);

    /* Full (capacity 1): another key goes to the overflow entry. */
    s = sample(1, "shop", "app", 0x78, 10, 1);
    s.digest_text = NULL;
    assert_true(router_digest_stats_record_known(st, &s));
    assert_int_equal(router_digest_stats_size(st), 1);
    router_digest_stats_free(st);
}

static void test_truncation(void **state)
{
    (void)state;
    struct router_digest_stats *st = router_digest_stats_new(8, 10);
    char a[200], b[200];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[150] = 'y';
    struct router_digest_sample s1 = sample(0, a, "u", 7, 1, 1);
    struct router_digest_sample s2 = sample(0, b, "u", 7, 1, 1);
    s1.digest_text = "SELECT a,b,c FROM t WHERE x=?";
    s1.text_len = strlen(s1.digest_text);
    s2.digest_text = NULL;
    router_digest_stats_record(st, &s1);
    router_digest_stats_record(st, &s2);
    assert_int_equal(router_digest_stats_size(st), 2);

    struct router_digest_merge *m;
    struct router_digest_row *rows;
    assert_int_equal(merged(&st, 1, false, &m, &rows), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(strlen(rows[i].schemaname), ROUTER_DIGEST_NAME_MAX);
        if (rows[i].digest_text[0])
            assert_string_equal(rows[i].digest_text, "SELECT a,b");
    }
    assert_string_not_equal(rows[0].digest_text, rows[1].digest_text);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(st);
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(router_digest_bucket(0), 0);
    assert_int_equal(router_digest_bucket(1), 1);
    for (unsigned k = 0; k < 31; k++)
        assert_int_equal(router_digest_bucket(1ULL << k), 1 + 4 * k);
    assert_int_equal(router_digest_bucket(UINT64_MAX), ROUTER_DIGEST_BUCKETS - 1);
    /* Bucket b >= 1 holds [2^((b-1)/4), 2^(b/4)): v^4 in [2^(b-1), 2^b),
     * exact in integers while v^4 fits. */
    unsigned prev = 0;
    for (uint64_t v = 1; v < (1u << 15); v++) {
        unsigned b = router_digest_bucket(v);
        uint64_t v4 = v * v * v * v;
        assert_true(b >= prev);
        assert_true(v4 >= 1ULL << (b - 1));
        assert_true(b >= 64 || v4 < 1ULL << b);
        prev = b;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Records the n values into a fresh table and checks p50/p95/p99 against
 * the exact nearest-rank values: within 9.1% plus 1 us. */
static void check_percentiles(const char *name, uint64_t *v, size_t n)
{
    struct router_digest_stats *st = router_digest_stats_new(4, 16);
    for (size_t i = 0; i < n; i++) {
        struct router_digest_sample s = sample(0, "s", "u", 1, v[i], 1);
        router_digest_stats_record(st, &s);
    }
    struct router_digest_merge *m;
    struct router_digest_row *rows;
    assert_int_equal(merged(&st, 1, false, &m, &rows), 1);
    qsort(v, n, sizeof(*v), cmp_u64);
    double pcts[] = {50, 95, 99};
    uint64_t got[] = {rows[0].p50_time, rows[0].p95_time, rows[0].p99_time};
    for (size_t i = 0; i < 3; i++) {
        size_t rank = (size_t)((pcts[i] * (double)n + 99.0) / 100.0); /* ceil */
        uint64_t want = v[rank - 1];
        double bound = 0.0906 * (double)want + 1.0;
        double diff = (double)got[i] - (double)want;
        if (diff < -bound || diff > bound)
            fail_msg("%s: p%.0f = %llu, exact %llu", name, pcts[i], (unsigned long long)got[i],
                     (unsigned long long)want);
    }
    assert_int_equal(rows[0].min_time, v[0]);
    assert_int_equal(rows[0].max_time, v[n - 1]);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(st);
}

static void test_percentiles(void **state)
{
    (void)state;
    enum { N = 10000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);

    /* Uniform 1..10000 us, shuffled by a fixed LCG so order does not matter. */
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++)
        v[i] = i + 1;
    for (size_t i = N - 1; i > 0; i--) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t)(x >> 33) % (i + 1);
        uint64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    check_percentiles("uniform", v, N);

    /* Constant: the clamp to [min, max] makes it exact. */
    for (size_t i = 0; i < N; i++)
        v[i] = 777;
    check_percentiles("constant", v, N);

    /* Bimodal: 90% fast hits at 200 us, 10% slow misses at 50 ms. */
    for (size_t i = 0; i < N; i++)
        v[i] = i % 10 == 9 ? 50000 : 200;
    check_percentiles("bimodal", v, N);

    /* Heavy tail: geometric growth over six decades. */
    for (size_t i = 0; i < N; i++)
        v[i] = 1 + (uint64_t)(i * i / 100) * (i % 7 + 1);
    check_percentiles("heavy tail", v, N);

    /* Small values, where rounding to whole microseconds matters. */
    for (size_t i = 0; i < N; i++)
        v[i] = i % 5;
    check_percentiles("small", v, N);

    /* One sample. */
    v[0] = 4242;
    check_percentiles("single", v, 1);
    free(v);

    uint64_t empty[ROUTER_DIGEST_BUCKETS] = {0};
    assert_int_equal(router_digest_percentile(empty, 50, 0, 0), 0);
}

static void test_merge(void **state)
{
    (void)state;
    struct router_digest_stats *w[3] = {router_digest_stats_new(8, 64), NULL,
                                        router_digest_stats_new(8, 64)};
    /* Same key on both workers, with different texts and times. */
    for (int i = 0; i < 100; i++) {
        struct router_digest_sample s = sample(1, "shop", "app", 42, 100, 2000 + i);
        router_digest_stats_record(w[0], &s);
    }
    for (int i = 0; i < 100; i++) {
        struct router_digest_sample s = sample(1, "shop", "app", 42, 10000, 1990 + i);
        s.digest_text = "OTHER";
        s.text_len = 5;
        s.rows_affected = 2;
        router_digest_stats_record(w[2], &s);
    }
    /* A key only worker 2 has. */
    struct router_digest_sample s = sample(0, "shop", "app", 43, 5, 3000);
    router_digest_stats_record(w[2], &s);

    struct router_digest_merge *m;
    struct router_digest_row *rows;
    size_t n = merged(w, 3, false, &m, &rows);
    assert_int_equal(n, 2);
    const struct router_digest_row *r = find(rows, n, 1, "app", 42);
    assert_non_null(r);
    assert_int_equal(r->count_star, 200);
    assert_int_equal(r->sum_time, 100 * 100 + 100 * 10000);
    assert_int_equal(r->min_time, 100);
    assert_int_equal(r->max_time, 10000);
    assert_int_equal(r->sum_rows_affected, 200);
    assert_int_equal(r->sum_rows_sent, 200);
    assert_int_equal(r->first_seen, 1990);
    assert_int_equal(r->last_seen, 2099);
    assert_string_equal(r->digest_text, "SELECT ?"); /* the first worker's */
    /* Half at 100, half at 10000: p50 near 100, p95 and p99 near 10000. */
    assert_true(r->p50_time >= 91 && r->p50_time <= 110);
    assert_true(r->p95_time >= 9090 && r->p95_time <= 10000);
    assert_true(r->p99_time >= 9090 && r->p99_time <= 10000);
    r = find(rows, n, 0, "app", 43);
    assert_non_null(r);
    assert_int_equal(r->count_star, 1);
    assert_int_equal(r->p99_time, 5);
    free(rows);
    router_digest_merge_free(m);

    /* Merging does not change the workers. */
    assert_int_equal(router_digest_stats_size(w[0]), 1);
    assert_int_equal(router_digest_stats_size(w[2]), 2);
    router_digest_stats_free(w[0]);
    router_digest_stats_free(w[2]);
}

static void test_overflow(void **state)
{
    (void)state;
    struct router_digest_stats *w[2] = {router_digest_stats_new(4, 32),
                                        router_digest_stats_new(4, 32)};
    for (uint64_t d = 1; d <= 10; d++) {
        struct router_digest_sample s = sample(0, "shop", "app", d, d, 100 + (int64_t)d);
        router_digest_stats_record(w[0], &s);
        router_digest_stats_record(w[1], &s);
    }
    /* Known keys keep counting after the table is full. */
    struct router_digest_sample again = sample(0, "shop", "app", 2, 7, 500);
    router_digest_stats_record(w[0], &again);
    assert_int_equal(router_digest_stats_size(w[0]), 4);

    struct router_digest_merge *m;
    struct router_digest_row *rows;
    size_t n = merged(w, 2, false, &m, &rows);
    assert_int_equal(n, 5); /* 4 keys + one overflow row for both workers */
    uint64_t total = 0;
    const struct router_digest_row *ov = NULL;
    for (size_t i = 0; i < n; i++) {
        total += rows[i].count_star;
        if (rows[i].overflow)
            ov = &rows[i];
    }
    assert_int_equal(total, 21);
    assert_non_null(ov);
    assert_int_equal(ov->count_star, 12); /* digests 5..10, twice */
    assert_int_equal(ov->hostgroup, -1);
    assert_int_equal(ov->digest, 0);
    assert_string_equal(ov->digest_text, "(digests beyond capacity)");
    assert_int_equal(ov->min_time, 5);
    assert_int_equal(ov->max_time, 10);
    assert_int_equal(ov->first_seen, 105);
    assert_int_equal(ov->last_seen, 110);
    const struct router_digest_row *r2 = find(rows, n, 0, "app", 2);
    assert_non_null(r2);
    assert_int_equal(r2->count_star, 3);
    assert_int_equal(r2->last_seen, 500);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(w[0]);
    router_digest_stats_free(w[1]);
}

static void test_reset(void **state)
{
    (void)state;
    struct router_digest_stats *st = router_digest_stats_new(2, 16);
    for (uint64_t d = 1; d <= 5; d++) {
        struct router_digest_sample s = sample(0, "s", "u", d, 1, 1);
        router_digest_stats_record(st, &s);
    }
    router_digest_stats_reset(st);
    assert_int_equal(router_digest_stats_size(st), 0);
    struct router_digest_merge *m;
    struct router_digest_row *rows;
    assert_int_equal(merged(&st, 1, false, &m, &rows), 0);
    free(rows);
    router_digest_merge_free(m);

    /* After a reset there is room again, and figures start over. */
    struct router_digest_sample s = sample(0, "s", "u", 9, 50, 77);
    router_digest_stats_record(st, &s);
    router_digest_stats_record(st, &s);
    assert_int_equal(merged(&st, 1, true, &m, &rows), 1); /* read and reset */
    assert_int_equal(rows[0].count_star, 2);
    assert_int_equal(rows[0].first_seen, 77);
    assert_int_equal(rows[0].min_time, 50);
    free(rows);
    router_digest_merge_free(m);
    assert_int_equal(router_digest_stats_size(st), 0);
    assert_int_equal(merged(&st, 1, false, &m, &rows), 0);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(st);

    assert_null(router_digest_stats_new(0, 16));
    router_digest_stats_free(NULL);
}

/* Two recorders on their own tables while the main thread merges with and
 * without reset: every sample is counted exactly once. */
enum { RECORDS = 100000, KEYS = 50 };

static void *recorder(void *arg)
{
    struct router_digest_stats *st = arg;
    for (uint64_t i = 0; i < RECORDS; i++) {
        struct router_digest_sample s = sample(0, "s", "u", i % KEYS, i % 1000, 1);
        router_digest_stats_record(st, &s);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct router_digest_stats *w[2] = {router_digest_stats_new(KEYS, 16),
                                        router_digest_stats_new(KEYS, 16)};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, recorder, w[i]), 0);
    uint64_t total = 0;
    for (int round = 0; round < 200; round++) {
        struct router_digest_merge *m;
        struct router_digest_row *rows;
        size_t n = merged(w, 2, round % 2 == 1, &m, &rows);
        assert_true(n <= KEYS);
        if (round % 2 == 1)
            for (size_t i = 0; i < n; i++)
                total += rows[i].count_star;
        free(rows);
        router_digest_merge_free(m);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    struct router_digest_merge *m;
    struct router_digest_row *rows;
    size_t n = merged(w, 2, true, &m, &rows);
    for (size_t i = 0; i < n; i++)
        total += rows[i].count_star;
    assert_int_equal(total, 2 * RECORDS);
    free(rows);
    router_digest_merge_free(m);
    router_digest_stats_free(w[0]);
    router_digest_stats_free(w[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),    cmocka_unit_test(test_keys),
        cmocka_unit_test(test_truncation),  cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_percentiles), cmocka_unit_test(test_merge),
        cmocka_unit_test(test_overflow),    cmocka_unit_test(test_reset),
        cmocka_unit_test(test_concurrent),  cmocka_unit_test(test_record_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
