//! The IIS 7 to 10 model (and IIS Express's), from applicationHost.config. A pure state
//! machine behind the seam of `model.rs`, like `iis6.rs`: it plans host starts, reads their
//! reports, and never starts anything itself.
//!
//! What IIS does, with sources (iis-facts §6 and §11; the schema pages of the IIS configuration
//! reference on Microsoft Learn):
//! - W3SVC and WAS start without loading any image. A request routed by HTTP.sys to a site's
//!   binding goes to the application whose path is the longest prefix of the URL, and so to
//!   its pool; WAS starts the pool's w3wp.exe when the pool has none.
//! - On 64-bit Windows the worker is 32-bit (WOW64) when the pool's `enable32BitAppOnWin64` is
//!   true; the pool's own attribute wins over `applicationPoolDefaults`; the default is false.
//! - The worker loads every `globalModules` entry whose preconditions hold ("Before loading
//!   each module, the server evaluates the precondition ... If any one of the load
//!   preconditions return false, the module is not loaded", the event 2296 page). A module that
//!   does not load stops the worker: W3SVC-WP 2282 (for a 193) and 2280, the request gets 503,
//!   and after `rapidFailProtectionMaxCrashes` failures within `rapidFailProtectionInterval`
//!   WAS disables the pool (5002), whose requests then get 503 at once (or a reset connection
//!   with `loadBalancerCapabilities="TcpLevel"`).
//! - ISAPI filters (server level and the site's `<location>`) whose preconditions hold are
//!   loaded by the worker for the site; one that does not load fails that site's requests with
//!   500.0 "Calling LoadLibraryEx on ISAPI filter ... failed" while the worker stays up (an
//!   inference from the many 500.0 reports, not a documented statement [M]). A filter whose
//!   bitness precondition does not hold is skipped, never loaded.
//! - A request whose handler is `IsapiModule` with a `scriptProcessor` loads that DLL as an
//!   ISAPI extension, if `isapiCgiRestriction` allows it (else 404.2); one that does not load
//!   answers 500.0 with the loader's error as an HRESULT (0x800700c1 for 193).
//! - IIS Express runs each site in its own iisexpress.exe, without WAS and without pools'
//!   workers: a module that does not load ends that process, and the site answers nothing.
//!
//! What the sources leave open is decided in [`decisions`], in one place.

use std::collections::HashMap;

use anyhow::bail;

use crate::apphost::env::{Environment, wow64_twin};
use crate::apphost::{
    Apphost, Edition, HandlerConfig, ImageConfig, PoolConfig, SiteConfig, Source,
};
use crate::arch::{Bits, Os};
use crate::cause::ImageSummary;
use crate::host::{HostPlan, HostRun, ImageLoad, PlannedImage};
use crate::http_sys::{self, RequestUrl, Route};
use crate::iis::was::{RapidFailClock, RapidFailPolicy};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::iis7::Iis7Happening;
use crate::report::{Happening, HostOutcome, ImageOutcome, NoAnswer, RequestOutcome, StartReport};
use crate::scenario::Scenario;
use crate::vocab::{
    Event, HostEnd, ImageKind, IsolationMode, PipelineMode, ProcessName, ServerKind, Win32Error,
};
use crate::winpath::WinPath;

mod images;
/// The choices the harness makes where the sources are silent, each marked and decided here;
/// what the simulated machine holds (both builds of every module in the standard folders,
/// `Program Files\IIS\` included, as the ASP.NET Core Hosting Bundle installs its module) is
/// decided in `apphost::env::standard_module_arch`.
pub mod messages;
mod requests;
mod routing;

use images::{extension_key, handler_matches, judge, kind_of, path_under, unresolved};

