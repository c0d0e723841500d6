//! `followup serve` through real PostgreSQL clients: tokio-postgres (extended protocol, binary results) and
//! psql (simple protocol, catalogue backslash commands). The warehouse is built once from the bundled
//! pipelines and sample inputs. Python, ODBC and JDBC clients run from scripts/test.sh
//! (tests/outside/serve/run_clients.sh).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::common::{followup, query_csv, TEST_KEY};
use crate::e2e::copy_dir;

/// The bundled pipelines run on the sample inputs into `dir/warehouse`.
fn build_into(dir: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !dir.join("pipelines").exists() {
        copy_dir(&repo.join("pipelines"), &dir.join("pipelines"));
        std::os::unix::fs::symlink(repo.join("sample-inputs"), dir.join("sample-inputs")).unwrap();
    }
    let out = followup(dir, &["run", "--sql", repo.join("sql").to_str().unwrap()]);
    // Exit 1: published, with the sample's deliberately broken file reported.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One warehouse shared by the tests that only read, rebuilt once per test run under the target folder.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-warehouse");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        build_into(&dir);
        dir
    })
}

pub(crate) struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(dir: &Path, extra: &[&str]) -> Server {
    serve_on(dir, "127.0.0.1:0", extra)
}

pub(crate) fn serve_on(dir: &Path, listen: &str, extra: &[&str]) -> Server {
    serve_with_stderr(dir, listen, extra, Stdio::inherit())
}

fn serve_with_stderr(dir: &Path, listen: &str, extra: &[&str], stderr: Stdio) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(dir)
        .env("FOLLOWUP_HMAC_KEY", TEST_KEY)
        .env_remove("FOLLOWUP_LOG")
        .args(["serve", "--listen", listen])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("followup serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(
    addr: SocketAddr,
    user: &str,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(addr.ip().to_string())
        .port(addr.port())
        .user(user)
        .dbname("followup");
    if let Some(p) = password {
        cfg.password(p);
    }
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Rows of a simple-protocol query as text (NULL as "NULL").
async fn simple_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn psql(
    addr: SocketAddr,
    user: &str,
    password: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new("psql");
    cmd.env("PGPASSWORD", password.unwrap_or(""))
        .env("PGCONNECT_TIMEOUT", "10")
        .args([
            "-X",
            "-h",
            &addr.ip().to_string(),
            "-p",
            &addr.port().to_string(),
            "-U",
            user,
            "-d",
            "followup",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(args);
    cmd.output().expect("psql runs (postgresql-client)")
}

fn have_psql() -> bool {
    let found = Command::new("psql").arg("--version").output().is_ok();
    if !found && std::env::var_os("FOLLOWUP_REQUIRE_CLIENTS").is_some() {
        panic!("psql is missing and FOLLOWUP_REQUIRE_CLIENTS is set");
    }
    found
}

#[test]
fn serve_psql_lists_and_describes_tables_and_answers_like_query() {
    let dir = built();
    let server = serve(dir, &[]);
    if !have_psql() {
        eprintln!("psql not installed: skipped (scripts/test.sh installs it)");
        return;
    }
    let out = psql(server.addr, "analyst", None, &["-c", "\\dt"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for t in [
        "enrolments",
        "regional_overview",
        "esf_indicators",
        "rejects",
    ] {
        assert!(text.contains(t), "\\dt lacks {t}:\n{text}");
    }
    let out = psql(
        server.addr,
        "analyst",
        None,
        &["-c", "\\d regional_overview"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("project_id") && text.contains("share_women"),
        "{text}"
    );

    // The same answer as `followup query`, through psql's simple protocol, for a mart and a published mart.
    for sql in [
        "select project_id, gender, enrolments, participants from regional_overview where level = 'project' order by project_id, gender",
        "select * from published.regional_overview order by 1, 2, 3, 4, 5",
    ] {
        let out = psql(server.addr, "analyst", None, &["-A", "-F", ",", "-P", "footer=off", "-P", "null=", "-c", sql]);
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        let expected = query_csv(dir, sql);
        assert_eq!(got.len(), expected.len(), "{sql}");
        assert_eq!(got[0], expected[0], "{sql}: header");
        assert!(got.len() > 1, "{sql}: no rows");
    }
}

#[test]
fn serve_extended_protocol_binary_results_and_parameters() {
    let dir = built();
    let server = serve(dir, &[]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        let expected = query_csv(
            dir,
            "select enrolments from regional_overview where project_id = 'jamtland_integrationsprojekt' and level = 'project' and gender = 'total'",
        );
        // Prepared once, executed more than five times with a parameter, binary results (tokio-postgres
        // always asks for binary), as pgjdbc does after its prepareThreshold.
        let stmt = client
            .prepare("select project_id, enrolments, share_women, report_date from regional_overview where project_id = $1 and level = 'project' and gender = 'total'")
            .await
            .unwrap();
        for _ in 0..7 {
            let rows = client
                .query(&stmt, &[&"jamtland_integrationsprojekt"])
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
            let n: i64 = rows[0].get(1);
            assert_eq!(n.to_string(), expected[1][0]);
            let _: Option<f64> = rows[0].get(2);
            let _: Option<String> = rows[0].try_get::<_, Option<String>>(0).unwrap();
        }
        // Every column of every table decodes in binary (Date32, Timestamp, Boolean, Float64, Utf8, Int64).
        for table in ["enrolments", "activities", "file_loads", "runs", "regional_overview", "esf_indicators", "monthly_active", "target_followup"] {
            let rows = client
                .query(&format!("select * from {table} limit 20"), &[])
                .await
                .unwrap_or_else(|e| panic!("{table}: {e:?}"));
            assert!(!rows.is_empty(), "{table} is empty");
            for row in &rows {
                for (i, col) in row.columns().iter().enumerate() {
                    decode_any(row, i, col.type_())
                        .unwrap_or_else(|e| panic!("{table}.{}: {e}", col.name()));
                }
            }
        }
    });
}

fn decode_any(
    row: &tokio_postgres::Row,
    i: usize,
    ty: &tokio_postgres::types::Type,
) -> Result<(), String> {
    use tokio_postgres::types::Type;
    let r = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|_| ()),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|_| ()),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|_| ()),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|_| ()),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|_| ()),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|_| ()),
        Type::TEXT | Type::VARCHAR => row.try_get::<_, Option<String>>(i).map(|_| ()),
        Type::DATE => row
            .try_get::<_, Option<tokio_postgres::types::Date<i32>>>(i)
            .map(|_| ())
            .or_else(|_| row.try_get::<_, Option<RawValue>>(i).map(|_| ())),
        _ => row.try_get::<_, Option<RawValue>>(i).map(|_| ()),
    };
    r.map_err(|e| format!("{ty}: {e}"))
}

