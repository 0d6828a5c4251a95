/*
 * connload: a small MySQL-protocol load tool on MariaDB Connector/C.
 *
 * Modes:
 *   cpr      connect-per-request: each client loops {connect, one query, close}
 *   storm    all clients start at once, connect, run N autocommit statements, close
 *   idle     open C connections, hold them idle, close them
 *   latency  one persistent connection doing query round trips
 *   spike    --base-clients run statements steadily; after --warm-seconds the number of
 *            clients jumps to --clients within --ramp-seconds and stays there for
 *            --seconds; statement latency is reported before and during the spike
 *   hold     like idle, but cheap enough for tens of thousands of connections: one thread
 *            drives every connection through Connector/C's non-blocking API
 *            (mysql_real_connect_start/cont, ...) on epoll; each connection runs --query
 *            once, then all are held idle for --seconds, optionally pinged, and closed
 *
 * cpr, storm, idle, latency and spike run one thread per client (small stacks) and live
 * here; hold runs one thread in all and lives in connload_hold.c.
 *
 * Every loop is bounded by a count and by time; every network wait is bounded by
 * MYSQL_OPT_CONNECT_TIMEOUT / MYSQL_OPT_READ_TIMEOUT / MYSQL_OPT_WRITE_TIMEOUT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "connload.h"

#include <errno.h>
#include <limits.h>
#include <mysql.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024)

static struct options opt = {
    .mode = MODE_CPR,
    .host = "127.0.0.1",
    .port = 3306,
    .user = "app",
    .password = "",
    .db = NULL,
    .query = "SELECT 1",
    .label = NULL,
    .clients = 8,
    .threads = 0,
    .base_clients = 10,
    .concurrency = 256,
    .seconds = 10.0,
    .warm_seconds = 3.0,
    .ramp_seconds = 1.0,
    .statements = 20,
    .max_requests = 5000000,
    .connect_timeout = 10,
    .read_timeout = 30,
    .json = 0,
    .verify = 0,
};

/* ---- time ---- */

double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- latency samples (microseconds) ---- */

void samples_add(struct samples *s, double seconds)
{
    double us = seconds * 1e6;

    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        uint32_t *nv = realloc(s->v, ncap * sizeof(*nv));

        if (!nv)
            return; /* drop the sample rather than fail the run */
        s->v = nv;
        s->cap = ncap;
    }
    if (us < 0)
        us = 0;
    if (us > (double)UINT32_MAX)
        us = (double)UINT32_MAX;
    s->v[s->n++] = (uint32_t)us;
}

