/*
 * The rows of stats_mysql_processlist: one per client session, built by
 * the worker that owns the session when the main loop asks (the exchange
 * is stats/processlist.c), so each row is read by the thread that owns the
 * session and is consistent, and the cost is paid only when an operator
 * reads the table: no per-statement lock or copy on the hot path.
 */
#include "proxy/proxy_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

size_t processlist_info(const char *q, size_t len, char *out, size_t outlen)
{
    /* Operators read this table: passwords in the text never reach it. */
    return router_mask_secrets(q, len, out, outlen);
}

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
        pool_split_name(pool_conn_server_name(s->conn), r->srv_host, sizeof(r->srv_host),
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
    if (!stats_plist_asked(w->stats))
        return;
    size_t n = 0, cap = (size_t)w->n_sessions;
    struct admin_process *rows = malloc((cap ? cap : 1) * sizeof(*rows));
    uint64_t now = clock_now_ns();
    for (const struct session *s = w->sessions; rows && s && n < cap; s = s->next)
        if (s->state != SS_CLOSING)
            fill_row(w, s, now, &rows[n++]);
    /* On ENOMEM the answer is no rows: the round need not wait for us. */
    stats_plist_publish(w->proxy->stats, w->stats, rows, n);
}

static void wake_worker(void *arg, int index)
{
    struct proxy *p = arg;
    uv_async_send(&p->workers[index].wake);
}

struct stats *proxy_stats(struct proxy *p)
{
    return p->stats;
}

int proxy_stats_open(struct proxy *p, uv_loop_t *main_loop)
{
    return stats_plist_open(p->stats, main_loop, wake_worker, p);
}

void proxy_stats_close(struct proxy *p)
{
    stats_plist_close(p->stats);
}
