//! The model's reasoning, fed with made-up host reports. These never stand in for a load
//! result: they check what the model does with one. The real loads are in `tests/`.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::arch::Os;
use crate::host::{Exports, ImageLoad, RequestCall, VersionCall};

const FILTER: &str = r"C:\Filters\f.dll";
const SF_NOTIFY_END_OF_REQUEST: u32 = 0x80;
const SF_STATUS_REQ_NEXT_NOTIFICATION: u32 = 0x0800_0002;

/// A metabase with one global filter, IIS 5.0 isolation mode or not, `Enable32BitAppOnWin64`
/// at AppPools, and the pool's rapid-fail settings when given.
fn server(os: Os, iis5: bool, enable_32bit: bool, rapid_fail: Option<(u32, u32)>) -> Scenario {
    let pool_settings = rapid_fail
        .map(|(crashes, minutes)| {
            format!("\r\n\t\tRapidFailProtectionMaxCrashes=\"{crashes}\"\r\n\t\tRapidFailProtectionInterval=\"{minutes}\"")
        })
        .unwrap_or_default();
    let text = format!(
        "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n\
         <IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tAppPoolId=\"DefaultAppPool\"\r\n\t\tIIs5IsolationModeEnabled=\"{}\"\r\n\t>\r\n</IIsWebService>\r\n\
         <IIsApplicationPools\tLocation =\"/LM/W3SVC/AppPools\"\r\n\t\tEnable32BitAppOnWin64=\"{}\"\r\n\t>\r\n</IIsApplicationPools>\r\n\
         <IIsApplicationPool\tLocation =\"/LM/W3SVC/AppPools/DefaultAppPool\"{pool_settings}\r\n\t>\r\n</IIsApplicationPool>\r\n\
         <IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t\tFilterLoadOrder=\"F\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/Filters/F\"\r\n\t\tFilterPath=\"{FILTER}\"\r\n\t>\r\n</IIsFilter>\r\n\
         </MBProperty>\r\n</configuration>\r\n",
        if iis5 { "TRUE" } else { "FALSE" },
        if enable_32bit { "TRUE" } else { "FALSE" },
    );
    Scenario::new("unit", os, Metabase::parse(&text, Path::new("unit.xml")).unwrap())
}

/// What a made-up host says happened to the one filter.
#[derive(Clone, Copy)]
enum Story {
    Loads,
    LoadFails(u32),
    NoGetFilterVersion,
    GetFilterVersionFails(u32),
    ReadRawData,
    /// The process ended inside GetFilterVersion, in this way.
    EndsInGetFilterVersion(HostEnd),
    /// An extension that loads and answers its request with this status.
    Answers(u32),
}

fn report(plan: &HostPlan, story: Story) -> Observation {
    report_each(plan, &|_| story)
}

/// A made-up host that loads every planned image with the story its path has, stopping after
/// the first failure when the plan says so, as the real host does.
fn report_each(plan: &HostPlan, story_of: &dyn Fn(&str) -> Story) -> Observation {
    let mut images = Vec::new();
    let mut end = HostEnd::Completed;
    for planned in &plan.images {
        let path = planned.path.to_string();
        let story = story_of(&path);
        let (mut image, image_end) = image_story(&path, story);
        image.kind = planned.kind;
        images.push(image);
        end = image_end;
        let failed = !matches!(story, Story::Loads | Story::ReadRawData | Story::Answers(_));
        if end != HostEnd::Completed || (failed && plan.stop_at_first_failure) {
            break;
        }
    }
    let headers = vec![None; images.len()];
    Observation {
        run: HostRun {
            bits: plan.bits,
            process: plan.process,
            pid: Some(4242),
            probes: Vec::new(),
            images,
            end,
            elapsed: Duration::from_millis(20),
            start_attempts: 1,
            stray_output: Vec::new(),
        },
        headers,
        answers: Vec::new(),
    }
}

fn image_story(path: &str, story: Story) -> (ImageLoad, HostEnd) {
    let mut end = HostEnd::Completed;
    let mut image = ImageLoad {
        kind: ImageKind::Filter,
        path: path.to_owned(),
        absent: None,
        load: Some(Ok(())),
        exports: Some(Exports {
            entry_point: true,
            request_proc: true,
            terminate: true,
            lookup_error: None,
        }),
        version: None,
        request: None,
        terminated: None,
        last_call: None,
        output: Vec::new(),
    };
    let accepted = |flags: u32| VersionCall {
        accepted: true,
        last_error: Win32Error(0),
        version: 0x0006_0000,
        flags,
        description: "made up".to_owned(),
    };
    match story {
        Story::Loads => {
            image.version = Some(accepted(SF_NOTIFY_END_OF_REQUEST));
            image.request = Some(RequestCall {
                returned: Some(SF_STATUS_REQ_NEXT_NOTIFICATION),
                http_status: None,
            });
        }
        Story::LoadFails(error) => {
            image.load = Some(Err(Win32Error(error)));
            image.exports = None;
        }
        Story::NoGetFilterVersion => {
            image.exports = Some(Exports {
                entry_point: false,
                request_proc: false,
                terminate: false,
                lookup_error: Some(Win32Error::PROC_NOT_FOUND),
            })
        }
        Story::GetFilterVersionFails(error) => {
            image.version =
                Some(VersionCall { accepted: false, last_error: Win32Error(error), ..accepted(0) })
        }
        Story::ReadRawData => image.version = Some(accepted(SF_NOTIFY_READ_RAW_DATA)),
        Story::EndsInGetFilterVersion(how) => {
            image.last_call = Some("GetFilterVersion".to_owned());
            end = how;
        }
        Story::Answers(status) => {
            image.version = Some(accepted(0));
            image.request = Some(RequestCall { returned: Some(1), http_status: Some(status) });
        }
    }
    (image, end)
}

