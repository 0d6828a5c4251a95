/*
 * Rule sets: ProxySQL's mysql_query_rules compiled once into an immutable
 * array that any number of workers evaluate at the same time, each with its
 * own struct router_scratch.
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
 * Evaluate (router_classify), ProxySQL's Query_Processor loop:
 *
 *     flag = 0; text = query
 *     for each rule by ascending rule_id:
 *         skip unless flag_in == flag
 *              and username, schemaname, client_addr, digest match
 *              and match_digest (on the digest text) and match_pattern (on
 *                  text), each inverted by negate_match_pattern, match
 *         hits++; the rule's actions override the decision's fields
 *         replace_pattern: text = rewrite(text)   later rules see new text
 *         flag_out set: flag = flag_out           evaluation goes on with the
 *                                                 following rules, not from
 *                                                 the first one
 *         apply or error_msg: stop
 *
 * error_msg ends evaluation (a firewall rule is final); ok_msg does not, as
 * in ProxySQL, and the caller gives error_msg precedence if both are set.
 * negate_match_pattern inverts match_digest too, as ProxySQL documents. A
 * rule that names a client_addr does not match a client without one (unix
 * socket), except the catch-all '%'. The decision's digest is the hash when
 * some rule consulted it, else 0.
 *
 * Explain (router_explain) runs the same loop, forced inline into both
 * callers: with a step callback that hears every rule considered (skipped,
 * and why, or matched with its actions) and without counting hits. In
 * router_classify()'s copy the callback is a constant NULL, so the hot path
 * carries no trace of it.
 *
 * Nothing is allocated per query: the match data, JIT stack, digest buffer
 * and two rewrite buffers (a rewrite reads one and writes the other) live in
 * the scratch. The digest is computed lazily, the first time a rule that got
 * past its flag and session checks needs it, so rule sets without digest
 * rules never pay for it.
 *
 * Fast path: a match_pattern that is '^' followed by printable ASCII without
 * regex metacharacters (ProxySQL's typical '^SELECT') is tested by comparing
 * bytes, ASCII-case-folded under CASELESS. That is exactly what PCRE2 does
 * for such a pattern without UTF mode: '^' anchors at the subject's start
 * only (no MULTILINE), the default character tables fold only A-Z/a-z, and
 * other bytes compare as themselves. Rules with a replace_pattern keep PCRE2
 * because the substitution reuses its match data.
 */
#include "router/router_int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* JIT stack per scratch: PCRE2's default (32 KiB on the machine stack) fails
 * deeply backtracking patterns on long queries; 1 MiB is allocated at most
 * once per worker. */
#define JIT_STACK_START (32u * 1024u)
#define JIT_STACK_MAX (1024u * 1024u)

enum match_kind {
    MATCH_ANY,    /* no match_pattern: every text matches */
    MATCH_PREFIX, /* '^literal': byte compare, see the fast path above */
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

/* State of one evaluation. */
struct eval {
    const char *text; /* what match_pattern sees: the query or a rewrite */
    size_t len;
    int next_buf; /* rewrite buffer the next rewrite writes */
    bool rewritten;
    bool digest_done;
    uint64_t digest;
    size_t digest_len;
    size_t digest_max; /* input bytes the digest looks at */
};

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

/* Copies s; NULL stays NULL, and so does "" when empty_is_null. Returns -1 on
 * allocation failure. */
static int copy_string(const char *s, bool empty_is_null, char **out)
{
    *out = NULL;
    if (s == NULL || (empty_is_null && s[0] == '\0'))
        return 0;
    *out = strdup(s);
    return *out ? 0 : -1;
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
            return -1;
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
        return -1;
    }
    r->has_digest = true;
    r->digest = v;
    return 0;
}

static int compile_regex(const char *pattern, const char *column, struct rule *r, pcre2_code **out,
                         bool *jit, char *err, size_t errlen)
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
        return -1;
    }
    /* JIT may be unavailable (CPU, SELinux, pattern size): the interpreter
     * gives the same results, so a failure is not an error. */
    *jit = pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE) == 0;
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

static char fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
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
                r->prefix[i] = fold(r->prefix[i]);
        r->kind = MATCH_PREFIX;
        return 0;
    }
    r->kind = MATCH_REGEX;
    return compile_regex(s->match_pattern, "match_pattern", r, &r->match_pattern, &r->pattern_jit,
                         err, errlen);
