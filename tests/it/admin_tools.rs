//! The admin tools as a user runs them: `isapi-harness adsutil` and `isapi-harness
//! aspnet-regiis` started as real processes on metabase files in a temporary folder, checked on
//! what they print, their exit codes and the bytes they leave on disk.
//!
//! These tests need no simulated machine: they only read and write metabase files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::metabase::{FAIL_WRITE_HOOK, SEED_METABASE};
use harness::process::{self, Launch};
use rstest::rstest;

/// The seed case's failing state (IIS 5.0 isolation mode, WOW64 on, 32-bit ASP.NET filter).
const SEED_FAILING: &str = "seed-failing.xml";

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Where `harness::process` keeps the output of the runs (not the metabase folders, whose
/// contents the tests check).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-tools")
}

fn run(args: &[&str], hook: Option<usize>) -> Run {
    // An empty value turns the hook off, should the environment of the test run set it.
    let hook = hook.map(|bytes| bytes.to_string()).unwrap_or_default();
    let launch = Launch {
        program: tests::harness_binary().to_path_buf(),
        args: args.iter().map(OsString::from).collect(),
        env: vec![(FAIL_WRITE_HOOK.into(), hook.into())],
    };
    let finished = process::run_bounded(&launch, &[], Duration::from_secs(60), &scratch())
        .expect("isapi-harness starts");
    let status = finished.status.expect("isapi-harness ends within a minute");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: finished.stdout.replace("\r\n", "\n"),
        stderr: finished.stderr.replace("\r\n", "\n"),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join("metabase").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", path.display()))
}

/// A temporary folder holding `MetaBase.xml` with the given bytes.
fn metabase_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("MetaBase.xml");
    std::fs::write(&path, bytes).expect("the metabase can be written");
    (folder, path)
}

fn adsutil(metabase: &Path, action: &[&str]) -> Run {
    let mut args = vec!["adsutil", "--metabase", path_str(metabase)];
    args.extend_from_slice(action);
    run(&args, None)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The names in the folder, sorted; none when the folder does not exist.
fn folder_entries(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn pad(name: &str) -> String {
    format!("{name:<32}")
}

// ---------------------------------------------------------------------------------------------
// adsutil

#[rstest]
#[case::boolean(
    "W3SVC/AppPools/Enable32BitAppOnWin64",
    0,
    "Enable32BitAppOnWin64           : (BOOLEAN) True\n"
)]
#[case::case_insensitive(
    "/lm/w3svc/iis5isolationmodeenabled",
    0,
    "IIs5IsolationModeEnabled        : (BOOLEAN) True\n"
)]
#[case::string(
    "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath",
    0,
    "FilterPath                      : (STRING) \"d:\\WINDOWS\\Microsoft.NET\\Framework\\v2.0.50727\\aspnet_filter.dll\"\n"
)]
#[case::integer(
    "LM/W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags",
    0,
    "FilterFlags                     : (INTEGER) 131072\n"
)]
#[case::custom(
    "W3SVC/Info/ServerConfigFlags",
    0,
    "ServerConfigFlags               : (INTEGER) 1\n"
)]
#[case::list(
    "W3SVC/Filters/Compression/gzip/HcFileExtensions",
    0,
    "HcFileExtensions                : (LIST) (3 Items)\n  \"htm\"\n  \"html\"\n  \"txt\"\n"
)]
#[case::not_set(
    "W3SVC/AppPools/DefaultAppPool/Enable32BitAppOnWin64",
    1,
    "The parameter \"Enable32BitAppOnWin64\" is not set at this node.\n"
)]
#[case::no_such_key("W3SVC/42/ServerAutoStart", 1, "The path requested could not be found.\n")]
fn adsutil_get_prints_like_adsutil(#[case] path: &str, #[case] code: i32, #[case] stdout: &str) {
    let original = fixture(SEED_FAILING);
    let (folder, metabase) = metabase_with(&original);
    let run = adsutil(&metabase, &["get", path]);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (code, stdout, ""));
    assert_eq!(std::fs::read(&metabase).ok(), Some(original), "get does not write");
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"]);
}

