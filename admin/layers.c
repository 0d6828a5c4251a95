/*
 * The three configuration layers as SQLite tables, and the copies between them.
 *
 * One SQLite connection holds every layer: MEMORY is its main database
 * (":memory:"), RUNTIME is MEMORY's runtime_<table> mirror of each admin table,
 * and DISK is datadir/sluice.db attached as schema `disk`. Every layer's tables
 * are created from the one definition below, so a copy between layers is a
 * DELETE plus INSERT ... SELECT * and the columns always line up. Because all
 * layers live in one connection, a copy (or LOAD TO RUNTIME: build, validate,
 * copy) runs in one savepoint and is all or nothing, also across the memory
 * database and the file.
 *
 * A module owns tables: MYSQL SERVERS owns mysql_servers and
 * mysql_replication_hostgroups, MYSQL USERS mysql_users, MYSQL QUERY RULES
 * mysql_query_rules; the two variable modules share global_variables and own
 * the rows named mysql-* and admin-* respectively.
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <string.h>

struct table {
    const char *name;
    unsigned mods;   /* ADMIN_MOD_* bits of the modules stored in it */
    const char *key; /* primary key columns: the order of rows in versions and diffs */
    const char *columns;
};

/*
 * Table definitions follow ProxySQL 2.x (mysql_servers 2.0.11, mysql_users and
 * mysql_query_rules 2.1.0, mysql_replication_hostgroups 2.0.0) so scripts and
 * partial-column INSERTs written for ProxySQL get the same defaults here.
 * JSON_VALID needs SQLite >= 3.38 (JSON built in) or the JSON1 extension.
 * A store file written before the layers existed has exactly these tables in
 * its main schema, so it opens unchanged as the DISK layer.
 */
