/*
 * Session-prefixed log lines (slog_* in proxy_int.h), as PgBouncer prefixes
 * each line with the client it concerns: the worker, the session id (the
 * connection id clients see), the user once logged in, and the peer.
 */
#include "proxy/proxy_int.h"

#include <stdarg.h>
#include <stdio.h>

void slog_write(enum log_level level, const struct session *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int worker = s->worker ? s->worker->index : -1;
    if (s->username[0])
        log_write(level, "worker %d session %u user '%s' from %s: %s", worker, s->id, s->username,
                  s->peer, msg);
    else
        log_write(level, "worker %d session %u from %s: %s", worker, s->id, s->peer, msg);
}
