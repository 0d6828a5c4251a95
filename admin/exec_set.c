/*
 * SET on the admin interface. Two kinds of SET reach it:
 *   - ProxySQL's shorthand for a global variable, SET mysql-<name> = <value>
 *     or SET admin-<name> = <value> (value quoted or not). It writes MEMORY's
 *     global_variables row exactly as UPDATE global_variables would, after
 *     checking the value with the parser LOAD ... TO RUNTIME uses
 *     (admin_global_check), so a typo is refused now rather than at the next
 *     LOAD. LOAD MYSQL|ADMIN VARIABLES TO RUNTIME then applies it.
 *   - what client libraries send on connect (SET NAMES, SET autocommit,
 *     SET SESSION ..., SET @@..., SET character_set_results...): the admin
 *     session has no such state, so these answer OK and do nothing.
 * A name with one of the global prefixes that Sluice does not know is an
 * error naming the closest known variable (edit distance): answering OK
 * would let an operator believe a setting changed. ProxySQL 2.x names the
 * monitor's variables mysql-monitor_*; it has no monitor- prefix, so
 * SET monitor-<x> is refused with the mysql-monitor_<x> spelling to use.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The prefixes of global variables, as SET names them. */
static const char *const global_prefixes[] = {"mysql-", "admin-", "monitor-"};

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && strncasecmp(s, prefix, n) == 0;
}

static bool is_global_name(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(global_prefixes) / sizeof(global_prefixes[0]); i++)
        if (has_prefix(s, len, global_prefixes[i]))
            return true;
    return false;
}

/* Reads a quoted value at *pp (quote q): a doubled quote or a backslash
 * escapes the next character, as MySQL reads literals. */
static int read_quoted(const char **pp, const char *end, char *out, size_t outlen)
{
    const char *p = *pp;
    char q = *p++;
    size_t n = 0;

    for (;;) {
        if (p == end)
            return ADMIN_EINVAL; /* unterminated */
        if (*p == q && !(p + 1 < end && p[1] == q))
            break;
        if (*p == q || (*p == '\\' && p + 1 < end))
            p++;
        if (n + 1 >= outlen)
            return ADMIN_EINVAL;
        out[n++] = *p++;
    }
    out[n] = '\0';
    *pp = p + 1;
    return 0;
}

/* Reads the variable's name at *pp: backquoted, or up to a blank or '='. */
static int read_name(const char **pp, const char *end, char *out, size_t outlen)
{
    const char *p = *pp, *s;
    size_t n;

    if (p < end && *p == '`')
        return read_quoted(pp, end, out, outlen);
    for (s = p; p < end && !isspace((unsigned char)*p) && *p != '=' && *p != ':'; p++)
        ;
    n = (size_t)(p - s);
    if (n == 0 || n >= outlen)
        return ADMIN_EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    *pp = p;
    return 0;
}

/* The value after '=': quoted, or one unquoted word; nothing may follow. */
static int read_value(const char *p, const char *end, char *out, size_t outlen)
{
    const char *s;
    size_t n;

    if (p < end && (*p == '\'' || *p == '"')) {
        if (read_quoted(&p, end, out, outlen) != 0)
            return ADMIN_EINVAL;
    } else {
        for (s = p; p < end && !isspace((unsigned char)*p); p++)
            ;
        n = (size_t)(p - s);
        if (n == 0 || n >= outlen)
            return ADMIN_EINVAL;
        memcpy(out, s, n);
        out[n] = '\0';
    }
    /* Several assignments, or a value with blanks left unquoted. */
    return admin_skip_space(p, end) == end ? 0 : ADMIN_EINVAL;
}

