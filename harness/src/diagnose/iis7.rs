//! `diagnose` for IIS 7+: the same labelled prediction as for IIS 6.0 (the headers of each image
//! read against the bitness of the worker that loads it), for every worker a request reaches:
//! its global modules and the site's ISAPI filters whose preconditions hold. `--verify` starts
//! the server for real and compares image by image; remedies are appcmd command lines applied
//! to a copy of the configuration through `apphost::edit` and proven by a real start.

use crate::apphost::Apphost;
use crate::apphost::edit::parse_command;
use crate::apphost::env::wow64_twin;
use crate::arch::{Bits, Os};
use crate::artifacts::Artifacts;
use crate::cause::Cause;
use crate::iis::iis7::Iis7;
use crate::machine::Machine;
use crate::scenario::Scenario;
use crate::vocab::{ImageKind, Win32Error};

use super::{
    Diagnosis, FilterDiagnosis, ProposedRemedy, RequestDiagnosis, ScenarioDisk, When, image_for,
    observe, observed_problems, predict, resolve_on,
};

pub(super) fn diagnose(
    machine: Option<&Machine>,
    artifacts: &Artifacts,
    scenario: &Scenario,
    apphost: &Apphost,
    verify: bool,
) -> anyhow::Result<Diagnosis> {
    let targets = Iis7::new(scenario, apphost)?.request_targets();
    let plans = Iis7::new(scenario, apphost)?.worker_plans();
    let disk = ScenarioDisk::new(machine, scenario, artifacts);
    let mut filters = Vec::new();
    // Which worker each diagnosed image belongs to, to find its real load.
    let mut owners = Vec::new();
    for (worker, plan) in plans.iter().enumerate() {
        for image in &plan.images {
            let Some(path) = &image.path else { continue };
            // The file this worker's loader opens: the SysWOW64 copy for a WOW64 worker.
            let seen = match (plan.bits, scenario.os) {
                (Bits::B32, Os::X64) => wow64_twin(path).unwrap_or_else(|| path.clone()),
                _ => path.clone(),
            };
            let header = image_for(machine, artifacts, scenario, &seen)?;
            let windows = resolve_on(disk.as_ref(), scenario, &seen, plan.bits);
            let has_clr = machine.map(Machine::has_clr);
            let mut predicted = predict(
                has_clr,
                header.as_ref(),
                true,
                windows.as_ref(),
                plan.process,
                plan.bits,
                When::FirstRequest,
            );
            // `predict` looks for a filter's GetFilterVersion; a module needs RegisterModule.
            if image.kind == ImageKind::Module && predicted.cause == Cause::MissingExport {
                let exported = header
                    .as_ref()
                    .is_some_and(|h| h.exports.iter().any(|e| e == "RegisterModule"));
                predicted.loads = exported;
                predicted.win32_error = (!exported).then_some(Win32Error::PROC_NOT_FOUND);
                predicted.cause = if exported { Cause::Ok } else { Cause::MissingExport };
                predicted.reason = if exported {
                    format!("a module exporting RegisterModule in a {} process", plan.bits)
                } else {
                    "RegisterModule is not exported under that name".to_owned()
                };
            }
            // IIS 7+ hands a missing file to the loader, which answers 126 (see
            // `iis7::decisions::PROBE_BEFORE_LOAD`).
            if header.is_none() {
                predicted.win32_error = Some(Win32Error::MOD_NOT_FOUND);
            }
            filters.push(FilterDiagnosis {
                name: image.name.clone(),
                site: None,
                path: path.to_string(),
                predicted,
                observed: None,
            });
            owners.push(worker);
        }
    }
    let mut requests = predict_requests(&targets, &plans, &filters, &owners);
    let mut problems = filters.iter().any(|filter| !filter.predicted.loads)
        || requests.iter().any(|request| request.predicted_status != Some(200));
    let mut remedies = remedies(scenario, apphost, &plans, &filters);
    let mut agree = None;
    if let Some(machine) = machine.filter(|_| verify) {
        let report = crate::iis::start(machine, scenario)?;
        for (request, observed) in requests.iter_mut().zip(&report.requests) {
            request.observed_status = Some(observed.status);
        }
        for (diagnosis, &worker) in filters.iter_mut().zip(&owners) {
            let plan = &plans[worker];
            let host = report.hosts.iter().find(|host| {
                host.process == plan.process && host.bits == plan.bits && host.app_pool == plan.pool
            });
            let outcome = host.and_then(|host| {
                host.images().find(|outcome| {
                    outcome.name == diagnosis.name && outcome.path == diagnosis.path
                })
            });
            if let (Some(host), Some(outcome)) = (host, outcome) {
                diagnosis.observed =
                    Some(observe(host.process, host.bits, outcome, Some(&diagnosis.predicted)));
            }
        }
        agree = Some(
            filters
                .iter()
                .all(|filter| filter.observed.as_ref().is_some_and(|observed| observed.agree)),
        );
        problems |= observed_problems(&filters, &requests, &[], &|_| false);
        for remedy in &mut remedies {
            remedy.verified = verify_remedy(machine, scenario, apphost, &remedy.appcmd)?;
            remedy.verified_with = targets.iter().map(|target| target.url.clone()).collect();
        }
        remedies.sort_by_key(|remedy| !remedy.verified);
    }
    let defaults_32bit = apphost.pools()?.first().is_some_and(|pool| pool.enable_32bit.0);
    Ok(Diagnosis {
        os: scenario.os,
        isolation_mode: None,
        enable_32bit_app_on_win64: defaults_32bit,
        problems,
        agree,
        machine_checked: machine.is_some(),
        filters,
        requests,
        // The IIS 7+ prediction reads modules and filters; a handler's extension shows in the
        // requests' observed answers only.
        extensions: Vec::new(),
        remedies,
    })
}

