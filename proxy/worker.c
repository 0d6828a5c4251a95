/*
 * Worker threads. Each worker owns a libuv loop, a listening socket bound
 * with SO_REUSEPORT on the MySQL interface (the kernel spreads new
 * connections over the workers), its client sessions and a slot in the
 * backend pool. Other threads reach a worker only through its `wake` async
 * handle (a new snapshot, shutdown, the admin's PAUSE/RESUME/FLUSH QUERY
 * CACHE) or the pool's inbox.
 *
 * Shutdown: proxy_stop() sets draining and wakes every worker; a worker
 * closes its listener and idle sessions, lets sessions in a statement finish,
 * and after mysql-shutdown_timeout closes whatever is left. When its last
 * session is gone it closes its handles and its loop ends.
 */
#include "common/common.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Digest keys each worker tracks (stats_mysql_query_digest); beyond that
 * new digests are counted in one overflow row. About 1.3 KiB each. */
#define DIGESTS_PER_WORKER 2048
#define DIGEST_TEXT_MAX 512

static int bind_reuseport(const char *host, int port, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (uv_ip4_addr(host, port, in4) == 0) {
        sslen = sizeof(*in4);
    } else if (uv_ip6_addr(host, port, in6) == 0) {
        sslen = sizeof(*in6);
    } else {
        snprintf(errbuf, errlen, "invalid mysql-interfaces address '%s'", host);
        return PROXY_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket: %s", strerror(errno));
        return PROXY_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d (mysql-interfaces): %s", host, port,
                 strerror(errno));
        close(fd);
        return PROXY_EIO;
    }
    return fd;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct worker *w = server->data;
    if (status < 0 || w->draining)
        return;
    if (w->paused) {
        /* Left unaccepted, libuv stops polling the listener until
         * uv_accept(): this connection and later ones wait in the kernel's
         * backlog until RESUME accepts it (on_resume). */
        w->accept_pending = true;
        return;
    }
    session_accept(w, server);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct worker *w = t->data;
    if (w->n_sessions)
        log_warn("worker %d: shutdown timeout, closing %d busy sessions", w->index, w->n_sessions);
    for (struct session *s = w->sessions; s;) {
        struct session *next = s->next;
        session_close(s);
        s = next;
    }
}

static void finish_worker(struct worker *w)
{
    uv_timer_stop(&w->drain_timer);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_close((uv_handle_t *)&w->guard_timer, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    pool_worker_detach(w->proxy->pool, w->index);
}

static void take_pending_config(struct worker *w)
{
    pthread_mutex_lock(&w->pending_lock);
    struct admin_config *cfg = w->pending_cfg;
    w->pending_cfg = NULL;
    pthread_mutex_unlock(&w->pending_lock);
    if (!cfg)
        return;
    admin_config_unref(w->cfg);
    w->cfg = cfg; /* sessions switch between statements (session.c) */
}

/* PROXYSQL PAUSE, RESUME and FLUSH QUERY CACHE (proxy_admin_actions), on
 * the worker's own thread. */
static void take_pending_actions(struct worker *w)
{
    pthread_mutex_lock(&w->pending_lock);
    unsigned act = w->pending_actions;
    w->pending_actions = 0;
    pthread_mutex_unlock(&w->pending_lock);
    if (act & ADMIN_ACT_FLUSH_QCACHE)
        qcache_clear(w->qcache);
    if (act & ADMIN_ACT_PAUSE)
        w->paused = true;
    if ((act & ADMIN_ACT_RESUME) && w->paused) {
        w->paused = false;
        if (w->accept_pending && w->listening && !w->draining) {
            w->accept_pending = false;
            /* uv_accept() inside also restarts polling the listener. */
            session_accept(w, (uv_stream_t *)&w->listener);
        }
    }
}

void proxy_admin_actions(struct proxy *p, unsigned actions)
{
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        pthread_mutex_lock(&w->pending_lock);
        /* The later of PAUSE and RESUME wins, as they were run in order. */
        if (actions & (ADMIN_ACT_PAUSE | ADMIN_ACT_RESUME))
            w->pending_actions &= ~(ADMIN_ACT_PAUSE | ADMIN_ACT_RESUME);
        w->pending_actions |= actions;
        pthread_mutex_unlock(&w->pending_lock);
        uv_async_send(&w->wake);
    }
}

