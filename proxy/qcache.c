/*
 * The per-worker query cache (qcache.h has the contract and the reasons
 * for one cache per worker).
 *
 * Layout: a chained hash table of entries (FNV-1a of the key, power-of-two
 * buckets, doubled when entries outnumber buckets) plus one LRU list, most
 * recently used at the head. Each entry is one allocation: the struct, then
 * the key bytes, then the data bytes. Eviction walks from the tail.
 */
#include "proxy/qcache.h"

#include "common/common.h"
#include "proxy/errors.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64u

struct qentry {
    struct qentry *hnext; /* bucket chain */
    struct qentry *lru_prev, *lru_next;
    uint64_t hash;
    uint64_t expires_ms;
    size_t keylen;
    size_t len;
    uint8_t bytes[]; /* key, then data */
};

struct qcache {
    struct qentry **buckets;
    size_t nbuckets; /* power of two */
    struct qentry *lru_head, *lru_tail;
    size_t limit;
    /* Written by the owner only; read by others with relaxed loads. */
    uint64_t hits, misses, stores, evictions, entries, bytes;
};

static void bump(uint64_t *counter, uint64_t add)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + add, __ATOMIC_RELAXED);
}

static size_t entry_cost(const struct qentry *e)
{
    return sizeof(*e) + e->keylen + e->len;
}

struct qcache *qcache_new(size_t limit)
{
    struct qcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->buckets = calloc(INITIAL_BUCKETS, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->nbuckets = INITIAL_BUCKETS;
    c->limit = limit;
    return c;
}

static void lru_unlink(struct qcache *c, struct qentry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct qcache *c, struct qentry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
}

/* Unlinks e from its bucket and the LRU list and frees it. */
static void drop(struct qcache *c, struct qentry *e)
{
    struct qentry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    bump(&c->entries, (uint64_t)-1);
    bump(&c->bytes, (uint64_t)0 - entry_cost(e));
    free(e);
}

static struct qentry *find(struct qcache *c, uint64_t h, const void *key, size_t keylen)
{
    for (struct qentry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->keylen == keylen && memcmp(e->bytes, key, keylen) == 0)
            return e;
    return NULL;
}

/* Evicts from the LRU tail until need more bytes fit under the limit. */
static void make_room(struct qcache *c, size_t need)
{
    while (c->lru_tail && c->bytes + need > c->limit) {
        drop(c, c->lru_tail);
        bump(&c->evictions, 1);
    }
}

void qcache_set_limit(struct qcache *c, size_t limit)
{
    c->limit = limit;
    make_room(c, 0);
}

size_t qcache_limit(const struct qcache *c)
{
    return c->limit;
}

bool qcache_get(struct qcache *c, const void *key, size_t keylen, uint64_t now_ms,
                const uint8_t **data, size_t *len)
{
    uint64_t h = common_hash(key, keylen);
    struct qentry *e = find(c, h, key, keylen);
    if (e && e->expires_ms <= now_ms) {
        drop(c, e);
        e = NULL;
    }
    if (!e) {
        bump(&c->misses, 1);
        return false;
    }
    lru_unlink(c, e);
    lru_push_front(c, e);
    bump(&c->hits, 1);
    *data = e->bytes + e->keylen;
    *len = e->len;
    return true;
}

/* Doubles the bucket array; on allocation failure chains just get longer. */
static void grow(struct qcache *c)
{
    size_t n = c->nbuckets * 2;
    struct qentry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct qentry *e = c->buckets[i]; e;) {
            struct qentry *next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->nbuckets = n;
}

int qcache_put(struct qcache *c, const void *key, size_t keylen, const void *data, size_t len,
               uint64_t now_ms, uint64_t ttl_ms)
{
    size_t cost = sizeof(struct qentry) + keylen + len;
    if (cost > c->limit || keylen > SIZE_MAX / 2 || len > SIZE_MAX / 2)
        return PROXY_ETOOBIG;
    uint64_t h = common_hash(key, keylen);
    struct qentry *old = find(c, h, key, keylen);
    if (old)
        drop(c, old);
    make_room(c, cost);
    struct qentry *e = malloc(cost);
    if (!e)
        return PROXY_ENOMEM;
    e->hash = h;
    e->expires_ms = now_ms + ttl_ms;
    e->keylen = keylen;
    e->len = len;
    memcpy(e->bytes, key, keylen);
    if (len)
        memcpy(e->bytes + keylen, data, len);
    if (c->entries >= c->nbuckets)
        grow(c);
    struct qentry **b = &c->buckets[h & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    lru_push_front(c, e);
    bump(&c->entries, 1);
    bump(&c->bytes, cost);
    bump(&c->stores, 1);
    return 0;
}

void qcache_clear(struct qcache *c)
{
    while (c->lru_head)
        drop(c, c->lru_head);
}

void qcache_free(struct qcache *c)
{
    if (!c)
        return;
    qcache_clear(c);
    free(c->buckets);
    free(c);
}

void qcache_stats_add(const struct qcache *c, struct proxy_qcache_figures *out)
{
    out->hits += __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
    out->misses += __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
    out->stores += __atomic_load_n(&c->stores, __ATOMIC_RELAXED);
    out->evictions += __atomic_load_n(&c->evictions, __ATOMIC_RELAXED);
    out->entries += __atomic_load_n(&c->entries, __ATOMIC_RELAXED);
    out->bytes += __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
}
