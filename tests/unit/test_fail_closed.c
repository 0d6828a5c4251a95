/*
 * Unit tests for the rule engine failing closed (router/rules.c, "Failing
 * closed"): a PCRE2 error at match time, a digest cut at its bound, a text
 * cut by the caller or a rewrite that does not fit never let a statement
 * past an error_msg rule that might stop it. Tables of (rules, statement,
 * bounds) -> expected decision, then hit counters and explain.
 */
/* clang-format off */
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

#define DEFAULT_HG 10
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SET(a) a, N(a)

#pragma GCC diagnostic ignored "-Woverride-init"

#define RULE(...)                                                                                  \
    {                                                                                              \
        .active = true, .flag_out = -1, .destination_hostgroup = -1, .cache_ttl = -1,              \
        .timeout = -1, .retries = -1, .delay = -1, .multiplex = -1, .log = -1, __VA_ARGS__         \
    }

/* Backtracks exponentially on "aaa...ab": PCRE2 stops at its match limit. */
#define EXPLOSIVE "(a+)+$"

static const struct router_rule_spec block_explosive[] = {
    RULE(.rule_id = 1, .match_pattern = EXPLOSIVE, .error_msg = "blocked"),
    RULE(.rule_id = 2, .destination_hostgroup = 3),
};

static const struct router_rule_spec route_explosive[] = {
    RULE(.rule_id = 1, .match_pattern = EXPLOSIVE, .destination_hostgroup = 4, .apply = true),
    RULE(.rule_id = 2, .match_pattern = "^DROP", .error_msg = "no DROP"),
};

static const struct router_rule_spec negated_block_explosive[] = {
    RULE(.rule_id = 1, .match_pattern = EXPLOSIVE, .negate_match_pattern = true,
         .error_msg = "only a-words allowed"),
};

/* Rule 1 leads to the firewall of flag 5: its unsure outcome fails closed. */
static const struct router_rule_spec chain_explosive[] = {
    RULE(.rule_id = 1, .match_pattern = EXPLOSIVE, .flag_out = 5),
    RULE(.rule_id = 2, .flag_in = 5, .match_pattern = "b", .error_msg = "flag 5 firewall"),
};

/* The same chain without an error_msg at its end: routing only. */
static const struct router_rule_spec chain_routing[] = {
    RULE(.rule_id = 1, .match_pattern = EXPLOSIVE, .flag_out = 5),
    RULE(.rule_id = 2, .flag_in = 5, .destination_hostgroup = 6),
};

static const struct router_rule_spec block_digest[] = {
    RULE(.rule_id = 1, .match_digest = "secret_table", .error_msg = "no secrets"),
    RULE(.rule_id = 2, .destination_hostgroup = 3),
};

static const struct router_rule_spec block_digest_anchored[] = {
    RULE(.rule_id = 1, .match_digest = "^DROP", .error_msg = "no DROP"),
};

static const struct router_rule_spec route_digest[] = {
    RULE(.rule_id = 1, .match_digest = "secret_table", .destination_hostgroup = 7),
};

static const struct router_rule_spec block_text[] = {
    RULE(.rule_id = 1, .match_pattern = "DROP\\s+TABLE", .error_msg = "no DROP"),
};

static const struct router_rule_spec block_text_anchored[] = {
    RULE(.rule_id = 1, .match_pattern = "^\\s*DROP\\s", .error_msg = "no DROP"),
};

static const struct router_rule_spec block_prefix[] = {
    RULE(.rule_id = 1, .match_pattern = "^DROP TABLE", .error_msg = "no DROP"),
};

/* The rewrite does not fit the 64-byte scratch of these tests. */
#define LONG_REPLACEMENT                                                                           \
    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
static const struct router_rule_spec rewrite_then_block[] = {
    RULE(.rule_id = 1, .match_pattern = "x", .replace_pattern = LONG_REPLACEMENT),
    RULE(.rule_id = 2, .match_pattern = "yyy", .error_msg = "rewritten form blocked"),
};

static const struct router_rule_spec rewrite_only[] = {
    RULE(.rule_id = 1, .match_pattern = "x", .replace_pattern = LONG_REPLACEMENT,
         .destination_hostgroup = 2),
};

struct fc_case {
    const char *name;
    const struct router_rule_spec *rules;
    size_t nrules;
    const char *sql; /* "@a" : the explosive subject; "@long:" + text : text after 4 KiB */
    size_t digest_max;
    bool text_cut;
    /* Expected: */
    const char *error_msg; /* NULL: passes */
    bool unchecked;
    int rule_id;
    int hostgroup;
};

