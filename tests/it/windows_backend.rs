//! The windows backend: the loader is this computer's Windows, which answers as Windows does,
//! but the computer is not the server. A CI runner has VC++ runtimes and a newer UCRT that a
//! bare Server 2003 or 2019 lacks, so the profile (`--windows`, `--installed`) still decides:
//! where this computer's answer and the server's differ, the run gives the server's, with this
//! computer's beside it (`this_computer`). The target's System32 is this computer's real one,
//! so a filter that needs only the system's own DLLs loads, predicted and observed.
//!
//! Run by `cargo xtask windows-gnu` (the harness built for Windows, under Wine there; on
//! `windows-latest` natively by `cargo xtask ci`).

use harness::arch::{Bits, Os};
use harness::cause::Cause;
use harness::report::ImageOutcome;
use harness::scenario::{ImageSpec, Scenario};
use harness::vocab::{BackendKind, Stage, Win32Error};
use harness::windows_loader::WindowsVersion;
use rstest::rstest;

use crate::support::{dependency_fixture, machine, one_filter_server};

/// A Server 2019 whose global filter is the fixture `filter`: a 64-bit inetinfo.exe in IIS 5.0
/// isolation mode, or a 32-bit w3wp.exe.
fn server(bits: Bits, case: &str, filter: &str) -> Scenario {
    server_of(bits, case, dependency_fixture(bits.host_arch(), filter))
}

fn server_of(bits: Bits, case: &str, filter: ImageSpec) -> Scenario {
    let name = format!("winbackend-{case}-{}", bits.number());
    let iis5 = bits == Bits::B64;
    let mut scenario = one_filter_server(&name, Os::X64, iis5, !iis5, Some(filter));
    scenario.windows = Some(WindowsVersion::Server2019);
    scenario
}

fn start(scenario: &Scenario) -> (harness::report::StartReport, ImageOutcome) {
    let report = harness::iis::start(machine(), scenario).expect("the start runs");
    assert_eq!(report.backend, Some(BackendKind::Windows), "this suite is the windows backend's");
    let filter = report
        .hosts
        .iter()
        .flat_map(|host| host.filters.iter())
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("a filter outcome in {report:#?}"));
    (report, filter)
}

fn redistributable(bits: Bits) -> harness::windows_loader::Redistributable {
    let build = if bits == Bits::B64 { "x64" } else { "x86" };
    format!("vc2015+-{build}").parse().expect("a redistributable")
}

/// `vcruntime140.dll` is in this computer's system folder and not on a bare Server 2019: the
/// run gives the server's 126 (runtime_not_installed), keeps this computer's load beside it and
/// says so in the timeline; `--installed vc2015+` makes the system's copy count.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_runtime_this_computer_has_and_the_server_lacks_is_the_servers_126(#[case] bits: Bits) {
    let bare = server(bits, "vcruntime-bare", "imports_vcruntime140.dll");
    let (report, outcome) = start(&bare);
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{outcome:#?}");
    assert_eq!(outcome.stage, Stage::LoadLibrary);
    assert_eq!(outcome.cause, Some(Cause::RuntimeNotInstalled));
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("runtime_not_installed"));
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("vcruntime140.dll"));
    let here = outcome.this_computer.expect("this computer's answer kept beside");
    assert_eq!((here.stage, here.win32_error), (Stage::Loaded, None), "this computer loaded it");
    assert_eq!(outcome.wine, None, "no Wine answered here");
    assert_eq!(outcome.rule_verified_on_this_wine, None);
    assert_eq!(outcome.description, None, "its entry points did not run: the server refuses it");
    if bits == Bits::B64 {
        assert!(!report.service.started, "IIS 5.0 isolation mode fails the service on it");
        assert_eq!(report.service.win32_error, Some(Win32Error::MOD_NOT_FOUND));
    }
    let text: Vec<String> = report.steps().into_iter().map(|step| step.text).collect();
    assert!(
        text.iter().any(|line| line.contains("vcruntime140.dll")
            && line.contains("this computer has the runtime and loaded it")
            && line.contains("runtime_not_installed")),
        "the timeline gives both answers and the rule: {text:#?}"
    );
    let json = serde_json::to_value(&report).expect("the report serialises");
    let filter = &json["hosts"][0]["filters"][0];
    assert_eq!(filter["this_computer"]["win32_error"], serde_json::Value::Null, "{filter:#}");
    assert_eq!(filter["this_computer"]["stage"], "loaded", "{filter:#}");
    assert!(filter.get("wine").is_none(), "{filter:#}");

    let mut installed = server(bits, "vcruntime-installed", "imports_vcruntime140.dll");
    installed.installed = vec![redistributable(bits)];
    let (_, outcome) = start(&installed);
    assert!(outcome.loaded, "installed on the server: {outcome:#?}");
    assert_eq!(outcome.windows_rule, None);
    assert_eq!(outcome.this_computer, None);
}

/// The system's own DLLs (kernel32, msvcrt) are this computer's, found in its system folder:
/// a filter that needs nothing else loads, and `diagnose` predicts so.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_filter_needing_only_the_system_loads_and_is_predicted_to(#[case] bits: Bits) {
    // The mock filter, built with mingw-w64: it imports kernel32.dll and msvcrt.dll only.
    let mock = ImageSpec::Mock { arch: bits.host_arch(), mock: "filter".parse().expect("a mock") };
    let scenario = server_of(bits, "system-only", mock);
    let (_, outcome) = start(&scenario);
    assert!(outcome.loaded, "{outcome:#?}");
    let kernel32 = outcome
        .dependencies
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case("kernel32.dll"))
        .unwrap_or_else(|| panic!("kernel32.dll among {:#?}", outcome.dependencies));
    let system = if bits == Bits::B64 { r"C:\Windows\System32" } else { r"C:\Windows\SysWOW64" };
    assert_eq!(kernel32.found.as_deref(), Some(format!(r"{system}\kernel32.dll").as_str()));
    assert_eq!(outcome.culprit(), None, "{outcome:#?}");

    let diagnosis = harness::diagnose::diagnose(machine(), &scenario, true).expect("it runs");
    let filter = &diagnosis.filters[0];
    assert!(filter.predicted.loads, "{filter:#?}");
    assert_eq!(diagnosis.agree, Some(true), "{diagnosis:#?}");

    let vcruntime = server(bits, "diagnose-vcruntime", "imports_vcruntime140.dll");
    let diagnosis = harness::diagnose::diagnose(machine(), &vcruntime, true).expect("it runs");
    let filter = &diagnosis.filters[0];
    assert!(!filter.predicted.loads, "{filter:#?}");
    assert_eq!(filter.predicted.win32_error, Some(Win32Error::MOD_NOT_FOUND));
    assert!(filter.predicted.reason.contains("vcruntime140.dll"), "{}", filter.predicted.reason);
    assert_eq!(diagnosis.agree, Some(true), "the start gives the server's answer: {diagnosis:#?}");
}
