//! The host protocol: what the harness asks of one host process, and the reading of its report.
//!
//! The host (`harness/host`) is told on its command line what to probe and what to load, each
//! image with the entry points of its kind, and prints one JSON object per step, each on a
//! line of its own that starts with [`MARKER`] (which carries the protocol version). Anything
//! else a host prints is a loaded DLL's own output: it is kept, as that image's output, and
//! never parsed. This module turns the marked lines, and the way the process ended, into a
//! [`HostRun`]: the only place load results come from. Reading is strict: a marked line that
//! does not parse, or steps that contradict each other or the plan, are an error of the harness
//! (never a default error code), because a drift between the two sides must show as what it is.

use std::ffi::OsString;
use std::time::Duration;

use serde::Deserialize;

use crate::arch::Bits;
use crate::process::Finished;
use crate::vocab::{HostEnd, ImageKind, ProcessName, Win32Error};
use crate::winpath::WinPath;

/// The start of every report line, with the protocol version. `harness/host/src/windows.rs`
/// writes the same text; the tidy test keeps the two equal.
pub const MARKER: &str = "@isapi-host/1 ";

/// How much of a loaded DLL's own output is kept per image, in lines.
const OUTPUT_LINES_KEPT: usize = 20;

/// What to ask of one host process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    pub bits: Bits,
    pub process: ProcessName,
    /// Paths whose existence (and the file a process of `bits` actually opens) to report first.
    pub probes: Vec<WinPath>,
    /// The images to load, in order, each as its kind.
    pub images: Vec<PlannedImage>,
    /// IIS gives up on the first image that fails; `diagnose` wants every answer.
    pub stop_at_first_failure: bool,
    /// Look for each image's file (`GetFileAttributesW`) before loading it, as IIS does for a
    /// filter: a missing file then fails with the check's own error, never reaching the loader.
    pub probe_before_load: bool,
    /// Send one request through the loaded images (filters: an end-of-request notification;
    /// extensions: one `HttpExtensionProc` call).
    pub request: bool,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    pub kind: ImageKind,
    pub path: WinPath,
}

/// Everything one host process reported, and how it ended.
#[derive(Debug, Clone)]
pub struct HostRun {
    pub bits: Bits,
    pub process: ProcessName,
    pub pid: Option<u32>,
    pub probes: Vec<Probe>,
    /// One entry per planned image the host began to load, in plan order.
    pub images: Vec<ImageLoad>,
    pub end: HostEnd,
    pub elapsed: Duration,
    /// How many times the process had to be started before it reached its first report line.
    pub start_attempts: u32,
    /// Output no image can be blamed for (written before the first load began).
    pub stray_output: Vec<String>,
}

/// What the host found at a probed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub path: String,
    pub exists: bool,
    /// The error of the existence check when the file is not there (2 or 3).
    pub error: Option<Win32Error>,
    /// The file the process really opened, by its final path, which shows WOW64 redirection.
    pub opened: Option<String>,
}

/// One image's story inside a host, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLoad {
    pub kind: ImageKind,
    /// The planned Windows path (the host's own line named the file it was given for it).
    pub path: String,
    /// The file-existence check's error when the file was not there; the loader was then
    /// never called (see [`HostPlan::probe_before_load`]).
    pub absent: Option<Win32Error>,
    /// None when the host never finished the LoadLibraryExW call for it.
    pub load: Option<Result<(), Win32Error>>,
    pub exports: Option<Exports>,
    /// What the kind's version call (`GetFilterVersion`, `GetExtensionVersion`) returned.
    pub version: Option<VersionCall>,
    /// What the request entry point returned, when a request was sent and the image takes it.
    pub request: Option<RequestCall>,
    pub terminated: Option<bool>,
    /// The entry point the host was inside when the report stopped (for crashes and hangs).
    pub last_call: Option<String>,
    /// What the DLL printed itself while this image was being handled (the first lines).
    pub output: Vec<String>,
}

