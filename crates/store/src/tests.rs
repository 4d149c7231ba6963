//! Store tests against a real SQLite file in a fresh temporary directory.

use super::*;

use testsupport::TempDir;

fn evidence() -> Evidence {
    Evidence {
        zone: "bl.example".into(),
        codes: vec!["127.0.0.2".into()],
        meanings: vec!["spam source".into()],
        txt: vec!["see https://bl.example/192.0.2.1".into()],
    }
}

#[test]
fn creates_migrates_and_reopens() {
    let dir = TempDir::new("migrate");
    let path = dir.path().join("u.db");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST);
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST);
}

/// Turns to spamming stored before version 18 were acted on when they
/// were stored: the upgrade must not hold their senders again.
#[test]
fn the_upgrade_to_18_acts_on_no_old_turn_again() {
    let dir = TempDir::new("migrate-18");
    let path = dir.path().join("u.db");
    let s = Store::open(&path).unwrap();
    // A store of version 17 with one turn to spamming in it: every
    // migration from 18 on undone.
    s.conn
        .execute_batch(
            "DROP TABLE daemon;
             DROP TABLE queue_census;
             ALTER TABLE log_checkpoints DROP COLUMN in_place;
             ALTER TABLE log_checkpoints DROP COLUMN linger_head;
             DROP INDEX sender_verdicts_uncontained;
             ALTER TABLE sender_verdicts DROP COLUMN contained;
             DELETE FROM schema_migrations WHERE version >= 18;
             INSERT INTO sender_verdicts (sender, account, at, from_verdict, to_verdict, reasons)
             VALUES ('script:/home/bob/x', 'bob', 100, 'ok', 'spamming', '[]');",
        )
        .unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST);
    assert!(s.uncontained().unwrap().is_empty());
}

#[test]
fn opening_a_current_store_does_not_wait_for_a_writer() {
    let dir = TempDir::new("open-while-writing");
    let path = dir.path().join("u.db");
    let writer = Store::open(&path).unwrap();
    writer.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    // A reader that needed the write lock would wait busy_timeout (5 s)
    // and then fail with BUSY.
    let reader = Store::open(&path).unwrap();
    assert!(reader.holds().unwrap().is_empty());
    writer.conn.execute_batch("COMMIT").unwrap();
}

#[test]
fn refuses_a_newer_schema() {
    let dir = TempDir::new("newer");
    let path = dir.path().join("u.db");
    let s = Store::open(&path).unwrap();
    s.conn
        .execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(s);
    let err = Store::open(&path).err().unwrap().to_string();
    assert!(err.contains("newer than this binary"), "{err}");
}

