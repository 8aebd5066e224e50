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

/// A `mock-deps/` fixture, as `cargo xtask build` left it in `target/isapi-harness/deps/<arch>/`.
pub fn mock_dep(arch: harness::arch::Arch, name: &str) -> PathBuf {
    let artifacts = harness::artifacts::Artifacts::locate().expect("the built files are there");
    let path = artifacts.root().join("deps").join(arch.dir_name()).join(name);
    assert!(path.is_file(), "`{}` is not built: run `cargo xtask build`", path.display());
    path
}

/// Writes a server copy into `folder` (see `harness::server_copy`): `config` kept at the Windows
/// path `config_at`, and each file at its Windows path; `server.json` says `os` and `windows`.
pub fn write_server_copy(
    folder: &Path,
    (config, config_at): (&Path, &str),
    files: &[(&str, PathBuf)],
    os: harness::arch::Os,
    windows: Option<harness::windows_loader::WindowsVersion>,
) {
    use harness::server_copy::{FORMAT, Manifest, disk_path};
    let windows_path = |at: &str| harness::winpath::WinPath::parse(at).expect("a Windows path");
    let place = |at: &str, from: &Path| {
        let here = disk_path(folder, &windows_path(at));
        std::fs::create_dir_all(here.parent().expect("a folder")).expect("the folder is made");
        std::fs::copy(from, here).expect("the file is copied");
    };
    place(config_at, config);
    for (at, from) in files {
        place(at, from);
    }
    let relative = disk_path(Path::new(""), &windows_path(config_at));
    Manifest {
        format: FORMAT,
        config: relative.to_string_lossy().replace('\\', "/"),
        windows,
        os,
        installed: Vec::new(),
        system_files: Vec::new(),
        left_out: Vec::new(),
    }
    .write(folder)
    .expect("server.json is written");
}
