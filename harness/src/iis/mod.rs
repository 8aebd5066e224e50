//! The servers the harness models, and the one place that picks the model for a scenario.
//!
//! `iis6` is IIS 6.0 (MetaBase.xml); `iis7` is IIS 7 to 10 and IIS Express
//! (applicationHost.config). Each implements `model::ServerModel`; the scenario's
//! configuration picks one in [`start`] and [`check`].

pub mod iis6;
pub mod iis7;
mod was;

use crate::arch::Bits;
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

/// The architecture name IIS puts into its processor-architecture mismatch events (IIS 6.0's
/// 2274, IIS 7+'s 2282) for a process of this bitness. UNVERIFIED: "AMD64" is documented for a
/// 64-bit process; "x86" for a 32-bit one is inferred.
pub fn process_architecture_name(bits: Bits) -> &'static str {
    match bits {
        Bits::B64 => "AMD64",
        Bits::B32 => "x86",
    }
}
