/*
 * Client limits: how many client sessions may be open, globally
 * (mysql-max_connections) and per user (mysql_users.max_connections), and
 * how long a transaction may stay open (mysql-idle_transaction_timeout,
 * mysql-max_transaction_time).
 *
 * Counts are exact across workers. The global count is one atomic in
 * struct proxy: a session is admitted by an increment that is undone when it
 * would pass the limit, so two workers racing for the last slot cannot both
 * win. Per-user counts live in a small chained hash table of slots behind one
 * mutex; it is taken only at login, COM_CHANGE_USER and session end, never
 * per statement. Slots are never removed (their number is bounded by the
 * configured user names), so a session may keep a pointer to its slot.
 *
 * Transactions are watched by a periodic sweep of each worker's session
 * list (guard_timer, every GUARD_PERIOD_MS) rather than a timer per session:
 * sessions already use their own timer for the handshake and queue
 * deadlines, and a sweep costs nothing per statement.
 */
#include "common/common.h"
#include "proxy/proxy_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USER_BUCKETS 64
#define GUARD_PERIOD_MS 100

struct user_slot {
    struct user_slot *next;
    int count;
    char name[128];
};

struct user_counts {
    pthread_mutex_t lock;
    struct user_slot *buckets[USER_BUCKETS];
};

int limits_init(struct proxy *p)
{
    p->users = calloc(1, sizeof(*p->users));
    if (!p->users)
        return PROXY_ENOMEM;
    pthread_mutex_init(&p->users->lock, NULL);
    return 0;
}

void limits_free(struct proxy *p)
{
    if (!p->users)
        return;
    for (size_t i = 0; i < USER_BUCKETS; i++) {
        for (struct user_slot *u = p->users->buckets[i]; u;) {
            struct user_slot *next = u->next;
            free(u);
            u = next;
        }
    }
    pthread_mutex_destroy(&p->users->lock);
    free(p->users);
    p->users = NULL;
}

bool limits_client_admit(struct proxy *p, int max)
{
    uint32_t n = __atomic_add_fetch(&p->clients_now, 1, __ATOMIC_RELAXED);
    if (max > 0 && n <= (uint32_t)max)
        return true;
    __atomic_sub_fetch(&p->clients_now, 1, __ATOMIC_RELAXED);
    return false;
}

void limits_client_leave(struct proxy *p)
{
    __atomic_sub_fetch(&p->clients_now, 1, __ATOMIC_RELAXED);
}

bool limits_unauth_admit(struct proxy *p, int max)
{
    uint32_t n = __atomic_add_fetch(&p->unauth_now, 1, __ATOMIC_RELAXED);
    if (max > 0 && n <= (uint32_t)max)
        return true;
    __atomic_sub_fetch(&p->unauth_now, 1, __ATOMIC_RELAXED);
    return false;
}

void limits_unauth_leave(struct proxy *p)
{
    __atomic_sub_fetch(&p->unauth_now, 1, __ATOMIC_RELAXED);
}

uint64_t limits_buffer_budget(const struct admin_config *cfg)
{
    if (cfg->session_buffers_mb > 0)
        return (uint64_t)cfg->session_buffers_mb << 20;
    static uint64_t quarter; /* of physical memory, read once */
    uint64_t q = __atomic_load_n(&quarter, __ATOMIC_RELAXED);
    if (q == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        q = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 4 : (uint64_t)1 << 30;
        __atomic_store_n(&quarter, q, __ATOMIC_RELAXED);
    }
    return q;
}

/* Caller holds the lock. NULL on ENOMEM. */
static struct user_slot *slot_get(struct user_counts *uc, const char *name)
{
    size_t b = common_hash(name, strlen(name)) % USER_BUCKETS;
    for (struct user_slot *u = uc->buckets[b]; u; u = u->next)
        if (strcmp(u->name, name) == 0)
            return u;
    struct user_slot *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->next = uc->buckets[b];
    uc->buckets[b] = u;
    return u;
}

int limits_user_admit(struct proxy *p, const char *name, int max, struct user_slot **out)
{
    struct user_counts *uc = p->users;
    int rc = 0;
    pthread_mutex_lock(&uc->lock);
    struct user_slot *u = slot_get(uc, name);
    if (!u)
        rc = PROXY_ENOMEM;
    else if (u->count >= max) /* ProxySQL: max_connections 0 admits nobody */
        rc = 1;
    else
        u->count++;
    pthread_mutex_unlock(&uc->lock);
    *out = rc == 0 ? u : NULL;
    return rc;
}

