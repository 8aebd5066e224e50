//! The Windows side of the host: loading filters and calling their ISAPI entry points.

use std::ffi::{OsString, c_void};
use std::io::Write;
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, INVALID_HANDLE_VALUE, SetLastError,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_BACKUP_SEMANTICS, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    GetFileAttributesW, GetFinalPathNameByHandleW, INVALID_FILE_ATTRIBUTES, OPEN_EXISTING,
};
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

/// `HSE_VERSION_INFO` from httpext.h.
#[repr(C)]
struct HseVersionInfo {
    extension_version: u32,
    extension_description: [u8; HSE_MAX_EXT_DLL_NAME_LEN],
}

/// `HSE_MAX_EXT_DLL_NAME_LEN` from httpext.h.
const HSE_MAX_EXT_DLL_NAME_LEN: usize = 256;
/// `HSE_VERSION` as the IIS 6.0 SDK defines it: `MAKELONG(0, 6)`.
const HSE_VERSION_6_0: u32 = 0x0006_0000;
/// `HSE_LOG_BUFFER_LEN` from httpext.h.
const HSE_LOG_BUFFER_LEN: usize = 80;
/// `HSE_TERM_MUST_UNLOAD`: what IIS passes to TerminateFilter and TerminateExtension at shutdown.
const HSE_TERM_MUST_UNLOAD: u32 = 1;

/// `EXTENSION_CONTROL_BLOCK` from httpext.h; pointer-sized fields make it differ between
/// bitnesses.
#[repr(C)]
struct ExtensionControlBlock {
    cb_size: u32,
    version: u32,
    conn_id: *mut c_void,
    http_status_code: u32,
    log_data: [u8; HSE_LOG_BUFFER_LEN],
    method: *const u8,
    query_string: *const u8,
    path_info: *const u8,
    path_translated: *const u8,
    total_bytes: u32,
    available: u32,
    data: *mut u8,
    content_type: *const u8,
    get_server_variable:
        unsafe extern "system" fn(*mut c_void, *const u8, *mut c_void, *mut u32) -> i32,
    write_client: unsafe extern "system" fn(*mut c_void, *mut c_void, *mut u32, u32) -> i32,
    read_client: unsafe extern "system" fn(*mut c_void, *mut c_void, *mut u32) -> i32,
    server_support_function:
        unsafe extern "system" fn(*mut c_void, u32, *mut c_void, *mut u32, *mut u32) -> i32,
}

type GetExtensionVersionFn = unsafe extern "system" fn(*mut HseVersionInfo) -> i32;
type HttpExtensionProcFn = unsafe extern "system" fn(*mut ExtensionControlBlock) -> u32;
type TerminateExtensionFn = unsafe extern "system" fn(u32) -> i32;

/// What an image is loaded as: the kind decides which entry points the host looks up and calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Filter,
    Extension,
    /// An IIS 7+ native module: `RegisterModule` is looked up and never called, because calling
    /// it needs IIS's own server interfaces, which the host does not have.
    Module,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Extension => "extension",
            Kind::Module => "module",
        }
    }

    /// The required export, then the request entry point, then the terminate entry point.
    fn exports(self) -> (&'static [u8], Option<&'static [u8]>, Option<&'static [u8]>) {
        match self {
            Kind::Filter => {
                (b"GetFilterVersion\0", Some(b"HttpFilterProc\0"), Some(b"TerminateFilter\0"))
            }
            Kind::Extension => (
                b"GetExtensionVersion\0",
                Some(b"HttpExtensionProc\0"),
                Some(b"TerminateExtension\0"),
            ),
            Kind::Module => (b"RegisterModule\0", None, None),
        }
    }
}

struct Options {
    stop_at_first_failure: bool,
    probe_before_load: bool,
    request: bool,
    probes: Vec<OsString>,
    images: Vec<(Kind, OsString)>,
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
    for (index, path) in options.probes.iter().enumerate() {
        probe(index, path);
    }

