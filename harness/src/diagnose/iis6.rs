//! `diagnose` on IIS 6.0: the filters' and extensions' predictions from the IIS 6.0 model's
//! decisions, the comparison with real loads (the model's "load every filter" purpose, then a
//! start as IIS does it), and the remedies from the one remedy table, each verified by a real
//! start on a copy of the metabase.

use anyhow::Context;

use crate::arch::{Arch, Bits, Os};
use crate::artifacts::Artifacts;
use crate::cause::Cause;
use crate::iis::iis6::{Iis6, Purpose, RoutedTo, routed_requests};
use crate::machine::{Machine, WinPath};
use crate::metabase::Metabase;
use crate::remedy::{self, Remedy};
use crate::scenario::{ImageSpec, Scenario};
use crate::vocab::{ImageKind, IsolationMode};

use super::*;

pub(super) fn diagnose(
    machine: Option<&Machine>,
    artifacts: &Artifacts,
    scenario: &Scenario,
    metabase: &Metabase,
    verify: bool,
) -> anyhow::Result<Diagnosis> {
    // One model answers every question below: which filters load where, and where each
    // request's extension runs. Without requests of its own, the scenario asks for each
    // started site's root and, where the root maps .aspx, its ASP.NET page.
    let scenario = &crate::iis::iis6::with_aspnet_page_requests(scenario)?;
    let model = Iis6::new(scenario, Purpose::Start)?;
    let plan = model.filter_plan();
    let (mode, process, bits) = (plan.mode, plan.process, plan.bits);
    let enable_32bit = metabase.enable_32bit_app_on_win64();
    let when = if mode == IsolationMode::Iis5 { When::ServiceStart } else { When::FirstRequest };

    let disk = ScenarioDisk::new(machine, scenario, artifacts);
    let mut filters = Vec::new();
    for filter in plan.filters {
        let path = filter.path.clone();
        let path_text = path.to_string();
        let image = image_for(machine, artifacts, scenario, &path)?;
        // Dependencies by Windows's rules, on the scenario's files and the machine's own;
        // with no machine to ask, they are not checked.
        let windows = resolve_on(disk.as_ref(), scenario, &path, bits);
        let has_clr = machine.map(Machine::has_clr);
        // The folder is there when the machine has it or the scenario places a file in it (a
        // path it says is missing places nothing); with no machine to ask, only the
        // scenario's files count.
        let folder_exists = machine.is_some_and(|machine| machine.folder_exists_for(&path))
            || scenario
                .images
                .iter()
                .any(|(placed, spec)| *spec != ImageSpec::Missing && placed.same_folder(&path));
        let predicted =
            predict(has_clr, image.as_ref(), folder_exists, windows.as_ref(), process, bits, when);
        filters.push(FilterDiagnosis {
            name: filter.name,
            site: filter.site,
            path: path_text,
            predicted,
            observed: None,
        });
    }
    let mut extensions = Vec::new();
    // Requests whose script map names a CGI program, which the harness runs none of: a
    // prohibited one gets IIS's 404.2, an allowed one no status.
    let mut cgi_requests = Vec::new();
    for request in model.extension_requests() {
        if request.cgi {
            cgi_requests.push((request.url, request.prohibited));
            continue;
        }
        let predicted = if request.prohibited {
            None
        } else {
            let image = image_for(machine, artifacts, scenario, &request.path)?;
            let windows = resolve_on(disk.as_ref(), scenario, &request.path, request.bits);
            let has_clr = machine.map(Machine::has_clr);
            Some(predict_image(
                has_clr,
                image.as_ref(),
                FileCheck::LoaderOnly,
                windows.as_ref(),
                request.process,
                request.bits,
                When::FirstRequest,
                ImageKind::Extension,
            ))
        };
        extensions.push(ExtensionDiagnosis {
            url: request.url,
            extension: request.extension,
            path: request.path.to_string(),
            prohibited: request.prohibited,
            predicted,
            reached: false,
            observed: None,
        });
    }
    let mut requests = predict_requests(scenario, mode, &filters, &extensions, &cgi_requests)?;
    for extension in &mut extensions {
        let site = requests.iter().find(|r| r.url == extension.url).and_then(|r| r.site.as_deref());
        extension.reached = site.is_some_and(|site| filters_let_through(&filters, site));
    }
    // An allowed CGI's request gets no status from the harness, and is no problem for that.
    let not_run =
        |url: &str| cgi_requests.iter().any(|(cgi_url, prohibited)| cgi_url == url && !prohibited);
    let mut problems = filters.iter().any(|filter| !filter.predicted.loads)
        || requests
            .iter()
            .any(|request| request.predicted_status != Some(200) && !not_run(&request.url));
    let mut remedies: Vec<ProposedRemedy> =
        remedies(scenario, mode, enable_32bit, &filters, &extensions)
            .into_iter()
            .map(ProposedRemedy::new)
            .collect();

    let mut agree = None;
    if let Some(machine) = machine.filter(|_| verify) {
        let every = crate::iis::iis6::load_every_filter(machine, scenario)?;
        let host = every.hosts.first().context("loading every filter started no host")?;
        for (diagnosis, outcome) in filters.iter_mut().zip(&host.filters) {
            diagnosis.observed =
                Some(observe(host.process, host.bits, outcome, Some(&diagnosis.predicted)));
        }
        // The requests' answers come from a start as IIS does it, stopping where IIS stops.
        let started = crate::iis::start(machine, scenario)?;
        let repeat = scenario.repeat_requests.max(1) as usize;
        for (index, request) in requests.iter_mut().enumerate() {
            request.observed_status =
                started.requests.get(index * repeat).map(|observed| observed.status);
        }
        for extension in &mut extensions {
            extension.observed = Some(observe_request(&started, extension));
        }
        // What a filter's or an extension's own code does (refuse, crash, hang, answer) is
        // observed, never predicted: a request through such code is reported, not held
        // against the prediction.
        let filters_behaved = |site: Option<&str>| {
            filters
                .iter()
                .filter(|f| f.site.is_none() || f.site.as_deref() == site)
                .all(|f| f.observed.as_ref().is_none_or(|observed| observed.behaviour.is_none()))
        };
        let extension_behaved = |url: &str| {
            extensions
                .iter()
                .filter(|e| e.url == url)
                .all(|e| e.observed.as_ref().is_none_or(|observed| observed.behaviour.is_none()))
        };
        agree = Some(
            filters
                .iter()
                .all(|filter| filter.observed.as_ref().is_some_and(|observed| observed.agree))
                && requests.iter().all(|request| {
                    !filters_behaved(request.site.as_deref())
                        || !extension_behaved(&request.url)
                        || request.observed_status == Some(request.predicted_status)
                })
                && extensions.iter().all(|e| e.observed.as_ref().is_some_and(|o| o.agree)),
        );
        problems |= observed_problems(&filters, &requests, &extensions, &not_run);
        for remedy in &mut remedies {
            if let Some(table_remedy) = &remedy.remedy {
                (remedy.verified, remedy.verified_with) =
                    verify_remedy(machine, scenario, table_remedy)?;
            }
        }
        // What was proven to work comes first; the order is otherwise kept.
        remedies.sort_by_key(|remedy| !remedy.verified);
    }
    Ok(Diagnosis {
        os: scenario.os,
        machine_checked: machine.is_some(),
        isolation_mode: Some(mode),
        enable_32bit_app_on_win64: enable_32bit,
        problems,
        agree,
        filters,
        requests,
        extensions,
        remedies,
    })
}