#define FC(...)                                                                                    \
    {                                                                                              \
        .rule_id = -1, .hostgroup = DEFAULT_HG, __VA_ARGS__                                        \
    }

static const struct fc_case cases[] = {
    /* PCRE2 errors at match time. */
    FC(.name = "regex error on a block rule", .rules = SET(block_explosive), .sql = "@a",
       .error_msg = "blocked", .unchecked = true, .rule_id = 1),
    FC(.name = "no error: block rule passes", .rules = SET(block_explosive), .sql = "SELECT 1",
       .rule_id = 2, .hostgroup = 3),
    FC(.name = "regex error on a routing rule is no match", .rules = SET(route_explosive),
       .sql = "@a"),
    FC(.name = "negated block rule errs", .rules = SET(negated_block_explosive), .sql = "@a",
       .error_msg = "only a-words allowed", .unchecked = true, .rule_id = 1),
    FC(.name = "chain to a firewall errs", .rules = SET(chain_explosive), .sql = "@a",
       .error_msg = ROUTER_UNCHECKED_MSG, .unchecked = true, .rule_id = 1),
    FC(.name = "chain without a firewall", .rules = SET(chain_routing), .sql = "@a"),
    /* Digest text cut at digest_max (64 bytes of input here). */
    FC(.name = "digest cut before the blocked name", .rules = SET(block_digest),
       .sql = "@long:FROM secret_table", .digest_max = 64, .error_msg = "no secrets",
       .unchecked = true, .rule_id = 1),
    FC(.name = "digest cut, unanchored rule cannot clear the rest", .rules = SET(block_digest),
       .sql = "@long:FROM harmless", .digest_max = 64, .error_msg = "no secrets", .unchecked = true,
       .rule_id = 1),
    FC(.name = "digest whole: blocked name found", .rules = SET(block_digest),
       .sql = "@long:FROM secret_table", .error_msg = "no secrets", .rule_id = 1),
    FC(.name = "digest cut, anchored rule cannot match", .rules = SET(block_digest_anchored),
       .sql = "@long:DROP TABLE t", .digest_max = 64),
    FC(.name = "digest cut, anchored rule matches", .rules = SET(block_digest_anchored),
       .sql = "DROP TABLE t /* padding padding padding padding padding padding padding */",
       .digest_max = 16, .error_msg = "no DROP", .rule_id = 1),
    FC(.name = "digest cut on a routing rule", .rules = SET(route_digest),
       .sql = "@long:FROM secret_table", .digest_max = 64),
    /* Text cut by the caller (a statement spanning packets). */
    FC(.name = "text cut inside a possible match", .rules = SET(block_text),
       .sql = "SELECT 1; DROP  ", .text_cut = true, .error_msg = "no DROP", .unchecked = true,
       .rule_id = 1),
    FC(.name = "text cut, unanchored rule cannot clear the rest", .rules = SET(block_text),
       .sql = "SELECT 1", .text_cut = true, .error_msg = "no DROP", .unchecked = true,
       .rule_id = 1),
    FC(.name = "text cut, anchored rule cannot match", .rules = SET(block_text_anchored),
       .sql = "SELECT 1", .text_cut = true),
    FC(.name = "text cut, anchored rule still open", .rules = SET(block_text_anchored), .sql = "  ",
       .text_cut = true, .error_msg = "no DROP", .unchecked = true, .rule_id = 1),
    FC(.name = "text whole, unanchored rule", .rules = SET(block_text), .sql = "SELECT 1"),
    FC(.name = "text cut, complete match", .rules = SET(block_text), .sql = "DROP TABLE t",
       .text_cut = true, .error_msg = "no DROP", .rule_id = 1),
    FC(.name = "text cut shorter than a prefix rule", .rules = SET(block_prefix), .sql = "DROP T",
       .text_cut = true, .error_msg = "no DROP", .unchecked = true, .rule_id = 1),
    FC(.name = "text cut, prefix differs", .rules = SET(block_prefix), .sql = "SELE",
       .text_cut = true),
    /* A rewrite that does not fit the scratch. */
    FC(.name = "rewrite overflow before a block rule", .rules = SET(rewrite_then_block),
       .sql = "SELECT x", .error_msg = ROUTER_UNCHECKED_MSG, .unchecked = true, .rule_id = 1),
    FC(.name = "rewrite overflow, nothing to block", .rules = SET(rewrite_only), .sql = "SELECT x",
       .rule_id = 1, .hostgroup = 2),
};

