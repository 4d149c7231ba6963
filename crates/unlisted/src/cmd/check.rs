//! `unlisted check`: look targets up on blocklists now.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use blocklists::{
    CheckOptions, Checker, DnsClient, DnsOptions, ListResult, PreparedList, Status, Target,
    TargetReport,
};
use serde::Serialize;

use crate::Global;
use crate::config::{parse_nameserver, system_nameserver};
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// IPv4 or IPv6 addresses, or domain names.
    #[arg(value_name = "TARGET", allow_hyphen_values = true)]
    targets: Vec<String>,
    /// Read more targets from a file, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    /// Resolver to ask, IP or IP:PORT; your own recursive resolver.
    #[arg(long, env = "UNLISTED_NAMESERVER", value_name = "IP[:PORT]")]
    nameserver: Option<String>,
    /// List ids to query (comma-separated); `all` for every live list.
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    lists: Vec<String>,
    /// JSON Lines on stdout, one object per target.
    #[arg(long)]
    json: bool,
    /// Show clean lists too, not only listed and failed ones.
    #[arg(long)]
    all: bool,
    /// Deadline of one DNS try.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Option<Duration>,
    /// Tries per query.
    #[arg(long, value_name = "N")]
    tries: Option<u32>,
    /// Lookups in flight at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Skip the RFC 5782 self-test of each zone.
    #[arg(long)]
    no_self_test: bool,
    /// Do not fetch TXT reasons.
    #[arg(long)]
    no_txt: bool,
}

#[derive(Serialize)]
struct TargetJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    target: String,
    kind: &'static str,
    listed: bool,
    complete: bool,
    results: &'a [ListResult],
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    target: &'a str,
    error: String,
}

/// Targets in order: the command line, then `--from-file` read lazily, so
/// memory does not grow with the file. Each comes with where it was.
fn target_lines(a: &Args) -> Result<impl Iterator<Item = Result<(String, String)>> + '_> {
    let file = match &a.from_file {
        Some(p) => Some((
            p,
            std::io::BufReader::new(
                std::fs::File::open(p)
                    .with_context(|| format!("cannot read targets from {}", p.display()))?,
            ),
        )),
        None => None,
    };
    let args = a
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| Ok((format!("argument {}", i + 1), t.clone())));
    let lines = file.into_iter().flat_map(|(path, reader)| {
        std::io::BufRead::lines(reader)
            .enumerate()
            .filter_map(move |(n, line)| match line {
                Ok(l) => {
                    let t = l.split('#').next().unwrap_or("").trim().to_string();
                    (!t.is_empty()).then(|| Ok((format!("{}:{}", path.display(), n + 1), t)))
                }
                Err(e) => Some(Err(anyhow::Error::new(e).context(format!(
                    "cannot read {}:{}",
                    path.display(),
                    n + 1
                )))),
            })
    });
    Ok(args.chain(lines))
}

