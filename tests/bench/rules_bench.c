/*
 * Micro-benchmark of the rule engine (router_classify) on a hand-built set
 * of 100 rules; moved here from tests/unit/test_rules.c so that the unit
 * tests only test. tests/bench/router_bench.c measures the whole router on
 * configs/rw-split.sql and generated statements; this one keeps the rule
 * set small and known, and isolates what one match_digest rule costs.
 *
 * Rules: 95 that never match these sessions or statements (a third for
 * other users and a third for other schemas, which stop at a string
 * compare; a third for every session with prefix or unanchored regex
 * patterns that the engine must try), then ProxySQL's read/write split.
 * Run twice: as is, and with one of the 95 given a match_digest, so that
 * every statement pays for router_digest() too.
 *
 * Statements: 20 fixed shapes (sysbench, ORM selects and joins, locking
 * reads, writes, SHOW, SET, BEGIN, COMMIT), classified 100,000 times in
 * turn. Reported per statement: wall time, and this thread's CPU time
 * (fairer on a loaded machine).
 *
 * Usage: rules_bench. Exits 1 if the rule set does not route as intended.
 */
#include "router/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NRULES 100
#define EVALS 100000

/* RULE() gives every field its SQL-NULL default and lets the caller
 * override some; overriding a designated initializer is well-defined C
 * (the last one wins), the warning only guards against accidents. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define RULE(...)                                                                                  \
    {                                                                                              \
        .active = true, .flag_out = -1, .destination_hostgroup = -1, .cache_ttl = -1,              \
        .timeout = -1, .retries = -1, .delay = -1, .multiplex = -1, .log = -1, __VA_ARGS__         \
    }

static const char *const bench_queries[] = {
    "SELECT c FROM sbtest1 WHERE id = 4921",
    "SELECT c FROM sbtest1 WHERE id BETWEEN 100 AND 199",
    "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 100 AND 199",
    "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 100 AND 199 ORDER BY c",
    "SELECT * FROM orders WHERE customer_id = 77 AND status IN ('new', 'paid') LIMIT 20",
    "SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE o.created_at > '2024-01-01' ORDER BY o.created_at DESC LIMIT 50",
    "SELECT balance FROM accounts WHERE id = 12 FOR UPDATE",
    "SELECT * FROM inventory WHERE sku = 'A-17' LOCK IN SHARE MODE",
    "select id, email from users where email = 'a@example.com'",
    "/* app:checkout */ SELECT id FROM carts WHERE session_id = 'abc'",
    "UPDATE sbtest1 SET k = k + 1 WHERE id = 5012",
    "UPDATE accounts SET balance = balance - 10 WHERE id = 12",
    "INSERT INTO sbtest1 (id, k, c, pad) VALUES (0, 5, 'x', 'y')",
    "INSERT INTO events (type, payload) VALUES ('click', '{\"x\": 1}'), ('view', '{}')",
    "DELETE FROM sbtest1 WHERE id = 5012",
    "REPLACE INTO kv (k, v) VALUES ('a', 'b')",
    "SHOW TABLES",
    "SET autocommit = 1",
    "BEGIN",
    "COMMIT",
};

/* Storage for the padding rules' strings: the specs borrow them. */
static char bench_strings[95][2][64];

static size_t bench_rules(struct router_rule_spec *specs, bool with_digest)
{
    size_t n = 0;
    for (int i = 0; i < 95; i++) {
        char *a = bench_strings[i][0], *b = bench_strings[i][1];
        struct router_rule_spec r = RULE(.rule_id = i + 1, .destination_hostgroup = 20 + i);
        switch (i % 3) {
        case 0:
            snprintf(a, 64, "svc_%d", i);
            r.username = a;
            r.match_pattern = "^SELECT";
            break;
        case 1:
            snprintf(a, 64, "tenant_%d", i);
            snprintf(b, 64, "^SELECT .* FROM orders_%d", i);
            r.schemaname = a;
            r.match_pattern = b;
            break;
        default:
            snprintf(b, 64, i % 2 ? "^CALL proc_%d" : "\\bFROM archive_%d\\b", i);
            r.match_pattern = b;
            /* No session filter, so every query reaches it and pays for
             * the digest. */
            if (with_digest && i == 92)
                r.match_digest = "^SELECT .* FROM audit_log";
            break;
        }
        specs[n++] = r;
    }
    /* ProxySQL's read/write split. */
    specs[n++] =
        (struct router_rule_spec)RULE(.rule_id = 100, .match_pattern = "^SELECT .* FOR UPDATE",
                                      .destination_hostgroup = 0, .apply = true);
    specs[n++] =
        (struct router_rule_spec)RULE(.rule_id = 101,
                                      .match_pattern = "^SELECT .* (LOCK IN SHARE MODE|FOR SHARE)",
                                      .destination_hostgroup = 0, .apply = true);
    specs[n++] = (struct router_rule_spec)RULE(.rule_id = 102, .match_pattern = "^SELECT",
                                               .destination_hostgroup = 1, .apply = true);
    specs[n++] = (struct router_rule_spec)RULE(.rule_id = 103, .match_pattern = "^SHOW",
                                               .destination_hostgroup = 1, .apply = true);
    specs[n++] = (struct router_rule_spec)RULE(.rule_id = 104,
                                               .match_pattern = "^(INSERT|UPDATE|DELETE|REPLACE)",
                                               .destination_hostgroup = 0, .apply = true);
    return n;
}

