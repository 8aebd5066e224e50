//! What became of each image an IIS 7+ worker was asked to load, read from its host's report:
//! the loader's answer, the entry point's, and the process's end.

use super::*;

pub(super) fn kind_of(role: &Role) -> ImageKind {
    match role {
        Role::Module => ImageKind::Module,
        Role::Filter { .. } => ImageKind::Filter,
        Role::Extension { .. } => ImageKind::Extension,
    }
}

pub(super) fn extension_key(planned: &Planned) -> String {
    planned.path.as_ref().map(WinPath::key).unwrap_or_else(|| planned.written.clone())
}

/// Whether a URL path lies in an application at `app` (`/` holds everything).
pub(super) fn path_under(url: &str, app: &str) -> bool {
    let app = app.trim_end_matches('/');
    if app.is_empty() {
        return true;
    }
    let url = url.to_ascii_lowercase();
    let app = app.to_ascii_lowercase();
    url == app || url.starts_with(&format!("{app}/"))
}

/// Whether a handler's `path` and `verb` take `GET` of `url` (`*`, `*.ext`, or a file name).
pub(super) fn handler_matches(handler: &HandlerConfig, url: &str) -> bool {
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

pub(super) fn unresolved(planned: &Planned) -> FilterOutcome {
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
pub(super) fn judge(
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
