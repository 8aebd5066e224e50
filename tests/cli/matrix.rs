//! `matrix` as a suite of units: a scenario that breaks its host or the whole machine fails on
//! its own, with its reason, and the others are run and reported as if it were not there.

use std::path::Path;

use serde_json::Value;

use super::{harness, json, scenarios, stderr};

/// IIS 5.0 isolation mode on x64: the 64-bit inetinfo.exe loads `C:\Filters\amd64\mockfilter.dll`
/// at service start, and the case expects it to load.
const IIS5_AMD64: &str = "matrix/x64-iis5-true-e32-absent-amd64";

/// Copies a scenario of the repository's suite into `dir` as `name`, with `images` in place of
/// its own.
fn copy_scenario(dir: &Path, from: &str, name: &str, images: Option<Vec<String>>) -> Value {
    let source = scenarios().join(from);
    std::fs::copy(source.with_extension("xml"), dir.join(format!("{name}.xml"))).unwrap();
    let mut case: Value =
        serde_json::from_str(&std::fs::read_to_string(source.with_extension("json")).unwrap())
            .unwrap();
    if let Some(images) = images {
        case["images"] = images.into();
    }
    std::fs::write(dir.join(format!("{name}.json")), case.to_string()).unwrap();
    case
}

/// Builds `tests/data/hostile-filter/hostile.c` for AMD64 in one of its modes (`KILL_SERVER`,
/// `MALFORMED_REPORT`).
#[cfg(unix)]
#[expect(clippy::disallowed_methods, reason = "the test runs a compiler, not a host")]
fn build_hostile_filter(out_dir: &Path, mode: &str) -> std::path::PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/hostile-filter/hostile.c");
    let out = out_dir.join(format!("{}.dll", mode.to_lowercase()));
    let status = std::process::Command::new("x86_64-w64-mingw32-gcc")
        .arg("-shared")
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .arg(source.with_extension("def"))
        .arg(format!("-D{mode}"))
        .arg("-Wl,--enable-stdcall-fixup")
        .status();
    assert!(
        status.is_ok_and(|status| status.success()),
        "cannot build the hostile filter ({mode})"
    );
    out
}

/// A scenario whose filter ends the wineserver, and one whose filter writes a marked line that
/// is no report, each fail with their reason; the benign scenarios around them, some of which
/// ran beside the one that ended the server, pass on a fresh machine, and `matrix` exits 1
/// (a failure observed), not 2 (bad input).
#[cfg(unix)]
#[test]
fn a_scenario_that_breaks_its_host_or_the_machine_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    build_hostile_filter(&suite, "KILL_SERVER");
    build_hostile_filter(&suite, "MALFORMED_REPORT");
    for name in ["a-benign", "c-benign", "e-benign", "g-benign"] {
        copy_scenario(&suite, IIS5_AMD64, name, None);
    }
    let hostile = |dll: &str| Some(vec![format!(r"C:\Filters\amd64\mockfilter.dll={dll}")]);
    copy_scenario(&suite, IIS5_AMD64, "b-kills-server", hostile("kill_server.dll"));
    copy_scenario(&suite, IIS5_AMD64, "d-malformed-report", hostile("malformed_report.dll"));
    let junit = dir.path().join("junit.xml");
    let output = harness(&[
        "matrix",
        "--scenarios",
        suite.to_str().unwrap(),
        "--json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["a-benign", "b-kills-server", "c-benign", "d-malformed-report", "e-benign", "g-benign"]
    );
    for scenario in scenarios {
        let name = scenario["name"].as_str().unwrap();
        if name.ends_with("benign") {
            assert_eq!(scenario["pass"], true, "{scenario}");
            assert_eq!(scenario["observed"]["hosts"][0]["filters"][0]["loaded"], true, "{name}");
        } else {
            assert_eq!(scenario["pass"], false, "{scenario}");
        }
    }
    let error = |index: usize| scenarios[index]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error(1).contains("wineserver ended while this scenario ran"), "{}", error(1));
    assert!(error(3).contains("the host's report is inconsistent"), "{}", error(3));
    assert!(error(3).contains("@isapi-host/1 {}"), "the line is quoted: {}", error(3));
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("tests=\"6\" failures=\"2\""), "{junit}");
    assert!(
        junit.contains("message=\"could not be run: the simulated machine's wineserver"),
        "{junit}"
    );
}

