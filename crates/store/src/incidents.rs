//! Incidents: the abuse desk's unit of work. An incident row holds its
//! state; links tie it to what it gathered (listing episodes, senders,
//! holds, site scans, complaints, notices), each once; events are its
//! timeline, each with who or what caused it. The queries the incident
//! workflow needs to weigh evidence live here too.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{EPISODE_COLUMNS, Episode, Result, Store, episode_from_row};

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentRow {
    pub id: i64,
    pub server: String,
    pub state: String,
    pub opened: i64,
    pub updated: i64,
    /// What opened it: `listing`, `spamming`, `complaints`, `remote`.
    pub cause: String,
    pub title: String,
    /// An earlier incident this one most likely follows from (a late
    /// listing).
    pub related: Option<i64>,
}

/// What an incident gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentLink {
    /// `episode`, `sender`, `hold`, `scan`, `complaint`, `notice`.
    pub kind: String,
    pub reference: String,
    pub at: i64,
}

/// One step of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    pub id: i64,
    pub at: i64,
    /// `opened`, `linked`, `moved`, `refused`, `note`, `notice`, ...
    pub kind: String,
    /// `cli:alice`, `unlisted:monitor`, `unlisted:detect`.
    pub actor: String,
    pub text: String,
    pub detail: serde_json::Value,
}

/// Mail that left a server's logs in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboundProfile {
    pub messages: i64,
    pub recipients: i64,
    /// The busiest senders: (sender, messages), most first.
    pub top_senders: Vec<(String, i64)>,
    /// Messages per day (log clock, day start), oldest first.
    pub per_day: Vec<(i64, i64)>,
}

const COLUMNS: &str = "id, server, state, opened, updated, cause, title, related";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        server: r.get(1)?,
        state: r.get(2)?,
        opened: r.get(3)?,
        updated: r.get(4)?,
        cause: r.get(5)?,
        title: r.get(6)?,
        related: r.get(7)?,
    })
}

/// States an incident has left the desk's hands in.
const CLOSED: &str = "('resolved')";

