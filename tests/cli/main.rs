//! The command line, tested as a user meets it: the real `isapi-harness` binary, its exit codes,
//! what it prints and what it writes. These are the checks of the contract in README.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use contract::contract;

/// `collect --from` on a laid-out system drive.
mod collect;
/// The `--json` contract: `schema_version` and the schemas kept in `schema/`.
mod contract;
mod hostile_input;
/// `matrix`: scenarios as units of failure, where their images may come from, per-image
/// expectations.
mod matrix;
/// The sandbox, hostile filters, placement over the machine's own files and killed runs.
mod sandbox;
/// `start --server`, the command line over `server.json`, a copy in a matrix, a remediation
/// validated on a copy.
mod server_copy;
/// The rendered timelines a user reads, pinned.
mod snapshots;

fn harness_binary() -> &'static Path {
    tests::harness_binary()
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
fn harness(args: &[&str]) -> Output {
    Command::new(harness_binary())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("isapi-harness runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not one JSON object ({error}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The seed's failing state: the JSON contract of `start`, field by field.
#[test]
fn start_json_reports_the_seed_failure() {
    let metabase = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let output = harness(&["start", "--metabase", metabase.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1), "a failure was observed: {}", stderr(&output));
    let report = contract("start", &output);
    assert_eq!(report["os"], "x64");
    assert_eq!(report["isolation_mode"], "iis5");
    assert_eq!(report["service"]["started"], false);
    assert_eq!(report["service"]["win32_error"], 193);
    let console = report["service"]["net_start_output"].as_str().unwrap();
    assert!(
        console.contains("System error 193 has occurred.\n\n*** is not a valid Win32 application."),
        "{console}"
    );
    let host = &report["hosts"][0];
    assert_eq!(host["process"], "inetinfo.exe");
    assert_eq!(host["bits"], 64);
    assert_eq!(host["app_pool"], Value::Null);
    let filter = &host["filters"][0];
    assert_eq!(filter["name"], "ASP.NET_2.0.50727.0");
    assert_eq!(filter["path"], r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll");
    assert_eq!(filter["loaded"], false);
    assert_eq!(filter["win32_error"], 193);
    assert_eq!(filter["cause"], "wrong_bitness");
    assert_eq!(filter["image"]["machine"], "x86");
    assert_eq!(filter["image"]["bits"], 32);
    // The Default Web Site's GET / finds nothing listening: the service did not start.
    let request = &report["requests"][0];
    assert_eq!(request["url"], "http://localhost/");
    assert_eq!(request["site"], "1");
    assert_eq!(request["status"], Value::Null);
    assert_eq!(request["no_answer"], "service_not_running");
    let events = report["events"].as_array().unwrap();
    assert_eq!(events[0]["log"], "Application");
    assert_eq!(events[0]["source"], "W3SVC-WP");
    assert_eq!(events[0]["id"], 2274);
    assert_eq!(events[0]["type"], "Error");
    assert_eq!(events[0]["data"], "c1 00 00 00");
    assert_eq!(events[1]["id"], 2268);
}

#[test]
fn start_exits_0_when_everything_loads_and_shows_a_timeline() {
    let metabase = scenarios().join("quirks/lowercase-key-paths.xml");
    let output = harness(&["start", "--metabase", metabase.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("w3wp.exe started (32-bit"), "{text}");
    assert!(
        text.contains("GET http://localhost/ (site 1, pool DefaultAppPool): HTTP 200 OK"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
}

#[test]
fn repro_reproduces_and_verifies_both_fixes() {
    let output = harness(&["repro", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = contract("repro", &output);
    assert_eq!(report["reproduced"], true);
    assert_eq!(report["failure"]["service"]["win32_error"], 193);
    assert_eq!(report["failure"]["hosts"][0]["process"], "inetinfo.exe");
    assert_eq!(report["failure"]["hosts"][0]["bits"], 64);
    assert_eq!(report["fix_a"]["verified"], true);
    assert_eq!(report["fix_a"]["start"]["hosts"][0]["process"], "w3wp.exe");
    assert_eq!(report["fix_a"]["start"]["hosts"][0]["bits"], 32);
    assert_eq!(report["fix_a"]["start"]["requests"][0]["status"], 200);
    assert_eq!(report["fix_b"]["verified"], true);
    assert_eq!(report["fix_b"]["start"]["hosts"][0]["bits"], 64);
    // Both fixes are verified by the ASP.NET page: the extension of the right bitness answered
    // it, loaded for real in the process that runs the application.
    for (fix, process, bits) in [("fix_a", "w3wp.exe", 32), ("fix_b", "dllhost.exe", 64)] {
        let start = &report[fix]["start"];
        let request = &start["requests"][0];
        assert_eq!(
            (request["url"].as_str(), request["status"].as_u64()),
            (Some("/default.aspx"), Some(200)),
            "{fix}"
        );
        let hosts = start["hosts"].as_array().unwrap();
        let answered = hosts.iter().any(|host| {
            host["process"] == process
                && host["bits"] == bits
                && host["extensions"][0]["loaded"] == true
                && host["extensions"][0]["name"] == ".aspx"
        });
        assert!(answered, "{fix}: {}", start["hosts"]);
    }
    // The failure: no answer at all, since W3SVC did not start.
    assert!(report["failure"]["requests"][0]["status"].is_null());
    // The seed's "why", measured: one System32 path, two hosts, two different files, in the
    // Windows folder of the OS the hosts run on (under Wine the prefix, the machine itself, so
    // the seed's metabase is placed there too; on Windows the real one, never written).
    let redirection = &report["wow64_redirection"];
    assert_eq!(redirection["shown"], true, "{redirection}");
    let kernel32 = |host: usize| redirection["hosts"][host]["probes"][1]["opened"].as_str();
    assert_eq!(redirection["hosts"][0]["bits"], 64);
    assert!(kernel32(0).is_some_and(|path| path.to_lowercase().contains(r"\system32\")));
    assert!(kernel32(1).is_some_and(|path| path.to_lowercase().contains(r"\syswow64\")));
    let on_wine = report["failure"]["backend"] == "wine";
    assert_eq!(redirection["metabase_placed"], on_wine, "{redirection}");
    if on_wine {
        let metabase = |host: usize| &redirection["hosts"][host]["probes"][0]["opened"];
        assert!(metabase(0).is_string(), "the placed metabase");
        assert!(metabase(1).is_null(), "none in SysWOW64");
    }
}

#[test]
fn matrix_prints_json_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let output =
        harness(&["matrix", "--filter", "quirks/", "--json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = contract("matrix", &output);
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 10, "generate.py writes 10 quirks");
    for scenario in scenarios {
        assert_eq!(scenario["pass"], true, "{}", scenario["name"]);
        assert!(scenario["observed"]["service"].is_object());
        assert!(scenario["expected"]["started"].is_boolean());
    }
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), scenarios.len());
    assert!(junit.contains("failures=\"0\""));
}

/// A failing scenario makes `matrix` exit 1, and JUnit carries expected against observed.
#[test]
fn a_wrong_expectation_fails_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let source = scenarios().join("matrix/x64-iis5-true-e32-absent-x86");
    std::fs::copy(source.with_extension("xml"), dir.path().join("wrong.xml")).unwrap();
    let mut case: Value =
        serde_json::from_str(&std::fs::read_to_string(source.with_extension("json")).unwrap())
            .unwrap();
    case["expected"]["started"] = Value::Bool(true);
    std::fs::write(dir.path().join("wrong.json"), case.to_string()).unwrap();
    let junit = dir.path().join("junit.xml");
    let output = harness(&[
        "matrix",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let junit = std::fs::read_to_string(&junit).unwrap();
    // The message is words, each pinned fact expected against observed, not escaped JSON.
    assert!(
        junit.contains("<failure message=\"started: expected true, observed false\">"),
        "{junit}"
    );
}

/// Bad input: exit 2, one line naming the file (and line), and the machine is never touched.
#[test]
fn bad_input_exits_2_naming_the_file_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let malformed = dir.path().join("malformed.xml");
    std::fs::write(&malformed, "<?xml version =\"1.0\"?>\n<configuration>\n<MBProperty>\n<IIsWebService\tLocation =\"/LM/W3SVC\"\n").unwrap();
    let relative = dir.path().join("relative.xml");
    let seed =
        std::fs::read_to_string(scenarios().join("quirks/no-bom-lf-no-namespace.xml")).unwrap();
    std::fs::write(
        &relative,
        seed.replace(
            r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll",
            "aspnet_filter.dll",
        ),
    )
    .unwrap();
    let good = scenarios().join("quirks/no-bom-lf-no-namespace.xml");
    // A web.config declares sections and configures system.webServer as applicationHost.config
    // does, and is still neither file.
    let web_config = dir.path().join("web.config");
    std::fs::write(
        &web_config,
        "<?xml version=\"1.0\"?>\n<configuration>\n  <configSections>\n    <section name=\"log4net\" type=\"log4net.Config.Log4NetConfigurationSectionHandler\" />\n  </configSections>\n  <system.webServer>\n    <modules runAllManagedModulesForAllRequests=\"true\" />\n  </system.webServer>\n</configuration>\n",
    )
    .unwrap();
    // A server copy whose server.json has an OS no Windows has, on its third line.
    let bad_copy = dir.path().join("bad-copy");
    std::fs::create_dir(&bad_copy).unwrap();
    std::fs::write(
        bad_copy.join("server.json"),
        "{\n  \"format\": 1,\n  \"os\": \"arm\",\n  \"config\": \"MetaBase.xml\"\n}\n",
    )
    .unwrap();
    std::fs::copy(&good, bad_copy.join("MetaBase.xml")).unwrap();
    // Every file of every simulated machine, with its time: opening a machine takes its lock
    // (and creates one where there was none), so any change here means a machine was opened.
    let machines = harness::artifacts::Artifacts::locate().unwrap().machines_dir();
    let before = machine_files(&machines);

    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "start".into(),
                "--metabase".into(),
                dir.path().join("absent.xml").display().to_string(),
            ],
            "absent.xml".into(),
        ),
        (
            vec!["start".into(), "--metabase".into(), malformed.display().to_string()],
            "malformed.xml:".into(),
        ),
        (
            vec!["start".into(), "--metabase".into(), relative.display().to_string()],
            "relative.xml:".into(),
        ),
        (
            vec![
                "start".into(),
                "--metabase".into(),
                good.display().to_string(),
                "--image".into(),
                "no-equals-sign".into(),
            ],
            "--image".into(),
        ),
        (
            vec![
                "start".into(),
                "--metabase".into(),
                good.display().to_string(),
                "--image".into(),
                r"C:\f.dll=x86:no_such_variant".into(),
            ],
            "no_such_variant".into(),
        ),
        (
            vec![
                "matrix".into(),
                "--scenarios".into(),
                dir.path().join("nothing-here").display().to_string(),
            ],
            "nothing-here".into(),
        ),
        (
            vec!["start".into(), "--config".into(), web_config.display().to_string()],
            "web.config: neither a MetaBase.xml nor an applicationHost.config".into(),
        ),
        (
            vec!["diagnose".into(), "--config".into(), web_config.display().to_string()],
            "web.config: neither a MetaBase.xml nor an applicationHost.config".into(),
        ),
        (
            vec!["start".into(), "--server".into(), bad_copy.display().to_string()],
            "server.json:3:".into(),
        ),
        (
            vec!["diagnose".into(), "--server".into(), bad_copy.display().to_string()],
            "server.json:3:".into(),
        ),
        (vec!["start".into()], "no configuration: give".into()),
        // What bash passes for an unquoted C:\Inetpub\filter.dll.
        (
            vec![
                "start".into(),
                "--metabase".into(),
                good.display().to_string(),
                "--image".into(),
                "C:Inetpubfilter.dll=amd64".into(),
            ],
            "the shell: quote it".into(),
        ),
    ];
    for (args, names) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = harness(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains(&names), "{args:?}: the message should name `{names}`: {message}");
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
    assert_eq!(before, machine_files(&machines), "bad input must not open the simulated machine");
}

/// The lock files under `dir` (one per backend's machine) with their modification times.
fn machine_files(dir: &Path) -> Vec<(PathBuf, Option<std::time::SystemTime>)> {
    let mut found = Vec::new();
    for backend in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let lock = backend.path().join("lock");
        if lock.exists() {
            let modified = std::fs::metadata(&lock).and_then(|m| m.modified()).ok();
            found.push((lock, modified));
        }
    }
    found.sort();
    found
}

/// A user's own filter, built here (not by the mock-filter build), for both bitnesses, kept as a
/// regression scenario of their own.
#[test]
fn a_users_own_filters_are_loaded_and_kept_as_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let x86 = build_user_filter(dir.path(), "x86");
    let amd64 = build_user_filter(dir.path(), "amd64");
    let metabase =
        std::fs::read_to_string(scenarios().join("matrix/x64-iis5-false-e32-apppools-x86.xml"))
            .unwrap();
    std::fs::write(dir.path().join("mine.xml"), &metabase).unwrap();
    let case = serde_json::json!({
        "os": "x64",
        "images": [format!(r"C:\Filters\x86\mockfilter.dll={}", x86.display())],
        "expected": { "started": true, "process": "w3wp.exe", "bits": 32, "loaded": true, "win32_error": null, "status": 200 }
    });
    std::fs::write(dir.path().join("mine.json"), case.to_string()).unwrap();
    let output = harness(&["matrix", "--scenarios", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let filter = &report["scenarios"][0]["observed"]["hosts"][0]["filters"][0];
    assert_eq!(filter["description"], "A user's own filter");

    // The 64-bit build in the same 32-bit worker: the loader refuses it.
    let image = format!(r"C:\Filters\x86\mockfilter.dll={}", amd64.display());
    let output = harness(&[
        "start",
        "--metabase",
        dir.path().join("mine.xml").to_str().unwrap(),
        "--image",
        &image,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["hosts"][0]["filters"][0]["win32_error"], 193);
    assert_eq!(report["requests"][0]["status"], 503);
}

/// Compiles `tests/data/user-filter/userfilter.c` into a DLL for `arch`, the way a user's own
/// build would: mingw-w64 on Linux, Visual C++ on Windows.
#[expect(clippy::disallowed_methods, reason = "the test runs a compiler, not a host")]
pub(crate) fn build_user_filter(dir: &Path, arch: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/user-filter/userfilter.c");
    let def = source.with_extension("def");
    let out = dir.join(format!("userfilter-{arch}.dll"));
    let status = if cfg!(windows) {
        let target = if arch == "x86" { "i686-pc-windows-msvc" } else { "x86_64-pc-windows-msvc" };
        let cl = cc::windows_registry::find_tool(target, "cl.exe")
            .expect("MSVC is installed (cargo xtask setup)");
        let mut command = cl.to_command();
        command
            .current_dir(dir)
            .arg("/nologo")
            .arg("/LD")
            .arg(&source)
            .arg(format!("/Fe{}", out.display()))
            .arg("/link")
            .arg(format!("/DEF:{}", def.display()));
        command.status()
    } else {
        let gcc = if arch == "x86" { "i686-w64-mingw32-gcc" } else { "x86_64-w64-mingw32-gcc" };
        Command::new(gcc)
            .arg("-shared")
            .arg("-o")
            .arg(&out)
            .arg(&source)
            .arg(&def)
            .arg("-Wl,--enable-stdcall-fixup")
            .status()
    };
    assert!(status.is_ok_and(|status| status.success()), "cannot build the user filter for {arch}");
    out
}

/// `diagnose`: 1 when problems are predicted and confirmed, 0 when none are, and the JSON
/// carries the prediction beside the observation and the verified remedies.
#[test]
fn diagnose_predicts_proves_and_ranks_remedies() {
    let failing = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let output =
        harness(&["diagnose", "--metabase", failing.to_str().unwrap(), "--verify", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = contract("diagnose", &output);
    assert_eq!(report["agree"], true);
    let filter = &report["filters"][0];
    assert_eq!(filter["predicted"]["win32_error"], 193);
    assert_eq!(filter["predicted"]["cause"], "wrong_bitness");
    assert_eq!(filter["predicted"]["process"], "inetinfo.exe");
    assert_eq!(filter["observed"]["win32_error"], 193);
    let remedies = report["remedies"].as_array().unwrap();
    assert_eq!(
        remedies[0]["commands"][0],
        "cscript adsutil.vbs SET W3SVC/IIs5IsolationModeEnabled 0"
    );
    assert!(
        remedies
            .iter()
            .all(|remedy| remedy["verified"] == true && remedy["explanation"].is_string())
    );

    let healthy = scenarios().join("quirks/lowercase-key-paths.xml");
    let output = harness(&["diagnose", "--metabase", healthy.to_str().unwrap(), "--verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("(agrees)"));

    // The text shows each extension's prediction and observation, as the JSON has them.
    let wrong = scenarios().join("extensions/wpm-32bit-workers-amd64-extension-is-500-193.xml");
    let output = harness(&["diagnose", "--metabase", wrong.to_str().unwrap(), "--verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let predicted = text
        .lines()
        .find(|line| line.contains("predicted: GET") && line.contains("extension .aspx"))
        .unwrap_or_else(|| panic!("no extension prediction in:\n{text}"));
    assert!(predicted.contains("in 32-bit w3wp.exe: fails with Win32 error 193"), "{predicted}");
    assert!(
        text.lines().any(|line| line.contains("observed:  GET")
            && line.contains("in 32-bit w3wp.exe, HTTP 500 (agrees)")),
        "{text}"
    );
}

/// `diagnose --verify` on a healthy configuration whose filter crashes in GetFilterVersion: the
/// loader's part agrees with the prediction, and the crash (and the 503s it causes) is still a
/// problem: exit 1, `"problems": true`, on IIS 6.0 and on IIS 7+.
#[test]
fn diagnose_counts_a_crashing_filter_as_a_problem() {
    let iis6 = scenarios().join("quirks/lowercase-key-paths.xml");
    let iis6_image =
        r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll=x86:crash_in_gfv";
    let iis7 = scenarios().join("iis7/own-absent-defaults-false-amd64-no-precondition.config");
    let iis7_image = r"C:\Filters\amd64\mockfilter.dll=amd64:crash_in_gfv";
    for (config, image) in [(&iis6, iis6_image), (&iis7, iis7_image)] {
        let config = config.to_str().unwrap();
        let output =
            harness(&["diagnose", "--config", config, "--image", image, "--verify", "--json"]);
        assert_eq!(output.status.code(), Some(1), "{config}: {}", stderr(&output));
        let report = contract("diagnose", &output);
        assert_eq!(report["problems"], true, "{config}: {report:#}");
        assert_eq!(report["agree"], true, "{config}: {report:#}");
        let filters = report["filters"].as_array().unwrap();
        let crashed = filters
            .iter()
            .find(|filter| filter["observed"]["behaviour"] == "crashed")
            .unwrap_or_else(|| panic!("{config}: no filter crashed: {report:#}"));
        assert_eq!(crashed["predicted"]["loads"], true, "{config}: {report:#}");
        assert_eq!(crashed["observed"]["loads"], true, "{config}: {report:#}");
        let requests = report["requests"].as_array().unwrap();
        assert!(
            requests.iter().any(|request| request["observed_status"] != 200),
            "{config}: a crashed filter fails its site's requests: {report:#}"
        );
        // The same run in text exits the same way, and says why the answer differs.
        let output = harness(&["diagnose", "--config", config, "--image", image, "--verify"]);
        assert_eq!(output.status.code(), Some(1), "{config}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("then the filter: crashed (agrees)"), "{config}: {text}");
        assert!(text.contains("HTTP 503 (differs from the prediction, which"), "{config}: {text}");
    }
}

/// IIS 7+: one DLL that is both a site's ISAPI filter and a handler's extension is one file on
/// the disk, and the timeline says what that file holds once.
#[test]
fn a_dll_that_is_filter_and_handler_is_on_the_disk_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("applicationHost.config");
    let filter_only = std::fs::read_to_string(
        scenarios().join("iis7/own-absent-defaults-false-amd64-no-precondition.config"),
    )
    .unwrap();
    let both = filter_only.replace(
        "</isapiFilters>",
        concat!(
            "</isapiFilters>\n",
            "        <handlers>\n",
            "            <add name=\"Mock-ISAPI\" path=\"*.mock\" verb=\"*\" modules=\"IsapiModule\" scriptProcessor=\"C:\\Filters\\amd64\\mockfilter.dll\" />\n",
            "        </handlers>\n",
            "        <security>\n",
            "            <isapiCgiRestriction notListedIsapisAllowed=\"true\" />\n",
            "        </security>",
        ),
    );
    assert_ne!(both, filter_only, "the handler was added");
    std::fs::write(&config, both).unwrap();
    let output = harness(&[
        "start",
        "--config",
        config.to_str().unwrap(),
        "--image",
        r"C:\Filters\amd64\mockfilter.dll=amd64",
        "--request",
        "http://localhost/x.mock",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    // Both roles were loaded, so the one file served both.
    assert!(text.contains("load filter MockFilter"), "{text}");
    assert!(text.contains("load extension Mock-ISAPI"), "{text}");
    let disk: Vec<&str> = text.lines().filter(|line| line.contains("disk: ")).collect();
    assert_eq!(
        disk,
        [r"config disk: C:\Filters\amd64\mockfilter.dll holds the AMD64 mock filter"],
        "{text}"
    );
}

/// `inspect` on the mock extension, the mock native module and the mock filter: each says its
/// role with its entry points and its imports, exit 0; a file that is not a PE image is bad
/// input, exit 2, one line naming it.
#[test]
fn inspect_reports_every_isapi_role_and_the_imports() {
    use harness::arch::Arch;
    use harness::mock::Mock;
    let artifacts = harness::artifacts::Artifacts::locate().unwrap();
    let cases = [
        (
            Mock::EXTENSION,
            "extension:     GetExtensionVersion ok, HttpExtensionProc ok, TerminateExtension ok",
            "extension",
        ),
        (Mock::Module, "native module: RegisterModule ok", "module"),
        (
            Mock::FILTER,
            "filter:        GetFilterVersion ok, HttpFilterProc ok, TerminateFilter ok",
            "filter",
        ),
    ];
    for (mock, role_line, role) in cases {
        let image = artifacts.mock(Arch::Amd64, mock).unwrap();
        let image = image.to_str().unwrap();
        let output = harness(&["inspect", image]);
        assert_eq!(output.status.code(), Some(0), "{image}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"kind:          DLL"), "{text}");
        assert!(lines.contains(&role_line), "{text}");
        assert!(!text.contains("no ISAPI entry points"), "{text}");
        // mingw-w64 links the mocks against the C runtime and kernel32.
        let imports = lines.iter().find(|line| line.starts_with("imports:")).expect("imports");
        assert!(imports.to_ascii_lowercase().contains("kernel32.dll"), "{text}");

        let report = contract("inspect", &harness(&["inspect", image, "--json"]));
        let roles = report["isapi_roles"].as_array().unwrap();
        assert_eq!(roles.len(), 1, "{report:#}");
        assert_eq!(roles[0]["role"], role, "{report:#}");
    }

    let dir = tempfile::tempdir().unwrap();
    let not_an_image = dir.path().join("notes.dll");
    std::fs::write(&not_an_image, "This is not a DLL.\r\n").unwrap();
    for json_flag in [false, true] {
        let mut args = vec!["inspect", not_an_image.to_str().unwrap()];
        if json_flag {
            args.push("--json");
        }
        let output = harness(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("notes.dll` is not a PE image"), "{message}");
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

/// A shard of a suite smaller than the shard count has nothing to run: exit 0, said in a line,
/// and an empty JUnit report. A shard that cannot exist is bad input.
#[test]
fn an_empty_shard_exits_0_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    // One shard more than there are quirks, so the last one holds none of them.
    let quirks = std::fs::read_dir(scenarios().join("quirks"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().extension().is_some_and(|ext| ext == "json"))
        .count();
    let shards = quirks + 1;
    let shard = format!("{shards}/{shards}");
    let output = harness(&[
        "matrix",
        "--filter",
        "quirks/",
        "--shard",
        &shard,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("shard {shard} holds none of the {quirks} scenarios")),
        "{}",
        stderr(&output)
    );
    assert!(std::fs::read_to_string(&junit).unwrap().contains("tests=\"0\""));
    let bad = harness(&["matrix", "--shard", "4/3"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

/// `doctor` on this machine, which the suite's own setup provisioned: every piece is there.
#[test]
fn doctor_finds_everything_here() {
    let output = harness(&["doctor"]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("ok       host programs and mock filters"), "{text}");
    assert!(!text.contains("MISSING"), "{text}");
    if cfg!(unix) {
        for piece in ["Wine 8 (64-bit)", "Wine's 32-bit modules", "bubblewrap"] {
            assert!(text.contains(&format!("ok       {piece}")), "{piece}: {text}");
        }
        // Each row with a crafted case, loaded here in both bitnesses: Wine 8 answers as the
        // rows say.
        assert!(
            text.contains("measured here: each of the 16 crafted cases (8 of the 9 rows, in 32- and 64-bit hosts) answered as its row says"),
            "{text}"
        );
    }
}

/// A machine without Wine or bubblewrap (as the harness sees it): doctor says so, gives the
/// commands, and exits 1.
#[cfg(unix)]
#[test]
#[expect(clippy::disallowed_methods, reason = "tests run the real binary, as a user does")]
fn doctor_names_what_is_missing_and_how_to_install_it() {
    let output = Command::new(harness_binary())
        .arg("doctor")
        .env("ISAPI_HARNESS_WINE", "/nonexistent/wine64")
        .env("ISAPI_HARNESS_BWRAP", "/nonexistent/bwrap")
        .output()
        .expect("isapi-harness runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{text}");
    for line in [
        "MISSING  Wine 8 (64-bit)",
        "sudo apt-get install -y --no-install-recommends wine64",
        "apt-get download libwine:i386",
        "MISSING  bubblewrap and user namespaces",
        "sudo apt-get install -y --no-install-recommends bubblewrap",
        "ok       host programs and mock filters",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
}

/// Requests by URL, as a user sends them to a server with several sites: each answer comes
/// with the site and pool it reached, and HTTP.sys's own answers have no site at all.
#[test]
fn start_routes_requests_by_url_to_sites() {
    let metabase = scenarios().join("sites/two-sites-worker-mode-site-filter-wrong-bitness.xml");
    let output = harness(&[
        "start",
        "--json",
        "--metabase",
        metabase.to_str().unwrap(),
        "--image",
        r"C:\Filters\global\amd64.dll=amd64",
        "--image",
        r"C:\Filters\shop\x86.dll=x86",
        "--request",
        "http://localhost/",
        "--request",
        "http://SHOP.example.com/cart?id=1",
        "--request",
        "http://intranet:8080/",
        "--request",
        "http://localhost:81/",
    ]);
    assert_eq!(output.status.code(), Some(1), "a site failed: {}", stderr(&output));
    let report = contract("start", &output);
    let requests = report["requests"].as_array().unwrap();
    let seen: Vec<(Value, Value, Value, Value)> = requests
        .iter()
        .map(|r| (r["url"].clone(), r["site"].clone(), r["app_pool"].clone(), r["status"].clone()))
        .collect();
    let row =
        |url: &str, site: Value, pool: Value, status: Value| (Value::from(url), site, pool, status);
    assert_eq!(
        seen,
        [
            row("http://localhost/", "1".into(), "DefaultAppPool".into(), 200.into()),
            row("http://SHOP.example.com/cart?id=1", "2".into(), "ShopPool".into(), 503.into()),
            row("http://intranet:8080/", Value::Null, Value::Null, 400.into()),
            row("http://localhost:81/", Value::Null, Value::Null, Value::Null),
        ]
    );
    assert_eq!(requests[1]["win32_error"], 193, "the site's 503 stands for the loader's 193");
    assert_eq!(requests[3]["no_answer"], "nothing_listens_on_port");
    // Site 2's filter was loaded for real by ShopPool's worker, beside the global filter.
    let shop = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["app_pool"] == "ShopPool")
        .expect("ShopPool's worker ran");
    assert_eq!(shop["filters"][1]["site"], "2");
    assert_eq!(shop["filters"][1]["win32_error"], 193);
    assert_eq!(shop["filters"][0]["site"], Value::Null);
    assert!(
        report["hosts"].as_array().unwrap().iter().all(|host| host["app_pool"] != "NobodysPool")
    );
}

/// `--image WINPATH=missing` empties a standard Framework path, and IIS's own look for the
/// file answers before the loader is asked: 3 when not even its folder is there, 2 when the
/// folder holds other files.
#[test]
fn a_missing_image_fails_at_the_file_check_with_its_real_error() {
    let metabase = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let filter = r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll";
    let neighbour = r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll=x86";
    for (extra, error) in [(None, 3), (Some(neighbour), 2)] {
        let missing = format!("{filter}=missing");
        let mut args = vec!["start", "--json", "--metabase", metabase.to_str().unwrap()];
        args.extend(["--image", missing.as_str()]);
        if let Some(extra) = extra {
            args.extend(["--image", extra]);
        }
        let output = harness(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let report = json(&output);
        let filter = &report["hosts"][0]["filters"][0];
        assert_eq!(filter["stage"], "probe");
        assert_eq!(filter["win32_error"], error, "{filter}");
        assert_eq!(filter["cause"], "missing_file");
        let events = report["events"].as_array().unwrap();
        assert_eq!(events[0]["id"], 2214);
        assert_eq!(events[0]["data"], format!("{error:02x} 00 00 00"));
    }
}

/// A request that is not a URL the harness can send is bad input.
#[test]
fn a_request_that_is_not_a_url_is_refused() {
    let metabase = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let output = harness(&[
        "start",
        "--metabase",
        metabase.to_str().unwrap(),
        "--request",
        "ftp://example.com/",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--request"), "{}", stderr(&output));
}

/// `diagnose` ends its text with a one-line verdict, as every command that prints a timeline
/// does: here a predicted problem (an x86 filter in IIS 5.0 isolation mode's 64-bit
/// inetinfo.exe), without `--verify`.
#[test]
fn diagnose_ends_with_a_verdict() {
    let metabase = scenarios().join("matrix/x64-iis5-absent-e32-absent-x86.xml");
    let output = harness(&[
        "diagnose",
        "--config",
        metabase.to_str().unwrap(),
        "--image",
        r"C:\Filters\x86\mockfilter.dll=x86",
    ]);
    assert_eq!(output.status.code(), Some(1), "a problem is predicted: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with("FAIL   verdict: problems predicted; "), "{text}");
}
