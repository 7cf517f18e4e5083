-- client: dbeaverlike
-- params: []
-- columns: [["pid", 23], ["usename", 19], ["application_name", 25], ["state", 25], ["query", 25]]
SELECT pid, usename, application_name, state, query FROM pg_stat_activity
