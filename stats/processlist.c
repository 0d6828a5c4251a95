/*
 * The processlist exchange (see stats.h): rounds of asking every worker for
 * its rows, gathered on the main loop without anyone waiting.
 *
 * A round: the main loop stores the round number in every worker's
 * plist_asked and wakes them; a worker that sees plist_asked !=
 * plist_answered builds its rows on its own thread and publishes them under
 * plist_lock, setting plist_answered, then sends plist_async; the main loop
 * ends the round when every worker answered or plist_timer fires, keeps the
 * rows of those that answered, and calls the round's waiters. Waiters that
 * ask while a round is out wait for the next one, so an answer is never
 * older than its question.
 *
 * plist_lock is held only to swap pointers and numbers, never while rows
 * are built or a callback runs. plist_open, under the lock, tells workers
 * whether plist_async may still be sent.
 */
#include "stats/stats_int.h"

#include <stdlib.h>
#include <string.h>

static void on_round_timeout(uv_timer_t *t);

static void start_round(struct stats *st)
{
    st->plist_round++;
    st->plist_busy = true;
    st->plist_waiters = st->plist_later;
    st->plist_later = NULL;
    pthread_mutex_lock(&st->plist_lock);
    for (int i = 0; i < st->nworkers; i++)
        __atomic_store_n(&st->workers[i].plist_asked, st->plist_round, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&st->plist_lock);
    uv_timer_start(&st->plist_timer, on_round_timeout, STATS_PLIST_WAIT_MS, 0);
    for (int i = 0; i < st->nworkers; i++)
        st->plist_wake(st->plist_wake_arg, i);
}

/* Caller holds plist_lock. */
static bool all_answered(const struct stats *st)
{
    for (int i = 0; i < st->nworkers; i++)
        if (st->workers[i].plist_answered != st->plist_round)
            return false;
    return true;
}

/* Takes the rows of the workers that answered this round (under the lock)
 * into plist_result. On ENOMEM the answer is no rows. */
static void gather(struct stats *st)
{
    size_t total = 0;
    pthread_mutex_lock(&st->plist_lock);
    for (int i = 0; i < st->nworkers; i++)
        if (st->workers[i].plist_answered == st->plist_round)
            total += st->workers[i].plist_n;
    struct admin_process *rows = malloc((total ? total : 1) * sizeof(*rows));
    size_t n = 0;
    for (int i = 0; rows && i < st->nworkers; i++) {
        struct stats_worker *ws = &st->workers[i];
        if (ws->plist_answered != st->plist_round || !ws->plist_n)
            continue; /* too slow: left out, its late rows stay in its slot */
        memcpy(rows + n, ws->plist_rows, ws->plist_n * sizeof(*rows));
        n += ws->plist_n;
        free(ws->plist_rows);
        ws->plist_rows = NULL;
        ws->plist_n = 0;
    }
    pthread_mutex_unlock(&st->plist_lock);
    free(st->plist_result);
    st->plist_result = rows;
    st->plist_result_n = rows ? n : 0;
}

static void end_round(struct stats *st)
{
    uv_timer_stop(&st->plist_timer);
    gather(st);
    st->plist_busy = false;
    /* A waiter's callback may ask again (it goes to plist_later) or cancel
     * another waiter of this round: take each off the list before calling. */
    while (st->plist_waiters) {
        struct stats_plist_wait *w = st->plist_waiters;
        st->plist_waiters = w->next;
        w->next = NULL;
        w->waiting = false;
        w->done(w);
    }
    if (st->plist_later && st->plist_open)
        start_round(st);
}

static void on_published(uv_async_t *a)
{
    struct stats *st = a->data;
    if (!st->plist_busy)
        return;
    pthread_mutex_lock(&st->plist_lock);
    bool done = all_answered(st);
    pthread_mutex_unlock(&st->plist_lock);
    if (done)
        end_round(st);
}

static void on_round_timeout(uv_timer_t *t)
{
    struct stats *st = t->data;
    if (st->plist_busy)
        end_round(st);
}

int stats_plist_open(struct stats *st, uv_loop_t *main_loop, void (*wake)(void *arg, int worker),
                     void *arg)
{
    if (uv_async_init(main_loop, &st->plist_async, on_published) != 0)
        return STATS_EINVAL;
    uv_timer_init(main_loop, &st->plist_timer);
    st->plist_async.data = st->plist_timer.data = st;
    st->plist_wake = wake;
    st->plist_wake_arg = arg;
    pthread_mutex_lock(&st->plist_lock);
    st->plist_open = true;
    pthread_mutex_unlock(&st->plist_lock);
    return 0;
}

void stats_plist_close(struct stats *st)
{
    pthread_mutex_lock(&st->plist_lock);
    bool was_open = st->plist_open;
    st->plist_open = false;
    pthread_mutex_unlock(&st->plist_lock);
    if (!was_open)
        return;
    for (struct stats_plist_wait *w = st->plist_waiters; w; w = w->next)
        w->waiting = false;
    for (struct stats_plist_wait *w = st->plist_later; w; w = w->next)
        w->waiting = false;
    st->plist_waiters = st->plist_later = NULL;
    st->plist_busy = false;
    uv_close((uv_handle_t *)&st->plist_async, NULL);
    uv_close((uv_handle_t *)&st->plist_timer, NULL);
}

void stats_plist_ask(struct stats *st, struct stats_plist_wait *w)
{
    if (w->waiting)
        return;
    w->waiting = true;
    w->next = st->plist_later;
    st->plist_later = w;
    if (!st->plist_open) {
        /* No exchange (start-up, shutdown, unit tests): the answer is the
         * rows held, at once. */
        st->plist_later = w->next;
        w->next = NULL;
        w->waiting = false;
        w->done(w);
        return;
    }
    if (!st->plist_busy)
        start_round(st);
}

static bool unlink_wait(struct stats_plist_wait **list, struct stats_plist_wait *w)
{
    for (struct stats_plist_wait **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return true;
        }
    return false;
}

void stats_plist_cancel(struct stats *st, struct stats_plist_wait *w)
{
    if (!w->waiting)
        return;
    if (!unlink_wait(&st->plist_waiters, w))
        unlink_wait(&st->plist_later, w);
    w->next = NULL;
    w->waiting = false;
}

bool stats_plist_asked(const struct stats_worker *ws)
{
    /* plist_answered is written by this thread only: no lock to read it. */
    return __atomic_load_n(&ws->plist_asked, __ATOMIC_ACQUIRE) != ws->plist_answered;
}

void stats_plist_publish(struct stats *st, struct stats_worker *ws, struct admin_process *rows,
                         size_t n)
{
    pthread_mutex_lock(&st->plist_lock);
    free(ws->plist_rows);
    ws->plist_rows = rows;
    ws->plist_n = rows ? n : 0;
    ws->plist_answered = __atomic_load_n(&ws->plist_asked, __ATOMIC_ACQUIRE);
    if (st->plist_open)
        uv_async_send(&st->plist_async);
    pthread_mutex_unlock(&st->plist_lock);
}

int stats_plist_rows(struct stats *st, struct admin_process **out, size_t *n)
{
    size_t m = st->plist_result_n;
    *n = 0;
    *out = malloc((m ? m : 1) * sizeof(**out));
    if (!*out)
        return STATS_ENOMEM;
    if (m)
        memcpy(*out, st->plist_result, m * sizeof(**out));
    *n = m;
    return 0;
}
