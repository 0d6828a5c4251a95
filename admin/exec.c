/*
 * The admin SQL interface: admin_execute() runs what an operator types into
 * the mariadb client connected to the admin port, and describes the outcome
 * in a struct admin_result for proxy/ to encode.
 *
 * The input may hold several statements. Each one, in order:
 *   1. is delimited: up to the next ';' outside quotes and comments;
 *   2. is cut into words and matched against the command table below
 *      (pgbouncer's src/admin.c style: pattern -> handler). Pattern words
 *      match case-insensitively; "?" takes one word as an argument and "X*"
 *      a word starting with X plus the rest of the statement. LOAD and SAVE go
 *      on to a second pair of tables, modules x directions, that name the
 *      layer copy to run;
 *   3. anything else goes to SQLite as it is (SQLite finds its own end), with
 *      an authorizer that keeps runtime_* and the stats tables read-only and
 *      the admin tables in place, and notes which stats tables the statement
 *      reads: those are refilled (stats_tables.c) after the prepare and
 *      before the first step. Its rows are copied into the result as text.
 * The first error stops the string; otherwise the last statement's result
 * is returned, as ProxySQL does.
 *
 * The handlers live by subject: exec_show.c (SHOW, USE, SELECT @@variable),
 * exec_set.c (SET), exec_proxysql.c (SHOW MYSQL STATUS|VARIABLES, PROXYSQL
 * PAUSE|RESUME|FLUSH), exec_layers.c (LOAD, SAVE, versions), exec_explain.c
 * (EXPLAIN QUERY RULES), exec_sql.c (plain SQL), exec_result.c (building
 * results, SHOW WARNINGS); the authorizer is sandbox.c's.
 *
 * Error numbers follow MySQL: 1064/42000 for syntax and unknown commands,
 * 1105/HY000 for SQLite and validation errors (the message starts with the
 * statement's first keyword, or names the command), 1227/42000 "Access
 * denied; ..." for what would leave SQLite (ATTACH, VACUUM, load_extension()
 * and the other refusals of sandbox.c). Messages quote user text
 * only through admin_excerpt(), which stops at the first quote, and SQLite's
 * own messages through admin_safe_sqlite_msg(): a literal may be a password.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The command table, tried in order before a statement goes to SQLite. */
static const struct command {
    const char *pattern;
    int (*run)(struct admin_exec *ex, const struct admin_args *a);
} commands[] = {
    {"SELECT @@*", admin_cmd_sysvars},
    {"SHOW DATABASES", admin_cmd_show_databases},
    {"SHOW SCHEMAS", admin_cmd_show_databases},
    {"SHOW TABLES", admin_cmd_show_tables},
    {"SHOW TABLES FROM ?", admin_cmd_show_tables},
    {"SHOW TABLES IN ?", admin_cmd_show_tables},
    {"SHOW CREATE TABLE ?", admin_cmd_show_create},
    {"SET *", admin_cmd_set},
    {"USE ?", admin_cmd_use},
    {"START TRANSACTION", admin_cmd_begin},
    {"LOAD *", admin_cmd_layer},
    {"SAVE *", admin_cmd_layer},
    {"EXPLAIN QUERY RULES *", admin_cmd_explain},
    {"SHOW CONFIG VERSIONS *", admin_cmd_versions},
    {"ROLLBACK MYSQL*", admin_cmd_versions},
    {"ROLLBACK ADMIN*", admin_cmd_versions},
    {"DIFF *", admin_cmd_versions},
    {"SHOW WARNINGS", admin_cmd_show_warnings},
    {"SHOW MYSQL STATUS", admin_cmd_show_mysql},
    {"SHOW MYSQL VARIABLES", admin_cmd_show_mysql},
    {"PROXYSQL *", admin_cmd_proxysql},
};

/* Statement splitting and matching. */

