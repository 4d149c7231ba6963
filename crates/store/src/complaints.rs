//! Complaints (feedback loops, forwarded spam), each stored once, and the
//! stored messages they point at.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// A stored message found by its Message-ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRef {
    pub log: String,
    pub msg_id: String,
    pub received: i64,
    pub sender: String,
    pub account: Option<String>,
}

/// A complaint to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint {
    /// What makes two reports the same report.
    pub key: String,
    pub arrival: Option<i64>,
    pub provider: String,
    pub feedback_type: String,
    pub source_ip: Option<String>,
    pub original_message_id: Option<String>,
    pub sender: Option<String>,
    pub account: Option<String>,
    /// How the sender was found: `message-id`, `script-header`, `auth-header`,
    /// `envelope`.
    pub linked_by: Option<String>,
    /// File (and mbox index) it came from.
    pub location: String,
    /// The whole complaint, as JSON.
    pub record: String,
}

/// A stored complaint tied to a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderComplaint {
    pub id: i64,
    pub sender: String,
    pub account: Option<String>,
    /// The arrival date, else when it was read.
    pub at: i64,
}

/// A `SenderComplaint` from `id, sender, account, at` columns.
fn sender_complaint(r: &rusqlite::Row<'_>) -> rusqlite::Result<SenderComplaint> {
    Ok(SenderComplaint {
        id: r.get(0)?,
        sender: r.get(1)?,
        account: r.get(2)?,
        at: r.get(3)?,
    })
}

/// Complaints against one sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplaintCount {
    pub sender: String,
    pub account: Option<String>,
    pub complaints: i64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl Store {
    /// The stored message with this Message-ID (angle brackets stripped),
    /// the latest if several.
    pub fn message_by_message_id(&self, message_id: &str) -> Result<Option<MessageRef>> {
        self.conn
            .query_row(
                "SELECT log, msg_id, received, sender, account FROM messages
                 WHERE message_id = ?1 ORDER BY received DESC LIMIT 1",
                [message_id],
                |r| {
                    Ok(MessageRef {
                        log: r.get(0)?,
                        msg_id: r.get(1)?,
                        received: r.get(2)?,
                        sender: r.get(3)?,
                        account: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Stores a complaint once; `false` when the same report was stored
    /// before.
    pub fn add_complaint(&self, c: &NewComplaint, now: i64) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO complaints (key, ingested, arrival, provider, feedback_type, source_ip,
                   original_message_id, sender, account, linked_by, location, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (key) DO NOTHING",
                params![
                    c.key,
                    now,
                    c.arrival,
                    c.provider,
                    c.feedback_type,
                    c.source_ip,
                    c.original_message_id,
                    c.sender,
                    c.account,
                    c.linked_by,
                    c.location,
                    c.record
                ],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Complaints per sender (those tied to one), most first.
    pub fn complaint_counts(&self) -> Result<Vec<ComplaintCount>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sender, MAX(account), COUNT(*), MIN(arrival), MAX(arrival) FROM complaints
                 WHERE sender IS NOT NULL GROUP BY sender ORDER BY COUNT(*) DESC, sender",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ComplaintCount {
                    sender: r.get(0)?,
                    account: r.get(1)?,
                    complaints: r.get(2)?,
                    first: r.get(3)?,
                    last: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Complaints tied to a sender, stored after `after` (an id), oldest
    /// first.
    pub fn complaints_after(&self, after: i64) -> Result<Vec<SenderComplaint>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, sender, account, COALESCE(arrival, ingested) FROM complaints
                 WHERE id > ?1 AND sender IS NOT NULL ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([after], sender_complaint)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Ties again, by Message-ID, complaints that were stored before the
    /// message they are about (a bounced or deferred message is stored
    /// when it completes) and so were tied by a weaker clue or not at all;
    /// returns them with their new sender.
    pub fn relink_complaints(&self) -> Result<Vec<SenderComplaint>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE complaints SET sender = m.sender, account = m.account, linked_by = 'message-id'
                 FROM messages m
                 WHERE complaints.original_message_id IS NOT NULL
                   AND m.message_id = complaints.original_message_id
                   AND (complaints.linked_by IS NULL OR complaints.linked_by != 'message-id')
                 RETURNING complaints.id, complaints.sender, complaints.account,
                           COALESCE(complaints.arrival, complaints.ingested)",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([], sender_complaint).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// A named position the daemon keeps across restarts (0 when unset).
    pub fn cursor(&self, name: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(self.err())
    }

    pub fn set_cursor(&self, name: &str, value: i64) -> Result<()> {
        set_cursor(&self.conn, name, value).map_err(self.err())
    }

    pub fn complaint_total(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM complaints", [], |r| r.get(0))
            .map_err(self.err())
    }
}

/// Sets the cursor `name` to `value`, on `conn` (a transaction's too).
pub(crate) fn set_cursor(
    conn: &rusqlite::Connection,
    name: &str,
    value: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO cursors (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )
    .map(drop)
}
