/*
 * sluice --datadir DIR [--config FILE] [--foreground] [--pidfile FILE]
 * (the command line itself: proxy/cli.c)
 *
 * Opens the store in DIR (applying FILE when the store is new), builds the
 * runtime snapshot, binds the listeners and runs the workers until SIGTERM
 * or SIGINT, then drains (see proxy.h). Without --foreground it detaches and
 * logs to DIR/sluice.log.
 */
#include "admin/admin.h"
#include "common/common.h"
#include "ops/ops.h"
#include "proxy/cli.h"
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
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

struct main_ctx {
    struct proxy *proxy;
    struct ops_admin *admin;
    struct ops_metrics *metrics;
    struct monitor *monitor;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t housekeeping;
    int lock_fd;     /* DIR/sluice.lock, held for the process's life */
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
    uv_close((uv_handle_t *)&m->sighup, NULL);
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

/* logrotate moves sluice.log away and sends SIGHUP: the next line goes to
 * a new file. In the foreground there is no file to reopen. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    int rc = log_reopen();
    if (rc > 0)
        log_info("SIGHUP: log file reopened");
    else if (rc < 0)
        log_error("SIGHUP: cannot reopen the log file: %s", strerror(errno));
    else
        log_info("SIGHUP: logging to stderr, nothing to reopen");
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
                         struct admin_config *cfg, const struct cli_options *o)
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
    cli_lock_note_pid(m->lock_fd);
    if (o->pidfile && cli_write_pidfile(o->pidfile, err, sizeof(err)) != 0)
        goto fail;
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
    uv_signal_init(loop, &m->sighup);
    uv_signal_start(&m->sighup, on_sighup, SIGHUP);
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
    return started ? 0 : CLI_EXIT_RUNTIME;
}

/* Opens the store and builds the first snapshot. 0, or the exit status
 * (logged): a script or setting at fault is a configuration error. */
static int load(const struct cli_options *o, struct admin_store **store, struct admin_config **cfg)
{
    char err[1024] = "";
    int rc = admin_store_open(o->datadir, o->config, store, err, sizeof(err));
    if (rc != 0) {
        log_error("cannot open store in %s: %s", o->datadir, err);
        return rc == ADMIN_EIO || rc == ADMIN_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_CONFIG;
    }
    rc = admin_config_load(*store, cfg, err, sizeof(err));
    if (rc != 0) {
        log_error("invalid configuration: %s", err);
        return rc == ADMIN_ENOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_CONFIG;
    }
    return 0;
}

/* Builds the proxy and runs it. Returns the exit status. */
static int serve(struct main_ctx *m, struct admin_store *store, struct admin_config *cfg,
                 const struct cli_options *o)
{
    char err[1024] = "";
    uv_loop_t loop;
    int rc = proxy_new(cfg, &m->proxy, err, sizeof(err));
    if (rc != 0) {
        log_error("%s", err);
        return rc == PROXY_EINVAL ? CLI_EXIT_CONFIG : CLI_EXIT_RUNTIME;
    }
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the main loop");
        return CLI_EXIT_RUNTIME;
    }
    rc = CLI_EXIT_RUNTIME;
    if (open_services(m, &loop, store, cfg, o) == 0)
        rc = run(m, &loop, cfg);
    else
        uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
    if (uv_loop_close(&loop) != 0)
        log_warn("main loop closed with handles open");
    if (rc == 0)
        log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    struct cli_options o = {0};
    int rc = cli_parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    /* Everything Sluice creates (the datadir, sluice.db and its journal,
     * sluice.log) is for its own user only, whatever umask it inherits;
     * admin/store.c also sets the modes itself. */
    umask(077);
    log_level_from_env();
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "sluice: cannot initialise the MySQL client library\n");
        return CLI_EXIT_RUNTIME;
    }
    if (o.check_config) {
        rc = cli_check_config(o.check_config);
        mysql_library_end();
        return rc;
    }
    char err[1024] = "";
    struct admin_store *store = NULL;
    struct admin_config *cfg = NULL;
    struct main_ctx m = {.lock_fd = cli_lock_datadir(o.datadir, err, sizeof(err))};
    if (m.lock_fd < 0) {
        log_error("%s", err);
        rc = CLI_EXIT_RUNTIME;
    } else if ((rc = load(&o, &store, &cfg)) == 0) {
        signal(SIGPIPE, SIG_IGN);
        rc = serve(&m, store, cfg, &o);
    }
    if (store)
        admin_store_set_sources(store, NULL); /* the pool and stats go with the proxy */
    proxy_free(m.proxy);
    if (cfg)
        admin_config_unref(cfg);
    admin_store_close(store);
    mysql_library_end();
    return rc;
}