    let mut ready = Vec::new();
    for (index, (kind, path)) in options.images.iter().enumerate() {
        let outcome = load_image(index, *kind, path, options.probe_before_load);
        let failed = outcome.is_none();
        ready.extend(outcome);
        if failed && options.stop_at_first_failure {
            break;
        }
    }
    if options.request {
        for image in &ready {
            send_request(image);
        }
    }
    for image in &ready {
        terminate(image);
    }
    report("{\"event\":\"done\"}");
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        stop_at_first_failure: false,
        probe_before_load: false,
        request: false,
        probes: Vec::new(),
        images: Vec::new(),
    };
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("`{flag}` needs a path"));
        match arg.to_str() {
            Some("--stop-at-first-failure") => options.stop_at_first_failure = true,
            Some("--request") => options.request = true,
            Some("--probe-before-load") => options.probe_before_load = true,
            Some("--probe") => options.probes.push(value("--probe")?),
            Some("--filter") => options.images.push((Kind::Filter, value("--filter")?)),
            Some("--extension") => options.images.push((Kind::Extension, value("--extension")?)),
            Some("--module") => options.images.push((Kind::Module, value("--module")?)),
            _ => return Err(format!("unknown argument `{}`", arg.to_string_lossy())),
        }
    }
    Ok(options)
}

/// Reports whether `path` exists and, when it does, which file a process of this bitness
/// really opens for it: under WOW64 a 32-bit process asking for System32 gets SysWOW64.
fn probe(index: usize, path: &OsString) {
    let wide: Vec<u16> = path.encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is NUL-terminated and outlives both calls; the handle is closed below.
    let (exists, error, opened) = unsafe {
        let attributes = GetFileAttributesW(wide.as_ptr());
        if attributes == INVALID_FILE_ATTRIBUTES {
            (false, Some(GetLastError()), None)
        } else {
            let handle = CreateFileW(
                wide.as_ptr(),
                0,
                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                std::ptr::null(),
                OPEN_EXISTING,
                FILE_FLAG_BACKUP_SEMANTICS,
                std::ptr::null_mut(),
            );
            let opened = if handle == INVALID_HANDLE_VALUE {
                None
            } else {
                let mut buffer = [0u16; 1024];
                let len =
                    GetFinalPathNameByHandleW(handle, buffer.as_mut_ptr(), buffer.len() as u32, 0);
                CloseHandle(handle);
                (len > 0 && (len as usize) < buffer.len())
                    .then(|| String::from_utf16_lossy(&buffer[..len as usize]))
            };
            (true, None, opened)
        }
    };
    report(&format!(
        "{{\"event\":\"probed\",\"index\":{index},\"path\":{},\"exists\":{exists},\"win32_error\":{},\"opened\":{}}}",
        json_string(&path.to_string_lossy()),
        error.map_or("null".to_owned(), |e| e.to_string()),
        opened.map_or("null".to_owned(), |o| json_string(&o)),
    ));
}

/// An image that loaded and accepted its version call.
struct ReadyImage {
    index: usize,
    kind: Kind,
    flags: u32,
    request_proc: Option<unsafe extern "system" fn() -> isize>,
    terminate: Option<unsafe extern "system" fn() -> isize>,
}

fn load_image(index: usize, kind: Kind, path: &OsString, probe_first: bool) -> Option<ReadyImage> {
    let wide: Vec<u16> = path.encode_wide().chain(Some(0)).collect();
    report(&format!(
        "{{\"event\":\"loading\",\"index\":{index},\"kind\":\"{}\",\"path\":{}}}",
        kind.name(),
        json_string(&path.to_string_lossy())
    ));
    if probe_first {
        // SAFETY: `wide` is NUL-terminated and outlives the call; GetLastError reads the error
        // the failed call just set.
        let missing = unsafe {
            (GetFileAttributesW(wide.as_ptr()) == INVALID_FILE_ATTRIBUTES).then(|| GetLastError())
        };
        if let Some(error) = missing {
            report(&format!("{{\"event\":\"absent\",\"index\":{index},\"win32_error\":{error}}}"));
            return None;
        }
    }
    // LOAD_WITH_ALTERED_SEARCH_PATH: the image's own dependencies are looked up beside it, as a
    // filter author expects; the image itself is only ever opened by its absolute path, so the
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
    let (entry_name, request_name, terminate_name) = kind.exports();
    let (entry_point, entry_error) = lookup(entry_name);
    let request_proc = request_name.and_then(|name| lookup(name).0);
    let terminate = terminate_name.and_then(|name| lookup(name).0);
    report(&format!(
        "{{\"event\":\"exports\",\"index\":{index},\"entry_point\":{},\"request_proc\":{},\"terminate\":{},\"win32_error\":{}}}",
        entry_point.is_some(),
        request_proc.is_some(),
        terminate.is_some(),
        if entry_point.is_some() { "null".to_owned() } else { entry_error.to_string() }
    ));
    let entry_point = entry_point?;
    let (accepted, flags) = match kind {
        Kind::Filter => call_get_filter_version(index, entry_point),
        Kind::Extension => call_get_extension_version(index, entry_point),
        Kind::Module => (true, 0),
    };
    accepted.then_some(ReadyImage { index, kind, flags, request_proc, terminate })
}

