//! The one TOML config file: what the system does (servers, lists, keys,
//! schedule, alerts). Defaults live in code; unknown keys are refused.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use blocklists::{Catalog, Target};
use serde::Deserialize;

/// The annotated default printed by `unlisted config example`.
pub(crate) const EXAMPLE: &str = include_str!("../../../catalog/unlisted.example.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Extra or overriding lists, merged over the built-in catalog.
    #[serde(default)]
    pub(crate) catalog: Option<PathBuf>,
    #[serde(default)]
    pub(crate) dns: DnsConfig,
    #[serde(default)]
    pub(crate) monitor: MonitorConfig,
    /// Keys for keyed lists, by the name in the catalog's `query.key`.
    #[serde(default)]
    pub(crate) keys: BTreeMap<String, String>,
    #[serde(default, rename = "server")]
    pub(crate) servers: Vec<ServerConfig>,
    #[serde(default)]
    pub(crate) alerts: AlertsConfig,
    /// Spam detection thresholds for mail logs.
    #[serde(default)]
    pub(crate) detect: detect::Thresholds,
    /// Mail logs the daemon follows.
    #[serde(default, rename = "log")]
    pub(crate) logs: Vec<LogConfig>,
    #[serde(default)]
    pub(crate) ingest: IngestConfig,
    /// Holds, rate limits and the policy service.
    #[serde(default)]
    pub(crate) enforce: EnforceConfig,
    /// Where feedback-loop complaints arrive.
    #[serde(default)]
    pub(crate) complaints: ComplaintsConfig,
    /// Site scans the daemon runs for a script that turned spamming.
    #[serde(default)]
    pub(crate) scan: ScanConfig,
    /// The incident workflow and customer notices.
    #[serde(default)]
    pub(crate) incidents: IncidentsConfig,
    /// The dashboard, the API and the metrics.
    #[serde(default)]
    pub(crate) web: WebConfig,
}

/// Where `unlisted serve` serves the dashboard, the API and `/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebConfig {
    /// `ADDR:PORT`; empty: no web server. Loopback by default: put a
    /// TLS-terminating proxy in front to reach it from elsewhere.
    #[serde(default = "default_web_listen")]
    pub(crate) listen: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: default_web_listen(),
        }
    }
}

fn default_web_listen() -> String {
    "127.0.0.1:8427".into()
}

/// Incidents: how long spam must have stopped before `verified`, how far
/// back a new listing looks for the incident it follows from, and how
/// customer notices are written and sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentsConfig {
    #[serde(default = "default_quiet", with = "humantime_serde")]
    pub(crate) quiet: Duration,
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub(crate) lookback: Duration,
    /// Edited notice templates (`KIND.txt`, `KIND.html`); default
    /// `notices/` beside the config file.
    #[serde(default)]
    pub(crate) notices_dir: Option<PathBuf>,
    /// How notices are signed.
    #[serde(default = "default_desk")]
    pub(crate) desk: String,
    /// The relay notices are sent through (`unlisted incident notice
    /// --send`).
    #[serde(default)]
    pub(crate) mail: Option<NoticeMail>,
    /// Where customers' addresses are: a directory in cPanel's
    /// /var/cpanel/users format (`CONTACTEMAIL=` in the file named after
    /// the account; the default when it exists), or a file of
    /// `account address` lines.
    #[serde(default)]
    pub(crate) contacts: Option<PathBuf>,
}

impl IncidentsConfig {
    /// The address of customer `account`, from `contacts`.
    pub(crate) fn contact(&self, account: &str) -> Option<String> {
        let source = self
            .contacts
            .clone()
            .or_else(|| Some(PathBuf::from("/var/cpanel/users")).filter(|p| p.is_dir()))?;
        if source.is_dir() {
            if account.contains('/') || account.starts_with('.') {
                return None;
            }
            let text = std::fs::read_to_string(source.join(account)).ok()?;
            return text
                .lines()
                .find_map(|l| l.strip_prefix("CONTACTEMAIL="))
                .map(|a| a.trim().to_string())
                .filter(|a| a.contains('@'));
        }
        let text = std::fs::read_to_string(&source).ok()?;
        text.lines().find_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (who, addr) = l.split_once([' ', '\t', ':', '='])?;
            (who.trim() == account)
                .then(|| addr.trim_matches([' ', '\t', ':', '=']).trim().to_string())
                .filter(|a| a.contains('@'))
        })
    }
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            quiet: default_quiet(),
            lookback: default_lookback(),
            notices_dir: None,
            desk: default_desk(),
            mail: None,
            contacts: None,
        }
    }
}

