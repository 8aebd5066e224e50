//! The seed's modern twin, replayed on IIS 10: the same bitness failure on today's servers.
//!
//! A 64-bit Windows Server runs IIS 10 with a Tomcat connector, `isapi_redirect.dll` in its
//! 64-bit build, registered as a global ISAPI filter without a bitness precondition. The
//! administrator switches the pool to 32-bit (`appcmd set apppool /enable32BitAppOnWin64:true`,
//! for a 32-bit component elsewhere in the application). The next request starts a 32-bit
//! w3wp.exe, which loads the filter for real: error 193, and every request to the site gets
//! "HTTP Error 500.0 - Internal Server Error: Calling LoadLibraryEx on ISAPI filter ... failed"
//! (iis-facts §6). The standard modules load in both bitnesses because the machine has both
//! builds, in System32 and SysWOW64, as a real server has.
//!
//! Two fixes, each verified by requests from the failing state:
//! - 1: register each build with its bitness precondition: the 64-bit filter with
//!   `preCondition="bitness64"`, the 32-bit build with `bitness32`; the 32-bit worker skips the
//!   one and loads the other.
//! - 2: turn the pool back to 64-bit.
//!
//! Every change is an `appcmd` command line applied through the same code as the `appcmd`
//! subcommand, so a command shown and the edit made cannot differ.

use super::{Fix, ReplayOptions, timeline_of};
use std::path::Path;

use crate::apphost::Apphost;
use crate::apphost::edit::parse_command;
use crate::arch::{Arch, Bits, Os};
use crate::iis::iis7::messages::appcmd::{command_line, output};
use crate::machine::{Machine, WinPath};
use crate::report::repro as words;
pub use crate::report::repro::Repro10Report;
use crate::report::{StartReport, Step};
use crate::scenario::{ImageSpec, Scenario};
use crate::vocab::{ProcessName, Win32Error};

/// The embedded IIS 10 configuration, in IIS's own format (CRLF, no BOM).
pub const SEED10_APPHOST: &str = include_str!("seed10-applicationHost.config");

const FILTER_64: &str = r"C:\tomcat\amd64\isapi_redirect.dll";
const FILTER_32: &str = r"C:\tomcat\x86\isapi_redirect.dll";

/// One appcmd command line, as an administrator types it, split as the shell would.
fn appcmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

pub fn replay(machine: &Machine, options: &ReplayOptions) -> anyhow::Result<Repro10Report> {
    let mut timeline = Vec::new();
    let mut say = |step: Step| timeline.push(step);
    let mut apphost = Apphost::parse(SEED10_APPHOST, Path::new("seed10-applicationHost.config"))?;
    say(words::iis10_heading());
    let baseline = start(machine, &apphost, "iis10: before the change", options)?;
    timeline_of(&mut say, &baseline, options.detail);

    let switch = appcmd(&["set", "apppool", "DefaultAppPool", "/enable32BitAppOnWin64:true"]);
    run(&mut say, &mut apphost, &switch)?;
    let failure = start(machine, &apphost, "iis10: the pool switched to 32-bit", options)?;
    timeline_of(&mut say, &failure, options.detail);
    let reproduced = is_filter_193_in_32_bit_worker(&failure);
    say(words::iis10_reproduced(reproduced));

    say(words::fix_1_heading());
    let fix1 = vec![
        appcmd(&["set", "config", "/section:system.webServer/isapiFilters", "/-[name='jakarta']"]),
        appcmd(&[
            "set",
            "config",
            "/section:system.webServer/isapiFilters",
            &format!("/+[name='jakarta',path='{FILTER_64}',preCondition='bitness64']"),
        ]),
        appcmd(&[
            "set",
            "config",
            "/section:system.webServer/isapiFilters",
            &format!("/+[name='jakarta_32bit',path='{FILTER_32}',preCondition='bitness32']"),
        ]),
    ];
    let mut fixed1 = apphost.clone();
    for command in &fix1 {
        run(&mut say, &mut fixed1, command)?;
    }
    let start1 = start(machine, &fixed1, "iis10: fix 1", options)?;
    timeline_of(&mut say, &start1, options.detail);
    let verified1 = start1.all_good()
        && served_by(&start1, Bits::B32)
        && start1
            .hosts
            .iter()
            .all(|host| host.filters.iter().all(|filter| filter.path == FILTER_32));
    say(words::fix_1_verdict(verified1));

    say(words::fix_2_heading());
    let fix2 = vec![appcmd(&["set", "apppool", "DefaultAppPool", "/enable32BitAppOnWin64:false"])];
    let mut fixed2 = apphost.clone();
    for command in &fix2 {
        run(&mut say, &mut fixed2, command)?;
    }
    let start2 = start(machine, &fixed2, "iis10: fix 2", options)?;
    timeline_of(&mut say, &start2, options.detail);
    let verified2 = start2.all_good() && served_by(&start2, Bits::B64);
    say(words::fix_2_verdict(verified2));

    Ok(Repro10Report {
        reproduced,
        failure,
        fix_preconditions: Fix {
            name: "bitness preconditions",
            commands: fix1.iter().map(|c| command_line(c)).collect(),
            verified: verified1,
            start: start1,
        },
        fix_64bit_pool: Fix {
            name: "64-bit pool",
            commands: fix2.iter().map(|c| command_line(c)).collect(),
            verified: verified2,
            start: start2,
        },
        timeline,
    })
}

fn run(say: &mut impl FnMut(Step), apphost: &mut Apphost, args: &[String]) -> anyhow::Result<()> {
    say(words::command(command_line(args)));
    let command = parse_command(args).map_err(anyhow::Error::msg)?;
    for line in output(&apphost.apply(&command)?) {
        say(words::console(line));
    }
    Ok(())
}

fn start(
    machine: &Machine,
    apphost: &Apphost,
    name: &str,
    options: &ReplayOptions,
) -> anyhow::Result<StartReport> {
    let mut scenario = Scenario::new(name, Os::X64, apphost.clone());
    scenario.add_image(
        WinPath::parse(FILTER_64)?,
        ImageSpec::Mock { arch: Arch::Amd64, mock: crate::mock::Mock::FILTER },
    )?;
    scenario.add_image(
        WinPath::parse(FILTER_32)?,
        ImageSpec::Mock { arch: Arch::X86, mock: crate::mock::Mock::FILTER },
    )?;
    scenario.host_timeout = options.host_timeout;
    crate::iis::check(&scenario)?.start(machine)
}

fn served_by(report: &StartReport, bits: Bits) -> bool {
    report.hosts.iter().any(|host| host.process == ProcessName::W3wp && host.bits == bits)
        && report.hosts.iter().all(|host| host.bits == bits)
        && !report.requests.is_empty()
        && report.requests.iter().all(|request| request.status == Some(200))
}

fn is_filter_193_in_32_bit_worker(report: &StartReport) -> bool {
    let loader_193 = report.hosts.iter().any(|host| {
        host.process == ProcessName::W3wp
            && host.bits == Bits::B32
            && host.filters.iter().any(|filter| {
                filter.path == FILTER_64 && filter.win32_error == Some(Win32Error::BAD_EXE_FORMAT)
            })
            && host.modules.iter().all(|module| module.loaded)
    });
    let page = report.steps().iter().any(|step| {
        step.text.contains("HTTP 500.0")
            && step
                .text
                .contains(&format!("Calling LoadLibraryEx on ISAPI filter \"{FILTER_64}\" failed"))
    });
    loader_193 && page && report.requests.iter().all(|request| request.status == Some(500))
}
