//! The daemon's heartbeat in the store ([`store::DaemonBeat`]): written as
//! it runs, read by `unlisted status` to say whether it runs, stopped,
//! died or hangs.

use std::time::{Duration, Instant};

use store::{DaemonBeat, Store};

/// How often a running daemon writes its heartbeat (at most).
const EVERY: Duration = Duration::from_secs(10);
/// How late a heartbeat may be before the daemon counts as silent: a
/// round that reads a backlog or sweeps many servers takes a while.
const GRACE: i64 = 180;

/// What `status` makes of the heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// No daemon ever ran on this store.
    Never,
    /// Running, and heard from in time.
    Running,
    /// Stopped cleanly (or a `serve --once` that finished).
    Stopped,
    /// Its process is gone without stopping (a kill -9, a crash, a reboot).
    Gone,
    /// Its process is there but late: stuck, or its store cannot be written.
    Silent,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Never => "never",
            State::Running => "running",
            State::Stopped => "stopped",
            State::Gone => "gone",
            State::Silent => "silent",
        }
    }
}

/// The state of the daemon whose last heartbeat is `beat`, at `now`;
/// `alive` tells whether a pid is an `unlisted` process on this machine.
pub(crate) fn state(beat: Option<&DaemonBeat>, now: i64, alive: impl Fn(i64) -> bool) -> State {
    match beat {
        None => State::Never,
        Some(b) if b.stopped.is_some() => State::Stopped,
        Some(b) if !alive(b.pid) => State::Gone,
        Some(b) if now > b.next_by => State::Silent,
        Some(_) => State::Running,
    }
}

/// Whether `pid` is an `unlisted` process here (its name in /proc, which
/// any user may read; a pid taken since by another program is not).
pub(crate) fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == "unlisted")
}

/// The running daemon's side: writes the heartbeat.
pub(crate) struct Heartbeat {
    pid: i64,
    started: i64,
    written: Option<Instant>,
}

impl Heartbeat {
    pub(crate) fn new(started: i64) -> Self {
        Heartbeat {
            pid: i64::from(std::process::id()),
            started,
            written: None,
        }
    }

    /// Another daemon that seems to run on this store, by its pid.
    pub(crate) fn other(&self, store: &Store, now: i64) -> store::Result<Option<i64>> {
        let beat = store.daemon()?;
        Ok(beat
            .filter(|b| {
                b.pid != self.pid
                    && matches!(state(Some(b), now, alive), State::Running | State::Silent)
            })
            .map(|b| b.pid))
    }

    /// After a round, with the next one due within `gap`; at most every
    /// [`EVERY`]. A one-shot run (`once`) records that it ran and ended.
    pub(crate) fn round(
        &mut self,
        store: &Store,
        now: i64,
        gap: Duration,
        once: bool,
    ) -> store::Result<()> {
        if !once && self.written.is_some_and(|w| w.elapsed() < EVERY) {
            return Ok(());
        }
        let due = gap.max(EVERY).as_secs() as i64 + GRACE;
        store.set_daemon(&self.beat(now, now + due, once.then_some(now), once))?;
        self.written = Some(Instant::now());
        Ok(())
    }

    /// At a clean stop.
    pub(crate) fn stopped(&self, store: &Store, now: i64) -> store::Result<()> {
        store.set_daemon(&self.beat(now, now, Some(now), false))
    }

    fn beat(&self, seen: i64, next_by: i64, stopped: Option<i64>, once: bool) -> DaemonBeat {
        DaemonBeat {
            pid: self.pid,
            started: self.started,
            seen,
            next_by,
            stopped,
            once,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(next_by: i64, stopped: Option<i64>) -> DaemonBeat {
        DaemonBeat {
            pid: 4242,
            started: 1_000,
            seen: 2_000,
            next_by,
            stopped,
            once: false,
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn the_heartbeat_tells_running_stopped_gone_and_silent_apart() {
        let up = |pid: i64| pid == 4242;
        let down = |_: i64| false;
        assert_eq!(state(None, 3_000, up), State::Never);
        assert_eq!(state(Some(&beat(2_200, None)), 2_100, up), State::Running);
        assert_eq!(state(Some(&beat(2_200, None)), 2_201, up), State::Silent);
        assert_eq!(state(Some(&beat(2_200, None)), 2_100, down), State::Gone);
        assert_eq!(state(Some(&beat(2_200, None)), 9_999, down), State::Gone);
        // A clean stop says so whatever became of its pid.
        assert_eq!(
            state(Some(&beat(2_000, Some(2_000))), 9_999, up),
            State::Stopped
        );
    }

    #[test]
    fn this_process_is_not_an_unlisted_one() {
        // The test binary's name is not `unlisted`: a pid reused by another
        // program does not count as the daemon.
        assert!(!alive(i64::from(std::process::id())));
        assert!(!alive(i64::MAX));
    }
}
