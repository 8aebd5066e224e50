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

use std::time::Duration;

use anyhow::{Context, bail};

use super::messages;
use crate::arch::{Bits, Os};
use crate::cause::{HostDeath, ImageSummary, classify};
use crate::host::{HostPlan, HostRun, PlannedImage};
use crate::machine::WinPath;
use crate::metabase::{FilterConfig, Metabase, RapidFail};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::{
    Enable32BitEffect, FilterOutcome, FilterState, Happening, HostOutcome, IisRefusal,
    RefusalReason, RequestOutcome, ServiceOutcome, StartReport,
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

/// A global filter IIS will try to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFilter {
    pub name: String,
    pub path: WinPath,
}

/// The enabled global filters with a FilterPath, in load order. A FilterPath that is not an
/// absolute Windows path is bad input: IIS hands FilterPath to LoadLibraryEx as it is, and a
/// relative one would be searched for and could find a file outside the simulated machine.
pub fn active_filters(metabase: &Metabase) -> anyhow::Result<Vec<ActiveFilter>> {
    let mut active = Vec::new();
    for filter in metabase.global_filters() {
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
        active.push(ActiveFilter { name: filter.name.clone(), path });
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
    Filter { path: String, error: Win32Error },
    /// IIS itself refused a filter that loaded: a read-raw-data filter in a worker.
    Refused { path: String, refusal: IisRefusal },
    /// The process died from an exception.
    Crashed { exception_code: u32 },
    /// The process stopped answering (a hang, or output without end).
    StoppedAnswering,
    /// The process ended on its own before finishing.
    Died { exit_code: Option<i32> },
}

/// IIS 6.0 starting W3SVC on one server.
pub struct Iis6<'s> {
    scenario: &'s Scenario,
    purpose: Purpose,
    mode: IsolationMode,
    enable_32bit: bool,
    filters: Vec<ActiveFilter>,
    configured: Vec<FilterConfig>,
    report: StartReport,
    phase: Phase,
    pools: Vec<Pool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    /// IIS 5.0 isolation mode: inetinfo.exe is loading the filters.
    Inetinfo,
    /// Worker process isolation mode: a worker of `pools[pool]` serves request `ordinal`.
    Worker {
        pool: usize,
        ordinal: u32,
    },
    Done,
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
}

