/*
 * Backend connections: opening, watching and closing one.
 *
 * Opening drives Connector/C's non-blocking connect from the worker's loop,
 * in a slot already counted in the server's open figure:
 *
 *   pool_start_connect   mysql_init, options, mysql_real_connect_start;
 *        |               a uv_poll_t on the library's socket and a
 *        |               uv_timer_t for connect_timeout_ms
 *        v
 *   connect_poll_cb      mysql_real_connect_cont until it stops asking
 *        |               for events (connect_timer_cb cuts it short)
 *        v
 *   connect_finish       the timer closes; the result is counted on the
 *                        server (servers.c shuns it after errors in a row);
 *                        success lends the connection to its waiter, or
 *                        offers it (warm-up, cancelled waiter); failure
 *                        reroutes the waiter or tells it, and closes.
 *
 * An established connection keeps its uv_poll_t; conn_poll_cb passes
 * readiness to the borrower (BUSY) or the keep-alive ping (PINGING), and
 * closes an idle connection the server hung up on.
 *
 * Closing: the handles close first; the last close callback runs
 * mysql_close() (which closes the socket), frees the connection and gives
 * its slot to the next request (queue.c). So nothing is freed inside its
 * own callback stack, and the uv_poll_t is closed before its socket.
 *
 * The refuse_infile helpers make every MYSQL handle Sluice opens refuse a
 * server's LOCAL INFILE request.
 */
#include "pool/pool_int.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char backend_init_sql[] =
    "SET session_track_system_variables='*', session_track_schema=ON, "
    "session_track_state_change=ON, session_track_transaction_info='CHARACTERISTICS', "
    "progress_report_time=0";

/* ------------------------------------------------------- LOCAL INFILE */

/* A LOCAL INFILE request the library meets on its own (say, a rogue
 * server's answer to the init command) fails here, before any file is
 * opened, and the server gets an empty file. The return values are
 * Connector/C's handler contract, not pool codes. */
static int refuse_infile_init(void **ptr, const char *filename, void *userdata)
{
    (void)filename;
    (void)userdata;
    *ptr = NULL;
    return 1;
}

static int refuse_infile_read(void *ptr, char *buf, unsigned int len)
{
    (void)ptr;
    (void)buf;
    (void)len;
    return -1;
}

static void refuse_infile_end(void *ptr)
{
    (void)ptr;
}

static int refuse_infile_error(void *ptr, char *msg, unsigned int len)
{
    (void)ptr;
    snprintf(msg, len, "Sluice never sends a file to a server");
    return 2068; /* CR_LOAD_DATA_LOCAL_INFILE_REJECTED */
}

void pool_refuse_local_infile(MYSQL *m)
{
    mysql_set_local_infile_handler(m, refuse_infile_init, refuse_infile_read, refuse_infile_end,
                                   refuse_infile_error, NULL);
}

/* ------------------------------------------------------------- closing */

void pool_conn_free(struct pool_conn *c)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    if (c->mysql)
        mysql_close(c->mysql);
    if (c->userdata && p->settings.userdata_free)
        p->settings.userdata_free(c->userdata);
    free(c);
    pool_slot_freed(p, s);
}

static void conn_handle_closed(uv_handle_t *h)
{
    struct pool_conn *c = h->data;
    if (--c->pending_closes == 0 && c->state == CONN_CLOSING)
        pool_conn_free(c);
}

static void close_timer(struct pool_conn *c)
{
    if (!c->timer_inited)
        return;
    uv_timer_stop(&c->timer);
    c->timer.data = c;
    c->pending_closes++;
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    c->timer_inited = false;
}

/* Closes c's handles, then the MySQL connection, then frees it and gives its
 * slot to the next waiter. Runs on c's worker thread. */
