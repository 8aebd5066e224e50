//! `isapi-harness diagnose`: the prediction, and with `--verify` the proof.
//!
//! Exit codes (README's table): 0 nothing wrong, predicted or (with --verify) observed; 1
//! problems found and the run, if any, agrees with the prediction; 2 bad input; 3 prediction and
//! observation disagree, which is always a bug to fix, and wins over 1.

use std::process::ExitCode;

use crate::artifacts::Artifacts;
use crate::diagnose::{diagnose, predict_only};
use crate::machine::Machine;
use crate::report::Printer;

pub fn run(args: super::DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let scenario = super::start::scenario_from(&args.scenario)?;
    crate::iis::check(&scenario)?;
    // Only --verify loads anything, so only --verify needs a machine (and Wine, off Windows).
    let diagnosis = if args.verify {
        let machine = Machine::open_for_one_run(args.scenario.backend)?;
        diagnose(&machine, &scenario, true)?
    } else {
        predict_only(&Artifacts::locate()?, &scenario)?
    };
    if args.json {
        println!("{}", crate::report::json::render(&diagnosis)?);
    } else {
        Printer::stdout().steps(&crate::report::diagnose::steps(&diagnosis));
    }
    Ok(match (diagnosis.agree, diagnosis.problems) {
        (Some(false), _) => ExitCode::from(3),
        (_, true) => ExitCode::from(1),
        (_, false) => ExitCode::SUCCESS,
    })
}
