/*
 * Rule sets: ProxySQL's mysql_query_rules compiled once into an immutable
 * array that any number of workers evaluate at the same time, each with its
 * own struct router_scratch. rules_compile.c builds the array.
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
 * Failing closed: a rule whose outcome cannot be established must never let
 * through a statement that an error_msg rule would stop. Outcomes are unsure
 * when PCRE2 fails at match time (match, depth or heap limit, JIT stack), or
 * when the subject is only a prefix of the statement: the digest text of a
 * statement longer than the digest bound, or the text when the caller says
 * it passed only a prefix (facts->text_cut). On a prefix a guarded rule is
 * matched with PCRE2_PARTIAL_HARD: a complete match holds for any
 * continuation, and so does NOMATCH of a pattern anchored at the start (one
 * that is not may match in the cut-off rest); PARTIAL means the rest
 * decides. So "^DROP" still lets a long INSERT through, while an unanchored
 * "secret_table" cannot clear a statement it has not seen whole. A cut
 * digest is first trimmed back to a token boundary, since its last token may
 * be normalized differently in the whole text. Guarded rules are those with an error_msg
 * and those whose match can lead to one (a flag_out chain, or a rewrite that
 * later error_msg rules see); compile marks them. An unsure outcome on a
 * guarded rule ends evaluation with an error: the rule's error_msg, or
 * ROUTER_UNCHECKED_MSG for a chain or rewrite rule. Elsewhere an unsure
 * outcome counts as no match, as before: the statement goes where the other
 * rules say, and no error_msg rule is skipped because of it. A rewrite that
 * fails (PCRE2 error, or the result does not fit the scratch) with an
 * error_msg rule after it fails closed too.
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
#include "router/rules_int.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

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
    bool digest_cut;   /* the digest text covers only a prefix of the statement */
    bool text_cut;     /* the text is only a prefix of the statement (facts) */
    bool unsure;       /* a guarded rule could not be checked: the decision fails closed */
};

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

/* Outcomes of a pattern test. */
enum match_result {
    M_NO,     /* does not match */
    M_YES,    /* matches */
    M_UNSURE, /* PCRE2 failed, or the cut-off rest of the subject decides */
};

/* Tests a pattern on a prefix s of the real subject (the file's header).
 * pcre2_match() runs the interpreter for PCRE2_PARTIAL_HARD when the JIT
 * code was compiled for complete matches only. */
static enum match_result cut_match(const pcre2_code *re, bool anchored, const char *s, size_t len,
                                   struct router_scratch *scratch)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, PCRE2_PARTIAL_HARD, scratch->md, scratch->mctx);
    if (rc >= 0)
        return M_YES;
    /* Anchored and at least one byte looked at: no path reached the end. */
    return rc == PCRE2_ERROR_NOMATCH && anchored && len > 0 ? M_NO : M_UNSURE;
}

/* Tests re on s; with cut, s is only a prefix of the subject. */
static INLINE enum match_result regex_match(const pcre2_code *re, bool jit, bool anchored,
                                            const char *s, size_t len, bool cut,
                                            struct router_scratch *scratch)
{
    int rc;
    /* pcre2_jit_match() skips pcre2_match()'s option checks and dispatch
     * (about 10 ns a call, times tens of rules). rc 0 means the ovector was
     * too small for all groups: still a match. */
    if (cut)
        return cut_match(re, anchored, s, len, scratch);
    if (jit)
        rc = pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, scratch->md, scratch->mctx);
    else
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, scratch->md, scratch->mctx);
    if (rc >= 0)
        return M_YES;
    return rc == PCRE2_ERROR_NOMATCH ? M_NO : M_UNSURE;
}

static INLINE bool prefix_matches(const struct rule *r, const char *s, size_t len)
{
    if (len < r->prefix_len)
        return false;
    if (!r->caseless)
        return memcmp(s, r->prefix, r->prefix_len) == 0;
    for (size_t i = 0; i < r->prefix_len; i++)
        if (rules_fold(s[i]) != r->prefix[i])
            return false;
    return true;
}

/* A cut text shorter than the literal: unsure unless the bytes it has
 * already differ. */
static enum match_result cut_prefix_match(const struct rule *r, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((r->caseless ? rules_fold(s[i]) : s[i]) != r->prefix[i])
            return M_NO;
    return M_UNSURE;
}

static INLINE enum match_result pattern_match(const struct rule *r, const struct eval *ev,
                                              struct router_scratch *scratch)
{
    bool cut = ev->text_cut && r->guard;
    if (r->kind == MATCH_PREFIX) {
        if (cut && ev->len < r->prefix_len)
            return cut_prefix_match(r, ev->text, ev->len);
        return prefix_matches(r, ev->text, ev->len) ? M_YES : M_NO;
    }
    return regex_match(r->match_pattern, r->pattern_jit, r->pattern_anchored, ev->text, ev->len,
                       cut, scratch);
}

/* The part of a cut digest text that the whole statement's digest surely
 * starts with: up to the separator before its last token, which the cut may
 * have shortened or normalized differently ("SEL" for "SELECT", a sign that
 * a number would have absorbed). */
static size_t whole_tokens(const char *d, size_t n)
{
    if (n > 0)
        n--;
    while (n > 0 && d[n - 1] != ' ' && d[n - 1] != ',' && d[n - 1] != '(')
        n--;
    return n;
}

