//! The seed case, replayed: the product's main job.
//!
//! A 64-bit Windows Server 2003 runs IIS 6.0 in IIS 5.0 isolation mode with ASP.NET's 64-bit
//! filter. The administrator turns on `Enable32BitAppOnWin64`, restarts IIS, and runs
//! `aspnet_regiis -i -enable` from the 32-bit Framework folder, which points the global ASP.NET
//! filter at the 32-bit `aspnet_filter.dll`. aspnet_regiis's restart of W3SVC fails, and so does
//! `net start w3svc`: System error 193, because in IIS 5.0 isolation mode the filters load into
//! the 64-bit inetinfo.exe.
//!
//! The replay makes every configuration change through the same admin-tool functions the
//! `adsutil` and `aspnet-regiis` subcommands use, and every W3SVC start loads the filters for
//! real. It then verifies the two fixes from the failing state:
//! - A: worker process isolation mode (`IIs5IsolationModeEnabled 0`, restart W3SVC and
//!   HttpFilter); the filter then loads in a 32-bit w3wp.exe, and `GET /default.aspx` gets 200
//!   from the 32-bit ASP.NET extension in that worker.
//! - B: stay in IIS 5.0 isolation mode and keep things 64-bit: `Enable32bitAppOnWin64 0` first
//!   (the 64-bit aspnet_regiis refuses to run while it is 1), then aspnet_regiis from
//!   Framework64, then the restart; the 64-bit filter loads in inetinfo.exe and
//!   `GET /default.aspx` gets 200 from the 64-bit extension in the dllhost.exe that runs the
//!   seed's pooled root application.
//!
//! Every start asks for `/default.aspx`, so a fix is verified only when the page is served.

use std::path::Path;
use std::time::SystemTime;

use super::{Fix, ReplayOptions, timeline_of};
use crate::arch::{Arch, Bits, Os};
use crate::iis::iis6::messages;
use crate::machine::Machine;
use crate::metabase::{Metabase, MetabaseErrorKind};
use crate::remedy::{self, Change, Remedy};
use crate::report::repro::{self as words, KERNEL32_IN_SYSTEM32, METABASE_IN_SYSTEM32};
pub use crate::report::repro::{ReproReport, Wow64Host, Wow64Probe, Wow64Redirection};
use crate::report::{StartReport, Step};
use crate::scenario::Scenario;
use crate::vocab::{ProcessName, Win32Error};

/// The Windows folder of the server in the seed case (its paths are on `d:\WINDOWS`).
pub const SEED_WINDIR: &str = r"d:\WINDOWS";

