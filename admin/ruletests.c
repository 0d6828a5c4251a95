/*
 * Checks of a candidate configuration at LOAD ... TO RUNTIME, before
 * anything is copied (admin_rule_checks, called by admin_layer_to_runtime):
 *
 *   rule tests  the active rows of mysql_query_rules_tests, each run through
 *               router_classify() with the candidate's compiled rules and the
 *               session facts the proxy would give a client of that user
 *               (mysql_users' default_hostgroup and default_schema). A
 *               failing test refuses the LOAD, unless FORCE: then every
 *               failure is a warning.
 *   lint        warnings only, never a refusal: a rule routing to a
 *               hostgroup without servers (also at LOAD MYSQL SERVERS), a
 *               rule that can never match because an earlier rule with
 *               apply=1 matches whatever it would, and replace_pattern
 *               without match_pattern.
 *
 * The shadowing lint is deliberately conservative: it only reports what is
 * certain under the router's evaluation (ascending rule_id, a rule considered
 * only when the current flag equals its flagIN, apply=1 ending evaluation).
 * Rule A shadows a later rule B when A stops evaluation (apply=1 or an
 * error_msg), has no negation, the same
 * flagIN, and each of A's filters (username, schemaname, client_addr, digest,
 * match_digest, match_pattern with re_modifiers) is absent or equal to B's;
 * and no rule between them could let a query reach B without meeting A in
 * the same state: none sets flagOUT to B's flagIN, and, if A looks at the
 * text, none rewrites it.
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As the proxy's per-worker scratch (exec_explain.c's EXPLAIN uses the same). */
#define TEST_REWRITE_CAP 65536
#define WARN_CODE 1105

/* The columns of a rule the lint reads. Strings are malloc'd or NULL. */
struct lint_rule {
    int rule_id;
    char *username, *schemaname, *client_addr, *digest, *match_digest, *match_pattern;
    char *re_modifiers, *replace_pattern;
    bool has_error_msg;
    int flag_in, flag_out, destination_hostgroup; /* -1: NULL */
    bool negate, apply;
};

static char *col_dup(sqlite3_stmt *st, int col, bool *oom)
{
    const unsigned char *t;
    char *d;

    if (sqlite3_column_type(st, col) == SQLITE_NULL || !(t = sqlite3_column_text(st, col)))
        return NULL;
    d = strdup((const char *)t);
    if (!d)
        *oom = true;
    return d;
}

static int col_int(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int(st, col);
}

static void rules_free(struct lint_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].username);
        free(r[i].schemaname);
        free(r[i].client_addr);
        free(r[i].digest);
        free(r[i].match_digest);
        free(r[i].match_pattern);
        free(r[i].re_modifiers);
        free(r[i].replace_pattern);
    }
    free(r);
}

