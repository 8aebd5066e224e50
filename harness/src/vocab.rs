//! The words every other module is written in, below all of them: which process, which mode,
//! how far a load got, how a host ended, what an image is loaded as, a Win32 error and its
//! text, an event-log record. Nothing here depends on any other module of the harness except
//! `arch`, so every layer can use it without an import circle.

use std::fmt;

use serde::{Serialize, Serializer};

/// The processes a server model plays with the host program.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub enum ProcessName {
    /// IIS Admin, which hosts the worker-process core in IIS 5.0 isolation mode.
    #[serde(rename = "inetinfo.exe")]
    Inetinfo,
    /// An application pool's worker process.
    #[serde(rename = "w3wp.exe")]
    W3wp,
    /// The COM+ surrogate that runs an out-of-process application (`AppIsolated` 1 or 2) in
    /// IIS 5.0 isolation mode, and the ISAPI extensions it maps.
    #[serde(rename = "dllhost.exe")]
    Dllhost,
    /// IIS Express, which runs one site in its own process, without WAS.
    #[serde(rename = "iisexpress.exe")]
    IisExpress,
}

impl ProcessName {
    pub const ALL: [ProcessName; 4] =
        [ProcessName::Inetinfo, ProcessName::W3wp, ProcessName::Dllhost, ProcessName::IisExpress];

    pub fn file_name(self) -> &'static str {
        match self {
            ProcessName::Inetinfo => "inetinfo.exe",
            ProcessName::W3wp => "w3wp.exe",
            ProcessName::Dllhost => "dllhost.exe",
            ProcessName::IisExpress => "iisexpress.exe",
        }
    }
}

impl fmt::Display for ProcessName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// The real loader a run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Wine on Linux, in the harness's own prefix.
    Wine,
    /// Windows itself.
    Windows,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wine => "wine",
            BackendKind::Windows => "windows",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which IIS a report models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum ServerKind {
    /// IIS 6.0, configured by MetaBase.xml.
    #[serde(rename = "iis6")]
    Iis6,
    /// IIS 7.0 to 10 (and IIS Express), configured by applicationHost.config.
    #[serde(rename = "iis7+")]
    Iis7Plus,
}

/// An IIS 7+ application pool's `managedPipelineMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PipelineMode {
    Integrated,
    Classic,
}

impl fmt::Display for PipelineMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PipelineMode::Integrated => "Integrated",
            PipelineMode::Classic => "Classic",
        })
    }
}

/// IIS 6.0's two ways of running web applications (`IIs5IsolationModeEnabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum IsolationMode {
    #[serde(rename = "iis5")]
    Iis5,
    #[serde(rename = "worker_process")]
    WorkerProcess,
}

impl fmt::Display for IsolationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsolationMode::Iis5 => "IIS 5.0 isolation mode",
            IsolationMode::WorkerProcess => "worker process isolation mode",
        })
    }
}

/// What an image is loaded as, which decides the entry points the host calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// An ISAPI filter: `GetFilterVersion`, `HttpFilterProc`, `TerminateFilter`.
    Filter,
    /// An ISAPI extension: `GetExtensionVersion`, `HttpExtensionProc`, `TerminateExtension`.
    Extension,
    /// An IIS 7+ native module: `RegisterModule`, resolved but never called, since calling it
    /// needs IIS's own server interfaces.
    Module,
}

impl ImageKind {
    /// The command-line flag of the host program that loads an image of this kind.
    pub fn host_flag(self) -> &'static str {
        match self {
            ImageKind::Filter => "--filter",
            ImageKind::Extension => "--extension",
            ImageKind::Module => "--module",
        }
    }

    /// The export that must be found for the image to be usable.
    pub fn entry_point(self) -> &'static str {
        match self {
            ImageKind::Filter => "GetFilterVersion",
            ImageKind::Extension => "GetExtensionVersion",
            ImageKind::Module => "RegisterModule",
        }
    }
}

impl fmt::Display for ImageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageKind::Filter => "filter",
            ImageKind::Extension => "extension",
            ImageKind::Module => "module",
        })
    }
}

/// How far a filter got on its way to being usable by IIS.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Loaded,
    /// IIS looks for the file before it loads it; the file-existence check failed.
    Probe,
    LoadLibrary,
    GetProcAddress,
    GetFilterVersion,
    /// An ISAPI extension's `GetExtensionVersion` returned FALSE or never returned.
    GetExtensionVersion,
    RefusedSilently,
    /// The loader and the filter were both fine; IIS itself refused the filter.
    ReadRawDataRefused,
    NotAttempted,
}

/// How a host process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Killed by the kernel at the run's memory limit (bytes).
    MemoryLimit { limit: u64 },
    /// Refused a new process at the run's process limit.
    ProcessLimit { limit: u64 },
    /// Filled the run's disk to its limit (bytes).
    DiskLimit { limit: u64 },
}

