/*
 * Unit tests for explaining a routing decision: router_explain() (the steps
 * reported for a flagIN/flagOUT chain with apply, negation, session filters,
 * digests and rewrites; the decision equal to router_classify()'s; hit
 * counters left alone) and the admin command EXPLAIN QUERY RULES (runtime
 * and MEMORY rules, the user's default hostgroup, quoting, errors).
 *
 * The admin tests start the shared fixture (admin_fixture.h) on a config
 * script, as test_admin_exec.c.
 */
/* clang-format off */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "admin/admin.h"
#include "router/router.h"
#include "tests/common/rules_sql.h"
#include "tests/unit/admin_fixture.h"

#define DEFAULT_HG 10
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* RULE() gives every field its SQL-NULL default and lets the table row
 * override some; overriding a designated initializer is well-defined C (the
 * last one wins), the warning only guards against accidents. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define RULE(...)                                                                                  \
    {                                                                                              \
        .active = true, .flag_out = -1, .destination_hostgroup = -1, .cache_ttl = -1,              \
        .timeout = -1, .retries = -1, .delay = -1, .multiplex = -1, .log = -1, __VA_ARGS__         \
    }

/* ------------------------------------------------------------- router */

#define MAX_STEPS 32

/* A copy of one reported step: the callback's pointers die with the call. */
struct seen {
    struct router_explain_step st;
    char text[256];
    char digest_text[256];
};

struct recorder {
    struct seen step[MAX_STEPS];
    size_t n;
};

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
    assert_true(len < cap);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void record(void *arg, const struct router_explain_step *st)
{
    struct recorder *rec = arg;

    assert_true(rec->n < MAX_STEPS);
    struct seen *s = &rec->step[rec->n++];
    s->st = *st;
    copy_text(s->text, sizeof(s->text), st->text, st->text_len);
    copy_text(s->digest_text, sizeof(s->digest_text), st->digest_text, st->digest_text_len);
    s->st.text = s->text;
    s->st.digest_text = s->digest_text;
    /* error_msg and ok_msg point into the rule set, which outlives the
     * recorder in these tests. */
}

/* The flagIN/flagOUT chain of the main test; rule ids tell the story. */
static const struct router_rule_spec chain[] = {
    /* Another user's route. */
    RULE(.rule_id = 10, .username = "report", .destination_hostgroup = 5, .apply = true),
    /* Reads go on to flag 1, towards the readers. */
    RULE(.rule_id = 20, .match_pattern = "^SELECT", .destination_hostgroup = 1, .flag_out = 1),
    /* Flag 0 only: the flag is 1 by now. */
    RULE(.rule_id = 25, .match_pattern = "^UPDATE", .destination_hostgroup = 0, .apply = true),
    /* Negated: not a locking read, so it matches. */
    RULE(.rule_id = 30, .flag_in = 1, .match_pattern = "FOR UPDATE", .negate_match_pattern = true,
         .destination_hostgroup = 2, .flag_out = 2),
    /* A rewrite. */
    RULE(.rule_id = 40, .flag_in = 2, .match_pattern = "\\bsecret_tbl\\b",
         .replace_pattern = "public_tbl"),
    /* Negated and matching the (rewritten) text: skipped. */
    RULE(.rule_id = 45, .flag_in = 2, .match_pattern = "public_tbl", .negate_match_pattern = true,
         .destination_hostgroup = 7),
    RULE(.rule_id = 50, .flag_in = 2, .schemaname = "other", .destination_hostgroup = 8),
    RULE(.rule_id = 55, .flag_in = 2, .match_digest = "^INSERT", .destination_hostgroup = 9),
    RULE(.rule_id = 60, .flag_in = 2, .match_pattern = "^SELECT", .destination_hostgroup = 3,
         .apply = true),
    /* Never considered: rule 60 applies. */
    RULE(.rule_id = 70, .flag_in = 2, .destination_hostgroup = 4),
};

static const struct router_facts app_facts = {
    .user = "app", .schema = "shop", .client_addr = "10.0.0.5", .default_hostgroup = DEFAULT_HG};

