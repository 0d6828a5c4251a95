/*
 * libFuzzer target for the router (router/): statement scanning, query
 * digests and the rule engine.
 *
 * Input: two header bytes, then the statement text (any bytes).
 *   byte 0, bits 0-1  rule set: none, configs/rw-split.sql, the synthetic set
 *                     below (flagIN/flagOUT chains, rewrites, error_msg,
 *                     ok_msg, digest and client_addr rules), or one rule made
 *                     from the input (see rule_from_input)
 *           bits 2-3  user, bits 4-5 schema, bit 6 in a transaction,
 *           bit 7     client without an address (unix socket)
 *   byte 1            digest_max_len and the digest buffer size
 *
 * Checks beyond the sanitizers: router_digest() NUL-terminates within its
 * buffer and gives the same hash whatever the buffer size; it looks at no
 * byte past max_len; router_stmt_is_read() implies no router_stmt_flags();
 * router_explain() reaches exactly router_classify()'s decision and reports
 * its steps in order, ending with one DECISION step; a rewrite fits the
 * scratch's buffer.
 *
 * The rule sets are compiled once in LLVMFuzzerInitialize, as a worker
 * shares a published set; only the rule-from-input mode compiles per input.
 */
#include "router/router.h"
#include "tests/common/rules_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define REWRITE_CAP 4096
#define DEFAULT_HG 7

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RULE() gives every field its SQL-NULL default and lets a row override some,
 * as tests/unit/test_rules.c does; the last designated initializer wins. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define RULE(...)                                                                                  \
    {                                                                                              \
        .active = true, .flag_out = -1, .destination_hostgroup = -1, .cache_ttl = -1,              \
        .timeout = -1, .retries = -1, .delay = -1, .multiplex = -1, .log = -1, __VA_ARGS__         \
    }

/* Every kind of condition and action, and chains that revisit a flag. */
static const struct router_rule_spec synthetic[] = {
    RULE(.rule_id = 1, .username = "alice", .flag_out = 10),
    RULE(.rule_id = 2, .flag_in = 10, .match_pattern = "^SELECT\\s+(\\w+)\\s+FROM\\s+(\\w+)",
         .replace_pattern = "SELECT \\2 FROM \\1", .flag_out = 11),
    RULE(.rule_id = 3, .flag_in = 11, .match_digest = "WHERE", .destination_hostgroup = 5,
         .apply = true),
    RULE(.rule_id = 4, .flag_in = 11, .flag_out = 0),
    RULE(.rule_id = 5, .match_pattern = "\\bDROP\\s+TABLE\\b", .error_msg = "no drops here"),
    RULE(.rule_id = 6, .match_pattern = "^SET\\s+autocommit", .ok_msg = "ignored"),
    RULE(.rule_id = 7, .match_pattern = "sleep\\s*\\(\\s*\\d+", .re_modifiers = "CASELESS,GLOBAL",
         .replace_pattern = "SLEEP(0", .timeout = 100, .retries = 0),
    RULE(.rule_id = 8, .schemaname = "billing", .match_pattern = "^SELECT",
         .negate_match_pattern = true, .destination_hostgroup = 9, .cache_ttl = 1000,
         .timeout = 500, .retries = 2, .delay = 10, .multiplex = 0),
    RULE(.rule_id = 9, .client_addr = "10.0.%", .match_digest = "^SELECT \\? FROM",
         .destination_hostgroup = 2, .multiplex = 2),
    RULE(.rule_id = 10, .digest = "0x0123456789abcdef", .destination_hostgroup = 3, .apply = true),
    RULE(.rule_id = 11, .match_pattern = "(.)", .re_modifiers = "GLOBAL",
         .replace_pattern = "\\1\\1\\1\\1", .flag_out = 20),
    RULE(.rule_id = 12, .flag_in = 20, .match_pattern = "^(\\w*)", .replace_pattern = "",
         .flag_out = 20),
    RULE(.rule_id = 13, .flag_in = 20, .match_digest = "IN \\(\\.\\.\\.\\)",
         .negate_match_pattern = true, .flag_out = 21),
    RULE(.rule_id = 14, .flag_in = 21, .username = "", .schemaname = "", .client_addr = "%",
         .match_pattern = "^select", .re_modifiers = "", .destination_hostgroup = 1, .apply = true),
    RULE(.rule_id = 15, .flag_in = 21, .client_addr = "192.168.1.1", .destination_hostgroup = 4,
         .cache_ttl = 0, .apply = true),
};

