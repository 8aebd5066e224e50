//! A copy of a server (`server_copy`) run on the shared machine: its files placed at their
//! Windows paths, a vendor filter's dependency carried by the copy, and what the configuration
//! names that the copy lacks reported missing, never a mock. The copies are made here, in
//! temporary folders, from the `mock-deps/` fixtures and real configurations of `data/real/`.
//!
//! The copies here place nothing over the machine's own files: the shared machine serves every
//! test, and refuses that (`tests/cli/server_copy.rs` runs copies that do, each on a run's own
//! machine).

use std::path::{Path, PathBuf};

use harness::arch::{Arch, Os};
use harness::report::{ImageOutcome, StartReport};
use harness::scenario::{Given, ImageSpec, Scenario};
use harness::server_copy::ServerCopy;
use harness::vocab::Win32Error;

use crate::support::{machine, tests_dir, win};

/// Where the real IIS 6.0 metabase (`data/real/iis6/modsic-metabase-sample.xml`) keeps its one
/// global filter, URLScan; it runs worker process isolation mode, so a 64-bit w3wp.exe loads it.
const URLSCAN: &str = r"C:\WINDOWS\system32\inetsrv\urlscan\urlscan.dll";

/// Each test's own folder on the shared machine: tests run in parallel, and another test's
/// prediction may read the machine's disk at a path it does not hold.
fn own(test: &str, file: &str) -> String {
    format!(r"C:\it\copy-{test}\{file}")
}

fn fixture(arch: Arch, name: &str) -> PathBuf {
    tests::mock_dep(arch, name)
}

/// A server copy in a temporary folder: `config` kept at `config_at`, and each file at its
/// Windows path.
fn copy(config: &Path, config_at: &str, files: &[(&str, PathBuf)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    tests::write_server_copy(folder.path(), (config, config_at), files, Os::X64, None);
    folder
}

/// The real metabase, its URLScan moved to `filter` (the rest as the server wrote it), in `dir`.
fn modsic(dir: &Path, filter: &str) -> PathBuf {
    let real =
        std::fs::read_to_string(tests_dir().join("data/real/iis6/modsic-metabase-sample.xml"))
            .unwrap();
    assert!(real.contains(URLSCAN));
    let path = dir.join("MetaBase.xml");
    std::fs::write(&path, real.replace(URLSCAN, filter)).unwrap();
    path
}

fn scenario_of(copy: &Path) -> Scenario {
    let server = ServerCopy::read(copy).expect("the copy reads");
    Scenario::with_server(None, Given::default(), Some(server)).expect("the scenario builds")
}

fn start(scenario: &Scenario) -> StartReport {
    harness::iis::start(machine(), scenario).expect("the start runs")
}

fn image<'r>(report: &'r StartReport, path: &str) -> &'r ImageOutcome {
    report
        .hosts
        .iter()
        .flat_map(|host| host.images())
        .find(|image| win(&image.path) == win(path))
        .unwrap_or_else(|| panic!("{path} was loaded somewhere: {report:#?}"))
}

/// The real metabase's URLScan is a vendor's filter (the imports_dep fixture) with its
/// dependency beside it in the copy: the 64-bit worker loads it, GetFilterVersion runs, and
/// Windows's loader rules find `dep.dll` where the copy put it.
#[test]
fn a_vendor_filter_and_its_dependency_from_the_copy_load_for_real() {
    let config = tempfile::tempdir().unwrap();
    let (urlscan, beside) = (own("vendor", "urlscan.dll"), own("vendor", "dep.dll"));
    let folder = copy(
        &modsic(config.path(), &urlscan),
        &own("vendor", "MetaBase.xml"),
        &[
            (urlscan.as_str(), fixture(Arch::Amd64, "imports_dep.dll")),
            (beside.as_str(), fixture(Arch::Amd64, "dep.dll")),
        ],
    );
    let report = start(&scenario_of(folder.path()));
    let filter = image(&report, &urlscan);
    assert!(filter.loaded, "{filter:#?}");
    assert_eq!(filter.description.as_deref(), Some("Mock ISAPI filter (AMD64, imports_dep)"));
    let dep = filter.dependencies.iter().find(|dep| dep.name.eq_ignore_ascii_case("dep.dll"));
    let found = dep.and_then(|dep| dep.found.clone()).expect("dep.dll is resolved");
    assert_eq!(win(&found), win(&beside));
    let copy = report.server_copy.as_ref().expect("the report names the copy");
    assert_eq!(copy.folder, std::fs::canonicalize(folder.path()).unwrap().display().to_string());
    assert_eq!(copy.placed.len(), 3, "{copy:#?}");
    assert!(copy.missing.is_empty(), "{copy:#?}");
    assert_eq!(report.requests[0].status, Some(200), "{:#?}", report.requests);
}

