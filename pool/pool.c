/*
 * Backend connection pools.
 *
 * Objects:
 *   struct pool          servers + one struct pool_worker per worker thread
 *   struct server        cap, open count and the FIFO of waiters (mutex);
 *                        per-worker idle lists (owner thread only)
 *   struct pool_conn     one backend connection; its uv_poll_t lives on the
 *                        loop of the worker that holds it
 *   struct pool_waiter   a pending pool_acquire
 *
 * Life of a connection:
 *
 *   acquire --(open < cap)--> CONNECTING --ok--> handed to waiter (BUSY)
 *                                        \-err-> closed, slot granted onward
 *   BUSY --release--> waiter queued? --yes--> delivered via inbox (BUSY)
 *                                   \--no---> IDLE on this worker
 *   IDLE --acquire on this worker--> BUSY  (checked alive first)
 *   IDLE --another worker queues----> donated via inbox
 *
 * Hand-over between workers: the giver closes the uv_poll_t on its loop and,
 * from the close callback, puts (conn, waiter) in the taker's inbox and wakes
 * it with uv_async_send. The taker re-initialises the poll handle on its
 * own loop. A waiter popped from the FIFO is in DELIVERING state; a cancel
 * then only marks it, and the inbox consumer frees it and offers the
 * connection onward. Both run on the waiter's thread, so the mark needs no
 * lock.
 */
#include "pool/pool.h"

#include <errno.h>
#include <mysql.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Servers one pool can hold, configured and added at run time. */
#define POOL_MAX_SERVERS 1024

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
    char password[128];  /* only while connecting */
    uint64_t idle_since; /* loop time (ms) it went idle */
    int watch_events;    /* events the poll handle is started with (0: stopped) */
    pool_io_cb io_cb;    /* the borrower's I/O callback */
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
    char user[128];
    char password[128];
    struct pool_waiter *next, *prev;
};

struct server {
    int hostgroup;
    char host[256];
    int port;
    char name[272];
    int max_connections;
    bool offline;

    pthread_mutex_t lock; /* guards open, waiters, counters below */
    int open;
    int max_used;
    struct pool_waiter *wait_head, *wait_tail;
    int waiting;
    uint64_t created_ok, created_err;

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
    bool attached;
    pthread_mutex_t inbox_lock;
    struct inbox_msg *inbox_head, *inbox_tail;
    int donate_requested; /* atomic */
};

struct pool {
    struct server *servers;
    size_t n_servers;
    int nworkers;
    struct pool_settings settings;
    struct pool_worker *workers;
    unsigned rr; /* round robin among a hostgroup's servers */
};

static const char backend_init_sql[] =
    "SET session_track_system_variables='*', session_track_schema=ON, "
    "session_track_state_change=ON, session_track_transaction_info='CHARACTERISTICS', "
    "progress_report_time=0";

const char *pool_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case POOL_PENDING:
        return "pending";
    case POOL_ENOSERVER:
        return "no usable server in hostgroup";
    case POOL_ENOMEM:
        return "out of memory";
    case POOL_ECONNECT:
        return "cannot connect to backend";
    case POOL_ESHUTDOWN:
        return "shutting down";
    default:
        return "unknown pool error";
    }
}

/* Caps and states change at run time (pool_update on the main thread) while
 * workers read them: plain atomic loads and stores, no lock needed since
 * each is one int. */
static int server_cap(const struct server *s)
{
    return __atomic_load_n(&s->max_connections, __ATOMIC_RELAXED);
}

static bool server_offline(const struct server *s)
{
    return __atomic_load_n(&s->offline, __ATOMIC_RELAXED);
}

