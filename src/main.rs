//! The `followup` command line: a thin shell over the library. Errors are printed once, at the top, with
//! their context; exit codes follow the CLI contract (README).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use followup::export::ExportFormat;
use followup::query::OutputFormat;
use followup::run::{self, RunOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "followup",
    version,
    about = "ESF participant follow-up: municipal Excel/CSV lists → a regional warehouse"
)]
struct Cli {
    /// Log format on stderr: human-readable, or one JSON object per line for nightly jobs.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest every pipeline's files, build the warehouse and publish it atomically.
    Run {
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Folder of SQL models.
        #[arg(long, default_value = "sql")]
        sql: PathBuf,
        /// Only this project id (the others are not ingested).
        #[arg(long)]
        only: Option<String>,
        /// Date at which marts count active and exited participants (YYYY-MM-DD).
        #[arg(long)]
        report_date: Option<NaiveDate>,
        /// File holding the pseudonymisation key (else FOLLOWUP_HMAC_KEY).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Use the public demo key (sample data only).
        #[arg(long)]
        demo_key: bool,
        /// How many snapshots to keep for rollback.
        #[arg(long, default_value_t = 7)]
        keep: usize,
        /// Published marts hide counts below this (1 to N−1) and every cell that would reveal them.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..))]
        min_cell: i64,
    },
    /// Check every pipeline file and its sources' headers without writing anything.
    Validate {
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
    },
    /// Answer SQL against the published warehouse.
    Query {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        sql: String,
    },
    /// Benchmarks only: run the SQL models over a folder of canonical tables (laid out like a snapshot)
    /// and write each model to OUTPUT/<model>.parquet; prints {"models": {name: rows}} as JSON.
    #[command(hide = true)]
    Models {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        #[arg(long, default_value = "sql")]
        sql: PathBuf,
    },
    /// The last runs (time, duration, status, files, rows, rejects per rule, data tests), or one run's files.
    Status {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Show the file-level detail of this run (its load id).
        #[arg(long)]
        run: Option<String>,
        /// How many runs to list.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Write the published (disclosure-controlled) marts of the current snapshot as XLSX, CSV or Parquet.
    Export {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// xlsx: one workbook, a sheet per mart; csv-sv: CSV for Swedish Excel (`;`, decimal comma, BOM);
        /// csv: plain CSV; parquet: Parquet. The CSV and Parquet formats write one file per mart.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The workbook for xlsx; a folder (created if missing) for the other formats.
        #[arg(long)]
        output: PathBuf,
        /// Export the marts WITHOUT disclosure control (for authorised analysts only).
        #[arg(long)]
        unsuppressed: bool,
    },
    /// Serve the published warehouse read-only over the PostgreSQL wire protocol (psql, BI tools, ODBC, JDBC).
    Serve {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Address to listen on; anything but loopback needs --tls-cert/--tls-key and --users.
        #[arg(long, default_value = "127.0.0.1:5433")]
        listen: std::net::SocketAddr,
        /// Users file (TOML, README): SCRAM-SHA-256 verifiers and optional kommunkod/project scopes.
        /// Without it, loopback connections are trusted under any user name.
        #[arg(long)]
        users: Option<PathBuf>,
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Seconds a statement may run before it is canceled (SQLSTATE 57014), unless the session sets its
        /// own `statement_timeout`; 0 for none. A cancel request (psql's Ctrl-C, a BI tool's timeout) stops
        /// a statement at any time.
        #[arg(long, default_value_t = 600, value_name = "SECONDS")]
        statement_timeout: u64,
        /// Read a password from standard input and print its verifier for the users file.
        #[arg(long)]
        hash_password: bool,
    },
    /// Switch `current` back to the previous snapshot.
    Rollback {
        #[arg(long, default_value = "warehouse")]
        warehouse: PathBuf,
    },
}

fn init_logging(format: LogFormat, interactive_run: bool) {
    use tracing_subscriber::EnvFilter;
    // A person at a terminal gets a progress bar and the summary; the info lines are for logs.
    let default = if interactive_run { "warn" } else { "info" };
    let filter =
        EnvFilter::try_from_env("FOLLOWUP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let interactive_run = matches!(cli.command, Command::Run { .. })
        && matches!(cli.log_format, LogFormat::Human)
        && std::io::stderr().is_terminal()
        && std::env::var_os("FOLLOWUP_LOG").is_none();
    if interactive_run {
        followup::progress::enable();
    }
    init_logging(cli.log_format, interactive_run);
    match real_main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(
                e.downcast_ref::<run::RunError>()
                    .map_or(3, |r| r.exit_code()),
            )
        }
    }
}

