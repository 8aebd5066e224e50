//! `isapi-harness diagnose`: the prediction, and with `--verify` the proof.
//!
//! Exit codes: 0 no problem predicted; 1 problems predicted (and, with --verify, confirmed);
//! 2 bad input; 3 prediction and observation disagree, which is always a bug to fix.

use std::process::ExitCode;

use crate::diagnose::{Diagnosis, diagnose};
use crate::machine::Machine;
use crate::report::{Printer, StepKind};

pub fn run(args: super::DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let scenario = super::start::scenario_from(&args.scenario)?;
    crate::iis::check(&scenario)?;
    let machine = Machine::open(args.scenario.backend)?;
    let diagnosis = diagnose(&machine, &scenario, args.verify)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diagnosis)?);
    } else {
        print(&diagnosis);
    }
    Ok(match (diagnosis.agree, diagnosis.problems) {
        (Some(false), _) => ExitCode::from(3),
        (_, true) => ExitCode::from(1),
        (_, false) => ExitCode::SUCCESS,
    })
}

fn print(diagnosis: &Diagnosis) {
    let printer = Printer::stdout();
    printer.line(
        StepKind::Config,
        &format!(
            "{} Windows, {}, Enable32BitAppOnWin64 {}",
            diagnosis.os, diagnosis.isolation_mode, diagnosis.enable_32bit_app_on_win64
        ),
    );
    for filter in &diagnosis.filters {
        let predicted = &filter.predicted;
        let when = match predicted.when {
            crate::diagnose::When::ServiceStart => "at service start",
            crate::diagnose::When::FirstRequest => "on the first request",
        };
        let outcome = match predicted.win32_error {
            None => "loads".to_owned(),
            Some(error) => format!("fails with {error} ({})", predicted.cause),
        };
        printer.line(
            if predicted.loads { StepKind::Ok } else { StepKind::Fail },
            &format!(
                "predicted: {} `{}` in {} {} {when}: {outcome}; {}",
                filter.name, filter.path, predicted.bits, predicted.process, predicted.reason
            ),
        );
        if let Some(note) = predicted.windows_versions_differ {
            printer.line(StepKind::Info, &format!("note: {note}"));
        }
        if let Some(observed) = &filter.observed {
            let outcome = match observed.win32_error {
                None => "loaded".to_owned(),
                Some(error) => format!("failed with {error}"),
            };
            let behaviour = observed
                .behaviour
                .map(|cause| format!("; then the filter: {cause:?}"))
                .unwrap_or_default();
            printer.line(
                if observed.agree { StepKind::Ok } else { StepKind::Fail },
                &format!(
                    "observed:  {outcome} in {} {}{behaviour} ({})",
                    observed.bits,
                    observed.process,
                    if observed.agree { "agrees" } else { "DISAGREES with the prediction" }
                ),
            );
        }
    }
    for (rank, remedy) in diagnosis.remedies.iter().enumerate() {
        let verified = match diagnosis.agree {
            None => String::new(),
            Some(_) if remedy.verified => " [verified by a real start]".to_owned(),
            Some(_) => " [did NOT verify]".to_owned(),
        };
        printer.line(
            StepKind::Info,
            &format!("remedy {}: {}{verified}", rank + 1, remedy.explanation),
        );
        for command in &remedy.commands {
            printer.line(StepKind::Console, command);
        }
    }
    if diagnosis.filters.is_empty() {
        printer.line(StepKind::Info, "no enabled global filter is configured");
    }
}
