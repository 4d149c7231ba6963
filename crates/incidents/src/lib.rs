//! The abuse desk's incident workflow, as plain functions over the facts
//! the caller gathered from the store: which moves the evidence supports
//! (and why the others are refused), how to get each listing removed and
//! what to write to the list, the evidence report for a listing with no
//! spam behind it, and the customer notices.
//!
//! States: `open → contained → cleaned → verified → delisting → resolved`,
//! and `unjustified` for a listing with no evidence of spam (then
//! `delisting` or `resolved`). Any incident can be moved back to `open`.

pub mod delisting;
pub mod notice;

use serde::Serialize;

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Contained,
    Cleaned,
    Verified,
    Delisting,
    Resolved,
    Unjustified,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Open,
        State::Contained,
        State::Cleaned,
        State::Verified,
        State::Delisting,
        State::Resolved,
        State::Unjustified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Contained => "contained",
            State::Cleaned => "cleaned",
            State::Verified => "verified",
            State::Delisting => "delisting",
            State::Resolved => "resolved",
            State::Unjustified => "unjustified",
        }
    }

    /// What the desk does next in this state.
    pub fn next_action(self) -> &'static str {
        match self {
            State::Open => {
                "hold the spamming senders (unlisted hold add), then move to contained; a listing with no spam behind it: move to unjustified"
            }
            State::Contained => {
                "scan and clean the site or reset the mailbox's password, then move to cleaned"
            }
            State::Cleaned => {
                "wait for the quiet period with no spam in the logs, then move to verified"
            }
            State::Verified => {
                "send the removal requests (unlisted incident report), then move to delisting"
            }
            State::Delisting => {
                "wait for the lists to drop the listings; the monitor resolves the incident when the last one ends"
            }
            State::Resolved => "nothing: resolved",
            State::Unjustified => {
                "send the evidence report to the list operators, then move to delisting"
            }
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown state {s:?}: one of {}",
                    State::ALL.map(State::as_str).join(", ")
                )
            })
    }
}

/// A sender the incident gathered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SenderFacts {
    /// `kind:value`.
    pub sender: String,
    /// When its hold was placed (wall clock), if it is held.
    pub held_at: Option<i64>,
    /// Its messages that left after the hold.
    pub out_after_hold: i64,
    /// Its newest message that left (log clock).
    pub last_out: Option<i64>,
    /// Its newest site scan (script senders).
    pub scan: Option<ScanFacts>,
}

/// A site scan's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanFacts {
    pub id: i64,
    pub finished: bool,
    pub error: Option<String>,
    /// Files with a malicious finding.
    pub malicious_files: Vec<String>,
    /// Of those, the ones quarantined since.
    pub quarantined: Vec<String>,
}

/// A listing the incident gathered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListingFacts {
    pub episode: i64,
    pub list: String,
    pub target: String,
    pub first_seen: i64,
    pub ended: Option<i64>,
}

/// What a move is weighed against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    pub senders: Vec<SenderFacts>,
    pub listings: Vec<ListingFacts>,
    pub complaints: i64,
    /// How far the mail logs have been read (log clock), if any is.
    pub log_clock: Option<i64>,
    /// Seconds with no spam before `verified`.
    pub quiet: i64,
    /// The earlier incident this one follows from (a late listing), when
    /// that one was verified: its spam was stopped and proven stopped.
    pub related_verified: Option<i64>,
}

fn hours(secs: i64) -> String {
    if secs % 3600 == 0 || secs >= 36_000 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs / 60)
    }
}

