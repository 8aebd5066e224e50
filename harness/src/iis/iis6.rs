//! The IIS 6.0 start-up model: which process loads the global filters, at which bitness and
//! when, and what IIS does when one of them fails. A pure state machine behind the seam of
//! `model.rs`: it plans host starts and reads their reports, and never starts anything itself.
//!
//! - IIS 5.0 isolation mode: inetinfo.exe loads the filters when W3SVC starts. IIS Admin runs
//!   only as a native process, so on x64 it is 64-bit whatever `Enable32BitAppOnWin64` says.
//!   A filter that fails aborts the service start: `net start w3svc` reports the error.
//! - Worker process isolation mode: W3SVC starts without loading filters; each application
//!   pool's w3wp.exe loads them when the first request arrives. On x64 the worker is 32-bit
//!   (WOW64) when `Enable32BitAppOnWin64` is true. A filter that fails kills the worker, the
//!   request gets 503, and after enough failures rapid-fail protection disables the pool.
//! - 32-bit Windows: every process is 32-bit and `Enable32BitAppOnWin64` means nothing.
//!
//! Sites: each request is routed by HTTP.sys (`http_sys`) to a started site, then to the
//! application whose path is the longest prefix of the URL, whose pool serves it. Site filters
//! load after the global ones: in worker process isolation mode at the first request to their
//! site, in that pool's worker (KB 317204, TechNet cc759144); a failure means the site fails to
//! start and answers 503 (David Wang, 2005). A read-raw-data filter at site level is refused
//! (event 2222, the Resource Kit's Table E.2).
//!
//! What the sources leave open, and how this model decides (one place, here):
//! - IIS 5.0 isolation mode and site filters: IIS 6.0's sources describe on-demand loading only
//!   for worker processes; IIS 5.0 loaded every filter at service start. The model loads a
//!   started site's filters in inetinfo.exe at service start, after the global ones, and the
//!   timeline marks this as the harness's decision.
//! - Whether a failing site filter kills the whole worker or only its site: only the site. The
//!   worker keeps serving the pool's other sites; the site's requests get 503.
//! - In IIS 5.0 isolation mode a site filter that fails does not stop the service: the global
//!   filters decide the service's start, a site's filters that site's.
//! - A running worker that meets the first request to another site with filters of its own
//!   loads them; the harness cannot keep a host process alive between reports, so a new host of
//!   the same bitness stands in for that worker, loading the global filters again first, and
//!   the timeline says so. Every load result is still that host's real answer.
//! - A request to a site that failed, or to a dead or disabled pool, carries the loader's error
//!   of the filter that caused it as `win32_error` (HTTP.sys's own 503 logs no sc-win32-status).
//! - A request whose host is a name reaches only host-header and "All Unassigned" bindings: the
//!   address it would arrive on is unknown (see `http_sys`).

use std::time::Duration;

use anyhow::{Context, bail};

use super::extensions::{self, ExtensionAnswer, Protection};
use super::messages;
use crate::arch::{Bits, Os};
use crate::cause::{HostDeath, ImageSummary, classify};
use crate::host::{HostPlan, HostRun, PlannedImage};
use crate::http_sys::{self, Route};
use crate::machine::WinPath;
use crate::metabase::{FilterConfig, Metabase, RapidFail, Restriction, ScriptMapping, SiteConfig};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::{
    Enable32BitEffect, ExtensionProcess, FilterOutcome, FilterState, Happening, HostOutcome,
    IisRefusal, NoAnswer, RefusalReason, RequestOutcome, ServiceOutcome, StartReport,
};
use crate::scenario::Scenario;
use crate::vocab::{
    Event, HostEnd, ImageKind, IsolationMode, ProcessName, ServerKind, Stage, Win32Error,
};

/// `SF_NOTIFY_READ_RAW_DATA`: HTTP.sys can hand raw data to one process only, so worker process
/// isolation mode refuses filters that ask for it.
const SF_NOTIFY_READ_RAW_DATA: u32 = 0x0000_8000;
/// `SF_STATUS_REQ_ERROR`: a filter's way of failing a request.
const SF_STATUS_REQ_ERROR: u32 = 0x0800_0004;
/// How long the modelled clock advances between two worker starts for one pool: each request
/// that meets a dead pool makes WAS start a new worker.
const WORKER_RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// The process that loads the global filters, and its bitness: the heart of the model.
/// IIS Admin (inetinfo.exe) is native only, so in IIS 5.0 isolation mode `Enable32BitAppOnWin64`
/// changes nothing; worker processes honour it on x64; 32-bit Windows has only 32-bit processes.
pub fn filter_host(
    os: Os,
    isolation_mode: IsolationMode,
    enable_32bit: bool,
) -> (ProcessName, Bits) {
    match (isolation_mode, os) {
        (IsolationMode::Iis5, _) => (ProcessName::Inetinfo, os.native_bits()),
        (IsolationMode::WorkerProcess, Os::X86) => (ProcessName::W3wp, Bits::B32),
        (IsolationMode::WorkerProcess, Os::X64) if enable_32bit => (ProcessName::W3wp, Bits::B32),
        (IsolationMode::WorkerProcess, Os::X64) => (ProcessName::W3wp, Bits::B64),
    }
}

/// What `Enable32BitAppOnWin64` does in this configuration, read off the same decision.
fn enable_32bit_effect(os: Os, mode: IsolationMode, enable_32bit: bool) -> Enable32BitEffect {
    let (_, bits) = filter_host(os, mode, enable_32bit);
    match (os, mode) {
        (Os::X86, _) => Enable32BitEffect::IgnoredOn32BitWindows,
        (Os::X64, IsolationMode::Iis5) => Enable32BitEffect::NoEffectInIis5Mode { inetinfo: bits },
        (Os::X64, IsolationMode::WorkerProcess) => Enable32BitEffect::WorkersRun(bits),
    }
}

/// The isolation mode a metabase asks for.
pub fn isolation_mode(metabase: &Metabase) -> IsolationMode {
    if metabase.iis5_isolation_mode() { IsolationMode::Iis5 } else { IsolationMode::WorkerProcess }
}

/// A filter IIS will try to load: a global one, or one of a site's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFilter {
    pub name: String,
    pub path: WinPath,
    /// The site whose filter it is; None for a global filter.
    pub site: Option<String>,
}

/// The enabled global filters with a FilterPath, in load order.
pub fn active_filters(metabase: &Metabase) -> anyhow::Result<Vec<ActiveFilter>> {
    enabled_filters(metabase, metabase.global_filters(), None)
}

/// The enabled filters with a FilterPath among `configured`, in load order. A FilterPath that
/// is not an absolute Windows path is bad input: IIS hands FilterPath to LoadLibraryEx as it
/// is, and a relative one would be searched for and could find a file outside the simulated
/// machine.
fn enabled_filters(
    metabase: &Metabase,
    configured: Vec<FilterConfig>,
    site: Option<&str>,
) -> anyhow::Result<Vec<ActiveFilter>> {
    let mut active = Vec::new();
    for filter in configured {
        let Some(path) = &filter.path else { continue };
        if !filter.enabled {
            continue;
        }
        let path = WinPath::parse(path).with_context(|| {
            format!(
                "{}:{}: FilterPath of filter `{}` is not an absolute Windows path; give the full path to the DLL",
                metabase.origin().display(),
                filter.line,
                filter.name
            )
        })?;
        active.push(ActiveFilter {
            name: filter.name.clone(),
            path,
            site: site.map(str::to_owned),
        });
    }
    Ok(active)
}

