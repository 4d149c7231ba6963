//! Mail log ingestion: tail checkpoints, messages stored once each, and
//! sender verdict changes with their alert outbox.
//!
//! A batch of messages, the verdict changes they cause and the tail's new
//! checkpoint commit in one transaction, so a crash at any point leaves the
//! store as it was after the previous batch. A message is stored at most
//! once (`UNIQUE (log, msg_id, received)`): re-reading lines after a crash
//! rebuilds messages that were still open, and the ones already stored are
//! recognised and not counted again.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// What the daemon met in one followed log since it started.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LogHealth {
    pub path: String,
    /// When this run of the daemon started counting (Unix seconds).
    pub since: i64,
    pub lines: u64,
    pub not_understood: u64,
    /// The MTA's lines the logger said it dropped (journald's rate limit).
    pub dropped: u64,
    /// Failed SMTP AUTH logins read.
    pub failed_logins: u64,
    /// Where the last line not understood was, and its text.
    pub last_bad_at: Option<String>,
    pub last_bad: Option<String>,
}

/// Where a tail stands in its file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LogCheckpoint {
    /// The file's inode, to notice a rotation while the daemon was down.
    pub inode: u64,
    /// Everything before this byte has been read.
    pub read_to: u64,
    /// Where to start again: the first line of the oldest message still
    /// open at the checkpoint (or `read_to`).
    pub resume_at: u64,
    /// The file's first bytes (empty when not known).
    #[serde(skip)]
    pub head: Vec<u8>,
    /// A renamed file still read after a rotation: its inode and the end
    /// of what was read of it.
    #[serde(skip)]
    pub linger: Option<(u64, u64)>,
    /// That renamed file's first bytes (empty when not known).
    #[serde(skip)]
    pub linger_head: Vec<u8>,
    /// When the file was last seen at its path, as its modification time
    /// in nanoseconds since the epoch: the files rotated after it were
    /// modified later.
    #[serde(skip)]
    pub in_place: Option<i64>,
}

/// What one read of a log stores, in one transaction.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The log's name (its path).
    pub path: &'a str,
    pub checkpoint: LogCheckpoint,
    pub messages: &'a [NewMessage],
    /// Alert channels for verdict changes and listings.
    pub channels: &'a [String],
    pub now: i64,
    /// Listing episodes the batch's remote replies open, refresh or end,
    /// each at its own (log) time.
    pub updates: &'a [(i64, crate::Update)],
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub msg_id: String,
    pub received: i64,
    pub sender: String,
    pub account: Option<String>,
    pub recipients: i64,
    pub outbound: bool,
    /// The whole record, as JSON.
    pub record: String,
}

/// A sender's verdict changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictChange {
    pub sender: String,
    pub account: Option<String>,
    pub at: i64,
    pub from: String,
    pub to: String,
    /// JSON array of reasons.
    pub reasons: String,
}

/// A sender's latest verdict and how many of its messages are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderRow {
    pub sender: String,
    pub account: Option<String>,
    pub verdict: String,
    pub since: i64,
    pub messages: i64,
}

/// Records a verdict change and, when it turns spamming, its alerts.
pub(crate) fn record_change(
    conn: &rusqlite::Connection,
    c: &VerdictChange,
    channels: &[String],
    now: i64,
) -> rusqlite::Result<()> {
    // A turn to spamming waits to be acted on ([`Store::uncontained`]).
    let id: i64 = conn.query_row(
        "INSERT INTO sender_verdicts (sender, account, at, from_verdict, to_verdict, reasons, contained)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?5 = 'spamming' THEN NULL ELSE ?3 END) RETURNING id",
        params![c.sender, c.account, c.at, c.from, c.to, c.reasons],
        |r| r.get(0),
    )?;
    if c.to == "spamming" {
        for ch in channels {
            conn.execute(
                "INSERT INTO sender_alerts (verdict_id, channel, created) VALUES (?1, ?2, ?3)",
                params![id, ch, now],
            )?;
        }
    }
    Ok(())
}

