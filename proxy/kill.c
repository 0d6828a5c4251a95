/*
 * KILL [HARD|SOFT] [CONNECTION|QUERY] <id> for the ids Sluice gives its
 * clients (the handshake's connection id, s->id, and SELECT CONNECTION_ID()
 * answered through route.c): a backend thread id means nothing to a client
 * whose statements run on pooled connections of several servers.
 *
 * Who owns which id: every logged-in session is listed in the proxy's
 * registry (id -> owner worker and user, one mutex, touched at login,
 * COM_CHANGE_USER, close and KILL only), so the killer answers at once:
 * 1094 for an id no session has, 1095 for a session of another user (as
 * MariaDB for a user without CONNECTION ADMIN: Sluice checks no privilege,
 * only the username), else OK. The kill itself is a message in the owner
 * worker's inbox (under the same mutex) and a wake of its loop: only the
 * owner touches its sessions (kill_serve() on its thread), as the
 * processlist asks workers for rows.
 *
 * On the owner: KILL QUERY sends KILL QUERY for the backend thread running
 * the session's statement over a separate connection (killq.c), so the
 * server answers the statement with its own 1317 and the session carries
 * on; a connection so signalled is closed rather than pooled when the
 * statement ends, so that a late kill cannot hit the next borrower. KILL
 * [CONNECTION] kills that backend thread, closes the backend connection
 * (the server rolls back an open transaction, as for a killed client) and
 * the session. KILL of one's own session is answered at once as MariaDB
 * does: 1317 for QUERY, 1927 and the closed connection otherwise.
 */
#include "proxy/killq.h"
#include "proxy/proxy_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KILL_BUCKETS 1024u

struct kill_msg {
    struct kill_msg *next;
    uint32_t id;
    bool query; /* KILL QUERY; else KILL CONNECTION */
};

struct kill_reg {
    pthread_mutex_t lock;
    struct kill_node *buckets[KILL_BUCKETS];
    struct kill_msg **inbox; /* [nworkers], LIFO; order does not matter */
    int nworkers;
};

int kill_reg_init(struct proxy *p)
{
    struct kill_reg *r = calloc(1, sizeof(*r));
    if (!r)
        return PROXY_ENOMEM;
    r->inbox = calloc((size_t)p->nworkers, sizeof(*r->inbox));
    if (!r->inbox) {
        free(r);
        return PROXY_ENOMEM;
    }
    r->nworkers = p->nworkers;
    pthread_mutex_init(&r->lock, NULL);
    p->kills = r;
    return 0;
}

void kill_reg_free(struct proxy *p)
{
    struct kill_reg *r = p->kills;
    if (!r)
        return;
    for (int i = 0; i < r->nworkers; i++)
        while (r->inbox[i]) {
            struct kill_msg *m = r->inbox[i];
            r->inbox[i] = m->next;
            free(m);
        }
    free(r->inbox);
    pthread_mutex_destroy(&r->lock);
    free(r);
    p->kills = NULL;
}

/* Caller holds the lock. */
static struct kill_node **find(struct kill_reg *r, uint32_t id)
{
    struct kill_node **pp = &r->buckets[id % KILL_BUCKETS];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

void kill_reg_enter(struct session *s)
{
    struct kill_reg *r = s->worker->proxy->kills;
    pthread_mutex_lock(&r->lock);
    if (!s->knode.listed) {
        s->knode.id = s->id;
        s->knode.worker = s->worker->index;
        s->knode.next = r->buckets[s->id % KILL_BUCKETS];
        r->buckets[s->id % KILL_BUCKETS] = &s->knode;
        s->knode.listed = true;
    }
    /* COM_CHANGE_USER makes the session another user's. */
    snprintf(s->knode.user, sizeof(s->knode.user), "%s", s->username);
    pthread_mutex_unlock(&r->lock);
}

void kill_reg_leave(struct session *s)
{
    if (!s->knode.listed)
        return;
    struct kill_reg *r = s->worker->proxy->kills;
    pthread_mutex_lock(&r->lock);
    struct kill_node **pp = find(r, s->knode.id);
    if (*pp == &s->knode)
        *pp = s->knode.next;
    s->knode.listed = false;
    pthread_mutex_unlock(&r->lock);
}

/* Owner of id and whether user may kill it: 0, or 1094/1095. Queues the
 * kill for the owner worker (*worker) when allowed and not the caller's own
 * session. */
static int post_kill(struct session *s, uint32_t id, bool query, int *worker)
{
    struct kill_reg *r = s->worker->proxy->kills;
    struct kill_msg *m = malloc(sizeof(*m));
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    struct kill_node *n = *find(r, id);
    if (!n)
        rc = 1094;
    else if (strcmp(n->user, s->username) != 0)
        rc = 1095;
    else if (id != s->id && m) {
        m->id = id;
        m->query = query;
        m->next = r->inbox[n->worker];
        r->inbox[n->worker] = m;
        m = NULL;
        *worker = n->worker;
    }
    pthread_mutex_unlock(&r->lock);
    free(m);
    return rc;
}

/* Kills the backend thread that runs s's statement now, if any. */
static void kill_backend_thread(struct session *s, bool query)
{
    if (s->state != SS_BACKEND || !s->conn)
        return;
    int rc = proxy_kill_thread_how(&s->worker->loop, pool_conn_server_name(s->conn),
                                   pool_conn_user(s->conn), s->user->password,
                                   pool_conn_thread_id(s->conn), query);
    if (rc != 0)
        slog_warn(s, "cannot start the kill of thread %lu on %s: %s", pool_conn_thread_id(s->conn),
                  pool_conn_server_name(s->conn), proxy_strerror(rc));
    else if (query)
        s->conn_killed = true;
}

static void apply(struct worker *w, const struct kill_msg *m)
{
    struct session *s = w->sessions;
    while (s && !(s->id == m->id && s->state != SS_CLOSING))
        s = s->next;
    if (!s)
        return; /* ended meanwhile */
    slog_info(s, "KILL %s from another session", m->query ? "QUERY" : "CONNECTION");
    kill_backend_thread(s, m->query);
    if (m->query)
        return;
    /* MariaDB just closes a killed client's socket, busy or not (its client
     * sees 2013), and rolls back: the backend connection is closed too. */
    backend_detach(s, false);
    session_close(s);
}

void kill_serve(struct worker *w)
{
    struct kill_reg *r = w->proxy->kills;
    pthread_mutex_lock(&r->lock);
    struct kill_msg *m = r->inbox[w->index];
    r->inbox[w->index] = NULL;
    pthread_mutex_unlock(&r->lock);
    while (m) {
        struct kill_msg *next = m->next;
        apply(w, m);
        free(m);
        m = next;
    }
}

/* Skips blanks; returns whether the word (case-insensitive) follows. */
static bool word(const char **p, const char *end, const char *w)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
    size_t n = strlen(w);
    if ((size_t)(end - *p) < n || strncasecmp(*p, w, n) != 0)
        return false;
    if (*p + n < end && !(p[0][n] == ' ' || p[0][n] == '\t' || p[0][n] == '\n'))
        return false;
    *p += n;
    return true;
}

