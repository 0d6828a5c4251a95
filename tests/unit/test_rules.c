/*
 * Unit tests for the rule engine (router/rules.c): tables of (rules, facts,
 * query) -> expected decision, compile errors, the prefix fast path against
 * PCRE2, rewrite overflow and hit counters. (The micro-benchmark that was
 * here is tests/bench/rules_bench.c.)
 */
/* clang-format off */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "router/router.h"
#include "router/router_int.h"

#define DEFAULT_HG 10
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SET(a) a, N(a)

/* RULE() and CASE() give every field its SQL-NULL default and let the table
 * row override some; overriding a designated initializer is well-defined C
 * (the last one wins), the warning only guards against accidents. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define RULE(...)                                                                                  \
    {                                                                                              \
        .active = true, .flag_out = -1, .destination_hostgroup = -1, .cache_ttl = -1,              \
        .timeout = -1, .retries = -1, .delay = -1, .multiplex = -1, .log = -1, __VA_ARGS__         \
    }

struct rule_case {
    const char *name;
    const struct router_rule_spec *rules;
    size_t nrules;
    const char *user;
    const char *schema;
    const char *addr;
    const char *sql;
    /* Expected decision: */
    int hostgroup;
    int rule_id;
    const char *rewritten; /* NULL: not rewritten */
    const char *error_msg;
    const char *ok_msg;
    int cache_ttl;
    int timeout_ms;
    int multiplex;
    unsigned stmt_flags;
};

#define CASE(...)                                                                                  \
    {                                                                                              \
        .user = "app", .schema = "shop", .addr = "10.0.0.5", .hostgroup = DEFAULT_HG,              \
        .rule_id = -1, .cache_ttl = -1, .timeout_ms = -1, .multiplex = -1, __VA_ARGS__             \
    }

/* Listed out of rule_id order on purpose: compile sorts. */
static const struct router_rule_spec rw_split[] = {
    RULE(.rule_id = 20, .match_pattern = "^SELECT", .destination_hostgroup = 1, .apply = true),
    RULE(.rule_id = 10, .match_pattern = "^SELECT .* FOR UPDATE", .destination_hostgroup = 0,
         .apply = true),
};

static const struct router_rule_spec by_session[] = {
    RULE(.rule_id = 1, .username = "alice", .destination_hostgroup = 3, .apply = true),
    RULE(.rule_id = 2, .schemaname = "billing", .destination_hostgroup = 4, .apply = true),
    RULE(.rule_id = 3, .username = "bob", .schemaname = "shop", .destination_hostgroup = 5,
         .apply = true),
};

static const struct router_rule_spec empty_user_is_any[] = {
    RULE(.rule_id = 1, .username = "", .schemaname = "", .client_addr = "",
         .destination_hostgroup = 3),
};

static const struct router_rule_spec by_addr[] = {
    RULE(.rule_id = 1, .client_addr = "10.0.0.5", .destination_hostgroup = 5, .apply = true),
    RULE(.rule_id = 2, .client_addr = "192.168.%", .destination_hostgroup = 6, .apply = true),
};

static const struct router_rule_spec any_addr[] = {
    RULE(.rule_id = 1, .client_addr = "%", .destination_hostgroup = 7),
};

static const struct router_rule_spec negated[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .negate_match_pattern = true,
         .destination_hostgroup = 0, .apply = true),
};

static const struct router_rule_spec case_sensitive_prefix[] = {
    RULE(.rule_id = 1, .match_pattern = "^select", .re_modifiers = "", .destination_hostgroup = 2),
};

static const struct router_rule_spec caseless_default[] = {
    RULE(.rule_id = 1, .match_pattern = "^select", .destination_hostgroup = 2),
};

static const struct router_rule_spec case_sensitive_regex[] = {
    RULE(.rule_id = 1, .match_pattern = "for update$", .re_modifiers = "",
         .destination_hostgroup = 0),
};

static const struct router_rule_spec caseless_explicit[] = {
    RULE(.rule_id = 1, .match_pattern = "for update$", .re_modifiers = " caseless , global",
         .destination_hostgroup = 0),
};

static const struct router_rule_spec flag_chain[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .flag_out = 5),
    RULE(.rule_id = 2, .flag_in = 5, .match_pattern = "FROM orders", .destination_hostgroup = 7,
         .apply = true),
    RULE(.rule_id = 3, .flag_in = 0, .destination_hostgroup = 9),
};

/* Rule 1 wants flag 5 but comes before the rule that sets it: evaluation goes
 * on from the setter, never back. */