#[test]
fn unreadable_path_names_the_file() {
    let err = Store::open(Path::new("/nonexistent-dir/x/u.db"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("/nonexistent-dir/x/u.db"), "{err}");
}

#[test]
fn episode_lifecycle_with_alert_outbox() {
    let dir = TempDir::new("episode");
    let mut s = Store::open(&dir.path().join("u.db")).unwrap();
    let sweep = s.begin_sweep(100).unwrap();
    let channels = vec!["webhook".to_string(), "email".to_string()];
    s.finish_sweep(
        sweep,
        100,
        &[
            Update::Open {
                server: "mx1".into(),
                target: "192.0.2.1".into(),
                list: "spamcop".into(),
                evidence: evidence(),
                channels: channels.clone(),
            },
            Update::Streak {
                server: "mx1".into(),
                target: "192.0.2.1".into(),
                list: "spamcop".into(),
                streak: Streak {
                    listed: true,
                    count: 1,
                },
            },
        ],
        &[ZoneHealthRow {
            list: "spamcop".into(),
            kind: "ipv4".into(),
            problem: None,
            checked: 100,
        }],
        SweepStats {
            lookups: 3,
            listed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let open = s.open_episodes(Some("mx1")).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].first_seen, 100);
    assert_eq!(open[0].txt, evidence().txt);
    assert_eq!(
        s.streaks("mx1").unwrap()[0].2,
        Streak {
            listed: true,
            count: 1
        }
    );
    assert_eq!(s.last_sweep().unwrap().unwrap().stats.listed, 1);

    let pending = s.pending_alerts().unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].event, "listed");
    assert_eq!(pending[0].episode.target, "192.0.2.1");
    s.alert_failed(Outbox::Listings, pending[0].id, "connection refused")
        .unwrap();
    s.alert_delivered(Outbox::Listings, pending[1].id, 101)
        .unwrap();
    let pending = s.pending_alerts().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);

    let id = open[0].id;
    let sweep = s.begin_sweep(200).unwrap();
    s.finish_sweep(
        sweep,
        200,
        &[Update::Touch {
            episode: id,
            evidence: evidence(),
        }],
        &[],
        SweepStats::default(),
    )
    .unwrap();
    assert_eq!(s.open_episodes(None).unwrap()[0].last_seen, 200);

    let sweep = s.begin_sweep(300).unwrap();
    s.finish_sweep(
        sweep,
        300,
        &[Update::Close {
            episode: id,
            channels,
        }],
        &[],
        SweepStats::default(),
    )
    .unwrap();
    assert!(s.open_episodes(None).unwrap().is_empty());
    let all = s.episodes(None, 10).unwrap();
    assert_eq!(all[0].ended, Some(300));
    let events: Vec<String> = s
        .pending_alerts()
        .unwrap()
        .into_iter()
        .map(|a| a.event)
        .collect();
    assert_eq!(events, ["listed", "delisted", "delisted"]);
}

#[test]
fn only_one_open_episode_per_target_and_list() {
    let dir = TempDir::new("unique");
    let mut s = Store::open(&dir.path().join("u.db")).unwrap();
    let open = || Update::Open {
        server: "mx1".into(),
        target: "192.0.2.1".into(),
        list: "spamcop".into(),
        evidence: evidence(),
        channels: vec![],
    };
    let sweep = s.begin_sweep(1).unwrap();
    let err = s.finish_sweep(sweep, 1, &[open(), open()], &[], SweepStats::default());
    assert!(err.is_err());
    // The failed transaction left nothing behind.
    assert!(s.open_episodes(None).unwrap().is_empty());
}

fn b<'a>(
    path: &'a str,
    checkpoint: LogCheckpoint,
    messages: &'a [NewMessage],
    channels: &'a [String],
    now: i64,
) -> Batch<'a> {
    Batch {
        path,
        checkpoint,
        messages,
        channels,
        now,
        updates: &[],
    }
}

fn msg(id: &str, sender: &str) -> NewMessage {
    NewMessage {
        msg_id: id.into(),
        received: 100,
        sender: sender.into(),
        account: Some("bob".into()),
        recipients: 1,
        outbound: true,
        record: format!("{{\"id\":\"{id}\"}}"),
    }
}

