-- Sluice's default configuration, as SQL against the store (ProxySQL's table names).
--
-- These are the values Sluice uses when a variable is not set: a new store is pre-filled
-- with them, so this file changes nothing when applied as it is. Copy it, edit what you
-- need and start with:  sluice --datadir DIR --config my.sql
-- (the file is applied only when DIR holds no store yet).
-- tests/unit/test_admin.c checks that this file and the built-in defaults agree.

INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES
    ('mysql-interfaces', '127.0.0.1:6033'),
    ('mysql-threads', '0'),
    ('mysql-server_version', '10.11.6-MariaDB-Sluice'),
    ('mysql-connect_timeout_server', '3000'),
    ('mysql-connect_timeout_server_max', '10000'),
    ('mysql-max_stmts_per_connection', '50'),
    ('mysql-query_digests_max_query_length', '65000'),
    ('mysql-shutdown_timeout', '10000'),
    ('mysql-poll_timeout', '2000'),
    ('mysql-default_charset', 'utf8mb4'),
    ('mysql-causal_reads', 'false'),
    ('mysql-causal_reads_timeout', '50'),
    ('mysql-hostgroup_hints', 'false'),
    ('mysql-monitor_enabled', 'true'),
    ('mysql-monitor_username', 'monitor'),
    ('mysql-monitor_password', 'monitor'),
    ('mysql-min_idle_connections', '0'),
    ('mysql-connection_warmup_rate', '20'),
    ('mysql-connection_warmup_jitter_ms', '1000'),
    ('mysql-connection_idle_timeout_ms', '300000'),
    ('mysql-connection_max_age_ms', '0'),
    ('mysql-ping_interval_server_msec', '10000'),
    ('mysql-test_on_borrow', 'false'),
    ('mysql-queue_fail_fast_length', '0'),
    ('mysql-queue_fail_fast_wait_ms', '0'),
    ('mysql-max_connections', '10000'),
    ('mysql-connect_timeout_client', '10000'),
    ('mysql-max_unauthenticated_connections', '2000'),
    ('mysql-max_allowed_packet', '67108864'),
    ('mysql-max_prepared_stmts_per_client', '1024'),
    ('mysql-session_buffers_MB', '0'),
    ('mysql-auth_failure_delay_ms', '100'),
    ('mysql-auth_failure_delay_max_ms', '5000'),
    ('mysql-idle_transaction_timeout', '0'),
    ('mysql-max_transaction_time', '14400000'),
    ('mysql-pinned_idle_timeout', '0'),
    ('mysql-monitor_connect_interval', '60000'),
    ('mysql-monitor_connect_timeout', '600'),
    ('mysql-monitor_ping_interval', '10000'),
    ('mysql-monitor_ping_timeout', '1000'),
    ('mysql-monitor_ping_max_failures', '3'),
    ('mysql-monitor_liveness_interval', '500'),
    ('mysql-monitor_liveness_timeout', '500'),
    ('mysql-monitor_liveness_window', '1500'),
    ('mysql-monitor_read_only_interval', '1500'),
    ('mysql-monitor_read_only_timeout', '500'),
    ('mysql-monitor_replication_lag_interval', '10000'),
    ('mysql-monitor_replication_lag_timeout', '1000'),
    ('mysql-monitor_writer_is_also_reader', 'true'),
    ('mysql-monitor_history', '600000'),
    ('mysql-shun_on_failures', '5'),
    ('mysql-shun_recovery_time_sec', '10'),
    ('mysql-query_retries_on_failure', '1'),
    ('mysql-query_cache_size_MB', '256'),
    ('admin-mysql_ifaces', '127.0.0.1:6032'),
    ('admin-admin_credentials', 'admin:admin'),
    ('admin-restapi_enabled', 'true'),
    ('admin-restapi_port', '6070');

-- Servers and users have no defaults. Example:
-- INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections)
--     VALUES (0, '127.0.0.1', 3306, 100);
-- INSERT INTO mysql_users (username, password, default_hostgroup, default_schema)
--     VALUES ('app', 'secret', 0, 'app');
