/*
 * Servers: the list, their states, and the figures that take one out of
 * service or bring it back.
 *
 * The array of servers has room for POOL_MAX_SERVERS and never moves, so
 * workers index it without a lock; pool_update (main thread) appends to it
 * and publishes the count with a release store. Caps, weights, latency
 * bounds and states are single ints that pool_update stores and workers
 * load atomically.
 *
 * A server takes new work when ONLINE and not shunned:
 *
 *   ONLINE --shun_on_failures connect errors in a row--> shunned until
 *          now + shun_recovery_ms (pool_server_usable says no; warm-up
 *          waits until then plus jitter), then ONLINE again
 *   ONLINE --pool_update--> SHUNNED / OFFLINE_SOFT / OFFLINE_HARD, or
 *          OFFLINE_SOFT when missing from the new list
 *   back to ONLINE --pool_update--> warm-up after a fresh random delay;
 *          queued requests get the slots this opened
 *
 * Also here: the per-server figures for stats, and the GTID positions and
 * round trips the monitor reports.
 */
#include "pool/pool_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- state */

int pool_server_cap(const struct server *s)
{
    return __atomic_load_n(&s->max_connections, __ATOMIC_RELAXED);
}

static enum pool_server_status server_status(const struct server *s)
{
    return (enum pool_server_status)__atomic_load_n(&s->status, __ATOMIC_RELAXED);
}

bool pool_server_usable(const struct server *s, uint64_t now_ms)
{
    if (server_status(s) != POOL_SERVER_ONLINE)
        return false;
    uint64_t until = __atomic_load_n(&s->shunned_until, __ATOMIC_RELAXED);
    return until == 0 || now_ms >= until;
}

bool pool_server_offline(const struct server *s)
{
    return server_status(s) != POOL_SERVER_ONLINE;
}

