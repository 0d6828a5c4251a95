/*
 * Query digests: the normalized text of a statement and a 64-bit hash of it,
 * so that statements differing only in their literals, spacing, comments or
 * keyword case are counted (and matched by rules) as one shape.
 *
 * How: one pass over the text with a small tokenizer (next_token()) that
 * skips whitespace and comments and returns one token at a time; an emitter
 * writes each token's normalized form, byte by byte, into the caller's buffer
 * and into the hash at once. Two constructs look ahead a little (IN lists and
 * VALUES tuples, below); a look-ahead that fails is re-scanned normally, and
 * no look-ahead can start inside another one, so every byte is scanned at
 * most about twice: the work is O(len). Nothing is allocated and no state
 * outlives the call.
 *
 * The rules, pinned down by tests/unit/test_digest.c:
 *
 *  1. Input: only the first max_len bytes are looked at (0: all len bytes).
 *     What is cut off there is handled like any unterminated construct.
 *  2. Literals become '?':
 *     - strings '...' and "..." with backslash escapes and doubled quotes
 *       (the default sql_mode; "..." is a string, not an ANSI identifier);
 *     - numbers: 42, 4.2, .5, 1., 1e10, 1.5E-3; a leading '-' or '+' is part
 *       of the number when it is unary: at the start, or after an operator,
 *       '(', ',', ';' or a keyword other than NULL/TRUE/FALSE/END. So
 *       "a = -5" gives "a = ?", "a-5" gives "a-?" and "a - 5" "a - ?". The
 *       sign must touch the number ("- 5" keeps its '-');
 *     - hex X'0A', x'0a', 0x0A and bit b'01', B'01', 0b01;
 *     - N'...' and charset introducers _utf8mb4'...', _binary'...' (the
 *       introducer must touch the quote);
 *     - DATE '...', TIME '...', TIMESTAMP '...' (the whole typed literal);
 *     - the prepared-statement placeholder '?' stays '?', so a statement
 *       and its prepared form share a digest.
 *     A run that starts with a digit but goes on with identifier characters
 *     (2fa_codes, 1e5x, 0xZZ) is an identifier, as MySQL reads it; so are
 *     t1 and col_2. Inputs cut inside a string still give '?'.
 *  3. Kept as they are: `backquoted` identifiers (with `` inside),
 *     identifiers (their case too), @user and @@system variables, and every
 *     operator byte. NULL, TRUE and FALSE are keywords, not literals: "IS
 *     NULL" and "= NULL" must not share a digest with "= 5".
 *  4. Comments go: / * ... * / including optimizer hints / *+ ... * / and
 *     executable comments / *! ... * / (their content is not kept), "-- "
 *     (two dashes then whitespace or a control character) to end of line,
 *     and '#' to end of line. An unterminated comment runs to the end. A
 *     comment separates tokens like whitespace does.
 *  5. Spacing: any run of whitespace and comments between two tokens
 *     becomes one space; none where the source had none ("id=5" gives
 *     "id=?", "id = 5" gives "id = ?"). Never a space at the start or end,
 *     before ',' or ')', or after '(' or ','. So "SELECT a, b FROM t" gives
 *     "SELECT a,b FROM t" and "( 1 )" gives "(?)". Bytes below 0x20 and
 *     0x7f count as whitespace. Trailing ';' go ("SELECT 1;" gives
 *     "SELECT ?"); ';' between statements stay.
 *  6. Case: words in the keyword table below (SQL keywords and the
 *     aggregates COUNT SUM AVG MIN MAX) are upper-cased; every other word
 *     keeps its case. Words common as column names (status, name, value,
 *     user, date, time, year...) are deliberately not in the table. A word
 *     right after '.' or '@' is a name, never a keyword ("t.count",
 *     "@@session.wait_timeout" keep their case).
 *  7. Lists: "IN (" followed only by literals, ',' and nested parentheses
 *     ("IN (1,2,3)", "IN ('a')", "IN ((1,2),(3,4))", "IN (?,?)") becomes
 *     "IN (...)" whatever the count; "IN (SELECT ...)" and lists holding a
 *     column or a function are kept. After a VALUES keyword that follows a
 *     word or ')' (the INSERT/REPLACE form, not the VALUES(col) function of
 *     ON DUPLICATE KEY UPDATE, which follows '=' or ','), the whole list of
 *     parenthesized tuples, whatever they hold, becomes "VALUES (...)". An
 *     IN list or VALUES list cut by the end of the input still collapses.
 *  8. Output: at most outcap - 1 bytes and a NUL (nothing when outcap is
 *     0); the return value is the number of bytes written. The hash is
 *     64-bit FNV-1a of the whole digest text, even the part that did not
 *     fit, so it does not depend on outcap.
 */
