//! Schema migrations, applied in order; each runs once, in a transaction,
//! and is recorded in `schema_migrations`.
//!
//! Types are chosen to mean the same in SQLite and PostgreSQL: times are
//! Unix seconds in BIGINT, lists of strings are JSON in TEXT.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::{Result, StoreError};

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        target TEXT NOT NULL,
        list_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        ended BIGINT,
        codes TEXT NOT NULL,
        meanings TEXT NOT NULL,
        txt TEXT NOT NULL
    );
    CREATE UNIQUE INDEX episodes_one_open ON episodes (server, target, list_id) WHERE ended IS NULL;
    CREATE INDEX episodes_first_seen ON episodes (first_seen);
    CREATE TABLE list_state (
        server TEXT NOT NULL,
        target TEXT NOT NULL,
        list_id TEXT NOT NULL,
        listed INTEGER NOT NULL,
        streak INTEGER NOT NULL,
        updated BIGINT NOT NULL,
        PRIMARY KEY (server, target, list_id)
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        episode_id BIGINT NOT NULL REFERENCES episodes (id),
        event TEXT NOT NULL,
        channel TEXT NOT NULL,
        created BIGINT NOT NULL,
        delivered BIGINT,
        abandoned INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX alerts_pending ON alerts (delivered);
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        started BIGINT NOT NULL,
        finished BIGINT,
        lookups BIGINT NOT NULL DEFAULT 0,
        listed BIGINT NOT NULL DEFAULT 0,
        clean BIGINT NOT NULL DEFAULT 0,
        errors BIGINT NOT NULL DEFAULT 0,
        unknown BIGINT NOT NULL DEFAULT 0,
        zones_failed BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE zone_health (
        list_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        problem TEXT,
        checked BIGINT NOT NULL,
        PRIMARY KEY (list_id, kind)
    );",
    ),
    (
        2,
        "CREATE TABLE log_checkpoints (
        path TEXT PRIMARY KEY,
        inode BIGINT NOT NULL,
        read_to BIGINT NOT NULL,
        resume_at BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        log TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        received BIGINT NOT NULL,
        sender TEXT NOT NULL,
        account TEXT,
        recipients INTEGER NOT NULL,
        outbound INTEGER NOT NULL,
        record TEXT NOT NULL,
        UNIQUE (log, msg_id, received)
    );
    CREATE INDEX messages_received ON messages (received);
    CREATE INDEX messages_sender ON messages (sender, received);
    CREATE TABLE sender_verdicts (
        id INTEGER PRIMARY KEY,
        sender TEXT NOT NULL,
        account TEXT,
        at BIGINT NOT NULL,
        from_verdict TEXT NOT NULL,
        to_verdict TEXT NOT NULL,
        reasons TEXT NOT NULL
    );
    CREATE INDEX sender_verdicts_sender ON sender_verdicts (sender, id);
    CREATE TABLE sender_alerts (
        id INTEGER PRIMARY KEY,
        verdict_id BIGINT NOT NULL REFERENCES sender_verdicts (id),
        channel TEXT NOT NULL,
        created BIGINT NOT NULL,
        delivered BIGINT,
        abandoned INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );",
    ),
    (
        3,
        "CREATE TABLE holds (
        subject TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        created BIGINT NOT NULL,
        until BIGINT,
        actor TEXT NOT NULL,
        automatic INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE hold_audit (
        id INTEGER PRIMARY KEY,
        at BIGINT NOT NULL,
        subject TEXT NOT NULL,
        change TEXT NOT NULL,
        action TEXT,
        reason TEXT,
        until BIGINT,
        actor TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX hold_audit_subject ON hold_audit (subject, id);",
    ),
    (
        4,
        "ALTER TABLE messages ADD COLUMN message_id TEXT;
    UPDATE messages SET message_id = json_extract(record, '$.message_id');
    CREATE INDEX messages_message_id ON messages (message_id);
    CREATE TABLE complaints (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        ingested BIGINT NOT NULL,
        arrival BIGINT,
        provider TEXT NOT NULL,
        feedback_type TEXT NOT NULL,
        source_ip TEXT,
        original_message_id TEXT,
        sender TEXT,
        account TEXT,
        linked_by TEXT,
        location TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX complaints_sender ON complaints (sender, arrival);",
    ),
    (
        5,
        "CREATE TABLE cursors (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );",
    ),
    (
        6,
        "CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        stored TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        mode BIGINT NOT NULL,
        uid BIGINT NOT NULL,
        gid BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        atime_ns BIGINT NOT NULL,
        quarantined BIGINT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        restored BIGINT
    );",
    ),
    (
        7,
        "CREATE TABLE site_scans (
        id INTEGER PRIMARY KEY,
        sender TEXT NOT NULL,
        target TEXT NOT NULL,
        root TEXT NOT NULL,
        queued BIGINT NOT NULL,
        finished BIGINT,
        malicious BIGINT NOT NULL DEFAULT 0,
        suspicious BIGINT NOT NULL DEFAULT 0,
        report TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    CREATE INDEX site_scans_pending ON site_scans (finished);",
    ),
    (
        8,
        "CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        server TEXT NOT NULL,
        state TEXT NOT NULL,
        opened BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        cause TEXT NOT NULL,
        title TEXT NOT NULL,
        related BIGINT
    );
    CREATE INDEX incidents_server ON incidents (server, state);
    CREATE TABLE incident_links (
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (kind, ref, incident_id)
    );
    CREATE INDEX incident_links_incident ON incident_links (incident_id);
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents (id),
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        text TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX incident_events_incident ON incident_events (incident_id, id);",
    ),
    (
        9,
        "CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL,
        last_used BIGINT,
        revoked BIGINT
    );",
    ),
    (
        10,
        "ALTER TABLE alerts ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sender_alerts ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE event_alerts (
        id INTEGER PRIMARY KEY,
        event TEXT NOT NULL,
        key TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        payload TEXT NOT NULL,
        channel TEXT NOT NULL,
        created BIGINT NOT NULL,
        delivered BIGINT,
        abandoned INTEGER NOT NULL DEFAULT 0,
        suppressed INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX event_alerts_pending ON event_alerts (delivered);
    CREATE TABLE alert_keys (
        channel TEXT NOT NULL,
        key TEXT NOT NULL,
        last_sent BIGINT NOT NULL,
        suppressed BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (channel, key)
    );",
    ),
    (
        11,
        "CREATE TABLE sender_states (
        sender TEXT PRIMARY KEY,
        last_seen BIGINT NOT NULL,
        state BLOB NOT NULL
    );
    CREATE INDEX sender_states_seen ON sender_states (last_seen);",
    ),
    (
        12,
        "CREATE TABLE log_problems (
        path TEXT PRIMARY KEY,
        problem TEXT NOT NULL,
        since BIGINT NOT NULL
    );
    CREATE TABLE log_zones (
        path TEXT PRIMARY KEY,
        zone TEXT NOT NULL
    );
    CREATE TABLE journal_ids (
        path TEXT PRIMARY KEY,
        seqnum_id TEXT NOT NULL
    );",
    ),
    (
        13,
        // A followed file's first bytes, to tell a file copied and
        // truncated while the daemon was stopped from the one it read.
        "ALTER TABLE log_checkpoints ADD COLUMN head BLOB;",
    ),
    (
        14,
        // What the daemon met in each followed log since it started:
        // lines read, lines not understood (and the last of them), lines
        // the logger said it dropped.
        "CREATE TABLE log_health (
        path TEXT PRIMARY KEY,
        since BIGINT NOT NULL,
        lines BIGINT NOT NULL,
        not_understood BIGINT NOT NULL,
        dropped BIGINT NOT NULL,
        last_bad_at TEXT,
        last_bad TEXT
    );",
    ),
    (
        15,
        // The failed logins a followed log's reader kept (a day of them,
        // for the logins after them), up to where it reads again after a
        // restart: maillog::logins::Saved as JSON.
        "CREATE TABLE log_logins (
        path TEXT PRIMARY KEY,
        saved TEXT NOT NULL,
        updated BIGINT NOT NULL
    );",
    ),
    (
        16,
        // Failed SMTP AUTH logins the daemon read in each followed log
        // since it started.
        "ALTER TABLE log_health ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;",
    ),
    (
        17,
        // A followed file renamed by a rotation and still read for what
        // its writers add (rsyslog until it reopens): its inode and how
        // far it was read, so a restart reads on in it.
        "ALTER TABLE log_checkpoints ADD COLUMN linger_inode BIGINT;
    ALTER TABLE log_checkpoints ADD COLUMN linger_read_to BIGINT;",
    ),
    (
        18,
        // When the daemon acted on a sender's turn to spamming (held it,
        // proposed a hold, queued a site scan); NULL until it has, so a
        // stop between storing the turn and acting on it (a kill, a store
        // that failed) is acted on at the next round. Turns stored before
        // this version were acted on when they were stored.
        "ALTER TABLE sender_verdicts ADD COLUMN contained BIGINT;
    UPDATE sender_verdicts SET contained = at;
    CREATE INDEX sender_verdicts_uncontained ON sender_verdicts (id) WHERE contained IS NULL;",
    ),
    (
        19,
        // The daemon's heartbeat (one row): store::DaemonBeat.
        "CREATE TABLE daemon (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid BIGINT NOT NULL,
        started BIGINT NOT NULL,
        seen BIGINT NOT NULL,
        next_by BIGINT NOT NULL,
        stopped BIGINT,
        once BIGINT NOT NULL,
        version TEXT NOT NULL
    );",
    ),
    (
        20,
        // The daemon's last count of the MTA's queue (one row):
        // store::QueueCensus, its per-queue and per-sender counts as JSON.
        "CREATE TABLE queue_census (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at BIGINT NOT NULL,
        total BIGINT NOT NULL,
        held BIGINT NOT NULL,
        by_queue TEXT NOT NULL,
        sampled BIGINT NOT NULL,
        senders TEXT NOT NULL
    );",
    ),
    (
        21,
        // A checkpoint's file as last seen at its path (nanoseconds since
        // the epoch: files rotated after it were modified later), and the
        // first bytes of the renamed file still read, by which it is
        // found again once compressed.
        "ALTER TABLE log_checkpoints ADD COLUMN in_place BIGINT;
    ALTER TABLE log_checkpoints ADD COLUMN linger_head BLOB;",
    ),
];

/// The newest schema version this binary knows.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let fail = |version: i64| {
        move |source| StoreError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        }
    };
    // Already current (every open but the first after an upgrade): a
    // plain read, so opening the store (the dashboard does it for each
    // request) never waits for the daemon's write transactions.
    let current: rusqlite::Result<i64> = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    );
    if let Ok(v) = current {
        if v == LATEST {
            return Ok(());
        }
        if v > LATEST {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: v,
                known: LATEST,
            });
        }
    }
    // One write transaction taken up front: two processes opening a new
    // store at once (the daemon and `status`) must not both migrate it. The
    // second waits (busy_timeout), then sees the version the first wrote.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(fail(0))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .map_err(fail(0))?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(fail(0))?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known: LATEST,
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql).map_err(fail(*version))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, now],
        )
        .map_err(fail(*version))?;
    }
    tx.commit().map_err(fail(LATEST))
}
