/*
 * stats/'s private structures. Nothing outside stats/ includes this but its
 * unit tests.
 */
#ifndef SLUICE_STATS_INT_H
#define SLUICE_STATS_INT_H

#include "stats/stats.h"

#include <pthread.h>

/* The table of statements that pinned sessions is bounded: the least
 * counted entry makes room for a new one. */
#define PIN_DIGESTS 256
#define PIN_DIGEST_TEXT 256
/* Hostgroups counted per worker for stats_mysql_multiplexing. */
#define MUX_HOSTGROUPS 64

struct pin_digest {
    uint64_t count;
    uint64_t digest;
    int reason;
    char text[PIN_DIGEST_TEXT];
};

/* Pin figures of one worker. The gauges and counters follow stats_count's
 * rule; the digest table is behind a mutex that the worker takes only when
 * a session becomes pinned, a reader when the admin tables are filled. */
struct pin_stats {
    uint64_t pinned_now[STATS_PIN_N];
    uint64_t pinned_sessions; /* sessions with any reason now */
    uint64_t events[STATS_PIN_N];
    pthread_mutex_t lock; /* guards digests and n_digests */
    struct pin_digest *digests;
    size_t n_digests;
    /* Client sessions per hostgroup. An entry's hostgroup is written once,
     * before n_hostgroups (store-release) publishes it; readers load
     * n_hostgroups with acquire and only then read the entries. */
    struct {
        int hostgroup;
        uint64_t sessions;
    } hostgroups[MUX_HOSTGROUPS];
    int n_hostgroups;
};

/* One worker's error table (errors.c): rows[0..n) in no order, allocated
 * at the first error; lock guards rows and n. */
struct error_stats {
    bool inited; /* lock initialised (stats_new may stop before) */
    pthread_mutex_t lock;
    struct admin_mysql_error *rows;
    size_t n;
};

/* One worker's prepared statement counts (stmts.c); lock guards rows, n
 * and cap. Rows whose counts both reach zero are removed. */
struct stmt_stats {
    bool inited;
    pthread_mutex_t lock;
    struct admin_prepared_stmt *rows;
    size_t n, cap;
};

struct stats_worker {
    int index;
    struct error_stats errors;
    struct stmt_stats stmts;
    struct stats_counters counters;
    struct stats_cmd_counter cmds[STATS_CMD_TYPES];
    struct pin_stats pins;
    /* processlist.c: the main thread raises plist_asked; the worker sets
     * plist_answered when it publishes its rows (under stats.plist_lock). */
    uint64_t plist_asked;
    uint64_t plist_answered;
    struct admin_process *plist_rows;
    size_t plist_n;
};

struct stats {
    int nworkers;
    struct stats_worker *workers;
    uint64_t start_ns;

    /* processlist.c */
    pthread_mutex_t plist_lock; /* the workers' plist_* rows and answered */
    bool plist_open;
    uv_async_t plist_async; /* a worker published */
    uv_timer_t plist_timer; /* the bound of a round */
    void (*plist_wake)(void *arg, int worker);
    void *plist_wake_arg;
    uint64_t plist_round;                   /* the round asked last; 0: none yet */
    bool plist_busy;                        /* a round is out */
    struct stats_plist_wait *plist_waiters; /* answered by the round out */
    struct stats_plist_wait *plist_later;   /* asked after it went out */
    struct admin_process *plist_result;     /* the rows of the last round */
    size_t plist_result_n;
};

/* pins.c */
int pins_init(struct pin_stats *ps);
void pins_free(struct pin_stats *ps);

/* errors.c */
void errors_init(struct error_stats *es);
void errors_free(struct error_stats *es);

/* stmts.c */
void stmts_init(struct stmt_stats *ss);
void stmts_free(struct stmt_stats *ss);

#endif
