/*
 * connload's shared declarations: options, latency samples and error counts, and the
 * helpers the modes in connload.c and connload_hold.c both use. Private to this tool.
 */
#ifndef SLUICE_CONNLOAD_H
#define SLUICE_CONNLOAD_H

#include <stdint.h>
#include <stdio.h>

#define MAX_ERR_CODES 64

enum mode { MODE_CPR, MODE_STORM, MODE_IDLE, MODE_LATENCY, MODE_SPIKE, MODE_HOLD };

struct options {
    enum mode mode;
    const char *mode_name;
    const char *host;
    unsigned int port;
    const char *user;
    const char *password;
    const char *db;
    const char *query;
    const char *label;
    int clients;
    int threads;
    int base_clients;
    int concurrency;
    double seconds;
    double warm_seconds;
    double ramp_seconds;
    long statements;
    long max_requests;
    unsigned int connect_timeout;
    unsigned int read_timeout;
    int json;
    int verify;
};

/* Latency samples in microseconds. */
struct samples {
    uint32_t *v;
    size_t n;
    size_t cap;
};

/* Errors counted by code, with the first message of each code; err_add() is thread-safe. */
struct errcount {
    unsigned int code[MAX_ERR_CODES];
    long count[MAX_ERR_CODES];
    char msg[MAX_ERR_CODES][256];
    int n;
    long total;
};

/* Monotonic time in seconds. */
double now_s(void);
/* Sleep until the monotonic time t (bounded: at most a day). */
void sleep_until(double t);
/* Add one sample given in seconds (dropped when memory runs out). */
void samples_add(struct samples *s, double seconds);
void samples_sort(struct samples *s);
void err_add(struct errcount *e, unsigned int code, const char *msg);
void err_fprint_text(FILE *f, const char *title, const struct errcount *e);
void err_print_json(const struct errcount *e);
/* JSON output: the opening of the line, then percentiles of sorted samples as an object. */
void json_head(const struct options *o);
void json_pcts(const char *name, const struct samples *s, int scale_ms);
void text_pcts(const char *name, const struct samples *s, int scale_ms);

/*
 * hold mode (connload_hold.c): opens o->clients connections with the non-blocking API in
 * the calling thread, holds them, closes them, prints the result. Errors are counted into
 * connect, stmt (the first statement) and ping (--verify). Returns the exit status: 0 all
 * ok, 2 some failed, 1 setup error.
 */
int run_hold(const struct options *o, struct errcount *connect, struct errcount *stmt,
             struct errcount *ping);

#endif