nomem:
    set_error(err, errlen, "rule_id %d: out of memory", r->rule_id);
    return -1;
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
        return -1;
    }
    uint32_t groups;
    if (pcre2_pattern_info(r->match_pattern, PCRE2_INFO_CAPTURECOUNT, &groups) != 0)
        groups = 0;
    if (groups >= ROUTER_RULES_OVEC_PAIRS) {
        set_error(err, errlen,
                  "rule_id %d: match_pattern has %u capture groups; replace_pattern allows %u",
                  r->rule_id, groups, ROUTER_RULES_OVEC_PAIRS - 1);
        return -1;
    }
    size_t n = strlen(in);
    /* Each input byte becomes at most two output bytes ("\1" -> "${1}"). */
    char *out = malloc(2 * n + 1);
    if (out == NULL) {
        set_error(err, errlen, "rule_id %d: out of memory", r->rule_id);
        return -1;
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
                return -1;
            }
            o += (size_t)sprintf(out + o, "${%u}", g);
            i++;
        } else {
            set_error(err, errlen,
                      "rule_id %d: replace_pattern: bad escape at offset %zu "
                      "(use \\0..\\9 or \\\\)",
                      r->rule_id, i);
            free(out);
            return -1;
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
        return -1;
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
    if (parse_modifiers(s, r, err, errlen) < 0 || parse_digest(s, r, err, errlen) < 0)
        return -1;
    if (s->match_digest && compile_regex(s->match_digest, "match_digest", r, &r->match_digest,
                                         &r->digest_jit, err, errlen) < 0)
        return -1;
    if (compile_match_pattern(s, r, err, errlen) < 0 || compile_replacement(s, r, err, errlen) < 0)
        return -1;
    return 0;
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
    int rc = -1;

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
            goto out;
        }
        /* Counted before init so that a half-built rule is closed too. */
        rules->n++;
        if (rule_init(&rules->rule[i], order[i], errbuf, errlen) < 0)
            goto out;
    }
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

/* ------------------------------------------------------------- evaluate */

/* For the helpers of evaluate(): with two copies of it (see there) GCC no
 * longer inlines helpers it used to inline into the single caller, and the
 * calls cost router_classify() about 8% on tests/bench/router_bench. */
#define INLINE inline __attribute__((always_inline))

static INLINE bool str_matches(const char *want, const char *have)
{
    /* The first byte settles most mismatches (rules for other users and
     * schemas) without a call to strcmp(). */
    return want == NULL || (have && want[0] == have[0] && strcmp(want, have) == 0);
}

static INLINE bool addr_matches(const struct rule *r, const char *addr)
{
    if (r->client_addr == NULL || (r->client_addr_prefix && r->client_addr_len == 0))
        return true;
    /* A rule that names an address does not apply to a client without one
     * (ProxySQL lets it through; a firewall rule should not). */
    if (addr == NULL)
        return false;
    if (r->client_addr_prefix)
        return strncmp(r->client_addr, addr, r->client_addr_len) == 0;
    return strcmp(r->client_addr, addr) == 0;
}

/* PCRE2 errors (match or depth limits on a pathological pattern and query)
 * count as no match: the statement then goes where the other rules say. */
static INLINE bool regex_matches(const pcre2_code *re, bool jit, const char *s, size_t len,
                                 struct router_scratch *scratch)
{
    /* pcre2_jit_match() skips pcre2_match()'s option checks and dispatch
     * (about 10 ns a call, times tens of rules). rc 0 means the ovector was
     * too small for all groups: still a match. */
    if (jit)
        return pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, scratch->md, scratch->mctx) >= 0;
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, scratch->md, scratch->mctx) >= 0;
}

static INLINE bool prefix_matches(const struct rule *r, const char *s, size_t len)
{
    if (len < r->prefix_len)
        return false;
    if (!r->caseless)
        return memcmp(s, r->prefix, r->prefix_len) == 0;
    for (size_t i = 0; i < r->prefix_len; i++)
        if (fold(s[i]) != r->prefix[i])
            return false;
    return true;
}

static INLINE bool pattern_matches(const struct rule *r, const struct eval *ev,
                                   struct router_scratch *scratch)
{
    if (r->kind == MATCH_PREFIX)
        return prefix_matches(r, ev->text, ev->len);
    return regex_matches(r->match_pattern, r->pattern_jit, ev->text, ev->len, scratch);
}

/* ROUTER_EXPLAIN_MATCHED when r's digest and match_digest conditions hold,
 * else the reason r is skipped. */