#[rstest]
fn adsutil_set_edits_one_value_and_set_back_restores_every_byte(
    #[values(SEED_FAILING, "fix-a-worker-process.xml", "worker-process-64bit-site-filter.xml")]
    name: &str,
) {
    let original = fixture(name);
    let (folder, metabase) = metabase_with(&original);
    let before = adsutil(&metabase, &["get", "W3SVC/IIs5IsolationModeEnabled"]);
    let old_value = if before.stdout.ends_with("True\n") { "1" } else { "0" };
    let new_value = if old_value == "1" { "0" } else { "1" };

    let set = adsutil(&metabase, &["set", "W3SVC/IIs5IsolationModeEnabled", new_value]);
    let shown = if new_value == "1" { "True" } else { "False" };
    assert_eq!(
        (set.code, set.stdout.clone()),
        (0, format!("{}: (BOOLEAN) {shown}\n", pad("IIs5IsolationModeEnabled")))
    );
    let edited = std::fs::read(&metabase).expect("the metabase is there");
    let (old_text, new_text) =
        if old_value == "1" { ("\"TRUE\"", "\"FALSE\"") } else { ("\"FALSE\"", "\"TRUE\"") };
    let expected = String::from_utf8_lossy(&original).replacen(
        &format!("IIs5IsolationModeEnabled={old_text}"),
        &format!("IIs5IsolationModeEnabled={new_text}"),
        1,
    );
    assert_eq!(String::from_utf8_lossy(&edited), expected, "only the value changed");
    assert_eq!(
        std::fs::read(folder.path().join("History").join("metabase_0000000001.xml")).ok(),
        Some(original.clone())
    );

    let back = adsutil(&metabase, &["set", "w3svc/iis5isolationmodeenabled", old_value]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original), "set back gives the original bytes");
    assert_eq!(
        folder_entries(&folder.path().join("History")),
        ["metabase_0000000001.xml", "metabase_0000000002.xml"]
    );
}

#[test]
fn adsutil_set_adds_a_missing_property_in_iis_style() {
    let (_folder, metabase) = metabase_with(SEED_METABASE.as_bytes());
    let run = adsutil(&metabase, &["set", "W3SVC/AppPools/Enable32bitAppOnWin64", "1"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Enable32BitAppOnWin64           : (BOOLEAN) True\n")
    );
    let text = std::fs::read_to_string(&metabase).expect("the metabase is UTF-8");
    let line = "\t\tEnable32BitAppOnWin64=\"TRUE\"\r\n";
    assert!(text.contains(&format!(
        "\t\tPeriodicRestartTime=\"1740\"\r\n{line}\t>\r\n</IIsApplicationPools>\r\n"
    )));
    assert_eq!(text.replacen(line, "", 1), SEED_METABASE);
}

#[test]
fn adsutil_enum_lists_properties_then_child_keys() {
    let (_folder, metabase) = metabase_with(&fixture(SEED_FAILING));
    let run = adsutil(&metabase, &["enum", "W3SVC/Filters"]);
    let acl = "496344b0000000002c000000000000001400000002001800010000000000140003000000010100000000000512000000";
    let expected = format!(
        "{}: (STRING) \"IIsFilters\"\n{}: (STRING) \"{acl}\"\n{}: (STRING) \"ASP.NET_2.0.50727.0\"\n\n[/w3svc/Filters/ASP.NET_2.0.50727.0]\n[/w3svc/Filters/Compression]\n",
        pad("KeyType"),
        pad("AdminACL"),
        pad("FilterLoadOrder"),
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, expected.as_str()));
    let missing = adsutil(&metabase, &["enum", "W3SVC/Nothing"]);
    assert_eq!(
        (missing.code, missing.stdout.as_str()),
        (1, "The path requested could not be found.\n")
    );
}

