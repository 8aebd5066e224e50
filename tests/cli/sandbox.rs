//! What a DLL of unknown origin can reach, and what a run leaves behind when it is killed: the
//! real `isapi-harness` binary, a hostile filter built here, and the process table.
//!
//! None of these tests skips: without bubblewrap they fail, saying so (`cargo xtask setup`
//! installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{harness, harness_binary, json, scenarios, stderr};

/// `target/isapi-harness/machine/wine`, the simulated machine the binary uses.
fn machine_dir() -> PathBuf {
    harness_binary().parent().unwrap().parent().unwrap().join("isapi-harness/machine/wine")
}

/// The prefix as built once, under every sandboxed run's changes; no run writes it.
fn prefix() -> PathBuf {
    machine_dir().join("base/disk/prefix")
}

/// The prefix as the processes of a sandboxed run see it (`WINEPREFIX`): the run's overlay.
fn live_prefix() -> PathBuf {
    machine_dir().join("live/disk/prefix")
}

/// IIS 5.0 isolation mode on x64: the 64-bit inetinfo.exe loads `C:\Filters\amd64\mockfilter.dll`
/// when W3SVC starts.
fn iis5_amd64_metabase() -> PathBuf {
    scenarios().join("matrix/x64-iis5-true-e32-absent-amd64.xml")
}

const FILTER_PATH: &str = r"C:\Filters\amd64\mockfilter.dll";

/// Builds `tests/data/escape-filter/escape.c` for AMD64 with the places it should try to reach.
#[expect(clippy::disallowed_methods, reason = "the test runs a compiler, not a host")]
fn build_escape_filter(
    out_dir: &Path,
    secret_dir: &Path,
    home: &Path,
    home_secret: &str,
    port: u16,
) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/escape-filter/escape.c");
    let out = out_dir.join("escape.dll");
    let define = |name: &str, value: &str| format!("-D{name}=\"{value}\"");
    let status = Command::new("x86_64-w64-mingw32-gcc")
        .arg("-shared")
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .arg(source.with_extension("def"))
        .arg(define("SECRET_DIR", secret_dir.to_str().unwrap()))
        .arg(define("HOME_DIR", home.to_str().unwrap()))
        .arg(define("HOME_SECRET", home_secret))
        .arg(format!("-DPORT={port}"))
        .arg("-lws2_32")
        .arg("-Wl,--enable-stdcall-fixup")
        .status();
    assert!(status.is_ok_and(|status| status.success()), "cannot build the escape filter");
    out
}

/// Removes a file in the home folder when the test ends, however it ends.
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The files in `dir` whose names start with `stem`.
fn files_starting_with(dir: &Path, stem: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(stem))
                .collect()
        })
        .unwrap_or_default()
}

/// A filter that tries every way out (Z:, \\?\unix\, \\?\Z:, \\.\Z:, the profile folders that
/// Wine links to the home folder, a TCP connection to 127.0.0.1, ptrace and process_vm_readv)
/// reads nothing, writes nothing outside the machine, reaches no one, traces nothing, and still
/// loads.
#[test]
fn sandbox_keeps_a_hostile_filter_inside_the_machine() {
    let build = tempfile::tempdir().unwrap();
    // Under the real /tmp, which the sandbox replaces with a folder of its own.
    let secret_dir = tempfile::Builder::new().prefix("isapi-escape-").tempdir_in("/tmp").unwrap();
    std::fs::write(secret_dir.path().join("secret.txt"), "the secret in /tmp").unwrap();
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    let stem = format!("isapi-escape-{}", std::process::id());
    let home_secret = format!("{stem}.txt");
    std::fs::write(home.join(&home_secret), "the secret in the home folder").unwrap();
    let mut planted = RemoveOnDrop(vec![home.join(&home_secret)]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dll = build_escape_filter(build.path(), secret_dir.path(), &home, &home_secret, port);

    let metabase = iis5_amd64_metabase();
    let image = format!("{FILTER_PATH}={}", dll.display());
    let output =
        harness(&["start", "--metabase", metabase.to_str().unwrap(), "--image", &image, "--json"]);
    let home_files = files_starting_with(&home, &stem);
    planted.0.extend(home_files.iter().map(|name| home.join(name)));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["sandbox"], true, "the run must be sandboxed: {}", stderr(&output));
    let filter = &report["hosts"][0]["filters"][0];
    assert_eq!(filter["loaded"], true, "the filter still loads: {filter}");
    let said = filter["description"].as_str().unwrap();
    assert!(said.starts_with("escape: inside=ok read=- wrote="), "something was read: {said}");
    assert!(said.contains(" net=- "), "the network was reached: {said}");
    assert!(said.ends_with(" trace=-"), "ptrace or process_vm_readv was allowed: {said}");
    assert!(!said.contains("-tmp") && !said.contains("-home"), "a write got out: {said}");
    let mut in_tmp = files_starting_with(secret_dir.path(), "");
    in_tmp.sort();
    assert_eq!(in_tmp, ["secret.txt"], "nothing is written beside the secret in /tmp");
    assert_eq!(
        home_files,
        std::slice::from_ref(&home_secret),
        "nothing is written in the home folder"
    );
    assert!(
        matches!(listener.accept(), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock),
        "the filter reached a listener on 127.0.0.1"
    );
    assert!(
        std::fs::symlink_metadata(prefix().join("dosdevices/z:")).is_err(),
        "the prefix has no Z: drive"
    );
}

