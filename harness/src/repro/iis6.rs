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

use serde::Serialize;

use super::{Fix, ReplayOptions, timeline_of, verdict_kind, verdict_text};
use crate::arch::{Arch, Bits, Os};
use crate::iis::iis6::messages;
use crate::machine::Machine;
use crate::metabase::{Metabase, MetabaseErrorKind};
use crate::remedy::{self, Change, Remedy};
use crate::report::{StartReport, Step, StepKind};
use crate::scenario::Scenario;
use crate::vocab::{ProcessName, Win32Error};

/// The Windows folder of the server in the seed case (its paths are on `d:\WINDOWS`).
pub const SEED_WINDIR: &str = r"d:\WINDOWS";

#[derive(Debug, Serialize)]
pub struct ReproReport {
    /// True when W3SVC failed with Win32 error 193 in a 64-bit inetinfo.exe, as in the report.
    pub reproduced: bool,
    /// The seed's explanation measured: the same System32 path in a 64-bit and a 32-bit host.
    pub wow64_redirection: Wow64Redirection,
    pub failure: StartReport,
    pub fix_a: Fix,
    pub fix_b: Fix,
    /// The whole replay as a timeline.
    pub timeline: Vec<Step>,
}

impl ReproReport {
    /// What exit code 0 of `repro` promises.
    pub fn succeeded(&self) -> bool {
        self.reproduced && self.fix_a.verified && self.fix_b.verified
    }
}