pub mod decisions {
    /// A precondition this model does not know (`appPoolName=...`, `managedHandler` on a global
    /// module) holds: IIS documents only bitness, pipeline and runtime conditions for
    /// `globalModules` and `isapiFilters`. UNVERIFIED.
    pub const UNKNOWN_PRECONDITION_HOLDS: bool = true;
    /// A path that is not an absolute Windows path after the simulated machine's variables are
    /// expanded (`%ANCM_PATH%` in Microsoft's test templates) is not handed to any loader: a
    /// relative path would be searched for outside the simulated machine. IIS would call
    /// LoadLibraryEx with it and fail; the model treats a module like that as one that did not
    /// load (the worker fails), a filter as one that did not load (its site answers 500.0), and
    /// says that the harness, not the loader, decided. UNVERIFIED.
    pub const UNRESOLVED_PATH_FAILS: bool = true;
    /// IIS Express's bitness is that of the iisexpress.exe started (Visual Studio's "Use the 64
    /// bit version of IIS Express"); the file does not say. The model runs the 32-bit one when
    /// the site's pool sets `enable32BitAppOnWin64`, the 64-bit one otherwise. A harness choice.
    pub const EXPRESS_BITNESS_FROM_POOL: bool = true;
    /// IIS 6.0 looks for a filter's file before loading it (a missing one logs error 2, the
    /// IIS 6 model); no source says IIS 7+ does, so here the loader itself answers for a
    /// missing file (126). UNVERIFIED either way.
    pub const PROBE_BEFORE_LOAD: bool = false;
    /// An IIS Express process that ended is not started again during the run (Visual Studio
    /// restarts it, IIS Express itself does not).
    pub const EXPRESS_NOT_RESTARTED: bool = true;
}

/// Whether every precondition in `list` holds in this worker (iis-facts §6: bitness32,
/// bitness64, integratedMode, classicMode/ISAPIMode, runtimeVersionv1.1/v2.0/v4.0).
pub fn preconditions_hold(
    list: &[String],
    os: Os,
    bits: Bits,
    pipeline: PipelineMode,
    runtime: &str,
) -> Option<String> {
    for condition in list {
        let holds = match condition.to_ascii_lowercase().as_str() {
            // bitness32 means a 32-bit process; on 64-bit Windows that is a WOW64 worker.
            "bitness32" => bits == Bits::B32,
            "bitness64" => bits == Bits::B64 && os == Os::X64,
            "integratedmode" => pipeline == PipelineMode::Integrated,
            "classicmode" | "isapimode" => pipeline == PipelineMode::Classic,
            lower if lower.starts_with("runtimeversion") => {
                let wanted = &condition["runtimeVersion".len()..];
                runtime.to_ascii_lowercase().starts_with(&wanted.to_ascii_lowercase())
                    && !runtime.is_empty()
            }
            _ => decisions::UNKNOWN_PRECONDITION_HOLDS,
        };
        if !holds {
            return Some(condition.clone());
        }
    }
    None
}

/// The bitness of a pool's workers.
pub fn worker_bits(os: Os, enable_32bit: bool) -> Bits {
    match os {
        Os::X86 => Bits::B32,
        Os::X64 if enable_32bit => Bits::B32,
        Os::X64 => Bits::B64,
    }
}

/// What an image a worker would load is there for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Module,
    /// A filter, for these sites (indexes into `sites`).
    Filter {
        sites: Vec<usize>,
    },
    /// An extension, with the handler that maps to it.
    Extension {
        handler: String,
    },
}

#[derive(Debug, Clone)]
struct Planned {
    role: Role,
    name: String,
    written: String,
    /// None when the path does not resolve to an absolute Windows path.
    path: Option<WinPath>,
    /// The site whose `<location>` lists a filter; None for server-level images.
    site: Option<String>,
}

/// One request as the model routes it before any worker starts.
#[derive(Debug, Clone)]
struct Request {
    url: RequestUrl,
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    /// A site, an application's pool (None when the pool is not defined), and the handler
    /// that maps the URL when it is more than a file served (None for everything else).
    Site {
        site: usize,
        pool: Option<usize>,
        handler: Option<MappedHandler>,
    },
    InvalidHostname,
    NoListener,
}

/// The first handler that takes a request's URL, when the harness has something to do for it.
#[derive(Debug, Clone)]
enum MappedHandler {
    /// An `IsapiModule` handler: the worker loads its `scriptProcessor` DLL. Boxed: a
    /// handler's configuration is large, and most requests have none.
    Isapi(Box<HandlerConfig>),
    /// A `CgiModule` handler runs an .exe per request and a `FastCgiModule` one keeps a pool of
    /// them: either way IIS starts a process of its own, never a DLL in the worker, and the
    /// harness starts none.
    Cgi,
}

