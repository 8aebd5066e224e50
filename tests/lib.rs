//! What the test binaries share; the tests themselves are in `it/` and `cli/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use harness::process::{self, Launch};

/// The `isapi-harness` binary, built once per test process.
///
/// Cargo builds a dependency's library but not its binaries for another package's tests, so
/// this builds it (a no-op when it is up to date), which also means a test never runs a stale
/// binary. `ISAPI_HARNESS_BIN` names a binary built beforehand instead: the Windows builds of
/// the suite run under Wine, where cargo (a Linux program) cannot be started.
pub fn harness_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(built) = std::env::var_os("ISAPI_HARNESS_BIN") {
            return PathBuf::from(built);
        }
        let exe = std::env::current_exe().expect("the test binary knows its path");
        // The test binary is <target>/<profile>/deps/it-<hash>.
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("the profile folder is in the target folder");
        let mut args: Vec<OsString> =
            ["build", "--quiet", "--package", "harness", "--bin", "isapi-harness", "--target-dir"]
                .map(OsString::from)
                .to_vec();
        args.push(target_dir.into());
        match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => {}
            Some("release") => args.push("--release".into()),
            Some(profile) => args.extend(["--profile".into(), profile.into()]),
        }
        let cargo = Launch { program: env!("CARGO").into(), args, env: Vec::new() };
        let build =
            process::run_bounded(&cargo, &[], Duration::from_secs(30 * 60), &std::env::temp_dir())
                .expect("cargo can be started to build isapi-harness");
        assert!(
            build.status.is_some_and(|status| status.success()),
            "`cargo build -p harness` failed:\n{}",
            build.stderr
        );
        profile_dir.join(format!("isapi-harness{}", std::env::consts::EXE_SUFFIX))
    })
}
