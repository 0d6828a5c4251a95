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

struct proxy;

/* Creates the proxy and binds its listeners (so port errors show at start).
 * cfg is referenced, not copied. Returns NULL with a message in errbuf. */
struct proxy *proxy_new(struct admin_config *cfg, char *errbuf, size_t errlen);
/* Runs the workers; returns when they have all stopped. Main thread. */
int proxy_run(struct proxy *p);
/* Asks the workers to drain and stop; safe from any thread. */
void proxy_stop(struct proxy *p);
void proxy_free(struct proxy *p);

#endif
