//! The IIS 6.0 start-up model: which process loads the global filters, at which bitness and
//! when, and what IIS does when one of them fails.
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
//! The model only decides *which* host process loads *which* files; every load result comes
//! from a real host process started through [`Machine::run_host`].

use std::time::Duration;

use anyhow::Context;

use super::messages;
use crate::arch::{Bits, Os};
use crate::artifacts::ProcessName;
use crate::cause::{Cause, HostDeath, ImageSummary, classify};
use crate::host::{HostEnd, HostRequest, HostRun};
use crate::machine::{Layout, LayoutGuard, Machine, WinPath};
use crate::metabase::FilterConfig;
use crate::pe::ImageInfo;
use crate::report::{
    FilterOutcome, HostOutcome, IsolationMode, RequestOutcome, ServiceOutcome, Stage, StartReport,
    Step, StepKind,
};
use crate::scenario::Scenario;

/// `SF_NOTIFY_READ_RAW_DATA`: HTTP.sys can hand raw data to one process only, so worker process
/// isolation mode refuses filters that ask for it.
const SF_NOTIFY_READ_RAW_DATA: u32 = 0x0000_8000;
/// `SF_STATUS_REQ_ERROR`: a filter's way of failing a request.
const SF_STATUS_REQ_ERROR: u32 = 0x0800_0004;
/// ERROR_NOT_SUPPORTED, logged with a refused read-raw-data filter. UNVERIFIED: the data IIS
/// attaches to event 2268 in this case is not documented.
const ERROR_NOT_SUPPORTED: u32 = 50;
/// ERROR_SERVICE_REQUEST_TIMEOUT: the service control manager gave up waiting for a start.
const ERROR_SERVICE_REQUEST_TIMEOUT: u32 = 1053;
/// ERROR_PROCESS_ABORTED: what a service whose process crashed during start reports.
/// UNVERIFIED for W3SVC in IIS 5.0 isolation mode.
const ERROR_PROCESS_ABORTED: u32 = 1067;
/// How long the modelled clock advances between two worker starts for one pool: each request
/// that meets a dead pool makes WAS start a new worker.
const WORKER_RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// Starts W3SVC as IIS 6.0 would in `scenario`, loading every filter for real.
pub fn start(machine: &Machine, scenario: &Scenario) -> anyhow::Result<StartReport> {
    let metabase = &scenario.metabase;
    let isolation_mode = isolation_mode(metabase);
    let enable_32bit = metabase.enable_32bit_app_on_win64();
    let configured = metabase.global_filters();
    let mut run = Run::new(scenario, isolation_mode, enable_32bit, machine.backend_name());
    run.report.sandbox = machine.sandboxed();

    run.config_steps(&configured);
    let placed = place(machine, scenario, &configured)?;
    for (path, _) in placed.layout.entries() {
        run.step(
            StepKind::Config,
            match scenario.image_at(path) {
                Some(spec) => format!("disk: {path} holds the {spec}"),
                None => format!("disk: {path} does not exist"),
            },
        );
    }
    match isolation_mode {
        IsolationMode::Iis5 => run.start_iis5(machine, &placed.filters)?,
        IsolationMode::WorkerProcess => run.start_worker_process_mode(machine, &placed.filters)?,
    }
    Ok(run.finish())
}

/// A scenario's files in place on the machine, for as long as this lives.
struct Placed<'m> {
    filters: Vec<ActiveFilter>,
    layout: Layout,
    _guard: LayoutGuard<'m>,
}

/// Puts the images of `scenario` on the machine's disks and reads the headers of the file at
/// each active filter's path: what every run of the model does before it starts a host.
fn place<'m>(
    machine: &'m Machine,
    scenario: &Scenario,
    configured: &[FilterConfig],
) -> anyhow::Result<Placed<'m>> {
    let mut filters = active_filters(scenario, configured)?;
    let layout = scenario.layout(machine.artifacts(), &paths_of(&filters))?;
    let guard = machine.acquire(&layout)?;
    for filter in &mut filters {
        filter.image = machine.inspect(&filter.path);
    }
    Ok(Placed { filters, layout, _guard: guard })
}

