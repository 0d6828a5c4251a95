/*
 * The global variables (global_variables, modules MYSQL VARIABLES and ADMIN
 * VARIABLES), described by one table: name, default, kind, target field of
 * struct admin_config, bounds. The same table pre-fills global_variables in a
 * new store (admin_globals_prefill) and seeds the snapshot before the rows
 * are applied (admin_globals_load), so a row deleted by an operator falls
 * back to the documented default. Variables the table does not know are
 * ignored: ProxySQL has hundreds and scripts written for it may set them.
 * Messages quote a bad value, except for secrets (passwords, credentials).
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Upper bound for millisecond timeouts: one day, so later arithmetic on them
 * (deadlines in ms, conversions to us) cannot overflow. */
#define TIMEOUT_MAX_MS 86400000

enum var_kind {
    VAR_STR,     /* copied; must fit the field and be printable */
    VAR_SECRET,  /* like VAR_STR, may be empty, never echoed in messages */
    VAR_INT,     /* decimal integer within [min, max] */
    VAR_BOOL,    /* true/false/1/0, stored as int 1/0 */
    VAR_IFACES,  /* ';'-separated host:port list */
    VAR_CREDS,   /* ';'-separated user:password list; never echoed */
    VAR_CHARSET, /* charset name, stored as its default collation id */
};

struct var {
    const char *name;
    const char *def;
    enum var_kind kind;
    size_t off;  /* offset of the target field in struct admin_config */
    size_t size; /* string fields: buffer size */
    long min, max;
};

#define FIELD(f) offsetof(struct admin_config, f), sizeof(((struct admin_config *)0)->f)