/// What the model is for: a start as IIS does it, or every filter loaded without stopping at
/// the first failure (what `diagnose --verify` compares its predictions with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Start,
    LoadEveryFilter,
}

/// What IIS 6.0 saw of one failing host: the first failure, as it logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostFailure {
    /// A filter did not load or initialise; IIS logs the error.
    Filter { path: String, site: Option<String>, error: Win32Error },
    /// IIS itself refused a filter that loaded: a read-raw-data filter in a worker, or at
    /// site level.
    Refused { path: String, site: Option<String>, refusal: IisRefusal },
    /// The process died from an exception.
    Crashed { exception_code: u32 },
    /// The process stopped answering (a hang, or output without end).
    StoppedAnswering,
    /// The process ended on its own before finishing.
    Died { exit_code: Option<i32> },
}

impl HostFailure {
    /// The site a failure belongs to; None when it takes the whole process down.
    fn site(&self) -> Option<&str> {
        match self {
            HostFailure::Filter { site, .. } | HostFailure::Refused { site, .. } => site.as_deref(),
            HostFailure::Crashed { .. }
            | HostFailure::StoppedAnswering
            | HostFailure::Died { .. } => None,
        }
    }

    /// The loader's (or the filter's) error behind it, if there is one.
    fn error(&self) -> Option<Win32Error> {
        match self {
            HostFailure::Filter { error, .. } => Some(*error),
            _ => None,
        }
    }
}

/// IIS 6.0 starting W3SVC on one server, then serving its requests.
pub struct Iis6<'s> {
    scenario: &'s Scenario,
    metabase: &'s Metabase,
    purpose: Purpose,
    mode: IsolationMode,
    enable_32bit: bool,
    filters: Vec<ActiveFilter>,
    configured: Vec<FilterConfig>,
    sites: Vec<Site>,
    pools: Vec<Pool>,
    /// The requests in the order they are sent, each repetition its own entry.
    requests: Vec<Request>,
    /// IIS 5.0 isolation mode: inetinfo.exe once the service runs.
    inetinfo: Option<Worker>,
    report: StartReport,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    /// IIS 5.0 isolation mode: inetinfo.exe is loading the global filters.
    Inetinfo,
    /// IIS 5.0 isolation mode: inetinfo.exe is loading `sites[site]`'s filters.
    InetinfoSite {
        site: usize,
    },
    /// Worker process isolation mode: a worker of `pools[pool]` loads filters for
    /// `requests[request]`; `new_worker` when WAS started it for this request.
    Worker {
        pool: usize,
        request: usize,
        new_worker: bool,
    },
    /// The process that runs `requests[request]`'s application loads its ISAPI extension.
    Extension {
        request: usize,
    },
    Done,
}

/// One web site and what has become of it.
#[derive(Debug, Clone)]
struct Site {
    config: SiteConfig,
    filters: Vec<ActiveFilter>,
    /// Why the site failed to start, once it has (the error, when a filter gave one).
    failed: Option<Option<Win32Error>>,
}

/// One application pool's state in worker process isolation mode.
#[derive(Debug, Clone)]
struct Pool {
    name: String,
    rapid_fail: RapidFail,
    /// When each worker failure happened on the modelled clock.
    failures: Vec<Duration>,
    clock: Duration,
    disabled: bool,
    /// The error of the last worker failure: what a disabled pool's 503s stand for.
    last_error: Option<Win32Error>,
    worker: Option<Worker>,
}

/// A process that serves requests: a pool's w3wp.exe, or inetinfo.exe.
#[derive(Debug, Clone)]
struct Worker {
    pid: Option<u32>,
    /// The status a request gets through the global filters alone.
    global_status: u16,
    /// The status through the global filters and each site's own, for the sites whose
    /// filters this process has loaded.
    site_status: Vec<(String, u16)>,
}

impl Worker {
    fn status_for(&self, site: &Site) -> Option<u16> {
        if site.filters.is_empty() {
            return Some(self.global_status);
        }
        self.site_status.iter().find(|(id, _)| *id == site.config.id).map(|(_, status)| *status)
    }
}

/// One request to send, after HTTP.sys has routed it.
#[derive(Debug, Clone)]
struct Request {
    url: String,
    /// The URL's path, without its query: what applications and script maps are found by.
    path: String,
    ordinal: u32,
    target: Target,
    /// The ISAPI extension its URL maps to, when a site takes it and ScriptMaps map its
    /// file extension.
    extension: Option<MappedExtension>,
}

/// A request that maps to an ISAPI extension, and where IIS would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRequest {
    pub url: String,
    /// The file extension the script map matched (`.aspx`).
    pub extension: String,
    pub path: WinPath,
    /// The `Location` of the key whose ScriptMaps matched.
    pub set_at: String,
    pub process: ProcessName,
    pub bits: Bits,
    pub why: ExtensionProcess,
    /// The Web Service Extension list prohibits it: 404.2, never loaded.
    pub prohibited: bool,
    /// The map names a CGI program, which IIS starts as a process rather than loads: the
    /// harness runs none, and the request gets no status.
    pub cgi: bool,
}

/// A request's ScriptMaps entry, with its executable as a path the loader is given.
#[derive(Debug, Clone)]
struct MappedExtension {
    mapping: ScriptMapping,
    path: WinPath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `sites[site]`, its application's pool `pools[pool]`.
    Site {
        site: usize,
        pool: usize,
    },
    /// HTTP.sys answers 400 itself.
    InvalidHostname,
    NoAnswer(NoAnswer),
}

