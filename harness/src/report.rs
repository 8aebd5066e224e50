//! What a run reports, and the only place it is turned into words: the typed result of a start
//! (the `--json` contract in README.md), the typed timeline a model records, its rendering as
//! an incident timeline for a person, and the printer.
//!
//! A model records *what happened* as [`Happening`]s; this module decides how each one reads.
//! IIS's and Windows's own texts (event texts, `net start` output) are written in
//! `iis::messages` and carried here as data.

pub mod iis7;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::arch::{Bits, Os};
use crate::cause::{Cause, ImageSummary};
use crate::vocab::{
    BackendKind, Event, HostEnd, ImageKind, IsolationMode, PipelineMode, ProcessName, ServerKind,
    Stage, Win32Error,
};

/// The outcome of one `start`: what the service, every host process, every filter and every
/// request did, and the events IIS would have logged. It serialises with its timeline rendered
/// as steps, the verdict last.
#[derive(Debug, Clone)]
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
}

/// The `--json` shape of a [`StartReport`].
#[derive(Serialize)]
struct StartReportJson<'a> {
    server: ServerKind,
    os: Os,
    /// Null on IIS 7+, which has no isolation modes.
    isolation_mode: Option<IsolationMode>,
    enable_32bit_app_on_win64: bool,
    backend: Option<BackendKind>,
    sandbox: bool,
    limits: &'a Option<crate::machine::limits::LimitsReport>,
    service: &'a ServiceOutcome,
    hosts: &'a [HostOutcome],
    requests: &'a [RequestOutcome],
    events: &'a [Event],
    timeline: Vec<Step>,
}

impl Serialize for StartReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StartReportJson {
            server: self.server,
            os: self.os,
            isolation_mode: (self.server == ServerKind::Iis6).then_some(self.isolation_mode),
            enable_32bit_app_on_win64: self.enable_32bit_app_on_win64,
            backend: self.backend,
            sandbox: self.sandbox,
            limits: &self.limits,
            service: &self.service,
            hosts: &self.hosts,
            requests: &self.requests,
            events: &self.events,
            timeline: self.steps(),
        }
        .serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    pub started: bool,
    /// The error the service reported to the service control manager.
    pub win32_error: Option<Win32Error>,
    pub net_start_output: String,
}

#[derive(Debug, Clone, Serialize)]
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
    pub filters: Vec<FilterOutcome>,
    /// IIS 7+ global native modules, with the same fields as filters (`RegisterModule` is
    /// resolved, never called).
    pub modules: Vec<FilterOutcome>,
    /// The ISAPI extensions this process loaded for requests, with the fields of a filter. On
    /// IIS 6.0 `name` is the file extension the script map matched (`.aspx`); on IIS 7+ the
    /// handler's name.
    pub extensions: Vec<FilterOutcome>,
    /// The pool's `managedPipelineMode` on IIS 7+; null on IIS 6.0.
    pub pipeline_mode: Option<PipelineMode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterOutcome {
    pub name: String,
    /// The site whose filter this is; None for a global filter.
    pub site: Option<String>,
    pub path: String,
    /// True when the filter is loaded and initialised: LoadLibraryExW, GetProcAddress and
    /// GetFilterVersion all succeeded, and IIS accepted it.
    pub loaded: bool,
    /// The Win32 error that stopped it, as the host reported it: the loader's, GetProcAddress's,
    /// or the one the filter set before GetFilterVersion returned FALSE. Never IIS's own.
    pub win32_error: Option<Win32Error>,
    /// How far it got: `loaded`, `load_library`, `get_proc_address`, `get_filter_version`,
    /// `refused_silently`, `read_raw_data_refused` or `not_attempted`.
    pub stage: Stage,
    /// The description GetFilterVersion wrote, when it was called.
    pub description: Option<String>,
    /// The SF_NOTIFY_* flags GetFilterVersion asked for, when it was called.
    pub flags: Option<u32>,
    /// Why it did or did not load, from the loader's answer and the headers (None when the
    /// filter was not attempted).
    pub cause: Option<Cause>,
    /// What the headers of the file at `path` say; None when there is no file.
    pub image: Option<ImageSummary>,
    /// What HttpFilterProc returned for the request's end-of-request notification, when the
    /// filter registered for it (0x08000002 is SF_STATUS_REQ_NEXT_NOTIFICATION).
    pub request_notification: Option<u32>,
    /// Set when IIS itself refused a filter that the loader loaded and that initialised.
    pub iis_refused: Option<IisRefusal>,
}