fn default_quiet() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_lookback() -> Duration {
    Duration::from_secs(14 * 86_400)
}

fn default_desk() -> String {
    "The abuse desk".into()
}

/// Where customer notices go out: an SMTP relay, as for alerts, without
/// fixed recipients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoticeMail {
    pub(crate) smtp: String,
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) tls: SmtpTls,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

impl NoticeMail {
    /// The relay settings as an alert e-mail to `to`.
    pub(crate) fn to(&self, to: &str) -> EmailConfig {
        EmailConfig {
            smtp: self.smtp.clone(),
            from: self.from.clone(),
            to: vec![to.to_string()],
            tls: self.tls,
            username: self.username.clone(),
            password: self.password.clone(),
            timeout: self.timeout,
        }
    }
}

/// The daemon's site scan and trace of a script that turned `spamming`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanConfig {
    /// Scan the script's site (read-only) when it turns spamming.
    #[serde(default = "yes")]
    pub(crate) on_spamming: bool,
    /// Access logs (files, or directories such as cPanel's domlogs) for
    /// the trace; empty: the usual Apache, Nginx and cPanel places here.
    #[serde(default)]
    pub(crate) access_logs: Vec<PathBuf>,
    /// Extra YARA rule packs (directories), as `unlisted scan --rules`.
    #[serde(default)]
    pub(crate) rules: Vec<PathBuf>,
    #[serde(default = "default_max_size")]
    pub(crate) max_size: u64,
    /// What counts as "around the time the script appeared".
    #[serde(default = "default_trace_window", with = "humantime_serde")]
    pub(crate) window: Duration,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            on_spamming: true,
            access_logs: Vec::new(),
            rules: Vec::new(),
            max_size: default_max_size(),
            window: default_trace_window(),
        }
    }
}

fn default_max_size() -> u64 {
    16 * 1024 * 1024
}

