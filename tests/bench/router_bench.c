/*
 * Micro-benchmark of the router alone: digest plus rule evaluation per
 * query, no sockets. The target is under 2 us per query with 100
 * rules on this machine.
 *
 * Rules: configs/rw-split.sql (read with tests/common/rules_sql.c), placed
 * after padding rules that bring the set to 100 and that a real setup puts
 * first: routes for other users and schemas (cheap: a string compare), regex
 * rules on other tables without a user (each one runs PCRE2 on every
 * statement), literal-prefix rules, digest-hash rules and firewall rules.
 * None of them matches the generated statements, so every statement walks
 * all of them before the read/write split decides: the worst case for a
 * rule set of this size.
 *
 * Statements: 1,000, generated from ~50 real-world templates (ORM selects,
 * joins, pagination, IN lists of 1-200 items, multi-row inserts, upserts,
 * locking reads, CTEs, SHOW, SET, transactions, session functions) with
 * random literals, identifiers and leading comments or hints, from a fixed
 * seed so that runs compare.
 *
 * Measured (each a median of 5 runs of about 130 ms, so about 2 s in all):
 *   digest    router_digest() alone, per statement and per byte (this
 *             replaces the throughput figure tests/unit/test_digest.c used
 *             to print);
 *   classify  router_classify() alone, which digests lazily itself when a
 *             rule needs it (the rw-split rules do);
 *   routed    what a session that also records digest statistics does per
 *             statement: router_classify(), then router_digest() only when
 *             no rule needed the digest (the decision carries its hash, and
 *             the text is needed only for a digest not yet in the stats).
 *
 * Usage: router_bench [rules.sql]
 */
#include "router/router.h"
#include "tests/common/rules_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NRULES 100
#define NQUERIES 1000
#define RUNS 5
#define RUN_NS 130000000ull
#define QUERY_CAP 4096

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- rules */

/* Storage for the padding rules' strings: the specs borrow them. */
static char pad_text[NRULES + 1][6][96];

static void pad_rule(struct router_rule_spec *s, int id, int kind)
{
    char(*t)[96] = pad_text[id];
    *s = rules_sql_defaults(); /* re_modifiers CASELESS, as NULL */
    s->rule_id = id;
    s->active = true;
    s->destination_hostgroup = 2;
    s->apply = true;
    switch (kind % 6) {
    case 0: /* another user's route */
        snprintf(t[0], sizeof(t[0]), "report_%d", id);
        s->username = t[0];
        break;
    case 1: /* another schema's route */
        snprintf(t[0], sizeof(t[0]), "tenant_%d", id);
        s->schemaname = t[0];
        s->destination_hostgroup = 3;
        break;
    case 2: /* a regex on a table the workload does not use, for everyone */
        snprintf(t[1], sizeof(t[1]), "\\bFROM\\s+legacy_archive_%d\\b", id);
        s->match_digest = t[1];
        break;
    case 3: /* a literal prefix (the engine's fast path) */
        snprintf(t[2], sizeof(t[2]), "^CALL sp_rebuild_%d", id);
        s->match_pattern = t[2];
        break;
    case 4: /* one statement shape pinned by its digest hash */
        snprintf(t[3], sizeof(t[3]), "0x%016" PRIx64,
                 ((uint64_t)rnd(1u << 31) << 32) | rnd(1u << 31));
        s->digest = t[3];
        break;
    default: /* a firewall rule on a regex */
        snprintf(t[4], sizeof(t[4]), "^DELETE FROM audit_log_%d\\b", id);
        s->match_digest = t[4];
        s->error_msg = "audit rows are append-only";
        s->destination_hostgroup = -1;
        break;
    }
}

/* ------------------------------------------------------------ templates */

static const char *tables[] = {
    "users",    "orders",      "order_items", "products",       "carts",    "sessions",
    "payments", "inventory",   "reviews",     "shipments",      "coupons",  "addresses",
    "events",   "wp_postmeta", "wp_options",  "django_session", "accounts", "ledger_lines"};
static const char *columns[] = {"id",         "user_id", "status",     "created_at", "updated_at",
                                "email",      "total",   "sku",        "quantity",   "price",
                                "name",       "slug",    "deleted_at", "tenant_id",  "meta_key",
                                "meta_value", "version", "parent_id"};
