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

pub(super) fn unresolved(planned: &Planned) -> ImageOutcome {
    ImageOutcome::not_attempted(
        kind_of(&planned.role),
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
    answer: Option<&crate::loader_answer::LoaderAnswer>,
) -> (ImageOutcome, Option<Option<Win32Error>>) {
    let mut outcome = ImageOutcome::not_attempted(
        kind_of(&planned.role),
        planned.name.clone(),
        planned.site.clone(),
        planned.path.as_ref().map(ToString::to_string).unwrap_or_else(|| planned.written.clone()),
        image.map(ImageSummary::of),
    );
    let Some(load) = load else {
        // The host never reached it: it ended before, which the worker's end already says.
        return (outcome, (run.end != HostEnd::Completed).then_some(None));
    };
    outcome.read_load(load, image, run, answer);
    let failed = outcome.failed().then_some(outcome.win32_error);
    (outcome, failed)
}
