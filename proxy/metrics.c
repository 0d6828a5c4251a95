/*
 * Prometheus metrics over HTTP (admin-restapi_enabled, admin-restapi_port).
 *
 * A small HTTP server on the main thread's loop, on the host of the first
 * admin-mysql_ifaces entry: one request per connection, as HTTP/1.0 clients
 * (and Prometheus, which opens a new connection when the server closes it)
 * expect. States of a connection:
 *
 *   READING  bytes of the request head arrive in a fixed 8 KiB buffer until
 *            an empty line; a head that does not fit gets 431, one that
 *            does not parse gets 400.
 *   WRITING  the whole response (status, headers, body) is queued with one
 *            uv_write; anything more the client sends is read and dropped.
 *   DRAINING the response is written and our FIN sent (uv_shutdown); input
 *            is still dropped until the client's EOF. Closing at once
 *            instead would make the kernel answer unread input (the rest of
 *            an oversized head, say) with a RST, which can destroy the
 *            response before the client has read it.
 *   CLOSING  the socket and the timer are closing; freed from the last close
 *            callback.
 *
 * GET (or HEAD) /metrics renders the exposition at once, so nothing is
 * shared with a later turn of the loop; other paths get 404, other methods
 * 405. Every connection has one 10 s deadline from accept to close, so a
 * client that sends slowly or reads nothing cannot hold a slot; at most
 * MAX_CONNS are open at once and further ones are closed on accept.
 *
 * What a scrape reads: the pool's per-server figures (pool_server_stats, as
 * the admin stats tables do), the workers' session counters (relaxed atomic
 * loads, see stats/stats.h) and the workers' digest
 * statistics merged without reset. None of it blocks a worker for longer than
 * the copy of one worker's digest table.
 */
#include "common/common.h"
#include "monitor/monitor.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

#define HEAD_MAX 8192          /* bytes of request line and headers */
#define CONN_DEADLINE_MS 10000 /* from accept to close */
#define MAX_CONNS 64           /* scrapers are few; more is a flood */

enum conn_state {
    CS_READING,  /* waiting for the end of the request head */
    CS_WRITING,  /* response queued; input dropped */
    CS_DRAINING, /* response written, FIN sent; input dropped until EOF */
    CS_CLOSING,  /* handles closing; freed from the last close callback */
};

struct proxy_metrics {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    struct proxy *proxy;
    struct http_conn *conns;
    int nconns;
    double start_time; /* unix time of proxy_metrics_listen, seconds */
    bool closed;
    bool tcp_closed;
};

struct http_conn {
    struct proxy_metrics *m;
    uv_tcp_t tcp;
    uv_timer_t timer;
    enum conn_state state;
    int pending_closes;
    size_t len;
    char head[HEAD_MAX];
    char status_head[256]; /* status line and headers of the response */
    struct codec_buf body;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    bool peer_eof; /* the client has closed its side */
    struct http_conn *prev, *next;
};

/* Names of the command bytes 0..31 (MySQL's enum_server_command); the last
 * counter slot takes every other byte. */
static const char *const command_names[STATS_NCOMMANDS] = {
    "COM_SLEEP",
    "COM_QUIT",
    "COM_INIT_DB",
    "COM_QUERY",
    "COM_FIELD_LIST",
    "COM_CREATE_DB",
    "COM_DROP_DB",
    "COM_REFRESH",
    "COM_SHUTDOWN",
    "COM_STATISTICS",
    "COM_PROCESS_INFO",
    "COM_CONNECT",
    "COM_PROCESS_KILL",
    "COM_DEBUG",
    "COM_PING",
    "COM_TIME",
    "COM_DELAYED_INSERT",
    "COM_CHANGE_USER",
    "COM_BINLOG_DUMP",
    "COM_TABLE_DUMP",
    "COM_CONNECT_OUT",
    "COM_REGISTER_SLAVE",
    "COM_STMT_PREPARE",
    "COM_STMT_EXECUTE",
    "COM_STMT_SEND_LONG_DATA",
    "COM_STMT_CLOSE",
    "COM_STMT_RESET",
    "COM_SET_OPTION",
    "COM_STMT_FETCH",
    "COM_DAEMON",
    "COM_BINLOG_DUMP_GTID",
    "COM_RESET_CONNECTION",
    "other",
};

