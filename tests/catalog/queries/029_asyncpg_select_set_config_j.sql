-- client: asyncpg
-- params: ["on"]
-- columns: [["set_config", 25]]
SELECT
                    set_config('jit', $1, false)
