/*
 * Digest statistics: per (hostgroup, schema, user, digest) counters and a
 * latency histogram, kept per worker and merged by a reader. The contract
 * (locking protocol, bounds, histogram error) is in router/router.h.
 *
 * One worker's table:
 *
 *     slots[]   open addressing, linear probing; 0 = empty, else entry index + 1
 *        |
 *        v
 *     entries[0 .. n)   appended in arrival order, never moved or deleted
 *     texts[i * text_cap ..]   digest text of entries[i]
 *     overflow          samples of new keys once n == capacity
 *
 * slots has a power-of-two size of at least twice the capacity, so a probe
 * meets an empty slot quickly and the table never needs to grow; entries are
 * never removed one by one (only a reset clears them all), so no tombstones.
 * Everything is allocated by router_digest_stats_new(); a record hashes the
 * names, probes, and updates an entry in place.
 *
 * A merge copies each worker's entries (and texts) under that worker's
 * mutex into a private buffer, sized by reading n first and retrying in the
 * rare case that n grew past it before the lock was taken again; it then
 * adds the copies into accumulators keyed like the workers' entries, outside
 * any worker's lock, so a worker waits at most for one memcpy of its table.
 */
#include "router/router.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL
#define OVERFLOW_TEXT "(digests beyond capacity)"

/* The key and the figures of one entry; also a merge's accumulator, whose
 * histogram is wider because it adds up several workers. */
struct key {
    uint64_t hash; /* of all the fields below: the slot probe's start */
    uint64_t digest;
    uint64_t schema_hash; /* of the whole name, also of the part not kept */
    uint64_t user_hash;
    int hostgroup;
    bool overflow;
    char schema[ROUTER_DIGEST_NAME_MAX + 1];
    char user[ROUTER_DIGEST_NAME_MAX + 1];
};

struct figures {
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us;
    uint64_t max_us;
    uint64_t rows_affected;
    uint64_t rows_sent;
    int64_t first_seen;
    int64_t last_seen;
};

struct entry {
    struct key key;
    struct figures fig;
    size_t text_len;
    uint32_t hist[ROUTER_DIGEST_BUCKETS];
};

struct router_digest_stats {
    pthread_mutex_t lock; /* held by the recorder per record, the reader per copy */
    size_t capacity;
    size_t text_cap;
    size_t n;
    size_t mask; /* slots - 1 */
    uint32_t *slots;
    struct entry *entries;
    char *texts;
    bool overflow_used;
    struct entry overflow;
};

/* ------------------------------------------------------------ histogram */

/* 2^(q/4) * 2^16 for q = 1..3, rounded up: see router_digest_bucket(). */
static const uint32_t quarter[3] = {77936, 92682, 110218};

unsigned router_digest_bucket(uint64_t us)
{
    if (us == 0)
        return 0;
    unsigned e = 63u - (unsigned)__builtin_clzll(us);
    /* The mantissa us / 2^e in [1, 2) as a 17-bit fixed-point number. For
     * e <= 16 it is exact and so is the comparison (the thresholds are
     * rounded up and the mantissa is an integer); above, truncation moves a
     * value by less than 2^-16 of itself, far inside the bucket error. */
    uint64_t m = e <= 16 ? us << (16 - e) : us >> (e - 16);
    unsigned q = (m >= quarter[0]) + (m >= quarter[1]) + (m >= quarter[2]);
    unsigned b = 1 + 4 * e + q;
    return b < ROUTER_DIGEST_BUCKETS ? b : ROUTER_DIGEST_BUCKETS - 1;
}

/* Geometric middle of bucket b >= 1: 2^((b - 1) / 4 + 1/8). */
static double bucket_middle(unsigned b)
{
    static const double eighth[4] = {1.0905077326652577, 1.2968395546510096, 1.5422108254079407,
                                     1.8340080864093424};
    unsigned e = (b - 1) / 4;
    return (double)(1ULL << e) * eighth[(b - 1) % 4];
}

uint64_t router_digest_percentile(const uint64_t *buckets, double pct, uint64_t min_us,
                                  uint64_t max_us)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < ROUTER_DIGEST_BUCKETS; b++)
        total += buckets[b];
    if (total == 0)
        return 0;
    /* Nearest rank: the smallest sample with at least pct% of the samples
     * at or below it. */
    double r = pct / 100.0 * (double)total;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    unsigned b = 0;
    for (; b < ROUTER_DIGEST_BUCKETS - 1; b++) {
        seen += buckets[b];
        if (seen >= rank)
            break;
    }
    uint64_t v = b == 0 ? 0 : (uint64_t)(bucket_middle(b) + 0.5);
    if (v < min_us)
        v = min_us;
    if (v > max_us)
        v = max_us;
    return v;
}

