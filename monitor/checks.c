/*
 * The check threads. Each server has three:
 *
 *   health  connect check (a fresh connection, closed again) every
 *           connect interval; ping on a kept connection every ping
 *           interval (reconnecting first when it was lost: that connect
 *           is part of the ping and bounded by the ping timeout)
 *   prober  the liveness probe: the same ping with its own short interval
 *           and timeout on a connection of its own, so no other check ever
 *           delays it (liveness.c)
 *   repl    read_only (SELECT @@global.read_only) and replication lag
 *           (SHOW SLAVE STATUS) on a kept connection, when the main
 *           thread asked for them (check_read_only / check_lag)
 *
 * Every call goes through Connector/C's non-blocking API and poll() with a
 * deadline in milliseconds, so a black-holed server (SIGSTOP, a dropped
 * route) costs one timeout per check and never more. A connection that
 * timed out or failed is closed; its state is unknown.
 *
 * A thread sleeps on monitor.cond until its next check is due, stop is set
 * or the settings change; results are queued under monitor.lock and the main
 * loop is woken with uv_async_send (which coalesces).
 */
#include "common/common.h"
#include "monitor/monitor_int.h"

#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Results waiting for the main loop beyond this are dropped: a stalled
 * main loop must not grow memory without bound. */
#define MAX_QUEUED 4096

/* Waits for what status asks, until deadline_ms. Returns the status to pass
 * to the *_cont call, or 0 when the deadline passed. */
static int wait_io(MYSQL *my, int status, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - mon_now_ms();
        if (left <= 0)
            return 0;
        int timeout = (int)left;
        if (status & MYSQL_WAIT_TIMEOUT) {
            unsigned lib = mysql_get_timeout_value_ms(my);
            if ((int64_t)lib < left)
                timeout = (int)lib;
        }
        struct pollfd pfd = {.fd = mysql_get_socket(my), .events = 0};
        if (status & MYSQL_WAIT_READ)
            pfd.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE)
            pfd.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
            pfd.events |= POLLPRI;
        int rc = poll(&pfd, 1, timeout);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0) {
            if (status & MYSQL_WAIT_TIMEOUT && timeout < left)
                return MYSQL_WAIT_TIMEOUT;
            if (mon_now_ms() >= deadline_ms)
                return 0;
            continue;
        }
        int out = 0;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            out |= MYSQL_WAIT_READ;
        if (pfd.revents & (POLLOUT | POLLERR))
            out |= MYSQL_WAIT_WRITE;
        if (pfd.revents & POLLPRI)
            out |= MYSQL_WAIT_EXCEPT;
        return out ? out : status;
    }
}

/* Drives one non-blocking operation to its end. Returns false on timeout. */
#define DRIVE(my, deadline, start_call, cont_call)                                                 \
    do {                                                                                           \
        int st_ = (start_call);                                                                    \
        while (st_) {                                                                              \
            int ev_ = wait_io((my), st_, (deadline));                                              \
            if (!ev_)                                                                              \
                return false;                                                                      \
            st_ = (cont_call);                                                                     \
        }                                                                                          \
    } while (0)

static void copy_settings(struct monitor *m, struct mon_settings *out)
{
    pthread_mutex_lock(&m->lock);
    *out = m->settings;
    pthread_mutex_unlock(&m->lock);
}

/* Connects my (fresh from mysql_init) within timeout_ms. False: failed or
 * timed out, message in r->error. */
/* Options of a monitor connection; the library's own timeouts (whole
 * seconds, rounded up) are only a backstop, poll() enforces the ms. */
static void connect_options(MYSQL *my, int timeout_ms)
{
    unsigned secs = (unsigned)((timeout_ms + 999) / 1000);
    mysql_options(my, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    my_bool no = 0;
    mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &no);
    mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
    pool_refuse_local_infile(my);
}

/* What a failed connect says: codes below 2000 come from the server itself
 * (1040 Too many connections, 1045 access denied for a misconfigured
 * monitor user): it is up, so that is no reason to shun it. */
static void connect_error(MYSQL *my, struct mon_result *r)
{
    if (mysql_errno(my) > 0 && mysql_errno(my) < 2000)
        r->alive = true;
    snprintf(r->error, sizeof(r->error), "%u: %s", mysql_errno(my), mysql_error(my));
}

