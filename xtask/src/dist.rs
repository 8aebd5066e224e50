//! `cargo xtask dist [DIR]`: one folder that runs anywhere, without the repository or cargo.
//!
//! ```text
//! DIR/isapi-harness(.exe)   the CLI, release build
//! DIR/hosts/ filters/ ...   every image folder `cargo xtask build` made, copied as they are
//! DIR/scenarios/            the regression scenarios (tests/scenarios), matrix's default
//! DIR/schema/               the JSON Schema of each command's `--json` document (schema/)
//! DIR/README.txt            what the folder is and what it still needs
//! DIR/LICENSE-MIT, LICENSE-APACHE   the licence the folder's programs are shipped under
//! DIR/machine/              made by the first run: the simulated machines (--machine-dir moves it)
//! ```
//!
//! The binary finds its files beside itself (`harness/src/artifacts.rs`). Every folder of
//! `target/isapi-harness/` is carried except the ones that are no images (the build's object
//! files, the linters' venv, the machines' state), so a new kind of image the build learns to
//! make is carried without a change here. Its test is the release's (`release::check`): the
//! folder packed, unpacked elsewhere and run from there.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

/// Folders of `target/isapi-harness/` that hold no images a run needs. (`deps/`, the
/// dependency fixtures, is carried: `doctor` measures Windows's loader rules with them.)
const NOT_IMAGES: &[&str] = &["machine", "obj", "tools"];

/// Marks a folder this command wrote, so that writing it again may replace it.
const MARKER: &str = ".isapi-harness-dist";

const README: &str = "\
isapi-harness, ready to run

Reproduces IIS 6.0's ISAPI filter bitness failures (Windows loader error 193) with real loads
of real DLLs in 32- and 64-bit host processes. This folder works wherever it is put:

  isapi-harness repro                       replay the seed case, verify both fixes
  isapi-harness matrix --junit report.xml   the regression scenarios in scenarios/
  isapi-harness start --metabase MetaBase.xml
  isapi-harness doctor                      what this machine lacks, and how to install it

hosts/ holds the host programs, filters/ the mock filters, native module and odd images,
extensions/ the mock ISAPI extensions, deps/ the crafted DLLs `doctor` measures the loader's
rules with; the simulated machine is made in machine/ on the first run (10-20 s on Linux), or where --machine-dir says.
schema/ holds the JSON Schema of each command's --json output (start.json, repro.json,
diagnose.json, matrix.json, inspect.json, doctor.json); every output carries its
`schema_version`, which additions keep and removals, renames and type changes raise.
On Linux the harness needs Wine 8 with its 32-bit modules and bubblewrap: `isapi-harness
doctor` says what is missing and the commands that install it. On Windows it needs nothing.

Licensed under either of the Apache License, Version 2.0 (LICENSE-APACHE) or the MIT licence
(LICENSE-MIT), at your option.
";

/// The folder `cargo xtask dist` writes when no DIR is given.
pub fn default_dir() -> PathBuf {
    crate::artifacts::dir().with_file_name("dist").join("isapi-harness")
}

/// Builds everything and writes the folder at `dir`.
pub fn write(sh: &Shell, dir: &Path) -> anyhow::Result<()> {
    crate::build(sh)?;
    let cargo = crate::cargo();
    cmd!(sh, "{cargo} build --quiet --release --package harness --bin isapi-harness").run()?;
    let exe_name = format!("isapi-harness{}", std::env::consts::EXE_SUFFIX);
    let target = crate::artifacts::dir().parent().expect("inside target").to_owned();
    let binary = target.join("release").join(&exe_name);

    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).is_file() {
            bail!(
                "`{}` exists and is not a folder `cargo xtask dist` wrote; name an empty or new folder",
                dir.display()
            );
        }
        sh.remove_path(dir)?;
    }
    sh.create_dir(dir)?;
    std::fs::write(dir.join(MARKER), b"")?;
    std::fs::copy(&binary, dir.join(&exe_name))
        .with_context(|| format!("cannot copy `{}`", binary.display()))?;
    for entry in std::fs::read_dir(crate::artifacts::dir())? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_dir() && !NOT_IMAGES.iter().any(|skip| name == *skip) {
            copy_tree(&entry.path(), &dir.join(&name))?;
        }
    }
    copy_tree(&crate::project_root().join("tests").join("scenarios"), &dir.join("scenarios"))?;
    copy_tree(&crate::project_root().join("schema"), &dir.join("schema"))?;
    std::fs::write(dir.join("README.txt"), README)?;
    // A binary handed on must carry its licence (MIT OR Apache-2.0, both texts).
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        std::fs::copy(crate::project_root().join(licence), dir.join(licence))
            .with_context(|| format!("cannot copy `{licence}` into `{}`", dir.display()))?;
    }
    println!("dist: wrote `{}`", dir.display());
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create `{}`", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read `{}`", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy to `{}`", target.display()))?;
        }
    }
    Ok(())
}
