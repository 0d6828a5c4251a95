/*
 * Reader of mysql_query_rules INSERT statements (grammar in rules_sql.h).
 *
 * How: the text is copied once and parsed in place by a recursive-descent
 * reader with one cursor. String values are unescaped in the copy ('' becomes
 * ' and the value is NUL-terminated where its closing quote was), so the
 * specs' strings point into the copy and nothing else is allocated per
 * value. Every deviation stops the parse with the line number: a test that
 * reads configs/rw-split.sql must fail loudly rather than skip a rule.
 */
#include "tests/common/rules_sql.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_COLUMNS 32

enum col_type {
    COL_INT,  /* int field, -1 for NULL */
    COL_BOOL, /* bool field, NULL not allowed */
    COL_TEXT, /* const char * field, NULL for NULL */
};

struct column {
    const char *name;
    enum col_type type;
    size_t offset;
};

#define COL(name, type, field)                                                                     \
    {                                                                                              \
        name, type, offsetof(struct router_rule_spec, field)                                       \
    }
static const struct column columns[] = {
    COL("rule_id", COL_INT, rule_id),
    COL("active", COL_BOOL, active),
    COL("username", COL_TEXT, username),
    COL("schemaname", COL_TEXT, schemaname),
    COL("flagIN", COL_INT, flag_in),
    COL("client_addr", COL_TEXT, client_addr),
    COL("digest", COL_TEXT, digest),
    COL("match_digest", COL_TEXT, match_digest),
    COL("match_pattern", COL_TEXT, match_pattern),
    COL("negate_match_pattern", COL_BOOL, negate_match_pattern),
    COL("re_modifiers", COL_TEXT, re_modifiers),
    COL("flagOUT", COL_INT, flag_out),
    COL("replace_pattern", COL_TEXT, replace_pattern),
    COL("destination_hostgroup", COL_INT, destination_hostgroup),
    COL("cache_ttl", COL_INT, cache_ttl),
    COL("timeout", COL_INT, timeout),
    COL("retries", COL_INT, retries),
    COL("delay", COL_INT, delay),
    COL("error_msg", COL_TEXT, error_msg),
    COL("OK_msg", COL_TEXT, ok_msg),
    COL("multiplex", COL_INT, multiplex),
    COL("apply", COL_BOOL, apply),
    COL("log", COL_INT, log),
    COL("comment", COL_TEXT, comment),
};
#undef COL

struct parser {
    char *p; /* cursor into the copy */
    char *start;
    char *err;
    size_t errlen;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int line = 1;
    for (const char *q = ps->start; q < ps->p; q++)
        line += *q == '\n';
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->err && ps->errlen)
        snprintf(ps->err, ps->errlen, "line %d: %s (at \"%.20s\")", line, msg, ps->p);
}

/* Skips whitespace and "--" comments. */
static void skip_blank(struct parser *ps)
{
    for (;;) {
        while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
            ps->p++;
        if (ps->p[0] != '-' || ps->p[1] != '-')
            return;
        while (*ps->p && *ps->p != '\n')
            ps->p++;
    }
}

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Reads an identifier or keyword: returns its length (0: none there). */
static size_t word(struct parser *ps, const char **w)
{
    skip_blank(ps);
    *w = ps->p;
    while (is_ident(*ps->p))
        ps->p++;
    return (size_t)(ps->p - *w);
}

static void expect_word(struct parser *ps, const char *kw)
{
    const char *w;
    char *at = ps->p;
    size_t n = word(ps, &w);
    if (n != strlen(kw) || strncasecmp(w, kw, n) != 0) {
        ps->p = at;
        skip_blank(ps);
        fail(ps, "expected %s", kw);
    }
}

static bool accept(struct parser *ps, char c)
{
    skip_blank(ps);
    if (*ps->p != c)
        return false;
    ps->p++;
    return true;
}

static void expect(struct parser *ps, char c)
{
    if (!accept(ps, c))
        fail(ps, "expected '%c'", c);
}

static const struct column *find_column(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
        if (strlen(columns[i].name) == n && strncasecmp(columns[i].name, w, n) == 0)
            return &columns[i];
    return NULL;
}

/* Reads a '...' string, unescaping '' in place; returns it NUL-terminated. */
static char *string_value(struct parser *ps)
{
    char *out = ++ps->p; /* after the opening quote */
    char *o = out;
    for (;;) {
        if (*ps->p == '\0') {
            fail(ps, "unterminated string");
            return NULL;
        }
        if (*ps->p == '\'') {
            if (ps->p[1] != '\'')
                break;
            ps->p++;
        }
        *o++ = *ps->p++;
    }
    ps->p++; /* closing quote; o <= its position, so the NUL overwrites nothing unread */
    *o = '\0';
    return out;
}

