/*
 * Pool: hostgroups, servers and their backend connections.
 *
 * A backend connection is opened with Connector/C's non-blocking API, driven
 * from the requesting worker's libuv loop through a uv_poll_t on the
 * library's socket; once established the proxy does raw packet I/O on that
 * socket (pool_conn_fd / pool_conn_watch).
 *
 * Caps are global and exact: each server counts its open connections
 * (connecting or established) under its mutex, and a connection is counted
 * before its connect starts. Idle connections live on the idle list of the
 * worker that last used them (their uv_poll_t stays initialised on that
 * loop). When every server of a hostgroup is full, requests wait in one
 * FIFO per server shared by all workers; a release anywhere hands the
 * connection to the head waiter (moving it to the waiter's loop through that
 * worker's inbox), or, when nobody waits for that server, to a request
 * queued at another server of its hostgroup; a worker holding idle
 * connections donates them when another worker queues. A 100 ms tick per
 * worker does the housekeeping (pool/maint.c: warm-up, idle timeout, age,
 * keep-alive pings, OFFLINE_HARD).
 *
 * Threads: pool_new, pool_free, pool_update, pool_configure and the
 * monitor's setters run on the main thread; pool_worker_attach before the
 * worker's loop runs; every other function on the thread of the worker it
 * names (or that owns the connection). Callbacks run on that worker's
 * thread, from its loop, never inside a pool function (contracts below).
 */
#ifndef SLUICE_POOL_POOL_H
#define SLUICE_POOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum pool_err {
    POOL_PENDING = 1,    /* not an error: the callback will fire */
    POOL_ENOSERVER = -1, /* no usable server in the hostgroup */
    POOL_ENOMEM = -2,
    POOL_ECONNECT = -3, /* backend connect failed (message in callback) */
    POOL_ESHUTDOWN = -4,
    POOL_EOVERLOAD = -5, /* fail fast: the server's queue is too long or too slow */
};

const char *pool_strerror(int err);

struct pool;
struct pool_conn;
struct pool_waiter;

/* A server's state, as mysql_servers.status names them. Every state but
 * ONLINE takes no new work. SHUNNED and OFFLINE_SOFT let lent connections
 * finish and close them when returned; OFFLINE_HARD also breaks the lent
 * ones at once (their sessions get an error). */
enum pool_server_status {
    POOL_SERVER_ONLINE = 0,
    POOL_SERVER_SHUNNED,
    POOL_SERVER_OFFLINE_SOFT,
    POOL_SERVER_OFFLINE_HARD,
};

struct pool_server_spec {
    int hostgroup;
    const char *host;
    int port;
    int max_connections;
    int weight; /* share of new connections among a hostgroup's servers; 0 = none */
    /* > 0: while its measured round trip (keep-alive or monitor ping) is
     * above this, the server gets new work only if no server of its
     * hostgroup is fast enough (ProxySQL's max_latency_ms). */
    int max_latency_ms;
    enum pool_server_status status;
};

/* Behaviour per server; every figure <= 0 turns its feature off. */
struct pool_settings {
    int connect_timeout_ms; /* one backend connect, and one keep-alive ping */
    /* Frees the proxy's per-connection data when a connection closes. */
    void (*userdata_free)(void *userdata);
    /* Warm-up: keep min_idle idle connections per ONLINE server, opened as
     * warmup_user (no warm-up when empty), at most warmup_rate per second,
     * the first one after a random delay of up to warmup_jitter_ms (at start
     * and whenever the server returns to service) and the next ones spaced
     * by 1/rate plus a random fraction of it, so that proxies restarted
     * together do not connect in step. */
    int min_idle;
    int warmup_rate;
    int warmup_jitter_ms;
    char warmup_user[128];
    char warmup_password[128];
    int idle_timeout_ms;  /* close idle connections above min_idle after this */
    int max_age_ms;       /* recycle (when idle) after this, less up to 10% jitter */
    int ping_interval_ms; /* COM_PING idle connections this often */
    bool test_on_borrow;  /* COM_PING before lending an idle connection */
    /* Fail fast: pool_acquire returns POOL_EOVERLOAD instead of queueing when
     * fail_fast_queue_length requests already wait for the server, or when
     * the oldest waits, or one served in the last second waited, longer
     * than fail_fast_wait_ms. */
    int fail_fast_queue_length;
    int fail_fast_wait_ms;
    /* This many connect errors in a row shun a server for shun_recovery_ms;
     * a request whose connect failed is retried on another server of the
     * hostgroup (nothing was sent yet, so that is always safe). */
    int shun_on_failures;
    int shun_recovery_ms;
};

