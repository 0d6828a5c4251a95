/*
 * Private declarations shared by the files of proxy/: workers, client
 * sessions and the backend side of a session.
 */
#ifndef SLUICE_PROXY_INT_H
#define SLUICE_PROXY_INT_H

#include "admin/admin.h"
#include "codec/codec.h"
#include "common/common.h"
#include "net/net.h"
#include "pool/pool.h"
#include "proxy/errors.h"
#include "proxy/qcache.h"
#include "router/router.h"
#include "stats/stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct proxy;
struct worker;
struct session;

/* ------------------------------------------------------------ varsets */

/* Session variables as the server reported them (name -> value), sorted by
 * name. Values are exactly what the server reported. */
struct var {
    char *name;
    char *value;
};
struct varset {
    struct var *v;
    size_t n;
    size_t cap;
};
void varset_init(struct varset *vs);
void varset_free(struct varset *vs);
/* Sets name (nlen bytes, not NUL-terminated) to value (vlen bytes): 0,
 * PROXY_EINVAL for a name with a NUL in it, PROXY_ENOMEM; vs is unchanged
 * on failure. */
int varset_set(struct varset *vs, const char *name, size_t nlen, const char *value, size_t vlen)
    __attribute__((warn_unused_result));
const char *varset_get(const struct varset *vs, const char *name);
/* Replaces dst with a copy of src: 0 or PROXY_ENOMEM (dst unchanged). */
int varset_copy(struct varset *dst, const struct varset *src) __attribute__((warn_unused_result));
bool varset_equal(const struct varset *a, const struct varset *b);
/* Appends to sql a SET statement that turns `have` into `want`; returns the
 * number of assignments appended (0: nothing to do), PROXY_ENOMEM. */
int varset_diff_sql(const struct varset *want, const struct varset *have, struct codec_buf *sql)
    __attribute__((warn_unused_result));
/* Sets the four character-set variables (character_set_client,
 * _connection, _results, collation_connection) a server gives a connection
 * whose handshake names collation_id; for an id the server does not know it
 * sets none, which the prelude replays as DEFAULT: the server's own
 * defaults, as MariaDB does. 0 or PROXY_ENOMEM. */
int varset_set_charset(struct varset *vs, unsigned collation_id)
    __attribute__((warn_unused_result));

/* ------------------------------------------------ collations.c: ids */

/* One collation of the generated table (collations.inc). */
struct collation {
    unsigned id;
    const char *charset; /* as @@character_set_client shows it */
    const char *name;    /* as @@collation_connection shows it */
    bool is_default;     /* the one SET NAMES charset picks */
};
/* The collation with this id, or NULL when MariaDB 10.11 knows none. */
const struct collation *collation_by_id(unsigned id);
/* The default collation of a character set (name, len: not NUL-terminated),
 * or NULL for an unknown set. */
const char *collation_default_of(const char *charset, size_t len);
/* False for a character set MariaDB refuses as a client's (error 1231). */
bool collation_client_ok(const struct collation *c);

/* -------------------------------------------------------- backend data */

/* One statement prepared on a backend connection, kept for reuse (LRU). */
struct bstmt {
    uint64_t hash;
    char *sql;
    size_t sql_len;
    uint32_t backend_id;
    uint16_t nparams;
    uint16_t ncols;
    /* Column definitions and their EOF as the client must see them, for
     * execute replies whose metadata the server left out (MariaDB's
     * metadata caching). Packet headers included; sequence ids rewritten
     * when sent. */
    struct codec_buf coldefs;
    struct bstmt *lru_prev, *lru_next; /* head = most recently used */
    /* The worker table that counts it in stats_mysql_prepared_statements_info
     * (NULL: not counted); bstmt_free uncounts it there. */
    struct stats_worker *counted_in;
};

/* The proxy's data attached to a pooled backend connection. */
struct backend {
    struct codec_buf rbuf; /* bytes read from the backend, parsed from rpos */
    size_t rpos;
    struct codec_buf wq; /* bytes not yet written to the backend */
    size_t wq_off;
    struct codec_buf scratch; /* building rewritten commands */
    char schema[193];
    struct varset vars;
    bool multi_statements;
    uint64_t last_insert_id; /* LAST_INSERT_ID() as this connection would answer */
    /* The session whose variables this connection has (its serial, 0 for
     * none) at which version: a pointer would do, but a new session can be
     * allocated where a closed one was and take its vars_version too, and
     * would then skip the SET the connection needs (state leaking from the
     * previous session). Serials are never reused. */
    uint64_t synced_serial;
    uint64_t synced_version;
    struct bstmt *lru_head, *lru_tail;
    int n_stmts;
};
/* bstmt.c: a backend's data (the pool frees it with backend_free) and its
 * statement cache, most recently used first. */