/// Drives the model as the driver does, answering every host start with `story`; returns the
/// report and the plans the model asked for.
fn drive(scenario: &Scenario, purpose: Purpose, story: Story) -> (StartReport, Vec<HostPlan>) {
    drive_with(scenario, purpose, &|_| story)
}

/// [`drive`], with a story per image path.
fn drive_with(
    scenario: &Scenario,
    purpose: Purpose,
    story_of: &dyn Fn(&str) -> Story,
) -> (StartReport, Vec<HostPlan>) {
    let mut model = Iis6::new(scenario, purpose).unwrap();
    let mut plans = Vec::new();
    let mut observed = None;
    while let Next::Start(plan) = model.next(observed.take()).unwrap() {
        observed = Some(report_each(&plan, story_of));
        plans.push(plan);
    }
    (model.finish(), plans)
}

fn event_ids(report: &StartReport) -> Vec<u32> {
    report.events.iter().map(|event| event.id).collect()
}

#[test]
fn the_decision_table() {
    use IsolationMode::{Iis5, WorkerProcess};
    use ProcessName::{Inetinfo, W3wp};
    let rows = [
        (Os::X64, Iis5, false, Inetinfo, Bits::B64),
        (Os::X64, Iis5, true, Inetinfo, Bits::B64),
        (Os::X64, WorkerProcess, false, W3wp, Bits::B64),
        (Os::X64, WorkerProcess, true, W3wp, Bits::B32),
        (Os::X86, Iis5, false, Inetinfo, Bits::B32),
        (Os::X86, Iis5, true, Inetinfo, Bits::B32),
        (Os::X86, WorkerProcess, false, W3wp, Bits::B32),
        (Os::X86, WorkerProcess, true, W3wp, Bits::B32),
    ];
    for (os, mode, enable_32bit, process, bits) in rows {
        assert_eq!(
            filter_host(os, mode, enable_32bit),
            (process, bits),
            "{os} {mode} {enable_32bit}"
        );
        // The plan the model makes for that row asks for exactly that host.
        let scenario = server(os, mode == Iis5, enable_32bit, None);
        let (_, plans) = drive(&scenario, Purpose::Start, Story::Loads);
        assert_eq!((plans[0].process, plans[0].bits), (process, bits));
        assert_eq!(
            plans[0].images,
            [PlannedImage { kind: ImageKind::Filter, path: WinPath::parse(FILTER).unwrap() }]
        );
    }
}

#[test]
fn iis5_mode_a_filter_that_fails_aborts_the_service_start() {
    let (report, plans) =
        drive(&server(Os::X64, true, true, None), Purpose::Start, Story::LoadFails(193));
    assert_eq!(plans.len(), 1, "one inetinfo.exe, at service start");
    assert!(plans[0].stop_at_first_failure && plans[0].request);
    assert!(!report.service.started);
    assert_eq!(report.service.win32_error, Some(Win32Error::BAD_EXE_FORMAT));
    assert!(
        report.service.net_start_output.contains("System error 193 has occurred.\n\n*** is not")
    );
    assert_eq!(event_ids(&report), [2274, 2268, 7023]);
    assert_eq!(report.events[0].data.as_deref(), Some("c1 00 00 00"));
    assert!(report.events[0].text.contains("a AMD64 processor"));
    assert_eq!(report.requests.len(), 1, "the default GET / to the Default Web Site");
    assert_eq!(
        (report.requests[0].status, report.requests[0].no_answer),
        (None, Some(NoAnswer::ServiceNotRunning)),
        "nothing answers for a service that did not start"
    );
    let filter = &report.hosts[0].filters[0];
    assert_eq!(
        (filter.stage, filter.win32_error),
        (Stage::LoadLibrary, Some(Win32Error::BAD_EXE_FORMAT))
    );
    assert!(report.steps().last().unwrap().text.starts_with("verdict: cannot load filter"));
}

#[test]
fn iis5_mode_other_load_errors_log_2214() {
    let (report, _) =
        drive(&server(Os::X64, true, false, None), Purpose::Start, Story::LoadFails(126));
    assert_eq!(event_ids(&report), [2214, 2268, 7023]);
    assert_eq!(report.service.win32_error, Some(Win32Error::MOD_NOT_FOUND));
}

