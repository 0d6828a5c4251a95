/*
 * Rule sets, compiled: ProxySQL's mysql_query_rules turned once into an
 * immutable array that rules.c evaluates, and the per-worker scratch.
 *
 * Compile (router_rules_compile): active specs are copied and sorted by
 * rule_id; every regex column is compiled with PCRE2 and then JIT-compiled
 * (a JIT failure leaves the interpreter, which gives the same answers more
 * slowly). All or nothing: the first bad column frees what was built and the
 * error names the rule_id, the column, PCRE2's message and the offset. Some
 * rows ProxySQL accepts and then silently ignores are rejected here instead,
 * because a rule that can never act is a configuration mistake:
 * replace_pattern without match_pattern, unknown re_modifiers, a digest that
 * is not 0x + 1..16 hex digits, a rewrite escape other than \0..\9 and \\,
 * a reference to a group the pattern does not have, duplicate rule_ids.
 *
 * Compile also marks the rules that fail closed (rules.c's "Failing
 * closed"): each rule is compared with the rules after it, O(n^2) once per
 * compile.
 */
#include "router/rules_int.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4))) static void set_error(char *err, size_t errlen,
                                                            const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* -------------------------------------------------------------- compile */

/* Copies s; NULL stays NULL, and so does "" when empty_is_null. Returns 0
 * or ROUTER_ENOMEM. */
static int copy_string(const char *s, bool empty_is_null, char **out)
{
    *out = NULL;
    if (s == NULL || (empty_is_null && s[0] == '\0'))
        return 0;
    *out = strdup(s);
    return *out ? 0 : ROUTER_ENOMEM;
}

static int parse_modifiers(const struct router_rule_spec *s, struct rule *r, char *err,
                           size_t errlen)
{
    /* ProxySQL's default for the column is CASELESS. */
    r->caseless = s->re_modifiers == NULL;
    r->global = false;
    if (s->re_modifiers == NULL)
        return 0;
    const char *p = s->re_modifiers;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (n == 8 && strncasecmp(p, "CASELESS", 8) == 0) {
            r->caseless = true;
        } else if (n == 6 && strncasecmp(p, "GLOBAL", 6) == 0) {
            r->global = true;
        } else {
            set_error(err, errlen,
                      "rule_id %d: re_modifiers: unknown modifier '%.*s' (CASELESS, GLOBAL)",
                      r->rule_id, (int)n, p);
            return ROUTER_EINVAL;
        }
        p += n;
    }
    return 0;
}

static int parse_digest(const struct router_rule_spec *s, struct rule *r, char *err, size_t errlen)
{
    const char *d = s->digest;
    if (d == NULL || d[0] == '\0')
        return 0;
    size_t n = strlen(d);
    bool ok = n > 2 && n <= 18 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
    uint64_t v = 0;
    for (size_t i = 2; ok && i < n; i++) {
        char c = d[i];
        unsigned nib = 0;
        if (c >= '0' && c <= '9')
            nib = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            nib = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            nib = (unsigned)(c - 'A' + 10);
        else
            ok = false;
        v = v << 4 | nib;
    }
    if (!ok) {
        set_error(err, errlen, "rule_id %d: digest: '%s' is not 0x followed by 1-16 hex digits",
                  r->rule_id, d);
        return ROUTER_EINVAL;
    }
    r->has_digest = true;
    r->digest = v;
    return 0;
}

static int compile_regex(const char *pattern, const char *column, struct rule *r, pcre2_code **out,
                         bool *jit, bool *anchored, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE offset;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         r->caseless ? PCRE2_CASELESS : 0, &code, &offset, NULL);
    if (*out == NULL) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", code);
        set_error(err, errlen, "rule_id %d: %s: %s at offset %zu", r->rule_id, column,
                  (const char *)msg, (size_t)offset);
        return ROUTER_EINVAL;
    }
    /* JIT may be unavailable (CPU, SELinux, pattern size): the interpreter
     * gives the same results, so a failure is not an error. */
    *jit = pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE) == 0;
    /* PCRE2 sets ANCHORED here when every top-level branch starts with ^
     * or \A: what failing closed on a cut text needs to know. */
    uint32_t opts = 0;
    *anchored =
        pcre2_pattern_info(*out, PCRE2_INFO_ALLOPTIONS, &opts) == 0 && (opts & PCRE2_ANCHORED) != 0;
    return 0;
}

