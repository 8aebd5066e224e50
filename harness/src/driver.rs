//! The one driver: runs any server model's plan on a machine.
//!
//! It lays out the scenario's files, starts each host the model asks for through the machine,
//! reads the headers of the images the host was given, and feeds both back to the model, until
//! the model is done. It does not know which IIS it serves (see `model.rs`).

use std::collections::HashMap;

use crate::loader_answer;
use crate::machine::{HostEnv, Layout, Machine, WinPath};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::StartReport;
use crate::vocab::BackendKind;
use crate::windows_loader::divergence::Loader;
use crate::windows_loader::{self, Search};

/// Runs `model` on `machine` with the files `layout` places (the scenario's images and
/// nothing else at the paths the model loads). `search` is where Windows's loader would look
/// for each image's dependencies, and what the server holds: each host's answers then go
/// through `loader_answer`, which gives the target Windows's answer where the real loader's
/// is known to differ (Wine's loader, or on the windows backend a computer that is not the
/// server). Every host's PATH has the folders `search` adds.
pub fn run<M: ServerModel>(
    machine: &Machine,
    layout: &Layout,
    mut model: M,
    search: &Search,
) -> anyhow::Result<StartReport> {
    let _placed = machine.acquire(layout)?;
    // The files do not change while the layout is held, so each one's headers are read once.
    let mut headers: HashMap<WinPath, Option<ImageInfo>> = HashMap::new();
    let disk = machine.loader_disk();
    let loader = match machine.backend() {
        BackendKind::Wine => Loader::Wine { major: crate::machine::wine_major() },
        BackendKind::Windows => Loader::ThisWindows,
    };
    let mut observed = None;
    while let Next::Start(plan) = model.next(observed.take())? {
        let env = HostEnv {
            native_only: search.profile.native_only_dlls(plan.bits),
            path: &search.extra_path,
        };
        let first = machine.run_host_in(&plan, &env)?;
        let resolutions = plan
            .images
            .iter()
            .map(|image| windows_loader::resolve(&disk, search, &image.path, plan.bits))
            .collect();
        let applied = loader_answer::apply(&plan, first, resolutions, loader);
        let run = match &applied.rerun {
            Some(rerun) => {
                let second = machine.run_host_in(&rerun.plan, &env)?;
                loader_answer::merge(applied.run, rerun, second)
            }
            None => applied.run,
        };
        let images = plan
            .images
            .iter()
            .map(|image| {
                headers
                    .entry(image.path.clone())
                    .or_insert_with(|| machine.inspect(&image.path))
                    .clone()
            })
            .collect();
        observed = Some(Observation { run, headers: images, answers: applied.answers });
    }
    let mut report = model.finish();
    report.backend = Some(machine.backend());
    report.sandbox = machine.sandboxed();
    report.limits = machine.limits();
    report.profile = Some(search.profile.clone());
    Ok(report)
}
