/*
 * The leaf every module may use: logging, the clocks and a hash. It uses no
 * other module of Sluice.
 *
 * Logging: lines go to stderr with a UTC timestamp and level; the level is
 * checked before formatting, so a disabled debug line costs one comparison.
 * Never log passwords; query text only at debug.
 */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

extern int log_current_level;

void log_set_level(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends stdout and stderr, and so every log line, to path (opened for
 * append, 0600) and remembers it for log_reopen(). Returns 0 or -1 (errno
 * set; the descriptors are unchanged). Main thread, at start-up. */
int log_open_file(const char *path);

/* Opens the remembered log file again, so a file renamed by logrotate is
 * left behind (PROXYSQL FLUSH LOGS). Returns 1 if a file was reopened, 0
 * when logging goes to the stderr Sluice was started with (nothing to
 * reopen), -1 on failure (the old file stays in use). Main thread. */
int log_reopen(void);

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((int)(lvl) <= log_current_level)                                                       \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)

#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* CLOCK_MONOTONIC: durations, deadlines and timeouts. */
uint64_t clock_now_ns(void);
static inline uint64_t clock_now_us(void)
{
    return clock_now_ns() / 1000u;
}
static inline uint64_t clock_now_ms(void)
{
    return clock_now_ns() / 1000000u;
}
/* CLOCK_REALTIME in microseconds: timestamps operators read. */
int64_t clock_wall_us(void);

/* FNV-1a: statement texts to cache keys. Not for anything an attacker may
 * choose to collide where that matters. */
uint64_t common_hash(const void *data, size_t len);

#endif
