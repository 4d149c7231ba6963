//! The policy service's sockets: TCP (`127.0.0.1:10033`) or a Unix socket
//! (`unix:/run/unlisted/policy.sock`), many connections, many requests per
//! connection. A malformed, oversized or non-UTF-8 request is logged with
//! the peer and the connection closed without an answer (what Postfix's
//! protocol asks for: the client logs it and retries or applies its
//! `default_action`); other connections are not affected. Idle connections
//! are closed after `idle_timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;

use crate::hold::HoldSet;
use crate::policy::{self, Outcome, ProtocolError, Request};
use crate::ratelimit::RateLimiter;

/// Where the service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Listen::Unix(PathBuf::from(p)));
        }
        s.strip_prefix("inet:")
            .unwrap_or(s)
            .parse()
            .map(Listen::Tcp)
            .map_err(|_| format!("`{s}` is not ADDR:PORT or unix:/path"))
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "inet:{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Counters of what the service did since it started.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub held: AtomicU64,
    pub rate_limited: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub idle_timeouts: AtomicU64,
    pub refused_connections: AtomicU64,
    /// Time spent in decisions (nanoseconds) and decisions timed.
    pub decide_nanos: AtomicU64,
    pub decisions: AtomicU64,
}

impl Stats {
    /// Counts a decision's outcome (held or rate-limited).
    fn count(&self, o: &Outcome) {
        match o {
            Outcome::Pass => {}
            Outcome::Held { .. } => {
                self.held.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::RateLimited { .. } => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What every connection reads: the holds (swapped whole when they change)
/// and the rate-limit counters.
#[derive(Debug, Default)]
pub struct Shared {
    holds: RwLock<Arc<HoldSet>>,
    limits: Mutex<RateLimiter>,
    pub stats: Stats,
}

impl Shared {
    pub fn new(holds: HoldSet, limits: RateLimiter) -> Self {
        Shared {
            holds: RwLock::new(Arc::new(holds)),
            limits: Mutex::new(limits),
            stats: Stats::default(),
        }
    }

    pub fn set_holds(&self, holds: HoldSet) {
        let mut h = self.holds.write().unwrap_or_else(|e| e.into_inner());
        *h = Arc::new(holds);
    }

    pub fn holds(&self) -> Arc<HoldSet> {
        self.holds.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Decides one request against the current holds and limits.
    pub fn decide(&self, req: &Request, instance_seen: bool) -> policy::Decision {
        let started = std::time::Instant::now();
        let holds = self.holds();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let d = policy::decide(req, &holds, &mut limits, instance_seen, now);
        self.stats.count(&d.outcome);
        self.stats
            .decide_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.stats.decisions.fetch_add(1, Ordering::Relaxed);
        d
    }
}

/// Limits of the service.
#[derive(Debug, Clone)]
pub struct Options {
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

/// A bound socket, ready to serve.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `listen`. A stale Unix socket file (no one listening) is
    /// replaced; a live one is an error.
    pub async fn bind(listen: &Listen) -> std::io::Result<Self> {
        match listen {
            Listen::Tcp(a) => Ok(Listener::Tcp(TcpListener::bind(a).await?)),
            Listen::Unix(p) => {
                if p.exists() {
                    if tokio::net::UnixStream::connect(p).await.is_ok() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::AddrInUse,
                            format!("{} is in use by a running service", p.display()),
                        ));
                    }
                    std::fs::remove_file(p)?;
                }
                let l = UnixListener::bind(p)?;
                // The MTA's user (postfix, Debian-exim) must be able to connect.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666))?;
                Ok(Listener::Unix(l, p.clone()))
            }
        }
    }

    /// The bound address, as `Listen` (a TCP port 0 becomes the real one).
    pub fn local(&self) -> std::io::Result<Listen> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Listen::Tcp),
            Listener::Unix(_, p) => Ok(Listen::Unix(p.clone())),
        }
    }

    /// Accepts connections until the task is dropped.
    pub async fn run(self, shared: Arc<Shared>, opts: Options) {
        let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
        loop {
            let accepted = match &self {
                Listener::Tcp(l) => l.accept().await.map(|(s, a)| {
                    let _ = s.set_nodelay(true);
                    (Conn::Tcp(s), a.to_string())
                }),
                Listener::Unix(l, p) => l
                    .accept()
                    .await
                    .map(|(s, _)| (Conn::Unix(s), format!("unix:{}", p.display()))),
            };
            let (conn, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "policy service: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                shared
                    .stats
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, max = opts.max_connections, "policy service: too many connections; closing this one");
                continue;
            };
            shared.stats.connections.fetch_add(1, Ordering::Relaxed);
            let shared = shared.clone();
            let idle = opts.idle_timeout;
            tokio::spawn(async move {
                let _permit = permit;
                match conn {
                    Conn::Tcp(s) => handle(s, &peer, &shared, idle).await,
                    Conn::Unix(s) => handle(s, &peer, &shared, idle).await,
                }
            });
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The milter library accepts from the same sockets.
impl indymilter::Listener for Listener {
    type Io = indymilter::EitherStream<tokio::net::TcpStream, tokio::net::UnixStream>;

    fn poll_accept(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<Self::Io>> {
        match self {
            Listener::Tcp(l) => TcpListener::poll_accept(l, cx)
                .map(|r| r.map(|(s, _)| indymilter::EitherStream::Tcp(s))),
            Listener::Unix(l, _) => UnixListener::poll_accept(l, cx)
                .map(|r| r.map(|(s, _)| indymilter::EitherStream::Unix(s))),
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

enum ReadError {
    Io(std::io::Error),
    Protocol(ProtocolError),
    Idle,
}

/// Reads one line (without its newline) into `buf`, refusing more than
/// `MAX_LINE` bytes. `Ok(false)` at end of stream.
async fn read_line<S: AsyncRead + Unpin>(
    r: &mut BufReader<S>,
    buf: &mut Vec<u8>,
    idle: Duration,
) -> Result<bool, ReadError> {
    buf.clear();
    loop {
        // A request's lines usually arrive in one read: take them from the
        // buffer without arming the idle timer (which reads the clock).
        let avail = if !r.buffer().is_empty() {
            r.buffer()
        } else {
            match tokio::time::timeout(idle, r.fill_buf()).await {
                Err(_) => return Err(ReadError::Idle),
                Ok(Err(e)) => return Err(ReadError::Io(e)),
                Ok(Ok(b)) => b,
            }
        };
        if avail.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr_nl(avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        buf.extend_from_slice(&avail[..take]);
        r.consume(take);
        if buf.len() > policy::MAX_LINE + 2 {
            return Err(ReadError::Protocol(ProtocolError::LineTooLong));
        }
        if done {
            buf.pop();
            return Ok(true);
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: &str,
    shared: &Shared,
    idle: Duration,
) {
    // One buffered stream, written through `get_mut`: no split halves and
    // their lock.
    let mut rd = BufReader::new(stream);
    let mut line = Vec::with_capacity(256);
    let mut req = Request::default();
    let mut last_counted: Option<String> = None;
    loop {
        match read_line(&mut rd, &mut line, idle).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(ReadError::Idle) => {
                shared.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "policy connection idle; closed");
                return;
            }
            Err(ReadError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "policy connection read failed");
                return;
            }
            Err(ReadError::Protocol(e)) => return protocol_error(shared, peer, &e),
        }
        match req.push_line(&line) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => return protocol_error(shared, peer, &e),
        }
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let instance = req.get("instance");
        let seen = instance.is_some() && instance == last_counted.as_deref();
        let d = shared.decide(&req, seen);
        if req.counts_message()
            && d.outcome == Outcome::Pass
            && let Some(i) = instance
            && !seen
        {
            last_counted = Some(i.to_string());
        }
        match &d.outcome {
            Outcome::Pass => {}
            Outcome::Held { subject, action } => {
                tracing::info!(%peer, sender = %subject, %action, queue_id = req.get("queue_id").unwrap_or(""), reply = %d.action, "policy: held sender refused");
            }
            Outcome::RateLimited {
                sender,
                limit,
                action,
            } => {
                tracing::info!(%peer, %sender, %limit, %action, "policy: rate limit reached");
            }
        }
        if let Err(e) = rd.get_mut().write_all(d.reply().as_bytes()).await {
            tracing::debug!(%peer, error = %e, "policy connection write failed");
            return;
        }
        req.clear();
    }
}

fn protocol_error(shared: &Shared, peer: &str, e: &ProtocolError) {
    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, error = %e, "policy request refused; connection closed");
}