fn call_get_filter_version(
    index: usize,
    entry_point: unsafe extern "system" fn() -> isize,
) -> (bool, u32) {
    // SAFETY: the ISAPI filter ABI defines GetFilterVersion with exactly this signature; a DLL
    // that exports the name with another signature is a broken filter, which is what a crash
    // report is for.
    let get_filter_version = unsafe { std::mem::transmute::<_, GetFilterVersionFn>(entry_point) };
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
    report_version(
        index,
        accepted,
        last_error,
        version.filter_version,
        version.flags,
        &version.filter_description,
    );
    (accepted, version.flags)
}

fn call_get_extension_version(
    index: usize,
    entry_point: unsafe extern "system" fn() -> isize,
) -> (bool, u32) {
    // SAFETY: the ISAPI extension ABI defines GetExtensionVersion with exactly this signature.
    let get_extension_version =
        unsafe { std::mem::transmute::<_, GetExtensionVersionFn>(entry_point) };
    let mut version = HseVersionInfo {
        extension_version: 0,
        extension_description: [0; HSE_MAX_EXT_DLL_NAME_LEN],
    };
    report(&format!(
        "{{\"event\":\"calling\",\"index\":{index},\"function\":\"GetExtensionVersion\"}}"
    ));
    // SAFETY: as for GetFilterVersion: the last error cleared, a valid writable HSE_VERSION_INFO.
    let (accepted, last_error) = unsafe {
        SetLastError(0);
        let accepted = get_extension_version(&mut version) != 0;
        (accepted, GetLastError())
    };
    report_version(
        index,
        accepted,
        last_error,
        version.extension_version,
        0,
        &version.extension_description,
    );
    (accepted, 0)
}

fn report_version(
    index: usize,
    accepted: bool,
    last_error: u32,
    version: u32,
    flags: u32,
    description: &[u8],
) {
    let len = description.iter().position(|&b| b == 0).unwrap_or(description.len());
    report(&format!(
        "{{\"event\":\"version\",\"index\":{index},\"returned\":{accepted},\"last_error\":{last_error},\"version\":{version},\"flags\":{flags},\"description\":{}}}",
        json_string(&String::from_utf8_lossy(&description[..len]))
    ));
}

