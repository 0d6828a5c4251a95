/*
 * Admin module internals shared by store.c (the SQLite file, its schema and
 * the one-time config script) and config.c (the snapshot built from it).
 * Other admin files (the admin SQL listener, LOAD/SAVE) may include this to
 * reach the SQLite handle; nothing outside admin/ should.
 */
#ifndef SLUICE_ADMIN_ADMIN_INT_H
#define SLUICE_ADMIN_ADMIN_INT_H

#include "admin/admin.h"

#include <sqlite3.h>
#include <stdarg.h>

struct admin_store {
    sqlite3 *db; /* open for the store's lifetime; main thread only */
    char *path;  /* datadir/sluice.db, malloc'd */
};

/* Formats a message into errbuf; a NULL errbuf or zero errlen is ignored so
 * callers need not check. Never pass a password as an argument. */
void admin_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Inserts the default global_variables rows that are missing (INSERT OR
 * IGNORE), so a config script only overrides what it names and a store
 * created by an older version gains new variables on open. The defaults live
 * in config.c next to their parsers so the two cannot drift apart. Returns 0
 * or ADMIN_ESQL with a message in errbuf. Defined in config.c. */
int admin_globals_prefill(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads active mysql_query_rules rows and compiles them into cfg->rules
 * (rules.c). Returns 0 or ADMIN_E* with a message. */
int admin_load_rules(sqlite3 *db, struct admin_config *cfg, char *errbuf, size_t errlen);

#endif