struct backend *backend_new(void);
void backend_free(void *backend);
/* Makes room in be->rbuf for the next recv (at least 4 KiB; RBUF_SIZE at
 * first), dropping what was parsed. 0 or PROXY_ENOMEM. */
#define RBUF_SIZE 65536
int backend_rbuf_room(struct backend *be) __attribute__((warn_unused_result));
struct bstmt *bstmt_find(struct backend *be, uint64_t hash, const char *sql, size_t len);
void bstmt_unlink(struct backend *be, struct bstmt *b);
void bstmt_push_front(struct backend *be, struct bstmt *b);
void bstmt_free(struct bstmt *b);
/* Caches s->cur_stmt as prepared on s->be, with the id, counts and column
 * definitions (s->meta, taken) of the reply in s->resp. 0 or PROXY_ENOMEM. */
int bstmt_keep(struct session *s);
void bstmt_prepared(struct session *s);

/* ------------------------------------------------------------ sessions */

enum sess_state {
    SS_HANDSHAKE,    /* greeting sent, waiting for the handshake response */
    SS_AUTH_SWITCH,  /* auth switch sent, waiting for the token */
    SS_IDLE,         /* waiting for the next command */
    SS_WAIT_BACKEND, /* queued in the pool for a backend connection */
    SS_BACKEND,      /* running prelude/internal commands or forwarding */
    SS_CLOSING,      /* handles closing; freed from the close callback */
};

/* Why the session keeps its backend between statements. */
#define PIN_TRANSACTION 0x01u
#define PIN_SESSION_STATE 0x02u /* user variables, temporary tables, SQL PREPARE */
#define PIN_NAMED_LOCK 0x04u
#define PIN_LOCK_TABLES 0x08u
#define PIN_CURSOR 0x10u
#define PIN_LONG_DATA 0x20u
#define PIN_RULE 0x40u /* a query rule with multiplex=0 matched */

/* What the response parser expects for the command in flight. */
enum resp_kind {
    RESP_QUERY,      /* COM_QUERY: result sets, OK, ERR, LOCAL INFILE */
    RESP_EXECUTE,    /* COM_STMT_EXECUTE: binary result sets */
    RESP_FETCH,      /* COM_STMT_FETCH: rows then EOF */
    RESP_PREPARE,    /* COM_STMT_PREPARE */
    RESP_FIELD_LIST, /* COM_FIELD_LIST: column definitions then EOF */
    RESP_SIMPLE,     /* one OK/ERR/EOF packet */
    RESP_ANY_ONE,    /* one packet of any kind (COM_STATISTICS) */
    RESP_NONE,       /* no response (COM_STMT_CLOSE, SEND_LONG_DATA) */
};

enum resp_state {
    RS_FIRST,    /* first packet of a (next) result */
    RS_COLS,     /* column definitions, ncols_left to go */
    RS_COLS_EOF, /* EOF after column definitions */
    RS_META_EOF, /* after replayed cached definitions: EOF or first row */
    RS_ROWS,     /* rows until EOF/ERR */
    RS_PARAMS,   /* prepare: parameter definitions */
    RS_PARAMS_EOF,
    RS_PCOLS, /* prepare: column definitions */
    RS_PCOLS_EOF,
    RS_FIELDS, /* field list: definitions until EOF */
    RS_INFILE, /* LOCAL INFILE: client is sending file contents */
    RS_DONE,
};

/* The step the backend side is in while state == SS_BACKEND. */
enum bstep {
    BS_GTID_WAIT,  /* causal read: waiting for the replica to apply a GTID */
    BS_SET_OPTION, /* swallowing COM_SET_OPTION reply */
    BS_INIT_DB,    /* swallowing COM_INIT_DB reply */
    BS_SET_VARS,   /* swallowing the SET reply */
    BS_LAST_ID,    /* swallowing DO LAST_INSERT_ID(n) */
    BS_REPREPARE,  /* swallowing an internal COM_STMT_PREPARE */
    BS_FORWARD,    /* client's command sent, relaying the response */
};

