/*
 * connload's hold mode: tens of thousands of client connections from one thread, through
 * Connector/C's non-blocking API (mysql_real_connect_start/cont, mysql_real_query_start/
 * cont, mysql_store_result_start/cont, mysql_ping_start/cont) on epoll. A thread per
 * connection, as the other modes use, would cost a stack each.
 *
 * Each connection is a small state machine:
 *
 *   H_NEW -> H_CONNECT -> H_QUERY -> H_STORE -> H_IDLE -> (H_PING -> H_IDLE) -> closed
 *                 \___________\_________\____________________\____> H_FAILED
 *
 * hold_run() drives one phase (open, or ping with --verify) over all connections, at most
 * --concurrency in progress at once so that the target's listen backlog is not what gets
 * measured. A connection in progress is in hold.active and registered with epoll for what
 * the library waits for; when the library also asks for a timeout, its deadline is checked
 * after every epoll_wait() (20 ms at most). Failures are counted by code and the
 * connection closed at once; the held connections are closed with mysql_close() at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "connload.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum hstate {
    H_NEW,     /* not started yet (no MYSQL) */
    H_CONNECT, /* mysql_real_connect_start/cont in progress */
    H_QUERY,   /* mysql_real_query_start/cont of --query in progress */
    H_STORE,   /* mysql_store_result_start/cont of its result in progress */
    H_IDLE,    /* authenticated, ran --query; held with no I/O wanted */
    H_PING,    /* mysql_ping_start/cont in progress (--verify) */
    H_FAILED,  /* error counted, connection closed */
};

struct hconn {
    MYSQL *m;
    enum hstate state;
    int fd;          /* socket registered with epoll, or -1 */
    int want;        /* MYSQL_WAIT_* the library waits for */
    int slot;        /* index in hold.active, or -1 */
    double t0;       /* when connecting began */
    double deadline; /* when the library's pending timeout fires; 0 when none */
};

struct hold {
    const struct options *o;
    struct errcount *ec_connect; /* connect + authentication failures */
    struct errcount *ec_stmt;    /* failures of the first statement */
    struct errcount *ec_ping;    /* --verify ping failures */
    int ep;
    struct hconn *c;
    struct hconn **active; /* connections with an operation in progress */
    int nactive;
    struct samples connect_lat; /* connect + authentication */
    struct samples ready_lat;   /* connect + authentication + first statement */
    long idle;
    long alive;
};