#[test]
fn iis5_mode_a_good_filter_serves_the_request() {
    let (report, _) = drive(&server(Os::X64, true, false, None), Purpose::Start, Story::Loads);
    assert!(report.all_good());
    assert_eq!(report.requests.len(), 1);
    assert_eq!(
        (report.requests[0].app_pool.as_deref(), report.requests[0].status),
        (None, Some(200))
    );
}

#[test]
fn worker_mode_a_filter_that_fails_gives_503_and_rapid_fail_uses_the_metabase_s_limits() {
    let mut scenario = server(Os::X64, false, false, Some((3, 2)));
    scenario.repeat_requests = 6;
    let (report, plans) = drive(&scenario, Purpose::Start, Story::LoadFails(193));
    assert!(report.service.started, "W3SVC starts; the worker fails");
    assert_eq!(plans.len(), 3, "one worker per request until 3 failures disable the pool");
    assert!(plans.iter().all(|plan| plan.process == ProcessName::W3wp && plan.bits == Bits::B64));
    let statuses: Vec<u16> = report.requests.iter().filter_map(|request| request.status).collect();
    assert_eq!(statuses, [503; 6]);
    assert_eq!(event_ids(&report), [2274, 2268, 1039, 2274, 2268, 1039, 2274, 2268, 1039, 1002]);
    assert_eq!(report.events[2].data.as_deref(), Some("c1 00 07 80"), "1039 carries the HRESULT");
    assert_eq!(
        report.events[9].text,
        "Application pool 'DefaultAppPool' is being automatically disabled due to a series of failures in the process(es) serving that application pool."
    );
    assert!(
        report.requests.iter().all(|r| r.win32_error == Some(Win32Error::BAD_EXE_FORMAT)),
        "each 503 stands for the loader's 193"
    );
    assert!(report.timeline.contains(&Happening::PoolDisabled {
        pool: "DefaultAppPool".to_owned(),
        failures: 3,
        interval_minutes: 2
    }));
}

#[test]
fn worker_mode_a_healthy_worker_serves_every_request() {
    let mut scenario = server(Os::X64, false, true, None);
    scenario.repeat_requests = 3;
    let (report, plans) = drive(&scenario, Purpose::Start, Story::Loads);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].bits, Bits::B32);
    assert!(report.all_good());
    assert_eq!(report.requests.len(), 3);
}

#[test]
fn a_crash_ends_the_service_or_the_worker() {
    let crash = Story::EndsInGetFilterVersion(HostEnd::Crashed { exception_code: 0xC000_0005 });
    let (iis5, _) = drive(&server(Os::X64, true, false, None), Purpose::Start, crash);
    assert_eq!(iis5.service.win32_error, Some(Win32Error::PROCESS_ABORTED));
    assert_eq!(event_ids(&iis5), [7023]);
    assert_eq!(iis5.hosts[0].filters[0].stage, Stage::GetFilterVersion);
    assert_eq!(iis5.hosts[0].filters[0].cause, Some(crate::cause::Cause::Crashed));

    let (worker, _) = drive(&server(Os::X64, false, false, None), Purpose::Start, crash);
    assert_eq!(event_ids(&worker), [1009]);
    assert!(
        worker.events[0]
            .text
            .contains("The process id was '4242'. The process exit code was '0xc0000005'.")
    );
    assert_eq!(worker.requests[0].status, Some(503));
}

#[test]
fn a_hang_is_a_start_the_service_control_manager_gives_up_on() {
    let (report, _) = drive(
        &server(Os::X64, true, false, None),
        Purpose::Start,
        Story::EndsInGetFilterVersion(HostEnd::TimedOut),
    );
    assert_eq!(report.service.win32_error, Some(Win32Error::SERVICE_REQUEST_TIMEOUT));
    assert!(report.timeline.contains(&Iis6Happening::ServiceRequestTimedOut.into()));
    assert_eq!(report.hosts[0].filters[0].cause, Some(crate::cause::Cause::TimedOut));
    assert_eq!(report.hosts[0].filters[0].win32_error, None, "no load error was reported");
}

#[test]
fn a_refusal_is_the_filter_s_error_and_a_silent_one_is_skipped() {
    let (refused, _) =
        drive(&server(Os::X64, true, false, None), Purpose::Start, Story::GetFilterVersionFails(5));
    assert_eq!(refused.hosts[0].filters[0].win32_error, Some(Win32Error::ACCESS_DENIED));
    assert_eq!(event_ids(&refused), [2214, 2268, 7023]);

    let (silent, _) =
        drive(&server(Os::X64, true, false, None), Purpose::Start, Story::GetFilterVersionFails(0));
    assert!(silent.service.started, "a silent refusal is no failure");
    assert!(silent.events.is_empty());
    assert_eq!(silent.hosts[0].filters[0].stage, Stage::RefusedSilently);
}