/* KILL [HARD|SOFT] [CONNECTION|QUERY] <digits> [;]: the id, or -1. KILL
 * QUERY ID and KILL USER name the server's queries and users: they are
 * not Sluice's to answer and go on as before. */
long long kill_parse(const char *q, size_t len, bool *query)
{
    const char *p = q, *end = q + len;
    while (end > p && (end[-1] == ';' || end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\t'))
        end--;
    if (!word(&p, end, "kill"))
        return -1;
    if (!word(&p, end, "hard"))
        (void)word(&p, end, "soft");
    *query = word(&p, end, "query");
    if (!*query)
        (void)word(&p, end, "connection");
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
        p++;
    long long id = 0;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || id > 0xffffffffLL)
            return -1;
        id = id * 10 + (*p - '0');
    }
    return id <= 0xffffffffLL ? id : -1;
}

bool answer_kill(struct session *s, const char *q, size_t len)
{
    bool query = false;
    long long id = kill_parse(q, len, &query);
    if (id < 0)
        return false;
    char msg[96];
    int worker = -1;
    int rc = post_kill(s, (uint32_t)id, query, &worker);
    uint8_t seq = session_reply_seq(s);
    if (rc == 1094) {
        snprintf(msg, sizeof(msg), "Unknown thread id: %lld", id);
        session_send_error(s, seq, 1094, "HY000", msg);
    } else if (rc == 1095) {
        snprintf(msg, sizeof(msg), "You are not owner of thread %lld", id);
        session_send_error(s, seq, 1095, "HY000", msg);
    } else if (id == s->id && query) {
        session_send_error(s, seq, 1317, "70100", "Query execution was interrupted");
    } else if (id == s->id) {
        session_send_error(s, seq, 1927, "70100", "Connection was killed");
        s->close_after_write = true;
    } else {
        uint16_t status = SERVER_STATUS_AUTOCOMMIT_F | (s->in_txn ? SERVER_STATUS_IN_TRANS_F : 0);
        if (codec_write_ok_caps(&s->out, seq, s->caps, 0, 0, status, 0, NULL) != 0)
            s->close_after_write = true;
        if (worker >= 0)
            uv_async_send(&s->worker->proxy->workers[worker].wake);
    }
    session_command_done(s);
    return true;
}

/* SELECT CONNECTION_ID() (as typed, with an optional ';'), sent on as
 * SELECT <Sluice's id> AS `CONNECTION_ID()`: the backend's thread id would
 * name a pooled connection, neither stable nor valid for KILL. The server
 * still answers, so the column's type and name are what it would give.
 * Returns whether s->rewrite now holds the statement. */
bool connection_id_rewrite(struct session *s, const char *q, size_t len)
{
    static const char form[] = "select connection_id()";
    const size_t n = sizeof(form) - 1;
    while (len && (q[len - 1] == ';' || q[len - 1] == ' ' || q[len - 1] == '\n'))
        len--;
    while (len && (*q == ' ' || *q == '\n' || *q == '\t')) {
        q++;
        len--;
    }
    if (len != n || strncasecmp(q, form, n) != 0)
        return false;
    char sql[96];
    int sl = snprintf(sql, sizeof(sql), "SELECT %u AS `%.*s`", s->id, 15, q + 7);
    uint8_t hdr[5];
    codec_header_write(hdr, (uint32_t)sl + 1, s->in.data[3]);
    hdr[4] = CODEC_COM_QUERY;
    codec_buf_reset(&s->rewrite);
    return codec_buf_append(&s->rewrite, hdr, 5) == 0 &&
           codec_buf_append(&s->rewrite, sql, (size_t)sl) == 0;
}
