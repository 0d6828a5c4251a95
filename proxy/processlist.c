/*
 * stats_mysql_processlist: one row per client session, gathered from every
 * worker without touching another thread's sessions.
 *
 * A worker's sessions belong to its loop, so the main thread does not read
 * them; it asks. The exchange, per worker:
 *
 *   main    lock; plist_asked++ (atomic store); unlock; uv_async_send(wake)
 *   worker  on_wake -> processlist_serve: plist_asked != plist_answered, so
 *           it builds its rows (its own thread, no lock held), then under
 *           proxy.plist_lock stores them, sets plist_answered = plist_asked
 *           and broadcasts plist_cond
 *   main    waits on plist_cond until every worker answered or one second
 *           passed, and takes the rows of those that answered
 *
 * Why this way: the cost is paid only when an operator reads the table (no
 * per-statement lock or copy on the hot path, unlike a per-session snapshot
 * published on each state change), and each row is read by the thread that
 * owns the session, so it is consistent. A worker that is slow to answer
 * (or stopped) only delays the admin statement by the bound and is left
 * out; its late rows stay in its slot until the next request or
 * processlist_free, so nothing is written to memory the main thread gave
 * up on.
 */
#include "proxy/proxy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define WAIT_MS 1000

int processlist_init(struct proxy *p)
{
    pthread_condattr_t attr;

    p->start_ns = clock_now_ns();
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&p->plist_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&p->plist_lock, NULL) != 0) {
        pthread_cond_destroy(&p->plist_cond);
        return -1;
    }
    p->plist_ready = true;
    return 0;
}

void processlist_free(struct proxy *p)
{
    if (!p->plist_ready)
        return;
    for (int i = 0; p->workers && i < p->nworkers; i++) {
        free(p->workers[i].plist_rows);
        p->workers[i].plist_rows = NULL;
    }
    pthread_cond_destroy(&p->plist_cond);
    pthread_mutex_destroy(&p->plist_lock);
    p->plist_ready = false;
}

size_t processlist_info(const char *q, size_t len, char *out, size_t outlen)
{
    /* Operators read this table: passwords in the text never reach it. */
    return router_mask_secrets(q, len, out, outlen);
}

/* ------------------------------------------------------- worker side */

static const char *command_name(uint8_t cmd)
{
    switch (cmd) {
    case 0x02:
        return "Init DB";
    case 0x03:
        return "Query";
    case 0x04:
        return "Field List";
    case 0x09:
        return "Statistics";
    case 0x16:
        return "Prepare";
    case 0x17:
        return "Execute";
    case 0x18:
        return "Long Data";
    case 0x1a:
        return "Reset stmt";
    case 0x1c:
        return "Fetch";
    default:
        return "Command";
    }
}

/* "host:port" at the last ':' (pool writes "%s:%d"). */
static void split_host_port(const char *name, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    if (n >= hostlen)
        n = hostlen - 1;
    memcpy(host, name, n);
    host[n] = '\0';
    *port = colon ? atoi(colon + 1) : 0;
}

static void local_address(int fd, char *host, size_t hostlen, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    host[0] = '\0';
    *port = 0;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin6_port);
    }
}

/* The statement of the command in flight, or NULL. */
static const char *running_text(const struct session *s, size_t *len)
{
    if ((s->cmd == 0x03 || s->cmd == 0x16) && s->cmd_len > 5 && s->in.len >= s->cmd_len) {
        size_t n = codec_u24(s->in.data);
        *len = n ? n - 1 : 0;
        if (*len > s->cmd_len - 5)
            *len = s->cmd_len - 5;
        return (const char *)s->in.data + 5;
    }
    if (s->cmd == 0x17 && s->cur_stmt) {
        *len = s->cur_stmt->sql_len;
        return s->cur_stmt->sql;
    }
    return NULL;
}