#[test]
fn adsutil_delete_removes_a_property_or_a_key_with_its_subtree() {
    let (_folder, metabase) = metabase_with(&fixture(SEED_FAILING));
    let run = adsutil(&metabase, &["delete", "W3SVC/AppPools/Enable32BitAppOnWin64"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "deleted property \"Enable32BitAppOnWin64\"\n")
    );
    let text = std::fs::read_to_string(&metabase).expect("the metabase is UTF-8");
    assert!(!text.contains("Enable32BitAppOnWin64"));
    assert!(
        text.contains("\t\tAppPoolIdentityType=\"2\"\r\n\t\tIdleTimeout=\"20\"\r\n"),
        "the whole line went"
    );

    let again = adsutil(&metabase, &["delete", "W3SVC/AppPools/Enable32BitAppOnWin64"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (1, "The parameter \"Enable32BitAppOnWin64\" is not set at this node.\n")
    );

    let key = adsutil(&metabase, &["delete", "W3SVC/Filters/Compression"]);
    assert_eq!(
        (key.code, key.stdout.as_str()),
        (0, "deleted path \"W3SVC/Filters/Compression\"\n")
    );
    let text = std::fs::read_to_string(&metabase).expect("the metabase is UTF-8");
    assert!(
        !text.contains("/LM/W3SVC/Filters/Compression/"),
        "gzip, deflate and Parameters went too"
    );
    let get = adsutil(&metabase, &["get", "W3SVC/Filters/Compression/gzip/HcPriority"]);
    assert_eq!(get.code, 1);
}

#[rstest]
#[case::not_a_boolean(&["set", "W3SVC/IIs5IsolationModeEnabled", "maybe"], "is not a Boolean")]
#[case::not_a_number(&["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags", "many"], "is not a number")]
#[case::missing_key(&["set", "W3SVC/9/ServerAutoStart", "1"], "key /LM/W3SVC/9 does not exist; create it")]
#[case::location(&["set", "W3SVC/Filters/Location", "/x"], "Location is the key's path")]
fn adsutil_refuses_bad_edits_and_writes_nothing(#[case] action: &[&str], #[case] message: &str) {
    let original = fixture(SEED_FAILING);
    let (folder, metabase) = metabase_with(&original);
    let run = adsutil(&metabase, action);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original));
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"]);
}

// ---------------------------------------------------------------------------------------------
// aspnet_regiis

fn aspnet_regiis(metabase: &Path, framework: &str, enable: bool, hook: Option<usize>) -> Run {
    let mut args = vec![
        "aspnet-regiis",
        "--metabase",
        path_str(metabase),
        "--framework",
        framework,
        "--windir",
        r"d:\WINDOWS",
        "-i",
    ];
    if enable {
        args.push("-enable");
    }
    run(&args, hook)
}

