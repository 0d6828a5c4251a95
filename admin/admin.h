/*
 * Admin: the SQLite store, its three configuration layers, the admin SQL
 * statements and the configuration snapshot built from them.
 *
 * Layers, as in ProxySQL:
 *   MEMORY   SQLite's main database, in memory: mysql_servers, mysql_users,
 *            mysql_query_rules, mysql_replication_hostgroups, global_variables
 *            with ProxySQL's names and columns. This is what admins edit.
 *   RUNTIME  the immutable snapshot (struct admin_config) the workers use,
 *            mirrored in MEMORY as runtime_<table> with the same columns so
 *            operators can SELECT what is live, and so a snapshot can be
 *            rebuilt from them when only one module is reloaded.
 *   DISK     datadir/sluice.db, ATTACHed as schema `disk` with the same tables.
 *
 * Beside the layers, every LOAD <module> TO RUNTIME records a version of the
 * module (mysql_config_versions and mysql_config_version_rows, in MEMORY and
 * saved to DISK with the module), which ROLLBACK restores and DIFF compares;
 * LOAD MYSQL QUERY RULES first runs mysql_query_rules_tests and lints the
 * rules (admin/versions.c, admin/ruletests.c; README "Safer changes").
 *
 * Start-up precedence: DISK if sluice.db exists (non-empty); else the --config
 * file (an SQL script against the MEMORY tables) on top of the built-in
 * defaults, saved to DISK at once; else the defaults alone, also saved. So a
 * config file is read on the first start only, as in ProxySQL.
 * global_variables is pre-filled with defaults, so a config file only
 * overrides what it names (INSERT OR REPLACE INTO global_variables VALUES
 * ('mysql-threads','4')) and variables added by a newer version appear.
 *
 * Modules move between layers with ProxySQL's commands (admin_execute):
 * LOAD <module> TO RUNTIME builds a whole snapshot (that module from MEMORY,
 * the others from runtime_*), validates it and either returns it for
 * publication or changes nothing. SAVE <module> TO DISK, LOAD <module> FROM
 * DISK and SAVE <module> FROM RUNTIME copy tables; see admin_execute().
 *
 * Snapshots are shared by worker threads through an atomic refcount:
 * admin_config_ref()/admin_config_unref(); the last unref frees.
 *
 * Thread: a store and everything taking one (admin_store_*, admin_config_load,
 * admin_config_build, admin_execute) belong to one thread, the main loop's;
 * SQLite's handle is not shared. Snapshots are read-only and safe to share.
 */
#ifndef SLUICE_ADMIN_ADMIN_H
#define SLUICE_ADMIN_ADMIN_H

#include "router/router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum admin_err {
    ADMIN_EIO = -1,    /* cannot open or create the store */
    ADMIN_ESQL = -2,   /* an SQL statement (config file, load) failed */
    ADMIN_EINVAL = -3, /* a value out of range or malformed */
    ADMIN_ENOMEM = -4,
};

const char *admin_strerror(int err);

struct admin_store;

/* Opens the store: MEMORY in memory and DISK as datadir/sluice.db (datadir
 * is created 0700 if missing, a new sluice.db 0600, whatever the umask; an
 * existing datadir or sluice.db open to group or others is used, with a
 * log_warn naming it and its mode). If sluice.db exists and is not empty, its
 * tables are copied into MEMORY and config_path is ignored. Otherwise the
 * defaults are filled in, config_path (if not NULL) is applied to MEMORY in
 * one transaction, and MEMORY is saved to a new sluice.db; on failure that
 * file is removed again so the next start retries. RUNTIME (runtime_*) stays
 * empty until admin_config_load(). errbuf (may be NULL) receives a message
 * naming the failing statement on error. Returns 0 or a negative ADMIN_E*
 * code. */
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
    int max_latency_ms; /* 0: no bound; else slower servers get no new work while others can */
    bool use_ssl;
    char comment[128];
};

