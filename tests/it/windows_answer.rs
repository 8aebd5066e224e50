//! Windows's answer for a filter's dependencies, through a whole IIS 6.0 start: the crafted
//! `mock-deps/` families (and pywin32's real `PyISAPI_loader.dll`) as the global filter, in a
//! 64-bit inetinfo.exe (AMD64 builds) and a 32-bit w3wp.exe (x86 builds).
//!
//! Each expected answer is Windows's, from the row of `shared/reference/windows-loader-vs-wine.md`
//! named beside it, never from the resolver's own output; Wine's own answer, kept beside it,
//! is asserted too (what `dependencies.rs` measures on the bare host). IIS acts on Windows's
//! answer: a filter Windows refuses fails the service in IIS 5.0 isolation mode.
//!
//! Only on the Wine backend, where the rules apply.

use std::path::PathBuf;

use harness::arch::{Arch, Bits, Os};
use harness::cause::Cause;
use harness::report::ImageOutcome;
use harness::scenario::{ImageSpec, Scenario};
use harness::vocab::{Stage, Win32Error};
use rstest::rstest;

use crate::support::{dependency_fixture as fixture, machine, one_filter_server, tests_dir, win};

/// A server whose global filter is `filter` (a fixture of the host's architecture) with
/// `beside` in its folder, loaded by a host of `bits`: 64-bit inetinfo.exe in IIS 5.0
/// isolation mode, or 32-bit w3wp.exe (worker process isolation with Enable32BitAppOnWin64).
fn server(bits: Bits, case: &str, filter: ImageSpec, beside: &[(&str, ImageSpec)]) -> Scenario {
    let name = format!("winanswer-{case}-{}", bits.number());
    let iis5 = bits == Bits::B64;
    let mut scenario = one_filter_server(&name, Os::X64, iis5, !iis5, Some(filter));
    for (file, spec) in beside {
        scenario.images.push((win(&format!(r"C:\it\{name}\{file}")), spec.clone()));
    }
    scenario
}

/// Starts the server and returns its filter's outcome.
fn filter_of(scenario: &Scenario) -> (harness::report::StartReport, ImageOutcome) {
    let report = harness::iis::start(machine(), scenario).expect("the start runs");
    let filter = report
        .hosts
        .iter()
        .flat_map(|host| host.filters.iter())
        .next()
        .cloned()
        .unwrap_or_else(|| panic!("a filter outcome in {report:#?}"));
    (report, filter)
}

fn own(bits: Bits, name: &str) -> ImageSpec {
    fixture(bits.host_arch(), name)
}

/// Rows 1-2: an import its dependency does not export: Windows 127 by name, 182 by ordinal;
/// Wine loaded it through a stub.
#[rstest]
#[case::by_name_64(Bits::B64, "imports_dep_missing_name.dll", 127, "dep_missing")]
#[case::by_name_32(Bits::B32, "imports_dep_missing_name.dll", 127, "dep_missing")]
#[case::by_ordinal_64(Bits::B64, "imports_dep_missing_ordinal.dll", 182, "ordinal 77")]
#[case::by_ordinal_32(Bits::B32, "imports_dep_missing_ordinal.dll", 182, "ordinal 77")]
fn a_missing_import_is_windows_127_or_182_with_wines_stub_beside_it(
    #[case] bits: Bits,
    #[case] filter: &str,
    #[case] windows: u32,
    #[case] function: &str,
) {
    let scenario = server(
        bits,
        &filter[..filter.len() - 4],
        own(bits, filter),
        &[("dep.dll", own(bits, "dep.dll"))],
    );
    let (report, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error(windows)), "{outcome:#?}");
    assert_eq!(outcome.stage, Stage::LoadLibrary);
    assert_eq!(outcome.cause, Some(Cause::MissingImport));
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("missing_import"));
    let wine = outcome.wine.expect("Wine's answer kept");
    assert_eq!((wine.stage, wine.win32_error), (Stage::Loaded, None), "Wine loaded it");
    let culprit = outcome.culprit().expect("the dependency at fault");
    assert_eq!(culprit.name, "dep.dll");
    assert_eq!(culprit.missing_functions, vec![function.to_owned()]);
    if bits == Bits::B64 {
        assert!(!report.service.started, "IIS 5.0 isolation mode fails the service on it");
        assert_eq!(report.service.win32_error, Some(Win32Error(windows)));
    }
    let text: Vec<String> = report.steps().into_iter().map(|step| step.text).collect();
    assert!(
        text.iter()
            .any(|line| line.contains("Windows's loader refuses it") && line.contains(function)),
        "the timeline names the function: {text:#?}"
    );
}