impl HostEnd {
    /// One of each end (the values inside do not matter): the names the JSON Schema lists.
    pub const EACH: [HostEnd; 8] = [
        HostEnd::Completed,
        HostEnd::Crashed { exception_code: 0 },
        HostEnd::Died { exit_code: None },
        HostEnd::TimedOut,
        HostEnd::Flooded,
        HostEnd::MemoryLimit { limit: 0 },
        HostEnd::ProcessLimit { limit: 0 },
        HostEnd::DiskLimit { limit: 0 },
    ];

    /// The one name of each end, in JSON and wherever a machine reads it.
    pub fn name(self) -> &'static str {
        match self {
            HostEnd::Completed => "completed",
            HostEnd::Crashed { .. } => "crashed",
            HostEnd::Died { .. } => "died",
            HostEnd::TimedOut => "timed_out",
            HostEnd::Flooded => "flooded",
            HostEnd::MemoryLimit { .. } => "memory_limit",
            HostEnd::ProcessLimit { .. } => "process_limit",
            HostEnd::DiskLimit { .. } => "disk_limit",
        }
    }

    pub fn exception_code(self) -> Option<u32> {
        match self {
            HostEnd::Crashed { exception_code } => Some(exception_code),
            _ => None,
        }
    }

    /// A host that never finished its start: it hung, or wrote without end.
    pub fn stopped_answering(self) -> bool {
        matches!(self, HostEnd::TimedOut | HostEnd::Flooded)
    }
}

impl Serialize for HostEnd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Its name, as [`HostEnd`] serialises: one of [`HostEnd::EACH`]'s.
impl schemars::JsonSchema for HostEnd {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HostEnd".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = HostEnd::EACH.iter().map(|end| end.name()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// A Win32 error code, as `GetLastError` returns it and event data carries it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Win32Error(pub u32);

/// Every Win32 error the harness names, with Windows's message-table text (`%1` left in place
/// where Windows has one). One table, so a code and its text cannot drift apart.
const WIN32_MESSAGES: &[(Win32Error, &str)] = &[
    (Win32Error::FILE_NOT_FOUND, "The system cannot find the file specified."),
    (Win32Error::PATH_NOT_FOUND, "The system cannot find the path specified."),
    (Win32Error::ACCESS_DENIED, "Access is denied."),
    (Win32Error::BAD_FORMAT, "An attempt was made to load a program with an incorrect format."),
    (Win32Error::NOT_SUPPORTED, "The request is not supported."),
    (Win32Error::MOD_NOT_FOUND, "The specified module could not be found."),
    (Win32Error::PROC_NOT_FOUND, "The specified procedure could not be found."),
    (Win32Error::INVALID_ORDINAL, "The operating system cannot run %1."),
    (Win32Error::BAD_EXE_FORMAT, "%1 is not a valid Win32 application."),
    (
        Win32Error::EXE_MACHINE_TYPE_MISMATCH,
        "This version of %1 is not compatible with the version of Windows you're running. Check your computer's system information and then contact the software publisher.",
    ),
    (Win32Error::NOACCESS, "Invalid access to memory location."),
    (
        Win32Error::SERVICE_REQUEST_TIMEOUT,
        "The service did not respond to the start or control request in a timely fashion.",
    ),
    (Win32Error::PROCESS_ABORTED, "The process terminated unexpectedly."),
    (Win32Error::DLL_INIT_FAILED, "A dynamic link library (DLL) initialization routine failed."),
    (
        Win32Error::ACCESS_DISABLED_BY_POLICY,
        "This program is blocked by group policy. For more information, contact your system administrator.",
    ),
    (
        Win32Error::SXS_CANT_GEN_ACTCTX,
        "The application has failed to start because its side-by-side configuration is incorrect. Please see the application event log or use the command-line sxstrace.exe tool for more detail.",
    ),
];

impl Win32Error {
    pub const FILE_NOT_FOUND: Win32Error = Win32Error(2);
    pub const PATH_NOT_FOUND: Win32Error = Win32Error(3);
    pub const ACCESS_DENIED: Win32Error = Win32Error(5);
    pub const BAD_FORMAT: Win32Error = Win32Error(11);
    /// ERROR_NOT_SUPPORTED.
    pub const NOT_SUPPORTED: Win32Error = Win32Error(50);
    /// ERROR_MOD_NOT_FOUND: the loader's answer for a missing file or a missing dependency.
    pub const MOD_NOT_FOUND: Win32Error = Win32Error(126);
    /// ERROR_PROC_NOT_FOUND: GetProcAddress found no export of that name.
    pub const PROC_NOT_FOUND: Win32Error = Win32Error(127);
    /// ERROR_INVALID_ORDINAL: an import by ordinal that the dependency does not export
    /// (STATUS_ORDINAL_NOT_FOUND).
    pub const INVALID_ORDINAL: Win32Error = Win32Error(182);
    /// ERROR_BAD_EXE_FORMAT: the loader's answer for a wrong-bitness image, and for many others.
    pub const BAD_EXE_FORMAT: Win32Error = Win32Error(193);
    pub const EXE_MACHINE_TYPE_MISMATCH: Win32Error = Win32Error(216);
    /// ERROR_NOACCESS: Wine's loader fails a load with it when DllMain raises an access
    /// violation.
    pub const NOACCESS: Win32Error = Win32Error(998);
    /// ERROR_SERVICE_REQUEST_TIMEOUT: the service control manager gave up waiting for a start.
    pub const SERVICE_REQUEST_TIMEOUT: Win32Error = Win32Error(1053);
    /// ERROR_PROCESS_ABORTED: what a service whose process died during its start reports.
    pub const PROCESS_ABORTED: Win32Error = Win32Error(1067);
    /// ERROR_DLL_INIT_FAILED: DllMain returned FALSE.
    pub const DLL_INIT_FAILED: Win32Error = Win32Error(1114);
    /// ERROR_ACCESS_DISABLED_BY_POLICY: what IIS 6.0 logs (sc-win32-status) beside a 404.2,
    /// a request for an extension the Web Service Extension list prohibits.
    pub const ACCESS_DISABLED_BY_POLICY: Win32Error = Win32Error(1260);
    /// ERROR_SXS_CANT_GEN_ACTCTX: a manifest depends on a side-by-side assembly the machine
    /// does not have.
    pub const SXS_CANT_GEN_ACTCTX: Win32Error = Win32Error(14001);