/* ROUTER_EXPLAIN_MATCHED when r's digest and match_digest conditions hold,
 * ROUTER_EXPLAIN_FAIL_CLOSED when a guarded rule's match_digest cannot tell,
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
        ev->digest_cut = ev->text_cut || len > ev->digest_max || n >= sizeof(scratch->digest);
        ev->digest_done = true;
    }
    /* The hash is not unsure on a cut statement: it is the one
     * stats_mysql_query_digest shows for it, which is what such a rule
     * names. */
    if (r->has_digest && r->digest != ev->digest)
        return ROUTER_EXPLAIN_SKIP_DIGEST;
    if (r->match_digest) {
        bool cut = ev->digest_cut && r->guard;
        size_t n = cut ? whole_tokens(scratch->digest, ev->digest_len) : ev->digest_len;
        enum match_result m = regex_match(r->match_digest, r->digest_jit, r->digest_anchored,
                                          scratch->digest, n, cut, scratch);
        if (m == M_UNSURE && r->guard)
            return ROUTER_EXPLAIN_FAIL_CLOSED;
        if ((m == M_YES) == r->negate)
            return r->negate ? ROUTER_EXPLAIN_SKIP_MATCH_DIGEST_NEG
                             : ROUTER_EXPLAIN_SKIP_MATCH_DIGEST;
    }
    return ROUTER_EXPLAIN_MATCHED;
}

/* Applies r's replace_pattern to the current text. pattern_matches() just
 * matched r on this text with scratch->md, so PCRE2_SUBSTITUTE_MATCHED
 * spares a second match. On failure (overflow of the rewrite buffer) the
 * current text stays (the other buffer holds it) and false is returned. */
static INLINE bool rewrite(const struct rule *r, struct eval *ev, struct router_scratch *scratch)
{
    char *dst = scratch->rewrite[ev->next_buf];
    PCRE2_SIZE outlen = scratch->rewrite_cap + 1;
    uint32_t opts = PCRE2_SUBSTITUTE_MATCHED | (r->global ? PCRE2_SUBSTITUTE_GLOBAL : 0);
    int rc = pcre2_substitute(r->match_pattern, (PCRE2_SPTR)ev->text, ev->len, 0, opts, scratch->md,
                              scratch->mctx, (PCRE2_SPTR)r->replacement, r->replacement_len,
                              (PCRE2_UCHAR *)dst, &outlen);
    if (rc < 0)
        return false;
    if (rc == 0)
        return true;
    ev->text = dst;
    ev->len = outlen;
    ev->next_buf ^= 1;
    ev->rewritten = true;
    return true;
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

/* Ends evaluation on r with an error because its outcome is unsure (the
 * file's header). count: r's hit is not counted yet. */
static void fail_closed(const struct rule *r, int flag, struct eval *ev,
                        struct router_decision *out, struct trace *tr, bool count)
{
    if (tr == NULL && count)
        atomic_fetch_add_explicit(&((struct rule *)r)->hits, 1, memory_order_relaxed);
    out->rule_id = r->rule_id;
    out->error_msg = r->error_msg ? r->error_msg : ROUTER_UNCHECKED_MSG;
    ev->unsure = true;
    if (tr) {
        struct router_explain_step st;
        step_init(tr, ROUTER_EXPLAIN_FAIL_CLOSED, flag, ev, &st);
        st.rule_id = r->rule_id;
        st.flag_in = r->flag_in;
        st.stops = true;
        st.error_msg = out->error_msg;
        tr->steps++;
        tr->step(tr->arg, &st);
    }
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
            if (why == ROUTER_EXPLAIN_FAIL_CLOSED) {
                fail_closed(r, flag, ev, out, tr, true);
                break;
            }
            if (why != ROUTER_EXPLAIN_MATCHED) {
                skipped(tr, r, why, flag, ev);
                continue;
            }
        }
        enum match_result m = r->kind == MATCH_ANY ? M_NO : pattern_match(r, ev, scratch);
        if (m == M_UNSURE && r->guard) {
            fail_closed(r, flag, ev, out, tr, true);
            break;
        }
        bool matched = m == M_YES;
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
        if (r->replacement && matched && !rewrite(r, ev, scratch) && r->block_after) {
            /* The error_msg rules after it would judge a text the rule
             * meant to change. */
            fail_closed(r, flag, ev, out, tr, false);
            break;
        }
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
    out->unchecked = ev->unsure;
    out->stmt_flags = router_stmt_flags(ev->text, ev->len);
}

/* The decision's pointers into rules (error_msg, ok_msg) live as long as the
 * rule set; rewritten lives in scratch until its next router_classify(). */
int router_classify(const struct router_rules *rules, struct router_scratch *scratch,
                    const struct router_facts *facts, const char *sql, size_t len,
                    struct router_decision *out)
{
    struct eval ev = {.text = sql ? sql : "",
                      .len = sql ? len : 0,
                      .digest_max = digest_bound(facts),
                      .text_cut = facts->text_cut};

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
    case ROUTER_EXPLAIN_FAIL_CLOSED:
        return "failed closed: could not be checked";
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
    struct eval ev = {.text = sql ? sql : "",
                      .len = sql ? len : 0,
                      .digest_max = digest_bound(facts),
                      .text_cut = facts->text_cut};
    struct trace tr = {.step = step, .arg = arg};
    struct router_explain_step st;

    if (step == NULL || scratch == NULL)
        return ROUTER_EARG;
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