impl<'s> Iis6<'s> {
    pub fn new(scenario: &'s Scenario, purpose: Purpose) -> anyhow::Result<Iis6<'s>> {
        let metabase = scenario.config.metabase()?;
        let mode = isolation_mode(metabase);
        let enable_32bit = metabase.enable_32bit_app_on_win64();
        let mut sites = Vec::new();
        for config in metabase.sites()? {
            let filters = enabled_filters(metabase, config.filters.clone(), Some(&config.id))?;
            sites.push(Site { config, filters, failed: None });
        }
        let mut pools: Vec<Pool> = metabase
            .app_pools()
            .into_iter()
            .map(|name| Pool {
                rapid_fail: metabase.rapid_fail(&name),
                name,
                failures: Vec::new(),
                clock: Duration::ZERO,
                disabled: false,
                last_error: None,
                worker: None,
            })
            .collect();
        // An application may name a pool that has no key: WAS would refuse to route to it,
        // but its requests still say which pool they were for, so it is tracked like one.
        for app in sites.iter().flat_map(|site| &site.config.apps) {
            if !pools.iter().any(|pool| pool.name.eq_ignore_ascii_case(&app.pool)) {
                pools.push(Pool {
                    rapid_fail: metabase.rapid_fail(&app.pool),
                    name: app.pool.clone(),
                    failures: Vec::new(),
                    clock: Duration::ZERO,
                    disabled: false,
                    last_error: None,
                    worker: None,
                });
            }
        }
        let requests = route_requests(scenario, &sites, &pools)?;
        Ok(Iis6 {
            scenario,
            metabase,
            purpose,
            mode,
            enable_32bit,
            filters: active_filters(metabase)?,
            configured: metabase.global_filters(),
            sites,
            pools,
            requests,
            inetinfo: None,
            report: StartReport::new(ServerKind::Iis6, scenario.os, mode, enable_32bit, false),
            phase: Phase::Begin,
        })
    }

    /// Every request whose URL maps to an ISAPI extension, with where IIS would run it: what
    /// `diagnose` predicts from. The same decisions as [`Iis6::deliver`] makes while serving.
    pub fn extension_requests(&self) -> Vec<ExtensionRequest> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (index, request) in self.requests.iter().enumerate() {
            let (Some(mapped), Target::Site { site, .. }) = (&request.extension, request.target)
            else {
                continue;
            };
            if seen.contains(&request.url) {
                continue;
            }
            seen.push(request.url.clone());
            let (process, bits, why) = self.extension_process(index, site, mapped);
            let prohibited =
                !self.metabase.web_service_extension(&mapped.mapping.executable).allows();
            out.push(ExtensionRequest {
                url: request.url.clone(),
                extension: mapped.mapping.extension.clone(),
                path: mapped.path.clone(),
                set_at: mapped.mapping.set_at.clone(),
                process,
                bits,
                why,
                prohibited,
                cgi: mapped.mapping.is_cgi(),
            });
        }
        out
    }

    /// The process that runs the application of `requests[request]` (on `sites[site]`), and
    /// so its extension.
    fn extension_process(
        &self,
        request: usize,
        site: usize,
        mapped: &MappedExtension,
    ) -> (ProcessName, Bits, ExtensionProcess) {
        let app_path = &self.requests[request].path;
        let isolated = self.sites[site].config.app_for(app_path).and_then(|app| app.isolated);
        extensions::extension_host(
            self.scenario.os,
            self.mode,
            self.enable_32bit,
            Protection::from_app_isolated(isolated.unwrap_or(2)),
            self.metabase.in_process_isapi_app(&mapped.mapping.executable),
        )
    }

    /// The process that loads the filters here, and its bitness.
    pub fn filter_host(&self) -> (ProcessName, Bits) {
        filter_host(self.scenario.os, self.mode, self.enable_32bit)
    }

    fn happen(&mut self, happening: Happening) {
        self.report.timeline.push(happening);
    }

    fn log(&mut self, event: Event) {
        self.report.events.push(event.clone());
        self.happen(Happening::Logged(event));
    }

    /// The filters a host loads: the global ones, then those of the given sites.
    fn chain(&self, sites: &[usize]) -> Vec<ActiveFilter> {
        let mut chain = self.filters.clone();
        for &site in sites {
            chain.extend(self.sites[site].filters.iter().cloned());
        }
        chain
    }

    fn host_plan(&self, process: ProcessName, bits: Bits, chain: &[ActiveFilter]) -> HostPlan {
        let start = self.purpose == Purpose::Start;
        HostPlan {
            bits,
            process,
            probes: Vec::new(),
            images: chain
                .iter()
                .map(|filter| PlannedImage { kind: ImageKind::Filter, path: filter.path.clone() })
                .collect(),
            // IIS gives up at the first filter that fails; diagnose wants every answer.
            stop_at_first_failure: start,
            probe_before_load: true,
            request: start,
            timeout: self.scenario.host_timeout,
        }
    }

    fn configuration(&mut self) {
        let os = self.scenario.os;
        self.happen(Happening::Server { os, mode: self.mode });
        self.happen(Happening::Enable32Bit {
            value: self.enable_32bit,
            effect: enable_32bit_effect(os, self.mode, self.enable_32bit),
        });
        if self.configured.iter().all(|filter| filter.path.is_none()) {
            self.happen(Happening::NoGlobalFilters);
        }
        for filter in self.configured.clone() {
            self.filter_configured(filter);
        }
        for site in self.sites.clone() {
            let config = &site.config;
            self.happen(Happening::SiteConfigured {
                site: config.id.clone(),
                comment: config.comment.clone(),
                bindings: config.bindings.iter().map(ToString::to_string).collect(),
                auto_start: config.auto_start,
                state: config.state,
                root_pool: config.app_for("/").map(|app| app.pool.clone()).unwrap_or_default(),
                implied: config.implied,
            });
            for filter in config.filters.clone() {
                self.filter_configured(filter);
            }
        }
        let every_filter = self.chain(&(0..self.sites.len()).collect::<Vec<_>>());
        for filter in every_filter {
            let holds = self.scenario.image_at(&filter.path).map(|spec| spec.to_string());
            self.happen(Happening::Disk { path: filter.path.to_string(), holds });
        }
    }

    fn filter_configured(&mut self, filter: FilterConfig) {
        let state = match (filter.key_exists, filter.enabled) {
            (false, _) => FilterState::NoKey,
            (true, false) => FilterState::Disabled,
            (true, true) => FilterState::Enabled,
        };
        self.happen(Happening::FilterConfigured { name: filter.name, path: filter.path, state });
    }

