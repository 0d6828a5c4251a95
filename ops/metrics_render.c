/*
 * The Prometheus text exposition of /metrics (ops/metrics.c serves it):
 * one function a group of families, appending to one buffer with put(),
 * which remembers an allocation failure so the scrape gets 500 instead of a
 * partial page.
 *
 * What a scrape reads: the pool's per-server figures (pool_server_stats, as
 * the admin stats tables do), the workers' session counters (relaxed atomic
 * loads, see stats/stats.h) and the workers' digest
 * statistics merged without reset. None of it blocks a worker for longer than
 * the copy of one worker's digest table.
 */
#include "common/common.h"
#include "monitor/monitor.h"
#include "ops/ops_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

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
        struct monitor *mon = proxy_monitor(p);
        if (mon) {
            char host[sizeof(st[i].name)];
            int port;
            pool_split_name(st[i].name, host, sizeof(host), &port);
            const char *m = monitor_server_status(mon, st[i].hostgroup, host, port);
            if (m && strcmp(m, "ONLINE") != 0)
                now = m;
        }
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            put(o, "sluice_pool_server_status{hostgroup=\"%d\",server=\"", st[i].hostgroup);
            put_label_value(o, st[i].name);
            put(o, "\",status=\"%s\"} %d\n", names[k], strcmp(names[k], now) == 0);
        }
    }
}

/* The per-server families, in the order they are rendered; pool_sample()
 * gives each one's value. */