static const struct table tables[] = {
    {"mysql_servers", ADMIN_MOD_SERVERS, "hostgroup_id,hostname,port",
     "hostgroup_id INT CHECK (hostgroup_id>=0) NOT NULL DEFAULT 0,"
     " hostname VARCHAR NOT NULL,"
     " port INT CHECK (port >= 0 AND port <= 65535) NOT NULL DEFAULT 3306,"
     " gtid_port INT CHECK ((gtid_port <> port OR gtid_port=0) AND gtid_port >= 0"
     "  AND gtid_port <= 65535) NOT NULL DEFAULT 0,"
     " status VARCHAR CHECK (UPPER(status) IN"
     "  ('ONLINE','SHUNNED','OFFLINE_SOFT','OFFLINE_HARD')) NOT NULL DEFAULT 'ONLINE',"
     " weight INT CHECK (weight >= 0 AND weight <= 10000000) NOT NULL DEFAULT 1,"
     " compression INT CHECK (compression IN (0,1)) NOT NULL DEFAULT 0,"
     " max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 1000,"
     " max_replication_lag INT CHECK (max_replication_lag >= 0"
     "  AND max_replication_lag <= 126144000) NOT NULL DEFAULT 0,"
     " use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,"
     " max_latency_ms INT UNSIGNED CHECK (max_latency_ms >= 0) NOT NULL DEFAULT 0,"
     " comment VARCHAR NOT NULL DEFAULT '',"
     " PRIMARY KEY (hostgroup_id, hostname, port)"},
    {"mysql_users", ADMIN_MOD_USERS, "username,backend",
     "username VARCHAR NOT NULL,"
     " password VARCHAR,"
     " active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 1,"
     " use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,"
     " default_hostgroup INT NOT NULL DEFAULT 0,"
     " default_schema VARCHAR,"
     " schema_locked INT CHECK (schema_locked IN (0,1)) NOT NULL DEFAULT 0,"
     " transaction_persistent INT CHECK (transaction_persistent IN (0,1)) NOT NULL DEFAULT 1,"
     " fast_forward INT CHECK (fast_forward IN (0,1)) NOT NULL DEFAULT 0,"
     " backend INT CHECK (backend IN (0,1)) NOT NULL DEFAULT 1,"
     " frontend INT CHECK (frontend IN (0,1)) NOT NULL DEFAULT 1,"
     " max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 10000,"
     " attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '')"
     "  NOT NULL DEFAULT '',"
     " comment VARCHAR NOT NULL DEFAULT '',"
     " max_backend_connections INT CHECK (max_backend_connections >= 0) NOT NULL DEFAULT 0,"
     " PRIMARY KEY (username, backend),"
     " UNIQUE (username, frontend)"},
    {"mysql_query_rules", ADMIN_MOD_RULES, "rule_id",
     "rule_id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
     " active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 0,"
     " username VARCHAR,"
     " schemaname VARCHAR,"
     " flagIN INT CHECK (flagIN >= 0) NOT NULL DEFAULT 0,"
     " client_addr VARCHAR,"
     " proxy_addr VARCHAR,"
     " proxy_port INT CHECK (proxy_port >= 0 AND proxy_port <= 65535),"
     " digest VARCHAR,"
     " match_digest VARCHAR,"
     " match_pattern VARCHAR,"
     " negate_match_pattern INT CHECK (negate_match_pattern IN (0,1)) NOT NULL DEFAULT 0,"
     " re_modifiers VARCHAR DEFAULT 'CASELESS',"
     " flagOUT INT CHECK (flagOUT >= 0),"
     " replace_pattern VARCHAR CHECK (CASE WHEN replace_pattern IS NULL THEN 1"
     "  WHEN replace_pattern IS NOT NULL AND match_pattern IS NOT NULL THEN 1 ELSE 0 END),"
     " destination_hostgroup INT DEFAULT NULL,"
     " cache_ttl INT CHECK (cache_ttl > 0),"
     " cache_empty_result INT CHECK (cache_empty_result IN (0,1)) DEFAULT NULL,"
     " cache_timeout INT CHECK (cache_timeout >= 0),"
     " reconnect INT CHECK (reconnect IN (0,1)) DEFAULT NULL,"
     " timeout INT UNSIGNED CHECK (timeout >= 0),"
     " retries INT CHECK (retries >= 0 AND retries <= 1000),"
     " delay INT UNSIGNED CHECK (delay >= 0),"
     " next_query_flagIN INT UNSIGNED,"
     " mirror_flagOUT INT UNSIGNED,"
     " mirror_hostgroup INT UNSIGNED,"
     " error_msg VARCHAR,"
     " OK_msg VARCHAR,"
     " sticky_conn INT CHECK (sticky_conn IN (0,1)),"
     " multiplex INT CHECK (multiplex IN (0,1,2)),"
     " gtid_from_hostgroup INT UNSIGNED,"
     " log INT CHECK (log IN (0,1)),"
     " apply INT CHECK (apply IN (0,1)) NOT NULL DEFAULT 0,"
     " attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '')"
     "  NOT NULL DEFAULT '',"
     " comment VARCHAR"},
    /* Sluice's: queries with the routing they must get, checked at every
     * LOAD MYSQL QUERY RULES TO RUNTIME (ruletests.c). */
    {"mysql_query_rules_tests", ADMIN_MOD_RULES, "test_id",
     "test_id INTEGER PRIMARY KEY NOT NULL,"
     " active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 1,"
     " username VARCHAR,"
     " schemaname VARCHAR,"
     " query VARCHAR NOT NULL,"
     " expected_hostgroup INT,"
     " expected_error VARCHAR,"
     " comment VARCHAR"},
    {"mysql_replication_hostgroups", ADMIN_MOD_SERVERS, "writer_hostgroup",
     "writer_hostgroup INT CHECK (writer_hostgroup >= 0) NOT NULL PRIMARY KEY,"
     " reader_hostgroup INT NOT NULL CHECK (reader_hostgroup <> writer_hostgroup"
     "  AND reader_hostgroup >= 0),"
     " check_type VARCHAR CHECK (LOWER(check_type) IN ('read_only','innodb_read_only',"
     "  'super_read_only','read_only|innodb_read_only','read_only&innodb_read_only'))"
     "  NOT NULL DEFAULT 'read_only',"
     " comment VARCHAR NOT NULL DEFAULT '',"
     " UNIQUE (reader_hostgroup)"},
    {"global_variables", ADMIN_MOD_VARIABLES | ADMIN_MOD_ADMIN_VARIABLES, "variable_name",
     "variable_name VARCHAR NOT NULL PRIMARY KEY,"
     " variable_value VARCHAR NOT NULL"},
};