fn default_trace_window() -> Duration {
    Duration::from_secs(3600)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComplaintsConfig {
    /// Maildir folders the FBL reports are delivered to (abuse@,
    /// fbl@): the daemon reads `new/` and moves each message to `cur/`.
    #[serde(default)]
    pub(crate) maildirs: Vec<PathBuf>,
}

/// What happens when a sender turns `spamming`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EnforceMode {
    /// Alert, and record the hold that would have been placed.
    #[default]
    Alert,
    /// Place the hold at once (and hold the sender's queued mail).
    Enforce,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnforceConfig {
    #[serde(default)]
    pub(crate) mode: EnforceMode,
    /// The action of holds the daemon places by itself.
    #[serde(default = "hold_action")]
    pub(crate) auto_action: enforce::Action,
    /// How long an automatic hold lasts (unset: until released).
    #[serde(default, with = "humantime_serde")]
    pub(crate) auto_for: Option<Duration>,
    /// Domain owners (`domain: account` lines, cPanel's format; or a
    /// directory, read as Plesk's /var/www/vhosts), so an `account:` hold
    /// stops that customer's mailboxes too, and mailboxes in the logs are
    /// tied to their account. Unset: cPanel's /etc/userdomains, else
    /// DirectAdmin's /etc/virtual/domainowners, else Plesk's
    /// /var/www/vhosts, when it exists.
    #[serde(default)]
    pub(crate) userdomains: Option<PathBuf>,
    /// Senders (`auth:…`, `script:/dir`, `account:NAME`, …) never held
    /// automatically.
    #[serde(default)]
    pub(crate) allow: Vec<String>,
    /// Per sender kind (`auth`, `script`, `local`, `ip`, `from`):
    /// messages and recipients per hour and per day.
    #[serde(default)]
    pub(crate) limits: enforce::Limits,
    #[serde(default)]
    pub(crate) policy: PolicyConfig,
    /// The MTA whose queue holds apply to (already queued mail of a held
    /// sender is put on hold or frozen).
    #[serde(default)]
    pub(crate) queue: QueueConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum QueueMta {
    /// Leave the queue alone.
    #[default]
    None,
    Postfix,
    Exim,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueConfig {
    #[serde(default)]
    pub(crate) mta: QueueMta,
    /// Where postqueue, postcat and postsuper are.
    #[serde(default = "default_postfix_commands")]
    pub(crate) postfix_command_dir: PathBuf,
    /// A non-default Postfix instance's config directory (`-c`).
    #[serde(default)]
    pub(crate) postfix_config_dir: Option<PathBuf>,
    /// The exim binary.
    #[serde(default = "default_exim")]
    pub(crate) exim: PathBuf,
    /// A non-default Exim config file (`-C`).
    #[serde(default)]
    pub(crate) exim_config: Option<PathBuf>,
    #[serde(default = "default_exim_spool")]
    pub(crate) exim_spool: PathBuf,
    /// The daemon counts the queue this often (what is in it, who sent
    /// it), for `status`, /metrics and the alert below.
    #[serde(default = "default_queue_every", with = "humantime_serde")]
    pub(crate) check_every: Duration,
    /// Alert when this many messages or more are queued (0: never). A
    /// spam run fills the queue with deferrals and bounces; CSF's
    /// LF_QUEUE_ALERT says 2000 too.
    #[serde(default = "default_queue_alert")]
    pub(crate) alert_above: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            mta: QueueMta::None,
            postfix_command_dir: default_postfix_commands(),
            postfix_config_dir: None,
            exim: default_exim(),
            exim_config: None,
            exim_spool: default_exim_spool(),
            check_every: default_queue_every(),
            alert_above: default_queue_alert(),
        }
    }
}

fn default_queue_every() -> Duration {
    Duration::from_secs(300)
}

fn default_queue_alert() -> u64 {
    2000
}

fn default_postfix_commands() -> PathBuf {
    PathBuf::from("/usr/sbin")
}

fn default_exim() -> PathBuf {
    // Debian names it exim4; cPanel and RHEL exim.
    ["/usr/sbin/exim4", "/usr/sbin/exim"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/exim"))
}

fn default_exim_spool() -> PathBuf {
    ["/var/spool/exim4", "/var/spool/exim"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/var/spool/exim"))
}

impl QueueConfig {
    /// The queue to act on, if one is configured.
    pub(crate) fn mta(&self) -> Option<enforce::queue::Mta> {
        match self.mta {
            QueueMta::None => None,
            QueueMta::Postfix => Some(enforce::queue::Mta::Postfix {
                command_dir: self.postfix_command_dir.clone(),
                config_dir: self.postfix_config_dir.clone(),
            }),
            QueueMta::Exim => Some(enforce::queue::Mta::Exim {
                binary: self.exim.clone(),
                config: self.exim_config.clone(),
                spool: self.exim_spool.clone(),
            }),
        }
    }
}

impl Default for EnforceConfig {
    fn default() -> Self {
        EnforceConfig {
            mode: EnforceMode::default(),
            auto_action: hold_action(),
            auto_for: None,
            userdomains: None,
            allow: Vec::new(),
            limits: enforce::Limits::new(),
            policy: PolicyConfig::default(),
            queue: QueueConfig::default(),
        }
    }
}

fn hold_action() -> enforce::Action {
    enforce::Action::Hold
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyConfig {
    /// Where `unlisted serve` answers Postfix and Exim: `127.0.0.1:10033`
    /// or `unix:/run/unlisted/policy.sock`. Unset: no policy service.
    #[serde(default)]
    pub(crate) listen: Option<String>,
    /// Where the milter listens (for Postfix's non_smtpd_milters: mail
    /// submitted with sendmail): `127.0.0.1:10034` or `unix:/path`.
    #[serde(default)]
    pub(crate) milter: Option<String>,
    /// Connections silent this long are closed.
    #[serde(default = "default_idle", with = "humantime_serde")]
    pub(crate) idle_timeout: Duration,
    #[serde(default = "default_max_connections")]
    pub(crate) max_connections: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            listen: None,
            milter: None,
            idle_timeout: default_idle(),
            max_connections: default_max_connections(),
        }
    }
}

fn default_idle() -> Duration {
    Duration::from_secs(300)
}

fn default_max_connections() -> usize {
    1024
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogConfig {
    /// The log file (unless `journal` is given).
    #[serde(default)]
    pub(crate) path: PathBuf,
    /// Units whose systemd journal entries to follow instead of a file
    /// (`postfix*`, as `journalctl --unit` takes it; several separated by
    /// spaces or commas): where no syslog daemon writes the mail log.
    /// Dovecot's units alone (`dovecot*`) are a login log beside an MTA's
    /// own file.
    #[serde(default)]
    pub(crate) journal: Option<String>,
    /// Journal files to read instead of the system journal (`journalctl
    /// --directory`): a container's, or another machine's.
    #[serde(default)]
    pub(crate) journal_directory: Option<PathBuf>,
    /// `exim`, `postfix` or `auto`.
    #[serde(default = "auto")]
    pub(crate) format: String,
    /// Exim's spool directory: the -H file of each local submission is
    /// read on arrival for the script headers (X-Source-Args,
    /// X-PHP-Originating-Script).
    #[serde(default)]
    pub(crate) exim_spool: Option<PathBuf>,
    /// The `[[server]]` this log belongs to (default: the first one).
    #[serde(default)]
    pub(crate) server: Option<String>,
    /// The time zone this log writes its times in, when it is not
    /// `[ingest] timezone` (a log of another server).
    #[serde(default)]
    pub(crate) timezone: Option<String>,
}

fn auto() -> String {
    "auto".into()
}

impl LogConfig {
    /// What the store and status call this log: its path, or
    /// `journal:UNITS`.
    pub(crate) fn key(&self) -> String {
        match &self.journal {
            Some(units) => format!("journal:{units}"),
            None => self.path.display().to_string(),
        }
    }

    /// Whether the daemon takes this log for a login log: its journal
    /// units are Dovecot's alone, or its file's first lines are
    /// Dovecot's and none an MTA's. `None` while the file tells neither.
    pub(crate) fn login_log_kind(&self) -> Option<bool> {
        match &self.journal {
            Some(units) => Some(crate::journal::dovecot_only(units)),
            None => crate::cmd::logs::login_log_kind(&self.path),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestConfig {
    /// How often the logs are read.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub(crate) poll: Duration,
    /// Lines read per poll and log (0: all there is). A limit keeps a large
    /// backlog from hogging a busy server's CPU.
    #[serde(default)]
    pub(crate) max_lines: usize,
    /// A message all of whose recipients were tried, one or more deferred,
    /// is judged after this long without a line of its own, not when it
    /// leaves the queue days later: a burst the remote side defers is
    /// caught while it runs. The time is the log's, and while the log is
    /// quiet the time that passed on this machine's clock. Every
    /// recipient's first fate is logged within seconds; the first retry
    /// comes minutes later (Postfix's minimal_backoff_time is 300 s,
    /// Exim's default retry rule 15 min).
    #[serde(default = "default_settle_deferred", with = "humantime_serde")]
    pub(crate) settle_deferred: Duration,
    /// How often each sender's changed detector state (windows, history,
    /// complaints) is written to the store. A restart reads them back and
    /// replays the messages stored since, so this only trades writes
    /// against the replay at start.
    #[serde(default = "default_save_senders", with = "humantime_serde")]
    pub(crate) save_senders: Duration,
    /// How long the state of a sender that stopped sending is kept in the
    /// store, so its history counts when it comes back.
    #[serde(default = "default_keep_senders", with = "humantime_serde")]
    pub(crate) keep_senders: Duration,
    /// How long stored messages are kept (by the logs' clock): the
    /// evidence behind verdicts and incidents, and what complaints are
    /// matched to. Older ones are deleted a batch at a time.
    #[serde(default = "default_keep_messages", with = "humantime_serde")]
    pub(crate) keep_messages: Duration,
    /// The IANA time zone (`America/Chicago`) the mail logs write their
    /// wall-clock times in; default: this machine's. Times are kept in
    /// UTC, like listings and complaints.
    #[serde(default)]
    pub(crate) timezone: Option<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            poll: default_poll(),
            max_lines: 0,
            settle_deferred: default_settle_deferred(),
            save_senders: default_save_senders(),
            keep_senders: default_keep_senders(),
            keep_messages: default_keep_messages(),
            timezone: None,
        }
    }
}

fn default_settle_deferred() -> Duration {
    Duration::from_secs(120)
}

fn default_save_senders() -> Duration {
    Duration::from_secs(60)
}

fn default_keep_senders() -> Duration {
    Duration::from_secs(90 * 86_400)
}

fn default_keep_messages() -> Duration {
    Duration::from_secs(30 * 86_400)
}

fn default_poll() -> Duration {
    Duration::from_secs(2)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DnsConfig {
    /// Your own recursive resolver, `IP` or `IP:PORT`; unset means the
    /// first nameserver of /etc/resolv.conf.
    #[serde(default)]
    pub(crate) nameserver: Option<String>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
    #[serde(default = "default_tries")]
    pub(crate) tries: u32,
    #[serde(default = "default_concurrency")]
    pub(crate) concurrency: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameserver: None,
            timeout: default_timeout(),
            tries: default_tries(),
            concurrency: default_concurrency(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_tries() -> u32 {
    2
}
fn default_concurrency() -> usize {
    64
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorConfig {
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub(crate) interval: Duration,
    /// List ids to watch; empty means the catalog's default set.
    #[serde(default)]
    pub(crate) lists: Vec<String>,
    #[serde(default = "one")]
    pub(crate) listed_after: u32,
    #[serde(default = "two")]
    pub(crate) clean_after: u32,
    #[serde(default = "yes")]
    pub(crate) self_test: bool,
    /// Queries per second per list id, over the catalog's polite rate.
    #[serde(default)]
    pub(crate) rate_limits: BTreeMap<String, f64>,
    /// A block seen only in remote replies (Microsoft, Gmail, Yahoo, a
    /// list in a bounce) ends after this long without another such reply.
    #[serde(default = "default_remote_quiet", with = "humantime_serde")]
    pub(crate) remote_quiet: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: default_interval(),
            lists: Vec::new(),
            listed_after: 1,
            clean_after: 2,
            self_test: true,
            rate_limits: BTreeMap::new(),
            remote_quiet: default_remote_quiet(),
        }
    }
}

fn default_remote_quiet() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_interval() -> Duration {
    Duration::from_secs(15 * 60)
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerConfig {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) ips: Vec<String>,
    #[serde(default)]
    pub(crate) helo: Option<String>,
    #[serde(default)]
    pub(crate) domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsConfig {
    #[serde(default)]
    pub(crate) webhook: Option<WebhookConfig>,
    #[serde(default)]
    pub(crate) email: Option<EmailConfig>,
    /// A Slack-compatible incoming webhook (`{"text": ...}`; Mattermost
    /// and Rocket.Chat take the same).
    #[serde(default)]
    pub(crate) slack: Option<WebhookConfig>,
    /// Delivery attempts before an alert is abandoned. A channel that
    /// failed is tried again after 30 s, doubled at each failure in a
    /// row up to 15 minutes: 20 attempts span about four hours.
    #[serde(default = "default_attempts")]
    pub(crate) max_attempts: i64,
    /// The same alert (one listing's `listed`, one sender's `spamming`, one
    /// hold's change, one incident's move) goes out at most once per this
    /// on each channel; those held back are counted in the next one.
    #[serde(default = "default_repeat_after", with = "humantime_serde")]
    pub(crate) repeat_after: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook: None,
            email: None,
            slack: None,
            max_attempts: default_attempts(),
            repeat_after: default_repeat_after(),
        }
    }
}

impl AlertsConfig {
    /// The channel names alerts are queued on.
    pub(crate) fn channels(&self) -> Vec<String> {
        let mut c = Vec::new();
        if self.webhook.is_some() {
            c.push(crate::alert::WEBHOOK.to_string());
        }
        if self.email.is_some() {
            c.push(crate::alert::EMAIL.to_string());
        }
        if self.slack.is_some() {
            c.push(crate::alert::SLACK.to_string());
        }
        c
    }
}

fn default_repeat_after() -> Duration {
    Duration::from_secs(3600)
}

fn default_attempts() -> i64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookConfig {
    pub(crate) url: String,
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SmtpTls {
    /// STARTTLS when offered, plain otherwise (a local relay).
    #[default]
    Opportunistic,
    /// STARTTLS or fail.
    Starttls,
    /// TLS from the first byte (port 465).
    Wrapper,
    /// Never encrypt (loopback relays only).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailConfig {
    /// `host` or `host:port` of the relay; port 25 when omitted.
    pub(crate) smtp: String,
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    #[serde(default)]
    pub(crate) tls: SmtpTls,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

impl EmailConfig {
    pub(crate) fn host_port(&self) -> (String, u16) {
        match self.smtp.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => (
                h.trim_matches(['[', ']']).to_string(),
                p.parse().unwrap_or(25),
            ),
            _ => (self.smtp.clone(), 25),
        }
    }
}

impl Config {
    /// The `[[server]]` a log of `server` belongs to: its own, else the
    /// first one.
    pub(crate) fn server_of(&self, server: Option<&str>) -> Option<String> {
        (server.map(str::to_string)).or_else(|| self.servers.first().map(|s| s.name.clone()))
    }

    /// The zone mail logs write their wall-clock times in: `log`'s own,
    /// else `[ingest] timezone`, else this machine's.
    pub(crate) fn log_zone(&self, log: Option<&LogConfig>) -> Result<maillog::time::Zone> {
        match log
            .and_then(|l| l.timezone.as_deref())
            .or(self.ingest.timezone.as_deref())
        {
            Some(name) => maillog::time::Zone::named(name).map_err(anyhow::Error::msg),
            None => Ok(maillog::time::Zone::system().unwrap_or_else(|e| {
                tracing::warn!("{e}; logs without an offset are read as UTC (set ingest.timezone)");
                maillog::time::Zone::utc()
            })),
        }
    }

    /// Reads and parses a config file (syntax and types only).
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config {} is invalid", path.display()))
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Every semantic problem at once, each naming where it is.
    pub(crate) fn problems(&self, catalog: &Catalog) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ns) = &self.dns.nameserver
            && parse_nameserver(ns).is_err()
        {
            out.push(format!("dns.nameserver: `{ns}` is not IP or IP:PORT"));
        }
        if self.dns.tries == 0 {
            out.push("dns.tries: must be at least 1".into());
        }
        if self.dns.concurrency == 0 {
            out.push("dns.concurrency: must be at least 1".into());
        }
        if self.dns.timeout.is_zero() {
            out.push("dns.timeout: must be more than 0".into());
        }
        for (key, value) in [
            ("listen", &self.enforce.policy.listen),
            ("milter", &self.enforce.policy.milter),
        ] {
            if let Some(l) = value
                && l.parse::<enforce::server::Listen>().is_err()
            {
                out.push(format!(
                    "enforce.policy.{key}: `{l}` is not ADDR:PORT or unix:/path"
                ));
            }
        }
        for a in &self.enforce.allow {
            if let Err(e) = a.parse::<enforce::Subject>() {
                out.push(format!("enforce.allow: {e}"));
            }
        }
        for zone in std::iter::once(&self.ingest.timezone)
            .chain(self.logs.iter().map(|l| &l.timezone))
            .flatten()
        {
            if let Err(e) = maillog::time::Zone::named(zone) {
                out.push(format!("timezone: {e}"));
            }
        }
        // The detector looks this far back; a restart without saved
        // sender states rebuilds from the messages of that span.
        let d = &self.detect;
        let memory =
            d.window.max(d.login_window).max(d.complaint_window) + Duration::from_secs(86_400);
        for (key, value) in [
            ("keep_senders", self.ingest.keep_senders),
            ("keep_messages", self.ingest.keep_messages),
        ] {
            if value < memory {
                out.push(format!(
                    "ingest.{key}: must be at least {} (the longest detect window and a day)",
                    humantime::format_duration(memory)
                ));
            }
        }
        if self.monitor.interval < Duration::from_secs(1) {
            out.push("monitor.interval: must be at least 1s".into());
        }
        for id in &self.monitor.lists {
            match catalog.get(id) {
                None if id != "all" => out.push(format!("monitor.lists: no list has id `{id}`")),
                Some(l) if !l.is_active() => out.push(format!(
                    "monitor.lists: `{id}` is defunct ({}) and will never be queried",
                    l.defunct.as_deref().unwrap_or("dead")
                )),
                Some(l) if l.zone.contains("{key}") => {
                    let key = l.query.key.as_deref().unwrap_or(&l.id);
                    if !self.keys.contains_key(key) {
                        out.push(format!("monitor.lists: `{id}` needs a key; set keys.{key}"));
                    }
                }
                Some(_) | None => {}
            }
        }
        for (id, qps) in &self.monitor.rate_limits {
            if catalog.get(id).is_none() {
                out.push(format!("monitor.rate_limits: no list has id `{id}`"));
            }
            if qps.is_nan() || *qps <= 0.0 {
                out.push(format!("monitor.rate_limits.{id}: must be more than 0"));
            }
        }
        let mut names = BTreeSet::new();
        for (i, s) in self.servers.iter().enumerate() {
            let at = format!("server[{i}] `{}`", s.name);
            if s.name.trim().is_empty() {
                out.push(format!("server[{i}]: name is empty"));
            }
            if !names.insert(s.name.clone()) {
                out.push(format!("{at}: the name is used twice"));
            }
            if s.ips.is_empty() && s.domains.is_empty() && s.helo.is_none() {
                out.push(format!("{at}: nothing to watch (no ips, helo or domains)"));
            }
            for ip in &s.ips {
                if ip.parse::<IpAddr>().is_err() {
                    out.push(format!("{at}: ips: `{ip}` is not an IP address"));
                }
            }
            for d in s.helo.iter().chain(&s.domains) {
                match Target::parse(d) {
                    Ok(Target::Domain(_)) => {}
                    Ok(_) => out.push(format!("{at}: `{d}` is an IP address, not a name")),
                    Err(e) => out.push(format!("{at}: {e}")),
                }
            }
        }
        if let Some(w) = &self.alerts.webhook
            && !(w.url.starts_with("http://") || w.url.starts_with("https://"))
        {
            out.push(format!(
                "alerts.webhook.url: `{}` must be an http or https URL",
                w.url
            ));
        }
        if let Some(e) = &self.alerts.email {
            if e.to.is_empty() {
                out.push("alerts.email.to: no recipients".into());
            }
            for a in std::iter::once(&e.from).chain(&e.to) {
                if a.parse::<lettre::Address>().is_err() {
                    out.push(format!("alerts.email: `{a}` is not an e-mail address"));
                }
            }
            if e.username.is_some() != e.password.is_some() {
                out.push("alerts.email: set both username and password, or neither".into());
            }
        }
        for (i, l) in self.logs.iter().enumerate() {
            if !matches!(l.format.as_str(), "auto" | "exim" | "postfix") {
                out.push(format!(
                    "log[{i}] `{}`: format must be exim, postfix or auto",
                    l.path.display()
                ));
            }
            match (&l.journal, l.path.as_os_str().is_empty()) {
                (None, true) => out.push(format!("log[{i}]: give a path or a journal")),
                (Some(_), false) => {
                    out.push(format!("log[{i}]: give a path or a journal, not both"))
                }
                (Some(u), true) if crate::journal::units(u).next().is_none() => {
                    out.push(format!("log[{i}]: journal names no unit"))
                }
                _ => {}
            }
            if l.journal_directory.is_some() && l.journal.is_none() {
                out.push(format!("log[{i}]: journal_directory needs journal"));
            }
            // A copy of another followed log's lines counts them twice.
            let (kind, why) = maillog::names::kind(&l.path);
            let fuller = self.logs.iter().any(|o| {
                o.server == l.server
                    && o.journal.is_none()
                    && maillog::names::kind(&o.path).0 < kind
            });
            if l.journal.is_none() && fuller {
                out.push(format!(
                    "log[{i}] `{}`: {why}; following both counts its lines twice (remove it)",
                    l.path.display()
                ));
            }
        }
        if self.ingest.poll.is_zero() {
            out.push("ingest.poll: must be more than 0".into());
        }
        if self.ingest.settle_deferred.as_secs() < 1 {
            out.push("ingest.settle_deferred: must be at least 1s".into());
        }
        if self.alerts.max_attempts < 1 {
            out.push("alerts.max_attempts: must be at least 1".into());
        }
        out
    }

    /// Each distinct target and the servers that own it.
    pub(crate) fn targets(&self) -> BTreeMap<Target, Vec<String>> {
        let mut map: BTreeMap<Target, Vec<String>> = BTreeMap::new();
        for s in &self.servers {
            let all = s.ips.iter().chain(s.helo.iter()).chain(&s.domains);
            for t in all.filter_map(|x| Target::parse(x).ok()) {
                let owners = map.entry(t).or_default();
                if !owners.contains(&s.name) {
                    owners.push(s.name.clone());
                }
            }
        }
        map
    }

    /// Per-zone rate limits: the catalog's polite rate, overridden by the
    /// config's, keyed by resolved zone.
    pub(crate) fn zone_qps(&self, lists: &[blocklists::PreparedList]) -> HashMap<String, f64> {
        lists
            .iter()
            .filter_map(|p| {
                let qps = self
                    .monitor
                    .rate_limits
                    .get(&p.list.id)
                    .copied()
                    .or(p.list.query.qps)?;
                Some((p.zone.clone(), qps))
            })
            .collect()
    }
}

/// `IP` or `IP:PORT` (IPv6 as `[IP]:PORT`), port 53 by default.
pub(crate) fn parse_nameserver(s: &str) -> Result<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let ip: IpAddr = s
        .trim_matches(['[', ']'])
        .parse()
        .with_context(|| format!("`{s}` is not a nameserver address (IP or IP:PORT)"))?;
    Ok(SocketAddr::new(ip, 53))
}

/// The first nameserver of /etc/resolv.conf, else 127.0.0.1:53.
pub(crate) fn system_nameserver() -> SocketAddr {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver"))
                    .then(|| w.next().and_then(|a| parse_nameserver(a).ok()))
                    .flatten()
            })
        })
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_is_clean() {
        let c = Config::parse(EXAMPLE).unwrap();
        let problems = c.problems(&Catalog::builtin().unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!c.servers.is_empty());
        assert_eq!(c.monitor.interval, Duration::from_secs(15 * 60));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::parse("[monitor]\nintervall = \"5m\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("intervall"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let c = Config::parse(
            r#"
            [dns]
            nameserver = "resolver"
            [monitor]
            lists = ["nope", "sorbs", "spamhaus-zen-dqs"]
            [[server]]
            name = "mx1"
            ips = ["999.1.1.1"]
            helo = "-bad"
            [[server]]
            name = "mx1"
            [alerts.email]
            smtp = "127.0.0.1"
            from = "not an address"
            to = []
            [ingest]
            keep_messages = "2d"
            "#,
        )
        .unwrap();
        let p = c.problems(&Catalog::builtin().unwrap());
        let all = p.join("\n");
        for needle in [
            "dns.nameserver",
            "`nope`",
            "`sorbs` is defunct",
            "keys.spamhaus-dqs",
            "`999.1.1.1`",
            "-bad",
            "used twice",
            "nothing to watch",
            "no recipients",
            "not an e-mail address",
            "ingest.keep_messages: must be at least 8days",
        ] {
            assert!(all.contains(needle), "missing {needle} in:\n{all}");
        }
    }

    #[test]
    fn a_followed_log_that_copies_another_is_refused() {
        let c = Config::parse(
            r#"
            [[log]]
            path = "/var/log/exim_mainlog"
            [[log]]
            path = "/var/log/exim_rejectlog"
            [[log]]
            path = "/srv/other/paniclog"
            server = "other"
            "#,
        )
        .unwrap();
        let p = c.problems(&Catalog::builtin().unwrap());
        let copies: Vec<&String> = p.iter().filter(|m| m.contains("twice")).collect();
        assert_eq!(copies.len(), 1, "{p:?}");
        assert!(copies[0].starts_with("log[1] `/var/log/exim_rejectlog`: Exim's reject log"));
    }

    #[test]
    fn nameserver_forms() {
        assert_eq!(parse_nameserver("127.0.0.1").unwrap().port(), 53);
        assert_eq!(parse_nameserver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_nameserver("[::1]:5353").unwrap().port(), 5353);
        assert_eq!(parse_nameserver("::1").unwrap().port(), 53);
        assert!(parse_nameserver("dns.example").is_err());
    }
}
