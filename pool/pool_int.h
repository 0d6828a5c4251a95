/*
 * Private declarations shared by the files of pool/: pool.c (creation,
 * workers, accessors), servers.c (server list, states, shunning, stats),
 * lend.c (acquire, release, choice of a server), queue.c (waiters and the
 * inbox hand-over), conn.c (connect and close), maint.c (the per-worker
 * tick: warm-up, idle timeout, maximum age, keep-alive pings, OFFLINE_HARD)
 * and stats.c (the last minute of figures per server). Unit tests include
 * it to build and inspect pool objects directly.
 */
#ifndef SLUICE_POOL_INT_H
#define SLUICE_POOL_INT_H

#include "common/common.h"
#include "pool/pool.h"

#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Servers one pool can hold, configured and added at run time. */
#define POOL_MAX_SERVERS 1024

/* Figures of the last minute: 12 windows of 5 s; queue waits in a
 * log-linear histogram (4 buckets per power of two of microseconds). */
#define POOL_WINDOWS 12
#define POOL_WINDOW_MS 5000
#define POOL_WAIT_BUCKETS 128

struct pool_conn;

struct conn_list {
    struct pool_conn *head;
    struct pool_conn *tail;
    int count;
};

enum conn_state {
    CONN_CONNECTING, /* async connect running on worker's loop */
    CONN_BUSY,       /* lent to a session */
    CONN_IDLE,       /* on a worker's idle list */
    CONN_PINGING,    /* keep-alive or test-on-borrow COM_PING in flight */
    CONN_MOVING,     /* poll closing, on its way to another worker */
    CONN_CLOSING,    /* being closed */
};

struct pool_conn {
    struct pool *pool;
    struct server *server;
    int worker;
    enum conn_state state;
    MYSQL *mysql;
    int fd;
    uv_poll_t poll;
    bool poll_inited;
    uv_timer_t timer; /* connect deadline */
    bool timer_inited;
    char user[128];
    bool found_rows;     /* CLIENT_FOUND_ROWS: changes what affected rows mean */
    bool warmup;         /* opened by warm-up, not for a request */
    bool lent;           /* on its worker's lent list */
    bool counted;        /* counted against its user's limit on the server */
    bool broken;         /* shut down by OFFLINE_HARD */
    bool keepalive;      /* out for a keep-alive ping (counted in server.pinging) */
    char password[128];  /* only while connecting */
    uint64_t idle_since; /* ms (clock_now_ms) it went idle */
    uint64_t last_ping;  /* ms of the last keep-alive ping */
    uint64_t expires;    /* ms after which it is recycled (0: never) */
    uint64_t lent_at_us; /* when lent, for hold times */
    uint64_t hold_us;    /* the hold that just ended, recorded on return */
    uint64_t ping_started_us;
    uint8_t ping_buf[64];
    size_t ping_got;
    struct pool_waiter *ping_waiter; /* test-on-borrow: who gets it after the ping */
    int watch_events;                /* events the poll handle is started with (0: stopped) */
    pool_io_cb io_cb;                /* the borrower's I/O callback */
    void *io_arg;
    uint32_t caps;
    uint32_t ext_caps; /* MariaDB extended capabilities in force (bits 32.. >> 32) */
    unsigned long thread_id;
    void *userdata;
    struct pool_waiter *waiter; /* while connecting */
    struct pool_conn *next, *prev;
    /* hand-over target */
    int move_to;
    struct pool_waiter *move_waiter;
    int pending_closes;
};

enum waiter_state {
    WAITER_QUEUED,     /* in the server FIFO */
    WAITER_DELIVERING, /* popped; a connection or connect grant is on its way */
    WAITER_CONNECTING, /* a connect runs for it */
};

struct pool_waiter {
    struct server *server;
    int worker;
    enum waiter_state state;
    bool cancelled;
    pool_ready_cb cb;
    void *arg;
    bool found_rows;
    int user_limit;
    bool counted; /* holds one of its user's slots on server */
    int attempts; /* servers tried after connect errors */
    uint64_t queued_us;
    char user[128];
    char password[128];
    struct pool_waiter *next, *prev;
};

struct pool_window {
    uint64_t index; /* clock_now_ms() / POOL_WINDOW_MS of the window held */
    uint32_t wait_hist[POOL_WAIT_BUCKETS];
    uint64_t waits;
    uint64_t created;
    uint64_t borrows; /* holds that ended */
    uint64_t hold_us; /* their total length */
    int peak_lent;
};

/* Traffic through one worker's connections to a server. */
struct server_io {
    uint64_t queries;
    uint64_t bytes_sent; /* to the server */
    uint64_t bytes_recv; /* from the server */
};

/* Connections a user holds on one server, for per-user limits. */
struct user_count {
    char user[128];
    int held;
};