/* ----------------------------------------------------------------- keys */

static uint64_t fnv(const char *s)
{
    uint64_t h = FNV64_OFFSET;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= FNV64_PRIME;
    }
    return h;
}

/* splitmix64's finalizer: spreads the combined fields over the slot bits. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t key_hash(const struct key *k)
{
    uint64_t h = k->digest;
    h = mix(h ^ k->schema_hash);
    h = mix(h ^ k->user_hash);
    return mix(h ^ (uint64_t)(uint32_t)k->hostgroup ^ ((uint64_t)k->overflow << 32));
}

static bool key_equal(const struct key *a, const struct key *b)
{
    return a->hash == b->hash && a->digest == b->digest && a->hostgroup == b->hostgroup &&
           a->schema_hash == b->schema_hash && a->user_hash == b->user_hash &&
           a->overflow == b->overflow;
}

static void copy_name(char *dst, const char *src)
{
    size_t n = strnlen(src, ROUTER_DIGEST_NAME_MAX);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The key of a sample, without the names copied (the common case only
 * needs the hashes; make_key_names() completes a new entry). */
static void sample_key(const struct router_digest_sample *s, struct key *k)
{
    k->digest = s->digest;
    k->hostgroup = s->hostgroup;
    k->overflow = false;
    k->schema_hash = fnv(s->schema ? s->schema : "");
    k->user_hash = fnv(s->user ? s->user : "");
    k->hash = key_hash(k);
}

static void overflow_key(struct key *k)
{
    memset(k, 0, sizeof(*k));
    k->hostgroup = -1;
    k->overflow = true;
    k->schema_hash = k->user_hash = fnv("");
    k->hash = key_hash(k);
}

/* -------------------------------------------------------------- objects */

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

struct router_digest_stats *router_digest_stats_new(size_t capacity, size_t text_cap)
{
    /* Slot values are uint32_t indexes + 1. */
    if (capacity == 0 || capacity > UINT32_MAX / 4)
        return NULL;
    struct router_digest_stats *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->capacity = capacity;
    st->text_cap = text_cap;
    st->mask = pow2_at_least(2 * capacity) - 1;
    st->slots = calloc(st->mask + 1, sizeof(*st->slots));
    st->entries = malloc(capacity * sizeof(*st->entries));
    st->texts = malloc(capacity * (text_cap ? text_cap : 1));
    if (st->slots == NULL || st->entries == NULL || st->texts == NULL ||
        pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st->slots);
        free(st->entries);
        free(st->texts);
        free(st);
        return NULL;
    }
    return st;
}

void router_digest_stats_free(struct router_digest_stats *st)
{
    if (st == NULL)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st->slots);
    free(st->entries);
    free(st->texts);
    free(st);
}

/* Caller holds the lock. */
static void clear(struct router_digest_stats *st)
{
    memset(st->slots, 0, (st->mask + 1) * sizeof(*st->slots));
    st->n = 0;
    st->overflow_used = false;
}

void router_digest_stats_reset(struct router_digest_stats *st)
{
    pthread_mutex_lock(&st->lock);
    clear(st);
    pthread_mutex_unlock(&st->lock);
}

size_t router_digest_stats_size(struct router_digest_stats *st)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->n;
    pthread_mutex_unlock(&st->lock);
    return n;
}

static void entry_init(struct entry *e, const struct key *k, int64_t now)
{
    e->key = *k;
    e->fig = (struct figures){.min_us = UINT64_MAX, .first_seen = now, .last_seen = now};
    e->text_len = 0;
    memset(e->hist, 0, sizeof(e->hist));
}

static void entry_add(struct entry *e, const struct router_digest_sample *s)
{
    struct figures *f = &e->fig;
    f->count++;
    f->sum_us += s->elapsed_us;
    if (s->elapsed_us < f->min_us)
        f->min_us = s->elapsed_us;
    if (s->elapsed_us > f->max_us)
        f->max_us = s->elapsed_us;
    f->rows_affected += s->rows_affected;
    f->rows_sent += s->rows_sent;
    if (s->now < f->first_seen)
        f->first_seen = s->now;
    if (s->now > f->last_seen)
        f->last_seen = s->now;
    unsigned b = router_digest_bucket(s->elapsed_us);
    if (e->hist[b] == UINT32_MAX) {
        /* Halve, rounding up so that no bucket with samples empties: the
         * shape, and so the percentiles, stay; count_star stays exact. */
        for (unsigned i = 0; i < ROUTER_DIGEST_BUCKETS; i++)
            e->hist[i] = (uint32_t)(((uint64_t)e->hist[i] + 1) / 2);
    }
    e->hist[b]++;
}

/* Finds the slot of k: the one holding its entry, or the empty one where it
 * belongs. The table is at most half full, so the probe ends. */