static INLINE enum router_explain_outcome digest_check(const struct rule *r, struct eval *ev,
                                                       const char *sql, size_t len,
                                                       struct router_scratch *scratch)
{
    if (!ev->digest_done) {
        /* Of the original text, as in ProxySQL: a rewrite does not change
         * which digest the statement is accounted under. */
        size_t n = router_digest(sql, len, scratch->digest, sizeof(scratch->digest), ev->digest_max,
                                 &ev->digest);
        ev->digest_len = n < sizeof(scratch->digest) ? n : sizeof(scratch->digest) - 1;
        ev->digest_done = true;
    }
    if (r->has_digest && r->digest != ev->digest)
        return ROUTER_EXPLAIN_SKIP_DIGEST;
    if (r->match_digest && regex_matches(r->match_digest, r->digest_jit, scratch->digest,
                                         ev->digest_len, scratch) == r->negate)
        return r->negate ? ROUTER_EXPLAIN_SKIP_MATCH_DIGEST_NEG : ROUTER_EXPLAIN_SKIP_MATCH_DIGEST;
    return ROUTER_EXPLAIN_MATCHED;
}

/* Applies r's replace_pattern to the current text. pattern_matches() just
 * matched r on this text with scratch->md, so PCRE2_SUBSTITUTE_MATCHED
 * spares a second match. On overflow of the rewrite buffer the current text
 * stays (the other buffer holds it). */