static void samples_merge(struct samples *dst, const struct samples *src)
{
    if (src->n == 0)
        return;
    if (dst->n + src->n > dst->cap) {
        size_t ncap = dst->n + src->n;
        uint32_t *nv = realloc(dst->v, ncap * sizeof(*nv));

        if (!nv)
            return;
        dst->v = nv;
        dst->cap = ncap;
    }
    memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
    dst->n += src->n;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

void samples_sort(struct samples *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
}

/* Percentile (nearest rank) of sorted samples, in microseconds; -1 when empty. */
static double pct(const struct samples *s, double p)
{
    size_t idx;

    if (s->n == 0)
        return -1;
    idx = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (idx < 1)
        idx = 1;
    if (idx > s->n)
        idx = s->n;
    return (double)s->v[idx - 1];
}

static double avg(const struct samples *s)
{
    double sum = 0;

    if (s->n == 0)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return sum / (double)s->n;
}

/* ---- error counts by code ---- */

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

void err_add(struct errcount *e, unsigned int code, const char *msg)
{
    pthread_mutex_lock(&err_lock);
    e->total++;
    for (int i = 0; i < e->n; i++) {
        if (e->code[i] == code) {
            e->count[i]++;
            pthread_mutex_unlock(&err_lock);
            return;
        }
    }
    if (e->n < MAX_ERR_CODES) {
        e->code[e->n] = code;
        e->count[e->n] = 1;
        snprintf(e->msg[e->n], sizeof(e->msg[e->n]), "%s", msg ? msg : "");
        e->n++;
    }
    pthread_mutex_unlock(&err_lock);
}

void err_fprint_text(FILE *f, const char *title, const struct errcount *e)
{
    fprintf(f, "%-22s %ld\n", title, e->total);
    for (int i = 0; i < e->n; i++)
        fprintf(f, "  %-6u x %-8ld %s\n", e->code[i], e->count[i], e->msg[i]);
}

static void err_print_text(const char *title, const struct errcount *e)
{
    err_fprint_text(stdout, title, e);
}

void err_print_json(const struct errcount *e)
{
    printf("{");
    for (int i = 0; i < e->n; i++)
        printf("%s\"%u\":%ld", i ? "," : "", e->code[i], e->count[i]);
    printf("}");
}

/* ---- connection helpers ---- */

static MYSQL *open_conn(unsigned int *err, char *errmsg, size_t errlen)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int ct = opt.connect_timeout, rt = opt.read_timeout;

    *err = 0;
    if (!m) {
        *err = 2008; /* CR_OUT_OF_MEMORY */
        snprintf(errmsg, errlen, "mysql_init failed");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    if (!mysql_real_connect(m, opt.host, opt.user, opt.password, opt.db, opt.port, NULL, 0)) {
        *err = mysql_errno(m);
        if (*err == 0)
            *err = 2000; /* CR_UNKNOWN_ERROR */
        snprintf(errmsg, errlen, "%s", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* Run one statement and consume its result. Returns 0 or the error code. */
static unsigned int run_query(MYSQL *m, char *errmsg, size_t errlen)
{
    MYSQL_RES *res;
    unsigned int e;

    if (mysql_real_query(m, opt.query, strlen(opt.query)) != 0)
        goto fail;
    res = mysql_store_result(m);
    if (res) {
        mysql_free_result(res);
    } else if (mysql_field_count(m) != 0) {
        goto fail;
    }
    return 0;
fail:
    e = mysql_errno(m);
    if (e == 0)
        e = 2000;
    snprintf(errmsg, errlen, "%s", mysql_error(m));
    return e;
}

static int conn_lost(unsigned int e)
{
    return e == 2006 || e == 2013 || e == 2055;
}

/* ---- start gate: all threads wait here until the main thread opens it ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;
static double t_start, t_deadline;

static void gate_wait(void)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_lock);
    t_start = now_s();
    t_deadline = t_start + opt.seconds;
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* ---- per-thread state ---- */

struct worker {
    pthread_t tid;
    int started;
    int index;
    /* cpr / latency */
    struct samples lat;
    long ok;
    /* storm */
    struct samples connect_lat;
    long stmt_ok;
    long stmt_fail;
    long stmt_not_run;
    int connected;
    int all_ok;
    double t_end;
    /* idle */
    int first, count;
    MYSQL **conns;
    long opened;
    long alive;
    /* spike: late clients start start_at seconds after the gate; samples per phase */
    int late;
    double start_at;
    struct samples before, during;
    long ok_before, ok_during;
};

static struct errcount errs_connect, errs_stmt, errs_ping;
static long requests_cap_per_thread;

/* cpr: loop {connect, one query, close} until the deadline or the request cap */
static void *cpr_main(void *arg)
{
    struct worker *w = arg;
    char msg[256];

    mysql_thread_init();
    gate_wait();
    for (long i = 0; i < requests_cap_per_thread; i++) {
        double t0 = now_s();
        unsigned int e;
        MYSQL *m;

        if (t0 >= t_deadline)
            break;
        m = open_conn(&e, msg, sizeof(msg));
        if (!m) {
            err_add(&errs_connect, e, msg);
            /* avoid a hot spin against a refusing server */
            if (e == 2002 || e == 2003)
                usleep(1000);
            continue;
        }
        e = run_query(m, msg, sizeof(msg));
        mysql_close(m);
        if (e) {
            err_add(&errs_stmt, e, msg);
            continue;
        }
        samples_add(&w->lat, now_s() - t0);
        w->ok++;
    }
    w->t_end = now_s();
    mysql_thread_end();
    return NULL;
}

/* latency: query round trips on one persistent connection */
static void *latency_main(void *arg)
{
    struct worker *w = arg;
    char msg[256];
    unsigned int e;
    MYSQL *m;

    mysql_thread_init();
    m = open_conn(&e, msg, sizeof(msg));
    if (!m) {
        err_add(&errs_connect, e, msg);
        mysql_thread_end();
        return NULL;
    }
    /* a few warm-up round trips, not recorded */
    for (int i = 0; i < 10; i++)
        run_query(m, msg, sizeof(msg));
    gate_wait();
    for (long i = 0; i < requests_cap_per_thread; i++) {
        double t0 = now_s();

        if (t0 >= t_deadline)
            break;
        e = run_query(m, msg, sizeof(msg));
        if (e) {
            err_add(&errs_stmt, e, msg);
            if (conn_lost(e))
                break;
            continue;
        }
        samples_add(&w->lat, now_s() - t0);
        w->ok++;
    }
    w->t_end = now_s();
    mysql_close(m);
    mysql_thread_end();
    return NULL;
}

/* storm: connect at once, N autocommit statements, disconnect */
static void *storm_main(void *arg)
{
    struct worker *w = arg;
    char msg[256];
    unsigned int e;
    double t0;
    MYSQL *m;

    mysql_thread_init();
    gate_wait();
    t0 = now_s();
    m = open_conn(&e, msg, sizeof(msg));
    if (!m) {
        err_add(&errs_connect, e, msg);
        w->stmt_not_run = opt.statements;
        w->t_end = now_s();
        mysql_thread_end();
        return NULL;
    }
    samples_add(&w->connect_lat, now_s() - t0);
    w->connected = 1;
    for (long i = 0; i < opt.statements; i++) {
        double t1 = now_s();

        e = run_query(m, msg, sizeof(msg));
        if (e) {
            err_add(&errs_stmt, e, msg);
            w->stmt_fail++;
            if (conn_lost(e)) {
                w->stmt_not_run = opt.statements - i - 1;
                break;
            }
            continue;
        }
        samples_add(&w->lat, now_s() - t1);
        w->stmt_ok++;
    }
    mysql_close(m);
    w->all_ok = (w->stmt_ok == opt.statements);
    w->t_end = now_s();
    mysql_thread_end();
    return NULL;
}

/* idle: each thread opens its share of connections, all hold, then close */
static pthread_barrier_t idle_opened, idle_release;

static void *idle_main(void *arg)
{
    struct worker *w = arg;
    char msg[256];
    unsigned int e;

    mysql_thread_init();
    gate_wait();
    for (int i = 0; i < w->count; i++) {
        double t0 = now_s();
        MYSQL *m = open_conn(&e, msg, sizeof(msg));

        if (!m) {
            err_add(&errs_connect, e, msg);
            continue;
        }
        samples_add(&w->connect_lat, now_s() - t0);
        w->conns[w->opened++] = m;
    }
    pthread_barrier_wait(&idle_opened);
    pthread_barrier_wait(&idle_release);
    for (long i = 0; i < w->opened; i++) {
        if (opt.verify) {
            if (mysql_ping(w->conns[i]) == 0) {
                w->alive++;
            } else {
                err_add(&errs_stmt, mysql_errno(w->conns[i]), mysql_error(w->conns[i]));
            }
        }
        mysql_close(w->conns[i]);
    }
    mysql_thread_end();
    return NULL;
}

/* Sleep until the monotonic time t (bounded: at most a day, in steps of 50 ms). */
void sleep_until(double t)
{
    for (int i = 0; i < 24 * 3600 * 20; i++) {
        double left = t - now_s();

        if (left <= 0)
            return;
        usleep(left > 0.05 ? 50000 : (useconds_t)(left * 1e6));
    }
}

/*
 * spike: steady clients connect before the gate and run statements until the spike ends;
 * late clients connect at their start_at during the ramp and then do the same. Each
 * statement is filed under the phase in which it started: before the spike, or during it
 * (ramp included).
 */
static void *spike_main(void *arg)
{
    struct worker *w = arg;
    char msg[256];
    unsigned int e = 0;
    double t_spike, t_stop, t0;
    MYSQL *m = NULL;

    mysql_thread_init();
    if (!w->late) {
        m = open_conn(&e, msg, sizeof(msg));
        if (!m)
            err_add(&errs_connect, e, msg);
    }
    gate_wait();
    t_spike = t_start + opt.warm_seconds;
    t_stop = t_spike + opt.ramp_seconds + opt.seconds;
    if (w->late) {
        sleep_until(t_start + w->start_at);
        t0 = now_s();
        m = open_conn(&e, msg, sizeof(msg));
        if (!m)
            err_add(&errs_connect, e, msg);
        else
            samples_add(&w->connect_lat, now_s() - t0);
    }
    w->connected = m != NULL;
    for (long i = 0; m && i < requests_cap_per_thread; i++) {
        t0 = now_s();
        if (t0 >= t_stop)
            break;
        e = run_query(m, msg, sizeof(msg));
        if (e) {
            err_add(&errs_stmt, e, msg);
            w->stmt_fail++;
            if (conn_lost(e))
                break;
            continue;
        }
        if (t0 < t_spike) {
            samples_add(&w->before, now_s() - t0);
            w->ok_before++;
        } else {
            samples_add(&w->during, now_s() - t0);
            w->ok_during++;
        }
    }
    if (m)
        mysql_close(m);
    w->t_end = now_s();
    mysql_thread_end();
    return NULL;
}

/* ---- thread creation ---- */

static int start_workers(struct worker *ws, int n, void *(*fn)(void *))
{
    pthread_attr_t attr;
    int started = 0;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    for (int i = 0; i < n; i++) {
        int rc;

        ws[i].index = i;
        rc = pthread_create(&ws[i].tid, &attr, fn, &ws[i]);
        if (rc != 0) {
            fprintf(stderr, "connload: pthread_create #%d: %s\n", i, strerror(rc));
            continue;
        }
        ws[i].started = 1;
        started++;
    }
    pthread_attr_destroy(&attr);
    return started;
}

static void join_workers(struct worker *ws, int n)
{
    for (int i = 0; i < n; i++)
        if (ws[i].started)
            pthread_join(ws[i].tid, NULL);
}

/* ---- output helpers ---- */

void json_head(const struct options *o)
{
    printf("{\"mode\":\"%s\",", o->mode_name);
    if (o->label)
        printf("\"label\":\"%s\",", o->label);
    printf("\"host\":\"%s\",\"port\":%u,\"clients\":%d,", o->host, o->port, o->clients);
}

static void json_num(const char *key, double v, int comma)
{
    if (v < 0)
        printf("\"%s\":null%s", key, comma ? "," : "");
    else
        printf("\"%s\":%.3f%s", key, v, comma ? "," : "");
}

void json_pcts(const char *name, const struct samples *s, int scale_ms)
{
    double d = scale_ms ? 1000.0 : 1.0;

    printf("\"%s\":{\"n\":%zu,", name, s->n);
    json_num("avg", avg(s) / d, 1);
    json_num("p50", pct(s, 50) / d, 1);
    json_num("p95", pct(s, 95) / d, 1);
    json_num("p99", pct(s, 99) / d, 1);
    json_num("max", pct(s, 100) / d, 0);
    printf("}");
}

void text_pcts(const char *name, const struct samples *s, int scale_ms)
{
    double d = scale_ms ? 1000.0 : 1.0;
    const char *u = scale_ms ? "ms" : "us";

    if (s->n == 0) {
        printf("%-22s n/a (no samples)\n", name);
        return;
    }
    printf("%-22s avg %.3f %s  p50 %.3f  p95 %.3f  p99 %.3f  max %.3f  (n=%zu)\n", name, avg(s) / d,
           u, pct(s, 50) / d, pct(s, 95) / d, pct(s, 99) / d, pct(s, 100) / d, s->n);
}

/* ---- modes ---- */

static int run_cpr_or_latency(void)
{
    int n = opt.mode == MODE_LATENCY ? 1 : opt.clients;
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    struct samples all = {0};
    double t_end = 0, elapsed;
    long ok = 0;
    int started;

    if (!ws)
        return 1;
    if (opt.mode == MODE_LATENCY)
        opt.clients = 1;
    requests_cap_per_thread = opt.max_requests / n;
    if (requests_cap_per_thread < 1)
        requests_cap_per_thread = 1;
    started = start_workers(ws, n, opt.mode == MODE_LATENCY ? latency_main : cpr_main);
    if (opt.mode == MODE_LATENCY)
        usleep(200000); /* let the connection open and warm up before the clock starts */
    gate_release();
    join_workers(ws, n);
    for (int i = 0; i < n; i++) {
        samples_merge(&all, &ws[i].lat);
        ok += ws[i].ok;
        if (ws[i].t_end > t_end)
            t_end = ws[i].t_end;
        free(ws[i].lat.v);
    }
    if (t_end < t_start)
        t_end = now_s();
    elapsed = t_end - t_start;
    samples_sort(&all);
    if (opt.mode == MODE_CPR) {
        double rps = elapsed > 0 ? (double)ok / elapsed : 0;

        if (opt.json) {
            json_head(&opt);
            printf("\"threads_started\":%d,\"seconds\":%.3f,\"requests\":%ld,\"rps\":%.1f,"
                   "\"connect_errors\":%ld,\"connect_errors_by_code\":",
                   started, elapsed, ok, rps, errs_connect.total);
            err_print_json(&errs_connect);
            printf(",\"query_errors\":%ld,\"query_errors_by_code\":", errs_stmt.total);
            err_print_json(&errs_stmt);
            printf(",\"errors\":%ld,", errs_connect.total + errs_stmt.total);
            json_pcts("request_ms", &all, 1);
            printf("}\n");
        } else {
            printf("mode                   cpr (connect, '%s', close)\n", opt.query);
            printf("target                 %s:%u\n", opt.host, opt.port);
            printf("clients                %d (started %d)\n", opt.clients, started);
            printf("elapsed                %.3f s\n", elapsed);
            printf("requests ok            %ld\n", ok);
            printf("requests/s             %.1f\n", rps);
            err_print_text("connect errors", &errs_connect);
            err_print_text("query errors", &errs_stmt);
            text_pcts("request latency", &all, 1);
        }
    } else {
        double qps = elapsed > 0 ? (double)ok / elapsed : 0;

        if (opt.json) {
            json_head(&opt);
            printf("\"seconds\":%.3f,\"queries\":%ld,\"qps\":%.1f,\"errors\":%ld,"
                   "\"errors_by_code\":",
                   elapsed, ok, qps, errs_connect.total + errs_stmt.total);
            err_print_json(&errs_stmt);
            printf(",\"connect_errors_by_code\":");
            err_print_json(&errs_connect);
            printf(",");
            json_pcts("latency_us", &all, 0);
            printf("}\n");
        } else {
            printf("mode                   latency ('%s' on one connection)\n", opt.query);
            printf("target                 %s:%u\n", opt.host, opt.port);
            printf("elapsed                %.3f s\n", elapsed);
            printf("queries ok             %ld\n", ok);
            printf("queries/s              %.1f\n", qps);
            err_print_text("connect errors", &errs_connect);
            err_print_text("query errors", &errs_stmt);
            text_pcts("round trip", &all, 0);
        }
    }
    free(all.v);
    free(ws);
    return (ok > 0) ? 0 : 2;
}

static int run_storm(void)
{
    int n = opt.clients;
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    struct samples conn_all = {0}, stmt_all = {0};
    long connected = 0, clients_ok = 0, stmt_ok = 0, stmt_fail = 0, not_run = 0;
    double t_end = 0, elapsed, t_create;
    int started;

    if (!ws)
        return 1;
    t_create = now_s();
    started = start_workers(ws, n, storm_main);
    t_create = now_s() - t_create;
    usleep(100000); /* let the last threads reach the gate */
    gate_release();
    join_workers(ws, n);
    for (int i = 0; i < n; i++) {
        if (!ws[i].started)
            continue;
        samples_merge(&conn_all, &ws[i].connect_lat);
        samples_merge(&stmt_all, &ws[i].lat);
        connected += ws[i].connected;
        clients_ok += ws[i].all_ok;
        stmt_ok += ws[i].stmt_ok;
        stmt_fail += ws[i].stmt_fail;
        not_run += ws[i].stmt_not_run;
        if (ws[i].t_end > t_end)
            t_end = ws[i].t_end;
        free(ws[i].connect_lat.v);
        free(ws[i].lat.v);
    }
    if (t_end < t_start)
        t_end = now_s();
    elapsed = t_end - t_start;
    samples_sort(&conn_all);
    samples_sort(&stmt_all);
    if (opt.json) {
        json_head(&opt);
        printf("\"threads_started\":%d,\"statements_per_client\":%ld,\"total_s\":%.3f,"
               "\"connected\":%ld,\"connect_failed\":%ld,\"clients_ok\":%ld,"
               "\"statements_ok\":%ld,\"statements_failed\":%ld,\"statements_not_run\":%ld,"
               "\"connect_errors_by_code\":",
               started, opt.statements, elapsed, connected, errs_connect.total, clients_ok, stmt_ok,
               stmt_fail, not_run);
        err_print_json(&errs_connect);
        printf(",\"statement_errors_by_code\":");
        err_print_json(&errs_stmt);
        printf(",");
        json_pcts("connect_ms", &conn_all, 1);
        printf(",");
        json_pcts("statement_ms", &stmt_all, 1);
        printf("}\n");
    } else {
        printf("mode                   storm (%ld x '%s' per client)\n", opt.statements, opt.query);
        printf("target                 %s:%u\n", opt.host, opt.port);
        printf("clients                %d (threads started %d in %.3f s)\n", opt.clients, started,
               t_create);
        printf("total time             %.3f s\n", elapsed);
        printf("connected              %ld\n", connected);
        printf("clients fully ok       %ld\n", clients_ok);
        printf("statements ok          %ld\n", stmt_ok);
        printf("statements failed      %ld\n", stmt_fail);
        printf("statements not run     %ld\n", not_run);
        err_print_text("connect failures", &errs_connect);
        err_print_text("statement failures", &errs_stmt);
        text_pcts("connect time", &conn_all, 1);
        text_pcts("statement latency", &stmt_all, 1);
    }
    free(conn_all.v);
    free(stmt_all.v);
    free(ws);
    return (clients_ok == n) ? 0 : 2;
}

static int run_idle(void)
{
    int nt = opt.threads > 0 ? opt.threads : 32;
    struct worker *ws;
    struct samples conn_all = {0};
    long opened = 0, alive = 0;
    double t_open, t_close;
    int per, extra, first = 0, started;

    if (nt > opt.clients)
        nt = opt.clients;
    if (nt < 1)
        nt = 1;
    ws = calloc((size_t)nt, sizeof(*ws));
    if (!ws)
        return 1;
    per = opt.clients / nt;
    extra = opt.clients % nt;
    for (int i = 0; i < nt; i++) {
        ws[i].first = first;
        ws[i].count = per + (i < extra ? 1 : 0);
        first += ws[i].count;
        ws[i].conns = calloc((size_t)ws[i].count + 1, sizeof(MYSQL *));
        if (!ws[i].conns)
            return 1;
    }
    pthread_barrier_init(&idle_opened, NULL, (unsigned)nt + 1);
    pthread_barrier_init(&idle_release, NULL, (unsigned)nt + 1);
    started = start_workers(ws, nt, idle_main);
    if (started != nt) {
        fprintf(stderr, "connload: idle: could not start all threads\n");
        exit(1);
    }
    gate_release();
    pthread_barrier_wait(&idle_opened);
    t_open = now_s() - t_start;
    for (int i = 0; i < nt; i++)
        opened += ws[i].opened;
    fprintf(stderr, "connload: idle: %ld of %d connections open after %.3f s; holding %.1f s\n",
            opened, opt.clients, t_open, opt.seconds);
    /* machine-readable marker for scripts measuring the server/proxy meanwhile */
    fprintf(stderr, "CONNLOAD_IDLE_READY %ld\n", opened);
    fflush(stderr);
    {
        double until = now_s() + opt.seconds;

        for (long i = 0; i < 1000000 && now_s() < until; i++) {
            double left = until - now_s();

            usleep(left > 0.1 ? 100000 : (useconds_t)(left > 0 ? left * 1e6 : 0));
        }
    }
    t_close = now_s();
    pthread_barrier_wait(&idle_release);
    join_workers(ws, nt);
    t_close = now_s() - t_close;
    for (int i = 0; i < nt; i++) {
        samples_merge(&conn_all, &ws[i].connect_lat);
        alive += ws[i].alive;
        free(ws[i].connect_lat.v);
        free(ws[i].conns);
    }
    samples_sort(&conn_all);
    if (opt.json) {
        json_head(&opt);
        printf("\"threads\":%d,\"opened\":%ld,\"failed\":%ld,\"open_s\":%.3f,\"held_s\":%.3f,"
               "\"close_s\":%.3f,",
               nt, opened, errs_connect.total, t_open, opt.seconds, t_close);
        if (opt.verify)
            printf("\"alive_at_end\":%ld,", alive);
        printf("\"connect_errors_by_code\":");
        err_print_json(&errs_connect);
        printf(",");
        json_pcts("connect_ms", &conn_all, 1);
        printf("}\n");
    } else {
        printf("mode                   idle\n");
        printf("target                 %s:%u\n", opt.host, opt.port);
        printf("clients                %d (threads %d)\n", opt.clients, nt);
        printf("opened                 %ld in %.3f s\n", opened, t_open);
        printf("held                   %.1f s\n", opt.seconds);
        if (opt.verify)
            printf("alive at end (ping)    %ld\n", alive);
        printf("closed in              %.3f s\n", t_close);
        err_print_text("connect failures", &errs_connect);
        if (opt.verify)
            err_print_text("ping failures", &errs_stmt);
        text_pcts("connect time", &conn_all, 1);
    }
    free(conn_all.v);
    free(ws);
    return (opened == opt.clients && (!opt.verify || alive == opened)) ? 0 : 2;
}

static int run_spike(void)
{
    int n = opt.clients, nb = opt.base_clients < opt.clients ? opt.base_clients : opt.clients;
    struct worker *ws = calloc((size_t)n, sizeof(*ws));
    struct samples before = {0}, during = {0}, conn_all = {0};
    long ok_before = 0, ok_during = 0, fail = 0, connected = 0;
    double t_spike, t_stop, during_s;
    int started;

    if (!ws)
        return 1;
    requests_cap_per_thread = opt.max_requests / n;
    if (requests_cap_per_thread < 1)
        requests_cap_per_thread = 1;
    for (int i = nb; i < n; i++) {
        ws[i].late = 1;
        /* spread the late clients evenly over the ramp */
        ws[i].start_at = opt.warm_seconds + opt.ramp_seconds * (double)(i - nb) / (double)(n - nb);
    }
    started = start_workers(ws, nb, spike_main);
    usleep(300000); /* let the steady clients connect before the clock starts */
    started += start_workers(ws + nb, n - nb, spike_main);
    usleep(100000); /* let the late threads reach the gate */
    gate_release();
    t_spike = t_start + opt.warm_seconds;
    t_stop = t_spike + opt.ramp_seconds + opt.seconds;
    sleep_until(t_spike);
    /* machine-readable markers for scripts sampling the proxy meanwhile */
    fprintf(stderr, "CONNLOAD_SPIKE_START\n");
    fflush(stderr);
    sleep_until(t_stop);
    fprintf(stderr, "CONNLOAD_SPIKE_END\n");
    fflush(stderr);
    join_workers(ws, n);
    for (int i = 0; i < n; i++) {
        samples_merge(&before, &ws[i].before);
        samples_merge(&during, &ws[i].during);
        samples_merge(&conn_all, &ws[i].connect_lat);
        ok_before += ws[i].ok_before;
        ok_during += ws[i].ok_during;
        fail += ws[i].stmt_fail;
        connected += ws[i].connected;
        free(ws[i].before.v);
        free(ws[i].during.v);
        free(ws[i].connect_lat.v);
    }
    samples_sort(&before);
    samples_sort(&during);
    samples_sort(&conn_all);
    during_s = opt.ramp_seconds + opt.seconds;
    if (opt.json) {
        json_head(&opt);
        printf("\"base_clients\":%d,\"threads_started\":%d,\"connected\":%ld,\"warm_s\":%.3f,"
               "\"ramp_s\":%.3f,\"spike_s\":%.3f,\"statements_ok\":%ld,\"statements_failed\":%ld,"
               "\"qps_before\":%.1f,\"qps_during\":%.1f,\"connect_failed\":%ld,"
               "\"errors\":%ld,\"connect_errors_by_code\":",
               nb, started, connected, opt.warm_seconds, opt.ramp_seconds, opt.seconds,
               ok_before + ok_during, fail,
               opt.warm_seconds > 0 ? (double)ok_before / opt.warm_seconds : 0,
               (double)ok_during / during_s, errs_connect.total, errs_connect.total + fail);
        err_print_json(&errs_connect);
        printf(",\"statement_errors_by_code\":");
        err_print_json(&errs_stmt);
        printf(",");
        json_pcts("before_ms", &before, 1);
        printf(",");
        json_pcts("during_ms", &during, 1);
        printf(",");
        json_pcts("spike_connect_ms", &conn_all, 1);
        printf("}\n");
    } else {
        printf("mode                   spike ('%s'; %d steady clients, then %d)\n", opt.query, nb,
               n);
        printf("target                 %s:%u\n", opt.host, opt.port);
        printf("phases                 before %.1f s, ramp %.1f s, spike %.1f s\n",
               opt.warm_seconds, opt.ramp_seconds, opt.seconds);
        printf("clients connected      %ld of %d\n", connected, n);
        printf("statements ok          %ld before, %ld during\n", ok_before, ok_during);
        printf("statements failed      %ld\n", fail);
        err_print_text("connect failures", &errs_connect);
        err_print_text("statement failures", &errs_stmt);
        text_pcts("latency before", &before, 1);
        text_pcts("latency during", &during, 1);
        text_pcts("late connect time", &conn_all, 1);
    }
    free(before.v);
    free(during.v);
    free(conn_all.v);
    free(ws);
    return (errs_connect.total == 0 && fail == 0 && connected == n) ? 0 : 2;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: connload MODE [options]\n"
               "modes:\n"
               "  cpr      each client loops {connect, one query, close} for --seconds\n"
               "  storm    --clients start at once; each connects, runs --statements, closes\n"
               "  idle     open --clients connections, hold them --seconds, close\n"
               "  latency  --query round trips on one persistent connection for --seconds\n"
               "  spike    --base-clients run --query in a loop for --warm-seconds, then the\n"
               "           clients grow to --clients within --ramp-seconds and all run for\n"
               "           --seconds more; latency is reported before and during the spike\n"
               "  hold     open --clients connections with the non-blocking API in one thread\n"
               "           (--concurrency at a time), run --query once on each, hold them\n"
               "           --seconds, close\n"
               "options:\n"
               "  --host H              (default 127.0.0.1)\n"
               "  --port P              (default 3306)\n"
               "  --user U              (default app)\n"
               "  --password W          (default empty)\n"
               "  --db D                (default none)\n"
               "  --clients C           (default 8)\n"
               "  --seconds S           (default 10)\n"
               "  --statements N        storm: statements per client (default 20)\n"
               "  --query SQL           (default 'SELECT 1')\n"
               "  --threads T           idle: opening threads (default 32)\n"
               "  --base-clients B      spike: steady clients before the spike (default 10)\n"
               "  --warm-seconds S      spike: seconds before the spike (default 3)\n"
               "  --ramp-seconds S      spike: seconds to reach --clients (default 1)\n"
               "  --concurrency N       hold: connections opening at once (default 256)\n"
               "  --max-requests N      cpr/latency/spike: total request bound (default 5000000)\n"
               "  --connect-timeout S   (default 10)\n"
               "  --read-timeout S      read/write timeout (default 30)\n"
               "  --verify              idle, hold: ping every connection before closing it\n"
               "  --label L             label copied into the JSON line\n"
               "  --json                print one JSON line instead of text\n"
               "exit status: 0 all ok, 2 some requests/clients failed, 1 usage/setup error\n");
}

static long parse_long(const char *name, const char *v, long lo, long hi)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "connload: bad value for %s: '%s'\n", name, v);
        exit(1);
    }
    return x;
}

