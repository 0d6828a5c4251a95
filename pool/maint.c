/*
 * The pool's housekeeping, run by a 100 ms timer on every worker over the
 * connections that worker owns (so no connection is touched from two
 * threads):
 *
 *   - keep-alive: an idle connection unused for ping_interval_ms gets a
 *     COM_PING; a wrong or missing answer (within connect_timeout_ms)
 *     closes it, so a broken connection is never lent;
 *   - idle timeout: idle connections above min_idle close after
 *     idle_timeout_ms, coldest first;
 *   - maximum age: a connection past its (jittered) age closes when idle;
 *   - warm-up: an ONLINE server with fewer than min_idle idle connections
 *     gets new ones, no faster than warmup_rate per second across workers;
 *   - OFFLINE_*: idle connections of a server taken out of service close;
 *     for OFFLINE_HARD lent ones are shut down too, so their sessions get
 *     an error now rather than after their next statement, and running
 *     connects end, so their requests try another server now rather than
 *     after the connect timeout (a frozen server completes the TCP
 *     handshake in its kernel but never greets).
 *
 * COM_PING goes out as raw bytes on the socket, as the proxy does for every
 * command once a connection is established.
 */
#include "pool/pool_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static struct pool_worker *worker_of(struct pool_conn *c)
{
    return &c->pool->workers[c->worker];
}

static void ping_end(struct pool_conn *c)
{
    pool_clist_remove(&worker_of(c)->pinging, c);
    if (c->keepalive) {
        c->keepalive = false;
        __atomic_sub_fetch(&c->server->pinging, 1, __ATOMIC_RELAXED);
    }
}

static void ping_failed(struct pool_conn *c)
{
    struct pool_waiter *w = c->ping_waiter;
    c->ping_waiter = NULL;
    ping_end(c);
    if (w && !w->cancelled) {
        /* Test-on-borrow failed: the borrower gets a new connection. */
        pool_reconnect_for(c->pool, c->worker, c, w);
        return;
    }
    pool_waiter_free(w);
    pool_conn_close(c);
}

void pool_ping_start(struct pool_conn *c, struct pool_waiter *w)
{
    static const uint8_t com_ping[5] = {1, 0, 0, 0, 0x0e};
    c->state = CONN_PINGING;
    c->ping_waiter = w;
    c->ping_got = 0;
    c->ping_started_us = clock_now_us();
    c->last_ping = c->ping_started_us / 1000u;
    pool_clist_push(&worker_of(c)->pinging, c);
    c->keepalive = w == NULL;
    if (c->keepalive)
        __atomic_add_fetch(&c->server->pinging, 1, __ATOMIC_RELAXED);
    pool_conn_watch(c, UV_READABLE, NULL, NULL);
    ssize_t n = send(c->fd, com_ping, sizeof(com_ping), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n != (ssize_t)sizeof(com_ping))
        /* Failed from the loop, not here: pool_acquire() calls this for
         * test-on-borrow, and its callback must not run inside it. The
         * shut-down socket reads as end of file at once. */
        shutdown(c->fd, SHUT_RDWR);
}

void pool_ping_on_io(struct pool_conn *c, int status)
{
    if (status < 0) {
        ping_failed(c);
        return;
    }
    ssize_t n =
        recv(c->fd, c->ping_buf + c->ping_got, sizeof(c->ping_buf) - c->ping_got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        ping_failed(c);
        return;
    }
    c->ping_got += (size_t)n;
    if (c->ping_got < 4)
        return;
    size_t len =
        (size_t)c->ping_buf[0] | (size_t)c->ping_buf[1] << 8 | (size_t)c->ping_buf[2] << 16;
    if (len == 0 || len + 4 > sizeof(c->ping_buf)) {
        ping_failed(c);
        return;
    }
    if (c->ping_got < len + 4)
        return;
    /* Exactly one OK packet: anything else leaves the stream in doubt. */
    if (c->ping_got != len + 4 || c->ping_buf[4] != 0x00) {
        ping_failed(c);
        return;
    }
    __atomic_store_n(&c->server->latency_us, clock_now_us() - c->ping_started_us, __ATOMIC_RELAXED);
    struct pool_waiter *w = c->ping_waiter;
    c->ping_waiter = NULL;
    ping_end(c);
    if (w)
        pool_deliver(c->pool, c->worker, c, w);
    else
        pool_offer_after_ping(c);
}

static int total_idle(const struct pool *p, const struct server *s)
{
    int n = 0;
    for (int i = 0; i < p->nworkers; i++)
        n += __atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED);
    return n;
}

static void idle_remove(struct server *s, int worker, struct pool_conn *c)
{
    pool_clist_remove(&s->idle[worker], c);
    __atomic_sub_fetch(&s->idle_count[worker], 1, __ATOMIC_RELAXED);
}

