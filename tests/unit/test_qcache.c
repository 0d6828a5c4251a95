/* Query cache: lookups, expiry, replacement, LRU eviction under the byte
 * limit, refusal of oversized entries, counters. No sockets. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "proxy/errors.h"
#include "proxy/qcache.h"

static void put_ok(struct qcache *c, const char *key, const char *data, uint64_t now, uint64_t ttl)
{
    assert_int_equal(qcache_put(c, key, strlen(key), data, strlen(data), now, ttl), 0);
}

static bool get(struct qcache *c, const char *key, uint64_t now, const char *want)
{
    const uint8_t *d;
    size_t n;
    if (!qcache_get(c, key, strlen(key), now, &d, &n))
        return false;
    assert_int_equal(n, strlen(want));
    assert_memory_equal(d, want, n);
    return true;
}

static void test_hit_miss_expiry(void **state)
{
    (void)state;
    struct qcache *c = qcache_new(1 << 20);
    assert_non_null(c);
    assert_false(get(c, "a", 0, ""));
    put_ok(c, "a", "one", 1000, 500);
    assert_true(get(c, "a", 1000, "one"));
    assert_true(get(c, "a", 1499, "one"));
    assert_false(get(c, "a", 1500, "")); /* expired at exactly now + ttl */
    assert_false(get(c, "a", 1000, "")); /* and dropped, not revived */
    struct proxy_qcache_figures st = {0};
    qcache_stats_add(c, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 3);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    qcache_free(c);
}

static void test_keys_differ_by_every_byte(void **state)
{
    (void)state;
    struct qcache *c = qcache_new(1 << 20);
    /* Keys with NUL separators (user, schema, text) must compare whole. */
    assert_int_equal(qcache_put(c, "u\0s\0q", 5, "x", 1, 0, 100), 0);
    assert_int_equal(qcache_put(c, "u\0t\0q", 5, "y", 1, 0, 100), 0);
    const uint8_t *d;
    size_t n;
    assert_true(qcache_get(c, "u\0s\0q", 5, 1, &d, &n));
    assert_memory_equal(d, "x", 1);
    assert_true(qcache_get(c, "u\0t\0q", 5, 1, &d, &n));
    assert_memory_equal(d, "y", 1);
    assert_false(qcache_get(c, "u\0s", 3, 1, &d, &n));
    put_ok(c, "k", "old", 0, 100);
    put_ok(c, "k", "new!", 0, 100); /* replaces */
    assert_true(get(c, "k", 1, "new!"));
    struct proxy_qcache_figures st = {0};
    qcache_stats_add(c, &st);
    assert_int_equal(st.entries, 3);
    qcache_free(c);
}

static void test_lru_eviction(void **state)
{
    (void)state;
    char data[1000];
    memset(data, 'd', sizeof(data));
    data[sizeof(data) - 1] = '\0';
    /* Room for three entries of ~1 KB, not four. */
    struct qcache *c = qcache_new(3 * 1100);
    put_ok(c, "a", data, 0, 1000);
    put_ok(c, "b", data, 0, 1000);
    put_ok(c, "c", data, 0, 1000);
    assert_true(get(c, "a", 1, data)); /* a is now the most recent: b is the LRU */
    put_ok(c, "d", data, 0, 1000);
    assert_false(get(c, "b", 2, ""));
    assert_true(get(c, "a", 2, data));
    assert_true(get(c, "c", 2, data));
    assert_true(get(c, "d", 2, data));
    struct proxy_qcache_figures st = {0};
    qcache_stats_add(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 3);
    assert_true(st.bytes <= 3 * 1100);
    /* Shrinking the limit evicts at once. */
    qcache_set_limit(c, 1100);
    st = (struct proxy_qcache_figures){0};
    qcache_stats_add(c, &st);
    assert_int_equal(st.entries, 1);
    assert_true(get(c, "d", 3, data));
    qcache_free(c);
}

static void test_oversized_refused(void **state)
{
    (void)state;
    struct qcache *c = qcache_new(100);
    char big[200];
    memset(big, 'x', sizeof(big));
    assert_int_equal(qcache_put(c, "k", 1, big, sizeof(big), 0, 10), PROXY_ETOOBIG);
    const uint8_t *d;
    size_t n;
    assert_false(qcache_get(c, "k", 1, 0, &d, &n));
    struct qcache *off = qcache_new(0); /* size 0: caches nothing */
    assert_int_equal(qcache_put(off, "k", 1, "v", 1, 0, 10), PROXY_ETOOBIG);
    qcache_free(off);
    qcache_free(c);
}

static void test_many_entries_grow(void **state)
{
    (void)state;
    struct qcache *c = qcache_new(1 << 24);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key), "SELECT %d", i);
        assert_int_equal(qcache_put(c, key, (size_t)n, key, (size_t)n, 0, 100), 0);
    }
    for (int i = 0; i < 5000; i += 7) {
        int n = snprintf(key, sizeof(key), "SELECT %d", i);
        const uint8_t *d;
        size_t len;
        assert_true(qcache_get(c, key, (size_t)n, 1, &d, &len));
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(d, key, len);
    }
    qcache_clear(c);
    struct proxy_qcache_figures st = {0};
    qcache_stats_add(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    qcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_expiry),   cmocka_unit_test(test_keys_differ_by_every_byte),
        cmocka_unit_test(test_lru_eviction),      cmocka_unit_test(test_oversized_refused),
        cmocka_unit_test(test_many_entries_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
