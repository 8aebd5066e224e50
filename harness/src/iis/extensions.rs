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

use crate::arch::{Bits, Os};
use crate::host::{HostRun, ImageLoad};
use crate::report::ExtensionProcess;
use crate::vocab::{HostEnd, IsolationMode, ProcessName, Win32Error};

/// `HSE_STATUS_ERROR` from httpext.h.
const HSE_STATUS_ERROR: u32 = 4;

/// How an application is protected in IIS 5.0 isolation mode (`AppIsolated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// 0: in the IIS process.
    Low,
    /// 1: a process of its own.
    High,
    /// 2 (and the default): one process shared by every pooled application.
    Medium,
}

impl Protection {
    pub fn from_app_isolated(value: u32) -> Protection {
        match value {
            0 => Protection::Low,
            1 => Protection::High,
            _ => Protection::Medium,
        }
    }
}

/// The process that runs an extension for an application, its bitness, and why.
pub fn extension_host(
    os: Os,
    mode: IsolationMode,
    enable_32bit: bool,
    protection: Protection,
    in_process_isapi_app: bool,
) -> (ProcessName, Bits, ExtensionProcess) {
    let native = os.native_bits();
    match mode {
        IsolationMode::WorkerProcess => {
            let (process, bits) =
                super::iis6::filter_host(os, IsolationMode::WorkerProcess, enable_32bit);
            (process, bits, ExtensionProcess::PoolWorker)
        }
        IsolationMode::Iis5 if in_process_isapi_app => {
            (ProcessName::Inetinfo, native, ExtensionProcess::InProcessIsapiApp)
        }
        IsolationMode::Iis5 => match protection {
            Protection::Low => (ProcessName::Inetinfo, native, ExtensionProcess::LowProtection),
            Protection::Medium => {
                (ProcessName::Dllhost, native, ExtensionProcess::MediumProtection)
            }
            Protection::High => (ProcessName::Dllhost, native, ExtensionProcess::HighProtection),
        },
    }
}

/// What the client got for a request handled by an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionAnswer {
    pub status: u16,
    pub substatus: Option<u16>,
    /// What IIS logs as the request's Win32 status: the loader's or the extension's error.
    pub win32_error: Option<Win32Error>,
}

/// The answer to a request whose extension the Web Service Extension list prohibits.
pub fn prohibited() -> ExtensionAnswer {
    ExtensionAnswer {
        status: 404,
        substatus: Some(2),
        win32_error: Some(Win32Error::ACCESS_DISABLED_BY_POLICY),
    }
}

/// The answer to a request, read from the report of the host that loaded its extension
/// (`image`, with the host's end in `run`).
pub fn answer(run: &HostRun, image: &ImageLoad) -> ExtensionAnswer {
    let error = |status, win32_error| ExtensionAnswer { status, substatus: None, win32_error };
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
mod tests {
    use super::*;

    #[test]
    fn the_process_follows_the_mode_and_the_protection() {
        let host = |mode, enable_32bit, protection, in_process| {
            let (process, bits, _) =
                extension_host(Os::X64, mode, enable_32bit, protection, in_process);
            (process, bits)
        };
        use IsolationMode::{Iis5, WorkerProcess};
        assert_eq!(
            host(WorkerProcess, true, Protection::Medium, false),
            (ProcessName::W3wp, Bits::B32)
        );
        assert_eq!(
            host(WorkerProcess, false, Protection::Low, true),
            (ProcessName::W3wp, Bits::B64)
        );
        assert_eq!(host(Iis5, true, Protection::Low, false), (ProcessName::Inetinfo, Bits::B64));
        assert_eq!(host(Iis5, true, Protection::Medium, false), (ProcessName::Dllhost, Bits::B64));
        assert_eq!(host(Iis5, false, Protection::High, false), (ProcessName::Dllhost, Bits::B64));
        assert_eq!(host(Iis5, false, Protection::High, true), (ProcessName::Inetinfo, Bits::B64));
        assert_eq!(
            extension_host(Os::X86, Iis5, false, Protection::Medium, false),
            (ProcessName::Dllhost, Bits::B32, ExtensionProcess::MediumProtection)
        );
        assert_eq!(Protection::from_app_isolated(2), Protection::Medium);
        assert_eq!(Protection::from_app_isolated(1), Protection::High);
    }
}
