//! Files taken out of a site: where they were, everything needed to put
//! them back exactly, and when they were restored. Nothing is deleted.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// One quarantined file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineRow {
    pub id: i64,
    /// Where it was.
    pub path: String,
    /// Where it is kept now.
    pub stored: String,
    pub sha256: String,
    pub size: i64,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub quarantined: i64,
    pub reason: String,
    pub actor: String,
    pub restored: Option<i64>,
}

const COLUMNS: &str = "id, path, stored, sha256, size, mode, uid, gid, mtime_ns, atime_ns, quarantined, reason, actor, restored";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuarantineRow> {
    Ok(QuarantineRow {
        id: r.get(0)?,
        path: r.get(1)?,
        stored: r.get(2)?,
        sha256: r.get(3)?,
        size: r.get(4)?,
        mode: r.get(5)?,
        uid: r.get(6)?,
        gid: r.get(7)?,
        mtime_ns: r.get(8)?,
        atime_ns: r.get(9)?,
        quarantined: r.get(10)?,
        reason: r.get(11)?,
        actor: r.get(12)?,
        restored: r.get(13)?,
    })
}

impl Store {
    /// Records a file about to be quarantined (its `id` is ignored);
    /// returns the id, which names the stored copy.
    pub fn add_quarantine(&self, q: &QuarantineRow) -> Result<i64> {
        self.conn
            .query_row(
                "INSERT INTO quarantine (path, stored, sha256, size, mode, uid, gid, mtime_ns, atime_ns, quarantined, reason, actor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
                params![
                    q.path, q.stored, q.sha256, q.size, q.mode, q.uid, q.gid, q.mtime_ns, q.atime_ns,
                    q.quarantined, q.reason, q.actor
                ],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Sets where the copy of entry `id` is kept.
    pub fn set_quarantine_stored(&self, id: i64, stored: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE quarantine SET stored = ?2 WHERE id = ?1",
                params![id, stored],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Forgets an entry whose move failed (nothing was moved).
    pub fn drop_quarantine(&self, id: i64) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM quarantine WHERE id = ?1 AND restored IS NULL",
                [id],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn quarantined(&self, id: i64) -> Result<Option<QuarantineRow>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM quarantine WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Every entry, newest first.
    pub fn quarantine_list(&self) -> Result<Vec<QuarantineRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM quarantine ORDER BY id DESC"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([], row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    pub fn mark_restored(&self, id: i64, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE quarantine SET restored = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map(|_| ())
            .map_err(self.err())
    }
}
