//! The Windows side of the host: loading filters and calling their ISAPI entry points.

use std::ffi::{OsString, c_void};
use std::io::Write;
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Foundation::{GetLastError, SetLastError};
use windows_sys::Win32::System::Diagnostics::Debug::{
    EXCEPTION_POINTERS, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX, SetErrorMode,
    SetUnhandledExceptionFilter,
};
use windows_sys::Win32::System::LibraryLoader::{
    GetProcAddress, LOAD_WITH_ALTERED_SEARCH_PATH, LoadLibraryExW,
};
use windows_sys::Win32::System::Threading::ExitProcess;

/// `HTTP_FILTER_REVISION` as the IIS 6.0 SDK defines it: `MAKELONG(0, 6)`.
const HTTP_FILTER_REVISION_6_0: u32 = 0x0006_0000;
/// `SF_MAX_FILTER_DESC_LEN` from httpfilt.h.
const SF_MAX_FILTER_DESC_LEN: usize = 257;
/// The one notification the host sends during a request. It is chosen because its
/// `pvNotification` is NULL by definition, so a filter cannot be handed a half-built structure.
const SF_NOTIFY_END_OF_REQUEST: u32 = 0x0000_0080;

/// `HTTP_FILTER_VERSION` from httpfilt.h; the layout is the same for x86 and AMD64.
#[repr(C)]
struct HttpFilterVersion {
    server_filter_version: u32,
    filter_version: u32,
    filter_description: [u8; SF_MAX_FILTER_DESC_LEN],
    flags: u32,
}

/// `HTTP_FILTER_CONTEXT` from httpfilt.h; pointer-sized fields make it differ between bitnesses.
#[repr(C)]
struct HttpFilterContext {
    cb_size: u32,
    revision: u32,
    server_context: *mut c_void,
    ul_reserved: u32,
    is_secure_port: i32,
    filter_context: *mut c_void,
    get_server_variable:
        unsafe extern "system" fn(*mut HttpFilterContext, *const u8, *mut c_void, *mut u32) -> i32,
    add_response_headers: unsafe extern "system" fn(*mut HttpFilterContext, *const u8, u32) -> i32,
    write_client:
        unsafe extern "system" fn(*mut HttpFilterContext, *mut c_void, *mut u32, u32) -> i32,
    alloc_mem: unsafe extern "system" fn(*mut HttpFilterContext, u32, u32) -> *mut c_void,
    server_support_function:
        unsafe extern "system" fn(*mut HttpFilterContext, i32, *mut c_void, usize, usize) -> i32,
}

type GetFilterVersionFn = unsafe extern "system" fn(*mut HttpFilterVersion) -> i32;
type HttpFilterProcFn = unsafe extern "system" fn(*mut HttpFilterContext, u32, *mut c_void) -> u32;
type TerminateFilterFn = unsafe extern "system" fn(u32) -> i32;

struct Options {
    stop_at_first_failure: bool,
    request: bool,
    filters: Vec<OsString>,
}

pub fn main() {
    // SAFETY: plain Win32 calls with no pointers. The error mode keeps the loader from showing a
    // dialog box (nobody would answer it), and the exception filter turns a crash inside a filter
    // into a report line and an exit code instead of a debugger prompt.
    unsafe {
        SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
        SetUnhandledExceptionFilter(Some(report_crash));
    }
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("isapi-host: {message}");
            std::process::exit(2);
        }
    };
    let process = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_default();
    report(&format!(
        "{{\"event\":\"started\",\"bits\":{},\"process\":{},\"pid\":{}}}",
        usize::BITS,
        json_string(&process),
        std::process::id()
    ));

    let mut ready = Vec::new();
    for (index, path) in options.filters.iter().enumerate() {
        let outcome = load_filter(index, path);
        let failed = outcome.is_none();
        ready.extend(outcome);
        if failed && options.stop_at_first_failure {
            break;
        }
    }
    if options.request {
        for filter in &ready {
            send_request(filter);
        }
    }
    for filter in &ready {
        terminate(filter);
    }
    report("{\"event\":\"done\"}");
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { stop_at_first_failure: false, request: false, filters: Vec::new() };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--stop-at-first-failure") => options.stop_at_first_failure = true,
            Some("--request") => options.request = true,
            Some("--") => {
                options.filters.extend(args.by_ref());
            }
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
            _ => options.filters.push(arg),
        }
    }
    Ok(options)
}

/// A filter that loaded and accepted `GetFilterVersion`.
struct ReadyFilter {
    index: usize,
    flags: u32,
    http_filter_proc: Option<HttpFilterProcFn>,
    terminate_filter: Option<TerminateFilterFn>,
}

