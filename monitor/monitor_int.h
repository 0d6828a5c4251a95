/*
 * Monitor internals shared by checks.c (the check threads) and monitor.c
 * (the main-thread side: results, decisions, pool and admin updates).
 * Nothing outside monitor/ includes this.
 */
#ifndef SLUICE_MONITOR_MONITOR_INT_H
#define SLUICE_MONITOR_MONITOR_INT_H

#include "monitor/monitor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What the check threads need of the configuration; copied under
 * monitor.lock so a thread never reads a snapshot being freed. */
struct mon_settings {
    char user[128];
    char password[128];
    int connect_interval_ms, connect_timeout_ms;
    int ping_interval_ms, ping_timeout_ms;
    int read_only_interval_ms, read_only_timeout_ms;
    int lag_interval_ms, lag_timeout_ms;
};

/* Indexes enum admin_monitor_check. */
enum mon_kind {
    MON_CONNECT = ADMIN_MONITOR_CONNECT,
    MON_PING = ADMIN_MONITOR_PING,
    MON_READ_ONLY = ADMIN_MONITOR_READ_ONLY,
    MON_LAG = ADMIN_MONITOR_REPL_LAG,
};

/* One check's outcome, queued from a check thread to the main loop. */
struct mon_result {
    struct mon_target *t;
    enum mon_kind kind;
    int64_t start_us; /* wall clock */
    int64_t took_us;
    bool ok;
    /* The server answered, even if with an error that is not about its
     * health (1040 Too many connections): a ping that got it is no failure. */
    bool alive;
    int64_t value; /* read_only, or lag in seconds */
    bool value_null;
    bool not_replica; /* SHOW SLAVE STATUS was empty */
    char gtid[256];   /* lag check of a replica: @@gtid_slave_pos ("" unknown) */
    char error[256];
    struct mon_result *next;
};

/* One server (host:port), however many hostgroups it is in. */
struct mon_target {
    struct monitor *m;
    char host[256];
    int port;
    pthread_t health, repl;
    int nthreads; /* started: 0, 1 or 2 */

    /* Under monitor.lock, read by the threads. */
    bool stop;
    bool check_read_only;
    bool check_lag;

    /* Main thread only. */
    bool retired; /* gone from the configuration; joined at close */
    bool configured;
    int ping_failures;
    bool ping_shunned;
    int64_t last_ping_failure_ms;
    int read_only;    /* -1 unknown */
    int max_lag;      /* smallest max_replication_lag > 0 of its reader entries; 0 none */
    bool lag_shunned; /* hysteresis state */
    int64_t lag;      /* seconds, -1 unknown */
    struct mon_target *next;
};

struct monitor {
    uv_loop_t *loop;
    uv_async_t async;
    struct admin_store *store;
    struct pool *pool;
    struct admin_config *cfg;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled on stop and settings changes */
    struct mon_settings settings;
    struct mon_result *head, *tail;
    size_t queued;

    struct mon_target *targets;
    struct admin_server *effective; /* last list given to the pool */
    size_t n_effective;
    bool applied;
    int64_t last_prune_ms;
};

/* Updates r->t's state from one check result (no logging to the store).
 * Main thread; exposed for the unit tests. */
void mon_result_apply(struct monitor *m, const struct mon_result *r);
/* The effective server list from m->cfg and the targets' states: *out
 * (malloc'd, *n rows) or -1 on allocation failure. Main thread. */
int mon_effective(const struct monitor *m, struct admin_server **out, size_t *n);

/* Start t's two check threads. Returns 0 or -1 (logged). Main thread. */
int mon_target_start(struct mon_target *t);
/* Wakes every check thread (under m->lock the caller has set what changed). */
void mon_wake(struct monitor *m);
/* Monotonic and wall clocks. */
int64_t mon_now_ms(void);
int64_t mon_wall_us(void);

#endif
