//! How the IIS 6.0 model's happenings read on the timeline: the IIS 6.0 half of `report/`, the
//! one place results become words.

use crate::arch::{Bits, Os};
use crate::vocab::{ImageKind, IsolationMode, ProcessName, Stage, Win32Error};

use super::{ImageOutcome, Step, StepKind, loader_failure, step};

/// One thing that happened during an IIS 6.0 start, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Iis6Happening {
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
    /// IIS 5.0 isolation mode: the service loads the global filters in this process now.
    ServiceLoadsFilters {
        process: ProcessName,
        bits: Bits,
    },
    /// Worker process isolation mode: the service starts without loading filters.
    ServiceStartsWithoutFilters,
    FilterResult {
        name: String,
        path: String,
        process: ProcessName,
        bits: Bits,
        stage: Stage,
        win32_error: Option<Win32Error>,
        description: Option<String>,
    },
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
        outcome: Box<ImageOutcome>,
        process: ProcessName,
        bits: Bits,
        status: u16,
    },
}

impl From<Iis6Happening> for super::Happening {
    fn from(happening: Iis6Happening) -> super::Happening {
        super::Happening::Iis6(happening)
    }
}

/// Why an extension runs in the process it runs in; decided by the model (`iis::iis6::extensions`).
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

impl Iis6Happening {
    /// How this reads on the timeline; None for what the timeline leaves out.
    pub fn render(&self) -> Option<Step> {
        match self {
            Iis6Happening::Server { os, mode } => server(os, mode),
            Iis6Happening::Enable32Bit { value, effect } => enable32_bit(value, effect),
            Iis6Happening::NoGlobalFilters => no_global_filters(),
            Iis6Happening::FilterConfigured { name, path, state } => {
                filter_configured(name, path, state)
            }
            Iis6Happening::ServiceLoadsFilters { process, bits } => {
                service_loads_filters(process, bits)
            }
            Iis6Happening::ServiceStartsWithoutFilters => service_starts_without_filters(),
            Iis6Happening::FilterResult {
                name,
                path,
                process,
                bits,
                stage,
                win32_error,
                description,
            } => filter_result_step(name, path, process, bits, stage, win32_error, description),
            Iis6Happening::ServiceRequestTimedOut => service_request_timed_out(),
            Iis6Happening::ServiceFailed { error } => service_failed(error),
            Iis6Happening::SiteConfigured {
                site,
                comment,
                bindings,
                auto_start,
                state,
                root_pool,
                implied,
            } => site_configured(site, comment, bindings, auto_start, state, root_pool, implied),
            Iis6Happening::SiteFiltersLoadAtServiceStart { site, process, bits } => {
                site_filters_load_at_service_start(site, process, bits)
            }
            Iis6Happening::SiteFailed { site } => site_failed(site),
            Iis6Happening::WorkerStartsForRequest {
                ordinal,
                url,
                site,
                pool,
                bits,
                site_filters,
            } => worker_starts_for_request(ordinal, url, site, pool, bits, site_filters),
            Iis6Happening::WorkerLoadsSiteFilters { ordinal, url, site, pool, pid, bits } => {
                worker_loads_site_filters(ordinal, url, site, pool, pid, bits)
            }
            Iis6Happening::RequestToDisabledPool { ordinal, url, pool } => {
                request_to_disabled_pool(ordinal, url, pool)
            }
            Iis6Happening::RequestToFailedSite { ordinal, url, site } => {
                request_to_failed_site(ordinal, url, site)
            }
            Iis6Happening::ServedBySameWorker { ordinal, url, process, pool } => {
                served_by_same_worker(ordinal, url, process, pool)
            }
            Iis6Happening::ExtensionProhibited { url, executable, entry } => {
                extension_prohibited(url, executable, entry)
            }
            Iis6Happening::ExtensionLoads {
                url,
                extension,
                executable,
                set_at,
                process,
                bits,
                why,
            } => extension_loads(url, extension, executable, set_at, process, bits, why),
            Iis6Happening::ExtensionResult { url, outcome, process, bits, status } => {
                extension_result(url, outcome, process, bits, status)
            }
        }
    }
}

fn server(os: &Os, mode: &IsolationMode) -> Option<Step> {
    step(StepKind::Config, format!("{os} Windows, IIS 6.0 in {mode} (IIs5IsolationModeEnabled)"))
}

fn enable32_bit(value: &bool, effect: &Enable32BitEffect) -> Option<Step> {
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
        Enable32BitEffect::WorkersRun(Bits::B64) => "worker processes run 64-bit".to_owned(),
    };
    let value = if *value { "TRUE" } else { "FALSE" };
    step(StepKind::Config, format!("Enable32BitAppOnWin64 = {value}: {effect}"))
}

fn no_global_filters() -> Option<Step> {
    step(StepKind::Config, "no global ISAPI filters are configured (FilterLoadOrder)".to_owned())
}

fn filter_configured(name: &str, path: &Option<String>, state: &FilterState) -> Option<Step> {
    match (path, state) {
        (_, FilterState::NoKey) => step(
            StepKind::Config,
            format!("filter {name}: listed in FilterLoadOrder but has no key; IIS skips it"),
        ),
        (None, _) => None,
        (Some(path), FilterState::Disabled) => step(
            StepKind::Config,
            format!("filter {name}: {path} (FilterEnabled FALSE, not loaded)"),
        ),
        (Some(path), FilterState::Enabled) => {
            step(StepKind::Config, format!("filter {name}: {path}"))
        }
    }
}