fn filter_path(metabase: &Path) -> String {
    adsutil(metabase, &["get", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath"]).stdout
}

fn load_order(metabase: &Path) -> String {
    adsutil(metabase, &["get", "W3SVC/Filters/FilterLoadOrder"]).stdout
}

#[rstest]
#[case::seed_before_aspnet_regiis(SEED_METABASE.as_bytes().to_vec())]
#[case::seed_failing(fixture(SEED_FAILING))]
#[case::no_filters_at_all(
    b"<?xml version =\"1.0\"?>\n<configuration>\n<MBProperty>\n<IIsWebService\tLocation =\"/LM/W3SVC\"\n\t>\n</IIsWebService>\n</MBProperty>\n</configuration>\n".to_vec()
)]
fn aspnet_regiis_switches_the_filter_between_frameworks(#[case] original: Vec<u8>) {
    let (folder, metabase) = metabase_with(&original);
    let x86 = aspnet_regiis(&metabase, "x86", true, None);
    assert_eq!(x86.code, 0, "{}", x86.stderr);
    assert!(x86.stdout.starts_with("Start installing ASP.NET (2.0.50727).\n"), "{}", x86.stdout);
    assert!(x86.stdout.ends_with("Finished installing ASP.NET (2.0.50727).\n"), "{}", x86.stdout);
    assert_eq!(
        filter_path(&metabase),
        format!(
            "{}: (STRING) \"d:\\WINDOWS\\Microsoft.NET\\Framework\\v2.0.50727\\aspnet_filter.dll\"\n",
            pad("FilterPath")
        )
    );
    let order = format!("{}: (STRING) \"ASP.NET_2.0.50727.0\"\n", pad("FilterLoadOrder"));
    assert_eq!(load_order(&metabase), order);
    let extensions = adsutil(&metabase, &["get", "W3SVC/WebSvcExtRestrictionList"]).stdout;
    assert!(
        extensions.contains("\"1,d:\\WINDOWS\\Microsoft.NET\\Framework\\v2.0.50727\\aspnet_isapi.dll,0,ASP.NET v2.0.50727,ASP.NET v2.0.50727\""),
        "{extensions}"
    );

    // The same registration again changes nothing and writes nothing.
    let written = std::fs::read(&metabase).expect("the metabase is there");
    let history = folder_entries(&folder.path().join("History"));
    let again = aspnet_regiis(&metabase, "x86", true, None);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (
            0,
            "Start installing ASP.NET (2.0.50727).\nThe metabase already had this registration; nothing changed.\nFinished installing ASP.NET (2.0.50727).\n"
        )
    );
    assert_eq!(std::fs::read(&metabase).ok(), Some(written));
    assert_eq!(folder_entries(&folder.path().join("History")), history);

    let amd64 = aspnet_regiis(&metabase, "amd64", false, None);
    assert_eq!(amd64.code, 0, "{}", amd64.stderr);
    assert_eq!(
        filter_path(&metabase),
        format!(
            "{}: (STRING) \"d:\\WINDOWS\\Microsoft.NET\\Framework64\\v2.0.50727\\aspnet_filter.dll\"\n",
            pad("FilterPath")
        )
    );
    assert_eq!(load_order(&metabase), order, "the name is listed once");
}

// ---------------------------------------------------------------------------------------------
// Interrupted writes

#[rstest]
fn an_interrupted_write_leaves_the_old_file_whole(
    #[values("adsutil", "aspnet-regiis")] tool: &str,
    #[values(0, 1, 100, 3000)] crash_after: usize,
) {
    let original = fixture(SEED_FAILING);
    let (folder, metabase) = metabase_with(&original);
    let run = match tool {
        "adsutil" => run(
            &[
                "adsutil",
                "--metabase",
                path_str(&metabase),
                "set",
                "W3SVC/IIs5IsolationModeEnabled",
                "0",
            ],
            Some(crash_after),
        ),
        _ => aspnet_regiis(&metabase, "amd64", true, Some(crash_after)),
    };
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("simulated crash"), "{}", run.stderr);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original), "the old file is whole");
    assert_eq!(
        folder_entries(folder.path()),
        ["MetaBase.xml"],
        "no temporary file and no History copy"
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed metabases

/// A metabase whose keys start on line 4.
fn keys(keys: &str) -> Vec<u8> {
    format!("<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n{keys}</MBProperty>\r\n</configuration>\r\n")
        .into_bytes()
}

fn not_utf8() -> Vec<u8> {
    let mut bytes = keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterDescription=\"caf@\"\r\n\t>\r\n</IIsFilter>\r\n",
    );
    // A Latin-1 `é` where the `@` is: not UTF-8.
    if let Some(at) = bytes.iter().position(|&b| b == b'@') {
        bytes[at] = 0xE9;
    }
    bytes
}

fn utf16() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in String::from_utf8_lossy(&keys("")).encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

