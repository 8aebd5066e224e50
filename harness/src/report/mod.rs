//! What a run reports, and the only place it is turned into words: the typed result of a start
//! (the `--json` contract in README.md), the typed timeline a model records, its rendering as
//! an incident timeline for a person, and the printer.
//!
//! The other commands' results and their words sit beside it, one file each: `diagnose.rs`,
//! `repro.rs` (the replays' narration, one function a line), `matrix.rs` (the expectations,
//! the differences, the table and JUnit), `inspect.rs` and `doctor.rs`. The command line only
//! prints what these return.
//!
//! A model records *what happened* as [`Happening`]s; this module decides how each one reads.
//! IIS's and Windows's own texts (event texts, `net start` output) are written in
//! `iis::iis6::messages` and `iis::iis7::messages` and carried here as data.

pub mod collect;
pub(crate) mod diagnose;
pub(crate) mod doctor;
pub(crate) mod iis6;
pub(crate) mod iis7;
pub(crate) mod inspect;
pub(crate) mod json;
mod loader;
pub(crate) mod matrix;
mod outcome;
pub(crate) mod repro;
mod server_copy;

pub use iis6::{Enable32BitEffect, ExtensionProcess, FilterState, Iis6Happening};
pub use loader::{culprit_fact, dependency_problem};
pub use outcome::{IisRefusal, ImageOutcome, RefusalReason};
pub use server_copy::ServerCopyRun;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::arch::{Bits, Os};
use crate::cause::Cause;
use crate::vocab::{
    BackendKind, Event, HostEnd, ImageKind, IsolationMode, PipelineMode, ProcessName, ServerKind,
    Stage, Win32Error,
};

/// The outcome of one `start`: what the service, every host process, every filter and every
/// request did, and the events IIS would have logged. It serialises with its timeline rendered
/// as steps, the verdict last.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "StartReportJson")]
pub struct StartReport {
    pub server: ServerKind,
    pub os: Os,
    pub isolation_mode: IsolationMode,
    pub enable_32bit_app_on_win64: bool,
    /// The loader that ran the hosts; None until the driver fills it in.
    pub backend: Option<BackendKind>,
    pub service: ServiceOutcome,
    pub hosts: Vec<HostOutcome>,
    pub requests: Vec<RequestOutcome>,
    pub events: Vec<Event>,
    pub timeline: Vec<Happening>,
    /// Whether the hosts ran inside the sandbox; filled in by the driver.
    pub sandbox: bool,
    /// How each limit of the run was kept, or why it could not be; filled in by the driver.
    pub limits: Option<crate::machine::limits::LimitsReport>,
    /// The server's Windows and what was installed on it, which Windows's loader rules read;
    /// filled in by the driver.
    pub profile: Option<crate::windows_loader::Profile>,
    /// The server copy the start ran (`--server`), if any; filled in by `iis::CheckedStart`.
    pub server_copy: Option<ServerCopyRun>,
}

/// The `--json` shape of a [`StartReport`]: what a start did, with its timeline as steps.
#[derive(Serialize, JsonSchema)]
struct StartReportJson {
    server: ServerKind,
    os: Os,
    /// Null on IIS 7+, which has no isolation modes.
    isolation_mode: Option<IsolationMode>,
    enable_32bit_app_on_win64: bool,
    /// The loader that ran the hosts.
    backend: Option<BackendKind>,
    /// Whether the hosts ran inside the sandbox.
    sandbox: bool,
    /// How each limit of the run was kept, or why it could not be.
    limits: Option<crate::machine::limits::LimitsReport>,
    /// The server's Windows, which Windows's loader rules read.
    windows: Option<crate::windows_loader::WindowsVersion>,
    /// The redistributables installed on the server (`vc2008-x86`, `msxml4`).
    installed: Vec<crate::windows_loader::Redistributable>,
    /// The server copy the start ran (`--server`); absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_copy: Option<ServerCopyRun>,
    service: ServiceOutcome,
    hosts: Vec<HostOutcome>,
    requests: Vec<RequestOutcome>,
    events: Vec<Event>,
    /// The whole start as a person reads it, every happening a step, the verdict last.
    timeline: Vec<Step>,
}