impl ImageLoad {
    /// An image of `kind` at `path` before any step of its story is known.
    pub fn new(kind: ImageKind, path: String) -> ImageLoad {
        ImageLoad {
            kind,
            path,
            absent: None,
            load: None,
            exports: None,
            version: None,
            request: None,
            terminated: None,
            last_call: None,
            output: Vec::new(),
        }
    }

    /// Whether LoadLibraryExW returned a module; None when it never returned.
    pub fn loaded(&self) -> Option<bool> {
        self.load.map(|result| result.is_ok())
    }

    /// The loader's error, when LoadLibraryExW failed.
    pub fn load_error(&self) -> Option<Win32Error> {
        self.load.and_then(Result::err)
    }

    /// Loaded, entry point found, and (where there is one) the version call accepted.
    fn usable(&self) -> bool {
        self.load == Some(Ok(()))
            && self.exports.is_some_and(|exports| exports.entry_point)
            && (self.kind == ImageKind::Module || self.version.as_ref().is_some_and(|v| v.accepted))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exports {
    /// The kind's required export (`GetFilterVersion`, `GetExtensionVersion`, `RegisterModule`).
    pub entry_point: bool,
    /// `HttpFilterProc` or `HttpExtensionProc`.
    pub request_proc: bool,
    /// `TerminateFilter` or `TerminateExtension`.
    pub terminate: bool,
    /// GetLastError after looking up the entry point, when it was missing (127).
    pub lookup_error: Option<Win32Error>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCall {
    pub accepted: bool,
    /// GetLastError after the call, cleared to 0 before it.
    pub last_error: Win32Error,
    pub version: u32,
    /// The SF_NOTIFY_* flags a filter asked for (0 for extensions).
    pub flags: u32,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCall {
    /// What the entry point returned; None when the image did not take the request (a filter
    /// not registered for the notification).
    pub returned: Option<u32>,
    /// The status an extension set in its EXTENSION_CONTROL_BLOCK.
    pub http_status: Option<u32>,
}

/// The command-line arguments that ask the host for `plan`, given the path each image and
/// probe is handed to the loader under (the backend decides those).
pub fn arguments(
    plan: &HostPlan,
    probe_paths: &[OsString],
    image_paths: &[OsString],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    if plan.stop_at_first_failure {
        args.push("--stop-at-first-failure".into());
    }
    if plan.probe_before_load {
        args.push("--probe-before-load".into());
    }
    if plan.request {
        args.push("--request".into());
    }
    for path in probe_paths {
        args.push("--probe".into());
        args.push(path.clone());
    }
    for (image, path) in plan.images.iter().zip(image_paths) {
        args.push(image.kind.host_flag().into());
        args.push(path.clone());
    }
    args
}

/// One report line of protocol version 1.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Started {
        bits: u32,
        process: String,
        pid: u32,
    },
    Probed {
        index: usize,
        path: String,
        exists: bool,
        win32_error: Option<u32>,
        opened: Option<String>,
    },
    Loading {
        index: usize,
        kind: ImageKind,
        path: String,
    },
    Absent {
        index: usize,
        win32_error: u32,
    },
    Loaded {
        index: usize,
        ok: bool,
        win32_error: Option<u32>,
    },
    Exports {
        index: usize,
        entry_point: bool,
        request_proc: bool,
        terminate: bool,
        win32_error: Option<u32>,
    },
    Calling {
        index: usize,
        function: String,
    },
    Version {
        index: usize,
        returned: bool,
        last_error: u32,
        version: u32,
        flags: u32,
        description: String,
    },
    Notified {
        index: usize,
        returned: Option<u32>,
        http_status: Option<u32>,
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

impl<'de> Deserialize<'de> for ImageKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        [ImageKind::Filter, ImageKind::Extension, ImageKind::Module]
            .into_iter()
            .find(|kind| kind.to_string() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown image kind `{name}`")))
    }
}

/// Why a host's report could not be read.
#[derive(Debug)]
pub enum ReportError {
    /// The process ended without writing its first report line: it never ran, so there is no
    /// result to read, and starting it again is honest.
    NotStarted { exit_code: Option<i32>, stderr_tail: String },
    /// The report contradicts itself or the plan: a defect of the harness or the host build.
    Inconsistent(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::NotStarted { exit_code, stderr_tail } => {
                let exit = match exit_code {
                    Some(code) => format!("exit code {code}"),
                    None => "no exit code".to_owned(),
                };
                let said = if stderr_tail.is_empty() {
                    "it printed nothing".to_owned()
                } else {
                    format!("it printed: {stderr_tail}")
                };
                write!(f, "the host program ended before its first report line ({exit}); {said}")
            }
            ReportError::Inconsistent(what) => {
                write!(f, "the host's report is inconsistent: {what}")
            }
        }
    }
}

impl std::error::Error for ReportError {}

/// Reads a finished host process's report against the plan it was started with. `image_paths`
/// are the paths the host was given for the planned images, in order.
pub fn read_report(
    plan: &HostPlan,
    image_paths: &[OsString],
    finished: &Finished,
) -> Result<HostRun, ReportError> {
    let mut reader = Reader {
        plan,
        image_paths,
        run: HostRun {
            bits: plan.bits,
            process: plan.process,
            pid: None,
            probes: Vec::new(),
            images: Vec::new(),
            end: HostEnd::Died { exit_code: finished.status.and_then(|s| s.code()) },
            elapsed: finished.elapsed,
            start_attempts: 1,
            stray_output: Vec::new(),
        },
        started: false,
        finished: false,
    };
    for (number, raw) in finished.stdout.lines().enumerate() {
        match raw.strip_prefix(MARKER) {
            Some(json) => reader.line(json).map_err(|what| {
                ReportError::Inconsistent(format!("{what} (report line {}: `{raw}`)", number + 1))
            })?,
            None => reader.output(raw),
        }
    }
    if finished.timed_out() {
        reader.run.end = HostEnd::TimedOut;
    }
    if finished.flooded {
        reader.run.end = HostEnd::Flooded;
    }
    if !reader.started && finished.status.is_some() {
        // Wine exits with 0 when it cannot start a 32-bit program at all, so "no report" is
        // never taken for success.
        let tail: String = finished.stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(ReportError::NotStarted {
            exit_code: finished.status.and_then(|s| s.code()),
            stderr_tail: tail,
        });
    }
    Ok(reader.run)
}

struct Reader<'a> {
    plan: &'a HostPlan,
    image_paths: &'a [OsString],
    run: HostRun,
    started: bool,
    finished: bool,
}

impl Reader<'_> {
    fn line(&mut self, json: &str) -> Result<(), String> {
        let line: Line =
            serde_json::from_str(json).map_err(|error| format!("unreadable: {error}"))?;
        if self.finished {
            return Err("a line after `done` or `crashed`".to_owned());
        }
        if !self.started && !matches!(line, Line::Started { .. } | Line::Crashed { .. }) {
            return Err("a step before `started`".to_owned());
        }
        match line {
            Line::Started { bits, process, pid } => {
                if self.started {
                    return Err("a second `started`".to_owned());
                }
                if bits != self.plan.bits.number() {
                    return Err(format!(
                        "the {} host says it is {bits}-bit; the build under target/isapi-harness/hosts is wrong, run `cargo xtask build`",
                        self.plan.bits
                    ));
                }
                if !process.eq_ignore_ascii_case(self.plan.process.file_name()) {
                    return Err(format!(
                        "asked for {}, the host runs as {process}",
                        self.plan.process
                    ));
                }
                self.started = true;
                self.run.pid = Some(pid);
            }
            Line::Probed { index, path, exists, win32_error, opened } => {
                if index != self.run.probes.len() || index >= self.plan.probes.len() {
                    return Err(format!("probe {index} out of order"));
                }
                if exists == win32_error.is_some() {
                    return Err(
                        "a probe must give an error exactly when the file is missing".to_owned()
                    );
                }
                self.run.probes.push(Probe {
                    path,
                    exists,
                    error: win32_error.map(Win32Error),
                    opened,
                });
            }
            Line::Loading { index, kind, path } => {
                if index != self.run.images.len() || index >= self.plan.images.len() {
                    return Err(format!("image {index} out of order or not asked for"));
                }
                let planned = &self.plan.images[index];
                if kind != planned.kind {
                    return Err(format!(
                        "image {index} loaded as a {kind}, asked for as a {}",
                        planned.kind
                    ));
                }
                if self.image_paths.get(index).map(|p| p.to_string_lossy())
                    != Some(path.as_str().into())
                {
                    return Err(format!(
                        "image {index} is `{path}`, which is not the path asked for"
                    ));
                }
                if self.plan.stop_at_first_failure
                    && self.run.images.iter().any(|image| !image.usable())
                {
                    return Err(
                        "a load after a failure, though the host was told to stop".to_owned()
                    );
                }
                // The machine's Windows path: on the windows backend the host was given (and
                // has just named) the sandbox's copy, which is no path of the server.
                self.run.images.push(ImageLoad::new(kind, planned.path.as_str().to_owned()));
            }
            Line::Absent { index, win32_error } => {
                if !self.plan.probe_before_load {
                    return Err("`absent`, though the host was not told to look first".to_owned());
                }
                let image = self.image(
                    index,
                    |image| image.load.is_none() && image.absent.is_none(),
                    "`absent`",
                )?;
                image.absent = Some(Win32Error(win32_error));
            }
            Line::Loaded { index, ok, win32_error } => {
                let image = self.image(
                    index,
                    |image| image.load.is_none() && image.absent.is_none(),
                    "`loaded`",
                )?;
                image.load = Some(match (ok, win32_error) {
                    (true, None) => Ok(()),
                    (false, Some(error)) => Err(Win32Error(error)),
                    _ => {
                        return Err(
                            "`loaded` must carry an error exactly when it failed".to_owned()
                        );
                    }
                });
            }
            Line::Exports { index, entry_point, request_proc, terminate, win32_error } => {
                let image = self.image(
                    index,
                    |image| image.load == Some(Ok(())) && image.exports.is_none(),
                    "`exports`",
                )?;
                if entry_point == win32_error.is_some() {
                    return Err(
                        "`exports` must carry an error exactly when the entry point is missing"
                            .to_owned(),
                    );
                }
                image.exports = Some(Exports {
                    entry_point,
                    request_proc,
                    terminate,
                    lookup_error: win32_error.map(Win32Error),
                });
            }
            Line::Calling { index, function } => {
                let image = self.image(index, |image| image.exports.is_some(), "`calling`")?;
                image.last_call = Some(function);
            }
            Line::Version { index, returned, last_error, version, flags, description } => {
                let image = self.image(
                    index,
                    |image| image.exports.is_some_and(|e| e.entry_point) && image.version.is_none(),
                    "a version call",
                )?;
                image.last_call = None;
                image.version = Some(VersionCall {
                    accepted: returned,
                    last_error: Win32Error(last_error),
                    version,
                    flags,
                    description,
                });
            }
            Line::Notified { index, returned, http_status } => {
                let image = self.image(
                    index,
                    |image| {
                        image.version.as_ref().is_some_and(|v| v.accepted)
                            && image.request.is_none()
                    },
                    "a request",
                )?;
                image.last_call = None;
                image.request = Some(RequestCall { returned, http_status });
            }
            Line::Terminated { index, returned } => {
                let image = self.image(
                    index,
                    |image| {
                        image.version.as_ref().is_some_and(|v| v.accepted)
                            && image.terminated.is_none()
                    },
                    "`terminated`",
                )?;
                image.last_call = None;
                image.terminated = Some(returned);
            }
            Line::Crashed { exception_code } => {
                self.run.end = HostEnd::Crashed { exception_code };
                self.finished = true;
            }
            Line::Done => {
                self.run.end = HostEnd::Completed;
                self.finished = true;
            }
        }
        Ok(())
    }

