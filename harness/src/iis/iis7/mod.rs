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
use crate::cause::{HostDeath, ImageSummary, classify};
use crate::host::{HostPlan, HostRun, ImageLoad, PlannedImage};
use crate::http_sys::{self, RequestUrl, Route};
use crate::iis::was::{RapidFailClock, RapidFailPolicy};
use crate::model::{Next, Observation, ServerModel};
use crate::pe::ImageInfo;
use crate::report::iis7::Iis7Happening;
use crate::report::{FilterOutcome, Happening, HostOutcome, NoAnswer, RequestOutcome, StartReport};
use crate::scenario::Scenario;
use crate::vocab::{
    Event, HostEnd, ImageKind, IsolationMode, PipelineMode, ProcessName, ServerKind, Stage,
    Win32Error,
};
use crate::winpath::WinPath;

/// The choices the harness makes where the sources are silent, each marked and decided here;
/// what the simulated machine holds (both builds of every module in the standard folders,
/// `Program Files\IIS\` included, as the ASP.NET Core Hosting Bundle installs its module) is
/// decided in `apphost::env::standard_module_arch`.
pub mod messages;

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

/// What a request got, in one place, so that the report's request shape is written once.
struct Answer {
    url: String,
    site: Option<String>,
    pool: Option<String>,
    status: Option<u16>,
    substatus: Option<u16>,
    win32_error: Option<Win32Error>,
    page: Option<String>,
    /// Why there is no status, when there is none and the reason is not that nothing listens:
    /// a reset connection (a disabled pool with TcpLevel), or a CGI the harness does not run.
    unanswered: Option<NoAnswer>,
}

impl Answer {
    /// HTTP.sys's own answer, before any site sees the request: 400 for an unknown host, or
    /// nothing at all on a port nobody listens on.
    fn by_http_sys(url: String, status: Option<u16>) -> Answer {
        Answer {
            url,
            site: None,
            pool: None,
            status,
            substatus: None,
            win32_error: None,
            page: None,
            unanswered: None,
        }
    }
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
            // IIS 7+ has no isolation modes: the field is not serialised for it (report.rs).
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

    fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|pool| pool.config.name.eq_ignore_ascii_case(name))
    }

    fn started_sites(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.sites.len()).filter(|&at| self.sites[at].auto_start)
    }

    /// The URLs to send: the scenario's own, else one `GET /` to each started site at its
    /// first binding; each sent `repeat_requests` times.
    fn urls(&self) -> Vec<RequestUrl> {
        let mut urls: Vec<RequestUrl> = self.scenario.requests.clone();
        if urls.is_empty() {
            for site in self.started_sites() {
                let Some(binding) = self.sites[site].bindings.first() else { continue };
                let host = match (&binding.host, binding.ip) {
                    (Some(host), _) => host.clone(),
                    (None, Some(ip)) => ip.to_string(),
                    (None, None) => "localhost".to_owned(),
                };
                if let Ok(url) = RequestUrl::parse(&format!("http://{host}:{}/", binding.port)) {
                    urls.push(url);
                }
            }
        }
        urls.into_iter()
            .flat_map(|url| std::iter::repeat_n(url, self.scenario.repeat_requests as usize))
            .collect()
    }

    fn route_requests(&self) -> Vec<Request> {
        self.urls().into_iter().map(|url| Request { target: self.route(&url), url }).collect()
    }

    fn route(&self, url: &RequestUrl) -> Target {
        let site = match url.host {
            None => match self.started_sites().min_by_key(|&at| self.sites[at].id) {
                Some(site) => Route::Site(site),
                None => Route::NoListener,
            },
            Some(_) => {
                let listeners = self.started_sites().flat_map(|at| {
                    self.sites[at].bindings.iter().map(move |binding| (at, binding))
                });
                http_sys::route(listeners, url)
            }
        };
        let site = match site {
            Route::Site(site) => site,
            Route::InvalidHostname => return Target::InvalidHostname,
            Route::NoListener => return Target::NoListener,
        };
        let config = &self.sites[site];
        let application = config
            .applications
            .iter()
            .filter(|app| path_under(&url.path, &app.path))
            .max_by_key(|app| app.path.trim_end_matches('/').len());
        let pool = application.and_then(|app| self.pool_index(&app.pool));
        let location = match application {
            Some(app) if app.path.trim_matches('/').is_empty() => config.name.clone(),
            Some(app) => format!("{}/{}", config.name, app.path.trim_matches('/')),
            None => config.name.clone(),
        };
        let first = pool.and_then(|pool| {
            let pool = &self.pools[pool];
            self.apphost
                .handlers(&location)
                .into_iter()
                .filter(|handler| handler_matches(handler, &url.path))
                .find(|handler| {
                    preconditions_hold(
                        &handler.preconditions,
                        self.scenario.os,
                        pool.bits,
                        pool.config.pipeline_mode,
                        &pool.config.runtime_version,
                    )
                    .is_none()
                })
        });
        let handler = first.and_then(|handler| {
            let module = |name: &str| handler.modules.eq_ignore_ascii_case(name);
            if module("CgiModule") || module("FastCgiModule") {
                Some(MappedHandler::Cgi)
            } else if module("IsapiModule") && handler.script_processor.is_some() {
                Some(MappedHandler::Isapi(Box::new(handler)))
            } else {
                None
            }
        });
        Target::Site { site, pool, handler }
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
                    // placed, and what is missing, is.
                    let standard = self.scenario.default_image(&seen).is_some()
                        && !self.scenario.images.iter().any(|(placed, _)| *placed == seen);
                    if !standard {
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

    fn answer(&mut self, answer: Answer) {
        // IIS 7+ sites are named: `site` is the site's name, as appcmd names it.
        let no_answer = match answer.status {
            Some(_) => None,
            None => answer.unanswered.or(Some(NoAnswer::NothingListensOnPort)),
        };
        self.report.requests.push(RequestOutcome {
            url: answer.url.clone(),
            site: answer.site.clone(),
            app_pool: answer.pool.clone(),
            status: answer.status,
            substatus: answer.substatus,
            win32_error: answer.win32_error,
            no_answer,
        });
        self.happen(Iis7Happening::Response {
            url: answer.url,
            site: answer.site,
            pool: answer.pool,
            status: answer.status,
            substatus: answer.substatus,
            win32_error: answer.win32_error,
            page: answer.page,
            no_answer,
        });
    }

    fn begin(&mut self) -> Next {
        self.configuration();
        if self.edition == Edition::Full {
            self.happen(Iis7Happening::ServicesStart);
        }
        self.next_request(0)
    }

    /// Sends requests from `index` on, until a worker must start.
    fn next_request(&mut self, mut index: usize) -> Next {
        while index < self.requests.len() {
            let request = self.requests[index].clone();
            let url = request.url.text.clone();
            let (site, pool, handler) = match &request.target {
                Target::InvalidHostname => {
                    self.answer(Answer::by_http_sys(url, Some(400)));
                    index += 1;
                    continue;
                }
                Target::NoListener => {
                    self.answer(Answer::by_http_sys(url, None));
                    index += 1;
                    continue;
                }
                Target::Site { site, pool, handler } => (*site, *pool, handler.clone()),
            };
            let site_name = self.sites[site].name.clone();
            if self.edition == Edition::Express {
                match self.express[site].clone() {
                    None => {
                        let (bits, _, _) = self.context(None, Some(site));
                        self.happen(Iis7Happening::ExpressStarts { site: site_name, bits });
                        self.plan = self.plan_worker(pool, Some(site), index);
                        self.phase = Phase::Worker { pool: site, request: index };
                        return Next::Start(self.host_plan(ProcessName::IisExpress, bits));
                    }
                    Some(None) => {
                        self.answer(Answer {
                            url,
                            site: Some(site_name),
                            pool: None,
                            status: None,
                            substatus: None,
                            win32_error: None,
                            page: None,
                            unanswered: None,
                        });
                    }
                    Some(Some(worker)) => self.serve(&worker, index, site, None, handler.as_ref()),
                }
                index += 1;
                continue;
            }
            let Some(pool) = pool else {
                self.answer(Answer {
                    url,
                    site: Some(site_name),
                    pool: None,
                    status: Some(503),
                    substatus: None,
                    win32_error: None,
                    page: Some(messages::service_unavailable_page()),
                    unanswered: None,
                });
                index += 1;
                continue;
            };
            let state = &self.pools[pool];
            let pool_name = state.config.name.clone();
            if state.disabled {
                let status = (!state.config.rapid_fail.tcp_level).then_some(503);
                self.happen(Iis7Happening::RequestToDisabledPool {
                    url: url.clone(),
                    pool: pool_name.clone(),
                });
                self.answer(Answer {
                    url,
                    site: Some(site_name),
                    pool: Some(pool_name),
                    status,
                    substatus: None,
                    win32_error: None,
                    page: status.map(|_| messages::service_unavailable_page()),
                    unanswered: status.is_none().then_some(NoAnswer::ConnectionReset),
                });
                index += 1;
                continue;
            }
            if let Some(worker) = state.worker.clone() {
                self.serve(&worker, index, site, Some(pool), handler.as_ref());
                index += 1;
                continue;
            }
            let bits = state.bits;
            self.happen(Iis7Happening::WorkerStarts {
                url,
                pool: pool_name,
                bits,
                pipeline: state.config.pipeline_mode,
            });
            self.plan = self.plan_worker(Some(pool), None, index);
            self.phase = Phase::Worker { pool, request: index };
            return Next::Start(self.host_plan(ProcessName::W3wp, bits));
        }
        self.phase = Phase::Done;
        Next::Done
    }

    fn serve(
        &mut self,
        worker: &Worker,
        index: usize,
        site: usize,
        pool: Option<usize>,
        handler: Option<&MappedHandler>,
    ) {
        let url = self.requests[index].url.text.clone();
        let site_name = Some(self.sites[site].name.clone());
        let pool_name = pool.map(|pool| self.pools[pool].config.name.clone());
        let bits = match pool {
            Some(pool) => self.pools[pool].bits,
            None => self.context(None, Some(site)).0,
        };
        if let Some((path, error)) = worker.failed_sites.get(&site) {
            let answer = Answer {
                url,
                site: site_name,
                pool: pool_name,
                status: Some(500),
                substatus: Some(0),
                win32_error: *error,
                page: Some(messages::filter_failed_page(path)),
                unanswered: None,
            };
            return self.answer(answer);
        }
        if let Some(MappedHandler::Cgi) = handler {
            let answer = Answer {
                url,
                site: site_name,
                pool: pool_name,
                status: None,
                substatus: None,
                win32_error: None,
                page: None,
                unanswered: Some(NoAnswer::CgiNotRun),
            };
            return self.answer(answer);
        }
        if let Some(MappedHandler::Isapi(handler)) = handler {
            let written = handler.script_processor.clone().unwrap_or_default();
            if !self.extension_allowed(&written, &handler.name, bits) {
                let answer = Answer {
                    url,
                    site: site_name,
                    pool: pool_name,
                    status: Some(404),
                    substatus: Some(2),
                    win32_error: None,
                    page: Some(messages::restricted_page()),
                    unanswered: None,
                };
                return self.answer(answer);
            }
            let key = self.resolve(&written, bits).map(|path| path.key()).unwrap_or(written);
            if let Some(error) = worker.failed_extensions.get(&key) {
                let page = error.map(|error| messages::extension_failed_page(&handler.name, error));
                let answer = Answer {
                    url,
                    site: site_name,
                    pool: pool_name,
                    status: Some(500),
                    substatus: Some(0),
                    win32_error: *error,
                    page,
                    unanswered: None,
                };
                return self.answer(answer);
            }
            let status = worker
                .extension_status
                .get(&key)
                .copied()
                .flatten()
                .and_then(|status| u16::try_from(status).ok())
                .filter(|status| *status >= 100);
            let answer = Answer {
                url,
                site: site_name,
                pool: pool_name,
                status: Some(status.unwrap_or(200)),
                substatus: None,
                win32_error: None,
                page: None,
                unanswered: None,
            };
            return self.answer(answer);
        }
        self.answer(Answer {
            url,
            site: site_name,
            pool: pool_name,
            status: Some(200),
            substatus: None,
            win32_error: None,
            page: None,
            unanswered: None,
        })
    }

    fn worker_reported(
        &mut self,
        pool: usize,
        request: usize,
        observed: Observation,
    ) -> anyhow::Result<Next> {
        let Observation { run, headers } = observed;
        let plan = std::mem::take(&mut self.plan);
        let loaded: Vec<&Planned> = plan.iter().filter(|planned| planned.path.is_some()).collect();
        if run.images.len() > loaded.len() {
            bail!("the host reported {} images for {} planned", run.images.len(), loaded.len());
        }
        self.report.timeline.push(Happening::HostStarted {
            process: run.process,
            bits: run.bits,
            pid: run.pid,
            start_attempts: run.start_attempts,
        });
        if let Some(probe) = run.probes.first() {
            self.happen(Iis7Happening::Opened {
                path: probe.path.clone(),
                bits: run.bits,
                opened: probe.opened.clone(),
            });
        }
        let mut modules = Vec::new();
        let mut filters = Vec::new();
        let mut extensions = Vec::new();
        let mut worker = Worker::default();
        let mut module_failure: Option<(String, Option<Win32Error>)> = None;
        let mut loaded_index = 0;
        for planned in &plan {
            let (outcome, failed) = match &planned.path {
                Some(_) => {
                    let at = loaded_index;
                    loaded_index += 1;
                    let header = headers.get(at).cloned().flatten();
                    judge(planned, run.images.get(at), header.as_ref(), &run)
                }
                None => (unresolved(planned), Some(None)),
            };
            self.happen(Iis7Happening::ImageResult {
                kind: kind_of(&planned.role),
                name: outcome.name.clone(),
                path: outcome.path.clone(),
                process: run.process,
                bits: run.bits,
                stage: outcome.stage,
                win32_error: outcome.win32_error,
            });
            match (&planned.role, failed) {
                (Role::Module, Some(error)) => {
                    module_failure.get_or_insert((outcome.path.clone(), error));
                }
                (Role::Filter { sites }, Some(error)) => {
                    for site in sites {
                        worker.failed_sites.entry(*site).or_insert((outcome.path.clone(), error));
                    }
                }
                (Role::Extension { .. }, Some(error)) => {
                    worker.failed_extensions.insert(extension_key(planned), error);
                }
                (Role::Extension { .. }, None) => {
                    let status = run
                        .images
                        .get(loaded_index - 1)
                        .and_then(|load| load.request)
                        .and_then(|request| request.http_status);
                    worker.extension_status.insert(extension_key(planned), status);
                }
                _ => {}
            }
            match planned.role {
                Role::Module => modules.push(outcome),
                Role::Filter { .. } => filters.push(outcome),
                Role::Extension { .. } => extensions.push(outcome),
            }
        }
        self.report.timeline.push(Happening::HostEnded {
            process: run.process,
            end: run.end,
            timeout: self.scenario.host_timeout,
        });
        if module_failure.is_none() && run.end != HostEnd::Completed {
            module_failure = Some((String::new(), None));
        }
        let express = self.edition == Edition::Express;
        let (pipeline, pool_name) = if express {
            (None, None)
        } else {
            (
                Some(self.pools[pool].config.pipeline_mode),
                Some(self.pools[pool].config.name.clone()),
            )
        };
        self.report.hosts.push(HostOutcome {
            process: run.process,
            bits: run.bits,
            app_pool: pool_name.clone(),
            pid: run.pid,
            end: run.end,
            exception_code: run.end.exception_code(),
            start_attempts: run.start_attempts,
            filters,
            modules,
            extensions,
            pipeline_mode: pipeline,
        });
        let Some((path, error)) = module_failure else {
            if express {
                self.express[pool] = Some(Some(worker));
            } else {
                self.pools[pool].worker = Some(worker);
            }
            return Ok(self.next_request(request));
        };
        if let Some(error) = error.filter(|_| !path.is_empty()) {
            if error == Win32Error::BAD_EXE_FORMAT {
                self.log(messages::module_architecture_mismatch(&path, run.bits, error));
            }
            self.log(messages::module_load_failed(&path, error));
        }
        let url = self.requests[request].url.text.clone();
        if express {
            let site = self.sites[pool].name.clone();
            self.express[pool] = Some(None);
            if let Some(error) = error {
                self.report
                    .timeline
                    .push(Happening::Console(messages::express_modules_failed(error)));
            }
            self.happen(Iis7Happening::ExpressEnded { site: site.clone() });
            self.answer(Answer {
                url,
                site: Some(site),
                pool: None,
                status: None,
                substatus: None,
                win32_error: error,
                page: None,
                unanswered: None,
            });
            return Ok(self.next_request(request + 1));
        }
        let Target::Site { site, .. } = self.requests[request].target else {
            unreachable!("a worker starts only for a site's request")
        };
        let site = Some(self.sites[site].name.clone());
        let name = self.pools[pool].config.name.clone();
        self.happen(Iis7Happening::WorkerFailed { pool: name.clone() });
        self.answer(Answer {
            url,
            site,
            pool: Some(name.clone()),
            status: Some(503),
            substatus: None,
            win32_error: error,
            page: Some(messages::service_unavailable_page()),
            unanswered: None,
        });
        let state = &mut self.pools[pool];
        let rapid = state.config.rapid_fail;
        let policy = RapidFailPolicy {
            enabled: rapid.enabled,
            max_crashes: rapid.max_crashes,
            interval: rapid.interval,
        };
        if let Some(failures) = state.rapid_fail_clock.worker_failed(policy) {
            state.disabled = true;
            let interval_minutes = u32::try_from(rapid.interval.as_secs() / 60).unwrap_or(u32::MAX);
            self.log(messages::app_pool_disabled(&name));
            self.report.timeline.push(Happening::PoolDisabled {
                pool: name,
                failures,
                interval_minutes,
            });
        }
        Ok(self.next_request(request + 1))
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

fn kind_of(role: &Role) -> ImageKind {
    match role {
        Role::Module => ImageKind::Module,
        Role::Filter { .. } => ImageKind::Filter,
        Role::Extension { .. } => ImageKind::Extension,
    }
}

fn extension_key(planned: &Planned) -> String {
    planned.path.as_ref().map(WinPath::key).unwrap_or_else(|| planned.written.clone())
}

/// Whether a URL path lies in an application at `app` (`/` holds everything).
fn path_under(url: &str, app: &str) -> bool {
    let app = app.trim_end_matches('/');
    if app.is_empty() {
        return true;
    }
    let url = url.to_ascii_lowercase();
    let app = app.to_ascii_lowercase();
    url == app || url.starts_with(&format!("{app}/"))
}

/// Whether a handler's `path` and `verb` take `GET` of `url` (`*`, `*.ext`, or a file name).
fn handler_matches(handler: &HandlerConfig, url: &str) -> bool {
    let verb_ok = handler.verb.split(',').any(|verb| {
        let verb = verb.trim();
        verb == "*" || verb.eq_ignore_ascii_case("GET")
    });
    let name = url.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
    let pattern = handler.path.to_ascii_lowercase();
    let path_ok = if pattern == "*" {
        true
    } else if let Some(extension) = pattern.strip_prefix('*') {
        !extension.contains('*') && name.ends_with(extension)
    } else {
        name == pattern
    };
    verb_ok && path_ok
}

fn unresolved(planned: &Planned) -> FilterOutcome {
    FilterOutcome::not_attempted(
        planned.name.clone(),
        planned.site.clone(),
        planned.written.clone(),
        None,
    )
}

/// One image's outcome from the host's report, and whether IIS counts it as failed (with the
/// error it saw). An image IIS skips quietly (a filter that declines with SetLastError(0)) is
/// not a failure.
fn judge(
    planned: &Planned,
    load: Option<&ImageLoad>,
    image: Option<&ImageInfo>,
    run: &HostRun,
) -> (FilterOutcome, Option<Option<Win32Error>>) {
    let death = HostDeath::of(run.end);
    let mut outcome = FilterOutcome::not_attempted(
        planned.name.clone(),
        planned.site.clone(),
        planned.path.as_ref().map(ToString::to_string).unwrap_or_else(|| planned.written.clone()),
        image.map(ImageSummary::of),
    );
    let Some(load) = load else {
        // The host never reached it: it ended before, which the worker's end already says.
        return (outcome, (run.end != HostEnd::Completed).then_some(None));
    };
    let version_stage = match load.kind {
        ImageKind::Extension => Stage::GetExtensionVersion,
        _ => Stage::GetFilterVersion,
    };
    let failed = match (load.load, load.exports, &load.version) {
        (None, _, _) => {
            outcome.stage = Stage::LoadLibrary;
            Some(None)
        }
        (Some(Err(error)), _, _) => {
            outcome.stage = Stage::LoadLibrary;
            outcome.win32_error = Some(error);
            Some(Some(error))
        }
        (Some(Ok(())), Some(exports), _) if !exports.entry_point => {
            outcome.stage = Stage::GetProcAddress;
            outcome.win32_error = exports.lookup_error;
            Some(exports.lookup_error)
        }
        (Some(Ok(())), None, _) => {
            outcome.stage = Stage::LoadLibrary;
            Some(None)
        }
        (Some(Ok(())), Some(_), _) if load.kind == ImageKind::Module => {
            // RegisterModule resolved; calling it needs IIS's own interfaces, so it is not
            // called, and the module counts as loaded.
            outcome.stage = Stage::Loaded;
            outcome.loaded = true;
            None
        }
        (Some(Ok(())), Some(_), None) => {
            outcome.stage = version_stage;
            Some(None)
        }
        (Some(Ok(())), Some(_), Some(version)) => {
            outcome.description = Some(version.description.clone());
            outcome.flags = (load.kind == ImageKind::Filter).then_some(version.flags);
            if !version.accepted
                && version.last_error == Win32Error(0)
                && load.kind == ImageKind::Filter
            {
                outcome.stage = Stage::RefusedSilently;
                None
            } else if !version.accepted {
                outcome.stage = version_stage;
                outcome.win32_error = Some(version.last_error);
                Some(Some(version.last_error))
            } else {
                outcome.stage = Stage::Loaded;
                outcome.loaded = true;
                outcome.request_notification = load.request.and_then(|request| request.returned);
                None
            }
        }
    };
    outcome.cause = classify(outcome.stage, outcome.win32_error, image, run.bits, death);
    (outcome, failed)
}

#[cfg(test)]
mod tests;
