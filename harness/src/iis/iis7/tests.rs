//! The IIS 7+ model's reasoning, fed with made-up host reports. These never stand in for a
//! load result: they check what the model does with one. The real loads are in `tests/`.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::arch::Arch;
use crate::host::{Exports, ImageLoad, VersionCall};
use crate::scenario::ImageSpec;

const FILTER: &str = r"C:\Filters\f.dll";

/// An applicationHost.config with one site on :80 in pool `P`, the pool's own
/// enable32BitAppOnWin64 (or none) and the defaults' (or none), one module in inetsrv, and one
/// filter with the given precondition.
fn server(own: Option<bool>, defaults: Option<bool>, filter_precondition: &str) -> Scenario {
    let attr = |name: &str, value: Option<bool>| {
        value.map(|value| format!(" {name}=\"{value}\"")).unwrap_or_default()
    };
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n<configSections/>\r\n\
         <system.applicationHost>\r\n<applicationPools>\r\n\
         <add name=\"P\"{}>\r\n<failure rapidFailProtectionMaxCrashes=\"2\" />\r\n</add>\r\n\
         <applicationPoolDefaults{} />\r\n</applicationPools>\r\n\
         <sites>\r\n<site name=\"S\" id=\"1\">\r\n<application path=\"/\" applicationPool=\"P\" />\r\n\
         <bindings><binding protocol=\"http\" bindingInformation=\"*:80:\" /></bindings>\r\n</site>\r\n</sites>\r\n\
         </system.applicationHost>\r\n<system.webServer>\r\n\
         <globalModules><add name=\"M\" image=\"%windir%\\System32\\inetsrv\\m.dll\" /></globalModules>\r\n\
         <isapiFilters><filter name=\"F\" path=\"{FILTER}\" preCondition=\"{filter_precondition}\" /></isapiFilters>\r\n\
         </system.webServer>\r\n</configuration>\r\n",
        attr("enable32BitAppOnWin64", own),
        attr("enable32BitAppOnWin64", defaults),
    );
    let apphost = Apphost::parse(&text, Path::new("unit.config")).unwrap();
    Scenario::new("unit", Os::X64, apphost)
}

fn apphost_of(scenario: &Scenario) -> &Apphost {
    match &scenario.config {
        crate::scenario::Configuration::Apphost(apphost) => apphost,
        crate::scenario::Configuration::Metabase(_) => unreachable!(),
    }
}

#[derive(Clone, Copy)]
enum Story {
    Loads,
    LoadFails(u32),
}

fn load(kind: ImageKind, path: &WinPath, story: Story) -> ImageLoad {
    let mut image = ImageLoad {
        kind,
        path: path.to_string(),
        absent: None,
        load: Some(Ok(())),
        exports: Some(Exports {
            entry_point: true,
            request_proc: true,
            terminate: true,
            lookup_error: None,
        }),
        version: (kind != ImageKind::Module).then(|| VersionCall {
            accepted: true,
            last_error: Win32Error(0),
            version: 0x0007_0000,
            flags: 0,
            description: "made up".to_owned(),
        }),
        request: None,
        terminated: None,
        last_call: None,
        output: Vec::new(),
    };
    if let Story::LoadFails(error) = story {
        image.load = Some(Err(Win32Error(error)));
        image.exports = None;
        image.version = None;
    }
    image
}

/// Drives the model as the driver does; `story` says what happens to each image by kind.
fn drive(scenario: &Scenario, story: impl Fn(ImageKind) -> Story) -> (StartReport, Vec<HostPlan>) {
    let mut model = Iis7::new(scenario, apphost_of(scenario)).unwrap();
    let mut plans = Vec::new();
    let mut observed = None;
    while let Next::Start(plan) = model.next(observed.take()).unwrap() {
        let images = plan
            .images
            .iter()
            .map(|image| load(image.kind, &image.path, story(image.kind)))
            .collect();
        observed = Some(Observation {
            run: HostRun {
                bits: plan.bits,
                process: plan.process,
                pid: Some(4242),
                probes: Vec::new(),
                images,
                end: HostEnd::Completed,
                elapsed: Duration::from_millis(20),
                start_attempts: 1,
                stray_output: Vec::new(),
            },
            headers: vec![None; plan.images.len()],
            answers: Vec::new(),
        });
        plans.push(plan);
    }
    (model.finish(), plans)
}