pub(crate) async fn run(g: &Global, a: Args) -> Result<Exit> {
    let (config, config_path) = super::load_config(g)?;
    let catalog = super::load_catalog(g, &config, config_path.as_deref().and_then(|p| p.parent()))?;

    // A first pass learns which kinds of target there are (for the zone
    // self-tests) and how many (for the progress bar); the second streams.
    let (mut given, mut good) = (0usize, 0usize);
    let mut kinds = BTreeSet::new();
    for item in target_lines(&a)? {
        let (_, text) = item?;
        given += 1;
        if let Ok(t) = Target::parse(&text) {
            good += 1;
            kinds.insert(t.kind());
        }
    }
    if given == 0 {
        bail!("no targets given; name IPs or domains, or use --from-file");
    }

    let sel = catalog.select(&a.lists, &config.keys);
    if !sel.unknown.is_empty() {
        bail!(
            "no list has id {}; see `unlisted lists`",
            sel.unknown
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    super::warn_unqueried(&sel);
    let lists: Vec<PreparedList> = sel.lists.into_iter().map(PreparedList::from).collect();
    if lists.is_empty() {
        bail!("no list left to query");
    }

    let nameserver = match a.nameserver.as_deref().or(config.dns.nameserver.as_deref()) {
        Some(ns) => parse_nameserver(ns)?,
        None => system_nameserver(),
    };
    if let Some(who) = blocklists::resolvers::public_resolver(nameserver.ip()) {
        output::warning(&format!(
            "{} is a public resolver ({who}); Spamhaus, URIBL, SURBL and Barracuda refuse or mislead queries from public resolvers, so their answers will be errors",
            nameserver.ip()
        ));
        output::hint("use your own recursive resolver (Unbound, Knot Resolver) with --nameserver");
    }

    let dns = DnsOptions {
        nameserver,
        timeout: a.timeout.unwrap_or(config.dns.timeout),
        tries: a.tries.unwrap_or(config.dns.tries).max(1),
        sockets: 4,
    };
    let client = DnsClient::new(dns)
        .await
        .with_context(|| format!("cannot open a UDP socket to reach {nameserver}"))?;
    let opts = CheckOptions {
        concurrency: a.concurrency.unwrap_or(config.dns.concurrency).max(1),
        self_test: !a.no_self_test,
        fetch_txt: !a.no_txt,
        ..CheckOptions::default()
    };
    let checker = Checker::new(client, lists, opts);
    if !a.no_self_test {
        for h in checker
            .self_test(&kinds.into_iter().collect::<Vec<_>>())
            .await
        {
            if let Some(p) = h.problem {
                output::warning(&format!(
                    "{} ({}) failed its {} self-test; its verdicts are suppressed: {p}",
                    h.list, h.zone, h.kind
                ));
            }
        }
    }

    let progress = (!a.json && good > 1 && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .then(|| {
            let pb = indicatif::ProgressBar::new(good as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} targets {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });

    let (mut listed, mut incomplete) = (false, false);
    let mut write_err: Option<anyhow::Error> = None;
    let mut bad_input = false;
    let mut read_err = None;
    let json = a.json;
    let targets = target_lines(&a)?.map_while(|item| match item {
        Ok(x) => Some(x),
        Err(e) => {
            read_err = Some(e);
            None
        }
    });
    let targets = targets.map(|(place, text)| {
        Target::parse(&text).map_err(|e| {
            // A bad argument names itself; an empty one, or a bad file line,
            // also says where it was.
            let shown = if place.starts_with("argument ") && !text.trim().is_empty() {
                e.to_string()
            } else {
                format!("{place}: {e}")
            };
            (text, shown)
        })
    });
    checker
        .check_all(targets, |item| {
            let report = match item {
                Ok(r) => r,
                Err((text, shown)) => {
                    bad_input = true;
                    output::error(&shown);
                    if json && write_err.is_none() {
                        write_err = output::json(&ErrorJson {
                            ty: "error",
                            target: &text,
                            error: shown,
                        })
                        .err();
                    }
                    return;
                }
            };
            listed |= report.listed();
            incomplete |= !report.complete();
            if write_err.is_some() {
                return;
            }
            let res = if a.json {
                output::json(&TargetJson {
                    ty: "target",
                    target: report.target.to_string(),
                    kind: report.target.kind().as_str(),
                    listed: report.listed(),
                    complete: report.complete(),
                    results: &report.results,
                })
            } else {
                let text = render(&report, a.all);
                match &progress {
                    Some(pb) => {
                        pb.inc(1);
                        pb.suspend(|| output::line(&text)).map_err(Into::into)
                    }
                    None => output::line(&text).map_err(Into::into),
                }
            };
            write_err = res.err();
        })
        .await;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if let Some(e) = write_err {
        return Err(e);
    }
    if let Some(e) = read_err {
        return Err(e);
    }
    Ok(if listed {
        Exit::Found
    } else if incomplete || bad_input {
        Exit::Failed
    } else {
        Exit::Clean
    })
}

/// The human view of one target: a headline, then the listed and failed
/// lists with what they mean and how to get off them.
pub(crate) fn render(r: &TargetReport, show_clean: bool) -> String {
    let count = |s: Status| r.results.iter().filter(|x| x.status == s).count();
    let (listed, errors, unknown, clean) = (
        count(Status::Listed),
        count(Status::Error),
        count(Status::Unknown),
        count(Status::Clean),
    );
    let mut head = format!("{} ({})", r.target, r.target.kind());
    if listed > 0 {
        head.push_str(&format!(
            ": LISTED on {listed} of {} lists",
            r.results.len()
        ));
    } else if errors + unknown == 0 {
        head.push_str(&format!(": clean on all {} lists", r.results.len()));
    } else {
        head.push_str(&format!(": not listed on the {clean} lists that answered"));
    }
    if errors + unknown > 0 {
        head.push_str(&format!(
            "; {} without an answer (incomplete)",
            errors + unknown
        ));
    }
    let mut out = vec![head];
    let order = [
        Status::Listed,
        Status::Error,
        Status::Unknown,
        Status::Clean,
    ];
    let id_w = r.results.iter().map(|x| x.list.len()).max().unwrap_or(0);
    for status in order {
        if status == Status::Clean && !show_clean {
            continue;
        }
        for x in r.results.iter().filter(|x| x.status == status) {
            let codes = if x.codes.is_empty() {
                "-".to_string()
            } else {
                x.codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            out.push(format!(
                "  {:<8} {:<id_w$}  {:<28} {}",
                x.status.as_str(),
                x.list,
                x.zone,
                codes
            ));
            for m in &x.meanings {
                if status == Status::Listed || status == Status::Clean {
                    out.push(format!("           {m}"));
                }
            }
            if let Some(e) = &x.error {
                out.push(format!("           {e}"));
            }
            for t in &x.txt {
                out.push(format!("           txt: {t}"));
            }
            if let Some(d) = &x.delisting {
                out.push(format!("           delisting: {}", d.summary()));
            }
        }
    }
    if !show_clean && clean > 0 && (listed + errors + unknown) > 0 {
        out.push(format!("  ({clean} clean; --all shows them)"));
    }
    out.join("\n")
}
