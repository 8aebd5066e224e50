//! The failure catalogue: every way a filter load fails, produced by a real image in a real host
//! process, and told apart by its cause.

use std::time::Duration;

use harness::arch::{Arch, Os};
use harness::cause::Cause;
use harness::report::StartReport;
use harness::scenario::{ImageSpec, Scenario};
use harness::vocab::Win32Error;
use rstest::rstest;

use crate::support::{machine, one_filter_server};

const IIS5: bool = true;
const WORKER: bool = false;

fn scenario(name: &str, iis5: bool, image: Option<ImageSpec>) -> Scenario {
    one_filter_server(&format!("catalogue-{name}"), Os::X64, iis5, false, image)
}

fn mock(arch: Arch, variant: &str) -> Option<ImageSpec> {
    Some(ImageSpec::Mock { arch, mock: variant.parse().expect("a mock the build makes") })
}

fn odd(name: &str) -> Option<ImageSpec> {
    Some(ImageSpec::Synthetic(name.to_owned()))
}

fn start(scenario: &Scenario) -> StartReport {
    harness::iis::check(scenario).unwrap_or_else(|error| panic!("{error:#}"));
    harness::iis::start(machine(), scenario).unwrap_or_else(|error| panic!("{error:#}"))
}

/// The one place that compares: the first filter's cause and error, the service, the first
/// request and the event ids, in order.
#[track_caller]
fn check(
    report: &StartReport,
    cause: Cause,
    error: Option<u32>,
    started: bool,
    status: Option<u16>,
    events: &[u32],
) {
    let filter = &report.hosts[0].filters[0];
    let timeline: Vec<String> = report.steps().into_iter().map(|step| step.text).collect();
    let context = format!("filter: {filter:?}\ntimeline:\n  {}", timeline.join("\n  "));
    assert_eq!(filter.cause, Some(cause), "{context}");
    assert_eq!(filter.win32_error.map(Win32Error::code), error, "{context}");
    assert_eq!(report.service.started, started, "{context}");
    assert_eq!(report.requests.first().and_then(|request| request.status), status, "{context}");
    let ids: Vec<u32> = report.events.iter().map(|event| event.id).collect();
    assert_eq!(ids, events, "{context}");
}

#[rstest]
#[case::missing_file("missing_file", None, Cause::MissingFile, 3, &[2214, 2268, 7023])]
#[case::missing_dependency("missing_dependency", mock(Arch::Amd64, "missing_dependency"), Cause::MissingDependency, 126, &[2214, 2268, 7023])]
#[case::wrong_bitness("wrong_bitness", mock(Arch::X86, "filter"), Cause::WrongBitness, 193, &[2274, 2268, 7023])]
#[case::arm64("arm64", odd("arm64"), Cause::OtherMachine, 193, &[2274, 2268, 7023])]
#[case::ia64("ia64", odd("ia64"), Cause::OtherMachine, 193, &[2274, 2268, 7023])]
#[case::text_file("text_file", odd("text"), Cause::NotAnImage, 193, &[2274, 2268, 7023])]
#[case::empty_file("empty_file", odd("empty"), Cause::NotAnImage, 193, &[2274, 2268, 7023])]
#[case::truncated("truncated", odd("truncated"), Cause::CorruptImage, 193, &[2274, 2268, 7023])]
#[case::truncated_headers("truncated_headers", odd("truncated_headers"), Cause::CorruptImage, 193, &[2274, 2268, 7023])]
#[case::bad_lfanew("bad_lfanew", odd("bad_lfanew"), Cause::CorruptImage, 193, &[2274, 2268, 7023])]
#[case::machine_and_magic_disagree("magic", odd("x86_pe32plus"), Cause::CorruptImage, 193, &[2274, 2268, 7023])]
#[case::refuses_with_an_error("refuse", mock(Arch::Amd64, "refuse"), Cause::FilterRefused, 5, &[2214, 2268, 7023])]
#[case::dllmain_returns_false("fail_dllmain", mock(Arch::Amd64, "fail_dllmain"), Cause::FilterRefused, 1114, &[2214, 2268, 7023])]
fn iis5_mode_failures_stop_the_service(
    #[case] name: &str,
    #[case] image: Option<ImageSpec>,
    #[case] cause: Cause,
    #[case] error: u32,
    #[case] events: &[u32],
) {
    let report = start(&scenario(name, IIS5, image));
    check(&report, cause, Some(error), false, None, events);
    assert_eq!(report.service.win32_error, Some(Win32Error(error)));
    assert!(
        report.service.net_start_output.contains(&format!("System error {error} has occurred."))
    );
}

