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
    let machine = Machine::open_for_one_run(args.scenario.backend)?;
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
    let server = args.server.as_deref().map(crate::server_copy::ServerCopy::read).transpose()?;
    let given = crate::scenario::Given {
        config: args.config.clone(),
        os: args.os,
        windows: args.windows,
        installed: args.installed.clone(),
    };
    let mut scenario = Scenario::with_server(None, given, server)?;
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
    scenario.path = args.path.clone();
    Ok(scenario)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    /// `--path` is repeatable and keeps its order; each folder must be a Windows path.
    #[test]
    fn path_folders_become_the_servers_extra_path_in_order() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["isapi-harness", "start", "--config", "MetaBase.xml"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args)
        };
        let cli = parse(&["--path", r"C:\Vendor\bin", "--path", "D:/Libs"]).expect("it parses");
        let Command::Start(start) = cli.command else { panic!("start") };
        let folders: Vec<&str> = start.scenario.path.iter().map(|path| path.as_str()).collect();
        assert_eq!(folders, [r"C:\Vendor\bin", "D:/Libs"]);
        assert!(parse(&["--path", "Vendor/bin"]).is_err(), "a relative folder is refused");
    }
}