static size_t probe(const struct router_digest_stats *st, const struct key *k)
{
    size_t i = (size_t)k->hash & st->mask;
    for (;;) {
        uint32_t v = st->slots[i];
        if (v == 0 || key_equal(&st->entries[v - 1].key, k))
            return i;
        i = (i + 1) & st->mask;
    }
}

static void record(struct router_digest_stats *st, const struct router_digest_sample *s,
                   bool known_only, bool *recorded)
{
    struct key k;
    /* Hashing happens before the lock: it only reads the sample. */
    sample_key(s, &k);
    pthread_mutex_lock(&st->lock);
    size_t slot = probe(st, &k);
    struct entry *e;
    *recorded = true;
    if (known_only && st->slots[slot] == 0 && st->n < st->capacity) {
        *recorded = false;
        pthread_mutex_unlock(&st->lock);
        return;
    }
    if (st->slots[slot] != 0) {
        e = &st->entries[st->slots[slot] - 1];
    } else if (st->n < st->capacity) {
        e = &st->entries[st->n];
        copy_name(k.schema, s->schema ? s->schema : "");
        copy_name(k.user, s->user ? s->user : "");
        entry_init(e, &k, s->now);
        size_t n = s->digest_text ? s->text_len : 0;
        if (n > st->text_cap)
            n = st->text_cap;
        memcpy(st->texts + st->n * st->text_cap, s->digest_text ? s->digest_text : "", n);
        e->text_len = n;
        st->slots[slot] = (uint32_t)(++st->n);
    } else {
        e = &st->overflow;
        if (!st->overflow_used) {
            struct key ok;
            overflow_key(&ok);
            entry_init(e, &ok, s->now);
            st->overflow_used = true;
        }
    }
    entry_add(e, s);
    pthread_mutex_unlock(&st->lock);
}

void router_digest_stats_record(struct router_digest_stats *st,
                                const struct router_digest_sample *s)
{
    bool recorded;
    record(st, s, false, &recorded);
}

bool router_digest_stats_record_known(struct router_digest_stats *st,
                                      const struct router_digest_sample *s)
{
    bool recorded;
    record(st, s, true, &recorded);
    return recorded;
}

/* ---------------------------------------------------------------- merge */

struct acc {
    struct key key;
    struct figures fig;
    char *text;
    uint64_t hist[ROUTER_DIGEST_BUCKETS];
};

struct router_digest_merge {
    struct acc *acc;
    size_t n, cap;
    size_t *slots; /* 0 empty, else index + 1 */
    size_t mask;
    size_t next; /* iterator position */
};

/* A private copy of one worker's table. */
struct copy {
    struct entry *entries;
    char *texts;
    size_t n;
    size_t text_cap;
};

static int grow_slots(struct router_digest_merge *m)
{
    size_t nslots = (m->mask + 1) * 2;
    size_t *slots = calloc(nslots, sizeof(*slots));
    if (slots == NULL)
        return ROUTER_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = (size_t)m->acc[i].key.hash & (nslots - 1);
        while (slots[j] != 0)
            j = (j + 1) & (nslots - 1);
        slots[j] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = nslots - 1;
    return 0;
}

/* Adds one copied entry (and its text) into m. */
static int merge_entry(struct router_digest_merge *m, const struct entry *e, const char *text)
{
    if (2 * (m->n + 1) > m->mask + 1 && grow_slots(m) != 0)
        return ROUTER_ENOMEM;
    size_t j = (size_t)e->key.hash & m->mask;
    while (m->slots[j] != 0 && !key_equal(&m->acc[m->slots[j] - 1].key, &e->key))
        j = (j + 1) & m->mask;
    struct acc *a;
    if (m->slots[j] != 0) {
        a = &m->acc[m->slots[j] - 1];
        a->fig.count += e->fig.count;
        a->fig.sum_us += e->fig.sum_us;
        a->fig.rows_affected += e->fig.rows_affected;
        a->fig.rows_sent += e->fig.rows_sent;
        if (e->fig.min_us < a->fig.min_us)
            a->fig.min_us = e->fig.min_us;
        if (e->fig.max_us > a->fig.max_us)
            a->fig.max_us = e->fig.max_us;
        if (e->fig.first_seen < a->fig.first_seen)
            a->fig.first_seen = e->fig.first_seen;
        if (e->fig.last_seen > a->fig.last_seen)
            a->fig.last_seen = e->fig.last_seen;
    } else {
        if (m->n == m->cap) {
            size_t ncap = m->cap ? 2 * m->cap : 64;
            struct acc *n = realloc(m->acc, ncap * sizeof(*n));
            if (n == NULL)
                return ROUTER_ENOMEM;
            m->acc = n;
            m->cap = ncap;
        }
        a = &m->acc[m->n];
        const char *t = e->key.overflow ? OVERFLOW_TEXT : text;
        size_t tlen = e->key.overflow ? strlen(OVERFLOW_TEXT) : e->text_len;
        a->text = malloc(tlen + 1);
        if (a->text == NULL)
            return ROUTER_ENOMEM;
        memcpy(a->text, t, tlen);
        a->text[tlen] = '\0';
        a->key = e->key;
        a->fig = e->fig;
        memset(a->hist, 0, sizeof(a->hist));
        m->slots[j] = ++m->n;
    }
    for (unsigned b = 0; b < ROUTER_DIGEST_BUCKETS; b++)
        a->hist[b] += e->hist[b];
    return 0;
}

