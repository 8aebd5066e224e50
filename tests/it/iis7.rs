//! IIS 7+ for real: every real applicationHost.config of `tests/data/real/iis7/` starts on the
//! machine without a refusal, the IIS 10 twin of the seed reproduces and verifies its fixes,
//! WOW64 redirection is what the 32-bit worker really gets, and `appcmd` as a user runs it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::arch::{Bits, Os};
use harness::process::{self, Launch};
use harness::scenario::{Configuration, Scenario};
use harness::vocab::{ProcessName, ServerKind, Stage};
use rstest::rstest;

use crate::support::machine;

#[rstest]
fn every_real_applicationhost_config_starts(#[files("data/real/iis7/*.config")] path: PathBuf) {
    let config = Configuration::read(&path).unwrap_or_else(|error| panic!("{error:#}"));
    assert!(
        matches!(config, Configuration::Apphost(_)),
        "{} is told apart by content",
        path.display()
    );
    let scenario = Scenario::new("real", Os::X64, config);
    harness::iis::check(&scenario).unwrap_or_else(|error| panic!("{}: {error:#}", path.display()));
    let report = harness::iis::start(machine(), &scenario)
        .unwrap_or_else(|error| panic!("{}: {error:#}", path.display()));
    assert_eq!(report.server, ServerKind::Iis7Plus);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["isolation_mode"].is_null());
    assert_eq!(json["server"], "iis7+");
    for host in &report.hosts {
        assert!(matches!(host.process, ProcessName::W3wp | ProcessName::IisExpress));
        assert_eq!(host.pipeline_mode.is_some(), host.process == ProcessName::W3wp);
        // Every module the host reached has the loader's own answer.
        for module in host.modules.iter().filter(|module| module.stage != Stage::NotAttempted) {
            assert!(
                module.loaded || module.win32_error.is_some() || module.stage == Stage::LoadLibrary,
                "{module:?}"
            );
        }
    }
    // One host per worker (or IIS Express process) that a request reached, never one per pool.
    let pools_reached: std::collections::HashSet<_> =
        report.requests.iter().filter_map(|request| request.app_pool.clone()).collect();
    if report.hosts.iter().all(|host| host.process == ProcessName::W3wp) {
        let healthy =
            report.hosts.iter().filter(|host| host.modules.iter().all(|m| m.loaded)).count();
        assert!(healthy <= pools_reached.len(), "{}", path.display());
    }
}

#[test]
fn the_iis_10_twin_reproduces_and_both_fixes_pass_their_requests() {
    let report = harness::repro::iis10::replay(machine(), &Default::default())
        .unwrap_or_else(|error| panic!("{error:#}"));
    let timeline: Vec<&str> = report.timeline.iter().map(|step| step.text.as_str()).collect();
    assert!(report.reproduced, "{}", timeline.join("\n"));
    assert!(report.fix_preconditions.verified, "{}", timeline.join("\n"));
    assert!(report.fix_64bit_pool.verified, "{}", timeline.join("\n"));
    // The 193 is the loader's, in a real 32-bit w3wp.exe.
    let worker = report.failure.hosts.iter().find(|host| host.bits == Bits::B32).unwrap();
    assert_eq!(worker.filters[0].win32_error.map(|error| error.code()), Some(193));
    assert_eq!(worker.filters[0].stage, Stage::LoadLibrary);
    // WOW64 for real: the 32-bit worker asked for System32 and got the SysWOW64 copy, so
    // every standard module loaded in it.
    assert!(worker.modules.iter().all(|module| module.loaded));
    assert!(
        timeline.iter().any(|line| line
            .contains("32-bit process asking for `C:\\Windows\\System32\\inetsrv\\")
            && line.to_ascii_lowercase().contains("syswow64")),
        "{}",
        timeline.join("\n")
    );
    assert!(
        report
            .failure
            .requests
            .iter()
            .all(|request| request.status == Some(500) && request.substatus == Some(0))
    );
}