static const struct router_rule_spec flag_no_rewind[] = {
    RULE(.rule_id = 1, .flag_in = 5, .destination_hostgroup = 11),
    RULE(.rule_id = 2, .flag_out = 5),
    RULE(.rule_id = 3, .flag_in = 5, .match_pattern = "^INSERT", .flag_out = 6),
    RULE(.rule_id = 4, .flag_in = 6, .destination_hostgroup = 12),
};

static const struct router_rule_spec apply_stops[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .destination_hostgroup = 1, .apply = true),
    RULE(.rule_id = 2, .destination_hostgroup = 2),
};

static const struct router_rule_spec later_overrides[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .destination_hostgroup = 1, .cache_ttl = 100),
    RULE(.rule_id = 2, .match_pattern = "FROM t2", .destination_hostgroup = 2),
};

static const struct router_rule_spec rewrite_one[] = {
    RULE(.rule_id = 1, .match_pattern = "tbl_old", .replace_pattern = "tbl_new"),
};

static const struct router_rule_spec rewrite_global[] = {
    RULE(.rule_id = 1, .match_pattern = "tbl_old", .re_modifiers = "CASELESS,GLOBAL",
         .replace_pattern = "tbl_new"),
};

/* ProxySQL's documented example: group references written \1. */
static const struct router_rule_spec rewrite_groups[] = {
    RULE(.rule_id = 1,
         .match_pattern = "^SELECT (\\w+) FROM sbtest(\\d+) WHERE id BETWEEN (\\d+) AND \\d+$",
         .replace_pattern = "SELECT \\1 FROM sbtest\\2 WHERE id = \\3"),
};

/* '$' is literal in ProxySQL's syntax and "\\\\" is one backslash. */
static const struct router_rule_spec rewrite_escapes[] = {
    RULE(.rule_id = 1, .match_pattern = "price", .replace_pattern = "$1\\\\"),
};

static const struct router_rule_spec rewrite_then_route[] = {
    RULE(.rule_id = 1, .match_pattern = "tbl_old", .replace_pattern = "tbl_new"),
    RULE(.rule_id = 2, .match_pattern = "FROM tbl_new", .destination_hostgroup = 8, .apply = true),
};

/* Three rewrites in a row: each reads the previous one's output. */
static const struct router_rule_spec rewrite_chain[] = {
    RULE(.rule_id = 1, .match_pattern = "x1", .replace_pattern = "x2"),
    RULE(.rule_id = 2, .match_pattern = "x2", .replace_pattern = "x3"),
    RULE(.rule_id = 3, .match_pattern = "x3", .replace_pattern = "x4"),
};

static const struct router_rule_spec rewrite_negated[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .negate_match_pattern = true,
         .replace_pattern = "zzz", .destination_hostgroup = 4),
};

static const struct router_rule_spec rewrite_flags[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT 1$", .replace_pattern = "SELECT LAST_INSERT_ID()"),
};

static const struct router_rule_spec firewall[] = {
    RULE(.rule_id = 1, .match_pattern = "^DROP", .error_msg = "DROP is not allowed"),
    RULE(.rule_id = 2, .destination_hostgroup = 3),
};

static const struct router_rule_spec answer_ok[] = {
    RULE(.rule_id = 1, .match_pattern = "^SET NAMES", .ok_msg = "skipped"),
    RULE(.rule_id = 2, .destination_hostgroup = 3),
};

static const struct router_rule_spec knobs[] = {
    RULE(.rule_id = 1, .match_pattern = "^SELECT", .cache_ttl = 5000),
    RULE(.rule_id = 2, .match_pattern = "FROM sessions", .multiplex = 0),
    RULE(.rule_id = 3, .match_pattern = "^SELECT SLEEP", .timeout = 1000),
};

static const struct router_rule_spec with_inactive[] = {
    RULE(.rule_id = 1, .active = false, .destination_hostgroup = 1, .apply = true),
    RULE(.rule_id = 2, .destination_hostgroup = 2),
};

/* A digest no query of these tests has (whatever router_digest computes). */
static const struct router_rule_spec other_digest[] = {
    RULE(.rule_id = 1, .digest = "0x0123456789ABCDEF", .destination_hostgroup = 3),
};

