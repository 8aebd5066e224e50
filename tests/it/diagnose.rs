//! `diagnose --verify` over the regression matrix and the failure catalogue: every prediction
//! from configuration and headers must agree with the real load, 100%.

use std::path::PathBuf;

use harness::arch::{Arch, Bits, Os};
use harness::cause::Cause;
use harness::diagnose::diagnose;
use harness::matrix;
use harness::scenario::ImageSpec;
use harness::vocab::{ProcessName, Win32Error};
use rstest::rstest;

use crate::support::{machine, one_filter_server, tests_dir};

/// A server configuration of the catalogue runs, with the host the decision table gives it
/// (written out here, independently of the model): IIS 5.0 isolation mode is a 64-bit
/// inetinfo.exe, worker process isolation mode a 64-bit or (Enable32BitAppOnWin64) 32-bit w3wp.
#[derive(Debug, Clone, Copy)]
struct Mode {
    iis5: bool,
    enable_32bit: bool,
    process: ProcessName,
    bits: Bits,
}

const INETINFO_64: Mode =
    Mode { iis5: true, enable_32bit: false, process: ProcessName::Inetinfo, bits: Bits::B64 };
const W3WP_64: Mode =
    Mode { iis5: false, enable_32bit: false, process: ProcessName::W3wp, bits: Bits::B64 };
const W3WP_32: Mode =
    Mode { iis5: false, enable_32bit: true, process: ProcessName::W3wp, bits: Bits::B32 };

#[rstest]
fn the_catalogue_agrees(
    #[values(
        "x86:filter",
        "amd64:filter",
        "x86:decorated",
        "amd64:decorated",
        "x86:refuse",
        "amd64:refuse",
        "x86:refuse_silently",
        "amd64:refuse_silently",
        "x86:crash_in_gfv",
        "amd64:crash_in_gfv",
        "x86:crash_in_dllmain",
        "amd64:crash_in_dllmain",
        "x86:fail_dllmain",
        "amd64:fail_dllmain",
        "x86:hang_in_gfv",
        "amd64:hang_in_gfv",
        "x86:flood_stdout",
        "amd64:flood_stdout",
        "x86:exit_in_dllmain",
        "amd64:exit_in_dllmain",
        "x86:read_raw_data",
        "amd64:read_raw_data",
        "x86:missing_dependency",
        "amd64:missing_dependency",
        "odd:x86_no_code",
        "odd:amd64_no_code",
        "odd:arm64",
        "odd:ia64",
        "odd:x86_pe32plus",
        "odd:x86_il_only",
        "odd:text",
        "odd:empty",
        "odd:bad_lfanew",
        "odd:truncated",
        "odd:truncated_headers",
        "missing"
    )]
    spec: &str,
    #[values(INETINFO_64, W3WP_64, W3WP_32)] mode: Mode,
) {
    let image = (spec != "missing").then(|| ImageSpec::parse(spec).expect("a valid image spec"));
    let name = format!("diagnose-{}-{}-{}", spec.replace(':', "-"), mode.iis5, mode.enable_32bit);
    let scenario = one_filter_server(&name, Os::X64, mode.iis5, mode.enable_32bit, image);
    let diagnosis =
        diagnose(machine(), &scenario, true).unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(diagnosis.filters.len(), 1, "{spec}: one configured filter");
    let filter = &diagnosis.filters[0];
    let observed = filter.observed.as_ref().expect("--verify loads the filter for real");
    assert_eq!(
        (filter.predicted.process, filter.predicted.bits),
        (mode.process, mode.bits),
        "{spec}"
    );
    assert_eq!((observed.process, observed.bits), (mode.process, mode.bits), "{spec}");
    assert!(observed.agree, "{spec}: {filter:#?}");
    assert_eq!(diagnosis.agree, Some(true), "{spec}");
    // The well-behaved mock loads exactly where its architecture matches the process.
    if let Some(arch) = spec.strip_suffix(":filter") {
        let matches = Arch::parse(arch).expect("an architecture").bits() == mode.bits;
        assert_eq!(observed.loads, matches, "{spec} in {:?}", mode);
        assert_eq!(
            observed.win32_error,
            (!matches).then_some(Win32Error::BAD_EXE_FORMAT),
            "{spec}"
        );
        assert_eq!(diagnosis.problems, !matches, "{spec}");
        // A remedy fixes the bitness only; it is proven only for a filter with nothing else
        // wrong. (For the others a remedy may honestly fail to verify: a code-less image, say,
        // then loads and still has no GetFilterVersion.)
        assert!(
            diagnosis.remedies.iter().all(|remedy| remedy.verified),
            "{spec}: {:?}",
            diagnosis.remedies
        );
    }
}