/// Error 193 alone is not "wrong bitness": the same code, three causes, and the event data
/// carries the loader's code in every case.
#[test]
fn the_event_data_is_the_loaders_error() {
    let report = start(&scenario("event_data", IIS5, mock(Arch::X86, "filter")));
    let mismatch = report.events.iter().find(|event| event.id == 2274).expect("event 2274");
    assert_eq!(mismatch.data.as_deref(), Some("c1 00 00 00"));
    assert!(mismatch.text.contains(r"C:\it\catalogue-event_data\filter.dll"));
    assert!(mismatch.text.contains("built for a AMD64 processor architecture"));
    let missing = start(&scenario("event_data_missing", IIS5, None));
    let aborted = missing.events.iter().find(|event| event.id == 2268).expect("event 2268");
    // IIS looks for the file first: the data is that check's answer, ERROR_PATH_NOT_FOUND
    // here, as not even the filter's folder is on the disk.
    assert_eq!(aborted.data.as_deref(), Some("03 00 00 00"));
}

/// Ground truth row 5: the loader accepts an x86 DLL without code even in a 64-bit process,
/// so this is not a bitness failure; IIS then misses GetFilterVersion.
#[test]
fn an_x86_image_without_code_loads_in_a_64_bit_process() {
    let report = start(&scenario("x86_no_code", IIS5, odd("x86_no_code")));
    check(&report, Cause::MissingExport, Some(127), false, None, &[2214, 2268, 7023]);
    let image = report.hosts[0].filters[0].image.as_ref().expect("the file exists");
    assert_eq!((image.bits, image.has_code), (Some(harness::arch::Bits::B32), Some(false)));
}

#[test]
fn decorated_exports_are_missing_exports_in_a_32_bit_worker() {
    let mut scenario = scenario("decorated", WORKER, mock(Arch::X86, "decorated"));
    scenario.os = Os::X86;
    let report = start(&scenario);
    check(&report, Cause::MissingExport, Some(127), true, Some(503), &[2214, 2268, 1039]);
}

#[test]
fn setlasterror_zero_declines_quietly() {
    let report = start(&scenario("refuse_silently", IIS5, mock(Arch::Amd64, "refuse_silently")));
    check(&report, Cause::FilterRefused, None, true, Some(200), &[]);
}

#[rstest]
fn a_crash_in_get_filter_version_ends_the_host_not_the_harness(#[values(IIS5, WORKER)] iis5: bool) {
    let report =
        start(&scenario(&format!("crash_gfv_{iis5}"), iis5, mock(Arch::Amd64, "crash_in_gfv")));
    let host = &report.hosts[0];
    assert_eq!(host.end.name(), "crashed");
    assert_eq!(host.exception_code, Some(0xC000_0005));
    if iis5 {
        check(&report, Cause::Crashed, None, false, None, &[7023]);
        assert_eq!(report.service.win32_error, Some(Win32Error(1067)));
    } else {
        check(&report, Cause::Crashed, None, true, Some(503), &[1009]);
        assert!(report.events[0].text.contains("The process exit code was '0xc0000005'"));
    }
}

#[test]
fn a_crash_in_dllmain_is_a_crash() {
    let report = start(&scenario("crash_dllmain", IIS5, mock(Arch::Amd64, "crash_in_dllmain")));
    assert_eq!(report.hosts[0].filters[0].cause, Some(Cause::Crashed), "{:?}", report.hosts[0]);
    assert!(!report.service.started);
}

/// A hang is bounded: the host is ended at the time limit, IIS 5.0 isolation mode reports the
/// service start time-out (1053, HRESULT 8007041d for aspnet_regiis), and no process is left.
#[rstest]
fn a_hang_in_get_filter_version_is_bounded(#[values(IIS5, WORKER)] iis5: bool) {
    let started = std::time::Instant::now();
    let report = start(&scenario(&format!("hang_{iis5}"), iis5, mock(Arch::Amd64, "hang_in_gfv")));
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(report.hosts[0].end.name(), "timed_out");
    if iis5 {
        check(&report, Cause::TimedOut, None, false, None, &[7023]);
        assert_eq!(report.service.win32_error, Some(Win32Error(1053)));
    } else {
        check(&report, Cause::TimedOut, None, true, Some(503), &[]);
    }
    let path = &report.hosts[0].filters[0].path;
    assert!(!process_with_argument_alive(path), "a host loading `{path}` is still running");
}