static bool do_connect(MYSQL *my, const struct mon_target *t, const struct mon_settings *st,
                       int timeout_ms, struct mon_result *r)
{
    connect_options(my, timeout_ms);
    int64_t deadline = mon_now_ms() + timeout_ms;
    MYSQL *ret = NULL;
    int status = mysql_real_connect_start(&ret, my, t->host, st->user, st->password, NULL,
                                          (unsigned)t->port, NULL, 0);
    while (status) {
        int ev = wait_io(my, status, deadline);
        if (!ev) {
            snprintf(r->error, sizeof(r->error), "timeout connecting after %d ms", timeout_ms);
            return false;
        }
        status = mysql_real_connect_cont(&ret, my, ev);
    }
    if (!ret) {
        connect_error(my, r);
        return false;
    }
    return true;
}

static bool ping(MYSQL *my, int64_t deadline)
{
    int ret = 0;
    DRIVE(my, deadline, mysql_ping_start(&ret, my), mysql_ping_cont(&ret, my, ev_));
    return ret == 0;
}

/* Runs sql and stores its result in *res (NULL for no result set). False
 * on timeout or error. */
static bool run_query(MYSQL *my, const char *sql, int64_t deadline, MYSQL_RES **res)
{
    int err = 0;
    DRIVE(my, deadline, mysql_real_query_start(&err, my, sql, strlen(sql)),
          mysql_real_query_cont(&err, my, ev_));
    if (err)
        return false;
    DRIVE(my, deadline, mysql_store_result_start(res, my), mysql_store_result_cont(res, my, ev_));
    return mysql_errno(my) == 0;
}

/* run_query() telling a timeout (*timed_out) from an error. */
static bool query(MYSQL *my, const char *sql, int64_t deadline, MYSQL_RES **res, bool *timed_out)
{
    *res = NULL;
    *timed_out = false;
    if (run_query(my, sql, deadline, res))
        return true;
    if (mon_now_ms() >= deadline)
        *timed_out = true;
    return false;
}

static void post(struct monitor *m, const struct mon_result *r)
{
    struct mon_result *copy = malloc(sizeof(*copy));
    if (!copy)
        return; /* one lost sample; the next check will tell */
    *copy = *r;
    copy->next = NULL;
    pthread_mutex_lock(&m->lock);
    if (m->queued >= MAX_QUEUED) {
        pthread_mutex_unlock(&m->lock);
        free(copy);
        return;
    }
    if (m->tail)
        m->tail->next = copy;
    else
        m->head = copy;
    m->tail = copy;
    m->queued++;
    pthread_mutex_unlock(&m->lock);
    uv_async_send(&m->async);
}

static void begin(struct mon_result *r, struct mon_target *t, enum mon_kind kind)
{
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->kind = kind;
    r->start_us = clock_wall_us();
    r->start_ms = mon_now_ms();
    r->took_us = (int64_t)clock_now_us();
}

static void end(struct monitor *m, struct mon_result *r)
{
    r->took_us = (int64_t)clock_now_us() - r->took_us; /* begin() stored the start there */
    r->end_ms = mon_now_ms();
    post(m, r);
}

/* Closes a kept connection whose state is unknown. mysql_close() sends
 * COM_QUIT, which only queues bytes on the socket, so it does not wait on a
 * hung server. */
static void drop(MYSQL **my)
{
    if (*my)
        mysql_close(*my);
    *my = NULL;
}

/* Makes sure *my is connected, within the deadline of the check. */
static bool ensure(MYSQL **my, struct mon_target *t, const struct mon_settings *st, int timeout_ms,
                   struct mon_result *r)
{
    if (*my)
        return true;
    *my = mysql_init(NULL);
    if (!*my) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        return false;
    }
    if (do_connect(*my, t, st, timeout_ms, r))
        return true;
    drop(my);
    return false;
}

static void check_connect(struct mon_target *t, const struct mon_settings *st)
{
    struct mon_result r;
    begin(&r, t, MON_CONNECT);
    MYSQL *my = NULL;
    r.ok = ensure(&my, t, st, st->connect_timeout_ms, &r);
    drop(&my);
    end(t->m, &r);
}

