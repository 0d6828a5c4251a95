-- Sluice demo configuration, applied by `sluice --config` when the store is new (demo.sh
-- wipes ./demo/data first). Table and variable names are ProxySQL's.
-- Fleet (tests/fleet.sh start ./demo/fleet): primary 127.0.0.1:3307, replicas 3308 and 3309.

INSERT INTO mysql_servers (hostgroup_id, hostname, port, max_connections, comment) VALUES
    (0, '127.0.0.1', 3307, 50, 'primary'),
    (1, '127.0.0.1', 3308, 50, 'replica1'),
    (1, '127.0.0.1', 3309, 50, 'replica2');

-- Writer hostgroup 0, reader hostgroup 1: the monitor moves servers by their read_only flag.
INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup, comment) VALUES
    (0, 1, 'demo');

INSERT INTO mysql_users (username, password, default_hostgroup, default_schema) VALUES
    ('app', 'apppass', 0, 'app'),
    ('app2', 'app2pass', 0, 'app');

INSERT OR REPLACE INTO global_variables (variable_name, variable_value) VALUES
    ('mysql-interfaces', '127.0.0.1:6033'),
    ('admin-mysql_ifaces', '127.0.0.1:6032'),
    ('mysql-threads', '2'),
    ('mysql-monitor_username', 'monitor'),
    ('mysql-monitor_password', 'monitorpass');