static void on_wake(uv_async_t *h)
{
    struct worker *w = h->data;
    take_pending_config(w);
    take_pending_actions(w);
    processlist_serve(w); /* stats_mysql_processlist asked for our sessions */
    kill_serve(w);        /* KILL from a session of another worker */
    if (!w->draining)
        return;
    if (w->listening) {
        w->listening = false;
        uv_close((uv_handle_t *)&w->listener, NULL);
        int ms = w->cfg->shutdown_timeout_ms > 0 ? w->cfg->shutdown_timeout_ms : 10000;
        uv_timer_start(&w->drain_timer, on_drain_timeout, (uint64_t)ms, 0);
        for (struct session *s = w->sessions; s;) {
            struct session *next = s->next;
            session_drain(s);
            s = next;
        }
    }
    if (w->n_sessions == 0 && !uv_is_closing((uv_handle_t *)&w->wake))
        finish_worker(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* The pool's view of cfg's servers; *out (malloc'd) borrows cfg's strings. */
int proxy_server_specs(const struct admin_config *cfg, struct pool_server_spec **out)
{
    struct pool_server_spec *specs = calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof(*specs));
    if (!specs)
        return PROXY_ENOMEM;
    for (size_t i = 0; i < cfg->n_servers; i++) {
        const struct admin_server *sv = &cfg->servers[i];
        specs[i].hostgroup = sv->hostgroup;
        specs[i].host = sv->host;
        specs[i].port = sv->port;
        specs[i].max_connections = sv->max_connections;
        /* admin_server_status and pool_server_status list the states in the same order. */
        specs[i].status = (enum pool_server_status)sv->status;
        specs[i].weight = sv->weight;
        specs[i].max_latency_ms = sv->max_latency_ms;
    }
    *out = specs;
    return 0;
}

/* The pool's settings from cfg. Warm-up connections are opened as the first
 * user (by name) that may open backend connections: pooled connections
 * belong to one user, and that is the account a single-application fleet
 * uses; without such a user there is no warm-up. */
static void pool_settings_from(const struct admin_config *cfg, struct pool_settings *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->connect_timeout_ms =
        cfg->connect_timeout_server_ms > 0 ? cfg->connect_timeout_server_ms : 3000;
    ps->userdata_free = backend_free;
    ps->min_idle = cfg->min_idle_connections;
    ps->warmup_rate = cfg->connection_warmup_rate;
    ps->warmup_jitter_ms = cfg->connection_warmup_jitter_ms;
    ps->idle_timeout_ms = cfg->connection_idle_timeout_ms;
    ps->max_age_ms = cfg->connection_max_age_ms;
    ps->ping_interval_ms = cfg->ping_interval_server_ms;
    ps->test_on_borrow = cfg->test_on_borrow != 0;
    ps->fail_fast_queue_length = cfg->queue_fail_fast_length;
    ps->fail_fast_wait_ms = cfg->queue_fail_fast_wait_ms;
    ps->shun_on_failures = cfg->shun_on_failures;
    ps->shun_recovery_ms = cfg->shun_recovery_time_sec * 1000;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct admin_user *u = &cfg->users[i];
        if (u->active && u->backend && (u->password[0] || !u->has_password)) {
            snprintf(ps->warmup_user, sizeof(ps->warmup_user), "%s", u->username);
            snprintf(ps->warmup_password, sizeof(ps->warmup_password), "%s", u->password);
            break;
        }
    }
}

int proxy_publish(struct proxy *p, struct admin_config *cfg)
{
    /* Rules a reload left as they were keep counting where they were. */
    router_rules_carry_hits(cfg->rules, p->cfg ? p->cfg->rules : NULL);
    struct pool_settings ps;
    pool_settings_from(cfg, &ps);
    pool_configure(p->pool, &ps);
    memset(ps.warmup_password, 0, sizeof(ps.warmup_password));
    int rc = 0;
    if (p->monitor) {
        /* The monitor owns the effective list: it places and shuns servers
         * on top of the configured ones. */
        if (monitor_configure(p->monitor, cfg) != 0)
            rc = PROXY_ENOMEM;
    } else {
        struct pool_server_spec *specs;
        if (proxy_server_specs(cfg, &specs) != 0)
            return PROXY_ENOMEM;
        if (pool_update(p->pool, specs, cfg->n_servers) != 0) {
            log_error("runtime servers: the pool could not take every server");
            rc = PROXY_ENOMEM;
        }
        free(specs);
    }
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        pthread_mutex_lock(&w->pending_lock);
        struct admin_config *old = w->pending_cfg;
        w->pending_cfg = admin_config_ref(cfg);
        pthread_mutex_unlock(&w->pending_lock);
        if (old)
            admin_config_unref(old);
        uv_async_send(&w->wake);
    }
    admin_config_unref(p->cfg);
    p->cfg = admin_config_ref(cfg);
    return rc;
}