/// Whether a live (not zombie) process has `argument` on its command line. Each test's filter
/// path is its own, so this finds only this test's host.
fn process_with_argument_alive(argument: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.filter_map(Result::ok).any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let running = std::fs::read_to_string(entry.path().join("stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
        running && cmdline.split(|&byte| byte == 0).any(|arg| arg == argument.as_bytes())
    })
}

#[rstest]
#[case::iis5_mode_loads_it(IIS5, Cause::Ok, None, true, Some(200), &[])]
// IIS's refusal is IIS's own decision, not a loader error: the error 50 this case once read
// as the filter's `win32_error` is now the data of IIS's own refusal (`iis_refused`).
#[case::worker_mode_refuses_it(WORKER, Cause::RawDataUnsupported, None, true, Some(503), &[2261, 2268])]
fn read_raw_data_filters(
    #[case] iis5: bool,
    #[case] cause: Cause,
    #[case] error: Option<u32>,
    #[case] started: bool,
    #[case] status: Option<u16>,
    #[case] events: &[u32],
) {
    let report = start(&scenario(&format!("raw_{iis5}"), iis5, mock(Arch::Amd64, "read_raw_data")));
    check(&report, cause, error, started, status, events);
    let refusal = report.hosts[0].filters[0].iis_refused.as_ref();
    assert_eq!(refusal.is_some(), !iis5, "only worker process isolation mode refuses it");
    if let Some(refusal) = refusal {
        assert_eq!((refusal.event_id, refusal.data.as_deref()), (2261, Some("32 00 00 00")));
    }
}

/// Worker process isolation mode: each request to a dead pool starts another worker (a real
/// load each time) until rapid-fail protection (5 failures in 5 minutes) disables the pool;
/// later requests get 503 from HTTP.sys with no worker at all.
#[test]
fn rapid_fail_protection_disables_the_pool() {
    let mut scenario = scenario("rapid_fail", WORKER, mock(Arch::X86, "filter"));
    scenario.repeat_requests = 7;
    let report = start(&scenario);
    assert_eq!(report.hosts.len(), 5, "one worker start per request until the pool is disabled");
    assert!(report.hosts.iter().all(|host| host.filters[0].win32_error == Some(Win32Error(193))));
    let statuses: Vec<u16> = report.requests.iter().filter_map(|request| request.status).collect();
    assert_eq!(statuses, [503; 7]);
    let disabled: Vec<_> = report.events.iter().filter(|event| event.id == 1002).collect();
    assert_eq!(disabled.len(), 1);
    assert!(
        disabled[0].text.starts_with(
            "Application pool 'DefaultAppPool' is being automatically disabled due to"
        )
    );
    assert_eq!(report.events.iter().filter(|event| event.id == 2274).count(), 5);
}

/// A filter that writes without end is ended once its output passes the limit, well before the
/// time limit, and the run goes on.
#[test]
fn a_filter_flooding_stdout_is_ended() {
    let mut scenario = scenario("flood", IIS5, mock(Arch::Amd64, "flood_stdout"));
    scenario.host_timeout = Duration::from_secs(60);
    let started = std::time::Instant::now();
    let report = start(&scenario);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(report.hosts[0].end.name(), "flooded");
    check(&report, Cause::TimedOut, None, false, None, &[7023]);
}

/// A filter whose DllMain ends the process: the host dies mid-load without finishing its
/// report, and IIS sees its process gone.
#[test]
fn a_filter_exiting_the_process_from_dllmain_is_reported() {
    let report = start(&scenario("exit_dllmain", WORKER, mock(Arch::Amd64, "exit_in_dllmain")));
    assert_eq!(report.hosts[0].end.name(), "died");
    check(&report, Cause::Crashed, None, true, Some(503), &[1009]);
    assert!(
        report.events[0].text.contains("The process exit code was '0x3'"),
        "{:?}",
        report.events
    );
}