struct bench_result {
    double wall_ns; /* per query */
    double cpu_ns;  /* this thread's CPU time per query: fairer on a loaded machine */
};

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/* Checks that query q goes to hostgroup hg by rule rule_id (-1: any). */
static bool routes(const struct router_rules *rules, struct router_scratch *scratch,
                   const struct router_facts *facts, size_t q, int hg, int rule_id)
{
    struct router_decision d;
    router_classify(rules, scratch, facts, bench_queries[q], strlen(bench_queries[q]), &d);
    if (d.hostgroup == hg && (rule_id < 0 || d.rule_id == rule_id))
        return true;
    fprintf(stderr, "rules_bench: \"%s\" went to hostgroup %d by rule %d, not %d by %d\n",
            bench_queries[q], d.hostgroup, d.rule_id, hg, rule_id);
    return false;
}

/* 0 and *out filled, or 1 when the rule set does not compile or route as
 * intended. */
static int bench_once(bool with_digest, struct bench_result *out)
{
    struct router_rule_spec specs[NRULES];
    size_t n = bench_rules(specs, with_digest);
    struct router_rules *rules;
    char err[256];
    if (n != NRULES || router_rules_compile(specs, n, &rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "rules_bench: %zu rules: %s\n", n, n != NRULES ? "wrong count" : err);
        return 1;
    }
    int rc = 1;
    struct router_scratch *scratch = router_scratch_new(64 * 1024);
    struct router_facts facts = {.user = "app", .schema = "shop", .default_hostgroup = 0};
    size_t lens[N(bench_queries)];
    for (size_t q = 0; q < N(bench_queries); q++)
        lens[q] = strlen(bench_queries[q]);
    if (scratch == NULL) {
        fprintf(stderr, "rules_bench: out of memory\n");
        goto out;
    }

    /* The set routes as intended before it is timed. */
    if (!routes(rules, scratch, &facts, 0, 1, -1) || !routes(rules, scratch, &facts, 6, 0, 100) ||
        !routes(rules, scratch, &facts, 7, 0, 101))
        goto out;

    struct router_decision d;
    unsigned sink = 0;
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (size_t i = 0; i < EVALS; i++) {
        size_t q = i % N(bench_queries);
        router_classify(rules, scratch, &facts, bench_queries[q], lens[q], &d);
        sink += (unsigned)d.hostgroup;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (sink == 0) {
        fprintf(stderr, "rules_bench: every statement went to hostgroup 0\n");
        goto out;
    }
    *out = (struct bench_result){elapsed_ns(&t0, &t1) / EVALS, elapsed_ns(&c0, &c1) / EVALS};
    rc = 0;
out:
    router_scratch_free(scratch);
    router_rules_free(rules);
    return rc;
}

int main(void)
{
    struct bench_result plain, digest;
    if (bench_once(false, &plain) != 0 || bench_once(true, &digest) != 0)
        return 1;
    printf("rules_bench: router_classify, %d rules, %zu query shapes, %d evaluations: "
           "%.0f ns/query wall, %.0f ns/query CPU\n",
           NRULES, N(bench_queries), EVALS, plain.wall_ns, plain.cpu_ns);
    printf("rules_bench: same plus a match_digest rule (router_digest on every query): "
           "%.0f ns/query wall, %.0f ns/query CPU\n",
           digest.wall_ns, digest.cpu_ns);
    return 0;
}
