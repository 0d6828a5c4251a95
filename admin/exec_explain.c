/*
 * EXPLAIN QUERY RULES [FROM MEMORY|RUNTIME] FOR '<query>' [USER '<user>']
 * [SCHEMA '<schema>'] [CLIENT '<address>'] shows how the rules would route a
 * query without running it (router_explain()). Literals are MySQL's: ' or
 * ", the quote doubled or backslash-escaped inside. The rules are the
 * runtime snapshot's, or with FROM MEMORY those in mysql_query_rules now,
 * compiled for this statement (a compile error is the answer). The session
 * facts are what a client of USER would have: the runtime's mysql_users
 * default_hostgroup (0 without USER or for an unknown user) and, without
 * SCHEMA, its default_schema; no CLIENT is a client without an address (a
 * unix socket). One row per rule considered, in evaluation order:
 *   step                   1, 2, ...
 *   rule_id, flag_in       the rule's
 *   outcome                'matched', or 'skipped: <why>' with why one of
 *                          flagIN, username, schemaname, client_addr,
 *                          digest, match_digest, match_pattern (did not
 *                          match) or match_digest (negated), match_pattern
 *                          (negated) (matched, but negate_match_pattern)
 *   destination_hostgroup, apply, flag_out, error_msg, OK_msg
 *                          a matched rule's actions (NULL where it has none;
 *                          all NULL for a skipped rule)
 *   text_after             the text after a matched rule that rewrote it
 *   digest, digest_text    NULL
 * then a last row: step n+1, rule_id and flag_in NULL, outcome 'decision',
 * destination_hostgroup where the query goes, flag_out the final flag,
 * text_after the text it would run as, error_msg and OK_msg the decision's,
 * digest the query's as 0x and 16 hex digits and digest_text its digest
 * text. Hit counters do not move.
 *
 * The statement is delimited with MySQL's backslash escapes (exec.c), so a
 * query copied from an application with \' in it stays one literal.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* As proxy/worker.c's scratch, so that a rewrite that would overflow there
 * overflows here too. */
#define EXPLAIN_REWRITE_CAP 65536

static const char explain_usage[] =
    "You have an error in your SQL syntax: use EXPLAIN QUERY RULES [FROM MEMORY|RUNTIME] "
    "FOR '<query>' [USER '<user>'] [SCHEMA '<schema>'] [CLIENT '<address>']";

/* What the statement asks; the strings are malloc'd (NULL: not given). */
struct explain_req {
    bool from_memory;
    char *query;
    size_t query_len;
    char *user;
    char *schema;
    char *client;
};

/* Consumes keyword kw (case-insensitive, a whole word) at *p. */
static bool take_keyword(const char **p, const char *end, const char *kw)
{
    const char *s = admin_skip_space(*p, end);
    size_t n = strlen(kw);

    if ((size_t)(end - s) < n || strncasecmp(s, kw, n) != 0 ||
        (s + n < end && (isalnum((unsigned char)s[n]) || s[n] == '_')))
        return false;
    *p = s + n;
    return true;
}

/* MySQL's backslash escapes in string literals; \% and \_ keep their
 * backslash, as in MySQL (they only mean something to LIKE). */
static size_t unescape(char c, char *out)
{
    static const char from[] = "ntrbZ", to[] = "\n\t\r\b\x1a";
    const char *f = strchr(from, c);

    if (c == '%' || c == '_') {
        out[0] = '\\';
        out[1] = c;
        return 2;
    }
    out[0] = f && c ? to[f - from] : c;
    return 1;
}

/* Decodes the quoted literal at *p ('...' or "...", the quote doubled or
 * backslash-escaped inside) into a malloc'd string. False on a missing or
 * unterminated literal, a \0 escape (the admin protocol and the result
 * cells are NUL-terminated) or no memory (*oom set). */
static bool take_literal(const char **p, const char *end, char **out, size_t *outlen, bool *oom)
{
    const char *s = admin_skip_space(*p, end);
    char q, *buf;
    size_t n = 0;

    if (s == end || (*s != '\'' && *s != '"'))
        return false;
    q = *s++;
    /* The decoded text is never longer than the literal. */
    buf = malloc((size_t)(end - s) + 1);
    if (!buf) {
        *oom = true;
        return false;
    }
    for (; s < end; s++) {
        if (*s == '\\' && s + 1 < end) {
            if (*++s == '0')
                break;
            n += unescape(*s, buf + n);
        } else if (*s != q) {
            buf[n++] = *s;
        } else if (s + 1 < end && s[1] == q) {
            buf[n++] = *s++;
        } else {
            buf[n] = '\0';
            *out = buf;
            *outlen = n;
            *p = s + 1;
            return true;
        }
    }
    free(buf);
    return false;
}