static size_t server_count(const struct pool *p)
{
    return __atomic_load_n(&p->n_servers, __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------- lists */

static void clist_push(struct conn_list *l, struct pool_conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->count++;
}

static void clist_remove(struct conn_list *l, struct pool_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->next = c->prev = NULL;
    l->count--;
}

static void waiter_push(struct server *s, struct pool_waiter *w)
{
    w->next = NULL;
    w->prev = s->wait_tail;
    if (s->wait_tail)
        s->wait_tail->next = w;
    else
        s->wait_head = w;
    s->wait_tail = w;
    s->waiting++;
}

static void waiter_unlink(struct server *s, struct pool_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->wait_tail = w->prev;
    w->next = w->prev = NULL;
    s->waiting--;
}

static struct pool_waiter *waiter_pop(struct server *s)
{
    struct pool_waiter *w = s->wait_head;
    if (w) {
        waiter_unlink(s, w);
        w->state = WAITER_DELIVERING;
    }
    return w;
}

/* ----------------------------------------------------------- lifecycle */

static int server_init(struct pool *p, struct server *s, const struct pool_server_spec *spec)
{
    s->hostgroup = spec->hostgroup;
    snprintf(s->host, sizeof(s->host), "%s", spec->host);
    s->port = spec->port;
    snprintf(s->name, sizeof(s->name), "%s:%d", s->host, s->port);
    s->max_connections = spec->max_connections;
    s->offline = spec->status != POOL_SERVER_ONLINE;
    pthread_mutex_init(&s->lock, NULL);
    s->idle = calloc((size_t)p->nworkers, sizeof(*s->idle));
    s->idle_count = calloc((size_t)p->nworkers, sizeof(*s->idle_count));
    return s->idle && s->idle_count ? 0 : -1;
}

struct pool *pool_new(const struct pool_server_spec *specs, size_t n, int nworkers,
                      const struct pool_settings *settings)
{
    struct pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->nworkers = nworkers;
    p->settings = *settings;
    if (n > POOL_MAX_SERVERS)
        goto fail;
    /* Room for servers added at run time: workers index this array without
     * a lock, so it never moves. */
    p->servers = calloc(POOL_MAX_SERVERS, sizeof(*p->servers));
    p->workers = calloc((size_t)nworkers, sizeof(*p->workers));
    if (!p->servers || !p->workers)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (server_init(p, &p->servers[i], &specs[i]) != 0)
            goto fail;
        p->n_servers = i + 1;
    }
    for (int i = 0; i < nworkers; i++)
        pthread_mutex_init(&p->workers[i].inbox_lock, NULL);
    return p;
fail:
    pool_free(p);
    return NULL;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_servers; i++) {
        struct server *s = &p->servers[i];
        pthread_mutex_destroy(&s->lock);
        free(s->idle);
        free(s->idle_count);
        /* waiters left behind belong to sessions that are gone */
        while (s->wait_head) {
            struct pool_waiter *w = s->wait_head;
            waiter_unlink(s, w);
            free(w);
        }
    }
    if (p->workers)
        for (int i = 0; i < p->nworkers; i++)
            pthread_mutex_destroy(&p->workers[i].inbox_lock);
    free(p->servers);
    free(p->workers);
    free(p);
}

static void conn_close(struct pool_conn *c);
static void offer(struct pool_conn *c);
static void give_to(struct pool_conn *c, struct pool_waiter *w);
static void inbox_post(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w,
                       struct server *s);
static void start_connect(struct pool *p, int worker, struct server *s, struct pool_waiter *w);

static void worker_async_cb(uv_async_t *h);

int pool_worker_attach(struct pool *p, int worker, uv_loop_t *loop)
{
    struct pool_worker *pw = &p->workers[worker];
    pw->loop = loop;
    if (uv_async_init(loop, &pw->async, worker_async_cb) != 0)
        return POOL_ENOMEM;
    pw->async.data = p;
    pw->attached = true;
    return 0;
}