#[test]
fn ingest_stores_each_message_once_with_checkpoint_and_alerts() {
    let dir = TempDir::new("ingest");
    let mut s = Store::open(&dir.path().join("u.db")).unwrap();
    assert_eq!(s.log_checkpoint("/var/log/mail").unwrap(), None);
    let cp = LogCheckpoint {
        inode: 7,
        read_to: 500,
        resume_at: 400,
        head: b"2024-05-01 10:00:00 first line\n".to_vec(),
        linger: None,
        linger_head: Vec::new(),
        in_place: Some(1_795_000_000_123_456_789),
    };
    let batch = [
        msg("a", "script:/home/bob/x"),
        msg("b", "script:/home/bob/x"),
    ];
    let channels = vec!["webhook".to_string()];
    let mut asked = Vec::new();
    let new = s
        .ingest(b("/var/log/mail", cp.clone(), &batch, &channels, 1), |i| {
            asked.push(i);
            (i == 1).then(|| VerdictChange {
                sender: "script:/home/bob/x".into(),
                account: Some("bob".into()),
                at: 100,
                from: "ok".into(),
                to: "spamming".into(),
                reasons: "[]".into(),
            })
        })
        .unwrap();
    assert_eq!((new, asked), (2, vec![0, 1]));
    assert_eq!(s.log_checkpoint("/var/log/mail").unwrap(), Some(cp.clone()));
    // Replaying the same lines after a crash adds nothing and asks nothing.
    // The renamed file still read after a rotation is kept with it.
    let cp2 = LogCheckpoint {
        read_to: 900,
        linger: Some((6, 1234)),
        linger_head: b"2024-04-30 23:59:59 last line\n".to_vec(),
        ..cp
    };
    let again = [
        msg("b", "script:/home/bob/x"),
        msg("c", "auth:amy@example.org"),
    ];
    let mut asked = Vec::new();
    let new = s
        .ingest(b("/var/log/mail", cp2.clone(), &again, &channels, 2), |i| {
            asked.push(i);
            None
        })
        .unwrap();
    assert_eq!((new, asked), (1, vec![1]));
    assert_eq!(
        s.log_checkpoint("/var/log/mail").unwrap(),
        Some(cp2.clone())
    );
    assert_eq!(s.logs().unwrap()[0].1, cp2);
    assert_eq!(s.message_count(None).unwrap(), 3);
    assert_eq!(s.message_count(Some("/other")).unwrap(), 0);
    let v = s.sender_verdicts().unwrap();
    assert_eq!((v[0].verdict.as_str(), v[0].messages), ("spamming", 2));
    let pending = s.pending_sender_alerts().unwrap();
    assert_eq!(pending.len(), 1);
    s.alert_delivered(Outbox::Senders, pending[0].0, 3).unwrap();
    assert!(s.pending_sender_alerts().unwrap().is_empty());
    // The turn to spamming waits to be acted on until it is, once; other
    // turns never wait.
    s.record_verdict_change(
        &VerdictChange {
            sender: "auth:amy@example.org".into(),
            account: None,
            at: 110,
            from: "ok".into(),
            to: "suspicious".into(),
            reasons: "[]".into(),
        },
        &channels,
        3,
        Some(("complaints", 7)),
    )
    .unwrap();
    // The cursor moves with the change it caused.
    assert_eq!(s.cursor("complaints").unwrap(), 7);
    let waiting = s.uncontained().unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (waiting[0].1.sender.as_str(), waiting[0].1.at),
        ("script:/home/bob/x", 100)
    );
    s.mark_contained(waiting[0].0, 4).unwrap();
    assert!(s.uncontained().unwrap().is_empty());
    let mut n = 0;
    s.messages_since(0, |_| -> Result<()> {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 3);
}

fn hold_row(subject: &str, created: i64, until: Option<i64>) -> HoldRow {
    HoldRow {
        subject: subject.into(),
        action: "reject".into(),
        reason: "stolen password".into(),
        created,
        until,
        actor: "cli:root".into(),
        automatic: false,
    }
}

