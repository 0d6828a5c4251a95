/*
 * ops/: the operator-facing listeners, on the main thread's loop.
 *
 *   admin_listener.c  the admin interface: MySQL protocol (codec/) over
 *                     net/, admin SQL through admin_execute(), new runtime
 *                     snapshots to proxy_publish()
 *   metrics.c         HTTP over net/: GET /metrics
 *   metrics_render.c  the Prometheus exposition, from the pool, stats/, the
 *                     monitor and the proxy's public figures
 *
 * They read and act on the proxy only through proxy/proxy.h, so the proxy
 * module is the client sessions and the backend relay, and nothing here
 * reaches into a worker.
 */
#ifndef SLUICE_OPS_H
#define SLUICE_OPS_H

#include "admin/admin.h"
#include "proxy/proxy.h"

#include <stddef.h>
#include <uv.h>

/* The admin interface (admin-mysql_ifaces of cfg): a MySQL-protocol
 * listener on loop (the main thread's, which owns store) that runs admin
 * SQL and publishes new runtime snapshots to p. Returns NULL with a message
 * in errbuf when it cannot listen. */
struct ops_admin;
struct ops_admin *ops_admin_listen(uv_loop_t *loop, struct admin_store *store, struct proxy *p,
                                   struct admin_config *cfg, char *errbuf, size_t errlen);
/* Closes the listener and its sessions (their handles close on loop). */
void ops_admin_close(struct ops_admin *admin);

/* Prometheus metrics over HTTP (ops/metrics.c): GET /metrics on the host
 * of cfg's first admin-mysql_ifaces entry, port admin-restapi_port, served on
 * loop (the main thread's). cfg is read during the call only; p must outlive
 * the listener. Returns NULL with errbuf empty when admin-restapi_enabled is
 * false, NULL with a message in errbuf when it cannot listen. */
struct ops_metrics;
struct ops_metrics *ops_metrics_listen(uv_loop_t *loop, struct proxy *p,
                                       const struct admin_config *cfg, char *errbuf, size_t errlen);
/* Closes the listener and its connections; freed once their handles have
 * closed on loop. NULL is fine. */
void ops_metrics_close(struct ops_metrics *m);

#endif