    /// The image a step names, if the step may come now.
    fn image(
        &mut self,
        index: usize,
        allowed: impl Fn(&ImageLoad) -> bool,
        step: &str,
    ) -> Result<&mut ImageLoad, String> {
        match self.run.images.get_mut(index) {
            Some(image) if allowed(image) => Ok(image),
            Some(_) => Err(format!("{step} out of order for image {index}")),
            None => Err(format!("{step} for image {index}, which was not being loaded")),
        }
    }

    /// A line the host did not write: a loaded DLL's own printing, kept for the image being
    /// handled, never parsed.
    fn output(&mut self, raw: &str) {
        let kept = match self.run.images.last_mut() {
            Some(image) => &mut image.output,
            None => &mut self.run.stray_output,
        };
        if kept.len() < OUTPUT_LINES_KEPT {
            kept.push(raw.chars().take(500).collect());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(images: &[(ImageKind, &str)]) -> HostPlan {
        HostPlan {
            bits: Bits::B64,
            process: ProcessName::Inetinfo,
            probes: Vec::new(),
            images: images
                .iter()
                .map(|(kind, path)| PlannedImage {
                    kind: *kind,
                    path: WinPath::parse(path).unwrap(),
                })
                .collect(),
            stop_at_first_failure: true,
            probe_before_load: false,
            request: true,
            timeout: Duration::from_secs(1),
        }
    }

    fn finished(lines: &[&str], exit_code: Option<i32>) -> Finished {
        Finished {
            status: exit_code.map(exit_status),
            stdout: lines.iter().map(|line| format!("{line}\n")).collect(),
            stderr: String::new(),
            elapsed: Duration::from_millis(20),
            flooded: false,
        }
    }

    #[cfg(unix)]
    fn exit_status(code: i32) -> std::process::ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(code << 8)
    }

    #[cfg(windows)]
    fn exit_status(code: i32) -> std::process::ExitStatus {
        use std::os::windows::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(code as u32)
    }

    fn marked(json: &str) -> String {
        format!("{MARKER}{json}")
    }

    fn read(plan: &HostPlan, lines: &[String], exit: Option<i32>) -> Result<HostRun, ReportError> {
        let paths: Vec<OsString> = plan.images.iter().map(|i| i.path.as_str().into()).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        read_report(plan, &paths, &finished(&lines, exit))
    }

    const STARTED: &str = r#"{"event":"started","bits":64,"process":"inetinfo.exe","pid":42}"#;

    #[test]
    fn a_wrong_bitness_load_is_read_as_the_loader_said() {
        let plan = plan(&[(ImageKind::Filter, r"C:\f.dll")]);
        let lines = [
            marked(STARTED),
            marked(r#"{"event":"loading","index":0,"kind":"filter","path":"C:\\f.dll"}"#),
            marked(r#"{"event":"loaded","index":0,"ok":false,"win32_error":193}"#),
            marked(r#"{"event":"done"}"#),
        ];
        let run = read(&plan, &lines, Some(0)).unwrap();
        assert_eq!(run.pid, Some(42));
        assert_eq!(run.end, HostEnd::Completed);
        assert_eq!(run.images[0].load_error(), Some(Win32Error::BAD_EXE_FORMAT));
        assert_eq!(run.images[0].loaded(), Some(false));
    }

    #[test]
    fn a_filter_s_own_printing_is_kept_and_never_parsed() {
        let plan = plan(&[(ImageKind::Filter, r"C:\f.dll")]);
        let forged_without_marker = r#"{"event":"loaded","index":0,"ok":false,"win32_error":5}"#;
        let lines = [
            marked(STARTED),
            marked(r#"{"event":"loading","index":0,"kind":"filter","path":"C:\\f.dll"}"#),
            forged_without_marker.to_owned(),
            "hello from DllMain".to_owned(),
            marked(r#"{"event":"loaded","index":0,"ok":true,"win32_error":null}"#),
            marked(r#"{"event":"done"}"#),
        ];
        let run = read(&plan, &lines, Some(0)).unwrap();
        assert_eq!(run.images[0].load, Some(Ok(())));
        assert_eq!(run.images[0].output, [forged_without_marker, "hello from DllMain"]);
    }

    #[test]
    fn inconsistent_reports_are_errors_not_outcomes() {
        let plan = plan(&[(ImageKind::Filter, r"C:\f.dll")]);
        let loading = marked(r#"{"event":"loading","index":0,"kind":"filter","path":"C:\\f.dll"}"#);
        let cases: &[(&[String], &str)] = &[
            (
                &[
                    marked(STARTED),
                    marked(r#"{"event":"loaded","index":0,"ok":true,"win32_error":null}"#),
                ],
                "not being loaded",
            ),
            (
                &[
                    marked(STARTED),
                    loading.clone(),
                    marked(r#"{"event":"loaded","index":0,"ok":false,"win32_error":null}"#),
                ],
                "exactly when it failed",
            ),
            (
                &[
                    marked(STARTED),
                    marked(r#"{"event":"loading","index":1,"kind":"filter","path":"C:\\g.dll"}"#),
                ],
                "not asked for",
            ),
            (
                &[
                    marked(STARTED),
                    marked(r#"{"event":"loading","index":0,"kind":"module","path":"C:\\f.dll"}"#),
                ],
                "asked for as a filter",
            ),
            (&[marked(STARTED), marked("{not json")], "unreadable"),
            (
                &[
                    marked(STARTED),
                    marked(
                        r#"{"event":"loaded","index":0,"ok":true,"win32_error":null,"extra":1}"#,
                    ),
                ],
                "unreadable",
            ),
            (
                &[
                    marked(STARTED),
                    loading.clone(),
                    marked(
                        r#"{"event":"exports","index":0,"entry_point":true,"request_proc":true,"terminate":true,"win32_error":null}"#,
                    ),
                ],
                "out of order",
            ),
            (
                &[marked(r#"{"event":"started","bits":32,"process":"inetinfo.exe","pid":1}"#)],
                "32-bit",
            ),
            (
                &[marked(STARTED), marked(r#"{"event":"done"}"#), marked(r#"{"event":"done"}"#)],
                "after `done`",
            ),
        ];
        for (lines, expected) in cases {
            match read(&plan, lines, Some(0)) {
                Err(ReportError::Inconsistent(what)) => {
                    assert!(what.contains(expected), "{what} should say {expected}")
                }
                other => panic!("{lines:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_host_that_never_reported_did_not_start() {
        let plan = plan(&[]);
        match read(&plan, &[], Some(1)) {
            Err(ReportError::NotStarted { exit_code: Some(1), .. }) => {}
            other => panic!("{other:?}"),
        }
        // A host killed for its time before it said anything is a hang, not a failed start.
        let mut hung = finished(&[], None);
        hung.status = None;
        assert_eq!(read_report(&plan, &[], &hung).unwrap().end, HostEnd::TimedOut);
    }

    #[test]
    fn a_crash_inside_get_filter_version_says_where() {
        let plan = plan(&[(ImageKind::Filter, r"C:\f.dll")]);
        let lines = [
            marked(STARTED),
            marked(r#"{"event":"loading","index":0,"kind":"filter","path":"C:\\f.dll"}"#),
            marked(r#"{"event":"loaded","index":0,"ok":true,"win32_error":null}"#),
            marked(
                r#"{"event":"exports","index":0,"entry_point":true,"request_proc":true,"terminate":false,"win32_error":null}"#,
            ),
            marked(r#"{"event":"calling","index":0,"function":"GetFilterVersion"}"#),
            marked(r#"{"event":"crashed","exception_code":3221225477}"#),
        ];
        let run = read(&plan, &lines, Some(-1073741819)).unwrap();
        assert_eq!(run.end, HostEnd::Crashed { exception_code: 0xC000_0005 });
        assert_eq!(run.images[0].last_call.as_deref(), Some("GetFilterVersion"));
        assert!(run.images[0].version.is_none());
    }

    #[test]
    fn arguments_name_each_image_by_its_kind() {
        let plan = plan(&[(ImageKind::Filter, r"C:\f.dll"), (ImageKind::Module, r"C:\m.dll")]);
        let args =
            arguments(&plan, &["C:\\p.txt".into()], &["C:\\f.dll".into(), "C:\\m.dll".into()]);
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            [
                "--stop-at-first-failure",
                "--request",
                "--probe",
                "C:\\p.txt",
                "--filter",
                "C:\\f.dll",
                "--module",
                "C:\\m.dll"
            ]
        );
    }
}
