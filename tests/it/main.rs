//! The integration tests: one binary, one module per feature, all against real builds and
//! real loads on one shared simulated machine (see `support`).

/// Shared machine and helpers.
mod support;

mod admin_tools;
/// The failure catalogue: every way a load fails, and its cause.
mod catalogue;
/// Wine's answers for a filter's dependencies, one test per row of the reference sheet.
#[cfg(unix)]
mod dependencies;
/// diagnose --verify: predictions against real loads.
mod diagnose;
/// IIS 7+: real applicationHost.config files, the IIS 10 twin of the seed, appcmd.
mod iis7;
/// The loader layer: mock filters of both architectures in hosts of both bitnesses.
mod loader;
/// The real IIS 6.0 metabases: start and diagnose with real loads.
mod real_metabases;
/// The regression matrix and the metabase quirks, one test per scenario file.
mod scenarios;
/// A copy of a server: its files placed, its dependencies carried, what it lacks missing.
mod server_copy;
/// Checks on the repository itself.
mod tidy;
/// Windows's answer for a filter's dependencies through a whole start, Wine's beside it.
#[cfg(unix)]
mod windows_answer;
/// The windows backend: this computer's answers where the server's profile differs.
#[cfg(windows)]
mod windows_backend;
