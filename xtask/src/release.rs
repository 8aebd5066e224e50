//! `cargo xtask release [DIR]`: the archives a release carries, and their test.
//!
//! ```text
//! DIR/isapi-harness-X.Y.Z-x86_64-linux.tar.gz      the dist folder (`dist.rs`), on Linux
//! DIR/isapi-harness-X.Y.Z-x86_64-windows.zip       the same with the MSVC build, on Windows
//! DIR/<archive>.sha256                             `sha256sum` format: digest, two spaces, name
//! ```
//!
//! Each archive holds one folder, `isapi-harness-X.Y.Z-<platform>/`, which runs wherever it is
//! unpacked. X.Y.Z is the workspace's version; the tag `vX.Y.Z` makes the GitHub release
//! (`.github/workflows/release.yml`), which runs this command on each runner and uploads what
//! it wrote. [`check`] is what CI runs: it builds the archive, unpacks it in a temporary
//! folder, checks its digest, and runs `--version`, the seed replay, a matrix shard and
//! `doctor` from there.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use xshell::{Shell, cmd};

/// The version a release carries: the workspace's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The platform part of an archive's name: the architecture the harness was built for (a
/// Windows CI row builds a 32-bit one), then the OS.
fn platform() -> &'static str {
    match (cfg!(windows), cfg!(target_arch = "x86")) {
        (true, true) => "i686-windows",
        (true, false) => "x86_64-windows",
        (false, true) => "i686-linux",
        (false, false) => "x86_64-linux",
    }
}

/// The name of the folder inside the archive, and of the archive without its extension.
pub fn stem() -> String {
    format!("isapi-harness-{VERSION}-{}", platform())
}

fn archive_extension() -> &'static str {
    if cfg!(windows) { "zip" } else { "tar.gz" }
}

/// Where `cargo xtask release` writes when no DIR is given.
pub fn default_dir() -> PathBuf {
    crate::artifacts::dir().with_file_name("release-archives")
}

/// Builds the dist folder and writes this platform's archive and its `.sha256` into `out`.
/// Returns the archive's path.
pub fn write(sh: &Shell, out: &Path) -> anyhow::Result<PathBuf> {
    let stem = stem();
    let staging = tempfile::tempdir().context("cannot make a temporary folder")?;
    crate::dist::write(sh, &staging.path().join(&stem))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let archive = out.join(format!("{stem}.{}", archive_extension()));
    let from = staging.path();
    // tar is on every runner: GNU tar on Linux, bsdtar (which writes zip with -a) on Windows.
    if cfg!(windows) {
        cmd!(sh, "tar -a -c -f {archive} -C {from} {stem}").run()?;
    } else {
        cmd!(sh, "tar -c -z -f {archive} -C {from} {stem}").run()?;
    }
    let digest = sha256_of(&archive)?;
    let name = archive.file_name().expect("the archive has a name").to_string_lossy();
    std::fs::write(sha256_path(&archive), format!("{digest}  {name}\n"))?;
    println!("release: wrote `{}` (sha256 {digest})", archive.display());
    Ok(archive)
}

fn sha256_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|byte| format!("{byte:02x}")).collect())
}