void proxy_qcache_stats(struct proxy *p, struct qcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].qcache)
            qcache_stats_add(p->workers[i].qcache, out);
}

/* ------------------------------------------------------------ rendering */

/* Rendering appends with printf-style calls and checks the buffer once at
 * the end: an allocation failure leaves `failed` set and the scrape gets 500. */
struct out {
    struct codec_buf *b;
    bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        o->failed = codec_buf_append(o->b, small, (size_t)n) != 0;
        return;
    }
    if (codec_buf_reserve(o->b, (size_t)n + 1) != 0) {
        o->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)o->b->data + o->b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->b->len += (size_t)n;
}

/* Appends s as a label value: backslash, double quote and newline escaped
 * as the text format requires. */
static void put_label_value(struct out *o, const char *s)
{
    for (; *s && !o->failed; s++) {
        if (*s == '\\')
            put(o, "\\\\");
        else if (*s == '"')
            put(o, "\\\"");
        else if (*s == '\n')
            put(o, "\\n");
        else
            o->failed = codec_buf_append(o->b, s, 1) != 0;
    }
}

static void put_family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One per-server sample: name{hostgroup="..",server=".."} value. */
static void put_server_sample(struct out *o, const char *name, const struct pool_server_stats *st,
                              uint64_t value)
{
    put(o, "%s{hostgroup=\"%d\",server=\"", name, st->hostgroup);
    put_label_value(o, st->name);
    put(o, "\"} %" PRIu64 "\n", value);
}

static void put_server_seconds(struct out *o, const char *name, const struct pool_server_stats *st,
                               uint64_t us)
{
    put(o, "%s{hostgroup=\"%d\",server=\"", name, st->hostgroup);
    put_label_value(o, st->name);
    put(o, "\"} %.6f\n", (double)us / 1e6);
}

static uint64_t nonneg(int v)
{
    return v > 0 ? (uint64_t)v : 0;
}

/* One series per state and server, 1 for the state it is in (a Prometheus
 * state set): the monitor's verdict when it has one (SHUNNED for ping or
 * lag), else the pool's (SHUNNED after connect errors, OFFLINE_* as
 * configured), as stats_mysql_connection_pool shows it. */
static void render_status(struct out *o, struct proxy *p, const struct pool_server_stats *st,
                          size_t n)
{
    static const char *const names[] = {"ONLINE", "SHUNNED", "OFFLINE_SOFT", "OFFLINE_HARD"};
    put_family(o, "sluice_pool_server_status", "gauge",
               "1 for the state the server is in (ONLINE, SHUNNED, OFFLINE_SOFT, OFFLINE_HARD).");
    for (size_t i = 0; i < n; i++) {
        const char *now = names[st[i].status <= POOL_SERVER_OFFLINE_HARD ? st[i].status : 0];
        if (p->monitor) {
            char host[sizeof(st[i].name)];
            snprintf(host, sizeof(host), "%s", st[i].name);
            char *colon = strrchr(host, ':');
            if (colon) {
                *colon = '\0';
                const char *m =
                    monitor_server_status(p->monitor, st[i].hostgroup, host, atoi(colon + 1));
                if (m && strcmp(m, "ONLINE") != 0)
                    now = m;
            }
        }
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            put(o, "sluice_pool_server_status{hostgroup=\"%d\",server=\"", st[i].hostgroup);
            put_label_value(o, st[i].name);
            put(o, "\",status=\"%s\"} %d\n", names[k], strcmp(names[k], now) == 0);
        }
    }
}