static struct router_rules *compile(const struct router_rule_spec *specs, size_t n)
{
    struct router_rules *rules = NULL;
    char err[256];

    if (router_rules_compile(specs, n, &rules, err, sizeof(err)) != 0)
        fail_msg("compile: %s", err);
    return rules;
}

/* Explains sql and checks that the decision equals router_classify()'s on
 * another scratch, field by field. */
static void explain_and_compare(const struct router_rules *rules, const struct router_facts *facts,
                                const char *sql, struct recorder *rec)
{
    struct router_scratch *s1 = router_scratch_new(4096), *s2 = router_scratch_new(4096);
    struct router_decision e, c;

    assert_non_null(s1);
    assert_non_null(s2);
    memset(rec, 0, sizeof(*rec));
    assert_int_equal(router_explain(rules, s1, facts, sql, strlen(sql), record, rec, &e), 0);
    assert_int_equal(router_classify(rules, s2, facts, sql, strlen(sql), &c), 0);
    assert_int_equal(e.hostgroup, c.hostgroup);
    assert_int_equal(e.stmt_flags, c.stmt_flags);
    assert_int_equal(e.digest, c.digest);
    assert_int_equal(e.rule_id, c.rule_id);
    assert_ptr_equal(e.error_msg, c.error_msg);
    assert_ptr_equal(e.ok_msg, c.ok_msg);
    assert_int_equal(e.rewritten == NULL, c.rewritten == NULL);
    if (e.rewritten) {
        assert_int_equal(e.rewritten_len, c.rewritten_len);
        assert_memory_equal(e.rewritten, c.rewritten, c.rewritten_len);
    }
    assert_int_equal(e.cache_ttl, c.cache_ttl);
    assert_int_equal(e.timeout_ms, c.timeout_ms);
    assert_int_equal(e.multiplex, c.multiplex);

    /* The last step is the decision and agrees with it. */
    assert_true(rec->n >= 1);
    const struct router_explain_step *d = &rec->step[rec->n - 1].st;
    assert_int_equal(d->outcome, ROUTER_EXPLAIN_DECISION);
    assert_int_equal(d->index, rec->n - 1);
    assert_int_equal(d->rule_id, -1);
    assert_int_equal(d->destination_hostgroup, c.hostgroup);
    assert_ptr_equal(d->error_msg, c.error_msg);
    assert_ptr_equal(d->ok_msg, c.ok_msg);
    assert_int_equal(d->rewritten, c.rewritten != NULL);
    if (c.rewritten)
        assert_memory_equal(d->text, c.rewritten, c.rewritten_len);
    else
        assert_string_equal(d->text, sql);

    /* Every step carries the query's digest. */
    char want[256];
    uint64_t hash;
    size_t n = router_digest(sql, strlen(sql), want, sizeof(want), 64 * 1024, &hash);
    assert_true(n < sizeof(want));
    for (size_t i = 0; i < rec->n; i++) {
        assert_int_equal(rec->step[i].st.index, i);
        assert_int_equal(rec->step[i].st.digest, hash);
        assert_string_equal(rec->step[i].digest_text, want);
    }
    if (c.digest)
        assert_int_equal(c.digest, hash);
    router_scratch_free(s1);
    router_scratch_free(s2);
}

struct want_step {
    int rule_id;
    enum router_explain_outcome outcome;
};

static void check_steps(const struct recorder *rec, const struct want_step *want, size_t n)
{
    /* n rule steps, then the decision. */
    if (rec->n != n + 1) {
        for (size_t i = 0; i < rec->n; i++)
            print_error("step %zu: rule %d %s\n", i, rec->step[i].st.rule_id,
                        router_explain_outcome_str(rec->step[i].st.outcome));
        fail_msg("%zu steps, want %zu", rec->n, n + 1);
    }
    for (size_t i = 0; i < n; i++) {
        const struct router_explain_step *st = &rec->step[i].st;
        if (st->rule_id != want[i].rule_id || st->outcome != want[i].outcome)
            fail_msg("step %zu: rule %d %s, want rule %d %s", i, st->rule_id,
                     router_explain_outcome_str(st->outcome), want[i].rule_id,
                     router_explain_outcome_str(want[i].outcome));
    }
}