/// Row 5: the only copy of the dependency is the other bitness: Windows 193, Wine 126.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_dependency_of_the_other_bitness_is_windows_193_where_wine_says_126(#[case] bits: Bits) {
    let other = if bits == Bits::B64 { Arch::X86 } else { Arch::Amd64 };
    let scenario = server(
        bits,
        "wrong-bits",
        own(bits, "imports_dep.dll"),
        &[("dep.dll", fixture(other, "dep.dll"))],
    );
    let (_, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error::BAD_EXE_FORMAT), "{outcome:#?}");
    assert_eq!(outcome.cause, Some(Cause::DependencyWrongBitness));
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("dependency_wrong_bitness"));
    assert_eq!(outcome.wine.and_then(|wine| wine.win32_error), Some(Win32Error::MOD_NOT_FOUND));
}

/// Rows 7-8: a dependency that is no PE image: Windows 7's loader (Server 2008 R2) and later
/// stop there with 193, where Wine says 126; Server 2003's passes it over and, with no other
/// copy, finds nothing: 126 on both.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_dependency_that_is_no_image_is_193_from_server_2008_r2_on(#[case] bits: Bits) {
    let text: PathBuf = machine().artifacts().root().join("filters").join("odd").join("text.dll");
    let beside = [("dep.dll", ImageSpec::File(text))];
    let mut scenario = server(bits, "not-pe", own(bits, "imports_dep.dll"), &beside);
    scenario.windows = Some(harness::windows_loader::WindowsVersion::Server2008R2);
    let (_, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error::BAD_EXE_FORMAT), "{outcome:#?}");
    assert_eq!(outcome.cause, Some(Cause::DependencyNotAnImage));
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("dependency_not_an_image"));
    assert_eq!(outcome.wine.and_then(|wine| wine.win32_error), Some(Win32Error::MOD_NOT_FOUND));

    let mut on_2003 = server(bits, "not-pe-2003", own(bits, "imports_dep.dll"), &beside);
    on_2003.windows = Some(harness::windows_loader::WindowsVersion::Server2003);
    let (_, outcome) = filter_of(&on_2003);
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{outcome:#?}");
    assert_eq!(outcome.windows_rule, None);
}

/// Row 4: a missing dependency: 126 on both, now named.
#[test]
fn a_missing_dependency_is_126_and_named() {
    let scenario = server(Bits::B64, "dep-missing", own(Bits::B64, "imports_dep.dll"), &[]);
    let (report, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND));
    assert_eq!(outcome.cause, Some(Cause::MissingDependency));
    assert_eq!(outcome.windows_rule, None, "both loaders agree; no rule is needed");
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("dep.dll"));
    let verdict = report.steps().last().map(|step| step.text.clone()).unwrap_or_default();
    assert!(verdict.contains("at `dep.dll`"), "{verdict}");
}