#[test]
fn a_missing_get_filter_version_is_the_loader_s_127() {
    let (report, _) =
        drive(&server(Os::X64, false, false, None), Purpose::Start, Story::NoGetFilterVersion);
    let filter = &report.hosts[0].filters[0];
    assert_eq!(
        (filter.stage, filter.win32_error),
        (Stage::GetProcAddress, Some(Win32Error::PROC_NOT_FOUND))
    );
}

#[test]
fn a_read_raw_data_filter_is_refused_by_iis_in_worker_mode_only() {
    let (worker, _) =
        drive(&server(Os::X64, false, false, None), Purpose::Start, Story::ReadRawData);
    let filter = &worker.hosts[0].filters[0];
    assert_eq!(filter.stage, Stage::ReadRawDataRefused);
    assert_eq!(filter.win32_error, None, "IIS's refusal is not a loader error");
    let refusal = filter.iis_refused.as_ref().expect("IIS's own decision is reported as such");
    assert_eq!(refusal.event_id, 2261);
    assert_eq!(refusal.data.as_deref(), Some("32 00 00 00"));
    assert_eq!(event_ids(&worker), [2261, 2268]);
    assert_eq!(worker.events[1].data.as_deref(), Some("32 00 00 00"));
    assert_eq!(worker.requests[0].status, Some(503));

    let (iis5, _) = drive(&server(Os::X64, true, false, None), Purpose::Start, Story::ReadRawData);
    assert!(iis5.all_good(), "inetinfo.exe serves raw data");
}

#[test]
fn on_32_bit_windows_everything_is_32_bit() {
    let (report, plans) = drive(&server(Os::X86, true, true, None), Purpose::Start, Story::Loads);
    assert_eq!(plans[0].bits, Bits::B32);
    assert!(
        report.timeline.contains(
            &Iis6Happening::Enable32Bit {
                value: true,
                effect: crate::report::Enable32BitEffect::IgnoredOn32BitWindows
            }
            .into()
        )
    );
}

#[test]
fn loading_every_filter_asks_for_every_answer_and_no_request() {
    let (report, plans) = drive(
        &server(Os::X64, false, false, None),
        Purpose::LoadEveryFilter,
        Story::LoadFails(193),
    );
    assert_eq!(plans.len(), 1);
    assert!(!plans[0].stop_at_first_failure && !plans[0].request);
    assert!(report.requests.is_empty() && report.events.is_empty());
}

#[test]
fn a_report_that_does_not_fit_the_plan_is_an_error() {
    let scenario = server(Os::X64, true, false, None);
    let mut model = Iis6::new(&scenario, Purpose::Start).unwrap();
    let Next::Start(plan) = model.next(None).unwrap() else { panic!("a start") };
    let mut observed = report(&plan, Story::Loads);
    observed.run.images.push(observed.run.images[0].clone());
    let error = model.next(Some(observed)).unwrap_err();
    assert!(error.to_string().contains("2 images for 1 planned filters"), "{error}");

    let mut fresh = Iis6::new(&scenario, Purpose::Start).unwrap();
    let out_of_order = fresh.next(Some(report(&plan, Story::Loads))).unwrap_err();
    assert!(out_of_order.to_string().contains("out of order"), "{out_of_order}");
}

const SHOP_FILTER: &str = r"C:\Filters\shop.dll";
const INTRANET_FILTER: &str = r"C:\Filters\intranet.dll";