/// Any value, as raw bytes: checks the column can be read at all.
struct RawValue;

impl<'a> tokio_postgres::types::FromSql<'a> for RawValue {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        _: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue)
    }
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}

#[test]
fn serve_is_read_only_and_survives_refusals() {
    let dir = built();
    let server = serve(dir, &[]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        for sql in [
            "insert into enrolments select * from enrolments",
            "update enrolments set gender = 'x'",
            "delete from enrolments",
            "create table x (a int)",
            "create table x as select * from enrolments",
            "create view v as select 1",
            "create external table e stored as csv location '/etc/passwd'",
            "drop table enrolments",
            "copy enrolments to '/tmp/followup-serve-leak.csv'",
            "copy (select 1) to '/tmp/followup-serve-leak.csv'",
            "set datafusion.execution.target_partitions = 1",
            "truncate enrolments",
            "alter table enrolments rename to e2",
        ] {
            for extended in [false, true] {
                let r = if extended {
                    client.execute(sql, &[]).await.map(|_| ())
                } else {
                    client.simple_query(sql).await.map(|_| ())
                };
                let err = r.expect_err(sql);
                assert!(
                    err.as_db_error().is_some(),
                    "{sql}: not an error response: {err:?}"
                );
            }
        }
        // Reading files outside the warehouse: no URL tables, no file-reading table functions.
        for sql in [
            "select * from '/etc/passwd'",
            "select * from read_csv('/etc/passwd')",
            "select * from read_parquet('/etc/passwd')",
        ] {
            assert!(
                client.simple_query(sql).await.is_err(),
                "{sql} was answered"
            );
        }
        assert!(!Path::new("/tmp/followup-serve-leak.csv").exists());
        // Harmless session statements pass, and the connection still works after every refusal.
        for sql in [
            "SET extra_float_digits = 3",
            "SET application_name = 'PowerBI'",
            "SET DateStyle = 'ISO, MDY'",
            "SET TIME ZONE 'Europe/Stockholm'",
            "SHOW transaction_isolation",
            "BEGIN",
            "COMMIT",
            "BEGIN READ ONLY",
            "ROLLBACK",
            "DISCARD ALL",
        ] {
            client
                .simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        }
        let rows = simple_rows(&client, "select count(*) from enrolments").await;
        assert_eq!(
            rows[0][0],
            query_csv(dir, "select count(*) from enrolments")[1][0]
        );
    });
}