/// The answer each request should get if the filters load as predicted: IIS 5.0 isolation
/// mode stops the service for a global filter that fails, and fails a site for its own; worker
/// process isolation mode answers 503 for either.
fn predict_requests(
    scenario: &Scenario,
    mode: IsolationMode,
    filters: &[FilterDiagnosis],
    extensions: &[ExtensionDiagnosis],
    cgi_requests: &[(String, bool)],
) -> anyhow::Result<Vec<RequestDiagnosis>> {
    // A request that reaches its site and maps to an extension gets what the extension gives;
    // one mapped to a CGI program gets 404.2 when prohibited and otherwise no status.
    let extension_status = |url: &str| {
        let cgi = cgi_requests.iter().find(|(cgi_url, _)| cgi_url == url);
        if let Some(&(_, prohibited)) = cgi {
            return Some(prohibited.then_some(404));
        }
        extensions.iter().find(|extension| extension.url == url).map(|extension| {
            Some(match &extension.predicted {
                None => 404,
                Some(predicted) if !predicted.loads => 500,
                Some(_) => 200,
            })
        })
    };
    let globals_load = filters.iter().filter(|f| f.site.is_none()).all(|f| f.predicted.loads);
    let site_loads = |site: &str| filters_let_through(filters, site);
    let requests = routed_requests(scenario)?
        .into_iter()
        .map(|(url, to)| {
            let (site, app_pool, predicted_status) = match to {
                RoutedTo::Site { site, pool } => {
                    let status = match (mode, globals_load, site_loads(&site)) {
                        (IsolationMode::Iis5, false, _) => None,
                        (_, true, true) => extension_status(&url).unwrap_or(Some(200)),
                        _ => Some(503),
                    };
                    let pool = (mode == IsolationMode::WorkerProcess).then_some(pool);
                    (Some(site), pool, status)
                }
                RoutedTo::InvalidHostname => (None, None, Some(400)),
                RoutedTo::NoAnswer => (None, None, None),
            };
            RequestDiagnosis { url, site, app_pool, predicted_status, observed_status: None }
        })
        .collect();
    Ok(requests)
}

/// Whether the filters a request to `site` passes through are predicted to load: the global
/// ones and the site's own.
fn filters_let_through(filters: &[FilterDiagnosis], site: &str) -> bool {
    filters
        .iter()
        .filter(|f| f.site.is_none() || f.site.as_deref() == Some(site))
        .all(|f| f.predicted.loads)
}