/* A row of mysql_replication_hostgroups: the monitor places a server of
 * either hostgroup by its read_only (0: writer, 1: reader). */
struct admin_repl_hostgroup {
    int writer_hostgroup;
    int reader_hostgroup;
    char check_type[32]; /* only read_only is checked; the others are read as read_only */
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
    int max_connections;         /* client sessions at once */
    int max_backend_connections; /* backend connections in use at once; 0 = no limit */
    /* mysql_users.attributes '{"causal_reads": true|false}': this user's
     * causal reads on (1) or off (0) whatever mysql-causal_reads says; -1
     * (no such attribute): the global applies. */
    int causal_reads;
};

struct admin_config {
    /* private: refcount, owned memory */
    int refs;
    struct admin_server *servers;
    size_t n_servers;
    struct admin_user *users;
    size_t n_users;
    struct admin_repl_hostgroup *repl_hostgroups;
    size_t n_repl_hostgroups;
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
    int digest_max_len;      /* mysql-query_digests_max_query_length: bytes a digest looks at */
    int shutdown_timeout_ms; /* mysql-shutdown_timeout: graceful drain bound */
    int poll_timeout_ms;     /* unused placeholder for ProxySQL compatibility */
    int default_charset;     /* collation id advertised to clients (33 utf8, 45 utf8mb4) */
    /* mysql-causal_reads: a read routed away from the hostgroup a session
     * wrote to first waits (up to mysql-causal_reads_timeout ms) for the
     * replica to apply the session's last GTID, else runs on the writer. */
    int causal_reads;
    int causal_reads_timeout_ms;
    /* mysql-hostgroup_hints: a leading comment "hostgroup=N" picks the
     * hostgroup of that statement (outside transactions). */
    int hostgroup_hints;
    int monitor_enabled;
    char monitor_username[128];
    char monitor_password[128];
    /* Pool, per server: warm idle connections and how fast they are made
     * (per second, each start spread by up to jitter ms), idle timeout
     * above the minimum, maximum age (recycled when idle; 0 = none), ping
     * of idle connections, a ping before every lend, and fail-fast: refuse
     * at once when that many requests already wait or the recent queue wait
     * is over that bound (0 = off). */
    int min_idle_connections;
    int connection_warmup_rate;
    int connection_warmup_jitter_ms;
    int connection_idle_timeout_ms;
    int connection_max_age_ms;
    int ping_interval_server_ms;
    int test_on_borrow;
    int queue_fail_fast_length;
    int queue_fail_fast_wait_ms;
    int max_client_connections; /* mysql-max_connections: client sessions at once */
    /* A client must log in within connect_timeout_client ms; at most
     * max_unauth_connections sessions (never more than
     * max_client_connections) may be logging in at once. A command message
     * over max_allowed_packet bytes gets error 1153. A session may hold
     * max_client_stmts prepared statements (error 1461 beyond). Each failed
     * login from an address doubles the wait before that address's next
     * login is answered, from auth_failure_delay_ms up to
     * auth_failure_delay_max_ms (0: no wait). */
    int connect_timeout_client_ms;
    int max_unauth_connections;
    int max_allowed_packet;
    int max_client_stmts;
    /* New sessions are refused (1040) while the buffers of all client
     * sessions hold more than this many MiB (0: a quarter of the machine's
     * memory). */
    int session_buffers_mb;
    int auth_failure_delay_ms;
    int auth_failure_delay_max_ms;
    /* A session idle inside a transaction longer than this is rolled back
     * and its backend released (0 = off); a transaction older than
     * max_transaction_time is killed (0 = off). */
    int idle_transaction_timeout_ms;
    int max_transaction_time_ms;
    /* A session idle outside a transaction that keeps its backend for
     * session state (user variables, temporary tables, locks) is closed after
     * this long (0 = never, the default). */
    int pinned_idle_timeout_ms;
    /* Monitor (ProxySQL's mysql-monitor_* variables) and failover. */
    int monitor_connect_interval_ms;
    int monitor_connect_timeout_ms;
    int monitor_ping_interval_ms;
    int monitor_ping_timeout_ms;
    int monitor_ping_max_failures;
    int monitor_liveness_interval_ms; /* 0: no liveness probe */
    int monitor_liveness_timeout_ms;
    int monitor_liveness_window_ms;
    int monitor_read_only_interval_ms;
    int monitor_read_only_timeout_ms;
    int monitor_replication_lag_interval_ms;
    int monitor_replication_lag_timeout_ms;
    int monitor_writer_is_also_reader;
    int monitor_history_ms;
    int shun_on_failures;
    int shun_recovery_time_sec;
    int query_retries_on_failure;
    /* mysql-query_cache_size_MB: memory of the query cache (rules with
     * cache_ttl), split evenly between workers; 0 turns caching off. */
    int query_cache_size_mb;
    int restapi_enabled; /* admin-restapi_enabled: HTTP metrics endpoint on/off */
    int restapi_port;    /* admin-restapi_port (1-65535) */
};