void pool_worker_detach(struct pool *p, int worker)
{
    struct pool_worker *pw = &p->workers[worker];
    if (!pw->attached)
        return;
    for (size_t i = 0; i < p->n_servers; i++) {
        struct server *s = &p->servers[i];
        struct conn_list *l = &s->idle[worker];
        while (l->head) {
            struct pool_conn *c = l->head;
            clist_remove(l, c);
            __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            conn_close(c);
        }
    }
    /* Drop anything still in transit to us: close connections, free grants. */
    pthread_mutex_lock(&pw->inbox_lock);
    struct inbox_msg *m = pw->inbox_head;
    pw->inbox_head = pw->inbox_tail = NULL;
    pw->attached = false;
    pthread_mutex_unlock(&pw->inbox_lock);
    while (m) {
        struct inbox_msg *next = m->next;
        if (m->conn) {
            m->conn->worker = worker;
            if (!m->conn->poll_inited &&
                uv_poll_init_socket(pw->loop, &m->conn->poll, m->conn->fd) == 0)
                m->conn->poll_inited = true;
            conn_close(m->conn);
        } else {
            pthread_mutex_lock(&m->server->lock);
            m->server->open--;
            pthread_mutex_unlock(&m->server->lock);
        }
        free(m->waiter);
        free(m);
        m = next;
    }
    uv_close((uv_handle_t *)&pw->async, NULL);
}

/* ------------------------------------------------------------ accessors */

int pool_conn_fd(const struct pool_conn *c)
{
    return c->fd;
}
static void conn_poll_cb(uv_poll_t *h, int status, int events);

void pool_conn_watch(struct pool_conn *c, int events, pool_io_cb cb, void *arg)
{
    c->io_cb = cb;
    c->io_arg = arg;
    if (events == c->watch_events || !c->poll_inited)
        return;
    c->watch_events = events;
    c->poll.data = c;
    if (events)
        uv_poll_start(&c->poll, events, conn_poll_cb);
    else
        uv_poll_stop(&c->poll);
}
void *pool_conn_userdata(const struct pool_conn *c)
{
    return c->userdata;
}
void pool_conn_set_userdata(struct pool_conn *c, void *userdata)
{
    c->userdata = userdata;
}
uint32_t pool_conn_caps(const struct pool_conn *c)
{
    return c->caps;
}
uint32_t pool_conn_ext_caps(const struct pool_conn *c)
{
    return c->ext_caps;
}
unsigned long pool_conn_thread_id(const struct pool_conn *c)
{
    return c->thread_id;
}
int pool_conn_hostgroup(const struct pool_conn *c)
{
    return c->server->hostgroup;
}
const char *pool_conn_user(const struct pool_conn *c)
{
    return c->user;
}
const char *pool_conn_server_name(const struct pool_conn *c)
{
    return c->server->name;
}

size_t pool_server_count(const struct pool *p)
{
    return server_count(p);
}

void pool_server_stats(struct pool *p, size_t index, struct pool_server_stats *out)
{
    struct server *s = &p->servers[index];
    memset(out, 0, sizeof(*out));
    out->hostgroup = s->hostgroup;
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    pthread_mutex_lock(&s->lock);
    out->open = s->open;
    out->waiting = s->waiting;
    out->max_connections = server_cap(s);
    out->created_ok = s->created_ok;
    out->created_err = s->created_err;
    out->max_used = s->max_used;
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < p->nworkers; i++)
        out->idle += __atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------- closing */

static void conn_free_now(struct pool_conn *c)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    if (c->mysql)
        mysql_close(c->mysql);
    if (c->userdata && p->settings.userdata_free)
        p->settings.userdata_free(c->userdata);
    free(c);

    /* A slot is free: let the head waiter connect. */
    pthread_mutex_lock(&s->lock);
    s->open--;
    struct pool_waiter *w = NULL;
    if (s->open < server_cap(s) && !server_offline(s)) {
        w = waiter_pop(s);
        if (w)
            s->open++;
    }
    pthread_mutex_unlock(&s->lock);
    if (w)
        inbox_post(p, w->worker, NULL, w, s);
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct pool_conn *c = h->data;
    if (--c->pending_closes == 0 && c->state == CONN_CLOSING)
        conn_free_now(c);
}

/* Closes c's handles, then the MySQL connection, then frees it and gives its
 * slot to the next waiter. Runs on c's worker thread. */
static void conn_close(struct pool_conn *c)
{
    c->state = CONN_CLOSING;
    if (c->poll_inited) {
        c->poll.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->poll, conn_handle_closed);
        c->poll_inited = false;
    }
    if (c->timer_inited) {
        c->timer.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
        c->timer_inited = false;
    }
    if (c->pending_closes == 0)
        conn_free_now(c);
}

