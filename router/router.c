/*
 * Statement scanning for the routing decision. The scanner walks the text
 * once, skipping comments and quoted strings, and matches a few keywords
 * case-insensitively at token starts. Work is bounded by the text length.
 */
#include "router/router.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

const char *router_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case ROUTER_ENOMEM:
        return "out of memory";
    case ROUTER_EINVAL:
        return "a query rule does not compile";
    case ROUTER_EARG:
        return "a required argument is missing";
    default:
        return "unknown router error";
    }
}

/* Byte classes as the "C" locale has them, by table: the <ctype.h> calls
 * go through the locale on every byte and were a third of the scan. */
#define CH_SPACE 0x01u
#define CH_ALPHA 0x02u
#define CH_DIGIT 0x04u
#define CH_WORD 0x08u /* alphanumeric or _ @ . $ */

static const unsigned char char_class[256] = {
    ['\t'] = CH_SPACE, ['\n'] = CH_SPACE, ['\v'] = CH_SPACE, ['\f'] = CH_SPACE, ['\r'] = CH_SPACE,
    [' '] = CH_SPACE,  ['_'] = CH_WORD,   ['@'] = CH_WORD,   ['.'] = CH_WORD,   ['$'] = CH_WORD,
#define DIGIT(c) [c] = CH_DIGIT | CH_WORD
    DIGIT('0'),        DIGIT('1'),        DIGIT('2'),        DIGIT('3'),        DIGIT('4'),
    DIGIT('5'),        DIGIT('6'),        DIGIT('7'),        DIGIT('8'),        DIGIT('9'),
#undef DIGIT
#define ALPHA(c) [c] = CH_ALPHA | CH_WORD, [c - 'a' + 'A'] = CH_ALPHA | CH_WORD
    ALPHA('a'),        ALPHA('b'),        ALPHA('c'),        ALPHA('d'),        ALPHA('e'),
    ALPHA('f'),        ALPHA('g'),        ALPHA('h'),        ALPHA('i'),        ALPHA('j'),
    ALPHA('k'),        ALPHA('l'),        ALPHA('m'),        ALPHA('n'),        ALPHA('o'),
    ALPHA('p'),        ALPHA('q'),        ALPHA('r'),        ALPHA('s'),        ALPHA('t'),
    ALPHA('u'),        ALPHA('v'),        ALPHA('w'),        ALPHA('x'),        ALPHA('y'),
    ALPHA('z'),
#undef ALPHA
};

static inline bool is_space(unsigned char c)
{
    return char_class[c] & CH_SPACE;
}

static inline bool is_alpha(unsigned char c)
{
    return char_class[c] & CH_ALPHA;
}

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    return i;
}

/* Skips a comment or quoted string starting at i; returns the index after
 * it, or i when none starts there. */
static size_t skip_comment_or_quote(const char *s, size_t len, size_t i)
{
    char c = s[i];
    if (c == '/' && i + 1 < len && s[i + 1] == '*') {
        size_t j = i + 2;
        while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
            j++;
        return j + 1 < len ? j + 2 : len;
    }
    if ((c == '-' && i + 2 < len && s[i + 1] == '-' && is_space((unsigned char)s[i + 2])) ||
        c == '#') {
        size_t j = i;
        while (j < len && s[j] != '\n')
            j++;
        return j;
    }
    if (c == '\'' || c == '"' || c == '`') {
        size_t j = i + 1;
        while (j < len) {
            if (s[j] == '\\' && c != '`') {
                j += 2;
                continue;
            }
            if (s[j] == c) {
                if (j + 1 < len && s[j + 1] == c) {
                    j += 2;
                    continue;
                }
                return j + 1;
            }
            j++;
        }
        return len;
    }
    return i;
}

static bool is_word_char(unsigned char c)
{
    return char_class[c] & CH_WORD;
}

/* Token t of length n equals the lower-case keyword kw (case-insensitive). */
static bool tok_is(const char *t, size_t n, const char *kw, size_t kwlen)
{
    if (n != kwlen)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)t[i]) != (unsigned char)kw[i])
            return false;
    return true;
}

#define TOK_IS(t, n, kw) tok_is((t), (n), (kw), sizeof(kw) - 1)

