// `followup serve` through the PostgreSQL JDBC driver (pgjdbc), as DBeaver, Metabase and other Java tools use it.
//   java -cp postgresql.jar:. JdbcCheck URL USER PASSWORD EXPECTED_ENROLMENTS
// Lists tables through DatabaseMetaData, then runs one prepared statement 10 times: pgjdbc switches to a
// server-prepared statement with binary results after prepareThreshold (5) executions.
import java.sql.*;
import java.util.*;

public class JdbcCheck {
    static void check(boolean ok, String msg) {
        if (!ok) {
            System.out.println("FAIL: " + msg);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], password = args[2];
        long expected = Long.parseLong(args[3]);
        try (Connection c = DriverManager.getConnection(url, user, password)) {
            DatabaseMetaData md = c.getMetaData();
            Set<String> tables = new TreeSet<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            for (String t : new String[] {"enrolments", "regional_overview", "esf_indicators", "monthly_active"}) {
                check(tables.contains(t), "getTables lacks " + t + ": " + tables);
            }
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "regional_overview", "%")) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME"));
            }
            check(cols.contains("share_women"), "getColumns: " + cols);
            System.out.println("JDBC metadata: " + tables.size() + " tables, regional_overview has " + cols.size() + " columns");

            String sql = "select enrolments, share_women, report_date, project_name from regional_overview"
                + " where project_id = ? and level = 'project' and gender = 'total'";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < 10; i++) {
                    ps.setString(1, "jamtland_integrationsprojekt");
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "no row on execution " + i);
                        check(rs.getLong(1) == expected, "execution " + i + ": " + rs.getLong(1) + " != " + expected);
                        rs.getDouble(2);
                        Object d = rs.getDate(3);
                        check(rs.getString(4) != null, "project_name null on execution " + i);
                        check(!rs.next(), "more than one row");
                    }
                }
            }
            System.out.println("JDBC prepared statement: 10 executions (binary after the 5th) OK");
        }
    }
}