/* Creates the pool for nworkers workers. Copies specs. Returns NULL on
 * allocation failure. */
struct pool *pool_new(const struct pool_server_spec *specs, size_t n, int nworkers,
                      const struct pool_settings *settings);
/* Applies a new server list (LOAD MYSQL SERVERS TO RUNTIME): caps and
 * states of known servers (hostgroup, host, port) change at once; new ones
 * are added; servers missing from specs go offline (no new work; their
 * connections close when returned). Queued requests get any slots a change
 * opened. Main thread. Returns 0 or POOL_ENOMEM (more than 1,024 servers). */
int pool_update(struct pool *pool, const struct pool_server_spec *specs, size_t n)
    __attribute__((warn_unused_result));
/* Applies new settings (userdata_free is kept). Main thread; workers see
 * each figure on their next use. */
void pool_configure(struct pool *pool, const struct pool_settings *settings);
/* Makes the MySQL client handle m (a MYSQL *, from mysql_init) refuse any
 * LOCAL INFILE request a server sends: no file is ever read for a server.
 * Call it on every connection Sluice opens (pool, monitor, kills). */
struct st_mysql;
void pool_refuse_local_infile(struct st_mysql *m);

/*
 * A backend connect that failed (its error or its timeout), reported
 * through the hook set by pool_set_connect_error_hook, for the proxy's
 * stats_mysql_errors. Strings are valid during the call only.
 */
struct pool_connect_error {
    int worker;
    int hostgroup;
    const char *host;
    int port;
    const char *user;
    unsigned err_no; /* the client library's or the server's; 9001: timeout */
    const char *msg; /* the client library's message, without the server name */
    /* The borrower's arg of the request the connect ran for (pool_acquire's
     * arg), NULL for a warm-up connect or a request already withdrawn. */
    void *requester;
};
/* Sets hook(arg, e), called on the thread of e->worker, from its loop,
 * inside the pool's handling of the failure: it must not call the pool.
 * Main thread, before any worker runs (it is read without a lock). */
void pool_set_connect_error_hook(struct pool *pool,
                                 void (*hook)(void *arg, const struct pool_connect_error *e),
                                 void *arg);

/* An idle backend connection, for stats_mysql_free_connections. */
struct pool_idle_conn {
    int worker;
    int fd;
    int hostgroup;
    char host[256];
    int port;
    char user[128];
    uint64_t idle_ms; /* idle for, when read */
};
/* The idle connections of every worker, into *out (malloc'd, *n of them;
 * free()). Each worker's idle list belongs to its thread, so this reads the
 * snapshot the worker takes at each 100 ms tick (under its snap_lock): the
 * set is at most one tick old, idle_ms is computed now. Returns 0 or
 * POOL_ENOMEM (*out NULL). Any thread. */
int pool_idle_conns(struct pool *pool, struct pool_idle_conn **out, size_t *n)
    __attribute__((warn_unused_result));

/* Frees the pool; every worker must have detached. */
void pool_free(struct pool *pool);

/* Sets up worker's inbox and housekeeping timer on loop. Call it before
 * loop runs, from any thread, as long as no thread runs loop yet (proxy_new
 * calls it from the main thread before the worker threads start): libuv
 * handles cannot be added to a loop that another thread is running.
 * Returns 0, or POOL_ENOMEM when a handle cannot be initialised. */
int pool_worker_attach(struct pool *pool, int worker, uv_loop_t *loop)
    __attribute__((warn_unused_result));
/* Closes worker's idle connections, timer and inbox. Requests of worker
 * still pending never complete (their waiters are freed here or by
 * pool_free), and connections on their way to it close. Call it on the thread that runs loop (from
 * a callback, or after uv_run returned), then let loop run so the close callbacks fire. */
void pool_worker_detach(struct pool *pool, int worker);