fn paths_of(filters: &[ActiveFilter]) -> Vec<WinPath> {
    filters.iter().map(|filter| filter.path.clone()).collect()
}

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

/// The isolation mode a metabase asks for.
pub fn isolation_mode(metabase: &crate::metabase::Metabase) -> IsolationMode {
    if metabase.iis5_isolation_mode() { IsolationMode::Iis5 } else { IsolationMode::WorkerProcess }
}

/// Checks a scenario before any machine is touched: every filter path must be absolute and
/// every image the scenario places must exist.
pub fn check(scenario: &Scenario) -> anyhow::Result<()> {
    let filters = active_filters(scenario, &scenario.metabase.global_filters())?;
    scenario.layout(&crate::artifacts::Artifacts::locate()?, &paths_of(&filters))?;
    Ok(())
}

/// Loads every active filter of `scenario` in the process the model picks, without stopping at
/// the first failure as IIS does, so that each filter gets a real answer of its own. This is
/// what `diagnose --verify` compares its predictions with.
pub fn load_every_filter(machine: &Machine, scenario: &Scenario) -> anyhow::Result<HostOutcome> {
    let metabase = &scenario.metabase;
    let mode = isolation_mode(metabase);
    let (process, bits) = filter_host(scenario.os, mode, metabase.enable_32bit_app_on_win64());
    let placed = place(machine, scenario, &metabase.global_filters())?;
    let request = HostRequest {
        bits,
        process,
        stop_at_first_failure: false,
        request: false,
        timeout: scenario.host_timeout,
    };
    let run = machine.run_host(&request, &paths_of(&placed.filters))?;
    let (outcomes, _) = judge(&run, &placed.filters, mode == IsolationMode::WorkerProcess, true);
    Ok(host_outcome(&run, None, with_causes(outcomes, &placed.filters, &run)))
}

/// The report of one host process, from what it reported and how its filters were judged.
fn host_outcome(run: &HostRun, app_pool: Option<&str>, filters: Vec<FilterOutcome>) -> HostOutcome {
    HostOutcome {
        process: run.process,
        bits: run.bits,
        app_pool: app_pool.map(str::to_owned),
        pid: run.pid,
        end: match run.end {
            HostEnd::Completed => "completed",
            HostEnd::Crashed { .. } => "crashed",
            HostEnd::Died { .. } => "died",
            HostEnd::TimedOut => "timed_out",
            HostEnd::Flooded => "flooded",
        },
        exception_code: match run.end {
            HostEnd::Crashed { exception_code } => Some(exception_code),
            _ => None,
        },
        start_attempts: run.start_attempts,
        filters,
    }
}

/// A global filter IIS will try to load.
#[derive(Debug, Clone)]
struct ActiveFilter {
    name: String,
    path: WinPath,
    /// What the headers of the file at `path` say, read once the layout is in place.
    image: Option<ImageInfo>,
}

fn active_filters(
    scenario: &Scenario,
    configured: &[FilterConfig],
) -> anyhow::Result<Vec<ActiveFilter>> {
    let mut active = Vec::new();
    for filter in configured {
        let Some(path) = &filter.path else { continue };
        if !filter.enabled {
            continue;
        }
        // IIS hands FilterPath to LoadLibraryEx as it is; the harness insists on an absolute path
        // because a relative one would be searched for and could find a file outside the
        // simulated machine.
        let path = WinPath::parse(path).with_context(|| {
            format!(
                "{}:{}: FilterPath of filter `{}` is not an absolute Windows path; give the full path to the DLL",
                scenario.metabase.origin().display(),
                filter.line,
                filter.name
            )
        })?;
        active.push(ActiveFilter { name: filter.name.clone(), path, image: None });
    }
    Ok(active)
}

/// What went wrong with the first failing filter of a host.
#[derive(Debug, Clone)]
enum HostFailure {
    /// A filter did not load or initialise; IIS logs this error.
    Filter { path: String, error: u32, mismatch_event: bool, read_raw_data: bool },
    /// The process died from an exception.
    Crashed { exception_code: u32 },
    /// The process stopped answering.
    TimedOut,
    /// The process ended on its own before finishing.
    Died { exit_code: Option<i32> },
}

