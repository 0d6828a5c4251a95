/*
 * Liveness: is a server there at all? The ProxySQL-style ping check runs
 * every 10 s and shuns after 3 failures, so a frozen server (SIGSTOP, a VM
 * paused, a black-holed route) would hold every statement sent to it for
 * half a minute. Here every check the monitor runs counts: an answer of any
 * kind shows the server alive; a connect or COM_PING that got none (timed
 * out, refused, lost) is a failure. A thread of its own per server adds a
 * cheap liveness probe (COM_PING on a kept connection, every
 * mysql-monitor_liveness_interval 500 ms, timeout 500 ms), so whatever the
 * other checks are doing, a frozen server meets a probe within 500 ms and
 * probes run back to back once one timed out. A probe that got no answer
 * leaves its COM_PING (or connect) running and the next one waits on it,
 * so a reply that is late still counts; while the probe is still
 * connecting it proves nothing either way (a handshake can be slow on a
 * loaded server) until it has taken MON_LIVE_CONNECT_WINDOWS windows.
 *
 * The rule is a silence, not a count: a server that left every check
 * unanswered for mysql-monitor_liveness_window (1500 ms, from the start of
 * the first unanswered check to the end of the last, at least 2 checks) is
 * shunned. Counting failures would make the time depend on which checks
 * failed (a 1 s ping check is worth two probes); a silence does not. With
 * the defaults a frozen server is out 1.5-2 s after it froze. No healthy
 * server, however loaded, leaves a COM_PING unanswered for 1.5 s: it waits
 * on no lock. read_only and lag queries count only when answered, since a
 * query may wait on a server lock.
 *
 * States of struct mon_liveness, changed only by mon_liveness_note():
 *
 *   alive --silent for window_ms (2+ checks)--> shunned
 *   shunned --MON_LIVE_ANSWERS answers in a row--> alive
 *                (damped: and recovery_ms since the last failure)
 *
 * Recovery is prompt (within about a second of the server resuming; checks
 * that were waiting on it answer at once), so a server that resumes after a
 * freeze takes work again at once; a server shunned again within
 * recovery_ms (mysql-shun_recovery_time_sec) of coming back is flapping and
 * stays out until recovery_ms passed since its last failure.
 *
 * Pure functions: no clock, no logging, no threads; monitor.c calls them on
 * the main thread and tests/unit/test_monitor.c drives them with made-up
 * times.
 */
#include "monitor/monitor_int.h"

int mon_result_answered(const struct mon_result *r)
{
    switch (r->kind) {
    case MON_LIVENESS:
        if (r->inconclusive)
            return -1;
        /* fall through */
    case MON_CONNECT:
    case MON_PING:
        return r->alive ? 1 : 0;
    case MON_READ_ONLY:
    case MON_LAG:
        /* An empty SHOW SLAVE STATUS is an answer too. */
        return r->ok || r->not_replica ? 1 : -1;
    }
    return -1;
}

static enum mon_live_event note_failure(struct mon_liveness *l, int64_t start_ms, int64_t end_ms,
                                        int64_t window_ms, int64_t recovery_ms)
{
    l->answers = 0;
    /* Checks of two threads may arrive out of order: the silence began
     * with the earliest start among them. */
    if (l->failures == 0 || start_ms < l->silent_since_ms)
        l->silent_since_ms = start_ms;
    l->failures++;
    if (end_ms > l->last_failure_ms || l->failures == 1)
        l->last_failure_ms = end_ms;
    if (l->shunned || l->failures < MON_LIVE_MIN_FAILURES ||
        l->last_failure_ms - l->silent_since_ms < window_ms)
        return MON_LIVE_SAME;
    l->shunned = true;
    l->damped = l->was_back && end_ms - l->back_ms < recovery_ms;
    return MON_LIVE_SHUN;
}

static enum mon_live_event note_answer(struct mon_liveness *l, int64_t end_ms, int64_t recovery_ms)
{
    l->failures = 0;
    if (!l->shunned)
        return MON_LIVE_SAME;
    l->answers++;
    if (l->answers < MON_LIVE_ANSWERS)
        return MON_LIVE_SAME;
    if (l->damped && end_ms - l->last_failure_ms < recovery_ms)
        return MON_LIVE_SAME;
    l->shunned = false;
    l->damped = false;
    l->answers = 0;
    l->was_back = true;
    l->back_ms = end_ms;
    return MON_LIVE_BACK;
}

enum mon_live_event mon_liveness_note(struct mon_liveness *l, bool answered, int64_t start_ms,
                                      int64_t end_ms, int64_t window_ms, int64_t recovery_ms)
{
    if (answered)
        return note_answer(l, end_ms, recovery_ms);
    return note_failure(l, start_ms, end_ms, window_ms, recovery_ms);
}