static const struct rule_case cases[] = {
    CASE(.name = "no rules", .sql = "SELECT 1"),
    CASE(.name = "read", .rules = SET(rw_split), .sql = "SELECT * FROM t", .hostgroup = 1,
         .rule_id = 20),
    CASE(.name = "locking read", .rules = SET(rw_split), .sql = "select * from t for update",
         .hostgroup = 0, .rule_id = 10),
    CASE(.name = "write", .rules = SET(rw_split), .sql = "UPDATE t SET a = 1"),
    CASE(.name = "user", .rules = SET(by_session), .user = "alice", .schema = "billing",
         .sql = "SELECT 1", .hostgroup = 3, .rule_id = 1),
    CASE(.name = "schema", .rules = SET(by_session), .user = "bob", .schema = "billing",
         .sql = "SELECT 1", .hostgroup = 4, .rule_id = 2),
    CASE(.name = "user and schema", .rules = SET(by_session), .user = "bob", .sql = "SELECT 1",
         .hostgroup = 5, .rule_id = 3),
    CASE(.name = "user is exact", .rules = SET(by_session), .user = "alice2", .sql = "SELECT 1"),
    CASE(.name = "no user", .rules = SET(by_session), .user = NULL, .sql = "SELECT 1"),
    CASE(.name = "empty columns", .rules = SET(empty_user_is_any), .addr = NULL, .sql = "SELECT 1",
         .hostgroup = 3, .rule_id = 1),
    CASE(.name = "addr exact", .rules = SET(by_addr), .sql = "SELECT 1", .hostgroup = 5,
         .rule_id = 1),
    CASE(.name = "addr not a prefix", .rules = SET(by_addr), .addr = "10.0.0.50",
         .sql = "SELECT 1"),
    CASE(.name = "addr wildcard", .rules = SET(by_addr), .addr = "192.168.1.9", .sql = "SELECT 1",
         .hostgroup = 6, .rule_id = 2),
    CASE(.name = "addr wildcard miss", .rules = SET(by_addr), .addr = "192.169.1.9",
         .sql = "SELECT 1"),
    CASE(.name = "addr unknown", .rules = SET(by_addr), .addr = NULL, .sql = "SELECT 1"),
    CASE(.name = "addr %", .rules = SET(any_addr), .addr = NULL, .sql = "SELECT 1", .hostgroup = 7,
         .rule_id = 1),
    CASE(.name = "negate matches", .rules = SET(negated), .sql = "INSERT INTO t VALUES (1)",
         .hostgroup = 0, .rule_id = 1),
    CASE(.name = "negate misses", .rules = SET(negated), .sql = "SELECT 1"),
    CASE(.name = "case-sensitive miss", .rules = SET(case_sensitive_prefix), .sql = "SELECT 1"),
    CASE(.name = "case-sensitive hit", .rules = SET(case_sensitive_prefix), .sql = "select 1",
         .hostgroup = 2, .rule_id = 1),
    CASE(.name = "caseless by default", .rules = SET(caseless_default), .sql = "SELECT 1",
         .hostgroup = 2, .rule_id = 1),
    CASE(.name = "case-sensitive regex miss", .rules = SET(case_sensitive_regex),
         .sql = "SELECT 1 FOR UPDATE"),
    CASE(.name = "case-sensitive regex hit", .rules = SET(case_sensitive_regex),
         .sql = "select 1 for update", .hostgroup = 0, .rule_id = 1),
    CASE(.name = "caseless explicit", .rules = SET(caseless_explicit), .sql = "SELECT 1 FOR UPDATE",
         .hostgroup = 0, .rule_id = 1),
    CASE(.name = "flag chain", .rules = SET(flag_chain), .sql = "SELECT * FROM orders",
         .hostgroup = 7, .rule_id = 2),
    CASE(.name = "flag chain, flag 0 rules left behind", .rules = SET(flag_chain),
         .sql = "SELECT * FROM users", .rule_id = 1),
    CASE(.name = "flag 0 without chain", .rules = SET(flag_chain),
         .sql = "INSERT INTO t VALUES (1)", .hostgroup = 9, .rule_id = 3),
    CASE(.name = "flag no rewind", .rules = SET(flag_no_rewind), .sql = "SELECT 1", .rule_id = 2),
    CASE(.name = "flag 5 then 6", .rules = SET(flag_no_rewind), .sql = "INSERT INTO t VALUES (1)",
         .hostgroup = 12, .rule_id = 4),
    CASE(.name = "apply stops", .rules = SET(apply_stops), .sql = "SELECT 1", .hostgroup = 1,
         .rule_id = 1),
    CASE(.name = "apply not reached", .rules = SET(apply_stops), .sql = "DELETE FROM t",
         .hostgroup = 2, .rule_id = 2),
    CASE(.name = "later overrides", .rules = SET(later_overrides), .sql = "SELECT * FROM t2",
         .hostgroup = 2, .rule_id = 2, .cache_ttl = 100),
    CASE(.name = "later does not match", .rules = SET(later_overrides), .sql = "SELECT * FROM t1",
         .hostgroup = 1, .rule_id = 1, .cache_ttl = 100),
    CASE(.name = "rewrite first", .rules = SET(rewrite_one),
         .sql = "SELECT * FROM tbl_old JOIN tbl_old USING (id)", .rule_id = 1,
         .rewritten = "SELECT * FROM tbl_new JOIN tbl_old USING (id)"),
    CASE(.name = "rewrite global", .rules = SET(rewrite_global),
         .sql = "SELECT * FROM tbl_old JOIN TBL_OLD USING (id)", .rule_id = 1,
         .rewritten = "SELECT * FROM tbl_new JOIN tbl_new USING (id)"),
    CASE(.name = "rewrite groups", .rules = SET(rewrite_groups),
         .sql = "SELECT c FROM sbtest3 WHERE id BETWEEN 10 AND 20", .rule_id = 1,
         .rewritten = "SELECT c FROM sbtest3 WHERE id = 10"),
    CASE(.name = "rewrite escapes", .rules = SET(rewrite_escapes), .sql = "SELECT price",
         .rule_id = 1, .rewritten = "SELECT $1\\"),
    CASE(.name = "rewrite then route", .rules = SET(rewrite_then_route),
         .sql = "SELECT * FROM tbl_old", .hostgroup = 8, .rule_id = 2,
         .rewritten = "SELECT * FROM tbl_new"),
    CASE(.name = "rewrite chain", .rules = SET(rewrite_chain), .sql = "SELECT x1", .rule_id = 3,
         .rewritten = "SELECT x4"),
    CASE(.name = "negated rewrite", .rules = SET(rewrite_negated),
         .sql = "INSERT INTO t VALUES (1)", .hostgroup = 4, .rule_id = 1),
    CASE(.name = "flags of rewritten text", .rules = SET(rewrite_flags), .sql = "SELECT 1",
         .rule_id = 1, .rewritten = "SELECT LAST_INSERT_ID()",
         .stmt_flags = ROUTER_STMT_LAST_INSERT_ID),
    CASE(.name = "error_msg stops", .rules = SET(firewall), .sql = "DROP TABLE t", .rule_id = 1,
         .error_msg = "DROP is not allowed"),
    CASE(.name = "firewall passes", .rules = SET(firewall), .sql = "SELECT 1", .hostgroup = 3,
         .rule_id = 2),
    CASE(.name = "ok_msg", .rules = SET(answer_ok), .sql = "SET NAMES utf8mb4", .hostgroup = 3,
         .rule_id = 2, .ok_msg = "skipped"),
    CASE(.name = "cache_ttl and multiplex", .rules = SET(knobs), .sql = "SELECT * FROM sessions",
         .rule_id = 2, .cache_ttl = 5000, .multiplex = 0),
    CASE(.name = "cache_ttl and timeout", .rules = SET(knobs), .sql = "SELECT SLEEP(5)",
         .rule_id = 3, .cache_ttl = 5000, .timeout_ms = 1000),
    CASE(.name = "inactive skipped", .rules = SET(with_inactive), .sql = "SELECT 1", .hostgroup = 2,
         .rule_id = 2),
    CASE(.name = "other digest", .rules = SET(other_digest), .sql = "SELECT 1"),
};

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_case(const struct rule_case *c, const struct router_rules *rules,
                       struct router_scratch *scratch)
{
    struct router_facts facts = {.user = c->user,
                                 .schema = c->schema,
                                 .client_addr = c->addr,
                                 .default_hostgroup = DEFAULT_HG};
    struct router_decision d;
    assert_int_equal(router_classify(rules, scratch, &facts, c->sql, strlen(c->sql), &d), 0);
    const char *rw = d.rewritten ? d.rewritten : NULL;
    char got_rw[256] = "";
    if (rw)
        snprintf(got_rw, sizeof(got_rw), "%.*s", (int)d.rewritten_len, rw);
    if (d.hostgroup != c->hostgroup || d.rule_id != c->rule_id ||
        (c->rewritten == NULL) != (rw == NULL) || (rw && strcmp(got_rw, c->rewritten) != 0) ||
        !same_str(d.error_msg, c->error_msg) || !same_str(d.ok_msg, c->ok_msg) ||
        d.cache_ttl != c->cache_ttl || d.timeout_ms != c->timeout_ms ||
        d.multiplex != c->multiplex || d.stmt_flags != c->stmt_flags)
        fail_msg("%s: got hg %d rule %d rewritten '%s' error '%s' ok '%s' ttl %d timeout %d "
                 "multiplex %d flags 0x%x",
                 c->name, d.hostgroup, d.rule_id, rw ? got_rw : "(none)",
                 d.error_msg ? d.error_msg : "(none)", d.ok_msg ? d.ok_msg : "(none)", d.cache_ttl,
                 d.timeout_ms, d.multiplex, d.stmt_flags);
}