/// Described as what it serialises into.
impl JsonSchema for StartReport {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StartReport".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        StartReportJson::json_schema(generator)
    }
}

impl From<StartReport> for StartReportJson {
    fn from(report: StartReport) -> StartReportJson {
        let timeline = report.steps();
        StartReportJson {
            server: report.server,
            os: report.os,
            isolation_mode: (report.server == ServerKind::Iis6).then_some(report.isolation_mode),
            enable_32bit_app_on_win64: report.enable_32bit_app_on_win64,
            backend: report.backend,
            sandbox: report.sandbox,
            limits: report.limits,
            windows: report.profile.as_ref().map(|profile| profile.windows),
            installed: report.profile.into_iter().flat_map(|profile| profile.installed).collect(),
            server_copy: report.server_copy,
            service: report.service,
            hosts: report.hosts,
            requests: report.requests,
            events: report.events,
            timeline,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceOutcome {
    pub started: bool,
    /// The error the service reported to the service control manager.
    pub win32_error: Option<Win32Error>,
    pub net_start_output: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostOutcome {
    pub process: ProcessName,
    pub bits: Bits,
    /// None for inetinfo.exe, which serves no application pool.
    pub app_pool: Option<String>,
    pub pid: Option<u32>,
    /// How the process ended: `completed`, `crashed`, `died`, `timed_out` or `flooded`.
    pub end: HostEnd,
    /// The exception code when the process crashed (0xC0000005 and friends).
    pub exception_code: Option<u32>,
    /// How many starts it took before the process reached its first report line.
    pub start_attempts: u32,
    pub filters: Vec<ImageOutcome>,
    /// IIS 7+ global native modules, with the same fields as filters (`RegisterModule` is
    /// resolved, never called).
    pub modules: Vec<ImageOutcome>,
    /// The ISAPI extensions this process loaded for requests, with the fields of a filter. On
    /// IIS 6.0 `name` is the file extension the script map matched (`.aspx`); on IIS 7+ the
    /// handler's name.
    pub extensions: Vec<ImageOutcome>,
    /// The pool's `managedPipelineMode` on IIS 7+; null on IIS 6.0.
    pub pipeline_mode: Option<PipelineMode>,
}

impl HostOutcome {
    /// Every image the process was asked for, in load order: modules, filters, extensions.
    pub fn images(&self) -> impl Iterator<Item = &ImageOutcome> {
        self.modules.iter().chain(&self.filters).chain(&self.extensions)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RequestOutcome {
    /// The URL as asked for (`http://host/path`, or `/path` for the first site).
    pub url: String,
    /// The site's key name below `/LM/W3SVC` (`"1"`); None when no site took the request.
    pub site: Option<String>,
    /// None in IIS 5.0 isolation mode, where inetinfo.exe serves requests without pools.
    pub app_pool: Option<String>,
    /// None when nothing answered at all (see `no_answer`).
    pub status: Option<u16>,
    pub substatus: Option<u16>,
    /// The Win32 error behind a failed answer: what IIS logs as sc-win32-status when it
    /// answers itself, and the loader's error of the filter that failed the site or the
    /// worker when HTTP.sys answers 503 for them.
    pub win32_error: Option<Win32Error>,
    pub no_answer: Option<NoAnswer>,
}

impl RequestOutcome {
    /// HTTP.sys's own answer, before any site sees the request: 400 for an unknown host, or
    /// nothing at all on a port nobody listens on.
    pub fn by_http_sys(url: String, status: Option<u16>) -> RequestOutcome {
        RequestOutcome {
            url,
            site: None,
            app_pool: None,
            status,
            substatus: None,
            win32_error: None,
            no_answer: None,
        }
    }
}

/// Why a request got no HTTP answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoAnswer {
    /// No started site has a binding on the request's port: TCP refuses the connection.
    NothingListensOnPort,
    /// W3SVC did not start, so HTTP.sys holds no registration for any site.
    ServiceNotRunning,
    /// IIS 7+: the pool is disabled and its `loadBalancerCapabilities` is TcpLevel, so
    /// HTTP.sys resets the connection instead of answering 503.
    ConnectionReset,
    /// The request maps to a CGI program, which IIS starts as a process of its own for the
    /// request. The harness loads ISAPI extensions only, so it gives no status rather than one
    /// no process answered.
    CgiNotRun,
}

/// One thing that happened during a start, in the order it happened. The model records these;
/// [`Happening::render`] is the one place they become words.
#[derive(Debug, Clone, PartialEq)]
pub enum Happening {
    /// What the simulated disk holds at a path the run loads.
    Disk {
        path: String,
        holds: Option<String>,
    },
    /// A command an administrator types.
    Command(String),
    /// Console output, printed as it would appear.
    Console(String),
    HostStarted {
        process: ProcessName,
        bits: Bits,
        pid: Option<u32>,
        start_attempts: u32,
    },
    /// A host that did not finish its start on its own.
    HostEnded {
        process: ProcessName,
        end: HostEnd,
        timeout: Duration,
    },
    /// An event IIS or Windows logs.
    Logged(Event),
    /// What a request got.
    Response(RequestOutcome),
    PoolDisabled {
        pool: String,
        failures: usize,
        interval_minutes: u32,
    },
    /// What Windows's loader makes of an image's dependencies (words in `report/loader.rs`).
    Loader(Box<loader::LoaderNote>),
    /// What the IIS 7+ model records (its words are in `report/iis7.rs`).
    Iis7(iis7::Iis7Happening),
    /// What the IIS 6.0 model records (its words are in `report/iis6.rs`).
    Iis6(iis6::Iis6Happening),
}

/// How much of a timeline a person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// What matters: routine successes of the same kind in a row read as one line.
    Summary,
    /// Every happening on its own line (`--verbose`, and `--json`).
    Verbose,
}

/// One line of the timeline, as a person and a script read it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Step {
    pub kind: StepKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
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

impl Happening {
    /// How this reads on the timeline; None for what the timeline leaves out.
    pub fn render(&self) -> Option<Step> {
        match self {
            Happening::Disk { path, holds } => disk(path, holds),
            Happening::Command(command) => step(StepKind::Info, command.clone()),
            Happening::Console(text) => step(StepKind::Console, text.clone()),
            Happening::HostStarted { process, bits, pid, start_attempts } => {
                host_started(process, bits, pid, start_attempts)
            }
            Happening::HostEnded { process, end, timeout } => host_ended(process, end, timeout),
            Happening::Logged(event) => logged(event),
            Happening::Response(request) => response(request),
            Happening::PoolDisabled { pool, failures, interval_minutes } => {
                pool_disabled(pool, failures, interval_minutes)
            }
            Happening::Loader(note) => loader::note(note),
            Happening::Iis6(happening) => happening.render(),
            Happening::Iis7(happening) => happening.render(),
        }
    }
}

fn disk(path: &str, holds: &Option<String>) -> Option<Step> {
    step(
        StepKind::Config,
        match holds {
            Some(spec) => format!("disk: {path} holds the {spec}"),
            None => format!("disk: {path} does not exist"),
        },
    )
}

fn host_started(
    process: &ProcessName,
    bits: &Bits,
    pid: &Option<u32>,
    start_attempts: &u32,
) -> Option<Step> {
    let pid = pid.map(|pid| format!(", pid {pid}")).unwrap_or_default();
    let attempts = if *start_attempts > 1 {
        format!("; Wine needed {start_attempts} starts before the process ran")
    } else {
        String::new()
    };
    step(StepKind::Info, format!("{process} started ({bits}{pid}){attempts}"))
}

fn host_ended(process: &ProcessName, end: &HostEnd, timeout: &Duration) -> Option<Step> {
    match end {
        HostEnd::Completed => None,
        HostEnd::Crashed { exception_code } => {
            step(StepKind::Fail, format!("{process} crashed with exception 0x{exception_code:08X}"))
        }
        HostEnd::TimedOut => step(
            StepKind::Fail,
            format!(
                "{process} stopped answering and was ended after {:.1} s",
                timeout.as_secs_f64()
            ),
        ),
        HostEnd::Died { exit_code } => step(
            StepKind::Fail,
            match exit_code {
                Some(code) => format!("{process} ended early with exit code {code}"),
                None => format!("{process} ended early without an exit code"),
            },
        ),
        HostEnd::Flooded => step(
            StepKind::Fail,
            format!(
                "{process} was ended for writing more than {} MiB of output",
                crate::process::OUTPUT_LIMIT / (1024 * 1024)
            ),
        ),
        HostEnd::MemoryLimit { limit } => step(
            StepKind::Fail,
            format!(
                "{process} ran out of memory at the {} limit and was ended",
                crate::machine::limits::bytes_in_words(*limit)
            ),
        ),
        HostEnd::ProcessLimit { limit } => step(
            StepKind::Fail,
            format!("{process} was refused a new process at the limit of {limit} processes"),
        ),
        HostEnd::DiskLimit { limit } => step(
            StepKind::Fail,
            format!(
                "{process} filled the disk to the {} limit",
                crate::machine::limits::bytes_in_words(*limit)
            ),
        ),
    }
}

fn pool_disabled(pool: &str, failures: &usize, interval_minutes: &u32) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "rapid-fail protection: {failures} worker failures within {interval_minutes} minutes, pool {pool} is disabled"
        ),
    )
}

/// An event IIS or Windows logs, as Event Viewer shows it.
fn logged(event: &Event) -> Option<Step> {
    step(
        StepKind::Event,
        format!(
            "{} log, {} {} ({}): {}{}",
            event.log,
            event.source,
            event.id,
            event.kind,
            event.text,
            event.data.as_deref().map(|data| format!(" [data: {data}]")).unwrap_or_default()
        ),
    )
}

/// What a request got (IIS 6.0's words; IIS 7+ adds its error page).
fn response(request: &RequestOutcome) -> Option<Step> {
    let RequestOutcome { url, site, app_pool: pool, status, substatus, win32_error, no_answer } =
        request;
    let target = match (site, pool) {
        (Some(site), Some(pool)) => format!(" (site {site}, pool {pool})"),
        (Some(site), None) => format!(" (site {site})"),
        _ => String::new(),
    };
    match (status, no_answer) {
        (Some(status), _) => {
            let kind = if *status == 200 { StepKind::Ok } else { StepKind::Fail };
            let text = match (status, substatus) {
                // HTTP.sys's own answer, before any site sees the request.
                (400, _) => "Bad Request - Invalid Hostname",
                (404, Some(2)) => "Not Found (denied by the Web Service Extension list)",
                _ => crate::vocab::http_status_text(*status),
            };
            let code = match substatus {
                Some(sub) => format!("{status}.{sub}"),
                None => status.to_string(),
            };
            let logged = match win32_error {
                Some(error) if *status != 503 => {
                    format!(", sc-win32-status {}", error)
                }
                _ => String::new(),
            };
            step(kind, format!("GET {url}{target}: HTTP {code} {text}{logged}"))
        }
        (None, reason) => {
            let why = match reason {
                Some(NoAnswer::NothingListensOnPort) => {
                    "no started site has a binding on that port, the connection is refused"
                }
                Some(NoAnswer::ServiceNotRunning) | None => "W3SVC is not running, nothing listens",
                Some(NoAnswer::ConnectionReset) => {
                    "the pool is disabled and HTTP.sys resets the connection"
                }
                Some(NoAnswer::CgiNotRun) => {
                    return step(
                        StepKind::Info,
                        format!(
                            "GET {url}{target}: no status: its script map names a CGI program, which IIS would start as a process of its own; the harness runs ISAPI extensions only"
                        ),
                    );
                }
            };
            step(StepKind::Fail, format!("GET {url}: no answer: {why}"))
        }
    }
}

/// One line of the timeline, for the render functions.
fn step(kind: StepKind, text: String) -> Option<Step> {
    Some(Step { kind, text })
}

/// What the file check, the loader and an image's entry point did when one of them stopped
/// the image, in the words every timeline uses. None for the stages a server model words
/// itself: loaded, skipped or refused by IIS, not attempted.
pub(crate) fn loader_failure(
    head: &str,
    kind: ImageKind,
    stage: Stage,
    error: Option<Win32Error>,
) -> Option<Step> {
    let error_text = error.map(|error| error.to_string()).unwrap_or_default();
    let text = match (stage, error) {
        (Stage::Probe, _) => format!(
            "{head}: the file is not there (GetFileAttributesW: {error_text}), so it is never loaded"
        ),
        (Stage::LoadLibrary, Some(_)) => format!("{head}: LoadLibraryExW failed with {error_text}"),
        (Stage::LoadLibrary, None) => {
            format!("{head}: the process ended inside LoadLibraryExW (DllMain)")
        }
        (Stage::GetProcAddress, Some(_)) => {
            format!("{head}: loaded, but {} is not exported: {error_text}", kind.entry_point())
        }
        (Stage::GetProcAddress, None) => format!(
            "{head}: loaded, but the process ended before it reported whether {} is exported",
            kind.entry_point()
        ),
        (Stage::GetFilterVersion | Stage::GetExtensionVersion, Some(_)) => {
            format!("{head}: {} returned FALSE with {error_text}", kind.entry_point())
        }
        (Stage::GetFilterVersion | Stage::GetExtensionVersion, None) => {
            format!("{head}: the process ended inside {}", kind.entry_point())
        }
        (
            Stage::Loaded
            | Stage::RefusedSilently
            | Stage::ReadRawDataRefused
            | Stage::NotAttempted,
            _,
        ) => return None,
    };
    Some(Step { kind: StepKind::Fail, text })
}

impl StartReport {
    /// A report before anything has happened: no hosts, requests, events or timeline yet; the
    /// driver fills in the backend and the sandbox.
    pub fn new(
        server: ServerKind,
        os: Os,
        isolation_mode: IsolationMode,
        enable_32bit_app_on_win64: bool,
        service_started: bool,
    ) -> StartReport {
        StartReport {
            server,
            os,
            isolation_mode,
            enable_32bit_app_on_win64,
            backend: None,
            service: ServiceOutcome {
                started: service_started,
                win32_error: None,
                net_start_output: String::new(),
            },
            hosts: Vec::new(),
            requests: Vec::new(),
            events: Vec::new(),
            timeline: Vec::new(),
            sandbox: false,
            limits: None,
            profile: None,
            server_copy: None,
        }
    }

