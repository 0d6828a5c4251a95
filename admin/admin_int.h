/*
 * Admin module internals shared by store.c (opening the store, the one-time
 * config script), layers.c (table definitions and copies between MEMORY,
 * RUNTIME and DISK), config.c and rules.c (the snapshot built from the
 * tables), exec.c (the admin statements) and stats_tables.c (the stats
 * tables computed when queried). Nothing outside admin/ should
 * include this.
 */
#ifndef SLUICE_ADMIN_ADMIN_INT_H
#define SLUICE_ADMIN_ADMIN_INT_H

#include "admin/admin.h"

#include <sqlite3.h>
#include <stdarg.h>

/* How much of a failing statement is quoted in an error message. */
#define ADMIN_EXCERPT_MAX 60

struct admin_store {
    sqlite3 *db; /* MEMORY as main, DISK attached as disk; one thread only */
    char *path;  /* datadir/sluice.db, malloc'd */
    /* Set by the authorizer when it refuses a statement, so the error can say
     * why instead of SQLite's bare "not authorized". */
    char deny_reason[160];
    /* What SQL's VERSION() answers: a copy, since the snapshot it comes
     * from may be freed while the function stays registered. */
    char version[64];
    bool functions_ready;         /* DATABASE(), USER()... registered (exec.c) */
    struct admin_sources sources; /* what the stats tables show (stats_tables.c) */
    /* ADMIN_STATS_* bits of the stats tables the statement being prepared
     * reads, noted by exec.c's authorizer. */
    unsigned stats_read;
};

/* The layers; each maps to a table-name prefix (see admin_layer_prefix). */
enum admin_layer {
    ADMIN_LAYER_MEMORY,  /* main.<table> */
    ADMIN_LAYER_RUNTIME, /* main.runtime_<table> */
    ADMIN_LAYER_DISK,    /* disk.<table> */
};

/* Formats a message into errbuf; a NULL errbuf or zero errlen is ignored so
 * callers need not check. Never pass a password as an argument. */
void admin_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns a pointer past blanks and SQL comments (-- and block comments). */
const char *admin_skip_blank(const char *p);

/* Copies the start of a statement into out (at most ADMIN_EXCERPT_MAX
 * characters plus "..."), on one line, stopping at the first quote so no
 * literal (possibly a password) is ever quoted. */
void admin_excerpt(const char *stmt, char *out, size_t outlen);

/* SQLite echoes the offending token in syntax errors; when that token is a
 * string literal it may be a password, so this returns a description
 * instead. Other messages are returned unchanged. */
const char *admin_safe_sqlite_msg(const char *msg);

/* Inserts the default global_variables rows that are missing (INSERT OR
 * IGNORE) into MEMORY, so a config script only overrides what it names and a
 * store created by an older version gains new variables on open. The defaults
 * live in config.c next to their parsers so the two cannot drift apart.
 * Returns 0 or ADMIN_ESQL with a message in errbuf. Defined in config.c. */
int admin_globals_prefill(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The built-in default of a global variable, or NULL if unknown (config.c). */
const char *admin_global_default(const char *name);

/* Reads active rows of <prefix>mysql_query_rules (prefix "main." or
 * "main.runtime_") and compiles them into cfg->rules (rules.c). Returns 0 or
 * ADMIN_E* with a message. */
int admin_load_rules(sqlite3 *db, const char *prefix, struct admin_config *cfg, char *errbuf,
                     size_t errlen) __attribute__((warn_unused_result));

/* Table-name prefix of a layer: "main.", "main.runtime_" or "disk.". */
const char *admin_layer_prefix(enum admin_layer layer);

/* Creates the admin tables of a layer if they do not exist (layers.c). */
int admin_layer_create(sqlite3 *db, enum admin_layer layer, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Replaces the tables of the modules in mods in layer `to` by those of layer
 * `from`, inside one savepoint (all or nothing). global_variables is copied
 * whole when both variable modules are in mods, else only the rows of the
 * module's prefix. Adds the number of rows copied to *rows if not NULL.
 * After a copy into MEMORY the missing default variables are filled in
 * again. Returns 0 or ADMIN_ESQL with a message (layers.c). */
int admin_layer_copy(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                     uint64_t *rows, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* LOAD <mods> TO RUNTIME: builds a snapshot with mods from MEMORY and the
 * rest from runtime_*, and only if it validates copies mods' MEMORY tables to
 * runtime_*; all inside one savepoint. Returns 0 and the snapshot in *out, or
 * a negative code with nothing changed (layers.c). */
int admin_layer_to_runtime(struct admin_store *store, unsigned mods, struct admin_config **out,
                           char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The stats tables a statement reads, as ADMIN_STATS_* bits (stats_tables.c). */
#define ADMIN_STATS_DIGEST 0x01u        /* stats_mysql_query_digest */
#define ADMIN_STATS_DIGEST_RESET 0x02u  /* stats_mysql_query_digest_reset */
#define ADMIN_STATS_POOL 0x04u          /* stats_mysql_connection_pool */
#define ADMIN_STATS_ADVISOR 0x100u      /* stats_mysql_pool_advisor */
#define ADMIN_STATS_PIN_REASONS 0x08u   /* stats_mysql_pin_reasons */
#define ADMIN_STATS_PIN_DIGESTS 0x10u   /* stats_mysql_pin_digests */
#define ADMIN_STATS_MULTIPLEXING 0x20u  /* stats_mysql_multiplexing */
#define ADMIN_STATS_QUERY_RULES 0x200u  /* stats_mysql_query_rules */
#define ADMIN_STATS_GLOBAL 0x400u       /* stats_mysql_global */
#define ADMIN_STATS_COMMANDS 0x800u     /* stats_mysql_commands_counters */
#define ADMIN_STATS_PROCESSLIST 0x1000u /* stats_mysql_processlist */
#define ADMIN_STATS_PROXY                                                                          \
    (ADMIN_STATS_QUERY_RULES | ADMIN_STATS_GLOBAL | ADMIN_STATS_COMMANDS | ADMIN_STATS_PROCESSLIST)

/* Creates the stats tables in MEMORY if they do not exist (stats_tables.c). */
int admin_stats_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The ADMIN_STATS_* bit of a stats table name (no schema), or 0. */
unsigned admin_stats_table(const char *name);

/* Replaces the rows of the stats tables in mask by the sources' current
 * figures, inside one savepoint (all or nothing; works inside an operator's
 * transaction). ADMIN_STATS_DIGEST_RESET also resets the digest counters,
 * even when writing the rows then fails. Returns 0 or a negative ADMIN_E*
 * code with a message (stats_tables.c). */
int admin_stats_refresh(struct admin_store *store, unsigned mask, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Creates the table definitions and fills the tables fed by
 * admin_sources.proxy_stats (stats_proxy.c): the ADMIN_STATS_PROXY bits of
 * mask. Same contract as admin_stats_refresh, inside its savepoint. */
int admin_stats_proxy_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
unsigned admin_stats_proxy_table(const char *name);
int admin_stats_proxy_fill(sqlite3 *db, const struct admin_sources *src, unsigned mask,
                           char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The monitor log tables (monitor_log.c): created in MEMORY at open;
 * admin_monitor_table() tells the authorizer which names to protect. */
int admin_monitor_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
bool admin_monitor_table(const char *name);

/* True if name (in any schema) is one of the admin tables or their runtime_
 * mirrors; *runtime tells which (layers.c). */
bool admin_table_known(const char *name, bool *runtime);

#endif