void pool_conn_close(struct pool_conn *c)
{
    c->state = CONN_CLOSING;
    if (c->poll_inited) {
        c->poll.data = c;
        c->pending_closes++;
        uv_close((uv_handle_t *)&c->poll, conn_handle_closed);
        c->poll_inited = false;
    }
    close_timer(c);
    if (c->pending_closes == 0)
        pool_conn_free(c);
}

/* ------------------------------------------------------------ watching */

/* Readiness of an established connection: the borrower's business while
 * lent; while idle, readable means the server closed it or sent an error
 * (wait_timeout, KILL), so it cannot be lent any more. */
static void conn_poll_cb(uv_poll_t *h, int status, int events)
{
    struct pool_conn *c = h->data;
    if (c->state == CONN_BUSY) {
        if (c->io_cb)
            c->io_cb(c->io_arg, status, events);
        return;
    }
    if (c->state == CONN_PINGING) {
        pool_ping_on_io(c, status);
        return;
    }
    if (c->state != CONN_IDLE)
        return;
    struct server *s = c->server;
    pool_clist_remove(&s->idle[c->worker], c);
    __atomic_sub_fetch(&s->idle_count[c->worker], 1, __ATOMIC_RELAXED);
    pool_conn_close(c);
}

void pool_conn_watch(struct pool_conn *c, int events, pool_io_cb cb, void *arg)
{
    c->io_cb = cb;
    c->io_arg = arg;
    if (events == c->watch_events || !c->poll_inited)
        return;
    c->watch_events = events;
    c->poll.data = c;
    if (events)
        uv_poll_start(&c->poll, events, conn_poll_cb);
    else
        uv_poll_stop(&c->poll);
}

/* ------------------------------------------------------------- connect */

static void connect_ok(struct pool_conn *c, struct pool_waiter *w, uint64_t now)
{
    struct pool *p = c->pool;
    int max_age = pool_setting(&p->settings.max_age_ms);
    if (max_age > 0)
        c->expires = now + (uint64_t)max_age -
                     pool_random(&p->workers[c->worker], (uint64_t)max_age / 10 + 1);
    pool_server_connect_ok(c->server, c->warmup, now);
    uv_poll_stop(&c->poll);
    c->watch_events = 0;
    if (w && !w->cancelled) {
        pool_lend_to(c, w);
        return;
    }
    pool_waiter_free(w);
    pool_offer(c);
}

/* A connect that failed (counted, so that shun_on_failures errors in a row
 * shun the server) or was aborted: the requester tries another server of
 * its hostgroup, or gets msg. */
static void connect_failed(struct pool_conn *c, struct pool_waiter *w, const char *msg,
                           uint64_t now, bool count)
{
    struct pool *p = c->pool;
    struct server *s = c->server;
    pool_server_connect_failed(s, &p->workers[c->worker], c->warmup, now, count);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", msg ? msg : "connect failed");
    if (w && !w->cancelled) {
        if (!pool_reroute(p, c->worker, w, s)) {
            w->cb(w->arg, NULL, POOL_ECONNECT, buf);
            pool_waiter_free(w);
        }
    } else {
        pool_waiter_free(w);
    }
    pool_conn_close(c);
}

/* Ends c's connect: lends or offers it (err 0), or fails it (counted as a
 * connect error when count_error). */
static void connect_end(struct pool_conn *c, int err, const char *msg, bool count_error)
{
    struct pool_waiter *w = c->waiter;
    uint64_t now = clock_now_ms();
    pool_clist_remove(&c->pool->workers[c->worker].connecting, c);
    c->waiter = NULL;
    memset(c->password, 0, sizeof(c->password));
    close_timer(c);
    if (err == 0)
        connect_ok(c, w, now);
    else
        connect_failed(c, w, msg, now, count_error);
}

static void connect_finish(struct pool_conn *c, int err, const char *msg)
{
    connect_end(c, err, msg, true);
}

void pool_connect_abort(struct pool_conn *c, const char *why)
{
    connect_end(c, POOL_ECONNECT, why, false);
}