static bool is_plain_prefix(const char *p)
{
    if (p[0] != '^')
        return false;
    for (p++; *p; p++) {
        unsigned char c = (unsigned char)*p;
        /* Printable ASCII only: outside it PCRE2's case folding and escapes
         * are not worth reproducing. */
        if (c < 0x20 || c > 0x7e || strchr("\\^$.|?*+()[]{}", c))
            return false;
    }
    return true;
}

static int compile_match_pattern(const struct router_rule_spec *s, struct rule *r, char *err,
                                 size_t errlen)
{
    if (s->match_pattern == NULL) {
        r->kind = MATCH_ANY;
        return 0;
    }
    if (s->replace_pattern == NULL && is_plain_prefix(s->match_pattern)) {
        if (copy_string(s->match_pattern + 1, false, &r->prefix) < 0)
            goto nomem;
        r->prefix_len = strlen(r->prefix);
        if (r->caseless)
            for (size_t i = 0; i < r->prefix_len; i++)
                r->prefix[i] = rules_fold(r->prefix[i]);
        r->kind = MATCH_PREFIX;
        return 0;
    }
    r->kind = MATCH_REGEX;
    return compile_regex(s->match_pattern, "match_pattern", r, &r->match_pattern, &r->pattern_jit,
                         &r->pattern_anchored, err, errlen);
nomem:
    set_error(err, errlen, "rule_id %d: out of memory", r->rule_id);
    return ROUTER_ENOMEM;
}

/* ProxySQL (RE2 and pcrecpp alike) writes group references in replace_pattern
 * as \0..\9 and a backslash as \\; pcre2_substitute() wants ${n} and $$ for
 * a dollar. Translated once here so evaluation parses nothing. */
static int compile_replacement(const struct router_rule_spec *s, struct rule *r, char *err,
                               size_t errlen)
{
    const char *in = s->replace_pattern;
    if (in == NULL)
        return 0;
    if (r->kind != MATCH_REGEX) {
        set_error(err, errlen, "rule_id %d: replace_pattern needs a match_pattern to replace",
                  r->rule_id);
        return ROUTER_EINVAL;
    }
    uint32_t groups;
    if (pcre2_pattern_info(r->match_pattern, PCRE2_INFO_CAPTURECOUNT, &groups) != 0)
        groups = 0;
    if (groups >= ROUTER_RULES_OVEC_PAIRS) {
        set_error(err, errlen,
                  "rule_id %d: match_pattern has %u capture groups; replace_pattern allows %u",
                  r->rule_id, groups, ROUTER_RULES_OVEC_PAIRS - 1);
        return ROUTER_EINVAL;
    }
    size_t n = strlen(in);
    /* Each input byte becomes at most two output bytes ("\1" -> "${1}"). */
    char *out = malloc(2 * n + 1);
    if (out == NULL) {
        set_error(err, errlen, "rule_id %d: out of memory", r->rule_id);
        return ROUTER_ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '$') {
            out[o++] = '$';
            out[o++] = '$';
        } else if (c != '\\') {
            out[o++] = c;
        } else if (i + 1 < n && in[i + 1] == '\\') {
            out[o++] = '\\';
            i++;
        } else if (i + 1 < n && in[i + 1] >= '0' && in[i + 1] <= '9') {
            unsigned g = (unsigned)(in[i + 1] - '0');
            if (g > groups) {
                set_error(err, errlen,
                          "rule_id %d: replace_pattern: \\%u but match_pattern has %u groups",
                          r->rule_id, g, groups);
                free(out);
                return ROUTER_EINVAL;
            }
            o += (size_t)sprintf(out + o, "${%u}", g);
            i++;
        } else {
            set_error(err, errlen,
                      "rule_id %d: replace_pattern: bad escape at offset %zu "
                      "(use \\0..\\9 or \\\\)",
                      r->rule_id, i);
            free(out);
            return ROUTER_EINVAL;
        }
    }
    out[o] = '\0';
    r->replacement = out;
    r->replacement_len = o;
    return 0;
}

static void rule_close(struct rule *r)
{
    free(r->username);
    free(r->schemaname);
    free(r->client_addr);
    pcre2_code_free(r->match_digest);
    pcre2_code_free(r->match_pattern);
    free(r->prefix);
    free(r->replacement);
    free(r->error_msg);
    free(r->ok_msg);
}