/* The ping check (MON_PING) or the liveness probe (MON_LIVENESS): COM_PING
 * on the kept connection within timeout_ms, connecting first if needed. */
static void check_ping(struct mon_target *t, const struct mon_settings *st, MYSQL **my,
                       enum mon_kind kind, int timeout_ms)
{
    struct mon_result r;
    begin(&r, t, kind);
    int64_t t0 = mon_now_ms();
    if (ensure(my, t, st, timeout_ms, &r)) {
        int64_t left = timeout_ms - (mon_now_ms() - t0);
        r.ok = ping(*my, mon_now_ms() + (left > 1 ? left : 1));
        if (!r.ok) {
            if (mysql_errno(*my))
                snprintf(r.error, sizeof(r.error), "%u: %s", mysql_errno(*my), mysql_error(*my));
            else
                snprintf(r.error, sizeof(r.error), "timeout after %d ms", timeout_ms);
            drop(my);
        }
    }
    r.alive = r.alive || r.ok;
    end(t->m, &r);
}

/* A check's query failed: says why in r and drops the connection, which a
 * failed or timed-out query leaves in an unknown state. */
static void query_failed(MYSQL **my, bool timed_out, int timeout_ms, struct mon_result *r)
{
    if (timed_out)
        snprintf(r->error, sizeof(r->error), "timeout after %d ms", timeout_ms);
    else
        snprintf(r->error, sizeof(r->error), "%u: %s", mysql_errno(*my), mysql_error(*my));
    drop(my);
}

static void check_read_only(struct mon_target *t, const struct mon_settings *st, MYSQL **my)
{
    struct mon_result r;
    begin(&r, t, MON_READ_ONLY);
    r.value_null = true;
    int64_t t0 = mon_now_ms();
    MYSQL_RES *res = NULL;
    bool timed_out = false;
    if (ensure(my, t, st, st->read_only_timeout_ms, &r)) {
        if (query(*my, "SELECT @@global.read_only", t0 + st->read_only_timeout_ms, &res,
                  &timed_out)) {
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            if (row && row[0]) {
                r.ok = true;
                r.value_null = false;
                r.value = atoi(row[0]) != 0;
            } else {
                snprintf(r.error, sizeof(r.error), "no value for @@global.read_only");
            }
        } else {
            query_failed(my, timed_out, st->read_only_timeout_ms, &r);
        }
    }
    if (res)
        mysql_free_result(res);
    end(t->m, &r);
}

/* Seconds_Behind_Master of the first replication connection; NULL while
 * the SQL or IO thread is stopped, which the main thread reads as lagging. */
static void read_lag(MYSQL_RES *res, struct mon_result *r)
{
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row) {
        r->not_replica = true;
        snprintf(r->error, sizeof(r->error), "not a replica: SHOW SLAVE STATUS is empty");
        return;
    }
    unsigned n = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(f[i].name, "Seconds_Behind_Master") == 0) {
            r->ok = true;
            r->value_null = row[i] == NULL;
            r->value = row[i] ? atoll(row[i]) : 0;
            return;
        }
    snprintf(r->error, sizeof(r->error), "SHOW SLAVE STATUS has no Seconds_Behind_Master");
}

/* What the replica has applied (its GTID position), for causal reads:
 * positions only grow, so one the monitor saw covering a session's write
 * stays covering it. Best effort: on any failure the position stays
 * unknown and causal reads wait on the replica as before. */
static void read_gtid_pos(MYSQL *my, int64_t deadline, struct mon_result *r)
{
    MYSQL_RES *res = NULL;
    bool timed_out = false;
    r->gtid[0] = '\0';
    if (!query(my, "SELECT @@global.gtid_slave_pos", deadline, &res, &timed_out) || !res)
        return;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row && row[0])
        snprintf(r->gtid, sizeof(r->gtid), "%s", row[0]);
    mysql_free_result(res);
}

