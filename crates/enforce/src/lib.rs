//! Stopping a sender: holds (who may not send, and what happens to its
//! mail), rate limits per sender kind, and the policy service that answers
//! Postfix's `check_policy_service` and Exim's `${readsocket}` with them.

pub mod hold;
pub mod milter;
pub mod policy;
pub mod queue;
pub mod ratelimit;
pub mod server;

pub use hold::{Accounts, Action, Hold, HoldSet, Identity, Subject};
pub use ratelimit::{Limit, Limits, RateLimiter};
