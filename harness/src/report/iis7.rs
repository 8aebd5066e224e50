//! How the IIS 7+ model's happenings read on the timeline: the IIS 7+ half of `report/`, the
//! one place results become words.

use crate::apphost::{Edition, Source};
use crate::arch::{Bits, Os};
use crate::vocab::{ImageKind, PipelineMode, ProcessName, Stage, Win32Error};

use super::{NoAnswer, RequestOutcome, Step, StepKind, loader_failure, step};

/// One thing that happened during an IIS 7+ start.
#[derive(Debug, Clone, PartialEq)]
pub enum Iis7Happening {
    Server {
        os: Os,
        edition: Edition,
        file: String,
    },
    Pool {
        name: String,
        enable_32bit: bool,
        source: Source,
        bits: Bits,
        os: Os,
        pipeline: PipelineMode,
        runtime: String,
    },
    NoSites,
    Site {
        name: String,
        id: u64,
        bindings: String,
        started: bool,
    },
    /// W3SVC and WAS start; nothing is loaded until a worker starts.
    ServicesStart,
    WorkerStarts {
        url: String,
        pool: String,
        bits: Bits,
        pipeline: PipelineMode,
    },
    ExpressStarts {
        site: String,
        bits: Bits,
    },
    /// An image whose precondition does not hold in this worker: IIS does not load it.
    Skipped {
        kind: ImageKind,
        name: String,
        path: String,
        precondition: String,
        bits: Bits,
    },
    /// A path that is not absolute after the simulated machine's variables are expanded.
    Unresolved {
        name: String,
        path: String,
    },
    /// Which file a process opened for a path (WOW64 file-system redirection, for real).
    Opened {
        path: String,
        bits: Bits,
        opened: Option<String>,
    },
    ImageResult {
        kind: ImageKind,
        name: String,
        path: String,
        process: ProcessName,
        bits: Bits,
        stage: Stage,
        win32_error: Option<Win32Error>,
    },
    WorkerFailed {
        pool: String,
    },
    ExpressEnded {
        site: String,
    },
    RequestToDisabledPool {
        url: String,
        pool: String,
    },
    /// What a request got, with the page IIS shows for an error.
    Response {
        request: RequestOutcome,
        page: Option<String>,
    },
}

impl Iis7Happening {
    pub fn render(&self) -> Option<Step> {
        match self {
            Iis7Happening::Server { os, edition, file } => server(os, edition, file),
            Iis7Happening::Pool { name, enable_32bit, source, bits, os, pipeline, runtime } => {
                pool(name, enable_32bit, source, bits, os, pipeline, runtime)
            }
            Iis7Happening::NoSites => no_sites(),
            Iis7Happening::Site { name, id, bindings, started } => {
                site(name, id, bindings, started)
            }
            Iis7Happening::ServicesStart => services_start(),
            Iis7Happening::WorkerStarts { url, pool, bits, pipeline } => {
                worker_starts(url, pool, bits, pipeline)
            }
            Iis7Happening::ExpressStarts { site, bits } => express_starts(site, bits),
            Iis7Happening::Skipped { kind, name, path, precondition, bits } => {
                skipped(kind, name, path, precondition, bits)
            }
            Iis7Happening::Unresolved { name, path } => unresolved(name, path),
            Iis7Happening::Opened { path, bits, opened } => opened_step(path, bits, opened),
            Iis7Happening::ImageResult { kind, name, path, process, bits, stage, win32_error } => {
                image_result(kind, name, path, process, bits, stage, win32_error)
            }
            Iis7Happening::WorkerFailed { pool } => worker_failed(pool),
            Iis7Happening::ExpressEnded { site } => express_ended(site),
            Iis7Happening::RequestToDisabledPool { url, pool } => {
                request_to_disabled_pool(url, pool)
            }
            Iis7Happening::Response { request, page } => response(request, page),
        }
    }
}

