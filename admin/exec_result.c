/*
 * Building the struct admin_result of an admin statement (exec.c): an OK, an
 * ERROR with MySQL's error number and SQLSTATE, or a result set of text cells
 * (NULL for SQL NULL), all malloc'd and freed by admin_result_free(). A
 * builder that fails leaves an ERROR result and returns its code, so a
 * handler only passes the code on.
 *
 * Warnings of a statement travel in res->warnings (ADMIN_MAX_WARNINGS kept,
 * all counted). SHOW WARNINGS answers those of the previous statement of the
 * same string, while the caller keeps them across strings per session
 * (admin_is_show_warnings, admin_warnings_result).
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void clear_rows(struct admin_result *res)
{
    for (size_t r = 0; r < res->nrows; r++) {
        for (size_t c = 0; c < res->ncols; c++)
            free(res->rows[r][c]);
        free(res->rows[r]);
    }
    free(res->rows);
    for (size_t c = 0; c < res->ncols; c++)
        free(res->col_names[c]);
    free(res->col_names);
    res->rows = NULL;
    res->col_names = NULL;
    res->nrows = res->ncols = res->rows_cap = 0;
}

/* Resets res for the next statement; a snapshot loaded by an earlier one is
 * kept, since its runtime_* rows are already written. Warnings are the last
 * statement's, as in MySQL. */
void admin_result_reset(struct admin_result *res)
{
    struct admin_config *keep = res->new_runtime;
    unsigned actions = res->actions;

    clear_rows(res);
    free(res->warnings);
    memset(res, 0, sizeof(*res));
    res->new_runtime = keep;
    res->actions = actions;
}

void admin_result_free(struct admin_result *res)
{
    if (!res)
        return;
    clear_rows(res);
    free(res->warnings);
    admin_config_unref(res->new_runtime);
    memset(res, 0, sizeof(*res));
}

int admin_exec_fail(struct admin_exec *ex, uint16_t code, const char *sqlstate, const char *fmt,
                    ...)
{
    struct admin_result *res = ex->res;
    va_list ap;

    clear_rows(res);
    res->kind = ADMIN_RES_ERROR;
    res->err_code = code;
    snprintf(res->err_sqlstate, sizeof(res->err_sqlstate), "%s", sqlstate);
    va_start(ap, fmt);
    vsnprintf(res->err_msg, sizeof(res->err_msg), fmt, ap);
    va_end(ap);
    return ADMIN_ESQL;
}

int admin_exec_oom(struct admin_exec *ex)
{
    admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "out of memory");
    return ADMIN_ENOMEM;
}

int admin_exec_ok(struct admin_exec *ex, uint64_t affected)
{
    clear_rows(ex->res);
    ex->res->kind = ADMIN_RES_OK;
    ex->res->affected_rows = affected;
    return 0;
}

char *admin_dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Starts a result set with these column names. */
int admin_exec_columns(struct admin_exec *ex, size_t n, const char *const *names)
{
    struct admin_result *res = ex->res;

    clear_rows(res);
    res->kind = ADMIN_RES_ROWS;
    res->col_names = calloc(n ? n : 1, sizeof(*res->col_names));
    if (!res->col_names)
        return admin_exec_oom(ex);
    for (size_t c = 0; c < n; c++) {
        res->col_names[c] = strdup(names[c] ? names[c] : "");
        /* Counted as it goes so a failure frees what was made. */
        if (!res->col_names[c])
            return admin_exec_oom(ex);
        res->ncols = c + 1;
    }
    return 0;
}

/* Appends an empty row (all NULL) and returns it, or NULL on OOM. */
char **admin_result_new_row(struct admin_result *res)
{
    char **row;

    if (res->nrows == res->rows_cap) {
        size_t cap = res->rows_cap ? res->rows_cap * 2 : 16;
        char ***rows = realloc(res->rows, cap * sizeof(*rows));

        if (!rows)
            return NULL;
        res->rows = rows;
        res->rows_cap = cap;
    }
    row = calloc(res->ncols ? res->ncols : 1, sizeof(*row));
    if (row)
        res->rows[res->nrows++] = row;
    return row;
}

/* Appends a row of NUL-terminated values (NULL: SQL NULL). */
int admin_exec_add_row(struct admin_exec *ex, const char *const *values)
{
    char **row = admin_result_new_row(ex->res);

    if (!row)
        return admin_exec_oom(ex);
    for (size_t c = 0; c < ex->res->ncols; c++)
        if (values[c] && !(row[c] = strdup(values[c])))
            return admin_exec_oom(ex);
    return 0;
}

void admin_result_warn(struct admin_result *res, uint16_t code, const char *fmt, ...)
{
    struct admin_warning *w;
    va_list ap;

    if (!res)
        return;
    if (res->n_warnings < ADMIN_MAX_WARNINGS) {
        /* Allocated whole at the first warning: the bound is small. */
        if (!res->warnings)
            res->warnings = calloc(ADMIN_MAX_WARNINGS, sizeof(*res->warnings));
        if (res->warnings) {
            w = &res->warnings[res->n_warnings];
            w->code = code;
            va_start(ap, fmt);
            vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
            va_end(ap);
        }
    }
    res->n_warnings++;
}

bool admin_is_show_warnings(const char *sql, size_t len)
{
    static const char *const words[] = {"SHOW", "WARNINGS"};
    const char *p = sql, *end = sql + len;

    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(words[i]);

        while (p < end && isspace((unsigned char)*p))
            p++;
        if ((size_t)(end - p) < n || strncasecmp(p, words[i], n) != 0)
            return false;
        p += n;
        if (p < end && !isspace((unsigned char)*p) && *p != ';')
            return false;
    }
    while (p < end && (isspace((unsigned char)*p) || *p == ';'))
        p++;
    return p == end;
}

static int warning_rows(struct admin_exec *ex, const struct admin_warning *w, size_t n)
{
    static const char *const names[] = {"Level", "Code", "Message"};
    char code[8];
    int rc;

    rc = admin_exec_columns(ex, 3, names);
    for (size_t i = 0; rc == 0 && w && i < n && i < ADMIN_MAX_WARNINGS; i++) {
        const char *row[] = {"Warning", code, w[i].msg};

        snprintf(code, sizeof(code), "%u", (unsigned)w[i].code);
        rc = admin_exec_add_row(ex, row);
    }
    return rc;
}

int admin_warnings_result(const struct admin_warning *w, size_t n, struct admin_result *res)
{
    struct admin_exec ex = {.res = res};

    if (!res)
        return ADMIN_EINVAL;
    memset(res, 0, sizeof(*res));
    return warning_rows(&ex, w, n);
}

/* The warnings of the previous statement of the same string; a session's
 * earlier strings are the caller's (admin_is_show_warnings). As in MySQL,
 * they stay the current warnings afterwards. */
int admin_cmd_show_warnings(struct admin_exec *ex, const struct admin_args *a)
{
    int rc;

    (void)a;
    rc = warning_rows(ex, ex->prev_warnings, ex->n_prev_warnings);
    if (rc == 0) {
        ex->res->warnings = ex->prev_warnings;
        ex->res->n_warnings = ex->n_prev_warnings;
        ex->prev_warnings = NULL;
        ex->n_prev_warnings = 0;
    }
    return rc;
}