int admin_set_parse(const char *sql, size_t len, struct admin_set *out)
{
    const char *end = sql + len, *p = admin_skip_space(sql, end);

    memset(out, 0, sizeof(*out));
    if ((size_t)(end - p) < 4 || strncasecmp(p, "SET", 3) != 0 || !isspace((unsigned char)p[3]))
        return ADMIN_EINVAL;
    p = admin_skip_space(p + 3, end);
    /* A backquoted name is compared without its quotes. */
    if (!is_global_name(p + (p < end && *p == '`'), (size_t)(end - p) - (p < end && *p == '`'))) {
        out->kind = ADMIN_SET_SESSION;
        return 0;
    }
    out->kind = ADMIN_SET_GLOBAL;
    if (read_name(&p, end, out->name, sizeof(out->name)) != 0)
        return ADMIN_EINVAL;
    p = admin_skip_space(p, end);
    if (p < end && *p == ':')
        p++; /* MySQL's := */
    if (p == end || *p != '=')
        return ADMIN_EINVAL;
    return read_value(admin_skip_space(p + 1, end), end, out->value, sizeof(out->value));
}

size_t admin_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof(*row));
    size_t d;

    if (!row)
        return la > lb ? la : lb;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    /* Levenshtein with one row: row[j] is the distance of a[0..i) to
     * b[0..j); diag keeps the value of the previous row's j-1. */
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;

            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    d = row[lb];
    free(row);
    return d;
}

const char *admin_global_closest(const char *name)
{
    const char *best = NULL, *v;
    size_t best_d = (size_t)-1;

    for (size_t i = 0; (v = admin_global_at(i)) != NULL; i++) {
        size_t d = admin_edit_distance(name, v);

        if (d < best_d) {
            best_d = d;
            best = v;
        }
    }
    return best;
}

const char *admin_global_known(const char *name)
{
    const char *v;

    for (size_t i = 0; (v = admin_global_at(i)) != NULL; i++)
        if (strcasecmp(name, v) == 0)
            return v;
    return NULL;
}

/* SET monitor-<x>: ProxySQL has no such prefix; say what it is called. */
static int monitor_prefix(struct admin_exec *ex, const char *name)
{
    char want[96];
    const char *known;

    snprintf(want, sizeof(want), "mysql-monitor_%.80s", name + strlen("monitor-"));
    known = admin_global_known(want);
    return admin_exec_fail(ex, ER_UNKNOWN_SYSTEM_VARIABLE, "HY000",
                           "Unknown system variable '%.64s': the monitor's variables are named "
                           "mysql-monitor_* (as in ProxySQL); did you mean '%s'?",
                           name, known ? known : admin_global_closest(want));
}

/* Writes the row as UPDATE global_variables would; a row an operator
 * deleted comes back. */
static int write_row(struct admin_exec *ex, const char *name, const char *value)
{
    sqlite3 *db = ex->store->db;
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO main.global_variables"
                           " (variable_name, variable_value) VALUES (?1, ?2)",
                           -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE)
        rc = admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "SET: %s",
                             admin_safe_sqlite_msg(sqlite3_errmsg(db)));
    else
        rc = admin_exec_ok(ex, 1);
    sqlite3_finalize(stmt);
    return rc;
}

int admin_cmd_set(struct admin_exec *ex, const struct admin_args *a)
{
    struct admin_set set;
    char err[sizeof(ex->res->err_msg)];
    const char *name;
    int rc;

    (void)a;
    if (admin_set_parse(ex->stmt->start, (size_t)(ex->stmt->end - ex->stmt->start), &set) != 0)
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000",
                               "You have an error in your SQL syntax: use SET <variable> = "
                               "<value>, one variable per SET, the value quoted if it has blanks");
    if (set.kind == ADMIN_SET_SESSION)
        return admin_exec_ok(ex, 0);
    if (has_prefix(set.name, strlen(set.name), "monitor-"))
        return monitor_prefix(ex, set.name);
    name = admin_global_known(set.name);
    if (!name)
        return admin_exec_fail(ex, ER_UNKNOWN_SYSTEM_VARIABLE, "HY000",
                               "Unknown system variable '%.64s'; did you mean '%s'?", set.name,
                               admin_global_closest(set.name));
    rc = admin_global_check(name, set.value, err, sizeof(err));
    if (rc == ADMIN_ENOMEM)
        rc = admin_exec_oom(ex);
    else if (rc != 0)
        rc = admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "SET: %s", err);
    else
        rc = write_row(ex, name, set.value);
    /* The value may be a password (mysql-monitor_password). */
    memset(set.value, 0, sizeof(set.value));
    return rc;
}