/// A worker that started and stays up.
#[derive(Debug, Clone, Default)]
struct Worker {
    /// The first filter of each site that failed, and its error (None when the harness did not
    /// hand it to a loader).
    failed_sites: HashMap<usize, (String, Option<Win32Error>)>,
    /// Each extension path (its key) that failed, and its error.
    failed_extensions: HashMap<String, Option<Win32Error>>,
    extension_status: HashMap<String, Option<u32>>,
}

#[derive(Debug, Clone)]
struct PoolState {
    config: PoolConfig,
    bits: Bits,
    rapid_fail_clock: RapidFailClock,
    disabled: bool,
    worker: Option<Worker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    /// A worker of pool `pool` (or, for IIS Express, the process of site `pool`) is starting for
    /// request `request`.
    Worker {
        pool: usize,
        request: usize,
    },
    Done,
}

pub struct Iis7<'s> {
    scenario: &'s Scenario,
    apphost: &'s Apphost,
    edition: Edition,
    sites: Vec<SiteConfig>,
    pools: Vec<PoolState>,
    /// IIS Express: each site's process, by site index.
    express: Vec<Option<Option<Worker>>>,
    requests: Vec<Request>,
    plan: Vec<Planned>,
    phase: Phase,
    report: StartReport,
}

impl<'s> Iis7<'s> {
    pub fn new(scenario: &'s Scenario, apphost: &'s Apphost) -> anyhow::Result<Iis7<'s>> {
        let os = scenario.os;
        let sites = apphost.sites()?;
        let pools: Vec<PoolState> = apphost
            .pools()?
            .into_iter()
            .map(|config| PoolState {
                bits: worker_bits(os, config.enable_32bit.0),
                config,
                rapid_fail_clock: RapidFailClock::default(),
                disabled: false,
                worker: None,
            })
            .collect();
        let defaults_32bit = pools
            .first()
            .map(|pool| pool.config.enable_32bit)
            .filter(|(_, source)| *source != Source::Pool);
        let mut model = Iis7 {
            scenario,
            apphost,
            edition: apphost.edition(),
            express: vec![None; sites.len()],
            sites,
            pools,
            requests: Vec::new(),
            plan: Vec::new(),
            phase: Phase::Begin,
            // IIS 7+ has no isolation modes: the field is not serialised for it (report/mod.rs).
            // WAS and W3SVC start without loading anything, so the service is up.
            report: StartReport::new(
                ServerKind::Iis7Plus,
                os,
                IsolationMode::WorkerProcess,
                defaults_32bit.is_some_and(|(value, _)| value),
                true,
            ),
        };
        model.requests = model.route_requests();
        Ok(model)
    }

    fn happen(&mut self, happening: Iis7Happening) {
        self.report.timeline.push(Happening::Iis7(happening));
    }

    fn log(&mut self, event: Event) {
        self.report.events.push(event.clone());
        self.report.timeline.push(Happening::Logged(event));
    }

    fn env(&self, bits: Bits) -> Environment {
        Environment { os: self.scenario.os, bits }
    }

    fn resolve(&self, written: &str, bits: Bits) -> Option<WinPath> {
        WinPath::parse(&self.env(bits).expand(written)).ok()
    }

    fn configuration(&mut self) {
        let os = self.scenario.os;
        self.happen(Iis7Happening::Server {
            os,
            edition: self.edition,
            file: self.apphost.origin().display().to_string(),
        });
        for pool in self.pools.clone() {
            self.happen(Iis7Happening::Pool {
                name: pool.config.name.clone(),
                enable_32bit: pool.config.enable_32bit.0,
                source: pool.config.enable_32bit.1,
                bits: pool.bits,
                os,
                pipeline: pool.config.pipeline_mode,
                runtime: pool.config.runtime_version.clone(),
            });
        }
        if self.sites.is_empty() {
            self.happen(Iis7Happening::NoSites);
        }
        for site in self.sites.clone() {
            let bindings =
                site.bindings.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            self.happen(Iis7Happening::Site {
                name: site.name,
                id: site.id,
                bindings,
                started: site.auto_start,
            });
        }
    }

    /// The images a worker of `bits` for `pool` loads for requests `from..` that reach it.
    fn plan_worker(
        &mut self,
        pool: Option<usize>,
        site_only: Option<usize>,
        from: usize,
    ) -> Vec<Planned> {
        let (bits, pipeline, runtime) = self.context(pool, site_only);
        let os = self.scenario.os;
        let mut plan: Vec<Planned> = Vec::new();
        let mut skipped = Vec::new();
        for module in self.apphost.global_modules() {
            match preconditions_hold(&module.preconditions, os, bits, pipeline, &runtime) {
                Some(failed) => skipped.push((ImageKind::Module, module, failed)),
                None => plan.push(Planned {
                    role: Role::Module,
                    path: self.resolve(&module.path, bits),
                    name: module.name,
                    written: module.path,
                    site: None,
                }),
            }
        }
        let reaching: Vec<usize> = (from..self.requests.len())
            .filter(|&at| match &self.requests[at].target {
                Target::Site { site, pool: target, .. } => match site_only {
                    Some(only) => *site == only,
                    None => *target == pool,
                },
                _ => false,
            })
            .collect();
        let mut sites_reached: Vec<usize> = Vec::new();
        for &at in &reaching {
            if let Target::Site { site, .. } = self.requests[at].target
                && !sites_reached.contains(&site)
            {
                sites_reached.push(site);
            }
        }
        let server_filters = self.apphost.isapi_filters(None);
        for &site in &sites_reached {
            let name = self.sites[site].name.clone();
            for filter in self.apphost.isapi_filters(Some(&name)) {
                if let Some(failed) =
                    preconditions_hold(&filter.preconditions, os, bits, pipeline, &runtime)
                {
                    if !skipped.iter().any(|(kind, f, _): &(ImageKind, ImageConfig, String)| {
                        *kind == ImageKind::Filter && f.name == filter.name
                    }) {
                        skipped.push((ImageKind::Filter, filter, failed));
                    }
                    continue;
                }
                let path = self.resolve(&filter.path, bits);
                let same = plan.iter_mut().find(|planned| {
                    matches!(planned.role, Role::Filter { .. })
                        && planned.name.eq_ignore_ascii_case(&filter.name)
                });
                match same {
                    Some(Planned { role: Role::Filter { sites }, .. }) => sites.push(site),
                    _ => {
                        let global = server_filters
                            .iter()
                            .any(|f| f.name.eq_ignore_ascii_case(&filter.name));
                        let site_name = (!global).then(|| name.clone());
                        plan.push(Planned {
                            role: Role::Filter { sites: vec![site] },
                            path,
                            name: filter.name,
                            written: filter.path,
                            site: site_name,
                        });
                    }
                }
            }
        }
        for &at in &reaching {
            if let Target::Site { handler: Some(MappedHandler::Isapi(handler)), .. } =
                &self.requests[at].target
            {
                let written = handler.script_processor.clone().unwrap_or_default();
                let path = self.resolve(&written, bits);
                let key = path.as_ref().map(WinPath::key).unwrap_or_else(|| written.clone());
                let known = plan.iter().any(|planned| {
                    matches!(planned.role, Role::Extension { .. })
                        && planned
                            .path
                            .as_ref()
                            .map(WinPath::key)
                            .unwrap_or_else(|| planned.written.clone())
                            == key
                });
                if !known && self.extension_allowed(&written, &handler.name, bits) {
                    plan.push(Planned {
                        role: Role::Extension { handler: handler.name.clone() },
                        path,
                        name: handler.name.clone(),
                        written,
                        site: None,
                    });
                }
            }
        }
        for (kind, image, failed) in skipped {
            self.happen(Iis7Happening::Skipped {
                kind,
                name: image.name,
                path: image.path,
                precondition: failed,
                bits,
            });
        }
        for planned in &plan {
            match &planned.path {
                Some(path) => {
                    // The file this worker's loader gets: the SysWOW64 copy for a WOW64 worker.
                    let seen = match (bits, self.scenario.os) {
                        (Bits::B32, Os::X64) => wow64_twin(path).unwrap_or_else(|| path.clone()),
                        _ => path.clone(),
                    };
                    // The machine's standard modules are not listed one by one; what the user
                    // placed, and what is missing, is, once a run: one DLL may be a filter and
                    // a handler's extension, or be loaded by several workers, and its file is
                    // the same for each.
                    let standard = self.scenario.default_image(&seen).is_some()
                        && !self.scenario.images.iter().any(|(placed, _)| *placed == seen);
                    let said = self.report.timeline.iter().any(|happening| {
                        matches!(happening, Happening::Disk { path, .. }
                            if WinPath::parse(path).is_ok_and(|said| said == seen))
                    });
                    if !standard && !said {
                        let holds = self.scenario.image_at(&seen).map(|spec| spec.to_string());
                        self.report
                            .timeline
                            .push(Happening::Disk { path: seen.to_string(), holds });
                    }
                }
                None => self.happen(Iis7Happening::Unresolved {
                    name: planned.name.clone(),
                    path: planned.written.clone(),
                }),
            }
        }
        plan
    }

    fn extension_allowed(&self, written: &str, _handler: &str, bits: Bits) -> bool {
        let restriction = self.apphost.isapi_cgi_restriction("");
        let wanted = self.env(bits).expand(written).to_ascii_lowercase();
        match restriction
            .listed
            .iter()
            .find(|(path, _)| self.env(bits).expand(path).to_ascii_lowercase() == wanted)
        {
            Some((_, allowed)) => *allowed,
            None => restriction.not_listed_isapis_allowed,
        }
    }

    /// Bitness, pipeline and runtime of the worker for `pool` (or IIS Express's process for a
    /// site, which runs its root application's pool settings).
    fn context(&self, pool: Option<usize>, site: Option<usize>) -> (Bits, PipelineMode, String) {
        let pool = pool.or_else(|| {
            let site = &self.sites[site?];
            let app = site.applications.iter().find(|app| app.path.trim_matches('/').is_empty())?;
            self.pool_index(&app.pool)
        });
        match pool {
            Some(pool) => {
                let pool = &self.pools[pool];
                (pool.bits, pool.config.pipeline_mode, pool.config.runtime_version.clone())
            }
            None => (self.scenario.os.native_bits(), PipelineMode::Integrated, "v4.0".to_owned()),
        }
    }

    fn host_plan(&self, process: ProcessName, bits: Bits) -> HostPlan {
        let images: Vec<PlannedImage> = self
            .plan
            .iter()
            .filter_map(|planned| {
                let kind = match planned.role {
                    Role::Module => ImageKind::Module,
                    Role::Filter { .. } => ImageKind::Filter,
                    Role::Extension { .. } => ImageKind::Extension,
                };
                planned.path.clone().map(|path| PlannedImage { kind, path })
            })
            .collect();
        // The first module under the Windows folder shows WOW64 file-system redirection for
        // real: the host reports which file it opened.
        let probes = images
            .iter()
            .filter(|image| image.kind == ImageKind::Module)
            .map(|image| image.path.clone())
            .filter(|path| {
                path.components().first().is_some_and(|c| c.eq_ignore_ascii_case("Windows"))
            })
            .take(1)
            .collect();
        HostPlan {
            bits,
            process,
            probes,
            images,
            // IIS goes on after a filter that fails (other sites keep their filters) and
            // decides from the answers; the model reads them in IIS's order.
            stop_at_first_failure: false,
            probe_before_load: decisions::PROBE_BEFORE_LOAD,
            request: true,
            timeout: self.scenario.host_timeout,
        }
    }
}

