//! The one driver: runs any server model's plan on a machine.
//!
//! It lays out the scenario's files, starts each host the model asks for through the machine,
//! reads the headers of the images the host was given, and feeds both back to the model, until
//! the model is done. It does not know which IIS it serves (see `model.rs`).

use std::collections::HashMap;

use crate::machine::{Layout, Machine, WinPath};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::StartReport;

/// Runs `model` on `machine` with the files `layout` places (the scenario's images and
/// nothing else at the paths the model loads).
pub fn run<M: ServerModel>(
    machine: &Machine,
    layout: &Layout,
    mut model: M,
) -> anyhow::Result<StartReport> {
    let _placed = machine.acquire(layout)?;
    // The files do not change while the layout is held, so each one's headers are read once.
    let mut headers: HashMap<WinPath, Option<ImageInfo>> = HashMap::new();
    let mut observed = None;
    while let Next::Start(plan) = model.next(observed.take())? {
        let run = machine.run_host(&plan)?;
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
        observed = Some(Observation { run, headers: images });
    }
    let mut report = model.finish();
    report.backend = Some(machine.backend());
    report.sandbox = machine.sandboxed();
    report.limits = machine.limits();
    Ok(report)
}