/* --------------------------------------------------------------- inbox */

static void inbox_post(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w,
                       struct server *s)
{
    struct pool_worker *pw = &p->workers[worker];
    struct inbox_msg *m = malloc(sizeof(*m));
    if (!m)
        abort(); /* tiny allocation; failing here would break the cap invariant */
    m->conn = c;
    m->waiter = w;
    m->server = s;
    m->next = NULL;
    pthread_mutex_lock(&pw->inbox_lock);
    bool attached = pw->attached;
    if (attached) {
        if (pw->inbox_tail)
            pw->inbox_tail->next = m;
        else
            pw->inbox_head = m;
        pw->inbox_tail = m;
    }
    pthread_mutex_unlock(&pw->inbox_lock);
    if (attached) {
        uv_async_send(&pw->async);
        return;
    }
    /* The worker is gone (shutdown): nobody can take it. */
    free(m);
    free(w);
    if (c) {
        conn_free_now(c);
    } else {
        pthread_mutex_lock(&s->lock);
        s->open--;
        pthread_mutex_unlock(&s->lock);
    }
}

static void deliver(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w)
{
    struct pool_worker *pw = &p->workers[worker];
    if (w->cancelled) {
        free(w);
        offer(c);
        return;
    }
    if (strcmp(c->user, w->user) != 0 || c->found_rows != w->found_rows) {
        /* Wrong account: reuse the slot for a connection as w's user. */
        struct server *s = c->server;
        pthread_mutex_lock(&s->lock);
        s->open++; /* conn_close gives one back */
        pthread_mutex_unlock(&s->lock);
        conn_close(c);
        w->state = WAITER_CONNECTING;
        start_connect(p, worker, s, w);
        return;
    }
    if (!c->poll_inited) {
        if (uv_poll_init_socket(pw->loop, &c->poll, c->fd) != 0) {
            w->cb(w->arg, NULL, POOL_ECONNECT, "cannot watch backend socket");
            free(w);
            c->state = CONN_CLOSING;
            conn_free_now(c);
            return;
        }
        c->poll_inited = true;
        c->watch_events = 0;
    }
    c->worker = worker;
    c->state = CONN_BUSY;
    c->io_cb = NULL;
    pool_ready_cb cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, c, 0, NULL);
}

static void donate_idle(struct pool *p, int worker)
{
    for (size_t i = 0; i < server_count(p); i++) {
        struct server *s = &p->servers[i];
        struct conn_list *l = &s->idle[worker];
        for (;;) {
            /* Under the lock, as in offer(): take a waiter and an idle
             * connection together, or neither. */
            pthread_mutex_lock(&s->lock);
            struct pool_conn *c = l->head;
            struct pool_waiter *w = c ? waiter_pop(s) : NULL;
            if (w) {
                clist_remove(l, c);
                __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            }
            pthread_mutex_unlock(&s->lock);
            if (!w)
                break;
            c->state = CONN_BUSY;
            give_to(c, w);
        }
    }
}

static void worker_async_cb(uv_async_t *h)
{
    struct pool *p = h->data;
    int worker = (int)(((struct pool_worker *)((char *)h - offsetof(struct pool_worker, async))) -
                       p->workers);
    struct pool_worker *pw = &p->workers[worker];
    pthread_mutex_lock(&pw->inbox_lock);
    struct inbox_msg *m = pw->inbox_head;
    pw->inbox_head = pw->inbox_tail = NULL;
    pthread_mutex_unlock(&pw->inbox_lock);
    while (m) {
        struct inbox_msg *next = m->next;
        if (m->conn && m->waiter) {
            deliver(p, worker, m->conn, m->waiter);
        } else if (m->conn) {
            m->conn->worker = worker;
            offer(m->conn);
        } else if (m->waiter->cancelled) {
            /* A connect grant nobody wants: pass it on. */
            struct server *s = m->server;
            free(m->waiter);
            pthread_mutex_lock(&s->lock);
            struct pool_waiter *w = waiter_pop(s);
            if (!w)
                s->open--;
            pthread_mutex_unlock(&s->lock);
            if (w)
                inbox_post(p, w->worker, NULL, w, s);
        } else {
            m->waiter->state = WAITER_CONNECTING;
            start_connect(p, worker, m->server, m->waiter);
        }
        free(m);
        m = next;
    }
    if (__atomic_exchange_n(&pw->donate_requested, 0, __ATOMIC_ACQ_REL))
        donate_idle(p, worker);
}

