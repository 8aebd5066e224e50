//! What a run reports: the typed result of a start (the `--json` contract in README.md) and its
//! rendering as an incident timeline for a person.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::arch::{Bits, Os};
use crate::artifacts::ProcessName;
use crate::iis::messages::Event;

/// The outcome of one `start`: what the service, every host process, every filter and every
/// request did, and the events IIS would have logged.
#[derive(Debug, Clone, Serialize)]
pub struct StartReport {
    pub os: Os,
    pub isolation_mode: IsolationMode,
    pub enable_32bit_app_on_win64: bool,
    pub backend: &'static str,
    /// Whether every Wine process of the run was inside the sandbox.
    pub sandbox: bool,
    pub service: ServiceOutcome,
    pub hosts: Vec<HostOutcome>,
    pub requests: Vec<RequestOutcome>,
    pub events: Vec<Event>,
    pub timeline: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IsolationMode {
    #[serde(rename = "iis5")]
    Iis5,
    #[serde(rename = "worker_process")]
    WorkerProcess,
}

impl std::fmt::Display for IsolationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IsolationMode::Iis5 => "IIS 5.0 isolation mode",
            IsolationMode::WorkerProcess => "worker process isolation mode",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    pub started: bool,
    pub win32_error: Option<u32>,
    pub net_start_output: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostOutcome {
    pub process: ProcessName,
    pub bits: Bits,
    /// None for inetinfo.exe, which serves no application pool.
    pub app_pool: Option<String>,
    pub pid: Option<u32>,
    /// How the process ended: `completed`, `crashed`, `died` or `timed_out`.
    pub end: &'static str,
    /// The exception code when the process crashed (0xC0000005 and friends).
    pub exception_code: Option<u32>,
    /// How many starts it took for the process to run (Wine sometimes fails one before the
    /// program runs; see `Machine::run_host`).
    pub start_attempts: u32,
    pub filters: Vec<FilterOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterOutcome {
    pub name: String,
    pub path: String,
    /// True when the filter is loaded and initialised: LoadLibraryExW, GetProcAddress and
    /// GetFilterVersion all succeeded, as IIS needs.
    pub loaded: bool,
    /// The Win32 error that stopped it: the loader's, GetProcAddress's, or the one the filter
    /// set before GetFilterVersion returned FALSE.
    pub win32_error: Option<u32>,
    /// How far it got: `loaded`, `load_library`, `get_proc_address`, `get_filter_version`,
    /// `refused_silently`, `read_raw_data_refused` or `not_attempted`.
    pub stage: Stage,
    /// The description GetFilterVersion wrote, when it was called.
    pub description: Option<String>,
    /// The SF_NOTIFY_* flags GetFilterVersion asked for, when it was called.
    pub flags: Option<u32>,
    /// Why it did or did not load, from the loader's answer and the headers (None when the
    /// filter was not attempted).
    pub cause: Option<crate::cause::Cause>,
    /// What the headers of the file at `path` say; None when there is no file.
    pub image: Option<crate::cause::ImageSummary>,
    /// What HttpFilterProc returned for the request's end-of-request notification, when the
    /// filter registered for it (0x08000002 is SF_STATUS_REQ_NEXT_NOTIFICATION).
    pub request_notification: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Loaded,
    LoadLibrary,
    GetProcAddress,
    GetFilterVersion,
    RefusedSilently,
    ReadRawDataRefused,
    NotAttempted,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestOutcome {
    /// None in IIS 5.0 isolation mode, where inetinfo.exe serves requests without pools.
    pub app_pool: Option<String>,
    pub status: u16,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A configuration fact or change.
    Config,
    /// Something that happened as expected.
    Info,
    /// Something that succeeded and matters.
    Ok,
    /// A failure.
    Fail,
    /// An event IIS or Windows logs.
    Event,
    /// Console output, printed as it would appear.
    Console,
}

impl StartReport {
    /// True when the service started, every filter of every host loaded, and every request
    /// got 200: what exit code 0 of `start` promises.
    pub fn all_good(&self) -> bool {
        self.service.started
            && self.hosts.iter().all(|host| host.filters.iter().all(|filter| filter.loaded))
            && self.requests.iter().all(|request| request.status == 200)
    }

    /// The first filter failure, for verdict lines.
    pub fn first_failed_filter(&self) -> Option<(&HostOutcome, &FilterOutcome)> {
        self.hosts.iter().find_map(|host| {
            host.filters
                .iter()
                .find(|filter| !filter.loaded && filter.stage != Stage::NotAttempted)
                .map(|filter| (host, filter))
        })
    }
}

/// Writes timeline steps for a person; failures in red when the terminal shows colour.
pub struct Printer {
    colour: bool,
}

impl Printer {
    pub fn stdout() -> Printer {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Printer { colour }
    }

    pub fn steps(&self, steps: &[Step]) {
        let mut out = std::io::stdout().lock();
        for step in steps {
            let _ = writeln!(out, "{}", self.format(step));
        }
    }

    pub fn line(&self, kind: StepKind, text: &str) {
        self.steps(&[Step { kind, text: text.to_owned() }]);
    }

    fn format(&self, step: &Step) -> String {
        let (tag, colour) = match step.kind {
            StepKind::Config => ("config ", "36"),
            StepKind::Info => ("       ", ""),
            StepKind::Ok => ("ok     ", "32"),
            StepKind::Fail => ("FAIL   ", "31"),
            StepKind::Event => ("event  ", "33"),
            StepKind::Console => ("  >    ", "2"),
        };
        let body = if step.kind == StepKind::Console {
            // Console output keeps its own line breaks, indented under the command.
            step.text.trim_end().replace('\n', "\n  >    ")
        } else {
            step.text.clone()
        };
        if self.colour && !colour.is_empty() {
            format!("\x1b[{colour}m{tag}{body}\x1b[0m")
        } else {
            format!("{tag}{body}")
        }
    }
}