static const char *heads[] = {"",
                              "",
                              "",
                              "/* app:web-3 req:8f2a */ ",
                              "/*+ MAX_EXECUTION_TIME(1000) */ ",
                              "-- controller=OrderController\n",
                              "/* ApplicationName=DBeaver */ ",
                              "\n  "};

/* {T} table, {C} column, {I} integer, {N} negative or decimal number, {S}
 * string, {L} IN list of 1-200 integers, {V} 1-20 value tuples, {H} a
 * leading comment, hint or nothing. */
static const char *templates[] = {
    "{H}SELECT * FROM {T} WHERE {C} = {I}",
    "{H}SELECT {C}, {C}, {C} FROM {T} WHERE {C} = {S} LIMIT 1",
    "{H}SELECT `{T}`.`{C}` AS `{C}_0`, `{T}`.`{C}` AS `{C}_1`, `{T}`.`{C}` AS `{C}_2` FROM `{T}` "
    "WHERE `{T}`.`{C}` = {I} AND `{T}`.`deleted_at` IS NULL",
    "{H}SELECT * FROM {T} WHERE {C} IN ({L})",
    "{H}SELECT {C}, COUNT(*) FROM {T} WHERE {C} > {S} GROUP BY {C} ORDER BY 2 DESC LIMIT {I}",
    "{H}SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE "
    "o.status = {S} AND o.created_at > {S} ORDER BY o.id DESC LIMIT {I} OFFSET {I}",
    "{H}SELECT * FROM {T} WHERE {C} BETWEEN {I} AND {I} AND {C} <> {N}",
    "{H}select {C} from {T} where {C} like {S} order by {C} limit {I}",
    "{H}SELECT p.* FROM products p WHERE p.id IN (SELECT product_id FROM order_items WHERE "
    "order_id = {I}) AND p.price > {N}",
    "{H}SELECT a.{C} FROM {T} a LEFT JOIN {T} b ON b.{C} = a.{C} WHERE b.{C} IS NULL LIMIT {I}",
    "{H}SELECT COUNT(*) AS cnt FROM {T} WHERE {C} = {I}",
    "{H}SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'",
    "{H}SELECT meta_key, meta_value FROM wp_postmeta WHERE post_id IN ({L}) ORDER BY meta_id ASC",
    "{H}SELECT session_data FROM django_session WHERE session_key = {S} AND expire_date > {S}",
    "{H}SELECT {C} FROM {T} WHERE {C} = {I} UNION ALL SELECT {C} FROM {T} WHERE {C} = {I}",
    "{H}WITH recent AS (SELECT {C}, {C} FROM {T} WHERE {C} > {S}) SELECT * FROM recent LIMIT {I}",
    "{H}(SELECT {C} FROM {T} ORDER BY {C} LIMIT {I}) UNION (SELECT {C} FROM {T} LIMIT {I})",
    "{H}SELECT * FROM {T} WHERE {C} = {I} FOR UPDATE",
    "{H}SELECT {C} FROM {T} WHERE {C} IN ({L}) FOR UPDATE SKIP LOCKED",
    "{H}SELECT * FROM {T} WHERE {C} = {I} LOCK IN SHARE MODE",
    "{H}SELECT {C} FROM {T} WHERE {C} = {S} FOR SHARE",
    "{H}SELECT LAST_INSERT_ID()",
    "{H}SELECT FOUND_ROWS()",
    "{H}SELECT GET_LOCK({S}, {I})",
    "{H}SELECT RELEASE_LOCK({S})",
    "{H}SELECT @@session.transaction_isolation",
    "{H}SELECT @@version_comment LIMIT 1",
    "{H}SELECT NEXTVAL(order_seq)",
    "{H}SELECT {C} INTO @v FROM {T} WHERE {C} = {I}",
    "{H}INSERT INTO {T} ({C}, {C}, {C}) VALUES ({I}, {S}, {N})",
    "{H}INSERT INTO {T} ({C}, {C}) VALUES {V}",
    "{H}INSERT INTO {T} ({C}, {C}) VALUES ({I}, {S}) ON DUPLICATE KEY UPDATE {C} = VALUES({C})",
    "{H}INSERT INTO {T} SELECT * FROM {T} WHERE {C} < {S}",
    "{H}REPLACE INTO {T} ({C}, {C}) VALUES ({I}, {S})",
    "{H}UPDATE {T} SET {C} = {S}, {C} = {N} WHERE {C} = {I}",
    "{H}UPDATE {T} SET {C} = {C} + {I} WHERE {C} IN ({L})",
    "{H}DELETE FROM {T} WHERE {C} = {I}",
    "{H}DELETE FROM {T} WHERE {C} < {S} LIMIT {I}",
    "BEGIN",
    "START TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "SET autocommit = {I}",
    "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'",
    "{H}SHOW TABLES",
    "{H}SHOW FULL COLUMNS FROM `{T}`",
    "SHOW WARNINGS",
    "{H}EXPLAIN SELECT * FROM {T} WHERE {C} = {I}",
    "{H}CALL refresh_{T}({I}, {S})",
    "{H}SELECT 1",
};