/// A window named inside parentheses (`OVER (w)`), which DataFusion 55 would plan without w's ORDER BY
/// and answer with wrong numbers, is refused with what to write instead — by `followup query` and over
/// both protocols — and the bare name it suggests gives the running maximum.
#[test]
fn query_and_serve_refuse_a_window_named_inside_parentheses() {
    let dir = built();
    let values = "from (values (3), (1), (2)) as t(x) window w as (order by x)";
    let bad = format!("select x, max(x) over (w) as m {values} order by x");
    let good = format!("select x, max(x) over w as m {values} order by x");
    let running = [["1", "1"], ["2", "2"], ["3", "3"]];
    let out = followup(dir, &["query", "--format", "csv", &bad]);
    // Like any query that cannot be answered (README: exit codes).
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty(), "an answer was printed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max(…) OVER (w …)") && err.contains("OVER w without parentheses"),
        "{err}"
    );
    assert_eq!(query_csv(dir, &good)[1..], running);
    let server = serve(dir, &[]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        for extended in [false, true] {
            let r = if extended {
                client.query(bad.as_str(), &[]).await.map(|_| ())
            } else {
                client.simple_query(&bad).await.map(|_| ())
            };
            let err = r.expect_err("answered");
            let db = err.as_db_error().expect("an error response");
            assert_eq!(
                db.code(),
                &tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED
            );
            assert!(db.message().contains("OVER w without parentheses"));
        }
        assert_eq!(simple_rows(&client, &good).await, running);
    });
}

/// A low-memory run: the bundled pipelines under the smallest memory limit (64 MB; a lower setting is
/// raised to it, with a warning) publish the same marts as under the default limit.
#[test]
fn the_bundled_run_under_the_smallest_memory_limit_publishes_the_same_marts() {
    let reference = built();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("pipelines"), &root.join("pipelines"));
    std::os::unix::fs::symlink(repo.join("sample-inputs"), root.join("sample-inputs")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(root)
        .env("FOLLOWUP_HMAC_KEY", TEST_KEY)
        .env("FOLLOWUP_MEMORY_LIMIT_MB", "16")
        .env_remove("FOLLOWUP_LOG")
        .args(["run", "--sql", repo.join("sql").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("below the 64 MB"), "{stderr}");
    for mart in [
        "regional_overview",
        "monthly_active",
        "esf_indicators",
        "method_outcomes",
        "target_followup",
        "pathway_steps",
        "pathway_transitions",
        "published.regional_overview",
    ] {
        let sql = format!("select * from {mart}");
        let low = query_csv(root, &sql);
        assert!(low.len() > 1, "{mart} is empty");
        assert_eq!(low, query_csv(reference, &sql), "{mart}");
    }
}

/// `to_char` with a PostgreSQL template, as analysts and BI tools write it, groups by month over `query`
/// and `serve` as the strftime format does (DataFusion alone returned the template's letters).
#[test]
fn to_char_takes_postgresql_templates_in_query_and_serve() {
    let dir = built();
    let by = |format: &str| {
        format!(
            "select to_char(start_date, '{format}') as m, count(*) as n from enrolments \
             group by 1 order by 1"
        )
    };
    let pg = query_csv(dir, &by("YYYY-MM"));
    assert!(pg.len() > 3, "{pg:?}");
    assert!(pg[1][0].len() == 7 && pg[1][0].starts_with("20"), "{pg:?}");
    assert_eq!(pg, query_csv(dir, &by("%Y-%m")));
    let server = serve(dir, &[]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        assert_eq!(simple_rows(&client, &by("YYYY-MM")).await, pg[1..]);
        assert_eq!(
            simple_rows(
                &client,
                "select to_char(date '2021-02-01', 'FMDD FMMonth YYYY')"
            )
            .await,
            [["1 February 2021"]]
        );
    });
}

