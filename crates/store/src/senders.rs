//! The detector's state per sender, saved now and then by the daemon, so
//! a restart (or a sender silent for weeks) does not lose what the
//! detector knew: its windows, its busiest hour before, the mail it had
//! delivered against which complaints are counted.
//!
//! The states are saved with the id of the last message and complaint the
//! detector had seen, in one transaction: on start the daemon reads the
//! states back and replays what was stored after those ids. The bytes are
//! the detector's own, tagged with its format version; a store saved by
//! another version is not read back.

use rusqlite::{OptionalExtension, params};

use crate::{Result, Store, StoreError};

const FORMAT: &str = "detector.format";
const MESSAGES: &str = "detector.messages";
const COMPLAINTS: &str = "detector.complaints";

/// What the saved states include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedDetector {
    /// The detector's state format when they were saved.
    pub format: i64,
    /// The last message (its id) folded in.
    pub messages: i64,
    /// The last complaint (its id) folded in.
    pub complaints: i64,
}

/// One sender's saved state.
#[derive(Debug, Clone)]
pub struct SenderState {
    pub sender: String,
    pub last_seen: i64,
    pub state: Vec<u8>,
}

impl Store {
    /// Saves changed sender states in one transaction, as of every message
    /// stored so far and the complaints up to `complaints`, and drops the
    /// states of senders last seen before `forget_before`.
    pub fn save_sender_states(
        &mut self,
        states: &[SenderState],
        format: i64,
        complaints: i64,
        forget_before: i64,
    ) -> Result<()> {
        let err = self.err_owned();
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO sender_states (sender, last_seen, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (sender) DO UPDATE SET last_seen = excluded.last_seen, state = excluded.state",
                )
                .map_err(&err)?;
            for s in states {
                put.execute(params![s.sender, s.last_seen, s.state])
                    .map_err(&err)?;
            }
            let messages: i64 = tx
                .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                    r.get(0)
                })
                .map_err(&err)?;
            let mut cursor = tx
                .prepare_cached(
                    "INSERT INTO cursors (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .map_err(&err)?;
            for (name, value) in [
                (FORMAT, format),
                (MESSAGES, messages),
                (COMPLAINTS, complaints),
            ] {
                cursor.execute(params![name, value]).map_err(&err)?;
            }
            tx.execute(
                "DELETE FROM sender_states WHERE last_seen < ?1",
                params![forget_before],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// What the saved states include, if any were saved.
    pub fn saved_detector(&self) -> Result<Option<SavedDetector>> {
        let get = |name: &str| -> Result<Option<i64>> {
            self.conn
                .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(self.err())
        };
        Ok(match (get(FORMAT)?, get(MESSAGES)?, get(COMPLAINTS)?) {
            (Some(format), Some(messages), Some(complaints)) => Some(SavedDetector {
                format,
                messages,
                complaints,
            }),
            _ => None,
        })
    }

    /// The saved states of senders last seen at or after `since`.
    pub fn sender_states_since(&self, since: i64) -> Result<Vec<SenderState>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sender, last_seen, state FROM sender_states WHERE last_seen >= ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([since], |r| {
                Ok(SenderState {
                    sender: r.get(0)?,
                    last_seen: r.get(1)?,
                    state: r.get(2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Drops every saved state (they are of another format).
    pub fn clear_sender_states(&self) -> Result<usize> {
        self.conn
            .execute("DELETE FROM sender_states", [])
            .map_err(self.err())
    }

    /// One sender's saved state.
    pub fn sender_state(&self, sender: &str) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT state FROM sender_states WHERE sender = ?1")
            .and_then(|mut s| s.query_row([sender], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    /// Deletes up to `limit` of the oldest stored messages received before
    /// `before`; returns how many went. A little at a time, so a store
    /// full of old mail never holds the daemon's writes up for long.
    pub fn prune_messages(&self, before: i64, limit: i64) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM messages WHERE id IN
                   (SELECT id FROM messages WHERE received < ?1 ORDER BY received LIMIT ?2)",
                params![before, limit],
            )
            .map_err(self.err())
    }

    /// Hands `f` each stored message record after message `id`, in the
    /// order they were stored (the order the detector saw them), one at a
    /// time.
    pub fn messages_after<E: From<StoreError>>(
        &self,
        id: i64,
        f: impl FnMut(String) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.each_record(
            "SELECT record FROM messages WHERE id > ?1 ORDER BY id",
            id,
            f,
        )
    }

    /// Hands `f` each stored message record received at or after `since`,
    /// oldest first, one at a time (a week of a busy server's mail is
    /// more than memory should hold at once).
    pub fn messages_since<E: From<StoreError>>(
        &self,
        since: i64,
        f: impl FnMut(String) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.each_record(
            "SELECT record FROM messages WHERE received >= ?1 ORDER BY received, id",
            since,
            f,
        )
    }

    /// Hands `f` each stored message record received in `[since, until)`
    /// (either end open when `None`), oldest first, one at a time.
    pub fn messages_between<E: From<StoreError>>(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        mut f: impl FnMut(String) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT record FROM messages WHERE received >= ?1 AND received < ?2
                 ORDER BY received, id",
            )
            .map_err(self.err())?;
        let range = params![since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)];
        let mut rows = stmt.query(range).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            f(row.get(0).map_err(self.err())?)?;
        }
        Ok(())
    }

    fn each_record<E: From<StoreError>>(
        &self,
        sql: &str,
        arg: i64,
        mut f: impl FnMut(String) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let mut rows = stmt.query([arg]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            f(row.get(0).map_err(self.err())?)?;
        }
        Ok(())
    }
}
