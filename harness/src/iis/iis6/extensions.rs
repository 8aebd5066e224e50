//! IIS 6.0 and ISAPI extensions: which process runs the extension a request is mapped to, and
//! what the client gets back. Pure decisions, each with its source; the load itself is always
//! a host process's, and the answer here only reads what the host reported.
//!
//! Where the extension runs:
//! - Worker process isolation mode: in the w3wp.exe of the application's pool, whose bitness
//!   is the pool's (`Enable32BitAppOnWin64` on x64; KB 895976, Appendix D cc755457).
//! - IIS 5.0 isolation mode: applications run either inside inetinfo.exe or in a DLLHost.exe
//!   ("IIS 5.0 Isolation Mode (IIS 6.0)", b6fc78f4). `AppIsolated` 0 is in-process (low
//!   protection, inetinfo.exe), 1 out-of-process (high, a dllhost.exe of its own), 2 pooled
//!   (medium, the one shared dllhost.exe) (AppIsolated, cc783874; "Application Isolation
//!   Modes", cc728246). A DLL listed in `InProcessIsapiApps` stays in inetinfo.exe whatever
//!   the application's protection (IIS 6.0 Deployment Guide, "Configure Application Isolation
//!   Settings for IIS 5.0 Isolation Mode"). On x64 both processes are native (64-bit): the only
//!   32-bit processes IIS runs are worker processes in worker process isolation mode
//!   (Appendix D). That dllhost.exe is the 64-bit one is an inference from that rule; no source
//!   says it of dllhost.exe by name.
//!
//! What the client gets:
//! - a prohibited extension: 404.2, never loaded (IIS checks the Web Service Extension list
//!   before it loads an extension, cc759233), logged with sc-win32-status 1260 (a 404.2 read
//!   from an IIS 6.0 log, it-notebook.org, 2007);
//! - an extension that does not load, for bitness or any other reason: 500, with the loader's
//!   error as the request's Win32 error (KB 895976 shows the 500 page carrying the text of 193
//!   for a wrong-bitness extension). A missing DLL is the same case: the loader answers 126
//!   and IIS answers 500 (KB 163166 shows a 500 "module could not be found" page, for IIS 1.0
//!   to 5.0; that IIS 6.0 keeps it is a decision, no IIS 6.0 source says);
//! - an extension whose GetExtensionVersion returns FALSE: 500 with the error it set
//!   (UNVERIFIED: the status IIS 6.0 gives for a refused initialisation);
//! - otherwise what HttpExtensionProc answered: the status it set in its
//!   EXTENSION_CONTROL_BLOCK, or 500 when it returned HSE_STATUS_ERROR.
//!
//! An extension that crashes or hangs takes its process down with it. For a pool's w3wp.exe
//! WAS counts that as a worker failure, as for any worker's, towards rapid-fail protection
//! (`iis6.rs`). What becomes of inetinfo.exe or a dllhost.exe is not modelled: the next
//! request finds them as before.

use crate::host::{HostRun, ImageLoad};
use crate::report::RequestOutcome;
use crate::vocab::{HostEnd, Win32Error};

/// `HSE_STATUS_ERROR` from httpext.h.
const HSE_STATUS_ERROR: u32 = 4;

/// The answer to `request` (addressed, not yet answered) when the Web Service Extension list
/// prohibits its extension.
pub fn prohibited(request: RequestOutcome) -> RequestOutcome {
    RequestOutcome {
        status: Some(404),
        substatus: Some(2),
        win32_error: Some(Win32Error::ACCESS_DISABLED_BY_POLICY),
        ..request
    }
}

/// The 500 IIS answers `request` with when its extension failed; `win32_error` is what IIS logs
/// as the request's Win32 status: the loader's or the extension's error, if any.
pub fn failed(request: RequestOutcome, win32_error: Option<Win32Error>) -> (u16, RequestOutcome) {
    (500, RequestOutcome { status: Some(500), substatus: None, win32_error, ..request })
}

/// The answer to `request` (addressed, not yet answered), read from the report of the host
/// that loaded its extension (`image`, with the host's end in `run`), with its status apart
/// for the timeline.
pub fn answer(request: RequestOutcome, run: &HostRun, image: &ImageLoad) -> (u16, RequestOutcome) {
    let error = |status: u16, win32_error| {
        (status, RequestOutcome { status: Some(status), substatus: None, win32_error, ..request })
    };
    if let Some(load_error) = image.load_error() {
        return error(500, Some(load_error));
    }
    if let Some(lookup) = image.exports.and_then(|exports| exports.lookup_error) {
        return error(500, Some(lookup));
    }
    if let Some(version) = &image.version
        && !version.accepted
    {
        let set = (version.last_error != Win32Error(0)).then_some(version.last_error);
        return error(500, set);
    }
    match image.request {
        Some(request) if request.returned == Some(HSE_STATUS_ERROR) => error(500, None),
        Some(request) => match request.http_status.and_then(|s| u16::try_from(s).ok()) {
            Some(status) => error(status, None),
            None => error(500, None),
        },
        // The host died inside the extension (or never got to the request).
        None => match run.end {
            HostEnd::Completed => error(500, None),
            _ => error(500, Some(Win32Error::PROCESS_ABORTED)),
        },
    }
}

#[cfg(test)]
mod tests {}