impl FilterOutcome {
    /// An image before the host's report says what became of it: not attempted, until a
    /// step the host reports moves it on.
    pub fn not_attempted(
        name: String,
        site: Option<String>,
        path: String,
        image: Option<ImageSummary>,
    ) -> FilterOutcome {
        FilterOutcome {
            name,
            site,
            path,
            loaded: false,
            win32_error: None,
            stage: Stage::NotAttempted,
            description: None,
            flags: None,
            request_notification: None,
            cause: None,
            image,
            iis_refused: None,
        }
    }
}

impl HostOutcome {
    /// Every image the process was asked for, in load order: modules, filters, extensions.
    pub fn images(&self) -> impl Iterator<Item = &FilterOutcome> {
        self.modules.iter().chain(&self.filters).chain(&self.extensions)
    }
}

/// A decision IIS makes itself, reported as IIS's, beside the loader's real result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IisRefusal {
    pub reason: RefusalReason,
    /// The event IIS logs for the refusal.
    pub event_id: u32,
    /// The data IIS attaches to the start-up failure it logs with it, as Event Viewer prints it.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// HTTP.sys hands raw data to one process only, so worker processes cannot serve
    /// SF_NOTIFY_READ_RAW_DATA.
    ReadRawDataInWorkerProcessIsolationMode,
    /// IIS 6.0 takes read-raw-data filters only as global filters.
    ReadRawDataAtSiteLevel,
}

#[derive(Debug, Clone, Serialize)]
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

/// Why a request got no HTTP answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// The server and the mode it runs in.
    Server {
        os: Os,
        mode: IsolationMode,
    },
    /// `Enable32BitAppOnWin64`, and what it does to the filter host here.
    Enable32Bit {
        value: bool,
        effect: Enable32BitEffect,
    },
    NoGlobalFilters,
    /// A global filter as configured.
    FilterConfigured {
        name: String,
        path: Option<String>,
        state: FilterState,
    },
    /// What the simulated disk holds at a path the run loads.
    Disk {
        path: String,
        holds: Option<String>,
    },
    /// A command an administrator types.
    Command(String),
    /// IIS 5.0 isolation mode: the service loads the global filters in this process now.
    ServiceLoadsFilters {
        process: ProcessName,
        bits: Bits,
    },
    /// Worker process isolation mode: the service starts without loading filters.
    ServiceStartsWithoutFilters,
    /// Console output, printed as it would appear.
    Console(String),
    HostStarted {
        process: ProcessName,
        bits: Bits,
        pid: Option<u32>,
        start_attempts: u32,
    },
    FilterResult {
        name: String,
        path: String,
        process: ProcessName,
        bits: Bits,
        stage: Stage,
        win32_error: Option<Win32Error>,
        description: Option<String>,
    },
    /// A host that did not finish its start on its own.
    HostEnded {
        process: ProcessName,
        end: HostEnd,
        timeout: Duration,
    },
    /// An event IIS or Windows logs.
    Logged(Event),
    /// A start that hung: what the service control manager says.
    ServiceRequestTimedOut,
    ServiceFailed {
        error: Win32Error,
    },
    /// A web site as configured, and whether the service starts it.
    SiteConfigured {
        site: String,
        comment: Option<String>,
        bindings: Vec<String>,
        auto_start: bool,
        state: Option<u32>,
        root_pool: String,
        /// Read as the Default Web Site because the metabase has no `IIsWebServer`.
        implied: bool,
    },
    /// IIS 5.0 isolation mode: a site's filters load in inetinfo.exe at service start.
    SiteFiltersLoadAtServiceStart {
        site: String,
        process: ProcessName,
        bits: Bits,
    },
    /// A site whose filters did not all load: it answers 503 from now on.
    SiteFailed {
        site: String,
    },
    /// WAS starts a worker for a request.
    WorkerStartsForRequest {
        ordinal: u32,
        url: String,
        site: String,
        pool: String,
        bits: Bits,
        site_filters: usize,
    },
    /// A running worker meets the first request to a site with filters of its own.
    WorkerLoadsSiteFilters {
        ordinal: u32,
        url: String,
        site: String,
        pool: String,
        pid: Option<u32>,
        bits: Bits,
    },
    /// A request to a pool rapid-fail protection disabled.
    RequestToDisabledPool {
        ordinal: u32,
        url: String,
        pool: String,
    },
    /// A request to a site that failed to start.
    RequestToFailedSite {
        ordinal: u32,
        url: String,
        site: String,
    },
    /// A request answered by a worker (or inetinfo.exe) that is already running.
    ServedBySameWorker {
        ordinal: u32,
        url: String,
        process: ProcessName,
        pool: Option<String>,
    },
    Response {
        url: String,
        site: Option<String>,
        pool: Option<String>,
        status: Option<u16>,
        substatus: Option<u16>,
        win32_error: Option<Win32Error>,
        no_answer: Option<NoAnswer>,
    },
    /// A request's file extension is mapped to an ISAPI extension that the Web Service
    /// Extension list prohibits: IIS answers 404.2 and never loads it.
    ExtensionProhibited {
        url: String,
        executable: String,
        entry: String,
    },
    /// A request's file extension is mapped to an ISAPI extension, which this process loads.
    ExtensionLoads {
        url: String,
        extension: String,
        executable: String,
        set_at: String,
        process: ProcessName,
        bits: Bits,
        why: ExtensionProcess,
    },
    /// What the loader and the extension did with it, as the host reported.
    ExtensionResult {
        url: String,
        outcome: FilterOutcome,
        process: ProcessName,
        bits: Bits,
        status: u16,
    },
    PoolDisabled {
        pool: String,
        failures: usize,
        interval_minutes: u32,
    },
    /// What the IIS 7+ model records (its words are in `report/iis7.rs`).
    Iis7(iis7::Iis7Happening),
}