static void explain_req_free(struct explain_req *req)
{
    free(req->query);
    free(req->user);
    free(req->schema);
    free(req->client);
}

/* Parses what follows EXPLAIN QUERY RULES; USER, SCHEMA and CLIENT come in
 * any order, each at most once. Returns 0, or a result already failed. */
static int parse_explain(struct admin_exec *ex, const struct admin_word *rest,
                         struct explain_req *req)
{
    const char *p = rest->p, *end;
    bool oom = false;

    /* Bare EXPLAIN QUERY RULES: no rest (NULL), and NULL + 0 is undefined. */
    if (!p)
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    end = p + rest->len;
    if (take_keyword(&p, end, "FROM")) {
        if (take_keyword(&p, end, "MEMORY") || take_keyword(&p, end, "MEM"))
            req->from_memory = true;
        else if (!take_keyword(&p, end, "RUNTIME") && !take_keyword(&p, end, "RUN"))
            return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    }
    if (!take_keyword(&p, end, "FOR") || !take_literal(&p, end, &req->query, &req->query_len, &oom))
        return oom ? admin_exec_oom(ex)
                   : admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    while (admin_skip_space(p, end) < end) {
        char **slot = NULL;
        size_t unused;

        if (take_keyword(&p, end, "USER"))
            slot = &req->user;
        else if (take_keyword(&p, end, "SCHEMA"))
            slot = &req->schema;
        else if (take_keyword(&p, end, "CLIENT"))
            slot = &req->client;
        if (!slot || *slot || !take_literal(&p, end, slot, &unused, &oom))
            return oom ? admin_exec_oom(ex)
                       : admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    }
    return 0;
}

/* The result set router_explain()'s steps are written into. */
struct explain_out {
    struct admin_exec *ex;
    int rc; /* the first failure; later steps are ignored */
};

enum {
    EX_STEP,
    EX_RULE_ID,
    EX_FLAG_IN,
    EX_OUTCOME,
    EX_HOSTGROUP,
    EX_APPLY,
    EX_FLAG_OUT,
    EX_TEXT_AFTER,
    EX_ERROR_MSG,
    EX_OK_MSG,
    EX_DIGEST,
    EX_DIGEST_TEXT,
    EX_CACHE_TTL,
    EX_TIMEOUT,
    EX_RETRIES,
    EX_DELAY,
    EX_MULTIPLEX,
    EX_NCOLS,
};

static const char *const explain_cols[EX_NCOLS] = {
    [EX_STEP] = "step",
    [EX_RULE_ID] = "rule_id",
    [EX_FLAG_IN] = "flag_in",
    [EX_OUTCOME] = "outcome",
    [EX_HOSTGROUP] = "destination_hostgroup",
    [EX_APPLY] = "apply",
    [EX_FLAG_OUT] = "flag_out",
    [EX_TEXT_AFTER] = "text_after",
    [EX_ERROR_MSG] = "error_msg",
    [EX_OK_MSG] = "OK_msg",
    [EX_DIGEST] = "digest",
    [EX_DIGEST_TEXT] = "digest_text",
    [EX_CACHE_TTL] = "cache_ttl",
    [EX_TIMEOUT] = "timeout",
    [EX_RETRIES] = "retries",
    [EX_DELAY] = "delay",
    [EX_MULTIPLEX] = "multiplex",
};

/* Sets a cell to n bytes of s (NULL: leaves SQL NULL). False on OOM. */
static bool put(char **row, int col, const char *s, size_t n)
{
    return !s || (row[col] = admin_dup_n(s, n)) != NULL;
}

static bool put_str(char **row, int col, const char *s)
{
    return put(row, col, s, s ? strlen(s) : 0);
}

/* An integer cell; negative values are the router's "none", SQL NULL. */
static bool put_int(char **row, int col, long long v, bool null_if_negative)
{
    char buf[24];

    if (null_if_negative && v < 0)
        return true;
    snprintf(buf, sizeof(buf), "%lld", v);
    return put_str(row, col, buf);
}

