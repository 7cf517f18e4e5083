-- client: dbeaverlike
-- params: ["2200"]
-- columns: [["oid", 26], ["total_rel_size", 20], ["rel_size", 20]]
select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_catalog.pg_class c WHERE c.relnamespace=$1
