//! `isapi-harness doctor [--json]`: one line per piece the harness needs, and for each missing
//! one the commands that install it (with `--json`, the same findings as one object). Exit
//! code 0 when everything is there, 1 otherwise.

use std::process::ExitCode;

use crate::doctor::{findings, observe};
use crate::report;

pub fn run(args: super::DoctorArgs) -> anyhow::Result<ExitCode> {
    let found = findings(&observe());
    if args.json {
        println!("{}", report::json::render(&report::doctor::report(&found))?);
    } else {
        for line in report::doctor::lines(&found) {
            println!("{line}");
        }
    }
    Ok(if found.iter().all(|finding| finding.ok()) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