/// An error and its causes, each said once: a message that already quotes its cause (thiserror's
/// `"{path}: {source}"`) is not followed by the cause again.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if text.is_empty() {
            text = said;
        } else if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
    }
    text
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn real_main(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run {
            pipelines,
            warehouse,
            sql,
            only,
            report_date,
            key_file,
            demo_key,
            keep,
            min_cell,
        } => {
            let key = run::load_key(key_file.as_deref(), demo_key)?;
            let opts = RunOptions {
                pipelines_dir: pipelines,
                warehouse_dir: warehouse,
                sql_dir: sql,
                only,
                report_date,
                keep_snapshots: keep,
                min_cell,
            };
            let summary = runtime()?.block_on(run::run(&opts, &key))?;
            print_summary(&summary, &opts.warehouse_dir);
            Ok(summary.exit_code())
        }
        Command::Validate { pipelines } => validate(&pipelines),
        Command::Status {
            warehouse,
            run,
            limit,
        } => {
            let layout = followup::warehouse::Layout::new(&warehouse);
            match run {
                Some(id) => match followup::history::run_detail(&layout, &id) {
                    Some(text) => print!("{text}"),
                    None => anyhow::bail!("no run {id} in {}/runs", warehouse.display()),
                },
                None => print!("{}", followup::history::status_table(&layout, limit)),
            }
            Ok(0)
        }
        Command::Export {
            warehouse,
            format,
            output,
            unsuppressed,
        } => {
            let summary = followup::export::export(&warehouse, format, &output, unsuppressed)
                .with_context(|| format!("exporting to {}", output.display()))?;
            let marts: Vec<String> = summary
                .marts
                .iter()
                .map(|(m, n)| format!("{m} ({n} rows)"))
                .collect();
            println!(
                "exported snapshot {} ({}): {}",
                summary.load_id,
                if unsuppressed {
                    "UNSUPPRESSED marts, authorised analysts only"
                } else {
                    "published marts, disclosure-controlled"
                },
                marts.join(", ")
            );
            for f in &summary.files {
                println!("  {}", f.display());
            }
            Ok(0)
        }
        Command::Rollback { warehouse } => {
            let layout = followup::warehouse::Layout::new(&warehouse);
            let _lock = run::RunLock::acquire(&layout.lock())?;
            let (from, to) = followup::history::rollback(&layout)?;
            println!("current: {from} -> {to}");
            Ok(0)
        }
        Command::Serve {
            warehouse,
            listen,
            users,
            tls_cert,
            tls_key,
            statement_timeout,
            hash_password,
        } => {
            if hash_password {
                return print_password_verifier();
            }
            let opts = followup::serve::ServeOptions {
                warehouse,
                listen,
                users,
                tls_cert,
                tls_key,
                statement_timeout: (statement_timeout > 0)
                    .then(|| std::time::Duration::from_secs(statement_timeout)),
            };
            runtime()?.block_on(async {
                let server = followup::serve::Server::bind(&opts).await?;
                if let Some(addr) = server.local_addr() {
                    // Tests and scripts read this line to find a port chosen with :0.
                    println!("listening on {addr}");
                    use std::io::Write;
                    std::io::stdout().flush().context("writing to stdout")?;
                }
                tokio::select! {
                    _ = server.run() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                anyhow::Ok(())
            })?;
            Ok(0)
        }
        Command::Query {
            warehouse,
            format,
            output,
            sql,
        } => {
            let (schema, batches) =
                runtime()?.block_on(followup::query::execute(&warehouse, &sql))?;
            match &output {
                Some(path) if format != OutputFormat::Parquet => {
                    let mut f = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    followup::query::write_result(&schema, &batches, format, Some(path), &mut f)?;
                }
                _ => {
                    let mut out = std::io::stdout().lock();
                    followup::query::write_result(
                        &schema,
                        &batches,
                        format,
                        output.as_deref(),
                        &mut out,
                    )?;
                }
            }
            Ok(0)
        }
        Command::Models { input, output, sql } => run_models(&input, &output, &sql),
    }
}

