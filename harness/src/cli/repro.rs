//! `isapi-harness repro`: the seed case, reproduced and fixed, with real loads.

use std::process::ExitCode;

use crate::machine::Machine;
use crate::report::{Printer, StepKind};

pub fn run(args: super::ReproArgs) -> anyhow::Result<ExitCode> {
    let machine = Machine::open(args.backend)?;
    if args.iis == "10" {
        return iis10(&machine, args.json);
    }
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

/// The IIS 10 twin of the seed.
fn iis10(machine: &Machine, json: bool) -> anyhow::Result<ExitCode> {
    let report = crate::repro10::replay(machine)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let printer = Printer::stdout();
        printer.steps(&report.timeline);
        let verdict = format!(
            "repro --iis 10: failure {}, fix 1 (bitness preconditions) {}, fix 2 (64-bit pool) {}",
            if report.reproduced { "reproduced" } else { "NOT reproduced" },
            if report.fix_preconditions.verified { "verified" } else { "NOT verified" },
            if report.fix_64bit_pool.verified { "verified" } else { "NOT verified" },
        );
        printer.line(if report.succeeded() { StepKind::Ok } else { StepKind::Fail }, &verdict);
    }
    Ok(if report.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