/// Each request's answer from the predictions: 503 when its worker's modules are predicted not
/// to load (IIS Express: no answer), 500 when one of its site's filters is, no status for a
/// CGI or FastCGI handler's request, else 200; HTTP.sys's own answer when no site takes it.
fn predict_requests(
    targets: &[crate::iis::iis7::RequestTarget],
    plans: &[crate::iis::iis7::WorkerPlan],
    filters: &[FilterDiagnosis],
    owners: &[usize],
) -> Vec<RequestDiagnosis> {
    let express = plans.iter().any(|plan| plan.process == crate::vocab::ProcessName::IisExpress);
    targets
        .iter()
        .map(|target| {
            let predicted_status = match &target.site {
                None => target.http_sys,
                Some(site) => {
                    let worker = plans.iter().position(|plan| match &target.pool {
                        Some(pool) if !express => plan.pool.as_ref() == Some(pool),
                        _ => plan.images.iter().any(|image| image.sites.contains(site)) || express,
                    });
                    // A path the harness hands to no loader counts as not loaded (see
                    // `iis7::decisions::UNRESOLVED_PATH_FAILS`).
                    let unresolved = |kind: ImageKind| {
                        worker.is_some_and(|at| {
                            plans[at].images.iter().any(|image| {
                                image.kind == kind
                                    && image.path.is_none()
                                    && (kind == ImageKind::Module || image.sites.contains(site))
                            })
                        })
                    };
                    let failing = |kind: ImageKind| {
                        unresolved(kind)
                            || filters.iter().zip(owners).any(|(filter, &owner)| {
                                Some(owner) == worker
                                    && !filter.predicted.loads
                                    && plans[owner].images.iter().any(|image| {
                                        image.kind == kind
                                            && image.name == filter.name
                                            && (kind == ImageKind::Module
                                                || image.sites.contains(site))
                                    })
                            })
                    };
                    match (target.pool.as_ref(), express) {
                        (None, false) => Some(503),
                        _ if failing(ImageKind::Module) => (!express).then_some(503),
                        _ if failing(ImageKind::Filter) => Some(500),
                        // The harness runs no CGI program: no status, as the start reports.
                        _ if target.cgi => None,
                        _ => Some(200),
                    }
                }
            };
            RequestDiagnosis {
                url: target.url.clone(),
                site: target.site.clone(),
                app_pool: target.pool.clone(),
                predicted_status,
                observed_status: None,
            }
        })
        .collect()
}

