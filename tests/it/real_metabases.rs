//! The real IIS 6.0 metabases kept under `tests/data/real/iis6/`, as a user brings them: each
//! starts on the machine with real loads of its global filters (the file at each filter's path
//! missing, a 32-bit build there, or a 64-bit build there), and `diagnose --verify` agrees with
//! those loads. Their adsutil round trips are in `admin_tools`.

use std::path::PathBuf;

use harness::arch::Bits;
use harness::diagnose::diagnose;
use harness::metabase::Metabase;
use harness::scenario::{ImageSpec, Scenario};
use harness::vocab::Win32Error;
use rstest::rstest;

use crate::support::{machine, win};

/// Held by each test here for its whole run. They use the real files' filter paths on the
/// shared machine, and holding a path empty (`=missing`) keeps a file from it but not its
/// folder: another test's file placed beside it, and removed with its folder when that test
/// ends, turns the answer for the missing file between 2 (the folder is there) and 3 (it is
/// not) between a prediction and its verification.
static REAL_FILTER_PATHS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn hold_real_filter_paths() -> std::sync::MutexGuard<'static, ()> {
    // A test that failed while holding it leaves it poisoned; the paths are free again.
    REAL_FILTER_PATHS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A scenario for a real metabase with `image` (a mock filter spec) at every global filter's
/// path, or nothing there. "Nothing" is said explicitly (`=missing`): the path is then held
/// empty for the run, so a file another test places at the same path on the shared machine
/// can neither answer the load nor the prediction (its folder is [`REAL_FILTER_PATHS`]'s).
fn real_scenario(path: &std::path::Path, image: Option<&str>) -> Scenario {
    let metabase = Metabase::read(path).unwrap_or_else(|error| panic!("{error}"));
    let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned());
    let mut scenario = Scenario::new(name.unwrap_or_default(), harness::arch::Os::X64, metabase);
    let spec = match image {
        Some(spec) => ImageSpec::parse(spec).expect("a mock filter spec"),
        None => ImageSpec::Missing,
    };
    let filters = scenario.config.metabase().unwrap().global_filters();
    for filter in filters.iter().filter(|filter| filter.enabled) {
        let path = filter.path.as_deref().expect("a real filter has a FilterPath");
        scenario.add_image(win(path), spec.clone()).expect("one image per path");
    }
    scenario
}

/// The three images run one after another, not as cases of their own: they use the same
/// paths on the one shared machine, and `diagnose` asks the machine what is at a path the
/// scenario leaves empty, so a case placing a file there would change another's answer.
#[rstest]
fn a_real_metabase_starts_with_real_loads_and_diagnose_agrees(
    #[files("data/real/iis6/*.xml")] path: PathBuf,
) {
    let _paths = hold_real_filter_paths();
    for image in [None, Some("x86:filter"), Some("amd64:filter")] {
        start_and_diagnose(&path, image);
    }
}

fn start_and_diagnose(path: &std::path::Path, image: Option<&str>) {
    let scenario = real_scenario(path, image);
    let configured: Vec<String> = scenario
        .config
        .metabase()
        .unwrap()
        .global_filters()
        .into_iter()
        .filter(|filter| filter.enabled && filter.path.is_some())
        .map(|filter| filter.name)
        .collect();
    assert!(!configured.is_empty(), "{}: the real file has a global filter", path.display());
    // The process the decision table gives this configuration on x64.
    let bits = if !scenario.config.metabase().unwrap().iis5_isolation_mode()
        && scenario.config.metabase().unwrap().enable_32bit_app_on_win64()
    {
        Bits::B32
    } else {
        Bits::B64
    };

    let report = harness::iis::start(machine(), &scenario).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!report.hosts.is_empty(), "a host process ran");
    for host in &report.hosts {
        assert_eq!(host.bits, bits);
        let loaded: Vec<&str> = host.filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(loaded, configured, "each host loads the configured filters in order");
        for filter in &host.filters {
            match image {
                None => {
                    assert!(!filter.loaded);
                    // The file check answers 3 when not even the folder is there.
                    let missing = [Win32Error::FILE_NOT_FOUND, Win32Error::PATH_NOT_FOUND];
                    assert!(
                        filter.win32_error.is_some_and(|error| missing.contains(&error)),
                        "{filter:?}"
                    );
                }
                Some(spec) => {
                    let matches = (spec == "x86:filter") == (bits == Bits::B32);
                    assert_eq!(filter.loaded, matches, "{spec}: {filter:?}");
                    let expected = (!matches).then_some(Win32Error::BAD_EXE_FORMAT);
                    assert_eq!(filter.win32_error, expected, "{spec}");
                }
            }
        }
    }

    let diagnosis = diagnose(machine(), &scenario, true).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(diagnosis.agree, Some(true), "{image:?}: {:#?}", diagnosis.filters);
    let names: Vec<&str> = diagnosis.filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, configured);
}

/// The real server's ScriptMaps and Web Service Extension list as IIS reads them: it maps
/// `.asp` to asp.dll and prohibits every extension, so `GET /default.asp` gets 404.2 and no
/// process loads asp.dll. Its workers run 64-bit, so the 32-bit aspnet_regiis refuses to run
/// and changes nothing; the 64-bit one maps `.aspx` to its own aspnet_isapi.dll and allows
/// it, and `GET /default.aspx` is then answered 200 by that extension, loaded for real in a
/// 64-bit w3wp.exe.
#[rstest]
fn a_real_metabase_answers_its_extensions_as_iis_does(
    #[files("data/real/iis6/modsic-*.xml")] path: PathBuf,
) {
    use harness::arch::{Arch, Os};
    use harness::http_sys::RequestUrl;
    use harness::metabase::{MetabaseErrorKind, aspnet_regiis_install};
    use harness::vocab::ProcessName;

    let _paths = hold_real_filter_paths();
    let mut scenario = real_scenario(&path, Some("amd64:filter"));
    scenario.requests = vec![RequestUrl::parse("/default.asp").unwrap()];
    let report = harness::iis::start(machine(), &scenario).unwrap_or_else(|e| panic!("{e:#}"));
    let request = &report.requests[0];
    assert_eq!((request.status, request.substatus), (Some(404), Some(2)), "{request:?}");
    assert!(report.hosts.iter().all(|host| host.extensions.is_empty()), "asp.dll never loads");

    let original = scenario.config.metabase().unwrap().clone();
    let mut refused = original.clone();
    let error = aspnet_regiis_install(&mut refused, Arch::X86, r"C:\WINDOWS", true, Os::X64)
        .expect_err("the 32-bit aspnet_regiis refuses while IIS runs 64-bit");
    assert_eq!(error.kind(), MetabaseErrorKind::ToolRefused);
    assert_eq!(refused.text(), original.text(), "a refusal changes nothing");

    let mut installed = original.clone();
    aspnet_regiis_install(&mut installed, Arch::Amd64, r"C:\WINDOWS", true, Os::X64)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut fixed = scenario.clone();
    fixed.config = installed.into();
    fixed.requests = vec![RequestUrl::parse("/default.aspx").unwrap()];
    let report = harness::iis::start(machine(), &fixed).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(report.requests[0].status, Some(200), "{:?}", report.requests);
    let (host, extension) = report
        .hosts
        .iter()
        .find_map(|host| host.extensions.first().map(|extension| (host, extension)))
        .expect("a process loaded the mapped extension");
    assert_eq!((host.process, host.bits), (ProcessName::W3wp, Bits::B64));
    assert!(extension.loaded, "{extension:?}");
    assert!(
        extension.path.eq_ignore_ascii_case(
            r"C:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll"
        ),
        "{extension:?}"
    );
}
