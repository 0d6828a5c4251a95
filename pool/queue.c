/*
 * Requests that wait, and connections on their way to them.
 *
 * A request (struct pool_waiter) that finds neither an idle connection nor
 * room for a new one queues in its server's FIFO, under the server's lock,
 * unless fail-fast refuses it (the queue is long, or its head or a recent
 * request waited too long). Waiter states:
 *
 *   QUEUED       in the FIFO; pool_cancel unlinks and frees it at once
 *   DELIVERING   popped: a connection, or a grant to connect, is on its
 *                way through the waiter's worker inbox
 *   CONNECTING   a connect runs for it on its worker (conn.c)
 *
 * Past QUEUED, pool_cancel only marks the waiter; whoever holds it (the
 * inbox consumer, the connect, the test-on-borrow ping) frees it on the
 * waiter's thread and passes the connection or the slot on. So the mark
 * needs no lock.
 *
 * What serves a queued request:
 *   - a returned connection (lend.c offers it here first);
 *   - a freed slot (a connection closed, a cap raised, a server back
 *     in service): the head waiter gets a grant to connect;
 *   - an idle connection of another worker, donated when asked;
 *   - a connection of another server of the hostgroup when nobody waits
 *     for that server (the waiter is "stolen" to it).
 * First come, first served, except that a user at its per-user limit lets
 * others pass.
 *
 * Hand-over between workers:
 *
 *   giver's loop                            waiter's loop
 *   give_to: uv_close(poll) --> move_closed: inbox_post --uv_async_send-->
 *                                           pool_inbox_cb: pool_deliver:
 *                                           poll re-initialised, callback
 *
 * On the same worker give_to skips the close but still goes through the
 * inbox, so a callback never runs inside pool_release.
 */
#include "pool/pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- FIFO */

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

