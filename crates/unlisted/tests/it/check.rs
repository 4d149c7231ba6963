//! `unlisted check` against a real rbldnsd: every status a result can have.

use testsupport::{SilentDns, TempDir};

use crate::{blocklist_server, json_lines, stderr, stdout, unlisted};

/// `unlisted check --json` against `dns` on `lists`.
fn check_json(dns: &testsupport::Rbldnsd, lists: &str, targets: &[&str]) -> std::process::Output {
    let dir = TempDir::new("check");
    let ns = dns.addr();
    let mut args = vec!["check", "--nameserver", &ns, "--lists", lists, "--json"];
    args.extend_from_slice(targets);
    unlisted(dir.path(), &args)
}

fn result(target: &serde_json::Value, list: &str) -> serde_json::Value {
    target["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["list"] == list)
        .cloned()
        .unwrap_or_else(|| panic!("no result for {list} in {target}"))
}

#[test]
fn listed_ip_gets_codes_meanings_txt_and_delisting_route() {
    let dns = blocklist_server();
    let o = check_json(&dns, "spamcop,spamhaus-zen", &["192.0.2.99"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    let t = &lines[0];
    assert_eq!(t["type"], "target");
    assert_eq!(t["kind"], "ipv4");
    assert_eq!(t["listed"], true);
    assert_eq!(t["complete"], true);
    let sc = result(t, "spamcop");
    assert_eq!(sc["status"], "listed");
    assert_eq!(sc["zone"], "bl.spamcop.net");
    assert_eq!(sc["codes"], serde_json::json!(["127.0.0.2"]));
    assert_eq!(
        sc["txt"][0],
        "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.99"
    );
    assert_eq!(sc["delisting"]["routes"], serde_json::json!(["expiry"]));
    assert!(sc["error"].is_null());
    // Two datasets of one zone: rbldnsd answers both codes, each with its meaning.
    let zen = result(t, "spamhaus-zen");
    assert_eq!(zen["status"], "listed");
    assert_eq!(zen["codes"], serde_json::json!(["127.0.0.2", "127.0.0.10"]));
    let meanings = zen["meanings"].to_string();
    assert!(
        meanings.contains("SBL") && meanings.contains("PBL"),
        "{meanings}"
    );
}

#[test]
fn clean_ip_is_clean_and_complete_with_exit_0() {
    let dns = blocklist_server();
    let o = check_json(&dns, "spamcop,spamhaus-zen", &["192.0.2.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &json_lines(&o)[0];
    assert_eq!(t["listed"], false);
    assert_eq!(t["complete"], true);
    for r in t["results"].as_array().unwrap() {
        assert_eq!(r["status"], "clean", "{r}");
    }
}

#[test]
fn spamhaus_open_resolver_code_is_an_error_never_a_listing() {
    let dns = blocklist_server();
    let o = check_json(&dns, "spamhaus-zen", &["192.0.2.98"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let t = &json_lines(&o)[0];
    assert_eq!(t["listed"], false);
    assert_eq!(t["complete"], false);
    let zen = result(t, "spamhaus-zen");
    assert_eq!(zen["status"], "error");
    assert_eq!(zen["codes"], serde_json::json!(["127.255.255.254"]));
    assert!(
        zen["error"]
            .as_str()
            .unwrap()
            .contains("use your own recursive resolver")
            || zen["error"]
                .as_str()
                .unwrap()
                .contains("own recursive resolver")
    );
    // The operator's TXT explains the refusal, so it is fetched for errors too.
    assert!(zen["txt"][0].as_str().unwrap().contains("open resolver"));
}

#[test]
fn answer_outside_the_lists_codes_is_unknown() {
    let dns = blocklist_server();
    let o = check_json(&dns, "spamcop", &["192.0.2.77"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let sc = result(&json_lines(&o)[0], "spamcop");
    assert_eq!(sc["status"], "unknown");
    assert_eq!(sc["codes"], serde_json::json!(["92.242.132.24"]));
    assert!(sc["error"].as_str().unwrap().contains("rewrites"));
}

#[test]
fn wildcard_zone_fails_its_self_test_and_lists_nobody() {
    let dns = blocklist_server();
    let o = check_json(&dns, "s5h,spamcop", &["192.0.2.1", "192.0.2.99"]);
    // 192.0.2.99 is really listed on spamcop, so the exit code is 1; but the
    // wildcard zone's "listing" of both targets must not count.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    for t in &lines {
        let s5h = result(t, "s5h");
        assert_eq!(s5h["status"], "error", "{s5h}");
        assert!(s5h["error"].as_str().unwrap().contains("self-test"));
        assert!(s5h["error"].as_str().unwrap().contains("127.0.0.1"));
    }
    assert_eq!(lines[0]["target"], "192.0.2.1");
    assert_eq!(lines[0]["listed"], false);
    assert!(stderr(&o).contains("s5h (all.s5h.net) failed its ipv4 self-test"));
}

#[test]
fn ipv6_targets_use_32_nibbles() {
    let dns = blocklist_server();
    let o = check_json(&dns, "spamhaus-zen", &["2001:db8::99", "2001:db8::1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["kind"], "ipv6");
    assert_eq!(result(&lines[0], "spamhaus-zen")["status"], "listed");
    assert_eq!(result(&lines[1], "spamhaus-zen")["status"], "clean");
}

#[test]
fn domain_lists_answer_for_domains_only() {
    let dns = blocklist_server();
    let o = check_json(
        &dns,
        "spamhaus-dbl,uribl,spamcop",
        &["spam.example", "good.example", "refused.example"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let spam = &lines[0];
    assert_eq!(spam["kind"], "domain");
    // spamcop is an IP list: it is not asked about domains at all.
    assert_eq!(spam["results"].as_array().unwrap().len(), 2);
    let dbl = result(spam, "spamhaus-dbl");
    assert_eq!(dbl["status"], "listed");
    assert_eq!(dbl["codes"], serde_json::json!(["127.0.1.2"]));
    assert_eq!(dbl["meanings"][0], "DBL: spam domain");
    assert_eq!(result(&lines[1], "spamhaus-dbl")["status"], "clean");
    let refused = result(&lines[2], "uribl");
    assert_eq!(refused["status"], "error");
    assert!(refused["error"].as_str().unwrap().contains("refused"));
}

#[test]
fn refused_by_the_server_is_an_error() {
    let dns = blocklist_server();
    let dir = TempDir::new("check");
    // rbldnsd answers REFUSED for zones it does not serve.
    let o = unlisted(
        dir.path(),
        &[
            "check",
            "--nameserver",
            &dns.addr(),
            "--lists",
            "barracuda",
            "--json",
            "192.0.2.1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let r = result(&json_lines(&o)[0], "barracuda");
    assert_eq!(r["status"], "error");
    assert!(r["error"].as_str().unwrap().contains("REFUSED"), "{r}");
}

#[test]
fn dead_nameserver_times_out_as_an_error_not_clean() {
    let dead = SilentDns::start();
    let dir = TempDir::new("check");
    let o = unlisted(
        dir.path(),
        &[
            "check",
            "--nameserver",
            &dead.addr(),
            "--lists",
            "spamcop,psbl",
            "--timeout",
            "200ms",
            "--tries",
            "2",
            "--json",
            "192.0.2.1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let t = &json_lines(&o)[0];
    assert_eq!(t["complete"], false);
    for r in t["results"].as_array().unwrap() {
        assert_eq!(r["status"], "error");
        let e = r["error"].as_str().unwrap();
        assert!(e.contains("no answer within 200ms (2 tries)"), "{e}");
    }
}

#[test]
fn bad_targets_are_named_and_the_good_ones_still_checked() {
    let dns = blocklist_server();
    let dir = TempDir::new("check");
    let o = unlisted(
        dir.path(),
        &[
            "check",
            "--nameserver",
            &dns.addr(),
            "--lists",
            "spamcop",
            "999.1.1.1",
            "-x",
            "",
            "192.0.2.1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("error: `999.1.1.1` is not a valid IPv4 address"),
        "{err}"
    );
    assert!(err.contains("`-x`"), "{err}");
    assert!(err.contains("error: argument 3: empty target"), "{err}");
    assert!(
        stdout(&o).contains("192.0.2.1 (ipv4): clean on all 1 lists"),
        "{}",
        stdout(&o)
    );

    let o = unlisted(
        dir.path(),
        &["check", "--lists", "spamcop", "--json", "999.1.1.1"],
    );
    assert_eq!(o.status.code(), Some(2));
    let l = &json_lines(&o)[0];
    assert_eq!(l["type"], "error");
    assert_eq!(l["target"], "999.1.1.1");
}

#[test]
fn human_output_puts_listings_first_with_the_way_off() {
    let dns = blocklist_server();
    let dir = TempDir::new("check");
    let o = unlisted(
        dir.path(),
        &[
            "check",
            "--nameserver",
            &dns.addr(),
            "--lists",
            "spamhaus-zen,spamcop,sorbs",
            "192.0.2.98",
            "192.0.2.99",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let first = out.find("192.0.2.98").unwrap();
    let second = out
        .find("192.0.2.99 (ipv4): LISTED on 2 of 2 lists")
        .unwrap();
    assert!(first < second, "input order is kept:\n{out}");
    assert!(
        out.contains("delisting: expires after 24h: https://www.spamcop.net/bl.shtml"),
        "{out}"
    );
    assert!(out.contains("txt: Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.99"));
    assert!(
        stderr(&o).contains("warning: sorbs (dnsbl.sorbs.net) is defunct and is never queried")
    );
}

#[test]
fn unknown_list_id_is_refused() {
    let dir = TempDir::new("check");
    let o = unlisted(dir.path(), &["check", "--lists", "nosuchlist", "192.0.2.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`nosuchlist`"));
}

#[test]
fn targets_from_a_file_stream_in_order_and_bad_lines_name_their_line() {
    let dns = blocklist_server();
    let dir = TempDir::new("check");
    dir.write(
        "ips.txt",
        "# our sending IPs\n192.0.2.99\n\n999.1.1.1   # a typo\n2001:db8::99\n",
    );
    let ns = dns.addr();
    let args = [
        "check",
        "--nameserver",
        &ns,
        "--lists",
        "spamhaus-zen",
        "--json",
        "--from-file",
        "ips.txt",
    ];
    let o = unlisted(dir.path(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["target"], "192.0.2.99");
    assert_eq!(lines[0]["listed"], true);
    assert_eq!(lines[1]["type"], "error");
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("ips.txt:4: `999.1.1.1`")
    );
    assert_eq!(lines[2]["target"], "2001:db8::99");
    assert!(stderr(&o).contains("error: ips.txt:4: `999.1.1.1` is not a valid IPv4 address"));

    let o = unlisted(dir.path(), &["check", "--from-file", "missing.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read targets from missing.txt"),
        "{}",
        stderr(&o)
    );
}
