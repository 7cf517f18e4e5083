// node-postgres probe: connect, read catalog rows; run by tests/clients/test_tools_node.py.
const { Client } = require('pg');
(async () => {
  const c = new Client({ host: '127.0.0.1', port: parseInt(process.argv[2]), user: process.argv[3], database: process.argv[4] });
  await c.connect();
  const v = await c.query('SELECT version()');
  console.log('version', v.rows[0].version.split(' ')[0]);
  const t = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", ['public']);
  console.log('tables', JSON.stringify(t.rows.map(r => r.table_name)));
  const a = await c.query('SELECT oid, typname, typarray FROM pg_type WHERE oid = ANY($1::oid[]) ORDER BY oid', [[23, 1184]]);
  console.log('types', JSON.stringify(a.rows));
  const s = await c.query('SELECT current_schemas(true) AS s, pg_backend_pid() AS pid');
  console.log('schemas', JSON.stringify(s.rows[0].s));
  await c.end();
})().catch(e => { console.error('ERR', e.message); process.exit(1); });