static double parse_double(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "connload: bad value for %s: '%s'\n", name, v);
        exit(1);
    }
    return x;
}

static void parse_args(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        exit(1);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        exit(0);
    }
    opt.mode_name = argv[1];
    if (!strcmp(argv[1], "cpr"))
        opt.mode = MODE_CPR;
    else if (!strcmp(argv[1], "storm"))
        opt.mode = MODE_STORM;
    else if (!strcmp(argv[1], "idle"))
        opt.mode = MODE_IDLE;
    else if (!strcmp(argv[1], "latency"))
        opt.mode = MODE_LATENCY;
    else if (!strcmp(argv[1], "spike"))
        opt.mode = MODE_SPIKE;
    else if (!strcmp(argv[1], "hold"))
        opt.mode = MODE_HOLD;
    else {
        fprintf(stderr, "connload: unknown mode '%s'\n", argv[1]);
        usage(stderr);
        exit(1);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;

        if (!strcmp(a, "--json")) {
            opt.json = 1;
            continue;
        }
        if (!strcmp(a, "--verify")) {
            opt.verify = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "connload: option %s needs a value\n", a);
            exit(1);
        }
        i++;
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = (unsigned)parse_long(a, v, 1, 65535);
        else if (!strcmp(a, "--user"))
            opt.user = v;
        else if (!strcmp(a, "--password"))
            opt.password = v;
        else if (!strcmp(a, "--db"))
            opt.db = v;
        else if (!strcmp(a, "--clients"))
            opt.clients = (int)parse_long(a, v, 1, 1000000);
        else if (!strcmp(a, "--seconds"))
            opt.seconds = parse_double(a, v, 0, 86400);
        else if (!strcmp(a, "--statements"))
            opt.statements = parse_long(a, v, 0, 100000000);
        else if (!strcmp(a, "--query"))
            opt.query = v;
        else if (!strcmp(a, "--threads"))
            opt.threads = (int)parse_long(a, v, 1, 100000);
        else if (!strcmp(a, "--base-clients"))
            opt.base_clients = (int)parse_long(a, v, 0, 1000000);
        else if (!strcmp(a, "--warm-seconds"))
            opt.warm_seconds = parse_double(a, v, 0, 3600);
        else if (!strcmp(a, "--ramp-seconds"))
            opt.ramp_seconds = parse_double(a, v, 0, 3600);
        else if (!strcmp(a, "--concurrency"))
            opt.concurrency = (int)parse_long(a, v, 1, 100000);
        else if (!strcmp(a, "--max-requests"))
            opt.max_requests = parse_long(a, v, 1, LONG_MAX);
        else if (!strcmp(a, "--connect-timeout"))
            opt.connect_timeout = (unsigned)parse_long(a, v, 1, 3600);
        else if (!strcmp(a, "--read-timeout"))
            opt.read_timeout = (unsigned)parse_long(a, v, 1, 3600);
        else if (!strcmp(a, "--label"))
            opt.label = v;
        else {
            fprintf(stderr, "connload: unknown option '%s'\n", a);
            usage(stderr);
            exit(1);
        }
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "connload: setrlimit(NOFILE): %s\n", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    int rc;

    parse_args(argc, argv);
    raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "connload: mysql_library_init failed\n");
        return 1;
    }
    switch (opt.mode) {
    case MODE_STORM:
        rc = run_storm();
        break;
    case MODE_IDLE:
        rc = run_idle();
        break;
    case MODE_SPIKE:
        rc = run_spike();
        break;
    case MODE_HOLD:
        rc = run_hold(&opt, &errs_connect, &errs_stmt, &errs_ping);
        break;
    default:
        rc = run_cpr_or_latency();
        break;
    }
    if (opt.json) {
        /* the JSON line counts errors by code; the first message of each code goes here */
        err_fprint_text(stderr, "connect errors", &errs_connect);
        err_fprint_text(stderr, "statement errors", &errs_stmt);
        if (opt.mode == MODE_HOLD && opt.verify)
            err_fprint_text(stderr, "ping errors", &errs_ping);
    }
    mysql_library_end();
    return rc;
}