fn send_request(image: &ReadyImage) {
    let not_taken = || {
        report(&format!(
            "{{\"event\":\"notified\",\"index\":{},\"returned\":null,\"http_status\":null}}",
            image.index
        ))
    };
    let Some(request_proc) = image.request_proc else {
        if image.kind != Kind::Module {
            not_taken();
        }
        return;
    };
    match image.kind {
        Kind::Filter => {
            // IIS only sends what a filter registered for in GetFilterVersion.
            if image.flags & SF_NOTIFY_END_OF_REQUEST == 0 {
                not_taken();
                return;
            }
            // SAFETY: the ISAPI filter ABI's HttpFilterProc signature.
            let http_filter_proc =
                unsafe { std::mem::transmute::<_, HttpFilterProcFn>(request_proc) };
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
                image.index
            ));
            // SAFETY: the context is fully initialised with working callbacks, and
            // END_OF_REQUEST's notification structure is NULL by definition.
            let status = unsafe {
                http_filter_proc(&mut context, SF_NOTIFY_END_OF_REQUEST, std::ptr::null_mut())
            };
            report(&format!(
                "{{\"event\":\"notified\",\"index\":{},\"returned\":{status},\"http_status\":null}}",
                image.index
            ));
        }
        Kind::Extension => {
            // SAFETY: the ISAPI extension ABI's HttpExtensionProc signature.
            let http_extension_proc =
                unsafe { std::mem::transmute::<_, HttpExtensionProcFn>(request_proc) };
            let mut block = ExtensionControlBlock {
                cb_size: size_of::<ExtensionControlBlock>() as u32,
                version: HSE_VERSION_6_0,
                conn_id: std::ptr::null_mut(),
                http_status_code: 200,
                log_data: [0; HSE_LOG_BUFFER_LEN],
                method: b"GET\0".as_ptr(),
                query_string: b"\0".as_ptr(),
                path_info: b"/default.aspx\0".as_ptr(),
                path_translated: b"C:\\Inetpub\\wwwroot\\default.aspx\0".as_ptr(),
                total_bytes: 0,
                available: 0,
                data: std::ptr::null_mut(),
                content_type: b"\0".as_ptr(),
                get_server_variable: server::ecb_get_server_variable,
                write_client: server::ecb_write_client,
                read_client: server::ecb_read_client,
                server_support_function: server::ecb_server_support_function,
            };
            report(&format!(
                "{{\"event\":\"calling\",\"index\":{},\"function\":\"HttpExtensionProc\"}}",
                image.index
            ));
            // SAFETY: the control block is fully initialised, its strings are NUL-terminated
            // statics and its callbacks work; a GET has no body.
            let status = unsafe { http_extension_proc(&mut block) };
            report(&format!(
                "{{\"event\":\"notified\",\"index\":{},\"returned\":{status},\"http_status\":{}}}",
                image.index, block.http_status_code
            ));
        }
        Kind::Module => {}
    }
}

fn terminate(image: &ReadyImage) {
    let Some(terminate) = image.terminate else { return };
    let function = match image.kind {
        Kind::Filter => "TerminateFilter",
        Kind::Extension => "TerminateExtension",
        Kind::Module => return,
    };
    report(&format!(
        "{{\"event\":\"calling\",\"index\":{},\"function\":\"{function}\"}}",
        image.index
    ));
    // SAFETY: TerminateFilter and TerminateExtension both take one flags DWORD; IIS passes
    // HSE_TERM_MUST_UNLOAD at shutdown.
    let returned = unsafe {
        let terminate = std::mem::transmute::<_, TerminateExtensionFn>(terminate);
        terminate(HSE_TERM_MUST_UNLOAD)
    } != 0;
    report(&format!(
        "{{\"event\":\"terminated\",\"index\":{},\"returned\":{returned}}}",
        image.index
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

    pub unsafe extern "system" fn ecb_get_server_variable(
        _: *mut c_void,
        _: *const u8,
        _: *mut c_void,
        _: *mut u32,
    ) -> i32 {
        // SAFETY: sets the calling thread's last-error value only.
        unsafe { windows_sys::Win32::Foundation::SetLastError(ERROR_INVALID_INDEX) };
        0
    }

    pub unsafe extern "system" fn ecb_write_client(
        _: *mut c_void,
        _: *mut c_void,
        _: *mut u32,
        _: u32,
    ) -> i32 {
        1
    }

    pub unsafe extern "system" fn ecb_read_client(
        _: *mut c_void,
        _: *mut c_void,
        size: *mut u32,
    ) -> i32 {
        // A GET has no body: nothing more to read.
        if !size.is_null() {
            // SAFETY: the extension passes a valid pointer to its buffer size.
            unsafe { *size = 0 };
        }
        1
    }

    pub unsafe extern "system" fn ecb_server_support_function(
        _: *mut c_void,
        _: u32,
        _: *mut c_void,
        _: *mut u32,
        _: *mut u32,
    ) -> i32 {
        1
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

/// The start of every report line, with the protocol version: the harness parses only lines
/// that begin with it, so a filter's own printing can never be taken for a step. It must equal
/// `harness::host::MARKER`.
const MARKER: &str = "@isapi-host/1 ";

fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // A broken pipe means the harness has gone away; there is nobody left to tell.
    let _ = writeln!(stdout, "{MARKER}{line}");
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