    /// True when the service started, every filter of every host loaded, and every request
    /// got 200: what exit code 0 of `start` promises.
    pub fn all_good(&self) -> bool {
        self.service.started
            && self.hosts.iter().all(|host| host.images().all(|image| image.loaded))
            && self.requests.iter().all(|request| request.status == Some(200))
            && self.all_ran_here()
    }

    /// Whether every image that loaded was run here: one Windows loads and this machine could
    /// not (`run_here: false`) leaves what its entry points do unverified, so neither a start
    /// nor a fix counts as good through it.
    pub fn all_ran_here(&self) -> bool {
        self.hosts.iter().all(|host| host.images().all(|image| image.run_here))
    }

    /// True when the service started, every filter loaded, and every request that reached a
    /// site got 200: what a remedy must achieve.
    pub fn every_site_serves(&self) -> bool {
        self.service.started
            && self.hosts.iter().all(|host| host.filters.iter().all(|filter| filter.loaded))
            && self.server_health_requests().all(|request| request.status == Some(200))
            && self.all_ran_here()
    }

    /// The requests that say whether the server works: those a site took. Requests HTTP.sys
    /// answers itself (400, or no listener) are about the URL asked for, and one mapped to a
    /// CGI program was never run by the harness.
    pub fn server_health_requests(&self) -> impl Iterator<Item = &RequestOutcome> {
        self.requests.iter().filter(|request| {
            request.site.is_some() && request.no_answer != Some(NoAnswer::CgiNotRun)
        })
    }