/// Rows 11-12 and "Making Wine's run agree": a VC++ runtime a bare server lacks is 126 on
/// Windows; Wine, told to load it only from a real file, agrees; a vendor's own copy beside
/// the filter loads; `--installed` makes the system's copy count.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_c_runtime_the_server_lacks_is_126_unless_shipped_or_installed(#[case] bits: Bits) {
    let bare = server(bits, "crt-bare", own(bits, "imports_msvcr100.dll"), &[]);
    let (_, outcome) = filter_of(&bare);
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{outcome:#?}");
    assert_eq!(outcome.cause, Some(Cause::RuntimeNotInstalled));
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("msvcr100.dll"));

    let shipped = server(
        bits,
        "crt-app-local",
        own(bits, "imports_msvcr100.dll"),
        &[("msvcr100.dll", own(bits, "msvcr100.dll"))],
    );
    let (_, outcome) = filter_of(&shipped);
    assert!(outcome.loaded, "the vendor's copy beside it: {outcome:#?}");
    assert_eq!(outcome.windows_rule, None);

    let mut installed = server(bits, "crt-installed", own(bits, "imports_vcruntime140.dll"), &[]);
    let build = if bits == Bits::B64 { "x64" } else { "x86" };
    installed.installed = vec![format!("vc2015+-{build}").parse().expect("a redistributable")];
    installed.windows = Some(harness::windows_loader::WindowsVersion::Server2019);
    let (_, outcome) = filter_of(&installed);
    assert!(outcome.loaded, "installed on the server: {outcome:#?}");
}

/// Row 11: a manifest needing Microsoft.VC90.CRT on a server without it: Windows 14001; Wine
/// loaded it (or, told to load msvcr90 only from a file, 126).
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_vc90_manifest_without_its_runtime_is_14001(#[case] bits: Bits) {
    let scenario = server(bits, "vc90", own(bits, "manifest_vc90.dll"), &[]);
    let (_, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error::SXS_CANT_GEN_ACTCTX), "{outcome:#?}");
    assert_eq!(outcome.cause, Some(Cause::SideBySideMissing));
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("side_by_side_missing"));
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("Microsoft.VC90.CRT"));
}

/// Row 14: mfc42 ships with Windows and not with Wine 8: Windows loads the filter; it could
/// not run here.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn an_mfc42_filter_loads_on_windows_and_is_not_run_here(#[case] bits: Bits) {
    let scenario = server(bits, "mfc42", own(bits, "imports_mfc42.dll"), &[]);
    let (report, outcome) = filter_of(&scenario);
    assert!(!report.all_good(), "a start is not good through an image not run here");
    let verdict = report.steps().last().map(|step| step.text.clone()).unwrap_or_default();
    assert!(verdict.contains("could not be run here"), "{verdict}");
    assert!(outcome.loaded, "{outcome:#?}");
    assert!(!outcome.run_here);
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("windows_ships_wine_lacks"));
    assert_eq!(outcome.wine.and_then(|wine| wine.win32_error), Some(Win32Error::MOD_NOT_FOUND));
    assert_eq!(outcome.description, None, "its entry points were not called");
}

/// Row 3: a forwarder to a missing DLL: 126 on Windows (probable), naming that DLL; Wine
/// loaded it through a stub.
#[test]
fn a_forwarder_to_a_missing_dll_is_126_naming_it() {
    let scenario = server(
        Bits::B64,
        "forwarded",
        own(Bits::B64, "imports_forwarded.dll"),
        &[("dep_forwarder.dll", own(Bits::B64, "dep_forwarder.dll"))],
    );
    let (_, outcome) = filter_of(&scenario);
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{outcome:#?}");
    assert_eq!(outcome.windows_rule.map(|rule| rule.id), Some("forwarder_target_missing"));
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("dep_absent"));
}

