/*
 * Backend connection pools: creation, workers, and what the files of pool/
 * share (clock, settings, lists, accessors).
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
 * Files:
 *   pool.c      this: pool_new/free, worker attach/detach, accessors
 *   servers.c   the server list, states, shunning, stats, monitor figures
 *   lend.c      pool_acquire, pool_release, the choice of a server
 *   queue.c     waiters, per-user limits, fail-fast, the inbox hand-over
 *   conn.c      connect (non-blocking Connector/C on a uv_poll_t), close
 *   maint.c     the 100 ms tick: warm-up, idle timeout, age, pings
 *   stats.c     the last minute of figures per server
 *   idle.c      snapshots of the idle lists for stats_mysql_free_connections
 * Their shared declarations are in pool_int.h.
 *
 * Locks: each server's mutex guards its counts and FIFO; a worker's
 * inbox_lock guards its inbox; its snap_lock the snapshot of its idle
 * connections (idle.c); cred_lock guards the warm-up credentials.
 * At most one is held at a time. Everything else is owned by one worker
 * thread, or read and written with atomics.
 */
#include "pool/pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Settings change at run time (pool_configure on the main thread) while
 * workers read them: each figure is one int, loaded atomically. */
int pool_setting(const int *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
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

/* ----------------------------------------------------------- lifecycle */

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
        if (pool_server_init(p, &p->servers[i], &specs[i]) != 0) {
            pool_server_destroy(&p->servers[i]);
            goto fail;
        }
        p->n_servers = i + 1;
    }
    for (int i = 0; i < nworkers; i++) {
        pthread_mutex_init(&p->workers[i].inbox_lock, NULL);
        pthread_mutex_init(&p->workers[i].snap_lock, NULL);
        p->workers[i].rng =
            0x9e3779b97f4a7c15u ^ ((uint64_t)(i + 1) * 0xbf58476d1ce4e5b9u) ^ clock_now_us();
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
    for (size_t i = 0; i < p->n_servers; i++)
        pool_server_destroy(&p->servers[i]);
    if (p->workers)
        for (int i = 0; i < p->nworkers; i++) {
            pthread_mutex_destroy(&p->workers[i].inbox_lock);
            pthread_mutex_destroy(&p->workers[i].snap_lock);
            free(p->workers[i].snap);
        }
    pthread_mutex_destroy(&p->cred_lock);
    free(p->servers);
    free(p->workers);
    free(p);
}

/* -------------------------------------------------------------- workers */

int pool_worker_attach(struct pool *p, int worker, uv_loop_t *loop)
{
    struct pool_worker *pw = &p->workers[worker];
    pw->loop = loop;
    if (uv_async_init(loop, &pw->async, pool_inbox_cb) != 0)
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

static void close_idle(struct pool *p, int worker)
{
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
}

void pool_worker_detach(struct pool *p, int worker)
{
    struct pool_worker *pw = &p->workers[worker];
    if (!pw->attached)
        return;
    uv_timer_stop(&pw->tick);
    uv_close((uv_handle_t *)&pw->tick, NULL);
    close_idle(p, worker);
    close_list(&pw->pinging);
    /* Drop anything still in transit to us: close connections, free grants. */
    pool_inbox_discard(p, worker);
    uv_close((uv_handle_t *)&pw->async, NULL);
}

/* ------------------------------------------------------------ accessors */

int pool_conn_fd(const struct pool_conn *c)
{
    return c->fd;
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

/* One writer (the conn's worker) per counter: a load and a store, no
 * read-modify-write, keep readers on other threads tear-free. */
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
