/*
 * sluice --datadir DIR [--config FILE] [--foreground]
 *
 * Opens the store in DIR (applying FILE when the store is new), builds the
 * runtime snapshot, binds the listeners and runs the workers until SIGTERM
 * or SIGINT, then drains (see proxy.h). Without --foreground it detaches and
 * logs to DIR/sluice.log.
 */
#include "admin/admin.h"
#include "common/common.h"
#include "ops/ops.h"
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mysql.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice --datadir DIR [--config FILE] [--foreground]\n"
               "  --datadir DIR   directory of the SQLite store (sluice.db); created if missing\n"
               "  --config FILE   SQL script applied when the store is new\n"
               "  --foreground    stay attached and log to stderr\n"
               "environment: SLUICE_LOG_LEVEL=error|warn|info|debug\n");
}

struct main_ctx {
    struct proxy *proxy;
    struct ops_admin *admin;
    struct ops_metrics *metrics;
    struct monitor *monitor;
    uv_signal_t sigterm, sigint;
    uv_timer_t housekeeping;
    bool stats_open; /* the processlist exchange runs on this loop */
    bool stopping;
};

static void on_housekeeping(uv_timer_t *t)
{
    struct main_ctx *m = t->data;
    proxy_trim_memory(m->proxy);
}

/* Tells systemd (Type=notify) that every port answers. Without
 * NOTIFY_SOCKET, as outside systemd, it does nothing. An '@' names a socket
 * in the abstract namespace. */
static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
        return;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    static const char msg[] = "READY=1";
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&sa, salen) < 0)
        log_warn("cannot notify systemd at %s: %s", path, strerror(errno));
    close(fd);
}

/* Closes what open_services opened (NULL members are skipped). */
static void close_services(struct main_ctx *m)
{
    ops_admin_close(m->admin);
    m->admin = NULL;
    ops_metrics_close(m->metrics);
    m->metrics = NULL;
    proxy_set_monitor(m->proxy, NULL);
    monitor_close(m->monitor);
    m->monitor = NULL;
    if (m->stats_open)
        proxy_stats_close(m->proxy);
    m->stats_open = false;
}

static void stop_main(struct main_ctx *m)
{
    m->stopping = true;
    proxy_stop(m->proxy);
    close_services(m);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->housekeeping, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct main_ctx *m = h->data;
    if (m->stopping)
        return;
    log_info("signal %d: draining", signum);
    stop_main(m);
}

static int daemonize(const char *datadir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/sluice.log", datadir);
    pid_t pid = fork();
    if (pid < 0)
        return PROXY_EIO;
    if (pid > 0)
        _exit(0);
    setsid();
    /* Through the logger, so PROXYSQL FLUSH LOGS can reopen the file. */
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || log_open_file(path) != 0)
        return PROXY_EIO;
    dup2(nul, STDIN_FILENO);
    close(nul);
    return 0;
}

struct options {
    const char *datadir, *config;
    bool foreground;
};

/* What parse_args returns after --help: exit with status 0. */
#define EXIT_AFTER_HELP (-1)

/* 0 to run, EXIT_AFTER_HELP, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"datadir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:c:fh", opts, NULL)) != -1) {
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
        case 'h':
            usage(stdout);
            return EXIT_AFTER_HELP;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o->datadir || optind != argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static void log_level_from_env(void)
{
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    if (!lvl)
        return;
    if (!strcmp(lvl, "debug"))
        log_set_level(LOG_LEVEL_DEBUG);
    else if (!strcmp(lvl, "warn"))
        log_set_level(LOG_LEVEL_WARN);
    else if (!strcmp(lvl, "error"))
        log_set_level(LOG_LEVEL_ERROR);
}

static void set_sources(struct admin_store *store, struct proxy *proxy, struct monitor *monitor)
{
    struct admin_sources src = {.pool = proxy_pool(proxy)};
    src.digest_stats = proxy_digest_stats(proxy, &src.n_digest_stats);
    src.session_stats = proxy_session_stats;
    src.session_stats_free = proxy_session_stats_free;
    src.session_arg = proxy;
    src.proxy_stats = proxy_admin_stats;
    src.proxy_stats_free = proxy_admin_stats_free;
    src.proxy_stats_arg = proxy;
    src.server_status = monitor ? monitor_server_status : NULL;
    src.server_status_arg = monitor;
    admin_store_set_sources(store, &src);
}

/* Opens the main thread's services in start-up order (see
 * docs/architecture.md): the processlist exchange, the admin and metrics
 * ports, the detach, the monitor. On failure logs why, closes what it
 * opened and returns PROXY_EIO. */