/// An image at a path that holds a file of the prefix's own Windows is refused (exit 2, naming
/// the path) and the file is left as it was.
#[test]
fn sandbox_placing_over_a_file_of_the_machine_is_refused() {
    let kernel32 = prefix().join("drive_c/windows/system32/kernel32.dll");
    // A run first, so that the prefix exists.
    let metabase = scenarios().join("quirks/lowercase-key-paths.xml");
    let output = harness(&["start", "--metabase", metabase.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let before = std::fs::read(&kernel32).expect("the prefix has its own kernel32.dll");
    let output = harness(&[
        "start",
        "--metabase",
        metabase.to_str().unwrap(),
        "--image",
        r"C:\windows\system32\kernel32.dll=x86",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains(r"C:\windows\system32\kernel32.dll"), "names the path: {message}");
    assert!(message.contains("did not put there"), "{message}");
    assert_eq!(std::fs::read(&kernel32).unwrap(), before, "kernel32.dll is unchanged");
    // And the machine still works.
    let output = harness(&["start", "--metabase", metabase.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// The ids of the processes that run in the machine's prefix (their environment says so; the
/// sandbox's processes included, since their environment is set from outside), zombies aside.
fn processes_of_the_prefix() -> Vec<u32> {
    let wanted = format!("WINEPREFIX={}", live_prefix().display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if !zombie && environ.split(|&byte| byte == 0).any(|var| var == wanted.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` is alive (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a run whose inetinfo.exe hangs in GetFilterVersion, and returns once that host is
/// running (the run then holds the machine), with the processes of the prefix at that moment.
#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
#[expect(clippy::zombie_processes, reason = "the caller waits for the child it gets")]
fn start_hanging_run() -> (Child, Vec<u32>) {
    let metabase = iis5_amd64_metabase();
    let image = format!("{FILTER_PATH}=amd64:hang_in_gfv");
    let child = Command::new(harness_binary())
        .args(["start", "--metabase", metabase.to_str().unwrap(), "--image", &image])
        .args(["--timeout-ms", "120000"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("isapi-harness starts");
    let harness_pid = child.id();
    let descends_from_harness = |pid: u32| {
        let mut current = pid;
        for _ in 0..8 {
            match parent_of(current) {
                Some(parent) if parent == harness_pid => return true,
                Some(parent) if parent > 1 => current = parent,
                _ => return false,
            }
        }
        false
    };
    let started = Instant::now();
    loop {
        let hosts: Vec<u32> = processes_of_the_prefix()
            .into_iter()
            .filter(|&pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("inetinfo.exe"))
            })
            .filter(|&pid| descends_from_harness(pid))
            .collect();
        if !hosts.is_empty() {
            // Give the host a moment to reach GetFilterVersion.
            std::thread::sleep(Duration::from_millis(500));
            return (child, processes_of_the_prefix());
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the hanging host never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to ten seconds for every one of `pids` to be gone.
fn assert_all_gone(pids: &[u32], what: &str) {
    let started = Instant::now();
    while pids.iter().any(|&pid| alive(pid)) {
        if started.elapsed() > Duration::from_secs(10) {
            let left: Vec<String> = pids
                .iter()
                .filter(|&&pid| alive(pid))
                .map(|pid| {
                    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    format!("{pid} {}", String::from_utf8_lossy(&cmdline).replace('\0', " "))
                })
                .collect();
            panic!("{what}: processes of the run are still there: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL of the harness mid-hang leaves no process of the run, and the next run passes and
/// removes the killed run's output files.
#[test]
fn sandbox_a_run_killed_with_sigkill_leaves_no_process() {
    let (mut child, processes) = start_hanging_run();
    assert!(processes.len() >= 2, "the run has a host and a wineserver: {processes:?}");
    let killed = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_all_gone(&processes, "after SIGKILL");

    let metabase = scenarios().join("quirks/lowercase-key-paths.xml");
    let output = harness(&["start", "--metabase", metabase.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "the next run passes: {}", stderr(&output));
    let stale = files_starting_with(&machine_dir().join("runs"), &format!("host-{killed}-"));
    assert!(stale.is_empty(), "the next run removes the killed run's files: {stale:?}");
    assert!(
        !prefix().join("drive_c/Filters/amd64/mockfilter.dll").exists(),
        "the file the killed run placed is gone"
    );
}

/// SIGINT and SIGTERM end every process of the run and remove the placed file, and the run
/// exits with 130 or 143 saying "interrupted", blaming no filter.
#[cfg(unix)]
#[test]
fn sandbox_sigint_and_sigterm_end_the_run_cleanly() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let (child, processes) = start_hanging_run();
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let output = child.wait_with_output().unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "signal {signal}: {message}");
        assert!(message.contains("interrupted"), "{message}");
        assert!(!message.contains("stopped answering"), "no filter is blamed: {message}");
        assert_all_gone(&processes, "after the signal");
        assert!(
            !prefix().join("drive_c/Filters/amd64/mockfilter.dll").exists(),
            "the placed file is removed"
        );
    }
}

/// Where no sandbox can be made (here: no bubblewrap where ISAPI_HARNESS_BWRAP points), the
/// harness says so, still runs its own mock filters, refuses a DLL of the user's own (exit 2,
/// naming `--unsandboxed`), and loads it with `--unsandboxed`, reporting `"sandbox": false`.
#[test]
#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
fn sandbox_missing_refuses_a_users_own_dll_unless_unsandboxed() {
    let build = tempfile::tempdir().unwrap();
    let dll = super::build_user_filter(build.path(), "amd64");
    let metabase = iis5_amd64_metabase();
    let image = format!("{FILTER_PATH}={}", dll.display());
    let without_bwrap = |args: &[&str]| {
        Command::new(harness_binary())
            .args(args)
            .env("NO_COLOR", "1")
            .env("ISAPI_HARNESS_BWRAP", "/nonexistent/bwrap")
            .output()
            .expect("isapi-harness runs")
    };
    let mock = format!("{FILTER_PATH}=amd64");
    let output = without_bwrap(&[
        "start",
        "--metabase",
        metabase.to_str().unwrap(),
        "--image",
        &mock,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "the mocks still run: {}", stderr(&output));
    assert_eq!(json(&output)["sandbox"], false);
    let message = stderr(&output);
    // One line says it (another may say that the run waits for the machine).
    let said: Vec<&str> = message.lines().filter(|line| line.contains("no sandbox")).collect();
    assert_eq!(said.len(), 1, "one line says there is no sandbox: {message}");
    assert!(said[0].contains("bubblewrap") && said[0].contains("--unsandboxed"), "{message}");

    let output =
        without_bwrap(&["start", "--metabase", metabase.to_str().unwrap(), "--image", &image]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--unsandboxed"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());

    let output = without_bwrap(&[
        "start",
        "--unsandboxed",
        "--metabase",
        metabase.to_str().unwrap(),
        "--image",
        &image,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["sandbox"], false);
    assert_eq!(report["hosts"][0]["filters"][0]["description"], "A user's own filter");
}

/// Builds `tests/data/escape-filter/escape.c` for AMD64 as one of its attacks
/// (`-DHOSTILE=<mode>`, see the top of the file), with the strings it is given (`PLANTED`,
/// `LINK_TARGET`).
#[expect(clippy::disallowed_methods, reason = "the test runs a compiler, not a host")]
fn build_attack(out: &Path, mode: u32, strings: &[(&str, &str)]) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/escape-filter/escape.c");
    let status = Command::new("x86_64-w64-mingw32-gcc")
        .arg("-shared")
        .arg("-o")
        .arg(out)
        .arg(&source)
        .arg(source.with_extension("def"))
        .arg(format!("-DHOSTILE={mode}"))
        .args(strings.iter().map(|(name, value)| format!("-D{name}=\"{value}\"")))
        .arg("-lws2_32")
        .arg("-Wl,--enable-stdcall-fixup")
        .status();
    assert!(status.is_ok_and(|status| status.success()), "cannot build attack {mode}");
    out.to_owned()
}

/// One `start` of the IIS 5.0 isolation mode scenario with the attack as its filter; returns
/// the output and the filter's description.
fn start_with_attack(dll: &Path, extra: &[&str]) -> (std::process::Output, Value) {
    let metabase = iis5_amd64_metabase();
    let image = format!("{FILTER_PATH}={}", dll.display());
    let mut args = vec!["start", "--metabase", metabase.to_str().unwrap(), "--image", &image];
    args.extend(extra);
    args.push("--json");
    let output = harness(&args);
    let report = json(&output);
    assert_eq!(report["sandbox"], true, "the run must be sandboxed: {}", stderr(&output));
    (output, report)
}

fn description(report: &Value) -> String {
    report["hosts"][0]["filters"][0]["description"].as_str().unwrap_or("").to_owned()
}

/// A filter that makes a file setuid: the file belongs to the sandbox's own unprivileged
/// user (the user namespace maps it to itself, never to root), and its mount is nosuid and
/// nodev, so the bit grants nothing; and the file does not outlive the run.
#[test]
fn sandbox_a_setuid_file_made_inside_is_not_setuid_root_outside() {
    let build = tempfile::tempdir().unwrap();
    let dll = build_attack(&build.path().join("setuid.dll"), 1, &[]);
    let (output, report) = start_with_attack(&dll, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = description(&report);
    let field = |name: &str| {
        said.split(' ')
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in `{said}`"))
            .to_owned()
    };
    assert_eq!(field("chmod"), "0", "the attack made its file setuid: {said}");
    assert_eq!(field("mode"), "104755", "{said}");
    let owner: u32 = field("uid").parse().unwrap();
    assert_ne!(owner, 0, "the file is not root's: {said}");
    assert_eq!((field("nosuid"), field("nodev")), ("1".into(), "1".into()), "{said}");
    // `map=INSIDE OUTSIDE COUNT`: the user inside is the same unprivileged user outside.
    let map: Vec<&str> = said.split("map=").nth(1).unwrap().split_whitespace().collect();
    assert_eq!(map.len(), 3, "{said}");
    assert_eq!(map[0], owner.to_string(), "{said}");
    assert_eq!(map[1], owner.to_string(), "the sandbox's user is uid {owner} outside too: {said}");
    assert_ne!(map[1], "0", "{said}");
    assert!(!prefix().join("drive_c/setuid-probe.exe").exists(), "nothing reaches the base");
    assert!(
        !machine_dir().join("prefix/drive_c/setuid-probe.exe").exists(),
        "nothing reaches any prefix outside"
    );
}

/// A variable of the caller's environment is in no process's environment inside the
/// sandbox, bwrap's own (PID 1 there) included; the filter read those it could see.
#[test]
#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
fn sandbox_the_callers_environment_is_not_readable_inside() {
    let build = tempfile::tempdir().unwrap();
    let planted = format!("ISAPI_HARNESS_PLANTED_{}", std::process::id());
    let dll = build_attack(&build.path().join("environ.dll"), 2, &[("PLANTED", &planted)]);
    let metabase = iis5_amd64_metabase();
    let image = format!("{FILTER_PATH}={}", dll.display());
    let output = Command::new(harness_binary())
        .args(["start", "--metabase", metabase.to_str().unwrap(), "--image", &image, "--json"])
        .env("NO_COLOR", "1")
        .env(&planted, "a token of the caller's")
        .output()
        .expect("isapi-harness runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["sandbox"], true);
    let said = description(&report);
    let readable: u32 = said
        .split("readable=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(readable >= 3, "the filter read the sandbox's processes' environments: {said}");
    assert!(said.ends_with("found=-"), "the planted variable was read inside: {said}");
}

/// A run whose filter overwrites the prefix's system32\userenv.dll and its system.reg (which
/// used to break or falsify every later run) is followed by the seed's run, which still gets
/// its 193; the base is as it was.
#[test]
fn sandbox_a_hostile_run_leaves_the_next_run_a_pristine_machine() {
    let build = tempfile::tempdir().unwrap();
    let dll = build_attack(&build.path().join("poison.dll"), 3, &[]);
    let (output, report) = start_with_attack(&dll, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = description(&report);
    let written = |name: &str| -> i64 {
        said.split(&format!("{name}=")).nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
    };
    assert!(written("dll") > 0 && written("reg") > 0, "the attack wrote inside its run: {said}");
    let userenv = prefix().join("drive_c/windows/system32/userenv.dll");
    assert!(std::fs::read(&userenv).unwrap().len() > 1000, "the base's userenv.dll is whole");
    let registry = std::fs::read_to_string(prefix().join("system.reg")).unwrap();
    assert!(registry.starts_with("WINE REGISTRY"), "the base's system.reg is whole");

    let seed = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let output = harness(&["start", "--metabase", seed.to_str().unwrap(), "--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the seed's failure is observed: {}",
        stderr(&output)
    );
    let report = json(&output);
    assert_eq!(report["service"]["win32_error"], 193, "{report}");
    assert_eq!(report["hosts"][0]["filters"][0]["win32_error"], 193, "{report}");
}

/// A child a filter forks with raw system calls and moves to a session of its own does not
/// outlive its host: the next host of the same scenario (a matrix scenario with a DLL of its
/// own has a machine of its own) finds the file it kept rewriting unchanged. Two sites in worker process
/// isolation mode, so two w3wp.exe load the global filter one after the other.
#[test]
fn sandbox_a_detached_child_does_not_outlive_its_host() {
    let dir = tempfile::tempdir().unwrap();
    build_attack(&dir.path().join("detach.dll"), 4, &[]);
    let source = scenarios().join("sites/two-sites-worker-mode-site-filter-wrong-bitness");
    std::fs::copy(source.with_extension("xml"), dir.path().join("two-workers.xml")).unwrap();
    let mut case: Value =
        serde_json::from_str(&std::fs::read_to_string(source.with_extension("json")).unwrap())
            .unwrap();
    let global = r"C:\Filters\global\amd64.dll";
    case["images"][0] = format!("{global}=detach.dll").into();
    std::fs::write(dir.path().join("two-workers.json"), case.to_string()).unwrap();
    let output = harness(&["matrix", "--scenarios", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let said: Vec<String> = report["scenarios"][0]["observed"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|host| host["filters"].as_array().unwrap())
        .filter(|filter| filter["path"] == global)
        .map(|filter| filter["description"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(said, ["detach: forked=yes", "detach: child gone"], "{report}");
}

/// Free space of the file system that holds `path`.
#[cfg(unix)]
fn free_bytes(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: statvfs fills the local struct.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(name.as_ptr(), &mut stat) }, 0);
    stat.f_bavail * stat.f_frsize
}

/// A filter writing 3 GB is stopped at the 1 GiB disk limit: its host ends as `disk_limit`
/// (the run goes on, and reports IIS's failure), the timeline says so, and nothing of what
/// it wrote is left on the machine's disk.
#[cfg(unix)]
#[test]
fn sandbox_a_3_gb_write_stops_at_the_disk_limit_and_leaves_nothing() {
    let build = tempfile::tempdir().unwrap();
    let dll = build_attack(&build.path().join("disk.dll"), 5, &[]);
    let free_before = free_bytes(&machine_dir());
    let (output, report) = start_with_attack(&dll, &[]);
    let free_after = free_bytes(&machine_dir());
    // The host that reached the limit is IIS's process failing: a failure observed.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let host = &report["hosts"][0];
    assert_eq!(host["end"], "disk_limit", "{report}");
    assert_eq!(host["filters"][0]["loaded"], true, "{report}");
    let said = description(&report);
    let wrote: u64 =
        said.split("wrote=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((900..=1024).contains(&wrote), "stopped at about 1 GiB: {said}");
    let timeline = report["timeline"].to_string();
    assert!(timeline.contains("filled the disk to the 1 GiB limit"), "{timeline}");
    assert_eq!(report["limits"]["disk"]["limit"], 1u64 << 30, "{report}");
    // Other programs share this disk; a gigabyte left behind would show whatever they do.
    assert!(
        free_after + (512 << 20) > free_before,
        "the write left {} MiB behind",
        (free_before - free_after) >> 20
    );
    assert!(!prefix().join("drive_c/big.bin").exists(), "nothing reaches the base");
}

/// A filter taking memory without end is ended at the run's memory limit: its host ends as
/// `memory_limit` (never as a crash of its own), the timeline says so, and the run goes on to
/// report IIS's failure.
#[test]
fn sandbox_a_host_out_of_memory_ends_at_the_memory_limit() {
    let build = tempfile::tempdir().unwrap();
    let dll = build_attack(&build.path().join("memory.dll"), 6, &[]);
    let (output, report) = start_with_attack(&dll, &["--memory-limit", "512M"]);
    assert_eq!(output.status.code(), Some(1), "a failure observed: {}", stderr(&output));
    assert_eq!(report["hosts"][0]["end"], "memory_limit", "{report}");
    assert_eq!(report["hosts"][0]["filters"][0]["cause"], "limit_reached", "{report}");
    let timeline = report["timeline"].to_string();
    assert!(timeline.contains("ran out of memory at the 512 MiB limit"), "{timeline}");
    assert!(!timeline.contains("crashed"), "{timeline}");
}

/// A link a filter leaves on the machine's disk (`C:\\Evil`, to a folder outside) is never
/// followed: it goes with its scenario's own machine, so the next scenario's image at
/// `C:\\Evil\\x.dll` lands in a folder of that scenario's own, and nothing is written in the
/// folder outside. (On a machine that scenarios share, placement resolves no link at all:
/// `beneath.rs`.)
#[test]
fn sandbox_a_link_a_filter_leaves_never_steers_a_placement() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::Builder::new()
        .prefix("isapi-outside-")
        .tempdir_in(machine_dir().parent().unwrap())
        .unwrap();
    build_attack(
        &dir.path().join("link.dll"),
        7,
        &[("LINK_TARGET", outside.path().to_str().unwrap())],
    );
    let expectation: Value = serde_json::from_str(
        &std::fs::read_to_string(iis5_amd64_metabase().with_extension("json")).unwrap(),
    )
    .unwrap();
    for (name, images) in [
        ("a-links", vec![format!("{FILTER_PATH}=link.dll")]),
        ("b-places", vec![format!("{FILTER_PATH}=amd64"), r"C:\Evil\x.dll=x86".to_owned()]),
    ] {
        std::fs::copy(iis5_amd64_metabase(), dir.path().join(format!("{name}.xml"))).unwrap();
        let mut case = expectation.clone();
        case["images"] = serde_json::json!(images);
        std::fs::write(dir.path().join(format!("{name}.json")), case.to_string()).unwrap();
    }
    let output =
        harness(&["matrix", "--scenarios", dir.path().to_str().unwrap(), "--jobs", "1", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(description(&report["scenarios"][0]["observed"]), "link: made=0", "{report}");
    let written: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(written.is_empty(), "nothing is written outside through the link: {written:?}");
}

/// IIS 5.0 isolation mode on x64 with an x86 filter: the seed's failure, 193 in the 64-bit
/// inetinfo.exe.
const IIS5_X86: &str = "matrix/x64-iis5-true-e32-absent-x86";

/// Every scenario of a matrix starts from the pristine base: what the first scenario's filter
/// (a DLL of unknown origin, so its scenario has a machine of its own) leaves (a file on C:, a
/// registry value, system32's and syswow64's userenv.dll overwritten) reaches neither the next
/// scenario (the seed's x86 mock in the 64-bit inetinfo.exe, which still fails with 193) nor a
/// later one that looks for it. One job, so the order is certain.
#[test]
fn sandbox_every_scenario_of_a_matrix_starts_from_a_pristine_machine() {
    let dir = tempfile::tempdir().unwrap();
    build_attack(&dir.path().join("leave.dll"), 8, &[]);
    let case = |from: &str| -> (PathBuf, Value) {
        let source = scenarios().join(from);
        let json = std::fs::read_to_string(source.with_extension("json")).unwrap();
        (source.with_extension("xml"), serde_json::from_str(&json).unwrap())
    };
    let (iis5_amd64, hostile) = case("matrix/x64-iis5-true-e32-absent-amd64");
    let (iis5_x86, seed) = case(IIS5_X86);
    for (name, (xml, json)) in [
        ("a-leaves", (&iis5_amd64, &hostile)),
        ("b-seed", (&iis5_x86, &seed)),
        ("c-looks", (&iis5_amd64, &hostile)),
    ] {
        std::fs::copy(xml, dir.path().join(format!("{name}.xml"))).unwrap();
        let mut json = json.clone();
        if name != "b-seed" {
            json["images"] = serde_json::json!([format!("{FILTER_PATH}=leave.dll")]);
        }
        std::fs::write(dir.path().join(format!("{name}.json")), json.to_string()).unwrap();
    }
    let output =
        harness(&["matrix", "--scenarios", dir.path().to_str().unwrap(), "--jobs", "1", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let scenarios = report["scenarios"].as_array().unwrap();
    let said = |index: usize| description(&scenarios[index]["observed"]);
    assert_eq!(said(0), "pristine: saw=- left=file,reg,dll64,dll32", "the attack worked");
    let seed = &scenarios[1]["observed"];
    assert_eq!(seed["hosts"][0]["bits"], 64, "{seed}");
    assert_eq!(seed["hosts"][0]["filters"][0]["win32_error"], 193, "{seed}");
    assert_eq!(seed["service"]["win32_error"], 193, "{seed}");
    assert_eq!(said(2), "pristine: saw=- left=file,reg,dll64,dll32", "nothing was left");
    assert!(!prefix().join("drive_c/left-by-a-scenario.txt").exists(), "nothing reaches the base");
}

/// A filter that forks until the system refuses is stopped at `--process-limit`: its host
/// ends as `process_limit` (the cgroup's count, which takes threads too, refused the fork),
/// the timeline says so, and the run goes on to report IIS's failure.
#[test]
fn sandbox_a_fork_bomb_stops_at_the_process_limit() {
    let build = tempfile::tempdir().unwrap();
    let dll = build_attack(&build.path().join("processes.dll"), 9, &[]);
    let limit = 160;
    let (output, report) = start_with_attack(&dll, &["--process-limit", &limit.to_string()]);
    assert_eq!(output.status.code(), Some(1), "a failure observed: {}", stderr(&output));
    let said = description(&report);
    let made: u32 = said
        .strip_prefix("processes: made=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|made| made.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    // The machine's own processes and threads count too, so the filter made fewer.
    assert!((1..limit).contains(&made), "stopped below the limit: {said}");
    assert!(said.ends_with("errno=11"), "the fork was refused with EAGAIN: {said}");
    assert_eq!(report["hosts"][0]["end"], "process_limit", "{report}");
    assert_eq!(report["limits"]["processes"]["limit"], limit, "{report}");
    let timeline = report["timeline"].to_string();
    assert!(timeline.contains(&format!("at the limit of {limit} processes")), "{timeline}");
}

/// A run removes the cgroups it made for its limits when it ends. The kernel ends the
/// sandbox's processes one by one after the kill, and a group can be removed only once the
/// last has gone; a run that did not wait left its groups to the next run's clean-up.
#[test]
#[expect(clippy::disallowed_methods, reason = "the test needs the run's process id")]
fn sandbox_a_run_leaves_no_cgroup_behind() {
    let metabase = iis5_amd64_metabase();
    let child = Command::new(harness_binary())
        .args(["start", "--metabase", metabase.to_str().unwrap(), "--json"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("isapi-harness runs");
    let group = format!("isapi-harness-{}", child.id());
    let output = child.wait_with_output().expect("the run ends");
    let report = json(&output);
    assert_eq!(report["sandbox"], true, "the run must be sandboxed: {}", stderr(&output));
    // The run's own words: which of its limits a cgroup set (as root, on this machine kind,
    // cgroup v1's memory and pids).
    let by_cgroup = ["memory", "processes"].iter().any(|limit| {
        report["limits"][limit]["by"].as_array().is_some_and(|by| {
            by.iter().any(|way| way.as_str().is_some_and(|way| way.starts_with("cgroup")))
        })
    });
    assert!(by_cgroup, "the run set its limits with cgroups: {}", report["limits"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let kind = after.split(' ').next()?;
            let point = before.split(' ').nth(4)?;
            (kind == "cgroup" || kind == "cgroup2").then(|| PathBuf::from(point))
        })
        .map(|point| point.join(&group))
        .filter(|dir| dir.exists())
        .collect();
    assert!(left.is_empty(), "the run's cgroups are still there: {left:?}");
}
