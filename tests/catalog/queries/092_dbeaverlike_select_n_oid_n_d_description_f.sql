-- client: dbeaverlike
-- params: []
-- columns: [["oid", 26], ["oid", 26], ["nspname", 19], ["nspowner", 26], ["nspacl", 1034], ["description", 25]]
select n.oid,n.*,d.description from pg_catalog.pg_namespace n left outer join pg_catalog.pg_description d on d.objoid=n.oid and d.objsubid=0 and d.classoid='pg_namespace'::regclass order by nspname