#[rstest]
fn the_matrix_agrees(#[files("scenarios/**/*.json")] json_path: PathBuf) {
    let case = matrix::load_case(&tests_dir().join("scenarios"), &json_path)
        .unwrap_or_else(|error| panic!("{error:#}"));
    let diagnosis =
        diagnose(machine(), &case.scenario, true).unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(
        diagnosis.agree,
        Some(true),
        "{}: {:#?}\n{:#?}\n{:#?}",
        case.name,
        diagnosis.filters,
        diagnosis.requests,
        diagnosis.extensions
    );
    let expected = &case.expected;
    let all_good = expected.started
        && expected.status == Some(200)
        && expected.loaded != Some(false)
        && expected.requests.iter().flatten().all(|request| request.status == Some(200));
    // What an image's own code does is observed, never predicted; it is a problem all the
    // same, so `problems` is exactly what the scenario expects to go wrong.
    assert_eq!(diagnosis.problems, !all_good, "{}", case.name);
    // On x64 a bitness failure always has a remedy the harness can prove; on 32-bit Windows a
    // 64-bit filter needs a 32-bit build the harness does not have.
    let wrong_bitness = case.expected.win32_error == Some(193);
    if wrong_bitness && case.scenario.os == Os::X64 {
        assert!(
            !diagnosis.remedies.is_empty(),
            "{}: a bitness failure on x64 has a remedy",
            case.name
        );
    }
    // A server that mixes bitnesses (a 64-bit global filter that loads, a 32-bit site filter
    // that does not) has no remedy among the configuration changes: switching the worker's
    // bitness breaks the other filter. Otherwise the first remedy is one proven to work.
    let mixed = diagnosis.filters.iter().any(|f| f.predicted.loads)
        && diagnosis.filters.iter().any(|f| f.predicted.cause == Cause::WrongBitness);
    if let Some(first) = diagnosis.remedies.first() {
        assert!(
            first.verified || (mixed && diagnosis.remedies.iter().all(|r| !r.verified)),
            "{}: the first remedy should be one that works: {:?}",
            case.name,
            diagnosis.remedies
        );
    }
}

/// The seed: fix A (worker process isolation mode) first, then fix B (the 64-bit filter), both
/// proven by a real start.
#[test]
fn the_seed_remedies_come_in_order_and_verify() {
    let case = matrix::load_case(
        &tests_dir().join("scenarios"),
        &tests_dir().join("scenarios/quirks/bom-crlf-v64-namespace.json"),
    )
    .unwrap();
    let diagnosis = diagnose(machine(), &case.scenario, true).unwrap();
    assert_eq!(diagnosis.remedies.len(), 2);
    assert_eq!(
        diagnosis.remedies[0].commands[0],
        "cscript adsutil.vbs SET W3SVC/IIs5IsolationModeEnabled 0"
    );
    assert!(diagnosis.remedies[0].commands.contains(&"NET STOP HttpFilter /y".to_owned()));
    // Fix B as a real server allows it: the 64-bit aspnet_regiis runs only once IIS runs
    // 64-bit, and this metabase has Enable32BitAppOnWin64 set.
    let fix_b = &diagnosis.remedies[1].commands;
    assert_eq!(fix_b[0], "cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 0");
    assert!(
        fix_b[1].ends_with(r"Framework64\v2.0.50727\aspnet_regiis.exe -i -enable"),
        "{fix_b:?}"
    );
    assert!(diagnosis.remedies.iter().all(|remedy| remedy.verified));
}

#[test]
fn every_built_image_is_diagnosed() {
    // The catalogue's #[values] list is the text between its attribute and its parameter:
    // every image the build makes must be in it.
    let source = std::fs::read_to_string(tests_dir().join("it/diagnose.rs")).unwrap();
    let catalogue = source.split("fn the_catalogue_agrees(").nth(1).expect("the catalogue test");
    let values = catalogue.split("spec: &str").next().expect("its image parameter");
    let listed = |spec: &str| values.contains(&format!("\"{spec}\""));
    assert!(listed("missing"), "the catalogue covers a path with no file");
    let artifacts = machine().artifacts();
    let variants =
        std::fs::read_to_string(tests_dir().join("../mock-filters/variants.txt")).unwrap();
    for name in variants.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')) {
        let name = name.split_whitespace().next().unwrap();
        for arch in Arch::ALL {
            let spec = format!("{}:{name}", arch.dir_name());
            assert!(listed(&spec), "add {spec} to the catalogue's #[values]");
        }
    }
    for entry in std::fs::read_dir(artifacts.root().join("filters/odd")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let spec = format!("odd:{}", file.trim_end_matches(".dll"));
        assert!(listed(&spec), "add {spec} to the catalogue's #[values]");
    }
}

