//! `start --server`, `diagnose --server` and a matrix scenario's `"server"`, through the real
//! binary: a copy's vendor C runtime placed over the machine's own System32 file for that run
//! only, the command line winning over `server.json`, a copy in a matrix, and the README's
//! "validate a remediation" walk-through with `adsutil` on the copy's metabase.

use std::path::{Path, PathBuf};

use harness::arch::{Arch, Os};
use harness::windows_loader::WindowsVersion;
use serde_json::Value;

use super::{harness, harness_binary, json, scenarios, stderr};

/// IIS 5.0 isolation mode on x64: the 64-bit inetinfo.exe loads `C:\Filters\amd64\mockfilter.dll`.
fn iis5_amd64_metabase() -> PathBuf {
    scenarios().join("matrix/x64-iis5-true-e32-absent-amd64.xml")
}

const FILTER: &str = r"C:\Filters\amd64\mockfilter.dll";
const METABASE: &str = r"C:\WINDOWS\system32\inetsrv\MetaBase.xml";
const MSVCR100: &str = r"C:\WINDOWS\system32\msvcr100.dll";

/// The prefix as built once, under every sandboxed run's changes.
fn base_system32() -> PathBuf {
    harness_binary()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("isapi-harness/machine/wine/base/disk/prefix/drive_c/windows/system32")
}

fn start_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["start", "--json"];
    all.extend(args);
    let output = harness(&all);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{args:?}: {}", stderr(&output));
    (output.status.code(), json(&output))
}

fn first_filter(report: &Value) -> &Value {
    &report["hosts"][0]["filters"][0]
}

fn dependency<'r>(filter: &'r Value, name: &str) -> &'r Value {
    filter["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|dep| dep["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("{name} among the dependencies: {filter:#}"))
}

