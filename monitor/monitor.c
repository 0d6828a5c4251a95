/*
 * The monitor's main-thread side: takes the check threads' results off the
 * queue (uv_async_t), logs them to the admin tables, updates each server's
 * state and, when the effective server list changes, gives it to the pool.
 *
 * Per server (struct mon_target, keyed by host:port) the state is:
 *   ping      failures in a row; shunned at ping_max_failures, back after a
 *             good ping once shun_recovery_time_sec passed since the last
 *             failure
 *   liveness  every check's result, answered or not (liveness.c): shunned
 *             when no check got an answer for liveness_window (2 checks at
 *             least), back after 2 answers in a row
 *   read_only last value seen (-1 before the first answer: the server stays
 *             where it is configured until then, and a failed check keeps
 *             the last placement)
 *   lag       last Seconds_Behind_Master (-1 unknown); lag_shunned flips on
 *             above max_lag (or NULL: replication stopped) and off at or
 *             below max_lag/2; errors and timeouts change nothing
 *
 * The effective list (effective()) is recomputed from the configured servers
 * and these states after every batch; a difference from the last applied
 * list goes to pool_update() and runtime_mysql_servers, and each move or
 * status change is logged.
 */
#include "common/common.h"
#include "monitor/monitor_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *status_name(enum admin_server_status st)
{
    static const char *const names[] = {"ONLINE", "SHUNNED", "OFFLINE_SOFT", "OFFLINE_HARD"};
    return (unsigned)st < 4 ? names[st] : "ONLINE";
}

static const struct admin_repl_hostgroup *repl_of(const struct admin_config *cfg, int hg,
                                                  bool *is_writer)
{
    for (size_t i = 0; i < cfg->n_repl_hostgroups; i++) {
        const struct admin_repl_hostgroup *r = &cfg->repl_hostgroups[i];
        if (r->writer_hostgroup == hg || r->reader_hostgroup == hg) {
            if (is_writer)
                *is_writer = r->writer_hostgroup == hg;
            return r;
        }
    }
    return NULL;
}

static bool is_writer_hg(const struct admin_config *cfg, int hg)
{
    bool w = false;
    return repl_of(cfg, hg, &w) && w;
}

static struct mon_target *find_target(struct monitor *m, const char *host, int port)
{
    for (struct mon_target *t = m->targets; t; t = t->next)
        if (!t->retired && t->port == port && strcmp(t->host, host) == 0)
            return t;
    return NULL;
}

/* ------------------------------------------------- the effective list */

struct list {
    struct admin_server *v;
    size_t n, cap;
};

static bool list_has(const struct list *l, int hg, const char *host, int port)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].hostgroup == hg && l->v[i].port == port && strcmp(l->v[i].host, host) == 0)
            return true;
    return false;
}

static int list_add(struct list *l, const struct admin_server *s, int hg)
{
    if (list_has(l, hg, s->host, s->port))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct admin_server *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *s;
    l->v[l->n].hostgroup = hg;
    l->n++;
    return 0;
}

/* Where s belongs by its server's read_only; *n hostgroups in hgs. */
static void placement(const struct monitor *m, const struct admin_server *s,
                      const struct mon_target *t, int hgs[2], int *n)
{
    const struct admin_config *cfg = m->cfg;
    const struct admin_repl_hostgroup *r = repl_of(cfg, s->hostgroup, NULL);
    *n = 1;
    hgs[0] = s->hostgroup;
    if (!r || !t || t->read_only < 0 || !cfg->monitor_enabled)
        return;
    if (t->read_only) {
        hgs[0] = r->reader_hostgroup;
    } else {
        hgs[0] = r->writer_hostgroup;
        if (cfg->monitor_writer_is_also_reader)
            hgs[(*n)++] = r->reader_hostgroup;
    }
}

static void apply_state(const struct monitor *m, struct admin_server *e, const struct mon_target *t)
{
    const struct admin_config *cfg = m->cfg;
    if (!cfg->monitor_enabled || e->status == ADMIN_SERVER_OFFLINE_SOFT ||
        e->status == ADMIN_SERVER_OFFLINE_HARD)
        return;
    e->status = ADMIN_SERVER_ONLINE;
    if (!t)
        return;
    if (t->ping_shunned || t->live.shunned) {
        e->status = ADMIN_SERVER_SHUNNED;
        return;
    }
    if (e->max_replication_lag <= 0 || is_writer_hg(cfg, e->hostgroup))
        return;
    if (t->lag_shunned) {
        e->status = ADMIN_SERVER_SHUNNED;
        return;
    }
    /* Between the soft threshold (half) and the maximum the share of new
     * connections shrinks linearly to 10%, so traffic leaves a replica that
     * falls behind before it has to be cut off. */
    double soft = e->max_replication_lag / 2.0;
    if (t->lag > soft && e->weight > 0) {
        double f = 1.0 - 0.9 * (t->lag - soft) / (e->max_replication_lag - soft);
        if (f < 0.1)
            f = 0.1;
        int w = (int)(e->weight * f);
        e->weight = w > 0 ? w : 1;
    }
}