static void move_closed(uv_handle_t *h)
{
    struct pool_conn *c = h->data;
    c->pending_closes--;
    inbox_post(c->pool, c->move_to, c, c->move_waiter, c->server);
}

/* Sends c to waiter w (popped from the FIFO), on w's worker. */
static void give_to(struct pool_conn *c, struct pool_waiter *w)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    if (w->worker == c->worker) {
        c->state = CONN_BUSY;
        inbox_post(p, w->worker, c, w, s);
        return;
    }
    c->state = CONN_MOVING;
    c->move_to = w->worker;
    c->move_waiter = w;
    if (c->poll_inited) {
        c->poll_inited = false;
        c->poll.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->poll, move_closed);
    } else {
        inbox_post(p, w->worker, c, w, s);
    }
}

/* Readiness of an established connection: the borrower's business while
 * lent; while idle, readable means the server closed it or sent an error
 * (wait_timeout, KILL), so it cannot be lent any more. */
static void conn_poll_cb(uv_poll_t *h, int status, int events)
{
    struct pool_conn *c = h->data;
    if (c->state == CONN_BUSY) {
        if (c->io_cb)
            c->io_cb(c->io_arg, status, events);
        return;
    }
    if (c->state != CONN_IDLE)
        return;
    struct server *s = c->server;
    clist_remove(&s->idle[c->worker], c);
    __atomic_sub_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    conn_close(c);
}

/* Gives an idle connection to the head waiter, or keeps it idle here. */
static void offer(struct pool_conn *c)
{
    struct server *s = c->server;
    if (server_offline(s)) {
        conn_close(c);
        return;
    }
    /* "No waiter, so idle here" is decided under the server lock, the same
     * lock under which a waiter that queues looks for idle connections on
     * other workers: one of the two always sees the other, so a connection
     * never sits idle while a request waits for it. */
    pthread_mutex_lock(&s->lock);
    struct pool_waiter *w = waiter_pop(s);
    if (!w) {
        c->state = CONN_IDLE;
        clist_push(&s->idle[c->worker], c);
        __atomic_add_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->lock);
    if (w) {
        give_to(c, w);
        return;
    }
    c->idle_since = uv_now(c->pool->workers[c->worker].loop);
    /* Keep watching: a server that closes an idle connection is noticed at
     * once, and the events mask usually stays as the session left it, so
     * no epoll_ctl is needed on either side of a borrow. */
    pool_conn_watch(c, UV_READABLE, NULL, NULL);
}

void pool_release(struct pool_conn *c, bool reusable)
{
    if (!reusable) {
        conn_close(c);
        return;
    }
    offer(c);
}

/* -------------------------------------------------------------- connect */

static void connect_finish(struct pool_conn *c, int err, const char *msg)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    struct pool_waiter *w = c->waiter;
    c->waiter = NULL;
    memset(c->password, 0, sizeof(c->password));
    if (c->timer_inited) {
        uv_timer_stop(&c->timer);
        c->timer.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
        c->timer_inited = false;
    }
    if (err == 0) {
        pthread_mutex_lock(&s->lock);
        s->created_ok++;
        if (s->open > s->max_used)
            s->max_used = s->open;
        pthread_mutex_unlock(&s->lock);
        if (w && !w->cancelled) {
            c->state = CONN_BUSY;
            uv_poll_stop(&c->poll);
            c->watch_events = 0;
            pool_ready_cb cb = w->cb;
            void *arg = w->arg;
            free(w);
            cb(arg, c, 0, NULL);
        } else {
            free(w);
            uv_poll_stop(&c->poll);
            c->watch_events = 0;
            offer(c);
        }
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->created_err++;
    pthread_mutex_unlock(&s->lock);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", msg ? msg : "connect failed");
    if (w && !w->cancelled)
        w->cb(w->arg, NULL, POOL_ECONNECT, buf);
    free(w);
    (void)p;
    conn_close(c);
}