/// A mistyped table name gets the closest tables' names, as they are written, and how to list them all.
#[test]
fn query_suggests_the_table_meant() {
    let dir = built();
    for (sql, meant) in [
        (
            "select count(*) from enrolment",
            Some("did you mean enrolments?"),
        ),
        (
            "select * from published.regional_overviw",
            Some("did you mean published.regional_overview?"),
        ),
        ("select * from no_such_thing_at_all", None),
    ] {
        let out = followup(dir, &["query", sql]);
        assert_eq!(out.status.code(), Some(3), "{sql}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not found"), "{err}");
        assert!(
            err.contains("`followup query \"show tables\"` lists every table"),
            "{err}"
        );
        match meant {
            Some(m) => assert!(err.contains(m), "{sql}: {err}"),
            None => assert!(!err.contains("did you mean"), "{sql}: {err}"),
        }
    }
    assert!(query_csv(dir, "show tables").len() > 10);
}

/// An analyst may paste an identity number into a query; when DataFusion echoes it in an error, the
/// error goes back to that client whole, but serve's log and `followup query`'s message keep only its date
/// part.
#[test]
fn an_identity_number_echoed_in_an_error_is_masked_in_logs() {
    let dir = built();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("serve.log");
    // Built at run time: no identity-number-shaped literal in the sources.
    let number = format!("{}{}", "19850312", 2000 + 384);
    let sql = format!("select cast('{number}x' as bigint)");
    let server = serve_with_stderr(
        dir,
        "127.0.0.1:0",
        &[],
        Stdio::from(std::fs::File::create(&log_path).unwrap()),
    );
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        let err = client.simple_query(&sql).await.expect_err("answered");
        let db = err.as_db_error().expect("an error response");
        assert!(db.message().contains(&number), "{}", db.message());
    });
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("sending error") && log.contains("19850312****"),
        "{log}"
    );
    assert!(!log.contains(&number), "the log holds the number");

    let out = followup(dir, &["query", &sql]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("19850312****"), "{err}");
    assert!(!err.contains(&number), "the message holds the number");
}

/// Npgsql (Power BI's and Excel's driver) on connect: `SELECT version()` and its type-loading catalogue
/// queries as one simple-protocol batch (PostgresDatabaseInfo.cs, PG ≥ 14 branch with ranges and
/// multiranges, table composites off), then `DISCARD ALL` when a pooled connection is reused.
pub(crate) const NPGSQL_TYPES_BATCH: &str = include_str!("../outside/serve/npgsql_startup.sql");

#[test]
fn serve_answers_npgsql_startup_queries() {
    let dir = built();
    let server = serve(dir, &[]);
    rt().block_on(async {
        let client = connect(server.addr, "powerbi", None).await.unwrap();
        let msgs = client
            .simple_query(NPGSQL_TYPES_BATCH)
            .await
            .unwrap_or_else(|e| panic!("Npgsql's type loading failed: {e:?}"));
        let completes = msgs
            .iter()
            .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
            .count();
        assert_eq!(completes, 4, "version, types, composites, enums");
        let types: Vec<(String, String)> = msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) if r.len() == 6 => Some((
                    r.get(2).unwrap_or_default().to_string(),
                    r.get(3).unwrap_or_default().to_string(),
                )),
                _ => None,
            })
            .collect();
        for t in ["int8", "text", "date", "bool", "float8", "timestamp"] {
            assert!(types.iter().any(|(n, _)| n == t), "type {t} missing from {types:?}");
        }
        // DISCARD ALL on both protocols, then a query as Power BI's navigator would send it.
        client.simple_query("DISCARD ALL").await.unwrap();
        client.execute("DISCARD ALL", &[]).await.unwrap();
        let rows = client
            .query("select table_schema, table_name from information_schema.tables where table_schema in ('public', 'published') order by 1, 2", &[])
            .await
            .unwrap();
        assert!(rows.iter().any(|r| r.get::<_, String>(1) == "regional_overview"));
    });
}

