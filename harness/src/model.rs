//! The seam between a server model and the machine that runs it.
//!
//! A server model (IIS 6.0 in `iis::iis6`; IIS 7+ plugs in beside it) is a pure state machine:
//! from a configuration it plans which host process of which bitness loads which images, and
//! when; fed each host's real report as typed data, it says what to start next and, at the end,
//! what IIS did and logged. It performs no I/O and owns no machine. The driver (`driver.rs`)
//! runs any model on a `Machine`, and knows nothing about which IIS it serves.
//!
//! A new server kind implements [`ServerModel`]; nothing in the driver, the machine, the host
//! protocol or the report changes for it.

use crate::host::{HostPlan, HostRun};
use crate::pe::ImageInfo;
use crate::report::StartReport;
use crate::winpath::WinPath;

/// What a model asks the driver to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Start one host process with this plan and bring back its report.
    Start(HostPlan),
    /// Nothing more to run; the report is ready.
    Done,
}

/// A host's report, with what the headers of each image it was asked to load say (read from
/// the simulated disk, so they describe the very file the loader was given; None where no file
/// is there). The headers explain a result; they never stand in for one.
#[derive(Debug, Clone)]
pub struct Observation {
    pub run: HostRun,
    pub headers: Vec<Option<ImageInfo>>,
    /// For each image, Windows's loader's answer from the same files, and where a rule gave it
    /// in place of Wine's, Wine's own (`loader_answer`). None where no rule was run.
    pub answers: Vec<Option<crate::loader_answer::LoaderAnswer>>,
}

/// A server that can be started on a simulated machine.
pub trait ServerModel {
    /// Every Windows path this run may load or probe, so the driver can lay the disks out once
    /// before the first host starts.
    fn paths(&self) -> Vec<WinPath>;

    /// The next step. The first call gets None; each later call gets the observation of the
    /// host the previous step started. An error means the observation contradicts the plan,
    /// which is a defect of the harness, never an outcome.
    fn next(&mut self, observed: Option<Observation>) -> anyhow::Result<Next>;

    /// What happened, once [`Next::Done`] was returned.
    fn finish(self) -> StartReport;
}