void pool_queue_drop(struct server *s)
{
    while (s->wait_head) {
        struct pool_waiter *w = s->wait_head;
        waiter_unlink(s, w);
        free(w);
    }
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

bool pool_user_under_limit(struct server *s, const char *user, int limit)
{
    if (limit <= 0)
        return true;
    struct user_count *u = user_slot(s, user, false);
    return !u || u->held < limit;
}

/* On ENOMEM the request goes uncounted rather than failing. */
void pool_user_take(struct server *s, struct pool_waiter *w)
{
    if (w->user_limit <= 0)
        return;
    struct user_count *u = user_slot(s, w->user, true);
    if (u) {
        u->held++;
        w->counted = true;
    }
}

void pool_user_put_locked(struct server *s, const char *user)
{
    struct user_count *u = user_slot(s, user, false);
    if (u && u->held > 0)
        u->held--;
}

void pool_user_give_back(struct server *s, const char *user)
{
    pthread_mutex_lock(&s->lock);
    pool_user_put_locked(s, user);
    pthread_mutex_unlock(&s->lock);
}

/* -------------------------------------------------------------- waiters */

struct pool_waiter *pool_waiter_new(struct server *s, int worker, const char *user,
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

void pool_waiter_free(struct pool_waiter *w)
{
    if (w && w->counted)
        pool_user_give_back(w->server, w->user);
    free(w);
}

/* w leaves s's queue to get a connection (lock held): its wait is
 * recorded, and a slow one keeps fail-fast on for a second. */
static void waiter_taken(struct server *s, struct pool_waiter *w)
{
    waiter_unlink(s, w);
    w->state = WAITER_DELIVERING;
    uint64_t now = clock_now_us();
    uint64_t waited = now - w->queued_us;
    pool_record_wait(s, waited, now / 1000u);
    int bound = pool_setting(&s->pool->settings.fail_fast_wait_ms);
    if (bound > 0 && waited > (uint64_t)bound * 1000u)
        s->breaker_until = now / 1000u + 1000u;
}

struct pool_waiter *pool_waiter_pop(struct server *s)
{
    struct pool_waiter *w = s->wait_head;
    while (w && !pool_user_under_limit(s, w->user, w->user_limit))
        w = w->next;
    if (!w)
        return NULL;
    waiter_taken(s, w);
    pool_user_take(s, w);
    return w;
}

bool pool_others_wait(struct pool *p, const struct server *s)
{
    size_t n = pool_server_count(p);
    for (size_t k = 0; k < n; k++) {
        const struct server *o = &p->servers[k];
        if (o != s && o->hostgroup == s->hostgroup &&
            __atomic_load_n(&o->waiting, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

/* Queues are per server, but a request wants its hostgroup, so a
 * connection that comes back to s serves a request queued elsewhere rather
 * than idling. Requests of users with a per-user limit stay where they are
 * (their slot is counted per server). */
struct pool_waiter *pool_steal_waiter(struct pool *p, struct server *s)
{
    size_t n = pool_server_count(p);
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

/* Lock held. Fail fast instead of queueing? */
static bool overloaded(struct pool *p, struct server *s)
{
    int max_len = pool_setting(&p->settings.fail_fast_queue_length);
    int max_wait = pool_setting(&p->settings.fail_fast_wait_ms);
    if (max_len > 0 && s->waiting >= max_len)
        return true;
    if (max_wait <= 0)
        return false;
    uint64_t now = clock_now_us();
    if (now / 1000u < s->breaker_until)
        return true;
    return s->wait_head && now - s->wait_head->queued_us > (uint64_t)max_wait * 1000u;
}

int pool_queue_locked(struct pool *p, struct server *s, struct pool_waiter *w, int worker)
{
    if (overloaded(p, s)) {
        s->fail_fast++;
        return POOL_EOVERLOAD;
    }
    w->state = WAITER_QUEUED;
    w->queued_us = clock_now_us();
    s->exhausted++;
    waiter_push(s, w);
    /* Still under the lock (see offer_held() in lend.c): idle connections
     * elsewhere are asked for. */
    for (int i = 0; i < p->nworkers; i++) {
        if (i == worker || !__atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED))
            continue;
        __atomic_store_n(&p->workers[i].donate_requested, 1, __ATOMIC_RELEASE);
        uv_async_send(&p->workers[i].async);
    }
    return POOL_PENDING;
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

/* ---------------------------------------------------------- free slots */

/* Lock held: pops a waiter allowed to connect in a free slot of s, and
 * counts the slot for it. */
static struct pool_waiter *pop_for_slot_locked(struct server *s)
{
    if (s->open >= pool_server_cap(s) || pool_server_offline(s))
        return NULL;
    struct pool_waiter *w = pool_waiter_pop(s);
    if (w)
        s->open++;
    return w;
}

/* The head waiter connects in the slot, or a request of the hostgroup
 * queued at another server (the slot is reserved meanwhile). Not while s
 * is shunned for connect errors: a request taken from a healthy server
 * would only fail here, use up its reroute and reach its session as an
 * error. */
void pool_slot_freed(struct pool *p, struct server *s)
{
    pthread_mutex_lock(&s->lock);
    s->open--;
    bool room = s->open < pool_server_cap(s) && !pool_server_offline(s);
    struct pool_waiter *w = room ? pop_for_slot_locked(s) : NULL;
    bool steal = room && !w && pool_server_usable(s, clock_now_ms()) && pool_others_wait(p, s);
    if (steal)
        s->open++;
    pthread_mutex_unlock(&s->lock);
    if (steal && !(w = pool_steal_waiter(p, s))) {
        /* Nobody after all: free the slot again, for a request of s that
         * may have queued in between. */
        pthread_mutex_lock(&s->lock);
        s->open--;
        w = pop_for_slot_locked(s);
        pthread_mutex_unlock(&s->lock);
    }
    if (w)
        pool_inbox_post(p, w->worker, NULL, w, s);
}

void pool_grant_free_slots(struct pool *p, struct server *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct pool_waiter *w = pop_for_slot_locked(s);
        pthread_mutex_unlock(&s->lock);
        if (!w)
            return;
        pool_inbox_post(p, w->worker, NULL, w, s);
    }
}

/* --------------------------------------------------------------- inbox */

void pool_inbox_post(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w,
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
        pool_conn_free(c);
    } else {
        pthread_mutex_lock(&s->lock);
        s->open--;
        pthread_mutex_unlock(&s->lock);
    }
}

/* c arrived on worker: it belongs to worker from now on, and a connection
 * that comes from another worker gets a poll handle on this loop (its old
 * one was closed on the giver's). Before anything else, since whatever
 * happens next (lent, offered, closed) runs here. Returns 0 or
 * POOL_ECONNECT. */
static int adopt(struct pool *p, int worker, struct pool_conn *c)
{
    c->worker = worker;
    if (c->poll_inited)
        return 0;
    if (uv_poll_init_socket(p->workers[worker].loop, &c->poll, c->fd) != 0)
        return POOL_ECONNECT;
    c->poll_inited = true;
    c->poll.data = c;
    c->watch_events = 0;
    return 0;
}

void pool_deliver(struct pool *p, int worker, struct pool_conn *c, struct pool_waiter *w)
{
    if (adopt(p, worker, c) != 0) {
        if (!w->cancelled)
            w->cb(w->arg, NULL, POOL_ECONNECT, "cannot watch backend socket");
        pool_waiter_free(w);
        c->state = CONN_CLOSING;
        pool_conn_free(c);
        return;
    }
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
    pool_lend_to(c, w);
}

static void move_closed(uv_handle_t *h)
{
    struct pool_conn *c = h->data;
    c->pending_closes--;
    pool_inbox_post(c->pool, c->move_to, c, c->move_waiter, c->server);
}

void pool_give_to(struct pool_conn *c, struct pool_waiter *w)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    if (w->worker == c->worker) {
        c->state = CONN_MOVING;
        pool_inbox_post(p, w->worker, c, w, s);
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
        pool_inbox_post(p, w->worker, c, w, s);
    }
}

static void donate_idle(struct pool *p, int worker)
{
    for (size_t i = 0; i < pool_server_count(p); i++) {
        struct server *s = &p->servers[i];
        struct conn_list *l = &s->idle[worker];
        for (;;) {
            /* Under the lock, as in offer_held(): take a waiter and an idle
             * connection together, or neither. */
            pthread_mutex_lock(&s->lock);
            struct pool_conn *c = l->head;
            struct pool_waiter *w = c ? pool_waiter_pop(s) : NULL;
            if (w) {
                pool_clist_remove(l, c);
                __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
            }
            pthread_mutex_unlock(&s->lock);
            if (!w)
                break;
            c->state = CONN_MOVING;
            pool_give_to(c, w);
        }
    }
}

/* A connect grant whose waiter was cancelled: the slot goes to the next
 * waiter of s, or is freed. */
static void pass_grant_on(struct pool *p, struct server *s)
{
    pthread_mutex_lock(&s->lock);
    struct pool_waiter *w = pool_waiter_pop(s);
    if (!w)
        s->open--;
    pthread_mutex_unlock(&s->lock);
    if (w)
        pool_inbox_post(p, w->worker, NULL, w, s);
}

static void inbox_handle(struct pool *p, int worker, struct inbox_msg *m)
{
    if (m->conn && m->waiter) {
        pool_deliver(p, worker, m->conn, m->waiter);
    } else if (m->conn) {
        if (adopt(p, worker, m->conn) == 0) {
            pool_offer(m->conn);
        } else {
            m->conn->state = CONN_CLOSING;
            pool_conn_free(m->conn);
        }
    } else if (m->waiter->cancelled) {
        pool_waiter_free(m->waiter);
        pass_grant_on(p, m->server);
    } else {
        m->waiter->state = WAITER_CONNECTING;
        pool_start_connect(p, worker, m->server, m->waiter);
    }
}

void pool_inbox_cb(uv_async_t *h)
{
    struct pool *p = h->data;
    struct pool_worker *pw =
        (struct pool_worker *)((char *)h - offsetof(struct pool_worker, async));
    int worker = (int)(pw - p->workers);
    pthread_mutex_lock(&pw->inbox_lock);
    struct inbox_msg *m = pw->inbox_head;
    pw->inbox_head = pw->inbox_tail = NULL;
    pthread_mutex_unlock(&pw->inbox_lock);
    while (m) {
        struct inbox_msg *next = m->next;
        inbox_handle(p, worker, m);
        free(m);
        m = next;
    }
    if (__atomic_exchange_n(&pw->donate_requested, 0, __ATOMIC_ACQ_REL))
        donate_idle(p, worker);
}

void pool_inbox_discard(struct pool *p, int worker)
{
    struct pool_worker *pw = &p->workers[worker];
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
}
