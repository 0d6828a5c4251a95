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
    struct proxy_admin *admin;
    struct proxy_metrics *metrics;
    struct monitor *monitor;
    uv_signal_t sigterm, sigint;
    uv_timer_t housekeeping;
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

static void stop_main(struct main_ctx *m)
{
    m->stopping = true;
    proxy_stop(m->proxy);
    proxy_admin_close(m->admin);
    m->admin = NULL;
    proxy_metrics_close(m->metrics);
    m->metrics = NULL;
    proxy_set_monitor(m->proxy, NULL);
    monitor_close(m->monitor);
    m->monitor = NULL;
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
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDONLY);
    if (fd < 0 || nul < 0)
        return -1;
    dup2(nul, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    close(nul);
    return 0;
}

int main(int argc, char **argv)
{
    const char *datadir = NULL, *config = NULL;
    bool foreground = false;
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
            datadir = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!datadir || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* Everything Sluice creates (the datadir, sluice.db and its journal,
     * sluice.log) is for its own user only, whatever umask it inherits;
     * admin/store.c also sets the modes itself. */
    umask(077);
    const char *lvl = getenv("SLUICE_LOG_LEVEL");
    if (lvl) {
        if (!strcmp(lvl, "debug"))
            log_set_level(LOG_LEVEL_DEBUG);
        else if (!strcmp(lvl, "warn"))
            log_set_level(LOG_LEVEL_WARN);
        else if (!strcmp(lvl, "error"))
            log_set_level(LOG_LEVEL_ERROR);
    }

    int rc = 1;
    char err[1024] = "";
    struct admin_store *store = NULL;
    struct admin_config *cfg = NULL;
    struct proxy *proxy = NULL;

    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "sluice: cannot initialise the MySQL client library\n");
        return 1;
    }
    if (admin_store_open(datadir, config, &store, err, sizeof(err)) != 0) {
        log_error("cannot open store in %s: %s", datadir, err);
        goto out;
    }
    if (admin_config_load(store, &cfg, err, sizeof(err)) != 0) {
        log_error("invalid configuration: %s", err);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);

    proxy = proxy_new(cfg, err, sizeof(err));
    if (!proxy) {
        log_error("%s", err);
        goto out;
    }
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the main loop");
        goto out;
    }
    struct main_ctx m = {.proxy = proxy};
    struct admin_sources sources = {.pool = proxy_pool(proxy)};
    sources.digest_stats = proxy_digest_stats(proxy, &sources.n_digest_stats);
    sources.session_stats = proxy_session_stats;
    sources.session_stats_free = proxy_session_stats_free;
    sources.session_arg = proxy;
    sources.proxy_stats = proxy_admin_stats;
    sources.proxy_stats_free = proxy_admin_stats_free;
    sources.proxy_stats_arg = proxy;
    admin_store_set_sources(store, &sources);
    /* The admin interface runs on this thread: it owns the store. */
    m.admin = proxy_admin_listen(&loop, store, proxy, cfg, err, sizeof(err));
    if (!m.admin) {
        log_error("%s", err);
        uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        goto out;
    }
    /* NULL with an empty err: admin-restapi_enabled is false. */
    m.metrics = proxy_metrics_listen(&loop, proxy, cfg, err, sizeof(err));
    if (!m.metrics && err[0]) {
        log_error("%s", err);
        proxy_admin_close(m.admin);
        uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        goto out;
    }
    if (!foreground && daemonize(datadir) != 0) {
        log_error("cannot detach");
        proxy_metrics_close(m.metrics);
        proxy_admin_close(m.admin);
        uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        goto out;
    }
    /* After the fork (threads do not survive it) and before the workers
     * start, so the pool has the monitor's list from the first statement
     * (the first checks then move servers within one interval). */
    m.monitor = monitor_new(&loop, store, proxy_pool(proxy), cfg);
    if (!m.monitor) {
        log_error("cannot start the monitor: out of memory");
        proxy_metrics_close(m.metrics);
        proxy_admin_close(m.admin);
        uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
        goto out;
    }
    proxy_set_monitor(proxy, m.monitor);
    sources.server_status = monitor_server_status;
    sources.server_status_arg = m.monitor;
    admin_store_set_sources(store, &sources);
    uv_signal_init(&loop, &m.sigterm);
    uv_signal_init(&loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_timer_init(&loop, &m.housekeeping);
    m.housekeeping.data = &m;
    uv_timer_start(&m.housekeeping, on_housekeeping, 2000, 2000);
    log_info("sluice started: %zu servers, %zu users", cfg->n_servers, cfg->n_users);
    bool started = proxy_start(proxy) == 0;
    if (started)
        notify_ready();
    else
        stop_main(&m);
    uv_run(&loop, UV_RUN_DEFAULT);
    proxy_wait(proxy);
    if (uv_loop_close(&loop) != 0)
        log_warn("main loop closed with handles open");
    log_info("stopped");
    rc = started ? 0 : 1;
out:
    if (store)
        admin_store_set_sources(store, NULL); /* the pool and stats go with the proxy */
    proxy_free(proxy);
    if (cfg)
        admin_config_unref(cfg);
    admin_store_close(store);
    mysql_library_end();
    return rc;
}