fn server(os: &Os, edition: &Edition, file: &str) -> Option<Step> {
    step(
        StepKind::Config,
        match edition {
            Edition::Full => format!(
                "{os} Windows, IIS 7+ from {file}: WAS starts one w3wp.exe per application pool on demand"
            ),
            Edition::Express => format!(
                "{os} Windows, IIS Express from {file}: one iisexpress.exe per site, no WAS"
            ),
        },
    )
}

fn pool(
    name: &str,
    enable_32bit: &bool,
    source: &Source,
    bits: &Bits,
    os: &Os,
    pipeline: &PipelineMode,
    runtime: &str,
) -> Option<Step> {
    let from = match source {
        Source::Pool => "its own attribute",
        Source::Defaults => "applicationPoolDefaults",
        Source::Schema => "the default",
    };
    let effect = match os {
        Os::X86 => "32-bit Windows runs every worker 32-bit".to_owned(),
        Os::X64 if *bits == Bits::B32 => "workers run 32-bit (WOW64)".to_owned(),
        Os::X64 => "workers run 64-bit".to_owned(),
    };
    let runtime = if runtime.is_empty() { "no managed code" } else { runtime };
    step(
        StepKind::Config,
        format!(
            "pool {name}: enable32BitAppOnWin64={enable_32bit} ({from}): {effect}; {pipeline} pipeline, {runtime}"
        ),
    )
}

fn no_sites() -> Option<Step> {
    step(StepKind::Config, "no sites are configured".to_owned())
}

fn site(name: &str, id: &u64, bindings: &str, started: &bool) -> Option<Step> {
    let bindings =
        if bindings.is_empty() { "no http binding".to_owned() } else { bindings.to_owned() };
    let state = if *started { "" } else { " (serverAutoStart false: not started)" };
    step(StepKind::Config, format!("site {name} (id {id}): {bindings}{state}"))
}

fn services_start() -> Option<Step> {
    step(
        StepKind::Info,
        "W3SVC and WAS start; no module or filter is loaded until a worker process starts"
            .to_owned(),
    )
}

fn worker_starts(url: &str, pool: &str, bits: &Bits, pipeline: &PipelineMode) -> Option<Step> {
    step(
        StepKind::Info,
        format!(
            "GET {url}: WAS starts w3wp.exe ({bits}, {pipeline}) for pool {pool}, which loads the global modules and the site's ISAPI filters"
        ),
    )
}

fn express_starts(site: &str, bits: &Bits) -> Option<Step> {
    step(
        StepKind::Info,
        format!(
            "iisexpress.exe ({bits}) starts for site {site} and loads the global modules and the site's ISAPI filters"
        ),
    )
}

fn skipped(
    kind: &ImageKind,
    name: &str,
    path: &str,
    precondition: &str,
    bits: &Bits,
) -> Option<Step> {
    step(
        StepKind::Info,
        format!(
            "{kind} {name} `{path}`: skipped, precondition {precondition} does not hold in a {bits} worker"
        ),
    )
}

fn unresolved(name: &str, path: &str) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "{name} `{path}`: not an absolute path on the simulated machine after its variables are expanded; the harness hands it to no loader and counts it as not loaded (IIS would fail to load it)"
        ),
    )
}

fn opened_step(path: &str, bits: &Bits, opened: &Option<String>) -> Option<Step> {
    step(
        StepKind::Info,
        match opened {
            Some(opened) => {
                format!("a {bits} process asking for `{path}` opened `{opened}`")
            }
            None => format!("a {bits} process asking for `{path}` found no file"),
        },
    )
}

fn image_result(
    kind: &ImageKind,
    name: &str,
    path: &str,
    process: &ProcessName,
    bits: &Bits,
    stage: &Stage,
    win32_error: &Option<Win32Error>,
) -> Option<Step> {
    let head = format!("load {kind} {name} `{path}` in {bits} {process}");
    if let Some(failed) = loader_failure(&head, *kind, *stage, *win32_error) {
        return Some(failed);
    }
    let (kind_of_step, text) = match stage {
        Stage::Loaded if *kind == ImageKind::Module => (
            StepKind::Ok,
            format!(
                "{head}: loaded; RegisterModule found (not called: it needs IIS's own interfaces)"
            ),
        ),
        Stage::Loaded => (StepKind::Ok, format!("{head}: loaded and initialised")),
        Stage::RefusedSilently => (
            StepKind::Info,
            format!("{head}: GetFilterVersion returned FALSE after SetLastError(0); IIS skips it"),
        ),
        _ => (StepKind::Info, format!("{head}: not attempted")),
    };
    step(kind_of_step, text)
}

