//! The seed cases, replayed with real loads: the product's main job. `iis6` is the case the
//! harness was born from (IIS 6.0, IIS 5.0 isolation mode, a 32-bit filter in the 64-bit
//! inetinfo.exe); `iis10` is its modern twin (a 64-bit filter in a 32-bit IIS 10 worker). Each
//! reproduces the failure, then verifies its fixes from the failing state.

pub mod iis10;
pub(crate) mod iis6;

use crate::machine::Machine;
use std::time::Duration;

pub use crate::report::repro::{Fix, Replay};
use crate::report::{Detail, StartReport, Step};
use crate::scenario::DEFAULT_HOST_TIMEOUT;
pub use crate::vocab::Seed;

/// How a replay runs and reads.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// How much of each start's timeline the replay's timeline shows.
    pub detail: Detail,
    /// How long each host process may run before it is ended.
    pub host_timeout: Duration,
}

impl Default for ReplayOptions {
    fn default() -> ReplayOptions {
        ReplayOptions { detail: Detail::Summary, host_timeout: DEFAULT_HOST_TIMEOUT }
    }
}

/// Replays `seed` on the machine.
pub fn replay(machine: &Machine, seed: Seed, options: &ReplayOptions) -> anyhow::Result<Replay> {
    Ok(match seed {
        Seed::Iis6 => Replay::Iis6(iis6::replay(machine, options)?),
        Seed::Iis10 => Replay::Iis10(iis10::replay(machine, options)?),
    })
}

/// A start's timeline, as lines of the replay's own (the IIS 10 twin's too).
pub(crate) fn timeline_of(say: &mut impl FnMut(Step), report: &StartReport, detail: Detail) {
    for step in report.steps_in(detail) {
        say(step);
    }
}
