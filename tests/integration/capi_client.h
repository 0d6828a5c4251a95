/*
 * What capi_client.c shares with the checks kept in other files
 * (capi_session.c).
 */
#ifndef SLUICE_CAPI_CLIENT_H
#define SLUICE_CAPI_CLIENT_H

#include <mysql.h>

/* Prints "FAIL CHECK: message" and exits 1. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

/* A connection as the test user to the target, with timeouts; fails the check if refused. */
MYSQL *open_conn(void);
/* A connection whose handshake announces charset (a name Connector/C knows). */
MYSQL *open_conn_charset(const char *charset);
/* The second account of the command line, and the schema. */
void capi_second_user(const char **user, const char **pass, const char **db);

/* The "session" check (capi_session.c); its steps are the arguments after its name,
 * borrowed for the process's life. */
void capi_session_steps(char **steps, int n);
void check_session(void);
void check_charset_latin1(void);

#endif
