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
//! One cargo build makes the harness and the three test executables that run, for both targets
//! (only those, with one feature resolution, both targets side by side); each executable is
//! then started through [`run_one`] (`xtask wine-runner`), from its package's folder as `cargo
//! test` would: it puts the `bcryptprimitives.dll` shim beside the executable when Wine lacks
//! the DLL, then starts it with `wine64`. One wineserver serves every run and is stopped by its
//! prefix (`wineserver -k`) when the step ends, failing or not.
//!
//! What runs is named here, not found: the library's unit tests, the loader quadrants and the
//! scenario matrix of the `it` suite, and the command-line contract of the `cli` suite, whose
//! tests run the binary's seed replay (`repro --json`, both fixes verified) and its matrix. The
//! Linux-only parts (bubblewrap, signals) stay with the Linux runs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::artifacts::{Arch, Toolchain};

/// The `it` tests run on the windows backend: the loader quadrants, every scenario file, and
/// the server's profile against this computer's answers (`windows_backend`, Windows only).
const IT_TESTS: &[&str] = &["loader::", "scenarios::", "windows_backend::"];

/// The `cli` tests run on the windows backend: the command-line contract, the seed replay and
/// the matrix through the binary, diagnose and sharding. Left to the Linux runs: `sandbox::` and `hostile_input::` (bubblewrap, Unix
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
        // Nothing here needs Mono or Gecko (no one could answer Wine's offer to install them),
        // nor the desktop menu entries `winemenubuilder` writes at each server's first program;
        // the harness's machines leave it out too, so the bench's cold Wine process is the
        // same Wine.
        ("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d".into()),
    ]
}

/// Builds and runs everything for both targets. The harness's hosts and filters must be
/// built already (`cargo xtask build`).
pub fn run(sh: &Shell) -> anyhow::Result<()> {
    if cfg!(windows) {
        bail!("`cargo xtask windows-gnu` runs the Windows builds under Wine, on Linux");
    }
    // Each phase says how long it took, so that the step's time in CI's log can be split.
    let started = Instant::now();
    // A new prefix (about 20 s of wineboot, mostly on one core) is made while both targets
    // compile, rather than after.
    let (built, server) = std::thread::scope(|scope| {
        let server = scope.spawn(|| Server::start(&crate::project_shell()?));
        let built = build(sh);
        (built, server.join().expect("the thread that starts the wineserver panicked"))
    });
    // A failed build is the error to report, whatever became of the server.
    let (built, server) = match (built, server) {
        (Ok(built), Ok(server)) => (built, server),
        (Err(error), server) => {
            if let Ok(server) = server {
                server.stop(sh);
            }
            return Err(error);
        }
        (Ok(_), Err(error)) => return Err(error),
    };
    println!("windows-gnu: built in {:.1} s", started.elapsed().as_secs_f64());
    let result = (|| {
        for (arch, built) in &built {
            let started = Instant::now();
            run_target(sh, *arch, built)?;
            let target = arch.rust_target(Toolchain::Gnu);
            println!("windows-gnu: {target} ran in {:.1} s", started.elapsed().as_secs_f64());
        }
        Ok(())
    })();
    server.stop(sh);
    result
}

/// Amd64 first: its runs are the quicker to fail.
const ARCHES: [Arch; 2] = [Arch::Amd64, Arch::X86];

/// What the build made for one target: the programs the runs start.
#[derive(Debug, Default)]
struct Built {
    harness: Option<PathBuf>,
    unit_tests: Option<PathBuf>,
    it: Option<PathBuf>,
    cli: Option<PathBuf>,
}