static void test_chain(void **state)
{
    (void)state;
    struct router_rules *rules = compile(chain, N(chain));
    struct recorder rec;
    const char *sql = "SELECT a FROM secret_tbl WHERE id = 1";

    explain_and_compare(rules, &app_facts, sql, &rec);
    static const struct want_step want[] = {
        {10, ROUTER_EXPLAIN_SKIP_USERNAME},   {20, ROUTER_EXPLAIN_MATCHED},
        {25, ROUTER_EXPLAIN_SKIP_FLAG},       {30, ROUTER_EXPLAIN_MATCHED},
        {40, ROUTER_EXPLAIN_MATCHED},         {45, ROUTER_EXPLAIN_SKIP_MATCH_PATTERN_NEG},
        {50, ROUTER_EXPLAIN_SKIP_SCHEMANAME}, {55, ROUTER_EXPLAIN_SKIP_MATCH_DIGEST},
        {60, ROUTER_EXPLAIN_MATCHED},
    };
    check_steps(&rec, want, N(want));

    /* Actions and the state after each matched rule. */
    const struct router_explain_step *s20 = &rec.step[1].st, *s30 = &rec.step[3].st;
    const struct router_explain_step *s40 = &rec.step[4].st, *s60 = &rec.step[8].st;
    assert_int_equal(s20->destination_hostgroup, 1);
    assert_int_equal(s20->flag_out, 1);
    assert_int_equal(s20->flag, 1);
    assert_false(s20->apply);
    assert_false(s20->stops);
    assert_false(s20->rewritten);
    assert_string_equal(s20->text, sql);
    assert_int_equal(rec.step[2].st.flag_in, 0);
    assert_int_equal(rec.step[2].st.flag, 1); /* why 25 was skipped */
    assert_int_equal(s30->destination_hostgroup, 2);
    assert_int_equal(s30->flag, 2);
    assert_true(s40->rewritten);
    assert_int_equal(s40->destination_hostgroup, -1);
    assert_string_equal(s40->text, "SELECT a FROM public_tbl WHERE id = 1");
    assert_string_equal(rec.step[5].st.text, "SELECT a FROM public_tbl WHERE id = 1");
    assert_false(rec.step[5].st.rewritten);
    assert_true(s60->apply);
    assert_true(s60->stops);
    assert_false(s60->rewritten);
    assert_int_equal(s60->destination_hostgroup, 3);

    const struct router_explain_step *d = &rec.step[9].st;
    assert_int_equal(d->destination_hostgroup, 3);
    assert_int_equal(d->flag, 2);
    assert_true(d->rewritten);
    assert_string_equal(d->text, "SELECT a FROM public_tbl WHERE id = 1");
    assert_string_equal(rec.step[0].digest_text, "SELECT a FROM secret_tbl WHERE id = ?");

    /* A locking read: the negated rule 30 is skipped and no other rule
     * waits at flag 1, so rule 20's hostgroup 1 stands. */
    explain_and_compare(rules, &app_facts, "SELECT a FROM t WHERE id = 1 FOR UPDATE", &rec);
    static const struct want_step locking[] = {
        {10, ROUTER_EXPLAIN_SKIP_USERNAME}, {20, ROUTER_EXPLAIN_MATCHED},
        {25, ROUTER_EXPLAIN_SKIP_FLAG},     {30, ROUTER_EXPLAIN_SKIP_MATCH_PATTERN_NEG},
        {40, ROUTER_EXPLAIN_SKIP_FLAG},     {45, ROUTER_EXPLAIN_SKIP_FLAG},
        {50, ROUTER_EXPLAIN_SKIP_FLAG},     {55, ROUTER_EXPLAIN_SKIP_FLAG},
        {60, ROUTER_EXPLAIN_SKIP_FLAG},     {70, ROUTER_EXPLAIN_SKIP_FLAG},
    };
    check_steps(&rec, locking, N(locking));
    assert_int_equal(rec.step[N(locking)].st.destination_hostgroup, 1);

    /* The user the first rule names: it applies at once. */
    struct router_facts report = app_facts;
    report.user = "report";
    explain_and_compare(rules, &report, sql, &rec);
    static const struct want_step first[] = {{10, ROUTER_EXPLAIN_MATCHED}};
    check_steps(&rec, first, N(first));
    assert_int_equal(rec.step[1].st.destination_hostgroup, 5);
    router_rules_free(rules);
}