    /// Turns a host's report into its outcome and the first failure IIS sees, and records what
    /// the timeline shows of it.
    fn take(
        &mut self,
        observed: Observation,
        chain: &[ActiveFilter],
        app_pool: Option<&str>,
    ) -> anyhow::Result<(HostOutcome, Option<HostFailure>)> {
        let Observation { run, headers } = observed;
        let worker = self.mode == IsolationMode::WorkerProcess;
        let keep_going = self.purpose == Purpose::LoadEveryFilter;
        let (filters, failure) = judge(&run, chain, &headers, worker, keep_going)?;
        self.happen(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        for filter in &filters {
            self.happen(Happening::FilterResult {
                name: filter.name.clone(),
                path: filter.path.clone(),
                process: run.process,
                bits: run.bits,
                stage: filter.stage,
                win32_error: filter.win32_error,
                description: filter.description.clone(),
            });
        }
        self.happen(Happening::HostEnded {
            process: run.process,
            end: run.end,
            timeout: self.scenario.host_timeout,
        });
        let outcome = HostOutcome {
            process: run.process,
            bits: run.bits,
            app_pool: app_pool.map(str::to_owned),
            pid: run.pid,
            end: run.end,
            exception_code: run.end.exception_code(),
            start_attempts: run.start_attempts,
            filters,
            modules: Vec::new(),
            extensions: Vec::new(),
            pipeline_mode: None,
        };
        Ok((outcome, failure))
    }

    fn failure_events(&mut self, failure: &HostFailure, bits: Bits) {
        match failure {
            HostFailure::Filter { path, error, .. } => {
                // IIS cannot tell why LoadLibrary said ERROR_BAD_EXE_FORMAT, and logs the
                // architecture event whenever it does.
                if *error == Win32Error::BAD_EXE_FORMAT {
                    self.log(messages::filter_architecture_mismatch(path, bits, *error));
                } else {
                    self.log(messages::filter_load_failed(path, *error));
                }
                self.log(messages::filters_did_not_all_load(&error.event_data()));
            }
            HostFailure::Refused { path, refusal, .. } => {
                match refusal.reason {
                    RefusalReason::ReadRawDataInWorkerProcessIsolationMode => {
                        self.log(messages::read_raw_data_refused(path))
                    }
                    RefusalReason::ReadRawDataAtSiteLevel => {
                        self.log(messages::site_read_raw_data_refused(path))
                    }
                }
                self.log(messages::filters_did_not_all_load(
                    refusal.data.as_deref().unwrap_or_default(),
                ));
            }
            HostFailure::Crashed { .. }
            | HostFailure::StoppedAnswering
            | HostFailure::Died { .. } => {}
        }
    }

    /// The status a request gets through a process whose filters all loaded: 200, unless a
    /// filter's HttpFilterProc failed it.
    fn chain_status(filters: &[FilterOutcome]) -> u16 {
        let failed =
            filters.iter().any(|filter| filter.request_notification == Some(SF_STATUS_REQ_ERROR));
        if failed { 500 } else { 200 }
    }

    fn respond(&mut self, request: usize, status: Option<u16>, win32_error: Option<Win32Error>) {
        self.record_response(request, status, None, win32_error, None);
    }

    /// A request that reached its site but gets no status here, for `why`.
    fn respond_unanswered(&mut self, request: usize, why: NoAnswer) {
        self.record_response(request, None, None, None, Some(why));
    }

    /// The one place a request's answer goes into the report and onto the timeline.
    fn record_response(
        &mut self,
        request: usize,
        status: Option<u16>,
        substatus: Option<u16>,
        win32_error: Option<Win32Error>,
        unanswered: Option<NoAnswer>,
    ) {
        let Request { url, target, .. } = self.requests[request].clone();
        let (site, pool, no_answer) = match target {
            Target::Site { site, pool } => (
                Some(self.sites[site].config.id.clone()),
                // IIS 5.0 isolation mode has no pools: inetinfo.exe serves every site.
                (self.mode == IsolationMode::WorkerProcess).then(|| self.pools[pool].name.clone()),
                None,
            ),
            Target::InvalidHostname => (None, None, None),
            Target::NoAnswer(reason) => (None, None, Some(reason)),
        };
        let no_answer = match status {
            None => unanswered.or(no_answer).or(Some(NoAnswer::ServiceNotRunning)),
            Some(_) => None,
        };
        self.report.requests.push(RequestOutcome {
            url: url.clone(),
            site: site.clone(),
            app_pool: pool.clone(),
            status,
            substatus,
            win32_error,
            no_answer,
        });
        self.happen(Happening::Response {
            url,
            site,
            pool,
            status,
            substatus,
            win32_error,
            no_answer,
        });
    }

    /// A request that came through the filters with `status` goes on to its ISAPI extension,
    /// if its URL maps to one: None when the request has been answered here (no extension, a
    /// filter already failed it, or the Web Service Extension list prohibits the extension),
    /// else the host start that loads the extension in the process that runs the application.
    fn deliver(&mut self, request: usize, status: u16) -> Option<Next> {
        let Request { url, target, extension, .. } = self.requests[request].clone();
        let (Some(mapped), Target::Site { site, .. }, 200) = (extension, target, status) else {
            self.respond(request, Some(status), None);
            return None;
        };
        let executable = mapped.mapping.executable.clone();
        if let Restriction::Prohibited { entry } = self.metabase.web_service_extension(&executable)
        {
            self.happen(Happening::ExtensionProhibited { url, executable, entry });
            self.answer(request, extensions::prohibited());
            return None;
        }
        if mapped.mapping.is_cgi() {
            self.respond_unanswered(request, NoAnswer::CgiNotRun);
            return None;
        }
        let (process, bits, why) = self.extension_process(request, site, &mapped);
        self.happen(Happening::ExtensionLoads {
            url,
            extension: mapped.mapping.extension.clone(),
            executable,
            set_at: mapped.mapping.set_at.clone(),
            process,
            bits,
            why,
        });
        self.phase = Phase::Extension { request };
        // A host of its own plays the process: the filters it shares a worker or inetinfo.exe
        // with were loaded, and answered for, by the host before it.
        Some(Next::Start(HostPlan {
            bits,
            process,
            probes: Vec::new(),
            images: vec![PlannedImage { kind: ImageKind::Extension, path: mapped.path }],
            stop_at_first_failure: true,
            probe_before_load: false,
            request: true,
            timeout: self.scenario.host_timeout,
        }))
    }

    fn answer(&mut self, request: usize, answer: ExtensionAnswer) {
        self.record_response(
            request,
            Some(answer.status),
            answer.substatus,
            answer.win32_error,
            None,
        );
    }

    /// The extension's host has reported: the request gets what IIS makes of it.
    fn extension_reported(
        &mut self,
        request: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Observation { run, headers } = observed;
        let Request { url, target, extension, .. } = self.requests[request].clone();
        let (Some(mapped), Target::Site { site, pool }) = (extension, target) else {
            bail!("an extension host started for a request without an extension");
        };
        if run.images.len() > 1 {
            bail!("the host reported {} images for one planned extension", run.images.len());
        }
        let header = headers.first().cloned().flatten();
        let load = run.images.first();
        let (stage, win32_error) = match load {
            None => (Stage::LoadLibrary, None),
            Some(load) => match (load.load, load.exports, &load.version) {
                (None, _, _) => (Stage::LoadLibrary, None),
                (Some(Err(error)), _, _) => (Stage::LoadLibrary, Some(error)),
                (Some(Ok(())), Some(exports), _) if !exports.entry_point => {
                    (Stage::GetProcAddress, exports.lookup_error)
                }
                (Some(Ok(())), _, None) | (Some(Ok(())), None, _) => {
                    (Stage::GetExtensionVersion, None)
                }
                (Some(Ok(())), Some(_), Some(version)) if !version.accepted => {
                    (Stage::GetExtensionVersion, Some(version.last_error))
                }
                (Some(Ok(())), Some(_), Some(_)) => (Stage::Loaded, None),
            },
        };
        let answer = match load {
            Some(load) => extensions::answer(&run, load),
            None => ExtensionAnswer {
                status: 500,
                substatus: None,
                win32_error: Some(Win32Error::PROCESS_ABORTED),
            },
        };
        let death = HostDeath::of(run.end);
        let outcome = FilterOutcome {
            name: mapped.mapping.extension.clone(),
            site: Some(self.sites[site].config.id.clone()),
            path: mapped.path.to_string(),
            loaded: stage == Stage::Loaded,
            win32_error,
            stage,
            description: load.and_then(|l| l.version.as_ref()).map(|v| v.description.clone()),
            flags: None,
            request_notification: load.and_then(|l| l.request).and_then(|r| r.returned),
            cause: classify(stage, win32_error, header.as_ref(), run.bits, death),
            image: header.as_ref().map(ImageSummary::of),
            iis_refused: None,
        };
        self.happen(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        self.happen(Happening::ExtensionResult {
            url,
            outcome: outcome.clone(),
            process: run.process,
            bits: run.bits,
            status: answer.status,
        });
        self.happen(Happening::HostEnded {
            process: run.process,
            end: run.end,
            timeout: self.scenario.host_timeout,
        });
        let in_pool = run.process == ProcessName::W3wp;
        self.report.hosts.push(HostOutcome {
            process: run.process,
            bits: run.bits,
            app_pool: in_pool.then(|| self.pools[pool].name.clone()),
            pid: run.pid,
            end: run.end,
            exception_code: run.end.exception_code(),
            start_attempts: run.start_attempts,
            filters: Vec::new(),
            modules: Vec::new(),
            extensions: vec![outcome],
            pipeline_mode: None,
        });
        self.answer(request, answer);
        // An extension that crashes or hangs takes the worker it runs in down with it (the
        // host stands in for that worker): WAS counts the failure as for any worker's.
        if in_pool && run.end != HostEnd::Completed {
            self.worker_lost(pool, run.pid, run.bits, &host_death(run.end));
        }
        Ok(self.serve(request + 1))
    }

    fn begin(&mut self) -> Next {
        self.configuration();
        let (process, bits) = self.filter_host();
        if self.purpose == Purpose::LoadEveryFilter {
            self.phase = Phase::Inetinfo;
            let started: Vec<usize> =
                (0..self.sites.len()).filter(|&i| self.sites[i].config.auto_start).collect();
            let chain = self.chain(&started);
            return Next::Start(self.host_plan(process, bits, &chain));
        }
        self.happen(Happening::Command("net start w3svc".to_owned()));
        match self.mode {
            IsolationMode::Iis5 => {
                self.happen(Happening::ServiceLoadsFilters { process, bits });
                self.phase = Phase::Inetinfo;
                let chain = self.chain(&[]);
                Next::Start(self.host_plan(process, bits, &chain))
            }
            IsolationMode::WorkerProcess => {
                self.happen(Happening::ServiceStartsWithoutFilters);
                self.service_started();
                self.serve(0)
            }
        }
    }

    fn service_started(&mut self) {
        self.happen(Happening::Console(messages::net_start_succeeded()));
        self.report.service = ServiceOutcome {
            started: true,
            win32_error: None,
            net_start_output: messages::net_start_succeeded(),
        };
    }

    /// `diagnose --verify`: one host loaded every filter; nothing more happens.
    fn every_filter_reported(&mut self, observed: Observation) -> anyhow::Result<Next> {
        let started: Vec<usize> =
            (0..self.sites.len()).filter(|&i| self.sites[i].config.auto_start).collect();
        let chain = self.chain(&started);
        let (host, _) = self.take(observed, &chain, None)?;
        self.report.hosts.push(host);
        self.phase = Phase::Done;
        Ok(Next::Done)
    }

    /// IIS 5.0 isolation mode: inetinfo.exe has loaded (or failed to load) the global filters.
    fn inetinfo_reported(&mut self, observed: Observation) -> anyhow::Result<Next> {
        let chain = self.chain(&[]);
        let (host, failure) = self.take(observed, &chain, None)?;
        let bits = host.bits;
        let worker = Worker {
            pid: host.pid,
            global_status: Self::chain_status(&host.filters),
            site_status: Vec::new(),
        };
        self.report.hosts.push(host);
        let Some(failure) = failure else {
            self.service_started();
            self.inetinfo = Some(worker);
            return Ok(self.next_inetinfo_site(0));
        };
        // What the service reports to the service control manager: the filter's error, or
        // what a dead or silent start-up amounts to.
        let error = match &failure {
            HostFailure::Filter { error, .. } => *error,
            HostFailure::Refused { .. } => {
                unreachable!("IIS 5.0 isolation mode refuses no global filter")
            }
            HostFailure::Crashed { .. } | HostFailure::Died { .. } => Win32Error::PROCESS_ABORTED,
            HostFailure::StoppedAnswering => Win32Error::SERVICE_REQUEST_TIMEOUT,
        };
        self.failure_events(&failure, bits);
        if failure == HostFailure::StoppedAnswering {
            self.happen(Happening::ServiceRequestTimedOut);
        }
        self.log(messages::service_terminated_with_error(error));
        let console = messages::net_start_failed(error);
        self.happen(Happening::Console(console.clone()));
        self.report.service =
            ServiceOutcome { started: false, win32_error: Some(error), net_start_output: console };
        self.happen(Happening::ServiceFailed { error });
        // Nothing listens for any site: every request goes unanswered.
        for request in 0..self.requests.len() {
            self.respond(request, None, None);
        }
        self.phase = Phase::Done;
        Ok(Next::Done)
    }

    /// IIS 5.0 isolation mode: the next started site with filters of its own has them loaded
    /// at service start; after the last, the requests are served.
    fn next_inetinfo_site(&mut self, from: usize) -> Next {
        let next = (from..self.sites.len())
            .find(|&i| self.sites[i].config.auto_start && !self.sites[i].filters.is_empty());
        let Some(site) = next else {
            return self.serve(0);
        };
        let (process, bits) = self.filter_host();
        self.happen(Happening::SiteFiltersLoadAtServiceStart {
            site: self.sites[site].config.id.clone(),
            process,
            bits,
        });
        self.phase = Phase::InetinfoSite { site };
        let chain = self.chain(&[site]);
        Next::Start(self.host_plan(process, bits, &chain))
    }

    fn inetinfo_site_reported(
        &mut self,
        site: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let chain = self.chain(&[site]);
        let (host, failure) = self.take(observed, &chain, None)?;
        let status = Self::chain_status(&host.filters);
        let bits = host.bits;
        self.report.hosts.push(host);
        match failure {
            None => {
                let id = self.sites[site].config.id.clone();
                if let Some(inetinfo) = &mut self.inetinfo {
                    inetinfo.site_status.push((id, status));
                }
            }
            Some(failure) => {
                // Whatever failed while the site's filters loaded, the site does not start;
                // the service and the other sites go on (a harness decision, see the header).
                self.failure_events(&failure, bits);
                self.site_failed(site, failure.error());
            }
        }
        Ok(self.next_inetinfo_site(site + 1))
    }

    fn site_failed(&mut self, site: usize, error: Option<Win32Error>) {
        self.sites[site].failed = Some(error);
        self.happen(Happening::SiteFailed { site: self.sites[site].config.id.clone() });
    }

    /// Sends the requests from `requests[from]` on, until one needs a host to start.
    fn serve(&mut self, from: usize) -> Next {
        for request in from..self.requests.len() {
            let Request { url, ordinal, target, .. } = self.requests[request].clone();
            let (site, pool) = match target {
                Target::Site { site, pool } => (site, pool),
                // HTTP.sys's own answer: no site, no worker.
                Target::InvalidHostname => {
                    self.respond(request, Some(400), None);
                    continue;
                }
                Target::NoAnswer(_) => {
                    self.respond(request, None, None);
                    continue;
                }
            };
            if let Some(error) = self.sites[site].failed {
                let id = self.sites[site].config.id.clone();
                self.happen(Happening::RequestToFailedSite { ordinal, url, site: id });
                self.respond(request, Some(503), error);
                continue;
            }
            if self.mode == IsolationMode::Iis5 {
                let Some(inetinfo) = &self.inetinfo else {
                    unreachable!("IIS 5.0 isolation mode serves only once inetinfo.exe runs")
                };
                let status = inetinfo.status_for(&self.sites[site]);
                self.happen(Happening::ServedBySameWorker {
                    ordinal,
                    url,
                    process: ProcessName::Inetinfo,
                    pool: None,
                });
                match status {
                    Some(status) => {
                        if let Some(next) = self.deliver(request, status) {
                            return next;
                        }
                    }
                    None => self.respond(request, None, None),
                }
                continue;
            }
            let name = self.pools[pool].name.clone();
            if self.pools[pool].disabled {
                self.happen(Happening::RequestToDisabledPool { ordinal, url, pool: name });
                let error = self.pools[pool].last_error;
                self.respond(request, Some(503), error);
                continue;
            }
            let (_, bits) = self.filter_host();
            let site_id = self.sites[site].config.id.clone();
            match &self.pools[pool].worker {
                None => {
                    self.happen(Happening::WorkerStartsForRequest {
                        ordinal,
                        url,
                        site: site_id,
                        pool: name,
                        bits,
                        site_filters: self.sites[site].filters.len(),
                    });
                    self.phase = Phase::Worker { pool, request, new_worker: true };
                    let chain = self.chain(&[site]);
                    return Next::Start(self.host_plan(ProcessName::W3wp, bits, &chain));
                }
                Some(worker) => match worker.status_for(&self.sites[site]) {
                    Some(status) => {
                        self.happen(Happening::ServedBySameWorker {
                            ordinal,
                            url,
                            process: ProcessName::W3wp,
                            pool: Some(name),
                        });
                        if let Some(next) = self.deliver(request, status) {
                            return next;
                        }
                    }
                    None => {
                        let pid = worker.pid;
                        self.happen(Happening::WorkerLoadsSiteFilters {
                            ordinal,
                            url,
                            site: site_id,
                            pool: name,
                            pid,
                            bits,
                        });
                        self.phase = Phase::Worker { pool, request, new_worker: false };
                        let chain = self.chain(&[site]);
                        return Next::Start(self.host_plan(ProcessName::W3wp, bits, &chain));
                    }
                },
            }
        }
        self.phase = Phase::Done;
        Next::Done
    }

    fn worker_reported(
        &mut self,
        pool: usize,
        request: usize,
        new_worker: bool,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Target::Site { site, .. } = self.requests[request].target else {
            bail!("a worker started for a request that no site takes");
        };
        let name = self.pools[pool].name.clone();
        let chain = self.chain(&[site]);
        let (host, failure) = self.take(observed, &chain, Some(&name))?;
        let (pid, bits) = (host.pid, host.bits);
        let status = Self::chain_status(&host.filters);
        let globals = self.filters.len();
        let global_status = Self::chain_status(&host.filters[..globals.min(host.filters.len())]);
        self.report.hosts.push(host);
        let site_id = self.sites[site].config.id.clone();
        match failure {
            None => {
                let worker = self.pools[pool].worker.get_or_insert(Worker {
                    pid,
                    global_status,
                    site_status: Vec::new(),
                });
                if !self.sites[site].filters.is_empty() {
                    worker.site_status.push((site_id, status));
                }
                if let Some(next) = self.deliver(request, status) {
                    return Ok(next);
                }
            }
            Some(failure) if failure.site().is_some() => {
                // A site filter failed: the site does not start, the worker goes on serving
                // the pool's other sites (a harness decision, see the header).
                self.failure_events(&failure, bits);
                if let (Some(error), Some(pid)) = (failure.error(), pid) {
                    self.log(messages::worker_reported_failure(&name, pid, error));
                }
                if new_worker {
                    self.pools[pool].worker =
                        Some(Worker { pid, global_status, site_status: Vec::new() });
                }
                self.site_failed(site, failure.error());
                self.respond(request, Some(503), failure.error());
            }
            Some(failure) => self.worker_failed(pool, request, pid, bits, &failure),
        }
        Ok(self.serve(request + 1))
    }

    /// A worker died or did not load a global filter: the request gets 503, WAS counts the
    /// failure, and rapid-fail protection may disable the pool.
    fn worker_failed(
        &mut self,
        pool: usize,
        request: usize,
        pid: Option<u32>,
        bits: Bits,
        failure: &HostFailure,
    ) {
        self.worker_lost(pool, pid, bits, failure);
        self.respond(request, Some(503), failure.error());
    }

    /// A pool's worker is gone: WAS logs it, counts the failure towards rapid-fail protection
    /// (which may disable the pool), and the pool's next request starts a new worker.
    fn worker_lost(&mut self, pool: usize, pid: Option<u32>, bits: Bits, failure: &HostFailure) {
        let name = self.pools[pool].name.clone();
        self.failure_events(failure, bits);
        if let (Some(error), Some(pid)) = (failure.error(), pid) {
            self.log(messages::worker_reported_failure(&name, pid, error));
        }
        let exit_code = match failure {
            HostFailure::Crashed { exception_code } => Some(*exception_code),
            HostFailure::Died { exit_code } => exit_code.map(|code| code as u32),
            _ => None,
        };
        if let (Some(exit_code), Some(pid)) = (exit_code, pid) {
            self.log(messages::worker_terminated(&name, pid, exit_code));
        }
        self.pools[pool].worker = None;
        self.pools[pool].last_error = failure.error();
        let pool = &mut self.pools[pool];
        let window = Duration::from_secs(u64::from(pool.rapid_fail.interval_minutes) * 60);
        let clock = pool.clock;
        pool.failures.push(clock);
        pool.failures.retain(|&at| clock.saturating_sub(at) < window);
        pool.clock += WORKER_RESTART_INTERVAL;
        if pool.rapid_fail.enabled && pool.failures.len() as u32 >= pool.rapid_fail.max_crashes {
            pool.disabled = true;
            let (failures, interval_minutes) =
                (pool.failures.len(), pool.rapid_fail.interval_minutes);
            self.log(messages::app_pool_disabled(&name));
            self.happen(Happening::PoolDisabled { pool: name, failures, interval_minutes });
        }
    }
}

/// Where HTTP.sys sends one of a scenario's requests, before any IIS code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutedTo {
    /// The site (its key name) and the pool of the application the URL falls in.
    Site { site: String, pool: String },
    /// HTTP.sys answers 400 ("Bad Request - Invalid Hostname") itself.
    InvalidHostname,
    /// Nothing answers.
    NoAnswer,
}

/// The scenario's requests as HTTP.sys routes them, each once (repetitions left out), in the
/// order they are sent; `diagnose` predicts their answers.
pub fn routed_requests(scenario: &Scenario) -> anyhow::Result<Vec<(String, RoutedTo)>> {
    let model = Iis6::new(scenario, Purpose::Start)?;
    Ok(model
        .requests
        .iter()
        .filter(|request| request.ordinal == 1)
        .map(|request| {
            let to = match request.target {
                Target::Site { site, pool } => RoutedTo::Site {
                    site: model.sites[site].config.id.clone(),
                    pool: model.pools[pool].name.clone(),
                },
                Target::InvalidHostname => RoutedTo::InvalidHostname,
                Target::NoAnswer(_) => RoutedTo::NoAnswer,
            };
            (request.url.clone(), to)
        })
        .collect())
}

/// The site filters of the sites that start, in site order then load order: after the global
/// filters, the rest of what `Purpose::LoadEveryFilter` loads.
pub fn started_site_filters(metabase: &Metabase) -> anyhow::Result<Vec<ActiveFilter>> {
    let mut filters = Vec::new();
    for site in metabase.sites()?.into_iter().filter(|site| site.auto_start) {
        filters.extend(enabled_filters(metabase, site.filters.clone(), Some(&site.id))?);
    }
    Ok(filters)
}

/// The requests the scenario sends, each routed by HTTP.sys and repeated as asked. Without any,
/// one `GET /` goes to each started site.
fn route_requests(
    scenario: &Scenario,
    sites: &[Site],
    pools: &[Pool],
) -> anyhow::Result<Vec<Request>> {
    let started: Vec<usize> = (0..sites.len()).filter(|&i| sites[i].config.auto_start).collect();
    let pool_index: std::collections::HashMap<String, usize> = pools
        .iter()
        .enumerate()
        .map(|(index, pool)| (pool.name.to_ascii_lowercase(), index))
        .collect();
    let pool_of = |site: usize, path: &str| -> usize {
        let pool = sites[site].config.app_for(path).map(|app| app.pool.as_str()).unwrap_or("");
        pool_index.get(&pool.to_ascii_lowercase()).copied().unwrap_or(0)
    };
    let router = http_sys::Router::new(
        started
            .iter()
            .flat_map(|&i| sites[i].config.bindings.iter().map(move |binding| (i, binding))),
    );
    let lowest_id = started.iter().copied().min_by_key(|&i| site_order(&sites[i].config.id));
    let mut routed: Vec<(String, String, Target)> = Vec::new();
    if scenario.requests.is_empty() {
        for &site in &started {
            let url = format!("http://{}/", authority(&sites[site].config));
            routed.push((url, "/".to_owned(), Target::Site { site, pool: pool_of(site, "/") }));
        }
    }
    for url in &scenario.requests {
        let target = match (&url.host, lowest_id) {
            // `/path`: the started site with the lowest id.
            (None, Some(site)) => Target::Site { site, pool: pool_of(site, &url.path) },
            (None, None) => Target::NoAnswer(NoAnswer::NothingListensOnPort),
            (Some(_), _) => match router.route(url) {
                Route::Site(site) => Target::Site { site, pool: pool_of(site, &url.path) },
                Route::InvalidHostname => Target::InvalidHostname,
                Route::NoListener => Target::NoAnswer(NoAnswer::NothingListensOnPort),
            },
        };
        routed.push((url.text.clone(), url.path.clone(), target));
    }
    let mut requests = Vec::new();
    for (url, path, target) in routed {
        let extension = match target {
            Target::Site { site, .. } => {
                mapped_extension(scenario.config.metabase()?, &sites[site].config, &path)?
            }
            _ => None,
        };
        for ordinal in 1..=scenario.repeat_requests {
            requests.push(Request {
                url: url.clone(),
                path: path.clone(),
                ordinal,
                target,
                extension: extension.clone(),
            });
        }
    }
    Ok(requests)
}

/// The ISAPI extension a URL path of `site` maps to: ScriptMaps inherited down to the URL's
/// folder, a wildcard map first, else the entry for the last segment's file extension. A
/// mapped executable that is not an absolute Windows path is bad input, as a FilterPath would
/// be.
fn mapped_extension(
    metabase: &Metabase,
    site: &SiteConfig,
    url_path: &str,
) -> anyhow::Result<Option<MappedExtension>> {
    let (folder, file) = url_path.rsplit_once('/').unwrap_or(("", url_path));
    let file_extension = file.rfind('.').map(|dot| &file[dot..]);
    let key = format!("/LM/W3SVC/{}/ROOT{folder}", site.id);
    let Some(mapping) = metabase.script_map_for(&key, file_extension) else {
        return Ok(None);
    };
    let path = WinPath::parse(&mapping.executable).with_context(|| {
        format!(
            "{}:{}: the ScriptMaps entry for {} at {} is not an absolute Windows path; give the full path to the extension",
            metabase.origin().display(),
            mapping.line,
            mapping.extension,
            mapping.set_at
        )
    })?;
    Ok(Some(MappedExtension { mapping, path }))
}

/// The scenario with the requests a verification sends: its own when it names any, else
/// `GET /` to each started site and, where that site's root maps `.aspx` to an extension,
/// `GET /default.aspx`, so that a configuration counts as working only when its ASP.NET pages
/// are served too.
pub fn with_aspnet_page_requests(scenario: &Scenario) -> anyhow::Result<Scenario> {
    let mut scenario = scenario.clone();
    if !scenario.requests.is_empty() {
        return Ok(scenario);
    }
    let metabase = scenario.config.metabase()?;
    let mut sites: Vec<SiteConfig> =
        metabase.sites()?.into_iter().filter(|site| site.auto_start).collect();
    sites.sort_by_key(|site| site_order(&site.id));
    let mut urls = Vec::new();
    for site in &sites {
        let root = format!("http://{}", authority(site));
        urls.push(format!("{root}/"));
        let root_key = format!("/LM/W3SVC/{}/ROOT", site.id);
        if metabase.script_map_for(&root_key, Some(ASPNET_PAGE_EXTENSION)).is_some() {
            urls.push(format!("{root}/default{ASPNET_PAGE_EXTENSION}"));
        }
    }
    scenario.requests = urls
        .iter()
        .map(|url| crate::http_sys::RequestUrl::parse(url).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    Ok(scenario)
}

/// The file extension of an ASP.NET page.
const ASPNET_PAGE_EXTENSION: &str = ".aspx";

/// Site ids in numeric order where they are numbers (IIS writes them so), others after.
fn site_order(id: &str) -> (u64, String) {
    (id.parse().unwrap_or(u64::MAX), id.to_owned())
}

/// The host and port a request to a site's first binding names.
fn authority(site: &SiteConfig) -> String {
    let Some(binding) = site.bindings.first() else { return "localhost".to_owned() };
    let host = match (&binding.host, binding.ip) {
        (Some(host), _) => host.clone(),
        (None, Some(std::net::IpAddr::V6(ip))) => format!("[{ip}]"),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => "localhost".to_owned(),
    };
    if binding.port == 80 { host } else { format!("{host}:{}", binding.port) }
}

impl ServerModel for Iis6<'_> {
    fn paths(&self) -> Vec<WinPath> {
        let mut paths: Vec<WinPath> = self
            .chain(&(0..self.sites.len()).collect::<Vec<_>>())
            .into_iter()
            .map(|filter| filter.path)
            .collect();
        for mapped in self.requests.iter().filter_map(|request| request.extension.as_ref()) {
            if !paths.contains(&mapped.path) {
                paths.push(mapped.path.clone());
            }
        }
        paths
    }

    fn next(&mut self, observed: Option<Observation>) -> anyhow::Result<Next> {
        match (self.phase, observed) {
            (Phase::Begin, None) => Ok(self.begin()),
            (Phase::Inetinfo, Some(observed)) if self.purpose == Purpose::LoadEveryFilter => {
                self.every_filter_reported(observed)
            }
            (Phase::Inetinfo, Some(observed)) => self.inetinfo_reported(observed),
            (Phase::InetinfoSite { site }, Some(observed)) => {
                self.inetinfo_site_reported(site, observed)
            }
            (Phase::Worker { pool, request, new_worker }, Some(observed)) => {
                self.worker_reported(pool, request, new_worker, observed)
            }
            (Phase::Extension { request }, Some(observed)) => {
                self.extension_reported(request, observed)
            }
            (phase, observed) => bail!(
                "the IIS 6.0 model was driven out of order: {} in phase {phase:?}",
                if observed.is_some() { "a host report" } else { "no host report" }
            ),
        }
    }

    fn finish(self) -> StartReport {
        self.report
    }
}

/// Reads a host's report against the filters it was given: each filter's outcome, and the first
/// failure as IIS would see it. Worker process isolation mode also refuses read-raw-data filters.
/// An error means the report does not fit the plan.
fn judge(
    run: &HostRun,
    filters: &[ActiveFilter],
    headers: &[Option<ImageInfo>],
    worker: bool,
    keep_going: bool,
) -> anyhow::Result<(Vec<FilterOutcome>, Option<HostFailure>)> {
    if run.images.len() > filters.len() {
        bail!(
            "the host reported {} images for {} planned filters",
            run.images.len(),
            filters.len()
        );
    }
    let death = HostDeath::of(run.end);
    let mut outcomes = Vec::new();
    let mut failure = None;
    for (index, filter) in filters.iter().enumerate() {
        let image = headers.get(index).cloned().flatten();
        let mut outcome = FilterOutcome::not_attempted(
            filter.name.clone(),
            filter.site.clone(),
            filter.path.to_string(),
            image.as_ref().map(ImageSummary::of),
        );
        let load = run.images.get(index).filter(|_| keep_going || failure.is_none());
        if let Some(load) = load {
            let path = filter.path.to_string();
            let site = filter.site.clone();
            let mut fail = |this: HostFailure| {
                failure.get_or_insert(this);
            };
            match (load.load, load.exports, &load.version) {
                _ if load.absent.is_some() => {
                    let error = load.absent.unwrap_or(Win32Error::FILE_NOT_FOUND);
                    outcome.stage = Stage::Probe;
                    outcome.win32_error = Some(error);
                    fail(HostFailure::Filter { path, site, error });
                }
                (None, _, _) => {
                    outcome.stage = Stage::LoadLibrary;
                    fail(host_death(run.end));
                }
                (Some(Err(error)), _, _) => {
                    outcome.stage = Stage::LoadLibrary;
                    outcome.win32_error = Some(error);
                    fail(HostFailure::Filter { path, site, error });
                }
                (Some(Ok(())), Some(exports), _) if !exports.entry_point => {
                    let error = exports.lookup_error.context(
                        "the host reported a missing GetFilterVersion without its error",
                    )?;
                    outcome.stage = Stage::GetProcAddress;
                    outcome.win32_error = Some(error);
                    fail(HostFailure::Filter { path, site, error });
                }
                (Some(Ok(())), None, _) | (Some(Ok(())), _, None) => {
                    outcome.stage = Stage::GetFilterVersion;
                    fail(host_death(run.end));
                }
                (Some(Ok(())), Some(_), Some(version)) => {
                    outcome.description = Some(version.description.clone());
                    outcome.flags = Some(version.flags);
                    if !version.accepted && version.last_error == Win32Error(0) {
                        // The SDK's way for a filter to decline quietly: no event, no failure.
                        outcome.stage = Stage::RefusedSilently;
                    } else if !version.accepted {
                        outcome.stage = Stage::GetFilterVersion;
                        outcome.win32_error = Some(version.last_error);
                        fail(HostFailure::Filter { path, site, error: version.last_error });
                    } else if version.flags & SF_NOTIFY_READ_RAW_DATA != 0
                        && (worker || site.is_some())
                    {
                        // The loader and the filter both succeeded; IIS refuses it: HTTP.sys
                        // hands raw data to one process only, and IIS 6.0 takes raw-data
                        // filters only as global ones. The data of the start-up event
                        // (ERROR_NOT_SUPPORTED) is UNVERIFIED: IIS does not document it.
                        let (reason, event_id) = if site.is_some() {
                            (
                                RefusalReason::ReadRawDataAtSiteLevel,
                                messages::SITE_READ_RAW_DATA_REFUSED_EVENT,
                            )
                        } else {
                            (
                                RefusalReason::ReadRawDataInWorkerProcessIsolationMode,
                                messages::READ_RAW_DATA_REFUSED_EVENT,
                            )
                        };
                        let refusal = IisRefusal {
                            reason,
                            event_id,
                            data: Some(Win32Error::NOT_SUPPORTED.event_data()),
                        };
                        outcome.stage = Stage::ReadRawDataRefused;
                        outcome.iis_refused = Some(refusal.clone());
                        fail(HostFailure::Refused { path, site, refusal });
                    } else {
                        outcome.stage = Stage::Loaded;
                        outcome.loaded = true;
                        outcome.request_notification =
                            load.request.and_then(|request| request.returned);
                    }
                }
            }
            outcome.cause =
                classify(outcome.stage, outcome.win32_error, image.as_ref(), run.bits, death);
        }
        outcomes.push(outcome);
    }
    if failure.is_none() && run.end != HostEnd::Completed {
        failure = Some(host_death(run.end));
    }
    Ok((outcomes, failure))
}

fn host_death(end: HostEnd) -> HostFailure {
    match end {
        HostEnd::Crashed { exception_code } => HostFailure::Crashed { exception_code },
        HostEnd::TimedOut | HostEnd::Flooded => HostFailure::StoppedAnswering,
        HostEnd::Died { exit_code } => HostFailure::Died { exit_code },
        // IIS sees a worker that a limit ended as one that died without an exit code.
        HostEnd::MemoryLimit { .. } | HostEnd::ProcessLimit { .. } | HostEnd::DiskLimit { .. } => {
            HostFailure::Died { exit_code: None }
        }
        HostEnd::Completed => HostFailure::Died { exit_code: Some(0) },
    }
}

#[cfg(test)]
mod tests;