fn run_models(input: &Path, output: &Path, sql: &Path) -> anyhow::Result<u8> {
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let rows = runtime()?.block_on(followup::models::build_all(input, sql, output))?;
    let models: serde_json::Map<String, serde_json::Value> = rows
        .into_iter()
        .map(|(name, n)| (name, serde_json::Value::from(n)))
        .collect();
    println!("{}", serde_json::json!({ "models": models }));
    Ok(0)
}

fn print_password_verifier() -> anyhow::Result<u8> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("empty password on standard input");
    }
    let verifier = followup::serve::users::ScramVerifier::from_password(password)?;
    println!("{}", verifier.encode());
    Ok(0)
}

fn print_summary(s: &run::RunSummary, warehouse: &Path) {
    let count = |status: &str| s.files.iter().filter(|f| f.status == status).count();
    let sum = |f: fn(&followup::warehouse::FileLoad) -> i64| s.files.iter().map(f).sum::<i64>();
    println!(
        "run {}: {} in {:.1} s",
        s.load_id,
        if s.published {
            "published"
        } else {
            "NOT published"
        },
        s.duration_ms as f64 / 1000.0
    );
    println!(
        "  files: {} loaded, {} unchanged, {} failed · rows: {} read = {} loaded + {} rejected + {} skipped",
        count("loaded"),
        count("unchanged"),
        s.files_failed(),
        sum(|f| f.rows_read),
        sum(|f| f.rows_loaded),
        sum(|f| f.rows_rejected),
        sum(|f| f.rows_skipped)
    );
    if !s.rejects_by_rule.is_empty() {
        let rules: Vec<String> = s
            .rejects_by_rule
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        println!("  rejects by rule: {}", rules.join(", "));
    }
    for f in s.files.iter().filter(|f| f.status == "failed") {
        println!("  FAILED {}", f.error.as_deref().unwrap_or(&f.path));
    }
    for (t, sev, n) in &s.failed_tests {
        println!("  data test FAILED ({sev:?}): {t} ({n} failing rows)");
        let shown = s.failed_test_rows.get(t).map_or(&[][..], Vec::as_slice);
        for row in shown {
            println!("    {row}");
        }
        if *n > shown.len() as u64 {
            println!(
                "    … and {} more (the test's query in sql/tests/ lists them all)",
                *n - shown.len() as u64
            );
        }
    }
    if s.published {
        println!(
            "  warehouse: {}/current · try: followup query \"select * from regional_overview\"",
            warehouse.display()
        );
        println!(
            "  report: {}/current/{}",
            warehouse.display(),
            followup::report::FILE_NAME
        );
    }
}

fn validate(dir: &Path) -> anyhow::Result<u8> {
    let pipelines = match followup::config::load_dir(dir) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("{} problem(s) in the pipeline files", errors.len());
            return Ok(2);
        }
    };
    let mut problems = 0;
    for p in &pipelines {
        let report = followup::run::check_sources(p);
        for line in &report.lines {
            println!("{line}");
        }
        problems += report.problems;
    }
    if problems > 0 {
        eprintln!("{problems} problem(s) with source files");
        Ok(1)
    } else {
        println!("{} pipeline(s) OK", pipelines.len());
        Ok(0)
    }
}