static int wait_events(int status)
{
    int ev = 0;
    if (status & MYSQL_WAIT_READ)
        ev |= UV_READABLE;
    if (status & MYSQL_WAIT_WRITE)
        ev |= UV_WRITABLE;
    if (status & MYSQL_WAIT_EXCEPT)
        ev |= UV_PRIORITIZED;
    return ev;
}

static void connect_step(struct pool_conn *c, int status);

/* Connector/C always asks a MariaDB server for every MariaDB extension it
 * knows (extended metadata, metadata caching, progress reports); the relay
 * needs to know which are on to undo them for clients that did not ask. */
static void record_caps(struct pool_conn *c)
{
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->caps = (uint32_t)(c->mysql->server_capabilities & c->mysql->client_flag);
    c->thread_id = mysql_thread_id(c->mysql);
    unsigned long ext = 0;
    if (!(c->mysql->server_capabilities & CLIENT_MYSQL) &&
        mariadb_get_infov(c->mysql, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext) == 0)
        c->ext_caps = (uint32_t)(ext & (MARIADB_CLIENT_SUPPORTED_FLAGS >> 32));
}

static void connect_poll_cb(uv_poll_t *h, int uverr, int events)
{
    struct pool_conn *c = h->data;
    int status = 0;
    if (uverr < 0)
        status |= MYSQL_WAIT_EXCEPT;
    if (events & UV_READABLE)
        status |= MYSQL_WAIT_READ;
    if (events & UV_WRITABLE)
        status |= MYSQL_WAIT_WRITE;
    if (events & UV_PRIORITIZED)
        status |= MYSQL_WAIT_EXCEPT;
    connect_step(c, status);
}

static void connect_timer_cb(uv_timer_t *h)
{
    struct pool_conn *c = h->data;
    connect_finish(c, POOL_ECONNECT, "timeout connecting to backend");
}

static void connect_step(struct pool_conn *c, int status)
{
    MYSQL *ret = NULL;
    status = mysql_real_connect_cont(&ret, c->mysql, status);
    if (status != 0) {
        uv_poll_start(&c->poll, wait_events(status), connect_poll_cb);
        return;
    }
    if (!ret) {
        char msg[400];
        snprintf(msg, sizeof(msg), "backend %s: %s (%u)", c->server->name, mysql_error(c->mysql),
                 mysql_errno(c->mysql));
        connect_finish(c, POOL_ECONNECT, msg);
        return;
    }
    record_caps(c);
    connect_finish(c, 0, NULL);
}