/* The token starting at i (after spaces), as (start, length). */
static size_t next_token(const char *s, size_t len, size_t i, size_t *n)
{
    i = skip_space(s, len, i);
    size_t j = i;
    while (j < len && is_word_char((unsigned char)s[j]))
        j++;
    *n = j - i;
    return i;
}

/* One pass over the text; each word is measured once and compared only
 * against the few keywords sharing its first letter, so the cost per
 * statement stays a small multiple of its length. */
bool router_stmt_is_read(const char *s, size_t len)
{
    size_t i = 0, n;
    /* The first word, past comments. */
    for (;;) {
        i = skip_space(s, len, i);
        size_t j = i < len ? skip_comment_or_quote(s, len, i) : i;
        if (j == i)
            break;
        if (i + 1 < len && s[i] == '/' && s[i + 1] == '*' && i + 2 < len && s[i + 2] == '!')
            return false; /* executable comment: it may hold anything */
        i = j;
    }
    size_t start = next_token(s, len, i, &n);
    if (!(TOK_IS(s + start, n, "select") || TOK_IS(s + start, n, "show")))
        return false;
    if (router_stmt_flags(s, len) != 0)
        return false;
    static const char *const unsafe[] = {"update",  "share", "into",         "nextval",  "setval",
                                         "lastval", "sleep", "release_lock", "benchmark"};
    i = start + n;
    while (i < len) {
        size_t j = skip_comment_or_quote(s, len, i);
        if (j != i) {
            i = j;
            continue;
        }
        if (s[i] == ';' && skip_space(s, len, i + 1) < len)
            return false; /* more statements follow: they may write */
        if (!is_word_char((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < len && is_word_char((unsigned char)s[end]))
            end++;
        for (size_t k = 0; k < sizeof(unsafe) / sizeof(unsafe[0]); k++)
            if (end - i == strlen(unsafe[k]) && strncasecmp(s + i, unsafe[k], end - i) == 0)
                return false;
        i = end;
    }
    return true;
}

/* Words of "LOAD {DATA|XML} [LOW_PRIORITY|CONCURRENT] LOCAL", in order. */
enum load_local_step { LL_NONE, LL_LOAD, LL_DATA, LL_PRIORITY };

static enum load_local_step load_local_next(enum load_local_step at, const char *w, size_t n,
                                            bool *local)
{
    bool priority = TOK_IS(w, n, "low_priority") || TOK_IS(w, n, "concurrent");
    switch (at) {
    case LL_LOAD:
        return TOK_IS(w, n, "data") || TOK_IS(w, n, "xml") ? LL_DATA : LL_NONE;
    case LL_DATA:
        *local = TOK_IS(w, n, "local");
        return priority ? LL_PRIORITY : LL_NONE;
    case LL_PRIORITY:
        *local = TOK_IS(w, n, "local");
        return LL_NONE;
    case LL_NONE:
        break;
    }
    return TOK_IS(w, n, "load") ? LL_LOAD : LL_NONE;
}

bool router_stmt_loads_local_file(const char *s, size_t len)
{
    enum load_local_step at = LL_NONE;
    size_t i = 0;
    while (i < len) {
        size_t j = skip_comment_or_quote(s, len, i);
        if (j != i) {
            i = j;
            continue;
        }
        if (!is_word_char((unsigned char)s[i])) {
            if (!isspace((unsigned char)s[i]))
                at = LL_NONE; /* "load, data, local" are three columns */
            i++;
            continue;
        }
        size_t end = i;
        while (end < len && is_word_char((unsigned char)s[end]))
            end++;
        bool local = false;
        at = load_local_next(at, s + i, end - i, &local);
        if (local)
            return true;
        i = end;
    }
    return false;
}

unsigned router_stmt_flags(const char *s, size_t len)
{
    unsigned flags = 0;
    bool first_word = true;
    size_t i = 0;
    while (i < len) {
        size_t j = skip_comment_or_quote(s, len, i);
        if (j != i) {
            i = j;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (!(is_alpha(c) || c == '_' || c == '@')) {
            i++;
            continue;
        }
        bool at_start = i == 0 || !is_word_char((unsigned char)s[i - 1]);
        size_t end = i;
        while (end < len && is_word_char((unsigned char)s[end]))
            end++;
        if (!at_start) {
            i = end;
            continue;
        }
        const char *t = s + i;
        size_t n = end - i, tn;
        switch (lower(c)) {
        case 'l':
            if (first_word && TOK_IS(t, n, "lock")) {
                const char *u = s + next_token(s, len, end, &tn);
                if (TOK_IS(u, tn, "tables") || TOK_IS(u, tn, "table"))
                    flags |= ROUTER_STMT_LOCK_TABLES;
            } else if (TOK_IS(t, n, "last_insert_id")) {
                flags |= ROUTER_STMT_LAST_INSERT_ID;
            }
            break;
        case 'u':
            if (first_word && TOK_IS(t, n, "unlock"))
                flags |= ROUTER_STMT_UNLOCK_TABLES;
            break;
        case 's':
            if (first_word && TOK_IS(t, n, "show")) {
                const char *u = s + next_token(s, len, end, &tn);
                if (TOK_IS(u, tn, "warnings") || TOK_IS(u, tn, "errors") || TOK_IS(u, tn, "count"))
                    flags |= ROUTER_STMT_ASKS_PREVIOUS;
            }
            break;
        case 'g':
            if (TOK_IS(t, n, "get_lock")) {
                size_t k = skip_space(s, len, end);
                if (k < len && s[k] == '(')
                    flags |= ROUTER_STMT_NAMED_LOCK;
            }
            break;
        case 'f':
            if (TOK_IS(t, n, "found_rows"))
                flags |= ROUTER_STMT_ASKS_PREVIOUS;
            break;
        case '@':
            if (TOK_IS(t, n, "@@identity") || TOK_IS(t, n, "@@last_insert_id") ||
                TOK_IS(t, n, "@@session.last_insert_id"))
                flags |= ROUTER_STMT_LAST_INSERT_ID;
            else if (TOK_IS(t, n, "@@warning_count") || TOK_IS(t, n, "@@error_count") ||
                     TOK_IS(t, n, "@@session.warning_count"))
                flags |= ROUTER_STMT_ASKS_PREVIOUS;
            break;
        }
        first_word = false;
        i = end;
    }
    return flags;
}

/* ----------------------------------------- START TRANSACTION READ ONLY */

static size_t ro_skip_space(const char *q, size_t len, size_t i)
{
    while (i < len && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r'))
        i++;
    return i;
}

static bool ro_word_at(const char *q, size_t len, size_t i, const char *w)
{
    size_t n = strlen(w);
    return i + n <= len && strncasecmp(q + i, w, n) == 0 &&
           (i + n == len || !((q[i + n] >= 'a' && q[i + n] <= 'z') ||
                              (q[i + n] >= 'A' && q[i + n] <= 'Z') || q[i + n] == '_'));
}

bool router_stmt_read_only_txn(const char *q, size_t len)
{
    size_t i = ro_skip_space(q, len, 0);
    if (!ro_word_at(q, len, i, "start"))
        return false;
    i = ro_skip_space(q, len, i + 5);
    if (!ro_word_at(q, len, i, "transaction"))
        return false;
    i += 11;
    /* Characteristics: READ ONLY, READ WRITE, WITH CONSISTENT SNAPSHOT,
     * comma-separated; the statement must end after them. */
    bool ro = false;
    for (;;) {
        i = ro_skip_space(q, len, i);
        if (i == len || q[i] == ';')
            break;
        if (q[i] == ',') {
            i++;
            continue;
        }
        if (ro_word_at(q, len, i, "read")) {
            i = ro_skip_space(q, len, i + 4);
            if (ro_word_at(q, len, i, "only")) {
                ro = true;
                i += 4;
                continue;
            }
            return false; /* READ WRITE */
        }
        if (ro_word_at(q, len, i, "with")) {
            i = ro_skip_space(q, len, i + 4);
            if (!ro_word_at(q, len, i, "consistent"))
                return false;
            i = ro_skip_space(q, len, i + 10);
            if (!ro_word_at(q, len, i, "snapshot"))
                return false;
            i += 8;
            continue;
        }
        return false;
    }
    i = ro_skip_space(q, len, i < len ? i + 1 : i);
    return ro && i >= len;
}
