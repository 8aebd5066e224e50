//! `isapi-harness doctor`: one line per piece the harness needs, and for each missing one the
//! commands that install it. Exit code 0 when everything is there, 1 otherwise.

use std::process::ExitCode;

use crate::doctor::{findings, observe};

pub fn run() -> anyhow::Result<ExitCode> {
    let found = findings(&observe());
    for line in crate::report::doctor::lines(&found) {
        println!("{line}");
    }
    Ok(if found.iter().all(|finding| finding.ok()) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