static const struct var vars[] = {
    {"mysql-interfaces", "127.0.0.1:6033", VAR_IFACES, FIELD(mysql_interfaces), 0, 0},
    {"admin-mysql_ifaces", "127.0.0.1:6032", VAR_IFACES, FIELD(admin_interfaces), 0, 0},
    {"admin-admin_credentials", "admin:admin", VAR_CREDS, FIELD(admin_credentials), 0, 0},
    {"mysql-threads", "0", VAR_INT, FIELD(threads), 0, 256},
    /* MariaDB clients enable their extensions only for a "-MariaDB" version. */
    {"mysql-server_version", "10.11.6-MariaDB-Sluice", VAR_STR, FIELD(server_version), 0, 0},
    {"mysql-connect_timeout_server", "3000", VAR_INT, FIELD(connect_timeout_server_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-connect_timeout_server_max", "10000", VAR_INT, FIELD(connect_timeout_server_max_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-max_stmts_per_connection", "50", VAR_INT, FIELD(max_stmts_per_backend), 1, 65535},
    /* At most the router's digest buffer (64 KiB). */
    {"mysql-query_digests_max_query_length", "65000", VAR_INT, FIELD(digest_max_len), 16, 65536},
    {"mysql-shutdown_timeout", "10000", VAR_INT, FIELD(shutdown_timeout_ms), 1, TIMEOUT_MAX_MS},
    {"mysql-poll_timeout", "2000", VAR_INT, FIELD(poll_timeout_ms), 1, TIMEOUT_MAX_MS},
    {"mysql-default_charset", "utf8mb4", VAR_CHARSET, FIELD(default_charset), 0, 0},
    {"mysql-causal_reads", "false", VAR_BOOL, FIELD(causal_reads), 0, 0},
    {"mysql-hostgroup_hints", "false", VAR_BOOL, FIELD(hostgroup_hints), 0, 0},
    {"mysql-causal_reads_timeout", "50", VAR_INT, FIELD(causal_reads_timeout_ms), 0, 60000},
    {"mysql-monitor_enabled", "true", VAR_BOOL, FIELD(monitor_enabled), 0, 0},
    {"mysql-monitor_username", "monitor", VAR_STR, FIELD(monitor_username), 0, 0},
    {"mysql-monitor_password", "monitor", VAR_SECRET, FIELD(monitor_password), 0, 0},
    /* Pool (per server). */
    {"mysql-min_idle_connections", "0", VAR_INT, FIELD(min_idle_connections), 0, 100000},
    {"mysql-connection_warmup_rate", "20", VAR_INT, FIELD(connection_warmup_rate), 1, 100000},
    {"mysql-connection_warmup_jitter_ms", "1000", VAR_INT, FIELD(connection_warmup_jitter_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-connection_idle_timeout_ms", "300000", VAR_INT, FIELD(connection_idle_timeout_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-connection_max_age_ms", "0", VAR_INT, FIELD(connection_max_age_ms), 0, TIMEOUT_MAX_MS},
    {"mysql-ping_interval_server_msec", "10000", VAR_INT, FIELD(ping_interval_server_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-test_on_borrow", "false", VAR_BOOL, FIELD(test_on_borrow), 0, 0},
    {"mysql-queue_fail_fast_length", "0", VAR_INT, FIELD(queue_fail_fast_length), 0, 10000000},
    {"mysql-queue_fail_fast_wait_ms", "0", VAR_INT, FIELD(queue_fail_fast_wait_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-max_connections", "10000", VAR_INT, FIELD(max_client_connections), 1, 10000000},
    /* Hostile and careless clients. */
    {"mysql-connect_timeout_client", "10000", VAR_INT, FIELD(connect_timeout_client_ms), 100,
     TIMEOUT_MAX_MS},
    {"mysql-max_unauthenticated_connections", "2000", VAR_INT, FIELD(max_unauth_connections), 1,
     10000000},
    {"mysql-max_allowed_packet", "67108864", VAR_INT, FIELD(max_allowed_packet), 1024, 1073741824},
    {"mysql-max_prepared_stmts_per_client", "1024", VAR_INT, FIELD(max_client_stmts), 1, 1048576},
    {"mysql-session_buffers_MB", "0", VAR_INT, FIELD(session_buffers_mb), 0, 1048576},
    {"mysql-auth_failure_delay_ms", "100", VAR_INT, FIELD(auth_failure_delay_ms), 0, 60000},
    {"mysql-auth_failure_delay_max_ms", "5000", VAR_INT, FIELD(auth_failure_delay_max_ms), 0,
     600000},
    {"mysql-idle_transaction_timeout", "0", VAR_INT, FIELD(idle_transaction_timeout_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-max_transaction_time", "14400000", VAR_INT, FIELD(max_transaction_time_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-pinned_idle_timeout", "0", VAR_INT, FIELD(pinned_idle_timeout_ms), 0, TIMEOUT_MAX_MS},
    /* Monitor and failover. */
    {"mysql-monitor_connect_interval", "60000", VAR_INT, FIELD(monitor_connect_interval_ms), 100,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_connect_timeout", "600", VAR_INT, FIELD(monitor_connect_timeout_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_ping_interval", "10000", VAR_INT, FIELD(monitor_ping_interval_ms), 100,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_ping_timeout", "1000", VAR_INT, FIELD(monitor_ping_timeout_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_ping_max_failures", "3", VAR_INT, FIELD(monitor_ping_max_failures), 1, 1000},
    /* Sluice's own: a cheap COM_PING on a connection of its own that catches
     * a frozen server within about 2 s (docs/monitor.md, "Liveness"). */
    {"mysql-monitor_liveness_interval", "500", VAR_INT, FIELD(monitor_liveness_interval_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_liveness_timeout", "500", VAR_INT, FIELD(monitor_liveness_timeout_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_liveness_window", "1500", VAR_INT, FIELD(monitor_liveness_window_ms), 0,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_read_only_interval", "1500", VAR_INT, FIELD(monitor_read_only_interval_ms), 100,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_read_only_timeout", "500", VAR_INT, FIELD(monitor_read_only_timeout_ms), 1,
     TIMEOUT_MAX_MS},
    {"mysql-monitor_replication_lag_interval", "10000", VAR_INT,
     FIELD(monitor_replication_lag_interval_ms), 100, TIMEOUT_MAX_MS},
    {"mysql-monitor_replication_lag_timeout", "1000", VAR_INT,
     FIELD(monitor_replication_lag_timeout_ms), 1, TIMEOUT_MAX_MS},
    {"mysql-monitor_writer_is_also_reader", "true", VAR_BOOL, FIELD(monitor_writer_is_also_reader),
     0, 0},
    {"mysql-monitor_history", "600000", VAR_INT, FIELD(monitor_history_ms), 1000, TIMEOUT_MAX_MS},
    {"mysql-shun_on_failures", "5", VAR_INT, FIELD(shun_on_failures), 1, 1000},
    {"mysql-shun_recovery_time_sec", "10", VAR_INT, FIELD(shun_recovery_time_sec), 1, 86400},
    {"mysql-query_retries_on_failure", "1", VAR_INT, FIELD(query_retries_on_failure), 0, 1000},
    {"mysql-query_cache_size_MB", "256", VAR_INT, FIELD(query_cache_size_mb), 0, 1048576},
    {"admin-restapi_enabled", "true", VAR_BOOL, FIELD(restapi_enabled), 0, 0},
    {"admin-restapi_port", "6070", VAR_INT, FIELD(restapi_port), 1, 65535},
};

#define N_VARS (sizeof(vars) / sizeof(vars[0]))

/* Default collation of each supported charset, as sent in the handshake. */
static const struct {
    const char *name;
    int collation;
} charsets[] = {
    {"utf8", 33}, {"utf8mb3", 33}, {"utf8mb4", 45}, {"latin1", 8}, {"binary", 63},
};

int admin_globals_prefill(sqlite3 *db, char *errbuf, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = ADMIN_ESQL;

    if (sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO global_variables (variable_name, variable_value)"
                           " VALUES (?1, ?2)",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < N_VARS; i++) {
        sqlite3_reset(stmt);
        if (sqlite3_bind_text(stmt, 1, vars[i].name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(stmt, 2, vars[i].def, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_step(stmt) != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        admin_set_error(errbuf, errlen, "cannot fill global_variables: %s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc;
}

const char *admin_global_default(const char *name)
{
    for (size_t i = 0; i < N_VARS; i++)
        if (strcmp(name, vars[i].name) == 0)
            return vars[i].def;
    return NULL;
}

const char *admin_global_at(size_t i)
{
    return i < N_VARS ? vars[i].name : NULL;
}

/* Strict decimal parse: optional '-', digits only, no blanks, fits a long. */
static bool parse_long(const char *s, long *out)
{
    char *end;
    long v;

    if (!*s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (!isprint((unsigned char)*s))
            return false;
    return true;
}

static int check_ifaces(const struct var *v, const char *val, char *errbuf, size_t errlen)
{
    char item[300], host[256];
    const char *p = val;
    int port;

    for (;;) {
        const char *sep = strchr(p, ';');
        size_t n = sep ? (size_t)(sep - p) : strlen(p);

        if (n >= sizeof(item)) {
            admin_set_error(errbuf, errlen, "global variable %s: entry too long", v->name);
            return ADMIN_EINVAL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (admin_parse_hostport(item, host, sizeof(host), &port) != 0) {
            admin_set_error(errbuf, errlen,
                            "global variable %s: '%s' is not host:port with port 1-65535", v->name,
                            item);
            return ADMIN_EINVAL;
        }
        if (!sep)
            return 0;
        p = sep + 1;
    }
}

/* Checks "user:password[;user:password...]" without ever quoting it. */
static int check_creds(const struct var *v, const char *val, char *errbuf, size_t errlen)
{
    const char *p = val;

    for (int i = 1;; i++) {
        const char *sep = strchr(p, ';');
        const char *end = sep ? sep : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));

        if (!colon || colon == p) {
            admin_set_error(errbuf, errlen, "global variable %s: entry %d is not user:password",
                            v->name, i);
            return ADMIN_EINVAL;
        }
        if (!sep)
            return 0;
        p = sep + 1;
    }
}

/* Parses one variable's text into cfg. Messages quote the value except for
 * secrets. */
static int set_var(struct admin_config *cfg, const struct var *v, const char *val, char *errbuf,
                   size_t errlen)
{
    char *field = (char *)cfg + v->off;
    long n;
    int rc;

    switch (v->kind) {
    case VAR_INT:
        if (!parse_long(val, &n) || n < v->min || n > v->max) {
            admin_set_error(errbuf, errlen, "global variable %s: '%s' is not an integer in %ld-%ld",
                            v->name, val, v->min, v->max);
            return ADMIN_EINVAL;
        }
        *(int *)(void *)field = (int)n;
        return 0;
    case VAR_BOOL:
        if (strcasecmp(val, "true") == 0 || strcmp(val, "1") == 0) {
            *(int *)(void *)field = 1;
        } else if (strcasecmp(val, "false") == 0 || strcmp(val, "0") == 0) {
            *(int *)(void *)field = 0;
        } else {
            admin_set_error(errbuf, errlen, "global variable %s: '%s' is not true or false",
                            v->name, val);
            return ADMIN_EINVAL;
        }
        return 0;
    case VAR_CHARSET:
        for (size_t i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++) {
            if (strcasecmp(val, charsets[i].name) == 0) {
                *(int *)(void *)field = charsets[i].collation;
                return 0;
            }
        }
        admin_set_error(errbuf, errlen,
                        "global variable %s: unsupported charset '%s' (utf8, utf8mb4, latin1, "
                        "binary)",
                        v->name, val);
        return ADMIN_EINVAL;
    case VAR_IFACES:
        rc = check_ifaces(v, val, errbuf, errlen);
        if (rc != 0)
            return rc;
        break;
    case VAR_CREDS:
        rc = check_creds(v, val, errbuf, errlen);
        if (rc != 0)
            return rc;
        break;
    case VAR_STR:
        if (!*val || !printable(val)) {
            admin_set_error(errbuf, errlen, "global variable %s: must be non-empty printable text",
                            v->name);
            return ADMIN_EINVAL;
        }
        break;
    case VAR_SECRET:
        if (!printable(val)) {
            admin_set_error(errbuf, errlen, "global variable %s: must be printable text", v->name);
            return ADMIN_EINVAL;
        }
        break;
    }
    if (strlen(val) >= v->size) {
        admin_set_error(errbuf, errlen, "global variable %s: longer than %zu bytes", v->name,
                        v->size - 1);
        return ADMIN_EINVAL;
    }
    memcpy(field, val, strlen(val) + 1);
    return 0;
}

/* Applies the rows of one variable module (names starting with name_prefix)
 * from table prefix `from` on top of what cfg already holds. */
static int read_globals(sqlite3 *db, const char *from, const char *name_prefix,
                        struct admin_config *cfg, char *errbuf, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    char sql[160];
    int rc, src;

    snprintf(sql, sizeof(sql),
             "SELECT variable_name, variable_value FROM %sglobal_variables"
             " WHERE substr(variable_name, 1, 6) = '%s'",
             from, name_prefix);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot read global_variables: %s", sqlite3_errmsg(db));
        return ADMIN_ESQL;
    }
    rc = 0;
    while (rc == 0 && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        const char *val = (const char *)sqlite3_column_text(stmt, 1);

        if (!name)
            continue;
        for (size_t i = 0; i < N_VARS; i++) {
            if (strcmp(name, vars[i].name) == 0) {
                rc = set_var(cfg, &vars[i], val ? val : "", errbuf, errlen);
                break;
            }
        }
    }
    if (rc == 0 && src != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "cannot read global_variables: %s", sqlite3_errmsg(db));
        rc = ADMIN_ESQL;
    }
    sqlite3_finalize(stmt);
    return rc;
}

int admin_globals_load(sqlite3 *db, const char *mysql_from, const char *admin_from,
                       struct admin_config *cfg, char *errbuf, size_t errlen)
{
    int rc;

    for (size_t i = 0; i < N_VARS; i++) {
        rc = set_var(cfg, &vars[i], vars[i].def, errbuf, errlen);
        if (rc != 0)
            return rc; /* a bad built-in default: caught by the unit tests */
    }
    rc = read_globals(db, mysql_from, "mysql-", cfg, errbuf, errlen);
    if (rc == 0)
        rc = read_globals(db, admin_from, "admin-", cfg, errbuf, errlen);
    if (rc == 0 && cfg->connect_timeout_server_max_ms < cfg->connect_timeout_server_ms) {
        admin_set_error(errbuf, errlen,
                        "global variable mysql-connect_timeout_server_max (%d) is below "
                        "mysql-connect_timeout_server (%d)",
                        cfg->connect_timeout_server_max_ms, cfg->connect_timeout_server_ms);
        rc = ADMIN_EINVAL;
    }
    return rc;
}

/* For SET <variable> = <value> (exec_set.c): the value is checked by the
 * parser LOAD ... TO RUNTIME will use, so an operator hears of a bad value
 * at once rather than at the next LOAD. Cross-variable checks still wait for
 * LOAD, which sees every value. */
int admin_global_check(const char *name, const char *value, char *errbuf, size_t errlen)
{
    struct admin_config *scratch;
    int rc = ADMIN_EINVAL;

    for (size_t i = 0; i < N_VARS; i++) {
        if (strcmp(name, vars[i].name) != 0)
            continue;
        scratch = calloc(1, sizeof(*scratch));
        if (!scratch)
            return ADMIN_ENOMEM;
        rc = set_var(scratch, &vars[i], value, errbuf, errlen);
        /* A secret may have been copied in: do not leave it in freed memory. */
        memset(scratch, 0, sizeof(*scratch));
        free(scratch);
        return rc;
    }
    admin_set_error(errbuf, errlen, "unknown global variable %s", name);
    return rc;
}
