//! `isapi-harness diagnose`: the prediction, and with `--verify` the proof.
//!
//! Exit codes (README's table): 0 nothing wrong, predicted or (with --verify) observed; 1
//! problems found and the run, if any, agrees with the prediction; 2 bad input; 3 prediction and
//! observation disagree, which is always a bug to fix, and wins over 1.

use std::process::ExitCode;

use crate::artifacts::Artifacts;
use crate::diagnose::{Diagnosis, Predicted, diagnose, predict_only};
use crate::machine::Machine;
use crate::report::{Printer, StepKind};

pub fn run(args: super::DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let scenario = super::start::scenario_from(&args.scenario)?;
    crate::iis::check(&scenario)?;
    // Only --verify loads anything, so only --verify needs a machine (and Wine, off Windows).
    let diagnosis = if args.verify {
        let machine = Machine::open(args.scenario.backend)?;
        diagnose(&machine, &scenario, true)?
    } else {
        predict_only(&Artifacts::locate()?, &scenario)?
    };
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
        &match diagnosis.isolation_mode {
            Some(mode) => format!(
                "{} Windows, {mode}, Enable32BitAppOnWin64 {}",
                diagnosis.os, diagnosis.enable_32bit_app_on_win64
            ),
            None => {
                format!("{} Windows, IIS 7+: each pool's workers at its own bitness", diagnosis.os)
            }
        },
    );
    for filter in &diagnosis.filters {
        let predicted = &filter.predicted;
        let when = match predicted.when {
            crate::diagnose::When::ServiceStart => "at service start",
            crate::diagnose::When::FirstRequest => "on the first request",
        };
        let outcome = predicted_outcome(predicted);
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
                .map(|cause| format!("; then the filter: {}", words(cause)))
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
    for request in &diagnosis.requests {
        let answer = |status: Option<u16>| match status {
            Some(status) => format!("HTTP {status}"),
            None => "no answer".to_owned(),
        };
        let target = match (&request.site, &request.app_pool) {
            (Some(site), Some(pool)) => format!(" (site {site}, pool {pool})"),
            (Some(site), None) => format!(" (site {site})"),
            _ => String::new(),
        };
        let ok = request.predicted_status == Some(200);
        printer.line(
            if ok { StepKind::Ok } else { StepKind::Fail },
            &format!(
                "predicted: GET {}{target}: {}",
                request.url,
                answer(request.predicted_status)
            ),
        );
        if let Some(observed) = request.observed_status {
            let agree = observed == request.predicted_status;
            // An image whose own code refused, crashed, hung or answered decides the requests
            // through it, and no prediction speaks of that code.
            let behaved = diagnosis
                .filters
                .iter()
                .any(|filter| filter.observed.as_ref().is_some_and(|o| o.behaviour.is_some()))
                || diagnosis
                    .extensions
                    .iter()
                    .any(|e| e.observed.as_ref().is_some_and(|o| o.behaviour.is_some()));
            let differs = if behaved {
                "differs from the prediction, which stops at the loader: what a filter's or an extension's own code does is only observed, see above"
            } else {
                "differs from the prediction"
            };
            printer.line(
                if agree { StepKind::Ok } else { StepKind::Fail },
                &format!(
                    "observed:  GET {}: {} ({})",
                    request.url,
                    answer(observed),
                    if agree { "agrees" } else { differs }
                ),
            );
        }
    }
    for extension in &diagnosis.extensions {
        let head = format!(
            "GET {}: extension {} `{}`",
            extension.url, extension.extension, extension.path
        );
        let (kind, text) = match &extension.predicted {
            None => (
                StepKind::Fail,
                format!(
                    "{head}: prohibited by the Web Service Extension list, so 404.2 and never loaded"
                ),
            ),
            Some(predicted) => {
                let outcome = predicted_outcome(predicted);
                let reached = if extension.reached {
                    String::new()
                } else {
                    "; the request never reaches it (the service or the site's filters fail first)"
                        .to_owned()
                };
                (
                    if predicted.loads && extension.reached {
                        StepKind::Ok
                    } else {
                        StepKind::Fail
                    },
                    format!(
                        "{head} in {} {}: {outcome}; {}{reached}",
                        predicted.bits, predicted.process, predicted.reason
                    ),
                )
            }
        };
        printer.line(kind, &format!("predicted: {text}"));
        if let Some(observed) = &extension.observed {
            let host = match (observed.bits, observed.process) {
                (Some(bits), Some(process)) => format!("in {bits} {process}"),
                _ => "never loaded".to_owned(),
            };
            let status = match (observed.status, observed.substatus) {
                (Some(status), Some(sub)) => format!("HTTP {status}.{sub}"),
                (Some(status), None) => format!("HTTP {status}"),
                (None, _) => "no answer".to_owned(),
            };
            let behaviour = observed
                .behaviour
                .map(|behaviour| format!("; then the extension: {}", words(behaviour)))
                .unwrap_or_default();
            printer.line(
                if observed.agree { StepKind::Ok } else { StepKind::Fail },
                &format!(
                    "observed:  GET {}: {host}, {status}{behaviour} ({})",
                    extension.url,
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
    if !diagnosis.machine_checked && !diagnosis.filters.is_empty() {
        printer.line(
            StepKind::Info,
            "note: predicted from the configuration and the headers alone; the DLLs the filters import, files the scenario does not place and a .NET runtime were not checked against a machine (--verify does, and loads for real)",
        );
    }
    if diagnosis.filters.is_empty() {
        printer.line(StepKind::Info, "no enabled global filter is configured");
    }
    printer.steps(&[crate::report::diagnose_verdict(
        diagnosis.problems,
        diagnosis.agree,
        diagnosis.remedies.iter().filter(|remedy| remedy.verified).count(),
        diagnosis.remedies.len(),
    )]);
}

/// The loader's predicted answer for a filter or an extension, in words.
fn predicted_outcome(predicted: &Predicted) -> String {
    match predicted.win32_error {
        None => "loads".to_owned(),
        Some(error) => format!("fails with {error} ({})", words(predicted.cause)),
    }
}

/// A cause or a behaviour in words, as the JSON names it (`wrong_bitness` reads "wrong
/// bitness").
fn words(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(|name| name.replace('_', " ")))
        .unwrap_or_default()
}
