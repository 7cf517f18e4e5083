-- client: grafana
-- params: []
-- columns: [["version", 23]]
SELECT current_setting('server_version_num')::int/100 as version;
