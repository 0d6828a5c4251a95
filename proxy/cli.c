/*
 * The command line habits operators expect of a daemon: --help lists every
 * option, --version names the build and the libraries, --check-config
 * validates a script before it is deployed, --pidfile for init scripts, and
 * one Sluice per datadir (two would share a store and fight over the ports
 * it names).
 */
#include "proxy/cli.h"

#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <mysql.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif
#ifndef SLUICE_BUILD
#define SLUICE_BUILD "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice --datadir DIR [--config FILE] [--foreground] [--pidfile FILE]\n"
               "       sluice --check-config FILE\n"
               "       sluice --version | --help\n"
               "  --datadir DIR         directory of the SQLite store (sluice.db); created if "
               "missing\n"
               "  --config FILE         SQL script applied when the store is new\n"
               "  --foreground          stay attached and log to stderr (else DIR/sluice.log)\n"
               "  --pidfile FILE        write the process id to FILE, removed at exit\n"
               "  --check-config FILE   validate FILE against a temporary store and exit\n"
               "                        (0: valid, 1: what would fail is printed)\n"
               "  --version             the version, build options and library versions\n"
               "  --help                this text\n"
               "signals: SIGTERM/SIGINT drain and stop; SIGHUP reopens DIR/sluice.log\n"
               "environment: SLUICE_LOG_LEVEL=error|warn|info|debug\n"
               "exit status: 0 stopped cleanly, 1 runtime error, 2 configuration error\n");
}

static void version(FILE *f)
{
    char pcre[32] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    fprintf(f, "sluice %s\nbuild: %s\n", SLUICE_VERSION, SLUICE_BUILD);
    fprintf(f, "libraries: libuv %s, MariaDB Connector/C %s, PCRE2 %s, SQLite %s\n",
            uv_version_string(), mysql_get_client_info(), pcre, sqlite3_libversion());
}

int cli_parse(int argc, char **argv, struct cli_options *o)
{
    static const struct option opts[] = {
        {"datadir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"pidfile", required_argument, NULL, 'p'},
        {"check-config", required_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:c:fp:k:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->datadir = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'p':
            o->pidfile = optarg;
            break;
        case 'k':
            o->check_config = optarg;
            break;
        case 'V':
            version(stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return CLI_EXIT_CONFIG;
        }
    }
    if (optind != argc || (!o->datadir && !o->check_config)) {
        usage(stderr);
        return CLI_EXIT_CONFIG;
    }
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int cli_check_config(const char *path)
{
    char dir[] = "/tmp/sluice-check.XXXXXX", err[1024] = "";
    struct admin_store *store = NULL;
    struct admin_config *cfg = NULL;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "sluice: cannot create a temporary store: %s\n", strerror(errno));
        return 1;
    }
    int rc = admin_store_open(dir, path, &store, err, sizeof(err));
    if (rc == 0)
        rc = admin_config_load(store, &cfg, err, sizeof(err));
    if (cfg)
        admin_config_unref(cfg);
    admin_store_close(store);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    printf("%s: OK\n", path);
    return 0;
}

int cli_lock_datadir(const char *datadir, char *err, size_t errlen)
{
    char path[4096], pid[32] = "";
    if (mkdir(datadir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create --datadir %s: %s", datadir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/sluice.lock", datadir);
    /* Never closed: the lock lasts as long as the process, and the detach's
     * fork shares it with the child. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen, "another sluice (pid %s) already runs on --datadir %s",
                 pid[0] ? pid : "?", datadir);
        close(fd);
        return -1;
    }
    return fd;
}

void cli_lock_note_pid(int lock_fd)
{
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(lock_fd, 0) != 0 || pwrite(lock_fd, pid, (size_t)n, 0) != n)
        return; /* only the message of a second start names the pid */
}

static const char *pidfile_path;

static void remove_pidfile(void)
{
    if (pidfile_path)
        unlink(pidfile_path);
}

int cli_write_pidfile(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    int ok = f && fprintf(f, "%ld\n", (long)getpid()) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write --pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    chmod(path, 0644);
    pidfile_path = path;
    atexit(remove_pidfile);
    return 0;
}