static int wait_events(int status)
{
    int ev = 0;
    if (status & MYSQL_WAIT_READ)
        ev |= UV_READABLE;
    if (status & MYSQL_WAIT_WRITE)
        ev |= UV_WRITABLE;
    if (status & MYSQL_WAIT_EXCEPT)
        ev |= UV_PRIORITIZED;
    return ev;
}

static void connect_step(struct pool_conn *c, int status);

/* Connector/C always asks a MariaDB server for every MariaDB extension it
 * knows (extended metadata, metadata caching, progress reports); the relay
 * needs to know which are on to undo them for clients that did not ask. */
static void record_caps(struct pool_conn *c)
{
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->caps = (uint32_t)(c->mysql->server_capabilities & c->mysql->client_flag);
    c->thread_id = mysql_thread_id(c->mysql);
    unsigned long ext = 0;
    if (!(c->mysql->server_capabilities & CLIENT_MYSQL) &&
        mariadb_get_infov(c->mysql, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext) == 0)
        c->ext_caps = (uint32_t)(ext & (MARIADB_CLIENT_SUPPORTED_FLAGS >> 32));
}

static void connect_poll_cb(uv_poll_t *h, int uverr, int events)
{
    struct pool_conn *c = h->data;
    int status = 0;
    if (uverr < 0)
        status |= MYSQL_WAIT_EXCEPT;
    if (events & UV_READABLE)
        status |= MYSQL_WAIT_READ;
    if (events & UV_WRITABLE)
        status |= MYSQL_WAIT_WRITE;
    if (events & UV_PRIORITIZED)
        status |= MYSQL_WAIT_EXCEPT;
    connect_step(c, status);
}

void pool_set_connect_error_hook(struct pool *pool,
                                 void (*hook)(void *arg, const struct pool_connect_error *e),
                                 void *arg)
{
    pool->error_hook = hook;
    pool->error_hook_arg = arg;
}

/* Tells the hook about a failed connect while c->waiter still names the
 * request it ran for. */
static void report_error(struct pool_conn *c, unsigned err_no, const char *msg)
{
    struct pool *p = c->pool;
    if (!p->error_hook)
        return;
    struct pool_waiter *w = c->waiter;
    struct pool_connect_error e = {
        .worker = c->worker,
        .hostgroup = c->server->hostgroup,
        .host = c->server->host,
        .port = c->server->port,
        .user = c->user,
        .err_no = err_no,
        .msg = msg,
        .requester = w && !w->cancelled ? w->arg : NULL,
    };
    p->error_hook(p->error_hook_arg, &e);
}

static void connect_timer_cb(uv_timer_t *h)
{
    struct pool_conn *c = h->data;
    char msg[320];
    report_error(c, 9001, "timeout connecting");
    snprintf(msg, sizeof(msg), "backend %s: timeout connecting", c->server->name);
    connect_finish(c, POOL_ECONNECT, msg);
}

static void connect_error(struct pool_conn *c)
{
    char msg[400];
    report_error(c, mysql_errno(c->mysql), mysql_error(c->mysql));
    snprintf(msg, sizeof(msg), "backend %s: %s (%u)", c->server->name, mysql_error(c->mysql),
             mysql_errno(c->mysql));
    connect_finish(c, POOL_ECONNECT, msg);
}

static void connect_step(struct pool_conn *c, int status)
{
    MYSQL *ret = NULL;
    status = mysql_real_connect_cont(&ret, c->mysql, status);
    if (status != 0) {
        uv_poll_start(&c->poll, wait_events(status), connect_poll_cb);
        return;
    }
    if (!ret) {
        connect_error(c);
        return;
    }
    record_caps(c);
    connect_finish(c, 0, NULL);
}

/* A connection to s in CONNECTING state, for w or for warm-up (w NULL, as
 * the warm-up user). NULL when out of memory. */
