-- client: sqlalchemy
-- params: []
-- columns: [["version", 25]]
select pg_catalog.version()