static void render_pool(struct out *o, struct proxy *p)
{
    struct pool *pool = proxy_pool(p);
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"sluice_pool_connections_used", "gauge",
         "Backend connections lent to a session or still connecting."},
        {"sluice_pool_connections_free", "gauge", "Idle backend connections kept in the pool."},
        {"sluice_pool_connections_max", "gauge", "Cap on backend connections (max_connections)."},
        {"sluice_pool_queue_length", "gauge", "Requests waiting for a connection to the server."},
        {"sluice_pool_connections_created_total", "counter",
         "Backend connections opened successfully."},
        {"sluice_pool_connection_errors_total", "counter",
         "Backend connection attempts that failed."},
        {"sluice_pool_connections_max_used", "gauge",
         "Highest number of backend connections open at once."},
        {"sluice_pool_exhausted_total", "counter",
         "Borrows that found the server at its cap and had to queue."},
        {"sluice_pool_fail_fast_total", "counter",
         "Borrows refused at once because the queue was too long or too slow."},
        {"sluice_pool_queue_wait_p50_seconds", "gauge",
         "Median queue wait of the borrows that queued in the last minute."},
        {"sluice_pool_queue_wait_p99_seconds", "gauge",
         "99th percentile queue wait of the borrows that queued in the last minute."},
        {"sluice_pool_connections_created_last_minute", "gauge",
         "Backend connections opened in the last minute."},
        {"sluice_pool_connections_suggested", "gauge",
         "Connections the last minute's load needs (Little's law plus 3 sqrt headroom)."},
    };
    size_t n = pool ? pool_server_count(pool) : 0;
    struct pool_server_stats *st = n ? calloc(n, sizeof(*st)) : NULL;
    if (n && !st) {
        o->failed = true;
        return;
    }
    /* One snapshot per server, so the families agree with each other. */
    for (size_t i = 0; i < n; i++)
        pool_server_stats(pool, i, &st[i]);
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        put_family(o, fams[f].name, fams[f].type, fams[f].help);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = 0;
            switch (f) {
            case 0:
                /* idle is read outside the server's lock: never show less than 0. */
                v = nonneg(st[i].open - st[i].idle);
                break;
            case 1:
                v = nonneg(st[i].idle);
                break;
            case 2:
                v = nonneg(st[i].max_connections);
                break;
            case 3:
                v = nonneg(st[i].waiting);
                break;
            case 4:
                v = st[i].created_ok;
                break;
            case 5:
                v = st[i].created_err;
                break;
            case 6:
                v = nonneg(st[i].max_used);
                break;
            case 7:
                v = st[i].exhausted;
                break;
            case 8:
                v = st[i].fail_fast;
                break;
            case 9:
                put_server_seconds(o, fams[f].name, &st[i], st[i].wait_p50_us);
                continue;
            case 10:
                put_server_seconds(o, fams[f].name, &st[i], st[i].wait_p99_us);
                continue;
            case 11:
                v = st[i].created_last_min;
                break;
            default:
                v = nonneg(st[i].suggested);
                break;
            }
            put_server_sample(o, fams[f].name, &st[i], v);
        }
    }
    render_status(o, p, st, n);
    put_family(o, "sluice_pool_queue_wait_seconds", "histogram",
               "Time borrows waited in the queue for a connection, since start.");
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= POOL_WAIT_LE_COUNT; b++) {
            cum += st[i].wait_buckets[b];
            put(o, "sluice_pool_queue_wait_seconds_bucket{hostgroup=\"%d\",server=\"",
                st[i].hostgroup);
            put_label_value(o, st[i].name);
            if (b < POOL_WAIT_LE_COUNT)
                put(o, "\",le=\"%g\"} %" PRIu64 "\n", pool_wait_le[b], cum);
            else
                put(o, "\",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        put(o, "sluice_pool_queue_wait_seconds_sum{hostgroup=\"%d\",server=\"", st[i].hostgroup);
        put_label_value(o, st[i].name);
        put(o, "\"} %.6f\n", (double)st[i].wait_sum_us / 1e6);
        put(o, "sluice_pool_queue_wait_seconds_count{hostgroup=\"%d\",server=\"", st[i].hostgroup);
        put_label_value(o, st[i].name);
        put(o, "\"} %" PRIu64 "\n", cum);
    }
    free(st);
}

static void render_sessions(struct out *o, struct proxy *p)
{
    struct stats_counters c;
    stats_counters_sum(p->stats, &c);
    put_family(o, "sluice_client_connections_accepted_total", "counter",
               "Client connections accepted.");
    put(o, "sluice_client_connections_accepted_total %" PRIu64 "\n", c.clients_accepted);
    put_family(o, "sluice_client_connections", "gauge", "Client connections open now.");
    put(o, "sluice_client_connections %" PRIu64 "\n", c.clients_connected);
    put_family(o, "sluice_client_auth_failures_total", "counter",
               "Client logins and COM_CHANGE_USERs refused with access denied.");
    put(o, "sluice_client_auth_failures_total %" PRIu64 "\n", c.auth_failures);
    put_family(o, "sluice_commands_total", "counter",
               "Client commands received, by command (other: command bytes above 31).");
    for (int k = 0; k < STATS_NCOMMANDS; k++)
        if (c.commands[k])
            put(o, "sluice_commands_total{command=\"%s\"} %" PRIu64 "\n", command_names[k],
                c.commands[k]);
}

