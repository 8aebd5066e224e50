//! Every text IIS 6.0, Windows and aspnet_regiis show, written once.
//!
//! The texts come from Microsoft's documentation and knowledge-base articles (see
//! Microsoft's IIS 6.0 documentation, the IIS 6.0 Resource Kit's event tables, and
//! Knowledge Base articles 895976 and 327611). Where the sources do not confirm a
//! text or a detail for this exact situation, the function says so in a comment marked
//! UNVERIFIED, so that a reader knows what is reconstruction.

use serde::Serialize;

use crate::arch::Bits;

/// One event log entry, as Event Viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Log {
    System,
    Application,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    Error,
    Warning,
    Information,
}

/// The worker-process core's event source. UNVERIFIED for IIS 5.0 isolation mode, where the
/// same core runs inside inetinfo.exe and the source may be W3SVC instead.
const W3SVC_WP: &str = "W3SVC-WP";
const W3SVC: &str = "W3SVC";
const SCM: &str = "Service Control Manager";

/// The display name NET.EXE and the service control manager use.
pub const W3SVC_DISPLAY_NAME: &str = "World Wide Web Publishing Service";

/// A Win32 error's message-table text, with `%1` left in place where Windows has one.
pub fn win32_message(code: u32) -> &'static str {
    match code {
        2 => "The system cannot find the file specified.",
        5 => "Access is denied.",
        11 => "An attempt was made to load a program with an incorrect format.",
        126 => "The specified module could not be found.",
        127 => "The specified procedure could not be found.",
        193 => "%1 is not a valid Win32 application.",
        216 => {
            "This version of %1 is not compatible with the version of Windows you're running. Check your computer's system information and then contact the software publisher."
        }
        1053 => "The service did not respond to the start or control request in a timely fashion.",
        1067 => "The process terminated unexpectedly.",
        1114 => "A dynamic link library (DLL) initialization routine failed.",
        _ => "Unknown error.",
    }
}

/// A Win32 error for one line of a timeline: `Win32 error 193 (%1 is not a valid Win32 application.)`.
pub fn describe_win32(code: u32) -> String {
    format!("Win32 error {code} ({})", win32_message(code).trim_end_matches('.'))
}

/// The event data field: the error as a little-endian DWORD, as Event Viewer prints bytes.
pub fn dword_data(code: u32) -> String {
    code.to_le_bytes().iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

/// The architecture name IIS puts into event 2274 for a process of this bitness on this OS.
/// UNVERIFIED: "AMD64" is documented for a 64-bit process; "x86" for a 32-bit one is inferred.
pub fn process_architecture_name(bits: Bits) -> &'static str {
    match bits {
        Bits::B64 => "AMD64",
        Bits::B32 => "x86",
    }
}

/// W3SVC-WP 2274: the processor-architecture mismatch (wording verbatim, grammar included).
/// IIS logs it when LoadLibrary answers ERROR_BAD_EXE_FORMAT; it cannot tell a wrong-bitness
/// image from a corrupt one, and neither can this event.
pub fn filter_architecture_mismatch(filter_path: &str, bits: Bits, error: u32) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2274,
        kind: EventType::Error,
        text: format!(
            "ISAPI Filter '{filter_path}' could not be loaded due to a configuration problem. The current configuration only supports loading images built for a {} processor architecture. The data field contains the error number. To learn more about this issue, including how to troubleshooting this kind of processor architecture mismatch error, see http://go.microsoft.com/fwlink/?LinkId=29349.",
            process_architecture_name(bits)
        ),
        data: Some(dword_data(error)),
    }
}

/// W3SVC-WP 2214: any other filter load failure.
pub fn filter_load_failed(filter_path: &str, error: u32) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2214,
        kind: EventType::Error,
        text: format!("The HTTP filter DLL {filter_path} failed to load. The data is the error."),
        data: Some(dword_data(error)),
    }
}

/// W3SVC-WP 2268: the start-up of the service (IIS 5.0 isolation mode) or of the worker
/// process is abandoned because a filter did not load.
pub fn filters_did_not_all_load(error: u32) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2268,
        kind: EventType::Error,
        text: "Could not load all ISAPI filters for site/service. Therefore startup aborted."
            .to_owned(),
        data: Some(dword_data(error)),
    }
}