struct Run<'a> {
    scenario: &'a Scenario,
    report: StartReport,
}

impl<'a> Run<'a> {
    fn new(
        scenario: &'a Scenario,
        isolation_mode: IsolationMode,
        enable_32bit: bool,
        backend: &'static str,
    ) -> Run<'a> {
        Run {
            scenario,
            report: StartReport {
                os: scenario.os,
                isolation_mode,
                enable_32bit_app_on_win64: enable_32bit,
                backend,
                sandbox: false,
                service: ServiceOutcome {
                    started: false,
                    win32_error: None,
                    net_start_output: String::new(),
                },
                hosts: Vec::new(),
                requests: Vec::new(),
                events: Vec::new(),
                timeline: Vec::new(),
            },
        }
    }

    fn step(&mut self, kind: StepKind, text: impl Into<String>) {
        self.report.timeline.push(Step { kind, text: text.into() });
    }

    fn event(&mut self, event: messages::Event) {
        self.step(
            StepKind::Event,
            format!(
                "{} log, {} {} ({:?}): {}{}",
                match event.log {
                    messages::Log::System => "System",
                    messages::Log::Application => "Application",
                },
                event.source,
                event.id,
                event.kind,
                event.text,
                event.data.as_deref().map(|data| format!(" [data: {data}]")).unwrap_or_default()
            ),
        );
        self.report.events.push(event);
    }

    fn config_steps(&mut self, configured: &[FilterConfig]) {
        let os = self.scenario.os;
        let mode = self.report.isolation_mode;
        self.step(
            StepKind::Config,
            format!("{os} Windows, IIS 6.0 in {mode} (IIs5IsolationModeEnabled)"),
        );
        let enable_32bit = self.report.enable_32bit_app_on_win64;
        let effect = match (os, mode) {
            (Os::X86, _) => "ignored: 32-bit Windows runs everything 32-bit",
            (Os::X64, IsolationMode::Iis5) => {
                "no effect: in IIS 5.0 isolation mode filters load into inetinfo.exe, which is always 64-bit on x64"
            }
            (Os::X64, IsolationMode::WorkerProcess) if enable_32bit => {
                "worker processes run 32-bit (WOW64)"
            }
            (Os::X64, IsolationMode::WorkerProcess) => "worker processes run 64-bit",
        };
        self.step(
            StepKind::Config,
            format!(
                "Enable32BitAppOnWin64 = {}: {effect}",
                if enable_32bit { "TRUE" } else { "FALSE" }
            ),
        );
        if configured.iter().all(|filter| filter.path.is_none()) {
            self.step(StepKind::Config, "no global ISAPI filters are configured (FilterLoadOrder)");
        }
        for filter in configured {
            let text = match (&filter.path, filter.enabled, filter.key_exists) {
                (_, _, false) => format!(
                    "filter {}: listed in FilterLoadOrder but has no key; IIS skips it",
                    filter.name
                ),
                (None, _, true) => continue,
                (Some(path), false, _) => {
                    format!("filter {}: {path} (FilterEnabled FALSE, not loaded)", filter.name)
                }
                (Some(path), true, _) => format!("filter {}: {path}", filter.name),
            };
            self.step(StepKind::Config, text);
        }
    }

    fn start_iis5(&mut self, machine: &Machine, filters: &[ActiveFilter]) -> anyhow::Result<()> {
        let (_, bits) = filter_host(
            self.scenario.os,
            IsolationMode::Iis5,
            self.report.enable_32bit_app_on_win64,
        );
        self.step(StepKind::Info, "net start w3svc");
        self.step(
            StepKind::Info,
            format!(
                "W3SVC starts inside inetinfo.exe ({bits}), which loads the global filters now"
            ),
        );
        let (host, failure) =
            self.run_host(machine, bits, ProcessName::Inetinfo, None, filters, false)?;
        self.report.hosts.push(host);
        match failure {
            None => {
                self.report.service = ServiceOutcome {
                    started: true,
                    win32_error: None,
                    net_start_output: messages::net_start_succeeded(),
                };
                self.step(StepKind::Console, messages::net_start_succeeded());
                let status = self.request_status(self.report.hosts.last().expect("just pushed"));
                self.report.requests.push(RequestOutcome { app_pool: None, status });
                self.request_step(None, status);
            }
            Some(failure) => {
                let error = match &failure {
                    HostFailure::Filter { error, .. } => *error,
                    HostFailure::Crashed { .. } | HostFailure::Died { .. } => ERROR_PROCESS_ABORTED,
                    HostFailure::TimedOut => ERROR_SERVICE_REQUEST_TIMEOUT,
                };
                self.failure_events(&failure, bits);
                if matches!(failure, HostFailure::TimedOut) {
                    // What a tool that starts the service and waits (aspnet_regiis, for one)
                    // reports: the seed's log lines carry exactly this HRESULT.
                    self.step(
                        StepKind::Fail,
                        format!(
                            "the service control manager gave up waiting for W3SVC: {} (HRESULT 8007041d)",
                            messages::describe_win32(ERROR_SERVICE_REQUEST_TIMEOUT)
                        ),
                    );
                }
                self.event(messages::service_terminated_with_error(error));
                let console = messages::net_start_failed(error);
                self.step(StepKind::Console, console.clone());
                self.report.service = ServiceOutcome {
                    started: false,
                    win32_error: Some(error),
                    net_start_output: console,
                };
                self.step(
                    StepKind::Fail,
                    format!(
                        "W3SVC did not start ({}); no request can be served",
                        messages::describe_win32(error)
                    ),
                );
            }
        }
        Ok(())
    }

    fn start_worker_process_mode(
        &mut self,
        machine: &Machine,
        filters: &[ActiveFilter],
    ) -> anyhow::Result<()> {
        let (_, bits) = filter_host(
            self.scenario.os,
            IsolationMode::WorkerProcess,
            self.report.enable_32bit_app_on_win64,
        );
        self.step(StepKind::Info, "net start w3svc");
        self.step(
            StepKind::Info,
            "W3SVC starts; no filter is loaded until a worker process starts",
        );
        self.step(StepKind::Console, messages::net_start_succeeded());
        self.report.service = ServiceOutcome {
            started: true,
            win32_error: None,
            net_start_output: messages::net_start_succeeded(),
        };

        for pool in self.scenario.metabase.app_pools() {
            let rapid_fail = self.scenario.metabase.rapid_fail(&pool);
            let window = Duration::from_secs(u64::from(rapid_fail.interval_minutes) * 60);
            let mut failures: Vec<Duration> = Vec::new();
            let mut clock = Duration::ZERO;
            let mut disabled = false;
            for request_idx in 0..self.scenario.requests_per_pool {
                let ordinal = request_idx + 1;
                if disabled {
                    self.step(StepKind::Info, format!("request {ordinal} to {pool}: the pool is disabled, HTTP.sys answers at once"));
                    self.report
                        .requests
                        .push(RequestOutcome { app_pool: Some(pool.clone()), status: 503 });
                    self.request_step(Some(&pool), 503);
                    continue;
                }
                self.step(
                    StepKind::Info,
                    format!("request {ordinal} to application pool {pool}: WAS starts w3wp.exe ({bits}), which loads the global filters"),
                );
                let (host, failure) =
                    self.run_host(machine, bits, ProcessName::W3wp, Some(&pool), filters, true)?;
                let pid = host.pid;
                self.report.hosts.push(host);
                match failure {
                    None => {
                        let status =
                            self.request_status(self.report.hosts.last().expect("just pushed"));
                        self.report
                            .requests
                            .push(RequestOutcome { app_pool: Some(pool.clone()), status });
                        self.request_step(Some(&pool), status);
                        // A healthy worker stays up and serves the pool's later requests.
                        for later in ordinal + 1..=self.scenario.requests_per_pool {
                            self.report
                                .requests
                                .push(RequestOutcome { app_pool: Some(pool.clone()), status });
                            self.step(
                                StepKind::Info,
                                format!("request {later} to {pool}: served by the same worker"),
                            );
                        }
                        break;
                    }
                    Some(failure) => {
                        self.failure_events(&failure, bits);
                        let exit_code = match failure {
                            HostFailure::Crashed { exception_code } => Some(exception_code),
                            HostFailure::Died { exit_code } => exit_code.map(|code| code as u32),
                            _ => None,
                        };
                        if let (Some(exit_code), Some(pid)) = (exit_code, pid) {
                            self.event(messages::worker_terminated(&pool, pid, exit_code));
                        }
                        self.report
                            .requests
                            .push(RequestOutcome { app_pool: Some(pool.clone()), status: 503 });
                        self.request_step(Some(&pool), 503);
                        failures.push(clock);
                        failures.retain(|&at| clock.saturating_sub(at) < window);
                        if rapid_fail.enabled && failures.len() as u32 >= rapid_fail.max_crashes {
                            disabled = true;
                            self.event(messages::app_pool_disabled(&pool));
                            self.step(
                                StepKind::Fail,
                                format!(
                                    "rapid-fail protection: {} worker failures within {} minutes, pool {pool} is disabled",
                                    failures.len(),
                                    rapid_fail.interval_minutes
                                ),
                            );
                        }
                        clock += WORKER_RESTART_INTERVAL;
                    }
                }
            }
        }
        Ok(())
    }

    /// Starts one host process and turns its report into outcomes and the first failure.
    fn run_host(
        &mut self,
        machine: &Machine,
        bits: Bits,
        process: ProcessName,
        app_pool: Option<&str>,
        filters: &[ActiveFilter],
        worker: bool,
    ) -> anyhow::Result<(HostOutcome, Option<HostFailure>)> {
        let request = HostRequest {
            bits,
            process,
            stop_at_first_failure: true,
            request: true,
            timeout: self.scenario.host_timeout,
        };
        let host_run = machine.run_host(&request, &paths_of(filters))?;
        let (outcomes, failure) = judge(&host_run, filters, worker, false);
        let outcomes = with_causes(outcomes, filters, &host_run);
        let pid = host_run.pid.map(|pid| format!(", pid {pid}")).unwrap_or_default();
        if host_run.start_attempts > 1 {
            self.step(
                StepKind::Info,
                format!(
                    "{process} ({bits}) was started {} times: Wine failed the earlier starts before the program ran, so they loaded nothing",
                    host_run.start_attempts
                ),
            );
        }
        self.step(StepKind::Info, format!("{process} started ({bits}{pid})"));
        for outcome in &outcomes {
            let (kind, text) = describe_outcome(outcome, process, bits);
            self.step(kind, text);
        }
        match &host_run.end {
            HostEnd::Crashed { exception_code } => self.step(
                StepKind::Fail,
                format!("{process} crashed with exception 0x{exception_code:08X}"),
            ),
            HostEnd::TimedOut => self.step(
                StepKind::Fail,
                format!(
                    "{process} stopped answering and was ended after {:?}",
                    self.scenario.host_timeout
                ),
            ),
            HostEnd::Died { exit_code } => self.step(
                StepKind::Fail,
                format!("{process} ended early with exit code {exit_code:?}"),
            ),
            HostEnd::Flooded => self.step(
                StepKind::Fail,
                format!(
                    "{process} was ended for writing more than {} MiB of output",
                    crate::process::OUTPUT_LIMIT / (1024 * 1024)
                ),
            ),
            HostEnd::Completed => {}
        }
        Ok((host_outcome(&host_run, app_pool, outcomes), failure))
    }

    fn failure_events(&mut self, failure: &HostFailure, bits: Bits) {
        if let HostFailure::Filter { path, error, mismatch_event, read_raw_data } = failure {
            if *read_raw_data {
                self.event(messages::read_raw_data_refused(path));
            } else if *mismatch_event {
                self.event(messages::filter_architecture_mismatch(path, bits, *error));
            } else {
                self.event(messages::filter_load_failed(path, *error));
            }
            self.event(messages::filters_did_not_all_load(*error));
        }
    }

    /// A request through a process whose filters all loaded: 200, unless a filter's
    /// HttpFilterProc failed it.
    fn request_status(&self, host: &HostOutcome) -> u16 {
        let failed = host
            .filters
            .iter()
            .any(|filter| filter.request_notification == Some(SF_STATUS_REQ_ERROR));
        if failed { 500 } else { 200 }
    }

    fn request_step(&mut self, app_pool: Option<&str>, status: u16) {
        let target = app_pool.map(|pool| format!(" ({pool})")).unwrap_or_default();
        let kind = if status == 200 { StepKind::Ok } else { StepKind::Fail };
        self.step(
            kind,
            format!("GET /{target}: HTTP {status} {}", messages::http_status_text(status)),
        );
    }

    fn finish(mut self) -> StartReport {
        let verdict = if self.report.all_good() {
            (StepKind::Ok, "verdict: W3SVC started and every filter loaded".to_owned())
        } else if let Some((host, filter)) = self.report.first_failed_filter() {
            let error = match (filter.win32_error, filter.cause) {
                (Some(error), _) => messages::describe_win32(error),
                (None, Some(Cause::TimedOut)) => "it stopped answering and was ended".to_owned(),
                (None, Some(Cause::Crashed)) => "it crashed the process".to_owned(),
                (None, _) => "the process ended early".to_owned(),
            };
            (
                StepKind::Fail,
                format!(
                    "verdict: cannot load filter `{}` in {} {}: {error}",
                    filter.path, host.bits, host.process
                ),
            )
        } else {
            (
                StepKind::Fail,
                "verdict: the service or a worker process failed (see above)".to_owned(),
            )
        };
        self.step(verdict.0, verdict.1);
        self.report
    }
}