/* Worker i of p: its loop, its listening socket on host:port (bound, not
 * listening yet), its handles and its per-worker state. 0, or a PROXY_E* with a
 * message in errbuf. */
static int worker_init(struct proxy *p, int i, const char *host, int port, char *errbuf,
                       size_t errlen)
{
    struct worker *w = &p->workers[i];
    w->proxy = p;
    w->index = i;
    w->cfg = admin_config_ref(p->cfg);
    w->stats = stats_worker(p->stats, i);
    w->counters = stats_counters(w->stats);
    pthread_mutex_init(&w->pending_lock, NULL);
    if (uv_loop_init(&w->loop) != 0)
        goto oom;
    int fd = bind_reuseport(host, port, errbuf, errlen);
    if (fd < 0)
        return fd;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    if (uv_tcp_open(&w->listener, fd) != 0) {
        close(fd);
        snprintf(errbuf, errlen, "cannot listen on %s:%d (mysql-interfaces)", host, port);
        return PROXY_EIO;
    }
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    limits_guard_start(w);
    if (pool_worker_attach(p->pool, i, &w->loop) != 0)
        goto oom;
    w->scratch = router_scratch_new(65536);
    w->digest_stats = router_digest_stats_new(DIGESTS_PER_WORKER, DIGEST_TEXT_MAX);
    /* Sized on first use from the snapshot (backend.c), so that a reload
     * of mysql-query_cache_size_MB applies. */
    w->qcache = qcache_new(0);
    codec_buf_init(&w->qc_key);
    if (!w->scratch || !w->digest_stats || !w->qcache)
        goto oom;
    p->digest_stats[i] = w->digest_stats;
    return 0;
oom:
    snprintf(errbuf, errlen, "out of memory");
    return PROXY_ENOMEM;
}

/* The first mysql-interfaces entry (the others are not served yet). */
static int client_interface(const struct admin_config *cfg, char *host, size_t hostlen, int *port,
                            char *errbuf, size_t errlen)
{
    if (admin_first_hostport(cfg->mysql_interfaces, host, hostlen, port) != 0) {
        snprintf(errbuf, errlen, "invalid mysql-interfaces '%s'", cfg->mysql_interfaces);
        return PROXY_EINVAL;
    }
    return 0;
}

