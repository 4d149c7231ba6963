//! Getting each listing removed: the route from the catalog, who must act,
//! when an expiring listing should be gone, and the request text that cites
//! the evidence — offered only once the incident is `verified` (or the
//! listing is `unjustified`, with the evidence report instead).

use blocklists::catalog::{List, Route};
use serde::Serialize;

use crate::{ListingFacts, State};

/// What the incident can say for itself in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestFacts {
    pub incident: i64,
    pub server: String,
    /// The spamming senders, and how each was stopped
    /// (`auth:x held (reject) on DATE by cli:alice`).
    pub stopped: Vec<String>,
    /// When the last spam left (wall clock, or the log's clock).
    pub last_spam: Option<i64>,
    /// What was cleaned (`scan 3: 2 malicious files quarantined`, the
    /// operator's words for a mailbox).
    pub cleaned: Vec<String>,
    /// Since the spam stopped: messages and recipients that left, and
    /// complaints received.
    pub messages_since: i64,
    pub recipients_since: i64,
    pub complaints_since: i64,
    /// The evidence report, for an unjustified listing.
    pub evidence: Option<String>,
}

/// How to get one listing removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub list: String,
    pub list_name: String,
    pub target: String,
    pub routes: Vec<&'static str>,
    pub url: Option<String>,
    pub email: Option<String>,
    /// Who must act: `us`, `the ISP that owns TARGET`, `nobody`.
    pub who: String,
    /// When an expiring listing should be gone (unix seconds).
    pub expected_expiry: Option<i64>,
    /// What to do, in a sentence.
    pub advice: String,
    /// The text to paste into the form or e-mail, when one is offered now.
    pub request: Option<String>,
    /// Why no request is offered yet.
    pub not_yet: Option<String>,
    pub ended: Option<i64>,
}

fn day(secs: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64),
    )
    .to_string()
}

/// The plan for `listing` on `list`, in incident state `state`.
pub fn plan(list: &List, listing: &ListingFacts, state: State, f: &RequestFacts) -> Plan {
    let d = &list.delisting;
    let routes: Vec<&'static str> = d.routes.iter().map(|r| r.describe()).collect();
    let has = |r: Route| d.routes.contains(&r);
    let expiry = d
        .expiry
        .as_deref()
        .and_then(|e| humantime::parse_duration(e).ok())
        .map(|e| e.as_secs() as i64);
    let expected_expiry = match (has(Route::Expiry), expiry, f.last_spam) {
        (true, Some(e), Some(last)) => Some(last + e),
        _ => None,
    };
    let who = if has(Route::IspOnly) {
        format!("the ISP that owns {}", listing.target)
    } else if d.routes.is_empty() || has(Route::None) {
        "nobody: the list has no removal procedure".into()
    } else {
        "us".into()
    };
    let mut advice = Vec::new();
    if has(Route::Expiry) {
        advice.push(match expected_expiry {
            Some(t) => format!(
                "expires by itself about {} after the abuse stops: expected by {}",
                d.expiry.as_deref().unwrap_or("?"),
                day(t)
            ),
            None => "expires by itself some time after the abuse stops".to_string(),
        });
    }
    if has(Route::SelfService) {
        advice.push(format!(
            "request removal yourself{}",
            d.url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        ));
    }
    if has(Route::Email) {
        advice.push(format!(
            "e-mail the operator{}",
            d.email
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        ));
    }
    if has(Route::IspOnly) {
        advice.push(format!(
            "only the ISP that owns {} may ask: send them the request below",
            listing.target
        ));
    }
    if has(Route::Login) {
        advice.push("an account with the operator is needed".into());
    }
    if has(Route::PaidExpress) {
        advice
            .push("paid express removal exists; it is never needed once the abuse stopped".into());
    }
    if d.routes.is_empty() || has(Route::None) {
        advice.push("no removal procedure: affected customers should reach recipients another way and ask them to tell their mail admin that this list cannot be appealed".into());
    }
    if let Some(n) = &d.note {
        advice.push(n.clone());
    }
    let askable =
        has(Route::SelfService) || has(Route::Email) || has(Route::IspOnly) || has(Route::Login);
    let (request, not_yet) = if listing.ended.is_some() {
        (None, Some("the list no longer lists it".to_string()))
    } else if !askable {
        (None, None)
    } else {
        match state {
            State::Verified | State::Delisting => (Some(request_text(list, listing, f)), None),
            State::Unjustified => (Some(unjustified_text(list, listing, f)), None),
            s => (
                None,
                Some(format!(
                    "the incident is {s}: a removal request is offered once it is verified (spam stopped, hole closed, quiet proven), so the list does not see the same address again"
                )),
            ),
        }
    };
    Plan {
        list: list.id.clone(),
        list_name: list.name.clone(),
        target: listing.target.clone(),
        routes,
        url: d.url.clone(),
        email: d.email.clone(),
        who,
        expected_expiry,
        advice: advice.join("; "),
        request,
        not_yet,
        ended: listing.ended,
    }
}