/// The fixes for the predicted bitness failures, most recommended first, from the remedy table.
fn remedies(
    scenario: &Scenario,
    mode: IsolationMode,
    enable_32bit: bool,
    filters: &[FilterDiagnosis],
    extensions: &[ExtensionDiagnosis],
) -> Vec<Remedy> {
    let wrong: Vec<&FilterDiagnosis> =
        filters.iter().filter(|filter| filter.predicted.cause == Cause::WrongBitness).collect();
    if wrong.is_empty() {
        // The filters load; an ASP.NET extension of the other bitness than the process that
        // runs its application is fixed by registering that process's ASP.NET. Any other
        // extension needs a process of its own bitness: only a worker can be 32-bit on x64.
        let wrong_extension = extensions.iter().find_map(|extension| {
            let predicted = extension.predicted.as_ref()?;
            (predicted.cause == Cause::WrongBitness)
                .then(|| (predicted.bits, aspnet_windir_of(&extension.path, "aspnet_isapi.dll")))
        });
        return match (wrong_extension, scenario.os, mode) {
            (Some((bits, Some(windir))), _, _) => {
                let framework = if bits == Bits::B32 { Arch::X86 } else { Arch::Amd64 };
                vec![remedy::register_aspnet(framework, &windir, scenario.os, enable_32bit, bits)]
            }
            (Some((Bits::B64, None)), Os::X64, IsolationMode::Iis5) => {
                vec![remedy::worker_process_isolation(enable_32bit)]
            }
            (Some((bits, None)), Os::X64, IsolationMode::WorkerProcess) => {
                vec![remedy::worker_bitness(bits.other())]
            }
            _ => Vec::new(),
        };
    }
    let bits = wrong[0].predicted.bits;
    let windirs: Vec<String> =
        wrong.iter().filter_map(|filter| aspnet_windir(&filter.path)).collect();
    // Re-registering ASP.NET fixes things only when every wrong filter is ASP.NET's.
    let regiis = |framework: Arch| {
        (windirs.len() == wrong.len()).then(|| {
            remedy::register_aspnet(framework, &windirs[0], scenario.os, enable_32bit, bits)
        })
    };
    let mut remedies: Vec<Remedy> = match (scenario.os, mode, bits) {
        // Worker process isolation mode is what almost everyone wants; 64-bit filters that
        // need read-raw-data, the reason to stay in IIS 5.0 isolation mode, are rare.
        (Os::X64, IsolationMode::Iis5, _) => {
            std::iter::once(remedy::worker_process_isolation(enable_32bit))
                .chain(regiis(Arch::Amd64))
                .collect()
        }
        (Os::X64, IsolationMode::WorkerProcess, Bits::B64) => {
            std::iter::once(remedy::worker_bitness(Bits::B32)).chain(regiis(Arch::Amd64)).collect()
        }
        (Os::X64, IsolationMode::WorkerProcess, Bits::B32) => {
            std::iter::once(remedy::worker_bitness(Bits::B64)).chain(regiis(Arch::X86)).collect()
        }
        (Os::X86, _, _) => regiis(Arch::X86).into_iter().collect(),
    };
    // Changing the process's bitness would break the filters that load today; replacing only
    // the wrong filters then comes first.
    if filters.iter().any(|filter| filter.predicted.loads) {
        remedies.sort_by_key(|remedy| !remedy.registers_aspnet());
    }
    remedies
}

/// `d:\WINDOWS` for `d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_filter.dll`.
fn aspnet_windir(path: &str) -> Option<String> {
    aspnet_windir_of(path, "aspnet_filter.dll")
}

/// The Windows folder of ASP.NET's `file` (`aspnet_filter.dll`, `aspnet_isapi.dll`) at `path`.
fn aspnet_windir_of(path: &str, file_name: &str) -> Option<String> {
    let parsed = WinPath::parse(path).ok()?;
    let components = parsed.components();
    let [windir, dotnet, _framework, _version, file] = components else { return None };
    (dotnet.eq_ignore_ascii_case("Microsoft.NET") && file.eq_ignore_ascii_case(file_name))
        .then(|| format!("{}:\\{windir}", path.chars().next().unwrap_or('C')))
}

/// Applies a remedy to a copy of the metabase through the admin tools and starts for real:
/// whether the remedy works, and the requests whose answers decided it.
fn verify_remedy(
    machine: &Machine,
    scenario: &Scenario,
    remedy: &Remedy,
) -> anyhow::Result<(bool, Vec<String>)> {
    let mut fixed = scenario.clone();
    fixed.config = match remedy.applied_to(scenario.config.metabase()?) {
        Ok(metabase) => metabase.into(),
        // A tool that refuses to run leaves the server as it was: the remedy did not work.
        Err(error) if error.kind() == crate::metabase::MetabaseErrorKind::ToolRefused => {
            return Ok((false, Vec::new()));
        }
        Err(error) => return Err(error.into()),
    };
    let started = crate::iis::check(&fixed)?.start(machine)?;
    let mut with: Vec<String> = Vec::new();
    for request in started.server_health_requests() {
        if !with.contains(&request.url) {
            with.push(request.url.clone());
        }
    }
    Ok((started.every_site_serves(), with))
}