/// pywin32's real PyISAPI_loader.dll (NOTICE-pywin32.md): the AMD64 build in a 64-bit host
/// gets 126 naming python311.dll, the first import Windows cannot bind; the x86 build 193,
/// the image itself.
#[test]
fn pyisapi_loader_gets_126_naming_python311_and_its_x86_build_193() {
    let real = |arch: Arch| {
        ImageSpec::File(
            tests_dir().join("data/real/pywin32").join(arch.dir_name()).join("PyISAPI_loader.dll"),
        )
    };
    let (_, amd64) = filter_of(&server(Bits::B64, "pyisapi-amd64", real(Arch::Amd64), &[]));
    assert_eq!(amd64.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{amd64:#?}");
    assert_eq!(amd64.cause, Some(Cause::MissingDependency));
    assert_eq!(amd64.culprit().map(|d| d.name.as_str()), Some("python311.dll"));
    let (_, x86) = filter_of(&server(Bits::B64, "pyisapi-x86", real(Arch::X86), &[]));
    assert_eq!(x86.win32_error, Some(Win32Error::BAD_EXE_FORMAT));
    assert_eq!(x86.cause, Some(Cause::WrongBitness));
    assert!(x86.culprit().is_none(), "193 is the image's own, not a dependency's");
}

/// `diagnose --verify` predicts with the same rules from the files, and the real start (with
/// Windows's answer where Wine's differs) agrees: row 1's 127, naming the function, and row 4's
/// 126, naming the DLL.
#[rstest]
#[case::missing_import("imports_dep_missing_name.dll", true, 127, "dep_missing")]
#[case::missing_dependency("imports_dep.dll", false, 126, "dep.dll")]
fn diagnose_predicts_windows_answer_and_the_start_agrees(
    #[case] filter: &str,
    #[case] with_dep: bool,
    #[case] windows: u32,
    #[case] named: &str,
) {
    let beside = if with_dep { vec![("dep.dll", own(Bits::B64, "dep.dll"))] } else { Vec::new() };
    let scenario = server(Bits::B64, &format!("diag-{windows}"), own(Bits::B64, filter), &beside);
    let diagnosis = harness::diagnose::diagnose(machine(), &scenario, true).expect("diagnose runs");
    let filter = &diagnosis.filters[0];
    assert!(!filter.predicted.loads, "{filter:#?}");
    assert_eq!(filter.predicted.win32_error, Some(Win32Error(windows)));
    assert!(filter.predicted.reason.contains(named), "{}", filter.predicted.reason);
    assert_eq!(diagnosis.agree, Some(true), "{diagnosis:#?}");
}

/// A regression scenario that pins the filter as loaded fails, and its row (and so its JUnit
/// message) names the dependency at fault, not only the error code; `windows` and `installed`
/// in the scenario file decide what the server holds.
#[test]
fn a_failing_scenario_names_the_dependency_and_the_profile_comes_from_the_file() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let built = |name: &str| {
        machine().artifacts().root().join("deps").join(Arch::Amd64.dir_name()).join(name)
    };
    std::fs::copy(built("imports_vcruntime140.dll"), folder.path().join("vf.dll")).expect("copied");
    let metabase = std::fs::read_to_string(
        tests_dir().join("scenarios/matrix/x64-iis5-true-e32-absent-amd64.xml"),
    )
    .expect("a kept scenario's metabase");
    let path = r"C:\\Filters\\amd64\\mockfilter.dll";
    for (name, installed) in [("bare", ""), ("installed", r#", "installed": ["vc2015+-x64"]"#)] {
        std::fs::write(folder.path().join(format!("{name}.xml")), &metabase).expect("written");
        std::fs::write(
            folder.path().join(format!("{name}.json")),
            format!(
                r#"{{ "os": "x64", "windows": "2019"{installed}, "images": ["{path}=vf.dll"],
                    "expected": {{ "started": true, "process": "inetinfo.exe", "bits": 64,
                                   "loaded": true, "win32_error": null, "status": 200 }} }}"#
            ),
        )
        .expect("written");
    }
    let cases = harness::matrix::load(folder.path(), &[]).expect("the scenarios load");
    let results =
        harness::matrix::run(harness::matrix::Machines::Borrowed(machine()), &cases, 1, &|_, _| {});
    let bare = results.iter().find(|result| result.name == "bare").expect("the bare case");
    let failure = bare.failure().expect("it fails: the server has no VC++ 2015+ runtime");
    assert!(failure.contains("vcruntime140.dll"), "{failure}");
    let installed = results.iter().find(|result| result.name == "installed").expect("the other");
    assert!(installed.pass, "{:?}", installed.failure());
}

