/*
 * Prometheus metrics over HTTP (admin-restapi_enabled, admin-restapi_port):
 * the serving half; the exposition is rendered by ops/metrics_render.c.
 *
 * A small HTTP server on the main thread's loop, on the host of the first
 * admin-mysql_ifaces entry: one request per connection, as HTTP/1.0 clients
 * (and Prometheus, which opens a new connection when the server closes it)
 * expect. Sockets, buffers and closing are the connection layer's
 * (net/net.h). A connection:
 *
 *   reading    bytes of the request head arrive in the layer's buffer,
 *              bounded at 8 KiB, until an empty line; a head that does not
 *              fit gets 431, one that does not parse gets 400.
 *   answered   the whole response (status, headers, body) is queued with one
 *              write and the layer ends the connection (net_conn_end): our
 *              FIN after the response, then input is dropped until the
 *              client's EOF, so no RST destroys the response unread.
 *   closed     the layer's closed callback unlinks and frees it.
 *
 * GET (or HEAD) /metrics renders the exposition at once, so nothing is
 * shared with a later turn of the loop; other paths get 404, other methods
 * 405. Every connection has one 10 s deadline from accept to close (the
 * layer's timer), so a client that sends slowly or reads nothing cannot hold
 * a slot; at most MAX_CONNS are open at once and further ones are closed on
 * accept.
 */
#include "common/common.h"
#include "ops/ops_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAD_MAX 8192          /* bytes of request line and headers */
#define CONN_DEADLINE_MS 10000 /* from accept to close */
#define MAX_CONNS 64           /* scrapers are few; more is a flood */

struct ops_metrics {
    struct net_listener lst; /* the port and its connections */
    struct proxy *proxy;
    double start_time; /* unix time of ops_metrics_listen, seconds */
};

struct http_conn {
    struct ops_metrics *m;
    struct net_conn net;   /* socket, request head (net.in), deadline */
    char status_head[256]; /* status line and headers of the response */
    struct codec_buf body;
};

static void listener_closed(struct net_listener *lst)
{
    free(lst->data);
}

static void conn_closed(struct net_conn *net)
{
    struct http_conn *c = net->data;
    codec_buf_free(&c->body);
    free(c);
}

static void on_deadline(struct net_conn *net)
{
    net_conn_close(net);
}

/* Queues the response and ends the connection (closed once it is written
 * and the client has closed its side, or at the deadline). head_only drops
 * the body (HEAD). */
static void respond(struct http_conn *c, const char *status, const char *ctype, bool head_only,
                    const char *extra_header)
{
    snprintf(
        c->status_head, sizeof(c->status_head),
        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
        status, ctype, c->body.len, extra_header ? extra_header : "");
    uv_buf_t bufs[2] = {
        uv_buf_init(c->status_head, (unsigned)strlen(c->status_head)),
        uv_buf_init((char *)c->body.data, (unsigned)c->body.len),
    };
    unsigned nbufs = head_only || c->body.len == 0 ? 1 : 2;
    if (net_conn_write(&c->net, bufs, nbufs) != 0) {
        net_conn_close(&c->net);
        return;
    }
    net_conn_end(&c->net);
}

static void respond_text(struct http_conn *c, const char *status, const char *text,
                         const char *extra_header)
{
    codec_buf_reset(&c->body);
    if (codec_buf_append(&c->body, text, strlen(text)) != 0) {
        net_conn_close(&c->net);
        return;
    }
    respond(c, status, "text/plain; charset=utf-8", false, extra_header);
}

