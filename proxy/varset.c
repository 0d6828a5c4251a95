/*
 * Session variable sets: what the server reported through session tracking,
 * kept sorted by name so two sets diff in one pass. Replaying a set on
 * another backend is one SET statement with every assignment that differs;
 * variables the target has but the session does not go back to DEFAULT.
 * Values are written so that the backend reads back exactly the bytes the
 * server reported: numbers bare, plain strings in quotes, anything with a
 * quote, backslash or control byte as _utf8mb4 X'..' (append_hex_string()
 * says why).
 */
#include "proxy/proxy_int.h"

#include <stdlib.h>
#include <string.h>

void varset_init(struct varset *vs)
{
    vs->v = NULL;
    vs->n = vs->cap = 0;
}

void varset_free(struct varset *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].value);
    }
    free(vs->v);
    varset_init(vs);
}

static int cmp_name(const char *a, const char *b, size_t blen)
{
    int c = strncmp(a, b, blen);
    if (c != 0)
        return c;
    return a[blen] == '\0' ? 0 : 1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int varset_set(struct varset *vs, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t lo = 0, hi = vs->n;
    /* Names come off the wire (session tracking). One with a NUL inside is
     * no variable, and cmp_name() relies on there being none: after
     * strncmp() stopped at such a NUL it would read past the stored name. */
    if (memchr(name, '\0', nlen))
        return PROXY_EINVAL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_name(vs->v[mid].name, name, nlen);
        if (c == 0) {
            if (strlen(vs->v[mid].value) == vlen && memcmp(vs->v[mid].value, value, vlen) == 0)
                return 0;
            char *nv = dup_n(value, vlen);
            if (!nv)
                return PROXY_ENOMEM;
            free(vs->v[mid].value);
            vs->v[mid].value = nv;
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 8;
        struct var *nv = realloc(vs->v, cap * sizeof(*nv));
        if (!nv)
            return PROXY_ENOMEM;
        vs->v = nv;
        vs->cap = cap;
    }
    char *n = dup_n(name, nlen), *v = dup_n(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return PROXY_ENOMEM;
    }
    memmove(&vs->v[lo + 1], &vs->v[lo], (vs->n - lo) * sizeof(*vs->v));
    vs->v[lo].name = n;
    vs->v[lo].value = v;
    vs->n++;
    return 0;
}

const char *varset_get(const struct varset *vs, const char *name)
{
    for (size_t i = 0; i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0)
            return vs->v[i].value;
    return NULL;
}

int varset_copy(struct varset *dst, const struct varset *src)
{
    struct varset tmp;
    varset_init(&tmp);
    for (size_t i = 0; i < src->n; i++)
        if (varset_set(&tmp, src->v[i].name, strlen(src->v[i].name), src->v[i].value,
                       strlen(src->v[i].value)) != 0) {
            varset_free(&tmp);
            return PROXY_ENOMEM;
        }
    varset_free(dst);
    *dst = tmp;
    return 0;
}

bool varset_equal(const struct varset *a, const struct varset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    return true;
}

static bool looks_numeric(const char *v)
{
    const char *p = v;
    if (*p == '-')
        p++;
    if (!*p)
        return false;
    bool dot = false;
    for (; *p; p++) {
        if (*p == '.' && !dot) {
            dot = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

/* True when v can go between single quotes as it is: no quote, no
 * backslash, no control byte. Such a literal means the same bytes under any
 * sql_mode and character set. */
static bool quotes_plainly(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '\\')
            return false;
    return true;
}

/* Any other string goes as a hex literal with a character set introducer.
 * Why not escape it: a backslash must be doubled unless the sql_mode has
 * NO_BACKSLASH_ESCAPES, and the mode that counts is the one the backend has
 * while it parses this SET (the previous session's, maybe unknown here, and
 * this SET may itself change sql_mode), not the session's. A hex literal has
 * no escapes at all. The introducer makes it a utf8mb4 string, the bytes
 * session tracking reported (system variables are kept in UTF-8), whatever
 * character_set_client the backend has before this SET, and keeps it a
 * string where a bare X'..' would be a number. */
static int append_hex_string(struct codec_buf *sql, const char *v)
{
    static const char digits[] = "0123456789ABCDEF";
    if (codec_buf_append(sql, "_utf8mb4 X'", 11) != 0)
        return PROXY_ENOMEM;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        uint8_t two[2] = {(uint8_t)digits[*p >> 4], (uint8_t)digits[*p & 15]};
        if (codec_buf_append(sql, two, 2) != 0)
            return PROXY_ENOMEM;
    }
    return codec_buf_u8(sql, '\'');
}

static int append_assignment(struct codec_buf *sql, int count, const char *name, const char *value)
{
    if (codec_buf_append(sql, count ? ", " : "SET ", count ? 2 : 4) != 0 ||
        codec_buf_append(sql, "@@session.", 10) != 0 ||
        codec_buf_append(sql, name, strlen(name)) != 0 || codec_buf_append(sql, "=", 1) != 0)
        return PROXY_ENOMEM;
    if (!value)
        return codec_buf_append(sql, "DEFAULT", 7);
    if (looks_numeric(value) || strcmp(value, "NULL") == 0)
        return codec_buf_append(sql, value, strlen(value));
    if (!quotes_plainly(value))
        return append_hex_string(sql, value);
    if (codec_buf_u8(sql, '\'') != 0 || codec_buf_append(sql, value, strlen(value)) != 0)
        return PROXY_ENOMEM;
    return codec_buf_u8(sql, '\'');
}

int varset_diff_sql(const struct varset *want, const struct varset *have, struct codec_buf *sql)
{
    int count = 0;
    size_t i = 0, j = 0;
    while (i < want->n || j < have->n) {
        int c = i == want->n ? 1 : j == have->n ? -1 : strcmp(want->v[i].name, have->v[j].name);
        if (c < 0) {
            if (append_assignment(sql, count++, want->v[i].name, want->v[i].value) != 0)
                return PROXY_ENOMEM;
            i++;
        } else if (c > 0) {
            if (append_assignment(sql, count++, have->v[j].name, NULL) != 0)
                return PROXY_ENOMEM;
            j++;
        } else {
            if (strcmp(want->v[i].value, have->v[j].value) != 0 &&
                append_assignment(sql, count++, want->v[i].name, want->v[i].value) != 0)
                return PROXY_ENOMEM;
            i++;
            j++;
        }
    }
    return count;
}

int varset_set_charset(struct varset *vs, unsigned collation_id)
{
    const struct collation *c = collation_by_id(collation_id);
    if (!c)
        return 0;
    static const char *const names[] = {"character_set_client", "character_set_connection",
                                        "character_set_results"};
    for (int i = 0; i < 3; i++)
        if (varset_set(vs, names[i], strlen(names[i]), c->charset, strlen(c->charset)) != 0)
            return PROXY_ENOMEM;
    return varset_set(vs, "collation_connection", 20, c->name, strlen(c->name));
}
