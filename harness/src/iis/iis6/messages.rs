//! Every text IIS 6.0, Windows and aspnet_regiis show, written once.
//!
//! The texts come from Microsoft's documentation and knowledge-base articles (see
//! Microsoft's IIS 6.0 documentation, the IIS 6.0 Resource Kit's event tables, and
//! Knowledge Base articles 895976 and 327611). Where the sources do not confirm a
//! text or a detail for this exact situation, the function says so in a comment marked
//! UNVERIFIED, so that a reader knows what is reconstruction.

use crate::arch::Bits;
use crate::vocab::{Event, EventType, Log, Win32Error};

/// The worker-process core's event source. UNVERIFIED for IIS 5.0 isolation mode, where the
/// same core runs inside inetinfo.exe and the source may be W3SVC instead.
const W3SVC_WP: &str = "W3SVC-WP";
const W3SVC: &str = "W3SVC";
const SCM: &str = "Service Control Manager";

/// The display name NET.EXE and the service control manager use.
pub const W3SVC_DISPLAY_NAME: &str = "World Wide Web Publishing Service";

/// W3SVC-WP 2274: the processor-architecture mismatch (wording verbatim, grammar included).
/// IIS logs it when LoadLibrary answers ERROR_BAD_EXE_FORMAT; it cannot tell a wrong-bitness
/// image from a corrupt one, and neither can this event.
pub fn filter_architecture_mismatch(filter_path: &str, bits: Bits, error: Win32Error) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2274,
        kind: EventType::Error,
        text: format!(
            "ISAPI Filter '{filter_path}' could not be loaded due to a configuration problem. The current configuration only supports loading images built for a {} processor architecture. The data field contains the error number. To learn more about this issue, including how to troubleshooting this kind of processor architecture mismatch error, see http://go.microsoft.com/fwlink/?LinkId=29349.",
            crate::iis::process_architecture_name(bits)
        ),
        data: Some(error.event_data()),
    }
}

/// W3SVC-WP 2214: any other filter load failure.
pub fn filter_load_failed(filter_path: &str, error: Win32Error) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2214,
        kind: EventType::Error,
        text: format!("The HTTP filter DLL {filter_path} failed to load. The data is the error."),
        data: Some(error.event_data()),
    }
}

/// W3SVC-WP 2268: the start-up of the service (IIS 5.0 isolation mode) or of the worker
/// process is abandoned because a filter did not load; `data` is the event's data field.
pub fn filters_did_not_all_load(data: &str) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2268,
        kind: EventType::Error,
        text: "Could not load all ISAPI filters for site/service. Therefore startup aborted."
            .to_owned(),
        data: Some(data.to_owned()),
    }
}

/// The event IIS logs when it refuses a read-raw-data filter in worker process isolation mode.
pub const READ_RAW_DATA_REFUSED_EVENT: u32 = 2261;

/// W3SVC-WP 2261: a read-raw-data filter in worker process isolation mode.
pub fn read_raw_data_refused(filter_path: &str) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: READ_RAW_DATA_REFUSED_EVENT,
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

/// W3SVC 1039: a worker reports to WAS that it failed, here because a filter did not load. The
/// data is the failure as an HRESULT (`c1 00 07 80` for 0x800700C1). Seen in a real IIS 6.0
/// x64 log quoted on an MSDN blog (2007-06-09) for a 32-bit global filter in a 64-bit pool:
/// high confidence for text and data; that every worker-side filter failure logs it: medium.
pub fn worker_reported_failure(app_pool: &str, pid: u32, error: Win32Error) -> Event {
    Event {
        log: Log::System,
        source: W3SVC,
        id: 1039,
        kind: EventType::Error,
        text: format!(
            "A process serving application pool '{app_pool}' reported a failure. The process id was '{pid}'. The data field contains the error number."
        ),
        data: Some(crate::vocab::dword_data(error.hresult())),
    }
}

/// The event IIS 6.0 logs for a read-raw-data filter configured at site level.
pub const SITE_READ_RAW_DATA_REFUSED_EVENT: u32 = 2222;

/// W3SVC-WP 2222: a site-level filter asks for SF_NOTIFY_READ_RAW_DATA, which IIS 6.0 allows
/// only for global filters (the Resource Kit's Table E.2). UNVERIFIED beyond its end: the table
/// is known to end "...must be loaded as a global filter"; the beginning is reconstructed.
pub fn site_read_raw_data_refused(filter_path: &str) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: SITE_READ_RAW_DATA_REFUSED_EVENT,
        kind: EventType::Error,
        text: format!(
            "The filter '{filter_path}' requires the SF_NOTIFY_READ_RAW_DATA filter notification and must be loaded as a global filter."
        ),
        data: None,
    }
}

