/*
 * Lending and returning connections, and the choice of a server.
 *
 * pool_acquire, in order:
 *   1. choose a server of the hostgroup at random by weight, among those
 *      with an idle connection here or room for a new one (else among all,
 *      to queue there); servers over their max_latency_ms only when no
 *      other is usable;
 *   2. lend the most recently used idle connection of the same account on
 *      this worker, at once (no callback);
 *   3. with a per-user limit or test-on-borrow: count the user's slot, then
 *      take an idle connection (pinged first with test-on-borrow);
 *   4. else grant a connect in a free slot (or in the slot of an idle
 *      connection of another account, which closes), started from this
 *      worker's inbox so that the callback never runs inside pool_acquire;
 *   5. else queue (queue.c), or fail fast.
 *
 * pool_release: a reusable connection is offered (offer_held) to the head
 * waiter of its server, or to a request queued at another server of the
 * hostgroup, and otherwise goes idle on this worker; the decision is taken
 * under the server lock so that it never misses a request that queues at
 * the same time. A connection that is not reusable, or whose server left
 * service, or that is past its age, closes.
 *
 * After a connect error the request is rerouted to another server of its
 * hostgroup, once per server (pool_reroute).
 */
#include "pool/pool_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* --------------------------------------------------------------- lending */

/* Puts c on its worker's lent list, as the borrower's. */
static void lend(struct pool_conn *c, bool counted)
{
    struct pool_worker *pw = &c->pool->workers[c->worker];
    c->state = CONN_BUSY;
    c->io_cb = NULL;
    c->counted = counted;
    c->lent = true;
    c->lent_at_us = clock_now_us();
    pool_clist_push(&pw->lent, c);
    __atomic_add_fetch(&c->server->lent, 1, __ATOMIC_RELAXED);
}

void pool_lend_to(struct pool_conn *c, struct pool_waiter *w)
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

/* ------------------------------------------------------ choice of server */

/* An idle connection (here, or on another worker, which donates it when
 * asked) or room for a new one. */
static bool has_room(const struct pool *p, const struct server *s, int worker)
{
    if (__atomic_load_n(&s->idle_count[worker], __ATOMIC_RELAXED) > 0 ||
        __atomic_load_n(&s->open, __ATOMIC_RELAXED) < pool_server_cap(s))
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

/* One round of the choice: the candidates and what decides among them. */
struct pick {
    int hostgroup;
    const struct server *avoid;
    bool fast_only;
    bool weighted; /* some candidate has a weight: weight 0 ones are out */
    uint64_t now;
};

static bool candidate(const struct pick *k, const struct server *s)
{
    return s->hostgroup == k->hostgroup && s != k->avoid && pool_server_usable(s, k->now) &&
           !(k->fast_only && too_slow(s));
}

/* s's share of the draw (0: not drawn). */
static uint64_t share(const struct pick *k, const struct server *s)
{
    int wt = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
    return k->weighted ? (uint64_t)(wt > 0 ? wt : 0) : 1;
}

static struct server *pick_among(struct pool *p, int worker, struct pick *k)
{
    size_t n = pool_server_count(p);
    uint64_t sum[2] = {0, 0}; /* [0]: all candidates, [1]: with room */
    size_t count[2] = {0, 0};
    k->weighted = false;
    for (size_t i = 0; i < n; i++)
        if (candidate(k, &p->servers[i]) &&
            __atomic_load_n(&p->servers[i].weight, __ATOMIC_RELAXED) > 0)
            k->weighted = true;
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        uint64_t w = candidate(k, s) ? share(k, s) : 0;
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
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (!candidate(k, s) || (set == 1 && !has_room(p, s, worker)))
            continue;
        uint64_t w = share(k, s);
        if (w == 0)
            continue;
        if (r < w)
            return s;
        r -= w;
    }
    return NULL;
}

/* A server of hostgroup chosen at random by weight, among those with an
 * idle connection here or room for a new one if any (else among all, to
 * queue there). Weight 0 servers are chosen only when no server of the
 * hostgroup has a weight; servers over their max_latency_ms only when no
 * other is usable. */
static struct server *pick_server(struct pool *p, int worker, int hostgroup,
                                  const struct server *avoid)
{
    struct pick k = {.hostgroup = hostgroup, .avoid = avoid, .fast_only = true};
    k.now = clock_now_ms();
    struct server *s = pick_among(p, worker, &k);
    if (s)
        return s;
    k.fast_only = false;
    k.now = clock_now_ms();
    return pick_among(p, worker, &k);
}

/* -------------------------------------------------------------- acquire */

/* The idle watch catches most dead connections; a connection idle for a
 * while is also probed, since the watch only runs when its loop does. */