static void test_decision_table(void **state)
{
    (void)state;
    struct router_scratch *scratch = router_scratch_new(4096);
    assert_non_null(scratch);
    for (size_t i = 0; i < N(cases); i++) {
        struct router_rules *rules;
        char err[256];
        if (router_rules_compile(cases[i].rules, cases[i].nrules, &rules, err, sizeof(err)) != 0)
            fail_msg("%s: %s", cases[i].name, err);
        check_case(&cases[i], rules, scratch);
        router_rules_free(rules);
    }
    router_scratch_free(scratch);
}

static void test_no_rule_set(void **state)
{
    (void)state;
    struct router_facts facts = {.user = "app", .schema = "", .default_hostgroup = 4};
    struct router_decision d;
    assert_int_equal(router_classify(NULL, NULL, &facts, "SELECT 1", 8, &d), 0);
    assert_int_equal(d.hostgroup, 4);
    assert_int_equal(d.rule_id, -1);
    assert_null(d.rewritten);
    assert_int_equal(d.digest, 0);
    assert_int_equal(router_rules_count(NULL), 0);
}

static void run(const struct router_rules *rules, struct router_scratch *scratch, const char *sql,
                struct router_decision *d)
{
    struct router_facts facts = {.user = "app", .schema = "shop", .default_hostgroup = DEFAULT_HG};
    assert_int_equal(router_classify(rules, scratch, &facts, sql, strlen(sql), d), 0);
}