pub fn replay(machine: &Machine, options: &ReplayOptions) -> anyhow::Result<ReproReport> {
    let origin = Path::new("seed-metabase.xml");
    let mut timeline = Vec::new();
    let mut say = |step: Step| timeline.push(step);
    let mut metabase = Metabase::parse(crate::metabase::SEED_METABASE, origin)?;

    say(words::seed_heading());
    let redirection = measure_wow64_redirection(machine)?;
    say(words::why(&redirection));
    let baseline = start(machine, &metabase, "seed: before the change", options)?;
    say(words::iisreset_with_64bit_filter());
    timeline_of(&mut say, &baseline, options.detail);

    let enable_32bit = Change::enable_32bit_workers();
    say(words::command(enable_32bit.command_line()));
    enable_32bit.apply(&mut metabase)?;
    if let Some(property) = metabase.get("W3SVC/AppPools/Enable32BitAppOnWin64")? {
        say(words::console(property.adsutil_line()));
    }
    let after_flag = start(machine, &metabase, "seed: after Enable32BitAppOnWin64", options)?;
    say(words::iisreset());
    timeline_of(&mut say, &after_flag, options.detail);

    let register_x86 =
        Change::AspnetRegiis { framework: Arch::X86, windir: SEED_WINDIR.to_owned(), os: Os::X64 };
    say(words::x86_aspnet_regiis(register_x86.command_line()));
    for change in register_x86.apply(&mut metabase)? {
        say(words::aspnet_regiis_change(change));
    }
    let restart = start(machine, &metabase, "seed: aspnet_regiis restarts W3SVC", options)?;
    say(words::aspnet_regiis_restarts_w3svc());
    timeline_of(&mut say, &restart, options.detail);
    if !restart.service.started {
        let (now, later) = timestamps();
        for line in messages::aspnet_regiis_restart_failed(&now, &later) {
            say(words::aspnet_regiis_log(&line));
        }
    }
    let failure = start(machine, &metabase, "seed: net start w3svc", options)?;
    say(words::net_start_w3svc());
    timeline_of(&mut say, &failure, options.detail);
    let reproduced =
        is_error_193_in_64_bit_inetinfo(&failure) && is_error_193_in_64_bit_inetinfo(&restart);
    say(words::seed_reproduced(reproduced));

    say(words::fix_a_heading());
    let fix_a = remedy::worker_process_isolation(metabase.enable_32bit_app_on_win64());
    let fixed_a = apply(&mut say, &fix_a, &metabase)?;
    say(words::http_filter_moves());
    let start_a = start(machine, &fixed_a, "fix A", options)?;
    timeline_of(&mut say, &start_a, options.detail);
    let verified_a = start_a.all_good()
        && start_a
            .hosts
            .iter()
            .any(|host| host.process == ProcessName::W3wp && host.bits == Bits::B32)
        && page_answered_by(&start_a, ProcessName::W3wp, Bits::B32);
    say(words::fix_a_verdict(verified_a, ASPNET_PAGE));

    say(words::fix_b_heading());
    let fix_b = remedy::register_aspnet(
        Arch::Amd64,
        SEED_WINDIR,
        Os::X64,
        metabase.enable_32bit_app_on_win64(),
        Bits::B64,
    );
    // The 64-bit tool alone, as the replay once ran it, is refused while IIS runs 32-bit
    // workers: shown on a copy, through the same function the aspnet-regiis subcommand uses.
    let alone = Change::AspnetRegiis {
        framework: Arch::Amd64,
        windir: SEED_WINDIR.to_owned(),
        os: Os::X64,
    };
    if let Err(error) = alone.apply(&mut metabase.clone()) {
        if error.kind() != MetabaseErrorKind::ToolRefused {
            return Err(error.into());
        }
        say(words::x64_aspnet_regiis_refused(
            alone.command_line(),
            &messages::tools::aspnet_regiis_wrong_iis_bitness(Arch::Amd64),
        ));
    }
    let fixed_b = apply(&mut say, &fix_b, &metabase)?;
    let start_b = start(machine, &fixed_b, "fix B", options)?;
    timeline_of(&mut say, &start_b, options.detail);
    // The seed's root application is AppIsolated 2 (pooled): IIS 5.0 isolation mode runs it
    // in dllhost.exe, native, so 64-bit.
    let verified_b = start_b.all_good()
        && start_b
            .hosts
            .iter()
            .any(|host| host.process == ProcessName::Inetinfo && host.bits == Bits::B64)
        && page_answered_by(&start_b, ProcessName::Dllhost, Bits::B64);
    say(words::fix_b_verdict(verified_b, ASPNET_PAGE));

    Ok(ReproReport {
        reproduced,
        wow64_redirection: redirection,
        failure,
        fix_a: Fix {
            name: "worker process isolation mode",
            commands: fix_a.commands(),
            verified: verified_a,
            start: start_a,
        },
        fix_b: Fix {
            name: "64-bit ASP.NET filter",
            commands: fix_b.commands(),
            verified: verified_b,
            start: start_b,
        },
        timeline,
    })
}