fn load_filter(index: usize, path: &OsString) -> Option<ReadyFilter> {
    let wide: Vec<u16> = path.encode_wide().chain(Some(0)).collect();
    report(&format!(
        "{{\"event\":\"loading\",\"index\":{index},\"path\":{}}}",
        json_string(&path.to_string_lossy())
    ));
    // LOAD_WITH_ALTERED_SEARCH_PATH: the filter's own dependencies are looked up beside it, as a
    // filter author expects; the filter itself is only ever opened by its absolute path, so the
    // loader cannot skip a wrong-bitness copy and find another one further down a search path.
    // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives the call.
    let module = unsafe {
        LoadLibraryExW(wide.as_ptr(), std::ptr::null_mut(), LOAD_WITH_ALTERED_SEARCH_PATH)
    };
    if module.is_null() {
        // SAFETY: reads the calling thread's last-error value, set by the failed load just above.
        let error = unsafe { GetLastError() };
        report(&format!(
            "{{\"event\":\"loaded\",\"index\":{index},\"ok\":false,\"win32_error\":{error}}}"
        ));
        return None;
    }
    report(&format!("{{\"event\":\"loaded\",\"index\":{index},\"ok\":true,\"win32_error\":null}}"));

    let lookup = |name: &[u8]| {
        // SAFETY: `module` is a loaded module and `name` is NUL-terminated.
        let address = unsafe { GetProcAddress(module, name.as_ptr()) };
        // SAFETY: reads the last-error value GetProcAddress just set (127 when missing).
        let error = if address.is_none() { unsafe { GetLastError() } } else { 0 };
        (address, error)
    };
    let (get_filter_version, gfv_error) = lookup(b"GetFilterVersion\0");
    let (http_filter_proc, _) = lookup(b"HttpFilterProc\0");
    let (terminate_filter, _) = lookup(b"TerminateFilter\0");
    report(&format!(
        "{{\"event\":\"exports\",\"index\":{index},\"get_filter_version\":{},\"http_filter_proc\":{},\"terminate_filter\":{},\"win32_error\":{}}}",
        get_filter_version.is_some(),
        http_filter_proc.is_some(),
        terminate_filter.is_some(),
        if get_filter_version.is_some() { "null".to_owned() } else { gfv_error.to_string() }
    ));
    let get_filter_version = get_filter_version?;
    // SAFETY: the ISAPI filter ABI defines these exports with exactly these signatures; a DLL
    // that exports the names with other signatures is a broken filter, which is what a crash
    // report is for.
    let (get_filter_version, http_filter_proc, terminate_filter) = unsafe {
        (
            std::mem::transmute::<_, GetFilterVersionFn>(get_filter_version),
            http_filter_proc.map(|f| std::mem::transmute::<_, HttpFilterProcFn>(f)),
            terminate_filter.map(|f| std::mem::transmute::<_, TerminateFilterFn>(f)),
        )
    };

    let mut version = HttpFilterVersion {
        server_filter_version: HTTP_FILTER_REVISION_6_0,
        filter_version: 0,
        filter_description: [0; SF_MAX_FILTER_DESC_LEN],
        flags: 0,
    };
    report(&format!(
        "{{\"event\":\"calling\",\"index\":{index},\"function\":\"GetFilterVersion\"}}"
    ));
    // SAFETY: clear the last error first so that a filter returning FALSE without calling
    // SetLastError is told apart from one that set an error; then call the filter with a valid,
    // writable HTTP_FILTER_VERSION.
    let (accepted, last_error) = unsafe {
        SetLastError(0);
        let accepted = get_filter_version(&mut version) != 0;
        (accepted, GetLastError())
    };
    let description_len =
        version.filter_description.iter().position(|&b| b == 0).unwrap_or(SF_MAX_FILTER_DESC_LEN);
    let description = String::from_utf8_lossy(&version.filter_description[..description_len]);
    report(&format!(
        "{{\"event\":\"filter_version\",\"index\":{index},\"returned\":{accepted},\"last_error\":{last_error},\"filter_version\":{},\"flags\":{},\"description\":{}}}",
        version.filter_version,
        version.flags,
        json_string(&description)
    ));
    accepted.then_some(ReadyFilter {
        index,
        flags: version.flags,
        http_filter_proc,
        terminate_filter,
    })
}