/* Copies st's table into c (and resets st if asked), holding st's lock only
 * for the copy. Returns 0 or ROUTER_ENOMEM (st untouched then); c's
 * buffers stay the caller's to free either way. */
static int copy_table(struct router_digest_stats *st, bool reset, struct copy *c)
{
    /* c's buffers are reused from worker to worker (the caller frees them),
     * and resized for each: workers may differ in text_cap. */
    c->text_cap = st->text_cap;
    for (;;) {
        size_t want = router_digest_stats_size(st) + 1; /* + overflow */
        /* Room for some growth between the two locks spares a retry. */
        want += want / 8 + 16;
        if (want > st->capacity + 1)
            want = st->capacity + 1;
        struct entry *entries = realloc(c->entries, want * sizeof(*entries));
        if (entries == NULL)
            return ROUTER_ENOMEM;
        c->entries = entries;
        char *texts = realloc(c->texts, want * (c->text_cap ? c->text_cap : 1));
        if (texts == NULL)
            return ROUTER_ENOMEM;
        c->texts = texts;
        pthread_mutex_lock(&st->lock);
        size_t n = st->n + st->overflow_used;
        if (n <= want) {
            memcpy(c->entries, st->entries, st->n * sizeof(*st->entries));
            memcpy(c->texts, st->texts, st->n * st->text_cap);
            if (st->overflow_used)
                c->entries[st->n] = st->overflow;
            c->n = n;
            if (reset)
                clear(st);
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
        pthread_mutex_unlock(&st->lock);
    }
}

void router_digest_merge_free(struct router_digest_merge *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->acc[i].text);
    free(m->acc);
    free(m->slots);
    free(m);
}

int router_digest_stats_merge(struct router_digest_stats *const *stats, size_t n, bool reset,
                              struct router_digest_merge **out)
{
    struct copy c = {0};
    int rc = ROUTER_ENOMEM;
    struct router_digest_merge *m = calloc(1, sizeof(*m));
    *out = NULL;
    if (m == NULL)
        return ROUTER_ENOMEM;
    m->mask = 63;
    m->slots = calloc(m->mask + 1, sizeof(*m->slots));
    if (m->slots == NULL)
        goto out;
    for (size_t w = 0; w < n; w++) {
        if (stats[w] == NULL)
            continue;
        if (copy_table(stats[w], reset, &c) < 0)
            goto out;
        for (size_t i = 0; i < c.n; i++)
            if (merge_entry(m, &c.entries[i], c.texts + i * c.text_cap) < 0)
                goto out;
    }
    *out = m;
    m = NULL;
    rc = 0;
out:
    free(c.entries);
    free(c.texts);
    router_digest_merge_free(m);
    return rc;
}

size_t router_digest_merge_count(const struct router_digest_merge *m)
{
    return m->n;
}

bool router_digest_merge_next(struct router_digest_merge *m, struct router_digest_row *row)
{
    if (m->next >= m->n)
        return false;
    const struct acc *a = &m->acc[m->next++];
    const struct figures *f = &a->fig;
    *row = (struct router_digest_row){
        .hostgroup = a->key.hostgroup,
        .schemaname = a->key.schema,
        .username = a->key.user,
        .client_address = "",
        .digest = a->key.digest,
        .digest_text = a->text,
        .count_star = f->count,
        .first_seen = f->first_seen,
        .last_seen = f->last_seen,
        .sum_time = f->sum_us,
        .min_time = f->count ? f->min_us : 0,
        .max_time = f->max_us,
        .sum_rows_affected = f->rows_affected,
        .sum_rows_sent = f->rows_sent,
        .p50_time = router_digest_percentile(a->hist, 50, f->min_us, f->max_us),
        .p95_time = router_digest_percentile(a->hist, 95, f->min_us, f->max_us),
        .p99_time = router_digest_percentile(a->hist, 99, f->min_us, f->max_us),
        .overflow = a->key.overflow,
    };
    return true;
}