static int proxy_init(struct proxy *p, struct admin_config *cfg, char *errbuf, size_t errlen)
{
    struct pool_server_spec *specs = NULL;
    p->cfg = admin_config_ref(cfg);
    p->nworkers = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (p->nworkers < 1)
        p->nworkers = 1;
    if (limits_init(p) != 0 || hostcache_init(p) != 0 || kill_reg_init(p) != 0 ||
        stats_new(p->nworkers, &p->stats) != 0 || proxy_server_specs(cfg, &specs) != 0)
        goto oom;
    struct pool_settings ps;
    pool_settings_from(cfg, &ps);
    p->pool = pool_new(specs, cfg->n_servers, p->nworkers, &ps);
    memset(ps.warmup_password, 0, sizeof(ps.warmup_password));
    free(specs);
    if (!p->pool)
        goto oom;
    pool_set_connect_error_hook(p->pool, errstats_connect_failed, p);
    char host[256];
    int port, rc = client_interface(cfg, host, sizeof(host), &port, errbuf, errlen);
    if (rc != 0)
        return rc;
    p->workers = calloc((size_t)p->nworkers, sizeof(*p->workers));
    p->digest_stats = calloc((size_t)p->nworkers, sizeof(*p->digest_stats));
    if (!p->pool || !p->workers || !p->digest_stats)
        goto oom;
    for (int i = 0; i < p->nworkers && rc == 0; i++)
        rc = worker_init(p, i, host, port, errbuf, errlen);
    snprintf(p->listen_name, sizeof(p->listen_name), "%s:%d", host, port);
    return rc;
oom:
    snprintf(errbuf, errlen, "out of memory");
    return PROXY_ENOMEM;
}

int proxy_new(struct admin_config *cfg, struct proxy **out, char *errbuf, size_t errlen)
{
    struct proxy *p = calloc(1, sizeof(*p));
    int rc = p ? proxy_init(p, cfg, errbuf, errlen) : PROXY_ENOMEM;
    if (rc != 0) {
        if (!p)
            snprintf(errbuf, errlen, "out of memory");
        proxy_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

int proxy_start(struct proxy *p)
{
    /* Bound in proxy_new, listening only now: the caller opens the admin
     * and metrics ports first, so "the client port answers" means every
     * port answers. The loops do not run yet, so this thread may touch
     * their handles. */
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        int rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
        if (rc != 0) {
            log_error("cannot listen on %s: %s", p->listen_name, uv_strerror(rc));
            return PROXY_EIO;
        }
        w->listening = true;
    }
    log_info("listening on %s with %d worker threads", p->listen_name, p->nworkers);
    for (int i = 0; i < p->nworkers; i++)
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            log_error("cannot start worker thread %d", i);
            abort(); /* start-up only: half a proxy is worse than none */
        }
    p->started = true;
    return 0;
}

void proxy_wait(struct proxy *p)
{
    if (!p->started)
        return;
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i].thread, NULL);
    p->started = false;
}

void proxy_set_monitor(struct proxy *p, struct monitor *m)
{
    p->monitor = m;
}

struct monitor *proxy_monitor(struct proxy *p)
{
    return p->monitor;
}

void proxy_qcache_figures(struct proxy *p, struct proxy_qcache_figures *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].qcache)
            qcache_stats_add(p->workers[i].qcache, out);
}

struct pool *proxy_pool(struct proxy *p)
{
    return p->pool;
}

struct router_digest_stats *const *proxy_digest_stats(struct proxy *p, size_t *n)
{
    *n = (size_t)p->nworkers;
    return p->digest_stats;
}

void proxy_stop(struct proxy *p)
{
    for (int i = 0; i < p->nworkers; i++) {
        __atomic_store_n(&p->workers[i].draining, true, __ATOMIC_RELEASE);
        uv_async_send(&p->workers[i].wake);
    }
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    if (p->workers) {
        for (int i = 0; i < p->nworkers; i++) {
            struct worker *w = &p->workers[i];
            if (!w->proxy)
                continue;
            /* Start-up failures leave handles open: close them first. */
            uv_walk(&w->loop, close_walk, NULL);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            if (uv_loop_close(&w->loop) != 0)
                log_warn("worker %d: loop closed with handles open", i);
            router_scratch_free(w->scratch);
            router_digest_stats_free(w->digest_stats);
            qcache_free(w->qcache);
            codec_buf_free(&w->qc_key);
            if (w->pending_cfg)
                admin_config_unref(w->pending_cfg);
            admin_config_unref(w->cfg);
            pthread_mutex_destroy(&w->pending_lock);
        }
        free(p->workers);
    }
    free(p->digest_stats);
    pool_free(p->pool);
    stats_free(p->stats);
    limits_free(p);
    kill_reg_free(p);
    hostcache_free(p);
    if (p->cfg)
        admin_config_unref(p->cfg);
    free(p);
}