static void int_value(struct parser *ps, const struct column *col, struct router_rule_spec *s)
{
    errno = 0;
    char *end;
    long v = strtol(ps->p, &end, 10);
    if (end == ps->p || errno || v < INT_MIN || v > INT_MAX || is_ident(*end)) {
        fail(ps, "column %s: bad integer", col->name);
        return;
    }
    ps->p = end;
    char *field = (char *)s + col->offset;
    if (col->type == COL_BOOL) {
        if (v != 0 && v != 1) {
            fail(ps, "column %s: expected 0 or 1", col->name);
            return;
        }
        *(bool *)field = v == 1;
    } else {
        *(int *)field = (int)v;
    }
}

static void value(struct parser *ps, const struct column *col, struct router_rule_spec *s)
{
    skip_blank(ps);
    char *field = (char *)s + col->offset;
    char c = *ps->p;
    if (c == '\'') {
        if (col->type != COL_TEXT) {
            fail(ps, "column %s takes an integer", col->name);
            return;
        }
        *(const char **)field = string_value(ps);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (col->type == COL_TEXT) {
            fail(ps, "column %s takes a string", col->name);
            return;
        }
        int_value(ps, col, s);
    } else {
        const char *w;
        size_t n = word(ps, &w);
        if (n != 4 || strncasecmp(w, "NULL", 4) != 0) {
            ps->p = (char *)w;
            fail(ps, "column %s: expected NULL, an integer or a string", col->name);
        } else if (col->type == COL_BOOL) {
            fail(ps, "column %s cannot be NULL", col->name);
        } else if (col->type == COL_INT) {
            *(int *)field = -1;
        } else {
            *(const char **)field = NULL;
        }
    }
}

struct router_rule_spec rules_sql_defaults(void)
{
    return (struct router_rule_spec){
        .re_modifiers = "CASELESS",
        .flag_out = -1,
        .destination_hostgroup = -1,
        .cache_ttl = -1,
        .timeout = -1,
        .retries = -1,
        .delay = -1,
        .multiplex = -1,
        .log = -1,
    };
}

static int push(struct rules_sql *rs, size_t *cap, const struct router_rule_spec *s)
{
    if (rs->n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 16;
        struct router_rule_spec *n = realloc(rs->specs, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        rs->specs = n;
        *cap = ncap;
    }
    rs->specs[rs->n++] = *s;
    return 0;
}

/* One INSERT statement; the INSERT keyword is already read. */
static void insert(struct parser *ps, struct rules_sql *rs, size_t *cap)
{
    const struct column *cols[MAX_COLUMNS];
    size_t ncols = 0;

    expect_word(ps, "INTO");
    expect_word(ps, "mysql_query_rules");
    expect(ps, '(');
    while (!ps->failed) {
        const char *w;
        size_t n = word(ps, &w);
        const struct column *col = n ? find_column(w, n) : NULL;
        if (col == NULL) {
            ps->p = (char *)w;
            fail(ps, "unknown column");
            return;
        }
        for (size_t i = 0; i < ncols; i++)
            if (cols[i] == col)
                fail(ps, "column %s twice", col->name);
        if (ncols == MAX_COLUMNS)
            fail(ps, "too many columns");
        if (ps->failed)
            return;
        cols[ncols++] = col;
        if (!accept(ps, ','))
            break;
    }
    expect(ps, ')');
    expect_word(ps, "VALUES");
    do {
        struct router_rule_spec s = rules_sql_defaults();
        bool has_id = false;
        expect(ps, '(');
        for (size_t i = 0; i < ncols && !ps->failed; i++) {
            if (i > 0)
                expect(ps, ',');
            if (!ps->failed)
                value(ps, cols[i], &s);
            has_id |= cols[i]->offset == offsetof(struct router_rule_spec, rule_id);
        }
        expect(ps, ')');
        if (ps->failed)
            return;
        if (!has_id || s.rule_id < 0) {
            fail(ps, "rule without a rule_id");
            return;
        }
        if (push(rs, cap, &s) < 0) {
            fail(ps, "out of memory");
            return;
        }
    } while (accept(ps, ','));
    expect(ps, ';');
}

void rules_sql_free(struct rules_sql *rs)
{
    free(rs->specs);
    free(rs->text);
    *rs = (struct rules_sql){0};
}

int rules_sql_parse(const char *text, struct rules_sql *out, char *err, size_t errlen)
{
    size_t cap = 0;
    *out = (struct rules_sql){0};
    out->text = strdup(text);
    if (out->text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct parser ps = {.p = out->text, .start = out->text, .err = err, .errlen = errlen};
    for (;;) {
        skip_blank(&ps);
        if (*ps.p == '\0')
            break;
        expect_word(&ps, "INSERT");
        if (!ps.failed)
            insert(&ps, out, &cap);
        if (ps.failed) {
            rules_sql_free(out);
            return -1;
        }
    }
    return 0;
}

int rules_sql_load(const char *path, struct rules_sql *out, char *err, size_t errlen)
{
    *out = (struct rules_sql){0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 65536;
            char *n = realloc(buf, cap);
            if (n == NULL) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = n;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: NUL byte in the file", path);
        goto out;
    }
    rc = rules_sql_parse(buf, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}