static INLINE void rewrite(const struct rule *r, struct eval *ev, struct router_scratch *scratch)
{
    char *dst = scratch->rewrite[ev->next_buf];
    PCRE2_SIZE outlen = scratch->rewrite_cap + 1;
    uint32_t opts = PCRE2_SUBSTITUTE_MATCHED | (r->global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
    int rc = pcre2_substitute(r->match_pattern, (PCRE2_SPTR)ev->text, ev->len, 0, opts, scratch->md,
                              scratch->mctx, (PCRE2_SPTR)r->replacement, r->replacement_len,
                              (PCRE2_UCHAR *)dst, &outlen);
    if (rc <= 0)
        return;
    ev->text = dst;
    ev->len = outlen;
    ev->next_buf ^= 1;
    ev->rewritten = true;
}

static INLINE void take_actions(const struct rule *r, struct router_decision *out)
{
    out->rule_id = r->rule_id;
    if (r->destination_hostgroup >= 0)
        out->hostgroup = r->destination_hostgroup;
    if (r->cache_ttl >= 0)
        out->cache_ttl = r->cache_ttl;
    if (r->timeout >= 0)
        out->timeout_ms = r->timeout;
    if (r->retries >= 0)
        out->retries = r->retries;
    if (r->delay >= 0)
        out->delay_ms = r->delay;
    if (r->multiplex >= 0)
        out->multiplex = r->multiplex;
    if (r->error_msg)
        out->error_msg = r->error_msg;
    if (r->ok_msg)
        out->ok_msg = r->ok_msg;
}

/* router_explain()'s side of an evaluation; NULL for router_classify(). */
struct trace {
    void (*step)(void *arg, const struct router_explain_step *st);
    void *arg;
    size_t steps;
    uint64_t digest; /* of the query, computed before the first rule */
    const char *digest_text;
    size_t digest_text_len;
};

/* A step with no actions, the state after it and the digest. */
static void step_init(const struct trace *tr, enum router_explain_outcome outcome, int flag,
                      const struct eval *ev, struct router_explain_step *st)
{
    *st = (struct router_explain_step){
        .outcome = outcome,
        .index = tr->steps,
        .rule_id = -1,
        .flag_in = -1,
        .destination_hostgroup = -1,
        .flag_out = -1,
        .cache_ttl = -1,
        .timeout_ms = -1,
        .retries = -1,
        .delay_ms = -1,
        .multiplex = -1,
        .flag = flag,
        .text = ev->text,
        .text_len = ev->len,
        .digest = tr->digest,
        .digest_text = tr->digest_text,
        .digest_text_len = tr->digest_text_len,
    };
}

/* Reports that r was skipped, when explaining. Inlined: with tr NULL it is
 * nothing, so router_classify() pays for no call. */
static inline void skipped(struct trace *tr, const struct rule *r, enum router_explain_outcome why,
                           int flag, const struct eval *ev)
{
    struct router_explain_step st;

    if (tr == NULL)
        return;
    step_init(tr, why, flag, ev, &st);
    st.rule_id = r->rule_id;
    st.flag_in = r->flag_in;
    tr->steps++;
    tr->step(tr->arg, &st);
}

/* Which of the flag and session checks skipped r. */
static enum router_explain_outcome session_reason(const struct rule *r, int flag,
                                                  const struct router_facts *facts)
{
    if (r->flag_in != flag)
        return ROUTER_EXPLAIN_SKIP_FLAG;
    if (!str_matches(r->username, facts->user))
        return ROUTER_EXPLAIN_SKIP_USERNAME;
    if (!str_matches(r->schemaname, facts->schema))
        return ROUTER_EXPLAIN_SKIP_SCHEMANAME;
    return ROUTER_EXPLAIN_SKIP_CLIENT_ADDR;
}

static void report_match(struct trace *tr, const struct rule *r, int flag, const struct eval *ev,
                         bool rewritten, bool stops)
{
    struct router_explain_step st;

    step_init(tr, ROUTER_EXPLAIN_MATCHED, flag, ev, &st);
    st.rule_id = r->rule_id;
    st.flag_in = r->flag_in;
    st.destination_hostgroup = r->destination_hostgroup;
    st.flag_out = r->flag_out;
    st.apply = r->apply;
    st.stops = stops;
    st.rewritten = rewritten;
    st.error_msg = r->error_msg;
    st.ok_msg = r->ok_msg;
    st.cache_ttl = r->cache_ttl;
    st.timeout_ms = r->timeout;
    st.retries = r->retries;
    st.delay_ms = r->delay;
    st.multiplex = r->multiplex;
    tr->steps++;
    tr->step(tr->arg, &st);
}

/* The one evaluation loop of router_classify() (tr NULL) and
 * router_explain(). Forced inline so that each caller gets its own copy:
 * in router_classify()'s, tr is a constant NULL and every reporting branch
 * is compiled out, leaving the hot path as it was before explain existed.
 * Returns the final flag. */
static INLINE int evaluate(const struct router_rules *rules, struct router_scratch *scratch,
                           const struct router_facts *facts, const char *sql, size_t len,
                           struct eval *ev, struct router_decision *out, struct trace *tr)
{
    int flag = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const struct rule *r = &rules->rule[i];
        /* One condition, as before explain existed: the reason is worked
         * out again only when explaining. */
        if (r->flag_in != flag || !str_matches(r->username, facts->user) ||
            !str_matches(r->schemaname, facts->schema) || !addr_matches(r, facts->client_addr)) {
            if (tr)
                skipped(tr, r, session_reason(r, flag, facts), flag, ev);
            continue;
        }
        if (r->has_digest || r->match_digest) {
            enum router_explain_outcome why = digest_check(r, ev, sql, len, scratch);
            if (why != ROUTER_EXPLAIN_MATCHED) {
                skipped(tr, r, why, flag, ev);
                continue;
            }
        }
        bool matched = r->kind != MATCH_ANY && pattern_matches(r, ev, scratch);
        if (r->kind != MATCH_ANY && matched == r->negate) {
            skipped(tr, r,
                    r->negate ? ROUTER_EXPLAIN_SKIP_MATCH_PATTERN_NEG
                              : ROUTER_EXPLAIN_SKIP_MATCH_PATTERN,
                    flag, ev);
            continue;
        }
        /* The set is immutable but for its counters; the cast reaches the
         * atomic, which the rule set's allocation leaves writable. An
         * explanation is not traffic, so it does not count. */
        if (tr == NULL)
            atomic_fetch_add_explicit(&((struct rule *)r)->hits, 1, memory_order_relaxed);
        take_actions(r, out);
        const char *before = ev->text;
        /* A negated rule matched because its pattern did not: nothing to
         * replace, as in ProxySQL where Replace() then finds nothing. */
        if (r->replacement && matched)
            rewrite(r, ev, scratch);
        if (r->flag_out >= 0)
            flag = r->flag_out;
        bool stops = r->apply || r->error_msg;
        if (tr)
            report_match(tr, r, flag, ev, ev->text != before, stops);
        if (stops)
            break;
    }
    return flag;
}

static size_t digest_bound(const struct router_facts *facts)
{
    size_t max = facts ? facts->digest_max_len : 0;
    return max == 0 || max > ROUTER_RULES_DIGEST_MAX ? ROUTER_RULES_DIGEST_MAX : max;
}

