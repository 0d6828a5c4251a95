/*
 * The command line of the sluice binary (proxy/cli.c): options, --version,
 * --check-config, the datadir lock and the pidfile. Private to the binary
 * (main.c); nothing else includes it.
 */
#ifndef SLUICE_PROXY_CLI_H
#define SLUICE_PROXY_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit statuses: a configuration error (a setting or file at fault) is told
 * apart from a runtime error (a port in use, a full disk...). */
#define CLI_EXIT_RUNTIME 1
#define CLI_EXIT_CONFIG 2

struct cli_options {
    const char *datadir;
    const char *config;
    const char *check_config; /* --check-config FILE: validate and exit */
    const char *pidfile;
    bool foreground;
};

/* Parses argv. -1: run; otherwise the exit status (after --help,
 * --version, or a usage error). */
int cli_parse(int argc, char **argv, struct cli_options *o);
/* Validates the config script at path against a temporary store: prints
 * "path: OK" or what would fail (with the line), returns the exit status
 * (0, or 1 on any error). */
int cli_check_config(const char *path);
/* Takes the datadir's lock (DIR/sluice.lock, created 0600; DIR created
 * 0700 when missing) for the life of the process, across the detach.
 * Returns the lock's descriptor, or -1 with a message in err: another
 * Sluice runs on DIR (its pid named), or the lock cannot be taken. */
int cli_lock_datadir(const char *datadir, char *err, size_t errlen);
/* Records the calling process's pid in the lock file (after the detach),
 * for the message a second start prints. */
void cli_lock_note_pid(int lock_fd);
/* Writes the pid to path (0644) and removes it at exit. 0 or -1 (err). */
int cli_write_pidfile(const char *path, char *err, size_t errlen);

#endif