    /// The host that ran the ISAPI extension `url` mapped to, and what became of it: the same
    /// DLL may run in two processes for two URLs, so the timeline, not the file, says which.
    pub fn extension_result(&self, url: &str) -> Option<(ProcessName, Bits, &ImageOutcome)> {
        self.timeline.iter().find_map(|happening| match happening {
            Happening::Iis6(Iis6Happening::ExtensionResult {
                url: answered,
                outcome,
                process,
                bits,
                ..
            }) if answered == url => Some((*process, *bits, outcome.as_ref())),
            _ => None,
        })
    }

    /// The first filter failure, for verdict lines.
    pub fn first_failed_filter(&self) -> Option<(&HostOutcome, &ImageOutcome)> {
        self.hosts.iter().find_map(|host| {
            host.images()
                .find(|filter| !filter.loaded && filter.stage != Stage::NotAttempted)
                .map(|filter| (host, filter))
        })
    }

    /// The whole timeline, every image on its own line, ending with the verdict: what
    /// `--json` carries and `--verbose` prints.
    pub fn steps(&self) -> Vec<Step> {
        self.steps_in(Detail::Verbose)
    }

    /// The timeline as a person reads it, ending with the verdict. With [`Detail::Summary`],
    /// the IIS 7+ stock modules a worker loaded one after another read as one line; whatever
    /// failed is always shown in full.
    pub fn steps_in(&self, detail: Detail) -> Vec<Step> {
        let mut steps: Vec<Step> = self.server_copy.iter().flat_map(ServerCopyRun::steps).collect();
        let mut stock: Option<(ProcessName, Bits, usize)> = None;
        for happening in &self.timeline {
            if detail == Detail::Summary
                && let Some((process, bits)) = iis7::loaded_stock_module(happening)
            {
                match &mut stock {
                    Some((p, b, count)) if *p == process && *b == bits => *count += 1,
                    _ => {
                        steps.extend(stock.take().map(|(p, b, n)| iis7::stock_modules(p, b, n)));
                        stock = Some((process, bits, 1));
                    }
                }
                continue;
            }
            steps.extend(stock.take().map(|(p, b, n)| iis7::stock_modules(p, b, n)));
            steps.extend(happening.render());
        }
        steps.extend(stock.take().map(|(p, b, n)| iis7::stock_modules(p, b, n)));
        steps.push(self.verdict());
        steps
    }