void limits_user_leave(struct proxy *p, struct user_slot *slot)
{
    if (!slot)
        return;
    pthread_mutex_lock(&p->users->lock);
    slot->count--;
    pthread_mutex_unlock(&p->users->lock);
}

int limits_user_count(struct proxy *p, const char *name)
{
    size_t b = common_hash(name, strlen(name)) % USER_BUCKETS;
    int n = 0;
    pthread_mutex_lock(&p->users->lock);
    for (struct user_slot *u = p->users->buckets[b]; u; u = u->next)
        if (strcmp(u->name, name) == 0)
            n = u->count;
    pthread_mutex_unlock(&p->users->lock);
    return n;
}

/* ------------------------------------------------------- transactions */

static void kill_transaction(struct session *s, uint64_t now, const char *setting, int limit_ms)
{
    bool idle = s->state == SS_IDLE;
    uint64_t open_ms = (now - s->txn_start_ns) / 1000000u;
    uint64_t idle_ms = idle ? (now - s->idle_since_ns) / 1000000u : 0;
    slog_warn(s,
              "transaction open for %llu ms (idle for %llu ms), "
              "over %s (%d ms): rolling back and closing",
              (unsigned long long)open_ms, (unsigned long long)idle_ms, setting, limit_ms);
    char msg[160];
    snprintf(msg, sizeof(msg), "Transaction killed by Sluice: open for %llu ms, over %s",
             (unsigned long long)open_ms, setting);
    session_kill(s, 1969, "70100", msg);
}

/* A transaction whose session is gone would hold its row locks and its
 * backend until the server's wait_timeout; closing the backend connection
 * makes the server roll it back at once. */
/* A session that keeps its backend for session state (user variables,
 * temporary tables, locks) while it sits idle outside a transaction holds a
 * connection nobody else can use; past mysql-pinned_idle_timeout it goes,
 * and its server-side state with it. */
static void check_pinned(struct session *s, uint64_t now, int pinned_ms)
{
    if (pinned_ms <= 0 || s->state != SS_IDLE || s->writing || !s->conn || s->in_txn || !s->pin ||
        now - s->idle_since_ns <= (uint64_t)pinned_ms * 1000000u)
        return;
    slog_warn(s,
              "idle for %llu ms holding a backend for its session "
              "state, over mysql-pinned_idle_timeout (%d ms): closing",
              (unsigned long long)((now - s->idle_since_ns) / 1000000u), pinned_ms);
    session_kill(s, 1969, "70100", "Session closed by Sluice: idle while holding a backend");
}

static void check_session(struct session *s, uint64_t now, int idle_ms, int max_ms)
{
    if (s->state == SS_CLOSING || !s->in_txn ||
        !(s->pin_acct.reasons & STATS_PIN_BIT(STATS_PIN_TRANSACTION)))
        return;
    if (max_ms > 0 && now - s->txn_start_ns > (uint64_t)max_ms * 1000000u) {
        kill_transaction(s, now, "mysql-max_transaction_time", max_ms);
        return;
    }
    if (idle_ms > 0 && s->state == SS_IDLE && !s->writing &&
        now - s->idle_since_ns > (uint64_t)idle_ms * 1000000u)
        kill_transaction(s, now, "mysql-idle_transaction_timeout", idle_ms);
}

static void on_guard(uv_timer_t *t)
{
    struct worker *w = t->data;
    int idle_ms = w->cfg->idle_transaction_timeout_ms;
    int max_ms = w->cfg->max_transaction_time_ms;
    int pinned_ms = w->cfg->pinned_idle_timeout_ms;
    if (idle_ms <= 0 && max_ms <= 0 && pinned_ms <= 0)
        return;
    uint64_t now = clock_now_ns();
    /* session_kill() only starts closing: s->next stays valid. */
    for (struct session *s = w->sessions; s; s = s->next) {
        check_session(s, now, idle_ms, max_ms);
        if (s->state != SS_CLOSING)
            check_pinned(s, now, pinned_ms);
    }
}

void limits_guard_start(struct worker *w)
{
    uv_timer_init(&w->loop, &w->guard_timer);
    w->guard_timer.data = w;
    uv_timer_start(&w->guard_timer, on_guard, GUARD_PERIOD_MS, GUARD_PERIOD_MS);
}

void proxy_trim_memory(struct proxy *p)
{
    static uint64_t peak; /* main thread only */
    struct stats_counters c;
    stats_counters_sum(p->stats, &c);
    if (c.clients_connected > peak)
        peak = c.clients_connected;
    if (peak - c.clients_connected >= 1000) {
        malloc_trim(0);
        peak = c.clients_connected;
    }
}
