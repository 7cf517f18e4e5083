-- client: sqlalchemy
-- params: ["btree"]
-- columns: [["oid", 26], ["amname", 19]]
SELECT pg_catalog.pg_am.oid, pg_catalog.pg_am.amname 
FROM pg_catalog.pg_am 
WHERE pg_catalog.pg_am.amname = $1::VARCHAR