/// Reads a host's report against the filters it was given: each filter's outcome, and the first
/// failure as IIS would see it. Worker process isolation mode also refuses read-raw-data filters.
fn judge(
    run: &HostRun,
    filters: &[ActiveFilter],
    worker: bool,
    keep_going: bool,
) -> (Vec<FilterOutcome>, Option<HostFailure>) {
    let mut outcomes = Vec::new();
    let mut failure = None;
    for (index, filter) in filters.iter().enumerate() {
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
            image: None,
        };
        let Some(load) = run.filters.get(index).filter(|_| keep_going || failure.is_none()) else {
            outcomes.push(outcome);
            continue;
        };
        let path = filter.path.to_string();
        match (load.loaded, load.exports, &load.version) {
            (None, _, _) => {
                outcome.stage = Stage::LoadLibrary;
                failure.get_or_insert(host_death(&run.end));
            }
            (Some(false), _, _) => {
                let error = load.load_error.unwrap_or_default();
                outcome.stage = Stage::LoadLibrary;
                outcome.win32_error = Some(error);
                // IIS cannot tell why LoadLibrary said ERROR_BAD_EXE_FORMAT, and logs the
                // architecture event whenever it does.
                failure.get_or_insert(HostFailure::Filter {
                    path,
                    error,
                    mismatch_event: error == 193,
                    read_raw_data: false,
                });
            }
            (Some(true), Some(exports), _) if !exports.get_filter_version => {
                let error = exports.lookup_error.unwrap_or(127);
                outcome.stage = Stage::GetProcAddress;
                outcome.win32_error = Some(error);
                failure.get_or_insert(HostFailure::Filter {
                    path,
                    error,
                    mismatch_event: false,
                    read_raw_data: false,
                });
            }
            (Some(true), _, None) => {
                outcome.stage = Stage::GetFilterVersion;
                failure.get_or_insert(host_death(&run.end));
            }
            (Some(true), _, Some(version)) => {
                outcome.description = Some(version.description.clone());
                outcome.flags = Some(version.flags);
                if !version.accepted && version.last_error == 0 {
                    // The SDK's way for a filter to decline quietly: no event, no failure.
                    outcome.stage = Stage::RefusedSilently;
                } else if !version.accepted {
                    outcome.stage = Stage::GetFilterVersion;
                    outcome.win32_error = Some(version.last_error);
                    failure.get_or_insert(HostFailure::Filter {
                        path,
                        error: version.last_error,
                        mismatch_event: false,
                        read_raw_data: false,
                    });
                } else if worker && version.flags & SF_NOTIFY_READ_RAW_DATA != 0 {
                    outcome.stage = Stage::ReadRawDataRefused;
                    outcome.win32_error = Some(ERROR_NOT_SUPPORTED);
                    failure.get_or_insert(HostFailure::Filter {
                        path,
                        error: ERROR_NOT_SUPPORTED,
                        mismatch_event: false,
                        read_raw_data: true,
                    });
                } else {
                    outcome.stage = Stage::Loaded;
                    outcome.loaded = true;
                    outcome.request_notification = load.notified;
                }
            }
        }
        outcomes.push(outcome);
    }
    if failure.is_none() && run.end != HostEnd::Completed {
        failure.get_or_insert(host_death(&run.end));
    }
    (outcomes, failure)
}

