-- client: grafana
-- params: []
-- columns: [["extversion", 25]]
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';