struct server {
    struct pool *pool;
    int hostgroup;
    char host[256];
    int port;
    char name[272];
    /* Read by workers without the lock (atomic loads), set by pool_update. */
    int max_connections;
    int weight;
    int status;             /* enum pool_server_status */
    uint64_t shunned_until; /* ms; connect errors shun until then (0: not) */
    uint64_t latency_us;    /* last ping round trip (keep-alive or monitor) */
    int max_latency_ms;     /* 0: none */
    int lent;               /* connections lent now */
    int pinging;            /* idle connections out for a keep-alive ping now */

    pthread_mutex_t lock; /* guards everything below */
    int open;
    int max_used;
    struct pool_waiter *wait_head, *wait_tail;
    int waiting;
    uint64_t created_ok, created_err;
    int errors_in_row;
    int warming;            /* warm-up connects running */
    uint64_t next_warm;     /* ms before which warm-up opens nothing */
    uint64_t exhausted;     /* borrows that queued */
    uint64_t fail_fast;     /* borrows refused */
    uint64_t breaker_until; /* ms: a slow wait keeps fail-fast on until then */
    struct pool_window win[POOL_WINDOWS];
    uint64_t wait_buckets[POOL_WAIT_LE_COUNT + 1]; /* since start, for Prometheus */
    uint64_t wait_sum_us;
    uint64_t since; /* ms it was added: the last minute may be shorter */
    struct user_count *users;
    size_t n_users, cap_users;
    char applied_gtid[256]; /* pool_set_applied_gtid */

    struct server_io *io;   /* [nworkers], written by that worker only */
    struct conn_list *idle; /* [nworkers], owner thread only */
    int *idle_count;        /* [nworkers], atomic peeks by others */
};

struct inbox_msg {
    struct pool_conn *conn;     /* NULL: permission to connect */
    struct pool_waiter *waiter; /* NULL: just adopt conn as idle */
    struct server *server;
    struct inbox_msg *next;
};

struct pool_worker {
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t tick;
    bool attached;
    pthread_mutex_t inbox_lock;
    struct inbox_msg *inbox_head, *inbox_tail;
    int donate_requested;        /* atomic */
    struct conn_list lent;       /* connections lent by this worker */
    struct conn_list pinging;    /* keep-alive pings in flight */
    struct conn_list connecting; /* connects running on this worker's loop */
    uint64_t rng;                /* xorshift state: weighted choice, jitter */
    /* idle.c: the worker's idle connections as of its last tick, for
     * readers on other threads; snap_lock guards the three fields. */
    pthread_mutex_t snap_lock;
    struct idle_row *snap;
    size_t snap_n, snap_cap;
};

/* An idle connection in a worker's snapshot (idle.c). server indexes
 * pool->servers, which never moves. */
struct idle_row {
    int fd;
    uint32_t server;
    uint64_t idle_since; /* ms, clock_now_ms() */
    char user[128];
};

struct pool {
    struct server *servers;
    size_t n_servers;
    int nworkers;
    /* Figures read with atomic loads; warmup_user/password under cred_lock. */
    struct pool_settings settings;
    pthread_mutex_t cred_lock;
    struct pool_worker *workers;
    /* pool_set_connect_error_hook: set before the workers run. */
    void (*error_hook)(void *arg, const struct pool_connect_error *e);
    void *error_hook_arg;
};

/* pool.c */
/* Loads one figure of pool->settings (pool_configure stores them). */
int pool_setting(const int *field);
/* xorshift draw below bound (0 when bound is 0); worker thread of pw. */
uint64_t pool_random(struct pool_worker *pw, uint64_t bound);
void pool_clist_push(struct conn_list *l, struct pool_conn *c);
void pool_clist_push_head(struct conn_list *l, struct pool_conn *c);
void pool_clist_remove(struct conn_list *l, struct pool_conn *c);

/* servers.c */
int pool_server_cap(const struct server *s);
/* Takes new work: ONLINE and not shunned for connect errors. */
bool pool_server_usable(const struct server *s, uint64_t now_ms);
/* Configured out of service (not merely shunned): its connections close. */
bool pool_server_offline(const struct server *s);
/* Returns 0 or POOL_ENOMEM; either way pool_server_destroy undoes it. */
int pool_server_init(struct pool *p, struct server *s, const struct pool_server_spec *spec)
    __attribute__((warn_unused_result));
void pool_server_destroy(struct server *s);
/* The result of a connect to s (lock taken inside): counts it; errors in a
 * row shun s (pw: the worker whose random jitter delays its warm-up). */
void pool_server_connect_ok(struct server *s, bool warmup, uint64_t now_ms);
/* A connect to s failed (count: as a connect error, toward shun_on_failures)
 * or was aborted (not counted). */
void pool_server_connect_failed(struct server *s, struct pool_worker *pw, bool warmup,
                                uint64_t now_ms, bool count);

/* lend.c */
/* Lends c to w's borrower: frees w, then calls its callback. */
void pool_lend_to(struct pool_conn *c, struct pool_waiter *w);
/* Gives an idle connection to a waiter, or keeps it idle on its worker. */
void pool_offer(struct pool_conn *c);
/* Returns a connection that passed its keep-alive ping to the cold end of
 * its worker's idle list, keeping its idle time (or hands it to a waiter). */
