/*
 * Small helpers every file of proxy/ uses: a monotonic clock and a hash of
 * statement texts. Kept apart so that a unit test or fuzz target linking
 * one file of the module does not pull in the backend relay.
 */
#include "proxy/proxy_int.h"

#include <time.h>

uint64_t proxy_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* FNV-1a: statement texts to cache keys. */
uint64_t proxy_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}
