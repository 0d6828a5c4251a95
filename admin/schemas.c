/*
 * ProxySQL's schema names stats and monitor. ProxySQL keeps its stats tables
 * in a database called stats and the monitor's logs in one called monitor,
 * and its documentation, tools and exporters name them that way
 * (stats.stats_mysql_query_digest, monitor.mysql_server_ping_log). Sluice
 * keeps both in main, next to the admin tables.
 *
 * Why a rewrite rather than ATTACH or views: the sandbox (sandbox.c) allows
 * one attached database, disk, and refuses ATTACH; the stats refresh writes
 * main.<table> and the authorizer notes reads of main's stats tables. So the
 * statement's text is rewritten before SQLite sees it: stats.<t> and
 * monitor.<t> become main.<t> when <t> is one of that schema's tables, in
 * place ("stats" -> "main " and "monitor" -> "main   ": SQLite allows
 * blanks around the dot), so offsets into the statement stay valid. Quoted
 * literals and comments are skipped, and only a qualifier followed by one of
 * that schema's own tables is touched, so an operator's table or column that
 * happens to be called stats is left alone.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* The identifier at p (bare or backquoted): its text in name, and the end
 * of its span. NULL when there is none or it is too long. */
static char *read_ident(char *p, const char *end, char *name, size_t namelen)
{
    char *s = p;
    size_t n;

    if (p < end && *p == '`') {
        for (s = ++p; p < end && *p != '`'; p++)
            ;
        if (p == end)
            return NULL;
        n = (size_t)(p - s);
        p++;
    } else {
        while (p < end && ident_char(*p))
            p++;
        n = (size_t)(p - s);
    }
    if (n == 0 || n >= namelen)
        return NULL;
    memcpy(name, s, n);
    name[n] = '\0';
    return p;
}

/* Whether table belongs to ProxySQL's schema called schema. */
static bool in_schema(const char *schema, const char *table)
{
    if (strcasecmp(schema, "stats") == 0)
        return admin_stats_table(table) != 0;
    if (strcasecmp(schema, "monitor") == 0)
        return admin_monitor_table(table);
    return false;
}

/* Skips a quoted literal or a comment at p; returns p itself when there is
 * none. */
static char *skip_opaque(char *p, const char *end)
{
    if (*p == '\'' || *p == '"') {
        char q = *p++;

        while (p < end && *p != q)
            p++;
        return p < end ? p + 1 : p;
    }
    if (p + 1 < end && p[0] == '-' && p[1] == '-') {
        while (p < end && *p != '\n')
            p++;
        return p;
    }
    if (p + 1 < end && p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");

        return e && e < end ? (char *)e + 2 : (char *)end;
    }
    return p;
}

void admin_schema_rewrite(char *p, const char *end)
{
    char prev = ' ';

    while (p < end) {
        char schema[16], table[72], *q, *after, *o = skip_opaque(p, end);

        if (o != p) {
            prev = ' ';
            p = o;
            continue;
        }
        if (!(ident_char(*p) || *p == '`') || ident_char(prev) || prev == '.') {
            prev = *p++;
            continue;
        }
        after = read_ident(p, end, schema, sizeof(schema));
        if (!after) {
            prev = *p++;
            continue;
        }
        q = (char *)admin_skip_space(after, end);
        if (q < end && *q == '.' &&
            read_ident((char *)admin_skip_space(q + 1, end), end, table, sizeof(table)) &&
            in_schema(schema, table)) {
            memset(p, ' ', (size_t)(after - p));
            memcpy(p, "main", 4);
        }
        prev = after[-1];
        p = after;
    }
}

const char *admin_schema_name(const char *name)
{
    static const char *const names[] = {"main", "disk", "stats", "monitor"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return names[i];
    return NULL;
}
