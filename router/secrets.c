/*
 * Masking of secrets in statement text, for every place that shows a
 * statement to an operator (stats_mysql_processlist's info, logs): the
 * literals of passwords and keys become '***'. Digests need nothing more:
 * they turn every literal into '?' already.
 *
 * How: one pass with a small tokenizer (whitespace, comments, quoted
 * strings, backquoted names, words, numbers, punctuation), copying tokens
 * and replacing the literals (strings and numbers) that a context marks as
 * secret:
 *
 *   IDENTIFIED ...          every literal to the end of the statement: BY
 *                           'pw', BY PASSWORD 'hash', VIA/WITH plugin
 *                           USING/AS/BY '...', OR ... and further users;
 *   *PASSWORD [=] lit       PASSWORD 'x' (CREATE SERVER OPTIONS),
 *                           MASTER_PASSWORD = 'x', SET PASSWORD = 'x';
 *   *PASSWORD ( ... )       PASSWORD('x'), OLD_PASSWORD('x'): every literal
 *                           inside the parentheses; so for ENCRYPT,
 *                           AES_ENCRYPT/DECRYPT, DES_ENCRYPT/DECRYPT,
 *                           ENCODE/DECODE (keys and data alike);
 *   SET PASSWORD FOR u = .. every literal after the '='.
 *
 * A ';' ends a statement and its contexts. The masking errs on the side of
 * hiding: a column named password (UPDATE t SET password = 'x') is masked
 * too. Comments are copied; executable comments (/ *! ... * /) are read as
 * SQL, since the server runs them. Work is O(len) and stops once out is
 * full; nothing is allocated.
 */
#include "router/router.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

/* The output: bytes that fit, and the first byte that did not. */
struct out {
    char *buf;
    size_t cap; /* bytes of text that fit (outcap - 1) */
    size_t n;
    bool full;
    unsigned char next;
};

/* What the tokens seen so far make of the next literal. */
struct ctx {
    bool rest;      /* IDENTIFIED seen: every literal to the end of the statement */
    bool pending;   /* a secret word was just seen: a literal, '=' or '(' may follow */
    bool was_pw;    /* the last word was PASSWORD itself (SET PASSWORD FOR) */
    bool eq_rest;   /* SET PASSWORD FOR ...: everything after the '=' */
    int depth;      /* parentheses open */
    int mask_depth; /* > 0: inside a secret function's parentheses, opened at this depth */
};

static void put(struct out *o, const char *s, size_t k)
{
    for (size_t i = 0; i < k && !o->full; i++) {
        if (o->n == o->cap) {
            o->full = true;
            o->next = (unsigned char)s[i];
            return;
        }
        o->buf[o->n++] = s[i];
    }
}

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c >= 0x80;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The end of the comment at i, or i when none starts there. An executable
 * comment's opener alone counts, so that its content is read as SQL. */
static size_t comment_end(const char *s, size_t len, size_t i)
{
    if (s[i] == '#' || (s[i] == '-' && i + 2 < len && s[i + 1] == '-' &&
                        (is_space((unsigned char)s[i + 2]) || s[i + 2] < 0x20))) {
        while (i < len && s[i] != '\n')
            i++;
        return i;
    }
    if (s[i] != '/' || i + 1 >= len || s[i + 1] != '*')
        return i;
    size_t j = i + 2;
    if (j < len && s[j] == 'M')
        j++;
    if (j < len && s[j] == '!') {
        j++;
        while (j < len && s[j] >= '0' && s[j] <= '9')
            j++;
        return j;
    }
    j = i + 2;
    while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
        j++;
    return j + 1 < len ? j + 2 : len;
}

/* The end of the quoted string or name at i (quote q): backslash escapes
 * (not in `names`) and doubled quotes. An unterminated one runs to len. */