/// Starts a 64-bit and a 32-bit host, each probing the same System32 paths of the Windows
/// folder of the OS they run on, read where they are. Under Wine, whose prefix is the machine,
/// the seed's metabase is first placed at `System32\inetsrv\MetaBase.xml`; on Windows that
/// folder is the real one and is not written. Which file each host got is what it reported
/// (GetFinalPathNameByHandleW), never assumed, and WOW64 (never the harness) redirects it.
pub fn measure_wow64_redirection(machine: &Machine) -> anyhow::Result<Wow64Redirection> {
    use crate::host::HostPlan;
    use crate::machine::{Content, Layout, WinPath};
    let metabase = WinPath::parse(METABASE_IN_SYSTEM32)?;
    let kernel32 = WinPath::parse(KERNEL32_IN_SYSTEM32)?;
    let metabase_placed = machine.machine_windows_is_the_os_s();
    let mut layout = Layout::default();
    if metabase_placed {
        let source =
            machine.artifacts().probe_file("seed-MetaBase.xml", crate::metabase::SEED_METABASE)?;
        layout.set(metabase.clone(), Content::Copy(source));
    }
    let _placed = machine.acquire(&layout)?;
    let mut hosts = Vec::new();
    for bits in [Bits::B64, Bits::B32] {
        let plan = HostPlan {
            bits,
            process: ProcessName::Inetinfo,
            probes: vec![metabase.clone(), kernel32.clone()],
            images: Vec::new(),
            stop_at_first_failure: false,
            probe_before_load: false,
            request: false,
            timeout: crate::scenario::DEFAULT_HOST_TIMEOUT,
        };
        let run = machine.run_host_probing_os_folder(&plan)?;
        let probes = run
            .probes
            .iter()
            .map(|probe| Wow64Probe {
                path: probe.path.clone(),
                opened: probe.opened.clone().filter(|_| probe.exists),
            })
            .collect();
        hosts.push(Wow64Host { bits, probes });
    }
    let mut redirection = Wow64Redirection { hosts, shown: false, metabase_placed };
    redirection.shown = redirection.differs();
    Ok(redirection)
}

/// The ASP.NET page every start of the replay asks for: a fix counts only when it is served.
const ASPNET_PAGE: &str = "/default.aspx";

/// Whether the ASP.NET page got 200 from an extension that `process` of `bits` loaded.
fn page_answered_by(report: &StartReport, process: ProcessName, bits: Bits) -> bool {
    report.requests.iter().any(|request| request.url == ASPNET_PAGE && request.status == Some(200))
        && report.hosts.iter().any(|host| {
            host.process == process
                && host.bits == bits
                && host.extensions.iter().any(|extension| extension.loaded)
        })
}

fn start(
    machine: &Machine,
    metabase: &Metabase,
    name: &str,
    options: &ReplayOptions,
) -> anyhow::Result<StartReport> {
    let mut scenario = Scenario::new(name, Os::X64, metabase.clone());
    scenario.requests =
        vec![crate::http_sys::RequestUrl::parse(ASPNET_PAGE).map_err(anyhow::Error::msg)?];
    scenario.host_timeout = options.host_timeout;
    crate::iis::check(&scenario)?.start(machine)
}

/// Makes a remedy's changes on a copy of `metabase`, saying each command as it is run.
fn apply(
    say: &mut impl FnMut(Step),
    remedy: &Remedy,
    metabase: &Metabase,
) -> anyhow::Result<Metabase> {
    let mut fixed = metabase.clone();
    for change in &remedy.changes {
        say(words::command(change.command_line()));
        for line in change.apply(&mut fixed)? {
            say(words::aspnet_regiis_change(line));
        }
    }
    Ok(fixed)
}

fn is_error_193_in_64_bit_inetinfo(report: &StartReport) -> bool {
    !report.service.started
        && report.service.win32_error == Some(Win32Error::BAD_EXE_FORMAT)
        && report.hosts.iter().any(|host| {
            host.process == ProcessName::Inetinfo
                && host.bits == Bits::B64
                && host
                    .filters
                    .iter()
                    .any(|filter| filter.win32_error == Some(Win32Error::BAD_EXE_FORMAT))
        })
        && report.events.iter().any(|event| event.id == 2274 && event.text.contains("AMD64"))
}

/// Two timestamps a second apart in aspnet_regiis's log format, from the wall clock.
fn timestamps() -> (String, String) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    (format_utc(now), format_utc(now + 1))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, from seconds since 1970 (the civil-from-days algorithm).
fn format_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let secs = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_like_the_aspnet_regiis_log() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00:00");
        // 2005-12-14 12:37:39 UTC, the moment of the seed report's first log line.
        assert_eq!(super::format_utc(1_134_563_859), "2005-12-14 12:37:39");
    }
}
