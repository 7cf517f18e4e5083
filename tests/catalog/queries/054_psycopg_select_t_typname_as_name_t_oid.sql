-- client: psycopg
-- params: ["int4multirange"]
-- columns: [["name", 19], ["oid", 26], ["array_oid", 26], ["regtype", 25], ["range_oid", 26], ["subtype_oid", 26]]
SELECT t.typname AS name, t.oid AS oid, t.typarray AS array_oid,
    t.oid::regtype::text AS regtype,
    r.rngtypid AS range_oid, r.rngsubtype AS subtype_oid
FROM pg_type t
JOIN pg_range r ON t.oid = r.rngmultitypid
WHERE t.oid = to_regtype($1)
