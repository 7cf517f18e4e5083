-- client: psqlodbc
-- params: []
-- columns: [["oid", 26], ["typbasetype", 26]]
select oid, typbasetype from pg_type where typname = 'lo'
