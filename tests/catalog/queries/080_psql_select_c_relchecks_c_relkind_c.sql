-- client: psql
-- params: []
-- columns: [["relchecks", 21], ["relkind", 18], ["relhasindex", 16], ["relhasrules", 16], ["relhastriggers", 16], ["relrowsecurity", 16], ["relforcerowsecurity", 16], ["relhasoids", 16], ["relispartition", 16], ["?column?", 25], ["reltablespace", 26], ["reloftype", 25], ["relpersistence", 18], ["relreplident", 18], ["amname", 19]]
SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '1259';
