-- client: asyncpg
-- params: ["int4[]", "pg_catalog"]
-- columns: [["oid", 26], ["elemtype", 26], ["kind", 18]]
SELECT
    t.oid,
    t.typelem     AS elemtype,
    t.typtype     AS kind
FROM
    pg_catalog.pg_type AS t
    INNER JOIN pg_catalog.pg_namespace ns ON (ns.oid = t.typnamespace)
WHERE
    t.typname = $1 AND ns.nspname = $2
