/*
 * Query cache (mysql_query_rules.cache_ttl): complete responses of
 * autocommit reads, as bytes ready to send to a client, keyed by an opaque
 * byte string the caller builds (statement text, user, schema, the client's
 * framing and character set), each with its own expiry.
 *
 * One cache per worker, used only by that worker's thread: lookups and
 * stores take no lock and a hit touches no shared cache line. The price is
 * that each worker warms its own copy (a statement may be run once per
 * worker before every worker answers it from memory) and that the memory
 * bound (mysql-query_cache_size_MB) is split evenly between workers. With a
 * handful of workers and TTLs of seconds that costs a few extra backend
 * runs per TTL, which is cheaper than a global mutex on every cached read.
 *
 * Bounds: an entry counts its key, its data and a fixed overhead; stores
 * beyond the limit evict the least recently used entries first; an entry
 * larger than the whole limit is refused. Expired entries go when looked up
 * or when they reach the LRU tail. Counters are written by the owning
 * thread only and may be read by any thread (relaxed atomics).
 */
#ifndef SLUICE_PROXY_QCACHE_H
#define SLUICE_PROXY_QCACHE_H

#include "proxy/proxy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCACHE_ENTRY_MAX (1024u * 1024u) /* largest response worth keeping, bytes */

struct qcache;

/* A cache that holds at most limit bytes (0: caches nothing). NULL on
 * allocation failure. */
struct qcache *qcache_new(size_t limit);
void qcache_free(struct qcache *c);

/* Changes the bound, evicting least recently used entries down to it. */
void qcache_set_limit(struct qcache *c, size_t limit);
size_t qcache_limit(const struct qcache *c);

/* Looks key up at time now_ms (any monotonic milliseconds). A live entry is
 * a hit: *data and *len point at its bytes, valid until the next call on c,
 * and it becomes the most recently used. An expired one is dropped and
 * counts as a miss. */
bool qcache_get(struct qcache *c, const void *key, size_t keylen, uint64_t now_ms,
                const uint8_t **data, size_t *len);

/* Stores a copy of (data, len) under key until now_ms + ttl_ms, replacing
 * an entry with the same key. Returns 0, PROXY_ETOOBIG when it does not fit
 * the limit, or PROXY_ENOMEM (proxy/errors.h; nothing changes on
 * failure). */
int qcache_put(struct qcache *c, const void *key, size_t keylen, const void *data, size_t len,
               uint64_t now_ms, uint64_t ttl_ms) __attribute__((warn_unused_result));

/* Forgets every entry (counters of hits and misses stay). */
void qcache_clear(struct qcache *c);

/* Adds c's counters to *out. Any thread. */
void qcache_stats_add(const struct qcache *c, struct proxy_qcache_figures *out);

#endif