/// Adds each filter's cause and header summary to what `judge` found.
fn with_causes(
    mut outcomes: Vec<FilterOutcome>,
    filters: &[ActiveFilter],
    run: &HostRun,
) -> Vec<FilterOutcome> {
    let death = match run.end {
        HostEnd::Crashed { .. } => HostDeath::Crashed,
        // A host that floods its output never finishes its start either.
        HostEnd::TimedOut | HostEnd::Flooded => HostDeath::TimedOut,
        HostEnd::Died { .. } | HostEnd::Completed => HostDeath::Other,
    };
    for (outcome, filter) in outcomes.iter_mut().zip(filters) {
        outcome.image = filter.image.as_ref().map(ImageSummary::of);
        outcome.cause =
            classify(outcome.stage, outcome.win32_error, filter.image.as_ref(), run.bits, death);
    }
    outcomes
}

fn host_death(end: &HostEnd) -> HostFailure {
    match end {
        HostEnd::Crashed { exception_code } => {
            HostFailure::Crashed { exception_code: *exception_code }
        }
        HostEnd::TimedOut | HostEnd::Flooded => HostFailure::TimedOut,
        HostEnd::Died { exit_code } => HostFailure::Died { exit_code: *exit_code },
        HostEnd::Completed => HostFailure::Died { exit_code: Some(0) },
    }
}

