/*
 * Statement scanning for the routing decision. The scanner walks the text
 * once, skipping comments and quoted strings, and matches a few keywords
 * case-insensitively at token starts. Work is bounded by the text length.
 */
#include "router/router.h"

#include <ctype.h>
#include <string.h>

static bool word_at(const char *s, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (i + n > len)
        return false;
    for (size_t k = 0; k < n; k++)
        if (tolower((unsigned char)s[i + k]) != word[k])
            return false;
    if (i + n < len && (isalnum((unsigned char)s[i + n]) || s[i + n] == '_'))
        return false;
    return true;
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
    while (i < len && isspace((unsigned char)s[i]))
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
    if ((c == '-' && i + 2 < len && s[i + 1] == '-' && isspace((unsigned char)s[i + 2])) ||
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
        if (isalpha(c) || c == '_' || c == '@') {
            bool at_start = i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' ||
                                        s[i - 1] == '@' || s[i - 1] == '.');
            if (at_start) {
                if (first_word) {
                    if (word_at(s, len, i, "lock")) {
                        size_t k = skip_space(s, len, i + 4);
                        if (word_at(s, len, k, "tables") || word_at(s, len, k, "table"))
                            flags |= ROUTER_STMT_LOCK_TABLES;
                    } else if (word_at(s, len, i, "unlock")) {
                        flags |= ROUTER_STMT_UNLOCK_TABLES;
                    } else if (word_at(s, len, i, "show")) {
                        size_t k = skip_space(s, len, i + 4);
                        if (word_at(s, len, k, "warnings") || word_at(s, len, k, "errors") ||
                            word_at(s, len, k, "count"))
                            flags |= ROUTER_STMT_ASKS_PREVIOUS;
                    }
                    first_word = false;
                }
                if (word_at(s, len, i, "last_insert_id") || word_at(s, len, i, "@@identity") ||
                    word_at(s, len, i, "@@last_insert_id") ||
                    word_at(s, len, i, "@@session.last_insert_id")) {
                    flags |= ROUTER_STMT_LAST_INSERT_ID;
                } else if (word_at(s, len, i, "get_lock")) {
                    size_t k = skip_space(s, len, i + 8);
                    if (k < len && s[k] == '(')
                        flags |= ROUTER_STMT_NAMED_LOCK;
                } else if (word_at(s, len, i, "found_rows") ||
                           word_at(s, len, i, "@@warning_count") ||
                           word_at(s, len, i, "@@error_count") ||
                           word_at(s, len, i, "@@session.warning_count")) {
                    flags |= ROUTER_STMT_ASKS_PREVIOUS;
                }
            }
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '@' ||
                               s[i] == '.' || s[i] == '$'))
                i++;
            continue;
        }
        i++;
    }
    return flags;
}