/// Two sites in two pools, each with a filter of its own, one global filter, and a pool no
/// site uses: the shape of a real hosting server, small.
fn two_sites(iis5: bool) -> Scenario {
    let text = format!(
        "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n\
         <IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tAppPoolId=\"DefaultAppPool\"\r\n\t\tIIs5IsolationModeEnabled=\"{}\"\r\n\t>\r\n</IIsWebService>\r\n\
         <IIsApplicationPools\tLocation =\"/LM/W3SVC/AppPools\"\r\n\t>\r\n</IIsApplicationPools>\r\n\
         <IIsApplicationPool\tLocation =\"/LM/W3SVC/AppPools/DefaultAppPool\"\r\n\t>\r\n</IIsApplicationPool>\r\n\
         <IIsApplicationPool\tLocation =\"/LM/W3SVC/AppPools/ShopPool\"\r\n\t>\r\n</IIsApplicationPool>\r\n\
         <IIsApplicationPool\tLocation =\"/LM/W3SVC/AppPools/Unused\"\r\n\t>\r\n</IIsApplicationPool>\r\n\
         <IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t\tFilterLoadOrder=\"F\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/Filters/F\"\r\n\t\tFilterPath=\"{FILTER}\"\r\n\t>\r\n</IIsFilter>\r\n\
         <IIsWebServer\tLocation =\"/LM/W3SVC/1\"\r\n\t\tServerBindings=\":80:\r\n\t\t\t:8080:\"\r\n\t\tServerComment=\"Intranet\"\r\n\t>\r\n</IIsWebServer>\r\n\
         <IIsFilters\tLocation =\"/LM/W3SVC/1/Filters\"\r\n\t\tFilterLoadOrder=\"I\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/1/Filters/I\"\r\n\t\tFilterPath=\"{INTRANET_FILTER}\"\r\n\t>\r\n</IIsFilter>\r\n\
         <IIsWebVirtualDir\tLocation =\"/LM/W3SVC/1/ROOT\"\r\n\t\tAppRoot=\"/LM/W3SVC/1/ROOT\"\r\n\t>\r\n</IIsWebVirtualDir>\r\n\
         <IIsWebServer\tLocation =\"/LM/W3SVC/2\"\r\n\t\tServerBindings=\":80:shop.example.com\"\r\n\t>\r\n</IIsWebServer>\r\n\
         <IIsFilters\tLocation =\"/LM/W3SVC/2/Filters\"\r\n\t\tFilterLoadOrder=\"S\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/2/Filters/S\"\r\n\t\tFilterPath=\"{SHOP_FILTER}\"\r\n\t>\r\n</IIsFilter>\r\n\
         <IIsWebVirtualDir\tLocation =\"/LM/W3SVC/2/ROOT\"\r\n\t\tAppPoolId=\"ShopPool\"\r\n\t\tAppRoot=\"/LM/W3SVC/2/ROOT\"\r\n\t>\r\n</IIsWebVirtualDir>\r\n\
         <IIsWebVirtualDir\tLocation =\"/LM/W3SVC/2/ROOT/Admin\"\r\n\t\tAppPoolId=\"DefaultAppPool\"\r\n\t\tAppRoot=\"/LM/W3SVC/2/ROOT/Admin\"\r\n\t>\r\n</IIsWebVirtualDir>\r\n\
         <IIsWebServer\tLocation =\"/LM/W3SVC/3\"\r\n\t\tServerAutoStart=\"FALSE\"\r\n\t\tServerBindings=\":81:\"\r\n\t>\r\n</IIsWebServer>\r\n\
         </MBProperty>\r\n</configuration>\r\n",
        if iis5 { "TRUE" } else { "FALSE" },
    );
    Scenario::new("sites", Os::X64, Metabase::parse(&text, Path::new("sites.xml")).unwrap())
}

fn with_requests(mut scenario: Scenario, urls: &[&str]) -> Scenario {
    scenario.requests =
        urls.iter().map(|url| crate::http_sys::RequestUrl::parse(url).unwrap()).collect();
    scenario
}

fn drive_each(
    scenario: &Scenario,
    story_of: &dyn Fn(&str) -> Story,
) -> (StartReport, Vec<HostPlan>) {
    drive_with(scenario, Purpose::Start, story_of)
}

fn plan_paths(plan: &HostPlan) -> Vec<String> {
    plan.images.iter().map(|image| image.path.to_string()).collect()
}

fn answers(report: &StartReport) -> Vec<(Option<&str>, Option<&str>, Option<u16>)> {
    report.requests.iter().map(|r| (r.site.as_deref(), r.app_pool.as_deref(), r.status)).collect()
}

#[test]
fn requests_reach_sites_by_binding_and_applications_by_longest_prefix() {
    let scenario = with_requests(
        two_sites(false),
        &[
            "http://intranet/",
            "http://shop.example.com/cart",
            "http://shop.example.com/Admin/users",
            "http://intranet:8080/",
            "/",
        ],
    );
    let (report, plans) = drive_each(&scenario, &|_| Story::Loads);
    assert_eq!(
        answers(&report),
        [
            (Some("1"), Some("DefaultAppPool"), Some(200)),
            (Some("2"), Some("ShopPool"), Some(200)),
            (Some("2"), Some("DefaultAppPool"), Some(200)),
            (Some("1"), Some("DefaultAppPool"), Some(200)),
            (Some("1"), Some("DefaultAppPool"), Some(200)),
        ]
    );
    // DefaultAppPool's worker starts for site 1 (global + site 1's filter); ShopPool's for
    // site 2; DefaultAppPool's running worker then meets site 2 through /Admin and loads site
    // 2's filter. The unused pool and the stopped site 3 start nothing.
    let loaded: Vec<Vec<String>> = plans.iter().map(plan_paths).collect();
    assert_eq!(
        loaded,
        [
            vec![FILTER.to_owned(), INTRANET_FILTER.to_owned()],
            vec![FILTER.to_owned(), SHOP_FILTER.to_owned()],
            vec![FILTER.to_owned(), SHOP_FILTER.to_owned()],
        ]
    );
    assert_eq!(report.hosts.len(), 3);
    assert_eq!(report.hosts[1].app_pool.as_deref(), Some("ShopPool"));
    assert_eq!(report.hosts[0].filters[1].site.as_deref(), Some("1"));
    assert_eq!(report.hosts[0].filters[0].site, None);
}

