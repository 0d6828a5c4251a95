/*
 * What a client's collation id means on the servers: the character set and
 * collation a MariaDB server gives a connection whose handshake (or
 * COM_CHANGE_USER) names that id, so a session gets through Sluice what it
 * would get connected directly. The table, collations.inc, is data
 * generated from a running MariaDB 10.11 by gen_collations.sh (which says
 * how) and sorted by id, so a lookup is a binary search.
 *
 * MariaDB's rules, which the callers follow: an id the server does not know
 * (0, MySQL 8's 255, a gap) leaves the server's defaults (the global
 * character_set_client, character_set_results and collation_connection);
 * an id of a character set the parser cannot read (ucs2, utf16, utf16le,
 * utf32, filename) refuses the login with 1231.
 */
#include "proxy/proxy_int.h"

#include <string.h>

static const struct collation table[] = {
#include "proxy/collations.inc"
};

const struct collation *collation_by_id(unsigned id)
{
    size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (table[mid].id == id)
            return &table[mid];
        if (table[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *collation_default_of(const char *charset, size_t len)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].is_default && strlen(table[i].charset) == len &&
            memcmp(table[i].charset, charset, len) == 0)
            return table[i].name;
    return NULL;
}

bool collation_client_ok(const struct collation *c)
{
    /* MariaDB's is_supported_parser_charset(): one byte per ASCII
     * character (mbminlen 1), and not the internal filename set. */
    static const char *const refused[] = {"ucs2", "utf16", "utf16le", "utf32", "filename"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (strcmp(c->charset, refused[i]) == 0)
            return false;
    return true;
}
