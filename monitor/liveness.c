/*
 * Liveness: is a server there at all? The ProxySQL-style ping check runs
 * every 10 s and shuns after 3 failures, so a frozen server (SIGSTOP, a VM
 * paused, a black-holed route) would hold every statement sent to it for
 * half a minute. Here every check the monitor runs counts: an answer of any
 * kind shows the server alive; a connect or COM_PING that got none (timed
 * out, refused, lost) is a failure. The health thread adds a cheap liveness
 * probe (COM_PING on its kept connection, mysql-monitor_liveness_interval
 * 500 ms, timeout 500 ms), so with the defaults 3 unanswered checks in a row
 * (a silence of at least 1.5 s, probes running back to back once the first
 * timed out: no healthy server leaves a COM_PING unanswered that long,
 * however loaded) shun a server 1.5-2 s after it froze. read_only and lag
 * queries count only when answered: a query may wait on a server lock.
 *
 * States of struct mon_liveness, changed only by mon_liveness_note():
 *
 *   alive --max_failures unanswered in a row--> shunned
 *   shunned --max_failures answers in a row--> alive
 *                (damped: and recovery_ms since the last failure)
 *
 * Recovery is prompt (within about a second of the server resuming: checks
 * that were waiting on it answer at once), so a server that resumes after a
 * freeze takes work again at once; a server shunned again
 * within recovery_ms of coming back is flapping and stays out for
 * recovery_ms (mysql-shun_recovery_time_sec) after its last failure.
 *
 * Pure functions: no clock, no logging, no threads; monitor.c calls them on
 * the main thread and tests/unit/test_monitor.c drives them with made-up
 * times.
 */
#include "monitor/monitor_int.h"

int mon_result_answered(const struct mon_result *r)
{
    switch (r->kind) {
    case MON_CONNECT:
    case MON_PING:
    case MON_LIVENESS:
        return r->alive ? 1 : 0;
    case MON_READ_ONLY:
    case MON_LAG:
        /* An empty SHOW SLAVE STATUS is an answer too. */
        return r->ok || r->not_replica ? 1 : -1;
    }
    return -1;
}

static enum mon_live_event note_failure(struct mon_liveness *l, int64_t now_ms, int max_failures,
                                        int64_t recovery_ms)
{
    l->answers = 0;
    l->failures++;
    l->last_failure_ms = now_ms;
    if (l->shunned || l->failures < max_failures)
        return MON_LIVE_SAME;
    l->shunned = true;
    l->damped = l->was_back && now_ms - l->back_ms < recovery_ms;
    return MON_LIVE_SHUN;
}

static enum mon_live_event note_answer(struct mon_liveness *l, int64_t now_ms, int max_failures,
                                       int64_t recovery_ms)
{
    l->failures = 0;
    if (!l->shunned)
        return MON_LIVE_SAME;
    l->answers++;
    if (l->answers < max_failures)
        return MON_LIVE_SAME;
    if (l->damped && now_ms - l->last_failure_ms < recovery_ms)
        return MON_LIVE_SAME;
    l->shunned = false;
    l->damped = false;
    l->answers = 0;
    l->was_back = true;
    l->back_ms = now_ms;
    return MON_LIVE_BACK;
}

enum mon_live_event mon_liveness_note(struct mon_liveness *l, bool answered, int64_t now_ms,
                                      int max_failures, int64_t recovery_ms)
{
    if (max_failures < 1)
        max_failures = 1;
    if (answered)
        return note_answer(l, now_ms, max_failures, recovery_ms);
    return note_failure(l, now_ms, max_failures, recovery_ms);
}