#define N_TABLES (sizeof(tables) / sizeof(tables[0]))
#define VAR_MODS (ADMIN_MOD_VARIABLES | ADMIN_MOD_ADMIN_VARIABLES)

static const char *rows_of(const struct table *t, unsigned mods);

static const char *const layer_names[] = {"MEMORY", "RUNTIME", "DISK"};

const char *admin_layer_prefix(enum admin_layer layer)
{
    switch (layer) {
    case ADMIN_LAYER_MEMORY:
        return "main.";
    case ADMIN_LAYER_RUNTIME:
        return "main.runtime_";
    case ADMIN_LAYER_DISK:
        return "disk.";
    }
    return "main.";
}

bool admin_table_known(const char *name, bool *runtime)
{
    bool rt = strncmp(name, "runtime_", 8) == 0;

    for (size_t i = 0; i < N_TABLES; i++) {
        if (strcmp(rt ? name + 8 : name, tables[i].name) == 0) {
            if (runtime)
                *runtime = rt;
            return true;
        }
    }
    return false;
}

/* Runs one internal statement built with sqlite3_mprintf (which may return
 * NULL on OOM); adds its changes to *rows. */
static int run(sqlite3 *db, char *sql, uint64_t *rows, char *errbuf, size_t errlen,
               const char *what)
{
    char *emsg = NULL;
    int rc = 0;

    if (!sql) {
        admin_set_error(errbuf, errlen, "%s: out of memory", what);
        return ADMIN_ENOMEM;
    }
    if (sqlite3_exec(db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "%s: %s", what,
                        admin_safe_sqlite_msg(emsg ? emsg : sqlite3_errmsg(db)));
        rc = ADMIN_ESQL;
    } else if (rows) {
        *rows += (uint64_t)sqlite3_changes(db);
    }
    sqlite3_free(emsg);
    sqlite3_free(sql);
    return rc;
}

/* A savepoint works both outside a transaction (it then begins one) and
 * inside an admin session's own BEGIN, so callers need not know which. */
static int sp_begin(sqlite3 *db, char *errbuf, size_t errlen)
{
    return run(db, sqlite3_mprintf("SAVEPOINT admin_layers"), NULL, errbuf, errlen,
               "cannot begin a savepoint");
}

/* Releases the savepoint after rolling back to it unless ok. Releasing the
 * outermost savepoint commits, which can fail (disk full): then the work is
 * rolled back and an error returned. */
static int sp_end(sqlite3 *db, bool ok, char *errbuf, size_t errlen)
{
    if (ok && run(db, sqlite3_mprintf("RELEASE admin_layers"), NULL, errbuf, errlen,
                  "cannot commit") == 0)
        return 0;
    /* Best effort: after a failed commit SQLite may already have rolled back. */
    sqlite3_exec(db, "ROLLBACK TO admin_layers", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE admin_layers", NULL, NULL, NULL);
    return ok ? ADMIN_ESQL : 0;
}

int admin_layer_create(sqlite3 *db, enum admin_layer layer, char *errbuf, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < N_TABLES && rc == 0; i++)
        rc = run(db,
                 sqlite3_mprintf("CREATE TABLE IF NOT EXISTS %s%s (%s)", admin_layer_prefix(layer),
                                 tables[i].name, tables[i].columns),
                 NULL, errbuf, errlen, "cannot create admin tables");
    /* Versions describe the runtime but are not part of it: they live next
     * to the MEMORY and DISK tables only. */
    if (rc == 0 && layer != ADMIN_LAYER_RUNTIME)
        rc = admin_versions_create(db, layer == ADMIN_LAYER_DISK ? "disk" : "main", errbuf, errlen);
    return rc;
}

size_t admin_module_tables(unsigned mod, struct admin_mod_table *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < N_TABLES && n < max; i++)
        if (tables[i].mods & mod)
            out[n++] =
                (struct admin_mod_table){tables[i].name, tables[i].key, rows_of(&tables[i], mod)};
    return n;
}