static void decision_init(const struct router_facts *facts, struct router_decision *out)
{
    out->hostgroup = facts->default_hostgroup;
    out->digest = 0;
    out->rule_id = -1;
    out->error_msg = NULL;
    out->ok_msg = NULL;
    out->rewritten = NULL;
    out->rewritten_len = 0;
    out->cache_ttl = -1;
    out->timeout_ms = -1;
    out->retries = -1;
    out->delay_ms = -1;
    out->multiplex = -1;
}

static void decision_finish(const struct eval *ev, struct router_decision *out)
{
    if (ev->rewritten) {
        out->rewritten = ev->text;
        out->rewritten_len = ev->len;
    }
    if (ev->digest_done)
        out->digest = ev->digest;
    out->stmt_flags = router_stmt_flags(ev->text, ev->len);
}

/* The decision's pointers into rules (error_msg, ok_msg) live as long as the
 * rule set; rewritten lives in scratch until its next router_classify(). */
int router_classify(const struct router_rules *rules, struct router_scratch *scratch,
                    const struct router_facts *facts, const char *sql, size_t len,
                    struct router_decision *out)
{
    struct eval ev = {
        .text = sql ? sql : "", .len = sql ? len : 0, .digest_max = digest_bound(facts)};

    decision_init(facts, out);
    if (rules && rules->n > 0) {
        assert(scratch != NULL);
        (void)evaluate(rules, scratch, facts, ev.text, ev.len, &ev, out, NULL);
    }
    decision_finish(&ev, out);
    return 0;
}

/* ------------------------------------------------------------- explain */

const char *router_explain_outcome_str(enum router_explain_outcome outcome)
{
    switch (outcome) {
    case ROUTER_EXPLAIN_SKIP_FLAG:
        return "skipped: flagIN";
    case ROUTER_EXPLAIN_SKIP_USERNAME:
        return "skipped: username";
    case ROUTER_EXPLAIN_SKIP_SCHEMANAME:
        return "skipped: schemaname";
    case ROUTER_EXPLAIN_SKIP_CLIENT_ADDR:
        return "skipped: client_addr";
    case ROUTER_EXPLAIN_SKIP_DIGEST:
        return "skipped: digest";
    case ROUTER_EXPLAIN_SKIP_MATCH_DIGEST:
        return "skipped: match_digest";
    case ROUTER_EXPLAIN_SKIP_MATCH_DIGEST_NEG:
        return "skipped: match_digest (negated)";
    case ROUTER_EXPLAIN_SKIP_MATCH_PATTERN:
        return "skipped: match_pattern";
    case ROUTER_EXPLAIN_SKIP_MATCH_PATTERN_NEG:
        return "skipped: match_pattern (negated)";
    case ROUTER_EXPLAIN_MATCHED:
        return "matched";
    case ROUTER_EXPLAIN_DECISION:
        return "decision";
    }
    return "?";
}

int router_explain(const struct router_rules *rules, struct router_scratch *scratch,
                   const struct router_facts *facts, const char *sql, size_t len,
                   void (*step)(void *arg, const struct router_explain_step *st), void *arg,
                   struct router_decision *out)
{
    struct eval ev = {
        .text = sql ? sql : "", .len = sql ? len : 0, .digest_max = digest_bound(facts)};
    struct trace tr = {.step = step, .arg = arg};
    struct router_explain_step st;

    if (step == NULL || scratch == NULL)
        return -1;
    /* Digested up front for the report, into the buffer digest_check()
     * uses; ev.digest_done stays false so that it digests again (the same
     * bytes) only if a rule consults the digest, and out->digest keeps
     * router_classify()'s meaning. */
    size_t n = router_digest(ev.text, ev.len, scratch->digest, sizeof(scratch->digest),
                             ev.digest_max, &tr.digest);
    tr.digest_text = scratch->digest;
    tr.digest_text_len = n < sizeof(scratch->digest) ? n : sizeof(scratch->digest) - 1;

    decision_init(facts, out);
    int flag = 0;
    if (rules && rules->n > 0)
        flag = evaluate(rules, scratch, facts, ev.text, ev.len, &ev, out, &tr);
    decision_finish(&ev, out);

    step_init(&tr, ROUTER_EXPLAIN_DECISION, flag, &ev, &st);
    st.destination_hostgroup = out->hostgroup;
    st.rewritten = ev.rewritten;
    st.error_msg = out->error_msg;
    st.ok_msg = out->ok_msg;
    st.cache_ttl = out->cache_ttl;
    st.timeout_ms = out->timeout_ms;
    st.retries = out->retries;
    st.delay_ms = out->delay_ms;
    st.multiplex = out->multiplex;
    step(arg, &st);
    return 0;
}
