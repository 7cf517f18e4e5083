// Prints what pgjdbc's DatabaseMetaData and ResultSetMetaData report; run by tests/clients/test_tools_jdbc_odbc.py.
import java.sql.*;
public class JdbcProbe {
    public static void main(String[] a) throws Exception {
        String url = a[0];
        try (Connection c = DriverManager.getConnection(url, a[1], "")) {
            DatabaseMetaData md = c.getMetaData();
            System.out.println("product " + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
            try (ResultSet rs = md.getSchemas()) { while (rs.next()) System.out.println("schema " + rs.getString(1)); }
            try (ResultSet rs = md.getCatalogs()) { while (rs.next()) System.out.println("catalog " + rs.getString(1)); }
            try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE"})) {
                while (rs.next()) System.out.println("table " + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
            }
            try (ResultSet rs = md.getColumns(null, "public", a[2], "%")) {
                while (rs.next()) System.out.println("column " + rs.getString("COLUMN_NAME") + " " + rs.getInt("DATA_TYPE") + " " + rs.getString("TYPE_NAME"));
            }
            try (ResultSet rs = md.getPrimaryKeys(null, "public", a[2])) { while (rs.next()) System.out.println("pk " + rs.getString(4)); }
            try (ResultSet rs = md.getIndexInfo(null, "public", a[2], false, true)) { while (rs.next()) System.out.println("idx " + rs.getString(6)); }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT epoch, open, volume FROM \"" + a[2] + "\" ORDER BY epoch LIMIT 2")) {
                ResultSetMetaData rm = rs.getMetaData();
                for (int i = 1; i <= rm.getColumnCount(); i++) System.out.println("rsmd " + rm.getColumnName(i) + " " + rm.getColumnTypeName(i) + " " + rm.getColumnType(i) + " nullable=" + rm.isNullable(i) + " table=" + rm.getTableName(i));
                while (rs.next()) System.out.println("row " + rs.getObject(1) + " " + rs.getObject(2) + " " + rs.getObject(3));
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT open FROM \"" + a[2] + "\" WHERE epoch >= ? ORDER BY epoch LIMIT 1")) {
                ps.setTimestamp(1, Timestamp.valueOf("2024-01-01 00:00:00"));
                try (ResultSet rs = ps.executeQuery()) { while (rs.next()) System.out.println("prep " + rs.getFloat(1)); }
            }
        }
    }
}