#[test]
fn http_sys_answers_400_for_an_unknown_host_and_nothing_for_an_unlistened_port() {
    let scenario = with_requests(
        two_sites(false),
        &["http://shop.example.com:8080/", "http://intranet:81/", "http://intranet:9000/"],
    );
    let (report, plans) = drive_each(&scenario, &|_| Story::Loads);
    // :8080 belongs to site 1 (no host header): shop.example.com on it goes to site 1.
    assert_eq!(report.requests[0].site.as_deref(), Some("1"));
    // :81 is site 3's, which does not start: nobody listens.
    assert_eq!(
        (report.requests[1].status, report.requests[1].no_answer),
        (None, Some(NoAnswer::NothingListensOnPort))
    );
    assert_eq!(report.requests[2].status, None);
    assert_eq!(plans.len(), 1);

    let only_host_headers = with_requests(two_sites(false), &["http://10.1.2.3/"]);
    let (report, _) = drive_each(&only_host_headers, &|_| Story::Loads);
    assert_eq!(report.requests[0].site.as_deref(), Some("1"), "site 1 has All Unassigned :80:");
}

#[test]
fn a_failing_site_filter_fails_its_site_and_the_others_keep_serving() {
    let scenario = with_requests(
        two_sites(false),
        &["http://shop.example.com/", "http://intranet/", "http://shop.example.com/again"],
    );
    let (report, plans) = drive_each(&scenario, &|path| {
        if path == SHOP_FILTER { Story::LoadFails(193) } else { Story::Loads }
    });
    assert_eq!(
        answers(&report),
        [
            (Some("2"), Some("ShopPool"), Some(503)),
            (Some("1"), Some("DefaultAppPool"), Some(200)),
            (Some("2"), Some("ShopPool"), Some(503)),
        ]
    );
    assert_eq!(plans.len(), 2, "the failed site's later request starts nothing");
    assert_eq!(report.requests[0].win32_error, Some(Win32Error::BAD_EXE_FORMAT));
    assert_eq!(event_ids(&report), [2274, 2268, 1039]);
    assert!(report.timeline.contains(&Iis6Happening::SiteFailed { site: "2".to_owned() }.into()));
    assert!(!report.all_good());
}

#[test]
fn iis5_mode_loads_site_filters_at_service_start_after_the_global_ones() {
    let scenario =
        with_requests(two_sites(true), &["http://shop.example.com/", "http://intranet/"]);
    let (report, plans) = drive_each(&scenario, &|path| {
        if path == INTRANET_FILTER { Story::LoadFails(126) } else { Story::Loads }
    });
    assert!(report.service.started, "a site filter does not stop the service");
    let loaded: Vec<Vec<String>> = plans.iter().map(plan_paths).collect();
    assert_eq!(
        loaded,
        [
            vec![FILTER.to_owned()],
            vec![FILTER.to_owned(), INTRANET_FILTER.to_owned()],
            vec![FILTER.to_owned(), SHOP_FILTER.to_owned()],
        ]
    );
    assert!(plans.iter().all(|plan| plan.process == ProcessName::Inetinfo));
    assert_eq!(answers(&report), [(Some("2"), None, Some(200)), (Some("1"), None, Some(503))]);
    assert_eq!(event_ids(&report), [2214, 2268]);
}

#[test]
fn a_read_raw_data_filter_at_site_level_is_refused_with_2222() {
    let scenario = with_requests(two_sites(true), &["http://shop.example.com/"]);
    let (report, _) = drive_each(&scenario, &|path| {
        if path == SHOP_FILTER { Story::ReadRawData } else { Story::Loads }
    });
    let refused = report.hosts.iter().flat_map(|h| &h.filters).find(|f| f.path == SHOP_FILTER);
    let refusal = refused.and_then(|f| f.iis_refused.clone()).expect("refused");
    assert_eq!(refusal.reason, RefusalReason::ReadRawDataAtSiteLevel);
    assert!(event_ids(&report).contains(&2222));
    assert_eq!(report.requests[0].status, Some(503));
}

#[test]
fn a_metabase_without_sites_has_the_default_web_site_and_says_so() {
    let (report, _) = drive(&server(Os::X64, false, false, None), Purpose::Start, Story::Loads);
    let implied = report.timeline.iter().any(|happening| {
        matches!(happening, Happening::Iis6(Iis6Happening::SiteConfigured { site, implied: true, .. }) if site == "1")
    });
    assert!(implied);
    assert_eq!(report.requests[0].url, "http://localhost/");
    assert_eq!(report.requests[0].site.as_deref(), Some("1"));
    assert!(report.steps().iter().any(|step| step.text.contains("no IIsWebServer key")));
}

// ---------------------------------------------------------------------------------------------
// ISAPI extensions

const EXTENSION: &str = r"C:\Ext\handler.dll";

