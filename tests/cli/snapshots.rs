//! What a user reads, pinned: the rendered timelines of the seed replay, its IIS 10 twin and a
//! few scenarios that show each kind of failure (a worker's 503, an extension's 404.2, an IIS 7+
//! module of the other bitness). A change of wording is then a reviewed diff of the files in
//! `snapshots/`, and a move of code that changes no words changes none of them.
//!
//! Only what differs from run to run is redacted: process ids (in the timeline and in IIS's event
//! texts), the clock times that aspnet_regiis's log lines carry, and the note that Wine needed
//! more than one start for a process. Every load result in these texts is still the loader's
//! answer in this run.

use std::path::Path;

use super::{harness, scenarios, stderr};

/// Runs the harness and returns its standard output with the run's own values redacted.
fn timeline(args: &[&str], expected_exit: i32) -> String {
    let output = harness(args);
    assert_eq!(
        output.status.code(),
        Some(expected_exit),
        "`isapi-harness {}` exited with {:?}: {}",
        args.join(" "),
        output.status.code(),
        stderr(&output)
    );
    String::from_utf8(output.stdout).expect("the timeline is UTF-8")
}

fn assert_timeline(name: &str, text: &str) {
    // The scenarios' folder is wherever the repository was cloned.
    let scenarios_dir = regex_literal(scenarios().to_str().expect("the scenarios folder is UTF-8"));
    insta::with_settings!({
        filters => vec![
            (scenarios_dir.as_str(), "[scenarios]"),
            (r"\bpid \d+", "pid [pid]"),
            (r"process id was '\d+'", "process id was '[pid]'"),
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "[time]"),
            // Wine sometimes fails to start a process on a busy machine, and the harness
            // starts it again and says so on the process's line; the pinned words are the
            // rest of the line. (A unit test in `report` pins the note itself.)
            (r"; Wine needed \d+ starts before the process ran", ""),
        ],
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// `text` as a regular expression that matches only itself.
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = r"\.+*?()|[]{}^$#&-~".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn scenario_config(relative: &str) -> String {
    let path = scenarios().join(relative);
    assert!(Path::new(&path).is_file(), "the scenario `{}` exists", path.display());
    path.to_str().expect("the scenarios folder is UTF-8").to_owned()
}

/// The seed replay: the 193, then fixes A and B verified.
#[test]
fn seed_replay_timeline() {
    assert_timeline("repro_iis6", &timeline(&["repro"], 0));
}

/// The seed's IIS 10 twin.
#[test]
fn seed_replay_iis10_timeline() {
    assert_timeline("repro_iis10", &timeline(&["repro", "--iis", "10"], 0));
}

/// Worker process isolation mode with 64-bit workers and an x86 filter: the service starts, the
/// worker fails with 193 and the request gets 503.
#[test]
fn worker_503_timeline() {
    let config = scenario_config("matrix/x64-iis5-false-e32-absent-x86.xml");
    let text = timeline(
        &["start", "--config", &config, "--image", r"C:\Filters\x86\mockfilter.dll=x86"],
        1,
    );
    assert_timeline("start_worker_503", &text);
}

/// A request for an extension the Web Service Extension list prohibits: 404.2, never loaded.
#[test]
fn extension_404_2_timeline() {
    let config = scenario_config("extensions/prohibited-extension-is-404-2.xml");
    let text = timeline(
        &["start", "--config", &config, "--request", "/default.aspx", "--request", "/index.htm"],
        1,
    );
    assert_timeline("start_extension_404_2", &text);
}

/// The `start` of an IIS 7+ server whose 64-bit pool loads an x86 global module.
fn module_failure_start() -> Vec<String> {
    let config = scenario_config("iis7/module-x86-pool-64bit.config");
    [
        "start",
        "--config",
        &config,
        "--image",
        r"C:\Filters\amd64\mockfilter.dll=amd64",
        "--image",
        r"C:\Modules\x86\mockmodule.dll=x86:module",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// IIS 7+: an x86 global module in a 64-bit pool fails the worker.
#[test]
fn iis7_module_failure_timeline() {
    let text = timeline(&module_failure_start().iter().map(String::as_str).collect::<Vec<_>>(), 1);
    assert_timeline("start_iis7_module_failure", &text);
}

/// `--verbose` shows each stock module that loaded on its own line; without it they read as
/// one, and what failed is shown in full either way.
#[test]
fn verbose_shows_every_stock_module() {
    let start = module_failure_start();
    let args: Vec<&str> = start.iter().map(String::as_str).collect();
    let summary = timeline(&args, 1);
    let verbose = timeline(&[&args[..], &["--verbose"]].concat(), 1);
    let stock_lines = |text: &str| {
        text.lines()
            .filter(|line| line.contains(r"System32\inetsrv\") && line.contains("loaded;"))
            .count()
    };
    assert_eq!(stock_lines(&summary), 0, "{summary}");
    assert!(summary.contains("ok     4 stock modules loaded in 64-bit w3wp.exe"), "{summary}");
    assert_eq!(stock_lines(&verbose), 4, "{verbose}");
    assert!(!verbose.contains("stock modules loaded"), "{verbose}");
    for text in [&summary, &verbose] {
        assert!(
            text.contains(r"FAIL   load module ThirdPartyModule `C:\Modules\x86\mockmodule.dll`")
        );
    }
}
