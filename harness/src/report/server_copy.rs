//! What a start made of a server copy (`--server`): which copy ran, what of it was placed, what
//! the configuration named that it lacks, and what the machine played in place of the OS's own
//! files, which a copy records but does not carry. One line each on the timeline.

use serde::Serialize;

use super::{Step, StepKind};

/// Which server copy a start ran, and what became of it on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ServerCopyRun {
    /// The copy's folder.
    pub folder: String,
    /// The Windows path of every file of the copy that was placed (those the command line
    /// replaced with an image of its own are not).
    pub placed: Vec<String>,
    /// The images the run loaded that the copy lacks: they were missing on the machine, as on
    /// a server without them, never a mock.
    pub missing: Vec<String>,
    /// The OS's own files `server.json` records: not copied, played by the machine's own.
    pub system_files: Vec<String>,
    /// How many of IIS 7+'s stock module files the mock native module played.
    pub stock_modules: usize,
}

impl ServerCopyRun {
    /// The copy's lines on the timeline, before what the server did.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![Step {
            kind: StepKind::Config,
            text: format!(
                "server copy {}: {} of its files placed at their Windows paths (over the machine's own where one was there)",
                self.folder,
                self.placed.len()
            ),
        }];
        if !self.system_files.is_empty() {
            steps.push(Step {
                kind: StepKind::Config,
                text: format!(
                    "server copy: {} of the OS's own files are recorded in server.json, not copied; the machine's own files (Wine's DLLs) play them",
                    self.system_files.len()
                ),
            });
        }
        if self.stock_modules > 0 {
            steps.push(Step {
                kind: StepKind::Config,
                text: format!(
                    "server copy: IIS's stock modules under %windir%\\System32\\inetsrv are the OS's own, not copied; the mock native module plays them ({} files)",
                    self.stock_modules
                ),
            });
        }
        for path in &self.missing {
            steps.push(Step {
                kind: StepKind::Fail,
                text: format!(
                    "server copy: the configuration names {path}, which the copy lacks, so it is missing on the machine"
                ),
            });
        }
        steps
    }
}
