//! `cargo xtask windows-gnu`: the native Windows backend's code, built for both
//! `*-pc-windows-gnu` targets and run under Wine on Linux.
//!
//! The harness itself becomes the Windows program here: `isapi-harness.exe` and the test
//! executables run in a Wine prefix of their own (`target/windows-gnu/prefix`, never the user's
//! `~/.wine`), on `--backend windows`, so the `cfg(windows)` code (process creation in a job
//! object, the sandbox folder for the drives, path mapping) meets a real Win32 API. The harness
//! is a trusted program in this prefix, so the prefix keeps Wine's `Z:` drive (the Linux root):
//! that drive shows the repository, the test executables' compiled-in paths and the working
//! folder to the Windows programs. (The prefix in which hosts load users' DLLs under the Wine
//! backend has no `Z:`; that one is `harness/src/machine/backend.rs`'s.)
//!
//! Cargo runs every Windows executable through [`run_one`] (`xtask wine-runner`, set as the
//! target runner): it puts the `bcryptprimitives.dll` shim beside the executable when Wine
//! lacks the DLL, then starts it with `wine64`. One wineserver serves every run and is stopped
//! by its prefix (`wineserver -k`) when the step ends, failing or not.
//!
//! What runs is named here, not found: the library's unit tests, the loader quadrants and the
//! scenario matrix of the `it` suite, the command-line contract of the `cli` suite, the seed
//! replay and the matrix through the binary. The Linux-only parts (bubblewrap, signals) stay
//! with the Linux runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::artifacts::{Arch, Toolchain};

/// The `it` tests run on the windows backend: the loader quadrants and every scenario file.
const IT_TESTS: &[&str] = &["loader::", "scenarios::"];

/// The `cli` tests run on the windows backend: the command-line contract, diagnose and
/// sharding. Left to the Linux runs: `sandbox::` and `hostile_input::` (bubblewrap, Unix
/// signals, Unix file kinds) and the test of a user's own filter, which compiles that filter
/// with the C compiler of the machine the test runs on (there is none inside Wine).
const CLI_TESTS: &[&str] = &[
    "start_json_reports_the_seed_failure",
    "start_exits_0_when_everything_loads_and_shows_a_timeline",
    "repro_reproduces_and_verifies_both_fixes",
    "matrix_prints_json_and_junit",
    "a_wrong_expectation_fails_the_matrix",
    "bad_input_exits_2_naming_the_file_and_touches_nothing",
    "diagnose_predicts_proves_and_ranks_remedies",
    "an_empty_shard_exits_0_and_says_so",
    "doctor_finds_everything_here",
    "collect::collect_on_windows_reads_the_machine_it_runs_on",
];

/// The Wine prefix the Windows builds of the harness run in.
fn prefix() -> PathBuf {
    crate::artifacts::dir()
        .parent()
        .expect("artifacts live inside the target folder")
        .join("windows-gnu")
        .join("prefix")
}

fn wineserver() -> PathBuf {
    Path::new(crate::setup::WINE64).with_file_name("wineserver")
}

/// The environment every Wine process of these runs gets (cargo passes it on to the runner).
pub fn wine_env() -> Vec<(&'static str, OsString)> {
    vec![
        ("WINEPREFIX", prefix().into_os_string()),
        ("WINEDEBUG", "-all".into()),
        // Nothing here needs Mono or Gecko, and no one could answer Wine's offer to install them.
        ("WINEDLLOVERRIDES", "mscoree,mshtml=".into()),
    ]
}

/// Builds and runs everything for both targets. The harness's hosts and filters must be
/// built already (`cargo xtask build`).
pub fn run(sh: &Shell) -> anyhow::Result<()> {
    if cfg!(windows) {
        bail!("`cargo xtask windows-gnu` runs the Windows builds under Wine, on Linux");
    }
    let server = Server::start(sh)?;
    let result = (|| {
        for arch in [Arch::Amd64, Arch::X86] {
            run_target(sh, arch)?;
        }
        Ok(())
    })();
    server.stop(sh);
    result
}

/// One target: build, then the named tests, the seed replay and the matrix.
fn run_target(sh: &Shell, arch: Arch) -> anyhow::Result<()> {
    let target = arch.rust_target(Toolchain::Gnu);
    let cargo = crate::cargo();
    let xtask = std::env::current_exe().context("cannot find the xtask executable")?;
    let with_env = |command| for_target(command, arch, &xtask);
    println!("windows-gnu: building for {target}");
    with_env(cmd!(
        sh,
        "{cargo} build --quiet --target {target} --package harness --bin isapi-harness"
    ))
    .run()?;
    let target_dir = crate::artifacts::dir().parent().expect("inside target").to_owned();
    let harness = target_dir.join(target).join("debug").join("isapi-harness.exe");
    place_shim(&harness)?;

    println!("windows-gnu: {target}: the library's unit tests");
    with_env(cmd!(sh, "{cargo} test --quiet --target {target} --package harness --lib")).run()?;
    println!("windows-gnu: {target}: loader quadrants and scenarios ({})", IT_TESTS.join(" "));
    with_env(cmd!(
        sh,
        "{cargo} test --quiet --target {target} --package tests --test it -- {IT_TESTS...}"
    ))
    .run()?;
    println!("windows-gnu: {target}: the command-line contract");
    with_env(cmd!(
        sh,
        "{cargo} test --quiet --target {target} --package tests --test cli -- --exact {CLI_TESTS...}"
    ))
    .env("ISAPI_HARNESS_BIN", &harness)
    .run()?;

    println!("windows-gnu: {target}: isapi-harness.exe repro --backend windows");
    with_env(cmd!(sh, "{xtask} wine-runner {harness} repro --backend windows")).run()?;
    println!("windows-gnu: {target}: isapi-harness.exe matrix --backend windows");
    with_env(cmd!(sh, "{xtask} wine-runner {harness} matrix --backend windows")).run()?;
    Ok(())
}