#include "router/router.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

#define KW_OPERAND 0x01u /* a value (NULL, TRUE...): a sign after it is binary */
#define KW_IN 0x02u      /* IN: a literal list after it collapses */
#define KW_VALUES 0x04u  /* VALUES: a tuple list after it collapses */

struct keyword {
    const char *word; /* upper case */
    unsigned char len;
    unsigned char flags;
};

/* Sorted in byte order (LC_ALL=C sort): find_keyword() searches it by
 * bisection. test_digest's keyword test fails if the order breaks. */
/* clang-format off */
#define KW(w) {w, sizeof(w) - 1, 0}
#define KWF(w, f) {w, sizeof(w) - 1, f}
static const struct keyword keywords[] = {
    KW("ADD"), KW("ALL"), KW("ALTER"), KW("AND"), KW("ANY"), KW("AS"), KW("ASC"), KW("AVG"),
    KW("BEGIN"), KW("BETWEEN"), KW("BINARY"), KW("BY"), KW("CALL"), KW("CASE"), KW("CAST"),
    KW("CHARACTER"), KW("COLLATE"), KW("COLUMNS"), KW("COMMIT"), KW("COMMITTED"), KW("COUNT"),
    KW("CREATE"), KW("CROSS"), KW("DATABASE"), KW("DATABASES"), KW("DEALLOCATE"), KW("DEFAULT"),
    KW("DELAYED"), KW("DELETE"), KW("DESC"), KW("DESCRIBE"), KW("DISTINCT"), KW("DIV"), KW("DO"),
    KW("DROP"), KW("DUPLICATE"), KW("ELSE"), KWF("END", KW_OPERAND), KW("ESCAPE"), KW("EXECUTE"),
    KW("EXISTS"), KW("EXPLAIN"), KWF("FALSE", KW_OPERAND), KW("FOR"), KW("FORCE"), KW("FROM"),
    KW("FULL"), KW("GLOBAL"), KW("GROUP"), KW("HAVING"), KW("HIGH_PRIORITY"), KW("IF"),
    KW("IGNORE"), KWF("IN", KW_IN), KW("INDEX"), KW("INNER"), KW("INSERT"), KW("INTERVAL"),
    KW("INTO"), KW("IS"), KW("ISOLATION"), KW("JOIN"), KW("KEY"), KW("KILL"), KW("LEFT"),
    KW("LEVEL"), KW("LIKE"), KW("LIMIT"), KW("LOCK"), KW("LOCKED"), KW("LOW_PRIORITY"), KW("MATCH"),
    KW("MAX"), KW("MIN"), KW("MOD"), KW("MODE"), KW("NAMES"), KW("NATURAL"), KW("NOT"),
    KW("NOWAIT"), KWF("NULL", KW_OPERAND), KW("OFFSET"), KW("ON"), KW("ONLY"), KW("OR"),
    KW("ORDER"), KW("OUTER"), KW("PREPARE"), KW("PROCEDURE"), KW("PROCESSLIST"), KW("READ"),
    KW("RECURSIVE"), KW("REGEXP"), KW("RELEASE"), KW("RENAME"), KW("REPEATABLE"), KW("REPLACE"),
    KW("RIGHT"), KW("ROLLBACK"), KW("SAVEPOINT"), KW("SELECT"), KW("SERIALIZABLE"), KW("SESSION"),
    KW("SET"), KW("SHARE"), KW("SHOW"), KW("SKIP"), KW("SQL_CALC_FOUND_ROWS"), KW("SQL_NO_CACHE"),
    KW("START"), KW("STRAIGHT_JOIN"), KW("SUM"), KW("TABLE"), KW("TABLES"), KW("THEN"), KW("TO"),
    KW("TRANSACTION"), KWF("TRUE", KW_OPERAND), KW("TRUNCATE"), KW("UNCOMMITTED"), KW("UNION"),
    KW("UNIQUE"), KW("UNLOCK"), KW("UPDATE"), KW("USE"), KW("USING"), KWF("VALUES", KW_VALUES),
    KW("VARIABLES"), KW("WARNINGS"), KW("WHEN"), KW("WHERE"), KW("WITH"), KW("WORK"), KW("WRITE"),
    KW("XOR"),
};
#undef KW
#undef KWF
/* clang-format on */

