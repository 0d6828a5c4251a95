/*
 * Admin: the SQLite store and the configuration snapshot built from it.
 *
 * The store is an SQLite database file `sluice.db` in the datadir whose
 * tables carry ProxySQL's names and columns (mysql_servers, mysql_users,
 * mysql_query_rules, mysql_replication_hostgroups, global_variables). When
 * the file is new, the optional config file (an SQL script of statements
 * against those tables) is applied once; global_variables is pre-filled with
 * defaults first, so a config file only overrides what it names
 * (INSERT OR REPLACE INTO global_variables VALUES ('mysql-threads','4')).
 *
 * admin_config_load() reads the store and returns an immutable snapshot
 * (struct admin_config) that worker threads share through an atomic
 * refcount: admin_config_ref()/admin_config_unref(); the last unref frees.
 *
 * Thread: the store is used from the main thread only. Snapshots are
 * read-only and safe to share between threads.
 */
#ifndef SLUICE_ADMIN_ADMIN_H
#define SLUICE_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/router.h"

enum admin_err {
    ADMIN_EIO = -1,    /* cannot open or create the store */
    ADMIN_ESQL = -2,   /* an SQL statement (config file, load) failed */
    ADMIN_EINVAL = -3, /* a value out of range or malformed */
    ADMIN_ENOMEM = -4,
};

const char *admin_strerror(int err);

struct admin_store;

/* Opens (creating if needed) datadir/sluice.db. If the store was created by
 * this call and config_path is not NULL, applies that SQL script. errbuf
 * (may be NULL) receives a message naming the failing statement on error.
 * Returns 0 or a negative ADMIN_E* code. */
int admin_store_open(const char *datadir, const char *config_path, struct admin_store **out,
                     char *errbuf, size_t errlen) __attribute__((warn_unused_result));
void admin_store_close(struct admin_store *store);

enum admin_server_status {
    ADMIN_SERVER_ONLINE = 0,
    ADMIN_SERVER_SHUNNED,
    ADMIN_SERVER_OFFLINE_SOFT,
    ADMIN_SERVER_OFFLINE_HARD,
};

struct admin_server {
    int hostgroup;
    char host[256];
    int port;
    enum admin_server_status status;
    int weight;
    int max_connections;
    int max_replication_lag;
    bool use_ssl;
    char comment[128];
};

struct admin_user {
    char username[128];
    /* Plain-text password for backend connections; empty when the store
     * holds only a hash (then backend login uses an empty password). */
    char password[128];
    bool has_password;       /* false: the account has an empty password */
    uint8_t native_hash[20]; /* SHA1(SHA1(password)), for client auth */
    bool active;
    int default_hostgroup;
    char default_schema[128]; /* empty: none */
    bool transaction_persistent;
    bool frontend;
    bool backend;
    int max_connections;
};

struct admin_config {
    /* private: refcount, owned memory */
    int refs;
    struct admin_server *servers;
    size_t n_servers;
    struct admin_user *users;
    size_t n_users;
    struct router_rules *rules; /* compiled mysql_query_rules; NULL when there are none */

    /* global_variables, parsed */
    char mysql_interfaces[256];    /* "127.0.0.1:6033"; ';'-separated list allowed, first used */
    char admin_interfaces[256];    /* "127.0.0.1:6032" */
    char admin_credentials[256];   /* "admin:admin" */
    int threads;                   /* mysql-threads; 0 = number of cores */
    char server_version[64];       /* mysql-server_version */
    int connect_timeout_server_ms; /* mysql-connect_timeout_server */
    int connect_timeout_server_max_ms; /* mysql-connect_timeout_server_max: queue deadline */
    int max_stmts_per_backend;         /* mysql-max_stmts_per_connection: backend stmt LRU bound */
    int shutdown_timeout_ms;           /* mysql-shutdown_timeout: graceful drain bound */
    int poll_timeout_ms;               /* unused placeholder for ProxySQL compatibility */
    int default_charset; /* collation id advertised to clients (33 utf8, 45 utf8mb4) */
    int monitor_enabled;
    char monitor_username[128];
    char monitor_password[128];
    int restapi_enabled; /* admin-restapi_enabled: HTTP metrics endpoint on/off */
    int restapi_port;    /* admin-restapi_port (1-65535) */
};

/* Builds a new snapshot from the store (refs = 1). Validates values (ports,
 * hostgroups referenced by users exist in mysql_servers, password hashes
 * parse); on failure returns a negative code and a message in errbuf. */
int admin_config_load(struct admin_store *store, struct admin_config **out, char *errbuf,
                      size_t errlen) __attribute__((warn_unused_result));

/* Thread-safe refcounting (atomic). */
struct admin_config *admin_config_ref(struct admin_config *cfg);
void admin_config_unref(struct admin_config *cfg);

/* Lookup helpers (linear; snapshots are small). Return NULL if absent. */
const struct admin_user *admin_config_user(const struct admin_config *cfg, const char *name,
                                           size_t name_len);

/* Splits "host:port" into host (NUL-terminated, at most hostlen-1) and port.
 * Returns 0 or ADMIN_EINVAL. */
int admin_parse_hostport(const char *text, char *host, size_t hostlen, int *port);

#endif