static void start_connect(struct pool *p, int worker, struct server *s, struct pool_waiter *w)
{
    struct pool_worker *pw = &p->workers[worker];
    struct pool_conn *c = calloc(1, sizeof(*c));
    char msg[400];
    if (!c) {
        w->cb(w->arg, NULL, POOL_ENOMEM, "out of memory");
        free(w);
        pthread_mutex_lock(&s->lock);
        s->open--;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    c->pool = p;
    c->server = s;
    c->worker = worker;
    c->state = CONN_CONNECTING;
    c->fd = -1;
    c->waiter = w;
    snprintf(c->user, sizeof(c->user), "%s", w->user);
    c->found_rows = w->found_rows;
    snprintf(c->password, sizeof(c->password), "%s", w->password);
    c->mysql = mysql_init(NULL);
    if (!c->mysql) {
        connect_finish(c, POOL_ENOMEM, "out of memory");
        return;
    }
    unsigned timeout_s = (unsigned)((p->settings.connect_timeout_ms + 999) / 1000);
    bool no = false;
    mysql_options(c->mysql, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->mysql, MYSQL_INIT_COMMAND, backend_init_sql);
    mysql_options(c->mysql, MYSQL_OPT_SSL_ENFORCE, &no);
    mysql_options(c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
    mysql_options(c->mysql, MYSQL_OPT_LOCAL_INFILE, &(unsigned){1});

    if (uv_timer_init(pw->loop, &c->timer) == 0) {
        c->timer_inited = true;
        c->timer.data = c;
        uv_timer_start(&c->timer, connect_timer_cb, (uint64_t)p->settings.connect_timeout_ms, 0);
    }

    MYSQL *ret = NULL;
    unsigned long flags = CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_LOCAL_FILES;
    if (c->found_rows)
        flags |= CLIENT_FOUND_ROWS;
    int status = mysql_real_connect_start(&ret, c->mysql, s->host, c->user, c->password, NULL,
                                          (unsigned)s->port, NULL, flags);
    c->fd = (int)mysql_get_socket(c->mysql);
    if (status == 0) {
        if (!ret) {
            snprintf(msg, sizeof(msg), "backend %s: %s (%u)", s->name, mysql_error(c->mysql),
                     mysql_errno(c->mysql));
            connect_finish(c, POOL_ECONNECT, msg);
            return;
        }
    }
    if (c->fd < 0 || uv_poll_init_socket(pw->loop, &c->poll, c->fd) != 0) {
        snprintf(msg, sizeof(msg), "backend %s: cannot create socket", s->name);
        connect_finish(c, POOL_ECONNECT, msg);
        return;
    }
    c->poll_inited = true;
    c->poll.data = c;
    if (status == 0) {
        record_caps(c);
        connect_finish(c, 0, NULL);
        return;
    }
    uv_poll_start(&c->poll, wait_events(status), connect_poll_cb);
}

/* -------------------------------------------------------------- acquire */

/* The idle watch catches most dead connections; a connection idle for a
 * while is also probed, since the watch only runs when its loop does. */
static bool conn_alive(const struct pool_conn *c)
{
    if (uv_now(c->pool->workers[c->worker].loop) - c->idle_since < 1000)
        return true;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool conn_matches(const struct pool_conn *c, const char *user, bool found_rows)
{
    return c->found_rows == found_rows && strcmp(c->user, user) == 0;
}

static struct server *pick_server(struct pool *p, int worker, int hostgroup, const char *user,
                                  bool found_rows)
{
    struct server *best = NULL;
    int best_free = -1;
    size_t start = __atomic_fetch_add(&p->rr, 1, __ATOMIC_RELAXED);
    size_t n = server_count(p);
    for (size_t k = 0; k < n; k++) {
        struct server *s = &p->servers[(start + k) % n];
        if (s->hostgroup != hostgroup || server_offline(s))
            continue;
        /* Prefer a server where this worker already has an idle connection. */
        for (struct pool_conn *c = s->idle[worker].head; c; c = c->next)
            if (conn_matches(c, user, found_rows))
                return s;
        int free_slots = server_cap(s) - __atomic_load_n(&s->open, __ATOMIC_RELAXED);
        if (free_slots > best_free) {
            best = s;
            best_free = free_slots;
        }
    }
    return best;
}

int pool_acquire(struct pool *p, int worker, int hostgroup, const char *user, const char *password,
                 bool found_rows, pool_ready_cb cb, void *arg, struct pool_conn **out,
                 struct pool_waiter **waiter)
{
    *out = NULL;
    *waiter = NULL;
    struct server *s = pick_server(p, worker, hostgroup, user, found_rows);
    if (!s)
        return POOL_ENOSERVER;

    /* Most recently used first (LIFO), as PgBouncer and HikariCP do: a small
     * hot set of connections serves the load, their server-side caches stay
     * warm, they skip the liveness probe, and the cold ones age at the
     * head of the list where an idle timeout can find them. */
    struct conn_list *idle = &s->idle[worker];
    for (struct pool_conn *c = idle->tail; c;) {
        struct pool_conn *next = c->prev;
        if (conn_matches(c, user, found_rows)) {
            clist_remove(idle, c);
            __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            if (conn_alive(c)) {
                c->state = CONN_BUSY;
                *out = c;
                return 0;
            }
            conn_close(c);
        }
        c = next;
    }

    struct pool_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return POOL_ENOMEM;
    w->server = s;
    w->worker = worker;
    w->cb = cb;
    w->arg = arg;
    w->found_rows = found_rows;
    snprintf(w->user, sizeof(w->user), "%s", user);
    snprintf(w->password, sizeof(w->password), "%s", password ? password : "");
    *waiter = w;

    pthread_mutex_lock(&s->lock);
    if (s->open < server_cap(s)) {
        s->open++;
        w->state = WAITER_DELIVERING;
        pthread_mutex_unlock(&s->lock);
        /* Connect from the loop, not inside the caller's stack. */
        inbox_post(p, worker, NULL, w, s);
        return POOL_PENDING;
    }
    if (idle->head) {
        /* At the cap with idle connections of other users here: reopen one
         * as this user. */
        struct pool_conn *c = idle->head;
        clist_remove(idle, c);
        __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
        s->open++; /* conn_close gives one back */
        w->state = WAITER_DELIVERING;
        pthread_mutex_unlock(&s->lock);
        conn_close(c);
        inbox_post(p, worker, NULL, w, s);
        return POOL_PENDING;
    }
    w->state = WAITER_QUEUED;
    waiter_push(s, w);
    /* Still under the lock (see offer()): idle connections elsewhere are
     * asked for. */
    for (int i = 0; i < p->nworkers; i++) {
        if (i == worker || !__atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED))
            continue;
        __atomic_store_n(&p->workers[i].donate_requested, 1, __ATOMIC_RELEASE);
        uv_async_send(&p->workers[i].async);
    }
    pthread_mutex_unlock(&s->lock);
    return POOL_PENDING;
}

void pool_cancel(struct pool *p, struct pool_waiter *w)
{
    (void)p;
    struct server *s = w->server;
    pthread_mutex_lock(&s->lock);
    if (w->state == WAITER_QUEUED) {
        waiter_unlink(s, w);
        pthread_mutex_unlock(&s->lock);
        free(w);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    /* In transit or connecting: whoever holds it frees it. */
    w->cancelled = true;
}

/* Lets queued requests of s use slots that a larger cap or a return to
 * service opened. */
static void grant_free_slots(struct pool *p, struct server *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct pool_waiter *w = NULL;
        if (s->open < server_cap(s) && !server_offline(s)) {
            w = waiter_pop(s);
            if (w)
                s->open++;
        }
        pthread_mutex_unlock(&s->lock);
        if (!w)
            return;
        inbox_post(p, w->worker, NULL, w, s);
    }
}

int pool_update(struct pool *p, const struct pool_server_spec *specs, size_t n)
{
    size_t count = server_count(p);
    bool *seen = calloc(count ? count : 1, sizeof(*seen));
    if (!seen)
        return POOL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pool_server_spec *sp = &specs[i];
        struct server *s = NULL;
        for (size_t k = 0; k < count; k++)
            if (p->servers[k].hostgroup == sp->hostgroup && p->servers[k].port == sp->port &&
                strcmp(p->servers[k].host, sp->host) == 0) {
                s = &p->servers[k];
                seen[k] = true;
                break;
            }
        if (!s) {
            size_t idx = server_count(p);
            if (idx >= POOL_MAX_SERVERS) {
                rc = POOL_ENOMEM;
                continue;
            }
            if (server_init(p, &p->servers[idx], sp) != 0) {
                free(p->servers[idx].idle);
                free(p->servers[idx].idle_count);
                pthread_mutex_destroy(&p->servers[idx].lock);
                memset(&p->servers[idx], 0, sizeof(p->servers[idx]));
                rc = POOL_ENOMEM;
                continue;
            }
            __atomic_store_n(&p->n_servers, idx + 1, __ATOMIC_RELEASE);
            continue;
        }
        __atomic_store_n(&s->max_connections, sp->max_connections, __ATOMIC_RELAXED);
        __atomic_store_n(&s->offline, sp->status != POOL_SERVER_ONLINE, __ATOMIC_RELAXED);
        grant_free_slots(p, s);
    }
    /* Servers no longer configured take no new work; busy connections finish
     * and close when returned (offer() closes them). */
    for (size_t k = 0; k < count; k++)
        if (!seen[k])
            __atomic_store_n(&p->servers[k].offline, true, __ATOMIC_RELAXED);
    free(seen);
    return rc;
}