void pool_offer_after_ping(struct pool_conn *c);
/* Closes c and connects for w in its slot (wrong account, failed
 * test-on-borrow). Worker thread of w. */
void pool_reconnect_for(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w);
/* After a connect error to failed: tries w on another server of its
 * hostgroup, once per server. Worker thread of w. Returns false when none
 * is left (w is then still the caller's). */
bool pool_reroute(struct pool *p, int worker, struct pool_waiter *w, struct server *failed);

/* queue.c. "Locked" functions run under s->lock. */
struct pool_waiter *pool_waiter_new(struct server *s, int worker, const char *user,
                                    const char *password, bool found_rows, int user_limit,
                                    pool_ready_cb cb, void *arg);
/* Frees a waiter that did not get a connection, giving back its user slot. */
void pool_waiter_free(struct pool_waiter *w);
/* Locked: the head waiter allowed to take a connection now (first come,
 * first served, except that a user at its own limit lets others pass),
 * taken out of the queue with its user slot counted; or NULL. */
struct pool_waiter *pool_waiter_pop(struct server *s);
/* Whether another server of s's hostgroup has requests waiting. */
bool pool_others_wait(struct pool *p, const struct server *s);
/* A request queued at another server of s's hostgroup, moved to s, or NULL.
 * Locks one server at a time; call without s's lock. */
struct pool_waiter *pool_steal_waiter(struct pool *p, struct server *s);
/* Locked: queues w on s or refuses it. Returns POOL_PENDING or
 * POOL_EOVERLOAD (w then still belongs to the caller). */
int pool_queue_locked(struct pool *p, struct server *s, struct pool_waiter *w, int worker)
    __attribute__((warn_unused_result));
/* Frees the waiters still queued on s (pool_free). */
void pool_queue_drop(struct server *s);
/* Per-user limits: the check and the count ("locked"), and the return of a
 * slot with or without the lock held. */
bool pool_user_under_limit(struct server *s, const char *user, int limit);
void pool_user_take(struct server *s, struct pool_waiter *w);
void pool_user_put_locked(struct server *s, const char *user);
void pool_user_give_back(struct server *s, const char *user);
/* A connection of s closed: its slot goes to a waiter of s or of the
 * hostgroup, or is freed. */
void pool_slot_freed(struct pool *p, struct server *s);
/* Lets queued requests of s use slots that a larger cap or a return to
 * service opened. */
void pool_grant_free_slots(struct pool *p, struct server *s);
/* Sends (c, w) to worker's inbox: c NULL is a grant to connect for w in a
 * slot counted on s; w NULL means adopt c as idle. When the worker has
 * detached, c is freed, w freed, the slot given back. Any thread. */
void pool_inbox_post(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w,
                     struct server *s);
void pool_inbox_cb(uv_async_t *h);
/* Detaches worker's inbox and drops what it held (pool_worker_detach). */
void pool_inbox_discard(struct pool *p, int worker);
/* Sends c to waiter w (popped from the FIFO), on w's worker. */
void pool_give_to(struct pool_conn *c, struct pool_waiter *w);
/* Lends c, arrived on worker, to w; a cancelled w's connection is offered
 * on. Worker thread of w. */
void pool_deliver(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w);

/* conn.c */
/* Opens a connection to s in a slot already counted in s->open: for w, or
 * for warm-up (w NULL) as the warm-up user. Worker thread. */
void pool_start_connect(struct pool *p, int worker, struct server *s, struct pool_waiter *w);
/* Ends a running connect whose server was taken out of service: its
 * requester tries the hostgroup's other servers at once instead of waiting
 * out the connect timeout on a server that may never answer. Not counted as
 * a connect error. c's worker thread. */
void pool_connect_abort(struct pool_conn *c, const char *why);
/* Closes c's handles, then frees it from their close callbacks and gives
 * its slot on (c must be off every list). Worker thread of c. */
void pool_conn_close(struct pool_conn *c);
/* Frees c at once (no handle of c open) and gives its slot on. */
void pool_conn_free(struct pool_conn *c);

/* maint.c */
void pool_tick_cb(uv_timer_t *t);
/* Sends COM_PING on idle connection c (off every list); w, if set, gets c
 * when the answer is OK. */
void pool_ping_start(struct pool_conn *c, struct pool_waiter *w);
/* Readiness of a pinging connection. */
void pool_ping_on_io(struct pool_conn *c, int status);

/* idle.c: rebuilds worker's snapshot of its idle connections. Worker
 * thread of pw (its tick). */
void pool_idle_snapshot(struct pool *p, struct pool_worker *pw, int worker);

/* stats.c: all under s->lock. */
struct pool_window *pool_window_now(struct server *s, uint64_t now_ms);
void pool_record_wait(struct server *s, uint64_t wait_us, uint64_t now_ms);
void pool_stats_fill(struct server *s, struct pool_server_stats *out, uint64_t now_ms);

#endif