static struct pool_conn *conn_new(struct pool *p, int worker, struct server *s,
                                  struct pool_waiter *w)
{
    struct pool_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->pool = p;
    c->server = s;
    c->worker = worker;
    c->state = CONN_CONNECTING;
    c->fd = -1;
    c->waiter = w;
    if (w) {
        snprintf(c->user, sizeof(c->user), "%s", w->user);
        c->found_rows = w->found_rows;
        snprintf(c->password, sizeof(c->password), "%s", w->password);
    } else {
        c->warmup = true;
        pthread_mutex_lock(&p->cred_lock);
        snprintf(c->user, sizeof(c->user), "%s", p->settings.warmup_user);
        snprintf(c->password, sizeof(c->password), "%s", p->settings.warmup_password);
        pthread_mutex_unlock(&p->cred_lock);
    }
    return c;
}

/* No memory for the connection: the waiter is told and the slot given
 * back. */
static void conn_new_failed(struct server *s, struct pool_waiter *w)
{
    if (w)
        w->cb(w->arg, NULL, POOL_ENOMEM, "out of memory");
    pool_waiter_free(w);
    pthread_mutex_lock(&s->lock);
    s->open--;
    if (!w)
        s->warming--;
    pthread_mutex_unlock(&s->lock);
}

static void set_options(MYSQL *m, int timeout_ms)
{
    unsigned timeout_s = (unsigned)((timeout_ms + 999) / 1000);
    bool no = false;
    mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, backend_init_sql);
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &no);
    mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
    /* CLIENT_LOCAL_FILES (below) lets a client's own LOAD DATA LOCAL pass
     * through; the library itself never reads a file for the server. */
    pool_refuse_local_infile(m);
}

/* Starts the handshake; the rest runs from the loop (connect_step). */
static void connect_begin(struct pool_conn *c, uv_loop_t *loop)
{
    struct server *s = c->server;
    MYSQL *ret = NULL;
    unsigned long flags = CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_LOCAL_FILES;
    if (c->found_rows)
        flags |= CLIENT_FOUND_ROWS;
    int status = mysql_real_connect_start(&ret, c->mysql, s->host, c->user, c->password, NULL,
                                          (unsigned)s->port, NULL, flags);
    c->fd = (int)mysql_get_socket(c->mysql);
    if (status == 0 && !ret) {
        connect_error(c);
        return;
    }
    if (c->fd < 0 || uv_poll_init_socket(loop, &c->poll, c->fd) != 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "backend %s: cannot create socket", s->name);
        connect_finish(c, POOL_ECONNECT, msg);
        return;
    }
    c->poll_inited = true;
    c->poll.data = c;
    if (status == 0) {
        record_caps(c);
        connect_finish(c, 0, NULL);
        return;
    }
    uv_poll_start(&c->poll, wait_events(status), connect_poll_cb);
}

/* Opens a connection to s in a slot already counted in s->open: for w, or
 * for warm-up (w NULL) as the warm-up user. */
void pool_start_connect(struct pool *p, int worker, struct server *s, struct pool_waiter *w)
{
    struct pool_worker *pw = &p->workers[worker];
    struct pool_conn *c = conn_new(p, worker, s, w);
    if (!c) {
        conn_new_failed(s, w);
        return;
    }
    pool_clist_push(&pw->connecting, c); /* until connect_end() */
    c->mysql = mysql_init(NULL);
    if (!c->mysql) {
        connect_finish(c, POOL_ENOMEM, "out of memory");
        return;
    }
    int timeout_ms = pool_setting(&p->settings.connect_timeout_ms);
    if (timeout_ms <= 0)
        timeout_ms = 3000;
    set_options(c->mysql, timeout_ms);
    if (uv_timer_init(pw->loop, &c->timer) == 0) {
        c->timer_inited = true;
        c->timer.data = c;
        uv_timer_start(&c->timer, connect_timer_cb, (uint64_t)timeout_ms, 0);
    }
    connect_begin(c, pw->loop);
}