static void hold_watch(struct hold *h, struct hconn *c, int status)
{
    struct epoll_event ev = {0};
    int fd = mysql_get_socket(c->m);
    int op = c->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (status & MYSQL_WAIT_READ)
        ev.events |= EPOLLIN;
    if (status & MYSQL_WAIT_WRITE)
        ev.events |= EPOLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        ev.events |= EPOLLPRI;
    ev.data.ptr = c;
    if (c->fd >= 0 && c->fd != fd)
        epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    /* the library may have closed and reopened a socket under the same number */
    if (epoll_ctl(h->ep, op, fd, &ev) != 0)
        epoll_ctl(h->ep, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    c->fd = fd;
    c->want = status;
    c->deadline = (status & MYSQL_WAIT_TIMEOUT)
                      ? now_s() + (double)mysql_get_timeout_value_ms(c->m) / 1000.0
                      : 0;
}

static void hold_unwatch(struct hold *h, struct hconn *c)
{
    if (c->fd >= 0)
        epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->fd = -1;
    c->want = 0;
    c->deadline = 0;
    if (c->slot >= 0) {
        h->active[c->slot] = h->active[--h->nactive];
        h->active[c->slot]->slot = c->slot;
        c->slot = -1;
    }
}

/* Counts error code (message msg) against c's state and closes c. */
static void hold_fail_as(struct hold *h, struct hconn *c, unsigned int code, const char *msg)
{
    struct errcount *ec = c->state == H_CONNECT ? h->ec_connect
                          : c->state == H_PING  ? h->ec_ping
                                                : h->ec_stmt;

    err_add(ec, code, msg);
    if (c->state == H_PING)
        h->idle--;
    hold_unwatch(h, c);
    mysql_close(c->m);
    c->m = NULL;
    c->state = H_FAILED;
}

static void hold_fail(struct hold *h, struct hconn *c)
{
    unsigned int e = mysql_errno(c->m);

    hold_fail_as(h, c, e ? e : 2000, mysql_error(c->m));
}

/* Run c's state machine as far as it goes without waiting; ev: MYSQL_WAIT_* that occurred,
 * 0 to start the current state's operation. */
static void hold_advance(struct hold *h, struct hconn *c, int ev)
{
    const struct options *o = h->o;
    MYSQL *ret;
    MYSQL_RES *res;
    int st, err;

    for (;;) {
        switch (c->state) {
        case H_CONNECT:
            ret = NULL;
            st = ev ? mysql_real_connect_cont(&ret, c->m, ev)
                    : mysql_real_connect_start(&ret, c->m, o->host, o->user, o->password, o->db,
                                               o->port, NULL, 0);
            if (st)
                break;
            if (!ret) {
                hold_fail(h, c);
                return;
            }
            samples_add(&h->connect_lat, now_s() - c->t0);
            c->state = H_QUERY;
            ev = 0;
            continue;
        case H_QUERY:
            err = 0;
            st = ev ? mysql_real_query_cont(&err, c->m, ev)
                    : mysql_real_query_start(&err, c->m, o->query, strlen(o->query));
            if (st)
                break;
            if (err) {
                hold_fail(h, c);
                return;
            }
            c->state = H_STORE;
            ev = 0;
            continue;
        case H_STORE:
            res = NULL;
            st =
                ev ? mysql_store_result_cont(&res, c->m, ev) : mysql_store_result_start(&res, c->m);
            if (st)
                break;
            if (res) {
                mysql_free_result(res);
            } else if (mysql_field_count(c->m) != 0) {
                hold_fail(h, c);
                return;
            }
            samples_add(&h->ready_lat, now_s() - c->t0);
            h->idle++;
            c->state = H_IDLE;
            hold_unwatch(h, c);
            return;
        case H_PING:
            err = 0;
            st = ev ? mysql_ping_cont(&err, c->m, ev) : mysql_ping_start(&err, c->m);
            if (st)
                break;
            if (err) {
                hold_fail(h, c);
                return;
            }
            h->alive++;
            c->state = H_IDLE;
            hold_unwatch(h, c);
            return;
        default:
            return;
        }
        hold_watch(h, c, st);
        return;
    }
}

/* Start connection c: H_NEW -> H_CONNECT. False when it cannot even be set up. */
static bool hold_start_connect(struct hold *h, struct hconn *c)
{
    const struct options *o = h->o;
    unsigned int ct = o->connect_timeout, rt = o->read_timeout;

    c->m = mysql_init(NULL);
    if (!c->m || mysql_options(c->m, MYSQL_OPT_NONBLOCK, 0) != 0) {
        err_add(h->ec_connect, 2008, "mysql_init or MYSQL_OPT_NONBLOCK failed");
        if (c->m)
            mysql_close(c->m);
        c->m = NULL;
        c->state = H_FAILED;
        return false;
    }
    mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    c->t0 = now_s();
    c->state = H_CONNECT;
    return true;
}

/*
 * Drive one phase over all n connections, at most --concurrency at a time: H_CONNECT opens
 * the H_NEW ones, H_PING pings the H_IDLE ones. At give_up (monotonic seconds) the
 * operations still in progress fail with a connload error.
 */
static void hold_run(struct hold *h, int n, enum hstate phase, double give_up)
{
    const struct options *o = h->o;
    struct epoll_event evs[256];
    int next = 0;

    while (next < n || h->nactive > 0) {
        int k;
        double now;

        while (h->nactive < o->concurrency && next < n) {
            struct hconn *c = &h->c[next++];

            if (phase == H_CONNECT) {
                if (c->state != H_NEW || !hold_start_connect(h, c))
                    continue;
            } else {
                if (c->state != H_IDLE)
                    continue;
                c->state = H_PING;
            }
            c->slot = h->nactive;
            h->active[h->nactive++] = c;
            hold_advance(h, c, 0);
        }
        k = epoll_wait(h->ep, evs, 256, 20);
        for (int i = 0; i < k; i++) {
            struct hconn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            int ev = 0;

            if (c->slot < 0)
                continue; /* finished earlier in this batch */
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                ev |= MYSQL_WAIT_READ;
            if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                ev |= MYSQL_WAIT_WRITE;
            if (e & EPOLLPRI)
                ev |= MYSQL_WAIT_EXCEPT;
            ev &= c->want;
            if (ev)
                hold_advance(h, c, ev);
        }
        now = now_s();
        /* backwards: hold_unwatch() moves the last entry into the freed slot */
        for (int i = h->nactive - 1; i >= 0; i--) {
            struct hconn *c = h->active[i];

            if (c->deadline > 0 && now >= c->deadline)
                hold_advance(h, c, MYSQL_WAIT_TIMEOUT);
        }
        if (now >= give_up) {
            while (h->nactive > 0) {
                hold_fail_as(h, h->active[h->nactive - 1], 2000,
                             "connload: phase time limit reached");
            }
            break;
        }
    }
}

/* This process's resident set size in KiB, or -1. */
static long self_rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int run_hold(const struct options *o, struct errcount *connect, struct errcount *stmt,
             struct errcount *ping)
{
    int n = o->clients;
    struct hold h = {.o = o, .ec_connect = connect, .ec_stmt = stmt, .ec_ping = ping};
    double t_start, t_open, t_close, t_ping = 0;
    long opened, rss_kb;
    int rc = 1;

    h.ep = epoll_create1(EPOLL_CLOEXEC);
    h.c = calloc((size_t)n, sizeof(*h.c));
    h.active = calloc((size_t)o->concurrency, sizeof(*h.active));
    if (h.ep < 0 || !h.c || !h.active) {
        fprintf(stderr, "connload: hold: out of memory or no epoll\n");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        h.c[i].fd = -1;
        h.c[i].slot = -1;
    }
    t_start = now_s();
    hold_run(&h, n, H_CONNECT, t_start + 900);
    t_open = now_s() - t_start;
    opened = h.idle;
    rss_kb = self_rss_kb();
    fprintf(stderr, "connload: hold: %ld of %d connections open after %.3f s; holding %.1f s\n",
            opened, n, t_open, o->seconds);
    /* machine-readable marker for scripts measuring the server/proxy meanwhile */
    fprintf(stderr, "CONNLOAD_IDLE_READY %ld\n", opened);
    fflush(stderr);
    sleep_until(now_s() + o->seconds);
    if (o->verify) {
        t_ping = now_s();
        hold_run(&h, n, H_PING, t_ping + 900);
        t_ping = now_s() - t_ping;
    }
    t_close = now_s();
    for (int i = 0; i < n; i++) {
        if (h.c[i].m)
            mysql_close(h.c[i].m);
        h.c[i].m = NULL;
    }
    t_close = now_s() - t_close;
    samples_sort(&h.connect_lat);
    samples_sort(&h.ready_lat);
    if (o->json) {
        json_head(o);
        printf("\"concurrency\":%d,\"opened\":%ld,\"failed\":%ld,\"open_s\":%.3f,\"held_s\":%.3f,"
               "\"close_s\":%.3f,\"self_rss_kb\":%ld,",
               o->concurrency, opened, connect->total + stmt->total, t_open, o->seconds, t_close,
               rss_kb);
        if (o->verify)
            printf("\"alive_at_end\":%ld,\"ping_s\":%.3f,\"ping_errors_by_code\":", h.alive,
                   t_ping);
        if (o->verify)
            err_print_json(ping);
        printf("%s\"connect_errors_by_code\":", o->verify ? "," : "");
        err_print_json(connect);
        printf(",\"statement_errors_by_code\":");
        err_print_json(stmt);
        printf(",");
        json_pcts("connect_ms", &h.connect_lat, 1);
        printf(",");
        json_pcts("ready_ms", &h.ready_lat, 1);
        printf("}\n");
    } else {
        printf("mode                   hold (non-blocking API, one thread)\n");
        printf("target                 %s:%u\n", o->host, o->port);
        printf("clients                %d (at most %d opening at once)\n", n, o->concurrency);
        printf("opened                 %ld in %.3f s\n", opened, t_open);
        printf("held                   %.1f s\n", o->seconds);
        printf("connload RSS           %ld KiB while holding\n", rss_kb);
        if (o->verify)
            printf("alive at end (ping)    %ld (%.3f s)\n", h.alive, t_ping);
        printf("closed in              %.3f s\n", t_close);
        err_fprint_text(stdout, "connect failures", connect);
        err_fprint_text(stdout, "statement failures", stmt);
        if (o->verify)
            err_fprint_text(stdout, "ping failures", ping);
        text_pcts("connect time", &h.connect_lat, 1);
        text_pcts("connect + statement", &h.ready_lat, 1);
    }
    rc = (opened == n && (!o->verify || h.alive == opened)) ? 0 : 2;
out:
    if (h.ep >= 0)
        close(h.ep);
    free(h.connect_lat.v);
    free(h.ready_lat.v);
    free(h.active);
    free(h.c);
    return rc;
}