fn describe_outcome(
    outcome: &FilterOutcome,
    process: ProcessName,
    bits: Bits,
) -> (StepKind, String) {
    let head = format!("load {} `{}` in {bits} {process}", outcome.name, outcome.path);
    let error = outcome.win32_error.map(messages::describe_win32).unwrap_or_default();
    match outcome.stage {
        Stage::Loaded => (
            StepKind::Ok,
            format!(
                "{head}: loaded; GetFilterVersion says \"{}\"",
                outcome.description.as_deref().unwrap_or_default()
            ),
        ),
        Stage::LoadLibrary if outcome.win32_error.is_some() => {
            (StepKind::Fail, format!("{head}: LoadLibraryExW failed with {error}"))
        }
        Stage::LoadLibrary => {
            (StepKind::Fail, format!("{head}: the process ended inside LoadLibraryExW (DllMain)"))
        }
        Stage::GetProcAddress => (
            StepKind::Fail,
            format!("{head}: loaded, but GetFilterVersion is not exported: {error}"),
        ),
        Stage::GetFilterVersion if outcome.win32_error.is_some() => {
            (StepKind::Fail, format!("{head}: GetFilterVersion returned FALSE with {error}"))
        }
        Stage::GetFilterVersion => {
            (StepKind::Fail, format!("{head}: the process ended inside GetFilterVersion"))
        }
        Stage::RefusedSilently => (
            StepKind::Info,
            format!(
                "{head}: GetFilterVersion returned FALSE after SetLastError(0); IIS skips it without an event"
            ),
        ),
        Stage::ReadRawDataRefused => (
            StepKind::Fail,
            format!(
                "{head}: asks for SF_NOTIFY_READ_RAW_DATA, which worker process isolation mode refuses"
            ),
        ),
        Stage::NotAttempted => {
            (StepKind::Info, format!("{head}: not attempted (start-up already aborted)"))
        }
    }
}