/* What the response parser needs to know of the backend connection. */
struct resp_peer {
    uint32_t caps;     /* negotiated capability flags (pool_conn_caps) */
    uint32_t ext_caps; /* MariaDB extended capabilities (pool_conn_ext_caps) */
    int hostgroup;     /* where a reported last_gtid was written */
};

struct resp {
    enum resp_kind kind;
    struct resp_peer peer;
    enum resp_state st;
    bool swallow;      /* internal command: nothing reaches the client */
    bool continuation; /* previous packet had a 0xffffff payload */
    bool strip_meta;   /* backend sends MariaDB extended column metadata */
    bool cache_meta;   /* backend may omit execute metadata (MariaDB) */
    uint8_t seq_shift; /* added to sequence ids of relayed packets */
    bool seq_known;    /* last_seq holds the previous packet's sequence id */
    uint8_t last_seq;
    uint32_t pkt_left; /* payload bytes of a streamed packet still to pass */
    uint64_t ncols_left;
    uint16_t pparams, pcols;
    /* captured */
    uint16_t status;
    uint16_t warnings;
    bool error;
    bool sent_any;    /* bytes of this response already reached the client */
    bool capture_row; /* keep the first column of the first row (internal query) */
    char captured[32];
    bool captured_null;
    uint64_t rows_sent;
    uint64_t rows_affected;
    uint64_t last_insert_id;
    uint32_t prep_stmt_id;
    uint16_t prep_params, prep_cols;
    bool state_changed; /* SESSION_TRACK_STATE_CHANGE seen */
    /* A result of the client's command ended outside a transaction
     * ("COMMIT; BEGIN" in one go): a transaction open after it is a new
     * one. pinstats_account() consumes it. */
    bool txn_gap;
    bool vars_reported; /* system variables or schema reported */
    char errmsg[256];
    uint16_t errcode;
    char sqlstate[6];
};

/* A statement the client prepared, under the id the client sees. */
struct cstmt {
    uint32_t id;
    char *sql;
    size_t sql_len;
    uint64_t hash;
    uint64_t digest; /* router_digest() hash of sql, 0 until first computed */
    int hostgroup;   /* where the rules sent the PREPARE (stmt_route.c) */
    uint16_t nparams;
    uint16_t ncols;
    uint8_t *param_types; /* 2 * nparams bytes from the last execute that bound them */
    bool have_types;
    struct codec_buf prep_resp; /* the prepare response as the client saw it */
    struct cstmt *next;
    /* As bstmt.counted_in: session_stmt_free uncounts it. */
    struct stats_worker *counted_in;
};

/* A session's statements by client id (stmtmap.c). The map does not own
 * them: they stay on the session's `stmts` list. */
struct stmt_map {
    struct cstmt **slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};
/* 0, or PROXY_ENOMEM (m unchanged). */
int stmt_map_put(struct stmt_map *m, struct cstmt *st) __attribute__((warn_unused_result));
struct cstmt *stmt_map_get(const struct stmt_map *m, uint32_t id);
void stmt_map_del(struct stmt_map *m, uint32_t id);
void stmt_map_free(struct stmt_map *m);

/* How a session's bytes reach its client (session_tcp.c for TCP; the fuzz
 * target has a memory one). The transport fills the session's input
 * through session_input_space()/session_input() and reports back through
 * session_write_done() and session_io_closed(). */
struct session_io {
    /* Writes what the peer takes now: bytes written, UV_EAGAIN for none, or
     * another negative error. */
    int (*try_write)(struct session *s, const uint8_t *data, size_t len);
    /* Writes all len bytes in the background (data stays valid until then);
     * calls session_write_done() once. 0, or a negative error. */
    int (*write)(struct session *s, const uint8_t *data, size_t len);
    /* Starts or stops delivering input. 0, or a negative error. */
    int (*read)(struct session *s, bool on);
    /* Closes the transport; calls session_io_closed() once, later. */
    void (*close)(struct session *s);
};

/* A logged-in session as KILL finds it (kill.c): written by the owner
 * under the registry's lock, read by killers under it. */
struct kill_node {
    uint32_t id;
    int worker;
    char user[128];
    bool listed;
    struct kill_node *next; /* bucket chain */
};

