//! The blocklist side of `unlisted`: which lists exist, how to ask them, and
//! what their answers mean.
//!
//! - [`catalog`]: the shipped data file of lists (codes, query policy,
//!   delisting routes, RFC 5782 test points), user overrides, selection.
//! - [`target`]: IPv4, IPv6 and domain targets and their query names.
//! - [`verdict`]: pure classification of a DNS outcome into exactly one of
//!   listed, clean, error or unknown.
//! - [`dns`]: the UDP transport (hickory-proto does the wire format).
//! - [`damping`]: flap damping of listing episodes over sweeps.
//! - [`check`]: self-tests, bounded concurrent lookups, TXT reasons.
//! - [`resolvers`]: public resolvers that lists refuse.

pub mod catalog;
pub mod check;
pub mod damping;
pub mod dns;
pub mod resolvers;
pub mod target;
pub mod verdict;

pub use catalog::{Catalog, CatalogError, List};
pub use check::{CheckOptions, Checker, ListResult, PreparedList, TargetReport, ZoneHealth};
pub use dns::{DnsClient, DnsOptions};
pub use target::{Target, TargetError, TargetKind};
pub use verdict::{Status, Verdict};