static void render_qcache(struct out *o, struct proxy *p)
{
    struct qcache_stats st;
    proxy_qcache_stats(p, &st);
    put_family(o, "sluice_query_cache_hits_total", "counter",
               "Statements answered from the query cache.");
    put(o, "sluice_query_cache_hits_total %" PRIu64 "\n", st.hits);
    put_family(o, "sluice_query_cache_misses_total", "counter",
               "Cacheable statements not found in the query cache (or expired).");
    put(o, "sluice_query_cache_misses_total %" PRIu64 "\n", st.misses);
    put_family(o, "sluice_query_cache_stores_total", "counter", "Responses stored in the cache.");
    put(o, "sluice_query_cache_stores_total %" PRIu64 "\n", st.stores);
    put_family(o, "sluice_query_cache_evictions_total", "counter",
               "Entries evicted to stay under mysql-query_cache_size_MB.");
    put(o, "sluice_query_cache_evictions_total %" PRIu64 "\n", st.evictions);
    put_family(o, "sluice_query_cache_entries", "gauge", "Entries in the query cache now.");
    put(o, "sluice_query_cache_entries %" PRIu64 "\n", st.entries);
    put_family(o, "sluice_query_cache_bytes", "gauge", "Memory held by query cache entries.");
    put(o, "sluice_query_cache_bytes %" PRIu64 "\n", st.bytes);
}

/* A histogram per statement type (stats_mysql_commands_counters' buckets,
 * made cumulative as Prometheus wants). Types never seen are left out so a
 * scrape stays short; a series appears with its first statement. */
static void render_commands(struct out *o, struct proxy *p)
{
    struct admin_command_stats c[STATS_CMD_TYPES];
    stats_cmd_sum(p->stats, c);
    put_family(o, "sluice_commands_latency_seconds", "histogram",
               "Client statements (COM_QUERY, COM_STMT_EXECUTE) by type of their first keyword, "
               "by time from receipt to the end of the response.");
    for (int t = 0; t < STATS_CMD_TYPES; t++) {
        if (!c[t].total_cnt)
            continue;
        uint64_t cum = 0;
        for (int b = 0; b < ADMIN_CMD_BUCKETS; b++) {
            cum += c[t].cnt[b];
            uint64_t bound = stats_cmd_bucket_bound_us(b);
            if (bound)
                put(o,
                    "sluice_commands_latency_seconds_bucket{command=\"%s\",le=\"%g\"} %" PRIu64
                    "\n",
                    c[t].command, (double)bound / 1e6, cum);
            else
                put(o,
                    "sluice_commands_latency_seconds_bucket{command=\"%s\",le=\"+Inf\"} %" PRIu64
                    "\n",
                    c[t].command, cum);
        }
        put(o, "sluice_commands_latency_seconds_sum{command=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n",
            c[t].command, c[t].total_time_us / 1000000, c[t].total_time_us % 1000000);
        /* The count is the +Inf bucket, which must agree with it exactly. */
        put(o, "sluice_commands_latency_seconds_count{command=\"%s\"} %" PRIu64 "\n", c[t].command,
            cum);
    }
}

/* Per reason, summed over workers; each worker's figure is its own. */
static void render_pins(struct out *o, struct proxy *p)
{
    put_family(o, "sluice_pinned_sessions", "gauge",
               "Client sessions keeping their backend connection now, by reason.");
    for (int r = 0; r < STATS_PIN_N; r++)
        put(o, "sluice_pinned_sessions{reason=\"%s\"} %" PRIu64 "\n", stats_pin_reason_name(r),
            stats_pinned_now(p->stats, r));
    put_family(o, "sluice_pin_events_total", "counter",
               "Times a client session became pinned to its backend connection, by reason.");
    for (int r = 0; r < STATS_PIN_N; r++)
        put(o, "sluice_pin_events_total{reason=\"%s\"} %" PRIu64 "\n", stats_pin_reason_name(r),
            stats_pin_events(p->stats, r));
}

