/*
 * mysql_query_rules -> a compiled router rule set in the snapshot.
 *
 * Rows are read into router_rule_spec entries whose strings live in one
 * scratch arena for the duration of the compile (router_rules_compile
 * copies what it keeps). Nullable integer columns map to -1, as the router
 * header defines. A bad regex fails the whole load with the router's
 * message, which names the rule_id, the column and PCRE2's offset.
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* %s: the table prefix of the layer read (MEMORY or RUNTIME). */
static const char rules_sql[] =
    "SELECT rule_id, active, username, schemaname, flagIN, client_addr, digest, match_digest,"
    " match_pattern, negate_match_pattern, re_modifiers, flagOUT, replace_pattern,"
    " destination_hostgroup, cache_ttl, timeout, retries, delay, error_msg, OK_msg,"
    " multiplex, apply, log, comment FROM %smysql_query_rules WHERE active = 1 ORDER BY rule_id";

struct arena {
    char **strs;
    size_t n, cap;
};

static const char *keep(struct arena *a, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **ns = realloc(a->strs, cap * sizeof(*ns));
        if (!ns)
            return NULL;
        a->strs = ns;
        a->cap = cap;
    }
    char *copy = strdup((const char *)t);
    if (!copy)
        return NULL;
    a->strs[a->n++] = copy;
    return copy;
}

static int int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int(st, col);
}

int admin_load_rules(sqlite3 *db, const char *prefix, struct admin_config *cfg, char *errbuf,
                     size_t errlen)
{
    char sql[sizeof(rules_sql) + 32];

    sqlite3_stmt *st = NULL;
    struct router_rule_spec *specs = NULL;
    size_t n = 0, cap = 0;
    struct arena arena = {0};
    int rc = ADMIN_ESQL;

    snprintf(sql, sizeof(sql), rules_sql, prefix);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot read mysql_query_rules: %s", sqlite3_errmsg(db));
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct router_rule_spec *ns = realloc(specs, ncap * sizeof(*ns));
            if (!ns) {
                rc = ADMIN_ENOMEM;
                admin_set_error(errbuf, errlen, "out of memory reading mysql_query_rules");
                goto out;
            }
            specs = ns;
            cap = ncap;
        }
        struct router_rule_spec *r = &specs[n++];
        memset(r, 0, sizeof(*r));
        r->rule_id = sqlite3_column_int(st, 0);
        r->active = sqlite3_column_int(st, 1) != 0;
        r->username = keep(&arena, st, 2);
        r->schemaname = keep(&arena, st, 3);
        r->flag_in = sqlite3_column_int(st, 4);
        r->client_addr = keep(&arena, st, 5);
        r->digest = keep(&arena, st, 6);
        r->match_digest = keep(&arena, st, 7);
        r->match_pattern = keep(&arena, st, 8);
        r->negate_match_pattern = sqlite3_column_int(st, 9) != 0;
        r->re_modifiers = keep(&arena, st, 10);
        r->flag_out = int_or_null(st, 11);
        r->replace_pattern = keep(&arena, st, 12);
        r->destination_hostgroup = int_or_null(st, 13);
        r->cache_ttl = int_or_null(st, 14);
        r->timeout = int_or_null(st, 15);
        r->retries = int_or_null(st, 16);
        r->delay = int_or_null(st, 17);
        r->error_msg = keep(&arena, st, 18);
        r->ok_msg = keep(&arena, st, 19);
        r->multiplex = int_or_null(st, 20);
        r->apply = sqlite3_column_int(st, 21) != 0;
        r->log = int_or_null(st, 22);
        r->comment = keep(&arena, st, 23);
    }
    if (step != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "cannot read mysql_query_rules: %s", sqlite3_errmsg(db));
        goto out;
    }
    char msg[512] = "";
    if (router_rules_compile(specs, n, &cfg->rules, msg, sizeof(msg)) != 0) {
        admin_set_error(errbuf, errlen, "mysql_query_rules: %s", msg);
        rc = ADMIN_EINVAL;
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    for (size_t i = 0; i < arena.n; i++)
        free(arena.strs[i]);
    free(arena.strs);
    free(specs);
    return rc;
}
