//! API tokens: only a hash of each is kept (the token itself is shown once,
//! when created), with its role (`read` or `operate`) and when it was last
//! used; a revoked token stays listed.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// One token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created: i64,
    pub last_used: Option<i64>,
    pub revoked: Option<i64>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created: r.get(3)?,
        last_used: r.get(4)?,
        revoked: r.get(5)?,
    })
}

impl Store {
    /// Records a token by its hash; returns its id.
    pub fn add_token(&self, name: &str, role: &str, hash: &str, now: i64) -> Result<i64> {
        self.conn
            .query_row(
                "INSERT INTO tokens (name, role, hash, created) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![name, role, hash, now],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// The live token with this hash, marked used now when the store can
    /// be written: a full disk must not lock the desk out of the
    /// dashboard while it is the thing to fix.
    pub fn use_token(&self, hash: &str, now: i64) -> Result<Option<TokenRow>> {
        let t = self
            .conn
            .query_row(
                "SELECT id, name, role, created, last_used, revoked FROM tokens WHERE hash = ?1 AND revoked IS NULL",
                [hash],
                row,
            )
            .optional()
            .map_err(self.err())?;
        if let Some(t) = &t {
            // `last_used` is a hint for `token list`; it may stay behind.
            let _ = self.conn.execute(
                "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
                params![t.id, now],
            );
        }
        Ok(t)
    }

    pub fn tokens(&self) -> Result<Vec<TokenRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, role, created, last_used, revoked FROM tokens ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([], row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Revokes a token; false when there is no live one with that id.
    pub fn revoke_token(&self, id: i64, now: i64) -> Result<bool> {
        self.conn
            .execute(
                "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
                params![id, now],
            )
            .map(|n| n == 1)
            .map_err(self.err())
    }

    /// Messages of `sender` per hour (log clock), oldest first, the last
    /// `hours` hours before its newest message.
    pub fn sender_hourly(&self, sender: &str, hours: i64) -> Result<Vec<(i64, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT received / 3600 * 3600, COUNT(*) FROM messages
                 WHERE sender = ?1 AND received >= (SELECT MAX(received) FROM messages WHERE sender = ?1) - ?2 * 3600
                 GROUP BY 1 ORDER BY 1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![sender, hours], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// A sender's verdict changes, newest first: (at, from, to, reasons JSON).
    pub fn sender_history(&self, sender: &str) -> Result<Vec<(i64, String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, from_verdict, to_verdict, reasons FROM sender_verdicts WHERE sender = ?1 ORDER BY id DESC LIMIT 50",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([sender], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The first log line of a sender's newest messages (evidence).
    pub fn sender_lines(&self, sender: &str, limit: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT json_extract(record, '$.line') FROM messages WHERE sender = ?1 ORDER BY received DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![sender, limit], |r| r.get::<_, Option<String>>(0))
            .map_err(self.err())?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?
            .into_iter()
            .flatten()
            .collect())
    }
}