    fn verdict(&self) -> Step {
        if self.all_good() {
            let extensions = self.hosts.iter().map(|host| host.extensions.len()).sum::<usize>();
            let text = match (self.server, extensions) {
                (ServerKind::Iis6, 0) => "verdict: W3SVC started and every filter loaded",
                (ServerKind::Iis6, _) => {
                    "verdict: W3SVC started, every filter and extension loaded, every request got 200"
                }
                (ServerKind::Iis7Plus, _) => {
                    "verdict: every module, filter and extension loaded and every request got 200"
                }
            };
            return Step { kind: StepKind::Ok, text: text.to_owned() };
        }
        let text = match self.first_failed_filter() {
            Some((host, filter)) => {
                let why = match (filter.win32_error, filter.cause, &filter.iis_refused) {
                    (_, _, Some(_)) => {
                        "IIS refuses read-raw-data filters in worker process isolation mode"
                            .to_owned()
                    }
                    (Some(error), _, None) => match filter.culprit() {
                        Some(culprit) => format!("{error}, at `{}`", culprit.name),
                        None => error.to_string(),
                    },
                    (None, Some(Cause::TimedOut), None) => {
                        "it stopped answering and was ended".to_owned()
                    }
                    (None, Some(Cause::Crashed), None) => "it crashed the process".to_owned(),
                    (None, _, None) => "the process ended early".to_owned(),
                };
                let is_extension = filter.kind == ImageKind::Extension;
                let kind = filter.kind;
                let whose =
                    filter.site.as_ref().map(|site| format!("site {site}'s ")).unwrap_or_default();
                // Extensions load only for requests, after every filter loaded; the requests
                // that map to one that does not load are what fail.
                let consequence = if is_extension { ", so its requests get 500" } else { "" };
                format!(
                    "verdict: cannot load {whose}{kind} `{}` in {} {}: {why}{consequence}",
                    filter.path, host.bits, host.process
                )
            }
            None => self.verdict_when_no_image_failed(),
        };
        Step { kind: StepKind::Fail, text }
    }

