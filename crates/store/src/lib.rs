//! The store of `unlisted`: every SQL statement of the project lives here,
//! behind typed functions.
//!
//! - [`migrations`]: the schema, applied in order and recorded in
//!   `schema_migrations`, so a new file is created and an old one upgraded on
//!   first use.
//! - this module: [`Store`], listing episodes, per-list observation streaks
//!   (flap damping survives a restart), the alert outbox, sweeps and zone
//!   health.
//!
//! SQLite is the embedded default. The SQL sticks to what PostgreSQL also
//! speaks (no `PRAGMA` outside connection setup, `BIGINT` times in Unix
//! seconds, JSON kept as TEXT) so a fleet backend can reuse it.

mod complaints;
mod daemon;
mod holds;
mod incidents;
mod ingest;
mod migrations;
mod quarantine;
mod scans;
mod senders;
mod throttle;
mod tokens;

pub use complaints::{ComplaintCount, MessageRef, NewComplaint, SenderComplaint};
pub use daemon::{DaemonBeat, QueueCensus};
pub use holds::{AuditRow, HoldRow};
pub use incidents::{IncidentEvent, IncidentLink, IncidentRow, OutboundProfile};
pub use ingest::{Batch, LogCheckpoint, LogHealth, NewMessage, SenderRow, VerdictChange};
pub use quarantine::QuarantineRow;
pub use scans::SiteScanRow;
pub use senders::{SavedDetector, SenderState};
pub use throttle::EventAlert;
pub use tokens::TokenRow;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot migrate store {path} to version {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: i64,
        source: rusqlite::Error,
    },
    #[error(
        "store {path} has schema version {found}, newer than this binary knows ({known}); upgrade unlisted"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("store {path}: {source}")]
    Query {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One listing of one target on one list, from first sight to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Episode {
    pub id: i64,
    pub server: String,
    pub target: String,
    pub list: String,
    pub zone: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub ended: Option<i64>,
    pub codes: Vec<String>,
    pub meanings: Vec<String>,
    pub txt: Vec<String>,
}

/// Consecutive definite observations of one target on one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    pub listed: bool,
    pub count: u32,
}

/// What a listing answer said, for opening or refreshing an episode.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub zone: String,
    pub codes: Vec<String>,
    pub meanings: Vec<String>,
    pub txt: Vec<String>,
}

/// One change a sweep makes, applied with the others in one transaction.
#[derive(Debug, Clone)]
pub enum Update {
    Streak {
        server: String,
        target: String,
        list: String,
        streak: Streak,
    },
    /// Open an episode and queue a `listed` alert on each channel.
    Open {
        server: String,
        target: String,
        list: String,
        evidence: Evidence,
        channels: Vec<String>,
    },
    /// Still listed: refresh last_seen and the evidence.
    Touch { episode: i64, evidence: Evidence },
    /// End an episode and queue a `delisted` alert on each channel.
    Close { episode: i64, channels: Vec<String> },
    /// Move the open episode of (server, target, list) to `last_seen`
    /// (at the time the update is applied), if that is later.
    Seen {
        server: String,
        target: String,
        list: String,
    },
}

/// A sweep's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepStats {
    pub lookups: i64,
    pub listed: i64,
    pub clean: i64,
    pub errors: i64,
    pub unknown: i64,
    pub zones_failed: i64,
}

/// A finished sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sweep {
    pub id: i64,
    pub started: i64,
    pub finished: Option<i64>,
    #[serde(flatten)]
    pub stats: SweepStats,
}

/// A zone's latest self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneHealthRow {
    pub list: String,
    pub kind: String,
    pub problem: Option<String>,
    pub checked: i64,
}

/// An alert waiting in the outbox, with the episode it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingAlert {
    pub id: i64,
    pub event: String,
    pub channel: String,
    pub attempts: i64,
    pub episode: Episode,
}

/// Which outbox an alert is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// Listing episodes opened and closed.
    Listings,
    /// Senders turned spamming.
    Senders,
    /// Everything else, rendered when queued: incidents opened and moved,
    /// holds placed and released.
    Events,
}

impl Outbox {
    fn table(self) -> &'static str {
        match self {
            Outbox::Listings => "alerts",
            Outbox::Senders => "sender_alerts",
            Outbox::Events => "event_alerts",
        }
    }
}

/// A connection to the store file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

pub(crate) const EPISODE_COLUMNS: &str =
    "id, server, target, list_id, zone, first_seen, last_seen, ended, codes, meanings, txt";

