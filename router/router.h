/*
 * Router: the routing decision for one statement. Pure code: query text and
 * session facts in, decision out; no sockets, no SQLite, no logging, no
 * globals, so tests call it with a string.
 *
 * In this first version every statement goes to the user's default
 * hostgroup (the rule engine over mysql_query_rules comes later); the router
 * also reports the statement facts the session needs to decide about
 * multiplexing that the server's session tracking does not tell (named
 * locks, LOCK TABLES) and statements that ask about the previous one
 * (SHOW WARNINGS, FOUND_ROWS()).
 */
#ifndef SLUICE_ROUTER_ROUTER_H
#define SLUICE_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

/* Compiled rule set shared by workers; NULL means "no rules". */
struct router_rules;

struct router_facts {
    const char *user;
    const char *schema;
    int default_hostgroup;
    bool in_transaction;
};

/* Statement flags found by scanning the text (outside comments and quotes). */
#define ROUTER_STMT_NAMED_LOCK 0x01u  /* GET_LOCK(...): lock lives on the connection */
#define ROUTER_STMT_LOCK_TABLES 0x02u /* LOCK TABLE(S) ... */
#define ROUTER_STMT_UNLOCK_TABLES 0x04u
#define ROUTER_STMT_ASKS_PREVIOUS 0x08u  /* SHOW WARNINGS/ERRORS, @@warning_count, FOUND_ROWS() */
#define ROUTER_STMT_LAST_INSERT_ID 0x10u /* LAST_INSERT_ID(), @@identity, @@last_insert_id */

struct router_decision {
    int hostgroup;
    unsigned stmt_flags;
};

/* Decides where (rules, facts, sql) goes. rules may be NULL. sql is not
 * NUL-terminated. Returns 0. Allocates nothing. */
int router_classify(const struct router_rules *rules, const struct router_facts *facts,
                    const char *sql, size_t len, struct router_decision *out);

/* The statement flags alone (exposed for tests and for COM_STMT_PREPARE). */
unsigned router_stmt_flags(const char *sql, size_t len);

#endif