static bool is_tchar(char ch)
{
    /* RFC 9110 token characters, which a method is made of. */
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Handles the complete head of hlen bytes (the request line, then header
 * lines, each ending in LF or CRLF, then an empty line). */
static void handle_request(struct http_conn *c, size_t hlen)
{
    char *req = (char *)c->net.in.data;
    char *line = req;
    char *eol = memchr(line, '\n', hlen);
    size_t llen = (size_t)(eol - line);
    if (llen > 0 && line[llen - 1] == '\r')
        llen--;
    /* request-line = method SP request-target SP HTTP-version */
    char *sp1 = memchr(line, ' ', llen);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1) {
        respond_text(c, "400 Bad Request", "Bad Request\n", NULL);
        return;
    }
    size_t mlen = (size_t)(sp1 - line), tlen = (size_t)(sp2 - sp1 - 1);
    size_t vlen = llen - (size_t)(sp2 + 1 - line);
    const char *target = sp1 + 1, *version = sp2 + 1;
    bool ok = target[0] == '/' && vlen == 8 && memcmp(version, "HTTP/1.", 7) == 0 &&
              (version[7] == '0' || version[7] == '1');
    for (size_t i = 0; ok && i < mlen; i++)
        ok = is_tchar(line[i]);
    for (size_t i = 0; ok && i < tlen; i++)
        ok = (unsigned char)target[i] > 0x20 && (unsigned char)target[i] < 0x7f;
    /* Header lines must be name ':' value; folded lines are obsolete. */
    for (char *h = eol + 1; ok && h < req + hlen;) {
        char *e = memchr(h, '\n', (size_t)(req + hlen - h));
        size_t n = (size_t)(e - h);
        if (n > 0 && h[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        char *colon = memchr(h, ':', n);
        ok = colon && colon != h && h[0] != ' ' && h[0] != '\t';
        h = e + 1;
    }
    if (!ok) {
        respond_text(c, "400 Bad Request", "Bad Request\n", NULL);
        return;
    }
    bool get = mlen == 3 && memcmp(line, "GET", 3) == 0;
    bool head = mlen == 4 && memcmp(line, "HEAD", 4) == 0;
    if (!get && !head) {
        respond_text(c, "405 Method Not Allowed", "Method Not Allowed\n", "Allow: GET, HEAD\r\n");
        return;
    }
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    if (plen != 8 || memcmp(target, "/metrics", 8) != 0) {
        respond_text(c, "404 Not Found", "Not Found\n", NULL);
        return;
    }
    codec_buf_reset(&c->body);
    if (ops_metrics_render(c->m->proxy, c->m->start_time, &c->body) != 0) {
        log_warn("metrics: out of memory rendering a scrape");
        respond_text(c, "500 Internal Server Error", "Internal Server Error\n", NULL);
        return;
    }
    respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", head, NULL);
}

/* Length of the head up to and including its empty line, or 0 if the head
 * is not complete yet. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Input of a connection still reading its request head (the layer drops
 * what comes after: see net_conn_end). */
static void on_data(struct net_conn *net, ssize_t nread)
{
    struct http_conn *c = net->data;
    if (nread < 0) {
        net_conn_close(net); /* EOF or error before a whole head: nobody to answer */
        return;
    }
    const char *head = (const char *)net->in.data;
    size_t before = net->in.len - (size_t)nread;
    size_t scan_from = before > 2 ? before - 2 : 0; /* the terminator may straddle reads */
    size_t end = head_end(head + scan_from, net->in.len - scan_from);
    if (end) {
        handle_request(c, scan_from + end);
        return;
    }
    if (net->in.len == HEAD_MAX)
        respond_text(c, "431 Request Header Fields Too Large", "Request Header Fields Too Large\n",
                     NULL);
}

static const struct net_ops http_ops = {
    .data = on_data,
    .timeout = on_deadline,
    .closed = conn_closed,
};

static void on_accept(struct net_listener *lst)
{
    struct ops_metrics *m = lst->data;
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->m = m;
    codec_buf_init(&c->body);
    if (net_listener_accept(lst, &c->net, &http_ops, c) != 0 || lst->nconns > MAX_CONNS) {
        net_conn_close(&c->net);
        return;
    }
    net_conn_timer(&c->net, CONN_DEADLINE_MS);
    if (net_conn_read_start(&c->net, HEAD_MAX) != 0)
        net_conn_close(&c->net);
}

/* ---------------------------------------------------------------- public */

struct ops_metrics *ops_metrics_listen(uv_loop_t *loop, struct proxy *p,
                                       const struct admin_config *cfg, char *errbuf, size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (!cfg->restapi_enabled)
        return NULL;
    char host[256];
    int ignored_port;
    if (ops_admin_iface(cfg, host, sizeof(host), &ignored_port, errbuf, errlen) != 0)
        return NULL;
    int port = cfg->restapi_port;
    struct ops_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    m->proxy = p;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    m->lst.accept = on_accept;
    m->lst.closed = listener_closed;
    m->lst.data = m;
    int rc = net_listener_open(&m->lst, loop, host, port, 32);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (metrics, admin-restapi_port): %s", host,
                 port, uv_strerror(rc));
        net_listener_close(&m->lst); /* listener_closed frees m, on a later turn */
        return NULL;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    return m;
}

void ops_metrics_close(struct ops_metrics *m)
{
    if (m)
        net_listener_close(&m->lst);
}
