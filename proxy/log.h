/*
 * Logging: a leaf module every other module may use. Lines go to stderr with
 * a UTC timestamp and level; the level is checked before formatting so a
 * disabled debug line costs one comparison. Never log passwords; query text
 * only at debug.
 */
#ifndef SLUICE_PROXY_LOG_H
#define SLUICE_PROXY_LOG_H

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

extern int log_current_level;

void log_set_level(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((int)(lvl) <= log_current_level)                                                       \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)

#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
