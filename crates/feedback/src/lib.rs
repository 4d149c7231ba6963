//! What other mail systems tell us about our mail: feedback-loop
//! complaints (ARF, RFC 5965, as real feeds bend it; Microsoft JMRP's older
//! form; SpamCop's text reports; plain forwarded spam) and, later in this
//! crate, bounces.

pub mod bounce;
pub mod complaint;
pub mod input;

pub use complaint::{Complaint, Format, NotComplaint, Original};

/// Reads one message from outside with `read`, where a panic (in
/// mail-parser or in our code) is the message's error, not the end of the
/// process: anyone can send us such mail, and a daemon that stopped at
/// one would stop at it again after each restart. mail-parser 0.11.9
/// asserts on some broken multiparts in debug builds
/// (fuzz/fuzz_targets/feedback_mail.rs found one).
pub(crate) fn guarded<T, E>(
    read: impl FnOnce() -> Result<T, E>,
    failed: impl FnOnce(String) -> E,
) -> Result<T, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".into());
        Err(failed(why))
    })
}