/// A vendor filter linked to the Visual C++ 2010 runtime, with the vendor's `msvcr100.dll` in
/// the copy's System32: it is placed over the machine's own file of that path, the filter
/// loads with it, and the machine's base is untouched. Without it the server (Server 2003,
/// nothing installed) has no msvcr100.dll, and Windows's answer is 126 naming it.
#[test]
fn start_server_carries_a_vendor_runtime_into_system32_for_that_run_only() {
    let own_runtime = std::fs::read(base_system32().join("msvcr100.dll"))
        .expect("the machine has its own msvcr100.dll");
    let folder = tempfile::tempdir().unwrap();
    let filter = (FILTER, tests::mock_dep(Arch::Amd64, "imports_msvcr100.dll"));
    let runtime = (MSVCR100, tests::mock_dep(Arch::Amd64, "msvcr100.dll"));
    tests::write_server_copy(
        folder.path(),
        (&iis5_amd64_metabase(), METABASE),
        &[filter.clone(), runtime],
        Os::X64,
        Some(WindowsVersion::Server2003),
    );
    let copy = folder.path().to_str().unwrap();
    let (code, report) = start_json(&["--server", copy]);
    assert_eq!(code, Some(0), "{report:#}");
    let loaded = first_filter(&report);
    assert_eq!(loaded["loaded"], true, "{loaded:#}");
    let runtime = dependency(loaded, "msvcr100.dll");
    assert_eq!(runtime["found"], r"C:\Windows\System32\msvcr100.dll", "{runtime:#}");
    assert_eq!(runtime["wine_builtin"], Value::Null, "the vendor's file, not Wine's: {runtime:#}");
    let placed = &report["server_copy"]["placed"];
    assert!(placed.as_array().unwrap().iter().any(|path| path == MSVCR100), "{placed:#}");
    assert_eq!(
        std::fs::read(base_system32().join("msvcr100.dll")).unwrap(),
        own_runtime,
        "the machine's own msvcr100.dll is as it was"
    );

    let without = tempfile::tempdir().unwrap();
    tests::write_server_copy(
        without.path(),
        (&iis5_amd64_metabase(), METABASE),
        &[filter],
        Os::X64,
        Some(WindowsVersion::Server2003),
    );
    let (code, report) = start_json(&["--server", without.path().to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let refused = first_filter(&report);
    assert_eq!(refused["win32_error"], 126, "{refused:#}");
    assert_eq!(dependency(refused, "msvcr100.dll")["outcome"], "not_installed", "{refused:#}");
    assert_eq!(refused["cause"], "runtime_not_installed", "{refused:#}");
    let verdict = report["timeline"].as_array().unwrap().last().unwrap()["text"].clone();
    assert!(verdict.as_str().unwrap().contains("msvcr100.dll"), "{verdict}");
}

/// The command line wins over `server.json`: `--windows` over its `windows`, `--image` over
/// the copy's file at that path, `--config` over its configuration.
#[test]
fn start_server_flags_win_over_the_copy() {
    let folder = tempfile::tempdir().unwrap();
    tests::write_server_copy(
        folder.path(),
        (&iis5_amd64_metabase(), METABASE),
        &[
            (FILTER, tests::mock_dep(Arch::Amd64, "imports_dep.dll")),
            (r"C:\Filters\amd64\dep.dll", tests::mock_dep(Arch::Amd64, "dep.dll")),
        ],
        Os::X64,
        Some(WindowsVersion::Server2003),
    );
    let copy = folder.path().to_str().unwrap();
    let (code, report) = start_json(&["--server", copy]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["windows"], "2003");
    assert_eq!(first_filter(&report)["description"], "Mock ISAPI filter (AMD64, imports_dep)");

    let image = format!("{FILTER}=amd64");
    let (code, report) = start_json(&["--server", copy, "--windows", "2008", "--image", &image]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["windows"], "2008", "--windows wins over server.json");
    let filter = first_filter(&report);
    assert_eq!(
        filter["description"], "Mock ISAPI filter (AMD64, filter)",
        "--image wins: {filter:#}"
    );
    let placed = report["server_copy"]["placed"].as_array().unwrap();
    assert!(!placed.iter().any(|path| path == FILTER), "the copy's file is not placed: {placed:?}");

    // Another configuration: worker process isolation, so the same filter loads in w3wp.exe.
    let worker = scenarios().join("matrix/x64-iis5-false-e32-absent-amd64.xml");
    let (code, report) = start_json(&["--server", copy, "--config", worker.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["hosts"][0]["process"], "w3wp.exe", "--config wins: {report:#}");
}

/// `diagnose --server --verify` predicts from the copy's files and proves it with a real start
/// that places them: the vendor filter and its dependency load, and both agree.
#[test]
fn diagnose_server_predicts_and_verifies_from_the_copy() {
    let folder = tempfile::tempdir().unwrap();
    tests::write_server_copy(
        folder.path(),
        (&iis5_amd64_metabase(), METABASE),
        &[
            (FILTER, tests::mock_dep(Arch::Amd64, "imports_dep.dll")),
            (r"C:\Filters\amd64\dep.dll", tests::mock_dep(Arch::Amd64, "dep.dll")),
        ],
        Os::X64,
        None,
    );
    let copy = folder.path().to_str().unwrap();
    let output = harness(&["diagnose", "--server", copy, "--verify", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let diagnosis = json(&output);
    assert_eq!(diagnosis["agree"], true, "{diagnosis:#}");
    assert_eq!(diagnosis["problems"], false, "{diagnosis:#}");
}

/// A matrix scenario names a copy beside it, with no configuration or `os` of its own: it runs
/// as `start --server` does and passes. A copy outside the scenario's folder is refused before
/// anything runs, and allowed with `--image-root`.
#[test]
fn a_matrix_scenario_runs_a_server_copy_from_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let files = [
        (FILTER, tests::mock_dep(Arch::Amd64, "imports_dep.dll")),
        (r"C:\Filters\amd64\dep.dll", tests::mock_dep(Arch::Amd64, "dep.dll")),
    ];
    tests::write_server_copy(
        &suite.join("copy"),
        (&iis5_amd64_metabase(), METABASE),
        &files,
        Os::X64,
        None,
    );
    let expected = r#""expected": {"started": true, "process": "inetinfo.exe", "bits": 64, "loaded": true, "win32_error": null, "status": 200}"#;
    std::fs::write(suite.join("vendor.json"), format!(r#"{{"server": "copy", {expected}}}"#))
        .unwrap();
    let output = harness(&["matrix", "--json", "--scenarios", suite.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result = &json(&output)["scenarios"][0];
    assert_eq!(result["name"], "vendor");
    assert_eq!(result["pass"], true, "{result:#}");
    let copy = std::fs::canonicalize(suite.join("copy")).unwrap();
    assert_eq!(result["observed"]["server_copy"]["folder"], copy.display().to_string());

    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("vendor.json"),
        format!(r#"{{"server": "../suite/copy", {expected}}}"#),
    )
    .unwrap();
    let output = harness(&["matrix", "--scenarios", elsewhere.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("its server copy") && message.contains("outside"), "{message}");
    assert!(output.stdout.is_empty());
    let root = dir.path().join("suite");
    let output = harness(&[
        "matrix",
        "--scenarios",
        elsewhere.to_str().unwrap(),
        "--image-root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// README, "Validate a remediation": a real metabase (worker process isolation, 64-bit workers)
/// whose URLScan is a vendor's x86-only filter fails with 193; `adsutil set
/// W3SVC/AppPools/Enable32bitAppOnWin64 1` on the copy's metabase makes the workers 32-bit, and
/// they load the x86 build WOW64 gives them from SysWOW64.
#[test]
fn a_remediation_is_validated_on_the_copy_with_adsutil() {
    let metabase =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/real/iis6/modsic-metabase-sample.xml");
    let folder = tempfile::tempdir().unwrap();
    let x86 = |name: &str| tests::mock_dep(Arch::X86, name);
    tests::write_server_copy(
        folder.path(),
        (&metabase, METABASE),
        &[
            (r"C:\WINDOWS\system32\inetsrv\urlscan\urlscan.dll", x86("imports_dep.dll")),
            (r"C:\WINDOWS\system32\inetsrv\urlscan\dep.dll", x86("dep.dll")),
            (r"C:\WINDOWS\SysWOW64\inetsrv\urlscan\urlscan.dll", x86("imports_dep.dll")),
            (r"C:\WINDOWS\SysWOW64\inetsrv\urlscan\dep.dll", x86("dep.dll")),
        ],
        Os::X64,
        None,
    );
    let copy = folder.path().to_str().unwrap();
    let (code, report) = start_json(&["--server", copy]);
    assert_eq!(code, Some(1));
    assert_eq!(report["hosts"][0]["bits"], 64);
    assert_eq!(first_filter(&report)["win32_error"], 193, "{report:#}");

    let copied_metabase = folder.path().join("disk/C/WINDOWS/system32/inetsrv/MetaBase.xml");
    let output = harness(&[
        "adsutil",
        "--metabase",
        copied_metabase.to_str().unwrap(),
        "set",
        "W3SVC/AppPools/Enable32bitAppOnWin64",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (code, report) = start_json(&["--server", copy]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["hosts"][0]["bits"], 32);
    assert_eq!(first_filter(&report)["loaded"], true, "{report:#}");
}