#[test]
fn a_module_of_the_other_architecture_stops_each_worker_until_the_pool_is_disabled() {
    let text = std::fs::read_to_string(
        crate::support::tests_dir().join("scenarios/iis7/module-amd64-pool-32bit.config"),
    )
    .unwrap();
    let apphost = harness::apphost::Apphost::parse(&text, Path::new("module.config")).unwrap();
    let mut scenario = Scenario::new("module", Os::X64, apphost);
    scenario
        .add_image(
            crate::support::win(r"C:\Modules\amd64\mockmodule.dll"),
            harness::scenario::ImageSpec::Mock {
                arch: harness::arch::Arch::Amd64,
                mock: harness::mock::Mock::Module,
            },
        )
        .unwrap();
    scenario
        .add_image(
            crate::support::win(r"C:\Filters\x86\mockfilter.dll"),
            harness::scenario::ImageSpec::Mock {
                arch: harness::arch::Arch::X86,
                mock: harness::mock::Mock::FILTER,
            },
        )
        .unwrap();
    scenario.repeat_requests = 6;
    let report =
        harness::iis::start(machine(), &scenario).unwrap_or_else(|error| panic!("{error:#}"));
    // The pool's failure defaults: 5 crashes, then WAS disables it; the sixth request gets 503
    // at once, without a worker.
    assert_eq!(report.hosts.len(), 5);
    for host in &report.hosts {
        let module = host.modules.iter().find(|module| module.name == "ThirdPartyModule").unwrap();
        assert_eq!(module.win32_error.map(|error| error.code()), Some(193));
        assert_eq!(host.bits, Bits::B32);
    }
    assert!(report.requests.iter().all(|request| request.status == Some(503)));
    let ids: Vec<u32> = report.events.iter().map(|event| event.id).collect();
    assert_eq!(ids.iter().filter(|&&id| id == 2282).count(), 5);
    assert_eq!(ids.last(), Some(&5002));
    assert!(report.hosts.iter().all(|host| {
        host.modules.iter().any(|module| module.name != "ThirdPartyModule" && module.loaded)
    }));
}

// ---------------------------------------------------------------------------------------------
// appcmd, and the IIS 6.0 tools on an applicationHost.config

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let launch = Launch {
        program: tests::harness_binary().to_path_buf(),
        args: args.iter().map(OsString::from).collect(),
        env: vec![],
    };
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("appcmd");
    let finished = process::run_bounded(&launch, &[], Duration::from_secs(60), &scratch)
        .expect("isapi-harness starts");
    let status = finished.status.expect("isapi-harness ends within a minute");
    Run { code: status.code().unwrap_or(-1), stdout: finished.stdout, stderr: finished.stderr }
}

fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let bytes =
        std::fs::read(crate::support::tests_dir().join("data/real/iis7").join(name)).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("applicationHost.config");
    std::fs::write(&path, &bytes).unwrap();
    (folder, path, bytes)
}

