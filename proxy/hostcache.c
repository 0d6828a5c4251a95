/*
 * Failed logins by client address, for the login back-off and
 * stats_mysql_client_host_cache (ProxySQL's table of the same name).
 *
 * A fixed table of HOST_SLOTS entries behind one mutex, taken only when a
 * login is answered, never per statement. An address lives in one of the
 * HOST_PROBE slots after the one its hash names; when all of them are taken
 * the entry whose last failure is oldest is reused, so a spray from many
 * addresses costs a bounded amount of memory and time, and each address
 * still sees its own back-off.
 * An entry is forgotten after a successful login from its address, or
 * HOST_FORGET_NS after its last failure.
 */
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOST_SLOTS 4096
#define HOST_PROBE 8
#define HOST_FORGET_NS (600ull * 1000000000ull)

struct host_entry {
    char ip[48]; /* "" when free */
    uint32_t failures;
    uint64_t last_failure_ns;
    int64_t last_failure_unix;
};

struct host_failures {
    pthread_mutex_t lock;
    struct host_entry e[HOST_SLOTS];
};

int hostcache_init(struct proxy *p)
{
    p->host_failures = calloc(1, sizeof(*p->host_failures));
    if (!p->host_failures)
        return PROXY_ENOMEM;
    pthread_mutex_init(&p->host_failures->lock, NULL);
    return 0;
}

void hostcache_free(struct proxy *p)
{
    if (!p->host_failures)
        return;
    pthread_mutex_destroy(&p->host_failures->lock);
    free(p->host_failures);
    p->host_failures = NULL;
}

static bool live(const struct host_entry *e, uint64_t now)
{
    return e->ip[0] && now - e->last_failure_ns < HOST_FORGET_NS;
}

static size_t home_slot(const char *ip)
{
    return (size_t)(common_hash(ip, strlen(ip)) % (HOST_SLOTS - HOST_PROBE));
}

/* The entry of ip, or NULL. Caller holds the lock. */
static struct host_entry *find(struct host_failures *h, const char *ip, uint64_t now)
{
    struct host_entry *e = &h->e[home_slot(ip)];
    for (size_t i = 0; i < HOST_PROBE; i++)
        if (live(&e[i], now) && strcmp(e[i].ip, ip) == 0)
            return &e[i];
    return NULL;
}

/* A free, expired or else the oldest slot for ip. Caller holds the lock. */
static struct host_entry *claim(struct host_failures *h, const char *ip, uint64_t now)
{
    struct host_entry *e = &h->e[home_slot(ip)], *best = e;
    for (size_t i = 0; i < HOST_PROBE && live(best, now); i++)
        if (!live(&e[i], now) || e[i].last_failure_ns < best->last_failure_ns)
            best = &e[i];
    memset(best, 0, sizeof(*best));
    snprintf(best->ip, sizeof(best->ip), "%s", ip);
    return best;
}

/* Locks p's table and finds ip's live entry (*e, NULL if none). NULL, with
 * nothing locked, when there is no table or no address. */
static struct host_failures *lock_entry(struct proxy *p, const char *ip, uint64_t *now,
                                        struct host_entry **e)
{
    struct host_failures *h = p->host_failures;
    if (!h || !ip[0])
        return NULL;
    *now = clock_now_ns();
    pthread_mutex_lock(&h->lock);
    *e = find(h, ip, *now);
    return h;
}

uint32_t limits_login_delay_ms(struct proxy *p, const char *ip, int delay_ms, int max_ms)
{
    uint64_t now;
    struct host_entry *e;
    struct host_failures *h = delay_ms > 0 && max_ms > 0 ? lock_entry(p, ip, &now, &e) : NULL;
    if (!h)
        return 0;
    uint32_t failures = e ? e->failures : 0;
    pthread_mutex_unlock(&h->lock);
    if (failures == 0)
        return 0;
    uint64_t ms = (uint64_t)delay_ms << (failures - 1 < 20 ? failures - 1 : 20);
    return (uint32_t)(ms < (uint64_t)max_ms ? ms : (uint64_t)max_ms);
}

void limits_login_failed(struct proxy *p, const char *ip)
{
    uint64_t now;
    struct host_entry *e;
    struct host_failures *h = lock_entry(p, ip, &now, &e);
    if (!h)
        return;
    if (!e)
        e = claim(h, ip, now);
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_failure_ns = now;
    e->last_failure_unix = (int64_t)time(NULL);
    pthread_mutex_unlock(&h->lock);
}

void limits_login_succeeded(struct proxy *p, const char *ip)
{
    uint64_t now;
    struct host_entry *e;
    struct host_failures *h = lock_entry(p, ip, &now, &e);
    if (!h)
        return;
    if (e)
        e->ip[0] = '\0';
    pthread_mutex_unlock(&h->lock);
}

size_t limits_host_failures(struct proxy *p, struct admin_host_failure *rows, size_t max)
{
    struct host_failures *h = p->host_failures;
    size_t n = 0;
    if (!h)
        return 0;
    uint64_t now = clock_now_ns();
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < HOST_SLOTS && n < max; i++) {
        const struct host_entry *e = &h->e[i];
        if (!live(e, now))
            continue;
        snprintf(rows[n].client_address, sizeof(rows[n].client_address), "%s", e->ip);
        rows[n].error_count = e->failures;
        rows[n].last_updated = e->last_failure_unix;
        n++;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}