size_t pool_server_count(const struct pool *p)
{
    return __atomic_load_n(&p->n_servers, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------ lifecycle */

static void server_set_jitter(struct pool *p, struct server *s, uint64_t now_ms)
{
    int jitter = pool_setting(&p->settings.warmup_jitter_ms);
    uint64_t r = (uint64_t)rand(); /* main thread only: workers use pool_random */
    s->next_warm = now_ms + (jitter > 0 ? r % (uint64_t)jitter : 0);
}

int pool_server_init(struct pool *p, struct server *s, const struct pool_server_spec *spec)
{
    s->pool = p;
    s->hostgroup = spec->hostgroup;
    snprintf(s->host, sizeof(s->host), "%s", spec->host);
    s->port = spec->port;
    snprintf(s->name, sizeof(s->name), "%s:%d", s->host, s->port);
    s->max_connections = spec->max_connections;
    s->weight = spec->weight;
    s->max_latency_ms = spec->max_latency_ms;
    s->status = (int)spec->status;
    s->since = clock_now_ms();
    server_set_jitter(p, s, s->since);
    pthread_mutex_init(&s->lock, NULL);
    s->idle = calloc((size_t)p->nworkers, sizeof(*s->idle));
    s->idle_count = calloc((size_t)p->nworkers, sizeof(*s->idle_count));
    s->io = calloc((size_t)p->nworkers, sizeof(*s->io));
    return s->idle && s->idle_count && s->io ? 0 : POOL_ENOMEM;
}

void pool_server_destroy(struct server *s)
{
    /* Waiters left behind belong to sessions that are gone. */
    pool_queue_drop(s);
    pthread_mutex_destroy(&s->lock);
    free(s->idle);
    free(s->idle_count);
    free(s->io);
    free(s->users);
}

/* --------------------------------------------------------------- health */

void pool_server_connect_ok(struct server *s, bool warmup, uint64_t now_ms)
{
    pthread_mutex_lock(&s->lock);
    s->created_ok++;
    s->errors_in_row = 0;
    if (warmup)
        s->warming--;
    pool_window_now(s, now_ms)->created++;
    if (s->open > s->max_used)
        s->max_used = s->open;
    pthread_mutex_unlock(&s->lock);
}

void pool_server_connect_failed(struct server *s, struct pool_worker *pw, bool warmup,
                                uint64_t now_ms, bool count)
{
    struct pool *p = s->pool;
    int shun_after = pool_setting(&p->settings.shun_on_failures);
    pthread_mutex_lock(&s->lock);
    if (warmup)
        s->warming--;
    if (!count) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    s->created_err++;
    if (++s->errors_in_row >= shun_after && shun_after > 0) {
        uint64_t until = now_ms + (uint64_t)pool_setting(&p->settings.shun_recovery_ms);
        __atomic_store_n(&s->shunned_until, until, __ATOMIC_RELAXED);
        int jitter = pool_setting(&p->settings.warmup_jitter_ms);
        s->next_warm = until + pool_random(pw, (uint64_t)(jitter > 0 ? jitter : 0));
        s->errors_in_row = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------- server list */

/* The server of sp's (hostgroup, host, port) among the first count, or
 * NULL; *index is set to its place. */
static struct server *find_server(struct pool *p, size_t count, const struct pool_server_spec *sp,
                                  size_t *index)
{
    for (size_t k = 0; k < count; k++) {
        struct server *s = &p->servers[k];
        if (s->hostgroup == sp->hostgroup && s->port == sp->port &&
            strcmp(s->host, sp->host) == 0) {
            *index = k;
            return s;
        }
    }
    return NULL;
}

static int add_server(struct pool *p, const struct pool_server_spec *sp)
{
    size_t idx = pool_server_count(p);
    if (idx >= POOL_MAX_SERVERS)
        return POOL_ENOMEM;
    if (pool_server_init(p, &p->servers[idx], sp) != 0) {
        pool_server_destroy(&p->servers[idx]);
        memset(&p->servers[idx], 0, sizeof(p->servers[idx]));
        return POOL_ENOMEM;
    }
    __atomic_store_n(&p->n_servers, idx + 1, __ATOMIC_RELEASE);
    return 0;
}

static void apply_spec(struct pool *p, struct server *s, const struct pool_server_spec *sp,
                       uint64_t now_ms)
{
    if (pool_server_offline(s) && sp->status == POOL_SERVER_ONLINE) {
        /* Back in service: warm up after a fresh random delay, like a
         * start, so a fleet of proxies does not reconnect in step. The
         * connect errors from before it went out are stale: whoever put it
         * back (the monitor after it answered again, or an operator) knows
         * better, so a restarted primary takes writes at once rather than
         * after shun_recovery_time_sec. */
        pthread_mutex_lock(&s->lock);
        server_set_jitter(p, s, now_ms);
        s->errors_in_row = 0;
        __atomic_store_n(&s->shunned_until, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->lock);
    }
    __atomic_store_n(&s->max_connections, sp->max_connections, __ATOMIC_RELAXED);
    __atomic_store_n(&s->weight, sp->weight, __ATOMIC_RELAXED);
    __atomic_store_n(&s->max_latency_ms, sp->max_latency_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&s->status, (int)sp->status, __ATOMIC_RELAXED);
    pool_grant_free_slots(p, s);
}

int pool_update(struct pool *p, const struct pool_server_spec *specs, size_t n)
{
    size_t count = pool_server_count(p);
    bool *seen = calloc(count ? count : 1, sizeof(*seen));
    if (!seen)
        return POOL_ENOMEM;
    int rc = 0;
    uint64_t now = clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        size_t k;
        struct server *s = find_server(p, count, &specs[i], &k);
        if (!s) {
            int err = add_server(p, &specs[i]);
            if (err != 0)
                rc = err;
            continue;
        }
        seen[k] = true;
        apply_spec(p, s, &specs[i], now);
    }
    /* Servers no longer configured take no new work; busy connections finish
     * and close when returned (offer_held() closes them). */
    for (size_t k = 0; k < count; k++)
        if (!seen[k])
            __atomic_store_n(&p->servers[k].status, (int)POOL_SERVER_OFFLINE_SOFT,
                             __ATOMIC_RELAXED);
    free(seen);
    return rc;
}

/* ----------------------------------------------------------------- stats */

void pool_server_stats(struct pool *p, size_t index, struct pool_server_stats *out)
{
    struct server *s = &p->servers[index];
    uint64_t now = clock_now_ms();
    memset(out, 0, sizeof(*out));
    out->hostgroup = s->hostgroup;
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->status = server_status(s);
    if (out->status == POOL_SERVER_ONLINE && !pool_server_usable(s, now))
        out->status = POOL_SERVER_SHUNNED;
    out->weight = __atomic_load_n(&s->weight, __ATOMIC_RELAXED);
    out->latency_us = __atomic_load_n(&s->latency_us, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->lock);
    out->open = s->open;
    out->waiting = s->waiting;
    out->max_connections = pool_server_cap(s);
    out->created_ok = s->created_ok;
    out->created_err = s->created_err;
    out->max_used = s->max_used;
    out->exhausted = s->exhausted;
    out->fail_fast = s->fail_fast;
    pool_stats_fill(s, out, now);
    pthread_mutex_unlock(&s->lock);
    /* A connection out for its keep-alive ping is idle, not in use. */
    out->idle = __atomic_load_n(&s->pinging, __ATOMIC_RELAXED);
    for (int i = 0; i < p->nworkers; i++) {
        out->idle += __atomic_load_n(&s->idle_count[i], __ATOMIC_RELAXED);
        out->queries += __atomic_load_n(&s->io[i].queries, __ATOMIC_RELAXED);
        out->bytes_sent += __atomic_load_n(&s->io[i].bytes_sent, __ATOMIC_RELAXED);
        out->bytes_recv += __atomic_load_n(&s->io[i].bytes_recv, __ATOMIC_RELAXED);
    }
}

/* ------------------------------------------------ monitor's observations */

void pool_set_applied_gtid(struct pool *p, const char *host, int port, const char *gtid)
{
    size_t n = pool_server_count(p);
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (s->port != port || strcmp(s->host, host) != 0)
            continue;
        pthread_mutex_lock(&s->lock);
        snprintf(s->applied_gtid, sizeof(s->applied_gtid), "%s", gtid ? gtid : "");
        pthread_mutex_unlock(&s->lock);
    }
}

/* Parses "domain-server-seq" at *p, advancing past it. */
static bool parse_gtid(const char **p, unsigned long long *domain, unsigned long long *seq)
{
    char *end;
    errno = 0;
    *domain = strtoull(*p, &end, 10);
    if (end == *p || *end != '-')
        return false;
    const char *q = end + 1;
    (void)strtoull(q, &end, 10);
    if (end == q || *end != '-')
        return false;
    q = end + 1;
    *seq = strtoull(q, &end, 10);
    if (end == q || errno != 0)
        return false;
    *p = end;
    return true;
}

bool pool_conn_has_gtid(const struct pool_conn *c, const char *gtid)
{
    unsigned long long want_domain, want_seq;
    const char *w = gtid;
    if (!parse_gtid(&w, &want_domain, &want_seq) || *w != '\0')
        return false;
    struct server *s = c->server;
    char pos[sizeof(s->applied_gtid)];
    pthread_mutex_lock(&s->lock);
    memcpy(pos, s->applied_gtid, sizeof(pos));
    pthread_mutex_unlock(&s->lock);
    for (const char *p = pos; *p;) {
        unsigned long long domain, seq;
        while (*p == ',' || *p == ' ' || *p == '\n')
            p++;
        if (!*p || !parse_gtid(&p, &domain, &seq))
            return false;
        if (domain == want_domain)
            return seq >= want_seq;
    }
    return false;
}

void pool_set_latency(struct pool *p, const char *host, int port, uint64_t us)
{
    size_t n = pool_server_count(p);
    for (size_t i = 0; i < n; i++) {
        struct server *s = &p->servers[i];
        if (s->port == port && strcmp(s->host, host) == 0)
            __atomic_store_n(&s->latency_us, us, __ATOMIC_RELAXED);
    }
}
