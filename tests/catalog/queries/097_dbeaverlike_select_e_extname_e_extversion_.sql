-- client: dbeaverlike
-- params: []
-- columns: [["extname", 19], ["extversion", 25]]
SELECT e.extname, e.extversion FROM pg_extension e
