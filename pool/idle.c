/*
 * Snapshots of the idle lists, for stats_mysql_free_connections.
 *
 * A worker's idle list (server.idle[worker]) belongs to that worker's
 * thread and is walked and changed there without a lock, on every borrow
 * and return. Rather than put a lock on that path, each worker copies its
 * idle connections into its own snapshot at its 100 ms tick, under a mutex
 * (pool_worker.snap_lock) that only the copy and a reader take; a reader
 * (the admin thread) copies the snapshots out. The rows are small (no
 * pointer to a connection, which may be gone by the time they are read),
 * so a tick with a thousand idle connections copies about 150 KB.
 */
#include "pool/pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number of idle connections of worker, over every server. */
static size_t count_idle(struct pool *p, int worker, size_t nservers)
{
    size_t n = 0;
    for (size_t i = 0; i < nservers; i++)
        n += (size_t)p->servers[i].idle[worker].count;
    return n;
}

void pool_idle_snapshot(struct pool *p, struct pool_worker *pw, int worker)
{
    size_t nservers = __atomic_load_n(&p->n_servers, __ATOMIC_ACQUIRE);
    size_t n = count_idle(p, worker, nservers);

    pthread_mutex_lock(&pw->snap_lock);
    if (n > pw->snap_cap) {
        struct idle_row *grown = realloc(pw->snap, n * sizeof(*grown));
        if (!grown) {
            /* Out of memory: the table shows nothing rather than a stale set. */
            pw->snap_n = 0;
            pthread_mutex_unlock(&pw->snap_lock);
            return;
        }
        pw->snap = grown;
        pw->snap_cap = n;
    }
    size_t k = 0;
    for (size_t i = 0; i < nservers; i++) {
        for (struct pool_conn *c = p->servers[i].idle[worker].head; c && k < n; c = c->next) {
            struct idle_row *r = &pw->snap[k++];
            r->fd = c->fd;
            r->server = (uint32_t)i;
            r->idle_since = c->idle_since;
            memcpy(r->user, c->user, sizeof(r->user));
        }
    }
    pw->snap_n = k;
    pthread_mutex_unlock(&pw->snap_lock);
}

/* Appends worker w's snapshot to rows[*m..), growing rows (*cap). */
static int copy_worker(struct pool *p, int w, struct pool_idle_conn **rows, size_t *m, size_t *cap,
                       uint64_t now)
{
    struct pool_worker *pw = &p->workers[w];
    int rc = 0;
    pthread_mutex_lock(&pw->snap_lock);
    if (*m + pw->snap_n > *cap) {
        size_t want = *m + pw->snap_n;
        struct pool_idle_conn *grown = realloc(*rows, want * sizeof(*grown));
        if (!grown)
            rc = POOL_ENOMEM;
        else {
            *rows = grown;
            *cap = want;
        }
    }
    for (size_t i = 0; rc == 0 && i < pw->snap_n; i++) {
        const struct idle_row *r = &pw->snap[i];
        const struct server *s = &p->servers[r->server];
        struct pool_idle_conn *o = &(*rows)[(*m)++];
        o->worker = w;
        o->fd = r->fd;
        o->hostgroup = s->hostgroup;
        snprintf(o->host, sizeof(o->host), "%s", s->host);
        o->port = s->port;
        memcpy(o->user, r->user, sizeof(o->user));
        o->idle_ms = now > r->idle_since ? now - r->idle_since : 0;
    }
    pthread_mutex_unlock(&pw->snap_lock);
    return rc;
}

int pool_idle_conns(struct pool *pool, struct pool_idle_conn **out, size_t *n)
{
    struct pool_idle_conn *rows = NULL;
    size_t m = 0, cap = 0;
    uint64_t now = clock_now_ms();

    *out = NULL;
    *n = 0;
    for (int w = 0; w < pool->nworkers; w++) {
        if (copy_worker(pool, w, &rows, &m, &cap, now) != 0) {
            free(rows);
            return POOL_ENOMEM;
        }
    }
    *out = rows;
    *n = m;
    return 0;
}
