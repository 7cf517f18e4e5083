-- client: psycopg
-- params: ["timestamptz"]
-- columns: [["name", 19], ["oid", 26], ["array_oid", 26], ["regtype", 25], ["delimiter", 18]]
SELECT
    typname AS name, oid, typarray AS array_oid,
    oid::regtype::text AS regtype, typdelim AS delimiter
FROM pg_type t
WHERE t.oid = to_regtype($1)
ORDER BY t.oid
