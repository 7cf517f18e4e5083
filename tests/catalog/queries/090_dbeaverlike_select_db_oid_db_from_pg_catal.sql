-- client: dbeaverlike
-- params: ["pgmkts"]
-- columns: [["oid", 26], ["oid", 26], ["datname", 19], ["datdba", 26], ["encoding", 23], ["datlocprovider", 18], ["datistemplate", 16], ["datallowconn", 16], ["datconnlimit", 23], ["datfrozenxid", 28], ["datminmxid", 28], ["dattablespace", 26], ["datcollate", 25], ["datctype", 25], ["daticulocale", 25], ["datcollversion", 25], ["datacl", 1034]]
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datallowconn AND NOT datistemplate OR db.datname =$1 ORDER BY db.datname
