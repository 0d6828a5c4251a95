/*
 * The TCP transport of client sessions (struct session_io): an adapter from
 * the session's transport calls to the connection layer (net/net.h). The
 * layer reads straight into the session's input buffer (session_input_space
 * is its room, so the limits.c budget counts every byte), writes with
 * uv_try_write and falls back to a background write for the rest.
 * Everything about bytes and their meaning stays in session.c; this file
 * only moves them, so the session state machine runs without a socket in
 * the fuzz target (tests/fuzz/fuzz_session.c gives it a memory transport).
 * The session keeps its own timer (session.c, backend.c), not the layer's.
 */
#include "common/common.h"
#include "proxy/proxy_int.h"

#include <stdio.h>

static int room(struct net_conn *c, uint8_t **base, size_t *len)
{
    return session_input_space(c->data, base, len);
}

static void on_data(struct net_conn *c, ssize_t nread)
{
    session_input(c->data, nread);
}

static void on_written(struct net_conn *c, int status)
{
    session_write_done(c->data, status);
}

static void on_closed(struct net_conn *c)
{
    session_io_closed(c->data);
}

static const struct net_ops tcp_ops = {
    .room = room,
    .data = on_data,
    .written = on_written,
    .closed = on_closed,
};

static int tcp_try_write(struct session *s, const uint8_t *data, size_t len)
{
    return net_conn_try_write(&s->tcp, data, len);
}

static int tcp_write(struct session *s, const uint8_t *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    return net_conn_write(&s->tcp, &buf, 1);
}

static int tcp_read(struct session *s, bool on)
{
    return on ? net_conn_read_start(&s->tcp, 0) : net_conn_read_stop(&s->tcp);
}

static void tcp_close(struct session *s)
{
    net_conn_close(&s->tcp);
}

static const struct session_io tcp_io = {
    .try_write = tcp_try_write,
    .write = tcp_write,
    .read = tcp_read,
    .close = tcp_close,
};

void session_accept(struct worker *w, uv_stream_t *listener)
{
    struct session *s = session_new(w, &tcp_io);
    if (!s)
        return;
    net_conn_init(&s->tcp, &w->loop, &tcp_ops, s);
    if (net_conn_accept(&s->tcp, listener) != 0) {
        session_close(s);
        return;
    }
    snprintf(s->peer, sizeof(s->peer), "%s", s->tcp.peer);
    snprintf(s->peer_ip, sizeof(s->peer_ip), "%s", s->tcp.peer_ip);
    session_start(s);
}