impl Store {
    /// Opens an incident (its `id`, `state` and times are ignored) with
    /// its first event; returns its id.
    pub fn open_incident(&self, i: &IncidentRow, now: i64, actor: &str, text: &str) -> Result<i64> {
        let IncidentRow {
            server,
            cause,
            title,
            related,
            ..
        } = i;
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(self.err())?;
        let id: i64 = tx
            .query_row(
                "INSERT INTO incidents (server, state, opened, updated, cause, title, related)
                 VALUES (?1, 'open', ?2, ?2, ?3, ?4, ?5) RETURNING id",
                params![server, now, cause, title, related],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        tx.execute(
            "INSERT INTO incident_events (incident_id, at, kind, actor, text) VALUES (?1, ?2, 'opened', ?3, ?4)",
            params![id, now, actor, text],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(id)
    }

    pub fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Incidents, newest first; `active` leaves out resolved ones.
    pub fn incidents(&self, active: bool, limit: i64) -> Result<Vec<IncidentRow>> {
        let filter = if active {
            format!("WHERE state NOT IN {CLOSED}")
        } else {
            String::new()
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM incidents {filter} ORDER BY id DESC LIMIT ?1"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([limit], row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The newest incident of `server` not resolved yet.
    pub fn active_incident(&self, server: &str) -> Result<Option<IncidentRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM incidents WHERE server = ?1 AND state NOT IN {CLOSED} ORDER BY id DESC LIMIT 1"
                ),
                [server],
                row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Incidents of `server` updated at or after `since`, newest first
    /// (for a late listing's look-back).
    pub fn incidents_since(&self, server: &str, since: i64) -> Result<Vec<IncidentRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM incidents WHERE server = ?1 AND updated >= ?2 ORDER BY id DESC"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![server, since], row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Links `reference` to the incident, with an event saying so; false
    /// when it was linked already (nothing written).
    pub fn link_incident(
        &self,
        id: i64,
        kind: &str,
        reference: &str,
        at: i64,
        actor: &str,
        text: &str,
    ) -> Result<bool> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(self.err())?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO incident_links (incident_id, kind, ref, at) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, reference, at],
            )
            .map_err(self.err())?;
        if n == 1 {
            tx.execute(
                "INSERT INTO incident_events (incident_id, at, kind, actor, text, detail) VALUES (?1, ?2, 'linked', ?3, ?4, ?5)",
                params![id, at, actor, text, serde_json::json!({"kind": kind, "ref": reference}).to_string()],
            )
            .map_err(self.err())?;
            tx.execute(
                "UPDATE incidents SET updated = MAX(updated, ?2) WHERE id = ?1",
                params![id, at],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(n == 1)
    }

    pub fn incident_links(&self, id: i64) -> Result<Vec<IncidentLink>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, ref, at FROM incident_links WHERE incident_id = ?1 ORDER BY at, kind, ref",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(IncidentLink {
                    kind: r.get(0)?,
                    reference: r.get(1)?,
                    at: r.get(2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Incidents `reference` is linked to.
    pub fn linked_incidents(&self, kind: &str, reference: &str) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT incident_id FROM incident_links WHERE kind = ?1 AND ref = ?2 ORDER BY incident_id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![kind, reference], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Adds a timeline event.
    pub fn incident_event(
        &self,
        id: i64,
        at: i64,
        kind: &str,
        actor: &str,
        text: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO incident_events (incident_id, at, kind, actor, text, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, at, kind, actor, text, detail.to_string()],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn incident_events(&self, id: i64) -> Result<Vec<IncidentEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at, kind, actor, text, detail FROM incident_events WHERE incident_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([id], |r| {
                let detail: String = r.get(5)?;
                Ok(IncidentEvent {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    actor: r.get(3)?,
                    text: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Moves the incident to `to`, with the event that says who and why.
    pub fn move_incident(
        &self,
        id: i64,
        from: &str,
        to: &str,
        now: i64,
        actor: &str,
        text: &str,
    ) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(self.err())?;
        tx.execute(
            "UPDATE incidents SET state = ?2, updated = MAX(updated, ?3) WHERE id = ?1",
            params![id, to, now],
        )
        .map_err(self.err())?;
        tx.execute(
            "INSERT INTO incident_events (incident_id, at, kind, actor, text, detail) VALUES (?1, ?2, 'moved', ?3, ?4, ?5)",
            params![id, now, actor, text, serde_json::json!({"from": from, "to": to}).to_string()],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    pub fn episode(&self, id: i64) -> Result<Option<Episode>> {
        self.conn
            .query_row(
                &format!("SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = ?1"),
                [id],
                episode_from_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// A sender's messages that left (were not refused), and the newest
    /// one's time (log clock); `after` counts only later ones.
    pub fn sender_outbound(&self, sender: &str, after: i64) -> Result<(i64, Option<i64>)> {
        self.conn
            .query_row(
                "SELECT COUNT(*), MAX(received) FROM messages
                 WHERE sender = ?1 AND received > ?2 AND json_extract(record, '$.rejected') IS NULL",
                params![sender, after],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())
    }

    /// Complaints about `sender`: (arrival or ingest time, provider).
    pub fn sender_complaints(&self, sender: &str) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(arrival, ingested), provider FROM complaints WHERE sender = ?1 ORDER BY 1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([sender], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Complaints received (arrival, else ingest time) in `[since, until]`.
    pub fn complaints_between(&self, since: i64, until: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM complaints WHERE COALESCE(arrival, ingested) BETWEEN ?1 AND ?2",
                params![since, until],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Outbound mail of the logs `logs` (all when empty) received in
    /// `[since, until]` (log clock).
    pub fn outbound_profile(
        &self,
        logs: &[String],
        since: i64,
        until: i64,
    ) -> Result<OutboundProfile> {
        let all = logs.is_empty();
        let logs = serde_json::to_string(logs).unwrap_or_else(|_| "[]".into());
        let filter = "received BETWEEN ?1 AND ?2 AND outbound = 1
                      AND (?3 OR log IN (SELECT value FROM json_each(?4)))";
        let (messages, recipients) = self
            .conn
            .query_row(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(recipients), 0) FROM messages WHERE {filter}"
                ),
                params![since, until, all, logs],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        let mut top = self
            .conn
            .prepare_cached(&format!(
                "SELECT sender, COUNT(*) FROM messages WHERE {filter} GROUP BY sender ORDER BY 2 DESC, 1 LIMIT 10"
            ))
            .map_err(self.err())?;
        let top_senders = top
            .query_map(params![since, until, all, logs], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut days = self
            .conn
            .prepare_cached(&format!(
                "SELECT received / 86400 * 86400, COUNT(*) FROM messages WHERE {filter} GROUP BY 1 ORDER BY 1"
            ))
            .map_err(self.err())?;
        let per_day = days
            .query_map(params![since, until, all, logs], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        Ok(OutboundProfile {
            messages,
            recipients,
            top_senders,
            per_day,
        })
    }

    /// Site scans asked for by `sender`, newest first.
    pub fn site_scans_for(&self, sender: &str) -> Result<Vec<crate::SiteScanRow>> {
        self.site_scans_where(Some(sender), i64::MAX)
    }

    /// Quarantined files (not restored) whose original path is under
    /// `root`.
    pub fn quarantined_under(&self, root: &str) -> Result<Vec<String>> {
        let prefix = format!("{}/", root.trim_end_matches('/'));
        Ok(self
            .quarantine_list()?
            .into_iter()
            .filter(|q| q.restored.is_none() && q.path.starts_with(&prefix))
            .map(|q| q.path)
            .collect())
    }

    /// The log `sender`'s newest message came from.
    pub fn sender_log(&self, sender: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT log FROM messages WHERE sender = ?1 ORDER BY received DESC LIMIT 1",
                [sender],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// The accounts that sent mail through the logs `logs` (all when
    /// empty) at or after `since` (log clock).
    pub fn accounts_of_logs(&self, logs: &[String], since: i64) -> Result<Vec<String>> {
        let all = logs.is_empty();
        let logs = serde_json::to_string(logs).unwrap_or_else(|_| "[]".into());
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT account FROM messages WHERE account IS NOT NULL AND received >= ?1
                 AND (?2 OR log IN (SELECT value FROM json_each(?3))) ORDER BY account",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since, all, logs], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}