/* Idle connections of s on this worker, coldest first. */
static void sweep_idle(struct pool *p, struct server *s, int worker, uint64_t now)
{
    int min_idle = pool_setting(&p->settings.min_idle);
    int idle_timeout = pool_setting(&p->settings.idle_timeout_ms);
    int ping_interval = pool_setting(&p->settings.ping_interval_ms);
    int idle = total_idle(p, s);
    for (struct pool_conn *c = s->idle[worker].head; c;) {
        struct pool_conn *next = c->next;
        uint64_t since = c->idle_since > c->last_ping ? c->idle_since : c->last_ping;
        if (c->expires && now >= c->expires) {
            idle_remove(s, worker, c);
            pool_conn_close(c);
            idle--;
        } else if (idle_timeout > 0 && now - c->idle_since >= (uint64_t)idle_timeout &&
                   idle > min_idle) {
            idle_remove(s, worker, c);
            pool_conn_close(c);
            idle--;
        } else if (ping_interval > 0 && now - since >= (uint64_t)ping_interval) {
            idle_remove(s, worker, c);
            pool_ping_start(c, NULL);
        }
        c = next;
    }
}

static void close_idle(struct server *s, int worker)
{
    while (s->idle[worker].head) {
        struct pool_conn *c = s->idle[worker].head;
        idle_remove(s, worker, c);
        pool_conn_close(c);
    }
}

/* Opens at most one warm-up connection to s from this worker per tick; the
 * server's next_warm, under its lock, spaces them across all workers. */
static void warm_up(struct pool *p, struct server *s, int worker, uint64_t now, bool have_user)
{
    int min_idle = pool_setting(&p->settings.min_idle);
    if (min_idle <= 0 || !have_user || !pool_server_usable(s, now))
        return;
    int rate = pool_setting(&p->settings.warmup_rate);
    uint64_t interval = rate > 0 ? 1000u / (uint64_t)rate : 1000u;
    if (interval == 0)
        interval = 1;
    bool go = false;
    pthread_mutex_lock(&s->lock);
    int cap = __atomic_load_n(&s->max_connections, __ATOMIC_RELAXED);
    /* A connection out for its keep-alive ping is still an idle one. */
    int idle = total_idle(p, s) + __atomic_load_n(&s->pinging, __ATOMIC_RELAXED);
    if (idle + s->warming < min_idle && s->open < cap && s->waiting == 0 && now >= s->next_warm) {
        s->open++;
        s->warming++;
        s->next_warm = now + interval + pool_random(&p->workers[worker], interval / 2 + 1);
        go = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (go)
        pool_start_connect(p, worker, s, NULL);
}

static void sample_peak(struct server *s, uint64_t now)
{
    int lent = __atomic_load_n(&s->lent, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->lock);
    struct pool_window *w = pool_window_now(s, now);
    if (lent > w->peak_lent)
        w->peak_lent = lent;
    pthread_mutex_unlock(&s->lock);
}

/* Connects to OFFLINE_HARD servers end now; their requests move on. */
static void abort_connects(struct pool_worker *pw)
{
    for (struct pool_conn *c = pw->connecting.head; c;) {
        struct pool_conn *next = c->next;
        if (__atomic_load_n(&c->server->status, __ATOMIC_RELAXED) == POOL_SERVER_OFFLINE_HARD) {
            char why[320];
            snprintf(why, sizeof(why), "backend %s: taken out of service while connecting",
                     c->server->name);
            pool_connect_abort(c, why);
        }
        c = next;
    }
}

void pool_tick_cb(uv_timer_t *t)
{
    struct pool *p = t->data;
    struct pool_worker *pw = (struct pool_worker *)((char *)t - offsetof(struct pool_worker, tick));
    int worker = (int)(pw - p->workers);
    uint64_t now = clock_now_ms();
    uint64_t now_us = clock_now_us();

    int timeout = pool_setting(&p->settings.connect_timeout_ms);
    for (struct pool_conn *c = pw->pinging.head; c;) {
        struct pool_conn *next = c->next;
        if (now_us - c->ping_started_us > (uint64_t)(timeout > 0 ? timeout : 3000) * 1000u)
            ping_failed(c);
        c = next;
    }
    for (struct pool_conn *c = pw->lent.head; c; c = c->next) {
        int status = __atomic_load_n(&c->server->status, __ATOMIC_RELAXED);
        if (status == POOL_SERVER_OFFLINE_HARD && !c->broken) {
            c->broken = true;
            shutdown(c->fd, SHUT_RDWR);
        }
    }
    abort_connects(pw);

    pthread_mutex_lock(&p->cred_lock);
    bool have_user = p->settings.warmup_user[0] != '\0';
    pthread_mutex_unlock(&p->cred_lock);
    size_t n = __atomic_load_n(&p->n_servers, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (__atomic_load_n(&s->status, __ATOMIC_RELAXED) != POOL_SERVER_ONLINE) {
            close_idle(s, worker);
            continue;
        }
        sweep_idle(p, s, worker, now);
        warm_up(p, s, worker, now, have_user);
        sample_peak(s, now);
    }
    pool_idle_snapshot(p, pw, worker);
}