static void check_lag(struct mon_target *t, const struct mon_settings *st, MYSQL **my)
{
    struct mon_result r;
    begin(&r, t, MON_LAG);
    r.value_null = true;
    int64_t t0 = mon_now_ms();
    MYSQL_RES *res = NULL;
    bool timed_out = false;
    if (ensure(my, t, st, st->lag_timeout_ms, &r)) {
        if (query(*my, "SHOW SLAVE STATUS", t0 + st->lag_timeout_ms, &res, &timed_out)) {
            if (res)
                read_lag(res, &r);
            else
                r.not_replica = true;
            if (r.ok && !r.not_replica)
                read_gtid_pos(*my, t0 + st->lag_timeout_ms, &r);
        } else {
            query_failed(my, timed_out, st->lag_timeout_ms, &r);
        }
    }
    if (res)
        mysql_free_result(res);
    end(t->m, &r);
}

/* Sleeps until due_ms, a stop or a wake-up. Returns false when stopping. */
static bool sleep_until(struct mon_target *t, int64_t due_ms)
{
    struct monitor *m = t->m;
    pthread_mutex_lock(&m->lock);
    while (!t->stop) {
        int64_t now = mon_now_ms();
        if (now >= due_ms)
            break;
        int64_t wake = due_ms;
        struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (wake % 1000) * 1000000};
        if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0)
            break; /* settings may have changed: recompute what is due */
    }
    bool go = !t->stop;
    pthread_mutex_unlock(&m->lock);
    return go;
}

/* Due times shrink with new, shorter intervals. */
static void clamp_due(int64_t *next, int interval_ms)
{
    int64_t latest = mon_now_ms() + interval_ms;
    if (*next > latest)
        *next = latest;
}

static void *health_main(void *arg)
{
    struct mon_target *t = arg;
    struct mon_settings st;
    MYSQL *my = NULL;
    int64_t next_connect = 0, next_ping = 0;

    mysql_thread_init();
    copy_settings(t->m, &st);
    while (sleep_until(t, next_connect < next_ping ? next_connect : next_ping)) {
        copy_settings(t->m, &st);
        int64_t now = mon_now_ms();
        if (now >= next_connect) {
            check_connect(t, &st);
            next_connect = now + st.connect_interval_ms;
        }
        now = mon_now_ms();
        if (now >= next_ping) {
            check_ping(t, &st, &my, MON_PING, st.ping_timeout_ms);
            next_ping = now + st.ping_interval_ms;
        }
        clamp_due(&next_connect, st.connect_interval_ms);
        clamp_due(&next_ping, st.ping_interval_ms);
    }
    drop(&my);
    mysql_thread_end();
    return NULL;
}

/* The liveness probe's connection and the operation it has in flight. A
 * probe that meets no answer within its timeout leaves its connect or
 * COM_PING running, and the next probe waits on the same one rather than
 * starting over: a server that is only slow (a handshake under load can
 * take longer than a probe's 500 ms) answers within the window, while a
 * frozen one stays silent through it. */
struct probe {
    MYSQL *my;
    int status; /* Connector/C's wait flags of the operation in flight, 0: none */
    bool connected;
    int64_t connect_started_ms;
    MYSQL *conn_ret;
    int ping_ret;
};

/* Starts a connect, or a COM_PING on the connection, unless one runs. */
static bool probe_start(struct probe *p, const struct mon_target *t, const struct mon_settings *st)
{
    if (p->status)
        return true;
    if (p->connected) {
        p->status = mysql_ping_start(&p->ping_ret, p->my);
        return true;
    }
    if (!(p->my = mysql_init(NULL)))
        return false;
    p->connect_started_ms = mon_now_ms();
    /* The library gives up only well after the window: the probe's slices
     * decide. */
    connect_options(p->my, st->liveness_window_ms * 4 + 1000);
    p->status = mysql_real_connect_start(&p->conn_ret, p->my, t->host, st->user, st->password, NULL,
                                         (unsigned)t->port, NULL, 0);
    return true;
}

/* Waits for the probe's operation until deadline: 1 answered, 0 still no
 * answer, -1 failed (r->error says why; the connection is gone). */
static int probe_wait(struct probe *p, int64_t deadline, struct mon_result *r)
{
    while (p->status) {
        int ev = wait_io(p->my, p->status, deadline);
        if (!ev)
            return 0;
        p->status = p->connected ? mysql_ping_cont(&p->ping_ret, p->my, ev)
                                 : mysql_real_connect_cont(&p->conn_ret, p->my, ev);
    }
    bool ok = p->connected ? p->ping_ret == 0 : p->conn_ret != NULL;
    if (ok) {
        p->connected = true;
        return 1;
    }
    if (p->connected)
        snprintf(r->error, sizeof(r->error), "%u: %s", mysql_errno(p->my), mysql_error(p->my));
    else
        connect_error(p->my, r);
    drop(&p->my);
    p->connected = false;
    return -1;
}