/// W3SVC-WP 2261: a read-raw-data filter in worker process isolation mode.
pub fn read_raw_data_refused(filter_path: &str) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2261,
        kind: EventType::Error,
        text: format!(
            "An attempt was made to load filter '{filter_path}' but it requires the SF_NOTIFY_READ_RAW_DATA filter notification and this notification is not supported in Worker Process Isolation Mode."
        ),
        data: None,
    }
}

/// W3SVC 1009: a worker process ended without being asked to.
pub fn worker_terminated(app_pool: &str, pid: u32, exit_code: u32) -> Event {
    Event {
        log: Log::System,
        source: W3SVC,
        id: 1009,
        kind: EventType::Warning,
        text: format!(
            "A process serving application pool '{app_pool}' terminated unexpectedly. The process id was '{pid}'. The process exit code was '0x{exit_code:x}'."
        ),
        data: None,
    }
}

/// W3SVC 1002: rapid-fail protection disables the pool.
pub fn app_pool_disabled(app_pool: &str) -> Event {
    Event {
        log: Log::System,
        source: W3SVC,
        id: 1002,
        kind: EventType::Error,
        text: format!(
            "Application pool {app_pool} is being automatically disabled because of a series of failures in the processes serving that application pool."
        ),
        data: None,
    }
}

/// Service Control Manager 7023 for a service that stopped during its start with an error.
/// UNVERIFIED for this case: the standard SCM message, not seen verbatim for W3SVC and 193.
pub fn service_terminated_with_error(error: u32) -> Event {
    Event {
        log: Log::System,
        source: SCM,
        id: 7023,
        kind: EventType::Error,
        text: format!(
            "The {W3SVC_DISPLAY_NAME} service terminated with the following error: \n{}",
            win32_message(error)
        ),
        data: None,
    }
}

/// What `net start w3svc` prints when the service starts.
pub fn net_start_succeeded() -> String {
    format!(
        "The {W3SVC_DISPLAY_NAME} service is starting.\nThe {W3SVC_DISPLAY_NAME} service was started successfully.\n"
    )
}

/// What `net start w3svc` prints when the service stops during its start with `error`.
/// NET.EXE puts `***` where the message has an unfilled `%1`.
pub fn net_start_failed(error: u32) -> String {
    format!(
        "The {W3SVC_DISPLAY_NAME} service is starting.\nThe {W3SVC_DISPLAY_NAME} service could not be started.\n\nA system error has occurred.\n\nSystem error {error} has occurred.\n\n{}\n",
        win32_message(error).replace("%1", "***")
    )
}

/// aspnet_regiis's log lines when the W3SVC restart it does at the end of `-i` fails: it waits
/// for the service to reach RUNNING, which never happens, so it reports a time-out (1053 as
/// HRESULT 8007041d) even though the service itself failed with another error. The message
/// keeps its trailing space before the closing quote, as in the real log.
/// UNVERIFIED: that the time-out is what aspnet_regiis reports for every start failure.
pub fn aspnet_regiis_restart_failed(timestamp: &str, timestamp_plus_one: &str) -> Vec<String> {
    let message = win32_message(1053);
    vec![
        format!(
            "{timestamp}\tFailure\tWaiting for service to start: WaitForServiceState failed with HRESULT 8007041d: '{message} '"
        ),
        format!(
            "{timestamp_plus_one}\tFailure\tStarting service: w3svc: StartServiceByName failed with HRESULT 8007041d: '{message} '"
        ),
        format!(
            "{timestamp_plus_one}\tFailure\tRestarting W3SVC: RestartW3svc failed with HRESULT 8007041d: '{message} '"
        ),
    ]
}

/// The HTTP status line text for the statuses the harness reports.
pub fn http_status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_is_the_error_as_a_little_endian_dword() {
        assert_eq!(dword_data(193), "c1 00 00 00");
        assert_eq!(dword_data(126), "7e 00 00 00");
    }

    #[test]
    fn net_start_puts_stars_where_the_file_name_would_be() {
        let text = net_start_failed(193);
        assert!(
            text.contains(
                "System error 193 has occurred.\n\n*** is not a valid Win32 application.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_mismatch_event_keeps_iis_grammar() {
        let event = filter_architecture_mismatch(r"d:\x.dll", Bits::B64, 193);
        assert!(event.text.contains("built for a AMD64 processor architecture"));
        assert!(event.text.contains("how to troubleshooting"));
    }
}