/// The release's test: the archive built, unpacked somewhere else (outside the repository, with
/// no cargo and no `ISAPI_HARNESS_DIR` in sight), its digest checked, and the harness run from
/// the unpacked folder: `--version`, the seed replay, one matrix shard of its own default
/// scenarios, and `doctor`. The machine it makes must be inside the unpacked folder.
pub fn check(sh: &Shell) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("cannot make a temporary folder")?;
    let started = Instant::now();
    let archive = write(sh, &scratch.path().join("assets"))?;
    println!("release: built and packed in {:.1} s", started.elapsed().as_secs_f64());
    let recorded = std::fs::read_to_string(sha256_path(&archive))?;
    let digest = sha256_of(&archive)?;
    if recorded.split_whitespace().next() != Some(digest.as_str()) {
        bail!("`{}` says {recorded:?}, but the archive's sha256 is {digest}", archive.display());
    }
    // The unpacked folder and the action each make a machine of their own, whose new Wine
    // prefix is mostly one core's work for 10-20 s, so the two run side by side.
    let started = Instant::now();
    std::thread::scope(|scope| {
        let action = scope.spawn(|| {
            if cfg!(windows) {
                return Ok(());
            }
            check_action(&crate::project_shell()?, scratch.path(), &archive)
        });
        let unpacked = check_unpacked(sh, scratch.path(), &archive);
        let action = action.join().expect("the action's check panicked");
        unpacked.and(action)
    })?;
    println!(
        "release: the unpacked archive and the action ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The archive unpacked in a folder of its own and run from there: `--version`, the seed
/// replay, a matrix shard, `doctor`, and the schemas it carries.
fn check_unpacked(sh: &Shell, scratch: &Path, archive: &Path) -> anyhow::Result<()> {
    let unpacked = scratch.join("elsewhere");
    std::fs::create_dir_all(&unpacked)?;
    cmd!(sh, "tar -x -f {archive} -C {unpacked}").run()?;
    let folder = unpacked.join(stem());
    let exe = folder.join(format!("isapi-harness{}", std::env::consts::EXE_SUFFIX));
    let cwd = scratch;
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let _dir = sh.push_dir(cwd);
        cmd!(sh, "{exe} {args...}")
            .env_remove("ISAPI_HARNESS_DIR")
            .env_remove("CARGO")
            .env_remove("CARGO_MANIFEST_DIR")
            .read()
            .with_context(|| {
                format!("`isapi-harness {}` failed in the unpacked release", args.join(" "))
            })
    };
    let version = run(&["--version"])?;
    if !version.starts_with(&format!("isapi-harness {VERSION} (commit ")) {
        bail!(
            "the unpacked release's --version says `{version}`, not version {VERSION} and its commit"
        );
    }
    let repro = run(&["repro"])?;
    if !repro.contains("failure reproduced, fix A verified, fix B verified") {
        bail!("the unpacked release's repro did not verify both fixes:\n{repro}");
    }
    if !folder.join("machine").is_dir() {
        bail!("the unpacked release's run made no `machine/` inside it");
    }
    // Its own scenarios, found beside the binary: one shard of three, as a user's CI would.
    // (A failing scenario exits 1, which `run` reports.)
    let matrix = run(&["matrix", "--shard", "1/3"])?;
    if !matrix.contains("passed") {
        bail!("the unpacked release's matrix shard printed no summary:\n{matrix}");
    }
    // Exits 1 when anything is missing, which `run` reports; it must find the unpacked files.
    let doctor = run(&["doctor"])?;
    let folder_text = folder.display().to_string();
    if !doctor.contains(&folder_text) {
        bail!("the unpacked release's doctor did not find its files in `{folder_text}`:\n{doctor}");
    }
    // The contract a script reads the outputs by travels with them, as the repository keeps it.
    for entry in std::fs::read_dir(crate::project_root().join("schema"))? {
        let kept = entry?.path();
        let shipped = folder.join("schema").join(kept.file_name().expect("a file"));
        if std::fs::read(&shipped).ok() != Some(std::fs::read(&kept)?) {
            bail!("the unpacked release lacks `{}` as the repository keeps it", shipped.display());
        }
    }
    println!("release: `{}` unpacks and runs: {version}", archive.display());
    Ok(())
}

