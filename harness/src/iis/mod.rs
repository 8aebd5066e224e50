//! The servers the harness models, and the one place that picks the model for a scenario.
//!
//! `iis6` is IIS 6.0 (MetaBase.xml); `iis7` is IIS 7 to 10 and IIS Express
//! (applicationHost.config). Each implements `model::ServerModel`; the scenario's
//! configuration picks one in [`start`] and [`check`].

pub mod extensions;
pub mod iis6;
pub mod iis7;
pub mod messages;
pub mod messages7;

use crate::machine::Machine;
use crate::model::ServerModel;
use crate::report::StartReport;
use crate::scenario::{Configuration, Scenario};

/// Checks a scenario before any machine is touched, so that bad input writes nothing: the
/// configuration must make a model, and every image the scenario places must exist.
pub fn check(scenario: &Scenario) -> anyhow::Result<()> {
    let paths = match &scenario.config {
        Configuration::Metabase(_) => iis6::Iis6::new(scenario, iis6::Purpose::Start)?.paths(),
        Configuration::Apphost(apphost) => iis7::Iis7::new(scenario, apphost)?.paths(),
    };
    scenario.layout(&crate::artifacts::Artifacts::locate()?, &paths)?;
    Ok(())
}

/// Starts the scenario's web server as IIS would, loading every image for real.
pub fn start(machine: &Machine, scenario: &Scenario) -> anyhow::Result<StartReport> {
    match &scenario.config {
        Configuration::Metabase(_) => {
            crate::driver::run(machine, scenario, iis6::Iis6::new(scenario, iis6::Purpose::Start)?)
        }
        Configuration::Apphost(apphost) => {
            crate::driver::run(machine, scenario, iis7::Iis7::new(scenario, apphost)?)
        }
    }
}
