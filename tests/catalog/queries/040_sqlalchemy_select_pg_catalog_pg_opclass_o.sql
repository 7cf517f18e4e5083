-- client: sqlalchemy
-- params: []
-- columns: [["oid", 26], ["opcname", 19]]
SELECT pg_catalog.pg_opclass.oid, pg_catalog.pg_opclass.opcname 
FROM pg_catalog.pg_opclass 
WHERE NOT pg_catalog.pg_opclass.opcdefault