pub fn replay(machine: &Machine, options: &ReplayOptions) -> anyhow::Result<ReproReport> {
    let origin = Path::new("seed-metabase.xml");
    let mut timeline = Vec::new();
    let mut say = |kind: StepKind, text: String| timeline.push(Step { kind, text });
    let mut metabase = Metabase::parse(crate::metabase::SEED_METABASE, origin)?;

    say(
        StepKind::Info,
        "== the seed case: IIS 6.0 on Windows Server 2003 x64, IIS 5.0 isolation mode".to_owned(),
    );
    let redirection = measure_wow64_redirection(machine)?;
    say(StepKind::Info, redirection.why_line());
    let baseline = start(machine, &metabase, "seed: before the change", options)?;
    say(StepKind::Info, "-- iisreset with the 64-bit ASP.NET filter registered".to_owned());
    timeline_of(&mut say, &baseline, options.detail);

    let enable_32bit = Change::enable_32bit_workers();
    say(StepKind::Config, enable_32bit.command_line());
    enable_32bit.apply(&mut metabase)?;
    if let Some(property) = metabase.get("W3SVC/AppPools/Enable32BitAppOnWin64")? {
        say(StepKind::Console, property.adsutil_line());
    }
    let after_flag = start(machine, &metabase, "seed: after Enable32BitAppOnWin64", options)?;
    say(StepKind::Info, "-- iisreset".to_owned());
    timeline_of(&mut say, &after_flag, options.detail);

    let register_x86 =
        Change::AspnetRegiis { framework: Arch::X86, windir: SEED_WINDIR.to_owned(), os: Os::X64 };
    say(
        StepKind::Config,
        format!("{}   (the 32-bit Framework folder)", register_x86.command_line()),
    );
    for change in register_x86.apply(&mut metabase)? {
        say(StepKind::Config, format!("aspnet_regiis: {change}"));
    }
    let restart = start(machine, &metabase, "seed: aspnet_regiis restarts W3SVC", options)?;
    say(StepKind::Info, "-- aspnet_regiis restarts W3SVC".to_owned());
    timeline_of(&mut say, &restart, options.detail);
    if !restart.service.started {
        let (now, later) = timestamps();
        for line in messages::aspnet_regiis_restart_failed(&now, &later) {
            say(StepKind::Console, format!("aspnet_regiis log: {line}"));
        }
    }
    let failure = start(machine, &metabase, "seed: net start w3svc", options)?;
    say(StepKind::Info, "-- net start w3svc".to_owned());
    timeline_of(&mut say, &failure, options.detail);
    let reproduced =
        is_error_193_in_64_bit_inetinfo(&failure) && is_error_193_in_64_bit_inetinfo(&restart);
    say(
        if reproduced { StepKind::Ok } else { StepKind::Fail },
        if reproduced {
            "REPRODUCED: W3SVC fails with System error 193; the loader refused the x86 filter in the 64-bit inetinfo.exe".to_owned()
        } else {
            "NOT REPRODUCED: W3SVC did not fail with error 193 in a 64-bit inetinfo.exe".to_owned()
        },
    );

    say(StepKind::Info, "== fix A: switch to worker process isolation mode".to_owned());
    let fix_a = remedy::worker_process_isolation(metabase.enable_32bit_app_on_win64());
    let fixed_a = apply(&mut say, &fix_a, &metabase)?;
    say(
        StepKind::Info,
        "HttpFilter restarts in lsass.exe instead of inetinfo.exe, as worker process isolation mode requires".to_owned(),
    );
    let start_a = start(machine, &fixed_a, "fix A", options)?;
    timeline_of(&mut say, &start_a, options.detail);
    let verified_a = start_a.all_good()
        && start_a
            .hosts
            .iter()
            .any(|host| host.process == ProcessName::W3wp && host.bits == Bits::B32)
        && page_answered_by(&start_a, ProcessName::W3wp, Bits::B32);
    say(
        verdict_kind(verified_a),
        verdict_text(
            "fix A",
            verified_a,
            &format!(
                "the x86 filter loads in a 32-bit w3wp.exe and GET {ASPNET_PAGE} gets 200 from the x86 extension in a 32-bit w3wp.exe"
            ),
        ),
    );

    say(
        StepKind::Info,
        "== fix B: stay in IIS 5.0 isolation mode, register the 64-bit filter".to_owned(),
    );
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
        say(
            StepKind::Info,
            format!(
                "{} alone is refused while Enable32bitAppOnWin64 is 1: \"{}\"",
                alone.command_line(),
                messages::tools::aspnet_regiis_wrong_iis_bitness(Arch::Amd64)
            ),
        );
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
    say(
        verdict_kind(verified_b),
        verdict_text(
            "fix B",
            verified_b,
            &format!(
                "the AMD64 filter loads in the 64-bit inetinfo.exe and GET {ASPNET_PAGE} gets 200 from the AMD64 extension in the 64-bit dllhost.exe of the pooled application"
            ),
        ),
    );

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

/// The metabase path of the seed's explanation, in the Windows folder of the OS the hosts run
/// on (see [`Machine::run_host_probing_os_folder`]).
///
/// Wine redirects only its own system folder, `C:\windows\system32`, so the measurement is
/// made there rather than on the seed's `d:\WINDOWS`; the line says so.
const METABASE_IN_SYSTEM32: &str = r"C:\windows\system32\inetsrv\MetaBase.xml";
/// A file every 64-bit Windows (and the Wine prefix) has in both System32 and SysWOW64, so that
/// the file a 32-bit process really opens for a System32 path can be seen by its final path.
const KERNEL32_IN_SYSTEM32: &str = r"C:\windows\system32\kernel32.dll";

/// What a 64-bit and a 32-bit host found at the same System32 paths.
#[derive(Debug, Serialize)]
pub struct Wow64Redirection {
    /// The 64-bit host first.
    pub hosts: Vec<Wow64Host>,
    /// True when the two got different files for the same System32 path (kernel32.dll).
    pub shown: bool,
    /// Whether the seed's MetaBase.xml was placed in System32\inetsrv for the probe: under
    /// Wine, whose prefix is the machine. On Windows the OS's own folder is never written.
    pub metabase_placed: bool,
}

#[derive(Debug, Serialize)]
pub struct Wow64Host {
    pub bits: Bits,
    pub probes: Vec<Wow64Probe>,
}

#[derive(Debug, Serialize)]
pub struct Wow64Probe {
    pub path: String,
    /// The file the host really opened, by its final path; None where it found no file.
    pub opened: Option<String>,
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

impl Wow64Redirection {
    /// What a process of `bits` opened for the probe at `index`.
    fn opened(&self, bits: Bits, index: usize) -> Option<&str> {
        self.hosts
            .iter()
            .find(|host| host.bits == bits)
            .and_then(|host| host.probes.get(index))
            .and_then(|probe| probe.opened.as_deref())
    }

    /// True when the two hosts got different files for the same System32 path, and the
    /// placed metabase (where it was placed) only in System32.
    fn differs(&self) -> bool {
        let kernel32 = (self.opened(Bits::B64, 1), self.opened(Bits::B32, 1));
        let metabase = (self.opened(Bits::B64, 0), self.opened(Bits::B32, 0));
        matches!(kernel32, (Some(a), Some(b)) if a != b)
            && (!self.metabase_placed || (metabase.0.is_some() && metabase.0 != metabase.1))
    }

    /// The replay's "why" line, from what the two hosts reported.
    pub fn why_line(&self) -> String {
        let file = |opened: Option<&str>| match opened {
            Some(path) => format!("opened {}", path.trim_start_matches(r"\\?\")),
            None => "found no file".to_owned(),
        };
        let kernel32 = format!(
            "for {KERNEL32_IN_SYSTEM32} the 64-bit one {}, the 32-bit one {}",
            file(self.opened(Bits::B64, 1)),
            file(self.opened(Bits::B32, 1)),
        );
        let (measured, place) = if self.metabase_placed {
            (
                format!(
                    "for {METABASE_IN_SYSTEM32} a 64-bit process {}, a 32-bit one {}; {kernel32}",
                    file(self.opened(Bits::B64, 0)),
                    file(self.opened(Bits::B32, 0)),
                ),
                r"measured on C:\windows, the machine's own Windows folder, standing for the seed's d:\WINDOWS",
            )
        } else {
            (
                format!("two hosts probed this Windows's own System32, read only: {kernel32}"),
                r"measured on this computer's own Windows folder, where the seed's MetaBase.xml is not placed; kernel32.dll, which both System32 and SysWOW64 hold, shows it",
            )
        };
        if self.shown {
            format!(
                r"why inetinfo.exe is 64-bit ({place}): WOW64 sends a 32-bit process's System32 to SysWOW64; {measured}. The IIS Admin service reads MetaBase.xml from System32\inetsrv, so it runs 64-bit, and in IIS 5.0 isolation mode the filters load into it"
            )
        } else {
            format!("WOW64 redirection NOT shown on this machine: {measured}")
        }
    }
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
    say: &mut impl FnMut(StepKind, String),
    remedy: &Remedy,
    metabase: &Metabase,
) -> anyhow::Result<Metabase> {
    let mut fixed = metabase.clone();
    for change in &remedy.changes {
        say(StepKind::Config, change.command_line());
        for line in change.apply(&mut fixed)? {
            say(StepKind::Config, format!("aspnet_regiis: {line}"));
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
