//! Holds and their audit log. Every change (placed, changed, released,
//! expired, a queue action, a proposal the daemon did not carry out) is one
//! `hold_audit` row with who made it and why; the audit is never edited.
//! The audit's highest id doubles as the holds' version, which the policy
//! service polls to reload.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// A hold as stored. `subject` and `action` are the `enforce` crate's
/// words (`auth:bob@example.com`, `reject`); the store does not parse them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldRow {
    pub subject: String,
    pub action: String,
    pub reason: String,
    pub created: i64,
    pub until: Option<i64>,
    /// Who placed it: `cli:root`, `unlisted:detect`, …
    pub actor: String,
    /// Placed by the daemon on a `spamming` verdict.
    pub automatic: bool,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub subject: String,
    /// `placed`, `changed`, `released`, `expired`, `queue`, `proposed`.
    pub change: String,
    pub action: Option<String>,
    pub reason: Option<String>,
    pub until: Option<i64>,
    pub actor: String,
    /// Free text or JSON: the queue actions taken, the verdict behind it.
    pub detail: Option<String>,
}

const HOLD_COLUMNS: &str = "subject, action, reason, created, until, actor, automatic";

fn hold_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HoldRow> {
    Ok(HoldRow {
        subject: r.get(0)?,
        action: r.get(1)?,
        reason: r.get(2)?,
        created: r.get(3)?,
        until: r.get(4)?,
        actor: r.get(5)?,
        automatic: r.get(6)?,
    })
}

impl Store {
    /// A write transaction taken at once (IMMEDIATE), so a read-then-write
    /// never meets another writer halfway and fails busy.
    fn write_tx(&self) -> Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
            .map_err(self.err())
    }

    /// Places or replaces the hold on `h.subject`; says whether one was
    /// already there (then the audit says `changed`).
    pub fn place_hold(&self, h: &HoldRow, detail: Option<&str>) -> Result<bool> {
        let tx = self.write_tx()?;
        let existed: bool = tx
            .query_row(
                "SELECT 1 FROM holds WHERE subject = ?1",
                [&h.subject],
                |_| Ok(()),
            )
            .optional()
            .map_err(self.err())?
            .is_some();
        tx.execute(
            "INSERT INTO holds (subject, action, reason, created, until, actor, automatic)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (subject) DO UPDATE SET action = ?2, reason = ?3, created = ?4,
               until = ?5, actor = ?6, automatic = ?7",
            params![
                h.subject,
                h.action,
                h.reason,
                h.created,
                h.until,
                h.actor,
                h.automatic
            ],
        )
        .map_err(self.err())?;
        let change = if existed { "changed" } else { "placed" };
        audit(
            &tx,
            h.created,
            &h.subject,
            change,
            Some(h),
            &h.actor,
            detail,
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(existed)
    }

    /// Removes the hold on `subject`, if there is one.
    pub fn release_hold(
        &self,
        subject: &str,
        actor: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<Option<HoldRow>> {
        let tx = self.write_tx()?;
        let row = tx
            .query_row(
                &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE subject = ?1"),
                [subject],
                hold_row,
            )
            .optional()
            .map_err(self.err())?;
        if let Some(h) = &row {
            tx.execute("DELETE FROM holds WHERE subject = ?1", [subject])
                .map_err(self.err())?;
            audit(&tx, now, subject, "released", Some(h), actor, detail).map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(row)
    }

    /// Removes holds whose time ran out; returns them.
    pub fn expire_holds(&self, now: i64) -> Result<Vec<HoldRow>> {
        let tx = self.write_tx()?;
        let rows = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {HOLD_COLUMNS} FROM holds WHERE until IS NOT NULL AND until <= ?1"
                ))
                .map_err(self.err())?;
            stmt.query_map([now], hold_row)
                .map_err(self.err())?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(self.err())?
        };
        for h in &rows {
            tx.execute("DELETE FROM holds WHERE subject = ?1", [&h.subject])
                .map_err(self.err())?;
            audit(&tx, now, &h.subject, "expired", Some(h), "unlisted", None)
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(rows)
    }

    /// Every stored hold (expired ones too, until `expire_holds` runs),
    /// oldest first.
    pub fn holds(&self) -> Result<Vec<HoldRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {HOLD_COLUMNS} FROM holds ORDER BY created, subject"
            ))
            .map_err(self.err())?;
        let rows = stmt.query_map([], hold_row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    pub fn hold(&self, subject: &str) -> Result<Option<HoldRow>> {
        self.conn
            .query_row(
                &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE subject = ?1"),
                [subject],
                hold_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Adds an audit entry that changes no hold (a queue action, a
    /// proposed hold in alert mode).
    pub fn audit_hold(
        &self,
        subject: &str,
        change: &str,
        actor: &str,
        detail: Option<&str>,
        now: i64,
    ) -> Result<()> {
        audit(&self.conn, now, subject, change, None, actor, detail).map_err(self.err())
    }

    /// The audit, newest first; of one subject when given.
    pub fn hold_audit(&self, subject: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at, subject, change, action, reason, until, actor, detail FROM hold_audit
                 WHERE ?1 IS NULL OR subject = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![subject, limit], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    subject: r.get(2)?,
                    change: r.get(3)?,
                    action: r.get(4)?,
                    reason: r.get(5)?,
                    until: r.get(6)?,
                    actor: r.get(7)?,
                    detail: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Changes with every hold change: the policy service reloads when it
    /// moves.
    pub fn holds_version(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM hold_audit", [], |r| {
                r.get(0)
            })
            .map_err(self.err())
    }
}

fn audit(
    conn: &rusqlite::Connection,
    at: i64,
    subject: &str,
    change: &str,
    hold: Option<&HoldRow>,
    actor: &str,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO hold_audit (at, subject, change, action, reason, until, actor, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at,
            subject,
            change,
            hold.map(|h| &h.action),
            hold.map(|h| &h.reason),
            hold.and_then(|h| h.until),
            actor,
            detail
        ],
    )
    .map(|_| ())
}
