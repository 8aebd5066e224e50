//! `isapi-harness repro`: a seed case, reproduced and fixed, with real loads.

use std::process::ExitCode;

use crate::machine::Machine;
use crate::report::{Detail, Printer};

pub fn run(args: super::ReproArgs) -> anyhow::Result<ExitCode> {
    let machine = Machine::open(args.backend)?;
    let options = crate::repro::ReplayOptions {
        detail: if args.verbose { Detail::Verbose } else { Detail::Summary },
        host_timeout: std::time::Duration::from_millis(args.timeout_ms),
    };
    let replay = crate::repro::replay(&machine, args.iis, &options)?;
    if args.json {
        println!("{}", crate::report::json::render(&replay)?);
    } else {
        let printer = Printer::stdout();
        printer.steps(replay.timeline());
        printer.steps(&[crate::report::repro::verdict(&replay)]);
    }
    Ok(if replay.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