/// For each image of the wrong bitness: switch its pool to the other bitness, or (for a
/// server-level filter) give it the bitness precondition of its own build so that workers of
/// the other bitness skip it. The precondition comes first when the other images load today.
fn remedies(
    scenario: &Scenario,
    apphost: &Apphost,
    plans: &[crate::iis::iis7::WorkerPlan],
    filters: &[FilterDiagnosis],
) -> Vec<ProposedRemedy> {
    let wrong: Vec<&FilterDiagnosis> =
        filters.iter().filter(|filter| filter.predicted.cause == Cause::WrongBitness).collect();
    if wrong.is_empty() || scenario.os != Os::X64 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let server_filters = apphost.isapi_filters(None);
    let section = "/section:system.webServer/isapiFilters";
    let mut precondition = Vec::new();
    for filter in &wrong {
        let Some(config) = server_filters.iter().find(|f| f.name == filter.name) else { continue };
        let own_bits = match filter.predicted.bits {
            Bits::B32 => "bitness64",
            Bits::B64 => "bitness32",
        };
        precondition.push(vec![
            "set".into(),
            "config".into(),
            section.into(),
            format!("/-[name='{}']", config.name),
        ]);
        precondition.push(vec![
            "set".into(),
            "config".into(),
            section.into(),
            format!("/+[name='{}',path='{}',preCondition='{own_bits}']", config.name, config.path),
        ]);
    }
    if !precondition.is_empty() {
        out.push(ProposedRemedy::appcmd(
            precondition,
            "give the filter the bitness precondition of its own build, so that workers of the other bitness skip it (register the other build with the other precondition where the site needs the filter)",
        ));
    }
    // Switching a pool helps only when everything else it loads has a build of the other
    // bitness too: the machine's standard modules do (both builds), a file of the user's does not.
    let mut pools: Vec<(String, Bits)> = Vec::new();
    for plan in plans {
        let Some(pool) = &plan.pool else { continue };
        let is_wrong =
            |image: &crate::iis::iis7::WorkerImage| wrong.iter().any(|w| w.name == image.name);
        let others_have_both_builds =
            plan.images.iter().filter(|image| !is_wrong(image)).all(|image| {
                image.path.as_ref().is_some_and(|path| {
                    scenario.default_image(path).is_some()
                        && !scenario.images.iter().any(|(placed, _)| placed == path)
                })
            });
        if plan.images.iter().any(is_wrong)
            && others_have_both_builds
            && !pools.iter().any(|(p, _)| p == pool)
        {
            pools.push((pool.clone(), plan.bits));
        }
    }
    if !pools.is_empty() {
        let commands = pools
            .iter()
            .map(|(pool, bits)| {
                vec![
                    "set".into(),
                    "apppool".into(),
                    pool.clone(),
                    format!("/enable32BitAppOnWin64:{}", *bits == Bits::B64),
                ]
            })
            .collect();
        out.push(ProposedRemedy::appcmd(
            commands,
            "run the pool's workers at the bitness of the images they load",
        ));
    }
    if filters.iter().any(|filter| filter.predicted.loads) {
        // Switching the pool would break what loads today; the precondition comes first.
    } else {
        out.reverse();
    }
    out
}

fn verify_remedy(
    machine: &Machine,
    scenario: &Scenario,
    apphost: &Apphost,
    commands: &[Vec<String>],
) -> anyhow::Result<bool> {
    let mut fixed_config = apphost.clone();
    for args in commands {
        let command = parse_command(args).map_err(anyhow::Error::msg)?;
        fixed_config.apply(&command)?;
    }
    let mut fixed = scenario.clone();
    fixed.config = fixed_config.into();
    Ok(crate::iis::check(&fixed)?.start(machine)?.all_good())
}