static void render_digests(struct out *o, struct proxy *p)
{
    size_t n = 0;
    struct router_digest_stats *const *stats = proxy_digest_stats(p, &n);
    struct router_digest_merge *merge = NULL;
    if (router_digest_stats_merge(stats, n, false, &merge) != 0) {
        o->failed = true;
        return;
    }
    uint64_t count = 0, sum_us = 0;
    struct router_digest_row row;
    while (router_digest_merge_next(merge, &row)) {
        count += row.count_star;
        sum_us += row.sum_time;
    }
    router_digest_merge_free(merge);
    put_family(o, "sluice_queries_total", "counter",
               "Statements recorded in the query digest statistics (goes back to 0 when "
               "stats_mysql_query_digest_reset is read).");
    put(o, "sluice_queries_total %" PRIu64 "\n", count);
    put_family(o, "sluice_query_time_seconds_total", "counter",
               "Total execution time of those statements, in seconds.");
    put(o, "sluice_query_time_seconds_total %" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000,
        sum_us % 1000000);
}

static int render(struct proxy_metrics *m, struct codec_buf *b)
{
    struct out o = {.b = b};
    put_family(&o, "sluice_up", "gauge", "1 while Sluice answers.");
    put(&o, "sluice_up 1\n");
    put_family(&o, "sluice_build_info", "gauge", "Sluice's version, as a label.");
    put(&o, "sluice_build_info{version=\"");
    put_label_value(&o, SLUICE_VERSION);
    put(&o, "\"} 1\n");
    put_family(&o, "sluice_start_time_seconds", "gauge",
               "Start time of Sluice since the Unix epoch, in seconds.");
    put(&o, "sluice_start_time_seconds %.3f\n", m->start_time);
    render_sessions(&o, m->proxy);
    render_qcache(&o, m->proxy);
    render_commands(&o, m->proxy);
    render_pins(&o, m->proxy);
    render_pool(&o, m->proxy);
    render_digests(&o, m->proxy);
    return o.failed ? -1 : 0;
}

/* ---------------------------------------------------------- connections */

static void listener_free_if_done(struct proxy_metrics *m)
{
    /* Connections point at the listener: it goes last. */
    if (m->tcp_closed && !m->conns)
        free(m);
}

static void conn_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->pending_closes > 0)
        return;
    struct proxy_metrics *m = c->m;
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    m->nconns--;
    codec_buf_free(&c->body);
    free(c);
    listener_free_if_done(m);
}

static void conn_close(struct http_conn *c)
{
    if (c->state == CS_CLOSING)
        return;
    c->state = CS_CLOSING;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void on_deadline(uv_timer_t *t)
{
    conn_close(t->data);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    /* Otherwise wait for the client's EOF (or the deadline). */
    if (status < 0)
        conn_close(req->data);
}

static void write_done(uv_write_t *req, int status)
{
    struct http_conn *c = req->data;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    if (c->state != CS_WRITING)
        return; /* closing */
    c->state = CS_DRAINING;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, shutdown_done) != 0)
        conn_close(c);
}

/* Queues the response; the connection closes once it is written and the
 * client has closed its side (or at the deadline). head_only drops the body
 * (HEAD). */
static void respond(struct http_conn *c, const char *status, const char *ctype, bool head_only,
                    const char *extra_header)
{
    c->state = CS_WRITING;
    snprintf(
        c->status_head, sizeof(c->status_head),
        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
        status, ctype, c->body.len, extra_header ? extra_header : "");
    uv_buf_t bufs[2] = {
        uv_buf_init(c->status_head, (unsigned)strlen(c->status_head)),
        uv_buf_init((char *)c->body.data, (unsigned)c->body.len),
    };
    c->wreq.data = c;
    unsigned nbufs = head_only || c->body.len == 0 ? 1 : 2;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nbufs, write_done) != 0)
        conn_close(c);
}