/// What one worker (or IIS Express process) that a request reaches would load, in IIS's order,
/// if it started: what `diagnose` predicts from. No I/O; the same planning as a start.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub pool: Option<String>,
    pub process: ProcessName,
    pub bits: Bits,
    pub images: Vec<WorkerImage>,
}

#[derive(Debug, Clone)]
pub struct WorkerImage {
    pub kind: ImageKind,
    pub name: String,
    /// As written in the file.
    pub written: String,
    /// None when it is not an absolute path on the simulated machine.
    pub path: Option<WinPath>,
    /// For a filter, the sites (by name) whose requests it fails when it does not load.
    pub sites: Vec<String>,
}

/// Where one of the scenario's requests goes, before any worker starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    pub url: String,
    pub site: Option<String>,
    pub pool: Option<String>,
    /// HTTP.sys's own answer when no site takes the request: Some(400) for a host no binding
    /// accepts, None for a port nobody listens on. Not used when `site` is set.
    pub http_sys: Option<u16>,
    /// A CGI or FastCGI handler maps it: no status, as the harness runs no CGI program.
    pub cgi: bool,
}

impl Iis7<'_> {
    /// The scenario's requests, routed as HTTP.sys routes them.
    pub fn request_targets(&self) -> Vec<RequestTarget> {
        self.requests
            .iter()
            .map(|request| {
                let url = request.url.text.clone();
                match &request.target {
                    Target::Site { site, pool, handler } => RequestTarget {
                        url,
                        site: Some(self.sites[*site].name.clone()),
                        pool: pool.map(|pool| self.pools[pool].config.name.clone()),
                        http_sys: None,
                        cgi: matches!(handler, Some(MappedHandler::Cgi)),
                    },
                    Target::InvalidHostname => RequestTarget {
                        url,
                        site: None,
                        pool: None,
                        http_sys: Some(400),
                        cgi: false,
                    },
                    Target::NoListener => {
                        RequestTarget { url, site: None, pool: None, http_sys: None, cgi: false }
                    }
                }
            })
            .collect()
    }

    /// The plan of every worker the scenario's requests reach, first request first.
    pub fn worker_plans(mut self) -> Vec<WorkerPlan> {
        let express = self.edition == Edition::Express;
        let mut seen: Vec<usize> = Vec::new();
        let mut plans = Vec::new();
        for index in 0..self.requests.len() {
            let Target::Site { site, pool, .. } = self.requests[index].target else { continue };
            let key = if express {
                site
            } else if let Some(pool) = pool {
                pool
            } else {
                continue;
            };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let site_only = express.then_some(site);
            let (bits, _, _) = self.context(pool, site_only);
            let images = self
                .plan_worker(if express { pool } else { Some(key) }, site_only, index)
                .into_iter()
                .map(|planned| WorkerImage {
                    sites: match &planned.role {
                        Role::Filter { sites } => {
                            sites.iter().map(|&site| self.sites[site].name.clone()).collect()
                        }
                        _ => Vec::new(),
                    },
                    kind: kind_of(&planned.role),
                    name: planned.name,
                    written: planned.written,
                    path: planned.path,
                })
                .collect();
            let process = if express { ProcessName::IisExpress } else { ProcessName::W3wp };
            let pool = (!express).then(|| self.pools[key].config.name.clone());
            plans.push(WorkerPlan { pool, process, bits, images });
        }
        plans
    }
}

