//! `isapi-harness repro`: the seed case, reproduced and fixed, with real loads.

use std::process::ExitCode;

use crate::machine::Machine;
use crate::report::{Printer, StepKind};

pub fn run(args: super::ReproArgs) -> anyhow::Result<ExitCode> {
    let machine = Machine::open(args.backend)?;
    let report = crate::repro::replay(&machine)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let printer = Printer::stdout();
        printer.steps(&report.timeline);
        let verdict = format!(
            "repro: failure {}, fix A {}, fix B {}",
            if report.reproduced { "reproduced" } else { "NOT reproduced" },
            if report.fix_a.verified { "verified" } else { "NOT verified" },
            if report.fix_b.verified { "verified" } else { "NOT verified" },
        );
        printer.line(if report.succeeded() { StepKind::Ok } else { StepKind::Fail }, &verdict);
    }
    Ok(if report.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
