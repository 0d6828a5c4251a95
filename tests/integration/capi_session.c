/*
 * capi_client's "session" check: the arguments after it are steps run in order on one
 * connection, each printing one line "rN: RESULT" (N counts from 1) for the test to judge:
 *
 *   q:SQL          text query
 *   prep:NAME=SQL  mysql_stmt_prepare of SQL under NAME ("prepared" or the error)
 *   exec:NAME      mysql_stmt_execute of NAME
 *   close:NAME     mysql_stmt_close of NAME
 *
 * RESULT is the first column of the first row ("NULL", "(no rows)"), "OK N" (N affected
 * rows) for a statement without a result set, or "ERR CODE SQLSTATE MESSAGE". Errors do
 * not end the check; only a malformed step does.
 */
#include "capi_client.h"

#include <stdio.h>
#include <string.h>

static char **g_steps;
static int g_nsteps;

void capi_session_steps(char **steps, int n)
{
    g_steps = steps;
    g_nsteps = n;
}

#define MAX_NAMED 16
static struct {
    char name[32];
    MYSQL_STMT *st;
} g_named[MAX_NAMED];

static MYSQL_STMT **named(const char *name, size_t len, int create)
{
    int i, free_slot = -1;
    for (i = 0; i < MAX_NAMED; i++) {
        if (g_named[i].st && strlen(g_named[i].name) == len &&
            memcmp(g_named[i].name, name, len) == 0)
            return &g_named[i].st;
        if (!g_named[i].st && free_slot < 0)
            free_slot = i;
    }
    CHECK(create && free_slot >= 0 && len < sizeof g_named[0].name, "statement '%.*s'", (int)len,
          name);
    snprintf(g_named[free_slot].name, sizeof g_named[0].name, "%.*s", (int)len, name);
    return &g_named[free_slot].st;
}

static void step_query(MYSQL *m, int n, const char *sql)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    if (mysql_query(m, sql)) {
        printf("r%d: ERR %u %s %s\n", n, mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
        return;
    }
    r = mysql_store_result(m);
    if (!r) {
        printf("r%d: OK %llu\n", n, (unsigned long long)mysql_affected_rows(m));
    } else {
        row = mysql_fetch_row(r);
        printf("r%d: %s\n", n, !row ? "(no rows)" : row[0] ? row[0] : "NULL");
        mysql_free_result(r);
    }
    while (mysql_more_results(m) && mysql_next_result(m) == 0)
        if ((r = mysql_store_result(m)))
            mysql_free_result(r);
}

static void step_prepare(MYSQL *m, int n, const char *arg)
{
    const char *eq = strchr(arg, '=');
    MYSQL_STMT **sp;
    CHECK(eq, "step %d: prep:NAME=SQL expected", n);
    sp = named(arg, (size_t)(eq - arg), 1);
    CHECK(!*sp, "step %d: statement already prepared", n);
    *sp = mysql_stmt_init(m);
    CHECK(*sp, "mysql_stmt_init failed");
    if (mysql_stmt_prepare(*sp, eq + 1, strlen(eq + 1))) {
        printf("r%d: ERR %u %s %s\n", n, mysql_stmt_errno(*sp), mysql_stmt_sqlstate(*sp),
               mysql_stmt_error(*sp));
        mysql_stmt_close(*sp);
        *sp = NULL;
        return;
    }
    printf("r%d: prepared\n", n);
}

/* Executes st and prints the first column of its first row; every column is bound as a
 * string. */
static void step_execute(MYSQL_STMT *st, int n)
{
    char bufs[8][256];
    unsigned long lens[8];
    my_bool nulls[8];
    MYSQL_BIND b[8];
    unsigned i, cols;
    int rc;
    if (mysql_stmt_execute(st)) {
        printf("r%d: ERR %u %s %s\n", n, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
               mysql_stmt_error(st));
        return;
    }
    cols = mysql_stmt_field_count(st);
    if (cols == 0) {
        printf("r%d: OK %llu\n", n, (unsigned long long)mysql_stmt_affected_rows(st));
        return;
    }
    CHECK(cols <= 8, "step %d: %u columns", n, cols);
    memset(b, 0, sizeof b);
    for (i = 0; i < cols; i++) {
        b[i].buffer_type = MYSQL_TYPE_STRING;
        b[i].buffer = bufs[i];
        b[i].buffer_length = sizeof bufs[i] - 1;
        b[i].length = &lens[i];
        b[i].is_null = &nulls[i];
    }
    CHECK(mysql_stmt_bind_result(st, b) == 0, "step %d: bind_result: %s", n, mysql_stmt_error(st));
    rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA) {
        printf("r%d: (no rows)\n", n);
    } else if (rc == 1) {
        printf("r%d: ERR %u %s %s\n", n, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
               mysql_stmt_error(st));
    } else {
        unsigned long len = lens[0] < sizeof bufs[0] - 1 ? lens[0] : sizeof bufs[0] - 1;
        bufs[0][len] = '\0';
        printf("r%d: %s\n", n, nulls[0] ? "NULL" : bufs[0]);
        while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)
            ;
    }
    mysql_stmt_free_result(st);
}

void check_session(void)
{
    MYSQL *m = open_conn();
    int i;
    for (i = 0; i < g_nsteps; i++) {
        const char *step = g_steps[i];
        int n = i + 1;
        if (strncmp(step, "q:", 2) == 0) {
            step_query(m, n, step + 2);
        } else if (strncmp(step, "prep:", 5) == 0) {
            step_prepare(m, n, step + 5);
        } else if (strncmp(step, "exec:", 5) == 0) {
            MYSQL_STMT **sp = named(step + 5, strlen(step + 5), 0);
            step_execute(*sp, n);
        } else if (strncmp(step, "close:", 6) == 0) {
            MYSQL_STMT **sp = named(step + 6, strlen(step + 6), 0);
            mysql_stmt_close(*sp);
            *sp = NULL;
            printf("r%d: closed\n", n);
        } else {
            fail("step %d: unknown step '%s'", n, step);
        }
    }
    for (i = 0; i < MAX_NAMED; i++)
        if (g_named[i].st) {
            mysql_stmt_close(g_named[i].st);
            g_named[i].st = NULL;
        }
    mysql_close(m);
}
