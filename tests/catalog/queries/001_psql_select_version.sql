-- client: psql
-- params: []
-- columns: [["version", 25]]
select version()
