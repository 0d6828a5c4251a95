/*
 * The TCP transport of client sessions (struct session_io): accepts a
 * connection from a worker's listener, reads into the session's input
 * buffer, writes with uv_try_write and falls back to uv_write for the rest.
 * Everything about bytes and their meaning stays in session.c; this file
 * only moves them, so the session state machine runs without a socket in
 * the fuzz target (tests/fuzz/fuzz_session.c gives it a memory transport).
 */
#include "common/common.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <string.h>

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct session *s = h->data;
    uint8_t *base;
    size_t len;
    (void)suggested;
    if (session_input_space(s, &base, &len) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    *buf = uv_buf_init((char *)base, (unsigned)len);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread != 0)
        session_input(stream->data, nread);
}

static void on_write_done(uv_write_t *req, int status)
{
    session_write_done(req->data, status);
}

static void on_closed(uv_handle_t *h)
{
    session_io_closed(h->data);
}

static int tcp_try_write(struct session *s, const uint8_t *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    return uv_try_write((uv_stream_t *)&s->tcp, &buf, 1);
}

static int tcp_write(struct session *s, const uint8_t *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    s->wreq.data = s;
    return uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &buf, 1, on_write_done);
}

static int tcp_read(struct session *s, bool on)
{
    if (!on)
        return uv_read_stop((uv_stream_t *)&s->tcp);
    return uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

static void tcp_close(struct session *s)
{
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

static const struct session_io tcp_io = {
    .try_write = tcp_try_write,
    .write = tcp_write,
    .read = tcp_read,
    .close = tcp_close,
};

/* "ip:port" of the peer into s->peer and the address alone into s->peer_ip. */
static void name_peer(struct session *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[48] = "";
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        snprintf(s->peer, sizeof(s->peer), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(s->peer, sizeof(s->peer), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    }
    snprintf(s->peer_ip, sizeof(s->peer_ip), "%s", ip);
}

void session_accept(struct worker *w, uv_stream_t *listener)
{
    struct session *s = session_new(w, &tcp_io);
    if (!s)
        return;
    uv_tcp_init(&w->loop, &s->tcp);
    s->tcp.data = s;
    if (uv_accept(listener, (uv_stream_t *)&s->tcp) != 0) {
        session_close(s);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    name_peer(s);
    session_start(s);
}
