//! What a replay of a seed case found, and its words: the typed replays (the `--json`
//! contract of `repro`, computed in `repro/`), each line of their narration by its own
//! function, and the replay's last line.

use serde::Serialize;

use super::{StartReport, Step, StepKind};
use crate::arch::Bits;
use crate::vocab::Seed;

/// What a replay found: the one seed's report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Replay {
    Iis6(ReproReport),
    Iis10(Repro10Report),
}

impl Replay {
    /// What exit code 0 of `repro` promises: the failure reproduced and every fix verified.
    pub fn succeeded(&self) -> bool {
        match self {
            Replay::Iis6(report) => report.succeeded(),
            Replay::Iis10(report) => report.succeeded(),
        }
    }

    pub fn timeline(&self) -> &[Step] {
        match self {
            Replay::Iis6(report) => &report.timeline,
            Replay::Iis10(report) => &report.timeline,
        }
    }

    /// Whether the failure was reproduced, and each fix's name and whether it was verified.
    pub fn outcome(&self) -> (bool, Vec<(&'static str, bool)>) {
        match self {
            Replay::Iis6(report) => (
                report.reproduced,
                vec![("fix A", report.fix_a.verified), ("fix B", report.fix_b.verified)],
            ),
            Replay::Iis10(report) => (
                report.reproduced,
                vec![
                    ("fix 1 (bitness preconditions)", report.fix_preconditions.verified),
                    ("fix 2 (64-bit pool)", report.fix_64bit_pool.verified),
                ],
            ),
        }
    }

    fn seed(&self) -> Seed {
        match self {
            Replay::Iis6(_) => Seed::Iis6,
            Replay::Iis10(_) => Seed::Iis10,
        }
    }
}

/// One remedy of a replay: the commands an administrator runs, and the start that verified it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Fix {
    pub name: &'static str,
    /// The commands an administrator runs on the server.
    pub commands: Vec<String>,
    pub verified: bool,
    pub start: StartReport,
}

/// The seed case's replay (`repro`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
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

/// The IIS 10 twin's replay (`repro --iis 10`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Repro10Report {
    /// True when the filter failed with 193 in a 32-bit w3wp.exe and the request got the 500.0.
    pub reproduced: bool,
    pub failure: StartReport,
    pub fix_preconditions: Fix,
    pub fix_64bit_pool: Fix,
    pub timeline: Vec<Step>,
}

impl Repro10Report {
    pub fn succeeded(&self) -> bool {
        self.reproduced && self.fix_preconditions.verified && self.fix_64bit_pool.verified
    }
}

/// The metabase path of the seed's explanation, in the Windows folder of the OS the hosts run
/// on (see `Machine::run_host_probing_os_folder`).
///
/// Wine redirects only its own system folder, `C:\windows\system32`, so the measurement is
/// made there rather than on the seed's `d:\WINDOWS`; the line says so.
pub(crate) const METABASE_IN_SYSTEM32: &str = r"C:\windows\system32\inetsrv\MetaBase.xml";
/// A file every 64-bit Windows (and the Wine prefix) has in both System32 and SysWOW64, so that
/// the file a 32-bit process really opens for a System32 path can be seen by its final path.
pub(crate) const KERNEL32_IN_SYSTEM32: &str = r"C:\windows\system32\kernel32.dll";

