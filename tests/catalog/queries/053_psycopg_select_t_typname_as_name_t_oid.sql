-- client: psycopg
-- params: ["int4range"]
-- columns: [["name", 19], ["oid", 26], ["array_oid", 26], ["regtype", 25], ["subtype_oid", 26]]
SELECT t.typname AS name, t.oid AS oid, t.typarray AS array_oid,
    t.oid::regtype::text AS regtype,
    r.rngsubtype AS subtype_oid
FROM pg_type t
JOIN pg_range r ON t.oid = r.rngtypid
WHERE t.oid = to_regtype($1)
