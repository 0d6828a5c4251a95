/*
 * Monitor internals shared by checks.c (the check threads) and monitor.c
 * (the main-thread side: results, decisions, pool and admin updates).
 * Nothing outside monitor/ includes this.
 */
#ifndef SLUICE_MONITOR_MONITOR_INT_H
#define SLUICE_MONITOR_MONITOR_INT_H

#include "common/common.h"
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
    int liveness_interval_ms, liveness_timeout_ms; /* interval 0: no liveness probe */
    int liveness_window_ms;
    int read_only_interval_ms, read_only_timeout_ms;
    int lag_interval_ms, lag_timeout_ms;
};

/* Indexes enum admin_monitor_check. */
enum mon_kind {
    MON_CONNECT = ADMIN_MONITOR_CONNECT,
    MON_PING = ADMIN_MONITOR_PING,
    MON_READ_ONLY = ADMIN_MONITOR_READ_ONLY,
    MON_LAG = ADMIN_MONITOR_REPL_LAG,
    MON_LIVENESS, /* the liveness probe: a COM_PING with a short timeout, not logged */
};

/* One check's outcome, queued from a check thread to the main loop. */
struct mon_result {
    struct mon_target *t;
    enum mon_kind kind;
    int64_t start_us; /* wall clock */
    /* Monotonic (mon_now_ms), for liveness windows: read on the clock the
     * checks' deadlines use, so an unanswered check spans its timeout. */
    int64_t start_ms, end_ms;
    int64_t took_us;
    bool ok;
    /* The server answered, even if with an error that is not about its
     * health (1040 Too many connections): a ping that got it is no failure. */
    bool alive;
    /* A liveness probe still in its connect: a handshake may be slow on a
     * loaded server, so it counts for neither side until it has taken
     * longer than MON_LIVE_CONNECT_WINDOWS windows. */
    bool inconclusive;
    int64_t value; /* read_only, or lag in seconds */
    bool value_null;
    bool not_replica; /* SHOW SLAVE STATUS was empty */
    char gtid[256];   /* lag check of a replica: @@gtid_slave_pos ("" unknown) */
    char error[256];
    struct mon_result *next;
};

/* Answers in a row that bring a server shunned for silence back: one may be
 * a request that was waiting when a stalled server made a little progress. */
#define MON_LIVE_ANSWERS 2
/* How many liveness windows a probe's connect may take before it counts as
 * silence (a COM_PING on an open connection counts at once). */
#define MON_LIVE_CONNECT_WINDOWS 3
/* Unanswered checks in a row a silence needs, however long one took. */
#define MON_LIVE_MIN_FAILURES 2

/* Whether one server answers at all, from every check run against it
 * (mon_liveness_note()). A server that left every check unanswered for
 * window_ms (from the start of the first unanswered check to the end of
 * the last, MON_LIVE_MIN_FAILURES at least) is frozen or down: shunned, and
 * its lent connections broken. It returns after MON_LIVE_ANSWERS answers in
 * a row; one shunned again within recovery_ms of coming back (flapping)
 * also waits until recovery_ms passed since its last failure. */
struct mon_liveness {
    int failures;            /* checks in a row without an answer */
    int64_t silent_since_ms; /* start of the first of them */
    int answers;             /* answers in a row while shunned */
    bool shunned;            /* out of service until it answers again */
    bool damped;             /* shunned again soon after coming back: recovery waits */
    bool was_back;           /* back_ms is set */
    int64_t last_failure_ms; /* end of the last unanswered check */
    int64_t back_ms;         /* when it last came back */
};

/* What a liveness state change means to the caller (to log it). */
enum mon_live_event {
    MON_LIVE_SAME, /* nothing changed that the pool must know */
    MON_LIVE_SHUN, /* just shunned */
    MON_LIVE_BACK, /* just back */
};

/* Feeds one check outcome into l: answered or not, the check's start and
 * end (monotonic ms). Pure: no clock, no logging; the monitor and the unit
 * tests call it. */
enum mon_live_event mon_liveness_note(struct mon_liveness *l, bool answered, int64_t start_ms,
                                      int64_t end_ms, int64_t window_ms, int64_t recovery_ms);

/* Classifies a check result for liveness: 1 the server answered (even with
 * an error of its own, such as 1040), 0 it did not (timeout, refused, lost
 * connection), -1 it tells nothing (a read_only or lag query that failed or
 * timed out: a query may wait on a server lock while the server is alive,
 * whereas COM_PING and the handshake wait on nothing). */
int mon_result_answered(const struct mon_result *r);

/* One server (host:port), however many hostgroups it is in. */
struct mon_target {
    struct monitor *m;
    char host[256];
    int port;
    pthread_t health, repl, prober;
    int nthreads; /* started: 0 to 3 (health, repl, prober) */

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
    struct mon_liveness live;
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

/* Start t's three check threads. Returns 0 or -1 (logged). Main thread. */
int mon_target_start(struct mon_target *t);
/* Wakes every check thread (under m->lock the caller has set what changed). */
void mon_wake(struct monitor *m);
/* Monotonic and wall clocks. */
static inline int64_t mon_now_ms(void)
{
    return (int64_t)clock_now_ms();
}

#endif
