//! `policyload`: drives a Postfix SMTPD access policy service the way
//! Postfix's smtpd processes do — each connection sends one request, waits
//! for the `action=` answer, sends the next — with N connections at once,
//! for a fixed time. Prints one JSON object: requests per second, latency
//! percentiles, and how many answers of each action came back, so two
//! services given the same rules can be compared like for like.
//!
//! `policyload --serve-dunno ADDR` is the ceiling to compare with: a
//! server that reads each request to its empty line and answers
//! `action=DUNNO` without looking at it — the same sockets, runtime and
//! kernel path as a real service, none of its work.
//!
//! Only loopback addresses are accepted (the benchmark never leaves the
//! machine).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// The service, on loopback.
    #[arg(long, required_unless_present = "serve_dunno")]
    addr: Option<SocketAddr>,
    /// Instead of loading a service, be the do-nothing ceiling server.
    #[arg(long, value_name = "ADDR")]
    serve_dunno: Option<SocketAddr>,
    /// Connections at once.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Distinct SASL users the requests cycle through.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// One in this many requests comes from a held user (`held@…`).
    #[arg(long, default_value_t = 100)]
    held_every: usize,
}

fn request(n: usize, args: &Args) -> String {
    let user = if args.held_every > 0 && n.is_multiple_of(args.held_every) {
        "held@bench.example".to_string()
    } else {
        format!("user{}@bench.example", n % args.users.max(1))
    };
    format!(
        "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nprotocol_name=ESMTP\nclient_address=127.0.0.{}\nclient_name=localhost\nhelo_name=client.example\nsender={user}\nrecipient=\nrecipient_count=1\nqueue_id=\ninstance={n:x}.{}\nsize=1200\nsasl_method=PLAIN\nsasl_username={user}\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nencryption_protocol=\nencryption_cipher=\nencryption_keysize=0\netrn_domain=\n\n",
        n % 250 + 2,
        n
    )
}

struct Outcome {
    latencies_us: Vec<u32>,
    actions: BTreeMap<String, u64>,
    errors: u64,
}

async fn connection(id: usize, args: &Args, until: Instant) -> Outcome {
    let mut out = Outcome {
        latencies_us: Vec::new(),
        actions: BTreeMap::new(),
        errors: 0,
    };
    let Some(addr) = args.addr else {
        return out;
    };
    let Ok(stream) = TcpStream::connect(addr).await else {
        out.errors += 1;
        return out;
    };
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut n = id;
    let mut line = String::new();
    while Instant::now() < until {
        let req = request(n, args);
        n += args.connections;
        let t = Instant::now();
        if wr.write_all(req.as_bytes()).await.is_err() {
            out.errors += 1;
            break;
        }
        line.clear();
        match rd.read_line(&mut line).await {
            Ok(0) | Err(_) => {
                out.errors += 1;
                break;
            }
            Ok(_) => {}
        }
        let mut blank = String::new();
        if rd.read_line(&mut blank).await.is_err() {
            out.errors += 1;
            break;
        }
        out.latencies_us
            .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        let verb = line
            .trim()
            .strip_prefix("action=")
            .unwrap_or("?")
            .split(' ')
            .next()
            .unwrap_or("?")
            .to_ascii_uppercase();
        *out.actions.entry(verb).or_default() += 1;
    }
    out
}

/// Answers every request with DUNNO, reading it only to its empty line.
async fn serve_dunno(addr: SocketAddr) -> Result<()> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", l.local_addr()?);
    loop {
        let (s, _) = l.accept().await?;
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut rd = BufReader::new(s);
            let mut line = String::new();
            loop {
                line.clear();
                match rd.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\n" => {
                        if rd.get_mut().write_all(b"action=DUNNO\n\n").await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                }
            }
        });
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    for a in args.addr.iter().chain(&args.serve_dunno) {
        if !a.ip().is_loopback() {
            bail!("{a} is not a loopback address");
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    if let Some(a) = args.serve_dunno {
        return rt.block_on(serve_dunno(a));
    }
    let args: &'static Args = Box::leak(Box::new(args));
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(args.seconds);
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|i| tokio::spawn(connection(i, args, until)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(o) = t.await {
                all.push(o);
            }
        }
        all
    });
    let wall = start.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = results
        .iter()
        .flat_map(|o| o.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[i] as f64 / 1000.0
    };
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    for o in &results {
        for (k, v) in &o.actions {
            *actions.entry(k.clone()).or_default() += v;
        }
    }
    let errors: u64 = results.iter().map(|o| o.errors).sum();
    let report = serde_json::json!({
        "connections": args.connections,
        "seconds": wall,
        "requests": lat.len(),
        "rps": lat.len() as f64 / wall,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "actions": actions,
        "errors": errors,
    });
    println!("{report}");
    Ok(())
}
