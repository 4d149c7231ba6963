//! Real servers for integration tests, each started on a free loopback port
//! (or a socket of its own) and stopped when dropped: rbldnsd (the DNS
//! server blocklist operators run), an SMTP server (aiosmtpd), Exim and
//! Postfix, rsyslogd, an HTTP receiver for webhooks, and a UDP port that
//! never answers (a dead nameserver).
//!
//! Every wait here is a bounded poll of the real server, never a bare sleep
//! standing in for readiness.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("unlisted-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` (a relative path; its directories are created).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create temp dirs");
        }
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A UDP port on 127.0.0.1 that nobody else holds right now.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.local_addr().expect("local addr").port()
}

/// A path under the shared real-world data (`../shared/data/` beside the
/// repository, or `$UNLISTED_SHARED_DATA`), read in place at test time.
pub fn shared_data(rel: &str) -> PathBuf {
    let base = std::env::var_os("UNLISTED_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = base.join(rel);
    assert!(
        p.exists(),
        "{} is missing: the shared test data lives in ../shared/data beside the repository (or set UNLISTED_SHARED_DATA)",
        p.display()
    );
    p
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Polls `f` every 50 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The path of an installed program: on `PATH`, or in the sbin
/// directories a non-root `PATH` may lack.
pub fn find_program(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/local/sbin",
        "/sbin",
    ]) {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} is not installed; run the test command from the README (scripts/test.sh), which installs it"
    );
}

/// One dataset served by rbldnsd: `zone`, rbldnsd type (`ip4set`,
/// `ip6trie`, `dnset`, ...) and the data file's text.
pub struct Zone<'a> {
    pub zone: &'a str,
    pub kind: &'a str,
    pub data: &'a str,
}

/// A running rbldnsd serving zones from files in its own directory.
pub struct Rbldnsd {
    pub port: u16,
    dir: TempDir,
    args: Vec<String>,
    child: Option<Child>,
}

