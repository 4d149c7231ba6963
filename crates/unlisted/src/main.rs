//! `unlisted`: keeps a hosting provider's mail servers off email
//! blocklists. This binary owns the CLI (clap) and the daemon that wires
//! the library crates together; one module per subcommand.

mod alert;
mod cmd;
mod complaints;
mod config;
mod heartbeat;
mod incident;
mod ingest;
mod investigate;
mod journal;
mod monitor;
mod output;
mod policy;
mod remote;
mod webapi;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc: log analysis allocates a few small strings per message; glibc's
// malloc/free were ~15% of its profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps a hosting provider's mail servers off email blocklists.
#[derive(Debug, Parser)]
#[command(name = "unlisted", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
struct Global {
    /// Config file (TOML); `./unlisted.toml` is used when present.
    #[arg(long, global = true, env = "UNLISTED_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Extra or overriding blocklist catalog, merged over the built-in one.
    #[arg(long, global = true, env = "UNLISTED_CATALOG", value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// The store (SQLite file), created and migrated on first use.
    #[arg(
        long,
        global = true,
        env = "UNLISTED_DB",
        default_value = "unlisted.db",
        value_name = "PATH"
    )]
    db: PathBuf,
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check IPs and domains against blocklists now.
    Check(cmd::check::Args),
    /// Run the monitor: check the configured servers on a schedule, record
    /// listing episodes and send alerts.
    Serve(cmd::serve::Args),
    /// Show current listings per server, from the store.
    Status(cmd::status::Args),
    /// Show the blocklist catalog.
    Lists(cmd::lists::Args),
    /// Read Exim and Postfix logs: who is sending, and is it spam?
    #[command(subcommand)]
    Logs(cmd::logs::Command),
    /// Explain a bounce: why it failed, which list or provider, how removal
    /// works.
    #[command(subcommand)]
    Bounce(cmd::bounce::Command),
    /// Feedback-loop complaints and forwarded spam: read, tie to senders,
    /// count.
    #[command(subcommand)]
    Complaints(cmd::complaints::Command),
    /// Stop a sender (SMTP AUTH user, script, local user, IP, account),
    /// list and release holds, read their audit log.
    #[command(subcommand)]
    Hold(cmd::hold::Command),
    /// Incidents: list, show, move through the workflow, note, removal
    /// requests and evidence report, customer notices.
    #[command(subcommand)]
    Incident(cmd::incident::Command),
    /// API and dashboard tokens: create (the token alone on the last line
    /// of stdout), list, revoke.
    #[command(subcommand)]
    Token(cmd::token::Command),
    /// Run the Postfix/Exim policy service alone.
    Policy(cmd::policy::Args),
    /// Scan a site for mailers, webshells, droppers and other attacker
    /// files.
    Scan(cmd::scan::Args),
    /// Site scans the daemon ran for scripts that turned spamming, and one
    /// scan's findings and trace.
    Scans(cmd::scans::Args),
    /// The point of exploit of a script: its requests and its clients'
    /// other requests around the time it appeared, from access logs.
    Trace(cmd::trace::Args),
    /// Take attacker files out of a site (and put them back exactly).
    Quarantine(cmd::quarantine::Args),
    /// Print or check the config file.
    #[command(subcommand)]
    Config(cmd::config::Command),
}

fn init_tracing(g: &Global) {
    use tracing_subscriber::EnvFilter;
    let level = if g.quiet {
        "error"
    } else {
        match g.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match g.log_format {
        LogFormat::Text => builder.with_ansi(output::color_allowed()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global);
    // One thread: the work is waiting on sockets, and on a small host the
    // other core is better left to the resolver (BENCHMARKS.md: +10%).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Check(a) => cmd::check::run(&cli.global, a).await,
            Command::Serve(a) => cmd::serve::run(&cli.global, a).await,
            Command::Status(a) => cmd::status::run(&cli.global, a),
            Command::Lists(a) => cmd::lists::run(&cli.global, a),
            Command::Logs(c) => cmd::logs::run(&cli.global, c),
            Command::Config(c) => cmd::config::run(&cli.global, c),
            Command::Hold(c) => cmd::hold::run(&cli.global, c),
            Command::Complaints(c) => cmd::complaints::run(&cli.global, c),
            Command::Bounce(c) => cmd::bounce::run(&cli.global, c),
            Command::Scan(a) => cmd::scan::run(&cli.global, a),
            Command::Quarantine(a) => cmd::quarantine::run(&cli.global, a),
            Command::Trace(a) => cmd::trace::run(&cli.global, a),
            Command::Scans(a) => cmd::scans::run(&cli.global, a),
            Command::Incident(c) => cmd::incident::run(&cli.global, c).await,
            Command::Token(c) => cmd::token::run(&cli.global, c),
            Command::Policy(a) => cmd::policy::run(&cli.global, a).await,
        }
    });
    match result {
        Ok(code) => code.into(),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}