struct session {
    struct worker *worker;
    const struct session_io *io;
    uint32_t id;
    uint64_t serial;        /* unique for the process's life, unlike id and the address */
    struct kill_node knode; /* in the KILL registry once logged in (kill.c) */
    bool conn_killed;       /* KILL QUERY sent for s->conn: close it, never pool it */
    enum sess_state state;
    struct net_conn tcp; /* the TCP transport's (session_tcp.c) */
    uv_timer_t timer;
    int pending_closes;
    bool close_after_write;
    char peer[64];
    char peer_ip[48];
    struct session *prev, *next; /* worker's list */

    struct admin_config *cfg; /* ref held for the session's life */
    const struct admin_user *user;
    char username[128];
    uint32_t caps;
    uint8_t scramble[20];
    uint16_t charset; /* collation id of the handshake or COM_CHANGE_USER */
    char handshake_db[193];

    struct codec_buf in;
    struct codec_buf out;
    bool writing;

    /* session state replayed on any backend */
    char schema[193];
    struct varset vars;
    uint64_t vars_version;
    bool multi_statements;
    uint64_t last_insert_id; /* what LAST_INSERT_ID() must answer */
    char last_gtid[64];      /* GTID of the session's last write (session tracking) */
    int gtid_hostgroup;      /* where that write ran */
    char want_gtid[64];      /* this statement must see this GTID (causal read) */
    int gtid_fallback_hg;    /* where it runs if the chosen replica has not got it */

    /* multiplexing */
    unsigned pin;
    int keep_next;
    bool in_txn;
    struct pool_conn *conn;
    struct backend *be;
    struct pool_waiter *waiter;
    int hostgroup;
    bool paused; /* backend reads paused for client back-pressure */

    /* the command in flight */
    size_t cmd_len; /* bytes of `in` the command occupies */
    uint8_t cmd;
    enum bstep step;
    struct resp resp;
    unsigned stmt_flags;
    uint64_t digest_hash; /* the command's digest when routing computed it, else 0 */
    struct cstmt *cur_stmt;
    struct bstmt *cur_bstmt;  /* backend statement of an execute */
    struct codec_buf meta;    /* column definitions captured from a prepare */
    struct codec_buf rewrite; /* the statement as a rule rewrote it */
    bool rewritten;
    int retries; /* times this command ran again after its backend failed */
    uint64_t started_ns;
    /* Rule actions of the statement in flight (backend.c): retries allowed
     * (the rule's or mysql-query_retries_on_failure), timeout and delay in
     * ms (0: none), cache_ttl in ms (0: not cached). */
    int max_retries;
    int timeout_ms;
    int delay_ms;
    int cache_ttl;
    /* Query cache capture: bytes of `out` from qc_off on are copied into
     * qc_buf as the response streams, while it stays under
     * QCACHE_ENTRY_MAX. */
    bool qc_capture;
    size_t qc_off;
    struct codec_buf qc_buf;

    struct cstmt *stmts;
    struct stmt_map stmt_ids;
    size_t n_stmts;
    uint32_t next_stmt_id;

    /* Input control (session.c): whether the client socket is being read,
     * whether it is counted among the sessions still logging in, and a
     * login answer held back while the address serves its failure delay. */
    bool reading;
    uint64_t buffer_bytes; /* counted in proxy.buffer_bytes */
    bool unauth_counted;
    bool auth_held;
    bool auth_delayed;

    /* limits.c */
    bool admitted;           /* counted in proxy.clients_now */
    struct user_slot *uslot; /* counted against its user's max_connections */
    uint64_t idle_since_ns;  /* when the session last went SS_IDLE */
    uint64_t txn_start_ns;   /* start of the statement that opened the transaction */
    /* pinstats.c: what the session counts in its worker's pin figures, and
     * the STATS_PIN_BITs that explain its PIN_SESSION_STATE. */
    struct stats_pin_account pin_acct;
    unsigned state_reasons;
};

/* ------------------------------------------------------------- workers */