/// A scenario's image file must lie in the scenario's folder, links resolved, or under a folder
/// allowed with `--image-root`: `../x.dll`, and a link in the folder that points at it, are
/// refused before anything runs (exit 2, one line naming the scenario and the path, no report
/// written); with `--image-root` naming the outer folder the same scenario runs.
#[test]
fn scenario_images_stay_inside_the_scenario_folder_or_an_image_root() {
    let dir = tempfile::tempdir().unwrap();
    let mock = harness::artifacts::Artifacts::locate()
        .unwrap()
        .mock(harness::arch::Arch::Amd64, harness::mock::Mock::FILTER)
        .unwrap();
    let outside = dir.path().join("x.dll");
    std::fs::copy(&mock, &outside).unwrap();
    let image = |spec: &str| Some(vec![format!(r"C:\Filters\amd64\mockfilter.dll={spec}")]);
    let mut refused = vec![("outside", "../x.dll")];
    if cfg!(unix) {
        refused.push(("linked", "link.dll"));
    }
    let junit = dir.path().join("junit.xml");
    for (name, spec) in refused {
        let only = dir.path().join(format!("only-{name}"));
        std::fs::create_dir(&only).unwrap();
        if name == "linked" {
            link(&outside, &only.join(spec));
        }
        copy_scenario(&only, IIS5_AMD64, name, image(spec));
        let output = harness(&[
            "matrix",
            "--scenarios",
            only.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let message = stderr(&output);
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
        assert!(message.contains(&format!("scenario `{name}`")), "{message}");
        let resolved = std::fs::canonicalize(&outside).unwrap();
        assert!(message.contains(&resolved.display().to_string()), "{message}");
        assert!(message.contains("--image-root"), "says what to do: {message}");
        assert!(output.stdout.is_empty(), "{name}: nothing runs");
        assert!(!junit.exists(), "{name}: nothing is written");

        // The same scenario, its image's folder allowed: it runs, and the filter loads.
        let output = harness(&[
            "matrix",
            "--scenarios",
            only.to_str().unwrap(),
            "--image-root",
            dir.path().to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let report = json(&output);
        assert_eq!(report["scenarios"][0]["observed"]["hosts"][0]["filters"][0]["loaded"], true);
    }
    // An --image-root that is not there is bad input too.
    let output = harness(&[
        "matrix",
        "--scenarios",
        dir.path().join("only-outside").to_str().unwrap(),
        "--image-root",
        dir.path().join("no-such-folder").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no-such-folder"), "{}", stderr(&output));
}

/// A link at `link` to `target`, made the way a scenario folder could hold one.
fn link(target: &Path, link: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(not(unix))]
    panic!("links are tested on Unix only: {} -> {}", link.display(), target.display());
}

/// Two sites in worker process isolation mode: the global filter `Global64` (AMD64) is loaded by
/// the 64-bit workers of both pools, and site 2's x86 filter fails in ShopPool's.
const TWO_POOLS: &str = "sites/two-sites-worker-mode-site-filter-wrong-bitness";

/// `expected.images` pins facts per image, by configured name or Windows path, checked at every
/// place the image was loaded; only the fields given are checked. A pin that holds at both
/// workers passes; one that does not fails the scenario (exit 1) with each place's fact,
/// expected against observed, in the text and, as the same words, in the JUnit message.
#[test]
fn per_image_expectations_are_checked_at_every_place_the_image_was_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let pins = |images: Value| {
        move |case: &mut Value| {
            case["expected"]["images"] = images.clone();
        }
    };
    copy_scenario_with(
        dir.path(),
        TWO_POOLS,
        "holds",
        pins(serde_json::json!({
            "Global64": { "loaded": true, "bits": 64, "process": "w3wp.exe", "win32_error": null },
            r"c:\filters\SHOP\x86.dll": { "kind": "filter", "win32_error": 193,
                                          "cause": "wrong_bitness", "stage": "load_library" }
        })),
    );
    copy_scenario_with(
        dir.path(),
        TWO_POOLS,
        "wrong",
        pins(serde_json::json!({
            r"C:\Filters\global\amd64.dll": { "loaded": false },
            "Shop32": { "kind": "extension", "loaded": false }
        })),
    );
    let junit = dir.path().join("junit.xml");
    let output = harness(&[
        "matrix",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let row = |name: &str| {
        text.lines()
            .find(|line| line.split_whitespace().any(|word| word == name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
            .to_owned()
    };
    assert!(!row("holds").starts_with("FAIL"), "{text}");
    let wrong = row("wrong");
    assert!(wrong.starts_with("FAIL"), "{wrong}");
    let words = [
        r"image `C:\Filters\global\amd64.dll` as a filter in 64-bit w3wp.exe (pool DefaultAppPool): loaded: expected false, observed true",
        r"image `C:\Filters\global\amd64.dll` as a filter in 64-bit w3wp.exe (pool ShopPool): loaded: expected false, observed true",
        "image `Shop32` as an extension: expected a process that tried it, observed none",
    ];
    for expected in words {
        assert!(wrong.contains(expected), "`{expected}` missing from:\n{wrong}");
    }
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("tests=\"2\" failures=\"1\""), "{junit}");
    let message = junit
        .split("<failure message=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no failure message in {junit}"));
    assert_eq!(message, words.join("; "), "the JUnit message is the same words");
}

/// [`copy_scenario`], then `edit` on its JSON.
fn copy_scenario_with(dir: &Path, from: &str, name: &str, edit: impl Fn(&mut Value)) {
    let mut case = copy_scenario(dir, from, name, None);
    edit(&mut case);
    std::fs::write(dir.join(format!("{name}.json")), case.to_string()).unwrap();
}
