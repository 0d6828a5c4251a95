/*
 * The last minute of a server's pool figures: 12 windows of 5 s, each with
 * a queue-wait histogram, connections created, and the holds that ended
 * (their count and total length, for the pool-size advisor).
 *
 * Histogram buckets are log-linear: 4 per power of two of microseconds, so a
 * percentile is within 19% of the true value whatever its size, in a fixed
 * 512 bytes per window.
 */
#include "pool/pool_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int bucket_of(uint64_t us)
{
    if (us < 4)
        return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 2 */
    int sub = (int)((us >> (e - 2)) & 3);
    int idx = (e - 1) * 4 + sub;
    return idx < POOL_WAIT_BUCKETS ? idx : POOL_WAIT_BUCKETS - 1;
}

/* The middle of bucket idx, in microseconds. */
static uint64_t bucket_value(int idx)
{
    if (idx < 4)
        return (uint64_t)idx;
    int e = idx / 4 + 1;
    uint64_t lo = (uint64_t)(4 + idx % 4) << (e - 2);
    uint64_t width = (uint64_t)1 << (e - 2);
    return lo + width / 2;
}

struct pool_window *pool_window_now(struct server *s, uint64_t now_ms)
{
    uint64_t index = now_ms / POOL_WINDOW_MS;
    struct pool_window *w = &s->win[index % POOL_WINDOWS];
    if (w->index != index) {
        memset(w, 0, sizeof(*w));
        w->index = index;
    }
    return w;
}

const double pool_wait_le[POOL_WAIT_LE_COUNT] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                 0.1,    0.5,    1,     5,     10};

void pool_record_wait(struct server *s, uint64_t wait_us, uint64_t now_ms)
{
    struct pool_window *w = pool_window_now(s, now_ms);
    w->wait_hist[bucket_of(wait_us)]++;
    w->waits++;
    size_t b = 0;
    while (b < POOL_WAIT_LE_COUNT && (double)wait_us > pool_wait_le[b] * 1e6)
        b++;
    s->wait_buckets[b]++;
    s->wait_sum_us += wait_us;
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    uint64_t seen = 0;
    for (int i = 0; i < POOL_WAIT_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return bucket_value(i);
    }
    return bucket_value(POOL_WAIT_BUCKETS - 1);
}

void pool_stats_fill(struct server *s, struct pool_server_stats *out, uint64_t now_ms)
{
    uint64_t now_index = now_ms / POOL_WINDOW_MS;
    uint64_t hist[POOL_WAIT_BUCKETS] = {0};
    uint64_t borrows = 0, hold_us = 0;
    for (int k = 0; k < POOL_WINDOWS; k++) {
        const struct pool_window *w = &s->win[k];
        if (w->index + POOL_WINDOWS <= now_index || w->index > now_index)
            continue;
        for (int i = 0; i < POOL_WAIT_BUCKETS; i++)
            hist[i] += w->wait_hist[i];
        out->waits_last_min += w->waits;
        out->created_last_min += w->created;
        borrows += w->borrows;
        hold_us += w->hold_us;
        if (w->peak_lent > out->peak_in_use)
            out->peak_in_use = w->peak_lent;
    }
    memcpy(out->wait_buckets, s->wait_buckets, sizeof(out->wait_buckets));
    out->wait_sum_us = s->wait_sum_us;
    out->wait_p50_us = percentile(hist, out->waits_last_min, 0.50);
    out->wait_p99_us = percentile(hist, out->waits_last_min, 0.99);

    /* The span the windows cover: the last minute, or less after a start. */
    uint64_t span_ms = (POOL_WINDOWS - 1) * POOL_WINDOW_MS + now_ms % POOL_WINDOW_MS;
    if (now_ms - s->since < span_ms)
        span_ms = now_ms - s->since;
    if (span_ms == 0)
        span_ms = 1;
    out->borrows_per_sec = (double)borrows * 1000.0 / (double)span_ms;
    out->avg_hold_us = borrows ? (double)hold_us / (double)borrows : 0.0;
    out->avg_in_use = (double)hold_us / ((double)span_ms * 1000.0);
    double l = out->avg_in_use;
    out->suggested = borrows ? (int)ceil(l + 3.0 * sqrt(l)) : 0;
    if (borrows && out->suggested < 1)
        out->suggested = 1;
}

void pool_split_name(const char *name, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);

    if (n >= hostlen)
        n = hostlen - 1;
    memcpy(host, name, n);
    host[n] = '\0';
    *port = colon ? atoi(colon + 1) : 0;
}