fn service_loads_filters(process: &ProcessName, bits: &Bits) -> Option<Step> {
    step(
        StepKind::Info,
        format!(
            "W3SVC (in svchost.exe) starts the worker process core inside {process} ({bits}), which loads the global filters now"
        ),
    )
}

fn service_starts_without_filters() -> Option<Step> {
    step(
        StepKind::Info,
        "W3SVC starts; no filter is loaded until a worker process starts".to_owned(),
    )
}

fn filter_result_step(
    name: &str,
    path: &str,
    process: &ProcessName,
    bits: &Bits,
    stage: &Stage,
    win32_error: &Option<Win32Error>,
    description: &Option<String>,
) -> Option<Step> {
    Some(filter_result(name, path, *process, *bits, *stage, *win32_error, description.as_deref()))
}

fn service_request_timed_out() -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            // What a tool that starts the service and waits (aspnet_regiis, for one)
            // reports: the seed's log lines carry exactly this HRESULT.
            "the service control manager gave up waiting for W3SVC: {} (HRESULT {:08x})",
            Win32Error::SERVICE_REQUEST_TIMEOUT,
            Win32Error::SERVICE_REQUEST_TIMEOUT.hresult()
        ),
    )
}

fn service_failed(error: &Win32Error) -> Option<Step> {
    step(StepKind::Fail, format!("W3SVC did not start ({error}); no request can be served"))
}

fn site_configured(
    site: &str,
    comment: &Option<String>,
    bindings: &[String],
    auto_start: &bool,
    state: &Option<u32>,
    root_pool: &str,
    implied: &bool,
) -> Option<Step> {
    let name = comment.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
    let head = if *implied {
        format!(
            "site {site}{name}: the metabase has no IIsWebServer key, so it is read as a fresh installation's Default Web Site"
        )
    } else {
        format!("site {site}{name}")
    };
    let bindings = if bindings.is_empty() { "no bindings".to_owned() } else { bindings.join(" ") };
    let state = match state {
        Some(2) => ", last recorded started (ServerState 2)".to_owned(),
        Some(4) => ", last recorded stopped (ServerState 4)".to_owned(),
        Some(other) => format!(", ServerState {other}"),
        None => String::new(),
    };
    let start =
        if *auto_start { "starts with the service" } else { "ServerAutoStart FALSE, not started" };
    step(
        StepKind::Config,
        format!(
            "{head}: bindings {bindings}, root application in pool {root_pool}; {start}{state}"
        ),
    )
}

fn site_filters_load_at_service_start(
    site: &str,
    process: &ProcessName,
    bits: &Bits,
) -> Option<Step> {
    step(
        StepKind::Info,
        format!(
            "{process} ({bits}) loads site {site}'s filters at service start, after the global filters (IIS 5.0's behaviour; a harness decision where the IIS 6.0 sources are silent)"
        ),
    )
}

fn site_failed(site: &str) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "site {site} failed to start: not all of its filters loaded; its requests get 503, other sites keep serving"
        ),
    )
}

fn worker_starts_for_request(
    ordinal: &u32,
    url: &str,
    site: &str,
    pool: &str,
    bits: &Bits,
    site_filters: &usize,
) -> Option<Step> {
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

fn worker_loads_site_filters(
    ordinal: &u32,
    url: &str,
    site: &str,
    pool: &str,
    pid: &Option<u32>,
    bits: &Bits,
) -> Option<Step> {
    let pid = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
    step(
        StepKind::Info,
        format!(
            "request {ordinal} for {url}: the first to site {site}, so the {bits} worker of pool {pool}{pid} loads the site's filters; a new host of the same bitness stands in for that worker, loading the global filters again before them"
        ),
    )
}

fn request_to_disabled_pool(ordinal: &u32, url: &str, pool: &str) -> Option<Step> {
    step(
        StepKind::Info,
        format!("request {ordinal} for {url}: pool {pool} is disabled, HTTP.sys answers at once"),
    )
}

fn request_to_failed_site(ordinal: &u32, url: &str, site: &str) -> Option<Step> {
    step(StepKind::Info, format!("request {ordinal} for {url}: site {site} failed to start"))
}

fn served_by_same_worker(
    ordinal: &u32,
    url: &str,
    process: &ProcessName,
    pool: &Option<String>,
) -> Option<Step> {
    let by = match pool {
        Some(pool) => format!("the running worker of pool {pool}"),
        None => format!("the running {process}"),
    };
    step(StepKind::Info, format!("request {ordinal} for {url}: served by {by}"))
}

fn extension_prohibited(url: &str, executable: &str, entry: &str) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "GET {url}: the Web Service Extension list prohibits {executable} (entry \"{entry}\"), so IIS answers 404.2 and never loads it"
        ),
    )
}

fn extension_loads(
    url: &str,
    extension: &str,
    executable: &str,
    set_at: &str,
    process: &ProcessName,
    bits: &Bits,
    why: &ExtensionProcess,
) -> Option<Step> {
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
        ExtensionProcess::InProcessIsapiApp => "the IIS process, as InProcessIsapiApps lists it",
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

fn extension_result(
    url: &str,
    outcome: &ImageOutcome,
    process: &ProcessName,
    bits: &Bits,
    status: &u16,
) -> Option<Step> {
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
            match description {
                Some(description) => {
                    format!("{head}: loaded; GetFilterVersion says \"{description}\"")
                }
                // Loaded by Windows's answer, on a machine that could not run it.
                None => format!("{head}: loaded (by Windows's loader; not run here)"),
            },
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