/// The harness and exactly the test executables that run, for both targets, in one cargo
/// invocation: one feature resolution (a `cargo build` of the binary and a `cargo test` per
/// suite each resolved the dependencies' features differently, and each rebuilt the harness and
/// half its dependencies), and both targets compiled side by side.
fn build(sh: &Shell) -> anyhow::Result<[(Arch, Built); 2]> {
    let cargo = crate::cargo();
    let targets: Vec<String> = ARCHES
        .iter()
        .flat_map(|arch| ["--target".to_owned(), arch.rust_target(Toolchain::Gnu).to_owned()])
        .collect();
    println!(
        "windows-gnu: building the harness and its suites for {}",
        ARCHES.map(|arch| arch.rust_target(Toolchain::Gnu)).join(" and ")
    );
    // `--lib --test` under `build` makes the library's unit tests and the two suites as test
    // executables, and `--bin` the harness itself, all with the features `cargo test` would use.
    let mut command = cmd!(
        sh,
        "{cargo} build --quiet --message-format=json-render-diagnostics {targets...} --package harness --package tests --bin isapi-harness --tests"
    );
    for arch in ARCHES {
        command = command.env(linker_variable(arch), format!("{}-gcc", arch.mingw_prefix()));
    }
    let command = command.env("TMPDIR", crate::artifacts::tools_tmp()?);
    let messages =
        command.read().context("cannot build the harness for the windows-gnu targets")?;
    let mut built = ARCHES.map(|arch| (arch, Built::default()));
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let Some(executable) = message["executable"].as_str() else { continue };
        let executable = PathBuf::from(executable);
        let Some((_, slot)) = built.iter_mut().find(|(arch, _)| {
            executable.components().any(|part| part.as_os_str() == arch.rust_target(Toolchain::Gnu))
        }) else {
            continue;
        };
        let test = message["profile"]["test"].as_bool() == Some(true);
        match (message["target"]["name"].as_str(), test) {
            (Some("isapi-harness"), false) => slot.harness = Some(executable),
            (Some("harness"), true) => slot.unit_tests = Some(executable),
            (Some("it"), true) => slot.it = Some(executable),
            (Some("cli"), true) => slot.cli = Some(executable),
            _ => {}
        }
    }
    Ok(built)
}

fn linker_variable(arch: Arch) -> String {
    let target = arch.rust_target(Toolchain::Gnu).to_uppercase().replace('-', "_");
    format!("CARGO_TARGET_{target}_LINKER")
}

/// One target: the named tests, each executable started as `cargo test` starts it (from its
/// package's folder), through the runner.
fn run_target(sh: &Shell, arch: Arch, built: &Built) -> anyhow::Result<()> {
    let target = arch.rust_target(Toolchain::Gnu);
    let need = |path: &Option<PathBuf>, what: &str| {
        path.clone().with_context(|| format!("cargo reported no {what} for {target}"))
    };
    let harness = need(&built.harness, "isapi-harness.exe")?;
    // The cli suite starts the harness itself from inside Wine, not through the runner.
    place_shim(&harness)?;
    let xtask = std::env::current_exe().context("cannot find the xtask executable")?;
    let root = crate::project_root();
    let run = |exe: PathBuf, package: &str, args: &[&str]| -> anyhow::Result<()> {
        let _dir = sh.push_dir(root.join(package));
        let mut command = cmd!(sh, "{xtask} wine-runner {exe} --quiet {args...}")
            .env("ISAPI_HARNESS_BIN", &harness)
            // The Windows programs find the built hosts from their own path, as a user's would.
            .env_remove("ISAPI_HARNESS_DIR");
        for (key, value) in wine_env() {
            command = command.env(key, value);
        }
        Ok(command.run()?)
    };

    println!("windows-gnu: {target}: the library's unit tests");
    run(need(&built.unit_tests, "unit tests")?, "harness", &[])?;
    println!("windows-gnu: {target}: loader quadrants and scenarios ({})", IT_TESTS.join(" "));
    run(need(&built.it, "`it` suite")?, "tests", IT_TESTS)?;
    println!("windows-gnu: {target}: the command-line contract, the seed replay and the matrix");
    let mut exact = vec!["--exact"];
    exact.extend(CLI_TESTS);
    run(need(&built.cli, "`cli` suite")?, "tests", &exact)?;
    Ok(())
}

/// `xtask wine-runner EXE ARGS...`: how every Windows executable of the step is started. Exits with the
/// program's own exit code.
pub fn run_one(args: &[String]) -> anyhow::Result<()> {
    let Some((exe, rest)) = args.split_first() else {
        bail!("usage: xtask wine-runner EXE [ARGS...] (`cargo xtask windows-gnu` calls it)");
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
