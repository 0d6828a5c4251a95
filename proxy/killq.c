/*
 * Killing a backend thread from a worker without blocking its loop: the
 * blocking client calls (connect, KILL, close) run on libuv's thread pool
 * over a connection of their own, and the result is logged back on the
 * loop. Kept apart from proxy_int.h because <mysql.h> and the wire codec
 * define the same protocol names.
 */
#include "proxy/killq.h"

#include "common/common.h"
#include "pool/pool.h"
#include "proxy/errors.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A KILL issued from the libuv thread pool over a connection of its own:
 * blocking client calls are fine there and keep the worker loop free. */
struct kill_req {
    uv_work_t work;
    char host[256];
    unsigned port;
    char user[128];
    char password[128];
    unsigned long thread_id;
    bool query; /* KILL QUERY: the connection lives on */
    char server[300];
    char error[256];
};

static void kill_work(uv_work_t *req)
{
    struct kill_req *k = req->data;
    mysql_thread_init();
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 2;
    if (!m) {
        snprintf(k->error, sizeof(k->error), "out of memory");
        goto out;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    pool_refuse_local_infile(m);
    if (!mysql_real_connect(m, k->host, k->user, k->password, NULL, k->port, NULL, 0)) {
        snprintf(k->error, sizeof(k->error), "%s", mysql_error(m));
        goto out;
    }
    /* The connection is abandoned by the proxy anyway: KILL CONNECTION ends
     * the statement and the server thread in one go. */
    char sql[64];
    snprintf(sql, sizeof(sql), "KILL %s %lu", k->query ? "QUERY" : "CONNECTION", k->thread_id);
    if (mysql_query(m, sql) != 0 && mysql_errno(m) != 1094 /* unknown thread: already gone */)
        snprintf(k->error, sizeof(k->error), "%s", mysql_error(m));
out:
    memset(k->password, 0, sizeof(k->password));
    if (m)
        mysql_close(m);
    mysql_thread_end();
}

static void kill_done(uv_work_t *req, int status)
{
    struct kill_req *k = req->data;
    if (status == 0 && k->error[0])
        log_warn("cannot kill %s of thread %lu on %s: %s", k->query ? "the query" : "connection",
                 k->thread_id, k->server, k->error);
    else if (status == 0)
        log_info("killed %s of thread %lu on %s", k->query ? "the query" : "connection",
                 k->thread_id, k->server);
    free(k);
}

int proxy_kill_thread(uv_loop_t *loop, const char *name, const char *user, const char *password,
                      unsigned long thread_id)
{
    return proxy_kill_thread_how(loop, name, user, password, thread_id, false);
}

int proxy_kill_thread_how(uv_loop_t *loop, const char *name, const char *user, const char *password,
                          unsigned long thread_id, bool query)
{
    struct kill_req *k = calloc(1, sizeof(*k));
    if (!k)
        return PROXY_ENOMEM;
    snprintf(k->server, sizeof(k->server), "%s", name);
    const char *colon = strrchr(name, ':');
    size_t hlen = colon ? (size_t)(colon - name) : strlen(name);
    if (hlen >= sizeof(k->host) || !colon) {
        free(k);
        return PROXY_EINVAL;
    }
    memcpy(k->host, name, hlen);
    k->port = (unsigned)strtoul(colon + 1, NULL, 10);
    snprintf(k->user, sizeof(k->user), "%s", user);
    snprintf(k->password, sizeof(k->password), "%s", password);
    k->thread_id = thread_id;
    k->query = query;
    k->work.data = k;
    if (uv_queue_work(loop, &k->work, kill_work, kill_done) != 0) {
        memset(k->password, 0, sizeof(k->password));
        free(k);
        return PROXY_EIO;
    }
    return 0;
}