    pub fn code(self) -> u32 {
        self.0
    }

    /// Windows's text for the code, `%1` left unfilled.
    pub fn message(self) -> &'static str {
        WIN32_MESSAGES
            .iter()
            .find(|(error, _)| *error == self)
            .map_or("Unknown error.", |(_, text)| text)
    }

    /// The code as an HRESULT from a Win32 error (`HRESULT_FROM_WIN32`): 193 is 0x800700C1.
    pub fn hresult(self) -> u32 {
        0x8007_0000 | (self.0 & 0xFFFF)
    }

    /// The code as an event's data field: a little-endian DWORD, printed as Event Viewer
    /// prints bytes (`c1 00 00 00`).
    pub fn event_data(self) -> String {
        dword_data(self.0)
    }
}

impl fmt::Display for Win32Error {
    /// `Win32 error 193 (%1 is not a valid Win32 application)`, for the harness's own lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Win32 error {} ({})", self.0, self.message().trim_end_matches('.'))
    }
}

/// A DWORD as an event's data field: little-endian bytes, as Event Viewer prints them.
pub fn dword_data(value: u32) -> String {
    value.to_le_bytes().iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

/// One event-log entry, as Event Viewer shows it. The texts are IIS's and Windows's own and
/// are written beside each model, in `iis::iis6::messages` and `iis::iis7::messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Event {
    pub log: Log,
    pub source: &'static str,
    pub id: u32,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub text: String,
    /// The binary data as Event Viewer prints it (`c1 00 00 00`), when the event carries some.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum Log {
    System,
    Application,
}

impl fmt::Display for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Log::System => "System",
            Log::Application => "Application",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub enum EventType {
    Error,
    Warning,
    Information,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventType::Error => "Error",
            EventType::Warning => "Warning",
            EventType::Information => "Information",
        })
    }
}

/// The reason phrase of the HTTP statuses the harness reports.
pub fn http_status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Which seed case `repro` replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Seed {
    /// The IIS 6.0 case.
    #[value(name = "6")]
    Iis6,
    /// Its IIS 10 twin.
    #[value(name = "10")]
    Iis10,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_has_its_text() {
        for (error, text) in WIN32_MESSAGES {
            assert_eq!(error.message(), *text);
            assert!(text.ends_with('.'), "{error:?}: Windows's texts end with a full stop");
        }
        assert_eq!(Win32Error(4711).message(), "Unknown error.");
    }

    #[test]
    fn a_win32_error_in_a_sentence_an_hresult_and_event_data() {
        let error = Win32Error::BAD_EXE_FORMAT;
        assert_eq!(error.to_string(), "Win32 error 193 (%1 is not a valid Win32 application)");
        assert_eq!(error.hresult(), 0x8007_00C1);
        assert_eq!(error.event_data(), "c1 00 00 00");
        assert_eq!(serde_json::to_string(&error).unwrap(), "193");
    }

    #[test]
    fn host_ends_have_one_name_each() {
        let names: Vec<String> =
            HostEnd::EACH.iter().map(|end| serde_json::to_string(end).unwrap()).collect();
        assert_eq!(
            names,
            [
                "\"completed\"",
                "\"crashed\"",
                "\"died\"",
                "\"timed_out\"",
                "\"flooded\"",
                "\"memory_limit\"",
                "\"process_limit\"",
                "\"disk_limit\""
            ]
        );
    }
}
