/*
 * A client session's prepared statements by the id the client sees.
 *
 * Open addressing with linear probing over a power-of-two table kept at most
 * half full; removal shifts the following entries back instead of leaving
 * tombstones, so a lookup stops at the first empty slot and costs the same
 * after any number of prepares and closes. Ids come from a per-session
 * counter, so the identity hash spreads them evenly.
 */
#include "proxy/proxy_int.h"

#include <stdlib.h>

static size_t slot_of(const struct stmt_map *m, uint32_t id)
{
    return (size_t)id & (m->cap - 1);
}

/* Puts st in m, which has room for it. */
static void place(struct stmt_map *m, struct cstmt *st)
{
    size_t i = slot_of(m, st->id);
    while (m->slots[i])
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = st;
    m->n++;
}

static int grow(struct stmt_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct cstmt **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return PROXY_ENOMEM;
    struct stmt_map bigger = {.slots = slots, .cap = cap, .n = 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i])
            place(&bigger, m->slots[i]);
    free(m->slots);
    *m = bigger;
    return 0;
}

int stmt_map_put(struct stmt_map *m, struct cstmt *st)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
        return PROXY_ENOMEM;
    place(m, st);
    return 0;
}

struct cstmt *stmt_map_get(const struct stmt_map *m, uint32_t id)
{
    if (m->n == 0)
        return NULL;
    for (size_t i = slot_of(m, id); m->slots[i]; i = (i + 1) & (m->cap - 1))
        if (m->slots[i]->id == id)
            return m->slots[i];
    return NULL;
}

void stmt_map_del(struct stmt_map *m, uint32_t id)
{
    if (m->n == 0)
        return;
    size_t mask = m->cap - 1, i = slot_of(m, id);
    while (m->slots[i] && m->slots[i]->id != id)
        i = (i + 1) & mask;
    if (!m->slots[i])
        return;
    m->slots[i] = NULL;
    m->n--;
    /* Move back each following entry whose home slot is not between the
     * hole and itself, so every entry stays reachable from its home. */
    for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->slots[j]->id);
        bool reachable = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (reachable)
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j] = NULL;
        i = j;
    }
}

void stmt_map_free(struct stmt_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
