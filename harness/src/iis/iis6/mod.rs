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

mod extensions;
mod images;
pub mod messages;
mod processes;
mod responses;
mod routing;
mod service;
mod workers;

use images::{host_death, judge};
use routing::route_requests;
pub use routing::{RoutedTo, routed_requests, with_aspnet_page_requests};

pub use processes::filter_host;
use processes::{Protection, enable_32bit_effect, extension_host};

use crate::arch::Bits;
use crate::cause::{HostDeath, ImageSummary, classify};
use crate::host::{HostPlan, HostRun, PlannedImage};
use crate::http_sys::{self, Route};
use crate::iis::was::{RapidFailClock, RapidFailPolicy};
use crate::machine::WinPath;
use crate::metabase::{FilterConfig, Metabase, RapidFail, Restriction, ScriptMapping, SiteConfig};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::{
    ExtensionProcess, FilterState, Happening, HostOutcome, Iis6Happening, IisRefusal, ImageOutcome,
    NoAnswer, RefusalReason, RequestOutcome, ServiceOutcome, StartReport,
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

/// Which filters IIS 6.0 loads, where: [`Iis6::filter_plan`].
#[derive(Debug, Clone)]
pub struct FilterPlan {
    pub mode: IsolationMode,
    /// The process that loads them (inetinfo.exe in IIS 5.0 isolation mode, each pool's
    /// w3wp.exe otherwise), and its bitness.
    pub process: ProcessName,
    pub bits: Bits,
    /// The global filters, then each started site's own, in load order.
    pub filters: Vec<ActiveFilter>,
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
    rapid_fail_clock: RapidFailClock,
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
                rapid_fail_clock: RapidFailClock::default(),
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
                    rapid_fail_clock: RapidFailClock::default(),
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
        extension_host(
            self.scenario.os,
            self.mode,
            self.enable_32bit,
            Protection::from_app_isolated(isolated.unwrap_or(2)),
            self.metabase.in_process_isapi_app(&mapped.mapping.executable),
        )
    }

    /// The filters IIS tries to load here, in load order (the global ones, then each started
    /// site's own), and the process that loads them: what `diagnose` predicts from, read off
    /// the same state the start runs on.
    pub fn filter_plan(&self) -> FilterPlan {
        let (process, bits) = self.filter_host();
        let started: Vec<usize> =
            (0..self.sites.len()).filter(|&i| self.sites[i].config.auto_start).collect();
        FilterPlan { mode: self.mode, process, bits, filters: self.chain(&started) }
    }

    /// The process that loads the filters here, and its bitness.
    pub fn filter_host(&self) -> (ProcessName, Bits) {
        filter_host(self.scenario.os, self.mode, self.enable_32bit)
    }

    fn happen(&mut self, happening: impl Into<Happening>) {
        let happening = happening.into();
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
        self.happen(Iis6Happening::Server { os, mode: self.mode });
        self.happen(Iis6Happening::Enable32Bit {
            value: self.enable_32bit,
            effect: enable_32bit_effect(os, self.mode, self.enable_32bit),
        });
        if self.configured.iter().all(|filter| filter.path.is_none()) {
            self.happen(Iis6Happening::NoGlobalFilters);
        }
        for filter in self.configured.clone() {
            self.filter_configured(filter);
        }
        for site in self.sites.clone() {
            let config = &site.config;
            self.happen(Iis6Happening::SiteConfigured {
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
        self.happen(Iis6Happening::FilterConfigured {
            name: filter.name,
            path: filter.path,
            state,
        });
    }

    /// Turns a host's report into its outcome and the first failure IIS sees, and records what
    /// the timeline shows of it.
    fn take(
        &mut self,
        observed: Observation,
        chain: &[ActiveFilter],
        app_pool: Option<&str>,
    ) -> anyhow::Result<(HostOutcome, Option<HostFailure>)> {
        let Observation { run, headers, answers } = observed;
        let worker = self.mode == IsolationMode::WorkerProcess;
        let keep_going = self.purpose == Purpose::LoadEveryFilter;
        let (filters, failure) = judge(&run, chain, &headers, &answers, worker, keep_going)?;
        self.happen(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        for filter in &filters {
            self.happen(Iis6Happening::FilterResult {
                name: filter.name.clone(),
                path: filter.path.clone(),
                process: run.process,
                bits: run.bits,
                stage: filter.stage,
                win32_error: filter.win32_error,
                description: filter.description.clone(),
            });
            if let Some(note) = filter.loader_note(run.bits) {
                self.happen(note);
            }
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
    fn chain_status(filters: &[ImageOutcome]) -> u16 {
        let failed =
            filters.iter().any(|filter| filter.request_notification == Some(SF_STATUS_REQ_ERROR));
        if failed { 500 } else { 200 }
    }
}

/// Loads every filter the metabase names, global and site, in one host of the process that
/// loads the global filters, each answered for, whatever the ones before it did: what
/// `diagnose --verify` compares its prediction with.
pub fn load_every_filter(
    machine: &crate::machine::Machine,
    scenario: &Scenario,
) -> anyhow::Result<StartReport> {
    let model = Iis6::new(scenario, Purpose::LoadEveryFilter)?;
    let layout = scenario.layout(machine.artifacts(), &model.paths())?;
    crate::driver::run(machine, &layout, model, &scenario.loader_search())
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

#[cfg(test)]
mod tests;