/* Appends s (n bytes) to q, bounded. */
static void put(char *q, size_t *len, const char *s, size_t n)
{
    if (*len + n >= QUERY_CAP)
        n = QUERY_CAP - 1 - *len;
    memcpy(q + *len, s, n);
    *len += n;
    q[*len] = '\0';
}

static void putf(char *q, size_t *len, const char *fmt, long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), fmt, v);
    put(q, len, b, (size_t)n);
}

static void put_string_literal(char *q, size_t *len)
{
    static const char *words[] = {"paid",  "shipped",           "2024-05-01 10:00:00", "it''s",
                                  "a\\'b", "alice@example.com", "FOR UPDATE",          "x"};
    put(q, len, "'", 1);
    const char *w = words[rnd(sizeof(words) / sizeof(words[0]))];
    put(q, len, w, strlen(w));
    put(q, len, "'", 1);
}

static size_t expand(const char *tpl, char *q)
{
    size_t len = 0;
    q[0] = '\0';
    for (const char *p = tpl; *p;) {
        if (p[0] != '{' || p[2] != '}') {
            put(q, &len, p++, 1);
            continue;
        }
        const char *s;
        switch (p[1]) {
        case 'T':
            s = tables[rnd(sizeof(tables) / sizeof(tables[0]))];
            put(q, &len, s, strlen(s));
            break;
        case 'C':
            s = columns[rnd(sizeof(columns) / sizeof(columns[0]))];
            put(q, &len, s, strlen(s));
            break;
        case 'I':
            putf(q, &len, "%ld", (long)rnd(100000));
            break;
        case 'N':
            putf(q, &len, rnd(2) ? "-%ld" : "%ld.99", (long)rnd(1000));
            break;
        case 'S':
            put_string_literal(q, &len);
            break;
        case 'L': {
            unsigned n = 1 + (rnd(4) ? rnd(10) : rnd(200));
            for (unsigned i = 0; i < n; i++)
                putf(q, &len, i ? ", %ld" : "%ld", (long)rnd(1000000));
            break;
        }
        case 'V': {
            unsigned n = 1 + rnd(20);
            for (unsigned i = 0; i < n; i++) {
                putf(q, &len, i ? ", (%ld, " : "(%ld, ", (long)rnd(100000));
                put_string_literal(q, &len);
                put(q, &len, ")", 1);
            }
            break;
        }
        case 'H':
            s = heads[rnd(sizeof(heads) / sizeof(heads[0]))];
            put(q, &len, s, strlen(s));
            break;
        default:
            put(q, &len, p, 3);
            break;
        }
        p += 3;
    }
    return len;
}

/* ---------------------------------------------------------------- timing */

struct workload {
    char *sql[NQUERIES];
    size_t len[NQUERIES];
    const struct router_rules *rules;
    struct router_scratch *scratch;
    struct router_facts facts;
    uint64_t sink; /* keeps the work observable */
    unsigned hg[4];
};

enum phase { PHASE_DIGEST, PHASE_CLASSIFY, PHASE_ROUTED };

