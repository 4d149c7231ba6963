//! Site scans the daemon runs for a script that turned `spamming`: queued
//! when the verdict changes, finished with the scan's and the trace's
//! report. A scan still unfinished when the daemon stops runs again when it
//! starts, so none is lost.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// One site scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteScanRow {
    pub id: i64,
    /// The sender that asked for it (`script:/home/bob/...`).
    pub sender: String,
    /// The script or directory traced.
    pub target: String,
    /// The tree scanned (the site's document root).
    pub root: String,
    pub queued: i64,
    pub finished: Option<i64>,
    pub malicious: i64,
    pub suspicious: i64,
    /// Findings, summary and trace, as JSON.
    pub report: serde_json::Value,
    /// Why it could not run, when it could not.
    pub error: Option<String>,
}

const COLUMNS: &str =
    "id, sender, target, root, queued, finished, malicious, suspicious, report, error";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SiteScanRow> {
    let report: String = r.get(8)?;
    Ok(SiteScanRow {
        id: r.get(0)?,
        sender: r.get(1)?,
        target: r.get(2)?,
        root: r.get(3)?,
        queued: r.get(4)?,
        finished: r.get(5)?,
        malicious: r.get(6)?,
        suspicious: r.get(7)?,
        report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
        error: r.get(9)?,
    })
}

impl Store {
    /// Queues a scan for `sender` unless one is already waiting or
    /// running; returns its id when queued.
    pub fn queue_site_scan(
        &self,
        sender: &str,
        target: &str,
        root: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let waiting: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM site_scans WHERE sender = ?1 AND finished IS NULL",
                [sender],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        if waiting.is_some() {
            return Ok(None);
        }
        self.conn
            .query_row(
                "INSERT INTO site_scans (sender, target, root, queued) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![sender, target, root, now],
                |r| r.get(0),
            )
            .map(Some)
            .map_err(self.err())
    }

    /// Scans not finished yet, oldest first.
    pub fn pending_site_scans(&self) -> Result<Vec<SiteScanRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM site_scans WHERE finished IS NULL ORDER BY id"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([], row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Records a scan's outcome.
    pub fn finish_site_scan(
        &self,
        id: i64,
        now: i64,
        counts: (i64, i64),
        report: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE site_scans SET finished = ?2, malicious = ?3, suspicious = ?4, report = ?5, error = ?6 WHERE id = ?1",
                params![id, now, counts.0, counts.1, report.to_string(), error],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn site_scan(&self, id: i64) -> Result<Option<SiteScanRow>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM site_scans WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The newest scans first.
    pub fn site_scans(&self, limit: i64) -> Result<Vec<SiteScanRow>> {
        self.site_scans_where(None, limit)
    }

    /// The newest scans first, of one sender when given (the daemon asks
    /// this for every incident's senders on each loop: filtered in SQL,
    /// not by reading every report).
    pub(crate) fn site_scans_where(
        &self,
        sender: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SiteScanRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM site_scans WHERE (?1 IS NULL OR sender = ?1) ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![sender, limit], row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn a_scan_is_queued_once_until_it_finishes() {
        let dir = testsupport::TempDir::new("store-scans");
        let s = Store::open(&dir.path().join("u.db")).unwrap();
        let sender = "script:/home/bob/public_html/x.php";
        let id = s
            .queue_site_scan(
                sender,
                "/home/bob/public_html/x.php",
                "/home/bob/public_html",
                10,
            )
            .unwrap()
            .unwrap();
        assert_eq!(s.queue_site_scan(sender, "t", "r", 11).unwrap(), None);
        assert_eq!(s.pending_site_scans().unwrap().len(), 1);
        // Survives reopening (a restart runs it again).
        drop(s);
        let s = Store::open(&dir.path().join("u.db")).unwrap();
        assert_eq!(s.pending_site_scans().unwrap()[0].id, id);
        let report = serde_json::json!({"summary": {"files": 3}});
        s.finish_site_scan(id, 20, (1, 2), &report, None).unwrap();
        assert!(s.pending_site_scans().unwrap().is_empty());
        let row = s.site_scan(id).unwrap().unwrap();
        assert_eq!(
            (row.finished, row.malicious, row.suspicious),
            (Some(20), 1, 2)
        );
        assert_eq!(row.report["summary"]["files"], 3);
        // Finished, so a new spamming turn queues a new one.
        assert!(s.queue_site_scan(sender, "t", "r", 30).unwrap().is_some());
        assert_eq!(s.site_scans(10).unwrap().len(), 2);
    }
}
