-- client: sqlalchemy
-- params: []
-- columns: [["current_schema", 19]]
select current_schema()