const char *admin_module_name(unsigned mod)
{
    switch (mod) {
    case ADMIN_MOD_SERVERS:
        return "MYSQL SERVERS";
    case ADMIN_MOD_USERS:
        return "MYSQL USERS";
    case ADMIN_MOD_RULES:
        return "MYSQL QUERY RULES";
    case ADMIN_MOD_VARIABLES:
        return "MYSQL VARIABLES";
    case ADMIN_MOD_ADMIN_VARIABLES:
        return "ADMIN VARIABLES";
    }
    return NULL;
}

/* The rows of global_variables that belong to mods (a SQL condition). */
static const char *rows_of(const struct table *t, unsigned mods)
{
    if ((t->mods & VAR_MODS) == 0 || (mods & VAR_MODS) == VAR_MODS)
        return "1";
    return (mods & ADMIN_MOD_VARIABLES) ? "substr(variable_name, 1, 6) = 'mysql-'"
                                        : "substr(variable_name, 1, 6) = 'admin-'";
}

static int copy_tables(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                       uint64_t *rows, char *errbuf, size_t errlen)
{
    const char *src = admin_layer_prefix(from), *dst = admin_layer_prefix(to);
    char what[128];
    int rc = 0;

    for (size_t i = 0; i < N_TABLES && rc == 0; i++) {
        const struct table *t = &tables[i];
        const char *where = rows_of(t, mods);

        if ((t->mods & mods) == 0)
            continue;
        snprintf(what, sizeof(what), "cannot copy %s from %s to %s", t->name, layer_names[from],
                 layer_names[to]);
        rc = run(db, sqlite3_mprintf("DELETE FROM %s%s WHERE %s", dst, t->name, where), NULL,
                 errbuf, errlen, what);
        if (rc == 0)
            rc = run(db,
                     sqlite3_mprintf("INSERT INTO %s%s SELECT * FROM %s%s WHERE %s", dst, t->name,
                                     src, t->name, where),
                     rows, errbuf, errlen, what);
    }
    if (rc == 0)
        rc = admin_versions_copy(db, mods, from, to, errbuf, errlen);
    /* Keep every known variable visible in MEMORY, as after open. */
    if (rc == 0 && to == ADMIN_LAYER_MEMORY && (mods & VAR_MODS))
        rc = admin_globals_prefill(db, errbuf, errlen);
    return rc;
}

int admin_layer_copy(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                     uint64_t *rows, char *errbuf, size_t errlen)
{
    uint64_t n = 0;
    int rc;

    rc = sp_begin(db, errbuf, errlen);
    if (rc != 0)
        return rc;
    rc = copy_tables(db, mods, from, to, &n, errbuf, errlen);
    if (sp_end(db, rc == 0, errbuf, errlen) != 0)
        rc = ADMIN_ESQL;
    if (rc == 0 && rows)
        *rows += n;
    return rc;
}

int admin_layer_to_runtime(struct admin_store *store, unsigned mods, unsigned flags,
                           struct admin_result *res, struct admin_config **out, char *errbuf,
                           size_t errlen)
{
    struct admin_config *cfg = NULL;
    bool startup = flags & ADMIN_LOAD_STARTUP;
    int rc;

    rc = sp_begin(store->db, errbuf, errlen);
    if (rc != 0)
        return rc;
    rc = admin_config_build(store, mods, &cfg, errbuf, errlen);
    if (rc == 0 && !startup)
        rc = admin_rule_checks(store->db, mods, flags, cfg, res, errbuf, errlen);
    if (rc == 0)
        rc = copy_tables(store->db, mods, ADMIN_LAYER_MEMORY, ADMIN_LAYER_RUNTIME, NULL, errbuf,
                         errlen);
    if (rc == 0)
        rc = admin_versions_record(store->db, mods, startup, errbuf, errlen);
    if (sp_end(store->db, rc == 0, errbuf, errlen) != 0)
        rc = ADMIN_ESQL;
    if (rc != 0) {
        admin_config_unref(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}
