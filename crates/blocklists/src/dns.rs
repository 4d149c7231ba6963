//! A small DNS-over-UDP stub client built for bulk DNSBL lookups.
//!
//! Messages are encoded and decoded by `hickory-proto`; this module owns only
//! the transport: a few UDP sockets shared by all queries, each with a
//! receiver task that hands answers to the waiting query by message id. One
//! socket per query (what general resolvers do) costs a bind and a close per
//! lookup, which dominates when a sweep is 300,000 lookups against a local
//! resolver. An answer counts only if it comes from the nameserver asked and
//! repeats the question; anything else is dropped as stray.
//!
//! Per query: a deadline per try and a bounded number of tries. Timeouts
//! and SERVFAIL are retried; REFUSED and NXDOMAIN are final.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::verdict::{DnsFailure, Lookup};

/// How queries are sent.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    pub nameserver: SocketAddr,
    /// Deadline of one try.
    pub timeout: Duration,
    /// Tries per query (1 = no retry).
    pub tries: u32,
    /// UDP sockets to spread queries over.
    pub sockets: usize,
}

impl DnsOptions {
    pub fn new(nameserver: SocketAddr) -> Self {
        DnsOptions {
            nameserver,
            timeout: Duration::from_secs(2),
            tries: 2,
            sockets: 4,
        }
    }
}

/// What one query got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub rcode: ResponseCode,
    pub a: Vec<Ipv4Addr>,
    pub txt: Vec<String>,
}

impl Response {
    /// The A-lookup view of this response.
    pub fn lookup(&self) -> Lookup {
        match self.rcode {
            ResponseCode::NoError if self.a.is_empty() => Lookup::NotFound,
            ResponseCode::NoError => Lookup::Answer(self.a.clone()),
            ResponseCode::NXDomain => Lookup::NotFound,
            ResponseCode::ServFail => Lookup::Failed(DnsFailure::ServFail),
            ResponseCode::Refused => Lookup::Failed(DnsFailure::Refused),
            other => Lookup::Failed(DnsFailure::Rcode(other.to_string())),
        }
    }
}

struct Waiter {
    name: Name,
    rtype: RecordType,
    tx: oneshot::Sender<Message>,
}

struct Lane {
    socket: UdpSocket,
    waiting: Mutex<HashMap<u16, Waiter>>,
}

/// A client bound to one nameserver. Cheap to clone; the receiver tasks
/// stop when the last clone is dropped.
#[derive(Clone)]
pub struct DnsClient {
    inner: Arc<Inner>,
}

struct Inner {
    opts: DnsOptions,
    lanes: Vec<Arc<Lane>>,
    next: AtomicUsize,
    receivers: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for r in &self.receivers {
            r.abort();
        }
    }
}

impl DnsClient {
    /// Binds the sockets and starts the receivers; must run inside tokio.
    pub async fn new(opts: DnsOptions) -> std::io::Result<Self> {
        let bind: SocketAddr = if opts.nameserver.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let mut lanes = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..opts.sockets.max(1) {
            // A connected socket: the kernel drops datagrams from any other
            // address, and send() skips a route lookup per query.
            let socket = UdpSocket::bind(bind).await?;
            socket.connect(opts.nameserver).await?;
            let lane = Arc::new(Lane {
                socket,
                waiting: Mutex::new(HashMap::new()),
            });
            receivers.push(tokio::spawn(receive(lane.clone(), opts.nameserver)));
            lanes.push(lane);
        }
        Ok(DnsClient {
            inner: Arc::new(Inner {
                opts,
                lanes,
                next: AtomicUsize::new(0),
                receivers,
            }),
        })
    }

    pub fn nameserver(&self) -> SocketAddr {
        self.inner.opts.nameserver
    }

    pub fn options(&self) -> &DnsOptions {
        &self.inner.opts
    }

