//! Running the host program and reading its report.
//!
//! The host (`harness/host`) prints one JSON object per step. This module turns those lines,
//! and the way the process ended, into a [`HostRun`]: the only place load results come from.

use std::time::Duration;

use serde::Deserialize;

use crate::arch::Bits;
use crate::artifacts::ProcessName;
use crate::process::Finished;

/// What to ask of one host process.
#[derive(Debug, Clone)]
pub struct HostRequest {
    pub bits: Bits,
    pub process: ProcessName,
    /// IIS gives up on the first filter that fails; `diagnose` wants every answer.
    pub stop_at_first_failure: bool,
    /// Send one request (an end-of-request notification) through the loaded filters.
    pub request: bool,
    pub timeout: Duration,
}

/// Everything one host process reported, and how it ended.
#[derive(Debug, Clone)]
pub struct HostRun {
    pub bits: Bits,
    pub process: ProcessName,
    pub pid: Option<u32>,
    pub filters: Vec<FilterLoad>,
    pub end: HostEnd,
    pub elapsed: Duration,
    /// How many times the process was started before it ran (see `Machine::run_host`).
    pub start_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEnd {
    /// The host went through every step and said so.
    Completed,
    /// An exception nobody handled ended the process (the exception code, e.g. 0xC0000005).
    Crashed { exception_code: u32 },
    /// The process ended without finishing its report, with this exit code.
    Died { exit_code: Option<i32> },
    /// Killed by the harness after the time limit.
    TimedOut,
    /// Killed by the harness for writing more output than any report needs.
    Flooded,
}

/// One filter's story inside a host, as far as it got.
#[derive(Debug, Clone, Default)]
pub struct FilterLoad {
    pub path: String,
    /// None when the host never finished the LoadLibraryExW call for it.
    pub loaded: Option<bool>,
    pub load_error: Option<u32>,
    pub exports: Option<Exports>,
    pub version: Option<FilterVersion>,
    /// The value HttpFilterProc returned for the request, when one was sent and registered for.
    pub notified: Option<u32>,
    pub terminated: Option<bool>,
    /// The entry point the host was inside when the report stopped (for crashes and hangs).
    pub last_call: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exports {
    pub get_filter_version: bool,
    pub http_filter_proc: bool,
    pub terminate_filter: bool,
    /// GetLastError after looking up GetFilterVersion, when it was missing (127).
    pub lookup_error: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterVersion {
    pub accepted: bool,
    pub last_error: u32,
    pub filter_version: u32,
    pub flags: u32,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Started {
        bits: u32,
        pid: u32,
    },
    Loading {
        index: usize,
        path: String,
    },
    Loaded {
        index: usize,
        ok: bool,
        win32_error: Option<u32>,
    },
    Exports {
        index: usize,
        get_filter_version: bool,
        http_filter_proc: bool,
        terminate_filter: bool,
        win32_error: Option<u32>,
    },
    Calling {
        index: usize,
        function: String,
    },
    FilterVersion {
        index: usize,
        returned: bool,
        last_error: u32,
        filter_version: u32,
        flags: u32,
        description: String,
    },
    Notified {
        index: usize,
        returned: Option<u32>,
    },
    Terminated {
        index: usize,
        returned: bool,
    },
    Crashed {
        exception_code: u32,
    },
    Done,
}

/// Reads a finished host process's report. Fails only when the process did not run at all,
/// which is an environment problem, never a filter outcome.
pub fn read_report(request: &HostRequest, finished: &Finished) -> anyhow::Result<HostRun> {
    let mut run = HostRun {
        bits: request.bits,
        process: request.process,
        pid: None,
        filters: Vec::new(),
        end: HostEnd::Died { exit_code: finished.status.and_then(|s| s.code()) },
        elapsed: finished.elapsed,
        start_attempts: 1,
    };
    let mut started = false;
    for raw in finished.stdout.lines().filter(|line| line.starts_with('{')) {
        // A filter may print to stdout too; only our own lines parse as report events.
        let Ok(line) = serde_json::from_str::<Line>(raw) else { continue };
        match line {
            Line::Started { bits, pid } => {
                started = true;
                run.pid = Some(pid);
                if bits != request.bits.number() {
                    anyhow::bail!(
                        "the {} host reported itself as {bits}-bit; the build under target/isapi-harness/hosts is wrong, run `cargo xtask build`",
                        request.bits
                    );
                }
            }
            Line::Loading { index, path } => {
                if run.filters.len() <= index {
                    run.filters.resize_with(index + 1, FilterLoad::default);
                }
                run.filters[index].path = path;
            }
            Line::Loaded { index, ok, win32_error } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.loaded = Some(ok);
                    filter.load_error = win32_error;
                }
            }
            Line::Exports {
                index,
                get_filter_version,
                http_filter_proc,
                terminate_filter,
                win32_error,
            } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.exports = Some(Exports {
                        get_filter_version,
                        http_filter_proc,
                        terminate_filter,
                        lookup_error: win32_error,
                    });
                }
            }
            Line::Calling { index, function } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.last_call = Some(function);
                }
            }
            Line::FilterVersion {
                index,
                returned,
                last_error,
                filter_version,
                flags,
                description,
            } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.last_call = None;
                    filter.version = Some(FilterVersion {
                        accepted: returned,
                        last_error,
                        filter_version,
                        flags,
                        description,
                    });
                }
            }
            Line::Notified { index, returned } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.last_call = None;
                    filter.notified = returned;
                }
            }
            Line::Terminated { index, returned } => {
                if let Some(filter) = run.filters.get_mut(index) {
                    filter.last_call = None;
                    filter.terminated = Some(returned);
                }
            }
            Line::Crashed { exception_code } => run.end = HostEnd::Crashed { exception_code },
            Line::Done => run.end = HostEnd::Completed,
        }
    }
    if finished.timed_out() {
        run.end = HostEnd::TimedOut;
    }
    if finished.flooded {
        run.end = HostEnd::Flooded;
    }
    if !started && finished.status.is_some() {
        // Wine exits with 0 when it cannot start a 32-bit program at all, so "no report" is
        // never taken for success.
        let tail: String = finished.stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        anyhow::bail!(
            "the {} host program did not start (exit status {:?}): {}; run `cargo xtask setup` and `cargo xtask build`",
            request.bits,
            finished.status.and_then(|s| s.code()),
            if tail.is_empty() { "it printed nothing".to_owned() } else { tail }
        );
    }
    Ok(run)
}
