//! `unlisted config example` and `unlisted config check`.

use anyhow::{Result, bail};

use crate::Global;
use crate::config::{Config, EXAMPLE};
use crate::output::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print an annotated default config.
    Example,
    /// Check a config file and report every problem at once.
    Check,
}

pub(crate) fn run(g: &Global, c: Command) -> Result<Exit> {
    match c {
        Command::Example => {
            output::line(EXAMPLE.trim_end())?;
            Ok(Exit::Clean)
        }
        Command::Check => check(g),
    }
}

fn check(g: &Global) -> Result<Exit> {
    let Some(path) = super::config_path(g) else {
        bail!(
            "no config to check: give --config FILE (or create ./unlisted.toml with `unlisted config example`)"
        );
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    let config = match Config::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            output::error(&format!("{}: {e}", path.display()));
            return Ok(Exit::Found);
        }
    };
    let mut problems = Vec::new();
    let catalog = match super::load_catalog(g, &config, path.parent()) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(format!("catalog: {e:#}"));
            None
        }
    };
    if let Some(catalog) = &catalog {
        problems.extend(config.problems(catalog));
    }
    // A log that cannot be read yet is no error (the daemon waits for it),
    // but a wrong path or missing permission would go unnoticed.
    for (i, l) in config.logs.iter().enumerate() {
        if l.journal.is_some() {
            continue;
        }
        if let Err(e) = std::fs::File::open(&l.path) {
            let mut w = format!(
                "log[{i}] {}: {e}; the daemon reads nothing from it until it can",
                l.path.display()
            );
            if e.kind() == std::io::ErrorKind::NotFound && l.format != "exim" {
                w += ". Where no syslog daemon runs, Postfix logs only to the journal: \
                      set `maillog_file = /var/log/postfix.log` in main.cf (Postfix 3.4+) \
                      and follow that file";
            }
            output::warning(&w);
        }
    }
    tell_login_logs(&config)?;
    if problems.is_empty() {
        let targets = config.targets().len();
        output::line(&format!(
            "{}: ok ({} servers, {targets} targets)",
            path.display(),
            config.servers.len()
        ))?;
        Ok(Exit::Clean)
    } else {
        for p in &problems {
            output::error(&format!("{}: {p}", path.display()));
        }
        output::line(&format!("{}: {} problems", path.display(), problems.len()))?;
        Ok(Exit::Found)
    }
}

/// Says which logs the daemon takes for login logs (Dovecot's alone:
/// [`crate::ingest::LogIngest::logins_only`]), and warns of one whose
/// server follows no other log, where its failed logins name no login.
fn tell_login_logs(config: &Config) -> Result<()> {
    let server = |l: &crate::config::LogConfig| config.server_of(l.server.as_deref());
    for (i, l) in config.logs.iter().enumerate() {
        if l.login_log_kind() != Some(true) {
            continue;
        }
        let others = (config.logs.iter().enumerate())
            .filter(|(j, o)| *j != i && server(o) == server(l))
            .count();
        if others == 0 {
            output::warning(&format!(
                "log[{i}] {}: a login log (Dovecot's lines, no MTA's), but no other [[log]] of its server is followed: its failed logins are counted and name no login",
                l.key()
            ));
        } else {
            output::line(&format!(
                "log[{i}] {}: a login log (Dovecot's lines, no MTA's): its failed logins go to the logins in the server's other logs",
                l.key()
            ))?;
        }
    }
    Ok(())
}