    /// Why a start in which no image failed is still not all good: a request the restriction
    /// list refused, one mapped to a CGI program the harness did not run, or a process that
    /// failed on its own.
    fn verdict_when_no_image_failed(&self) -> String {
        let refused = self
            .requests
            .iter()
            .find(|request| request.status == Some(404) && request.substatus == Some(2));
        let not_run =
            self.requests.iter().find(|request| request.no_answer == Some(NoAnswer::CgiNotRun));
        let list = match self.server {
            ServerKind::Iis6 => "the Web Service Extension list",
            ServerKind::Iis7Plus => "isapiCgiRestriction",
        };
        if let Some(image) =
            self.hosts.iter().flat_map(|host| host.images()).find(|image| !image.run_here)
        {
            return format!(
                "verdict: Windows's loader loads `{}`, which could not be run here, so what it does past its load is not verified",
                image.path
            );
        }
        match (self.service.started, refused, not_run) {
            (true, Some(request), _) => {
                format!("verdict: every image loaded, but {list} refuses {} (404.2)", request.url)
            }
            (true, None, Some(request)) => format!(
                "verdict: every image loaded; {} maps to a CGI program, which the harness does not run, so it is not verified",
                request.url
            ),
            _ => "verdict: the service or a worker process failed (see above)".to_owned(),
        }
    }
}

/// An admin-tool subcommand's refusal, after the tool's own output: the subcommand, then why.
pub fn refused(command: &str, error: &dyn std::fmt::Display) -> String {
    format!("{command}: {error}")
}

/// Writes timeline steps for a person; failures in red when the terminal shows colour.
pub struct Printer {
    colour: bool,
}

impl Printer {
    pub fn stdout() -> Printer {
        // NO_COLOR (no-color.org) and TERM=dumb (a terminal that shows escapes as text) both say no.
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
        Printer { colour }
    }

    pub fn steps(&self, steps: &[Step]) {
        let mut out = std::io::stdout().lock();
        for step in steps {
            let _ = writeln!(out, "{}", self.format(step));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The process's line says when Wine needed more than one start (the snapshots leave the
    /// note out: whether Wine needs it depends on how busy the machine is).
    #[test]
    fn a_host_started_again_says_how_many_starts_it_took() {
        let line = |attempts: u32| {
            host_started(&ProcessName::W3wp, &Bits::B64, &Some(7), &attempts)
                .expect("a process that started has a line")
                .text
        };
        assert_eq!(line(1), "w3wp.exe started (64-bit, pid 7)");
        assert_eq!(
            line(2),
            "w3wp.exe started (64-bit, pid 7); Wine needed 2 starts before the process ran"
        );
    }
}