static int read_rules(sqlite3 *db, const char *prefix, struct lint_rule **out, size_t *nout,
                      char *errbuf, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    struct lint_rule *r = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    char *sql;
    int step = SQLITE_ERROR;

    sql = sqlite3_mprintf(
        "SELECT rule_id, username, schemaname, client_addr, digest,"
        " match_digest, match_pattern, re_modifiers, replace_pattern, flagIN,"
        " flagOUT, destination_hostgroup, negate_match_pattern, apply,"
        " error_msg IS NOT NULL FROM %smysql_query_rules WHERE active = 1 ORDER BY rule_id",
        prefix);
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        while (!oom && (step = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                struct lint_rule *nr = realloc(r, (cap ? cap * 2 : 16) * sizeof(*nr));

                if (!nr) {
                    oom = true;
                    break;
                }
                r = nr;
                cap = cap ? cap * 2 : 16;
            }
            struct lint_rule *x = &r[n++];

            *x = (struct lint_rule){
                .rule_id = sqlite3_column_int(st, 0),
                .username = col_dup(st, 1, &oom),
                .schemaname = col_dup(st, 2, &oom),
                .client_addr = col_dup(st, 3, &oom),
                .digest = col_dup(st, 4, &oom),
                .match_digest = col_dup(st, 5, &oom),
                .match_pattern = col_dup(st, 6, &oom),
                .re_modifiers = col_dup(st, 7, &oom),
                .replace_pattern = col_dup(st, 8, &oom),
                .flag_in = col_int(st, 9),
                .flag_out = col_int(st, 10),
                .destination_hostgroup = col_int(st, 11),
                .negate = sqlite3_column_int(st, 12) != 0,
                .apply = sqlite3_column_int(st, 13) != 0,
                .has_error_msg = sqlite3_column_int(st, 14) != 0,
            };
        }
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    if (oom || !sql || step != SQLITE_DONE) {
        rules_free(r, n);
        admin_set_error(errbuf, errlen, "lint: cannot read mysql_query_rules: %s",
                        oom || !sql ? "out of memory" : sqlite3_errmsg(db));
        return oom || !sql ? ADMIN_ENOMEM : ADMIN_ESQL;
    }
    *out = r;
    *nout = n;
    return 0;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A's filter is absent or equal to B's. */
static bool covers(const char *a, const char *b)
{
    return !a || same(a, b);
}

static bool shadows(const struct lint_rule *r, size_t a, size_t b)
{
    const struct lint_rule *A = &r[a], *B = &r[b];
    bool looks_at_text = A->digest || A->match_digest || A->match_pattern;

    /* error_msg ends evaluation as apply does (router/rules.c). */
    if (!(A->apply || A->has_error_msg) || A->negate || A->flag_in != B->flag_in || B->negate)
        return false;
    if (!covers(A->username, B->username) || !covers(A->schemaname, B->schemaname) ||
        !covers(A->client_addr, B->client_addr) || !covers(A->digest, B->digest) ||
        !covers(A->match_digest, B->match_digest) || !covers(A->match_pattern, B->match_pattern))
        return false;
    if ((A->match_digest || A->match_pattern) && !same(A->re_modifiers, B->re_modifiers))
        return false;
    for (size_t k = a + 1; k < b; k++) {
        if (r[k].flag_out >= 0 && r[k].flag_out == B->flag_in)
            return false;
        if (looks_at_text && r[k].replace_pattern)
            return false;
    }
    return true;
}

static bool hostgroup_has_servers(const struct admin_config *cfg, int hg)
{
    for (size_t i = 0; i < cfg->n_servers; i++)
        if (cfg->servers[i].hostgroup == hg)
            return true;
    return false;
}

/* The monitor moves servers between a writer and a reader hostgroup by
 * read_only, so either is fine while the pair has a server. */
static bool hostgroup_may_have_servers(const struct admin_config *cfg, int hg)
{
    if (hostgroup_has_servers(cfg, hg))
        return true;
    for (size_t i = 0; i < cfg->n_repl_hostgroups; i++) {
        const struct admin_repl_hostgroup *p = &cfg->repl_hostgroups[i];

        if ((p->writer_hostgroup == hg || p->reader_hostgroup == hg) &&
            (hostgroup_has_servers(cfg, p->writer_hostgroup) ||
             hostgroup_has_servers(cfg, p->reader_hostgroup)))
            return true;
    }
    return false;
}

static int lint(sqlite3 *db, unsigned mods, const struct admin_config *cfg,
                struct admin_result *res, char *errbuf, size_t errlen)
{
    bool rules_loaded = mods & ADMIN_MOD_RULES;
    struct lint_rule *r = NULL;
    size_t n = 0;
    int rc;

    rc = read_rules(db, rules_loaded ? "main." : "main.runtime_", &r, &n, errbuf, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (r[i].destination_hostgroup >= 0 &&
            !hostgroup_may_have_servers(cfg, r[i].destination_hostgroup))
            admin_result_warn(res, WARN_CODE,
                              "rule %d: destination_hostgroup %d has no server in mysql_servers",
                              r[i].rule_id, r[i].destination_hostgroup);
        if (!rules_loaded)
            continue;
        if (r[i].replace_pattern && (!r[i].match_pattern || !r[i].match_pattern[0]))
            admin_result_warn(res, WARN_CODE,
                              "rule %d: replace_pattern without match_pattern rewrites nothing",
                              r[i].rule_id);
        for (size_t a = 0; a < i; a++) {
            if (shadows(r, a, i)) {
                admin_result_warn(res, WARN_CODE,
                                  "rule %d can never match: rule %d (%s) matches every "
                                  "query it would",
                                  r[i].rule_id, r[a].rule_id, r[a].apply ? "apply=1" : "error_msg");
                break;
            }
        }
    }
    rules_free(r, n);
    return 0;
}

/* Appends to buf (NUL-terminated, size len) without overflowing. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt,
                                                         ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Runs one test; on failure writes why into why and returns false. */
static bool run_test(const struct admin_config *cfg, struct router_scratch *scratch,
                     sqlite3_stmt *st, char *why, size_t whylen)
{
    const char *user = (const char *)sqlite3_column_text(st, 1);
    const char *schema = (const char *)sqlite3_column_text(st, 2);
    const char *query = (const char *)sqlite3_column_text(st, 3);
    size_t qlen = (size_t)sqlite3_column_bytes(st, 3);
    const char *want_err = (const char *)sqlite3_column_text(st, 5);
    bool any_hg = sqlite3_column_type(st, 4) == SQLITE_NULL;
    int want_hg = sqlite3_column_int(st, 4);
    const struct admin_user *u = user ? admin_config_user(cfg, user, strlen(user)) : NULL;
    struct router_decision d;

    why[0] = '\0';
    if (user && !u) {
        snprintf(why, whylen, "user '%.64s' is not in mysql_users", user);
        return false;
    }
    /* What proxy/session.c gives a client of this user at login. */
    struct router_facts facts = {
        .user = user ? user : "",
        .schema = schema ? schema
                  : u    ? u->default_schema
                         : "",
        .default_hostgroup = u ? u->default_hostgroup : 0,
    };
    router_classify(cfg->rules, scratch, &facts, query ? query : "", query ? qlen : 0, &d);
    if (!any_hg && d.hostgroup != want_hg)
        snprintf(why, whylen, "expected hostgroup %d, got %d", want_hg, d.hostgroup);
    else if (want_err && (!d.error_msg || !strstr(d.error_msg, want_err)))
        snprintf(why, whylen, "expected an error containing '%.64s', got %s%.64s%s", want_err,
                 d.error_msg ? "error '" : "no error", d.error_msg ? d.error_msg : "",
                 d.error_msg ? "'" : "");
    else if (!want_err && d.error_msg)
        snprintf(why, whylen, "expected no error, got error '%.64s'", d.error_msg);
    return why[0] == '\0';
}

static int rule_tests(sqlite3 *db, unsigned flags, const struct admin_config *cfg,
                      struct admin_result *res, char *errbuf, size_t errlen)
{
    struct router_scratch *scratch = router_scratch_new(TEST_REWRITE_CAP);
    sqlite3_stmt *st = NULL;
    char why[256], list[512] = "";
    int failed = 0, total = 0, step = SQLITE_ERROR, rc = 0;

    if (!scratch) {
        admin_set_error(errbuf, errlen, "rule tests: out of memory");
        return ADMIN_ENOMEM;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT test_id, username, schemaname, query, expected_hostgroup,"
                           " expected_error FROM main.mysql_query_rules_tests WHERE active = 1"
                           " ORDER BY test_id",
                           -1, &st, NULL) == SQLITE_OK) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            total++;
            if (run_test(cfg, scratch, st, why, sizeof(why)))
                continue;
            failed++;
            /* The query is quoted only in part: enough to recognise it. */
            admin_result_warn(res, WARN_CODE, "rule test %d failed (%.80s): %s",
                              sqlite3_column_int(st, 0), sqlite3_column_text(st, 3), why);
            append(list, sizeof(list), "%stest %d (%.40s): %s", failed > 1 ? "; " : "",
                   sqlite3_column_int(st, 0), sqlite3_column_text(st, 3), why);
        }
    }
    if (step != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "rule tests: cannot read mysql_query_rules_tests: %s",
                        sqlite3_errmsg(db));
        rc = ADMIN_ESQL;
    } else if (failed && !(flags & ADMIN_LOAD_FORCE)) {
        admin_set_error(errbuf, errlen,
                        "LOAD MYSQL QUERY RULES TO RUNTIME refused: %d of %d rule tests "
                        "failed (SHOW WARNINGS lists them; add FORCE to load anyway): %s",
                        failed, total, list);
        rc = ADMIN_EINVAL;
    }
    sqlite3_finalize(st);
    router_scratch_free(scratch);
    return rc;
}

int admin_rule_checks(sqlite3 *db, unsigned mods, unsigned flags, const struct admin_config *cfg,
                      struct admin_result *res, char *errbuf, size_t errlen)
{
    int rc = 0;

    if (mods & ADMIN_MOD_RULES)
        rc = rule_tests(db, flags, cfg, res, errbuf, errlen);
    if (rc == 0 && (mods & (ADMIN_MOD_RULES | ADMIN_MOD_SERVERS)))
        rc = lint(db, mods, cfg, res, errbuf, errlen);
    return rc;
}