static void fill_row(const struct worker *w, const struct session *s, uint64_t now,
                     struct admin_process *r)
{
    memset(r, 0, sizeof(*r));
    r->thread_id = w->index;
    r->session_id = s->id;
    snprintf(r->user, sizeof(r->user), "%s", s->username);
    snprintf(r->db, sizeof(r->db), "%s", s->schema);
    snprintf(r->cli_host, sizeof(r->cli_host), "%s", s->peer_ip);
    const char *colon = strrchr(s->peer, ':');
    r->cli_port = colon ? atoi(colon + 1) : 0;
    r->hostgroup = s->conn ? pool_conn_hostgroup(s->conn) : (s->user ? s->hostgroup : -1);
    if (s->conn) {
        r->has_backend = true;
        split_host_port(pool_conn_server_name(s->conn), r->srv_host, sizeof(r->srv_host),
                        &r->srv_port);
        local_address(pool_conn_fd(s->conn), r->l_srv_host, sizeof(r->l_srv_host), &r->l_srv_port);
    }
    uint64_t since = s->idle_since_ns;
    switch (s->state) {
    case SS_HANDSHAKE:
    case SS_AUTH_SWITCH:
        snprintf(r->command, sizeof(r->command), "Connect");
        since = 0;
        break;
    case SS_IDLE:
        snprintf(r->command, sizeof(r->command), "Sleep");
        break;
    default: {
        size_t len = 0;
        const char *q = running_text(s, &len);
        snprintf(r->command, sizeof(r->command), "%s", command_name(s->cmd));
        since = s->started_ns;
        if (q) {
            processlist_info(q, len, r->info, sizeof(r->info));
            r->has_info = true;
        }
        break;
    }
    }
    r->time_ms = since && now > since ? (int64_t)((now - since) / 1000000u) : 0;
}

void processlist_serve(struct worker *w)
{
    struct proxy *p = w->proxy;
    uint64_t asked = __atomic_load_n(&w->plist_asked, __ATOMIC_ACQUIRE);
    /* plist_answered is written by this thread only: no lock to read it. */
    if (asked == w->plist_answered || !p->plist_ready)
        return;
    size_t n = 0, cap = (size_t)w->n_sessions;
    struct admin_process *rows = malloc((cap ? cap : 1) * sizeof(*rows));
    uint64_t now = clock_now_ns();
    for (const struct session *s = w->sessions; rows && s && n < cap; s = s->next)
        if (s->state != SS_CLOSING)
            fill_row(w, s, now, &rows[n++]);
    pthread_mutex_lock(&p->plist_lock);
    free(w->plist_rows);
    /* On ENOMEM the answer is no rows: the main thread need not wait. */
    w->plist_rows = rows;
    w->plist_n = rows ? n : 0;
    w->plist_answered = asked;
    pthread_cond_broadcast(&p->plist_cond);
    pthread_mutex_unlock(&p->plist_lock);
}

/* ---------------------------------------------------------- main side */

static bool all_answered(const struct proxy *p, const uint64_t *want)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].plist_answered != want[i])
            return false;
    return true;
}

int processlist_collect(struct proxy *p, struct admin_process **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!p->plist_ready)
        return 0;
    uint64_t *want = calloc((size_t)p->nworkers, sizeof(*want));
    struct admin_process **got = calloc((size_t)p->nworkers, sizeof(*got));
    size_t *got_n = calloc((size_t)p->nworkers, sizeof(*got_n));
    int rc = -1;
    if (!want || !got || !got_n)
        goto out;
    pthread_mutex_lock(&p->plist_lock);
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        want[i] = __atomic_load_n(&w->plist_asked, __ATOMIC_RELAXED) + 1;
        __atomic_store_n(&w->plist_asked, want[i], __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&p->plist_lock);
    for (int i = 0; i < p->nworkers; i++)
        uv_async_send(&p->workers[i].wake);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    deadline.tv_nsec += (long)(WAIT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->plist_lock);
    while (!all_answered(p, want))
        if (pthread_cond_timedwait(&p->plist_cond, &p->plist_lock, &deadline) == ETIMEDOUT)
            break;
    size_t total = 0;
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        if (w->plist_answered != want[i])
            continue; /* too slow: left out, its late rows stay in its slot */
        got[i] = w->plist_rows;
        got_n[i] = w->plist_n;
        w->plist_rows = NULL;
        w->plist_n = 0;
        total += got_n[i];
    }
    pthread_mutex_unlock(&p->plist_lock);

    *out = malloc((total ? total : 1) * sizeof(**out));
    if (!*out)
        goto out;
    for (int i = 0; i < p->nworkers; i++) {
        if (got_n[i])
            memcpy(*out + *n, got[i], got_n[i] * sizeof(**out));
        *n += got_n[i];
    }
    rc = 0;
out:
    for (int i = 0; got && i < p->nworkers; i++)
        free(got[i]);
    free(got);
    free(got_n);
    free(want);
    return rc;
}