static size_t quote_end(const char *s, size_t len, size_t i)
{
    char q = s[i];
    size_t j = i + 1;
    while (j < len) {
        if (s[j] == '\\' && q != '`') {
            j += 2;
            continue;
        }
        if (s[j] == q) {
            if (j + 1 < len && s[j + 1] == q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j++;
    }
    return len;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* Functions whose arguments are keys or secrets, beyond the *PASSWORD ones. */
static bool secret_function(const char *w, size_t n)
{
    static const char *const names[] = {"ENCRYPT",     "AES_ENCRYPT", "AES_DECRYPT", "DES_ENCRYPT",
                                        "DES_DECRYPT", "ENCODE",      "DECODE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (word_is(w, n, names[i]))
            return true;
    return false;
}

static void on_word(struct ctx *c, const char *w, size_t n)
{
    bool pw = n >= 8 && strncasecmp(w + n - 8, "PASSWORD", 8) == 0;
    if (word_is(w, n, "IDENTIFIED"))
        c->rest = true;
    if (c->was_pw && word_is(w, n, "FOR"))
        c->eq_rest = true;
    c->pending = pw || secret_function(w, n);
    c->was_pw = pw && n == 8;
}

static void on_punct(struct ctx *c, char p)
{
    switch (p) {
    case ';':
        *c = (struct ctx){0};
        return;
    case '=':
        if (c->eq_rest)
            c->rest = true;
        return; /* MASTER_PASSWORD = 'x': still pending */
    case '(':
        c->depth++;
        if (c->pending && c->mask_depth == 0)
            c->mask_depth = c->depth;
        break;
    case ')':
        if (c->mask_depth == c->depth)
            c->mask_depth = 0;
        if (c->depth > 0)
            c->depth--;
        break;
    }
    c->pending = false;
    c->was_pw = false;
}

/* Copies or masks the literal s[i..j) (a string or a number). */
static void on_literal(struct ctx *c, struct out *o, const char *s, size_t i, size_t j)
{
    if (c->rest || c->pending || c->mask_depth > 0)
        put(o, s[i] == '\'' || s[i] == '"' ? "'" MASK "'" : MASK,
            s[i] == '\'' || s[i] == '"' ? sizeof(MASK) + 1 : sizeof(MASK) - 1);
    else
        put(o, s + i, j - i);
    c->pending = false;
    c->was_pw = false;
}

/* Handles the token at i; returns the index after it. */
static size_t token(struct ctx *c, struct out *o, const char *s, size_t len, size_t i)
{
    unsigned char ch = (unsigned char)s[i];
    size_t j = comment_end(s, len, i);
    if (j == i && is_space(ch))
        j = i + 1;
    if (j != i) {
        put(o, s + i, j - i);
        return j;
    }
    if (ch == '\'' || ch == '"') {
        j = quote_end(s, len, i);
        on_literal(c, o, s, i, j);
        return j;
    }
    if (ch == '`') {
        j = quote_end(s, len, i);
        put(o, s + i, j - i);
        c->pending = c->was_pw = false;
        return j;
    }
    if (is_word_byte(ch)) {
        for (j = i; j < len && is_word_byte((unsigned char)s[j]); j++)
            ;
        if (ch >= '0' && ch <= '9') {
            on_literal(c, o, s, i, j);
        } else {
            put(o, s + i, j - i);
            on_word(c, s + i, j - i);
        }
        return j;
    }
    put(o, s + i, 1);
    on_punct(c, (char)ch);
    return i + 1;
}

size_t router_mask_secrets(const char *sql, size_t len, char *out, size_t outcap)
{
    if (outcap == 0)
        return 0;
    struct out o = {.buf = out, .cap = outcap - 1};
    struct ctx c = {0};
    for (size_t i = 0; i < len && !o.full;)
        i = token(&c, &o, sql, len, i);
    if (o.full && (o.next & 0xC0) == 0x80) {
        /* The cut fell inside a multi-byte character: it goes whole. */
        while (o.n > 0 && ((unsigned char)out[o.n - 1] & 0xC0) == 0x80)
            o.n--;
        if (o.n > 0)
            o.n--;
    }
    out[o.n] = '\0';
    return o.n;
}
