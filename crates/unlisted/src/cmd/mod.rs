//! One module per subcommand, plus what they share: finding the config and
//! building the catalog.

pub(crate) mod bounce;
pub(crate) mod check;
pub(crate) mod complaints;
pub(crate) mod config;
pub(crate) mod hold;
pub(crate) mod incident;
pub(crate) mod lists;
pub(crate) mod logs;
mod logs_messages;
mod logs_sharded;
pub(crate) mod policy;
pub(crate) mod quarantine;
pub(crate) mod scan;
pub(crate) mod scans;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod token;
pub(crate) mod trace;

use std::path::{Path, PathBuf};

use anyhow::Result;
use blocklists::Catalog;

use crate::Global;
use crate::config::Config;

/// The config file in force: `--config`/`UNLISTED_CONFIG`, else
/// `./unlisted.toml` when it exists.
pub(crate) fn config_path(g: &Global) -> Option<PathBuf> {
    g.config.clone().or_else(|| {
        let p = Path::new("unlisted.toml");
        p.exists().then(|| p.to_path_buf())
    })
}

/// Loads the config when there is one; defaults otherwise.
pub(crate) fn load_config(g: &Global) -> Result<(Config, Option<PathBuf>)> {
    match config_path(g) {
        Some(p) => Ok((Config::load(&p)?, Some(p))),
        None => Ok((Config::default(), None)),
    }
}

/// The built-in catalog with the config's and `--catalog`'s files merged
/// over it, in that order.
pub(crate) fn load_catalog(
    g: &Global,
    config: &Config,
    config_dir: Option<&Path>,
) -> Result<Catalog> {
    let mut catalog = Catalog::builtin()?;
    if let Some(p) = &config.catalog {
        // A relative catalog path in a config file is relative to that file.
        let p = match config_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        };
        catalog = catalog.merge(Catalog::from_file(&p)?);
    }
    if let Some(p) = &g.catalog {
        catalog = catalog.merge(Catalog::from_file(p)?);
    }
    Ok(catalog)
}

/// Warns about lists asked for that will not be queried.
pub(crate) fn warn_unqueried(sel: &blocklists::catalog::Selection<'_>) {
    for l in &sel.defunct {
        crate::output::warning(&format!(
            "{} ({}) is defunct and is never queried: {}",
            l.id,
            l.zone,
            l.defunct.as_deref().unwrap_or("dead")
        ));
    }
    for l in &sel.missing_key {
        let key = l.query.key.as_deref().unwrap_or(&l.id);
        crate::output::warning(&format!(
            "{} needs a key and is skipped; set keys.{key} in the config",
            l.id
        ));
    }
}

/// Who is at the keyboard: `cli:` and the login (the one behind sudo).
pub(crate) fn actor() -> String {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}
