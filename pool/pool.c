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
#include "pool/pool_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
    case POOL_EOVERLOAD:
        return "hostgroup overloaded";
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

uint64_t pool_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t pool_now_ms(void)
{
    return pool_now_us() / 1000u;
}

int pool_setting(const int *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static enum pool_server_status server_status(const struct server *s)
{
    return (enum pool_server_status)__atomic_load_n(&s->status, __ATOMIC_RELAXED);
}

/* Takes new work: ONLINE and not shunned for connect errors. */
bool pool_server_usable(const struct server *s, uint64_t now_ms)
{
    if (server_status(s) != POOL_SERVER_ONLINE)
        return false;
    uint64_t until = __atomic_load_n(&s->shunned_until, __ATOMIC_RELAXED);
    return until == 0 || now_ms >= until;
}

/* Configured out of service (not merely shunned): its connections close. */
static bool server_offline(const struct server *s)
{
    return server_status(s) != POOL_SERVER_ONLINE;
}

uint64_t pool_random(struct pool_worker *pw, uint64_t bound)
{
    uint64_t x = pw->rng ? pw->rng : 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pw->rng = x;
    return bound ? x % bound : 0;
}

static size_t server_count(const struct pool *p)
{
    return __atomic_load_n(&p->n_servers, __ATOMIC_ACQUIRE);
}

/* A LOCAL INFILE request the library meets on its own (say, a rogue
 * server's answer to the init command) fails here, before any file is
 * opened, and the server gets an empty file. */
static int refuse_infile_init(void **ptr, const char *filename, void *userdata)
{
    (void)filename;
    (void)userdata;
    *ptr = NULL;
    return 1;
}

static int refuse_infile_read(void *ptr, char *buf, unsigned int len)
{
    (void)ptr;
    (void)buf;
    (void)len;
    return -1;
}

static void refuse_infile_end(void *ptr)
{
    (void)ptr;
}

static int refuse_infile_error(void *ptr, char *msg, unsigned int len)
{
    (void)ptr;
    snprintf(msg, len, "Sluice never sends a file to a server");
    return 2068; /* CR_LOAD_DATA_LOCAL_INFILE_REJECTED */
}

void pool_refuse_local_infile(MYSQL *m)
{
    mysql_set_local_infile_handler(m, refuse_infile_init, refuse_infile_read, refuse_infile_end,
                                   refuse_infile_error, NULL);
}

/* ---------------------------------------------------------------- lists */

void pool_clist_push(struct conn_list *l, struct pool_conn *c)
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

void pool_clist_push_head(struct conn_list *l, struct pool_conn *c)
{
    c->prev = NULL;
    c->next = l->head;
    if (l->head)
        l->head->prev = c;
    else
        l->tail = c;
    l->head = c;
    l->count++;
}

void pool_clist_remove(struct conn_list *l, struct pool_conn *c)
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

/* ------------------------------------------------------ per-user limits */

/* A limited user's slot is taken when its request is granted (a connection
 * or a connect) under the server lock, and given back when the connection
 * returns or the request ends without one; so the check and the count
 * never race. Users without a limit are not counted. */

/* Lock held. */
static struct user_count *user_slot(struct server *s, const char *user, bool create)
{
    for (size_t i = 0; i < s->n_users; i++)
        if (strcmp(s->users[i].user, user) == 0)
            return &s->users[i];
    if (!create)
        return NULL;
    if (s->n_users == s->cap_users) {
        size_t cap = s->cap_users ? 2 * s->cap_users : 8;
        struct user_count *u = realloc(s->users, cap * sizeof(*u));
        if (!u)
            return NULL;
        s->users = u;
        s->cap_users = cap;
    }
    struct user_count *u = &s->users[s->n_users++];
    snprintf(u->user, sizeof(u->user), "%s", user);
    u->held = 0;
    return u;
}

/* Lock held. */
static bool user_under_limit(struct server *s, const char *user, int limit)
{
    if (limit <= 0)
        return true;
    struct user_count *u = user_slot(s, user, false);
    return !u || u->held < limit;
}

/* Lock held. Counts w's grant against its user; on ENOMEM the request goes
 * uncounted rather than failing. */
static void user_take(struct server *s, struct pool_waiter *w)
{
    if (w->user_limit <= 0)
        return;
    struct user_count *u = user_slot(s, w->user, true);
    if (u) {
        u->held++;
        w->counted = true;
    }
}

static void user_give_back(struct server *s, const char *user)
{
    pthread_mutex_lock(&s->lock);
    struct user_count *u = user_slot(s, user, false);
    if (u && u->held > 0)
        u->held--;
    pthread_mutex_unlock(&s->lock);
}

/* Frees a waiter that did not get a connection. */
void pool_waiter_free(struct pool_waiter *w)
{
    if (w && w->counted)
        user_give_back(w->server, w->user);
    free(w);
}

/* w leaves s's queue to get a connection (lock held): its wait is
 * recorded, and a slow one keeps fail-fast on for a second. */
static void waiter_taken(struct server *s, struct pool_waiter *w)
{
    waiter_unlink(s, w);
    w->state = WAITER_DELIVERING;
    uint64_t now = pool_now_us();
    uint64_t waited = now - w->queued_us;
    pool_record_wait(s, waited, now / 1000u);
    int bound = pool_setting(&s->pool->settings.fail_fast_wait_ms);
    if (bound > 0 && waited > (uint64_t)bound * 1000u)
        s->breaker_until = now / 1000u + 1000u;
}

/* Head waiter allowed to take a connection now (lock held): first come,
 * first served, except that a user at its own limit lets others pass. */
static struct pool_waiter *waiter_pop(struct server *s)
{
    struct pool_waiter *w = s->wait_head;
    while (w && !user_under_limit(s, w->user, w->user_limit))
        w = w->next;
    if (!w)
        return NULL;
    waiter_taken(s, w);
    user_take(s, w);
    return w;
}

/* Whether another server of s's hostgroup has requests waiting. */
static bool others_wait(struct pool *p, const struct server *s)
{
    size_t n = server_count(p);
    for (size_t k = 0; k < n; k++) {
        const struct server *o = &p->servers[k];
        if (o != s && o->hostgroup == s->hostgroup &&
            __atomic_load_n(&o->waiting, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

/* A request queued at another server of s's hostgroup, moved to s: queues
 * are per server, but a request wants its hostgroup, so a connection that
 * comes back to s serves it rather than idling. Requests of users with a
 * per-user limit stay where they are (their slot is counted per server).
 * Locks one server at a time; call without s's lock. */
static struct pool_waiter *steal_waiter(struct pool *p, struct server *s)
{
    size_t n = server_count(p);
    for (size_t k = 0; k < n; k++) {
        struct server *o = &p->servers[k];
        if (o == s || o->hostgroup != s->hostgroup ||
            !__atomic_load_n(&o->waiting, __ATOMIC_RELAXED))
            continue;
        pthread_mutex_lock(&o->lock);
        struct pool_waiter *w = o->wait_head;
        while (w && w->user_limit > 0)
            w = w->next;
        if (w) {
            waiter_taken(o, w);
            /* Under o's lock, where pool_cancel() looks for it. */
            __atomic_store_n(&w->server, s, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&o->lock);
        if (w)
            return w;
    }
    return NULL;
}

/* ----------------------------------------------------------- lifecycle */

static void server_set_jitter(struct pool *p, struct server *s, uint64_t now_ms)
{
    int jitter = pool_setting(&p->settings.warmup_jitter_ms);
    uint64_t r = (uint64_t)rand(); /* main thread only: workers use pool_random */
    s->next_warm = now_ms + (jitter > 0 ? r % (uint64_t)jitter : 0);
}

static int server_init(struct pool *p, struct server *s, const struct pool_server_spec *spec)
{
    s->pool = p;
    s->hostgroup = spec->hostgroup;
    snprintf(s->host, sizeof(s->host), "%s", spec->host);
    s->port = spec->port;
    snprintf(s->name, sizeof(s->name), "%s:%d", s->host, s->port);
    s->max_connections = spec->max_connections;
    s->weight = spec->weight;
    s->max_latency_ms = spec->max_latency_ms;
    s->status = (int)spec->status;
    s->since = pool_now_ms();
    server_set_jitter(p, s, s->since);
    pthread_mutex_init(&s->lock, NULL);
    s->idle = calloc((size_t)p->nworkers, sizeof(*s->idle));
    s->idle_count = calloc((size_t)p->nworkers, sizeof(*s->idle_count));
    s->io = calloc((size_t)p->nworkers, sizeof(*s->io));
    return s->idle && s->idle_count && s->io ? 0 : -1;
}

static void settings_store(struct pool *p, const struct pool_settings *in)
{
    struct pool_settings *st = &p->settings;
    __atomic_store_n(&st->connect_timeout_ms, in->connect_timeout_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->min_idle, in->min_idle, __ATOMIC_RELAXED);
    __atomic_store_n(&st->warmup_rate, in->warmup_rate, __ATOMIC_RELAXED);
    __atomic_store_n(&st->warmup_jitter_ms, in->warmup_jitter_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->idle_timeout_ms, in->idle_timeout_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->max_age_ms, in->max_age_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->ping_interval_ms, in->ping_interval_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->test_on_borrow, in->test_on_borrow, __ATOMIC_RELAXED);
    __atomic_store_n(&st->fail_fast_queue_length, in->fail_fast_queue_length, __ATOMIC_RELAXED);
    __atomic_store_n(&st->fail_fast_wait_ms, in->fail_fast_wait_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&st->shun_on_failures, in->shun_on_failures, __ATOMIC_RELAXED);
    __atomic_store_n(&st->shun_recovery_ms, in->shun_recovery_ms, __ATOMIC_RELAXED);
    pthread_mutex_lock(&p->cred_lock);
    memcpy(st->warmup_user, in->warmup_user, sizeof(st->warmup_user));
    memcpy(st->warmup_password, in->warmup_password, sizeof(st->warmup_password));
    st->warmup_user[sizeof(st->warmup_user) - 1] = '\0';
    st->warmup_password[sizeof(st->warmup_password) - 1] = '\0';
    pthread_mutex_unlock(&p->cred_lock);
}

void pool_configure(struct pool *p, const struct pool_settings *settings)
{
    settings_store(p, settings);
}

struct pool *pool_new(const struct pool_server_spec *specs, size_t n, int nworkers,
                      const struct pool_settings *settings)
{
    struct pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->nworkers = nworkers;
    pthread_mutex_init(&p->cred_lock, NULL);
    p->settings.userdata_free = settings->userdata_free;
    settings_store(p, settings);
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
    for (int i = 0; i < nworkers; i++) {
        pthread_mutex_init(&p->workers[i].inbox_lock, NULL);
        p->workers[i].rng =
            0x9e3779b97f4a7c15u ^ ((uint64_t)(i + 1) * 0xbf58476d1ce4e5b9u) ^ pool_now_us();
    }
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
        /* waiters left behind belong to sessions that are gone */
        while (s->wait_head) {
            struct pool_waiter *w = s->wait_head;
            waiter_unlink(s, w);
            free(w);
        }
        pthread_mutex_destroy(&s->lock);
        free(s->idle);
        free(s->idle_count);
        free(s->io);
        free(s->users);
    }
    if (p->workers)
        for (int i = 0; i < p->nworkers; i++)
            pthread_mutex_destroy(&p->workers[i].inbox_lock);
    pthread_mutex_destroy(&p->cred_lock);
    free(p->servers);
    free(p->workers);
    free(p);
}

static void offer_held(struct pool_conn *c, uint64_t hold_us, bool counted, bool after_ping);
static void give_to(struct pool_conn *c, struct pool_waiter *w);
static void inbox_post(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w,
                       struct server *s);

static void worker_async_cb(uv_async_t *h);

int pool_worker_attach(struct pool *p, int worker, uv_loop_t *loop)
{
    struct pool_worker *pw = &p->workers[worker];
    pw->loop = loop;
    if (uv_async_init(loop, &pw->async, worker_async_cb) != 0)
        return POOL_ENOMEM;
    pw->async.data = p;
    if (uv_timer_init(loop, &pw->tick) != 0) {
        uv_close((uv_handle_t *)&pw->async, NULL);
        return POOL_ENOMEM;
    }
    pw->tick.data = p;
    /* Workers tick out of phase so their warm-up and pings interleave. */
    uv_timer_start(&pw->tick, pool_tick_cb, 50 + (uint64_t)worker * 7, 100);
    pw->attached = true;
    return 0;
}

static void close_list(struct conn_list *l)
{
    while (l->head) {
        struct pool_conn *c = l->head;
        pool_clist_remove(l, c);
        if (c->keepalive) {
            c->keepalive = false;
            __atomic_sub_fetch(&c->server->pinging, 1, __ATOMIC_RELAXED);
        }
        if (c->ping_waiter) {
            pool_waiter_free(c->ping_waiter);
            c->ping_waiter = NULL;
        }
        pool_conn_close(c);
    }
}

void pool_worker_detach(struct pool *p, int worker)
{
    struct pool_worker *pw = &p->workers[worker];
    if (!pw->attached)
        return;
    uv_timer_stop(&pw->tick);
    uv_close((uv_handle_t *)&pw->tick, NULL);
    for (size_t i = 0; i < p->n_servers; i++) {
        struct server *s = &p->servers[i];
        struct conn_list *l = &s->idle[worker];
        while (l->head) {
            struct pool_conn *c = l->head;
            pool_clist_remove(l, c);
            __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            pool_conn_close(c);
        }
    }
    close_list(&pw->pinging);
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
            pool_conn_close(m->conn);
        } else {
            pthread_mutex_lock(&m->server->lock);
            m->server->open--;
            pthread_mutex_unlock(&m->server->lock);
        }
        pool_waiter_free(m->waiter);
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
static void add_relaxed(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

void pool_conn_count(struct pool_conn *c, uint64_t queries, uint64_t sent, uint64_t recv)
{
    struct server_io *io = &c->server->io[c->worker];
    if (queries)
        add_relaxed(&io->queries, queries);
    if (sent)
        add_relaxed(&io->bytes_sent, sent);
    if (recv)
        add_relaxed(&io->bytes_recv, recv);
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
    uint64_t now = pool_now_ms();
    memset(out, 0, sizeof(*out));
    out->hostgroup = s->hostgroup;
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->status = server_status(s);
    if (out->status == POOL_SERVER_ONLINE && !pool_server_usable(s, now))
        out->status = POOL_SERVER_SHUNNED;
    out->weight = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
    out->latency_us = __atomic_load_n(&s->latency_us, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->lock);
    out->open = s->open;
    out->waiting = s->waiting;
    out->max_connections = server_cap(s);
    out->created_ok = s->created_ok;
    out->created_err = s->created_err;
    out->max_used = s->max_used;
    out->exhausted = s->exhausted;
    out->fail_fast = s->fail_fast;
    pool_stats_fill(s, out, now);
    pthread_mutex_unlock(&s->lock);
    /* A connection out for its keep-alive ping is idle, not in use. */
    out->idle = __atomic_load_n(&s->pinging, __ATOMIC_RELAXED);
    for (int i = 0; i < p->nworkers; i++) {
        out->idle += __atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED);
        out->queries += __atomic_load_n(&s->io[i].queries, __ATOMIC_RELAXED);
        out->bytes_sent += __atomic_load_n(&s->io[i].bytes_sent, __ATOMIC_RELAXED);
        out->bytes_recv += __atomic_load_n(&s->io[i].bytes_recv, __ATOMIC_RELAXED);
    }
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

    /* A slot is free: let the head waiter connect, or a request of the
     * hostgroup queued at another server (the slot is reserved meanwhile). */
    pthread_mutex_lock(&s->lock);
    s->open--;
    struct pool_waiter *w = NULL;
    bool room = s->open < server_cap(s) && !server_offline(s);
    if (room) {
        w = waiter_pop(s);
        if (w)
            s->open++;
    }
    bool steal = room && !w && others_wait(p, s);
    if (steal)
        s->open++;
    pthread_mutex_unlock(&s->lock);
    if (steal && !(w = steal_waiter(p, s))) {
        /* Nobody after all: free the slot again, for a request of s that
         * may have queued in between. */
        pthread_mutex_lock(&s->lock);
        s->open--;
        if (s->open < server_cap(s) && !server_offline(s)) {
            w = waiter_pop(s);
            if (w)
                s->open++;
        }
        pthread_mutex_unlock(&s->lock);
    }
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
void pool_conn_close(struct pool_conn *c)
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
    pool_waiter_free(w);
    if (c) {
        conn_free_now(c);
    } else {
        pthread_mutex_lock(&s->lock);
        s->open--;
        pthread_mutex_unlock(&s->lock);
    }
}

/* Puts c on its worker's lent list and hands it to the borrower. */
static void lend(struct pool_conn *c, bool counted)
{
    struct pool_worker *pw = &c->pool->workers[c->worker];
    c->state = CONN_BUSY;
    c->io_cb = NULL;
    c->counted = counted;
    c->lent = true;
    c->lent_at_us = pool_now_us();
    pool_clist_push(&pw->lent, c);
    __atomic_add_fetch(&c->server->lent, 1, __ATOMIC_RELAXED);
}

static void lend_to(struct pool_conn *c, struct pool_waiter *w)
{
    lend(c, w->counted);
    w->counted = false; /* the connection carries the count now */
    pool_ready_cb cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, c, 0, NULL);
}

/* Closes c and opens a new connection for w in its slot (wrong account,
 * failed test-on-borrow). Worker thread of w. */
void pool_reconnect_for(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w)
{
    struct server *s = c->server;
    pthread_mutex_lock(&s->lock);
    s->open++; /* pool_conn_close gives one back */
    pthread_mutex_unlock(&s->lock);
    pool_conn_close(c);
    w->state = WAITER_CONNECTING;
    pool_start_connect(p, worker, s, w);
}

void pool_deliver(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w)
{
    struct pool_worker *pw = &p->workers[worker];
    if (w->cancelled) {
        pool_waiter_free(w);
        pool_offer(c);
        return;
    }
    if (strcmp(c->user, w->user) != 0 || c->found_rows != w->found_rows) {
        /* Wrong account: reuse the slot for a connection as w's user. */
        pool_reconnect_for(p, worker, c, w);
        return;
    }
    if (!c->poll_inited) {
        if (uv_poll_init_socket(pw->loop, &c->poll, c->fd) != 0) {
            w->cb(w->arg, NULL, POOL_ECONNECT, "cannot watch backend socket");
            pool_waiter_free(w);
            c->state = CONN_CLOSING;
            conn_free_now(c);
            return;
        }
        c->poll_inited = true;
        c->watch_events = 0;
    }
    c->worker = worker;
    lend_to(c, w);
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
                pool_clist_remove(l, c);
                __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            }
            pthread_mutex_unlock(&s->lock);
            if (!w)
                break;
            c->state = CONN_MOVING;
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
            pool_deliver(p, worker, m->conn, m->waiter);
        } else if (m->conn) {
            m->conn->worker = worker;
            pool_offer(m->conn);
        } else if (m->waiter->cancelled) {
            /* A connect grant nobody wants: pass it on. */
            struct server *s = m->server;
            pool_waiter_free(m->waiter);
            pthread_mutex_lock(&s->lock);
            struct pool_waiter *w = waiter_pop(s);
            if (!w)
                s->open--;
            pthread_mutex_unlock(&s->lock);
            if (w)
                inbox_post(p, w->worker, NULL, w, s);
        } else {
            m->waiter->state = WAITER_CONNECTING;
            pool_start_connect(p, worker, m->server, m->waiter);
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
        c->state = CONN_MOVING;
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
    if (c->state == CONN_PINGING) {
        pool_ping_on_io(c, status);
        return;
    }
    if (c->state != CONN_IDLE)
        return;
    struct server *s = c->server;
    pool_clist_remove(&s->idle[c->worker], c);
    __atomic_sub_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    pool_conn_close(c);
}

/* Gives an idle connection to the head waiter, or keeps it idle here.
 * hold_us > 0 records a lend that just ended; counted gives back its
 * user's slot; both in the same critical section. */
/* Lock held: accounts for a lend that ended (hold_us > 0) and gives back
 * its user's slot (counted). */
static void record_return_locked(struct server *s, const struct pool_conn *c, uint64_t hold_us,
                                 bool counted, uint64_t now_ms)
{
    if (hold_us) {
        struct pool_window *win = pool_window_now(s, now_ms);
        win->borrows++;
        win->hold_us += hold_us;
    }
    if (counted) {
        struct user_count *u = user_slot(s, c->user, false);
        if (u && u->held > 0)
            u->held--;
    }
}

static void close_returned(struct pool_conn *c, uint64_t hold_us, bool counted, uint64_t now_ms)
{
    if (hold_us || counted) {
        struct server *s = c->server;
        pthread_mutex_lock(&s->lock);
        record_return_locked(s, c, hold_us, counted, now_ms);
        pthread_mutex_unlock(&s->lock);
    }
    pool_conn_close(c);
}

/* Gives an idle connection to the head waiter, or keeps it idle here:
 * at the hot end of the list with a fresh idle time, or after a keep-alive
 * ping (after_ping) at the cold end with its old one. */
static void offer_held(struct pool_conn *c, uint64_t hold_us, bool counted, bool after_ping)
{
    struct server *s = c->server;
    uint64_t now = pool_now_ms();
    bool expired = c->expires && now >= c->expires;
    if (server_offline(s) || expired || c->broken) {
        close_returned(c, hold_us, counted, now);
        return;
    }
    /* "No waiter, so idle here" is decided under the server lock, the same
     * lock under which a waiter that queues looks for idle connections on
     * other workers: one of the two always sees the other, so a connection
     * never sits idle while a request waits for it. */
    pthread_mutex_lock(&s->lock);
    record_return_locked(s, c, hold_us, counted, now);
    struct pool_waiter *w = waiter_pop(s);
    if (!w && others_wait(c->pool, s)) {
        /* Nobody waits here but someone of the hostgroup does elsewhere:
         * take them (one lock at a time), then look here once more. */
        pthread_mutex_unlock(&s->lock);
        w = steal_waiter(c->pool, s);
        pthread_mutex_lock(&s->lock);
        if (!w)
            w = waiter_pop(s);
    }
    if (!w) {
        c->state = CONN_IDLE;
        if (after_ping)
            pool_clist_push_head(&s->idle[c->worker], c);
        else
            pool_clist_push(&s->idle[c->worker], c);
        __atomic_add_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->lock);
    if (w) {
        c->state = CONN_MOVING;
        give_to(c, w);
        return;
    }
    if (!after_ping)
        c->idle_since = now;
    /* Keep watching: a server that closes an idle connection is noticed at
     * once, and the events mask usually stays as the session left it, so
     * no epoll_ctl is needed on either side of a borrow. */
    pool_conn_watch(c, UV_READABLE, NULL, NULL);
}

void pool_offer(struct pool_conn *c)
{
    offer_held(c, 0, false, false);
}

void pool_offer_after_ping(struct pool_conn *c)
{
    offer_held(c, 0, false, true);
}

void pool_release(struct pool_conn *c, bool reusable)
{
    uint64_t hold = 0;
    bool counted = c->counted;
    if (c->lent) {
        pool_clist_remove(&c->pool->workers[c->worker].lent, c);
        c->lent = false;
        c->counted = false;
        __atomic_sub_fetch(&c->server->lent, 1, __ATOMIC_RELAXED);
        hold = pool_now_us() - c->lent_at_us;
        if (hold == 0)
            hold = 1;
    }
    if (!reusable) {
        close_returned(c, hold, counted, pool_now_ms());
        return;
    }
    offer_held(c, hold, counted, false);
}

/* -------------------------------------------------------------- connect */

static bool reroute(struct pool *p, int worker, struct pool_waiter *w, struct server *failed);

/* A connect that failed (counted, so that shun_on_failures errors in a row
 * shun the server) or was aborted: the requester tries another server of
 * its hostgroup, or gets msg. */
static void connect_failed(struct pool_conn *c, struct pool_waiter *w, const char *msg, bool count)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    uint64_t now = pool_now_ms();
    int shun_after = pool_setting(&p->settings.shun_on_failures);
    pthread_mutex_lock(&s->lock);
    if (c->warmup)
        s->warming--;
    if (count) {
        s->created_err++;
        if (++s->errors_in_row >= shun_after && shun_after > 0) {
            uint64_t until = now + (uint64_t)pool_setting(&p->settings.shun_recovery_ms);
            __atomic_store_n(&s->shunned_until, until, __ATOMIC_RELAXED);
            int jitter = pool_setting(&p->settings.warmup_jitter_ms);
            s->next_warm =
                until + pool_random(&p->workers[c->worker], (uint64_t)(jitter > 0 ? jitter : 0));
            s->errors_in_row = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", msg ? msg : "connect failed");
    if (w && !w->cancelled) {
        if (!reroute(p, c->worker, w, s)) {
            w->cb(w->arg, NULL, POOL_ECONNECT, buf);
            pool_waiter_free(w);
        }
    } else {
        pool_waiter_free(w);
    }
    pool_conn_close(c);
}

/* Ends c's connect: lends or offers it (err 0), or fails it (counted as a
 * connect error when count_error). */
static void connect_end(struct pool_conn *c, int err, const char *msg, bool count_error)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    struct pool_waiter *w = c->waiter;
    uint64_t now = pool_now_ms();
    pool_clist_remove(&p->workers[c->worker].connecting, c);
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
        int max_age = pool_setting(&p->settings.max_age_ms);
        if (max_age > 0)
            c->expires = now + (uint64_t)max_age -
                         pool_random(&p->workers[c->worker], (uint64_t)max_age / 10 + 1);
        pthread_mutex_lock(&s->lock);
        s->created_ok++;
        s->errors_in_row = 0;
        if (c->warmup)
            s->warming--;
        pool_window_now(s, now)->created++;
        if (s->open > s->max_used)
            s->max_used = s->open;
        pthread_mutex_unlock(&s->lock);
        uv_poll_stop(&c->poll);
        c->watch_events = 0;
        if (w && !w->cancelled) {
            lend_to(c, w);
            return;
        }
        pool_waiter_free(w);
        pool_offer(c);
        return;
    }
    connect_failed(c, w, msg, count_error);
}

static void connect_finish(struct pool_conn *c, int err, const char *msg)
{
    connect_end(c, err, msg, true);
}

void pool_connect_abort(struct pool_conn *c, const char *why)
{
    connect_end(c, POOL_ECONNECT, why, false);
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
    char msg[320];
    snprintf(msg, sizeof(msg), "backend %s: timeout connecting", c->server->name);
    connect_finish(c, POOL_ECONNECT, msg);
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

/* Opens a connection to s in a slot already counted in s->open: for w, or
 * for warm-up (w NULL) as the warm-up user. */
void pool_start_connect(struct pool *p, int worker, struct server *s, struct pool_waiter *w)
{
    struct pool_worker *pw = &p->workers[worker];
    struct pool_conn *c = calloc(1, sizeof(*c));
    char msg[400];
    if (!c) {
        if (w)
            w->cb(w->arg, NULL, POOL_ENOMEM, "out of memory");
        pool_waiter_free(w);
        pthread_mutex_lock(&s->lock);
        s->open--;
        if (!w)
            s->warming--;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    c->pool = p;
    c->server = s;
    c->worker = worker;
    c->state = CONN_CONNECTING;
    c->fd = -1;
    c->waiter = w;
    pool_clist_push(&pw->connecting, c); /* until connect_end() */
    if (w) {
        snprintf(c->user, sizeof(c->user), "%s", w->user);
        c->found_rows = w->found_rows;
        snprintf(c->password, sizeof(c->password), "%s", w->password);
    } else {
        c->warmup = true;
        pthread_mutex_lock(&p->cred_lock);
        snprintf(c->user, sizeof(c->user), "%s", p->settings.warmup_user);
        snprintf(c->password, sizeof(c->password), "%s", p->settings.warmup_password);
        pthread_mutex_unlock(&p->cred_lock);
    }
    c->mysql = mysql_init(NULL);
    if (!c->mysql) {
        connect_finish(c, POOL_ENOMEM, "out of memory");
        return;
    }
    int timeout_ms = pool_setting(&p->settings.connect_timeout_ms);
    if (timeout_ms <= 0)
        timeout_ms = 3000;
    unsigned timeout_s = (unsigned)((timeout_ms + 999) / 1000);
    bool no = false;
    mysql_options(c->mysql, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->mysql, MYSQL_INIT_COMMAND, backend_init_sql);
    mysql_options(c->mysql, MYSQL_OPT_SSL_ENFORCE, &no);
    mysql_options(c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
    /* CLIENT_LOCAL_FILES (below) lets a client's own LOAD DATA LOCAL pass
     * through; the library itself never reads a file for the server. */
    pool_refuse_local_infile(c->mysql);

    if (uv_timer_init(pw->loop, &c->timer) == 0) {
        c->timer_inited = true;
        c->timer.data = c;
        uv_timer_start(&c->timer, connect_timer_cb, (uint64_t)timeout_ms, 0);
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
    if (pool_now_ms() - c->idle_since < 1000)
        return true;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool conn_matches(const struct pool_conn *c, const char *user, bool found_rows)
{
    return c->found_rows == found_rows && strcmp(c->user, user) == 0;
}

/* An idle connection (here, or on another worker, which donates it when
 * asked) or room for a new one. */
static bool has_room(const struct pool *p, const struct server *s, int worker)
{
    if (__atomic_load_n(&s->idle_count[worker], __ATOMIC_RELAXED) > 0 ||
        __atomic_load_n(&s->open, __ATOMIC_RELAXED) < server_cap(s))
        return true;
    for (int i = 0; i < p->nworkers; i++)
        if (__atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED) > 0)
            return true;
    return false;
}

static bool too_slow(const struct server *s)
{
    int max = __atomic_load_n(&s->max_latency_ms, __ATOMIC_RELAXED);
    return max > 0 && __atomic_load_n(&s->latency_us, __ATOMIC_RELAXED) > (uint64_t)max * 1000u;
}

static struct server *pick_among(struct pool *p, int worker, int hostgroup,
                                 const struct server *avoid, bool fast_only);

/* A server of hostgroup chosen at random by weight, among those with an
 * idle connection here or room for a new one if any (else among all, to
 * queue there). Weight 0 servers are chosen only when no server of the
 * hostgroup has a weight; servers over their max_latency_ms only when no
 * other is usable. */
static struct server *pick_server(struct pool *p, int worker, int hostgroup,
                                  const struct server *avoid)
{
    struct server *s = pick_among(p, worker, hostgroup, avoid, true);
    return s ? s : pick_among(p, worker, hostgroup, avoid, false);
}

static struct server *pick_among(struct pool *p, int worker, int hostgroup,
                                 const struct server *avoid, bool fast_only)
{
    uint64_t now = pool_now_ms();
    size_t n = server_count(p);
    uint64_t sum[2] = {0, 0}; /* [0]: all candidates, [1]: with room */
    size_t count[2] = {0, 0};
    bool weighted = false;
    for (size_t k = 0; k < n; k++) {
        struct server *s = &p->servers[k];
        if (s->hostgroup == hostgroup && s != avoid && pool_server_usable(s, now) &&
            !(fast_only && too_slow(s)) && __atomic_load_n(&s->weight, __ATOMIC_RELAXED) > 0)
            weighted = true;
    }
    for (size_t k = 0; k < n; k++) {
        struct server *s = &p->servers[k];
        if (s->hostgroup != hostgroup || s == avoid || !pool_server_usable(s, now) ||
            (fast_only && too_slow(s)))
            continue;
        int wt = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
        uint64_t w = weighted ? (uint64_t)(wt > 0 ? wt : 0) : 1;
        if (w == 0)
            continue;
        sum[0] += w;
        count[0]++;
        if (has_room(p, s, worker)) {
            sum[1] += w;
            count[1]++;
        }
    }
    int set = count[1] ? 1 : 0;
    if (!count[set])
        return NULL;
    uint64_t r = pool_random(&p->workers[worker], sum[set]);
    for (size_t k = 0; k < n; k++) {
        struct server *s = &p->servers[k];
        if (s->hostgroup != hostgroup || s == avoid || !pool_server_usable(s, now) ||
            (fast_only && too_slow(s)))
            continue;
        if (set == 1 && !has_room(p, s, worker))
            continue;
        int wt = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
        uint64_t w = weighted ? (uint64_t)(wt > 0 ? wt : 0) : 1;
        if (w == 0)
            continue;
        if (r < w)
            return s;
        r -= w;
    }
    return NULL;
}

/* Takes the most recently used idle connection of user here, if alive.
 * Most recently used first (LIFO), as PgBouncer and HikariCP do: a small
 * hot set of connections serves the load, their server-side caches stay
 * warm, they skip the liveness probe, and the cold ones age at the head of
 * the list where the idle timeout finds them. Owner thread, no lock. */
static struct pool_conn *take_idle(struct server *s, int worker, const char *user, bool found_rows)
{
    struct conn_list *idle = &s->idle[worker];
    for (struct pool_conn *c = idle->tail; c;) {
        struct pool_conn *next = c->prev;
        if (conn_matches(c, user, found_rows)) {
            pool_clist_remove(idle, c);
            __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            if (conn_alive(c))
                return c;
            pool_conn_close(c);
        }
        c = next;
    }
    return NULL;
}

/* Lock held. Fail fast instead of queueing? */
static bool overloaded(struct pool *p, struct server *s)
{
    int max_len = pool_setting(&p->settings.fail_fast_queue_length);
    int max_wait = pool_setting(&p->settings.fail_fast_wait_ms);
    if (max_len > 0 && s->waiting >= max_len)
        return true;
    if (max_wait <= 0)
        return false;
    uint64_t now = pool_now_us();
    if (now / 1000u < s->breaker_until)
        return true;
    return s->wait_head && now - s->wait_head->queued_us > (uint64_t)max_wait * 1000u;
}

/* Lock held; queues w on s or refuses it. Returns POOL_PENDING or
 * POOL_EOVERLOAD (w then still belongs to the caller). */
static int queue_locked(struct pool *p, struct server *s, struct pool_waiter *w, int worker)
{
    if (overloaded(p, s)) {
        s->fail_fast++;
        return POOL_EOVERLOAD;
    }
    w->state = WAITER_QUEUED;
    w->queued_us = pool_now_us();
    s->exhausted++;
    waiter_push(s, w);
    /* Still under the lock (see offer_held()): idle connections elsewhere
     * are asked for. */
    for (int i = 0; i < p->nworkers; i++) {
        if (i == worker || !__atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED))
            continue;
        __atomic_store_n(&p->workers[i].donate_requested, 1, __ATOMIC_RELEASE);
        uv_async_send(&p->workers[i].async);
    }
    return POOL_PENDING;
}

/* Lock held: a slot for a new connection, or an idle connection of another
 * user here to reopen as w's user. Returns the idle connection to close
 * (after unlocking) through *reopen. */
static bool grant_slot_locked(struct server *s, int worker, struct pool_waiter *w,
                              struct pool_conn **reopen)
{
    *reopen = NULL;
    struct conn_list *idle = &s->idle[worker];
    if (s->open < server_cap(s)) {
        s->open++;
    } else if (idle->head) {
        struct pool_conn *c = idle->head;
        pool_clist_remove(idle, c);
        __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
        s->open++; /* pool_conn_close gives one back */
        *reopen = c;
    } else {
        return false;
    }
    w->state = WAITER_DELIVERING;
    return true;
}

static struct pool_waiter *waiter_new(struct server *s, int worker, const char *user,
                                      const char *password, bool found_rows, int user_limit,
                                      pool_ready_cb cb, void *arg)
{
    struct pool_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->server = s;
    w->worker = worker;
    w->cb = cb;
    w->arg = arg;
    w->found_rows = found_rows;
    w->user_limit = user_limit;
    snprintf(w->user, sizeof(w->user), "%s", user);
    snprintf(w->password, sizeof(w->password), "%s", password ? password : "");
    return w;
}

int pool_acquire(struct pool *p, int worker, int hostgroup, const char *user, const char *password,
                 bool found_rows, int user_limit, pool_ready_cb cb, void *arg,
                 struct pool_conn **out, struct pool_waiter **waiter)
{
    *out = NULL;
    *waiter = NULL;
    struct server *s = pick_server(p, worker, hostgroup, NULL);
    if (!s)
        return POOL_ENOSERVER;
    bool test_on_borrow = __atomic_load_n(&p->settings.test_on_borrow, __ATOMIC_RELAXED);

    if (user_limit <= 0 && !test_on_borrow) {
        struct pool_conn *c = take_idle(s, worker, user, found_rows);
        if (c) {
            lend(c, false);
            *out = c;
            return 0;
        }
    }

    struct pool_waiter *w = waiter_new(s, worker, user, password, found_rows, user_limit, cb, arg);
    if (!w)
        return POOL_ENOMEM;

    pthread_mutex_lock(&s->lock);
    bool allowed = user_under_limit(s, user, user_limit);
    if (allowed)
        user_take(s, w);
    pthread_mutex_unlock(&s->lock);

    if (allowed && (user_limit > 0 || test_on_borrow)) {
        struct pool_conn *c = take_idle(s, worker, user, found_rows);
        if (c && test_on_borrow) {
            *waiter = w;
            pool_ping_start(c, w);
            return POOL_PENDING;
        }
        if (c) {
            lend(c, w->counted);
            free(w);
            *out = c;
            return 0;
        }
    }

    struct pool_conn *reopen = NULL;
    pthread_mutex_lock(&s->lock);
    if (allowed && grant_slot_locked(s, worker, w, &reopen)) {
        pthread_mutex_unlock(&s->lock);
        if (reopen)
            pool_conn_close(reopen);
        *waiter = w;
        /* Connect from the loop, not inside the caller's stack. */
        inbox_post(p, worker, NULL, w, s);
        return POOL_PENDING;
    }
    if (w->counted) {
        /* Queued requests hold no slot of their user; popping takes one. */
        struct user_count *u = user_slot(s, user, false);
        if (u && u->held > 0)
            u->held--;
        w->counted = false;
    }
    int rc = queue_locked(p, s, w, worker);
    pthread_mutex_unlock(&s->lock);
    if (rc != POOL_PENDING) {
        free(w);
        return rc;
    }
    *waiter = w;
    return POOL_PENDING;
}

/* After a connect error: tries w on another server of its hostgroup, once
 * per server. Worker thread of w. Returns false when none is left. */
static bool reroute(struct pool *p, int worker, struct pool_waiter *w, struct server *failed)
{
    int in_group = 0;
    for (size_t k = 0; k < server_count(p); k++)
        in_group += p->servers[k].hostgroup == failed->hostgroup;
    if (++w->attempts >= in_group)
        return false;
    struct server *s = pick_server(p, worker, failed->hostgroup, failed);
    if (!s)
        return false;
    if (w->counted) {
        user_give_back(failed, w->user);
        w->counted = false;
    }
    w->server = s;
    struct pool_conn *reopen = NULL;
    pthread_mutex_lock(&s->lock);
    bool allowed = user_under_limit(s, w->user, w->user_limit);
    if (allowed && grant_slot_locked(s, worker, w, &reopen)) {
        user_take(s, w);
        pthread_mutex_unlock(&s->lock);
        if (reopen)
            pool_conn_close(reopen);
        inbox_post(p, worker, NULL, w, s);
        return true;
    }
    int rc = queue_locked(p, s, w, worker);
    pthread_mutex_unlock(&s->lock);
    return rc == POOL_PENDING;
}

void pool_cancel(struct pool *p, struct pool_waiter *w)
{
    (void)p;
    /* A waiter moved to another server changes it under the old one's lock,
     * in the DELIVERING state this then finds. */
    struct server *s = __atomic_load_n(&w->server, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&s->lock);
    if (w->state == WAITER_QUEUED) {
        waiter_unlink(s, w);
        pthread_mutex_unlock(&s->lock);
        free(w);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    /* In transit, connecting or pinging: whoever holds it frees it. */
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
    uint64_t now = pool_now_ms();
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
                free(p->servers[idx].io);
                pthread_mutex_destroy(&p->servers[idx].lock);
                memset(&p->servers[idx], 0, sizeof(p->servers[idx]));
                rc = POOL_ENOMEM;
                continue;
            }
            __atomic_store_n(&p->n_servers, idx + 1, __ATOMIC_RELEASE);
            continue;
        }
        bool back = server_offline(s) && sp->status == POOL_SERVER_ONLINE;
        if (back) {
            /* Back in service: warm up after a fresh random delay, like a
             * start, so a fleet of proxies does not reconnect in step. The
             * connect errors from before it went out are stale: whoever put
             * it back (the monitor after it answered again, or an operator)
             * knows better, so a restarted primary takes writes at once
             * rather than after shun_recovery_time_sec. */
            pthread_mutex_lock(&s->lock);
            server_set_jitter(p, s, now);
            s->errors_in_row = 0;
            __atomic_store_n(&s->shunned_until, 0, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&s->lock);
        }
        __atomic_store_n(&s->max_connections, sp->max_connections, __ATOMIC_RELAXED);
        __atomic_store_n(&s->weight, sp->weight, __ATOMIC_RELAXED);
        __atomic_store_n(&s->max_latency_ms, sp->max_latency_ms, __ATOMIC_RELAXED);
        __atomic_store_n(&s->status, (int)sp->status, __ATOMIC_RELAXED);
        grant_free_slots(p, s);
    }
    /* Servers no longer configured take no new work; busy connections finish
     * and close when returned (offer_held() closes them). */
    for (size_t k = 0; k < count; k++)
        if (!seen[k])
            __atomic_store_n(&p->servers[k].status, (int)POOL_SERVER_OFFLINE_SOFT,
                             __ATOMIC_RELAXED);
    free(seen);
    return rc;
}

/* --------------------------------------------------------- GTID positions */

void pool_set_applied_gtid(struct pool *p, const char *host, int port, const char *gtid)
{
    size_t n = server_count(p);
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (s->port != port || strcmp(s->host, host) != 0)
            continue;
        pthread_mutex_lock(&s->lock);
        snprintf(s->applied_gtid, sizeof(s->applied_gtid), "%s", gtid ? gtid : "");
        pthread_mutex_unlock(&s->lock);
    }
}

/* Parses "domain-server-seq" at *p, advancing past it. */
static bool parse_gtid(const char **p, unsigned long long *domain, unsigned long long *seq)
{
    char *end;
    errno = 0;
    *domain = strtoull(*p, &end, 10);
    if (end == *p || *end != '-')
        return false;
    const char *q = end + 1;
    (void)strtoull(q, &end, 10);
    if (end == q || *end != '-')
        return false;
    q = end + 1;
    *seq = strtoull(q, &end, 10);
    if (end == q || errno != 0)
        return false;
    *p = end;
    return true;
}

bool pool_conn_has_gtid(const struct pool_conn *c, const char *gtid)
{
    unsigned long long want_domain, want_seq;
    const char *w = gtid;
    if (!parse_gtid(&w, &want_domain, &want_seq) || *w != '\0')
        return false;
    struct server *s = c->server;
    char pos[sizeof(s->applied_gtid)];
    pthread_mutex_lock(&s->lock);
    memcpy(pos, s->applied_gtid, sizeof(pos));
    pthread_mutex_unlock(&s->lock);
    for (const char *p = pos; *p;) {
        unsigned long long domain, seq;
        while (*p == ',' || *p == ' ' || *p == '\n')
            p++;
        if (!*p || !parse_gtid(&p, &domain, &seq))
            return false;
        if (domain == want_domain)
            return seq >= want_seq;
    }
    return false;
}

void pool_set_latency(struct pool *p, const char *host, int port, uint64_t us)
{
    size_t n = server_count(p);
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (s->port == port && strcmp(s->host, host) == 0)
            __atomic_store_n(&s->latency_us, us, __ATOMIC_RELAXED);
    }
}
