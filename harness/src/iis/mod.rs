//! The servers the harness models, and the one place that picks the model for a scenario.
//!
//! `iis6` is IIS 6.0 (MetaBase.xml); `iis7` is IIS 7 to 10 and IIS Express
//! (applicationHost.config). Each implements `model::ServerModel`; the scenario's
//! configuration picks one in [`start`] and [`check`].

pub(crate) mod iis6;
pub mod iis7;
mod was;

use crate::apphost::Apphost;
use crate::arch::Bits;
use crate::machine::{Layout, Machine};
use crate::metabase::Metabase;
use crate::model::ServerModel;
use crate::report::{ServerCopyRun, StartReport};
use crate::scenario::{Configuration, Scenario};

/// A scenario whose configuration made a model and whose images all exist: what `start`
/// runs, built once.
pub struct CheckedStart<'s> {
    model: Model<'s>,
    layout: Layout,
    search: crate::windows_loader::Search,
    /// What the start does with the scenario's server copy, if it has one.
    server_copy: Option<CopyOnMachine>,
}

/// A server copy as a start places it: the report's section, less what only the run tells
/// (which images it loaded), and the paths the copy lacks that the run may load.
struct CopyOnMachine {
    run: ServerCopyRun,
    lacking: Vec<crate::machine::WinPath>,
}

/// The model of the scenario's server generation.
enum Model<'s> {
    Iis6(iis6::Iis6<'s>),
    Iis7(iis7::Iis7<'s>),
}

/// What a layer above the models does for each server generation. `by_generation` is the one
/// place the configuration's kind picks the arm, so a new generation is one new method here
/// and one arm there.
pub trait PerGeneration<'s> {
    type Output;
    fn iis6(self, scenario: &'s Scenario, metabase: &'s Metabase) -> Self::Output;
    fn iis7(self, scenario: &'s Scenario, apphost: &'s Apphost) -> Self::Output;
}

/// Calls the arm of `work` for the scenario's configuration.
pub fn by_generation<'s, W: PerGeneration<'s>>(scenario: &'s Scenario, work: W) -> W::Output {
    match &scenario.config {
        Configuration::Metabase(metabase) => work.iis6(scenario, metabase),
        Configuration::Apphost(apphost) => work.iis7(scenario, apphost),
    }
}

/// Checks a scenario before any machine is touched, so that bad input writes nothing: the
/// configuration must make a model, and every image the scenario places must exist. What it
/// returns is what `start` runs.
pub fn check(scenario: &Scenario) -> anyhow::Result<CheckedStart<'_>> {
    let model = by_generation(scenario, BuildModel)?;
    let paths = match &model {
        Model::Iis6(model) => model.paths(),
        Model::Iis7(model) => model.paths(),
    };
    let layout = scenario.layout(&crate::artifacts::Artifacts::locate()?, &paths)?;
    crate::windows_loader::profile::check_edition(scenario.windows(), scenario.os)?;
    let server_copy = copy_on_machine(scenario, &layout, &paths);
    Ok(CheckedStart { model, layout, search: scenario.loader_search(), server_copy })
}

/// What the start places of the scenario's server copy, and which of the paths it may load
/// the copy lacks (the user's `=missing` aside: the command line said so, not the copy).
fn copy_on_machine(
    scenario: &Scenario,
    layout: &Layout,
    paths: &[crate::machine::WinPath],
) -> Option<CopyOnMachine> {
    let copy = scenario.server.as_ref()?;
    let placed = layout
        .entries()
        .iter()
        .filter(|(_, content)| matches!(content, crate::machine::Content::Shadow(_)))
        .map(|(path, _)| path.to_string())
        .collect();
    let lacking = paths
        .iter()
        .filter(|path| {
            layout.content_at(path) == Some(&crate::machine::Content::Nothing)
                && !scenario.leaves_empty(path)
        })
        .cloned()
        .collect();
    let stock_modules = paths
        .iter()
        .filter(|path| {
            matches!(
                scenario.default_image(path),
                Some(crate::scenario::ImageSpec::Mock { mock: crate::mock::Mock::Module, .. })
            )
        })
        .count();
    let run = ServerCopyRun {
        folder: copy.folder.display().to_string(),
        placed,
        missing: Vec::new(),
        system_files: copy.manifest.system_files.iter().map(|file| file.path.clone()).collect(),
        stock_modules,
    };
    Some(CopyOnMachine { run, lacking })
}

/// The model of a scenario's generation, for a start.
struct BuildModel;

impl<'s> PerGeneration<'s> for BuildModel {
    type Output = anyhow::Result<Model<'s>>;

    fn iis6(self, scenario: &'s Scenario, _: &'s Metabase) -> Self::Output {
        Ok(Model::Iis6(iis6::Iis6::new(scenario, iis6::Purpose::Start)?))
    }

    fn iis7(self, scenario: &'s Scenario, apphost: &'s Apphost) -> Self::Output {
        Ok(Model::Iis7(iis7::Iis7::new(scenario, apphost)?))
    }
}

impl CheckedStart<'_> {
    /// Starts the scenario's web server as IIS would, loading every image for real.
    pub fn start(self, machine: &Machine) -> anyhow::Result<StartReport> {
        let mut report = match self.model {
            Model::Iis6(model) => crate::driver::run(machine, &self.layout, model, &self.search),
            Model::Iis7(model) => crate::driver::run(machine, &self.layout, model, &self.search),
        }?;
        if let Some(CopyOnMachine { mut run, lacking }) = self.server_copy {
            // What the copy lacks matters where the run tried to load it.
            let loaded: Vec<crate::machine::WinPath> = report
                .hosts
                .iter()
                .flat_map(|host| host.images())
                .filter_map(|image| crate::machine::WinPath::parse(&image.path).ok())
                .collect();
            run.missing = lacking
                .iter()
                .filter(|path| loaded.contains(path))
                .map(ToString::to_string)
                .collect();
            report.server_copy = Some(run);
        }
        Ok(report)
    }
}

/// Checks the scenario and starts its web server as IIS would, loading every image for real.
pub fn start(machine: &Machine, scenario: &Scenario) -> anyhow::Result<StartReport> {
    check(scenario)?.start(machine)
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
