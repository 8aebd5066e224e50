//! Input a user (or an attacker) may hand the harness, run through the real binary: devices,
//! FIFOs and huge files, control characters, duplicate images, half scenarios, a filter that
//! selects nothing, scenario image paths relative to the scenario, and `diagnose` on a machine
//! without Wine. Every run is bounded in time, so a regression that blocks fails instead of
//! hanging the suite; every refusal is checked to have written nothing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::arch::Arch;
use harness::artifacts::Artifacts;
use harness::process::{self, Launch};
use serde_json::Value;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program` (the harness when None) with `args` and `env`, for at most a minute.
fn run_program(program: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-input");
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let mut env: Vec<(OsString, OsString)> =
        env.iter().map(|(name, value)| (name.into(), value.into())).collect();
    env.push(("NO_COLOR".into(), "1".into()));
    let launch = Launch {
        program: program.unwrap_or_else(|| tests::harness_binary()).to_path_buf(),
        args: args.iter().map(OsString::from).collect(),
        env,
    };
    let finished = process::run_bounded(&launch, &[], Duration::from_secs(60), &scratch)
        .expect("the program starts");
    Run {
        code: finished.status.map(|status| status.code().unwrap_or(-1)),
        stdout: finished.stdout,
        stderr: finished.stderr,
    }
}

fn harness(args: &[&str]) -> Run {
    run_program(None, args, &[])
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The names in a folder, sorted.
fn entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Exit code 2 and one line on stderr that holds every one of `names`; nothing on stdout.
fn assert_refused(run: &Run, names: &[&str]) {
    assert_eq!(run.code, Some(2), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    for name in names {
        assert!(run.stderr.contains(name), "the message should name `{name}`: {}", run.stderr);
    }
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "one line: {}", run.stderr);
    assert_eq!(run.stdout, "", "nothing on stdout");
}

#[cfg(unix)]
fn make_fifo(path: &Path) {
    let made = run_program(Some(Path::new("mkfifo")), &[path.to_str().unwrap()], &[]);
    assert_eq!(made.code, Some(0), "mkfifo: {}", made.stderr);
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_refused_at_once_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("MetaBase.xml");
    make_fifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    for (file, kind) in [("/dev/zero", "a character device"), (fifo, "a FIFO (named pipe)")] {
        for args in [
            &["start", "--metabase", file][..],
            &["start", "--metabase", file, "--json"],
            &["diagnose", "--metabase", file],
            &["inspect", file],
            &["inspect", file, "--json"],
        ] {
            let run = harness(args);
            assert_refused(&run, &[file, kind]);
        }
    }
    assert_eq!(entries(dir.path()), ["MetaBase.xml"]);
}

/// `inspect` reads the headers, not the file: under a 256 MB address-space limit it still
/// reads a 1 GB (sparse) image, which it could not if it read the whole file.
#[cfg(target_os = "linux")]
#[test]
fn inspect_reads_the_headers_of_a_1_gb_file_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.dll");
    let image = Artifacts::locate().unwrap().mock(Arch::X86, harness::mock::Mock::FILTER).unwrap();
    std::fs::copy(&image, &big).unwrap();
    std::fs::OpenOptions::new().write(true).open(&big).unwrap().set_len(1 << 30).unwrap();
    let script = format!(
        "ulimit -v 262144 && exec '{}' inspect '{}' --json",
        tests::harness_binary().display(),
        big.display()
    );
    let run = run_program(Some(Path::new("sh")), &["-c", &script], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(report["machine"], "x86");
    assert_eq!(report["isapi_exports"]["GetFilterVersion"]["status"], "present", "{report}");
}

#[test]
fn control_characters_and_duplicate_images_on_the_command_line_are_refused() {
    let metabase = scenarios().join("quirks/lowercase-key-paths.xml");
    let metabase = metabase.to_str().unwrap();
    let run = harness(&["start", "--metabase", metabase, "--image", "C:\\F\u{1}.dll=x86"]);
    assert_refused(&run, &["--image", "U+0001"]);
    let run = harness(&[
        "start",
        "--metabase",
        metabase,
        "--image",
        r"C:\Filters\Mine.dll=x86",
        "--image",
        r"c:\filters\MINE.DLL=amd64",
    ]);
    assert_refused(&run, &[r"C:\Filters\Mine.dll", r"c:\filters\MINE.DLL", "ignore case"]);
}

/// A folder holding one good scenario (copied from the repository's matrix) and whatever else
/// a case adds.
fn scenario_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = scenarios().join("matrix/x64-iis5-false-e32-apppools-x86");
    std::fs::copy(source.with_extension("xml"), dir.path().join("good.xml")).unwrap();
    std::fs::copy(source.with_extension("json"), dir.path().join("good.json")).unwrap();
    dir
}

#[test]
fn half_a_scenario_is_an_error_not_a_skip() {
    let good = scenarios().join("matrix/x64-iis5-false-e32-apppools-x86");
    for (files, named) in [
        (&["orphan.xml"][..], "orphan.xml"),
        (&["orphan.json"], "orphan.json"),
        (&["orphan.config"], "orphan.config"),
        (&["both.json", "both.xml", "both.config"], "both.json"),
    ] {
        let dir = scenario_folder();
        for file in files {
            let from = if file.ends_with(".json") { "json" } else { "xml" };
            std::fs::copy(good.with_extension(from), dir.path().join(file)).unwrap();
        }
        let before = entries(dir.path());
        let junit = dir.path().join("junit.xml");
        let run = harness(&[
            "matrix",
            "--scenarios",
            dir.path().to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_refused(&run, &[named]);
        assert_eq!(entries(dir.path()), before, "{files:?}: nothing written, no JUnit report");
    }
}

#[cfg(unix)]
#[test]
fn a_scenario_json_that_is_a_fifo_is_refused() {
    let dir = scenario_folder();
    let good = scenarios().join("matrix/x64-iis5-false-e32-apppools-x86.xml");
    std::fs::copy(good, dir.path().join("pipe.xml")).unwrap();
    make_fifo(&dir.path().join("pipe.json"));
    let run = harness(&["matrix", "--scenarios", dir.path().to_str().unwrap()]);
    assert_refused(&run, &["pipe.json", "a FIFO (named pipe)"]);
}

#[test]
fn a_filter_that_selects_nothing_exits_2_naming_it() {
    let dir = scenario_folder();
    let junit = dir.path().join("junit.xml");
    let run = harness(&[
        "matrix",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--filter",
        "no-such-scenario",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_refused(&run, &["--filter `no-such-scenario`", "none of the 1 scenarios"]);
    assert_eq!(entries(dir.path()), ["good.json", "good.xml"], "no JUnit report");
}

#[test]
fn duplicate_images_in_a_scenario_are_refused_naming_the_file() {
    let dir = scenario_folder();
    let path = dir.path().join("good.json");
    let mut case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    case["images"] = serde_json::json!([r"C:\Filters\x86\f.dll=x86", r"C:\FILTERS\X86\F.DLL=x86"]);
    std::fs::write(&path, case.to_string()).unwrap();
    let run = harness(&["matrix", "--scenarios", dir.path().to_str().unwrap()]);
    assert_refused(&run, &["good.json", r"C:\FILTERS\X86\F.DLL"]);
}

/// `"images": ["C:\\...=mine.dll"]` means the `mine.dll` beside the scenario, wherever the
/// matrix is run from (this test runs from the package folder, not the scenario's).
#[test]
fn a_relative_image_in_a_scenario_is_found_beside_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let source = scenarios().join("matrix/x64-iis5-false-e32-apppools-x86");
    std::fs::copy(source.with_extension("xml"), dir.path().join("mine.xml")).unwrap();
    let mut case: Value =
        serde_json::from_str(&std::fs::read_to_string(source.with_extension("json")).unwrap())
            .unwrap();
    let images = case["images"].as_array().expect("the case places its filter").clone();
    let (winpath, _) = images[0].as_str().unwrap().split_once('=').unwrap();
    std::fs::create_dir(dir.path().join("builds")).unwrap();
    let image = Artifacts::locate().unwrap().mock(Arch::X86, harness::mock::Mock::FILTER).unwrap();
    std::fs::copy(image, dir.path().join("builds").join("mine.dll")).unwrap();
    case["images"] = serde_json::json!([format!("{winpath}=builds/mine.dll")]);
    std::fs::write(dir.path().join("mine.json"), case.to_string()).unwrap();
    assert!(!Path::new("builds/mine.dll").exists(), "the current folder has no such file");

    let run = harness(&["matrix", "--scenarios", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let filter = &report["scenarios"][0]["observed"]["hosts"][0]["filters"][0];
    assert_eq!(filter["loaded"], true, "{filter}");
}

/// Without `--verify` nothing is loaded, so no machine is opened and Wine is not needed.
#[test]
fn diagnose_without_verify_needs_no_wine() {
    let failing = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let no_wine = [("ISAPI_HARNESS_WINE", "/nonexistent/wine64")];
    let run = run_program(
        None,
        &["diagnose", "--metabase", failing.to_str().unwrap(), "--json"],
        &no_wine,
    );
    assert_eq!(run.code, Some(1), "problems predicted: {}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["machine_checked"], false);
    assert_eq!(report["agree"], Value::Null);
    assert_eq!(report["filters"][0]["predicted"]["win32_error"], 193);
    assert_eq!(report["filters"][0]["observed"], Value::Null);

    let run = run_program(None, &["diagnose", "--metabase", failing.to_str().unwrap()], &no_wine);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.contains("(wrong bitness); an x86 image cannot load"), "{}", run.stdout);
    assert!(run.stdout.contains("not checked against a machine"), "{}", run.stdout);
    assert!(!run.stdout.contains("WrongBitness"), "no Debug text: {}", run.stdout);
}

/// On a terminal the timeline has colour, unless TERM=dumb says the terminal shows escapes as
/// text. `script` gives the harness a terminal.
#[cfg(target_os = "linux")]
#[test]
fn term_dumb_gets_no_colour() {
    let failing = scenarios().join("quirks/bom-crlf-v64-namespace.xml");
    let command = format!(
        "'{}' diagnose --metabase '{}'",
        tests::harness_binary().display(),
        failing.display()
    );
    let launch = |term: &str| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-input");
        let launch = Launch {
            program: "script".into(),
            args: ["-qec", command.as_str(), "/dev/null"].iter().map(OsString::from).collect(),
            // Not through `run_program`, which sets NO_COLOR: here the terminal must decide.
            env: vec![("TERM".into(), term.into())],
        };
        process::run_bounded(&launch, &[], Duration::from_secs(60), &scratch).expect("script runs")
    };
    let colour = launch("xterm");
    assert!(colour.stdout.contains('\x1b'), "a terminal gets colour: {:?}", colour.stdout);
    let dumb = launch("dumb");
    assert!(dumb.stdout.contains("predicted:"), "{}", dumb.stdout);
    assert!(!dumb.stdout.contains('\x1b'), "TERM=dumb gets none: {:?}", dumb.stdout);
}