impl Rbldnsd {
    pub fn start(zones: &[Zone<'_>]) -> Self {
        let dir = TempDir::new("rbldnsd");
        let mut args = Vec::new();
        for (i, z) in zones.iter().enumerate() {
            let file = format!("z{i}.data");
            dir.write(&file, z.data);
            args.push(format!("{}:{}:{file}", z.zone, z.kind));
        }
        let mut r = Rbldnsd {
            port: 0,
            dir,
            args,
            child: None,
        };
        for _ in 0..5 {
            r.port = free_udp_port();
            if r.spawn() {
                return r;
            }
        }
        panic!("rbldnsd did not start on any of 5 free ports");
    }

    /// The `--nameserver` value for this server.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Replaces a zone's data and restarts on the same port, so the next
    /// query sees the new data.
    pub fn rewrite(&mut self, index: usize, data: &str) {
        self.dir.write(&format!("z{index}.data"), data);
        self.stop();
        assert!(
            wait_for(Duration::from_secs(5), || self.spawn().then_some(())).is_some(),
            "rbldnsd did not restart on port {}",
            self.port
        );
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new(find_program("rbldnsd"))
            .arg("-n") // stay in the foreground
            .arg("-q") // quiet start-up
            .args(["-r", &self.dir.path().display().to_string()])
            .args(["-b", &format!("127.0.0.1/{}", self.port)])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rbldnsd");
        self.child = Some(child);
        let ready = wait_for(Duration::from_secs(5), || {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Some(false);
            }
            dns_answers(self.port).then_some(true)
        });
        if ready != Some(true) {
            self.stop();
            return false;
        }
        true
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when something on `port` answers a DNS query (any rcode).
fn dns_answers(port: u16) -> bool {
    let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    // A query for "ready.test. A" with id 0x4242, hand-built (RFC 1035 §4.1).
    let mut q = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["ready", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if s.send_to(&q, ("127.0.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(s.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[0] == 0x42 && buf[1] == 0x42)
}

/// A UDP port that receives queries and never answers: a dead nameserver.
pub struct SilentDns {
    socket: UdpSocket,
}

impl SilentDns {
    pub fn start() -> Self {
        SilentDns {
            socket: UdpSocket::bind("127.0.0.1:0").expect("bind silent udp"),
        }
    }

    pub fn addr(&self) -> String {
        self.socket.local_addr().expect("addr").to_string()
    }
}

/// An HTTP server on loopback that records each request body and answers
/// 200 (or the status set with `fail_with`).
pub struct WebhookReceiver {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    status: Arc<Mutex<u16>>,
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind http");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(200u16));
        let (b, st) = (bodies.clone(), status.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(conn);
                let mut len = 0usize;
                let mut line = String::new();
                let mut complete = false;
                // Request line and headers, up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        complete = true;
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                // A client killed mid-request sent no whole request: ignore it.
                let mut body = vec![0u8; len];
                if !complete || reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let code = *st.lock().unwrap();
                if code == 200 {
                    b.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                let mut conn = reader.into_inner();
                let _ = write!(
                    conn,
                    "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        WebhookReceiver {
            url,
            bodies,
            status,
        }
    }

    /// Answer every request with `code` from now on (200 records bodies).
    pub fn respond_with(&self, code: u16) {
        *self.status.lock().unwrap() = code;
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until at least `n` bodies arrived.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<String> {
        wait_for(limit, || {
            let b = self.bodies();
            (b.len() >= n).then_some(b)
        })
        .unwrap_or_else(|| self.bodies())
    }
}

/// A real SMTP server (Python aiosmtpd) writing each message to a file.
pub struct SmtpSink {
    pub port: u16,
    dir: TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_on(free_tcp_port())
    }

    /// On a port chosen beforehand (an MTA already relays to it and
    /// defers until the sink is up).
    pub fn start_on(port: u16) -> Self {
        let dir = TempDir::new("smtp");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3 smtp sink");
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut first)
            .expect("read smtp sink start line");
        assert_eq!(
            first.trim(),
            "READY",
            "the SMTP sink did not start; is aiosmtpd installed (scripts/test.sh installs it)?"
        );
        SmtpSink { port, dir, child }
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<String> {
        wait_for(limit, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| self.messages())
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real rsyslogd listening on a socket of its own (never the machine's
/// /dev/log) and writing the mail facility to one file.
pub struct Syslog {
    dir: TempDir,
    child: Child,
}

impl Syslog {
    /// In the traditional format of /var/log/maillog (`Nov 29 00:15:44
    /// host exim[123]: …`), as Debian set it up until 12 and RHEL does.
    pub fn start() -> Self {
        Self::start_with("RSYSLOG_TraditionalFileFormat")
    }

    /// With rsyslog's template `template`: `RSYSLOG_FileFormat` is its own
    /// default, RFC 3339 stamps to the microsecond
    /// (`2026-11-29T00:15:44.123456+00:00 host exim[123]: …`), which
    /// Debian's rsyslog.conf keeps since Debian 12.
    pub fn start_with(template: &str) -> Self {
        Self::start_full(template, false)
    }

    /// As Ubuntu's rsyslog.conf sets it up: the traditional format, and
    /// `$RepeatedMsgReduction on`, which writes a line that comes again
    /// alike from the same process as `message repeated N times: [ …]`.
    pub fn start_reducing_repeats() -> Self {
        Self::start_full("RSYSLOG_TraditionalFileFormat", true)
    }

    fn start_full(template: &str, reduce: bool) -> Self {
        let dir = TempDir::new("syslog");
        let d = dir.path().display();
        let reduce = if reduce { "on" } else { "off" };
        // Rate limiting off: a test's burst must reach the file whole.
        let conf = dir.write(
            "rsyslog.conf",
            &format!(
                r#"global(workDirectory="{d}")
$RepeatedMsgReduction {reduce}
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log.sock" RateLimit.Interval="0")
mail.* action(type="omfile" file="{d}/maillog" template="{template}")
"#
            ),
        );
        let child = Command::new(find_program("rsyslogd"))
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn rsyslogd");
        let socket = dir.path().join("log.sock");
        let up = wait_for(Duration::from_secs(10), || socket.exists().then_some(()));
        assert!(up.is_some(), "rsyslogd did not create {}", socket.display());
        Syslog { dir, child }
    }

    /// The socket to log to.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }

    /// The mail log it writes.
    pub fn maillog(&self) -> PathBuf {
        self.dir.path().join("maillog")
    }

    /// Makes it close its files, to open them again at the next line:
    /// what logrotate's postrotate does (`rsyslog-rotate` sends SIGHUP).
    /// Until then it writes to a renamed file.
    pub fn reopen(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -HUP rsyslogd failed");
    }

    /// Waits until the mail log has `n` lines containing `needle`.
    pub fn wait_lines(&self, needle: &str, n: usize, limit: Duration) -> String {
        wait_lines(&self.maillog(), needle, n, limit)
    }
}

/// Waits until the file `path` has `n` lines containing `needle`;
/// returns the file as it is then (or when the wait ran out).
fn wait_lines(path: &Path, needle: &str, n: usize, limit: Duration) -> String {
    wait_for(limit, || {
        let log = std::fs::read_to_string(path).ok()?;
        (log.lines().filter(|l| l.contains(needle)).count() >= n).then_some(log)
    })
    .unwrap_or_else(|| std::fs::read_to_string(path).unwrap_or_default())
}

impl Drop for Syslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Exim (Debian's exim4) on a loopback port with its own config,
/// spool and log directory, relaying everything to `smarthost_port` on
/// 127.0.0.1. SMTP AUTH PLAIN accepts `user` / `password`. The log selector
/// is cPanel's default set (`+arguments +subject +received_recipients`,
/// no `+pid`), so `cwd=` lines carry no pid.
pub struct Exim {
    pub port: u16,
    dir: TempDir,
    child: Child,
    /// When Exim logs through syslog: the socket its /dev/log names.
    devlog: Option<PathBuf>,
}

impl Exim {
    pub fn start(smarthost_port: u16, user: &str, password: &str) -> Self {
        Self::start_with(smarthost_port, user, password, false)
    }

    /// With `queue_only`, messages stay in the spool (as a frozen or
    /// backed-up spam run does) instead of being delivered.
    pub fn start_with(smarthost_port: u16, user: &str, password: &str, queue_only: bool) -> Self {
        Self::start_opts(smarthost_port, &[(user, password)], queue_only, "", "")
    }

    /// With several SMTP AUTH users, `main` lines added to the main section
    /// (after the test's own, so they may replace ACL settings; a
    /// `log_selector` there replaces the test's) and `acls` added to the
    /// ACL section.
    pub fn start_opts(
        smarthost_port: u16,
        users: &[(&str, &str)],
        queue_only: bool,
        main: &str,
        acls: &str,
    ) -> Self {
        Self::start_full(smarthost_port, users, queue_only, main, acls, None)
    }

    /// Logging both to its main log and through syslog
    /// (`log_file_path = syslog : …`) to `syslog`, a real rsyslogd. Every
    /// Exim process of this instance runs in a mount namespace of its own
    /// whose /dev/log is that rsyslogd's socket.
    pub fn start_through_syslog(
        smarthost_port: u16,
        users: &[(&str, &str)],
        main: &str,
        acls: &str,
        syslog: &Syslog,
    ) -> Self {
        Self::start_full(smarthost_port, users, false, main, acls, Some(syslog))
    }

    fn start_full(
        smarthost_port: u16,
        users: &[(&str, &str)],
        queue_only: bool,
        main: &str,
        acls: &str,
        syslog: Option<&Syslog>,
    ) -> Self {
        let dir = TempDir::new("exim");
        for sub in ["spool", "log"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        // Exim writes as its own user, and reads a -C config only when it is
        // owned by root and not writable by others (we run as root).
        let status = Command::new("chown")
            .args(["-R", "Debian-exim:Debian-exim"])
            .arg(dir.path().join("spool"))
            .arg(dir.path().join("log"))
            .status()
            .expect("chown");
        assert!(status.success(), "chown of the exim dirs failed");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let d = dir.path().display();
        // ${if or {{and {{eq{$auth2}{U}}{eq{$auth3}{P}}}} …}}
        let pairs: String = users
            .iter()
            .map(|(u, p)| {
                "{and {{eq{$auth2}{@USER@}}{eq{$auth3}{@PASS@}}}}"
                    .replace("@USER@", u)
                    .replace("@PASS@", p)
            })
            .collect();
        let cond = ["${if or {", &pairs, "}}"].concat();
        let syslog_path = if syslog.is_some() { "syslog : " } else { "" };
        // Exim takes an option once: `main` may give its own selector.
        let selector = if main.contains("log_selector") {
            ""
        } else {
            "log_selector = +arguments +subject +received_recipients +incoming_port +smtp_connection"
        };
        let config = format!(
            r#"primary_hostname = mx.test.example
qualify_domain = test.example
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
keep_environment =
queue_only = {queue_only}
spool_directory = {d}/spool
log_file_path = {syslog_path}{d}/log/%slog
{selector}
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
acl_smtp_rcpt = acl_rcpt
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
{main}

begin acl
acl_rcpt:
  accept authenticated = *
  accept hosts = :
  deny message = relay not permitted

{acls}

begin routers
# owner@alias.example is forwarded off the server to two addresses, as a
# customer's forwarder would: its deliveries are logged
# `=> final <original>`.
aliases:
  driver = redirect
  domains = alias.example
  data = ${{if eq{{$local_part}}{{owner}}{{owner@dest.example, backup@dest.example}}{{}}}}

smarthost:
  driver = manualroute
  route_list = * 127.0.0.1
  transport = smarthost_smtp
  self = send

begin transports
smarthost_smtp:
  driver = smtp
  port = {smarthost_port}
  hosts_avoid_tls = *
  allow_localhost

begin retry
*   *   F,1h,5m

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = {cond}
  server_set_id = $auth2
"#
        );
        dir.write("exim.conf", &config);
        let devlog = syslog.map(Syslog::socket);
        // -bdf: in the foreground, so that dropping this stops the daemon
        // (with -bd it forks away and outlives the test).
        let child = exim_command(dir.path(), devlog.as_deref())
            .args(["-bdf", "-oX", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn exim4");
        let up = wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "exim did not listen on port {port}");
        Exim {
            port,
            dir,
            child,
            devlog,
        }
    }

    fn command(&self) -> Command {
        exim_command(self.dir.path(), self.devlog.as_deref())
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("exim.conf")
    }

    pub fn mainlog(&self) -> PathBuf {
        self.dir.path().join("log/mainlog")
    }

    /// Exim's reject log: a copy of each refusal, with the refused
    /// message's headers once they were read.
    pub fn rejectlog(&self) -> PathBuf {
        self.dir.path().join("log/rejectlog")
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    /// Delivers everything queued now, frozen messages too (`exim -qff`).
    pub fn run_queue(&self) {
        self.queue_run("-qff");
    }

    /// Delivers everything queued now except frozen messages (`exim -qf`).
    pub fn run_queue_unfrozen(&self) {
        self.queue_run("-qf");
    }

    /// The exim binary.
    pub fn binary(&self) -> PathBuf {
        find_program("exim4")
    }

    fn queue_run(&self, flag: &str) {
        let ok = self
            .command()
            .arg(flag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "exim {flag} failed");
    }

    /// Waits until the main log has `n` arrival (`<=`) lines.
    pub fn wait_arrivals(&self, n: usize, limit: Duration) -> String {
        wait_for(limit, || {
            let log = std::fs::read_to_string(self.mainlog()).ok()?;
            (log.matches(" <= ").count() >= n).then_some(log)
        })
        .unwrap_or_else(|| std::fs::read_to_string(self.mainlog()).unwrap_or_default())
    }

    /// Submits `message` with `exim -t -i -f from`, run in `cwd` as a PHP
    /// script's sendmail call would be.
    pub fn sendmail(&self, cwd: &Path, from: &str, message: &str) {
        let (ok, err) = self.try_sendmail(cwd, from, message);
        assert!(ok, "exim -t failed: {err}");
    }

    /// Like `sendmail`, for submissions that may be refused: whether Exim
    /// took it, and what it said on stderr.
    pub fn try_sendmail(&self, cwd: &Path, from: &str, message: &str) -> (bool, String) {
        let mut child = self
            .command()
            .args(["-t", "-i", &format!("-f{from}")])
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn exim4 -t");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(message.as_bytes())
            .expect("write message");
        let out = child.wait_with_output().expect("wait exim");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Waits until the main log has `n` `Completed` lines.
    pub fn wait_completed(&self, n: usize, limit: Duration) -> String {
        wait_for(limit, || {
            let log = std::fs::read_to_string(self.mainlog()).ok()?;
            (completed_lines(&log) >= n).then_some(log)
        })
        .unwrap_or_else(|| std::fs::read_to_string(self.mainlog()).unwrap_or_default())
    }
}

/// How many of an Exim log's lines say a message left the queue:
/// `… Completed`, or `… Completed QT=0.025s` with `+queue_time`.
pub fn completed_lines(log: &str) -> usize {
    (log.lines())
        .filter(|l| l.ends_with(" Completed") || l.contains(" Completed QT="))
        .count()
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `exim4 -C <dir>/exim.conf` in `dir`; with `devlog`, as
/// [`with_own_dev_log`] runs it.
fn exim_command(dir: &Path, devlog: Option<&Path>) -> Command {
    let exim = find_program("exim4");
    let mut cmd = match devlog {
        None => Command::new(exim),
        Some(socket) => with_own_dev_log(&exim, dir, socket),
    };
    cmd.arg("-C").arg(dir.join("exim.conf")).current_dir(dir);
    cmd
}

/// `program` in a mount namespace of its own where /dev/log is `socket`
/// (the test's rsyslogd): glibc's syslog(3) always writes to /dev/log,
/// which this machine does not have, and the namespace leaves the
/// machine's own /dev alone. The real /dev stays reachable under
/// `dir/olddev` for the few devices a server opens; a tmpfs over /dev
/// holds links to them. Its children (a daemon's) stay in it.
fn with_own_dev_log(program: &Path, dir: &Path, socket: &Path) -> Command {
    let script = r#"set -e
mkdir -p "$1/olddev"
mount --rbind /dev "$1/olddev"
mount -t tmpfs -o mode=755 unlisted-dev /dev
for n in null zero full random urandom tty; do ln -s "$1/olddev/$n" "/dev/$n"; done
ln -s /proc/self/fd /dev/fd
ln -s "$2" /dev/log
shift 2
exec "$@""#;
    let mut c = Command::new(find_program("unshare"));
    c.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(dir)
    .arg(socket)
    .arg(program);
    c
}

/// Sends one message with swaks (the field's SMTP test tool), from the
/// loopback address `from_ip` (127.0.0.0/8, so the server sees distinct
/// clients), authenticating when `auth` is given.
pub fn swaks(
    port: u16,
    from_ip: &str,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &[&str],
    subject: &str,
) -> bool {
    let mut cmd = Command::new(find_program("swaks"));
    cmd.args(["--server", &format!("127.0.0.1:{port}")])
        .args(["--local-interface", from_ip])
        .args(["--from", from])
        .args(["--to", &to.join(",")])
        .args(["--header", &format!("Subject: {subject}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((u, p)) = auth {
        cmd.args(["--auth", "PLAIN", "--auth-user", u, "--auth-password", p]);
    }
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

/// A real Dovecot (Debian's dovecot-imapd) serving IMAP on a loopback
/// port. Users and plain passwords from a passwd-file; no failure delay,
/// so a test's guesses take no time.
pub struct Dovecot {
    pub port: u16,
    dir: TempDir,
    child: Child,
}

/// Where a [`Dovecot`] logs.
enum DovecotLog<'a> {
    Syslog(&'a Syslog),
    /// Its own file (`log_path`), stamped with `log_timestamp` when given.
    File(Option<&'a str>),
}

impl Dovecot {
    /// Logging through syslog to the mail facility, as Debian and Ubuntu
    /// set it up, to a real rsyslogd: its lines land in the same mail log
    /// as the MTA's.
    pub fn start_through_syslog(users: &[(&str, &str)], syslog: &Syslog) -> Self {
        Self::start(users, DovecotLog::Syslog(syslog))
    }

    /// Writing its own log ([`Dovecot::log`]; `log_path`), stamped with
    /// Dovecot's `log_timestamp` when given, else with its default
    /// (`%b %d %H:%M:%S `).
    pub fn start_logging_to_file(users: &[(&str, &str)], timestamp: Option<&str>) -> Self {
        Self::start(users, DovecotLog::File(timestamp))
    }

    /// The socket Postfix asks to check SMTP passwords on:
    /// `smtpd_sasl_type = dovecot`, `smtpd_sasl_path =` this.
    pub fn sasl_socket(&self) -> PathBuf {
        self.dir.path().join("run/auth-postfix")
    }

    /// Its own log, when it writes one.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }

    /// Waits until its own log has `n` lines containing `needle`.
    pub fn wait_lines(&self, needle: &str, n: usize, limit: Duration) -> String {
        wait_lines(&self.log(), needle, n, limit)
    }

    fn start(users: &[(&str, &str)], log: DovecotLog<'_>) -> Self {
        let dir = TempDir::new("dovecot");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let d = dir.path().display();
        let logging = match &log {
            DovecotLog::Syslog(_) => "log_path = syslog\nsyslog_facility = mail".to_string(),
            DovecotLog::File(stamp) => {
                let stamp = stamp.map(|t| format!("\nlog_timestamp = \"{t}\""));
                format!("log_path = {d}/dovecot.log{}", stamp.unwrap_or_default())
            }
        };
        let passwd: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{{PLAIN}}{p}\n"))
            .collect();
        dir.write("users", &passwd);
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let config = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
{logging}
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={d}/home/%u
}}
# No anvil-auth-penalty socket: the growing delay after each failure
# from one address (2, 4, 8, 15 s) is off, as Dovecot's documentation
# says to turn it off. It would make a test's guesses take half a minute
# a session; the lines logged are the same.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# SMTP AUTH for Postfix (`smtpd_sasl_type = dovecot`,
# [`Dovecot::sasl_socket`]), as Debian's guides set it up.
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"#
        );
        let conf = dir.write("dovecot.conf", &config);
        // -F: in the foreground, so that dropping this stops it.
        let mut command = match &log {
            DovecotLog::Syslog(syslog) => {
                with_own_dev_log(&find_program("dovecot"), dir.path(), &syslog.socket())
            }
            DovecotLog::File(_) => Command::new(find_program("dovecot")),
        };
        let child = command
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dovecot");
        let up = wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "dovecot did not listen on port {port}");
        Dovecot { port, dir, child }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bot's guessing over IMAP: one session from `from_ip` that tries
/// `LOGIN user password` with each of `passwords` in turn; returns how
/// many the server refused.
pub fn imap_login_guesses(port: u16, from_ip: &str, user: &str, passwords: &[&str]) -> usize {
    let script = r#"import socket, sys
port, ip, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(ip, 0))
f = s.makefile("rb")
f.readline()
refused = 0
for n, password in enumerate(sys.argv[4:]):
    s.sendall(b"a%d LOGIN \"%s\" \"%s\"\r\n" % (n, user.encode(), password.encode()))
    while True:
        line = f.readline()
        if not line or line.startswith(b"a%d " % n):
            break
    refused += line.startswith(b"a%d NO" % n)
s.sendall(b"z LOGOUT\r\n")
while f.readline():
    pass
print(refused)
"#;
    bot(script, port, from_ip, user, passwords)
}

/// A bot's guessing: one SMTP session from `from_ip` that tries AUTH
/// PLAIN as `user` with each of `passwords` in turn (Python's smtplib);
/// returns how many the server refused with 535.
pub fn smtp_auth_guesses(port: u16, from_ip: &str, user: &str, passwords: &[&str]) -> usize {
    let script = r#"import base64, smtplib, sys
port, ip, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", port, source_address=(ip, 0), timeout=20)
s.ehlo("bot.example")
refused = 0
for password in sys.argv[4:]:
    token = base64.b64encode(("\0" + user + "\0" + password).encode()).decode()
    code, _ = s.docmd("AUTH", "PLAIN " + token)
    refused += code == 535
s.quit()
print(refused)
"#;
    bot(script, port, from_ip, user, passwords)
}

/// Runs a guessing bot's Python `script` (argv: port, source address,
/// user, passwords); returns the count it prints.
fn bot(script: &str, port: u16, from_ip: &str, user: &str, passwords: &[&str]) -> usize {
    let out = Command::new(find_program("python3"))
        .arg("-c")
        .arg(script)
        .args([&port.to_string(), from_ip, user])
        .args(passwords)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "guessing bot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

/// A real Postfix, run from the Debian package unpacked into
/// `target/postfix-root` by the test command (its package conflicts with
/// Exim's), on a loopback port, relaying to `relay_port` on 127.0.0.1.
/// SASL PLAIN/LOGIN through a Cyrus sasldb holding `user@realm` /
/// `password`; unauthenticated relaying only from 127.0.0.1 itself. Logs
/// through postlogd to `maillog`, or through syslog to a real rsyslogd.
pub struct Postfix {
    pub port: u16,
    root: PathBuf,
    dir: TempDir,
    /// When Postfix logs through syslog: the socket its /dev/log names,
    /// and the file the rsyslogd writes.
    syslog: Option<(PathBuf, PathBuf)>,
}

impl Postfix {
    pub fn start(relay_port: u16, user: &str, realm: &str, password: &str) -> Self {
        Self::start_with(relay_port, realm, &[(user, password)], "")
    }

    /// With several SASL users (`user@realm` / password) and `extra` lines
    /// appended to main.cf (a policy service, milters).
    pub fn start_with(relay_port: u16, realm: &str, users: &[(&str, &str)], extra: &str) -> Self {
        Self::start_full(relay_port, realm, users, extra, None)
    }

    /// Logging through syslog (no `maillog_file`), as most servers do, to
    /// `syslog`, a real rsyslogd: the master and every daemon it starts run
    /// in a mount namespace whose /dev/log is that rsyslogd's socket.
    pub fn start_through_syslog(
        relay_port: u16,
        realm: &str,
        users: &[(&str, &str)],
        syslog: &Syslog,
    ) -> Self {
        Self::start_full(relay_port, realm, users, "", Some(syslog))
    }

    /// Logging through syslog, and asking `dovecot` to check SMTP
    /// passwords (`smtpd_sasl_type = dovecot`), the pairing most Debian
    /// and Ubuntu mail servers use: the users are Dovecot's.
    pub fn start_with_dovecot_sasl(relay_port: u16, dovecot: &Dovecot, syslog: &Syslog) -> Self {
        let extra = format!(
            "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = {}\n",
            dovecot.sasl_socket().display()
        );
        Self::start_full(relay_port, "unused.example", &[], &extra, Some(syslog))
    }

    fn start_full(
        relay_port: u16,
        realm: &str,
        users: &[(&str, &str)],
        extra: &str,
        syslog: Option<&Syslog>,
    ) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/postfix-root");
        let root = root.canonicalize().unwrap_or_else(|_| {
            panic!("{} is missing: run the test command from the README (scripts/test.sh), which unpacks Postfix there", root.display())
        });
        let dir = TempDir::new("postfix");
        let d = dir.path().to_path_buf();
        let spool = d.join("spool");
        for sub in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace", "maildrop", "public", "pid",
        ] {
            std::fs::create_dir_all(spool.join(sub)).expect("mkdir spool");
        }
        std::fs::create_dir_all(d.join("data")).expect("mkdir data");
        std::fs::create_dir_all(d.join("sasl")).expect("mkdir sasl");
        let sh = |cmd: &str| {
            let ok = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(&d)
                .status()
                .map(|s| s.success());
            assert_eq!(ok.ok(), Some(true), "failed: {cmd}");
        };
        // Ownership and modes as postfix-files sets them.
        sh(
            "cd spool && chown postfix active bounce corrupt defer deferred flush hold incoming private saved trace \
            && chown postfix:postdrop maildrop public && chmod 1730 maildrop && chmod 2710 public && chmod 700 private \
            && chown postfix ../data",
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let r = root.display();
        let dd = d.display();
        let maillog_file = if syslog.is_some() {
            String::new()
        } else {
            format!("maillog_file = {dd}/maillog\nmaillog_file_prefixes = {dd}")
        };
        dir.write(
            "main.cf",
            &format!(
                "compatibility_level = 3.6
myhostname = mx.test.example
mydomain = test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:{relay_port}
queue_directory = {dd}/spool
data_directory = {dd}/data
daemon_directory = {r}/usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
command_directory = {r}/usr/sbin
meta_directory = {r}/etc/postfix
mail_owner = postfix
setgid_group = postdrop
{maillog_file}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {dd}/sasl
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
alias_maps =
alias_database =
# owner@alias.example is forwarded off the server to two addresses, as a
# customer's forwarder would: its deliveries are logged with `orig_to=`.
virtual_alias_maps = inline:{{ {{ owner@alias.example = owner@dest.example, backup@dest.example }} }}
local_recipient_maps =
biff = no
header_checks = regexp:{dd}/header_checks
{extra}
"
            ),
        );
        // Log the script headers PHP and cPanel add, as an operator would
        // configure it for attribution.
        dir.write(
            "header_checks",
            "/^X-PHP-Originating-Script:/ WARN\n/^X-Source-Args:/ WARN\n",
        );
        dir.write(
            "master.cf",
            &format!(
                "127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"
            ),
        );
        dir.write(
            "sasl/smtpd.conf",
            &format!("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {dd}/sasl/sasldb2\n"),
        );
        for (user, password) in users {
            let mut pw = Command::new(find_program("saslpasswd2"))
                .args(["-p", "-c", "-f"])
                .arg(d.join("sasl/sasldb2"))
                .args(["-u", realm, user])
                .stdin(Stdio::piped())
                .spawn()
                .expect("spawn saslpasswd2");
            pw.stdin
                .take()
                .expect("stdin")
                .write_all(password.as_bytes())
                .expect("password");
            assert!(
                pw.wait().expect("saslpasswd2").success(),
                "saslpasswd2 failed"
            );
        }
        if !users.is_empty() {
            sh("chown postfix sasl/sasldb2");
        }
        // postdrop must be setgid postdrop for non-root submissions, as the
        // package installs it.
        let postdrop = root.join("usr/sbin/postdrop");
        sh(&format!(
            "chgrp postdrop {0} && chmod 2755 {0}",
            postdrop.display()
        ));
        let pf = Postfix {
            port,
            root,
            dir,
            syslog: syslog.map(|s| (s.socket(), s.maillog())),
        };
        let ok = pf.postfix(&["start"]);
        assert!(
            ok,
            "postfix start failed: {}",
            std::fs::read_to_string(pf.maillog()).unwrap_or_default()
        );
        let up = wait_for(Duration::from_secs(15), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "postfix did not listen on port {port}");
        pf
    }

    fn postfix(&self, args: &[&str]) -> bool {
        let program = self.root.join("usr/sbin/postfix");
        match &self.syslog {
            None => Command::new(program),
            Some((socket, _)) => with_own_dev_log(&program, self.dir.path(), socket),
        }
        .arg("-c")
        .arg(self.dir.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    }

    /// The mail log: postlogd's, or the rsyslogd's file.
    pub fn maillog(&self) -> PathBuf {
        match &self.syslog {
            None => self.dir.path().join("maillog"),
            Some((_, file)) => file.clone(),
        }
    }

    /// This instance's config directory (`-c` of the Postfix commands).
    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where postqueue, postsuper and postcat are.
    pub fn command_dir(&self) -> PathBuf {
        self.root.join("usr/sbin")
    }

    /// Rotates its own log (`postfix logrotate`): renamed with a date
    /// and time suffix, postlogd told to reopen, the old file gzipped.
    pub fn logrotate(&self) {
        assert!(self.postfix(&["logrotate"]), "postfix logrotate failed");
    }

    /// Attempts delivery of everything deferred now (`postqueue -f`).
    pub fn flush(&self) {
        let ok = Command::new(self.command_dir().join("postqueue"))
            .arg("-c")
            .arg(self.dir.path())
            .arg("-f")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "postqueue -f failed");
    }

    /// Submits `message` with Postfix's sendmail, the way PHP's mail()
    /// does. It runs as root: Postfix honours `-C` (this instance's config)
    /// for other users only when /etc/postfix/main.cf lists the directory
    /// in alternate_config_directories, and the tests write nothing there.
    pub fn sendmail(&self, from: &str, message: &str) {
        let mut child = Command::new(self.root.join("usr/sbin/sendmail"))
            .arg("-C")
            .arg(self.dir.path())
            .args(["-t", "-i", &format!("-f{from}")])
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sendmail");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(message.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait sendmail");
        assert!(
            out.status.success(),
            "postfix sendmail failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until the log shows `n` messages removed from the queue.
    pub fn wait_removed(&self, n: usize, limit: Duration) -> String {
        wait_for(limit, || {
            let log = std::fs::read_to_string(self.maillog()).ok()?;
            (log.matches(": removed\n").count() >= n).then_some(log)
        })
        .unwrap_or_else(|| std::fs::read_to_string(self.maillog()).unwrap_or_default())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.postfix(&["stop"]);
    }
}
