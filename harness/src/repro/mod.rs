//! The seed cases, replayed with real loads: the product's main job. `iis6` is the case the
//! harness was born from (IIS 6.0, IIS 5.0 isolation mode, a 32-bit filter in the 64-bit
//! inetinfo.exe); `iis10` is its modern twin (a 64-bit filter in a 32-bit IIS 10 worker). Each
//! reproduces the failure, then verifies its fixes from the failing state.

pub mod iis10;
pub mod iis6;

use serde::Serialize;

use crate::machine::Machine;
use std::time::Duration;

use crate::report::{Detail, StartReport, Step, StepKind};
use crate::scenario::DEFAULT_HOST_TIMEOUT;
pub use crate::vocab::Seed;

/// What a replay found: the one seed's report.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Replay {
    Iis6(iis6::ReproReport),
    Iis10(iis10::Repro10Report),
}

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

impl Replay {
    /// What exit code 0 of `repro` promises: the failure reproduced and every fix verified.
    pub fn succeeded(&self) -> bool {
        match self {
            Replay::Iis6(report) => report.succeeded(),
            Replay::Iis10(report) => report.succeeded(),
        }
    }

    pub fn timeline(&self) -> &[Step] {
        match self {
            Replay::Iis6(report) => &report.timeline,
            Replay::Iis10(report) => &report.timeline,
        }
    }

    /// Whether the failure was reproduced, and each fix's name and whether it was verified.
    pub fn outcome(&self) -> (bool, Vec<(&'static str, bool)>) {
        match self {
            Replay::Iis6(report) => (
                report.reproduced,
                vec![("fix A", report.fix_a.verified), ("fix B", report.fix_b.verified)],
            ),
            Replay::Iis10(report) => (
                report.reproduced,
                vec![
                    ("fix 1 (bitness preconditions)", report.fix_preconditions.verified),
                    ("fix 2 (64-bit pool)", report.fix_64bit_pool.verified),
                ],
            ),
        }
    }
}

/// One remedy of a replay: the commands an administrator runs, and the start that verified it.
#[derive(Debug, Serialize)]
pub struct Fix {
    pub name: &'static str,
    /// The commands an administrator runs on the server.
    pub commands: Vec<String>,
    pub verified: bool,
    pub start: StartReport,
}

/// A start's timeline, as lines of the replay's own (the IIS 10 twin's too).
pub(crate) fn timeline_of(
    say: &mut impl FnMut(StepKind, String),
    report: &StartReport,
    detail: Detail,
) {
    for step in report.steps_in(detail) {
        say(step.kind, step.text);
    }
}

pub(crate) fn verdict_kind(verified: bool) -> StepKind {
    if verified { StepKind::Ok } else { StepKind::Fail }
}

pub(crate) fn verdict_text(fix: &str, verified: bool, what: &str) -> String {
    if verified {
        format!("{fix} VERIFIED: {what}")
    } else {
        format!("{fix} NOT VERIFIED: expected {what}")
    }
}
