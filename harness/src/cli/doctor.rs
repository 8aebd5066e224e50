//! `isapi-harness doctor`: one line per piece the harness needs, and for each missing one the
//! commands that install it. Exit code 0 when everything is there, 1 otherwise.

use std::process::ExitCode;

use crate::doctor::{findings, observe};

pub fn run() -> anyhow::Result<ExitCode> {
    let found = findings(&observe());
    let mut missing = 0;
    for finding in &found {
        if finding.ok() {
            println!("ok       {}: {}", finding.piece, finding.detail);
        } else {
            missing += 1;
            println!("MISSING  {}: {}", finding.piece, finding.detail);
            for command in &finding.fix {
                println!("           {command}");
            }
        }
    }
    if missing == 0 {
        println!("doctor: everything the harness needs is here");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("doctor: {missing} of {} pieces missing; run the commands above", found.len());
        Ok(ExitCode::from(1))
    }
}