struct worker {
    struct proxy *proxy;
    int index;
    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    bool listening;
    uv_async_t wake;
    uv_timer_t drain_timer;
    bool draining;
    struct session *sessions;
    int n_sessions;
    struct admin_config *cfg;         /* current snapshot (ref) */
    pthread_mutex_t pending_lock;     /* guards pending_cfg */
    struct admin_config *pending_cfg; /* published, not yet taken (ref) */
    unsigned pending_actions;         /* ADMIN_ACT_* not yet done; pending_lock */
    bool paused;                      /* PROXYSQL PAUSE: new clients wait */
    bool accept_pending;              /* a connection came while paused: accept it on RESUME */
    struct router_scratch *scratch;   /* rule evaluation without allocation */
    struct router_digest_stats *digest_stats; /* this worker's stats_mysql_query_digest */
    char digest_text[1024];
    struct stats_worker *stats;      /* this worker's figures (stats.h) */
    struct stats_counters *counters; /* in stats: written by this worker only */
    uv_timer_t guard_timer;          /* transaction limits sweep (limits.c) */
    struct qcache *qcache;           /* this worker's query cache (qcache.h) */
    struct codec_buf qc_key;         /* query cache key being built, reused */
};

struct proxy {
    struct admin_config *cfg;
    struct pool *pool;
    int nworkers;
    struct worker *workers;
    uint32_t next_conn_id; /* atomic */
    uint64_t next_serial;  /* atomic: sessions' serials (struct session's serial) */
    char listen_name[300]; /* host:port of the client listener, for logs */
    bool started;
    struct router_digest_stats **digest_stats; /* [nworkers], for the admin tables */
    int listen_fds_ready;
    uint32_t clients_now;  /* atomic: admitted client sessions (mysql-max_connections) */
    uint32_t unauth_now;   /* atomic: of those, sessions still logging in */
    uint64_t buffer_bytes; /* atomic: capacity of every session's in and out buffers */
    struct host_failures *host_failures; /* failed logins per address (limits.c) */
    struct user_counts *users;           /* per-user session counts (limits.c) */
    struct monitor *monitor; /* main thread only; NULL: servers go to the pool as configured */
    struct stats *stats;     /* session counters and the processlist (stats.h) */
    struct kill_reg *kills;  /* who owns which session id, for KILL (kill.c) */
};

/* errstats.c: stats_mysql_errors. The ERR the session's backend just
 * answered (s->resp's errcode and errmsg), on its worker; the pool's
 * connect error hook (arg: the proxy), on the connect's worker. */
void errstats_backend_err(struct session *s);
void errstats_connect_failed(void *arg, const struct pool_connect_error *e);
/* stats_mysql_prepared_statements_info: counts st (a client statement,
 * server false, or the copy s->be now holds, server true) in s's worker,
 * returning the table to remember in counted_in (NULL: not counted). */
struct stats_worker *errstats_stmt_count(struct session *s, const struct cstmt *st, bool server);

/* worker.c */
int proxy_server_specs(const struct admin_config *cfg, struct pool_server_spec **out);

/* session.c. A transport makes a session with session_new() (it joins the
 * worker's list, nothing is sent yet), sets peer and peer_ip, then calls
 * session_start() (admission, greeting). */
struct session *session_new(struct worker *w, const struct session_io *io);
void session_start(struct session *s);
/* Every change of s->state goes through here. */
void session_set_state(struct session *s, enum sess_state st);
/* For transports: room for input at the end of s->in (*base, *len; 0 or
 * PROXY_ENOMEM), nread bytes put there (negative: the peer is gone), a
 * background write finished, the transport closed. */
int session_input_space(struct session *s, uint8_t **base, size_t *len)
    __attribute__((warn_unused_result));
void session_input(struct session *s, ssize_t nread);
void session_write_done(struct session *s, int status);
void session_io_closed(struct session *s);
/* session_tcp.c */
void session_accept(struct worker *w, uv_stream_t *listener);
void session_close(struct session *s);
void session_drain(struct session *s);
/* kill.c: the registry of session ids (init/free with the proxy; enter at
 * login and COM_CHANGE_USER, leave at close: the session's thread),
 * KILL [CONNECTION|QUERY] <id> answered from route_query() (true when it
 * was: the command is done), the kills queued for worker w done on its
 * thread (kill_serve(), from its wake), and SELECT CONNECTION_ID() made to
 * return s->id (true when s->rewrite holds the new statement). */
int kill_reg_init(struct proxy *p) __attribute__((warn_unused_result));
void kill_reg_free(struct proxy *p);
void kill_reg_enter(struct session *s);
void kill_reg_leave(struct session *s);
bool answer_kill(struct session *s, const char *q, size_t len);
/* The id of KILL [HARD|SOFT] [CONNECTION|QUERY] <id> (*query for QUERY),
 * or -1 for any other text (KILL QUERY ID, KILL USER: the server's). */