/* Configuration modules, as LOAD/SAVE name them. */
#define ADMIN_MOD_SERVERS 0x01u         /* mysql_servers + mysql_replication_hostgroups */
#define ADMIN_MOD_USERS 0x02u           /* mysql_users */
#define ADMIN_MOD_RULES 0x04u           /* mysql_query_rules */
#define ADMIN_MOD_VARIABLES 0x08u       /* global_variables named mysql-* */
#define ADMIN_MOD_ADMIN_VARIABLES 0x10u /* global_variables named admin-* */
#define ADMIN_MOD_ALL 0x1fu

/* Builds a new snapshot (refs = 1) taking each module whose bit is set in
 * from_memory_mask from the MEMORY tables and every other module from the
 * runtime_* tables; writes nothing. Validates the whole snapshot (ports,
 * hostgroups referenced by users exist in the servers, password hashes
 * parse, every rule compiles: a regex error names the rule_id, the column,
 * PCRE2's message and offset); on failure returns a negative code, leaves
 * *out untouched and puts a message in errbuf. Works inside the caller's
 * transaction, if any. */
int admin_config_build(struct admin_store *store, unsigned from_memory_mask,
                       struct admin_config **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The initial load to runtime: admin_config_build() with every module from
 * MEMORY, then, if it validates, copies all MEMORY tables to runtime_*
 * (the snapshot and the runtime_* tables then agree). Call it once after
 * admin_store_open() and publish the result; later loads come from
 * admin_execute(). Same return codes as admin_config_build(). */
int admin_config_load(struct admin_store *store, struct admin_config **out, char *errbuf,
                      size_t errlen) __attribute__((warn_unused_result));

/* Thread-safe refcounting (atomic). */
struct admin_config *admin_config_ref(struct admin_config *cfg);
void admin_config_unref(struct admin_config *cfg);

/* Lookup helpers (linear; snapshots are small). Return NULL if absent. */
const struct admin_user *admin_config_user(const struct admin_config *cfg, const char *name,
                                           size_t name_len);

/* A note attached to a result, as MySQL's warnings: the OK packet carries
 * their count and SHOW WARNINGS lists them (Level 'Warning'). LOAD ... TO
 * RUNTIME adds the rule lint and, with FORCE, failing rule tests. */
struct admin_warning {
    uint16_t code; /* MySQL error number; Sluice uses 1105 */
    char msg[384];
};

/* At most this many warnings are kept per result (MySQL's max_error_count
 * default); the count in the OK packet stays exact up to 65535. */
#define ADMIN_MAX_WARNINGS 64

/* Actions for the proxy (admin_result.actions). */
#define ADMIN_ACT_PAUSE 0x1u        /* stop accepting new client connections */
#define ADMIN_ACT_RESUME 0x2u       /* accept them again */
#define ADMIN_ACT_FLUSH_QCACHE 0x4u /* empty every worker's query cache */

enum admin_result_kind {
    ADMIN_RES_OK,    /* no result set: affected_rows */
    ADMIN_RES_ROWS,  /* a result set: ncols, col_names, nrows, rows (maybe zero rows) */
    ADMIN_RES_ERROR, /* err_code, err_sqlstate, err_msg */
};

/* The outcome of admin_execute(), ready to encode as OK, result set or ERR.
 * Every pointer is owned by the result; admin_result_free() releases it. */
struct admin_result {
    enum admin_result_kind kind;
    uint64_t affected_rows;
    size_t ncols;
    char **col_names; /* ncols NUL-terminated names */
    size_t nrows;
    char ***rows;         /* rows[r][c]: NUL-terminated text, or NULL for SQL NULL */
    uint16_t err_code;    /* MySQL error number, e.g. 1064, 1105 */
    char err_sqlstate[6]; /* five characters and a NUL, e.g. "HY000" */
    char err_msg[512];    /* never contains a password */
    /* Set when the statements loaded a module to runtime: a new snapshot
     * (refs = 1) that the caller takes over and publishes (set it to NULL
     * after taking it). The runtime_* tables already show it. It can be set
     * together with kind == ADMIN_RES_ERROR when a LOAD succeeded and a later
     * statement of the same string failed: it must be published anyway. */
    struct admin_config *new_runtime;
    /* ADMIN_ACT_* bits: what the statements asked the proxy to do (PROXYSQL
     * PAUSE, RESUME, FLUSH QUERY CACHE). admin has no hold on the workers,
     * so the caller carries them out after admin_execute(), like
     * new_runtime, whether the result is OK or a later statement failed. */
    unsigned actions;
    /* The last statement's warnings (kept also with an ERROR result: a
     * refused LOAD lists every failing rule test there). n_warnings counts
     * all, warnings holds the first ADMIN_MAX_WARNINGS. */
    struct admin_warning *warnings;
    size_t n_warnings;
    size_t rows_cap; /* private: allocated length of rows */
};

/* Runs the admin statement(s) in sql (len bytes, need not be NUL-terminated)
 * and fills res, which is overwritten (free an earlier result first).
 *
 * Accepted: SQL on the MEMORY tables (SELECT/INSERT/UPDATE/DELETE/REPLACE,
 * BEGIN/COMMIT/ROLLBACK, START TRANSACTION, schema PRAGMAs such as
 * table_info, CREATE...; runtime_* and stats_* tables are read-only, the
 * stats tables a statement reads are refilled first (see
 * admin_store_set_sources), and admin tables cannot be dropped or altered;
 * what would leave SQLite is refused with error 1227 "Access denied; ...":
 * ATTACH, DETACH, VACUUM, virtual tables, other pragmas, and SQL functions
 * outside an allow-list such as load_extension(), see admin/sandbox.c);
 * ProxySQL's layer commands (LOAD|SAVE <module> TO|FROM RUNTIME|MEMORY|DISK,
 * with the aliases RUN and MEM) for the modules MYSQL SERVERS, MYSQL USERS,
 * MYSQL QUERY RULES, MYSQL VARIABLES and ADMIN VARIABLES; what the mariadb
 * client and common tools send (SELECT @@version_comment LIMIT 1 and other
 * @@variables, SELECT DATABASE(), USER(), VERSION(), SHOW DATABASES, SHOW
 * TABLES [FROM main|disk|stats|monitor], SHOW CREATE TABLE t, SET NAMES and
 * other session SETs (accepted, no effect), USE main); ProxySQL's SET
 * mysql-|admin-<variable> = <value> (writes MEMORY's global_variables),
 * stats.<table> and monitor.<table>, SHOW MYSQL STATUS|VARIABLES, PROXYSQL
 * PAUSE|RESUME|FLUSH QUERY CACHE|FLUSH LOGS (the first three through
 * res->actions); Sluice's configuration versions and checks
 * (versions.c, ruletests.c): LOAD <module> TO RUNTIME FORCE (load even if
 * rule tests in mysql_query_rules_tests fail), SHOW CONFIG VERSIONS [FOR
 * <module>], ROLLBACK <module> TO VERSION n [FORCE], DIFF <module> [<side>
 * [<side>]] with a side MEMORY, RUNTIME, DISK or VERSION n (default MEMORY
 * RUNTIME; rows change, table_name, row_key, column_name, value_a, value_b).
 * Keywords are case-insensitive; a trailing ';' is
 * optional. Several statements separated by ';' run in order; the result is
 * the last one's, or the first error (later statements do not run).
 *
 * runtime: the snapshot currently published (may be NULL); only read for
 * @@version. Returns 0 when res is OK or ROWS, or the negative ADMIN_E* code
 * matching an ERROR result. Not marked warn_unused_result on purpose: res
 * carries the outcome and callers need not look at the code. */
int admin_execute(struct admin_store *store, const struct admin_config *runtime, const char *sql,
                  size_t len, struct admin_result *res);

/* SHOW WARNINGS belongs to a client session, not to the store: the caller
 * keeps the warnings of the session's last statement and, when
 * admin_is_show_warnings() says the next statement asks for them, answers
 * with admin_warnings_result() instead of admin_execute() (MySQL leaves the
 * warnings in place after SHOW WARNINGS). admin_execute() itself answers
 * SHOW WARNINGS with the warnings of the statement before it in the same
 * string (none when it comes first: it sees no session). */
bool admin_is_show_warnings(const char *sql, size_t len);

/* Fills res (overwritten) with the result set Level, Code, Message of the n
 * warnings w (borrowed). Returns 0 or ADMIN_ENOMEM with an ERROR result. */
int admin_warnings_result(const struct admin_warning *w, size_t n, struct admin_result *res);

/* Whether an SQL transaction (BEGIN without COMMIT or ROLLBACK yet) is open
 * on the store. The store has one SQLite connection, so the admin listener
 * uses this to give it to one admin session at a time. */
bool admin_store_in_transaction(const struct admin_store *store);

/* Frees everything res owns, unrefs new_runtime if still set, and zeroes
 * res (so a second call is harmless). */
void admin_result_free(struct admin_result *res);

/* Stats tables (ProxySQL's stats_mysql_*), computed when queried.
 *
 * They live in MEMORY like the admin tables, are created at open, listed by
 * SHOW TABLES, and read-only for operators like runtime_*. Before a plain
 * SQL statement that reads one runs, admin_execute() replaces its rows with
 * the current figures of the sources below (one savepoint, so also inside
 * an operator's BEGIN):
 *   stats_mysql_query_digest        digest statistics of every worker,
 *                                   merged; ProxySQL's columns plus Sluice's
 *                                   p50_time, p95_time, p99_time (us)
 *   stats_mysql_query_digest_reset  the same, and reading it resets the
 *                                   counters (refreshed only when read)
 *   stats_mysql_connection_pool     per-server pool figures; ProxySQL's
 *                                   columns plus Sluice's max_connections and
 *                                   Queue (requests waiting now). status is
 *                                   the monitor's verdict when it has one
 *                                   (SHUNNED for ping or lag), else the
 *                                   pool's (SHUNNED after connect errors,
 *                                   OFFLINE_* as configured)
 *   stats_mysql_pin_reasons         (reason, pinned_now, total): why client
 *                                   sessions keep a backend connection
 *   stats_mysql_pin_digests         (reason, digest, digest_text, count_star):
 *                                   the statements that pinned, by count
 *   stats_mysql_multiplexing        (hostgroup, client_sessions,
 *                                   backends_in_use, sessions_per_backend):
 *                                   client sessions per backend connection
 *                                   lent now (NULL when none is lent)
 *   stats_mysql_query_rules         (rule_id, hits) of the live rule set;
 *                                   a reload carries the hits of unchanged
 *                                   rules (router_rules_carry_hits)
 *   stats_mysql_global              (Variable_Name, Variable_Value):
 *                                   ProxySQL's counters and gauges
 *   stats_mysql_commands_counters   per statement type (first keyword), the
 *                                   count, total time and ProxySQL's latency
 *                                   buckets
 *   stats_mysql_processlist         one row per client session now
 *   stats_mysql_errors(_reset)      backend errors relayed to clients and
 *                                   failed backend connects, per key
 *   stats_mysql_free_connections    the pool's idle backend connections
 */
struct pool;

/* Client-session figures behind stats_mysql_pin_reasons,
 * stats_mysql_pin_digests and stats_mysql_multiplexing (why multiplexing is
 * lost), merged over every worker by their producer, the proxy. */
struct admin_pin_reason {
    char reason[24];     /* "transaction", "user_variable", ... */
    uint64_t pinned_now; /* sessions pinned for it now */
    uint64_t total;      /* times a session became pinned for it */
};
struct admin_pin_digest {
    char reason[24];
    uint64_t digest; /* router_digest()'s hash of the statement that pinned */
    uint64_t count;
    char digest_text[256];
};
struct admin_hostgroup_sessions {
    int hostgroup;
    uint64_t client_sessions; /* sessions attached to or last routed to it */
};
struct admin_session_stats {
    struct admin_pin_reason *reasons;
    size_t n_reasons;
    struct admin_pin_digest *digests; /* highest count first */
    size_t n_digests;
    struct admin_hostgroup_sessions *hostgroups;
    size_t n_hostgroups;
};

/* The proxy's figures behind stats_mysql_query_rules, stats_mysql_global,
 * stats_mysql_commands_counters and stats_mysql_processlist, taken by one
 * call (admin_sources.proxy_stats) for the tables a statement reads. */
#define ADMIN_PROXY_RULES 0x1u
#define ADMIN_PROXY_GLOBALS 0x2u
#define ADMIN_PROXY_COMMANDS 0x4u
#define ADMIN_PROXY_PROCESSES 0x8u
#define ADMIN_PROXY_HOSTS 0x10u
#define ADMIN_PROXY_USERS 0x20u
#define ADMIN_PROXY_ERRORS 0x40u       /* stats_mysql_errors */
#define ADMIN_PROXY_ERRORS_RESET 0x80u /* the same, and the counts start again */
#define ADMIN_PROXY_FREE_CONNS 0x100u  /* stats_mysql_free_connections */
#define ADMIN_PROXY_STMTS 0x200u       /* stats_mysql_prepared_statements_info */

struct admin_rule_hits {
    int rule_id;
    uint64_t hits;
};
/* A row of stats_mysql_global: ProxySQL's variable name where it has one. */
struct admin_global_stat {
    char name[48];
    int64_t value;
};
/* ProxySQL's latency buckets (cnt_100us ... cnt_10s, cnt_INFs): a statement
 * of t microseconds counts in the first bucket whose bound is >= t. */
#define ADMIN_CMD_BUCKETS 12
struct admin_command_stats {
    char command[24]; /* ProxySQL's name: SELECT, CREATE_TABLE, UNKNOWN... */
    uint64_t total_time_us;
    uint64_t total_cnt;
    uint64_t cnt[ADMIN_CMD_BUCKETS];
};
/* A client session now. Strings are NUL-terminated; empty means NULL for
 * the columns that can be NULL (db, srv_*, l_srv_*); info is NULL when
 * has_info is false. */
struct admin_process {
    int thread_id; /* worker index */
    uint32_t session_id;
    char user[128];
    char db[193];
    char cli_host[48];
    int cli_port;
    int hostgroup; /* of the backend held, else where the last statement went */
    bool has_backend;
    char l_srv_host[48]; /* our end of the backend connection */
    int l_srv_port;
    char srv_host[256];
    int srv_port;
    char command[24]; /* "Sleep", "Connect", "Query", "Execute"... */
    int64_t time_ms;  /* in the command, or idle for */
    bool has_info;
    char info[257]; /* the statement running, cut at 256 bytes */
};
/* An address whose logins failed lately (stats_mysql_client_host_cache). */
struct admin_host_failure {
    char client_address[48];
    uint32_t error_count; /* failed logins in a row */
    int64_t last_updated; /* unix time of the last one */
};
/* A frontend user of the runtime and its client sessions now
 * (stats_mysql_users). */
struct admin_user_conns {
    char username[128];
    uint64_t frontend_connections;
    int frontend_max_connections; /* mysql_users.max_connections */
};
/* Errors relayed from backends and failed backend connects, per (hostgroup,
 * server, user, client address, schema, errno) (stats_mysql_errors). Empty
 * client_address and schemaname: not known (a warm-up connect). */
struct admin_mysql_error {
    int hostgroup;
    char hostname[256];
    int port;
    char username[128];
    char client_address[48];
    char schemaname[193];
    int err_no;
    uint64_t count_star;
    int64_t first_seen; /* unix time */
    int64_t last_seen;
    char last_error[256]; /* the server's message, secrets masked */
};
/* An idle backend connection (stats_mysql_free_connections). */
struct admin_free_conn {
    int fd;
    int hostgroup;
    char srv_host[256];
    int srv_port;
    char user[128];
    int64_t idle_ms;
};
/* A statement text prepared now by client sessions or held by backend
 * connections (stats_mysql_prepared_statements_info). */
struct admin_prepared_stmt {
    uint64_t hash; /* of the text: the key */
    int hostgroup; /* of the session that first prepared it on its worker */
    char schemaname[193];
    char username[128];
    uint64_t digest;
    int64_t ref_count_client; /* client statements with this text now */
    int64_t ref_count_server; /* backend connections that have it prepared now */
    int num_columns;
    int num_params;
    char query[1024]; /* cut */
};
struct admin_proxy_stats {
    struct admin_rule_hits *rules;
    size_t n_rules;
    struct admin_global_stat *globals;
    size_t n_globals;
    struct admin_command_stats *commands;
    size_t n_commands;
    struct admin_process *processes;
    size_t n_processes;
    struct admin_host_failure *hosts;
    size_t n_hosts;
    struct admin_user_conns *users;
    size_t n_users;
    struct admin_mysql_error *errors; /* ADMIN_PROXY_ERRORS */
    size_t n_errors;
    struct admin_mysql_error *errors_reset; /* ADMIN_PROXY_ERRORS_RESET, read after errors */
    size_t n_errors_reset;
    struct admin_free_conn *free_conns;
    size_t n_free_conns;
    struct admin_prepared_stmt *stmts;
    size_t n_stmts;
};

struct admin_sources {
    struct pool *pool; /* NULL: stats_mysql_connection_pool is empty */
    /* The effective status of a pool server ("ONLINE", "SHUNNED"...), as the
     * monitor decided it; NULL function or NULL answer: ONLINE. Called on the
     * main thread during a refresh. */
    const char *(*server_status)(void *arg, int hostgroup, const char *host, int port);
    void *server_status_arg;
    /* One object per worker (NULL elements are skipped); NULL or none:
     * the digest tables are empty. */
    struct router_digest_stats *const *digest_stats;
    size_t n_digest_stats;
    /* NULL: the pin and multiplexing tables are empty. session_stats fills
     * *out (0, or -1 on ENOMEM with *out empty); session_stats_free releases
     * what it allocated. Called on the admin thread with session_arg. */
    int (*session_stats)(void *arg, struct admin_session_stats *out);
    void (*session_stats_free)(void *arg, struct admin_session_stats *st);
    void *session_arg;
    /* NULL: the rules, global, commands and processlist tables are empty.
     * proxy_stats fills the parts of *out named by the ADMIN_PROXY_* bits
     * of what (0, or -1 on ENOMEM with *out empty); proxy_stats_free
     * releases them. Called on the admin thread with proxy_stats_arg; may
     * block for a bounded time (the processlist asks every worker). */
    int (*proxy_stats)(void *arg, unsigned what, struct admin_proxy_stats *out);
    void (*proxy_stats_free)(void *arg, struct admin_proxy_stats *st);
    void *proxy_stats_arg;
};

/* Sets where the stats tables read from. The store keeps a copy of *src (NULL
 * clears every source); the pointers inside are borrowed and must stay valid
 * until they are replaced or the store is closed. Main thread, like every
 * store function. */
void admin_store_set_sources(struct admin_store *store, const struct admin_sources *src);

/* Monitor check logs (ProxySQL's monitor.mysql_server_*_log, here in
 * MEMORY's main schema): written by the monitor on the main thread,
 * read-only for operators like runtime_*. The writes join an operator's open
 * transaction if there is one (one SQLite connection): rolling it back drops
 * them too. */
enum admin_monitor_check {
    ADMIN_MONITOR_CONNECT,   /* mysql_server_connect_log */
    ADMIN_MONITOR_PING,      /* mysql_server_ping_log */
    ADMIN_MONITOR_READ_ONLY, /* mysql_server_read_only_log */
    ADMIN_MONITOR_REPL_LAG,  /* mysql_server_replication_lag_log */
};

struct admin_monitor_entry {
    enum admin_monitor_check check;
    const char *host;
    int port;
    int64_t time_start_us; /* wall clock, microseconds since the epoch */
    int64_t success_time_us;
    /* read_only (0/1) or repl_lag (seconds); value_null writes NULL (lag
     * unknown: replication stopped, or the check failed). */
    int64_t value;
    bool value_null;
    const char *error; /* NULL on success */
};

/* Appends one row. Returns 0 or a negative ADMIN_E* code. Main thread. */
int admin_monitor_log(struct admin_store *store, const struct admin_monitor_entry *e)
    __attribute__((warn_unused_result));
/* Deletes the rows of every log older than before_us. Main thread. */
int admin_monitor_prune(struct admin_store *store, int64_t before_us)
    __attribute__((warn_unused_result));
/* Rewrites runtime_mysql_servers to show servers (the monitor's effective
 * placement and status), so operators see what is live as on ProxySQL.
 * Columns Sluice does not read (gtid_port, compression, max_latency_ms) go
 * back to their defaults. Main thread. */
int admin_runtime_servers_show(struct admin_store *store, const struct admin_server *servers,
                               size_t n) __attribute__((warn_unused_result));

/* Splits "host:port" into host (NUL-terminated, at most hostlen-1) and port.
 * Returns 0 or ADMIN_EINVAL. */
int admin_parse_hostport(const char *text, char *host, size_t hostlen, int *port);
/* The same for the first entry of a ';'-separated list (mysql-interfaces,
 * admin-mysql_ifaces: only the first is served). 0 or ADMIN_EINVAL. */
int admin_first_hostport(const char *list, char *host, size_t hostlen, int *port);

/* Admin access (admin/access.c). The default credentials admin:admin, and
 * any with an empty password, are weak: accepted only from a loopback
 * client, and not configured at all when the admin interface listens
 * elsewhere. Pure functions, any thread. */

/* Is host a numeric loopback address: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z?
 * Names ("localhost") and anything else are not. */
bool admin_addr_is_loopback(const char *host);

/* Is the credential user:password weak (admin:admin, or password empty or
 * NULL)? */
bool admin_credential_weak(const char *user, const char *password);

/* Checks admin-mysql_ifaces (ifaces) against admin-admin_credentials
 * (creds): ADMIN_EINVAL, with a message in errbuf naming the address, the
 * user (never a password) and what to set, when an entry of ifaces is a
 * numeric address other than loopback (0.0.0.0, a LAN address) and a pair
 * of creds is weak. Else 0. */
int admin_check_exposure(const char *ifaces, const char *creds, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

#endif
