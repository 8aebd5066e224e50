//! The servers the harness models, and the one place that picks the model for a scenario.
//!
//! `iis6` is IIS 6.0 (MetaBase.xml). A second server kind is a module beside it that
//! implements `model::ServerModel`, plus one arm in [`start`] and [`check`].

pub mod iis6;
pub mod messages;

use crate::machine::Machine;
use crate::report::StartReport;
use crate::scenario::Scenario;

/// Checks a scenario before any machine is touched, so that bad input writes nothing.
pub fn check(scenario: &Scenario) -> anyhow::Result<()> {
    iis6::check(scenario)
}

/// Starts the scenario's web server as IIS would, loading every image for real.
pub fn start(machine: &Machine, scenario: &Scenario) -> anyhow::Result<StartReport> {
    crate::driver::run(machine, scenario, iis6::Iis6::new(scenario, iis6::Purpose::Start)?)
}