/* Explaining moves no hit counter; classifying the same query does. */
static void test_hits_unchanged(void **state)
{
    (void)state;
    struct router_rules *rules = compile(chain, N(chain));
    struct router_scratch *scratch = router_scratch_new(4096);
    struct router_decision d;
    struct recorder rec;
    const char *sql = "SELECT a FROM secret_tbl WHERE id = 1";
    size_t n = router_rules_count(rules);

    for (int i = 0; i < 3; i++) {
        memset(&rec, 0, sizeof(rec));
        assert_int_equal(
            router_explain(rules, scratch, &app_facts, sql, strlen(sql), record, &rec, &d), 0);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(router_rules_hits(rules, i), 0);
    assert_int_equal(router_classify(rules, scratch, &app_facts, sql, strlen(sql), &d), 0);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += router_rules_hits(rules, i);
    assert_int_equal(total, 4); /* rules 20, 30, 40 and 60 */
    router_scratch_free(scratch);
    router_rules_free(rules);
}

/* The skip reasons not met in the chain, and error_msg ending evaluation. */
static void test_reasons(void **state)
{
    (void)state;
    char digest_hex[24];
    uint64_t hash;
    char buf[128];
    const char *sql = "DELETE FROM orders WHERE id = 7";

    router_digest(sql, strlen(sql), buf, sizeof(buf), 0, &hash);
    snprintf(digest_hex, sizeof(digest_hex), "0x%016" PRIX64, hash);
    const struct router_rule_spec specs[] = {
        RULE(.rule_id = 1, .client_addr = "192.168.%", .destination_hostgroup = 1),
        RULE(.rule_id = 2, .digest = "0x1234", .destination_hostgroup = 2),
        RULE(.rule_id = 3, .match_digest = "^DELETE", .negate_match_pattern = true,
             .destination_hostgroup = 3),
        RULE(.rule_id = 4, .match_pattern = "^SELECT", .destination_hostgroup = 4),
        RULE(.rule_id = 5, .digest = digest_hex, .ok_msg = "noted"),
        RULE(.rule_id = 6, .match_pattern = "^DELETE", .error_msg = "no deletes"),
        RULE(.rule_id = 7, .destination_hostgroup = 7),
    };
    struct router_rules *rules = compile(specs, N(specs));
    struct recorder rec;

    explain_and_compare(rules, &app_facts, sql, &rec);
    static const struct want_step want[] = {
        {1, ROUTER_EXPLAIN_SKIP_CLIENT_ADDR},
        {2, ROUTER_EXPLAIN_SKIP_DIGEST},
        {3, ROUTER_EXPLAIN_SKIP_MATCH_DIGEST_NEG},
        {4, ROUTER_EXPLAIN_SKIP_MATCH_PATTERN},
        {5, ROUTER_EXPLAIN_MATCHED},
        {6, ROUTER_EXPLAIN_MATCHED},
    };
    check_steps(&rec, want, N(want));
    assert_string_equal(rec.step[4].st.ok_msg, "noted");
    assert_false(rec.step[4].st.stops);
    assert_string_equal(rec.step[5].st.error_msg, "no deletes");
    assert_true(rec.step[5].st.stops);
    const struct router_explain_step *d = &rec.step[6].st;
    assert_string_equal(d->error_msg, "no deletes");
    assert_string_equal(d->ok_msg, "noted");
    assert_int_equal(d->destination_hostgroup, DEFAULT_HG);

    /* No rules: the decision step alone, still with the digest. */
    explain_and_compare(NULL, &app_facts, sql, &rec);
    check_steps(&rec, NULL, 0);
    assert_int_equal(rec.step[0].st.digest, hash);
    assert_int_equal(rec.step[0].st.destination_hostgroup, DEFAULT_HG);

    /* Bad arguments call nothing. */
    struct router_decision dec;
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(router_explain(rules, NULL, &app_facts, sql, strlen(sql), record, &rec, &dec),
                     ROUTER_EARG);
    assert_int_equal(rec.n, 0);
    struct router_scratch *scratch = router_scratch_new(1024);
    assert_non_null(scratch);
    assert_int_equal(router_explain(rules, scratch, &app_facts, sql, strlen(sql), NULL, &rec, &dec),
                     ROUTER_EARG);
    router_scratch_free(scratch);
    router_rules_free(rules);
}

/* The decision equals router_classify()'s under the shipped read/write
 * split rules, for statements of every kind they tell apart. */
static void test_rw_split_equal(void **state)
{
    (void)state;
    static const char *const queries[] = {
        "SELECT * FROM t WHERE id = 1",
        "select name from users where id in (1, 2, 3)",
        "SELECT * FROM t WHERE id = 1 FOR UPDATE",
        "SELECT * FROM t LOCK IN SHARE MODE",
        "SELECT * FROM t FOR SHARE",
        "/* hint */ SELECT 1",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT a INTO @v FROM t",
        "SELECT GET_LOCK('a', 1)",
        "SELECT LAST_INSERT_ID()",
        "SELECT @@session.autocommit",
        "SHOW TABLES",
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "BEGIN",
        "START TRANSACTION READ ONLY",
        "SET NAMES utf8mb4",
        "",
    };
    struct rules_sql rs;
    char err[256];

    if (rules_sql_load(SLUICE_SOURCE_ROOT "/configs/rw-split.sql", &rs, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    struct router_rules *rules = compile(rs.specs, rs.n);
    struct recorder rec;
    for (size_t i = 0; i < N(queries); i++) {
        explain_and_compare(rules, &app_facts, queries[i], &rec);
        /* At most one rule step per rule, in ascending rule_id. */
        assert_true(rec.n - 1 <= router_rules_count(rules));
        for (size_t k = 1; k + 1 < rec.n; k++)
            assert_true(rec.step[k].st.rule_id > rec.step[k - 1].st.rule_id);
    }
    router_rules_free(rules);
    rules_sql_free(&rs);
}

/* -------------------------------------------------------------- admin */

/* Reads (flag 1) go to hostgroup 1 unless locking; a rewrite on the way. */
static const char config[] =
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, 'db1', 3306);\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (1, 'db2', 3306);\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (2, 'db3', 3306);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup, default_schema)"
    " VALUES ('app', 'pw', 2, 'shop');\n"
    "INSERT INTO mysql_query_rules (rule_id, active, username, destination_hostgroup, apply)"
    " VALUES (5, 1, 'report', 1, 1);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, flagOUT)"
    " VALUES (10, 1, '^SELECT', 1);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, flagIN, match_pattern, replace_pattern)"
    " VALUES (15, 1, 1, 'o''brien', 'obrien');\n"
    "INSERT INTO mysql_query_rules (rule_id, active, flagIN, match_pattern,"
    " negate_match_pattern, destination_hostgroup, apply)"
    " VALUES (20, 1, 1, 'FOR UPDATE', 1, 1, 1);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, flagIN, match_pattern,"
    " destination_hostgroup, apply) VALUES (30, 1, 1, 'FOR UPDATE', 0, 1);\n";

enum {
    C_STEP,
    C_RULE_ID,
    C_FLAG_IN,
    C_OUTCOME,
    C_HOSTGROUP,
    C_APPLY,
    C_FLAG_OUT,
    C_TEXT_AFTER,
    C_ERROR_MSG,
    C_OK_MSG,
    C_DIGEST,
    C_DIGEST_TEXT,
    C_CACHE_TTL,
    C_TIMEOUT,
    C_RETRIES,
    C_DELAY,
    C_MULTIPLEX,
    C_NCOLS,
};

/* Runs an EXPLAIN expecting rows, the decision row last. */
static void run_explain(struct fixture *fx, const char *sql, size_t nrows)
{
    run(fx, sql);
    if (fx->res.kind != ADMIN_RES_ROWS)
        fail_msg("%s: kind %d, error %u %s", sql, fx->res.kind, fx->res.err_code, fx->res.err_msg);
    assert_int_equal(fx->res.ncols, C_NCOLS);
    assert_string_equal(fx->res.col_names[C_STEP], "step");
    assert_string_equal(fx->res.col_names[C_OUTCOME], "outcome");
    assert_string_equal(fx->res.col_names[C_TEXT_AFTER], "text_after");
    assert_string_equal(fx->res.col_names[C_DIGEST_TEXT], "digest_text");
    if (fx->res.nrows != nrows) {
        for (size_t r = 0; r < fx->res.nrows; r++)
            print_error("row %zu: rule %s %s\n", r,
                        fx->res.rows[r][C_RULE_ID] ? fx->res.rows[r][C_RULE_ID] : "NULL",
                        fx->res.rows[r][C_OUTCOME]);
        fail_msg("%s: %zu rows, want %zu", sql, fx->res.nrows, nrows);
    }
    const char *const *last = (const char *const *)fx->res.rows[nrows - 1];
    assert_null(last[C_RULE_ID]);
    assert_string_equal(last[C_OUTCOME], "decision");
    char step[16];
    snprintf(step, sizeof(step), "%zu", nrows);
    assert_string_equal(last[C_STEP], step);
}

/* Checks a row's rule_id and outcome. */
static void assert_row(const struct fixture *fx, size_t r, const char *rule_id, const char *outcome)
{
    assert_string_equal(cell(fx, r, C_RULE_ID), rule_id);
    assert_string_equal(cell(fx, r, C_OUTCOME), outcome);
}

static int setup(void **state)
{
    if (fixture_setup_started(state, "explain", config) != 0)
        return -1;
    /* As an operator would after editing: also publishes a new snapshot. */
    run_ok(*state, "LOAD MYSQL QUERY RULES TO RUNTIME");
    return 0;
}

static void test_admin_runtime(void **state)
{
    struct fixture *fx = *state;

    run_explain(fx, "EXPLAIN QUERY RULES FOR 'SELECT * FROM t WHERE id = 1' USER 'app'", 5);
    assert_row(fx, 0, "5", "skipped: username");
    assert_string_equal(cell(fx, 0, C_STEP), "1");
    assert_string_equal(cell(fx, 0, C_FLAG_IN), "0");
    assert_null(cell(fx, 0, C_HOSTGROUP));
    assert_null(cell(fx, 0, C_APPLY));
    assert_null(cell(fx, 0, C_FLAG_OUT));
    assert_row(fx, 1, "10", "matched");
    assert_null(cell(fx, 1, C_HOSTGROUP));
    assert_string_equal(cell(fx, 1, C_APPLY), "0");
    assert_string_equal(cell(fx, 1, C_FLAG_OUT), "1");
    assert_null(cell(fx, 1, C_TEXT_AFTER));
    assert_row(fx, 2, "15", "skipped: match_pattern");
    assert_string_equal(cell(fx, 2, C_FLAG_IN), "1");
    assert_row(fx, 3, "20", "matched");
    assert_string_equal(cell(fx, 3, C_HOSTGROUP), "1");
    assert_string_equal(cell(fx, 3, C_APPLY), "1");
    assert_null(cell(fx, 3, C_FLAG_OUT));
    assert_null(cell(fx, 3, C_DIGEST));
    /* The decision; rule 30 is never considered. */
    assert_string_equal(cell(fx, 4, C_HOSTGROUP), "1");
    assert_string_equal(cell(fx, 4, C_FLAG_OUT), "1");
    assert_null(cell(fx, 4, C_FLAG_IN));
    assert_null(cell(fx, 4, C_ERROR_MSG));
    assert_string_equal(cell(fx, 4, C_TEXT_AFTER), "SELECT * FROM t WHERE id = 1");
    assert_string_equal(cell(fx, 4, C_DIGEST_TEXT), "SELECT * FROM t WHERE id = ?");
    const char *q = "SELECT * FROM t WHERE id = 1";
    char digest[64], hex[24];
    uint64_t hash;
    router_digest(q, strlen(q), digest, sizeof(digest), 0, &hash);
    snprintf(hex, sizeof(hex), "0x%016" PRIX64, hash);
    assert_string_equal(cell(fx, 4, C_DIGEST), hex);

    /* A write: no rule matches, so the user's default hostgroup (2)... */
    run_explain(fx, "explain query rules for 'UPDATE t SET a = 1' user 'app'", 6);
    assert_row(fx, 1, "10", "skipped: match_pattern");
    assert_row(fx, 2, "15", "skipped: flagIN");
    assert_string_equal(cell(fx, 5, C_HOSTGROUP), "2");
    assert_string_equal(cell(fx, 5, C_FLAG_OUT), "0");
    /* ...and 0 without USER, or for a user the runtime does not know. */
    run_explain(fx, "EXPLAIN QUERY RULES FOR 'UPDATE t SET a = 1'", 6);
    assert_string_equal(cell(fx, 5, C_HOSTGROUP), "0");
    run_explain(fx, "EXPLAIN QUERY RULES FOR 'UPDATE t SET a = 1' USER 'nobody'", 6);
    assert_string_equal(cell(fx, 5, C_HOSTGROUP), "0");

    /* The locking read skips the negated rule and meets rule 30. */
    run_explain(fx, "EXPLAIN   QUERY\tRULES FOR 'SELECT 1 FOR UPDATE' USER 'app'", 6);
    assert_row(fx, 3, "20", "skipped: match_pattern (negated)");
    assert_row(fx, 4, "30", "matched");
    assert_string_equal(cell(fx, 5, C_HOSTGROUP), "0");

    /* The user rule 5 names; SCHEMA and CLIENT in any order, a ';' after. */
    run_explain(fx,
                "EXPLAIN QUERY RULES FOR 'SELECT 1' CLIENT '10.0.0.1' SCHEMA 'shop' "
                "USER 'report';",
                2);
    assert_row(fx, 0, "5", "matched");
    assert_string_equal(cell(fx, 1, C_HOSTGROUP), "1");
}

/* Quotes inside the query: doubled, backslash-escaped, and a ';' inside. */
static void test_admin_quoting(void **state)
{
    struct fixture *fx = *state;

    run_explain(fx, "EXPLAIN QUERY RULES FOR 'SELECT * FROM t WHERE n = \"o''brien\"' USER 'app'",
                5);
    assert_row(fx, 2, "15", "matched");
    assert_string_equal(cell(fx, 2, C_TEXT_AFTER), "SELECT * FROM t WHERE n = \"obrien\"");
    assert_row(fx, 3, "20", "matched");
    assert_null(cell(fx, 3, C_TEXT_AFTER));
    assert_string_equal(cell(fx, 4, C_TEXT_AFTER), "SELECT * FROM t WHERE n = \"obrien\"");
    assert_string_equal(cell(fx, 4, C_HOSTGROUP), "1");

    /* \' and \\ as MySQL reads them; the ';' inside does not end it. */
    run_explain(fx, "EXPLAIN QUERY RULES FOR 'SELECT \\'o\\'\\'brien; x\\\\' USER 'app'", 5);
    assert_row(fx, 2, "15", "skipped: match_pattern");
    assert_string_equal(cell(fx, 4, C_TEXT_AFTER), "SELECT 'o''brien; x\\");

    /* Double-quoted, with the other quote inside. */
    run_explain(fx, "EXPLAIN QUERY RULES FOR \"SELECT 'a'\"", 5);
    assert_string_equal(cell(fx, 4, C_TEXT_AFTER), "SELECT 'a'");

    /* A statement after the EXPLAIN still runs, and its result is the one. */
    run(fx, "EXPLAIN QUERY RULES FOR 'SELECT \\';' ; SELECT 42");
    assert_int_equal(fx->res.kind, ADMIN_RES_ROWS);
    assert_int_equal(fx->res.ncols, 1);
    assert_string_equal(cell(fx, 0, 0), "42");
}

/* FROM MEMORY sees an INSERT not yet loaded; the runtime does not. */
static void test_admin_from_memory(void **state)
{
    struct fixture *fx = *state;

    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_pattern,"
               " destination_hostgroup, apply, cache_ttl, timeout, retries, delay)"
               " VALUES (1, 1, '^SELECT', 2, 1, 5000, 100, 0, 250)");
    run_explain(fx, "EXPLAIN QUERY RULES FROM MEMORY FOR 'SELECT 1' USER 'app'", 2);
    assert_row(fx, 0, "1", "matched");
    assert_string_equal(cell(fx, 1, C_HOSTGROUP), "2");
    /* Every action, on the rule's row and in the decision. */
    for (size_t r = 0; r < 2; r++) {
        assert_string_equal(cell(fx, r, C_CACHE_TTL), "5000");
        assert_string_equal(cell(fx, r, C_TIMEOUT), "100");
        assert_string_equal(cell(fx, r, C_RETRIES), "0");
        assert_string_equal(cell(fx, r, C_DELAY), "250");
        assert_null(cell(fx, r, C_MULTIPLEX));
    }
    run_explain(fx, "EXPLAIN QUERY RULES FROM RUNTIME FOR 'SELECT 1' USER 'app'", 5);
    assert_row(fx, 0, "5", "skipped: username");
    run_explain(fx, "EXPLAIN QUERY RULES FOR 'SELECT 1' USER 'app'", 5);

    /* Inside an operator's transaction too. */
    run_ok(fx, "BEGIN");
    run_ok(fx, "DELETE FROM mysql_query_rules WHERE rule_id = 1");
    run_explain(fx, "EXPLAIN QUERY RULES FROM MEM FOR 'SELECT 1' USER 'app'", 5);
    run_ok(fx, "ROLLBACK");

    /* A bad regex in MEMORY: the compile error is the answer. */
    run_ok(fx, "UPDATE mysql_query_rules SET match_pattern = '^SELECT (' WHERE rule_id = 1");
    run(fx, "EXPLAIN QUERY RULES FROM MEMORY FOR 'SELECT 1'");
    assert_int_equal(fx->res.kind, ADMIN_RES_ERROR);
    assert_int_equal(fx->res.err_code, 1105);
    assert_string_equal(fx->res.err_sqlstate, "HY000");
    assert_non_null(strstr(fx->res.err_msg, "rule_id 1"));
    assert_non_null(strstr(fx->res.err_msg, "match_pattern"));
    assert_int_equal(fx->res.ncols, 0);
    /* The runtime is untouched by it. */
    run_explain(fx, "EXPLAIN QUERY RULES FOR 'SELECT 1'", 5);
}