static const struct {
    const char *name, *type, *help;
} pool_families[] = {
    {"sluice_pool_connections_used", "gauge",
     "Backend connections lent to a session or still connecting."},
    {"sluice_pool_connections_free", "gauge", "Idle backend connections kept in the pool."},
    {"sluice_pool_connections_max", "gauge", "Cap on backend connections (max_connections)."},
    {"sluice_pool_queue_length", "gauge", "Requests waiting for a connection to the server."},
    {"sluice_pool_connections_created_total", "counter",
     "Backend connections opened successfully."},
    {"sluice_pool_connection_errors_total", "counter", "Backend connection attempts that failed."},
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

/* The sample of family f (an index of pool_families) for one server. */
static void pool_sample(struct out *o, size_t f, const struct pool_server_stats *st)
{
    uint64_t v = 0;
    switch (f) {
    case 0:
        /* idle is read outside the server's lock: never show less than 0. */
        v = nonneg(st->open - st->idle);
        break;
    case 1:
        v = nonneg(st->idle);
        break;
    case 2:
        v = nonneg(st->max_connections);
        break;
    case 3:
        v = nonneg(st->waiting);
        break;
    case 4:
        v = st->created_ok;
        break;
    case 5:
        v = st->created_err;
        break;
    case 6:
        v = nonneg(st->max_used);
        break;
    case 7:
        v = st->exhausted;
        break;
    case 8:
        v = st->fail_fast;
        break;
    case 9:
        put_server_seconds(o, pool_families[f].name, st, st->wait_p50_us);
        return;
    case 10:
        put_server_seconds(o, pool_families[f].name, st, st->wait_p99_us);
        return;
    case 11:
        v = st->created_last_min;
        break;
    default:
        v = nonneg(st->suggested);
        break;
    }
    put_server_sample(o, pool_families[f].name, st, v);
}

/* Queue waits since start, per server, as a cumulative histogram. */
static void render_wait_histogram(struct out *o, const struct pool_server_stats *st, size_t n)
{
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
}

static void render_pool(struct out *o, struct proxy *p)
{
    struct pool *pool = proxy_pool(p);
    size_t n = pool ? pool_server_count(pool) : 0;
    struct pool_server_stats *st = n ? calloc(n, sizeof(*st)) : NULL;
    if (n && !st) {
        o->failed = true;
        return;
    }
    /* One snapshot per server, so the families agree with each other. */
    for (size_t i = 0; i < n; i++)
        pool_server_stats(pool, i, &st[i]);
    for (size_t f = 0; f < sizeof(pool_families) / sizeof(pool_families[0]); f++) {
        put_family(o, pool_families[f].name, pool_families[f].type, pool_families[f].help);
        for (size_t i = 0; i < n; i++)
            pool_sample(o, f, &st[i]);
    }
    render_status(o, p, st, n);
    render_wait_histogram(o, st, n);
    free(st);
}

/* A family of one sample without labels. */
static void put_single(struct out *o, const char *name, const char *type, const char *help,
                       uint64_t value)
{
    put_family(o, name, type, help);
    put(o, "%s %" PRIu64 "\n", name, value);
}

static void render_sessions(struct out *o, struct proxy *p)
{
    struct stats_counters c;
    stats_counters_sum(proxy_stats(p), &c);
    put_single(o, "sluice_client_connections_accepted_total", "counter",
               "Client connections accepted.", c.clients_accepted);
    put_single(o, "sluice_client_connections", "gauge", "Client connections open now.",
               c.clients_connected);
    put_single(o, "sluice_client_auth_failures_total", "counter",
               "Client logins and COM_CHANGE_USERs refused with access denied.", c.auth_failures);
    put_family(o, "sluice_commands_total", "counter",
               "Client commands received, by command (other: command bytes above 31).");
    for (int k = 0; k < STATS_NCOMMANDS; k++)
        if (c.commands[k])
            put(o, "sluice_commands_total{command=\"%s\"} %" PRIu64 "\n", command_names[k],
                c.commands[k]);
}

static void render_qcache(struct out *o, struct proxy *p)
{
    struct proxy_qcache_figures st;
    proxy_qcache_figures(p, &st);
    put_single(o, "sluice_query_cache_hits_total", "counter",
               "Statements answered from the query cache.", st.hits);
    put_single(o, "sluice_query_cache_misses_total", "counter",
               "Cacheable statements not found in the query cache (or expired).", st.misses);
    put_single(o, "sluice_query_cache_stores_total", "counter", "Responses stored in the cache.",
               st.stores);
    put_single(o, "sluice_query_cache_evictions_total", "counter",
               "Entries evicted to stay under mysql-query_cache_size_MB.", st.evictions);
    put_single(o, "sluice_query_cache_entries", "gauge", "Entries in the query cache now.",
               st.entries);
    put_single(o, "sluice_query_cache_bytes", "gauge", "Memory held by query cache entries.",
               st.bytes);
}

/* A histogram per statement type (stats_mysql_commands_counters' buckets,
 * made cumulative as Prometheus wants). Types never seen are left out so a
 * scrape stays short; a series appears with its first statement. */
static void render_commands(struct out *o, struct proxy *p)
{
    struct admin_command_stats c[STATS_CMD_TYPES];
    stats_cmd_sum(proxy_stats(p), c);
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
            stats_pinned_now(proxy_stats(p), r));
    put_family(o, "sluice_pin_events_total", "counter",
               "Times a client session became pinned to its backend connection, by reason.");
    for (int r = 0; r < STATS_PIN_N; r++)
        put(o, "sluice_pin_events_total{reason=\"%s\"} %" PRIu64 "\n", stats_pin_reason_name(r),
            stats_pin_events(proxy_stats(p), r));
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
    put_single(o, "sluice_queries_total", "counter",
               "Statements recorded in the query digest statistics (goes back to 0 when "
               "stats_mysql_query_digest_reset is read).",
               count);
    put_family(o, "sluice_query_time_seconds_total", "counter",
               "Total execution time of those statements, in seconds.");
    put(o, "sluice_query_time_seconds_total %" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000,
        sum_us % 1000000);
}
int ops_metrics_render(struct proxy *p, double start_time, struct codec_buf *b)
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
    put(&o, "sluice_start_time_seconds %.3f\n", start_time);
    render_sessions(&o, p);
    render_qcache(&o, p);
    render_commands(&o, p);
    render_pins(&o, p);
    render_pool(&o, p);
    render_digests(&o, p);
    return o.failed ? -1 : 0;
}