fn request_text(list: &List, l: &ListingFacts, f: &RequestFacts) -> String {
    let mut t = format!(
        "Subject: Removal request for {ip} ({name})\n\nHello,\n\nWe run the mail server {server} ({ip}), listed on {name} since {since}.\n",
        ip = l.target,
        name = list.name,
        server = f.server,
        since = day(l.first_seen),
    );
    t += "\nWhat happened and how it was stopped:\n";
    for s in &f.stopped {
        t += &format!("- {s}\n");
    }
    if let Some(last) = f.last_spam {
        t += &format!("- the last of that mail left on {}\n", day(last));
    }
    if !f.cleaned.is_empty() {
        t += "\nWhat was cleaned:\n";
        for c in &f.cleaned {
            t += &format!("- {c}\n");
        }
    }
    t += &format!(
        "\nSince then the server sent {} messages to {} recipients, and we received {} spam complaints about it.\n",
        f.messages_since, f.recipients_since, f.complaints_since
    );
    t += &format!(
        "\nWe ask you to remove {} from {}. Our reference: incident {}.\n",
        l.target, list.name, f.incident
    );
    t
}

fn unjustified_text(list: &List, l: &ListingFacts, f: &RequestFacts) -> String {
    let mut t = format!(
        "Subject: Removal request for {ip} ({name}): no spam found\n\nHello,\n\nWe run the mail server {server} ({ip}), listed on {name} since {since}. We found no spam from it; our evidence follows.\n\n",
        ip = l.target,
        name = list.name,
        server = f.server,
        since = day(l.first_seen),
    );
    if let Some(e) = &f.evidence {
        t += e;
        t += "\n";
    }
    t += &format!(
        "\nWe ask you to remove {} from {}, or to tell us what you saw so we can act on it. Our reference: incident {}.\n",
        l.target, list.name, f.incident
    );
    t
}

/// The evidence for a listing with no spam behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    pub server: String,
    pub since: i64,
    pub until: i64,
    pub messages: i64,
    pub recipients: i64,
    /// (day start, messages).
    pub per_day: Vec<(i64, i64)>,
    /// The busiest senders and their verdicts: (sender, messages, verdict).
    pub top_senders: Vec<(String, i64, String)>,
    pub spamming_senders: i64,
    pub complaints: i64,
    pub holds: Vec<String>,
    /// Site scans in the period: (root, malicious findings).
    pub scans: Vec<(String, i64)>,
}

impl EvidenceReport {
    /// The report for people (and for the list operator).
    pub fn text(&self) -> String {
        let mut t = format!(
            "Outbound mail of {} from {} to {}: {} messages to {} recipients.\n",
            self.server,
            day(self.since),
            day(self.until),
            self.messages,
            self.recipients
        );
        if !self.per_day.is_empty() {
            t += "Per day:\n";
            for (d, n) in &self.per_day {
                t += &format!("  {}  {n}\n", &day(*d)[..10]);
            }
        }
        if !self.top_senders.is_empty() {
            t += "Busiest senders (verdict of our per-sender spam detection):\n";
            for (s, n, v) in &self.top_senders {
                t += &format!("  {s}: {n} messages, {v}\n");
            }
        }
        t += &format!(
            "Senders judged spamming: {}. Spam complaints received (feedback loops): {}.\n",
            self.spamming_senders, self.complaints
        );
        t += &format!(
            "Senders on hold: {}.\n",
            if self.holds.is_empty() {
                "none".to_string()
            } else {
                self.holds.join(", ")
            }
        );
        if self.scans.is_empty() {
            t += "Site scans: none needed (no script sent spam).\n";
        } else {
            for (root, m) in &self.scans {
                t += &format!("Site scan of {root}: {m} malicious findings.\n");
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blocklists::Catalog;

    fn listing() -> ListingFacts {
        ListingFacts {
            episode: 1,
            list: "spamcop".into(),
            target: "192.0.2.99".into(),
            first_seen: 1_700_000_000,
            ended: None,
        }
    }

    #[test]
    fn a_request_is_offered_only_when_verified_and_cites_the_evidence() {
        let cat = Catalog::builtin().unwrap();
        let list = cat.get("barracuda").unwrap();
        let f = RequestFacts {
            incident: 7,
            server: "mx1".into(),
            stopped: vec!["auth:info@shop.example held (reject) on 2026-11-28 by cli:alice".into()],
            last_spam: Some(1_700_000_500),
            cleaned: vec!["mailbox password reset (cli:alice)".into()],
            messages_since: 1200,
            recipients_since: 1500,
            complaints_since: 0,
            evidence: None,
        };
        let p = plan(list, &listing(), State::Cleaned, &f);
        assert!(p.request.is_none());
        assert!(p.not_yet.unwrap().contains("once it is verified"));
        let p = plan(list, &listing(), State::Verified, &f);
        let r = p.request.unwrap();
        assert!(r.contains("auth:info@shop.example held (reject)"), "{r}");
        assert!(r.contains("1200 messages to 1500 recipients"), "{r}");
        assert!(r.contains("incident 7"), "{r}");
        assert_eq!(p.who, "us");
    }

    #[test]
    fn expiring_isp_only_and_unappealable_lists_say_so() {
        let cat = Catalog::builtin().unwrap();
        let f = RequestFacts {
            last_spam: Some(1_700_000_000),
            ..RequestFacts::default()
        };
        for l in cat.lists() {
            let p = plan(l, &listing(), State::Verified, &f);
            let d = &l.delisting;
            if d.routes.contains(&Route::Expiry) && d.expiry.is_some() {
                assert!(p.expected_expiry.unwrap() > 1_700_000_000, "{}", l.id);
                assert!(p.advice.contains("expected by"), "{}", l.id);
            }
            if d.routes.contains(&Route::IspOnly) {
                assert!(p.who.starts_with("the ISP"), "{}", l.id);
            }
            if d.routes.is_empty() || d.routes.contains(&Route::None) {
                assert!(p.advice.contains("cannot be appealed"), "{}", l.id);
                assert!(p.request.is_none(), "{}", l.id);
            }
        }
    }
}
