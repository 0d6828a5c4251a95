/*
 * The stats object: one struct stats_worker per worker, allocated together
 * and never moved, so a worker keeps a pointer to its own for its life;
 * and the sums readers take over them.
 */
#include "common/common.h"
#include "stats/stats_int.h"

#include <stdlib.h>
#include <string.h>

const char *stats_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case STATS_ENOMEM:
        return "out of memory";
    case STATS_EINVAL:
        return "invalid argument";
    default:
        return "unknown stats error";
    }
}

int stats_new(int nworkers, struct stats **out)
{
    *out = NULL;
    if (nworkers < 1)
        return STATS_EINVAL;
    struct stats *st = calloc(1, sizeof(*st));
    if (!st)
        return STATS_ENOMEM;
    st->start_ns = clock_now_ns();
    st->nworkers = nworkers;
    st->workers = calloc((size_t)nworkers, sizeof(*st->workers));
    pthread_mutex_init(&st->plist_lock, NULL);
    for (int i = 0; st->workers && i < nworkers; i++) {
        st->workers[i].index = i;
        errors_init(&st->workers[i].errors);
        stmts_init(&st->workers[i].stmts);
        if (pins_init(&st->workers[i].pins) != 0) {
            stats_free(st);
            return STATS_ENOMEM;
        }
    }
    if (!st->workers) {
        stats_free(st);
        return STATS_ENOMEM;
    }
    *out = st;
    return 0;
}

void stats_free(struct stats *st)
{
    if (!st)
        return;
    for (int i = 0; st->workers && i < st->nworkers; i++) {
        pins_free(&st->workers[i].pins);
        errors_free(&st->workers[i].errors);
        stmts_free(&st->workers[i].stmts);
        free(st->workers[i].plist_rows);
    }
    free(st->workers);
    free(st->plist_result);
    pthread_mutex_destroy(&st->plist_lock);
    free(st);
}

struct stats_worker *stats_worker(struct stats *st, int index)
{
    return index >= 0 && index < st->nworkers ? &st->workers[index] : NULL;
}

struct stats_counters *stats_counters(struct stats_worker *ws)
{
    return &ws->counters;
}

uint64_t stats_start_ns(const struct stats *st)
{
    return st->start_ns;
}

static void add_counters(struct stats_counters *out, const struct stats_counters *c)
{
    out->clients_accepted += __atomic_load_n(&c->clients_accepted, __ATOMIC_RELAXED);
    out->clients_connected += __atomic_load_n(&c->clients_connected, __ATOMIC_RELAXED);
    out->auth_failures += __atomic_load_n(&c->auth_failures, __ATOMIC_RELAXED);
    out->query_processor_ns += __atomic_load_n(&c->query_processor_ns, __ATOMIC_RELAXED);
    for (int k = 0; k < STATS_NCOMMANDS; k++)
        out->commands[k] += __atomic_load_n(&c->commands[k], __ATOMIC_RELAXED);
}

void stats_counters_sum(const struct stats *st, struct stats_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < st->nworkers; i++)
        add_counters(out, &st->workers[i].counters);
}

uint64_t stats_pinned_now(const struct stats *st, enum stats_pin_reason reason)
{
    uint64_t n = 0;
    for (int i = 0; i < st->nworkers; i++)
        n += __atomic_load_n(&st->workers[i].pins.pinned_now[reason], __ATOMIC_RELAXED);
    return n;
}

uint64_t stats_pin_events(const struct stats *st, enum stats_pin_reason reason)
{
    uint64_t n = 0;
    for (int i = 0; i < st->nworkers; i++)
        n += __atomic_load_n(&st->workers[i].pins.events[reason], __ATOMIC_RELAXED);
    return n;
}

uint64_t stats_pinned_sessions(const struct stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < st->nworkers; i++)
        n += __atomic_load_n(&st->workers[i].pins.pinned_sessions, __ATOMIC_RELAXED);
    return n;
}