/// `--path` (and a scenario file's `"path"`): a dependency found only in a folder the server's
/// PATH adds. Wine searches the same folders (the host's PATH has them), so its real answer is
/// the load, and Windows's rules agree; without the folder both answer 126, naming the DLL.
#[rstest]
#[case::host64(Bits::B64)]
#[case::host32(Bits::B32)]
fn a_dependency_only_in_a_path_folder_loads_with_path_and_is_126_without(#[case] bits: Bits) {
    let lib = |name: &str| win(&format!(r"C:\it\winanswer-path-{name}-{}-lib", bits.number()));
    let placed = |name: &str| {
        let mut scenario = server(bits, &format!("path-{name}"), own(bits, "imports_dep.dll"), &[]);
        scenario.images.push((lib(name).child("dep.dll"), own(bits, "dep.dll")));
        scenario
    };
    let mut with = placed("with");
    with.path = vec![lib("with")];
    let (report, outcome) = filter_of(&with);
    assert!(outcome.loaded, "found through PATH: {outcome:#?}");
    assert_eq!(outcome.windows_rule, None, "Wine's real answer, not a correction");
    assert!(outcome.description.is_some(), "its entry point ran here: {outcome:#?}");
    let dep = outcome.dependencies.iter().find(|d| d.name == "dep.dll").expect("dep.dll");
    assert_eq!(dep.found.as_deref(), Some(lib("with").child("dep.dll").as_str()));
    if bits == Bits::B64 {
        assert!(report.service.started, "{report:#?}");
    }

    let (_, outcome) = filter_of(&placed("without"));
    assert_eq!(outcome.win32_error, Some(Win32Error::MOD_NOT_FOUND), "{outcome:#?}");
    assert_eq!(outcome.cause, Some(Cause::MissingDependency));
    assert_eq!(outcome.windows_rule, None, "both loaders agree");
    assert_eq!(outcome.culprit().map(|d| d.name.as_str()), Some("dep.dll"));
}

/// A scenario file's `"path"` is `--path`: the same dependency, through the matrix.
#[test]
fn a_scenario_files_path_is_the_servers_path() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let built = |name: &str| {
        machine().artifacts().root().join("deps").join(Arch::Amd64.dir_name()).join(name)
    };
    std::fs::copy(built("imports_dep.dll"), folder.path().join("vf.dll")).expect("copied");
    std::fs::copy(built("dep.dll"), folder.path().join("dep.dll")).expect("copied");
    let metabase = std::fs::read_to_string(
        tests_dir().join("scenarios/matrix/x64-iis5-true-e32-absent-amd64.xml"),
    )
    .expect("a kept scenario's metabase");
    let filter = r"C:\\Filters\\amd64\\mockfilter.dll";
    let dep = r"C:\\it\\scenario-path-lib\\dep.dll";
    for (name, path) in [("with", r#", "path": ["C:\\it\\scenario-path-lib"]"#), ("without", "")] {
        std::fs::write(folder.path().join(format!("{name}.xml")), &metabase).expect("written");
        std::fs::write(
            folder.path().join(format!("{name}.json")),
            format!(
                r#"{{ "os": "x64"{path}, "images": ["{filter}=vf.dll", "{dep}=dep.dll"],
                    "expected": {{ "started": true, "process": "inetinfo.exe", "bits": 64,
                                   "loaded": true, "win32_error": null, "status": 200 }} }}"#
            ),
        )
        .expect("written");
    }
    let cases = harness::matrix::load(folder.path(), &[]).expect("the scenarios load");
    let with = cases.iter().find(|case| case.name == "with").expect("the case with a PATH");
    assert_eq!(with.scenario.path, vec![win(r"C:\it\scenario-path-lib")]);
    let results =
        harness::matrix::run(harness::matrix::Machines::Borrowed(machine()), &cases, 1, &|_, _| {});
    let with = results.iter().find(|result| result.name == "with").expect("the case");
    assert!(with.pass, "{:?}", with.failure());
    let without = results.iter().find(|result| result.name == "without").expect("the other");
    let failure = without.failure().expect("it fails: dep.dll is on no path searched");
    assert!(failure.contains("dep.dll"), "{failure}");
}