#[test]
fn holds_are_placed_changed_released_and_audited() {
    let dir = TempDir::new("holds");
    let s = Store::open(&dir.path().join("u.db")).unwrap();
    assert_eq!(s.holds_version().unwrap(), 0);
    assert!(
        !s.place_hold(&hold_row("auth:bob@example.com", 100, None), None)
            .unwrap()
    );
    let v1 = s.holds_version().unwrap();
    let mut changed = hold_row("auth:bob@example.com", 150, Some(500));
    changed.action = "defer".into();
    assert!(s.place_hold(&changed, Some("from the CLI")).unwrap());
    assert!(s.holds_version().unwrap() > v1);
    s.place_hold(&hold_row("account:carol", 160, None), None)
        .unwrap();
    let all = s.holds().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], changed);

    // Another connection (the policy service) sees the change.
    let other = Store::open(&dir.path().join("u.db")).unwrap();
    assert_eq!(other.holds_version().unwrap(), s.holds_version().unwrap());
    assert_eq!(
        other.hold("account:carol").unwrap().unwrap().action,
        "reject"
    );

    let released = s
        .release_hold("account:carol", "cli:alice", Some("cleaned up"), 200)
        .unwrap();
    assert_eq!(released.unwrap().subject, "account:carol");
    assert!(
        s.release_hold("account:carol", "cli:alice", None, 201)
            .unwrap()
            .is_none()
    );
    let expired = s.expire_holds(499).unwrap();
    assert!(expired.is_empty());
    let expired = s.expire_holds(500).unwrap();
    assert_eq!(expired.len(), 1);
    assert!(s.holds().unwrap().is_empty());

    let audit = s.hold_audit(None, 10).unwrap();
    let changes: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|a| (a.subject.as_str(), a.change.as_str(), a.actor.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("auth:bob@example.com", "expired", "unlisted"),
            ("account:carol", "released", "cli:alice"),
            ("account:carol", "placed", "cli:root"),
            ("auth:bob@example.com", "changed", "cli:root"),
            ("auth:bob@example.com", "placed", "cli:root"),
        ]
    );
    assert_eq!(audit[1].detail.as_deref(), Some("cleaned up"));
    assert_eq!(audit[3].action.as_deref(), Some("defer"));
    s.audit_hold(
        "auth:bob@example.com",
        "queue",
        "unlisted",
        Some("2 messages held"),
        600,
    )
    .unwrap();
    assert_eq!(
        s.hold_audit(Some("auth:bob@example.com"), 10)
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn complaints_are_stored_once_and_find_their_message() {
    let dir = TempDir::new("complaints");
    let mut s = Store::open(&dir.path().join("u.db")).unwrap();
    let mut m = msg("q1", "auth:amy@example.org");
    m.record = r#"{"message_id":"abc@web1.example","id":"q1"}"#.into();
    let cp = LogCheckpoint::default();
    s.ingest(b("/var/log/mail", cp, &[m], &[], 1), |_| None)
        .unwrap();
    let found = s
        .message_by_message_id("abc@web1.example")
        .unwrap()
        .unwrap();
    assert_eq!(found.sender, "auth:amy@example.org");
    assert_eq!(found.msg_id, "q1");
    assert!(s.message_by_message_id("other@x").unwrap().is_none());

    let c = NewComplaint {
        key: "aol|abuse|abc@web1.example|203.0.113.7|100".into(),
        arrival: Some(100),
        provider: "aol".into(),
        feedback_type: "abuse".into(),
        source_ip: Some("203.0.113.7".into()),
        original_message_id: Some("abc@web1.example".into()),
        sender: Some(found.sender.clone()),
        account: None,
        linked_by: Some("message-id".into()),
        location: "fbl/1.eml".into(),
        record: "{}".into(),
    };
    assert!(s.add_complaint(&c, 5).unwrap());
    assert!(!s.add_complaint(&c, 6).unwrap(), "the same report twice");
    let other = NewComplaint {
        key: "yahoo|abuse|abc@web1.example|203.0.113.7|200".into(),
        arrival: Some(200),
        ..c.clone()
    };
    assert!(s.add_complaint(&other, 7).unwrap());
    assert_eq!(s.complaint_total().unwrap(), 2);
    let counts = s.complaint_counts().unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (counts[0].complaints, counts[0].first, counts[0].last),
        (2, Some(100), Some(200))
    );
}