    /// Asks `name` (no trailing dot needed) for `rtype`, with retries.
    pub async fn query(&self, name: &str, rtype: RecordType) -> Result<Response, DnsFailure> {
        let fqdn = Name::from_ascii(name)
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .map_err(|e| DnsFailure::Io(format!("bad query name `{name}`: {e}")))?;
        let opts = &self.inner.opts;
        let mut last = DnsFailure::Timeout {
            after: opts.timeout,
            tries: opts.tries,
        };
        for _ in 0..opts.tries.max(1) {
            match self.try_once(&fqdn, rtype).await {
                Ok(r) if r.rcode == ResponseCode::ServFail => last = DnsFailure::ServFail,
                Ok(r) => return Ok(r),
                Err(DnsFailure::Timeout { .. }) => {
                    last = DnsFailure::Timeout {
                        after: opts.timeout,
                        tries: opts.tries.max(1),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    async fn try_once(&self, name: &Name, rtype: RecordType) -> Result<Response, DnsFailure> {
        let inner = &self.inner;
        let lane = &inner.lanes[inner.next.fetch_add(1, Ordering::Relaxed) % inner.lanes.len()];
        let (tx, rx) = oneshot::channel();
        let id = {
            // The lock is never held across an await, so poisoning can only
            // follow a panic in this short block; recover the map anyway.
            let mut waiting = lane.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let mut id: u16 = rand_id();
            while waiting.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            waiting.insert(
                id,
                Waiter {
                    name: name.clone(),
                    rtype,
                    tx,
                },
            );
            id
        };
        let forget = || {
            lane.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        };
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        msg.add_query(Query::query(name.clone(), rtype));
        let bytes = match msg.to_vec() {
            Ok(b) => b,
            Err(e) => {
                forget();
                return Err(DnsFailure::Io(format!(
                    "cannot encode query for {name}: {e}"
                )));
            }
        };
        if let Err(e) = lane.socket.send(&bytes).await {
            forget();
            // On a connected UDP socket an earlier ICMP port-unreachable
            // comes back as ECONNREFUSED: nothing serves DNS there.
            return Err(DnsFailure::Io(
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    format!(
                        "nothing answers DNS at {} (port unreachable); is the resolver running?",
                        inner.opts.nameserver
                    )
                } else {
                    format!("cannot send to {}: {e}", inner.opts.nameserver)
                },
            ));
        }
        match tokio::time::timeout(inner.opts.timeout, rx).await {
            Ok(Ok(reply)) => Ok(to_response(&reply)),
            Ok(Err(_)) | Err(_) => {
                forget();
                Err(DnsFailure::Timeout {
                    after: inner.opts.timeout,
                    tries: 1,
                })
            }
        }
    }
}

fn rand_id() -> u16 {
    rand::random()
}

fn to_response(msg: &Message) -> Response {
    let mut a = Vec::new();
    let mut txt = Vec::new();
    for rec in &msg.answers {
        match &rec.data {
            RData::A(ip) => a.push(ip.0),
            RData::TXT(t) => txt.push(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => {}
        }
    }
    Response {
        rcode: msg.metadata.response_code,
        a,
        txt,
    }
}

async fn receive(lane: Arc<Lane>, server: SocketAddr) {
    let mut buf = vec![0u8; 4096];
    loop {
        // The socket is connected to `server`: nothing else reaches it.
        let len = match lane.socket.recv(&mut buf).await {
            Ok(n) => n,
            // A connected UDP socket reports ICMP port-unreachable here; the
            // waiting query then times out, which is the honest result.
            Err(_) => continue,
        };
        let Ok(msg) = Message::from_vec(&buf[..len]) else {
            tracing::debug!(%server, len, "dropping undecodable DNS packet");
            continue;
        };
        if msg.metadata.message_type != MessageType::Response {
            continue;
        }
        let id = msg.metadata.id;
        let mut waiting = lane.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let matches = waiting.get(&id).is_some_and(|w| {
            msg.queries
                .first()
                .is_some_and(|q| q.query_type() == w.rtype && *q.name() == w.name)
        });
        if matches {
            if let Some(w) = waiting.remove(&id) {
                // The query may have timed out meanwhile; nothing to do then.
                let _ = w.tx.send(msg);
            }
        } else {
            tracing::debug!(id, "dropping DNS answer that matches no question");
        }
    }
}