#[test]
fn a_pool_s_own_attribute_wins_over_the_defaults_and_the_default_is_64_bit() {
    for (own, defaults, bits) in [
        (None, None, Bits::B64),
        (None, Some(true), Bits::B32),
        (Some(false), Some(true), Bits::B64),
        (Some(true), Some(false), Bits::B32),
    ] {
        let scenario = server(own, defaults, "");
        let (_, plans) = drive(&scenario, |_| Story::Loads);
        assert_eq!(plans.len(), 1, "one host for the one worker a request reaches");
        assert_eq!(plans[0].bits, bits, "own {own:?}, defaults {defaults:?}");
        assert_eq!(plans[0].process, ProcessName::W3wp);
    }
}

#[test]
fn a_filter_whose_bitness_precondition_does_not_hold_is_never_loaded() {
    let scenario = server(Some(true), None, "bitness64");
    let (report, plans) = drive(&scenario, |_| Story::Loads);
    assert!(plans[0].images.iter().all(|image| image.kind != ImageKind::Filter));
    assert_eq!(report.requests[0].status, Some(200));
    let scenario = server(Some(true), None, "bitness32");
    let (_, plans) = drive(&scenario, |_| Story::Loads);
    assert!(plans[0].images.iter().any(|image| image.kind == ImageKind::Filter));
}

#[test]
fn a_filter_that_does_not_load_fails_the_site_with_500_and_the_worker_stays_up() {
    let mut scenario = server(Some(true), None, "");
    scenario.repeat_requests = 3;
    let (report, plans) = drive(&scenario, |kind| {
        if kind == ImageKind::Filter { Story::LoadFails(193) } else { Story::Loads }
    });
    assert_eq!(plans.len(), 1, "the worker stays up for every request");
    assert!(report.requests.iter().all(|request| request.status == Some(500)));
    assert!(report.events.is_empty(), "no event is modelled for a filter failure");
    let page = report.timeline.iter().find_map(|happening| match happening {
        Happening::Iis7(Iis7Happening::Response { page, .. }) => page.clone(),
        _ => None,
    });
    assert!(
        page.unwrap()
            .contains(&format!("Calling LoadLibraryEx on ISAPI filter \"{FILTER}\" failed"))
    );
    assert_eq!(report.hosts[0].pipeline_mode, Some(PipelineMode::Integrated));
}

#[test]
fn a_module_that_does_not_load_stops_each_worker_until_rapid_fail_disables_the_pool() {
    let mut scenario = server(Some(true), None, "");
    scenario.repeat_requests = 4;
    let (report, plans) = drive(&scenario, |kind| {
        if kind == ImageKind::Module { Story::LoadFails(193) } else { Story::Loads }
    });
    // rapidFailProtectionMaxCrashes="2": two workers, then the pool is disabled.
    assert_eq!(plans.len(), 2);
    assert!(report.requests.iter().all(|request| request.status == Some(503)));
    let ids: Vec<u32> = report.events.iter().map(|event| event.id).collect();
    assert_eq!(ids, [2282, 2280, 2282, 2280, 5002]);
    assert!(report.events[0].text.contains("built for a x86 processor architecture"));
}

#[test]
fn the_32_bit_worker_asks_for_system32_and_the_machine_has_both_builds() {
    let scenario = server(Some(true), None, "");
    let model = Iis7::new(&scenario, apphost_of(&scenario)).unwrap();
    let paths: Vec<String> = model.paths().iter().map(ToString::to_string).collect();
    assert!(paths.contains(&r"C:\Windows\System32\inetsrv\m.dll".to_owned()));
    assert!(paths.contains(&r"C:\Windows\SysWOW64\inetsrv\m.dll".to_owned()));
    let system32 = WinPath::parse(r"C:\Windows\System32\inetsrv\m.dll").unwrap();
    let syswow64 = WinPath::parse(r"C:\Windows\SysWOW64\inetsrv\m.dll").unwrap();
    assert_eq!(
        scenario.image_at(&system32),
        Some(ImageSpec::Mock { arch: Arch::Amd64, mock: crate::mock::Mock::Module })
    );
    assert_eq!(
        scenario.image_at(&syswow64),
        Some(ImageSpec::Mock { arch: Arch::X86, mock: crate::mock::Mock::Module })
    );
    let filter = WinPath::parse(FILTER).unwrap();
    assert_eq!(
        scenario.image_at(&filter),
        None,
        "a filter outside the standard folders is the user's"
    );
}

