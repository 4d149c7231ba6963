//! Any bytes as a Postfix policy delegation (or Exim readsocket) session:
//! the attributes carry what the SMTP client said (sender, recipient,
//! HELO), so no input may panic the reader or the decision.
#![no_main]

use enforce::policy::{self, Request};
use enforce::{HoldSet, Limit, Limits, RateLimiter};
use libfuzzer_sys::fuzz_target;
use maillog::SenderKind;

fuzz_target!(|data: &[u8]| {
    let mut limits = Limits::new();
    limits.insert(
        SenderKind::Auth,
        Limit {
            messages_per_hour: Some(3),
            recipients_per_hour: Some(5),
            ..Limit::default()
        },
    );
    let mut limiter = RateLimiter::new(limits);
    let holds = HoldSet::default();
    let mut req = Request::default();
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        match req.push_line(line) {
            Ok(true) => {
                let _ = req.identity();
                let _ = req.counts_message();
                let d = policy::decide(&req, &holds, &mut limiter, false, 1_700_000_000 + n as i64);
                let reply = d.reply();
                // One `action=` line and the empty line that ends it.
                assert_eq!(reply.matches('\n').count(), 2, "{reply:?}");
                req.clear();
            }
            Ok(false) => {}
            Err(_) => req.clear(),
        }
    }
});
