//! What other mail systems tell us about our mail: feedback-loop
//! complaints (ARF, RFC 5965, as real feeds bend it; Microsoft JMRP's older
//! form; SpamCop's text reports; plain forwarded spam) and, later in this
//! crate, bounces.

pub mod bounce;
pub mod complaint;
pub mod input;

pub use complaint::{Complaint, Format, NotComplaint, Original};