static void check_probe(struct mon_target *t, const struct mon_settings *st, struct probe *p)
{
    struct mon_result r;
    begin(&r, t, MON_LIVENESS);
    int rc = -1;
    if (probe_start(p, t, st))
        rc = probe_wait(p, mon_now_ms() + st->liveness_timeout_ms, &r);
    else
        snprintf(r.error, sizeof(r.error), "out of memory");
    if (rc == 0)
        snprintf(r.error, sizeof(r.error), "no answer within %d ms%s", st->liveness_timeout_ms,
                 p->connected ? "" : " (connecting)");
    if (rc == 0 && !p->connected)
        r.inconclusive = mon_now_ms() - p->connect_started_ms <
                         (int64_t)MON_LIVE_CONNECT_WINDOWS * st->liveness_window_ms;
    r.ok = rc == 1;
    r.alive = r.alive || r.ok;
    end(t->m, &r);
}

/* Probes every liveness interval; with liveness off, looks again at each
 * settings change (or once a second). */
static void *prober_main(void *arg)
{
    struct mon_target *t = arg;
    struct mon_settings st;
    struct probe p = {0};
    int64_t next = 0;

    mysql_thread_init();
    copy_settings(t->m, &st);
    for (;;) {
        int64_t due = st.liveness_interval_ms > 0 ? next : mon_now_ms() + 1000;
        if (!sleep_until(t, due))
            break;
        copy_settings(t->m, &st);
        int64_t now = mon_now_ms();
        if (st.liveness_interval_ms <= 0) {
            drop(&p.my); /* off: hold no connection */
            p = (struct probe){0};
            continue;
        }
        if (now >= next) {
            check_probe(t, &st, &p);
            next = now + st.liveness_interval_ms;
        }
        clamp_due(&next, st.liveness_interval_ms);
    }
    drop(&p.my);
    mysql_thread_end();
    return NULL;
}

static void *repl_main(void *arg)
{
    struct mon_target *t = arg;
    struct monitor *m = t->m;
    struct mon_settings st;
    MYSQL *my = NULL;
    int64_t next_ro = 0, next_lag = 0;

    mysql_thread_init();
    copy_settings(m, &st);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool ro = t->check_read_only, lag = t->check_lag;
        pthread_mutex_unlock(&m->lock);
        int64_t due = INT64_MAX / 2;
        if (ro)
            due = next_ro;
        if (lag && next_lag < due)
            due = next_lag;
        if (!ro && !lag)
            due = mon_now_ms() + 1000; /* nothing asked; look again at a wake-up */
        if (!sleep_until(t, due))
            break;
        copy_settings(m, &st);
        int64_t now = mon_now_ms();
        if (ro && now >= next_ro) {
            check_read_only(t, &st, &my);
            next_ro = now + st.read_only_interval_ms;
        }
        now = mon_now_ms();
        if (lag && now >= next_lag) {
            check_lag(t, &st, &my);
            next_lag = now + st.lag_interval_ms;
        }
        clamp_due(&next_ro, st.read_only_interval_ms);
        clamp_due(&next_lag, st.lag_interval_ms);
    }
    drop(&my);
    mysql_thread_end();
    return NULL;
}

int mon_target_start(struct mon_target *t)
{
    if (pthread_create(&t->health, NULL, health_main, t) != 0) {
        log_error("monitor: cannot start a check thread for %s:%d", t->host, t->port);
        return -1;
    }
    t->nthreads = 1;
    if (pthread_create(&t->repl, NULL, repl_main, t) != 0) {
        log_error("monitor: cannot start a check thread for %s:%d", t->host, t->port);
        return -1;
    }
    t->nthreads = 2;
    if (pthread_create(&t->prober, NULL, prober_main, t) != 0) {
        log_error("monitor: cannot start a check thread for %s:%d", t->host, t->port);
        return -1;
    }
    t->nthreads = 3;
    return 0;
}

void mon_wake(struct monitor *m)
{
    pthread_cond_broadcast(&m->cond);
}
