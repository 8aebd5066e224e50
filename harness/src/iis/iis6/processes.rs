//! Which process of which bitness IIS 6.0 runs each kind of image in: the global filters (the
//! heart of the model) and the ISAPI extension an application's request maps to. Pure
//! decisions, each with its source in the comments of `extensions.rs` and `mod.rs`.

use crate::arch::{Bits, Os};
use crate::report::{Enable32BitEffect, ExtensionProcess};
use crate::vocab::{IsolationMode, ProcessName};

/// The process that loads the global filters, and its bitness: the heart of the model.
/// IIS Admin (inetinfo.exe) is native only, so in IIS 5.0 isolation mode `Enable32BitAppOnWin64`
/// changes nothing; worker processes honour it on x64; 32-bit Windows has only 32-bit processes.
pub fn filter_host(
    os: Os,
    isolation_mode: IsolationMode,
    enable_32bit: bool,
) -> (ProcessName, Bits) {
    match (isolation_mode, os) {
        (IsolationMode::Iis5, _) => (ProcessName::Inetinfo, os.native_bits()),
        (IsolationMode::WorkerProcess, Os::X86) => (ProcessName::W3wp, Bits::B32),
        (IsolationMode::WorkerProcess, Os::X64) if enable_32bit => (ProcessName::W3wp, Bits::B32),
        (IsolationMode::WorkerProcess, Os::X64) => (ProcessName::W3wp, Bits::B64),
    }
}

/// What `Enable32BitAppOnWin64` does in this configuration, read off the same decision.
pub(super) fn enable_32bit_effect(
    os: Os,
    mode: IsolationMode,
    enable_32bit: bool,
) -> Enable32BitEffect {
    let (_, bits) = filter_host(os, mode, enable_32bit);
    match (os, mode) {
        (Os::X86, _) => Enable32BitEffect::IgnoredOn32BitWindows,
        (Os::X64, IsolationMode::Iis5) => Enable32BitEffect::NoEffectInIis5Mode { inetinfo: bits },
        (Os::X64, IsolationMode::WorkerProcess) => Enable32BitEffect::WorkersRun(bits),
    }
}

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
            let (process, bits) = filter_host(os, IsolationMode::WorkerProcess, enable_32bit);
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