long long kill_parse(const char *q, size_t len, bool *query);
void kill_serve(struct worker *w);
bool connection_id_rewrite(struct session *s, const char *q, size_t len);

/* refusal.c: the sequence number of the reply to the client's current
 * message (after its last packet); and, after a failed write or a reply
 * numbered out of order while forwarding, whether the server sent an ERR
 * before closing (1153: over its max_allowed_packet). If so that ERR is in
 * `out`, renumbered for the client, and the caller ends the session. */
uint8_t session_reply_seq(const struct session *s);
bool backend_take_refusal(struct session *s);
void session_send_error(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
                        const char *msg);
void session_flush(struct session *s);
void session_command_done(struct session *s);
void session_process_input(struct session *s);
/* Starts or stops reading the client socket as the session can take input:
 * a busy session (a command running, a reply being written) buffers at most
 * a small backlog, and LOAD DATA LOCAL's file stops while the backend's
 * write queue is full. Call it after anything that changes those. */
void session_update_reading(struct session *s);
/* Adds a prepared statement the server accepted to the session's own: 0 or
 * PROXY_ENOMEM (st not added; the caller still owns it). */
int session_stmt_add(struct session *s, struct cstmt *st) __attribute__((warn_unused_result));
/* Frees a client statement that is in no session's list. */
void session_stmt_free(struct cstmt *st);

/* Closes the session because a limit killed it: its backend connection is
 * closed, not reused (the server rolls back an open transaction). If a
 * statement is running, the client first gets an ERR packet with code,
 * sqlstate and msg. */
void session_kill(struct session *s, uint16_t code, const char *sqlstate, const char *msg);

/* limits.c. Per-user counts are a mutex-guarded table; limits_init/free at
 * proxy_new/proxy_free. */
struct user_slot;
struct user_counts;
/* 0 or PROXY_ENOMEM. */
int limits_init(struct proxy *p) __attribute__((warn_unused_result));
void limits_free(struct proxy *p);
/* Counts a new client session; false (nothing counted) when that would
 * pass max. Any worker thread. */
bool limits_client_admit(struct proxy *p, int max);
void limits_client_leave(struct proxy *p);
/* The same for sessions still logging in, under max of their own. */
bool limits_unauth_admit(struct proxy *p, int max);
/* The bytes session buffers may hold before new sessions are refused:
 * mysql-session_buffers_MB, or a quarter of physical memory when it is 0. */
uint64_t limits_buffer_budget(const struct admin_config *cfg);
void limits_unauth_leave(struct proxy *p);
/* Failed logins by client address. The wait before answering the next
 * login from ip: 0 without recent failures, else delay_ms doubled for each
 * failure after the first, at most max_ms. A success forgets the address.
 * Any worker thread. */
int hostcache_init(struct proxy *p) __attribute__((warn_unused_result)); /* 0, PROXY_ENOMEM */
void hostcache_free(struct proxy *p);
uint32_t limits_login_delay_ms(struct proxy *p, const char *ip, int delay_ms, int max_ms);
void limits_login_failed(struct proxy *p, const char *ip);
void limits_login_succeeded(struct proxy *p, const char *ip);
/* Copies the addresses with failed logins (at most max rows) for
 * stats_mysql_client_host_cache. Any thread. Returns the row count. */
size_t limits_host_failures(struct proxy *p, struct admin_host_failure *rows, size_t max);
/* Counts a session of user `name` in *out: 0, or 1 when the user already
 * has max sessions (nothing counted), PROXY_ENOMEM. Any worker thread. */
int limits_user_admit(struct proxy *p, const char *name, int max, struct user_slot **out)
    __attribute__((warn_unused_result));
void limits_user_leave(struct proxy *p, struct user_slot *slot);
/* Client sessions of user name now (stats_mysql_users). Any thread. */
int limits_user_count(struct proxy *p, const char *name);
/* Starts the worker's periodic sweep of transaction limits; the timer is
 * closed with the worker's other handles. */
void limits_guard_start(struct worker *w);

/* pinstats.c: brings the worker's pin figures up to date with the
 * session's pins and transaction, counting each reason that became set
 * (with the digest of the statement in flight). Cheap when nothing
 * changed. Worker thread. */
void pinstats_account(struct session *s);
/* Sets the session's PIN_* bits and in_txn from the response to the command
 * that just ended (its status flags, its statement's flags). */