/* A reload keeps the hits of the rules it leaves unchanged. */
static void test_carry_hits(void **state)
{
    (void)state;
    static const struct router_rule_spec before[] = {
        RULE(.rule_id = 1, .match_pattern = "^SELECT", .destination_hostgroup = 1, .apply = true),
        RULE(.rule_id = 2, .match_pattern = "^UPDATE", .destination_hostgroup = 0, .apply = true),
    };
    static const struct router_rule_spec after[] = {
        RULE(.rule_id = 1, .match_pattern = "^SELECT", .destination_hostgroup = 1, .apply = true,
             .comment = "a comment is not the definition"),
        RULE(.rule_id = 2, .match_pattern = "^UPDATE", .destination_hostgroup = 2, .apply = true),
        RULE(.rule_id = 3, .match_pattern = "^DELETE", .apply = true),
    };
    struct router_rules *old, *new;
    char err[256];
    assert_int_equal(router_rules_compile(before, N(before), &old, err, sizeof(err)), 0);
    assert_int_equal(router_rules_compile(after, N(after), &new, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(1024);
    struct router_decision d;
    for (int i = 0; i < 3; i++)
        run(old, scratch, "SELECT 1", &d);
    run(old, scratch, "UPDATE t SET a = 1", &d);
    router_rules_carry_hits(new, old);
    assert_int_equal(router_rules_hits(new, 0), 3); /* unchanged: carried */
    assert_int_equal(router_rules_hits(new, 1), 0); /* destination changed */
    assert_int_equal(router_rules_hits(new, 2), 0); /* new */
    router_rules_carry_hits(new, NULL);             /* harmless */
    router_scratch_free(scratch);
    router_rules_free(old);
    router_rules_free(new);
}

/* The actions beyond routing reach the decision; a later rule overrides an
 * earlier one's value and NULL keeps it, as in ProxySQL's chain. */
static void test_rule_actions(void **state)
{
    (void)state;
    static const struct router_rule_spec specs[] = {
        RULE(.rule_id = 1, .match_pattern = "^SELECT", .cache_ttl = 5000, .timeout = 100,
             .retries = 0, .delay = 250, .flag_out = 1),
        RULE(.rule_id = 2, .flag_in = 1, .match_pattern = "slow", .timeout = 900, .apply = true),
    };
    struct router_rules *rules;
    char err[256];
    assert_int_equal(router_rules_compile(specs, N(specs), &rules, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(1024);
    struct router_decision d;
    run(rules, scratch, "SELECT 1", &d);
    assert_int_equal(d.cache_ttl, 5000);
    assert_int_equal(d.timeout_ms, 100);
    assert_int_equal(d.retries, 0);
    assert_int_equal(d.delay_ms, 250);
    run(rules, scratch, "SELECT slow", &d);
    assert_int_equal(d.timeout_ms, 900);
    assert_int_equal(d.retries, 0);
    assert_int_equal(d.delay_ms, 250);
    run(rules, scratch, "UPDATE t SET a = 1", &d);
    assert_int_equal(d.cache_ttl, -1);
    assert_int_equal(d.timeout_ms, -1);
    assert_int_equal(d.retries, -1);
    assert_int_equal(d.delay_ms, -1);
    router_scratch_free(scratch);
    router_rules_free(rules);
}

static void test_hits_and_order(void **state)
{
    (void)state;
    static const struct router_rule_spec specs[] = {
        RULE(.rule_id = 30, .active = false),
        RULE(.rule_id = 20, .match_pattern = "^SELECT", .destination_hostgroup = 1, .apply = true),
        RULE(.rule_id = 10, .match_pattern = "FOR UPDATE$", .destination_hostgroup = 0,
             .apply = true),
    };
    struct router_rules *rules;
    char err[256];
    assert_int_equal(router_rules_compile(specs, N(specs), &rules, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(0);
    struct router_decision d;
    for (int i = 0; i < 3; i++)
        run(rules, scratch, "SELECT 1", &d);
    for (int i = 0; i < 2; i++)
        run(rules, scratch, "SELECT 1 FOR UPDATE", &d);
    run(rules, scratch, "UPDATE t SET a = 1", &d);
    assert_int_equal(router_rules_count(rules), 2);
    assert_int_equal(router_rules_rule_id(rules, 0), 10);
    assert_int_equal(router_rules_rule_id(rules, 1), 20);
    assert_int_equal(router_rules_rule_id(rules, 2), -1);
    assert_int_equal(router_rules_hits(rules, 0), 2);
    assert_int_equal(router_rules_hits(rules, 1), 3);
    assert_int_equal(router_rules_hits(rules, 2), 0);
    router_scratch_free(scratch);
    router_rules_free(rules);
}

struct bad_case {
    struct router_rule_spec spec[2];
    size_t n;
    const char *want[3]; /* substrings of the message */
};

static const struct bad_case bad_cases[] = {
    {{RULE(.rule_id = 42, .match_pattern = "^SELECT (")},
     1,
     {"rule_id 42", "match_pattern", "offset 9"}},
    {{RULE(.rule_id = 43, .match_digest = "a{2,1}")}, 1, {"rule_id 43", "match_digest", "offset"}},
    {{RULE(.rule_id = 44, .replace_pattern = "x")}, 1, {"rule_id 44", "replace_pattern", "match"}},
    {{RULE(.rule_id = 45, .digest = "0xZZ")}, 1, {"rule_id 45", "digest", "0xZZ"}},
    {{RULE(.rule_id = 45, .digest = "0x")}, 1, {"rule_id 45", "digest"}},
    {{RULE(.rule_id = 45, .digest = "0x00112233445566778")}, 1, {"rule_id 45", "digest"}},
    {{RULE(.rule_id = 45, .digest = "12345")}, 1, {"rule_id 45", "digest"}},
    {{RULE(.rule_id = 46, .match_pattern = "a", .re_modifiers = "CASELESS,GLOBL")},
     1,
     {"rule_id 46", "re_modifiers", "GLOBL"}},
    {{RULE(.rule_id = 47, .match_pattern = "a", .replace_pattern = "b\\n")},
     1,
     {"rule_id 47", "replace_pattern", "escape"}},
    {{RULE(.rule_id = 48, .match_pattern = "(a)", .replace_pattern = "\\2")},
     1,
     {"rule_id 48", "replace_pattern", "\\2"}},
    {{RULE(.rule_id = 49), RULE(.rule_id = 49)}, 2, {"rule_id 49", "duplicate"}},
    /* All or nothing: the good rule compiled first is freed (ASan checks). */
    {{RULE(.rule_id = 1, .match_pattern = "^(ok)", .match_digest = "ok"),
      RULE(.rule_id = 50, .match_pattern = "[")},
     2,
     {"rule_id 50", "match_pattern", "offset"}},
};

static void test_compile_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct router_rules *rules = (struct router_rules *)&rules;
        char err[256] = "";
        assert_int_equal(router_rules_compile(c->spec, c->n, &rules, err, sizeof(err)),
                         ROUTER_EINVAL);
        assert_null(rules);
        for (size_t k = 0; k < N(c->want) && c->want[k]; k++)
            if (strstr(err, c->want[k]) == NULL)
                fail_msg("case %zu: '%s' lacks '%s'", i, err, c->want[k]);
    }
    /* No error buffer: still fails cleanly. */
    struct router_rules *rules;
    assert_int_equal(router_rules_compile(bad_cases[0].spec, 1, &rules, NULL, 0), ROUTER_EINVAL);
    /* An inactive rule is not compiled, so it cannot fail the set. */
    static const struct router_rule_spec inactive_bad[] = {
        RULE(.rule_id = 1, .active = false, .match_pattern = "("),
    };
    char err[256];
    assert_int_equal(router_rules_compile(inactive_bad, 1, &rules, err, sizeof(err)), 0);
    assert_int_equal(router_rules_count(rules), 0);
    router_rules_free(rules);
}

/* Every code has its own text; other values get the fallback. */
static void test_strerror(void **state)
{
    (void)state;
    static const int codes[] = {0, ROUTER_ENOMEM, ROUTER_EINVAL, ROUTER_EARG};
    for (size_t i = 0; i < N(codes); i++) {
        const char *msg = router_strerror(codes[i]);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_string_not_equal(msg, "unknown router error");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(msg, router_strerror(codes[k]));
    }
    assert_string_equal(router_strerror(-99), "unknown router error");
    assert_string_equal(router_strerror(1), "unknown router error");
}

/* The prefix fast path must give PCRE2's answer. "^(?:lit)" means the same
 * as "^lit" but is not a plain prefix, so it goes through PCRE2. */
static void test_prefix_equals_regex(void **state)
{
    (void)state;
    static const char *const literals[] = {"SELECT", "select", "SELECT ", "SHOW FULL", "",
                                           "/x",     "a-b,c",  "SeT @",   "#1"};
    static const char *const modifiers[] = {NULL, "", "GLOBAL"};
    static const struct {
        const char *sql;
        size_t len;
    } queries[] = {
        {"SELECT 1", 8},
        {"select 1", 8},
        {"SeLeCt", 6},
        {"SELEC", 5},
        {"", 0},
        {" SELECT", 7},
        {"SHOW full x", 11},
        {"\xc3\x89SELECT", 8},
        {"SELECT\n1", 8},
        {"Select\0x", 8},
        {"/x", 2},
        {"/X", 2},
        {"A-B,C", 5},
        {"set @a = 1", 10},
        {"#1", 2},
        {"\nSELECT", 7},
        {"SELECTED", 8},
        {"\xd3\xc5SELECT", 8},
        {"s", 1},
        {"SET @@x", 7},
    };
    struct router_scratch *scratch = router_scratch_new(0);
    size_t compared = 0;
    for (size_t l = 0; l < N(literals); l++) {
        for (size_t m = 0; m < N(modifiers); m++) {
            for (int neg = 0; neg < 2; neg++) {
                char fast_pat[64], slow_pat[64], err[256];
                snprintf(fast_pat, sizeof(fast_pat), "^%s", literals[l]);
                snprintf(slow_pat, sizeof(slow_pat), "^(?:%s)", literals[l]);
                struct router_rule_spec fast =
                    RULE(.rule_id = 1, .match_pattern = fast_pat, .re_modifiers = modifiers[m],
                         .negate_match_pattern = neg, .destination_hostgroup = 1);
                struct router_rule_spec slow = fast;
                slow.match_pattern = slow_pat;
                struct router_rules *rf, *rs;
                assert_int_equal(router_rules_compile(&fast, 1, &rf, err, sizeof(err)), 0);
                assert_int_equal(router_rules_compile(&slow, 1, &rs, err, sizeof(err)), 0);
                assert_true(router_rules_is_prefix(rf, 0));
                assert_false(router_rules_is_prefix(rs, 0));
                for (size_t q = 0; q < N(queries); q++) {
                    struct router_facts facts = {.default_hostgroup = DEFAULT_HG};
                    struct router_decision df, ds;
                    router_classify(rf, scratch, &facts, queries[q].sql, queries[q].len, &df);
                    router_classify(rs, scratch, &facts, queries[q].sql, queries[q].len, &ds);
                    if (df.hostgroup != ds.hostgroup || df.rule_id != ds.rule_id)
                        fail_msg("'%s' mods %s negate %d on query %zu: fast hg %d, pcre2 hg %d",
                                 fast_pat, modifiers[m] ? modifiers[m] : "NULL", neg, q,
                                 df.hostgroup, ds.hostgroup);
                    compared++;
                }
                router_rules_free(rf);
                router_rules_free(rs);
            }
        }
    }
    /* Patterns with metacharacters and rules that rewrite stay with PCRE2. */
    static const struct router_rule_spec not_prefix[] = {
        RULE(.rule_id = 1, .match_pattern = "^SELECT.*"),
        RULE(.rule_id = 2, .match_pattern = "SELECT"),
        RULE(.rule_id = 3, .match_pattern = "^SELECT\\s"),
        RULE(.rule_id = 4, .match_pattern = "^SELECT", .replace_pattern = "select"),
        RULE(.rule_id = 5, .match_pattern = "^S\xc3\x89LECT"),
    };
    struct router_rules *rules;
    char err[256];
    assert_int_equal(router_rules_compile(not_prefix, N(not_prefix), &rules, err, sizeof(err)), 0);
    for (size_t i = 0; i < N(not_prefix); i++)
        assert_false(router_rules_is_prefix(rules, i));
    router_rules_free(rules);
    router_scratch_free(scratch);
    assert_true(compared > 1000);
}

static void test_rewrite_overflow(void **state)
{
    (void)state;
    static const struct router_rule_spec specs[] = {
        RULE(.rule_id = 1, .match_pattern = "short", .replace_pattern = "abcdefghij"),
        RULE(.rule_id = 2, .match_pattern = "short", .destination_hostgroup = 6),
        RULE(.rule_id = 3, .match_pattern = "tiny", .replace_pattern = "abcdefghi"),
    };
    struct router_rules *rules;
    char err[256];
    assert_int_equal(router_rules_compile(specs, N(specs), &rules, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(16);
    struct router_decision d;

    /* "SELECT abcdefghij" is 17 bytes: does not fit, the original stays and
     * rule 2 still sees "short". */
    run(rules, scratch, "SELECT short", &d);
    assert_null(d.rewritten);
    assert_int_equal(d.hostgroup, 6);
    assert_int_equal(d.rule_id, 2);

    /* "SELECT abcdefghi" is exactly 16 bytes: fits. */
    run(rules, scratch, "SELECT tiny", &d);
    assert_non_null(d.rewritten);
    assert_int_equal(d.rewritten_len, 16);
    assert_memory_equal(d.rewritten, "SELECT abcdefghi", 16);

    router_scratch_free(scratch);
    router_rules_free(rules);
}

/* match_digest and digest depend on router_digest(); these checks hold
 * whatever its exact text, and the regex ones wait until it produces one. */
static void test_digest_rules(void **state)
{
    (void)state;
    const char *sql = "SELECT c FROM t WHERE id = 5";
    char text[256];
    uint64_t hash;
    size_t len =
        router_digest(sql, strlen(sql), text, sizeof(text), ROUTER_RULES_DIGEST_MAX, &hash);

    char hex[32];
    snprintf(hex, sizeof(hex), "0x%016" PRIx64, hash);
    struct router_rule_spec specs[] = {
        RULE(.rule_id = 1, .username = "nobody", .match_digest = "x", .destination_hostgroup = 2),
        RULE(.rule_id = 2, .digest = hex, .destination_hostgroup = 3),
    };
    struct router_rules *rules;
    char err[256];
    struct router_decision d;
    struct router_scratch *scratch = router_scratch_new(0);

    /* A set without digest rules never computes one. */
    assert_int_equal(router_rules_compile(rw_split, N(rw_split), &rules, err, sizeof(err)), 0);
    run(rules, scratch, sql, &d);
    assert_int_equal(d.digest, 0);
    router_rules_free(rules);

    assert_int_equal(router_rules_compile(specs, N(specs), &rules, err, sizeof(err)), 0);
    run(rules, scratch, sql, &d);
    assert_int_equal(d.hostgroup, 3);
    assert_int_equal(d.rule_id, 2);
    assert_int_equal(d.digest, hash);
    router_rules_free(rules);

    if (len == 0) {
        printf("note: router_digest() returns no text yet; match_digest checks skipped\n");
        router_scratch_free(scratch);
        return;
    }
    static const struct router_rule_spec by_text[] = {
        RULE(.rule_id = 1, .match_digest = "^INSERT", .negate_match_pattern = true, .cache_ttl = 7),
        RULE(.rule_id = 2, .match_digest = "^SELECT c FROM t WHERE id = \\?",
             .destination_hostgroup = 4),
        RULE(.rule_id = 3, .match_digest = "^SELECT c FROM t WHERE id = 5",
             .destination_hostgroup = 5),
    };
    assert_int_equal(router_rules_compile(by_text, N(by_text), &rules, err, sizeof(err)), 0);
    run(rules, scratch, sql, &d);
    assert_int_equal(d.hostgroup, 4);
    assert_int_equal(d.rule_id, 2);
    assert_int_equal(d.cache_ttl, 7);
    assert_int_equal(d.digest, hash);
    router_rules_free(rules);
    router_scratch_free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),   cmocka_unit_test(test_no_rule_set),
        cmocka_unit_test(test_hits_and_order),   cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_strerror),         cmocka_unit_test(test_prefix_equals_regex),
        cmocka_unit_test(test_rewrite_overflow), cmocka_unit_test(test_digest_rules),
        cmocka_unit_test(test_rule_actions),     cmocka_unit_test(test_carry_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