/// `command` with what every cargo and Wine run of `arch`'s target needs.
fn for_target<'a>(command: xshell::Cmd<'a>, arch: Arch, xtask: &Path) -> xshell::Cmd<'a> {
    let variable = |what: &str| {
        let target = arch.rust_target(Toolchain::Gnu).to_uppercase().replace('-', "_");
        format!("CARGO_TARGET_{target}_{what}")
    };
    let mut command = command
        .env(variable("RUNNER"), format!("{} wine-runner", xtask.display()))
        .env(variable("LINKER"), format!("{}-gcc", arch.mingw_prefix()))
        // The Windows programs find the built hosts from their own path, as a user's would.
        .env_remove("ISAPI_HARNESS_DIR");
    for (key, value) in wine_env() {
        command = command.env(key, value);
    }
    command
}

/// `xtask wine-runner EXE ARGS...`: how cargo runs a Windows executable. Exits with the
/// program's own exit code.
pub fn run_one(args: &[String]) -> anyhow::Result<()> {
    let Some((exe, rest)) = args.split_first() else {
        bail!("usage: xtask wine-runner EXE [ARGS...] (cargo calls it as the target runner)");
    };
    if std::env::var_os("WINEPREFIX").is_none_or(|prefix| prefix != prefix_os()) {
        bail!(
            "xtask wine-runner runs only inside `cargo xtask windows-gnu`, which sets WINEPREFIX"
        );
    }
    let exe = Path::new(exe);
    place_shim(exe)?;
    #[expect(clippy::disallowed_methods, reason = "the xtask is not the harness")]
    let status = std::process::Command::new(crate::setup::WINE64)
        .arg(exe)
        .args(rest)
        .status()
        .with_context(|| format!("cannot start `{}`", crate::setup::WINE64))?;
    // Wine returns 0 for a program it could not start at all only for 32-bit programs that
    // lack its i386 modules; `cargo xtask setup` has checked those, and every test asserts
    // on what the program printed, so an exit code of 0 here is the program's.
    std::process::exit(status.code().unwrap_or(1));
}

fn prefix_os() -> OsString {
    prefix().into_os_string()
}

/// Puts the `bcryptprimitives.dll` shim that `cargo xtask build` made for the executable's
/// bitness beside it, when the loader lacks the DLL (the build makes a shim only then).
fn place_shim(exe: &Path) -> anyhow::Result<()> {
    let arch = if exe.components().any(|part| part.as_os_str() == "i686-pc-windows-gnu") {
        Arch::X86
    } else {
        Arch::Amd64
    };
    let shim =
        crate::artifacts::dir().join("hosts").join(arch.dir_name()).join("bcryptprimitives.dll");
    if !shim.is_file() {
        return Ok(());
    }
    let beside = exe.with_file_name("bcryptprimitives.dll");
    let same = std::fs::read(&beside).ok() == Some(std::fs::read(&shim)?);
    if !same {
        std::fs::copy(&shim, &beside)
            .with_context(|| format!("cannot copy the shim to `{}`", beside.display()))?;
    }
    Ok(())
}

/// Creates the prefix if it is not there yet, leaving no server running.
pub fn ensure_prefix(sh: &Shell) -> anyhow::Result<()> {
    Server::start(sh)?.stop(sh);
    Ok(())
}

/// Stops the prefix's wineserver, and every Wine process it serves, and waits until it is gone.
pub fn stop_server(sh: &Shell) {
    Server.stop(sh);
}

/// The prefix's wineserver, persistent for the step and stopped by its prefix.
struct Server;

impl Server {
    fn start(sh: &Shell) -> anyhow::Result<Server> {
        let prefix = prefix();
        sh.create_dir(&prefix)?;
        let wineserver = wineserver();
        // `-p`: the server stays between the runs (a cold start per test binary would cost
        // about half a second each); `-k` at the end stops it and every Wine process it serves.
        let mut start = cmd!(sh, "{wineserver} -p");
        for (key, value) in wine_env() {
            start = start.env(key, value);
        }
        start.run().context("cannot start the wineserver for the windows-gnu runs")?;
        let server = Server;
        if !prefix.join("system.reg").is_file() {
            println!("windows-gnu: creating the Wine prefix `{}`", prefix.display());
            let wine64 = crate::setup::WINE64;
            let mut boot = cmd!(sh, "{wine64} wineboot --init").ignore_stderr();
            for (key, value) in wine_env() {
                boot = boot.env(key, value);
            }
            if let Err(error) = boot.run() {
                server.stop(sh);
                return Err(error)
                    .context("cannot create the Wine prefix for the windows-gnu runs");
            }
        }
        Ok(server)
    }

    fn stop(self, sh: &Shell) {
        let wineserver = wineserver();
        let mut stop = cmd!(sh, "{wineserver} -k").ignore_status().quiet();
        for (key, value) in wine_env() {
            stop = stop.env(key, value);
        }
        let _ = stop.run();
        // -k returns once the signal is sent; wait until the server is gone, so that nothing
        // of these runs is alive after the step.
        let mut wait = cmd!(sh, "{wineserver} -w").ignore_status().quiet();
        for (key, value) in wine_env() {
            wait = wait.env(key, value);
        }
        let _ = wait.run();
    }
}