const char *admin_skip_space(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Returns the ';' that ends the statement at p, or its terminating NUL.
 * With backslash, a backslash inside '...' and "..." escapes the next
 * character, as MySQL reads literals; SQL for SQLite is split without it,
 * since SQLite does not. */
static const char *stmt_end(const char *p, bool backslash)
{
    while (*p && *p != ';') {
        if (*p == '\'' || *p == '"' || *p == '`') {
            char q = *p++;

            /* A doubled quote stays inside the literal: both are skipped. */
            while (*p && *p != q) {
                if (backslash && q != '`' && *p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");

            p = e ? e + 2 : p + strlen(p);
        } else {
            p++;
        }
    }
    return p;
}

static void split_words(struct admin_stmt *st)
{
    const char *p = st->start;

    st->n = 0;
    st->overflow = false;
    for (;;) {
        const char *s;

        while (p < st->end && isspace((unsigned char)*p))
            p++;
        if (p == st->end)
            return;
        for (s = p; p < st->end && !isspace((unsigned char)*p); p++)
            ;
        if (st->n == ADMIN_MAX_WORDS) {
            st->overflow = true;
            return;
        }
        st->w[st->n++] = (struct admin_word){s, (size_t)(p - s)};
    }
}

/* Whether the words of the space-separated phrase start the text at p
 * (case-insensitive; any blanks between words). */
static bool starts_with(const char *p, const char *phrase)
{
    while (*phrase) {
        size_t n = strcspn(phrase, " ");

        if (strncasecmp(p, phrase, n) != 0 || (p[n] && !isspace((unsigned char)p[n])))
            return false;
        p += n;
        phrase += n;
        while (isspace((unsigned char)*p))
            p++;
        while (*phrase == ' ')
            phrase++;
    }
    return true;
}

bool admin_stmt_match(const char *pattern, const struct admin_stmt *st, struct admin_args *a)
{
    const char *p = pattern;
    size_t i = 0;

    memset(a, 0, sizeof(*a));
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t plen = sp ? (size_t)(sp - p) : strlen(p);

        if (i == st->n)
            return plen == 1 && *p == '*' && !sp;
        if (p[plen - 1] == '*') {
            /* "X*": this word starts with X; capture it and the rest. */
            if (st->w[i].len < plen - 1 || strncasecmp(st->w[i].p, p, plen - 1) != 0)
                return false;
            a->rest = (struct admin_word){st->w[i].p, (size_t)(st->end - st->w[i].p)};
            return true;
        }
        if (plen == 1 && *p == '?') {
            if (a->n == ADMIN_MAX_ARGS)
                return false;
            a->arg[a->n++] = st->w[i];
        } else if (st->w[i].len != plen || strncasecmp(st->w[i].p, p, plen) != 0) {
            return false;
        }
        i++;
        p = sp ? sp + 1 : p + plen;
    }
    return i == st->n && !st->overflow;
}

void admin_stmt_split(const char *p, struct admin_stmt *st)
{
    st->start = p;
    /* The query in EXPLAIN QUERY RULES is a MySQL literal (the operator
     * copies it from an application), so there a \' does not end it. */
    st->end = stmt_end(p, starts_with(p, "EXPLAIN QUERY RULES"));
    split_words(st);
}

/* Runs the statement at p; *next receives where the following one starts. */
static int run_statement(struct admin_exec *ex, const char *p, const char **next)
{
    struct admin_stmt st;
    struct admin_args a;

    admin_stmt_split(p, &st);
    ex->stmt = &st;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (admin_stmt_match(commands[i].pattern, &st, &a)) {
            *next = *st.end ? st.end + 1 : st.end;
            return commands[i].run(ex, &a);
        }
    }
    *next = NULL;
    /* p points into admin_execute()'s own copy of the input, so it may be
     * edited: ProxySQL's stats.<t> and monitor.<t> become main.<t>. */
    admin_schema_rewrite((char *)p, st.end);
    return admin_exec_sql(ex, p, next);
}

int admin_execute(struct admin_store *store, const struct admin_config *runtime, const char *sql,
                  size_t len, struct admin_result *res)
{
    struct admin_exec ex = {.store = store, .runtime = runtime, .res = res};
    char *buf = NULL;
    const char *p, *next;
    bool ran = false;
    int rc;

    if (!res)
        return ADMIN_EINVAL;
    memset(res, 0, sizeof(*res));
    if (!store || !store->db || (!sql && len))
        return admin_exec_fail(&ex, ER_UNKNOWN_ERROR, "HY000", "no admin store");
    /* SQLite would stop at a NUL and silently run only the first part. */
    if (len && memchr(sql, '\0', len))
        return admin_exec_fail(&ex, ER_PARSE_ERROR, "42000", "statement contains a NUL byte");
    buf = admin_dup_n(len ? sql : "", len);
    if (!buf)
        return admin_exec_oom(&ex);
    rc = admin_exec_functions(&ex);
    for (p = buf; rc == 0 && *(p = admin_skip_blank(p));) {
        if (*p == ';') {
            p++; /* an empty statement between two ';' */
            continue;
        }
        free(ex.prev_warnings);
        ex.prev_warnings = res->warnings;
        ex.n_prev_warnings = res->n_warnings;
        res->warnings = NULL;
        res->n_warnings = 0;
        admin_result_reset(res);
        ran = true;
        rc = run_statement(&ex, p, &next);
        if (!next || next == p)
            break;
        p = next;
    }
    if (rc == 0 && !ran)
        rc = admin_exec_fail(&ex, ER_EMPTY_QUERY, "42000", "Query was empty");
    free(ex.prev_warnings);
    free(buf);
    return rc;
}