/* The configured servers placed and statused by what the monitor knows. */
static int effective(const struct monitor *m, struct list *out)
{
    const struct admin_config *cfg = m->cfg;
    /* Two passes, so a server that stays in its configured hostgroup keeps
     * that row's settings over a copy moved there from another row. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cfg->n_servers; i++) {
            const struct admin_server *s = &cfg->servers[i];
            const struct mon_target *t = find_target((struct monitor *)m, s->host, s->port);
            int hgs[2], n;
            placement(m, s, t, hgs, &n);
            for (int k = 0; k < n; k++) {
                if ((hgs[k] == s->hostgroup) != (pass == 0))
                    continue;
                if (list_add(out, s, hgs[k]) != 0)
                    return -1;
            }
        }
    for (size_t i = 0; i < out->n; i++)
        apply_state(m, &out->v[i],
                    find_target((struct monitor *)m, out->v[i].host, out->v[i].port));
    return 0;
}

int mon_effective(const struct monitor *m, struct admin_server **out, size_t *n)
{
    struct list l = {0};
    if (effective(m, &l) != 0) {
        free(l.v);
        return -1;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

static const struct admin_server *find_in(const struct admin_server *v, size_t n,
                                          const struct admin_server *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].hostgroup == s->hostgroup && v[i].port == s->port &&
            strcmp(v[i].host, s->host) == 0)
            return &v[i];
    return NULL;
}

/* Logs each server that entered or left a hostgroup or changed status. */
static bool log_changes(const struct monitor *m, const struct list *now)
{
    bool changed = !m->applied || now->n != m->n_effective;
    for (size_t i = 0; i < now->n; i++) {
        const struct admin_server *s = &now->v[i];
        const struct admin_server *old = find_in(m->effective, m->n_effective, s);
        if (!old) {
            changed = true;
            if (m->applied)
                log_info("monitor: %s:%d now in hostgroup %d (%s)", s->host, s->port, s->hostgroup,
                         status_name(s->status));
        } else if (old->status != s->status || old->weight != s->weight) {
            changed = true;
            if (old->status != s->status)
                log_info("monitor: %s:%d in hostgroup %d: %s -> %s", s->host, s->port, s->hostgroup,
                         status_name(old->status), status_name(s->status));
        }
    }
    for (size_t i = 0; i < m->n_effective; i++) {
        const struct admin_server *s = &m->effective[i];
        if (!find_in(now->v, now->n, s)) {
            changed = true;
            log_info("monitor: %s:%d left hostgroup %d", s->host, s->port, s->hostgroup);
        }
    }
    return changed;
}

static int apply(struct monitor *m)
{
    struct list now = {0};
    if (effective(m, &now) != 0) {
        free(now.v);
        log_error("monitor: out of memory computing the server list");
        return -1;
    }
    if (!log_changes(m, &now)) {
        free(now.v);
        return 0;
    }
    struct pool_server_spec *specs = calloc(now.n ? now.n : 1, sizeof(*specs));
    struct admin_server *shown = malloc((now.n ? now.n : 1) * sizeof(*shown));
    if (!specs || !shown) {
        free(specs);
        free(shown);
        free(now.v);
        log_error("monitor: out of memory applying the server list");
        return -1;
    }
    for (size_t i = 0; i < now.n; i++) {
        const struct admin_server *s = &now.v[i];
        specs[i] = (struct pool_server_spec){.hostgroup = s->hostgroup,
                                             .host = s->host,
                                             .port = s->port,
                                             .max_connections = s->max_connections,
                                             .weight = s->weight,
                                             .max_latency_ms = s->max_latency_ms,
                                             .status = (enum pool_server_status)s->status};
        /* A server that stopped answering pings (or any check: liveness) is
         * cut off like ProxySQL's shun_and_killall: OFFLINE_HARD breaks the
         * connections lent to it, so statements hung on it end (and reads
         * run again elsewhere) instead of waiting for a server that may
         * never answer. Lag shuns stay SHUNNED: those statements still
         * finish. */
        const struct mon_target *t = find_target(m, s->host, s->port);
        if (s->status == ADMIN_SERVER_SHUNNED && t && (t->ping_shunned || t->live.shunned))
            specs[i].status = POOL_SERVER_OFFLINE_HARD;
        /* runtime_mysql_servers is what a later LOAD of another module
         * rebuilds servers from, so it shows the configured weight, not the
         * one lag reduced (which would then stick). */
        shown[i] = *s;
        const struct admin_server *c = NULL;
        for (size_t k = 0; k < m->cfg->n_servers && !c; k++)
            if (m->cfg->servers[k].port == s->port && !strcmp(m->cfg->servers[k].host, s->host))
                c = &m->cfg->servers[k];
        if (c)
            shown[i].weight = c->weight;
    }
    int rc = pool_update(m->pool, specs, now.n);
    if (rc != 0)
        log_error("monitor: the pool could not take every server");
    if (admin_runtime_servers_show(m->store, shown, now.n) != 0)
        log_warn("monitor: cannot update runtime_mysql_servers");
    free(specs);
    free(shown);
    free(m->effective);
    m->effective = now.v;
    m->n_effective = now.n;
    m->applied = true;
    return rc != 0 ? -1 : 0;
}

/* ------------------------------------------------------------ results */

static void on_ping(struct monitor *m, struct mon_target *t, const struct mon_result *r)
{
    const struct admin_config *cfg = m->cfg;
    int64_t now = mon_now_ms();
    if (!r->alive) {
        t->ping_failures++;
        t->last_ping_failure_ms = now;
        if (!t->ping_shunned && t->ping_failures >= cfg->monitor_ping_max_failures) {
            t->ping_shunned = true;
            log_warn("monitor: %s:%d shunned after %d failed pings: %s", t->host, t->port,
                     t->ping_failures, r->error);
        }
        return;
    }
    t->ping_failures = 0;
    if (m->pool)
        pool_set_latency(m->pool, t->host, t->port, (uint64_t)r->took_us);
    if (t->ping_shunned &&
        now - t->last_ping_failure_ms >= (int64_t)cfg->shun_recovery_time_sec * 1000) {
        t->ping_shunned = false;
        log_info("monitor: %s:%d answers pings again", t->host, t->port);
    }
}

/* Every result says something about whether the server answers at all. */
static void on_liveness(struct monitor *m, struct mon_target *t, const struct mon_result *r)
{
    const struct admin_config *cfg = m->cfg;
    int answered = mon_result_answered(r);
    if (cfg->monitor_liveness_interval_ms <= 0 || answered < 0)
        return;
    enum mon_live_event ev = mon_liveness_note(&t->live, answered == 1, r->start_ms, r->end_ms,
                                               cfg->monitor_liveness_window_ms,
                                               (int64_t)cfg->shun_recovery_time_sec * 1000);
    if (ev == MON_LIVE_SHUN)
        log_warn("monitor: %s:%d shunned: no answer for %lld ms (%d checks)%s; last: %s", t->host,
                 t->port, (long long)(t->live.last_failure_ms - t->live.silent_since_ms),
                 t->live.failures,
                 t->live.damped ? "; again soon after coming back: it stays out longer" : "",
                 r->error[0] ? r->error : "no answer");
    else if (ev == MON_LIVE_BACK)
        log_info("monitor: %s:%d answers again", t->host, t->port);
    if (answered == 1 && r->kind == MON_LIVENESS && m->pool)
        pool_set_latency(m->pool, t->host, t->port, (uint64_t)r->took_us);
}

static void on_read_only(struct mon_target *t, const struct mon_result *r)
{
    if (!r->ok)
        return; /* unknown: keep the last placement */
    if (t->read_only >= 0 && t->read_only != (int)r->value)
        log_warn("monitor: %s:%d read_only changed to %d", t->host, t->port, (int)r->value);
    t->read_only = (int)r->value;
}

static void on_lag(struct monitor *m, struct mon_target *t, const struct mon_result *r)
{
    /* Unknown (failed check, not a replica) never covers a causal read. */
    if (m->pool)
        pool_set_applied_gtid(m->pool, t->host, t->port, r->ok ? r->gtid : "");
    if (r->not_replica) {
        t->lag = 0;
        t->lag_shunned = false;
        return;
    }
    if (!r->ok || t->max_lag <= 0)
        return; /* a failed check never counts as "no lag" */
    t->lag = r->value_null ? -1 : r->value;
    if (!t->lag_shunned && (r->value_null || r->value > t->max_lag)) {
        t->lag_shunned = true;
        if (r->value_null)
            log_warn("monitor: %s:%d shunned: replication stopped (lag unknown)", t->host, t->port);
        else
            log_warn("monitor: %s:%d shunned: lag %lld s over %d s", t->host, t->port,
                     (long long)r->value, t->max_lag);
    } else if (t->lag_shunned && !r->value_null && r->value * 2 <= t->max_lag) {
        t->lag_shunned = false;
        log_info("monitor: %s:%d back: lag %lld s", t->host, t->port, (long long)r->value);
    }
}

void mon_result_apply(struct monitor *m, const struct mon_result *r)
{
    on_liveness(m, r->t, r);
    if (r->kind == MON_PING)
        on_ping(m, r->t, r);
    else if (r->kind == MON_READ_ONLY)
        on_read_only(r->t, r);
    else if (r->kind == MON_LAG)
        on_lag(m, r->t, r);
}

static void record(struct monitor *m, const struct mon_result *r)
{
    /* Liveness probes run every 500 ms: logging them would fill the ping
     * log 20 times faster than ProxySQL's. A shun they cause is logged with
     * its last error. */
    if (r->kind == MON_LIVENESS)
        return;
    struct admin_monitor_entry e = {.check = (enum admin_monitor_check)r->kind,
                                    .host = r->t->host,
                                    .port = r->t->port,
                                    .time_start_us = r->start_us,
                                    .success_time_us = r->took_us,
                                    .value = r->value,
                                    .value_null = r->value_null,
                                    .error = r->error[0] ? r->error : NULL};
    if (admin_monitor_log(m->store, &e) != 0)
        log_debug("monitor: cannot write a %d log row", (int)r->kind);
}

static void on_async(uv_async_t *h)
{
    struct monitor *m = h->data;
    pthread_mutex_lock(&m->lock);
    struct mon_result *r = m->head;
    m->head = m->tail = NULL;
    m->queued = 0;
    pthread_mutex_unlock(&m->lock);
    while (r) {
        struct mon_result *next = r->next;
        struct mon_target *t = r->t;
        if (!t->retired) {
            record(m, r);
            mon_result_apply(m, r);
        }
        free(r);
        r = next;
    }
    int64_t now = mon_now_ms();
    if (now - m->last_prune_ms >= 1000) {
        m->last_prune_ms = now;
        if (admin_monitor_prune(m->store,
                                clock_wall_us() - (int64_t)m->cfg->monitor_history_ms * 1000) != 0)
            log_debug("monitor: cannot prune the log tables");
    }
    (void)apply(m);
}

/* ------------------------------------------------------ configuration */

static void set_settings(struct monitor *m, const struct admin_config *cfg)
{
    struct mon_settings *st = &m->settings;
    snprintf(st->user, sizeof(st->user), "%s", cfg->monitor_username);
    snprintf(st->password, sizeof(st->password), "%s", cfg->monitor_password);
    st->connect_interval_ms = cfg->monitor_connect_interval_ms;
    st->connect_timeout_ms = cfg->monitor_connect_timeout_ms;
    st->ping_interval_ms = cfg->monitor_ping_interval_ms;
    st->ping_timeout_ms = cfg->monitor_ping_timeout_ms;
    st->liveness_interval_ms = cfg->monitor_liveness_interval_ms;
    st->liveness_timeout_ms = cfg->monitor_liveness_timeout_ms;
    st->liveness_window_ms = cfg->monitor_liveness_window_ms;
    st->read_only_interval_ms = cfg->monitor_read_only_interval_ms;
    st->read_only_timeout_ms = cfg->monitor_read_only_timeout_ms;
    st->lag_interval_ms = cfg->monitor_replication_lag_interval_ms;
    st->lag_timeout_ms = cfg->monitor_replication_lag_timeout_ms;
}

/* Creates targets for new servers, retires those no longer configured and
 * says which checks each one needs. */
static void sync_targets(struct monitor *m)
{
    const struct admin_config *cfg = m->cfg;
    /* Before any new thread starts: its first check reads them. */
    pthread_mutex_lock(&m->lock);
    set_settings(m, cfg);
    pthread_mutex_unlock(&m->lock);
    for (struct mon_target *t = m->targets; t; t = t->next) {
        t->configured = false;
        t->max_lag = 0;
    }
    for (size_t i = 0; cfg->monitor_enabled && i < cfg->n_servers; i++) {
        const struct admin_server *s = &cfg->servers[i];
        struct mon_target *t = find_target(m, s->host, s->port);
        if (!t) {
            t = calloc(1, sizeof(*t));
            if (!t) {
                log_error("monitor: out of memory: %s:%d not monitored", s->host, s->port);
                continue;
            }
            t->m = m;
            snprintf(t->host, sizeof(t->host), "%s", s->host);
            t->port = s->port;
            t->read_only = -1;
            t->lag = -1;
            t->next = m->targets;
            m->targets = t;
            if (mon_target_start(t) != 0) {
                t->retired = true; /* joined at close with what did start */
                continue;
            }
        }
        t->configured = true;
        if (s->max_replication_lag > 0 && !is_writer_hg(cfg, s->hostgroup) &&
            (t->max_lag == 0 || s->max_replication_lag < t->max_lag))
            t->max_lag = s->max_replication_lag;
    }
    pthread_mutex_lock(&m->lock);
    for (struct mon_target *t = m->targets; t; t = t->next) {
        if (t->retired)
            continue;
        if (!t->configured) {
            t->retired = true;
            t->stop = true;
            continue;
        }
        t->check_read_only = false;
        for (size_t i = 0; i < cfg->n_servers; i++)
            if (cfg->servers[i].port == t->port && !strcmp(cfg->servers[i].host, t->host) &&
                repl_of(cfg, cfg->servers[i].hostgroup, NULL))
                t->check_read_only = true;
        /* A server whose read_only moved it into a writer hostgroup keeps
         * being checked: the primary itself answers "not a replica". */
        /* Causal reads use the replicas' GTID positions, read with lag. */
        t->check_lag = t->max_lag > 0 || cfg->causal_reads;
        if (!t->check_lag)
            t->lag_shunned = false;
        /* Liveness off: only the ping check may keep a server out. */
        if (cfg->monitor_liveness_interval_ms <= 0)
            memset(&t->live, 0, sizeof(t->live));
    }
    mon_wake(m);
    pthread_mutex_unlock(&m->lock);
}

struct monitor *monitor_new(uv_loop_t *loop, struct admin_store *store, struct pool *pool,
                            struct admin_config *cfg)
{
    struct monitor *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->loop = loop;
    m->store = store;
    m->pool = pool;
    m->cfg = admin_config_ref(cfg);
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    uv_async_init(loop, &m->async, on_async);
    m->async.data = m;
    m->last_prune_ms = mon_now_ms();
    sync_targets(m);
    (void)apply(m);
    if (cfg->monitor_enabled)
        log_info("monitor: watching %zu servers as '%s'", cfg->n_servers, cfg->monitor_username);
    return m;
}

int monitor_configure(struct monitor *m, struct admin_config *cfg)
{
    admin_config_ref(cfg);
    admin_config_unref(m->cfg);
    m->cfg = cfg;
    sync_targets(m);
    m->applied = false; /* the pool took the configured list: give it ours again */
    return apply(m);
}

const char *monitor_server_status(void *arg, int hostgroup, const char *host, int port)
{
    const struct monitor *m = arg;
    for (size_t i = 0; m && i < m->n_effective; i++) {
        const struct admin_server *s = &m->effective[i];
        if (s->hostgroup == hostgroup && s->port == port && !strcmp(s->host, host))
            return status_name(s->status);
    }
    /* The pool keeps a server dropped from the list until its lent
     * connections come back; it takes no new work meanwhile. */
    return m && m->applied ? "OFFLINE_SOFT" : NULL;
}

static void on_closed(uv_handle_t *h)
{
    struct monitor *m = h->data;
    pthread_mutex_lock(&m->lock);
    struct mon_result *r = m->head;
    m->head = m->tail = NULL;
    pthread_mutex_unlock(&m->lock);
    while (r) {
        struct mon_result *next = r->next;
        free(r);
        r = next;
    }
    while (m->targets) {
        struct mon_target *t = m->targets;
        m->targets = t->next;
        free(t);
    }
    free(m->effective);
    admin_config_unref(m->cfg);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void monitor_close(struct monitor *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (struct mon_target *t = m->targets; t; t = t->next)
        t->stop = true;
    mon_wake(m);
    pthread_mutex_unlock(&m->lock);
    for (struct mon_target *t = m->targets; t; t = t->next) {
        if (t->nthreads > 0)
            pthread_join(t->health, NULL);
        if (t->nthreads > 1)
            pthread_join(t->repl, NULL);
        if (t->nthreads > 2)
            pthread_join(t->prober, NULL);
    }
    uv_close((uv_handle_t *)&m->async, on_closed);
}