pub(crate) fn episode_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Episode> {
    episode_at(row, 0)
}

/// Reads an episode whose `EPISODE_COLUMNS` start at column `base`.
fn episode_at(row: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<Episode> {
    let json = |i: usize| -> rusqlite::Result<Vec<String>> {
        let s: String = row.get(base + i)?;
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                base + i,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
    };
    Ok(Episode {
        id: row.get(base)?,
        server: row.get(base + 1)?,
        target: row.get(base + 2)?,
        list: row.get(base + 3)?,
        zone: row.get(base + 4)?,
        first_seen: row.get(base + 5)?,
        last_seen: row.get(base + 6)?,
        ended: row.get(base + 7)?,
        codes: json(8)?,
        meanings: json(9)?,
        txt: json(10)?,
    })
}

fn to_json(v: &[String]) -> String {
    // Serialising a slice of strings cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        store
            .conn
            .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        store.use_wal().map_err(open_err)?;
        migrations::migrate(&store.conn, path)?;
        Ok(store)
    }

    /// Switches a new store file to WAL (the mode is kept in the file).
    /// The switch needs the file to itself, and SQLite answers BUSY at once
    /// rather than waiting when another process (the daemon, `status`) is
    /// opening the same new file, so it is retried for up to five seconds.
    fn use_wal(&self) -> rusqlite::Result<()> {
        let mut tries = 0;
        loop {
            let mode: rusqlite::Result<String> =
                self.conn
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0));
            match mode {
                Ok(_) => return Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 50 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Query {
            path: self.path.clone(),
            source,
        }
    }

    /// As [`Store::err`], not borrowing the store (for a transaction).
    fn err_owned(&self) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let path = self.path.clone();
        move |source| StoreError::Query {
            path: path.clone(),
            source,
        }
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Starts a sweep and returns its id.
    pub fn begin_sweep(&self, now: i64) -> Result<i64> {
        self.conn
            .query_row(
                "INSERT INTO sweeps (started) VALUES (?1) RETURNING id",
                params![now],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Every streak recorded for `server`, keyed by (target, list).
    pub fn streaks(&self, server: &str) -> Result<Vec<(String, String, Streak)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT target, list_id, listed, streak FROM list_state WHERE server = ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![server], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Streak {
                        listed: r.get::<_, i64>(2)? != 0,
                        count: r.get::<_, i64>(3)?.clamp(0, u32::MAX as i64) as u32,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Open episodes, optionally of one server, oldest first.
    pub fn open_episodes(&self, server: Option<&str>) -> Result<Vec<Episode>> {
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE ended IS NULL AND (?1 IS NULL OR server = ?1) ORDER BY server, first_seen, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params![server], episode_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Every episode (open and ended) of `server` or all, newest first.
    pub fn episodes(&self, server: Option<&str>, limit: i64) -> Result<Vec<Episode>> {
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE (?1 IS NULL OR server = ?1) ORDER BY first_seen DESC, id DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params![server, limit], episode_from_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Applies a sweep's updates, zone health and counts in one transaction.
    pub fn finish_sweep(
        &mut self,
        sweep: i64,
        now: i64,
        updates: &[Update],
        health: &[ZoneHealthRow],
        stats: SweepStats,
    ) -> Result<()> {
        let err = self.err_owned();
        let tx = self.conn.transaction().map_err(&err)?;
        for u in updates {
            apply(&tx, u, now).map_err(&err)?;
        }
        for h in health {
            tx.execute(
                "INSERT INTO zone_health (list_id, kind, problem, checked) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (list_id, kind) DO UPDATE SET problem = excluded.problem, checked = excluded.checked",
                params![h.list, h.kind, h.problem, h.checked],
            )
            .map_err(&err)?;
        }
        tx.execute(
            "UPDATE sweeps SET finished = ?2, lookups = ?3, listed = ?4, clean = ?5, errors = ?6, unknown = ?7, zones_failed = ?8 WHERE id = ?1",
            params![
                sweep,
                now,
                stats.lookups,
                stats.listed,
                stats.clean,
                stats.errors,
                stats.unknown,
                stats.zones_failed
            ],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// The latest finished sweep.
    pub fn last_sweep(&self) -> Result<Option<Sweep>> {
        self.conn
            .query_row(
                "SELECT id, started, finished, lookups, listed, clean, errors, unknown, zones_failed
                 FROM sweeps WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(Sweep {
                        id: r.get(0)?,
                        started: r.get(1)?,
                        finished: r.get(2)?,
                        stats: SweepStats {
                            lookups: r.get(3)?,
                            listed: r.get(4)?,
                            clean: r.get(5)?,
                            errors: r.get(6)?,
                            unknown: r.get(7)?,
                            zones_failed: r.get(8)?,
                        },
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Zones whose latest self-test failed.
    pub fn failing_zones(&self) -> Result<Vec<ZoneHealthRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT list_id, kind, problem, checked FROM zone_health WHERE problem IS NOT NULL ORDER BY list_id, kind",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ZoneHealthRow {
                    list: r.get(0)?,
                    kind: r.get(1)?,
                    problem: r.get(2)?,
                    checked: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Alerts not yet delivered, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<PendingAlert>> {
        let sql = format!(
            "SELECT a.id, a.event, a.channel, a.attempts, {} FROM alerts a JOIN episodes e ON e.id = a.episode_id
             WHERE a.delivered IS NULL ORDER BY a.id",
            EPISODE_COLUMNS
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let episode = episode_at(r, 4)?;
                Ok(PendingAlert {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    channel: r.get(2)?,
                    attempts: r.get(3)?,
                    episode,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Marks an alert delivered.
    pub fn alert_delivered(&self, outbox: Outbox, id: i64, now: i64) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET delivered = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            outbox.table()
        );
        self.conn
            .execute(&sql, params![id, now])
            .map(|_| ())
            .map_err(self.err())
    }

    /// Records a failed delivery; the alert stays pending.
    pub fn alert_failed(&self, outbox: Outbox, id: i64, error: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            outbox.table()
        );
        self.conn
            .execute(&sql, params![id, error])
            .map(|_| ())
            .map_err(self.err())
    }

    /// Gives up on an alert that failed too often (kept, marked abandoned).
    pub fn alert_abandoned(&self, outbox: Outbox, id: i64, now: i64) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET delivered = ?2, abandoned = 1 WHERE id = ?1",
            outbox.table()
        );
        self.conn
            .execute(&sql, params![id, now])
            .map(|_| ())
            .map_err(self.err())
    }
}

fn queue_alerts(
    tx: &rusqlite::Transaction<'_>,
    episode: i64,
    event: &str,
    channels: &[String],
    now: i64,
) -> rusqlite::Result<()> {
    for ch in channels {
        tx.execute(
            "INSERT INTO alerts (episode_id, event, channel, created) VALUES (?1, ?2, ?3, ?4)",
            params![episode, event, ch, now],
        )?;
    }
    Ok(())
}

fn apply(tx: &rusqlite::Transaction<'_>, u: &Update, now: i64) -> rusqlite::Result<()> {
    match u {
        Update::Streak {
            server,
            target,
            list,
            streak,
        } => {
            tx.execute(
                "INSERT INTO list_state (server, target, list_id, listed, streak, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (server, target, list_id) DO UPDATE SET listed = excluded.listed, streak = excluded.streak, updated = excluded.updated",
                params![server, target, list, streak.listed as i64, streak.count as i64, now],
            )?;
        }
        Update::Open {
            server,
            target,
            list,
            evidence,
            channels,
        } => {
            let id: i64 = tx.query_row(
                "INSERT INTO episodes (server, target, list_id, zone, first_seen, last_seen, codes, meanings, txt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    server,
                    target,
                    list,
                    evidence.zone,
                    now,
                    to_json(&evidence.codes),
                    to_json(&evidence.meanings),
                    to_json(&evidence.txt)
                ],
                |r| r.get(0),
            )?;
            queue_alerts(tx, id, "listed", channels, now)?;
        }
        Update::Touch { episode, evidence } => {
            tx.execute(
                "UPDATE episodes SET last_seen = ?2, codes = ?3, meanings = ?4, txt = ?5 WHERE id = ?1",
                params![
                    episode,
                    now,
                    to_json(&evidence.codes),
                    to_json(&evidence.meanings),
                    to_json(&evidence.txt)
                ],
            )?;
        }
        Update::Seen {
            server,
            target,
            list,
        } => {
            tx.execute(
                "UPDATE episodes SET last_seen = MAX(last_seen, ?4)
                 WHERE server = ?1 AND target = ?2 AND list_id = ?3 AND ended IS NULL",
                params![server, target, list, now],
            )?;
        }
        Update::Close { episode, channels } => {
            tx.execute(
                "UPDATE episodes SET ended = ?2 WHERE id = ?1 AND ended IS NULL",
                params![episode, now],
            )?;
            queue_alerts(tx, *episode, "delisted", channels, now)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