/*
 * pool_ready_cb(arg, conn, err, errmsg): the end of a request for which
 * pool_acquire returned POOL_PENDING.
 *
 * When: exactly once per such request, unless pool_cancel withdrew it
 * first (then never). It runs on the thread of the worker that called
 * pool_acquire, from that worker's loop (its inbox, a connect's poll or
 * timer, a test-on-borrow ping), never synchronously inside pool_acquire
 * nor inside any other pool call. A request still pending when its worker
 * detaches never completes.
 *
 * Arguments:
 *   conn    err == 0: the connection, lent to the callee, which owns it
 *           until it gives it back with pool_release (exactly once).
 *           err < 0: NULL.
 *   err     0, POOL_ECONNECT (the connect failed on every server of the
 *           hostgroup it was tried on) or POOL_ENOMEM.
 *   errmsg  NULL on success; else why, valid during the call only.
 *
 * The waiter that pool_acquire returned is freed before the callback runs:
 * the callee must forget it and never pass it to pool_cancel. The callee
 * may call any pool function of its worker: pool_conn_watch and
 * pool_release on conn, pool_acquire again (a retry after an error).
 */
typedef void (*pool_ready_cb)(void *arg, struct pool_conn *conn, int err, const char *errmsg);

/* Borrows a connection to a server of hostgroup for user, on worker (its
 * thread; attached). Returns 0 with *out set when an idle connection was
 * ready (lent at once, cb never fires); POOL_PENDING with *waiter set when
 * cb will fire later (see pool_ready_cb), waiter then being the handle for
 * pool_cancel; POOL_ENOSERVER when the hostgroup has no usable server,
 * POOL_EOVERLOAD when it fails fast, POOL_ENOMEM. user and password are
 * copied. user_limit > 0 caps the connections user holds at once on one
 * server: beyond it the request waits even if the server has room, and
 * queued requests of users under their limit are served first. */
int pool_acquire(struct pool *pool, int worker, int hostgroup, const char *user,
                 const char *password, bool found_rows, int user_limit, pool_ready_cb cb, void *arg,
                 struct pool_conn **out, struct pool_waiter **waiter)
    __attribute__((warn_unused_result));

/* Withdraws a pending request (deadline passed, client gone): its callback
 * will not fire, and a connection already on its way to it (or connecting
 * for it) goes idle or to the next request instead. Only before the
 * callback has fired: waiter is freed by then. Worker thread of the
 * waiter. */
void pool_cancel(struct pool *pool, struct pool_waiter *waiter);

/* Returns conn, which the caller must not use afterwards. reusable=true
 * hands it to a queued request or keeps it idle; reusable=false closes it
 * (it may be in an unknown state). Worker thread of the conn; allowed
 * inside pool_io_cb and pool_ready_cb. */
void pool_release(struct pool_conn *conn, bool reusable);

int pool_conn_fd(const struct pool_conn *conn);
/*
 * I/O readiness of a lent connection: pool_conn_watch(conn, events, cb,
 * arg) makes the pool call cb(arg, status, events) when conn's socket is
 * ready. The pool owns the uv_poll_t; the borrower says which events it
 * wants (UV_READABLE, UV_WRITABLE, UV_PRIORITIZED; 0 stops watching) and
 * who to call. The poll handle is restarted only when the events change,
 * so a borrow or a release costs no epoll_ctl when the events stay the
 * same. A fresh borrow keeps the events its last holder left but has no
 * callback (readiness is ignored) until the borrower sets one.
 * Worker thread of the conn; the change applies to the next readiness.
 *
 * pool_io_cb(arg, status, events):
 *   status  0, or a negative libuv error (UV_EBADF, ...) from the poll:
 *           the connection is then broken, to be released with
 *           reusable=false.
 *   events  the ready subset of the watched events (libuv's uv_poll_cb
 *           mask); may be 0 when status < 0.
 *
 * When: only while conn is lent (from its lend to pool_release), on the
 * thread of conn's worker, from its loop, never inside a pool function.
 *
 * The callee may read and write pool_conn_fd(conn), call pool_conn_watch
 * on conn to change its events or callback, and call pool_release(conn).
 * After pool_release conn is no longer the callee's: it must not be used
 * again, not even for pool_conn_watch (it may be lent to another session
 * by the time the callee returns to its loop, or, at shutdown, freed), and
 * cb is not called again for this borrow. The callee may also call
 * pool_acquire and pool_cancel for other requests.
 */
