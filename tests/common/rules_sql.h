/*
 * A small, strict reader of mysql_query_rules INSERT statements, so that tests
 * and benchmarks use configs/rw-split.sql itself, not a copy of its rules.
 *
 * Accepted text, and nothing else (keywords in any case):
 *
 *     file      := { whitespace | "--" comment to end of line | insert }
 *     insert    := INSERT INTO mysql_query_rules ( column { , column } )
 *                  VALUES tuple { , tuple } ;
 *     tuple     := ( value { , value } )          one value per column
 *     value     := NULL | [-]digits | 'text with '' for a quote'
 *
 * Strings are SQLite's: a backslash is an ordinary byte, so regexes read as
 * they are written. Columns are those of struct router_rule_spec under their
 * store names (rule_id, active, username, schemaname, flagIN, client_addr,
 * digest, match_digest, match_pattern, negate_match_pattern, re_modifiers,
 * flagOUT, replace_pattern, destination_hostgroup, cache_ttl, timeout,
 * retries, delay, error_msg, OK_msg, multiplex, apply, log, comment);
 * integer columns take integers or NULL, text columns text or NULL. Columns
 * left out get the store's defaults (active 0, flagIN 0,
 * negate_match_pattern 0, re_modifiers 'CASELESS', apply 0, others NULL).
 */
#ifndef SLUICE_TESTS_COMMON_RULES_SQL_H
#define SLUICE_TESTS_COMMON_RULES_SQL_H

#include "router/router.h"

#include <stddef.h>

struct rules_sql {
    struct router_rule_spec *specs; /* in file order */
    size_t n;
    char *text; /* the file's text: the specs' strings point into it */
};

/* Parses text (NUL-terminated; copied) into *out. On any deviation from the
 * grammar returns -1 with a message naming the line in err and *out empty;
 * 0 on success. Free with rules_sql_free(). */
int rules_sql_parse(const char *text, struct rules_sql *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* rules_sql_parse() on the contents of the file at path. */
int rules_sql_load(const char *path, struct rules_sql *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void rules_sql_free(struct rules_sql *rs);

/* A rule with every column at the store's default (see above), rule_id 0 and inactive. */
struct router_rule_spec rules_sql_defaults(void);

#endif