enum tok_kind {
    TK_END,     /* end of the (bounded) input; also "no token yet" */
    TK_WORD,    /* identifier or keyword */
    TK_QIDENT,  /* `backquoted` identifier: copied as is */
    TK_LITERAL, /* string, number, hex, bit, typed literal or '?': emitted as '?' */
    TK_LPAREN,  /* ( */
    TK_RPAREN,  /* ) */
    TK_COMMA,   /* , */
    TK_SEMI,    /* ; held back so that trailing ones can be dropped */
    TK_OP,      /* any other byte, one at a time: multi-byte operators keep their bytes */
};

struct token {
    enum tok_kind kind;
    size_t start, end;        /* its bytes in the input */
    bool space_before;        /* whitespace or a comment separates it from the previous one */
    const struct keyword *kw; /* TK_WORD: its keyword entry, NULL for an identifier */
};

/* Tokenizer state: copied by value to look ahead and thrown away on failure. */
struct lexer {
    const char *s;
    size_t end; /* bytes looked at: min(len, max_len) */
    size_t pos;
    bool prev_operand; /* previous token ends a value: a sign after it is binary */
    char prev_op;      /* previous token's byte when it was TK_OP, else 0 */
};

/* Emitter state: the caller's buffer plus the running hash of everything
 * emitted, whether or not it fit. */
struct emitter {
    char *out;
    size_t cap;     /* bytes of out usable for text: outcap - 1, or 0 */
    size_t written; /* bytes in out */
    size_t total;   /* bytes of digest text produced */
    uint64_t hash;
    enum tok_kind last; /* kind of the last token emitted, TK_END at the start */
};

static bool is_space(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Identifier bytes as MySQL reads unquoted names; bytes of UTF-8 sequences
 * count, so non-ASCII names stay whole. */
/* Identifier bytes, as a table: this test runs once per byte of every
 * statement. */
static const unsigned char word_bytes[256] = {
    ['0'] = 1, ['1'] = 1,           ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1,           ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1,           ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
    ['l'] = 1, ['m'] = 1,           ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1,           ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1, ['A'] = 1,           ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1,           ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1,           ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1,           ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['_'] = 1,
    ['$'] = 1, [0x80 ... 0xff] = 1,
};

static inline bool is_word(unsigned char c)
{
    return word_bytes[c] != 0;
}

static unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Case-insensitive equality of s[0..n) with an upper-case word. */
static bool word_is(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (upper((unsigned char)s[i]) != (unsigned char)word[i])
            return false;
    return i == n && word[i] == '\0';
}

static int keyword_cmp(const char *s, size_t n, const struct keyword *kw)
{
    size_t m = n < kw->len ? n : kw->len;
    for (size_t i = 0; i < m; i++) {
        unsigned char a = upper((unsigned char)s[i]);
        unsigned char b = (unsigned char)kw->word[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    return n < kw->len ? -1 : n > kw->len;
}

/* Per first letter: where its keywords are in the sorted table, and which
 * lengths occur. Most words of a statement are names, not keywords; this
 * turns most of them away with one mask test instead of a bisection. */
static struct {
    uint16_t lo, hi;
    uint32_t lengths; /* bit n: a keyword of n letters */
} kw_index[26];
static pthread_once_t kw_index_once = PTHREAD_ONCE_INIT;

static void kw_index_build(void)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        int c = keywords[i].word[0] - 'A';
        if (kw_index[c].lengths == 0)
            kw_index[c].lo = (uint16_t)i;
        kw_index[c].hi = (uint16_t)(i + 1);
        kw_index[c].lengths |= 1u << keywords[i].len;
    }
}

static const struct keyword *find_keyword(const char *s, size_t n)
{
    if (n > 19) /* longer than SQL_CALC_FOUND_ROWS: skips long identifiers at once */
        return NULL;
    unsigned char c = upper((unsigned char)s[0]);
    if (c < 'A' || c > 'Z')
        return NULL;
    pthread_once(&kw_index_once, kw_index_build);
    if (!(kw_index[c - 'A'].lengths & (1u << n)))
        return NULL;
    size_t lo = kw_index[c - 'A'].lo, hi = kw_index[c - 'A'].hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keyword_cmp(s, n, &keywords[mid]);
        if (c == 0)
            return &keywords[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Skips whitespace and comments from i; sets *any when it skipped some. */
static size_t skip_blank(const char *s, size_t end, size_t i, bool *any)
{
    while (i < end) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c)) {
            i++;
        } else if (c == '/' && i + 1 < end && s[i + 1] == '*') {
            i += 2;
            while (i < end && !(s[i] == '*' && i + 1 < end && s[i + 1] == '/'))
                i++;
            i = i < end ? i + 2 : end;
        } else if (c == '#' || (c == '-' && i + 2 < end && s[i + 1] == '-' &&
                                is_space((unsigned char)s[i + 2]))) {
            while (i < end && s[i] != '\n')
                i++;
        } else {
            break;
        }
        *any = true;
    }
    return i;
}