static void one_pass(struct workload *w, enum phase ph)
{
    char digest[QUERY_CAP];
    for (size_t i = 0; i < NQUERIES; i++) {
        uint64_t h = 0;
        if (ph == PHASE_DIGEST)
            router_digest(w->sql[i], w->len[i], digest, sizeof(digest), 64 * 1024, &h);
        if (ph != PHASE_DIGEST) {
            struct router_decision d;
            (void)router_classify(w->rules, w->scratch, &w->facts, w->sql[i], w->len[i], &d);
            h = d.digest;
            if (ph == PHASE_ROUTED && h == 0)
                router_digest(w->sql[i], w->len[i], digest, sizeof(digest), 64 * 1024, &h);
            h ^= (uint64_t)d.hostgroup;
        }
        w->sink += h;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns per statement of RUNS runs of about RUN_NS each. */
static double measure(struct workload *w, enum phase ph)
{
    uint64_t t0 = now_ns();
    one_pass(w, ph); /* warm-up and calibration */
    uint64_t pass_ns = now_ns() - t0;
    uint64_t passes = pass_ns ? RUN_NS / pass_ns : 1000;
    if (passes == 0)
        passes = 1;
    double r[RUNS];
    for (int k = 0; k < RUNS; k++) {
        t0 = now_ns();
        for (uint64_t p = 0; p < passes; p++)
            one_pass(w, ph);
        r[k] = (double)(now_ns() - t0) / (double)(passes * NQUERIES);
    }
    qsort(r, RUNS, sizeof(r[0]), cmp_double);
    return r[RUNS / 2];
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : SLUICE_SOURCE_ROOT "/configs/rw-split.sql";
    struct rules_sql rs;
    char err[512];
    if (rules_sql_load(path, &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "router_bench: cannot read %s: %s\n", path, err);
        return 1;
    }
    if (rs.n > NRULES) {
        fprintf(stderr, "router_bench: %s has more than %d rules\n", path, NRULES);
        return 1;
    }
    struct router_rule_spec specs[NRULES];
    size_t npad = NRULES - rs.n;
    for (size_t i = 0; i < npad; i++)
        pad_rule(&specs[i], (int)i + 1, (int)i); /* ids 1..npad: before the split's 100+ */
    memcpy(specs + npad, rs.specs, rs.n * sizeof(specs[0]));

    struct router_rules *rules;
    if (router_rules_compile(specs, NRULES, &rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "router_bench: %s\n", err);
        return 1;
    }
    static struct workload w;
    w.rules = rules;
    w.scratch = router_scratch_new(QUERY_CAP);
    w.facts = (struct router_facts){
        .user = "app", .schema = "shop", .client_addr = "10.1.2.3", .default_hostgroup = 0};
    if (w.scratch == NULL) {
        fprintf(stderr, "router_bench: out of memory\n");
        return 1;
    }
    size_t total_len = 0;
    for (size_t i = 0; i < NQUERIES; i++) {
        char q[QUERY_CAP];
        const char *tpl = templates[rnd(sizeof(templates) / sizeof(templates[0]))];
        w.len[i] = expand(tpl, q);
        w.sql[i] = malloc(w.len[i] + 1);
        if (w.sql[i] == NULL)
            return 1;
        memcpy(w.sql[i], q, w.len[i] + 1);
        total_len += w.len[i];
    }
    for (size_t i = 0; i < NQUERIES; i++) {
        struct router_decision d;
        (void)router_classify(rules, w.scratch, &w.facts, w.sql[i], w.len[i], &d);
        w.hg[d.hostgroup >= 0 && d.hostgroup < 4 ? d.hostgroup : 3]++;
    }

    double digest = measure(&w, PHASE_DIGEST);
    double classify = measure(&w, PHASE_CLASSIFY);
    double routed = measure(&w, PHASE_ROUTED);

    printf("router_bench: %zu rules (%zu from %s, %zu padding), %d statements from %zu "
           "templates, mean %zu bytes\n",
           router_rules_count(rules), rs.n, path, npad, NQUERIES,
           sizeof(templates) / sizeof(templates[0]), total_len / NQUERIES);
    printf("  decisions: writer %u, reader %u, other %u\n", w.hg[0], w.hg[1], w.hg[2] + w.hg[3]);
    printf("  digest    %8.0f ns/statement, %.2f ns/byte\n", digest,
           digest * NQUERIES / (double)total_len);
    printf("  classify  %8.0f ns/statement (digests lazily inside)\n", classify);
    printf("  routed    %8.0f ns/statement (classify, digest only if no rule made it; "
           "target < 2000)\n",
           routed);
    printf("  (median of %d runs; checksum %016" PRIx64 ")\n", RUNS, w.sink);

    for (size_t i = 0; i < NQUERIES; i++)
        free(w.sql[i]);
    router_scratch_free(w.scratch);
    router_rules_free(rules);
    rules_sql_free(&rs);
    return 0;
}
