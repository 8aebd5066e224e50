//! The servers the harness models, and the one place that picks the model for a scenario.
//!
//! `iis6` is IIS 6.0 (MetaBase.xml). A second server kind is a module beside it that
//! implements `model::ServerModel`, plus one arm in [`start`] and [`check`].

pub mod extensions;
pub mod iis6;
pub mod messages;

use crate::machine::Machine;
use crate::model::ServerModel;
use crate::report::StartReport;
use crate::scenario::Scenario;

/// Checks a scenario before any machine is touched, so that bad input writes nothing: the
/// configuration must make a model, and every image the scenario places must exist.
pub fn check(scenario: &Scenario) -> anyhow::Result<()> {
    let model = iis6::Iis6::new(scenario, iis6::Purpose::Start)?;
    scenario.layout(&crate::artifacts::Artifacts::locate()?, &model.paths())?;
    Ok(())
}

/// Starts the scenario's web server as IIS would, loading every image for real.
pub fn start(machine: &Machine, scenario: &Scenario) -> anyhow::Result<StartReport> {
    crate::driver::run(machine, scenario, iis6::Iis6::new(scenario, iis6::Purpose::Start)?)
}