static int open_services(struct main_ctx *m, uv_loop_t *loop, struct admin_store *store,
                         struct admin_config *cfg, const struct options *o)
{
    char err[1024] = "";
    set_sources(store, m->proxy, NULL);
    if (proxy_stats_open(m->proxy, loop) != 0) {
        log_error("cannot start the processlist exchange");
        return PROXY_EIO;
    }
    m->stats_open = true;
    /* The admin interface runs on this thread: it owns the store. */
    m->admin = ops_admin_listen(loop, store, m->proxy, cfg, err, sizeof(err));
    if (!m->admin)
        goto fail;
    err[0] = '\0';
    m->metrics = ops_metrics_listen(loop, m->proxy, cfg, err, sizeof(err));
    if (!m->metrics && err[0]) /* NULL, no message: admin-restapi_enabled is false */
        goto fail;
    if (!o->foreground && daemonize(o->datadir) != 0) {
        snprintf(err, sizeof(err), "cannot detach");
        goto fail;
    }
    /* After the fork (threads do not survive it) and before the workers
     * start, so the pool has the monitor's list from the first statement
     * (the first checks then move servers within one interval). */
    m->monitor = monitor_new(loop, store, proxy_pool(m->proxy), cfg);
    if (!m->monitor) {
        snprintf(err, sizeof(err), "cannot start the monitor: out of memory");
        goto fail;
    }
    proxy_set_monitor(m->proxy, m->monitor);
    set_sources(store, m->proxy, m->monitor);
    return 0;
fail:
    log_error("%s", err);
    close_services(m);
    return PROXY_EIO;
}

/* Runs the main loop until the workers drained. Returns the exit status. */
static int run(struct main_ctx *m, uv_loop_t *loop, const struct admin_config *cfg)
{
    uv_signal_init(loop, &m->sigterm);
    uv_signal_init(loop, &m->sigint);
    m->sigterm.data = m->sigint.data = m;
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    uv_timer_init(loop, &m->housekeeping);
    m->housekeeping.data = m;
    uv_timer_start(&m->housekeeping, on_housekeeping, 2000, 2000);
    log_info("sluice started: %zu servers, %zu users", cfg->n_servers, cfg->n_users);
    bool started = proxy_start(m->proxy) == 0;
    if (started)
        notify_ready();
    else
        stop_main(m);
    uv_run(loop, UV_RUN_DEFAULT);
    proxy_wait(m->proxy);
    return started ? 0 : 1;
}

/* Opens the store and builds the first snapshot. 0, or PROXY_EINVAL
 * (logged). */
static int load(const struct options *o, struct admin_store **store, struct admin_config **cfg)
{
    char err[1024] = "";
    if (admin_store_open(o->datadir, o->config, store, err, sizeof(err)) != 0) {
        log_error("cannot open store in %s: %s", o->datadir, err);
        return PROXY_EINVAL;
    }
    if (admin_config_load(*store, cfg, err, sizeof(err)) != 0) {
        log_error("invalid configuration: %s", err);
        return PROXY_EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc == EXIT_AFTER_HELP ? 0 : rc;
    /* Everything Sluice creates (the datadir, sluice.db and its journal,
     * sluice.log) is for its own user only, whatever umask it inherits;
     * admin/store.c also sets the modes itself. */
    umask(077);
    log_level_from_env();
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "sluice: cannot initialise the MySQL client library\n");
        return 1;
    }
    rc = 1;
    char err[1024] = "";
    struct admin_store *store = NULL;
    struct admin_config *cfg = NULL;
    struct main_ctx m = {0};
    uv_loop_t loop;
    if (load(&o, &store, &cfg) != 0)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    m.proxy = proxy_new(cfg, err, sizeof(err));
    if (!m.proxy) {
        log_error("%s", err);
        goto out;
    }
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the main loop");
        goto out;
    }
    if (open_services(&m, &loop, store, cfg, &o) == 0)
        rc = run(&m, &loop, cfg);
    else
        uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
    if (uv_loop_close(&loop) != 0)
        log_warn("main loop closed with handles open");
    if (rc == 0)
        log_info("stopped");
out:
    if (store)
        admin_store_set_sources(store, NULL); /* the pool and stats go with the proxy */
    proxy_free(m.proxy);
    if (cfg)
        admin_config_unref(cfg);
    admin_store_close(store);
    mysql_library_end();
    return rc;
}