static void test_admin_syntax(void **state)
{
    struct fixture *fx = *state;
    static const char *const bad[] = {
        "EXPLAIN QUERY RULES",
        "EXPLAIN QUERY RULES FOR",
        "EXPLAIN QUERY RULES FOR SELECT 1",
        "EXPLAIN QUERY RULES FOR 'SELECT 1",
        "EXPLAIN QUERY RULES FOR 'SELECT 1' USER",
        "EXPLAIN QUERY RULES FOR 'SELECT 1' USER 'a' USER 'b'",
        "EXPLAIN QUERY RULES FOR 'SELECT 1' PASSWORD 'x'",
        "EXPLAIN QUERY RULES FROM DISK FOR 'SELECT 1'",
        "EXPLAIN QUERY RULES FOR 'SELECT \\0'",
    };

    for (size_t i = 0; i < N(bad); i++) {
        run(fx, bad[i]);
        if (fx->res.kind != ADMIN_RES_ERROR)
            fail_msg("%s: not an error", bad[i]);
        assert_int_equal(fx->res.err_code, 1064);
        assert_non_null(strstr(fx->res.err_msg, "EXPLAIN QUERY RULES"));
    }
    /* SQLite's own EXPLAIN still goes to SQLite. */
    run(fx, "EXPLAIN QUERY PLAN SELECT * FROM mysql_users");
    assert_int_equal(fx->res.kind, ADMIN_RES_ROWS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_hits_unchanged),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_rw_split_equal),
        cmocka_unit_test_setup_teardown(test_admin_runtime, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_admin_quoting, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_admin_from_memory, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_admin_syntax, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