fn send_request(filter: &ReadyFilter) {
    let Some(http_filter_proc) = filter.http_filter_proc else {
        report(&format!(
            "{{\"event\":\"notified\",\"index\":{},\"notification\":null,\"returned\":null}}",
            filter.index
        ));
        return;
    };
    // IIS only sends what a filter registered for in GetFilterVersion.
    if filter.flags & SF_NOTIFY_END_OF_REQUEST == 0 {
        report(&format!(
            "{{\"event\":\"notified\",\"index\":{},\"notification\":null,\"returned\":null}}",
            filter.index
        ));
        return;
    }
    let mut context = HttpFilterContext {
        cb_size: size_of::<HttpFilterContext>() as u32,
        revision: HTTP_FILTER_REVISION_6_0,
        server_context: std::ptr::null_mut(),
        ul_reserved: 0,
        is_secure_port: 0,
        filter_context: std::ptr::null_mut(),
        get_server_variable: server::get_server_variable,
        add_response_headers: server::add_response_headers,
        write_client: server::write_client,
        alloc_mem: server::alloc_mem,
        server_support_function: server::server_support_function,
    };
    report(&format!(
        "{{\"event\":\"calling\",\"index\":{},\"function\":\"HttpFilterProc\"}}",
        filter.index
    ));
    // SAFETY: the context is fully initialised with working callbacks, and END_OF_REQUEST's
    // notification structure is NULL by definition.
    let status =
        unsafe { http_filter_proc(&mut context, SF_NOTIFY_END_OF_REQUEST, std::ptr::null_mut()) };
    report(&format!(
        "{{\"event\":\"notified\",\"index\":{},\"notification\":{SF_NOTIFY_END_OF_REQUEST},\"returned\":{status}}}",
        filter.index
    ));
}

fn terminate(filter: &ReadyFilter) {
    let Some(terminate_filter) = filter.terminate_filter else { return };
    report(&format!(
        "{{\"event\":\"calling\",\"index\":{},\"function\":\"TerminateFilter\"}}",
        filter.index
    ));
    // SAFETY: TerminateFilter takes a flags DWORD; IIS passes HSE_TERM_MUST_UNLOAD (1).
    let returned = unsafe { terminate_filter(1) } != 0;
    report(&format!(
        "{{\"event\":\"terminated\",\"index\":{},\"returned\":{returned}}}",
        filter.index
    ));
}

/// The server callbacks a filter may call during a notification: enough of a server that a
/// well-behaved filter does not fall over, and nothing more.
mod server {
    use std::ffi::c_void;

    use super::HttpFilterContext;

    /// ERROR_INVALID_INDEX: what IIS answers for a server variable it does not know.
    const ERROR_INVALID_INDEX: u32 = 1413;

    pub unsafe extern "system" fn get_server_variable(
        _: *mut HttpFilterContext,
        _: *const u8,
        _: *mut c_void,
        _: *mut u32,
    ) -> i32 {
        // SAFETY: sets the calling thread's last-error value only.
        unsafe { windows_sys::Win32::Foundation::SetLastError(ERROR_INVALID_INDEX) };
        0
    }

    pub unsafe extern "system" fn add_response_headers(
        _: *mut HttpFilterContext,
        _: *const u8,
        _: u32,
    ) -> i32 {
        1
    }

    pub unsafe extern "system" fn write_client(
        _: *mut HttpFilterContext,
        _: *mut c_void,
        _: *mut u32,
        _: u32,
    ) -> i32 {
        1
    }

    pub unsafe extern "system" fn alloc_mem(
        _: *mut HttpFilterContext,
        size: u32,
        _: u32,
    ) -> *mut c_void {
        // The memory lives until the host exits, as IIS frees it only at the end of the
        // connection; the host serves one request and then ends.
        Box::leak(vec![0u8; size as usize].into_boxed_slice()).as_mut_ptr().cast()
    }

    pub unsafe extern "system" fn server_support_function(
        _: *mut HttpFilterContext,
        _: i32,
        _: *mut c_void,
        _: usize,
        _: usize,
    ) -> i32 {
        0
    }
}

/// Called by Windows for an exception nobody handled, typically a crash inside a filter's
/// `DllMain`, `GetFilterVersion` or `HttpFilterProc`.
unsafe extern "system" fn report_crash(info: *const EXCEPTION_POINTERS) -> i32 {
    // SAFETY: Windows passes valid exception pointers to a top-level exception filter.
    let code = unsafe { (*(*info).ExceptionRecord).ExceptionCode } as u32;
    report(&format!("{{\"event\":\"crashed\",\"exception_code\":{code}}}"));
    // SAFETY: ends the process at once with the exception code as its exit code, which is what
    // the service control manager sees when a real worker process dies this way.
    unsafe { ExitProcess(code) }
}

fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // A broken pipe means the harness has gone away; there is nobody left to tell.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
