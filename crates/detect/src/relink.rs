//! Mail that a content filter on the server (amavis, a spamassassin pipe)
//! took over loopback and queued again under a new id (Postfix's
//! `content_filter`). The copy it re-injects is logged as the filter's
//! own, unauthenticated mail, and it is the one that meets the outside
//! world: the deliveries, the bounces, the replies citing spam. It is the
//! first message's sender's mail, so it takes that sender back.

use std::collections::VecDeque;
use std::net::IpAddr;

use maillog::{Message, Sender, SenderKind, Stamp};
use rustc_hash::FxHashMap as HashMap;

use crate::{Observation, sender_hash, text_hash};

/// How long a re-injected copy is waited for (a filter answers within
/// seconds; a stuck one within its own queue's lifetime).
const WAIT_SECS: i64 = 86_400;

/// Who sent a message that went through a content filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parent {
    sender: Sender,
    account: Option<String>,
    client_ip: Option<IpAddr>,
}

impl Parent {
    /// The id `m` was re-injected as, and who sent it, when a content
    /// filter took it ([`Message::relayed_as`]).
    pub fn of(m: &Message) -> Option<(Box<str>, Parent)> {
        let child = m.relayed_as.as_deref()?;
        let p = Parent {
            sender: m.sender.clone(),
            account: m.account.clone(),
            client_ip: m.client_ip,
        };
        Some((child.into(), p))
    }
}

/// Copies waiting for, by their new id.
#[derive(Debug, Default)]
pub struct Relink {
    by_child: HashMap<Box<str>, Parent>,
    order: VecDeque<(i64, Box<str>)>,
}

/// Only mail logged as nobody's in particular can be a filter's copy.
fn anonymous(kind: SenderKind) -> bool {
    matches!(kind, SenderKind::Ip | SenderKind::From)
}

impl Relink {
    /// Notes that the copy `child` is `p`'s mail (seen at `at`).
    pub fn parent(&mut self, child: Box<str>, p: Parent, at: Stamp) {
        while let Some((t, id)) = self.order.front() {
            if at.secs - t <= WAIT_SECS {
                break;
            }
            self.by_child.remove(id);
            self.order.pop_front();
        }
        self.order.push_back((at.secs, child.clone()));
        self.by_child.insert(child, p);
    }

    /// Is a parent waiting for the copy queued as `child`?
    pub fn waits_for(&self, child: &str) -> bool {
        self.by_child.contains_key(child)
    }

    /// Copies waiting for their re-injected message.
    pub fn waiting(&self) -> usize {
        self.by_child.len()
    }

    /// One message in log order (the daemon): a message a filter took is
    /// noted and `false` returned (its copy will count); a copy takes its
    /// sender back.
    pub fn message(&mut self, m: &mut Message) -> bool {
        if let Some((child, p)) = Parent::of(m) {
            self.parent(child, p, m.received);
            return false;
        }
        if anonymous(m.sender.kind)
            && let Some(p) = self.by_child.remove(m.id.as_str())
        {
            m.sender = p.sender;
            m.account = p.account.or(m.account.take());
            m.client_ip = p.client_ip;
            // Mail from outside that the filter passed on to a forward.
            m.settle_forwarder();
        }
        true
    }

    /// [`Relink::message`] for an observation of a message that is not a
    /// parent (`logs analyze`, which notes parents with
    /// [`Relink::parent`] in the same order).
    pub fn observation(&mut self, o: &mut Observation) {
        let Some(id) = o.id.as_deref() else { return };
        if let Some(p) = self.by_child.remove(id) {
            o.sender_hash = sender_hash(&p.sender);
            o.sender = p.sender;
            if let Some(a) = p.account {
                o.account_hash = text_hash(&a);
                o.account = Some(a);
            }
            o.client_ip = p.client_ip;
        }
    }
}

/// The id an observation keeps for [`Relink::observation`]: only for mail
/// that can be a filter's copy.
pub(crate) fn id_for(m: &Message, sender: &Sender) -> Option<Box<str>> {
    anonymous(sender.kind).then(|| m.id.as_str().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, sender: Sender, secs: i64) -> Message {
        let mut m = Message::new(id, Stamp { secs, millis: 0 }, "", 0);
        m.sender = sender;
        m.envelope_from = "info@shop.example".into();
        m.complete = true;
        m
    }

    #[test]
    fn a_filters_copy_takes_its_senders_name_once() {
        let mut r = Relink::default();
        let thief = "203.0.113.9".parse().ok();
        let mut parent = message(
            "C00001",
            Sender::new(SenderKind::Auth, "info@shop.example"),
            100,
        );
        parent.account = Some("shop".into());
        parent.client_ip = thief;
        parent.relayed_as = Some("D00001".into());
        assert!(!r.message(&mut parent), "the parent is not kept");
        let filter = || Sender::new(SenderKind::Ip, "127.0.0.1");
        let mut copy = message("D00001", filter(), 101);
        assert!(r.message(&mut copy));
        assert_eq!(copy.sender.to_string(), "auth:info@shop.example");
        assert_eq!(
            (copy.account.as_deref(), copy.client_ip),
            (Some("shop"), thief)
        );
        // Once: another message with that id later is its own.
        let mut again = message("D00001", filter(), 200);
        r.message(&mut again);
        assert_eq!(again.sender, filter());
        // A copy that never came is forgotten a day later.
        let mut lost = message("C00002", Sender::new(SenderKind::Auth, "a@x.example"), 300);
        lost.relayed_as = Some("D00002".into());
        r.message(&mut lost);
        let mut late = message(
            "C00003",
            Sender::new(SenderKind::Auth, "b@x.example"),
            300 + WAIT_SECS + 1,
        );
        late.relayed_as = Some("D00003".into());
        r.message(&mut late);
        assert_eq!(r.waiting(), 1);
        // Mail of a named sender is never taken for a copy.
        let mut parent = message("C00004", Sender::new(SenderKind::Auth, "c@x.example"), 400);
        parent.relayed_as = Some("D00004".into());
        r.message(&mut parent);
        let mut named = message("D00004", Sender::new(SenderKind::Local, "root"), 401);
        r.message(&mut named);
        assert_eq!(named.sender.to_string(), "local:root");
    }
}
