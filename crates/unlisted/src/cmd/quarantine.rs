//! `unlisted quarantine PATH... --reason TEXT`, `quarantine list`,
//! `quarantine restore ID`: take attacker files out of a site with
//! everything needed to put them back, and put them back exactly.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Files to take out of the site.
    paths: Vec<PathBuf>,
    /// Why (kept with each file).
    #[arg(long)]
    reason: Option<String>,
    /// Where the kept copies go (default: `quarantine/` beside the store).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Quarantined files, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put a quarantined file back where it was, with its mode, owner and
    /// times.
    Restore {
        id: i64,
        /// Replace a file that now exists at the original path.
        #[arg(long)]
        force: bool,
    },
}

fn quarantine_dir(g: &Global, a: &Args) -> PathBuf {
    a.dir.clone().unwrap_or_else(|| {
        let parent =
            g.db.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
        parent.join("quarantine")
    })
}

pub(crate) fn run(g: &Global, a: Args) -> Result<Exit> {
    let store = store::Store::open(&g.db)?;
    let dir = quarantine_dir(g, &a);
    match &a.command {
        Some(Command::List { json }) => list(&store, *json),
        Some(Command::Restore { id, force }) => restore(&store, *id, *force),
        None => take(&store, &dir, &a),
    }
}

fn take(store: &store::Store, dir: &Path, a: &Args) -> Result<Exit> {
    if a.paths.is_empty() {
        bail!("name the files to quarantine (or `quarantine list`, `quarantine restore ID`)");
    }
    let Some(reason) = a.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
        bail!("--reason must say why (it is kept with each file)");
    };
    let dir = std::path::absolute(dir)?;
    let mut failed = false;
    for p in &a.paths {
        let path = std::path::absolute(p)?;
        let meta = match sitescan::quarantine::inspect(&path) {
            Ok(m) => m,
            Err(e) => {
                output::error(&e);
                failed = true;
                continue;
            }
        };
        let id = store.add_quarantine(&store::QuarantineRow {
            id: 0,
            path: path.display().to_string(),
            stored: String::new(),
            sha256: meta.sha256.clone(),
            size: meta.size as i64,
            mode: meta.mode as i64,
            uid: meta.uid as i64,
            gid: meta.gid as i64,
            mtime_ns: meta.mtime_ns,
            atime_ns: meta.atime_ns,
            quarantined: output::now(),
            reason: reason.to_string(),
            actor: super::actor(),
            restored: None,
        })?;
        let kept = dir.join(format!("{id}-{}", &meta.sha256[..16]));
        store.set_quarantine_stored(id, &kept.display().to_string())?;
        match sitescan::quarantine::take(&path, &kept, &meta) {
            Ok(()) => output::line(&format!(
                "{id}: {} quarantined ({} bytes, sha256 {})",
                path.display(),
                meta.size,
                meta.sha256
            ))?,
            Err(e) => {
                store.drop_quarantine(id)?;
                output::error(&e);
                failed = true;
            }
        }
    }
    Ok(if failed { Exit::Failed } else { Exit::Clean })
}

#[derive(Serialize)]
struct RowJson<'a> {
    #[serde(flatten)]
    row: &'a store::QuarantineRow,
    quarantined_at: String,
}

fn list(store: &store::Store, json: bool) -> Result<Exit> {
    for r in store.quarantine_list()? {
        if json {
            output::json(&RowJson {
                quarantined_at: output::time(r.quarantined),
                row: &r,
            })?;
        } else {
            output::line(&format!(
                "{:>4}  {}  {}  {}  {}{}",
                r.id,
                output::time(r.quarantined),
                r.path,
                r.reason,
                r.actor,
                r.restored
                    .map(|t| format!("  (restored {})", output::time(t)))
                    .unwrap_or_default()
            ))?;
        }
    }
    Ok(Exit::Clean)
}

fn restore(store: &store::Store, id: i64, force: bool) -> Result<Exit> {
    let Some(r) = store.quarantined(id)? else {
        bail!("no quarantined file has id {id} (`unlisted quarantine list`)");
    };
    if r.restored.is_some() {
        bail!("{id} ({}) was restored already", r.path);
    }
    let meta = sitescan::quarantine::FileMeta {
        size: r.size as u64,
        mode: r.mode as u32,
        uid: r.uid as u32,
        gid: r.gid as u32,
        mtime_ns: r.mtime_ns,
        atime_ns: r.atime_ns,
        sha256: r.sha256.clone(),
    };
    match sitescan::quarantine::put_back(Path::new(&r.stored), Path::new(&r.path), &meta, force) {
        Ok(()) => {
            store.mark_restored(id, output::now())?;
            output::line(&format!("{id}: {} restored", r.path))?;
            Ok(Exit::Clean)
        }
        Err(e) => {
            output::error(&e);
            Ok(Exit::Failed)
        }
    }
}
