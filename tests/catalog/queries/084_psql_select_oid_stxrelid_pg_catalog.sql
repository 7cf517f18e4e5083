-- client: psql
-- params: []
-- columns: [["oid", 26], ["stxrelid", 2205], ["nsp", 25], ["stxname", 19], ["columns", 25], ["ndist_enabled", 16], ["deps_enabled", 16], ["mcv_enabled", 16], ["stxstattarget", 23]]
SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '1259'
ORDER BY nsp, stxname;
