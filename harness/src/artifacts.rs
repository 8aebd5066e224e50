//! Where the built host programs, mock filters and mock extensions are, and where the simulated machines live.
//!
//! `cargo xtask build` writes everything under `target/isapi-harness/`, and `cargo xtask dist`
//! copies the same tree into a folder with the binary and the regression scenarios beside it;
//! this module is the one place that knows that layout on the reading side.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};

use crate::arch::{Arch, Bits};
use crate::mock::Mock;
use crate::vocab::ProcessName;

#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
}

impl Artifacts {
    /// Finds the artifacts: from `ISAPI_HARNESS_DIR` when set (the xtask sets it); beside this
    /// executable when it sits in a dist folder (`hosts/` next to it); otherwise the
    /// `target/isapi-harness` of the `target` folder it was built into.
    /// Artifacts at `root`, unchecked: for unit tests that never reach a built file.
    #[cfg(test)]
    pub(crate) fn unchecked(root: PathBuf) -> Artifacts {
        Artifacts { root }
    }

    pub fn locate() -> anyhow::Result<Artifacts> {
        let root = match std::env::var_os("ISAPI_HARNESS_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let exe = std::env::current_exe().context("cannot find the running executable")?;
                let beside = exe.parent().map(Path::to_owned).unwrap_or_default();
                let target = exe
                    .ancestors()
                    .find(|dir| dir.file_name().is_some_and(|name| name == "target"));
                match target {
                    _ if beside.join(HOSTS).is_dir() => beside,
                    Some(target) => target.join("isapi-harness"),
                    None => bail!(
                        "cannot find the host programs from `{}`: neither a `{HOSTS}` folder \
                         beside it (a folder `cargo xtask dist` made) nor a `target` folder \
                         above it; set ISAPI_HARNESS_DIR to the target/isapi-harness folder \
                         that `cargo xtask build` made",
                        exe.display()
                    ),
                }
            }
        };
        let artifacts = Artifacts { root: std::path::absolute(&root)? };
        for bits in [Bits::B32, Bits::B64] {
            let host = artifacts.host(bits, ProcessName::Inetinfo);
            if !host.is_file() {
                bail!(
                    "the {bits} host program `{}` is not built; run `cargo xtask build`",
                    host.display()
                );
            }
        }
        Ok(artifacts)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host executable that plays `process` at `bits`.
    pub fn host(&self, bits: Bits, process: ProcessName) -> PathBuf {
        self.root.join(HOSTS).join(bits.host_arch().dir_name()).join(process.file_name())
    }

    /// A mock filter variant (a line of `mock-filters/variants.txt`) or, for the names that
    /// begin with `extension`, a mock extension variant (`mock-extensions/variants.txt`),
    /// built for `arch`.
    pub fn mock(&self, arch: Arch, mock: Mock) -> anyhow::Result<PathBuf> {
        let path = self.root.join(mock.folder()).join(arch.dir_name()).join(format!("{mock}.dll"));
        if !path.is_file() {
            bail!(
                "the mock `{mock}` for {arch} is not built at `{}`; run `cargo xtask build` (the \
                 variants are listed in {})",
                path.display(),
                mock.list()
            );
        }
        Ok(path)
    }

    /// A synthetic image written by `cargo xtask build` (an image no compiler would produce).
    pub fn odd_image(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.root.join("filters").join("odd").join(format!("{name}.dll"));
        if !path.is_file() {
            bail!("no synthetic image `{name}` at `{}`; run `cargo xtask build`", path.display());
        }
        Ok(path)
    }

    /// A dependency fixture built from `mock-deps/` for `arch` (`deps/<arch>/NAME`): the
    /// crafted DLLs each row of Windows's loader rules is measured with.
    pub fn dependency_fixture(&self, arch: Arch, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.root.join("deps").join(arch.dir_name()).join(name);
        if !path.is_file() {
            bail!(
                "the dependency fixture `{name}` for {arch} is not built at `{}`; run `cargo xtask build`",
                path.display()
            );
        }
        Ok(path)
    }

    /// Whether `source` is one of the harness's own files (a build of `cargo xtask build`, or
    /// a file the harness wrote to probe with), rather than a DLL of the user's.
    pub fn is_own(&self, source: &Path) -> bool {
        ["filters", "extensions", "deps"]
            .iter()
            .any(|folder| source.starts_with(self.root.join(folder)))
            || source.starts_with(self.probe_files_dir())
    }

    /// Where the harness writes the plain files it places for probes (never DLLs).
    pub fn probe_files_dir(&self) -> PathBuf {
        self.machines_dir().join("probe-files")
    }

    /// Writes `text` as the probe file `name` (unless it already holds exactly that) and
    /// returns its path, to be placed on a machine's disk.
    pub fn probe_file(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let dir = self.probe_files_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
            // Written beside and renamed, so a run placing it at the same time never copies
            // half a file.
            let partial = dir.join(format!("{name}.{}.partial", std::process::id()));
            std::fs::write(&partial, text)
                .and_then(|()| std::fs::rename(&partial, &path))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        Ok(path)
    }

    /// Where the simulated machines (the Wine prefix, the sandbox) keep their state:
    /// `--machine-dir` when given, otherwise `machine/` among the artifacts.
    pub fn machines_dir(&self) -> PathBuf {
        match MACHINE_DIR.get() {
            Some(dir) => dir.clone(),
            None => self.root.join(MACHINE),
        }
    }

    /// The regression scenarios `matrix` runs when no `--scenarios` is given: the `scenarios/`
    /// folder of a dist folder, or the repository's `tests/scenarios` the binary was built from.
    pub fn default_scenarios(&self) -> PathBuf {
        let beside = self.root.join(SCENARIOS);
        if beside.is_dir() {
            beside
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join("scenarios")
        }
    }
}

/// The folder of the host programs, under the artifacts' root.
pub const HOSTS: &str = "hosts";
/// The folder of the simulated machines' state, under the artifacts' root; a dist folder leaves
/// it out.
pub const MACHINE: &str = "machine";
/// The regression scenarios' folder in a dist folder.
pub const SCENARIOS: &str = "scenarios";

/// Set once by `--machine-dir`.
static MACHINE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Puts the simulated machines' state in `dir` instead of `machine/` (`--machine-dir`).
pub fn set_machine_dir(dir: &Path) -> anyhow::Result<()> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("cannot make `{}` an absolute path", dir.display()))?;
    MACHINE_DIR
        .set(dir)
        .map_err(|_| anyhow::anyhow!("the machine folder was already chosen for this run"))
}