impl<'s> Iis6<'s> {
    pub fn new(scenario: &'s Scenario, purpose: Purpose) -> anyhow::Result<Iis6<'s>> {
        let metabase = scenario.config.metabase()?;
        let mode = isolation_mode(metabase);
        let enable_32bit = metabase.enable_32bit_app_on_win64();
        Ok(Iis6 {
            scenario,
            purpose,
            mode,
            enable_32bit,
            filters: active_filters(metabase)?,
            configured: metabase.global_filters(),
            report: StartReport {
                server: ServerKind::Iis6,
                os: scenario.os,
                isolation_mode: mode,
                enable_32bit_app_on_win64: enable_32bit,
                backend: None,
                service: ServiceOutcome {
                    started: false,
                    win32_error: None,
                    net_start_output: String::new(),
                },
                hosts: Vec::new(),
                requests: Vec::new(),
                events: Vec::new(),
                timeline: Vec::new(),
                sandbox: false,
            },
            phase: Phase::Begin,
            pools: metabase
                .app_pools()
                .into_iter()
                .map(|name| Pool {
                    rapid_fail: metabase.rapid_fail(&name),
                    name,
                    failures: Vec::new(),
                    clock: Duration::ZERO,
                    disabled: false,
                })
                .collect(),
        })
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

    fn host_plan(&self, process: ProcessName, bits: Bits) -> HostPlan {
        let start = self.purpose == Purpose::Start;
        HostPlan {
            bits,
            process,
            probes: Vec::new(),
            images: self
                .filters
                .iter()
                .map(|filter| PlannedImage { kind: ImageKind::Filter, path: filter.path.clone() })
                .collect(),
            // IIS gives up at the first filter that fails; diagnose wants every answer.
            stop_at_first_failure: start,
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
            let state = match (filter.key_exists, filter.enabled) {
                (false, _) => FilterState::NoKey,
                (true, false) => FilterState::Disabled,
                (true, true) => FilterState::Enabled,
            };
            self.happen(Happening::FilterConfigured {
                name: filter.name,
                path: filter.path,
                state,
            });
        }
        for filter in self.filters.clone() {
            let holds = self.scenario.image_at(&filter.path).map(|spec| spec.to_string());
            self.happen(Happening::Disk { path: filter.path.to_string(), holds });
        }
    }

    /// Turns a host's report into its outcome and the first failure IIS sees, and records what
    /// the timeline shows of it.
    fn take(
        &mut self,
        observed: Observation,
        app_pool: Option<&str>,
    ) -> anyhow::Result<(HostOutcome, Option<HostFailure>)> {
        let Observation { run, headers } = observed;
        let worker = self.mode == IsolationMode::WorkerProcess;
        let keep_going = self.purpose == Purpose::LoadEveryFilter;
        let (filters, failure) = judge(&run, &self.filters, &headers, worker, keep_going)?;
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
            HostFailure::Filter { path, error } => {
                // IIS cannot tell why LoadLibrary said ERROR_BAD_EXE_FORMAT, and logs the
                // architecture event whenever it does.
                if *error == Win32Error::BAD_EXE_FORMAT {
                    self.log(messages::filter_architecture_mismatch(path, bits, *error));
                } else {
                    self.log(messages::filter_load_failed(path, *error));
                }
                self.log(messages::filters_did_not_all_load(&error.event_data()));
            }
            HostFailure::Refused { path, refusal } => {
                self.log(messages::read_raw_data_refused(path));
                self.log(messages::filters_did_not_all_load(
                    refusal.data.as_deref().unwrap_or_default(),
                ));
            }
            HostFailure::Crashed { .. }
            | HostFailure::StoppedAnswering
            | HostFailure::Died { .. } => {}
        }
    }

    /// A request through a process whose filters all loaded: 200, unless a filter's
    /// HttpFilterProc failed it.
    fn request_status(host: &HostOutcome) -> u16 {
        let failed = host
            .filters
            .iter()
            .any(|filter| filter.request_notification == Some(SF_STATUS_REQ_ERROR));
        if failed { 500 } else { 200 }
    }

    fn respond(&mut self, pool: Option<String>, status: u16) {
        self.report.requests.push(RequestOutcome { app_pool: pool.clone(), status });
        self.happen(Happening::Response { pool, status });
    }

    fn begin(&mut self) -> Next {
        self.configuration();
        let (process, bits) = self.filter_host();
        if self.purpose == Purpose::LoadEveryFilter {
            self.phase = Phase::Inetinfo;
            return Next::Start(self.host_plan(process, bits));
        }
        self.happen(Happening::Command("net start w3svc".to_owned()));
        match self.mode {
            IsolationMode::Iis5 => {
                self.happen(Happening::ServiceLoadsFilters { process, bits });
                self.phase = Phase::Inetinfo;
                Next::Start(self.host_plan(process, bits))
            }
            IsolationMode::WorkerProcess => {
                self.happen(Happening::ServiceStartsWithoutFilters);
                self.happen(Happening::Console(messages::net_start_succeeded()));
                self.report.service = ServiceOutcome {
                    started: true,
                    win32_error: None,
                    net_start_output: messages::net_start_succeeded(),
                };
                self.next_request(0, 1)
            }
        }
    }

    /// IIS 5.0 isolation mode: inetinfo.exe has loaded (or failed to load) the filters.
    fn inetinfo_reported(&mut self, observed: Observation) -> anyhow::Result<Next> {
        let (host, failure) = self.take(observed, None)?;
        let bits = host.bits;
        self.phase = Phase::Done;
        if self.purpose == Purpose::LoadEveryFilter {
            self.report.hosts.push(host);
            return Ok(Next::Done);
        }
        let status = Self::request_status(&host);
        self.report.hosts.push(host);
        let Some(failure) = failure else {
            self.report.service = ServiceOutcome {
                started: true,
                win32_error: None,
                net_start_output: messages::net_start_succeeded(),
            };
            self.happen(Happening::Console(messages::net_start_succeeded()));
            self.respond(None, status);
            return Ok(Next::Done);
        };
        // What the service reports to the service control manager: the filter's error, or
        // what a dead or silent start-up amounts to.
        let error = match &failure {
            HostFailure::Filter { error, .. } => *error,
            HostFailure::Refused { .. } => unreachable!("IIS 5.0 isolation mode refuses no filter"),
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
        Ok(Next::Done)
    }

    /// Worker process isolation mode: sends request `ordinal` of pool `index` and on, until a
    /// worker must start (or every pool has had all its requests).
    fn next_request(&mut self, mut index: usize, mut ordinal: u32) -> Next {
        let (_, bits) = self.filter_host();
        while index < self.pools.len() {
            if ordinal > self.scenario.requests_per_pool {
                index += 1;
                ordinal = 1;
                continue;
            }
            let pool = self.pools[index].name.clone();
            if self.pools[index].disabled {
                self.happen(Happening::RequestToDisabledPool { ordinal, pool: pool.clone() });
                self.respond(Some(pool), 503);
                ordinal += 1;
                continue;
            }
            self.happen(Happening::WorkerStartsForRequest { ordinal, pool, bits });
            self.phase = Phase::Worker { pool: index, ordinal };
            return Next::Start(self.host_plan(ProcessName::W3wp, bits));
        }
        self.phase = Phase::Done;
        Next::Done
    }

    fn worker_reported(
        &mut self,
        index: usize,
        ordinal: u32,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let name = self.pools[index].name.clone();
        let (host, failure) = self.take(observed, Some(&name))?;
        let (pid, bits) = (host.pid, host.bits);
        let status = Self::request_status(&host);
        self.report.hosts.push(host);
        let Some(failure) = failure else {
            self.respond(Some(name.clone()), status);
            // A healthy worker stays up and serves the pool's later requests.
            for later in ordinal + 1..=self.scenario.requests_per_pool {
                self.report.requests.push(RequestOutcome { app_pool: Some(name.clone()), status });
                self.happen(Happening::ServedBySameWorker { ordinal: later, pool: name.clone() });
            }
            return Ok(self.next_request(index + 1, 1));
        };
        self.failure_events(&failure, bits);
        let exit_code = match failure {
            HostFailure::Crashed { exception_code } => Some(exception_code),
            HostFailure::Died { exit_code } => exit_code.map(|code| code as u32),
            _ => None,
        };
        if let (Some(exit_code), Some(pid)) = (exit_code, pid) {
            self.log(messages::worker_terminated(&name, pid, exit_code));
        }
        self.respond(Some(name.clone()), 503);
        let pool = &mut self.pools[index];
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
        Ok(self.next_request(index, ordinal + 1))
    }
}

impl ServerModel for Iis6<'_> {
    fn paths(&self) -> Vec<WinPath> {
        self.filters.iter().map(|filter| filter.path.clone()).collect()
    }

    fn next(&mut self, observed: Option<Observation>) -> anyhow::Result<Next> {
        match (self.phase, observed) {
            (Phase::Begin, None) => Ok(self.begin()),
            (Phase::Inetinfo, Some(observed)) => self.inetinfo_reported(observed),
            (Phase::Worker { pool, ordinal }, Some(observed)) => {
                self.worker_reported(pool, ordinal, observed)
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
    let death = match run.end {
        HostEnd::Crashed { .. } => HostDeath::Crashed,
        // A host that floods its output never finishes its start either.
        HostEnd::TimedOut | HostEnd::Flooded => HostDeath::TimedOut,
        HostEnd::Died { .. } | HostEnd::Completed => HostDeath::Other,
    };
    let mut outcomes = Vec::new();
    let mut failure = None;
    for (index, filter) in filters.iter().enumerate() {
        let image = headers.get(index).cloned().flatten();
        let mut outcome = FilterOutcome {
            name: filter.name.clone(),
            path: filter.path.to_string(),
            loaded: false,
            win32_error: None,
            stage: Stage::NotAttempted,
            description: None,
            flags: None,
            request_notification: None,
            cause: None,
            image: image.as_ref().map(ImageSummary::of),
            iis_refused: None,
        };
        let load = run.images.get(index).filter(|_| keep_going || failure.is_none());
        if let Some(load) = load {
            let path = filter.path.to_string();
            let mut fail = |this: HostFailure| {
                failure.get_or_insert(this);
            };
            match (load.load, load.exports, &load.version) {
                (None, _, _) => {
                    outcome.stage = Stage::LoadLibrary;
                    fail(host_death(run.end));
                }
                (Some(Err(error)), _, _) => {
                    outcome.stage = Stage::LoadLibrary;
                    outcome.win32_error = Some(error);
                    fail(HostFailure::Filter { path, error });
                }
                (Some(Ok(())), Some(exports), _) if !exports.entry_point => {
                    let error = exports.lookup_error.context(
                        "the host reported a missing GetFilterVersion without its error",
                    )?;
                    outcome.stage = Stage::GetProcAddress;
                    outcome.win32_error = Some(error);
                    fail(HostFailure::Filter { path, error });
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
                        fail(HostFailure::Filter { path, error: version.last_error });
                    } else if worker && version.flags & SF_NOTIFY_READ_RAW_DATA != 0 {
                        // The loader and the filter both succeeded; IIS refuses it. The data of
                        // the start-up event (ERROR_NOT_SUPPORTED) is UNVERIFIED: IIS does not
                        // document it for this case.
                        let refusal = IisRefusal {
                            reason: RefusalReason::ReadRawDataInWorkerProcessIsolationMode,
                            event_id: messages::READ_RAW_DATA_REFUSED_EVENT,
                            data: Some(Win32Error::NOT_SUPPORTED.event_data()),
                        };
                        outcome.stage = Stage::ReadRawDataRefused;
                        outcome.iis_refused = Some(refusal.clone());
                        fail(HostFailure::Refused { path, refusal });
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
        HostEnd::Completed => HostFailure::Died { exit_code: Some(0) },
    }
}

#[cfg(test)]
mod tests;