static uint64_t fp_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fp_str(uint64_t h, const char *s)
{
    /* NULL and "" differ; the separator keeps "ab","c" apart from "a","bc". */
    unsigned char tag = s ? 1 : 0;
    h = fp_mix(h, &tag, 1);
    return s ? fp_mix(h, s, strlen(s) + 1) : h;
}

/* Every column that changes what the rule matches or does. */
static uint64_t spec_fingerprint(const struct router_rule_spec *s)
{
    int ints[] = {s->rule_id,
                  s->flag_in,
                  s->negate_match_pattern,
                  s->flag_out,
                  s->destination_hostgroup,
                  s->cache_ttl,
                  s->timeout,
                  s->retries,
                  s->delay,
                  s->multiplex,
                  s->apply,
                  s->log};
    uint64_t h = fp_mix(0xcbf29ce484222325ull, ints, sizeof(ints));
    const char *strs[] = {s->username,     s->schemaname,    s->client_addr,  s->digest,
                          s->match_digest, s->match_pattern, s->re_modifiers, s->replace_pattern,
                          s->error_msg,    s->ok_msg};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        h = fp_str(h, strs[i]);
    return h;
}

void router_rules_carry_hits(struct router_rules *to, const struct router_rules *from)
{
    if (to == NULL || from == NULL)
        return;
    /* Both are sorted by rule_id: one merge pass. */
    for (size_t i = 0, j = 0; i < to->n && j < from->n;) {
        struct rule *t = &to->rule[i];
        const struct rule *f = &from->rule[j];
        if (t->rule_id < f->rule_id) {
            i++;
        } else if (t->rule_id > f->rule_id) {
            j++;
        } else {
            if (t->fingerprint == f->fingerprint)
                atomic_fetch_add_explicit(&t->hits,
                                          atomic_load_explicit(&f->hits, memory_order_relaxed),
                                          memory_order_relaxed);
            i++;
            j++;
        }
    }
}

static int rule_init(struct rule *r, const struct router_rule_spec *s, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    atomic_init(&r->hits, 0);
    r->fingerprint = spec_fingerprint(s);
    r->rule_id = s->rule_id;
    r->flag_in = s->flag_in;
    r->flag_out = s->flag_out;
    r->negate = s->negate_match_pattern;
    r->apply = s->apply;
    r->destination_hostgroup = s->destination_hostgroup;
    r->cache_ttl = s->cache_ttl;
    r->timeout = s->timeout;
    r->retries = s->retries;
    r->delay = s->delay;
    r->multiplex = s->multiplex;
    if (copy_string(s->username, true, &r->username) < 0 ||
        copy_string(s->schemaname, true, &r->schemaname) < 0 ||
        copy_string(s->client_addr, true, &r->client_addr) < 0 ||
        copy_string(s->error_msg, false, &r->error_msg) < 0 ||
        copy_string(s->ok_msg, false, &r->ok_msg) < 0) {
        set_error(err, errlen, "rule_id %d: out of memory", r->rule_id);
        return ROUTER_ENOMEM;
    }
    if (r->client_addr) {
        r->client_addr_len = strlen(r->client_addr);
        /* ProxySQL's wildcard: a trailing '%' matches any rest; '%' alone
         * matches every client. */
        if (r->client_addr[r->client_addr_len - 1] == '%') {
            r->client_addr_prefix = true;
            r->client_addr_len--;
        }
    }
    int rc = parse_modifiers(s, r, err, errlen);
    if (rc == 0)
        rc = parse_digest(s, r, err, errlen);
    if (rc == 0 && s->match_digest)
        rc = compile_regex(s->match_digest, "match_digest", r, &r->match_digest, &r->digest_jit,
                           &r->digest_anchored, err, errlen);
    if (rc == 0)
        rc = compile_match_pattern(s, r, err, errlen);
    if (rc == 0)
        rc = compile_replacement(s, r, err, errlen);
    return rc;
}

/* Whether a match of a rule at flag f, at position i, can reach a rule with
 * an error_msg: some later rule on flag f leads to one when matched. */
static bool flag_reaches_block(const struct router_rules *rules, size_t i, int f)
{
    for (size_t k = i + 1; k < rules->n; k++)
        if (rules->rule[k].flag_in == f && rules->rule[k].guard)
            return true;
    return false;
}

/* Marks the rules an unsure outcome must fail closed on (the file's header).
 * Backwards, so that each rule sees the marks of the rules after it; O(n^2)
 * once per compile. */
