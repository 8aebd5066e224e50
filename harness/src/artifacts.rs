//! Where the built host programs, mock filters and mock extensions are, and where the simulated machines live.
//!
//! `cargo xtask build` writes everything under `target/isapi-harness/`; this module is the one
//! place that knows that layout on the reading side.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::arch::{Arch, Bits};
use crate::vocab::ProcessName;

#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
}

impl Artifacts {
    /// Finds `target/isapi-harness`: from `ISAPI_HARNESS_DIR` when set (the xtask sets it),
    /// otherwise from the `target` folder this executable was built into.
    pub fn locate() -> anyhow::Result<Artifacts> {
        let root = match std::env::var_os("ISAPI_HARNESS_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let exe = std::env::current_exe().context("cannot find the running executable")?;
                let target = exe
                    .ancestors()
                    .find(|dir| dir.file_name().is_some_and(|name| name == "target"));
                match target {
                    Some(target) => target.join("isapi-harness"),
                    None => bail!(
                        "cannot find the build folder from `{}`; set ISAPI_HARNESS_DIR to the \
                         target/isapi-harness folder that `cargo xtask build` made",
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
        self.root.join("hosts").join(bits.host_arch().dir_name()).join(process.file_name())
    }

    /// A mock filter variant (a line of `mock-filters/variants.txt`) or, for the names that
    /// begin with `extension`, a mock extension variant (`mock-extensions/variants.txt`),
    /// built for `arch`.
    pub fn mock(&self, arch: Arch, variant: &str) -> anyhow::Result<PathBuf> {
        let (folder, list, noun) = if is_extension_variant(variant) {
            ("extensions", "mock-extensions/variants.txt", "extension")
        } else {
            ("filters", "mock-filters/variants.txt", "filter")
        };
        let path = self.root.join(folder).join(arch.dir_name()).join(format!("{variant}.dll"));
        if !path.is_file() {
            bail!(
                "no mock {noun} variant `{variant}` for {arch} at `{}`; the variants are listed in \
                 {list} (run `cargo xtask build` after adding one)",
                path.display()
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

    /// Whether `source` is one of the harness's own files (a build of `cargo xtask build`, or
    /// a file the harness wrote to probe with), rather than a DLL of the user's.
    pub fn is_own(&self, source: &Path) -> bool {
        ["filters", "extensions"].iter().any(|folder| source.starts_with(self.root.join(folder)))
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

    /// Where the simulated machines (the Wine prefix, the sandbox) keep their state.
    pub fn machines_dir(&self) -> PathBuf {
        self.root.join("machine")
    }
}

/// Whether a mock variant's name is one of the mock extension's (`extension`,
/// `extension_refuse`, ...) rather than the mock filter's.
pub fn is_extension_variant(variant: &str) -> bool {
    variant == "extension" || variant.starts_with("extension_")
}
