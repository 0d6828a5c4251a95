/*
 * ops/'s private declarations, shared by its files.
 */
#ifndef SLUICE_OPS_INT_H
#define SLUICE_OPS_INT_H

#include "codec/codec.h"
#include "common/common.h"
#include "net/net.h"
#include "ops/ops.h"
#include "stats/stats.h"

/* admin_listener.c: the host and port of the first admin-mysql_ifaces entry
 * (metrics listens on that host too). 0, or -1 with errbuf filled in. */
int ops_admin_iface(const struct admin_config *cfg, char *host, size_t hostlen, int *port,
                    char *errbuf, size_t errlen);

/* metrics_render.c: appends the whole Prometheus exposition to b;
 * start_time is Sluice's, in Unix seconds. 0, or -1 when memory ran out (b
 * holds part of it). Main thread (it reads the monitor). */
int ops_metrics_render(struct proxy *p, double start_time, struct codec_buf *b);

#endif