static void mark_guards(struct router_rules *rules)
{
    bool block_later = false;
    for (size_t i = rules->n; i-- > 0;) {
        struct rule *r = &rules->rule[i];
        r->block_after = block_later;
        r->guard = r->error_msg != NULL || (r->replacement != NULL && block_later) ||
                   (r->flag_out >= 0 && r->flag_out != r->flag_in &&
                    flag_reaches_block(rules, i, r->flag_out));
        block_later = block_later || r->error_msg != NULL;
    }
}

static int by_rule_id(const void *a, const void *b)
{
    const struct router_rule_spec *x = *(const struct router_rule_spec *const *)a;
    const struct router_rule_spec *y = *(const struct router_rule_spec *const *)b;
    return (x->rule_id > y->rule_id) - (x->rule_id < y->rule_id);
}

int router_rules_compile(const struct router_rule_spec *specs, size_t n, struct router_rules **out,
                         char *errbuf, size_t errlen)
{
    struct router_rules *rules = NULL;
    const struct router_rule_spec **order = NULL;
    size_t active = 0;
    int rc = ROUTER_ENOMEM;

    *out = NULL;
    for (size_t i = 0; i < n; i++)
        active += specs[i].active;
    order = malloc((active ? active : 1) * sizeof(*order));
    rules = malloc(sizeof(*rules) + active * sizeof(rules->rule[0]));
    if (order == NULL || rules == NULL) {
        free(rules);
        rules = NULL;
        set_error(errbuf, errlen, "out of memory");
        goto out;
    }
    rules->n = 0;
    for (size_t i = 0, k = 0; i < n; i++)
        if (specs[i].active)
            order[k++] = &specs[i];
    qsort(order, active, sizeof(*order), by_rule_id);
    for (size_t i = 0; i < active; i++) {
        if (i > 0 && order[i]->rule_id == order[i - 1]->rule_id) {
            set_error(errbuf, errlen, "rule_id %d: duplicate rule_id", order[i]->rule_id);
            rc = ROUTER_EINVAL;
            goto out;
        }
        /* Counted before init so that a half-built rule is closed too. */
        rules->n++;
        rc = rule_init(&rules->rule[i], order[i], errbuf, errlen);
        if (rc != 0)
            goto out;
    }
    mark_guards(rules);
    *out = rules;
    rules = NULL;
    rc = 0;
out:
    router_rules_free(rules);
    free(order);
    return rc;
}

void router_rules_free(struct router_rules *rules)
{
    if (rules == NULL)
        return;
    for (size_t i = 0; i < rules->n; i++)
        rule_close(&rules->rule[i]);
    free(rules);
}

size_t router_rules_count(const struct router_rules *rules)
{
    return rules ? rules->n : 0;
}

int router_rules_rule_id(const struct router_rules *rules, size_t i)
{
    return rules && i < rules->n ? rules->rule[i].rule_id : -1;
}

uint64_t router_rules_hits(const struct router_rules *rules, size_t i)
{
    if (rules == NULL || i >= rules->n)
        return 0;
    return atomic_load_explicit(&rules->rule[i].hits, memory_order_relaxed);
}

bool router_rules_is_prefix(const struct router_rules *rules, size_t i)
{
    return rules && i < rules->n && rules->rule[i].kind == MATCH_PREFIX;
}

/* -------------------------------------------------------------- scratch */

struct router_scratch *router_scratch_new(size_t rewrite_cap)
{
    struct router_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->rewrite_cap = rewrite_cap;
    /* +1 each: pcre2_substitute() NUL-terminates, and the cap is for text. */
    s->rewrite[0] = malloc(2 * (rewrite_cap + 1));
    s->md = pcre2_match_data_create(ROUTER_RULES_OVEC_PAIRS, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    if (s->rewrite[0] == NULL || s->md == NULL || s->mctx == NULL || s->jit_stack == NULL) {
        router_scratch_free(s);
        return NULL;
    }
    s->rewrite[1] = s->rewrite[0] + rewrite_cap + 1;
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    return s;
}

void router_scratch_free(struct router_scratch *scratch)
{
    if (scratch == NULL)
        return;
    pcre2_match_data_free(scratch->md);
    pcre2_match_context_free(scratch->mctx);
    pcre2_jit_stack_free(scratch->jit_stack);
    free(scratch->rewrite[0]);
    free(scratch);
}
