//! The host process: the stand-in for `inetinfo.exe` and `w3wp.exe`.
//!
//! The harness copies this executable under the name of the process it plays (so the loader, the
//! exception handler and any filter that asks see `inetinfo.exe` or `w3wp.exe`), and starts the
//! 32-bit or the 64-bit build of it with the absolute Windows paths of the filters to load.
//! The host loads each filter the way IIS does: `LoadLibraryExW` on the configured path, then
//! `GetFilterVersion`, then (with `--request`) one `HttpFilterProc` notification per registered
//! filter, then `TerminateFilter`.
//!
//! It reports every step as one JSON object per line on stdout, flushed before the next step
//! begins, so that when a filter crashes or hangs the harness still knows which call it was in.
//! The report is the only source of load results in the whole project: nothing here interprets
//! them, it only writes down what the loader and the filter returned.

#[cfg(windows)]
mod windows;

fn main() {
    #[cfg(windows)]
    windows::main();
    #[cfg(not(windows))]
    {
        eprintln!("isapi-host: this program runs only on Windows, natively or under Wine");
        std::process::exit(2);
    }
}