/// Why an extension runs in the process it runs in; decided by the model (`iis::extensions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionProcess {
    /// Worker process isolation mode: the application's pool's worker.
    PoolWorker,
    /// IIS 5.0 isolation mode, `AppIsolated` 0: in the IIS process.
    LowProtection,
    /// IIS 5.0 isolation mode, listed in `InProcessIsapiApps`: in the IIS process always.
    InProcessIsapiApp,
    /// IIS 5.0 isolation mode, `AppIsolated` 2 (or not set): the shared pooled dllhost.exe.
    MediumProtection,
    /// IIS 5.0 isolation mode, `AppIsolated` 1: a dllhost.exe of the application's own.
    HighProtection,
}

/// What `Enable32BitAppOnWin64` changes in this configuration; decided by the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enable32BitEffect {
    IgnoredOn32BitWindows,
    /// IIS 5.0 isolation mode loads filters in inetinfo.exe, which is native only.
    NoEffectInIis5Mode {
        inetinfo: Bits,
    },
    WorkersRun(Bits),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterState {
    Enabled,
    Disabled,
    /// Listed in FilterLoadOrder with no key of that name.
    NoKey,
}

/// One line of the timeline, as a person and a script read it.
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

impl Happening {
    /// How this reads on the timeline; None for what the timeline leaves out.
    pub fn render(&self) -> Option<Step> {
        let step = |kind: StepKind, text: String| Some(Step { kind, text });
        match self {
            Happening::Server { os, mode } => step(
                StepKind::Config,
                format!("{os} Windows, IIS 6.0 in {mode} (IIs5IsolationModeEnabled)"),
            ),
            Happening::Enable32Bit { value, effect } => {
                let effect = match effect {
                    Enable32BitEffect::IgnoredOn32BitWindows => {
                        "ignored: 32-bit Windows runs everything 32-bit".to_owned()
                    }
                    Enable32BitEffect::NoEffectInIis5Mode { inetinfo } => format!(
                        "no effect: in IIS 5.0 isolation mode filters load into inetinfo.exe, which is always {inetinfo} on x64"
                    ),
                    Enable32BitEffect::WorkersRun(Bits::B32) => {
                        "worker processes run 32-bit (WOW64)".to_owned()
                    }
                    Enable32BitEffect::WorkersRun(Bits::B64) => {
                        "worker processes run 64-bit".to_owned()
                    }
                };
                let value = if *value { "TRUE" } else { "FALSE" };
                step(StepKind::Config, format!("Enable32BitAppOnWin64 = {value}: {effect}"))
            }
            Happening::NoGlobalFilters => step(
                StepKind::Config,
                "no global ISAPI filters are configured (FilterLoadOrder)".to_owned(),
            ),
            Happening::FilterConfigured { name, path, state } => match (path, state) {
                (_, FilterState::NoKey) => step(
                    StepKind::Config,
                    format!(
                        "filter {name}: listed in FilterLoadOrder but has no key; IIS skips it"
                    ),
                ),
                (None, _) => None,
                (Some(path), FilterState::Disabled) => step(
                    StepKind::Config,
                    format!("filter {name}: {path} (FilterEnabled FALSE, not loaded)"),
                ),
                (Some(path), FilterState::Enabled) => {
                    step(StepKind::Config, format!("filter {name}: {path}"))
                }
            },
            Happening::Disk { path, holds } => step(
                StepKind::Config,
                match holds {
                    Some(spec) => format!("disk: {path} holds the {spec}"),
                    None => format!("disk: {path} does not exist"),
                },
            ),
            Happening::Command(command) => step(StepKind::Info, command.clone()),
            Happening::ServiceLoadsFilters { process, bits } => step(
                StepKind::Info,
                format!(
                    "W3SVC (in svchost.exe) starts the worker process core inside {process} ({bits}), which loads the global filters now"
                ),
            ),
            Happening::ServiceStartsWithoutFilters => step(
                StepKind::Info,
                "W3SVC starts; no filter is loaded until a worker process starts".to_owned(),
            ),
            Happening::Console(text) => step(StepKind::Console, text.clone()),
            Happening::HostStarted { process, bits, pid, start_attempts } => {
                let pid = pid.map(|pid| format!(", pid {pid}")).unwrap_or_default();
                let attempts = if *start_attempts > 1 {
                    format!("; Wine needed {start_attempts} starts before the process ran")
                } else {
                    String::new()
                };
                step(StepKind::Info, format!("{process} started ({bits}{pid}){attempts}"))
            }
            Happening::FilterResult {
                name,
                path,
                process,
                bits,
                stage,
                win32_error,
                description,
            } => Some(filter_result(
                name,
                path,
                *process,
                *bits,
                *stage,
                *win32_error,
                description.as_deref(),
            )),
            Happening::HostEnded { process, end, timeout } => match end {
                HostEnd::Completed => None,
                HostEnd::Crashed { exception_code } => step(
                    StepKind::Fail,
                    format!("{process} crashed with exception 0x{exception_code:08X}"),
                ),
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
                    format!(
                        "{process} was refused a new process at the limit of {limit} processes"
                    ),
                ),
                HostEnd::DiskLimit { limit } => step(
                    StepKind::Fail,
                    format!(
                        "{process} filled the disk to the {} limit",
                        crate::machine::limits::bytes_in_words(*limit)
                    ),
                ),
            },
            Happening::Logged(event) => step(
                StepKind::Event,
                format!(
                    "{} log, {} {} ({}): {}{}",
                    event.log,
                    event.source,
                    event.id,
                    event.kind,
                    event.text,
                    event
                        .data
                        .as_deref()
                        .map(|data| format!(" [data: {data}]"))
                        .unwrap_or_default()
                ),
            ),
            Happening::ServiceRequestTimedOut => step(
                StepKind::Fail,
                format!(
                    // What a tool that starts the service and waits (aspnet_regiis, for one)
                    // reports: the seed's log lines carry exactly this HRESULT.
                    "the service control manager gave up waiting for W3SVC: {} (HRESULT {:08x})",
                    Win32Error::SERVICE_REQUEST_TIMEOUT,
                    Win32Error::SERVICE_REQUEST_TIMEOUT.hresult()
                ),
            ),
            Happening::ServiceFailed { error } => step(
                StepKind::Fail,
                format!("W3SVC did not start ({error}); no request can be served"),
            ),
            Happening::SiteConfigured {
                site,
                comment,
                bindings,
                auto_start,
                state,
                root_pool,
                implied,
            } => {
                let name = comment.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
                let head = if *implied {
                    format!(
                        "site {site}{name}: the metabase has no IIsWebServer key, so it is read as a fresh installation's Default Web Site"
                    )
                } else {
                    format!("site {site}{name}")
                };
                let bindings =
                    if bindings.is_empty() { "no bindings".to_owned() } else { bindings.join(" ") };
                let state = match state {
                    Some(2) => ", last recorded started (ServerState 2)".to_owned(),
                    Some(4) => ", last recorded stopped (ServerState 4)".to_owned(),
                    Some(other) => format!(", ServerState {other}"),
                    None => String::new(),
                };
                let start = if *auto_start {
                    "starts with the service"
                } else {
                    "ServerAutoStart FALSE, not started"
                };
                step(
                    StepKind::Config,
                    format!(
                        "{head}: bindings {bindings}, root application in pool {root_pool}; {start}{state}"
                    ),
                )
            }
            Happening::SiteFiltersLoadAtServiceStart { site, process, bits } => step(
                StepKind::Info,
                format!(
                    "{process} ({bits}) loads site {site}'s filters at service start, after the global filters (IIS 5.0's behaviour; a harness decision where the IIS 6.0 sources are silent)"
                ),
            ),
            Happening::SiteFailed { site } => step(
                StepKind::Fail,
                format!(
                    "site {site} failed to start: not all of its filters loaded; its requests get 503, other sites keep serving"
                ),
            ),
            Happening::WorkerStartsForRequest { ordinal, url, site, pool, bits, site_filters } => {
                let loads = if *site_filters > 0 {
                    let filters = if *site_filters == 1 { "filter" } else { "filters" };
                    format!("the global filters, then site {site}'s {site_filters} {filters}")
                } else {
                    "the global filters".to_owned()
                };
                step(
                    StepKind::Info,
                    format!(
                        "request {ordinal} for {url} (site {site}, pool {pool}): WAS starts w3wp.exe ({bits}), which loads {loads}"
                    ),
                )
            }
            Happening::WorkerLoadsSiteFilters { ordinal, url, site, pool, pid, bits } => {
                let pid = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
                step(
                    StepKind::Info,
                    format!(
                        "request {ordinal} for {url}: the first to site {site}, so the {bits} worker of pool {pool}{pid} loads the site's filters; a new host of the same bitness stands in for that worker, loading the global filters again before them"
                    ),
                )
            }
            Happening::RequestToDisabledPool { ordinal, url, pool } => step(
                StepKind::Info,
                format!(
                    "request {ordinal} for {url}: pool {pool} is disabled, HTTP.sys answers at once"
                ),
            ),
            Happening::RequestToFailedSite { ordinal, url, site } => step(
                StepKind::Info,
                format!("request {ordinal} for {url}: site {site} failed to start"),
            ),
            Happening::ServedBySameWorker { ordinal, url, process, pool } => {
                let by = match pool {
                    Some(pool) => format!("the running worker of pool {pool}"),
                    None => format!("the running {process}"),
                };
                step(StepKind::Info, format!("request {ordinal} for {url}: served by {by}"))
            }
            Happening::ExtensionProhibited { url, executable, entry } => step(
                StepKind::Fail,
                format!(
                    "GET {url}: the Web Service Extension list prohibits {executable} (entry \"{entry}\"), so IIS answers 404.2 and never loads it"
                ),
            ),
            Happening::ExtensionLoads {
                url,
                extension,
                executable,
                set_at,
                process,
                bits,
                why,
            } => {
                // The filters of a worker or of inetinfo.exe were loaded and answered for by
                // an earlier host; a host's report ends its run, so another plays the process.
                let stand_in = match why {
                    ExtensionProcess::MediumProtection | ExtensionProcess::HighProtection => "",
                    _ => {
                        "; a new host of the same bitness stands in for that process, which loaded the filters"
                    }
                };
                let why = match why {
                    ExtensionProcess::PoolWorker => "the application pool's worker",
                    ExtensionProcess::LowProtection => {
                        "the IIS process, as AppIsolated 0 (low protection) asks"
                    }
                    ExtensionProcess::InProcessIsapiApp => {
                        "the IIS process, as InProcessIsapiApps lists it"
                    }
                    ExtensionProcess::MediumProtection => {
                        "the pooled process, as AppIsolated 2 (medium protection) asks"
                    }
                    ExtensionProcess::HighProtection => {
                        "a process of the application's own, as AppIsolated 1 (high protection) asks"
                    }
                };
                step(
                    StepKind::Info,
                    format!(
                        "GET {url}: ScriptMaps at {set_at} map {extension} to {executable}; {process} ({bits}), {why}, loads it and calls GetExtensionVersion and HttpExtensionProc{stand_in}"
                    ),
                )
            }
            Happening::ExtensionResult { url, outcome, process, bits, status } => {
                let head = format!("extension `{}` in {bits} {process}", outcome.path);
                if let Some(failed) =
                    loader_failure(&head, ImageKind::Extension, outcome.stage, outcome.win32_error)
                {
                    return Some(failed);
                }
                match outcome.stage {
                    Stage::Loaded => step(
                        if *status == 200 { StepKind::Ok } else { StepKind::Fail },
                        format!(
                            "{head}: loaded; GetExtensionVersion says \"{}\"; HttpExtensionProc answered GET {url} with {status}",
                            outcome.description.clone().unwrap_or_default()
                        ),
                    ),
                    _ => step(StepKind::Fail, format!("{head}: not attempted")),
                }
            }
            Happening::Response { url, site, pool, status, substatus, win32_error, no_answer } => {
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
                            (404, Some(2)) => {
                                "Not Found (denied by the Web Service Extension list)"
                            }
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
                            Some(NoAnswer::ServiceNotRunning) | None => {
                                "W3SVC is not running, nothing listens"
                            }
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
            Happening::PoolDisabled { pool, failures, interval_minutes } => step(
                StepKind::Fail,
                format!(
                    "rapid-fail protection: {failures} worker failures within {interval_minutes} minutes, pool {pool} is disabled"
                ),
            ),
            Happening::Iis7(happening) => happening.render(),
        }
    }
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
        (Stage::GetProcAddress, _) => {
            format!("{head}: loaded, but {} is not exported: {error_text}", kind.entry_point())
        }
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

fn filter_result(
    name: &str,
    path: &str,
    process: ProcessName,
    bits: Bits,
    stage: Stage,
    error: Option<Win32Error>,
    description: Option<&str>,
) -> Step {
    let head = format!("load {name} `{path}` in {bits} {process}");
    if let Some(failed) = loader_failure(&head, ImageKind::Filter, stage, error) {
        return failed;
    }
    let (kind, text) = match stage {
        Stage::Loaded => (
            StepKind::Ok,
            format!(
                "{head}: loaded; GetFilterVersion says \"{}\"",
                description.unwrap_or_default()
            ),
        ),
        Stage::RefusedSilently => (
            StepKind::Info,
            format!(
                "{head}: GetFilterVersion returned FALSE after SetLastError(0); IIS skips it without an event"
            ),
        ),
        Stage::ReadRawDataRefused => (
            StepKind::Fail,
            format!(
                "{head}: loaded and initialised, but it asks for SF_NOTIFY_READ_RAW_DATA, which IIS refuses in worker process isolation mode"
            ),
        ),
        _ => (StepKind::Info, format!("{head}: not attempted (start-up already aborted)")),
    };
    Step { kind, text }
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
        }
    }

    /// True when the service started, every filter of every host loaded, and every request
    /// got 200: what exit code 0 of `start` promises.
    pub fn all_good(&self) -> bool {
        self.service.started
            && self.hosts.iter().all(|host| host.images().all(|image| image.loaded))
            && self.requests.iter().all(|request| request.status == Some(200))
    }

    /// True when the service started, every filter loaded, and every request that reached a
    /// site got 200: what a remedy must achieve.
    pub fn every_site_serves(&self) -> bool {
        self.service.started
            && self.hosts.iter().all(|host| host.filters.iter().all(|filter| filter.loaded))
            && self.server_health_requests().all(|request| request.status == Some(200))
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
    pub fn extension_result(&self, url: &str) -> Option<(ProcessName, Bits, &FilterOutcome)> {
        self.timeline.iter().find_map(|happening| match happening {
            Happening::ExtensionResult { url: answered, outcome, process, bits, .. }
                if answered == url =>
            {
                Some((*process, *bits, outcome))
            }
            _ => None,
        })
    }

    /// The first filter failure, for verdict lines.
    pub fn first_failed_filter(&self) -> Option<(&HostOutcome, &FilterOutcome)> {
        self.hosts.iter().find_map(|host| {
            host.images()
                .find(|filter| !filter.loaded && filter.stage != Stage::NotAttempted)
                .map(|filter| (host, filter))
        })
    }

    /// The timeline as a person reads it, ending with the verdict.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = self.timeline.iter().filter_map(Happening::render).collect();
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
                    (Some(error), _, None) => error.to_string(),
                    (None, Some(Cause::TimedOut), None) => {
                        "it stopped answering and was ended".to_owned()
                    }
                    (None, Some(Cause::Crashed), None) => "it crashed the process".to_owned(),
                    (None, _, None) => "the process ended early".to_owned(),
                };
                let is_extension =
                    host.extensions.iter().any(|extension| std::ptr::eq(extension, filter));
                let kind = if host.modules.iter().any(|module| std::ptr::eq(module, filter)) {
                    "module"
                } else if is_extension {
                    "extension"
                } else {
                    "filter"
                };
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
