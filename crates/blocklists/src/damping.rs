//! Flap damping: when a run of observations is enough to open or end a
//! listing episode.
//!
//! Rate-limited lists make IPs "randomly go clean" for one sweep, so an
//! episode ends only after `clean_after` clean sweeps in a row. Errors and
//! unknown answers are not observations at all: they neither extend nor
//! break a run, so a dead resolver can neither open nor close an episode.

use crate::verdict::Status;

/// Consecutive definite observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub listed: bool,
    pub count: u32,
}

/// Sweeps in a row needed to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damping {
    pub listed_after: u32,
    pub clean_after: u32,
}

impl Default for Damping {
    fn default() -> Self {
        Damping {
            listed_after: 1,
            clean_after: 2,
        }
    }
}

/// What an observation does to an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changes (or the run only grew).
    Stay,
    /// Open a new episode.
    Open,
    /// Still listed, episode already open: refresh it.
    Refresh,
    /// End the open episode.
    Close,
}

impl Damping {
    /// Folds one observation into the run; `open` says whether an episode is
    /// open now. Returns the new run and what to do.
    pub fn observe(
        &self,
        run: Option<Run>,
        open: bool,
        status: Status,
    ) -> (Option<Run>, Transition) {
        let listed = match status {
            Status::Listed => true,
            Status::Clean => false,
            Status::Error | Status::Unknown => return (run, Transition::Stay),
        };
        // Counting past the larger threshold changes nothing, and a run
        // that stops changing need not be written back each sweep.
        let cap = self.listed_after.max(self.clean_after).max(1);
        let count = match run {
            Some(r) if r.listed == listed => r.count.saturating_add(1).min(cap),
            _ => 1,
        };
        let run = Some(Run { listed, count });
        let t = match (listed, open) {
            (true, true) => Transition::Refresh,
            (true, false) if count >= self.listed_after.max(1) => Transition::Open,
            (false, true) if count >= self.clean_after.max(1) => Transition::Close,
            _ => Transition::Stay,
        };
        (run, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(d: Damping, seq: &[Status]) -> Vec<Transition> {
        let (mut run, mut open, mut out) = (None, false, vec![]);
        for s in seq {
            let (r, t) = d.observe(run, open, *s);
            run = r;
            match t {
                Transition::Open => open = true,
                Transition::Close => open = false,
                _ => {}
            }
            out.push(t);
        }
        out
    }

    use Status::*;
    use Transition::*;

    #[test]
    fn one_clean_sweep_does_not_end_a_listing() {
        let d = Damping::default();
        assert_eq!(
            play(d, &[Listed, Clean, Listed, Clean, Clean]),
            [Open, Stay, Refresh, Stay, Close]
        );
    }

    #[test]
    fn errors_neither_open_nor_close() {
        let d = Damping::default();
        assert_eq!(
            play(d, &[Error, Unknown, Listed, Error, Clean, Error, Clean]),
            [Stay, Stay, Open, Stay, Stay, Stay, Close]
        );
    }

    #[test]
    fn listed_after_two_needs_two_sweeps() {
        let d = Damping {
            listed_after: 2,
            clean_after: 1,
        };
        assert_eq!(
            play(d, &[Listed, Clean, Listed, Listed, Clean]),
            [Stay, Stay, Stay, Open, Close]
        );
    }
}