/// Whether the evidence supports moving from `from` to `to`: what
/// supports it, or why it is refused.
pub fn check_move(from: State, to: State, f: &Facts) -> Result<String, String> {
    use State::*;
    let open_listings: Vec<&ListingFacts> =
        f.listings.iter().filter(|l| l.ended.is_none()).collect();
    let still_listed = || {
        open_listings
            .iter()
            .map(|l| format!("{} on {}", l.target, l.list))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (from, to) {
        (a, b) if a == b => Err(format!("the incident is {a} already")),
        (_, Open) => Ok("reopened".into()),
        (Open, Contained) => {
            if f.senders.is_empty() {
                return Err("no spamming sender to contain; a listing with no spam behind it is `unjustified`".into());
            }
            let loose: Vec<&str> = f
                .senders
                .iter()
                .filter(|s| s.held_at.is_none())
                .map(|s| s.sender.as_str())
                .collect();
            if loose.is_empty() {
                Ok(format!("all {} spamming senders are held", f.senders.len()))
            } else {
                Err(format!(
                    "not held: {} (unlisted hold add SENDER)",
                    loose.join(", ")
                ))
            }
        }
        (Contained, Cleaned) => {
            let mut problems = Vec::new();
            let mut cleaned = Vec::new();
            for s in f.senders.iter().filter(|s| s.sender.starts_with("script:")) {
                match &s.scan {
                    None => problems.push(format!("{}: no site scan yet", s.sender)),
                    Some(sc) if !sc.finished => {
                        problems.push(format!("{}: site scan {} not finished", s.sender, sc.id))
                    }
                    Some(sc) if sc.error.is_some() => problems.push(format!(
                        "{}: site scan {} could not run: {}",
                        s.sender,
                        sc.id,
                        sc.error.as_deref().unwrap_or("")
                    )),
                    Some(sc) => {
                        let left: Vec<&String> = sc
                            .malicious_files
                            .iter()
                            .filter(|m| !sc.quarantined.contains(m))
                            .collect();
                        if left.is_empty() {
                            cleaned.push(format!(
                                "{}: scan {} found {} malicious files, all quarantined",
                                s.sender,
                                sc.id,
                                sc.malicious_files.len()
                            ));
                        } else {
                            problems.push(format!(
                                "{}: malicious files still in place: {}",
                                s.sender,
                                left.iter()
                                    .map(|p| p.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                    }
                }
            }
            if problems.is_empty() {
                cleaned.push("other senders: as the operator says".into());
                Ok(cleaned.join("; "))
            } else {
                Err(problems.join("; "))
            }
        }
        (Open, Verified) => match f.related_verified {
            Some(r) if f.senders.is_empty() => Ok(format!(
                "a late listing: the spam behind it was stopped and verified in incident {r}"
            )),
            _ => Err(
                "only a late listing, whose spam was verified stopped in an earlier incident, goes straight to verified"
                    .into(),
            ),
        },
        (Cleaned, Verified) => {
            let leaking: Vec<String> = f
                .senders
                .iter()
                .filter(|s| s.out_after_hold > 0)
                .map(|s| {
                    format!(
                        "{} sent {} messages after its hold",
                        s.sender, s.out_after_hold
                    )
                })
                .collect();
            if !leaking.is_empty() {
                return Err(leaking.join("; "));
            }
            let Some(clock) = f.log_clock else {
                return Err("no mail log has been read: the quiet period cannot be proven".into());
            };
            let last = f.senders.iter().filter_map(|s| s.last_out).max();
            let quiet_for = last.map_or(i64::MAX, |l| clock - l);
            if quiet_for >= f.quiet {
                Ok(match last {
                    Some(_) => format!(
                        "no spam for {} in the logs (required {})",
                        hours(quiet_for),
                        hours(f.quiet)
                    ),
                    None => "the senders sent nothing that left".into(),
                })
            } else {
                Err(format!(
                    "quiet for {} of the required {} (the logs are read up to their newest line)",
                    hours(quiet_for.max(0)),
                    hours(f.quiet)
                ))
            }
        }
        (Verified | Unjustified, Delisting) => {
            if open_listings.is_empty() {
                Err("no listing is open: move to resolved".into())
            } else {
                Ok(format!("removal requested for {}", still_listed()))
            }
        }
        (Verified | Delisting | Unjustified, Resolved) => {
            if open_listings.is_empty() {
                Ok("no listing is open".into())
            } else {
                Err(format!("still listed: {}", still_listed()))
            }
        }
        (Open, Unjustified) => {
            if f.listings.is_empty() {
                Err("no listing to call unjustified".into())
            } else if !f.senders.is_empty() || f.complaints > 0 {
                Err(format!(
                    "there is evidence of spam: {} spamming senders, {} complaints",
                    f.senders.len(),
                    f.complaints
                ))
            } else {
                Ok("no spamming sender and no complaint".into())
            }
        }
        (a, b) => Err(format!(
            "{a} cannot move to {b}: the workflow is open → contained → cleaned → verified → delisting → resolved (or open → unjustified)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            senders: vec![SenderFacts {
                sender: "auth:info@shop.example".into(),
                held_at: None,
                out_after_hold: 0,
                last_out: Some(1_000),
                scan: None,
            }],
            listings: vec![ListingFacts {
                episode: 1,
                list: "spamcop".into(),
                target: "192.0.2.99".into(),
                first_seen: 900,
                ended: None,
            }],
            complaints: 2,
            log_clock: Some(2_000),
            quiet: 86_400,
            related_verified: None,
        }
    }

    #[test]
    fn each_move_needs_its_evidence() {
        let mut f = facts();
        let e = check_move(State::Open, State::Contained, &f).unwrap_err();
        assert!(e.contains("not held: auth:info@shop.example"), "{e}");
        f.senders[0].held_at = Some(1_100);
        assert!(check_move(State::Open, State::Contained, &f).is_ok());
        assert!(check_move(State::Contained, State::Cleaned, &f).is_ok());
        let e = check_move(State::Cleaned, State::Verified, &f).unwrap_err();
        assert!(e.contains("quiet for 16m of the required 24h"), "{e}");
        f.log_clock = Some(1_000 + 86_400);
        assert!(check_move(State::Cleaned, State::Verified, &f).is_ok());
        f.senders[0].out_after_hold = 3;
        let e = check_move(State::Cleaned, State::Verified, &f).unwrap_err();
        assert!(e.contains("sent 3 messages after its hold"), "{e}");
        assert!(check_move(State::Verified, State::Delisting, &f).is_ok());
        let e = check_move(State::Delisting, State::Resolved, &f).unwrap_err();
        assert!(e.contains("still listed: 192.0.2.99 on spamcop"), "{e}");
        f.listings[0].ended = Some(5_000);
        assert!(check_move(State::Delisting, State::Resolved, &f).is_ok());
        let e = check_move(State::Contained, State::Delisting, &f).unwrap_err();
        assert!(e.contains("cannot move"), "{e}");
    }

    #[test]
    fn a_script_is_cleaned_only_when_its_malicious_files_are_out() {
        let mut f = facts();
        f.senders[0].sender = "script:/home/bob/public_html/x".into();
        let e = check_move(State::Contained, State::Cleaned, &f).unwrap_err();
        assert!(e.contains("no site scan yet"), "{e}");
        f.senders[0].scan = Some(ScanFacts {
            id: 4,
            finished: true,
            error: None,
            malicious_files: vec!["/a.php".into(), "/b.php".into()],
            quarantined: vec!["/a.php".into()],
        });
        let e = check_move(State::Contained, State::Cleaned, &f).unwrap_err();
        assert!(e.contains("still in place: /b.php"), "{e}");
        f.senders[0]
            .scan
            .as_mut()
            .unwrap()
            .quarantined
            .push("/b.php".into());
        assert!(check_move(State::Contained, State::Cleaned, &f).is_ok());
    }

    #[test]
    fn unjustified_needs_no_evidence_of_spam() {
        let mut f = facts();
        let e = check_move(State::Open, State::Unjustified, &f).unwrap_err();
        assert!(e.contains("1 spamming senders, 2 complaints"), "{e}");
        f.senders.clear();
        f.complaints = 0;
        assert!(check_move(State::Open, State::Unjustified, &f).is_ok());
        assert!(check_move(State::Unjustified, State::Delisting, &f).is_ok());
        // A late listing goes straight to verified on its earlier incident.
        assert!(check_move(State::Open, State::Verified, &f).is_err());
        f.related_verified = Some(3);
        let why = check_move(State::Open, State::Verified, &f).unwrap();
        assert!(why.contains("verified in incident 3"), "{why}");
        assert_eq!("verified".parse::<State>(), Ok(State::Verified));
        assert!("done".parse::<State>().is_err());
    }
}