#[rstest]
#[case::empty_file(Vec::new(), 1)]
#[case::blank_file(b"\r\n  \r\n".to_vec(), 1)]
#[case::utf16(utf16(), 1)]
#[case::not_utf8(not_utf8(), 5)]
#[case::wrong_root(b"<?xml version =\"1.0\"?>\r\n<config>\r\n<MBProperty>\r\n</MBProperty>\r\n</config>\r\n".to_vec(), 2)]
#[case::no_mbproperty(b"<?xml version =\"1.0\"?>\r\n<configuration>\r\n</configuration>\r\n".to_vec(), 2)]
#[case::unknown_namespace(b"<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V99_0\">\r\n<MBProperty>\r\n</MBProperty>\r\n</configuration>\r\n".to_vec(), 2)]
#[case::key_without_location(
    keys("<IIsFilter\r\n\t\tFilterPath=\"x.dll\"\r\n\t>\r\n</IIsFilter>\r\n"),
    4
)]
#[case::empty_location(keys("<IIsFilter\tLocation =\"\"\r\n\t>\r\n</IIsFilter>\r\n"), 4)]
#[case::duplicate_location(
    keys(
        "<IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t>\r\n</IIsFilters>\r\n<IIsFilters\tLocation =\"/LM/W3SVC/filters\"\r\n\t>\r\n</IIsFilters>\r\n"
    ),
    7
)]
#[case::not_a_boolean(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tIIs5IsolationModeEnabled=\"MAYBE\"\r\n\t>\r\n</IIsWebService>\r\n"
    ),
    5
)]
#[case::boolean_in_custom(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t>\r\n\t<Custom\r\n\t\tName=\"Enable32BitAppOnWin64\"\r\n\t\tValue=\"yes\"\r\n\t/>\r\n</IIsWebService>\r\n"
    ),
    8
)]
#[case::not_a_number(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t>\r\n</IIsWebService>\r\n<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterFlags=\"lots\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    8
)]
#[case::duplicate_attribute(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterPath=\"a.dll\"\r\n\t\tFilterPath=\"b.dll\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    6
)]
#[case::same_property_in_two_cases(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterPath=\"a.dll\"\r\n\t\tfilterpath=\"b.dll\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    6
)]
#[case::attribute_without_value(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterEnabled\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    5
)]
#[case::tag_without_bracket(keys("<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n"), 4)]
#[case::unclosed_quote(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterPath=\"a.dll\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    4
)]
#[case::bad_entity(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterDescription=\"Tom &amp Jerry\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    5
)]
#[case::text_content(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t>\r\n\tIIs5IsolationModeEnabled=TRUE\r\n</IIsWebService>\r\n"
    ),
    6
)]
#[case::element_inside_key(
    keys(
        "<IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t>\r\n<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t>\r\n</IIsFilter>\r\n</IIsFilters>\r\n"
    ),
    6
)]
#[case::custom_without_name(
    keys(
        "<IIsConfigObject\tLocation =\"/LM/W3SVC/Info\"\r\n\t>\r\n\t<Custom\r\n\t\tValue=\"1\"\r\n\t/>\r\n</IIsConfigObject>\r\n"
    ),
    6
)]
#[case::unclosed_key(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t>\r\n<IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\r\n\t>\r\n</IIsFilters>\r\n"
    ),
    6
)]
#[case::mismatched_end_tag(
    keys("<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t>\r\n</IIsFilters>\r\n"),
    6
)]
#[case::load_order_on_wrong_key(
    keys(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tFilterLoadOrder=\"ASP.NET_2.0.50727.0\"\r\n\t>\r\n</IIsWebService>\r\n"
    ),
    5
)]
#[case::content_after_root({ let mut bytes = keys(""); bytes.extend_from_slice(b"<MBProperty>\r\n</MBProperty>\r\n"); bytes }, 6)]
fn a_malformed_metabase_is_refused_with_its_line(
    #[case] document: Vec<u8>,
    #[case] line: usize,
    #[values("get", "set", "aspnet-regiis")] tool: &str,
) {
    let (folder, metabase) = metabase_with(&document);
    let run = match tool {
        "get" => adsutil(&metabase, &["get", "W3SVC/IIs5IsolationModeEnabled"]),
        "set" => adsutil(&metabase, &["set", "W3SVC/IIs5IsolationModeEnabled", "0"]),
        _ => aspnet_regiis(&metabase, "x86", true, None),
    };
    assert_eq!(run.code, 2, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let location = format!("{}:{line}: ", metabase.display());
    assert!(run.stderr.contains(&location), "expected `{location}` in: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(!run.stdout.contains("Finished"), "{}", run.stdout);
    assert_eq!(std::fs::read(&metabase).ok(), Some(document), "the file is unchanged");
    assert_eq!(
        folder_entries(folder.path()),
        ["MetaBase.xml"],
        "no History folder, no temporary file"
    );
}
