//! `isapi-harness start`: one W3SVC start on a simulated machine, with real loads.

use std::process::ExitCode;

use crate::machine::Machine;
use crate::report::{self, Detail, Printer};
use crate::scenario::Scenario;

pub fn run(args: super::StartArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario_from(&args.scenario)?;
    // Everything the user gave is checked before the machine is touched, so bad input writes
    // nothing.
    let checked = crate::iis::check(&scenario)?;
    let machine = Machine::open(args.scenario.backend)?;
    let report = checked.start(&machine)?;
    if args.json {
        println!("{}", report::json::render(&report)?);
    } else {
        let detail = if args.verbose { Detail::Verbose } else { Detail::Summary };
        Printer::stdout().steps(&report.steps_in(detail));
    }
    Ok(if report.all_good() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Builds a scenario from the options `start` and `diagnose` share.
pub fn scenario_from(args: &super::ScenarioArgs) -> anyhow::Result<Scenario> {
    let config = crate::scenario::Configuration::read(&args.config)?;
    let name =
        args.config.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    let mut scenario = Scenario::new(name, args.os, config);
    for image in &args.images {
        let (path, spec) = crate::scenario::parse_image_arg(image)?;
        scenario.add_image(path, spec)?;
    }
    for url in &args.request_urls {
        let url = crate::http_sys::RequestUrl::parse(url)
            .map_err(|what| anyhow::anyhow!("--request: {what}"))?;
        scenario.requests.push(url);
    }
    scenario.repeat_requests = args.requests;
    scenario.host_timeout = std::time::Duration::from_millis(args.timeout_ms);
    scenario.windows = args.windows;
    scenario.installed = args.installed.clone();
    Ok(scenario)
}