/* The statement a case names, in buf. */
static const char *case_sql(const char *sql, char *buf, size_t cap)
{
    if (strcmp(sql, "@a") == 0) {
        size_t n = 40;
        memset(buf, 'a', n);
        snprintf(buf + n, cap - n, "b");
        return buf;
    }
    if (strncmp(sql, "@long:", 6) == 0) {
        int n = snprintf(buf, cap, "SELECT c0");
        for (int i = 1; (size_t)n + 16 < cap - 64; i++)
            n += snprintf(buf + n, cap - (size_t)n, ",c%d", i);
        snprintf(buf + n, cap - (size_t)n, " %s", sql + 6);
        return buf;
    }
    return sql;
}

static void decide(const struct router_rules *rules, struct router_scratch *scratch,
                   const struct fc_case *c, struct router_decision *d)
{
    static char buf[4096];
    const char *sql = case_sql(c->sql, buf, sizeof(buf));
    struct router_facts facts = {.user = "app",
                                 .schema = "shop",
                                 .default_hostgroup = DEFAULT_HG,
                                 .digest_max_len = c->digest_max,
                                 .text_cut = c->text_cut};
    assert_int_equal(router_classify(rules, scratch, &facts, sql, strlen(sql), d), 0);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_fail_closed_table(void **state)
{
    (void)state;
    struct router_scratch *scratch = router_scratch_new(64);
    assert_non_null(scratch);
    for (size_t i = 0; i < N(cases); i++) {
        const struct fc_case *c = &cases[i];
        struct router_rules *rules;
        struct router_decision d;
        char err[256];
        if (router_rules_compile(c->rules, c->nrules, &rules, err, sizeof(err)) != 0)
            fail_msg("%s: %s", c->name, err);
        decide(rules, scratch, c, &d);
        if (!same_str(d.error_msg, c->error_msg) || d.unchecked != c->unchecked ||
            d.rule_id != c->rule_id || (!c->error_msg && d.hostgroup != c->hostgroup))
            fail_msg("%s: got error '%s' unchecked %d rule %d hg %d", c->name,
                     d.error_msg ? d.error_msg : "(none)", d.unchecked, d.rule_id, d.hostgroup);
        router_rules_free(rules);
    }
    router_scratch_free(scratch);
}

/* A rule that failed closed decided the statement: it counts a hit. */
static void test_fail_closed_counts_a_hit(void **state)
{
    (void)state;
    struct router_rules *rules;
    struct router_decision d;
    char err[256];
    assert_int_equal(router_rules_compile(SET(block_explosive), &rules, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(64);
    decide(rules, scratch, &cases[0], &d);
    decide(rules, scratch, &cases[0], &d);
    assert_int_equal(router_rules_hits(rules, 0), 2);
    assert_int_equal(router_rules_hits(rules, 1), 0);
    router_scratch_free(scratch);
    router_rules_free(rules);
}

struct steps {
    enum router_explain_outcome outcome[8];
    const char *error_msg[8];
    size_t n;
};

static void record(void *arg, const struct router_explain_step *st)
{
    struct steps *s = arg;
    if (s->n < 8) {
        s->outcome[s->n] = st->outcome;
        s->error_msg[s->n] = st->error_msg;
        s->n++;
    }
}

/* EXPLAIN shows the rule that failed closed and the decision's error. */
static void test_explain_fail_closed(void **state)
{
    (void)state;
    struct router_rules *rules;
    struct router_decision d;
    struct steps s = {.n = 0};
    char err[256], buf[64];
    assert_int_equal(router_rules_compile(SET(chain_explosive), &rules, err, sizeof(err)), 0);
    struct router_scratch *scratch = router_scratch_new(64);
    struct router_facts facts = {.user = "app", .schema = "", .default_hostgroup = DEFAULT_HG};
    const char *sql = case_sql("@a", buf, sizeof(buf));
    assert_int_equal(router_explain(rules, scratch, &facts, sql, strlen(sql), record, &s, &d), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.outcome[0], ROUTER_EXPLAIN_FAIL_CLOSED);
    assert_string_equal(s.error_msg[0], ROUTER_UNCHECKED_MSG);
    assert_string_equal(router_explain_outcome_str(s.outcome[0]),
                        "failed closed: could not be checked");
    assert_int_equal(s.outcome[1], ROUTER_EXPLAIN_DECISION);
    assert_string_equal(s.error_msg[1], ROUTER_UNCHECKED_MSG);
    assert_true(d.unchecked);
    assert_int_equal(router_rules_hits(rules, 0), 0); /* explaining is not traffic */
    router_scratch_free(scratch);
    router_rules_free(rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_closed_table),
        cmocka_unit_test(test_fail_closed_counts_a_hit),
        cmocka_unit_test(test_explain_fail_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
