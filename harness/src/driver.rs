//! The one driver: runs any server model's plan on a machine.
//!
//! It lays out the scenario's files, starts each host the model asks for through the machine,
//! reads the headers of the images the host was given, and feeds both back to the model, until
//! the model is done. It does not know which IIS it serves (see `model.rs`).

use std::collections::HashMap;

use crate::loader_answer;
use crate::machine::{Layout, Machine, WinPath};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::StartReport;
use crate::vocab::BackendKind;
use crate::windows_loader::{self, Search};

/// Runs `model` on `machine` with the files `layout` places (the scenario's images and
/// nothing else at the paths the model loads). `search` is where Windows's loader would look
/// for each image's dependencies, and what the server holds: each host's answers then go
/// through `loader_answer`, which gives Windows's answer where Wine's is known to differ.
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
    let rules_apply = machine.backend() == BackendKind::Wine;
    let wine_major = if rules_apply { crate::machine::wine_major() } else { None };
    let mut observed = None;
    while let Next::Start(plan) = model.next(observed.take())? {
        let native_only = search.profile.native_only_dlls(plan.bits);
        let first = machine.run_host_native_only(&plan, &native_only)?;
        // On the windows backend the loader is Windows's own; the target's profile is not
        // applied there yet (its System32 is the runner's, not the simulated disk's).
        let resolutions = if rules_apply {
            plan.images
                .iter()
                .map(|image| windows_loader::resolve(&disk, search, &image.path, plan.bits))
                .collect()
        } else {
            Vec::new()
        };
        let applied = loader_answer::apply(&plan, first, resolutions, wine_major);
        let run = match &applied.rerun {
            Some(rerun) => {
                let second = machine.run_host_native_only(&rerun.plan, &native_only)?;
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