/// W3SVC 1002: rapid-fail protection disables the pool. The wording is the Windows Server 2003
/// event page's (cc737524); the Resource Kit's table (cc786887) has an older one. Confidence:
/// medium, as two Microsoft sources disagree.
pub fn app_pool_disabled(app_pool: &str) -> Event {
    Event {
        log: Log::System,
        source: W3SVC,
        id: 1002,
        kind: EventType::Error,
        text: format!(
            "Application pool '{app_pool}' is being automatically disabled due to a series of failures in the process(es) serving that application pool."
        ),
        data: None,
    }
}

/// Service Control Manager 7023 for a service that stopped during its start with an error.
/// UNVERIFIED for this case: the standard SCM message, not seen verbatim for W3SVC and 193.
pub fn service_terminated_with_error(error: Win32Error) -> Event {
    Event {
        log: Log::System,
        source: SCM,
        id: 7023,
        kind: EventType::Error,
        text: format!(
            "The {W3SVC_DISPLAY_NAME} service terminated with the following error: \n{}",
            error.message()
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
pub fn net_start_failed(error: Win32Error) -> String {
    format!(
        "The {W3SVC_DISPLAY_NAME} service is starting.\nThe {W3SVC_DISPLAY_NAME} service could not be started.\n\nA system error has occurred.\n\nSystem error {error} has occurred.\n\n{}\n",
        error.message().replace("%1", "***"),
        error = error.code()
    )
}

/// aspnet_regiis's log lines when the W3SVC restart it does at the end of `-i` fails: it waits
/// for the service to reach RUNNING, which never happens, so it reports a time-out (1053 as
/// HRESULT 8007041d) even though the service itself failed with another error. The message
/// keeps its trailing space before the closing quote, as in the real log.
/// UNVERIFIED: that the time-out is what aspnet_regiis reports for every start failure.
pub fn aspnet_regiis_restart_failed(timestamp: &str, timestamp_plus_one: &str) -> Vec<String> {
    let message = Win32Error::SERVICE_REQUEST_TIMEOUT.message();
    let hresult = Win32Error::SERVICE_REQUEST_TIMEOUT.hresult();
    vec![
        format!(
            "{timestamp}\tFailure\tWaiting for service to start: WaitForServiceState failed with HRESULT {hresult:08x}: '{message} '"
        ),
        format!(
            "{timestamp_plus_one}\tFailure\tStarting service: w3svc: StartServiceByName failed with HRESULT {hresult:08x}: '{message} '"
        ),
        format!(
            "{timestamp_plus_one}\tFailure\tRestarting W3SVC: RestartW3svc failed with HRESULT {hresult:08x}: '{message} '"
        ),
    ]
}

/// What the admin tools print, in their own words: `adsutil.vbs` and `aspnet_regiis.exe`.
/// UNVERIFIED: reconstructed from their documented usage, not copied from a real console.
pub mod tools {
    use crate::arch::Arch;

    pub fn adsutil_deleted_key(path: &str) -> String {
        format!("deleted path \"{path}\"")
    }

    pub fn adsutil_deleted_property(name: &str) -> String {
        format!("deleted property \"{name}\"")
    }

    pub fn adsutil_not_set(name: &str) -> String {
        format!("The parameter \"{name}\" is not set at this node.")
    }

    pub const ADSUTIL_PATH_NOT_FOUND: &str = "The path requested could not be found.";

    pub const ASPNET_REGIIS_START: &str = "Start installing ASP.NET (2.0.50727).";
    pub const ASPNET_REGIIS_FINISHED: &str = "Finished installing ASP.NET (2.0.50727).";
    /// What aspnet_regiis says when it will not run because IIS runs worker processes of the
    /// other bitness. The rule is documented (the .NET 3.5 page of the ASP.NET IIS Registration
    /// Tool, k6h9cz8h: each build of the tool runs only while IIS runs in that build's
    /// bitness); the tool's own words for it were not found. UNVERIFIED: this text is the
    /// harness's.
    pub fn aspnet_regiis_wrong_iis_bitness(framework: Arch) -> String {
        let (tool, mode, value) = match framework {
            Arch::Amd64 => ("64-bit", "64-bit", "0"),
            Arch::X86 => ("32-bit", "32-bit", "1"),
        };
        format!(
            "The {tool} aspnet_regiis cannot run: it needs IIS in {mode} mode (W3SVC/AppPools/Enable32bitAppOnWin64 {value}). Nothing was changed."
        )
    }

    /// The harness's own line, where the real tool would print nothing more.
    pub const ASPNET_REGIIS_NOTHING_CHANGED: &str =
        "The metabase already had this registration; nothing changed.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_start_puts_stars_where_the_file_name_would_be() {
        let text = net_start_failed(Win32Error::BAD_EXE_FORMAT);
        assert!(
            text.contains(
                "System error 193 has occurred.\n\n*** is not a valid Win32 application.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_mismatch_event_keeps_iis_grammar() {
        let event =
            filter_architecture_mismatch(r"d:\x.dll", Bits::B64, Win32Error::BAD_EXE_FORMAT);
        assert!(event.text.contains("built for a AMD64 processor architecture"));
        assert!(event.text.contains("how to troubleshooting"));
    }
}