void pinstats_after_command(struct session *s);
/* The session ends: it leaves every gauge. */
void pinstats_forget(struct session *s);

/* cmdstats.c: counts the session's COM_QUERY or COM_STMT_EXECUTE that ends
 * at now_ns in stats_mysql_commands_counters; other commands are ignored.
 * Worker thread, no lock. */
void cmdstats_record(struct session *s, uint64_t now_ns);
/* Counts the statement in flight in the worker's digest stats, as run on
 * hostgroup hg (-1: answered from the query cache). Worker thread. */
void cmdstats_record_digest(struct session *s, int hg);

/* processlist.c: publishes the worker's rows of stats_mysql_processlist if
 * the main loop asked for them (stats_plist_asked). Worker thread, from its
 * wake-up async. */
void processlist_serve(struct worker *w);
/* Copies at most outlen-1 bytes of the statement q into out with its
 * secrets masked (router_mask_secrets()), cut back to a whole UTF-8
 * character, NUL-terminated. Returns the length. */
size_t processlist_info(const char *q, size_t len, char *out, size_t outlen);

/* route.c: routes the session's COM_QUERY through the rules. Returns false
 * when the statement was answered here (rule error, OK message, cache hit,
 * SELECT @@last_gtid) and the command is done. */
bool route_query(struct session *s);

/* backend.c */
void backend_begin(struct session *s);
void backend_on_ready(void *arg, struct pool_conn *conn, int err, const char *errmsg);
void backend_detach(struct session *s, bool reusable);
void backend_resume(struct session *s);
/* Sends data (whole packets) to s's backend now, queueing what the socket
 * does not take. 0, PROXY_EIO (the socket failed) or PROXY_ENOMEM. */
int backend_send(struct session *s, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));
/* Bytes queued for the backend beyond what its socket took. */
size_t backend_queued(const struct session *s);
void backend_forward_infile(struct session *s);

/* Session-prefixed logging (slog.c): "worker W session ID user 'U' from
 * PEER: message", the user once logged in. The level is checked before
 * anything is formatted. */
void slog_write(enum log_level level, const struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SLOG_AT(lvl, s, ...)                                                                       \
    do {                                                                                           \
        if ((int)(lvl) <= log_current_level)                                                       \
            slog_write((lvl), (s), __VA_ARGS__);                                                   \
    } while (0)
#define slog_error(s, ...) SLOG_AT(LOG_LEVEL_ERROR, s, __VA_ARGS__)
#define slog_warn(s, ...) SLOG_AT(LOG_LEVEL_WARN, s, __VA_ARGS__)
#define slog_info(s, ...) SLOG_AT(LOG_LEVEL_INFO, s, __VA_ARGS__)
#define slog_debug(s, ...) SLOG_AT(LOG_LEVEL_DEBUG, s, __VA_ARGS__)

/* backend.c */
/* Applies to s->hostgroup what the statement q (len bytes) asks for beyond
 * the rules: a leading hostgroup=N hint (mysql-hostgroup_hints) and, with
 * causal, a causal read's GTID wait. Outside transactions and pins only. */
void backend_route_hints(struct session *s, const char *q, size_t len, bool causal);

/* stmt_route.c: routes a COM_STMT_PREPARE (creating s->cur_stmt) or a
 * command on the client statement s->cur_stmt by the query rules, setting
 * s->hostgroup and the rule actions. Returns false when the command was
 * answered here (an error_msg or OK_msg rule, or out of memory). Worker
 * thread. */
bool stmt_route(struct session *s);

/* rule_actions.c: the query cache hooks (their order is in the file's
 * header) and the kill of a statement past its rule timeout. Worker
 * thread. */
/* True when the COM_QUERY q (len bytes) of s may use the cache: an
 * autocommit single-packet read outside transactions and pinned state. */
bool qc_cacheable(struct session *s, const char *q, size_t len);
/* On a hit appends the stored response to s->out, sets *rows to the rows
 * it holds and returns true. */
bool qc_answer(struct session *s, const char *q, size_t len, uint64_t *rows);
void qc_begin(struct session *s);
void qc_take(struct session *s);
void qc_finish(struct session *s);
void qc_abandon(struct session *s);
/* Asks the server of s->conn, over a separate connection made in the
 * thread pool, to kill the backend's thread; the caller closes s->conn. */
void backend_kill_query(struct session *s);

#endif