/// The action's script (`ci/action`, every step of `action.yml`) run as a workflow runs it from
/// `uses: OWNER/isapi-harness@vX.Y.Z`, offline: the action's folder is a copy of only the files
/// it may need, without `.git` (as a download is), and the releases are a `file://` folder
/// holding the archive just built. It must download and verify the archive, find nothing to
/// install, and run a matrix shard that writes its JUnit report; and it must refuse an archive
/// that does not match its `.sha256`. (Linux only: the Windows branch runs on the Windows row
/// of the workflow's action job.)
fn check_action(sh: &Shell, scratch: &Path, archive: &Path) -> anyhow::Result<()> {
    let root = crate::project_root();
    // Named as the runner names a downloaded action's folder: after its ref.
    let action = scratch.join("action").join(format!("v{VERSION}"));
    for file in ["action.yml", "ci/action", "Cargo.toml"] {
        let to = action.join(file);
        sh.create_dir(to.parent().expect("a file has a folder"))?;
        sh.copy_file(root.join(file), &to)?;
    }
    let releases = scratch.join("releases");
    let assets = releases.join(format!("v{VERSION}"));
    sh.create_dir(&assets)?;
    let name = archive.file_name().expect("the archive has a name");
    sh.copy_file(archive, assets.join(name))?;
    sh.copy_file(sha256_path(archive), sha256_path(&assets.join(name)))?;
    let runner_temp = scratch.join("runner-temp");
    let workspace = scratch.join("workspace");
    let outputs = scratch.join("github-output");
    sh.create_dir(&runner_temp)?;
    sh.create_dir(&workspace)?;
    let script = action.join("ci").join("action");
    let step = |subcommand: &str| {
        cmd!(sh, "bash {script} {subcommand}")
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_WORKSPACE", &workspace)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("ISAPI_HARNESS_RELEASES_URL", format!("file://{}", releases.display()))
            .env_remove("ISAPI_HARNESS_DIR")
            .env_remove("CARGO")
    };
    step("prepare").run().context("the action's prepare step failed")?;
    let output = |key: &str| -> anyhow::Result<String> {
        let text = sh.read_file(&outputs)?;
        text.lines()
            .filter_map(|line| line.strip_prefix(&format!("{key}=")))
            .next_back()
            .map(str::to_owned)
            .with_context(|| format!("the action's steps gave no output `{key}`:\n{text}"))
    };
    if !output("key")?.starts_with("isapi-harness-Linux-X64-download-") {
        bail!(
            "the action did not take the download path, or keyed its cache wrongly: {}",
            output("key")?
        );
    }
    step("install").run().context("the action's install step failed")?;
    let dist = PathBuf::from(output("dist")?);
    if !dist.join("isapi-harness").is_file() {
        bail!("the action's install step left no `isapi-harness` in `{}`", dist.display());
    }
    // Everything is installed here already, so this only checks.
    step("provision").run().context("the action's provision step failed")?;
    step("run")
        .env("INPUT_SCENARIOS", root.join("tests").join("scenarios"))
        .env("INPUT_JUNIT", "junit-action.xml")
        .env("INPUT_SHARD", "2/6")
        .env("INPUT_JOBS", "2")
        .env("INPUT_UNSANDBOXED", "false")
        .env("INPUT_ARGS", "--timeout-ms 20000")
        .run()
        .context("the action's run step failed")?;
    let junit = workspace.join("junit-action.xml");
    if output("junit")? != junit.display().to_string() {
        bail!("the action's output junit is `{}`, not `{}`", output("junit")?, junit.display());
    }
    let report = std::fs::read_to_string(&junit)
        .with_context(|| format!("the action wrote no JUnit report at `{}`", junit.display()))?;
    if !report.contains("<testsuite") {
        bail!("the action's JUnit report has no test suite:\n{report}");
    }

    // An archive that is not the one its digest names is refused before anything is unpacked.
    let recorded = std::fs::read_to_string(sha256_path(archive))?;
    let forged = format!("{}{}", "0".repeat(64), &recorded[64..]);
    std::fs::write(sha256_path(&assets.join(name)), forged)?;
    if step("install").quiet().ignore_stderr().ignore_stdout().run().is_ok() {
        bail!("the action installed an archive that does not match its .sha256");
    }
    println!("release: the action downloads, verifies and runs `{}`", name.to_string_lossy());
    Ok(())
}