static bool conn_alive(const struct pool_conn *c)
{
    if (clock_now_ms() - c->idle_since < 1000)
        return true;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool conn_matches(const struct pool_conn *c, const char *user, bool found_rows)
{
    return c->found_rows == found_rows && strcmp(c->user, user) == 0;
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

/* Lock held: a slot for a new connection, or an idle connection of another
 * user here to reopen as w's user. Returns the idle connection to close
 * (after unlocking) through *reopen. */
static bool grant_slot_locked(struct server *s, int worker, struct pool_waiter *w,
                              struct pool_conn **reopen)
{
    *reopen = NULL;
    struct conn_list *idle = &s->idle[worker];
    if (s->open < pool_server_cap(s)) {
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

/* Steps 4 and 5 for w: a connect grant (allowed: under its user limit) or
 * the queue. Frees w unless it returns POOL_PENDING. */
static int grant_or_queue(struct pool *p, struct server *s, int worker, struct pool_waiter *w,
                          bool allowed)
{
    struct pool_conn *reopen = NULL;
    pthread_mutex_lock(&s->lock);
    if (allowed && grant_slot_locked(s, worker, w, &reopen)) {
        pthread_mutex_unlock(&s->lock);
        if (reopen)
            pool_conn_close(reopen);
        /* Connect from the loop, not inside the caller's stack. */
        pool_inbox_post(p, worker, NULL, w, s);
        return POOL_PENDING;
    }
    if (w->counted) {
        /* Queued requests hold no slot of their user; popping takes one. */
        pool_user_put_locked(s, w->user);
        w->counted = false;
    }
    int rc = pool_queue_locked(p, s, w, worker);
    pthread_mutex_unlock(&s->lock);
    if (rc != POOL_PENDING)
        free(w);
    return rc;
}

/* Steps 3 to 5 for w. Frees w unless it returns POOL_PENDING. */
static int acquire_waiter(struct pool *p, struct server *s, int worker, struct pool_waiter *w,
                          bool test_on_borrow, struct pool_conn **out)
{
    pthread_mutex_lock(&s->lock);
    bool allowed = pool_user_under_limit(s, w->user, w->user_limit);
    if (allowed)
        pool_user_take(s, w);
    pthread_mutex_unlock(&s->lock);

    if (allowed && (w->user_limit > 0 || test_on_borrow)) {
        struct pool_conn *c = take_idle(s, worker, w->user, w->found_rows);
        if (c && test_on_borrow) {
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
    return grant_or_queue(p, s, worker, w, allowed);
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

    struct pool_waiter *w =
        pool_waiter_new(s, worker, user, password, found_rows, user_limit, cb, arg);
    if (!w)
        return POOL_ENOMEM;
    int rc = acquire_waiter(p, s, worker, w, test_on_borrow, out);
    if (rc == POOL_PENDING)
        *waiter = w;
    return rc;
}

bool pool_reroute(struct pool *p, int worker, struct pool_waiter *w, struct server *failed)
{
    int in_group = 0;
    for (size_t k = 0; k < pool_server_count(p); k++)
        in_group += p->servers[k].hostgroup == failed->hostgroup;
    if (++w->attempts >= in_group)
        return false;
    struct server *s = pick_server(p, worker, failed->hostgroup, failed);
    if (!s)
        return false;
    if (w->counted) {
        pool_user_give_back(failed, w->user);
        w->counted = false;
    }
    w->server = s;
    struct pool_conn *reopen = NULL;
    pthread_mutex_lock(&s->lock);
    bool allowed = pool_user_under_limit(s, w->user, w->user_limit);
    if (allowed && grant_slot_locked(s, worker, w, &reopen)) {
        pool_user_take(s, w);
        pthread_mutex_unlock(&s->lock);
        if (reopen)
            pool_conn_close(reopen);
        pool_inbox_post(p, worker, NULL, w, s);
        return true;
    }
    int rc = pool_queue_locked(p, s, w, worker);
    pthread_mutex_unlock(&s->lock);
    return rc == POOL_PENDING;
}

/* --------------------------------------------------------------- return */

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
    if (counted)
        pool_user_put_locked(s, c->user);
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

/* Lock held: a waiter for c, here or stolen from another server of the
 * hostgroup; or, when there is none, c goes idle on its worker (at the cold
 * end after a keep-alive ping). May drop and retake the lock. */
static struct pool_waiter *waiter_or_idle_locked(struct server *s, struct pool_conn *c,
                                                 bool after_ping)
{
    struct pool_waiter *w = pool_waiter_pop(s);
    if (!w && pool_others_wait(c->pool, s)) {
        /* Nobody waits here but someone of the hostgroup does elsewhere:
         * take them (one lock at a time), then look here once more. */
        pthread_mutex_unlock(&s->lock);
        w = pool_steal_waiter(c->pool, s);
        pthread_mutex_lock(&s->lock);
        if (!w)
            w = pool_waiter_pop(s);
    }
    if (w)
        return w;
    c->state = CONN_IDLE;
    if (after_ping)
        pool_clist_push_head(&s->idle[c->worker], c);
    else
        pool_clist_push(&s->idle[c->worker], c);
    __atomic_add_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Gives an idle connection to the head waiter, or keeps it idle here:
 * at the hot end of the list with a fresh idle time, or after a keep-alive
 * ping (after_ping) at the cold end with its old one. hold_us > 0 records a
 * lend that just ended; counted gives back its user's slot; both in the
 * same critical section. */
static void offer_held(struct pool_conn *c, uint64_t hold_us, bool counted, bool after_ping)
{
    struct server *s = c->server;
    uint64_t now = clock_now_ms();
    bool expired = c->expires && now >= c->expires;
    if (pool_server_offline(s) || expired || c->broken) {
        close_returned(c, hold_us, counted, now);
        return;
    }
    /* "No waiter, so idle here" is decided under the server lock, the same
     * lock under which a waiter that queues looks for idle connections on
     * other workers: one of the two always sees the other, so a connection
     * never sits idle while a request waits for it. */
    pthread_mutex_lock(&s->lock);
    record_return_locked(s, c, hold_us, counted, now);
    struct pool_waiter *w = waiter_or_idle_locked(s, c, after_ping);
    pthread_mutex_unlock(&s->lock);
    if (w) {
        c->state = CONN_MOVING;
        pool_give_to(c, w);
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
        hold = clock_now_us() - c->lent_at_us;
        if (hold == 0)
            hold = 1;
    }
    if (!reusable) {
        close_returned(c, hold, counted, clock_now_ms());
        return;
    }
    offer_held(c, hold, counted, false);
}
