//! What became of each filter an IIS 6.0 host was asked to load, read from its report: the
//! loader's answer, `GetFilterVersion`'s, IIS's own refusal of read-raw-data filters, and the
//! process's end.

use super::*;

/// Reads a host's report against the filters it was given: each filter's outcome, and the first
/// failure as IIS would see it. Worker process isolation mode also refuses read-raw-data filters.
/// An error means the report does not fit the plan.
pub(super) fn judge(
    run: &HostRun,
    filters: &[ActiveFilter],
    headers: &[Option<ImageInfo>],
    answers: &[Option<crate::loader_answer::LoaderAnswer>],
    worker: bool,
    keep_going: bool,
) -> anyhow::Result<(Vec<ImageOutcome>, Option<HostFailure>)> {
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
        let mut outcome = ImageOutcome::not_attempted(
            ImageKind::Filter,
            filter.name.clone(),
            filter.site.clone(),
            filter.path.to_string(),
            image.as_ref().map(ImageSummary::of),
        );
        let load = run.images.get(index).filter(|_| keep_going || failure.is_none());
        if let Some(load) = load {
            outcome.read_load(
                load,
                image.as_ref(),
                run,
                answers.get(index).and_then(Option::as_ref),
            );
            let path = filter.path.to_string();
            let site = filter.site.clone();
            let read_raw_data =
                outcome.flags.is_some_and(|flags| flags & SF_NOTIFY_READ_RAW_DATA != 0);
            if outcome.failed() {
                failure.get_or_insert(match outcome.win32_error {
                    Some(error) => HostFailure::Filter { path, site, error },
                    None => host_death(run.end),
                });
            } else if outcome.loaded && read_raw_data && (worker || site.is_some()) {
                // The loader and the filter both succeeded; IIS refuses it: HTTP.sys hands raw
                // data to one process only, and IIS 6.0 takes raw-data filters only as global
                // ones. The data of the start-up event (ERROR_NOT_SUPPORTED) is UNVERIFIED:
                // IIS does not document it.
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
                outcome.loaded = false;
                outcome.request_notification = None;
                outcome.iis_refused = Some(refusal.clone());
                outcome.cause =
                    classify(outcome.stage, outcome.win32_error, image.as_ref(), run.bits, death);
                failure.get_or_insert(HostFailure::Refused { path, site, refusal });
            }
        }
        outcomes.push(outcome);
    }
    if failure.is_none() && run.end != HostEnd::Completed {
        failure = Some(host_death(run.end));
    }
    Ok((outcomes, failure))
}

pub(super) fn host_death(end: HostEnd) -> HostFailure {
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