/// Every variant of the mock extension, in the pooled dllhost.exe of fix B: the prediction (at
/// the loader's level) agrees with the real start, and what the extension's own code does
/// (refuse, crash, hang, answer with an error) is reported as its behaviour, never as a
/// disagreement.
#[test]
fn every_extension_variant_is_diagnosed_and_agrees() {
    let scenarios = tests_dir().join("scenarios");
    let base = matrix::load_case(
        &scenarios,
        &scenarios.join("extensions/iis5-pooled-app-amd64-extension-in-dllhost.json"),
    )
    .unwrap();
    let path = harness::winpath::WinPath::parse(
        r"C:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll",
    )
    .unwrap();
    let variants =
        std::fs::read_to_string(tests_dir().join("../mock-extensions/variants.txt")).unwrap();
    let names: Vec<&str> = variants
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let mut scenario = base.scenario.clone();
        scenario.host_timeout = std::time::Duration::from_secs(3);
        scenario
            .add_image(path.clone(), ImageSpec::parse(&format!("amd64:{name}")).unwrap())
            .unwrap();
        let diagnosis = diagnose(machine(), &scenario, true).unwrap();
        let extension = &diagnosis.extensions[0];
        let observed = extension.observed.as_ref().unwrap();
        assert_eq!(diagnosis.agree, Some(true), "{name}: {:#?}", diagnosis.extensions);
        assert_eq!(observed.process, Some(ProcessName::Dllhost), "{name}");
        // Only the plain extension answers 200; each variant fails where it says.
        assert_eq!(
            observed.status == Some(200),
            name == "extension" || name == "extension_decorated",
            "{name}: {observed:?}"
        );
        // The loader's own failures are predicted from the headers; the rest is behaviour.
        let at_loader = name == "extension_missing_dependency";
        assert_eq!(
            observed.behaviour.is_some(),
            !at_loader && observed.status != Some(200),
            "{name}: {observed:?}"
        );
    }
}

/// A user's own extension (not ASP.NET's) of the other bitness than the worker: no ASP.NET
/// registration can fix it, so the remedy is the worker's bitness, and a real start of the
/// changed copy proves it by the page the extension serves.
#[test]
fn a_user_s_wrong_bitness_extension_is_fixed_by_the_worker_s_bitness() {
    let scenarios = tests_dir().join("scenarios");
    let source = scenarios.join("extensions/wpm-32bit-workers-amd64-extension-is-500-193.xml");
    let text = std::fs::read_to_string(&source)
        .unwrap()
        .replace(
            r"C:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll",
            r"C:\Ext\handler.dll",
        )
        .replace("FilterLoadOrder=\"ASP.NET_2.0.50727.0\"", "FilterLoadOrder=\"\"");
    let metabase = harness::metabase::Metabase::parse(&text, &source).unwrap();
    let mut scenario = harness::scenario::Scenario::new("user-extension", Os::X64, metabase);
    let handler = harness::winpath::WinPath::parse(r"C:\Ext\handler.dll").unwrap();
    scenario.add_image(handler, ImageSpec::parse("amd64:extension").unwrap()).unwrap();
    let diagnosis = diagnose(machine(), &scenario, true).unwrap();
    assert_eq!(diagnosis.agree, Some(true), "{:#?}", diagnosis.extensions);
    let predicted = diagnosis.extensions[0].predicted.as_ref().unwrap();
    assert_eq!((predicted.bits, predicted.cause), (Bits::B32, Cause::WrongBitness));
    assert_eq!(diagnosis.remedies.len(), 1, "{:?}", diagnosis.remedies);
    let remedy = &diagnosis.remedies[0];
    assert_eq!(
        remedy.commands[0],
        "cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 0"
    );
    assert!(remedy.verified, "{remedy:?}");
    assert!(remedy.verified_with.iter().any(|url| url.ends_with("/default.aspx")), "{remedy:?}");
}

/// A filter path the scenario says is missing places nothing, not even its folder: IIS's file
/// check then answers ERROR_PATH_NOT_FOUND, and the prediction must say the same.
#[rstest]
#[case::nothing_else_in_the_folder(None, Win32Error::PATH_NOT_FOUND)]
#[case::another_image_in_the_folder(Some("amd64:filter"), Win32Error::FILE_NOT_FOUND)]
fn a_filter_said_missing_is_predicted_as_the_file_check_answers(
    #[case] neighbour: Option<&str>,
    #[case] answer: Win32Error,
) {
    let name = format!("said-missing-{}", neighbour.is_some());
    let mut scenario = one_filter_server(&name, Os::X64, true, false, Some(ImageSpec::Missing));
    if let Some(spec) = neighbour {
        let beside = harness::winpath::WinPath::parse(&format!(r"C:\it\{name}\other.dll")).unwrap();
        scenario.add_image(beside, ImageSpec::parse(spec).unwrap()).unwrap();
    }
    let diagnosis = diagnose(machine(), &scenario, true).unwrap();
    assert_eq!(diagnosis.agree, Some(true), "{:#?}", diagnosis.filters);
    let predicted = &diagnosis.filters[0].predicted;
    assert_eq!((predicted.loads, predicted.win32_error), (false, Some(answer)));
}
