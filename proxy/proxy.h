/*
 * Proxy: the MySQL-protocol listener and its worker threads.
 *
 * proxy_run() starts cfg->threads workers (0: one per core), each with its
 * own libuv loop and its own SO_REUSEPORT listening socket on
 * mysql-interfaces, and a shared backend pool built from cfg's servers. It
 * returns after proxy_stop() once every worker has drained: listeners
 * closed, idle sessions closed at once, sessions in a statement closed when
 * it ends or after mysql-shutdown_timeout.
 */
#ifndef SLUICE_PROXY_PROXY_H
#define SLUICE_PROXY_PROXY_H

#include "admin/admin.h"
#include "monitor/monitor.h"
#include "proxy/errors.h"

#include <uv.h>

struct proxy;

/* Creates the proxy in *out and binds its client sockets (so port errors
 * show at start) without listening yet: connections are refused until
 * proxy_start(). cfg is referenced, not copied. 0, or with *out NULL and a
 * message in errbuf: PROXY_EINVAL (a setting is wrong: mysql-interfaces),
 * PROXY_EIO (the port cannot be bound), PROXY_ENOMEM. */
int proxy_new(struct admin_config *cfg, struct proxy **out, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
/* Starts listening on the client port and starts the worker threads. Call
 * it once every other listener (admin, metrics) is open. Main thread.
 * Returns 0 or PROXY_EIO (the port cannot listen, logged). */
int proxy_start(struct proxy *p);
/* Waits until every worker has stopped (after proxy_stop). Main thread. */
void proxy_wait(struct proxy *p);
/* Makes cfg the runtime configuration (LOAD ... TO RUNTIME): the pool takes
 * the new server list at once; each worker swaps its snapshot on its next
 * loop turn and each session between two statements, so no connection is
 * dropped. Takes its own reference. Main thread. Returns 0 or PROXY_ENOMEM
 * when the pool could not take every server (those not added are reported
 * in the log). */
int proxy_publish(struct proxy *p, struct admin_config *cfg);
/* From now on proxy_publish() hands server lists to m, which applies them
 * to the pool with its own decisions. NULL detaches. Main thread. */
void proxy_set_monitor(struct proxy *p, struct monitor *m);
/* What the admin stats tables read: the pool and the workers' digest
 * statistics (n of them). Valid until proxy_free. */
struct pool *proxy_pool(struct proxy *p);
struct router_digest_stats *const *proxy_digest_stats(struct proxy *p, size_t *n);
/* Pin reasons, pinning statements and client sessions per hostgroup,
 * merged over every worker (admin_sources.session_stats; proxy is the
 * struct proxy). Fills *out with malloc'd arrays that
 * proxy_session_stats_free() releases. Returns 0, or PROXY_ENOMEM with
 * *out empty. Any thread; each figure is exact, the set is not one
 * instant. */
int proxy_session_stats(void *proxy, struct admin_session_stats *out);
void proxy_session_stats_free(void *proxy, struct admin_session_stats *st);
/* Rule hits, stats_mysql_global's figures, statement counters and the
 * processlist for the admin tables (admin_sources.proxy_stats; proxy is the
 * struct proxy): fills the parts of *out that what's ADMIN_PROXY_* bits
 * name, with malloc'd arrays that proxy_admin_stats_free() releases.
 * Returns 0, or PROXY_ENOMEM with *out empty. Main thread (it reads the
 * published rule set). The processlist is the one gathered last: ask for a
 * fresh one first (proxy_stats(), stats_plist_ask()). */
int proxy_admin_stats(void *proxy, unsigned what, struct admin_proxy_stats *out);
void proxy_admin_stats_free(void *proxy, struct admin_proxy_stats *st);
/* The session counters and the processlist exchange (stats/stats.h).
 * proxy_stats_open starts the exchange on the main loop (0, or a negative
 * stats_err); proxy_stats_close stops it before that loop's last run. */
struct stats *proxy_stats(struct proxy *p);
int proxy_stats_open(struct proxy *p, uv_loop_t *main_loop);
void proxy_stats_close(struct proxy *p);
/* Gives memory back to the system after a crowd of clients left: glibc
 * keeps the freed session buffers of its per-thread arenas, so after
 * 10,000 connections close the process would stay ~80 MiB larger. Call it
 * every few seconds from the main loop; it trims only when the number of
 * client connections fell by 1,000 or more since the peak it last saw
 * (a trim takes a few milliseconds, off the worker threads). */
void proxy_trim_memory(struct proxy *p);
/* Asks the workers to drain and stop; safe from any thread. */
void proxy_stop(struct proxy *p);
/* Carries out the ADMIN_ACT_* bits of an admin result (PROXYSQL PAUSE,
 * RESUME, FLUSH QUERY CACHE) on every worker, through its wake handle; each
 * worker acts on its own thread, soon after (not before) this returns.
 * Paused workers leave new connections unaccepted (they wait in the
 * listen backlog) until RESUME; sessions already connected go on. Main
 * thread. */
void proxy_admin_actions(struct proxy *p, unsigned actions);
void proxy_free(struct proxy *p);

/* What the operator listeners (ops/) read beyond the stats: the monitor
 * (NULL before proxy_set_monitor) and the query caches' figures summed over
 * the workers. Main thread. */
struct monitor *proxy_monitor(struct proxy *p);
struct proxy_qcache_figures {
    uint64_t hits;      /* lookups answered */
    uint64_t misses;    /* lookups not answered (expired entries included) */
    uint64_t stores;    /* entries added */
    uint64_t evictions; /* entries dropped to stay under the limit */
    uint64_t entries;   /* gauge */
    uint64_t bytes;     /* gauge: memory accounted to entries */
};
void proxy_qcache_figures(struct proxy *p, struct proxy_qcache_figures *out);

#endif
