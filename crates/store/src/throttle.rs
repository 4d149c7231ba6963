//! The alert side every part shares: an outbox of events rendered when
//! queued (incidents, holds), and per channel and key the time the last
//! alert went out, so that the same thing (a flapping listing, a sender,
//! an incident) pages at most once per interval; what was held back is
//! counted and said in the next alert.

use rusqlite::{OptionalExtension, params};

use crate::{Outbox, Result, Store};

/// A pending event alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAlert {
    pub id: i64,
    pub event: String,
    pub key: String,
    pub subject: String,
    pub body: String,
    pub payload: String,
    pub channel: String,
    pub attempts: i64,
}

impl Store {
    /// Queues an event alert on each channel.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_event_alert(
        &self,
        event: &str,
        key: &str,
        subject: &str,
        body: &str,
        payload: &serde_json::Value,
        channels: &[String],
        now: i64,
    ) -> Result<()> {
        for ch in channels {
            self.conn
                .execute(
                    "INSERT INTO event_alerts (event, key, subject, body, payload, channel, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![event, key, subject, body, payload.to_string(), ch, now],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    pub fn pending_event_alerts(&self) -> Result<Vec<EventAlert>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, event, key, subject, body, payload, channel, attempts FROM event_alerts WHERE delivered IS NULL ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EventAlert {
                    id: r.get(0)?,
                    event: r.get(1)?,
                    key: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get(4)?,
                    payload: r.get(5)?,
                    channel: r.get(6)?,
                    attempts: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// When `key` last went out on `channel`, and how many alerts for it
    /// were held back since.
    pub fn alert_key(&self, channel: &str, key: &str) -> Result<Option<(i64, i64)>> {
        self.conn
            .query_row(
                "SELECT last_sent, suppressed FROM alert_keys WHERE channel = ?1 AND key = ?2",
                params![channel, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Marks alert `id` held back (delivered as far as the outbox is
    /// concerned) and counts it against its key.
    pub fn alert_suppressed(
        &self,
        outbox: Outbox,
        id: i64,
        channel: &str,
        key: &str,
        now: i64,
    ) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(self.err())?;
        tx.execute(
            &format!(
                "UPDATE {} SET delivered = ?2, suppressed = 1 WHERE id = ?1",
                outbox.table()
            ),
            params![id, now],
        )
        .map_err(self.err())?;
        tx.execute(
            "UPDATE alert_keys SET suppressed = suppressed + 1 WHERE channel = ?1 AND key = ?2",
            params![channel, key],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    /// Alerts by outcome over the three outboxes: (pending, delivered,
    /// held back, abandoned).
    pub fn alert_counts(&self) -> Result<(i64, i64, i64, i64)> {
        self.conn
            .query_row(
                "SELECT
                   COALESCE(SUM(delivered IS NULL), 0),
                   COALESCE(SUM(delivered IS NOT NULL AND suppressed = 0 AND abandoned = 0), 0),
                   COALESCE(SUM(suppressed = 1), 0),
                   COALESCE(SUM(abandoned = 1), 0)
                 FROM (SELECT delivered, suppressed, abandoned FROM alerts
                       UNION ALL SELECT delivered, suppressed, abandoned FROM sender_alerts
                       UNION ALL SELECT delivered, suppressed, abandoned FROM event_alerts)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.err())
    }

    /// Finished sweeps.
    pub fn sweep_count(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sweeps WHERE finished IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Records that an alert for `key` went out on `channel` now.
    pub fn alert_key_sent(&self, channel: &str, key: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO alert_keys (channel, key, last_sent, suppressed) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (channel, key) DO UPDATE SET last_sent = excluded.last_sent, suppressed = 0",
                params![channel, key, now],
            )
            .map(|_| ())
            .map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Outbox, Store};

    #[test]
    fn a_key_is_throttled_and_the_held_back_are_counted() {
        let dir = testsupport::TempDir::new("store-throttle");
        let s = Store::open(&dir.path().join("u.db")).unwrap();
        let ch = vec!["webhook".to_string()];
        for n in 0..3 {
            s.queue_event_alert(
                "hold",
                "hold:auth:x",
                &format!("s{n}"),
                "b",
                &serde_json::json!({}),
                &ch,
                10 + n,
            )
            .unwrap();
        }
        let p = s.pending_event_alerts().unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(s.alert_key("webhook", "hold:auth:x").unwrap(), None);
        s.alert_key_sent("webhook", "hold:auth:x", 100).unwrap();
        s.alert_delivered(Outbox::Events, p[0].id, 100).unwrap();
        s.alert_suppressed(Outbox::Events, p[1].id, "webhook", "hold:auth:x", 101)
            .unwrap();
        s.alert_suppressed(Outbox::Events, p[2].id, "webhook", "hold:auth:x", 102)
            .unwrap();
        assert_eq!(
            s.alert_key("webhook", "hold:auth:x").unwrap(),
            Some((100, 2))
        );
        assert!(s.pending_event_alerts().unwrap().is_empty());
        assert_eq!(s.alert_counts().unwrap(), (0, 1, 2, 0));
        s.alert_key_sent("webhook", "hold:auth:x", 5000).unwrap();
        assert_eq!(
            s.alert_key("webhook", "hold:auth:x").unwrap(),
            Some((5000, 0))
        );
    }
}