impl Store {
    /// Records a verdict change found outside a log batch (a complaint),
    /// and with it moves `cursor` (name, value) past what caused it.
    pub fn record_verdict_change(
        &self,
        c: &VerdictChange,
        channels: &[String],
        now: i64,
        cursor: Option<(&str, i64)>,
    ) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(self.err())?;
        record_change(&tx, c, channels, now).map_err(self.err())?;
        if let Some((name, value)) = cursor {
            crate::complaints::set_cursor(&tx, name, value).map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Turns to spamming stored and not yet acted on, oldest first, by id.
    pub fn uncontained(&self) -> Result<Vec<(i64, VerdictChange)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, sender, account, at, from_verdict, to_verdict, reasons
                 FROM sender_verdicts WHERE contained IS NULL ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, verdict_change(r, 1)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Records that the turn to spamming `id` was acted on.
    pub fn mark_contained(&self, id: i64, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sender_verdicts SET contained = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Records why the log `path` cannot be followed (`None`: it can);
    /// `since` stays that of the first time the same problem was seen.
    pub fn set_log_problem(&self, path: &str, problem: Option<&str>, now: i64) -> Result<()> {
        match problem {
            Some(p) => self.conn.execute(
                "INSERT INTO log_problems (path, problem, since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET problem = excluded.problem,
                 since = CASE WHEN problem = excluded.problem THEN since ELSE excluded.since END",
                params![path, p, now],
            ),
            None => self
                .conn
                .execute("DELETE FROM log_problems WHERE path = ?1", params![path]),
        }
        .map(drop)
        .map_err(self.err())
    }

    /// The time zone the log `path` was last read in (none before zones
    /// were kept: its times were stored as written).
    pub fn log_zone(&self, path: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT zone FROM log_zones WHERE path = ?1",
                params![path],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// The failed logins the reader of `path` kept at its last save, as
    /// it wrote them (JSON).
    pub fn log_logins(&self, path: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT saved FROM log_logins WHERE path = ?1",
                params![path],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Keeps the failed logins the reader of `path` holds (see
    /// [`Store::log_logins`]).
    pub fn set_log_logins(&self, path: &str, saved: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO log_logins (path, saved, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET saved = excluded.saved, updated = excluded.updated",
                params![path, saved, now],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Records what the daemon met in a followed log (see [`LogHealth`]).
    pub fn set_log_health(&self, h: &LogHealth) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO log_health (path, since, lines, not_understood, dropped, last_bad_at, last_bad, failed_logins)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (path) DO UPDATE SET since = excluded.since, lines = excluded.lines,
                 not_understood = excluded.not_understood, dropped = excluded.dropped,
                 last_bad_at = excluded.last_bad_at, last_bad = excluded.last_bad,
                 failed_logins = excluded.failed_logins",
                params![
                    h.path,
                    h.since,
                    h.lines as i64,
                    h.not_understood as i64,
                    h.dropped as i64,
                    h.last_bad_at,
                    h.last_bad,
                    h.failed_logins as i64
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// What the daemon met in each followed log, by path.
    pub fn log_health(&self) -> Result<Vec<LogHealth>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, since, lines, not_understood, dropped, last_bad_at, last_bad, failed_logins
                 FROM log_health ORDER BY path",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LogHealth {
                    path: r.get(0)?,
                    since: r.get(1)?,
                    lines: r.get::<_, i64>(2)? as u64,
                    not_understood: r.get::<_, i64>(3)? as u64,
                    dropped: r.get::<_, i64>(4)? as u64,
                    last_bad_at: r.get(5)?,
                    last_bad: r.get(6)?,
                    failed_logins: r.get::<_, i64>(7)? as u64,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Records the time zone the log `path` is read in.
    pub fn set_log_zone(&self, path: &str, zone: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO log_zones (path, zone) VALUES (?1, ?2)
                 ON CONFLICT (path) DO UPDATE SET zone = excluded.zone",
                params![path, zone],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The sequence-number id of the journal followed as `path` (its
    /// checkpoint's positions are numbers in it).
    pub fn journal_id(&self, path: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT seqnum_id FROM journal_ids WHERE path = ?1",
                params![path],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Records the sequence-number id of the journal followed as `path`.
    pub fn set_journal_id(&self, path: &str, id: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO journal_ids (path, seqnum_id) VALUES (?1, ?2)
                 ON CONFLICT (path) DO UPDATE SET seqnum_id = excluded.seqnum_id",
                params![path, id],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Logs that cannot be followed: (path, why, since), by path.
    pub fn log_problems(&self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, problem, since FROM log_problems ORDER BY path")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The ids (and times) of the messages of `log` stored before they
    /// ended (settled early, or stale), received within `secs` of its
    /// newest: their later lines, read again after a restart, are no new
    /// messages.
    pub fn unfinished_messages(&self, log: &str, secs: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT msg_id, received FROM messages
                 WHERE log = ?1
                   AND received >= (SELECT max(received) FROM messages WHERE log = ?1) - ?2
                   AND json_extract(record, '$.complete') = 0",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![log, secs], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The checkpoint of the tail of `path`.
    pub fn log_checkpoint(&self, path: &str) -> Result<Option<LogCheckpoint>> {
        self.conn
            .query_row(
                "SELECT inode, read_to, resume_at, head, linger_inode, linger_read_to,
                        linger_head, in_place
                 FROM log_checkpoints WHERE path = ?1",
                params![path],
                |r| {
                    Ok(LogCheckpoint {
                        inode: r.get::<_, i64>(0)? as u64,
                        read_to: r.get::<_, i64>(1)? as u64,
                        resume_at: r.get::<_, i64>(2)? as u64,
                        head: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
                        linger: linger(r.get(4)?, r.get(5)?),
                        linger_head: r.get::<_, Option<Vec<u8>>>(6)?.unwrap_or_default(),
                        in_place: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Stores a batch in one transaction: each message not stored before,
    /// then `decide(i)` for each new one (in order), which may return a
    /// verdict change to record and alert on `channels`, then the
    /// checkpoint, then `updates` (listing episodes that remote replies in
    /// the batch opened, refreshed or ended), each at its own time. Returns
    /// how many messages were new.
    pub fn ingest(
        &mut self,
        batch: Batch<'_>,
        mut decide: impl FnMut(usize) -> Option<VerdictChange>,
    ) -> Result<usize> {
        let Batch {
            path,
            checkpoint,
            messages,
            channels,
            now,
            updates,
        } = batch;
        let err = self.err_owned();
        let tx = self.conn.transaction().map_err(&err)?;
        let mut new = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (log, msg_id, received, sender, account, recipients, outbound, record, message_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, json_extract(?8, '$.message_id'))
                     ON CONFLICT (log, msg_id, received) DO NOTHING",
                )
                .map_err(&err)?;
            for (i, m) in messages.iter().enumerate() {
                let added = insert
                    .execute(params![
                        path,
                        m.msg_id,
                        m.received,
                        m.sender,
                        m.account,
                        m.recipients,
                        m.outbound as i64,
                        m.record
                    ])
                    .map_err(&err)?;
                if added == 0 {
                    continue;
                }
                new += 1;
                if let Some(c) = decide(i) {
                    record_change(&tx, &c, channels, now).map_err(&err)?;
                }
            }
        }
        tx.execute(
            "INSERT INTO log_checkpoints (path, inode, read_to, resume_at, updated, head, linger_inode, linger_read_to,
                                          linger_head, in_place)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, read_to = excluded.read_to,
             resume_at = excluded.resume_at, updated = excluded.updated, head = excluded.head,
             linger_inode = excluded.linger_inode, linger_read_to = excluded.linger_read_to,
             linger_head = excluded.linger_head, in_place = excluded.in_place",
            params![
                path,
                checkpoint.inode as i64,
                checkpoint.read_to as i64,
                checkpoint.resume_at as i64,
                now,
                checkpoint.head,
                checkpoint.linger.map(|l| l.0 as i64),
                checkpoint.linger.map(|l| l.1 as i64),
                checkpoint.linger_head,
                checkpoint.in_place,
            ],
        )
        .map_err(&err)?;
        for (at, u) in updates {
            crate::apply(&tx, u, *at).map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(new)
    }

    /// Every followed log with its checkpoint and stored message count.
    pub fn logs(&self) -> Result<Vec<(String, LogCheckpoint, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.path, c.inode, c.read_to, c.resume_at,
                        (SELECT COUNT(*) FROM messages m WHERE m.log = c.path), c.head,
                        c.linger_inode, c.linger_read_to, c.linger_head, c.in_place
                 FROM log_checkpoints c ORDER BY c.path",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    LogCheckpoint {
                        inode: r.get::<_, i64>(1)? as u64,
                        read_to: r.get::<_, i64>(2)? as u64,
                        resume_at: r.get::<_, i64>(3)? as u64,
                        head: r.get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default(),
                        linger: linger(r.get(6)?, r.get(7)?),
                        linger_head: r.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
                        in_place: r.get(9)?,
                    },
                    r.get(4)?,
                ))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The receive time of the newest stored message.
    pub fn latest_received(&self) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT MAX(received) FROM messages", [], |r| r.get(0))
            .map_err(self.err())
    }

    /// Stored messages of `log`.
    pub fn message_count(&self, log: Option<&str>) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE (?1 IS NULL OR log = ?1)",
                params![log],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Each sender's latest verdict, worst and newest first.
    pub fn sender_verdicts(&self) -> Result<Vec<SenderRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT v.sender, v.account, v.to_verdict, v.at,
                        (SELECT COUNT(*) FROM messages m WHERE m.sender = v.sender)
                 FROM sender_verdicts v
                 WHERE v.id = (SELECT MAX(id) FROM sender_verdicts w WHERE w.sender = v.sender)
                 ORDER BY CASE v.to_verdict WHEN 'spamming' THEN 0 WHEN 'suspicious' THEN 1 ELSE 2 END, v.at DESC",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SenderRow {
                    sender: r.get(0)?,
                    account: r.get(1)?,
                    verdict: r.get(2)?,
                    since: r.get(3)?,
                    messages: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Sender alerts not yet delivered, with their verdict change.
    pub fn pending_sender_alerts(&self) -> Result<Vec<(i64, String, i64, VerdictChange)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.channel, a.attempts, v.sender, v.account, v.at, v.from_verdict, v.to_verdict, v.reasons
                 FROM sender_alerts a JOIN sender_verdicts v ON v.id = a.verdict_id
                 WHERE a.delivered IS NULL ORDER BY a.id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, verdict_change(r, 3)?))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

/// A verdict change from the columns sender, account, at, from_verdict,
/// to_verdict and reasons, the first at `first`.
fn verdict_change(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<VerdictChange> {
    Ok(VerdictChange {
        sender: r.get(first)?,
        account: r.get(first + 1)?,
        at: r.get(first + 2)?,
        from: r.get(first + 3)?,
        to: r.get(first + 4)?,
        reasons: r.get(first + 5)?,
    })
}

/// A checkpoint's renamed file still read, from its two columns.
fn linger(inode: Option<i64>, read_to: Option<i64>) -> Option<(u64, u64)> {
    Some((inode? as u64, read_to? as u64))
}
