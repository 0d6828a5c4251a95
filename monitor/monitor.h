/*
 * Monitor: health checks of the backend servers and the failover decisions
 * taken from them (ProxySQL's monitor module).
 *
 * Checks run on threads of their own, three per server (host:port): one
 * for connect and ping, one for read_only and replication lag, one for the
 * liveness probe, so a hung server delays only its own checks and no slow
 * check ever holds up the probe that detects the hang. Every network wait
 * is bounded by the check's mysql-monitor_*_timeout (milliseconds: the
 * checks use Connector/C's non-blocking API with poll(), whose timeouts,
 * unlike MYSQL_OPT_*_TIMEOUT, are not whole seconds).
 *
 * Results reach the main loop through a uv_async_t. There the monitor
 * appends them to the admin log tables (mysql_server_*_log, pruned to
 * mysql-monitor_history), decides, and when the effective server list
 * changes gives it to pool_update() and shows it in runtime_mysql_servers:
 *   - read_only (mysql_replication_hostgroups): 0 puts the server in the
 *     writer hostgroup (and also in the reader one with
 *     mysql-monitor_writer_is_also_reader), 1 in the reader hostgroup;
 *   - ping: mysql-monitor_ping_max_failures failures in a row shun it; a
 *     good ping once shun_recovery_time_sec passed since the last failure
 *     brings it back;
 *   - liveness (liveness.c): every check counts; a connect or COM_PING
 *     without an answer is a failure, and no answer at all for
 *     mysql-monitor_liveness_window (1500 ms, 2 checks at least; with the
 *     500 ms liveness probe 1.5-2 s after a freeze) shuns the server as
 *     frozen or down; 2 answers in a row bring it back;
 *   - lag (servers outside writer hostgroups with max_replication_lag > 0):
 *     over max_replication_lag (or unknown because replication stopped)
 *     shuns it, back at max_replication_lag/2 or less; in between its
 *     weight shrinks linearly to 10%.
 * The pool gets OFFLINE_HARD for a ping or liveness shun (its lent
 * connections break, as ProxySQL kills them) and SHUNNED for a lag shun
 * (running statements finish); all show as SHUNNED.
 * A server configured OFFLINE_SOFT/OFFLINE_HARD stays so. One configured
 * SHUNNED is treated as ONLINE under watch, because runtime_mysql_servers
 * (which later loads rebuild from) shows the monitor's SHUNNED.
 *
 * Thread: every function here runs on the main loop's thread, which owns
 * the admin store; the check threads touch neither the store nor the pool.
 */
#ifndef SLUICE_MONITOR_MONITOR_H
#define SLUICE_MONITOR_MONITOR_H

#include "admin/admin.h"
#include "pool/pool.h"

#include <uv.h>

struct monitor;

/* Starts monitoring cfg's servers (no thread when mysql-monitor_enabled is
 * false: the configured list is then used as is) and applies the effective
 * list to pool at once. store and pool are borrowed and must outlive the
 * monitor; cfg is referenced. Returns NULL on allocation failure. */
struct monitor *monitor_new(uv_loop_t *loop, struct admin_store *store, struct pool *pool,
                            struct admin_config *cfg);

/* A new runtime snapshot (LOAD ... TO RUNTIME): servers and settings are
 * taken over, checks start or stop, the effective list is recomputed and
 * applied. Returns 0, or -1 when pool_update refused the list (logged). */
int monitor_configure(struct monitor *m, struct admin_config *cfg);

/* The effective status of (hostgroup, host, port) as shown in the stats
 * tables: "ONLINE", "SHUNNED", "OFFLINE_SOFT", "OFFLINE_HARD"; OFFLINE_SOFT
 * also for a server the pool still lists but the effective list no longer
 * places there (its connections drain). arg is the monitor (the shape
 * admin_sources.server_status expects). */
const char *monitor_server_status(void *arg, int hostgroup, const char *host, int port);

/* Stops the check threads (waits for them: at most the longest check
 * timeout) and closes the async handle; memory is freed by its close
 * callback, so run the loop afterwards. */
void monitor_close(struct monitor *m);

#endif
