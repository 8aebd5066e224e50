//! Every text IIS 7 to 10, IIS Express and appcmd show, written once, each with its source and
//! how sure it is: [H] seen verbatim in the source named, [M] the source's form applied to this
//! case, UNVERIFIED where the harness reconstructs.

use crate::arch::Bits;
use crate::vocab::{Event, EventType, Log, Win32Error};

const W3SVC_WP: &str = "W3SVC-WP";
const WAS: &str = "WAS";

/// W3SVC-WP 2282: a module of the other architecture. The text up to "the error number." is
/// [H] (TechNet dd349192 "IIS Worker Process Availability", the module twin of 2274); the
/// sentence after it is 2274's and UNVERIFIED for 2282. The architecture is the process's:
/// "AMD64" for a 64-bit worker, "x86" for a 32-bit one (an IIS 7.5 event with "x86" is quoted
/// in a blog post on owssvr.dll, 2011-07-07 [H]).
pub fn module_architecture_mismatch(path: &str, bits: Bits, error: Win32Error) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2282,
        kind: EventType::Error,
        text: format!(
            "The Module DLL '{path}' could not be loaded due to a configuration problem. The current configuration only supports loading images built for a {} processor architecture. The data field contains the error number. To learn more about this issue, including how to troubleshooting this kind of processor architecture mismatch error, see http://go.microsoft.com/fwlink/?LinkId=29349.",
            crate::iis::process_architecture_name(bits)
        ),
        data: Some(error.event_data()),
    }
}

/// W3SVC-WP 2280: a global module did not load [H: dd349192; the same words in iisnode issue
/// 267 and HSTS-IIS-Module issue 3]. The data is the loader's Win32 error as the event shows
/// it; whether IIS writes the Win32 code or its HRESULT (0x800700C1) there is UNVERIFIED.
pub fn module_load_failed(path: &str, error: Win32Error) -> Event {
    Event {
        log: Log::Application,
        source: W3SVC_WP,
        id: 2280,
        kind: EventType::Error,
        text: format!("The Module DLL {path} failed to load.  The data is the error."),
        data: Some(error.event_data()),
    }
}

/// WAS 5002: rapid-fail protection disables the pool [H: cc735151].
pub fn app_pool_disabled(pool: &str) -> Event {
    Event {
        log: Log::System,
        source: WAS,
        id: 5002,
        kind: EventType::Error,
        text: format!(
            "Application pool '{pool}' is being automatically disabled due to a series of failures in the process(es) serving that application pool."
        ),
        data: None,
    }
}

/// The error page of a request whose site's ISAPI filter did not load: 500.0 with the text
/// reported in the Cisco CCE field notice, the Lucee/Plesk post and onoffswitch.net (2013) [H].
pub fn filter_failed_page(filter_path: &str) -> String {
    format!(
        "HTTP Error 500.0 - Internal Server Error\nCalling LoadLibraryEx on ISAPI filter \"{filter_path}\" failed"
    )
}

/// The error page of a request whose ISAPI extension did not load [H for the fields: the
/// hexdump42/isapi-wsgi issue 10 page shows Module IsapiModule, Notification
/// ExecuteRequestHandler, the handler's name and Error Code 0x800700c1]. The error code is the
/// loader's Win32 error as an HRESULT.
pub fn extension_failed_page(handler: &str, error: Win32Error) -> String {
    format!(
        "HTTP Error 500.0 - Internal Server Error\nModule: IsapiModule\nNotification: ExecuteRequestHandler\nHandler: {handler}\nError Code: 0x{:08x}",
        error.hresult()
    )
}

/// A request for an extension that `isapiCgiRestriction` does not allow: 404.2 [H: the IIS 7
/// error page text, iis-docs isapiCgiRestriction page].
pub fn restricted_page() -> String {
    "HTTP Error 404.2 - Not Found\nThe page you are requesting cannot be served because of the ISAPI and CGI Restriction list settings on the Web server.".to_owned()
}

/// What HTTP.sys answers for a pool whose worker could not start or that is disabled
/// [M: the standard "Service Unavailable" page of HTTP.sys].
pub fn service_unavailable_page() -> String {
    "HTTP Error 503. The service is unavailable.".to_owned()
}

/// What IIS Express prints when a global module does not load: the trace quoted in tjanczuk
/// iisnode issue 523 [H for the words, with hr = 800700c1].
pub fn express_modules_failed(error: Win32Error) -> String {
    let hr = error.hresult();
    format!("Failed processing with hr = {hr:08x}\nError loading global modules. hr = {hr:08x}\n")
}

/// What appcmd prints. The forms are appcmd's as shown throughout Microsoft Learn's appcmd
/// articles [M]; the bitness note on `list apppool` is the harness's own.
pub mod appcmd {
    use crate::apphost::edit::Applied;
    use crate::apphost::{PoolConfig, Source};

    /// The lines appcmd prints for what a command did.
    pub fn output(applied: &Applied) -> Vec<String> {
        match applied {
            Applied::Changed { kind, name } => vec![changed(kind, name)],
            Applied::Section(section) => vec![applied_section(section)],
            Applied::Pools(pools) => pools.iter().map(list_pool_line).collect(),
        }
    }

    /// A command line as an administrator types it: appcmd by its full path, each argument
    /// with a space quoted, as the shell needs it.
    pub fn command_line(args: &[String]) -> String {
        let shown: Vec<String> = args
            .iter()
            .map(|arg| if arg.contains(' ') { format!("\"{arg}\"") } else { arg.clone() })
            .collect();
        format!(r"%windir%\system32\inetsrv\appcmd {}", shown.join(" "))
    }

    pub fn changed(kind: &str, name: &str) -> String {
        format!("{kind} object \"{name}\" changed")
    }

    pub fn applied_section(section: &str) -> String {
        format!(
            "Applied configuration changes to section \"{section}\" for \"MACHINE/WEBROOT/APPHOST\" at configuration commit path \"MACHINE/WEBROOT/APPHOST\""
        )
    }

    pub fn list_pool_line(pool: &PoolConfig) -> String {
        let (value, source) = pool.enable_32bit;
        let from = match source {
            Source::Pool => "its own attribute",
            Source::Defaults => "applicationPoolDefaults",
            Source::Schema => "the default",
        };
        let bits = if value { "32-bit" } else { "64-bit" };
        format!(
            "APPPOOL \"{}\" (MgdVersion:{},MgdMode:{},state:Started) enable32BitAppOnWin64:{value} from {from}: {bits} workers on x64",
            pool.name, pool.runtime_version, pool.pipeline_mode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_apppool_reads_like_appcmd_with_the_bitness_beside_it() {
        let pool = crate::apphost::PoolConfig {
            name: "A".into(),
            line: 1,
            enable_32bit: (true, crate::apphost::Source::Defaults),
            pipeline_mode: crate::vocab::PipelineMode::Integrated,
            runtime_version: "v4.0".into(),
            rapid_fail: crate::apphost::RapidFail {
                enabled: true,
                max_crashes: 5,
                interval: std::time::Duration::from_secs(300),
                tcp_level: false,
            },
        };
        assert_eq!(
            appcmd::list_pool_line(&pool),
            "APPPOOL \"A\" (MgdVersion:v4.0,MgdMode:Integrated,state:Started) enable32BitAppOnWin64:true from applicationPoolDefaults: 32-bit workers on x64"
        );
        assert!(
            extension_failed_page("h", Win32Error::BAD_EXE_FORMAT)
                .contains("Error Code: 0x800700c1")
        );
    }
}
