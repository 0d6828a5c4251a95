/*
 * proxy/killq.c: KILL CONNECTION of a backend thread, asynchronously.
 */
#ifndef SLUICE_PROXY_KILLQ_H
#define SLUICE_PROXY_KILLQ_H

#include <stdbool.h>
#include <uv.h>

/* Connects to server_name ("host:port") as user/password from the thread
 * pool of loop and kills thread_id there; the outcome is logged (no
 * callback). Strings are copied; the password copy is wiped after use.
 * Returns 0, or when the request could not be queued PROXY_ENOMEM,
 * PROXY_EINVAL (server_name has no ":port" or a host too long) or PROXY_EIO
 * (libuv refused the work). Loop's thread. */
int proxy_kill_thread(uv_loop_t *loop, const char *server_name, const char *user,
                      const char *password, unsigned long thread_id)
    __attribute__((warn_unused_result));

/* The same; with query, KILL QUERY: the statement ends with the server's
 * 1317 and the connection lives on. */
int proxy_kill_thread_how(uv_loop_t *loop, const char *server_name, const char *user,
                          const char *password, unsigned long thread_id, bool query)
    __attribute__((warn_unused_result));

#endif