fn worker_failed(pool: &str) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "the worker of pool {pool} could not load its global modules and stops; the request gets 503"
        ),
    )
}

fn express_ended(site: &str) -> Option<Step> {
    step(
        StepKind::Fail,
        format!(
            "iisexpress.exe for site {site} could not load its global modules and exits; nothing listens for the site"
        ),
    )
}

fn request_to_disabled_pool(url: &str, pool: &str) -> Option<Step> {
    step(StepKind::Info, format!("GET {url}: pool {pool} is disabled, HTTP.sys answers at once"))
}

fn response(request: &RequestOutcome, page: &Option<String>) -> Option<Step> {
    let RequestOutcome { url, site, app_pool: pool, status, substatus, win32_error, no_answer } =
        request;
    let mut target = Vec::new();
    if let Some(site) = site {
        target.push(format!("site {site}"));
    }
    if let Some(pool) = pool {
        target.push(format!("pool {pool}"));
    }
    let target =
        if target.is_empty() { String::new() } else { format!(" ({})", target.join(", ")) };
    let Some(status) = status else {
        return match no_answer {
            Some(NoAnswer::CgiNotRun) => step(
                StepKind::Info,
                format!(
                    "GET {url}{target}: no status: its handler is a CGI or FastCGI one, whose program IIS would start as a process of its own; the harness runs ISAPI extensions only"
                ),
            ),
            Some(NoAnswer::ConnectionReset) => step(
                StepKind::Fail,
                format!("GET {url}{target}: no answer: HTTP.sys resets the connection"),
            ),
            _ => step(StepKind::Fail, format!("GET {url}{target}: no answer (nothing listens)")),
        };
    };
    let code = match substatus {
        Some(sub) => format!("{status}.{sub}"),
        None => status.to_string(),
    };
    let error =
        win32_error.map(|error| format!(" [sc-win32-status {}]", error.code())).unwrap_or_default();
    let page =
        page.as_ref().map(|page| format!(": {}", page.replace('\n', " / "))).unwrap_or_default();
    let kind = if *status == 200 { StepKind::Ok } else { StepKind::Fail };
    step(
        kind,
        format!(
            "GET {url}{target}: HTTP {code} {}{page}{error}",
            crate::vocab::http_status_text(*status)
        ),
    )
}

/// The process and bitness that loaded `happening`'s module, when it is an IIS 7+ stock module
/// (one a default IIS installs in `%windir%\System32\inetsrv\`) that loaded: the routine
/// lines a summary folds into one.
pub(super) fn loaded_stock_module(happening: &super::Happening) -> Option<(ProcessName, Bits)> {
    let super::Happening::Iis7(Iis7Happening::ImageResult {
        kind: ImageKind::Module,
        path,
        process,
        bits,
        stage: Stage::Loaded,
        ..
    }) = happening
    else {
        return None;
    };
    let folder = path.to_ascii_lowercase();
    let folder = folder.rsplit_once('\\').map_or("", |(folder, _)| folder);
    let stock = folder.ends_with("\\system32\\inetsrv") || folder.ends_with("\\syswow64\\inetsrv");
    stock.then_some((*process, *bits))
}

/// The one line for `count` stock modules that loaded in a worker.
pub(super) fn stock_modules(process: ProcessName, bits: Bits, count: usize) -> Step {
    let modules = if count == 1 { "module" } else { "modules" };
    Step {
        kind: StepKind::Ok,
        text: format!(
            "{count} stock {modules} loaded in {bits} {process} (each on its own line with --verbose)"
        ),
    }
}