#[test]
fn appcmd_edits_a_real_file_and_setting_back_restores_its_bytes() {
    let (folder, path, original) = copy_of("full-collinsauve-aspnetcoretest.config");
    let config = path.to_str().unwrap();
    let listed = run(&["appcmd", "--config", config, "list", "apppool"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("APPPOOL \"Default Application Pool\""), "{}", listed.stdout);
    let add = "/+[name='Jk',path='C:\\tomcat\\isapi_redirect.dll',preCondition='bitness64']";
    let added = run(&[
        "appcmd",
        "--config",
        config,
        "set",
        "config",
        "/section:system.webServer/isapiFilters",
        add,
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("<filter name=\"Jk\" path=\"C:\\tomcat\\isapi_redirect.dll\" preCondition=\"bitness64\" />\r\n"));
    let removed = run(&[
        "appcmd",
        "--config",
        config,
        "set",
        "config",
        "/section:system.webServer/isapiFilters",
        "/-[name='Jk']",
    ]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(std::fs::read(&path).unwrap() == original, "add then remove gives the file it was");
    let set = run(&[
        "appcmd",
        "--config",
        config,
        "set",
        "apppool",
        "Default Application Pool",
        "/enable32BitAppOnWin64:true",
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.stdout.trim(), "APPPOOL object \"Default Application Pool\" changed");
    let entries: Vec<_> =
        std::fs::read_dir(folder.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries.len(), 1, "no temporary file or History copy is left: {entries:?}");
}

/// A handler (kept in `<location path="">` by this file) and an isapiCgiRestriction entry,
/// through the real binary: each added line is the entry alone, indented like its siblings with
/// the file's CRLF, a duplicate is refused without a write, and removing both gives the bytes
/// back.
#[test]
fn appcmd_adds_and_removes_handlers_and_isapi_cgi_restrictions() {
    let (_folder, path, original) = copy_of("full-collinsauve-aspnetcoretest.config");
    let config = path.to_str().unwrap();
    let appcmd = |section: &str, edit: &str| {
        run(&["appcmd", "--config", config, "set", "config", &format!("/section:{section}"), edit])
    };
    let handler = "/+[name='PyISAPI',path='*.py',verb='*',modules='IsapiModule',scriptProcessor='C:\\Python\\PyISAPI_loader.dll',preCondition='bitness64']";
    let added = appcmd("system.webServer/handlers", handler);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stdout.contains("system.webServer/handlers"), "{}", added.stdout);
    let allow = "/+[path='C:\\Python\\PyISAPI_loader.dll',allowed='true']";
    let allowed = appcmd("system.webServer/security/isapiCgiRestriction", allow);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\r\n            <add name=\"PyISAPI\" path=\"*.py\" verb=\"*\" modules=\"IsapiModule\" scriptProcessor=\"C:\\Python\\PyISAPI_loader.dll\" preCondition=\"bitness64\" />\r\n        </handlers>"),
        "the handler is the collection's last entry"
    );
    assert!(
        text.contains("\r\n                <add path=\"C:\\Python\\PyISAPI_loader.dll\" allowed=\"true\" />\r\n            </isapiCgiRestriction>"),
        "the restriction is the list's last entry"
    );
    let before = std::fs::read(&path).unwrap();
    let duplicate = appcmd("system.webServer/handlers", handler);
    assert_eq!(duplicate.code, 2, "{}", duplicate.stderr);
    assert!(
        duplicate.stderr.contains("Cannot add duplicate collection entry"),
        "{}",
        duplicate.stderr
    );
    assert!(std::fs::read(&path).unwrap() == before, "a refused edit writes nothing");
    let removed = appcmd(
        "system.webServer/security/isapiCgiRestriction",
        "/-[path='C:\\Python\\PyISAPI_loader.dll']",
    );
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let removed = appcmd("system.webServer/handlers", "/-[name='PyISAPI']");
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(std::fs::read(&path).unwrap() == original, "add then remove gives the file it was");
}

#[test]
fn appcmd_refuses_bad_input_with_exit_2_and_writes_nothing() {
    let (_folder, path, original) = copy_of("full-collinsauve-aspnetcoretest.config");
    let config = path.to_str().unwrap();
    for args in [
        vec!["set", "apppool", "NoSuchPool", "/enable32BitAppOnWin64:true"],
        vec!["set", "apppool", "Default Application Pool", "/enable32BitAppOnWin64:maybe"],
        vec!["delete", "site", "www"],
    ] {
        let mut full = vec!["appcmd", "--config", config];
        full.extend(args.iter());
        let refused = run(&full);
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.stderr);
        assert!(std::fs::read(&path).unwrap() == original, "{args:?} changed the file");
    }
    let broken = String::from_utf8(original).unwrap().replacen("</sites>", "", 1);
    std::fs::write(&path, &broken).unwrap();
    let refused = run(&["appcmd", "--config", config, "list", "apppool"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains(&format!("{config}:"))
            && refused.stderr.contains("is never closed"),
        "{}",
        refused.stderr
    );
    let start = run(&["start", "--config", config]);
    assert_eq!(start.code, 2, "{}", start.stderr);
    assert!(start.stderr.contains("is never closed"), "{}", start.stderr);
}

#[test]
fn the_iis_6_tools_point_to_appcmd() {
    let (_folder, path, original) = copy_of("express-boletonet.config");
    let config = path.to_str().unwrap();
    let adsutil =
        run(&["adsutil", "--metabase", config, "get", "W3SVC/AppPools/Enable32BitAppOnWin64"]);
    assert_eq!(adsutil.code, 2);
    assert!(adsutil.stderr.contains("appcmd"), "{}", adsutil.stderr);
    let regiis = run(&["aspnet-regiis", "--metabase", config, "--framework", "amd64", "-i"]);
    assert_eq!(regiis.code, 2);
    assert!(regiis.stderr.contains("appcmd"), "{}", regiis.stderr);
    assert!(std::fs::read(&path).unwrap() == original, "the file changed");
}

#[test]
fn appcmd_adds_a_filter_to_an_empty_self_closing_section() {
    let (_folder, path, _) = copy_of("full-mattgillard-iis-reverse-proxy.config");
    let config = path.to_str().unwrap();
    let add = "/+[name='Jk',path='C:\\tomcat\\isapi_redirect.dll']";
    let added = run(&[
        "appcmd",
        "--config",
        config,
        "set",
        "config",
        "/section:system.webServer/isapiFilters",
        add,
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let apphost = harness::apphost::Apphost::read(&path).unwrap();
    let names: Vec<String> =
        apphost.isapi_filters(None).into_iter().map(|filter| filter.name).collect();
    assert_eq!(names, ["Jk"]);
}

/// `diagnose --verify` agrees with the real loads on every real applicationHost.config.
#[rstest]
fn diagnose_agrees_on_every_real_applicationhost_config(
    #[files("data/real/iis7/*.config")] path: PathBuf,
) {
    let config = Configuration::read(&path).unwrap_or_else(|error| panic!("{error:#}"));
    let scenario = Scenario::new("real", Os::X64, config);
    let diagnosis = harness::diagnose::diagnose(machine(), &scenario, true)
        .unwrap_or_else(|error| panic!("{}: {error:#}", path.display()));
    assert_eq!(diagnosis.agree, Some(true), "{}: {:#?}", path.display(), diagnosis.filters);
    assert!(diagnosis.isolation_mode.is_none());
    for request in &diagnosis.requests {
        assert_eq!(
            request.observed_status,
            Some(request.predicted_status),
            "{}: {}",
            path.display(),
            request.url
        );
    }
}