/// What a 64-bit and a 32-bit host found at the same System32 paths (the metabase's first,
/// then kernel32.dll's).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Wow64Redirection {
    /// The 64-bit host first.
    pub hosts: Vec<Wow64Host>,
    /// True when the two got different files for the same System32 path (kernel32.dll).
    pub shown: bool,
    /// Whether the seed's MetaBase.xml was placed in System32\inetsrv for the probe: under
    /// Wine, whose prefix is the machine. On Windows the OS's own folder is never written.
    pub metabase_placed: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Wow64Host {
    pub bits: Bits,
    pub probes: Vec<Wow64Probe>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Wow64Probe {
    pub path: String,
    /// The file the host really opened, by its final path; None where it found no file.
    pub opened: Option<String>,
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
    pub(crate) fn differs(&self) -> bool {
        let kernel32 = (self.opened(Bits::B64, 1), self.opened(Bits::B32, 1));
        let metabase = (self.opened(Bits::B64, 0), self.opened(Bits::B32, 0));
        matches!(kernel32, (Some(a), Some(b)) if a != b)
            && (!self.metabase_placed || (metabase.0.is_some() && metabase.0 != metabase.1))
    }
}

fn say(kind: StepKind, text: impl Into<String>) -> Step {
    Step { kind, text: text.into() }
}

/// A command an administrator runs, as typed.
pub fn command(command_line: String) -> Step {
    say(StepKind::Config, command_line)
}

/// A line a command printed, as it appeared.
pub fn console(line: String) -> Step {
    say(StepKind::Console, line)
}

/// What aspnet_regiis wrote into the metabase, one change a line.
pub fn aspnet_regiis_change(change: impl std::fmt::Display) -> Step {
    say(StepKind::Config, format!("aspnet_regiis: {change}"))
}

/// A line of aspnet_regiis's log.
pub fn aspnet_regiis_log(line: &str) -> Step {
    say(StepKind::Console, format!("aspnet_regiis log: {line}"))
}

/// The seed's aspnet_regiis, run from the 32-bit Framework folder.
pub fn x86_aspnet_regiis(command_line: String) -> Step {
    say(StepKind::Config, format!("{command_line}   (the 32-bit Framework folder)"))
}

/// The first line of the seed's replay.
pub fn seed_heading() -> Step {
    say(
        StepKind::Info,
        "== the seed case: IIS 6.0 on Windows Server 2003 x64, IIS 5.0 isolation mode",
    )
}

/// The seed's first start: the state before the administrator's change.
pub fn iisreset_with_64bit_filter() -> Step {
    say(StepKind::Info, "-- iisreset with the 64-bit ASP.NET filter registered")
}

pub fn iisreset() -> Step {
    say(StepKind::Info, "-- iisreset")
}

pub fn aspnet_regiis_restarts_w3svc() -> Step {
    say(StepKind::Info, "-- aspnet_regiis restarts W3SVC")
}

pub fn net_start_w3svc() -> Step {
    say(StepKind::Info, "-- net start w3svc")
}

/// Whether the seed's failure was reproduced.
pub fn seed_reproduced(reproduced: bool) -> Step {
    if reproduced {
        say(
            StepKind::Ok,
            "REPRODUCED: W3SVC fails with System error 193; the loader refused the x86 filter in the 64-bit inetinfo.exe",
        )
    } else {
        say(
            StepKind::Fail,
            "NOT REPRODUCED: W3SVC did not fail with error 193 in a 64-bit inetinfo.exe",
        )
    }
}

pub fn fix_a_heading() -> Step {
    say(StepKind::Info, "== fix A: switch to worker process isolation mode")
}

/// Why fix A restarts HttpFilter too.
pub fn http_filter_moves() -> Step {
    say(
        StepKind::Info,
        "HttpFilter restarts in lsass.exe instead of inetinfo.exe, as worker process isolation mode requires",
    )
}

/// Whether fix A served `page` from the right process.
pub fn fix_a_verdict(verified: bool, page: &str) -> Step {
    fix_verdict(
        "fix A",
        verified,
        &format!(
            "the x86 filter loads in a 32-bit w3wp.exe and GET {page} gets 200 from the x86 extension in a 32-bit w3wp.exe"
        ),
    )
}

pub fn fix_b_heading() -> Step {
    say(StepKind::Info, "== fix B: stay in IIS 5.0 isolation mode, register the 64-bit filter")
}

/// The 64-bit aspnet_regiis alone, refused while IIS runs 32-bit workers, with its message.
pub fn x64_aspnet_regiis_refused(command_line: String, message: &str) -> Step {
    say(
        StepKind::Info,
        format!("{command_line} alone is refused while Enable32bitAppOnWin64 is 1: \"{message}\""),
    )
}

/// Whether fix B served `page` from the right process.
pub fn fix_b_verdict(verified: bool, page: &str) -> Step {
    fix_verdict(
        "fix B",
        verified,
        &format!(
            "the AMD64 filter loads in the 64-bit inetinfo.exe and GET {page} gets 200 from the AMD64 extension in the 64-bit dllhost.exe of the pooled application"
        ),
    )
}

/// The first line of the IIS 10 twin's replay.
pub fn iis10_heading() -> Step {
    say(
        StepKind::Info,
        "== the modern twin: IIS 10 on Windows Server x64, a 64-bit Tomcat connector as a global ISAPI filter",
    )
}

/// Whether the IIS 10 twin's failure was reproduced.
pub fn iis10_reproduced(reproduced: bool) -> Step {
    if reproduced {
        say(
            StepKind::Ok,
            "REPRODUCED: the 32-bit w3wp.exe got error 193 for the 64-bit filter, and the site answers 500.0 \"Calling LoadLibraryEx on ISAPI filter\"",
        )
    } else {
        say(
            StepKind::Fail,
            "NOT REPRODUCED: no 193 for the filter in a 32-bit w3wp.exe with a 500.0",
        )
    }
}

pub fn fix_1_heading() -> Step {
    say(StepKind::Info, "== fix 1: each build of the filter with its bitness precondition")
}

pub fn fix_1_verdict(verified: bool) -> Step {
    fix_verdict(
        "fix 1",
        verified,
        "the 32-bit worker skips the bitness64 filter, loads the x86 build, and the request gets 200",
    )
}

pub fn fix_2_heading() -> Step {
    say(StepKind::Info, "== fix 2: the pool back to 64-bit")
}

pub fn fix_2_verdict(verified: bool) -> Step {
    fix_verdict(
        "fix 2",
        verified,
        "a 64-bit w3wp.exe loads the AMD64 filter and the request gets 200",
    )
}

/// A fix's verdict: what it had to show, and whether it did.
fn fix_verdict(fix: &str, verified: bool, what: &str) -> Step {
    if verified {
        say(StepKind::Ok, format!("{fix} VERIFIED: {what}"))
    } else {
        say(StepKind::Fail, format!("{fix} NOT VERIFIED: expected {what}"))
    }
}

/// The replay's "why" line, from what the two hosts reported.
pub fn why(redirection: &Wow64Redirection) -> Step {
    let file = |opened: Option<&str>| match opened {
        Some(path) => format!("opened {}", path.trim_start_matches(r"\\?\")),
        None => "found no file".to_owned(),
    };
    let kernel32 = format!(
        "for {KERNEL32_IN_SYSTEM32} the 64-bit one {}, the 32-bit one {}",
        file(redirection.opened(Bits::B64, 1)),
        file(redirection.opened(Bits::B32, 1)),
    );
    let (measured, place) = if redirection.metabase_placed {
        (
            format!(
                "for {METABASE_IN_SYSTEM32} a 64-bit process {}, a 32-bit one {}; {kernel32}",
                file(redirection.opened(Bits::B64, 0)),
                file(redirection.opened(Bits::B32, 0)),
            ),
            r"measured on C:\windows, the machine's own Windows folder, standing for the seed's d:\WINDOWS",
        )
    } else {
        (
            format!("two hosts probed this Windows's own System32, read only: {kernel32}"),
            r"measured on this computer's own Windows folder, where the seed's MetaBase.xml is not placed; kernel32.dll, which both System32 and SysWOW64 hold, shows it",
        )
    };
    let text = if redirection.shown {
        format!(
            r"why inetinfo.exe is 64-bit ({place}): WOW64 sends a 32-bit process's System32 to SysWOW64; {measured}. The IIS Admin service reads MetaBase.xml from System32\inetsrv, so it runs 64-bit, and in IIS 5.0 isolation mode the filters load into it"
        )
    } else {
        format!("WOW64 redirection NOT shown on this machine: {measured}")
    };
    say(StepKind::Info, text)
}

/// The last line of a replay: whether the failure was reproduced and each fix verified.
pub fn verdict(replay: &Replay) -> Step {
    let command = match replay.seed() {
        Seed::Iis6 => "repro",
        Seed::Iis10 => "repro --iis 10",
    };
    let (reproduced, fixes) = replay.outcome();
    let mut text =
        format!("{command}: failure {}", if reproduced { "reproduced" } else { "NOT reproduced" });
    for (fix, verified) in &fixes {
        text.push_str(&format!(", {fix} {}", if *verified { "verified" } else { "NOT verified" }));
    }
    let all_verified = fixes.iter().all(|(_, verified)| *verified);
    let kind = if reproduced && all_verified { StepKind::Ok } else { StepKind::Fail };
    Step { kind, text }
}
