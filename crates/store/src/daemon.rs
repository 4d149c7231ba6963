//! What the daemon says of itself and of the MTA for `unlisted status`:
//! its heartbeat (who runs `unlisted serve` on this store, and when it
//! last finished a round), and its last count of the mail queue.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Result, Store};

/// What the daemon last said of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonBeat {
    pub pid: i64,
    pub started: i64,
    /// When it last finished a round.
    pub seen: i64,
    /// The time by which it will have finished another, if it runs on.
    pub next_by: i64,
    /// When it stopped cleanly (SIGTERM, the end of `serve --once`).
    pub stopped: Option<i64>,
    /// A one-shot run (`serve --once`).
    pub once: bool,
    pub version: String,
}

impl Store {
    /// Records the daemon's heartbeat (there is one daemon per store).
    pub fn set_daemon(&self, b: &DaemonBeat) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO daemon (id, pid, started, seen, next_by, stopped, once, version)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started = excluded.started,
                 seen = excluded.seen, next_by = excluded.next_by, stopped = excluded.stopped,
                 once = excluded.once, version = excluded.version",
                params![
                    b.pid,
                    b.started,
                    b.seen,
                    b.next_by,
                    b.stopped,
                    b.once as i64,
                    b.version
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The daemon's last heartbeat, if one ever ran on this store.
    pub fn daemon(&self) -> Result<Option<DaemonBeat>> {
        self.conn
            .query_row(
                "SELECT pid, started, seen, next_by, stopped, once, version FROM daemon WHERE id = 1",
                [],
                |r| {
                    Ok(DaemonBeat {
                        pid: r.get(0)?,
                        started: r.get(1)?,
                        seen: r.get(2)?,
                        next_by: r.get(3)?,
                        stopped: r.get(4)?,
                        once: r.get::<_, i64>(5)? != 0,
                        version: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }
}

/// The daemon's last count of the MTA's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueCensus {
    pub at: i64,
    pub total: i64,
    /// Held (Postfix) or frozen (Exim).
    pub held: i64,
    /// Messages per queue name.
    pub by_queue: Vec<(String, i64)>,
    /// How many messages `senders` was counted from.
    pub sampled: i64,
    /// Messages per sender, most first (at most the first few).
    pub senders: Vec<(String, i64)>,
}

impl Store {
    /// Replaces the last count of the queue.
    pub fn set_queue_census(&self, c: &QueueCensus) -> Result<()> {
        let json =
            |v: &Vec<(String, i64)>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        self.conn
            .execute(
                "INSERT INTO queue_census (id, at, total, held, by_queue, sampled, senders)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at, total = excluded.total,
                 held = excluded.held, by_queue = excluded.by_queue, sampled = excluded.sampled,
                 senders = excluded.senders",
                params![
                    c.at,
                    c.total,
                    c.held,
                    json(&c.by_queue),
                    c.sampled,
                    json(&c.senders)
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The last count of the queue, if the daemon ever made one.
    pub fn queue_census(&self) -> Result<Option<QueueCensus>> {
        let parse = |t: String| serde_json::from_str(&t).unwrap_or_default();
        self.conn
            .query_row(
                "SELECT at, total, held, by_queue, sampled, senders FROM queue_census WHERE id = 1",
                [],
                |r| {
                    Ok(QueueCensus {
                        at: r.get(0)?,
                        total: r.get(1)?,
                        held: r.get(2)?,
                        by_queue: parse(r.get(3)?),
                        sampled: r.get(4)?,
                        senders: parse(r.get(5)?),
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }
}