#[test]
fn preconditions_follow_the_worker() {
    let list = |text: &str| text.split(',').map(str::to_owned).collect::<Vec<_>>();
    let holds = |pre: &str, bits, pipeline, runtime| {
        preconditions_hold(&list(pre), Os::X64, bits, pipeline, runtime).is_none()
    };
    assert!(holds("bitness32", Bits::B32, PipelineMode::Integrated, "v4.0"));
    assert!(!holds("bitness32", Bits::B64, PipelineMode::Integrated, "v4.0"));
    assert!(holds(
        "integratedMode,runtimeVersionv4.0,bitness64",
        Bits::B64,
        PipelineMode::Integrated,
        "v4.0"
    ));
    assert!(!holds("classicMode,runtimeVersionv2.0", Bits::B64, PipelineMode::Classic, "v4.0"));
    assert!(holds("ISAPIMode", Bits::B64, PipelineMode::Classic, ""));
    assert!(
        !holds("runtimeVersionv4.0", Bits::B64, PipelineMode::Integrated, ""),
        "no managed code"
    );
    assert!(
        preconditions_hold(
            &list("bitness64"),
            Os::X86,
            Bits::B32,
            PipelineMode::Integrated,
            "v4.0"
        )
        .is_some()
    );
}

#[test]
fn a_request_to_a_port_nobody_listens_on_starts_no_worker() {
    let scenario = server(None, None, "");
    let model = Iis7::new(&scenario, apphost_of(&scenario)).unwrap();
    assert!(matches!(model.route(&RequestUrl::parse("http://x:81/").unwrap()), Target::NoListener));
    assert!(matches!(
        model.route(&RequestUrl::parse("http://x/").unwrap()),
        Target::Site { site: 0, pool: Some(0), .. }
    ));
}

#[test]
fn handler_paths_match_as_iis_maps_them() {
    let handler = |path: &str, verb: &str| HandlerConfig {
        name: "h".into(),
        path: path.into(),
        verb: verb.into(),
        modules: "IsapiModule".into(),
        script_processor: Some("x".into()),
        preconditions: Vec::new(),
        line: 1,
    };
    assert!(handler_matches(&handler("*.aspx", "GET,HEAD,POST"), "/app/Default.ASPX"));
    assert!(!handler_matches(&handler("*.aspx", "POST"), "/default.aspx"));
    assert!(handler_matches(&handler("*", "*"), "/"));
    assert!(handler_matches(&handler("test.dll", "*"), "/bin/test.dll"));
    assert!(!handler_matches(&handler("*.asp", "*"), "/default.aspx"));
}

#[test]
fn a_cgi_or_fastcgi_handler_s_request_is_never_loaded_and_gets_no_status() {
    let base = server(Some(false), None, "");
    let text = apphost_of(&base).text().replace(
        "</isapiFilters>\r\n",
        "</isapiFilters>\r\n<handlers>\
         <add name=\"PHP_via_FastCGI\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"C:\\php\\php-cgi.exe\" />\
         <add name=\"CGI-exe\" path=\"*.exe\" verb=\"*\" modules=\"CgiModule\" />\
         </handlers>\r\n",
    );
    let mut scenario =
        Scenario::new("cgi", Os::X64, Apphost::parse(&text, Path::new("cgi.config")).unwrap());
    scenario.requests = ["/index.php", "/bin/tool.exe", "/"]
        .iter()
        .map(|url| crate::http_sys::RequestUrl::parse(url).unwrap())
        .collect();
    let (report, plans) = drive(&scenario, |_| Story::Loads);
    assert!(
        plans.iter().flat_map(|plan| &plan.images).all(|image| image.kind != ImageKind::Extension),
        "no CGI program is handed to a loader"
    );
    let answers: Vec<_> =
        report.requests.iter().map(|request| (request.status, request.no_answer)).collect();
    assert_eq!(
        answers,
        [(None, Some(NoAnswer::CgiNotRun)), (None, Some(NoAnswer::CgiNotRun)), (Some(200), None)]
    );
    let targets = Iis7::new(&scenario, apphost_of(&scenario)).unwrap().request_targets();
    assert_eq!(targets.iter().map(|t| t.cgi).collect::<Vec<_>>(), [true, true, false]);
}