static struct router_rules *rw_split, *synth;
static struct router_scratch *scratch_a, *scratch_b;

static const char *const users[] = {"app", "alice", "bob", ""};
static const char *const schemas[] = {"shop", "billing", "", "information_schema"};
static const char *const addrs[] = {"10.0.0.5", "192.168.1.1"};
static const size_t max_lens[] = {0, 1, 16, 64, 1024, 65536, 100000, 3};
static const size_t outcaps[] = {0, 1, 2, 8, 64, 1024, 65537, 5};

static struct router_rules *compile_or_die(const struct router_rule_spec *specs, size_t n,
                                           const char *what)
{
    struct router_rules *rules = NULL;
    char err[512];

    if (router_rules_compile(specs, n, &rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_digest_rules: %s: %s\n", what, err);
        abort();
    }
    return rules;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct rules_sql rs;
    char err[512];

    (void)argc;
    (void)argv;
    if (rules_sql_load(SLUICE_SOURCE_ROOT "/configs/rw-split.sql", &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_digest_rules: %s\n", err);
        abort();
    }
    rw_split = compile_or_die(rs.specs, rs.n, "configs/rw-split.sql");
    rules_sql_free(&rs);
    synth = compile_or_die(synthetic, N(synthetic), "synthetic rules");
    scratch_a = router_scratch_new(REWRITE_CAP);
    scratch_b = router_scratch_new(REWRITE_CAP);
    CHECK(scratch_a && scratch_b);
    return 0;
}

/* Digest text and hash under every buffer size agree; max_len is a prefix.
 * The buffers hold the digest of any input up to DIGEST_CHECK_MAX bytes
 * (spaces around operators make a digest longer than its query). */
#define DIGEST_CHECK_MAX 40000
static void check_digest(const char *sql, size_t len, size_t outcap, size_t max_len)
{
    static char full[8 * DIGEST_CHECK_MAX], small[65537], cut[8 * DIGEST_CHECK_MAX];
    uint64_t h_full, h_small, h_none, h_cut;
    size_t n_full = router_digest(sql, len, full, sizeof(full), max_len, &h_full);
    size_t n_small = router_digest(sql, len, small, outcap, max_len, &h_small);
    size_t n_cut;

    if (len > DIGEST_CHECK_MAX)
        return;
    CHECK(n_full < sizeof(full) && full[n_full] == '\0');
    CHECK(h_small == h_full);
    if (outcap > 0) {
        CHECK(n_small < outcap && small[n_small] == '\0');
        CHECK(memcmp(small, full, n_small) == 0);
    }
    (void)router_digest(sql, len, NULL, 0, max_len, &h_none);
    CHECK(h_none == h_full);
    if (max_len == 0 || max_len >= len)
        return;
    n_cut = router_digest(sql, max_len, cut, sizeof(cut), 0, &h_cut);
    CHECK(n_cut == n_full && h_cut == h_full && memcmp(cut, full, n_cut) == 0);
}

static void check_scan(const char *sql, size_t len)
{
    unsigned flags = router_stmt_flags(sql, len);

    if (router_stmt_is_read(sql, len))
        CHECK(flags == 0);
    (void)router_stmt_read_only_txn(sql, len);
}

/* What router_explain() reported, for the comparison with classify. */
struct trail {
    size_t steps;
    size_t decisions;
    int last_matched;
};

static void on_step(void *arg, const struct router_explain_step *st)
{
    struct trail *t = arg;

    CHECK(st->index == t->steps && t->decisions == 0);
    CHECK(st->text != NULL || st->text_len == 0);
    CHECK(st->digest_text_len <= 65536);
    t->steps++;
    if (st->outcome == ROUTER_EXPLAIN_DECISION)
        t->decisions++;
    else if (st->outcome == ROUTER_EXPLAIN_MATCHED)
        t->last_matched = st->rule_id;
}

static void same_decision(const struct router_decision *a, const struct router_decision *b)
{
    CHECK(a->hostgroup == b->hostgroup && a->rule_id == b->rule_id);
    CHECK(a->stmt_flags == b->stmt_flags && a->digest == b->digest);
    CHECK(a->error_msg == b->error_msg && a->ok_msg == b->ok_msg);
    CHECK(a->cache_ttl == b->cache_ttl && a->timeout_ms == b->timeout_ms);
    CHECK(a->retries == b->retries && a->delay_ms == b->delay_ms);
    CHECK(a->multiplex == b->multiplex);
    CHECK((a->rewritten == NULL) == (b->rewritten == NULL));
    CHECK(a->rewritten_len == b->rewritten_len);
    if (a->rewritten)
        CHECK(memcmp(a->rewritten, b->rewritten, a->rewritten_len) == 0);
}

static void check_classify(const struct router_rules *rules, const struct router_facts *facts,
                           const char *sql, size_t len)
{
    struct router_decision d, e;
    struct trail t = {.last_matched = -1};

    CHECK(router_classify(rules, scratch_a, facts, sql, len, &d) == 0);
    CHECK(router_explain(rules, scratch_b, facts, sql, len, on_step, &t, &e) == 0);
    same_decision(&d, &e);
    CHECK(t.decisions == 1 && t.last_matched == d.rule_id);
    if (!rules)
        CHECK(d.hostgroup == facts->default_hostgroup && d.rule_id == -1);
    if (d.rewritten || d.error_msg || d.ok_msg || d.cache_ttl >= 0)
        CHECK(d.rule_id >= 0);
    if (d.rewritten)
        CHECK(d.rewritten_len <= REWRITE_CAP);
}

/* "pattern NUL replacement NUL query": one rule rewriting with the pattern,
 * one matching the digest with it. Compile errors are expected (most
 * patterns are not valid regexes) and must leave nothing allocated. */
static void rule_from_input(const struct router_facts *facts, const char *in, size_t len,
                            uint8_t bits)
{
    const char *z1 = memchr(in, '\0', len), *z2;
    struct router_rules *rules = NULL;
    char err[256];

    if (!z1 || !(z2 = memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - in))))
        return;
    struct router_rule_spec specs[] = {
        RULE(.rule_id = 1, .match_pattern = in, .replace_pattern = *(z1 + 1) ? z1 + 1 : NULL,
             .re_modifiers = (bits & 1) ? "CASELESS,GLOBAL" : NULL, .flag_out = 1),
        RULE(.rule_id = 2, .flag_in = 1, .match_digest = in, .negate_match_pattern = bits & 2,
             .destination_hostgroup = 3, .apply = true),
    };
    err[0] = 'x';
    if (router_rules_compile(specs, N(specs), &rules, err, sizeof(err)) != 0) {
        CHECK(rules == NULL && memchr(err, '\0', sizeof(err)) != NULL);
        return;
    }
    check_classify(rules, facts, z2 + 1, len - (size_t)(z2 + 1 - in));
    router_rules_free(rules);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct router_rules *sets[] = {NULL, rw_split, synth};
    struct router_facts facts;
    const char *sql = (const char *)data + 2;
    size_t len;

    if (size < 2)
        return 0;
    len = size - 2;
    facts = (struct router_facts){
        .user = users[(data[0] >> 2) & 3],
        .schema = schemas[(data[0] >> 4) & 3],
        .client_addr = (data[0] & 0x80) ? NULL : addrs[data[1] >> 7],
        .default_hostgroup = DEFAULT_HG,
        .in_transaction = data[0] & 0x40,
        .digest_max_len = max_lens[data[1] & 7],
    };
    check_scan(sql, len);
    check_digest(sql, len, outcaps[(data[1] >> 3) & 7], facts.digest_max_len);
    if ((data[0] & 3) == 3)
        rule_from_input(&facts, sql, len, data[1] >> 6);
    else
        check_classify(sets[data[0] & 3], &facts, sql, len);
    return 0;
}