/* Returns the index after the string or backquoted name whose opening quote
 * is at i; the end of the input when it is unterminated. */
static size_t skip_quoted(const char *s, size_t end, size_t i)
{
    char q = s[i];
    i++;
    while (i < end) {
        if (s[i] == '\\' && q != '`') {
            i += 2;
            continue;
        }
        if (s[i] == q) {
            if (i + 1 < end && s[i + 1] == q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return end;
}

/* Scans a number starting at i (a digit, or '.' then a digit). Returns
 * false when the bytes are an identifier that starts with digits instead. */
static bool scan_number(const char *s, size_t end, size_t i, size_t *after)
{
    if (s[i] == '0' && i + 1 < end &&
        (upper((unsigned char)s[i + 1]) == 'X' || upper((unsigned char)s[i + 1]) == 'B')) {
        bool hex = upper((unsigned char)s[i + 1]) == 'X';
        size_t j = i + 2;
        while (j < end && (hex ? is_hex((unsigned char)s[j]) : (s[j] == '0' || s[j] == '1')))
            j++;
        if (j > i + 2 && (j == end || !is_word((unsigned char)s[j]))) {
            *after = j;
            return true;
        }
        /* 0xZZ, 0b12: fall through; the word test below calls it a name. */
    }
    bool dot = false;
    while (i < end && is_digit((unsigned char)s[i]))
        i++;
    if (i < end && s[i] == '.') {
        dot = true;
        i++;
        while (i < end && is_digit((unsigned char)s[i]))
            i++;
    }
    if (i < end && upper((unsigned char)s[i]) == 'E') {
        size_t j = i + 1;
        if (j < end && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < end && is_digit((unsigned char)s[j])) {
            while (j < end && is_digit((unsigned char)s[j]))
                j++;
            i = j;
        }
    }
    /* "2fa_codes" is a name; after a '.' MySQL ends the number there. */
    if (!dot && i < end && is_word((unsigned char)s[i]))
        return false;
    *after = i;
    return true;
}

static bool number_starts(const char *s, size_t end, size_t i)
{
    return i < end && (is_digit((unsigned char)s[i]) ||
                       (s[i] == '.' && i + 1 < end && is_digit((unsigned char)s[i + 1])));
}

/* A word at [start, i): a keyword, an identifier, or the prefix of a
 * literal (X'..', B'..', N'..', _charset'..', DATE '..'). */
static void scan_word(const struct lexer *lx, size_t start, struct token *t)
{
    const char *s = lx->s;
    size_t end = lx->end, i = start;
    while (i < end && is_word((unsigned char)s[i]))
        i++;
    size_t n = i - start;
    t->kind = TK_WORD;
    t->end = i;
    t->kw = NULL;
    if (i < end && (s[i] == '\'' || s[i] == '"') &&
        (s[start] == '_' || (n == 1 && (upper((unsigned char)s[start]) == 'X' ||
                                        upper((unsigned char)s[start]) == 'B' ||
                                        upper((unsigned char)s[start]) == 'N')))) {
        t->kind = TK_LITERAL;
        t->end = skip_quoted(s, end, i);
        return;
    }
    unsigned char c0 = upper((unsigned char)s[start]);
    if (((n == 4 && (c0 == 'D' || c0 == 'T')) || (n == 9 && c0 == 'T')) &&
        (word_is(s + start, n, "DATE") || word_is(s + start, n, "TIME") ||
         word_is(s + start, n, "TIMESTAMP"))) {
        size_t j = i;
        while (j < end && is_space((unsigned char)s[j]))
            j++;
        if (j < end && (s[j] == '\'' || s[j] == '"')) {
            t->kind = TK_LITERAL;
            t->end = skip_quoted(s, end, j);
            return;
        }
    }
    /* After "t." or "@@" a word is a name even when it spells a keyword. */
    if (!t->space_before && (lx->prev_op == '.' || lx->prev_op == '@'))
        return;
    t->kw = find_keyword(s + start, n);
}

/* Reads the next token into *t and advances lx past it. */
static void next_token(struct lexer *lx, struct token *t)
{
    const char *s = lx->s;
    size_t end = lx->end;
    bool space = false;
    size_t i = skip_blank(s, end, lx->pos, &space);

    t->space_before = space;
    t->start = i;
    t->kw = NULL;
    if (i >= end) {
        t->kind = TK_END;
        t->end = end;
        lx->pos = end;
        return;
    }
    unsigned char c = (unsigned char)s[i];
    size_t after;
    t->kind = TK_OP;
    t->end = i + 1;
    if (c == '\'' || c == '"') {
        t->kind = TK_LITERAL;
        t->end = skip_quoted(s, end, i);
    } else if (c == '`') {
        t->kind = TK_QIDENT;
        t->end = skip_quoted(s, end, i);
    } else if (c == '(') {
        t->kind = TK_LPAREN;
    } else if (c == ')') {
        t->kind = TK_RPAREN;
    } else if (c == ',') {
        t->kind = TK_COMMA;
    } else if (c == ';') {
        t->kind = TK_SEMI;
    } else if (c == '?') {
        t->kind = TK_LITERAL;
    } else if (is_digit(c)) {
        if (scan_number(s, end, i, &after)) {
            t->kind = TK_LITERAL;
            t->end = after;
        } else {
            scan_word(lx, i, t);
        }
    } else if (c == '.') {
        /* "t.5x" is a qualified name, ". 5" or "= .5" a number. */
        if (number_starts(s, end, i) && !(lx->prev_operand && !space) &&
            scan_number(s, end, i, &after)) {
            t->kind = TK_LITERAL;
            t->end = after;
        }
    } else if (c == '-' || c == '+') {
        if (!lx->prev_operand && number_starts(s, end, i + 1) &&
            scan_number(s, end, i + 1, &after)) {
            t->kind = TK_LITERAL;
            t->end = after;
        }
    } else if (is_word(c)) {
        scan_word(lx, i, t);
    }
    lx->pos = t->end;
    lx->prev_op = t->kind == TK_OP ? s[t->start] : 0;
    switch (t->kind) {
    case TK_WORD:
        lx->prev_operand = t->kw == NULL || (t->kw->flags & KW_OPERAND);
        break;
    case TK_QIDENT:
    case TK_LITERAL:
    case TK_RPAREN:
        lx->prev_operand = true;
        break;
    default:
        lx->prev_operand = false;
        break;
    }
}

static void put(struct emitter *em, char c)
{
    if (em->written < em->cap)
        em->out[em->written++] = c;
    em->total++;
    em->hash = (em->hash ^ (unsigned char)c) * FNV64_PRIME;
}

static void put_str(struct emitter *em, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(em, s[i]);
}

/* Emits the separating space the rules allow, then records the kind. */
static void emit_space(struct emitter *em, enum tok_kind kind, bool space_before)
{
    if (space_before && em->total > 0 && em->last != TK_LPAREN && em->last != TK_COMMA &&
        kind != TK_COMMA && kind != TK_RPAREN)
        put(em, ' ');
    em->last = kind;
}

static void emit_token(struct emitter *em, const char *s, const struct token *t)
{
    emit_space(em, t->kind, t->space_before);
    if (t->kind == TK_LITERAL)
        put(em, '?');
    else if (t->kind == TK_WORD && t->kw)
        put_str(em, t->kw->word, t->kw->len);
    else
        put_str(em, s + t->start, t->end - t->start);
}

/* After IN: when a '(' follows holding only literals, ',' and nested
 * parentheses, moves lx past its ')' (or to the end) and returns true.
 * Leaves lx alone otherwise. */
static bool skip_literal_list(struct lexer *lx)
{
    struct lexer la = *lx;
    struct token t;
    bool literal = false;
    size_t depth = 1;

    next_token(&la, &t);
    if (t.kind != TK_LPAREN)
        return false;
    while (depth > 0) {
        next_token(&la, &t);
        switch (t.kind) {
        case TK_LITERAL:
            literal = true;
            break;
        case TK_COMMA:
            break;
        case TK_LPAREN:
            depth++;
            break;
        case TK_RPAREN:
            depth--;
            break;
        case TK_END:
            depth = 0;
            break;
        default:
            return false;
        }
    }
    if (!literal)
        return false;
    *lx = la;
    return true;
}

/* After INSERT's VALUES: when '(' follows, moves lx past the list of
 * parenthesized tuples "(...), (...)" and returns true. */
static bool skip_tuple_list(struct lexer *lx)
{
    struct lexer la = *lx;
    struct token t;

    next_token(&la, &t);
    if (t.kind != TK_LPAREN)
        return false;
    for (;;) {
        size_t depth = 1;
        while (depth > 0) {
            next_token(&la, &t);
            if (t.kind == TK_LPAREN) {
                depth++;
            } else if (t.kind == TK_RPAREN) {
                depth--;
            } else if (t.kind == TK_END) {
                *lx = la;
                return true;
            }
        }
        struct lexer peek = la;
        next_token(&peek, &t);
        if (t.kind != TK_COMMA)
            break;
        next_token(&peek, &t);
        if (t.kind != TK_LPAREN)
            break;
        la = peek;
    }
    *lx = la;
    return true;
}

size_t router_digest(const char *sql, size_t len, char *out, size_t outcap, size_t max_len,
                     uint64_t *hash)
{
    struct lexer lx = {.s = sql, .end = len};
    struct emitter em = {.out = out, .cap = outcap ? outcap - 1 : 0, .hash = FNV64_OFFSET};
    size_t semis = 0;
    bool semi_space = false;
    struct token t;

    if (max_len && max_len < len)
        lx.end = max_len;
    em.last = TK_END;
    for (;;) {
        bool after_value = lx.prev_operand;
        enum tok_kind before = em.last;
        next_token(&lx, &t);
        if (t.kind == TK_END)
            break;
        if (t.kind == TK_SEMI) {
            if (semis++ == 0)
                semi_space = t.space_before;
            continue;
        }
        /* Semicolons followed by more text are statement separators: keep. */
        for (; semis > 0; semis--) {
            emit_space(&em, TK_SEMI, semi_space);
            put(&em, ';');
            semi_space = false;
            before = TK_SEMI;
        }
        emit_token(&em, sql, &t);
        if (t.kind != TK_WORD || !t.kw)
            continue;
        bool collapse = false;
        if (t.kw->flags & KW_IN)
            collapse = skip_literal_list(&lx);
        else if ((t.kw->flags & KW_VALUES) && (after_value || before == TK_WORD))
            collapse = skip_tuple_list(&lx);
        if (collapse) {
            put_str(&em, " (...)", 6);
            em.last = TK_RPAREN;
            lx.prev_operand = true;
        }
    }
    if (outcap)
        out[em.written] = '\0';
    if (hash)
        *hash = em.hash;
    return em.written;
}
