-- client: asyncpg
-- params: []
-- columns: [["cur", 25], ["new", 25]]
SELECT
                        current_setting('jit') AS cur,
                        set_config('jit', 'off', false) AS new