impl ServerModel for Iis7<'_> {
    fn paths(&self) -> Vec<WinPath> {
        // Every path any worker of any bitness may load: both expansions of each image.
        let mut paths: Vec<WinPath> = Vec::new();
        let mut add = |written: &str| {
            for bits in [Bits::B32, Bits::B64] {
                let Some(path) = self.resolve(written, bits) else { continue };
                let twin = (bits == Bits::B32 && self.scenario.os == Os::X64)
                    .then(|| wow64_twin(&path))
                    .flatten();
                for path in std::iter::once(path).chain(twin) {
                    if !paths.contains(&path) {
                        paths.push(path);
                    }
                }
            }
        };
        for module in self.apphost.global_modules() {
            add(&module.path);
        }
        let mut filters = self.apphost.isapi_filters(None);
        for site in &self.sites {
            filters.extend(self.apphost.isapi_filters(Some(&site.name)));
        }
        for filter in filters {
            add(&filter.path);
        }
        for request in &self.requests {
            if let Target::Site { handler: Some(MappedHandler::Isapi(handler)), .. } =
                &request.target
            {
                add(handler.script_processor.as_deref().unwrap_or_default());
            }
        }
        paths
    }

    fn next(&mut self, observed: Option<Observation>) -> anyhow::Result<Next> {
        match (self.phase, observed) {
            (Phase::Begin, None) => Ok(self.begin()),
            (Phase::Worker { pool, request }, Some(observed)) => {
                self.worker_reported(pool, request, observed)
            }
            (phase, observed) => bail!(
                "the IIS 7+ model was driven out of order: {} in phase {phase:?}",
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