#[test]
fn serve_picks_up_a_new_snapshot_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    build_into(dir.path());
    let server = serve(dir.path(), &[]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        let before = simple_rows(&client, "select count(*) from runs").await;
        let prepared = client.prepare("select count(*) from runs").await.unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = followup(
            dir.path(),
            &["run", "--sql", repo.join("sql").to_str().unwrap()],
        );
        assert!(matches!(out.status.code(), Some(0 | 1)));
        let after = simple_rows(&client, "select count(*) from runs").await;
        let b: i64 = before[0][0].parse().unwrap();
        let a: i64 = after[0][0].parse().unwrap();
        assert_eq!(a, b + 1, "the new snapshot's runs table is served");
        // A statement prepared before the switch is planned again on the new snapshot.
        let row = client.query_one(&prepared, &[]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), a);
    });
}

/// The SCRAM-SHA-256 verifier `followup serve --hash-password` prints for `password`.
pub(crate) fn hash_password(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_followup"))
        .args(["serve", "--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
    assert!(!v.contains(password));
    v
}

/// A users file: `region` sees everything, `gavle` only kommun 2180, `jamtland` only one project.
pub(crate) fn users_file(dir: &Path) -> PathBuf {
    let text = format!(
        "# test users\n[[user]]\nname = \"region\"\npassword = \"{}\"\n\n[[user]]\nname = \"gavle\"\npassword = \"{}\"\nkommunkod = [\"2180\"]\n\n[[user]]\nname = \"jamtland\"\npassword = \"{}\"\nprojects = [\"jamtland_integrationsprojekt\"]\n",
        hash_password("region-secret"),
        hash_password("gavle-secret"),
        hash_password("jamtland-secret"),
    );
    let path = dir.join("users.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn serve_authenticates_with_scram_and_refuses_bad_logins() {
    let dir = built();
    let tmp = tempfile::tempdir().unwrap();
    let users = users_file(tmp.path());
    let server = serve(dir, &["--users", users.to_str().unwrap()]);
    rt().block_on(async {
        let c = connect(server.addr, "region", Some("region-secret"))
            .await
            .unwrap();
        assert_eq!(simple_rows(&c, "select 1").await[0][0], "1");
        for (user, pw) in [
            ("region", Some("wrong")),
            ("nobody", Some("region-secret")),
            ("region", None),
        ] {
            let err = connect(server.addr, user, pw).await.err();
            assert!(err.is_some(), "{user} with {pw:?} got in");
        }
        let err = connect(server.addr, "region", Some("wrong"))
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.as_db_error().map(|e| e.code().code()),
            Some("28P01"),
            "{err:?}"
        );
    });
    // Malformed startup packets: garbage, a huge length, a truncated packet. The server stays up.
    for bytes in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
        vec![0, 0, 0, 12, 0, 3, 0, 0, b'u', b's'],
        vec![0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78],
    ] {
        if let Ok(mut s) = TcpStream::connect(server.addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(&bytes);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
    rt().block_on(async {
        let c = connect(server.addr, "region", Some("region-secret"))
            .await
            .unwrap();
        assert_eq!(simple_rows(&c, "select 2").await[0][0], "2");
    });
    // psql, a second client implementation of SCRAM.
    if have_psql() {
        let out = psql(
            server.addr,
            "gavle",
            Some("gavle-secret"),
            &["-c", "select 1"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = psql(server.addr, "gavle", Some("nope"), &["-c", "select 1"]);
        assert!(!out.status.success());
    }
}

#[test]
fn serve_refuses_non_loopback_without_tls_and_users() {
    let dir = built();
    let out = Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(dir)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("TLS"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let users = users_file(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(dir)
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--users",
            users.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "users without TLS must not start off loopback"
    );
}

#[test]
fn serve_tls_with_cert_and_key() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(
            std::env::var_os("FOLLOWUP_REQUIRE_CLIENTS").is_none(),
            "openssl is missing and FOLLOWUP_REQUIRE_CLIENTS is set"
        );
        eprintln!("openssl missing: skipped (scripts/test.sh installs it)");
        return;
    }
    if !have_psql() {
        return;
    }
    let dir = built();
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("server.crt"), tmp.path().join("server.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let users = users_file(tmp.path());
    let server = serve(
        dir,
        &[
            "--users",
            users.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let mut cmd = Command::new("psql");
    let out = cmd
        .env("PGPASSWORD", "region-secret")
        .args([
            "-X",
            "-A",
            "-t",
            &format!(
                "host={} port={} user=region dbname=followup sslmode=require",
                server.addr.ip(),
                server.addr.port()
            ),
            "-c",
            "select 42",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");

    // Listening on all interfaces (TLS and users given): a client that does not negotiate TLS is refused
    // before any password is asked. Connections go to 127.0.0.1 only.
    let wide = serve_on(
        dir,
        "0.0.0.0:0",
        &[
            "--users",
            users.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    for (mode, ok) in [("disable", false), ("require", true)] {
        let out = Command::new("psql")
            .env("PGPASSWORD", "region-secret")
            .args([
                "-X",
                "-A",
                "-t",
                &format!(
                    "host=127.0.0.1 port={} user=region dbname=followup sslmode={mode}",
                    wide.addr.port()
                ),
                "-c",
                "select 44",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            ok,
            "sslmode={mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn serve_scoped_users_see_only_their_rows() {
    let dir = built();
    let tmp = tempfile::tempdir().unwrap();
    let users = users_file(tmp.path());
    let server = serve(dir, &["--users", users.to_str().unwrap()]);
    rt().block_on(async {
        let region = connect(server.addr, "region", Some("region-secret")).await.unwrap();
        let gavle = connect(server.addr, "gavle", Some("gavle-secret")).await.unwrap();
        let jamtland = connect(server.addr, "jamtland", Some("jamtland-secret")).await.unwrap();

        let all = simple_rows(&region, "select count(*) from enrolments").await[0][0].clone();
        let mine = simple_rows(&region, "select count(*) from enrolments where municipality_code = '2180'").await[0][0].clone();
        assert_ne!(all, mine);
        assert_ne!(mine, "0", "the sample has Gävle enrolments");
        assert_eq!(simple_rows(&gavle, "select count(*) from enrolments").await[0][0], mine);
        // Other kommuner are unreachable by predicates, joins, subqueries and unions.
        for sql in [
            "select count(*) from enrolments where municipality_code <> '2180'",
            "select count(*) from enrolments e join subprojects s on s.subproject_id = e.subproject_id where s.municipality_code <> '2180'",
            "select count(*) from (select * from enrolments union all select * from enrolments) x where municipality_code <> '2180'",
            "select count(*) from regional_overview where municipality_code is distinct from '2180'",
        ] {
            let rows = gavle.simple_query(sql).await;
            if let Ok(rows) = rows {
                let n = rows.iter().find_map(|m| match m {
                    SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                });
                assert_eq!(n.as_deref(), Some("0"), "{sql}");
            }
        }
        // Tables without a kommun column are not there for a kommun-scoped user, nor in the catalogue.
        for t in ["runs", "file_loads"] {
            assert!(gavle.simple_query(&format!("select * from {t}")).await.is_err(), "{t} visible");
        }
        let listed = simple_rows(&gavle, "select table_name from information_schema.tables where table_schema = 'public'").await;
        assert!(!listed.iter().any(|r| r[0] == "runs" || r[0] == "file_loads"), "{listed:?}");
        let pg = simple_rows(&gavle, "select relname from pg_catalog.pg_class where relkind = 'r'").await;
        assert!(pg.iter().any(|r| r[0] == "enrolments"), "{pg:?}");
        assert!(!pg.iter().any(|r| r[0] == "runs"), "{pg:?}");

        // A project-scoped user sees that project only, in tables and published marts.
        let projects = simple_rows(&jamtland, "select distinct project_id from enrolments").await;
        assert_eq!(projects, vec![vec!["jamtland_integrationsprojekt".to_string()]]);
        let projects = simple_rows(&jamtland, "select distinct project_id from published.regional_overview").await;
        assert_eq!(projects, vec![vec!["jamtland_integrationsprojekt".to_string()]]);
        // Extended protocol, same scoping.
        let n: i64 = jamtland
            .query_one("select count(*) from enrolments where project_id <> $1", &[&"jamtland_integrationsprojekt"])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
    });
}

/// ≥32 clients issue the mart queries concurrently and every answer must equal the single-client answer.
/// `FOLLOWUP_SERVE_LOAD_SECS` sets the duration (scripts/test.sh: 30 s; default 5 s).
#[test]
fn serve_load_32_concurrent_clients() {
    let secs: u64 = std::env::var("FOLLOWUP_SERVE_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = built();
    let server = serve(dir, &[]);
    let queries = MART_QUERIES;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = connect(server.addr, "analyst", None).await.unwrap();
        let mut expected = Vec::new();
        for q in queries {
            expected.push(simple_rows(&c, q).await);
        }
        let expected = std::sync::Arc::new(expected);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for i in 0..32 {
            let expected = expected.clone();
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let client = connect(addr, "analyst", None)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut n = 0usize;
                let mut k = i;
                while Instant::now() < deadline {
                    let q = k % queries.len();
                    let rows = client
                        .simple_query(queries[q])
                        .await
                        .map_err(|e| format!("{}: {e}", queries[q]))?;
                    let got: Vec<Vec<String>> = rows
                        .into_iter()
                        .filter_map(|m| match m {
                            SimpleQueryMessage::Row(r) => Some(
                                (0..r.len())
                                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                    .collect(),
                            ),
                            _ => None,
                        })
                        .collect();
                    if got != expected[q] {
                        return Err(format!("wrong result for {}", queries[q]));
                    }
                    n += 1;
                    k += 1;
                }
                Ok::<usize, String>(n)
            }));
        }
        let mut total = 0;
        let mut errors = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(n)) => total += n,
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        assert!(
            errors.is_empty(),
            "{} errors, first: {:?}",
            errors.len(),
            errors.first()
        );
        assert!(total >= 32, "only {total} queries answered");
        eprintln!(
            "serve load: 32 clients, {secs} s, {total} queries, {:.1} q/s",
            total as f64 / secs as f64
        );
    });
}

/// The mart queries a dashboard issues (also used by bench/serve_load.py).
pub(crate) const MART_QUERIES: &[&str] = &[
    "select * from regional_overview where level = 'project' order by project_id, gender",
    "select project_id, indicator_code, gender, value from esf_indicators order by 1, 2, 3",
    "select * from target_followup order by project_id, target_id",
    "select project_id, month, sum(active) as active from monthly_active group by 1, 2 order by 1, 2",
    "select * from published.regional_overview order by project_id, subproject_id, gender",
];

/// The server process's CPU time so far (user + system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A statement that would run for hours: a sum over a trillion generated rows (an expression, so that no
/// statistic answers it).
const ENDLESS: &str = "select sum(value % 7) from range(1000000000000)";

fn sqlstate(result: &Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(e) => Some(format!(
            "{} {}",
            e.code().map(|c| c.code()).unwrap_or("-"),
            e.as_db_error().map(|d| d.message()).unwrap_or("")
        )),
    }
}

/// Runs `sql` through the simple protocol and checks that the statement timeout stopped it (`context`: what
/// did not happen if it was not answered within 120 s).
async fn assert_timed_out(client: &tokio_postgres::Client, sql: &str, context: &str) {
    let result = tokio::time::timeout(Duration::from_secs(120), client.simple_query(sql))
        .await
        .expect(context);
    assert_eq!(
        sqlstate(&result).as_deref(),
        Some("57014 canceling statement due to statement timeout")
    );
}

#[test]
fn serve_stops_a_running_statement_on_cancel_and_on_statement_timeout() {
    let server = serve(built(), &[]);
    let pid = server.child.id();
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        // The server's default, as PostgreSQL shows it.
        assert_eq!(
            simple_rows(&client, "show statement_timeout").await,
            vec![vec!["600000ms".to_string()]]
        );

        // A cancel request (what psql's Ctrl-C and JDBC's Statement.cancel send) stops the statement while
        // it runs, not after: the query below would take hours. Meanwhile other clients are answered.
        let token = client.cancel_token();
        let running = tokio::spawn(async move {
            let r = client.simple_query(ENDLESS).await;
            (client, r)
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let other = connect(server.addr, "analyst", None).await.unwrap();
        assert_eq!(
            simple_rows(&other, "select count(*) > 0 from enrolments").await,
            vec![vec!["t".to_string()]]
        );
        assert!(
            !running.is_finished(),
            "the endless statement ended by itself"
        );
        token.cancel_query(NoTls).await.unwrap();
        let (client, result) = tokio::time::timeout(Duration::from_secs(120), running)
            .await
            .expect("the statement was not stopped by the cancel request")
            .unwrap();
        assert_eq!(
            sqlstate(&result).as_deref(),
            Some("57014 canceling statement due to user request")
        );
        // Its work stopped with it: the server is idle (a statement still running would keep a core busy).
        idle_after_stop(pid, 2).await;
        // The connection goes on.
        assert_eq!(
            simple_rows(&client, "select 41 + 1").await,
            vec![vec!["42".to_string()]]
        );

        // The session's statement_timeout, through the simple and the extended protocol.
        client
            .simple_query("set statement_timeout = '1s'")
            .await
            .unwrap();
        assert_timed_out(
            &client,
            ENDLESS,
            "statement_timeout did not stop the statement",
        )
        .await;
        let result = tokio::time::timeout(Duration::from_secs(120), client.query(ENDLESS, &[]))
            .await
            .expect("statement_timeout did not stop the prepared statement");
        let err = result.expect_err("the endless prepared statement finished");
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
        );
        // A quick statement under the timeout is untouched.
        assert_eq!(
            simple_rows(&client, "select count(*) from enrolments")
                .await
                .len(),
            1
        );
    });

    // The server's default applies without a SET (here 1 s), and 0 in the session turns it off.
    let server = serve(built(), &["--statement-timeout", "1"]);
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        assert_timed_out(
            &client,
            ENDLESS,
            "the server's statement timeout did not stop the statement",
        )
        .await;
        client
            .simple_query("set statement_timeout = 0")
            .await
            .unwrap();
        assert_eq!(
            simple_rows(&client, "show statement_timeout").await,
            vec![vec!["0".to_string()]]
        );
        // A statement longer than 1 s in this test build (a sum over 100 million rows) now finishes.
        let rows = simple_rows(&client, "select sum(value) from range(100000000)").await;
        assert_eq!(rows, vec![vec!["4999999950000000".to_string()]]);
    });
}

/// The server's CPU in the `secs` seconds after a short settling pause: what a statement still running
/// would use. The limit, 50 ticks (0.5 s), is a quarter of one core.
async fn idle_after_stop(pid: u32, secs: u64) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 50,
        "the server used {used} ticks of CPU in the {secs} s after the statement was stopped"
    );
}

/// A cartesian product (a join without a condition) computes one output batch per row of one side for
/// every batch of the other: here a million batches between two reads of its inputs, where DataFusion's
/// own yield points are. Stopped, it must stop at once, not after the 128th read (most of an hour).
#[test]
fn serve_stops_a_cartesian_product_between_reads_of_its_inputs() {
    const CARTESIAN: &str =
        "select sum((a.value + b.value) % 7) from range(1000000) a cross join range(1000000) b";
    let server = serve(built(), &["--statement-timeout", "2"]);
    let pid = server.child.id();
    rt().block_on(async {
        let client = connect(server.addr, "analyst", None).await.unwrap();
        assert_timed_out(&client, CARTESIAN, "the statement timeout did not answer").await;
        idle_after_stop(pid, 2).await;
        // The connection goes on, and a cartesian product that fits in the time is answered.
        assert_eq!(
            simple_rows(
                &client,
                "select count(*), max(a.value * b.value) from range(3000) a cross join range(2000) b"
            )
            .await,
            vec![vec!["6000000".to_string(), "5995001".to_string()]]
        );
    });
}

#[test]
fn serve_sessions_of_every_scope_share_one_memory_pool() {
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use followup::serve::session::build_context;
    use followup::serve::users::{Access, Scope};

    let snap = followup::warehouse::Layout::new(&built().join("warehouse"))
        .current_snapshot()
        .expect("a published snapshot");
    // A pool far too small for the statement below: whichever session runs it must hit this pool's limit,
    // not a pool of its own.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(std::sync::Arc::new(GreedyMemoryPool::new(256 * 1024)))
        .build_arc()
        .unwrap();
    let scoped = Access::Scoped(Scope {
        municipalities: vec!["2180".into()],
        projects: vec![],
    });
    rt().block_on(async {
        for access in [Access::Full, scoped] {
            let ctx = build_context(&snap, &access, runtime.clone())
                .await
                .unwrap();
            assert!(std::sync::Arc::ptr_eq(&ctx.runtime_env(), &runtime));
            // The scoped session's rows come from enrolments through the region's session: both count.
            let mine = ctx
                .sql("select count(*) from enrolments")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(mine[0].num_rows(), 1);
            let err = ctx
                .sql("select array_agg(value) from range(1000000)")
                .await
                .unwrap()
                .collect()
                .await
                .expect_err("a million-element array within a 256 KB pool");
            assert!(err.to_string().contains("Resources exhausted"), "{err}");
        }
    });
}
