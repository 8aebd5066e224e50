//! Records the commit the harness is built from, so that `isapi-harness --version` says which
//! build a bug report is about (`isapi-harness 0.1.0 (commit abcdef0)`). A build outside a git
//! checkout (a source archive) says `unknown`.

use std::path::Path;

#[expect(
    clippy::disallowed_methods,
    reason = "a build script runs before the harness's own process module exists"
)]
fn git(args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ISAPI_HARNESS_COMMIT={commit}");
    // Built again when HEAD moves: HEAD itself (a checkout) and the ref it names (a commit).
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", git_dir.join(head_ref).display());
        }
        println!("cargo:rerun-if-changed={}", git_dir.join("packed-refs").display());
    }
}