static void respond_text(struct http_conn *c, const char *status, const char *text,
                         const char *extra_header)
{
    codec_buf_reset(&c->body);
    if (codec_buf_append(&c->body, text, strlen(text)) != 0) {
        conn_close(c);
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
    char *line = c->head;
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
    for (char *h = eol + 1; ok && h < c->head + hlen;) {
        char *e = memchr(h, '\n', (size_t)(c->head + hlen - h));
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
    if (render(c->m, &c->body) != 0) {
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = h->data;
    (void)suggested;
    if (c->state != CS_READING) {
        /* Input after the head is dropped: reuse the head buffer. */
        buf->base = c->head;
        buf->len = HEAD_MAX;
        return;
    }
    /* on_read answers 431 before the buffer is ever full here. */
    buf->base = c->head + c->len;
    buf->len = HEAD_MAX - c->len;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = st->data;
    (void)buf;
    if (c->state == CS_CLOSING)
        return;
    if (c->state != CS_READING) {
        if (nread >= 0)
            return; /* dropped */
        /* EOF or error: done once our response is out (write_done closes
         * when it is still queued). */
        c->peer_eof = true;
        uv_read_stop(st);
        if (c->state == CS_DRAINING)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        conn_close(c); /* EOF or error before a whole head: nobody to answer */
        return;
    }
    size_t scan_from = c->len > 2 ? c->len - 2 : 0; /* the terminator may straddle reads */
    c->len += (size_t)nread;
    size_t end = head_end(c->head + scan_from, c->len - scan_from);
    if (end) {
        handle_request(c, scan_from + end);
        return;
    }
    if (c->len == HEAD_MAX)
        respond_text(c, "431 Request Header Fields Too Large", "Request Header Fields Too Large\n",
                     NULL);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct proxy_metrics *m = server->data;
    if (status < 0 || m->closed)
        return;
    struct http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->m = m;
    codec_buf_init(&c->body);
    uv_tcp_init(m->loop, &c->tcp);
    uv_timer_init(m->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->next = m->conns;
    if (m->conns)
        m->conns->prev = c;
    m->conns = c;
    m->nconns++;
    c->state = CS_READING;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || m->nconns > MAX_CONNS) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_deadline, CONN_DEADLINE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

/* ---------------------------------------------------------------- public */

struct proxy_metrics *proxy_metrics_listen(uv_loop_t *loop, struct proxy *p,
                                           const struct admin_config *cfg, char *errbuf,
                                           size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (!cfg->restapi_enabled)
        return NULL;
    char first[256], host[256];
    int ignored_port;
    snprintf(first, sizeof(first), "%s", cfg->admin_interfaces);
    char *semi = strchr(first, ';');
    if (semi)
        *semi = '\0';
    if (admin_parse_hostport(first, host, sizeof(host), &ignored_port) != 0) {
        snprintf(errbuf, errlen, "invalid admin-mysql_ifaces '%s'", cfg->admin_interfaces);
        return NULL;
    }
    int port = cfg->restapi_port;
    struct proxy_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    m->loop = loop;
    m->proxy = p;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    uv_tcp_init(loop, &m->tcp);
    m->tcp.data = m;
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&m->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&m->tcp, 32, on_connection);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (metrics, admin-restapi_port): %s", host,
                 port, uv_strerror(rc));
        /* Freed by listener_closed on the loop's next turn. */
        proxy_metrics_close(m);
        return NULL;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    return m;
}

static void listener_closed(uv_handle_t *h)
{
    struct proxy_metrics *m = h->data;
    m->tcp_closed = true;
    listener_free_if_done(m);
}

void proxy_metrics_close(struct proxy_metrics *m)
{
    if (!m)
        return;
    m->closed = true;
    for (struct http_conn *c = m->conns; c;) {
        struct http_conn *next = c->next;
        conn_close(c);
        c = next;
    }
    uv_close((uv_handle_t *)&m->tcp, listener_closed);
}

void proxy_trim_memory(struct proxy *p)
{
    static uint64_t peak; /* main thread only */
    struct stats_counters c;
    stats_counters_sum(p->stats, &c);
    if (c.clients_connected > peak)
        peak = c.clients_connected;
    if (peak - c.clients_connected >= 1000) {
        malloc_trim(0);
        peak = c.clients_connected;
    }
}