typedef void (*pool_io_cb)(void *arg, int status, int events);
void pool_conn_watch(struct pool_conn *conn, int events, pool_io_cb cb, void *arg);
void *pool_conn_userdata(const struct pool_conn *conn);
void pool_conn_set_userdata(struct pool_conn *conn, void *userdata);
/* Negotiated capability flags of the backend session. */
uint32_t pool_conn_caps(const struct pool_conn *conn);
/* MariaDB extended capabilities in force, shifted down 32 bits
 * (MARIADB_CLIENT_EXTENDED_METADATA >> 32 and so on). */
uint32_t pool_conn_ext_caps(const struct pool_conn *conn);
unsigned long pool_conn_thread_id(const struct pool_conn *conn);
int pool_conn_hostgroup(const struct pool_conn *conn);
/* Counts traffic of a lent connection for its server's stats (Queries,
 * Bytes_data_sent/recv). Worker thread of the conn; no lock, no atomics
 * beyond relaxed stores. */
void pool_conn_count(struct pool_conn *conn, uint64_t queries, uint64_t sent, uint64_t recv);
const char *pool_conn_user(const struct pool_conn *conn);
const char *pool_conn_server_name(const struct pool_conn *conn); /* "host:port" */

/* The GTID position (MariaDB's "domain-server-seq,..." list) the monitor
 * last read from every server at host:port ("" unknown). Main thread. */
void pool_set_applied_gtid(struct pool *pool, const char *host, int port, const char *gtid);
/* A round trip measured to host:port (the monitor's ping), in microseconds.
 * Main thread. */
void pool_set_latency(struct pool *pool, const char *host, int port, uint64_t us);
/* Whether conn's server is known to have applied gtid ("domain-server-seq"):
 * its last read position has that domain at that sequence or later. Worker
 * thread of the conn. */
bool pool_conn_has_gtid(const struct pool_conn *conn, const char *gtid);

/* Upper bounds (seconds) of the cumulative queue-wait histogram, as
 * Prometheus buckets; the last bucket (+Inf) is implied. */
#define POOL_WAIT_LE_COUNT 11
extern const double pool_wait_le[POOL_WAIT_LE_COUNT];

/* Counters of one server, for stats and tests. The last-minute figures
 * cover the 12 most recent 5-second windows. */
struct pool_server_stats {
    int hostgroup;
    char name[272];
    enum pool_server_status status; /* SHUNNED also while shunned for errors */
    int weight;
    int open;
    int idle;
    int waiting;
    int max_connections;
    uint64_t created_ok;
    uint64_t created_err;
    int max_used;
    uint64_t latency_us;       /* round trip of the last keep-alive ping */
    uint64_t queries;          /* commands sent, since start */
    uint64_t bytes_sent;       /* to the server */
    uint64_t bytes_recv;       /* from the server */
    uint64_t exhausted;        /* borrows that had to queue, since start */
    uint64_t fail_fast;        /* borrows refused at once, since start */
    uint64_t waits_last_min;   /* borrows that queued in the last minute */
    uint64_t wait_p50_us;      /* their queue wait, median */
    uint64_t wait_p99_us;      /* and 99th percentile */
    uint64_t created_last_min; /* connections opened in the last minute */
    /* Every queue wait since start: count per bucket of pool_wait_le (not
     * cumulative), then those above the last bound; and their sum. */
    uint64_t wait_buckets[POOL_WAIT_LE_COUNT + 1];
    uint64_t wait_sum_us;
    /* Advisor, by Little's law over the last minute: borrows per second
     * (lambda) times mean hold time (W) is the mean number of connections
     * in use (L); suggested adds square-root headroom, L + 3 sqrt(L), which
     * covers bursts of Poisson-like arrivals 99.9% of the time. */
    double borrows_per_sec;
    double avg_hold_us;
    double avg_in_use;
    int peak_in_use;
    int suggested;
};
/* Splits a server name as the pool writes it ("host:port", in
 * pool_server_stats.name and pool_conn_server_name) at the last ':', so an
 * IPv6 host keeps its own colons. host is cut to hostlen-1 bytes. */
void pool_split_name(const char *name, char *host, size_t hostlen, int *port);
size_t pool_server_count(const struct pool *pool);
void pool_server_stats(struct pool *pool, size_t index, struct pool_server_stats *out);

#endif