static void explain_step(void *arg, const struct router_explain_step *st)
{
    struct explain_out *o = arg;
    bool final = st->outcome == ROUTER_EXPLAIN_DECISION;
    bool matched =
        st->outcome == ROUTER_EXPLAIN_MATCHED || st->outcome == ROUTER_EXPLAIN_FAIL_CLOSED;
    char **row, hex[24];
    bool ok;

    if (o->rc != 0)
        return;
    row = admin_result_new_row(o->ex->res);
    if (!row) {
        o->rc = admin_exec_oom(o->ex);
        return;
    }
    ok = put_int(row, EX_STEP, (long long)st->index + 1, false) &&
         put_str(row, EX_OUTCOME, router_explain_outcome_str(st->outcome));
    if (!final)
        ok = ok && put_int(row, EX_RULE_ID, st->rule_id, false) &&
             put_int(row, EX_FLAG_IN, st->flag_in, false);
    if (matched)
        ok = ok && put_int(row, EX_HOSTGROUP, st->destination_hostgroup, true) &&
             put_int(row, EX_APPLY, st->apply, false) &&
             put_int(row, EX_FLAG_OUT, st->flag_out, true);
    /* The final row always shows the text the query would run as; a rule
     * row only when that rule changed it. */
    if (matched || final)
        ok = ok &&
             put(row, EX_TEXT_AFTER, st->rewritten || final ? st->text : NULL, st->text_len) &&
             put_str(row, EX_ERROR_MSG, st->error_msg) && put_str(row, EX_OK_MSG, st->ok_msg) &&
             put_int(row, EX_CACHE_TTL, st->cache_ttl, true) &&
             put_int(row, EX_TIMEOUT, st->timeout_ms, true) &&
             put_int(row, EX_RETRIES, st->retries, true) &&
             put_int(row, EX_DELAY, st->delay_ms, true) &&
             put_int(row, EX_MULTIPLEX, st->multiplex, true);
    if (final) {
        /* ProxySQL's spelling of a digest, as in stats_mysql_query_digest. */
        snprintf(hex, sizeof(hex), "0x%016" PRIX64, st->digest);
        ok = ok && put_int(row, EX_HOSTGROUP, st->destination_hostgroup, false) &&
             put_int(row, EX_FLAG_OUT, st->flag, false) && put_str(row, EX_DIGEST, hex) &&
             put(row, EX_DIGEST_TEXT, st->digest_text, st->digest_text_len);
    }
    if (!ok)
        o->rc = admin_exec_oom(o->ex);
}

/* The rules to explain with: the runtime snapshot's (borrowed), or MEMORY's
 * compiled now into *own, which the caller frees. */
static int explain_rules(struct admin_exec *ex, bool from_memory, const struct router_rules **rules,
                         struct router_rules **own)
{
    struct admin_config tmp = {0};
    char err[sizeof(ex->res->err_msg) - 16];
    int rc;

    *own = NULL;
    if (!from_memory) {
        *rules = ex->runtime ? ex->runtime->rules : NULL;
        return 0;
    }
    /* admin_load_rules() only sets tmp.rules; nothing else of a snapshot
     * is needed to compile. */
    rc = admin_load_rules(ex->store->db, "main.", &tmp, err, sizeof(err));
    if (rc == ADMIN_ENOMEM)
        return admin_exec_oom(ex);
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "EXPLAIN: %s", err);
        return rc;
    }
    *rules = *own = tmp.rules;
    return 0;
}

int admin_cmd_explain(struct admin_exec *ex, const struct admin_args *a)
{
    struct explain_req req = {0};
    struct explain_out o = {.ex = ex};
    const struct router_rules *rules = NULL;
    struct router_rules *own = NULL;
    struct router_scratch *scratch = NULL;
    struct router_decision d;
    int rc;

    rc = parse_explain(ex, &a->rest, &req);
    if (rc == 0)
        rc = explain_rules(ex, req.from_memory, &rules, &own);
    if (rc != 0)
        goto out;
    /* The session facts a client of this user would have: the runtime's
     * default_hostgroup and, without SCHEMA, its default_schema, as
     * proxy/session.c sets them at login. */
    const struct admin_user *u =
        req.user ? admin_config_user(ex->runtime, req.user, strlen(req.user)) : NULL;
    struct router_facts facts = {
        .user = req.user,
        .schema = req.schema ? req.schema
                  : u        ? u->default_schema
                             : "",
        .client_addr = req.client,
        .default_hostgroup = u ? u->default_hostgroup : 0,
    };
    /* One per call: admin is not on the hot path, and a scratch kept in the
     * store would only save a few allocations per EXPLAIN. */
    scratch = router_scratch_new(EXPLAIN_REWRITE_CAP);
    if (!scratch) {
        rc = admin_exec_oom(ex);
        goto out;
    }
    rc = admin_exec_columns(ex, EX_NCOLS, explain_cols);
    if (rc == 0 &&
        router_explain(rules, scratch, &facts, req.query, req.query_len, explain_step, &o, &d) != 0)
        rc = admin_exec_oom(ex); /* only with a NULL scratch or callback: not here */
    if (rc == 0)
        rc = o.rc;
out:
    router_scratch_free(scratch);
    router_rules_free(own);
    explain_req_free(&req);
    return rc;
}