#[test]
fn sender_states_are_saved_as_of_the_messages_stored() {
    let dir = TempDir::new("sender-states");
    let path = dir.path().join("u.db");
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.saved_detector().unwrap(), None);
    let cp = LogCheckpoint::default();
    let first = [msg("a", "auth:amy@example.org"), msg("b", "local:bob")];
    s.ingest(b("/var/log/mail", cp.clone(), &first, &[], 1), |_| None)
        .unwrap();
    let state = |sender: &str, last_seen, byte| SenderState {
        sender: sender.into(),
        last_seen,
        state: vec![byte; 3],
    };
    s.save_sender_states(
        &[
            state("auth:amy@example.org", 500, 1),
            state("local:bob", 100, 2),
        ],
        1,
        7,
        0,
    )
    .unwrap();
    // Saved as of both messages and complaint 7.
    assert_eq!(
        s.saved_detector().unwrap(),
        Some(SavedDetector {
            format: 1,
            messages: 2,
            complaints: 7
        })
    );
    let later = [msg("c", "local:bob"), msg("d", "auth:amy@example.org")];
    s.ingest(b("/var/log/mail", cp.clone(), &later, &[], 2), |_| None)
        .unwrap();
    // The replay after the saved states: what came later, in stored order.
    let mut after = Vec::new();
    s.messages_after(2, |r| -> Result<()> {
        after.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(after, ["{\"id\":\"c\"}", "{\"id\":\"d\"}"]);
    // A newer save replaces a sender's state, and drops senders silent
    // since before the cut.
    s.save_sender_states(&[state("auth:amy@example.org", 900, 9)], 1, 8, 200)
        .unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.sender_state("auth:amy@example.org").unwrap(),
        Some(vec![9; 3])
    );
    assert_eq!(s.sender_state("local:bob").unwrap(), None);
    let since: Vec<_> = s
        .sender_states_since(600)
        .unwrap()
        .into_iter()
        .map(|x| (x.sender, x.last_seen))
        .collect();
    assert_eq!(since, [("auth:amy@example.org".to_string(), 900)]);
    assert!(s.sender_states_since(901).unwrap().is_empty());
    assert_eq!(s.saved_detector().unwrap().unwrap().messages, 4);
    // Old messages go a batch at a time, oldest first.
    let old = [msg("e", "local:bob"), msg("f", "local:bob")];
    let mut s = s;
    s.ingest(b("/var/log/mail", cp, &old, &[], 3), |_| None)
        .unwrap();
    assert_eq!(s.message_count(None).unwrap(), 6);
    assert_eq!(s.prune_messages(100, 10).unwrap(), 0, "none before 100");
    assert_eq!(s.prune_messages(101, 4).unwrap(), 4);
    assert_eq!(s.prune_messages(101, 4).unwrap(), 2);
    assert_eq!(s.message_count(None).unwrap(), 0);
}

#[test]
fn log_health_is_kept_per_log_and_replaced() {
    let dir = TempDir::new("log-health");
    let s = Store::open(&dir.path().join("u.db")).unwrap();
    assert!(s.log_health().unwrap().is_empty());
    let mut h = LogHealth {
        path: "/var/log/mail.log".into(),
        since: 1_764_324_000,
        lines: 10,
        not_understood: 2,
        dropped: 0,
        failed_logins: 7,
        last_bad_at: Some("/var/log/mail.log at byte 99".into()),
        last_bad: Some("junk".into()),
    };
    s.set_log_health(&h).unwrap();
    h.lines = 20;
    h.dropped = 1234;
    h.failed_logins = 9;
    s.set_log_health(&h).unwrap();
    let other = LogHealth {
        path: "journal:postfix*".into(),
        since: 1_764_324_001,
        ..LogHealth::default()
    };
    s.set_log_health(&other).unwrap();
    // By path: `/var/…` sorts before `journal:…`.
    assert_eq!(s.log_health().unwrap(), [h, other]);
}

#[test]
fn a_logs_failed_logins_are_kept_whole_and_replaced() {
    let dir = TempDir::new("log-logins");
    let s = Store::open(&dir.path().join("u.db")).unwrap();
    assert_eq!(s.log_logins("/var/log/mail.log").unwrap(), None);
    s.set_log_logins("/var/log/mail.log", "{\"keys\":[]}", 1)
        .unwrap();
    s.set_log_logins("/var/log/mail.log", "{\"keys\":[1]}", 2)
        .unwrap();
    s.set_log_logins("journal:exim4*", "{}", 2).unwrap();
    assert_eq!(
        s.log_logins("/var/log/mail.log").unwrap().as_deref(),
        Some("{\"keys\":[1]}")
    );
    assert_eq!(
        s.log_logins("journal:exim4*").unwrap().as_deref(),
        Some("{}")
    );
}
