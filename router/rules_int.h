/*
 * Internals of the rule engine shared by its two files: rules_compile.c
 * builds rule sets and scratch objects, rules.c evaluates them. Not part of
 * the module's contract (router/router.h is).
 */
#ifndef SLUICE_ROUTER_RULES_INT_H
#define SLUICE_ROUTER_RULES_INT_H

#include "router/router_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* JIT stack per scratch: PCRE2's default (32 KiB on the machine stack) fails
 * deeply backtracking patterns on long queries; 1 MiB is allocated at most
 * once per worker. */
#define JIT_STACK_START (32u * 1024u)
#define JIT_STACK_MAX (1024u * 1024u)

enum match_kind {
    MATCH_ANY,    /* no match_pattern: every text matches */
    MATCH_PREFIX, /* '^literal': byte compare, see the fast path in rules.c */
    MATCH_REGEX,  /* PCRE2 */
};

struct rule {
    int rule_id;
    int flag_in;
    int flag_out; /* < 0: leave the flag alone */
    enum match_kind kind;
    bool negate;
    bool caseless;
    bool global;
    bool apply;
    bool has_digest;
    bool digest_jit; /* match_digest / match_pattern JIT-compiled */
    bool pattern_jit;
    bool digest_anchored; /* the pattern can only match at the subject's start */
    bool pattern_anchored;
    uint64_t digest;
    /* NULL: any. Empty strings are stored as NULL, as ProxySQL tests
     * strlen() before comparing. */
    char *username;
    char *schemaname;
    char *client_addr;
    size_t client_addr_len;
    bool client_addr_prefix; /* trailing '%': compare client_addr_len bytes */
    pcre2_code *match_digest;
    pcre2_code *match_pattern;
    char *prefix; /* MATCH_PREFIX: the literal, lower-cased under CASELESS */
    size_t prefix_len;
    char *replacement; /* replace_pattern in pcre2_substitute() syntax */
    size_t replacement_len;
    int destination_hostgroup; /* < 0: none, as for the three below */
    int cache_ttl;
    int timeout;
    int retries;
    int delay;
    int multiplex;
    char *error_msg;
    char *ok_msg;
    /* Fail closed (see "Failing closed" in rules.c): a match of this rule may
     * lead to an error_msg rule, so an outcome it cannot establish denies
     * the statement. block_after: some later rule has an error_msg. */
    bool guard;
    bool block_after;
    _Atomic uint64_t hits;
    uint64_t fingerprint; /* of the definition, for router_rules_carry_hits() */
};

struct router_rules {
    size_t n;
    struct rule rule[];
};

struct router_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    size_t rewrite_cap;
    char *rewrite[2];
    char digest[ROUTER_RULES_DIGEST_MAX + 1];
};

/* ASCII lower case: what PCRE2's default tables fold under CASELESS. */
static inline char rules_fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

#endif