/// The same copy without the dependency: the real loader's 126, naming `dep.dll`.
#[test]
fn a_dependency_the_copy_lacks_is_126_naming_it() {
    let config = tempfile::tempdir().unwrap();
    let urlscan = own("no-dep", "urlscan.dll");
    let folder = copy(
        &modsic(config.path(), &urlscan),
        &own("no-dep", "MetaBase.xml"),
        &[(urlscan.as_str(), fixture(Arch::Amd64, "imports_dep.dll"))],
    );
    let report = start(&scenario_of(folder.path()));
    let filter = image(&report, &urlscan);
    assert!(!filter.loaded);
    assert_eq!(filter.win32_error, Some(Win32Error(126)), "{filter:#?}");
    assert_eq!(filter.culprit().map(|dep| dep.name.to_ascii_lowercase()), Some("dep.dll".into()));
}

/// A filter at ASP.NET's standard path, which a bare run fills with the mock: with a copy that
/// lacks it, nothing is there, the run says the copy lacks it, and the loader finds no file.
#[test]
fn a_configured_image_the_copy_lacks_is_missing_not_a_mock() {
    let framework = r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll";
    let metabase = tests_dir().join("scenarios/quirks/lowercase-key-paths.xml");
    let folder = copy(&metabase, &own("lacks", "MetaBase.xml"), &[]);
    let scenario = scenario_of(folder.path());
    assert_eq!(scenario.image_at(&win(framework)), None, "no mock stands in for it");
    let report = start(&scenario);
    let filter = image(&report, framework);
    assert!(!filter.loaded);
    assert!(filter.image.is_none(), "no file was there: {filter:#?}");
    // The machine has no Framework folder either: the file check's answer is "path not found".
    assert_eq!(filter.win32_error, Some(Win32Error(3)), "{filter:#?}");
    let copy = report.server_copy.as_ref().unwrap();
    assert_eq!(copy.missing, [framework.to_owned()], "{copy:#?}");
    let steps = report.steps();
    assert!(
        steps.iter().any(|step| step.text.contains(framework) && step.text.contains("copy lacks")),
        "{steps:#?}"
    );
    // Without the copy the same metabase gets the mock there.
    let bare = Scenario::new("bare", Os::X64, scenario.config.clone());
    assert!(matches!(bare.image_at(&win(framework)), Some(ImageSpec::Mock { .. })));
}

/// A real applicationHost.config whose stock modules the copy does not carry: the mock native
/// module plays each, and the timeline says so.
#[test]
fn iis7_stock_modules_are_played_by_the_machine_and_the_timeline_says_so() {
    let config = tests_dir().join("data/real/iis7/full-aspnet-iisintegration-build-iis.config");
    let folder = copy(&config, &own("iis7", "applicationHost.config"), &[]);
    let report = start(&scenario_of(folder.path()));
    let copy = report.server_copy.as_ref().unwrap();
    assert!(copy.stock_modules > 0, "{copy:#?}");
    // (Its ASP.NET Core modules are at `%ANCM_PATH%`, which names no file on any machine.)
    let stock: Vec<&ImageOutcome> = report
        .hosts
        .iter()
        .flat_map(|host| host.modules.iter())
        .filter(|module| module.path.to_ascii_lowercase().contains(r"\inetsrv"))
        .collect();
    assert!(stock.len() > 10 && stock.iter().all(|module| module.loaded), "{stock:#?}");
    let steps = report.steps();
    assert!(
        steps
            .iter()
            .any(|step| step.text.contains("stock modules")
                && step.text.contains("mock native module")),
        "{steps:#?}"
    );
}

/// The shared machine serves every test, so a copy's file is never placed over the machine's
/// own there: the start is refused, naming the path, and the machine's file stays.
#[test]
fn on_a_shared_machine_a_copy_never_replaces_the_machines_own_files() {
    let runtime = r"C:\windows\system32\msvcr100.dll";
    let before = machine().inspect_existing(&win(runtime)).expect("the machine's own runtime");
    let config = tempfile::tempdir().unwrap();
    let urlscan = own("shared", "urlscan.dll");
    let folder = copy(
        &modsic(config.path(), &urlscan),
        &own("shared", "MetaBase.xml"),
        &[
            (urlscan.as_str(), fixture(Arch::Amd64, "imports_msvcr100.dll")),
            (runtime, fixture(Arch::Amd64, "msvcr100.dll")),
        ],
    );
    let error = harness::iis::start(machine(), &scenario_of(folder.path()))
        .expect_err("placing over the machine's own file is refused");
    let message = format!("{error:#}");
    assert!(message.contains("not pristine") && message.contains(runtime), "{message}");
    assert_eq!(machine().inspect_existing(&win(runtime)), Some(before), "the file stays");
}