/// One site whose root application has `app_isolated`, `.aspx` mapped at `/LM/W3SVC` to
/// [`EXTENSION`], the Web Service Extension list given (`None`: no list), and `EXTENSION` in
/// `InProcessIsapiApps` when asked.
fn extension_server(
    iis5: bool,
    enable_32bit: bool,
    app_isolated: u32,
    restriction: Option<&str>,
    in_process: bool,
) -> Scenario {
    let restriction = restriction
        .map(|list| format!("\r\n\t\tWebSvcExtRestrictionList=\"{list}\""))
        .unwrap_or_default();
    let in_process = if in_process {
        format!("\r\n\t\tInProcessIsapiApps=\"{EXTENSION}\"")
    } else {
        String::new()
    };
    let text = format!(
        "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n\
         <IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tAppPoolId=\"DefaultAppPool\"\r\n\t\tIIs5IsolationModeEnabled=\"{}\"{in_process}\r\n\t\tScriptMaps=\".aspx,{EXTENSION},1,GET,HEAD,POST\"{restriction}\r\n\t>\r\n</IIsWebService>\r\n\
         <IIsApplicationPools\tLocation =\"/LM/W3SVC/AppPools\"\r\n\t\tEnable32BitAppOnWin64=\"{}\"\r\n\t>\r\n</IIsApplicationPools>\r\n\
         <IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t\tFilterLoadOrder=\"F\"\r\n\t>\r\n</IIsFilters>\r\n\
         <IIsFilter\tLocation =\"/LM/W3SVC/Filters/F\"\r\n\t\tFilterPath=\"{FILTER}\"\r\n\t>\r\n</IIsFilter>\r\n\
         <IIsWebServer\tLocation =\"/LM/W3SVC/1\"\r\n\t\tServerBindings=\":80:\"\r\n\t>\r\n</IIsWebServer>\r\n\
         <IIsWebVirtualDir\tLocation =\"/LM/W3SVC/1/ROOT\"\r\n\t\tAppIsolated=\"{app_isolated}\"\r\n\t\tAppRoot=\"/LM/W3SVC/1/ROOT\"\r\n\t>\r\n</IIsWebVirtualDir>\r\n\
         </MBProperty>\r\n</configuration>\r\n",
        if iis5 { "TRUE" } else { "FALSE" },
        if enable_32bit { "TRUE" } else { "FALSE" },
    );
    let scenario =
        Scenario::new("extensions", Os::X64, Metabase::parse(&text, Path::new("ext.xml")).unwrap());
    with_requests(scenario, &["/shop/default.aspx", "/index.htm"])
}

/// Filters load; the extension has `story`.
fn drive_extension(scenario: &Scenario, story: Story) -> (StartReport, Vec<HostPlan>) {
    drive_each(scenario, &|path| if path == EXTENSION { story } else { Story::Loads })
}

const ALLOWED: &str = "0,*.dll\r\n\t\t1,C:\\Ext\\handler.dll,0,Handler,Handler";

#[test]
fn an_extension_loads_in_the_process_that_runs_its_application() {
    use ProcessName::{Dllhost, Inetinfo, W3wp};
    let rows = [
        // (IIS 5.0 isolation mode, Enable32BitAppOnWin64, AppIsolated, InProcessIsapiApps)
        ((false, true, 2, false), (W3wp, Bits::B32, Some("DefaultAppPool"))),
        ((false, false, 0, true), (W3wp, Bits::B64, Some("DefaultAppPool"))),
        ((true, true, 0, false), (Inetinfo, Bits::B64, None)),
        ((true, true, 1, false), (Dllhost, Bits::B64, None)),
        ((true, false, 2, false), (Dllhost, Bits::B64, None)),
        ((true, false, 2, true), (Inetinfo, Bits::B64, None)),
    ];
    for ((iis5, enable_32bit, isolated, in_process), (process, bits, pool)) in rows {
        let scenario = extension_server(iis5, enable_32bit, isolated, Some(ALLOWED), in_process);
        let (report, plans) = drive_extension(&scenario, Story::Answers(200));
        let row = format!("{iis5} {enable_32bit} {isolated} {in_process}");
        let loads: Vec<&HostPlan> = plans
            .iter()
            .filter(|plan| plan.images.iter().any(|image| image.kind == ImageKind::Extension))
            .collect();
        assert_eq!(loads.len(), 1, "{row}: one request maps to the extension");
        assert_eq!((loads[0].process, loads[0].bits), (process, bits), "{row}");
        assert_eq!(plan_paths(loads[0]), [EXTENSION], "{row}: the extension alone");
        assert!(loads[0].request, "{row}: HttpExtensionProc is called");
        let host = report.hosts.iter().find(|host| !host.extensions.is_empty()).unwrap();
        assert_eq!(host.app_pool.as_deref(), pool, "{row}");
        assert_eq!(host.extensions[0].name, ".aspx");
        assert!(host.extensions[0].loaded, "{row}");
        let statuses: Vec<_> = report.requests.iter().map(|r| (r.status, r.substatus)).collect();
        assert_eq!(statuses, [(Some(200), None), (Some(200), None)], "{row}");
        assert!(report.all_good(), "{row}");
    }
}

