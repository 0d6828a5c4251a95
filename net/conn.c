/*
 * One TCP connection on a libuv loop, for any owner (see net/net.h for the
 * contract). Three listeners used to carry a copy each of this; now each
 * keeps only what its bytes mean.
 *
 * Handles: the uv_tcp_t always, the uv_timer_t once net_conn_timer first
 * runs. A close counts the open ones in pending_closes and calls the owner
 * back from the last close callback, so the owner never sees a half-closed
 * connection and frees it from exactly one place.
 *
 * Reading: into the owner's room (ops->room) or into c->in, which grows by
 * doubling up to the owner's bound; at the bound the read callback gets
 * UV_ENOBUFS from libuv and reading stops rather than spin.
 *
 * Ending (net_conn_end): write in flight -> FIN (uv_shutdown) -> input read
 * and dropped -> the peer's EOF (or a failed write or shutdown) -> close.
 */
#include "net/net.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room offered per read, and the first size of c->in. */
#define READ_STEP 16384u
/* The least input buffer an ending connection drops input into. */
#define DROP_MIN 4096u

static void listener_check_done(struct net_listener *l)
{
    if (l->tcp_closed && !l->conns)
        l->closed(l); /* may free l */
}

static void on_handle_closed(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    if (--c->pending_closes > 0)
        return;
    free(c->in.data);
    c->in.data = NULL;
    c->in.len = c->in.cap = 0;
    struct net_listener *l = c->listener;
    if (l) {
        if (c->lprev)
            c->lprev->lnext = c->lnext;
        else
            l->conns = c->lnext;
        if (c->lnext)
            c->lnext->lprev = c->lprev;
        l->nconns--;
    }
    c->ops->closed(c); /* may free c */
    if (l)
        listener_check_done(l);
}

void net_conn_close(struct net_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->pending_closes = c->timer_on ? 2 : 1;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    if (c->timer_on)
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void net_conn_init(struct net_conn *c, uv_loop_t *loop, const struct net_ops *ops, void *data)
{
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->data = data;
    snprintf(c->peer, sizeof(c->peer), "?");
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
}

/* "ip:port" of the peer into c->peer and the address alone into c->peer_ip. */
static void name_peer(struct net_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[48] = "";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    }
    snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
}

int net_conn_accept(struct net_conn *c, uv_stream_t *listener)
{
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc != 0)
        return rc;
    uv_tcp_nodelay(&c->tcp, 1);
    name_peer(c);
    return 0;
}

/* ---------------------------------------------------------------- reading */

/* Makes room at the end of c->in: up to READ_STEP bytes, never past
 * c->in_max. Leaves no room at the bound or when memory is out. */
static void grow_in(struct net_conn *c)
{
    size_t want = c->in.len + READ_STEP;
    if (want > c->in_max)
        want = c->in_max;
    if (c->in.cap >= want)
        return;
    size_t cap = c->in.cap ? c->in.cap : READ_STEP;
    while (cap < want)
        cap *= 2;
    if (cap > c->in_max)
        cap = c->in_max;
    uint8_t *p = realloc(c->in.data, cap);
    if (!p)
        return;
    c->in.data = p;
    c->in.cap = cap;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct net_conn *c = h->data;
    uint8_t *base = NULL;
    size_t len = 0;
    (void)suggested;
    if (c->ops->room && !c->ending) {
        if (c->ops->room(c, &base, &len) != 0)
            len = 0;
    } else {
        if (c->ending) {
            c->in.len = 0; /* input is dropped: reuse the buffer */
            if (c->in_max < DROP_MIN)
                c->in_max = DROP_MIN;
        }
        grow_in(c);
        base = c->in.data ? c->in.data + c->in.len : NULL;
        len = c->in.cap - c->in.len;
    }
    *buf = uv_buf_init((char *)base, base ? (unsigned)len : 0);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct net_conn *c = st->data;
    (void)buf;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0)
        uv_read_stop(st); /* libuv would report UV_ENOBUFS again at once */
    if (c->ending) {
        if (nread > 0)
            return; /* dropped */
        c->peer_eof = true;
        if (!c->writing)
            net_conn_close(c); /* our FIN is out too */
        return;
    }
    if (nread > 0 && !c->ops->room)
        c->in.len += (size_t)nread;
    c->ops->data(c, nread);
}

int net_conn_read_start(struct net_conn *c, size_t in_max)
{
    if (!c->ops->room)
        c->in_max = in_max;
    return uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int net_conn_read_stop(struct net_conn *c)
{
    return uv_read_stop((uv_stream_t *)&c->tcp);
}

void net_conn_consume(struct net_conn *c, size_t n)
{
    assert(n <= c->in.len);
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
}

/* ---------------------------------------------------------------- writing */

static void on_fin_sent(uv_shutdown_t *req, int status)
{
    /* Otherwise wait for the peer's EOF (or the owner's timer). */
    if (status < 0)
        net_conn_close(req->data);
}

static void send_fin(struct net_conn *c)
{
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_fin_sent) != 0)
        net_conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct net_conn *c = req->data;
    c->writing = false;
    if (c->ops->written)
        c->ops->written(c, status);
    if (!c->ending || c->closing)
        return;
    if (status < 0 || c->peer_eof)
        net_conn_close(c);
    else
        send_fin(c);
}

int net_conn_try_write(struct net_conn *c, const uint8_t *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    return uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
}

int net_conn_write(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs)
{
    assert(!c->writing);
    if (c->closing)
        return UV_ECANCELED;
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nbufs, on_written);
    if (rc == 0)
        c->writing = true;
    return rc;
}

void net_conn_end(struct net_conn *c)
{
    if (c->ending || c->closing)
        return;
    c->ending = true;
    c->in.len = 0;
    /* Input must be read to see the peer's EOF; an error here shows as one
     * in the read callback or the timer ends the wait. */
    (void)uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (!c->writing)
        send_fin(c);
}

/* ------------------------------------------------------------------ timer */

static void on_timer(uv_timer_t *t)
{
    struct net_conn *c = t->data;
    if (c->ops->timeout)
        c->ops->timeout(c);
}

void net_conn_timer(struct net_conn *c, uint64_t ms)
{
    if (c->closing || (!c->timer_on && ms == 0))
        return;
    if (!c->timer_on) {
        uv_timer_init(c->tcp.loop, &c->timer);
        c->timer.data = c;
        c->timer_on = true;
    }
    if (ms)
        uv_timer_start(&c->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

/* -------------------------------------------------------------- listening */

static void on_connection(uv_stream_t *server, int status)
{
    struct net_listener *l = server->data;
    if (status == 0 && !l->closing)
        l->accept(l);
}

int net_listener_open(struct net_listener *l, uv_loop_t *loop, const char *host, int port,
                      int backlog)
{
    struct sockaddr_storage ss;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, backlog, on_connection);
    return rc;
}

int net_listener_accept(struct net_listener *l, struct net_conn *c, const struct net_ops *ops,
                        void *data)
{
    net_conn_init(c, l->tcp.loop, ops, data);
    c->listener = l;
    c->lnext = l->conns;
    if (l->conns)
        l->conns->lprev = c;
    l->conns = c;
    l->nconns++;
    return net_conn_accept(c, (uv_stream_t *)&l->tcp);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct net_listener *l = h->data;
    l->tcp_closed = true;
    listener_check_done(l);
}

void net_listener_close(struct net_listener *l)
{
    if (l->closing)
        return;
    l->closing = true;
    for (struct net_conn *c = l->conns; c; c = c->lnext)
        net_conn_close(c); /* unlinked from its close callback, later */
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}