#[test]
fn an_extension_of_the_wrong_bitness_gives_500_with_the_loader_s_193() {
    let scenario = extension_server(false, true, 2, Some(ALLOWED), false);
    let (report, _) = drive_extension(&scenario, Story::LoadFails(193));
    let page = &report.requests[0];
    assert_eq!(
        (page.status, page.substatus, page.win32_error),
        (Some(500), None, Some(Win32Error::BAD_EXE_FORMAT))
    );
    assert_eq!(report.requests[1].status, Some(200), "a static file needs no extension");
    let extension = &report.hosts.iter().find(|h| !h.extensions.is_empty()).unwrap().extensions[0];
    assert_eq!(
        (extension.stage, extension.win32_error, extension.loaded),
        (Stage::LoadLibrary, Some(Win32Error::BAD_EXE_FORMAT), false)
    );
    assert!(report.service.started, "an extension never stops the service");
    assert!(!report.all_good());
    // A refused GetExtensionVersion is 500 too, with the error the extension set.
    let (report, _) = drive_extension(&scenario, Story::GetFilterVersionFails(5));
    assert_eq!(
        (report.requests[0].status, report.requests[0].win32_error),
        (Some(500), Some(Win32Error::ACCESS_DENIED))
    );
}

#[test]
fn a_prohibited_extension_gives_404_2_and_is_never_loaded() {
    for list in ["0,*.dll", "1,*.dll\r\n\t\t0,C:\\Ext\\handler.dll,0,Handler,Handler"] {
        let scenario = extension_server(true, false, 2, Some(list), false);
        let (report, plans) = drive_extension(&scenario, Story::Answers(200));
        assert!(
            plans.iter().all(|plan| plan.images.iter().all(|i| i.kind == ImageKind::Filter)),
            "{list}: never loaded"
        );
        let page = &report.requests[0];
        assert_eq!(
            (page.status, page.substatus, page.win32_error),
            (Some(404), Some(2), Some(Win32Error::ACCESS_DISABLED_BY_POLICY)),
            "{list}"
        );
    }
    // No list at all locks nothing down.
    let (report, _) =
        drive_extension(&extension_server(true, false, 2, None, false), Story::Answers(200));
    assert_eq!(report.requests[0].status, Some(200));
}

#[test]
fn a_cgi_map_is_never_loaded_and_gets_no_status_unless_prohibited() {
    // `.pl` maps to a CGI interpreter with its arguments, `.php` to a CGI the list prohibits.
    let base = extension_server(false, false, 2, Some(ALLOWED), false);
    let text = base.config.metabase().unwrap().text().replace(
        "\t\tScriptMaps=\".aspx,",
        "\t\tScriptMaps=\".pl,C:\\Perl\\bin\\perl.exe &quot;%s&quot; %s,5\r\n\t\t.php,C:\\PHP\\php-cgi.exe,5\r\n\t\t.aspx,",
    );
    let text = text.replace(
        "0,*.dll\r\n",
        "0,*.dll\r\n\t\t0,*.exe\r\n\t\t1,C:\\Perl\\bin\\perl.exe &quot;%s&quot; %s,0,Perl,Perl\r\n",
    );
    let scenario =
        Scenario::new("cgi", Os::X64, Metabase::parse(&text, Path::new("cgi.xml")).unwrap());
    let scenario = with_requests(scenario, &["/cgi/test.pl", "/index.php", "/shop/default.aspx"]);
    let (report, plans) = drive_extension(&scenario, Story::Answers(200));
    assert!(
        plans
            .iter()
            .flat_map(|plan| &plan.images)
            .all(|image| !image.path.to_string().ends_with(".exe")),
        "no CGI program is handed to a loader"
    );
    let answers: Vec<_> = report
        .requests
        .iter()
        .map(|request| (request.status, request.substatus, request.no_answer))
        .collect();
    assert_eq!(
        answers,
        [
            (None, None, Some(NoAnswer::CgiNotRun)),
            (Some(404), Some(2), None),
            (Some(200), None, None),
        ]
    );
    let model = Iis6::new(&scenario, Purpose::Start).unwrap();
    let cgi: Vec<_> =
        model.extension_requests().into_iter().map(|r| (r.cgi, r.prohibited)).collect();
    assert_eq!(cgi, [(true, false), (true, true), (false, false)]);
}

#[test]
fn an_extension_that_crashes_its_worker_counts_towards_rapid_fail_protection() {
    let crash = HostEnd::Crashed { exception_code: 0xC000_0005 };
    let mut scenario = extension_server(false, false, 2, Some(ALLOWED), false);
    scenario.requests.truncate(1);
    scenario.repeat_requests = 6;
    let (report, plans) = drive_extension(&scenario, Story::EndsInGetFilterVersion(crash));
    // Each crash takes the worker down, so each request starts a new worker (and loads the
    // filters again) until WAS disables the pool after the default five failures.
    let workers =
        plans.iter().filter(|plan| plan.images.iter().any(|i| i.kind == ImageKind::Filter));
    assert_eq!(workers.count(), 5, "a new worker for each of the five crashing requests");
    let statuses: Vec<_> = report.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(500), Some(500), Some(503)]);
    assert!(
        report.timeline.iter().any(|h| matches!(h, Happening::PoolDisabled { failures: 5, .. })),
        "{:?}",
        report.timeline
    );
    assert_eq!(event_ids(&report).iter().filter(|&&id| id == 1009).count(), 5, "WAS logs each");
}
