//! The admin tools as a user runs them: `isapi-harness adsutil` and `isapi-harness
//! aspnet-regiis` started as real processes on metabase files in a temporary folder, checked on
//! what they print, their exit codes and the bytes they leave on disk.
//!
//! These tests need no simulated machine: they only read and write metabase files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::metabase::{FAIL_WRITE_HOOK, Metabase, Property, PropertyKind, SEED_METABASE};
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

/// The seed's failing state with IIS set back to 64-bit worker processes
/// (`Enable32BitAppOnWin64="FALSE"`): the state in which the 64-bit aspnet_regiis agrees to run
/// and has a 32-bit registration to replace, so that it writes.
fn seed_failing_64bit_iis() -> Vec<u8> {
    let text = String::from_utf8(fixture(SEED_FAILING)).expect("the fixture is UTF-8");
    let flag = "Enable32BitAppOnWin64=\"TRUE\"";
    assert_eq!(text.matches(flag).count(), 1, "the fixture sets the flag once");
    text.replace(flag, "Enable32BitAppOnWin64=\"FALSE\"").into_bytes()
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
#[case::flags_by_number(
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
#[case::not_a_flag(&["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags", "many"], "names many, which is not a flag of FilterFlags")]
#[case::not_a_number(&["set", "/LM/MaxHistoryFiles", "many"], "is not a number")]
#[case::missing_key(&["set", "W3SVC/9/ServerAutoStart", "1"], "key /LM/W3SVC/9 does not exist; create it")]
#[case::location(&["set", "W3SVC/Filters/Location", "/x"], "Location is the key's path")]
#[case::control_character_in_the_value(
    &["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterDescription", "a\u{1}b"],
    "holds the control character U+0001"
)]
#[case::escape_in_the_value(
    &["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterDescription", "\u{1b}[31mred"],
    "U+001B (ESC)"
)]
#[case::control_character_in_the_path(
    &["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/Filter\u{7}Path", "x"],
    "the path holds the control character U+0007"
)]
#[case::control_character_in_a_get_path(&["get", "W3SVC/\u{1}"], "control character U+0001")]
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

/// Sets IIS to worker processes of the bitness the tool of `framework` needs, as an
/// administrator must before running it (`Enable32bitAppOnWin64` 1 for x86, 0 for amd64).
fn set_iis_bitness_for(metabase: &Path, framework: &str) {
    let value = if framework == "x86" { "1" } else { "0" };
    let run = adsutil(metabase, &["set", "W3SVC/AppPools/Enable32bitAppOnWin64", value]);
    assert_eq!(run.code, 0, "{}", run.stderr);
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
    set_iis_bitness_for(&metabase, "x86");
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

    set_iis_bitness_for(&metabase, "amd64");
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
    let original = seed_failing_64bit_iis();
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
#[case::not_a_flag(
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
#[case::control_character_in_a_value(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterDescription=\"a\u{1}b\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    5
)]
#[case::character_reference_to_a_control_character(
    keys(
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/X\"\r\n\t\tFilterPath=\"C:\\&#1;.dll\"\r\n\t>\r\n</IIsFilter>\r\n"
    ),
    5
)]
#[case::nul_inside_a_key(
    keys(
        "<IIsFilters\tLocation =\"/LM/W3SVC/Fil\0ters\"\r\n\t\tFilterLoadOrder=\"X\"\r\n\t>\r\n</IIsFilters>\r\n"
    ),
    4
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

// ---------------------------------------------------------------------------------------------
// Values that XML can hold, and values it cannot

#[test]
fn adsutil_set_escapes_what_xml_allows_and_keeps_line_breaks() {
    let (_folder, metabase) = metabase_with(&fixture(SEED_FAILING));
    let value = "Tom & Jerry's <\"filter\">\twith a tab";
    let run =
        adsutil(&metabase, &["set", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterDescription", value]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&metabase).expect("UTF-8");
    assert!(
        text.contains(
            "FilterDescription=\"Tom &amp; Jerry's &lt;&quot;filter&quot;>\twith a tab\""
        ),
        "{text}"
    );
    let get = adsutil(&metabase, &["get", "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterDescription"]);
    assert_eq!(get.stdout, format!("{}: (STRING) \"{value}\"\n", pad("FilterDescription")));

    // A MULTISZ set with line breaks keeps one item per line.
    let list = "htm\nhtml\ntxt\naspx";
    let run = adsutil(&metabase, &["set", "W3SVC/Filters/Compression/gzip/HcFileExtensions", list]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let get = adsutil(&metabase, &["get", "W3SVC/Filters/Compression/gzip/HcFileExtensions"]);
    assert!(get.stdout.starts_with(&format!("{}: (LIST) (4 Items)\n", pad("HcFileExtensions"))));
    assert!(get.stdout.ends_with("  \"aspx\"\n"), "{}", get.stdout);
}

#[rstest]
#[case::dot_dot(r"C:\..\x", "contains `..`")]
#[case::relative(r"WINDOWS", "is not an absolute Windows path")]
#[case::drive_relative(r"C:WINDOWS", "is not an absolute Windows path")]
#[case::unc(r"\\server\share\WINDOWS", "is not an absolute Windows path")]
#[case::unix(r"/windows", "is not an absolute Windows path")]
#[case::control_character("C:\\WIN\u{1}DOWS", "control character U+0001")]
fn aspnet_regiis_refuses_a_windir_iis_could_not_load_from(
    #[case] windir: &str,
    #[case] message: &str,
) {
    let original = fixture(SEED_FAILING);
    let (folder, metabase) = metabase_with(&original);
    let args = [
        "aspnet-regiis",
        "--metabase",
        path_str(&metabase),
        "--framework",
        "amd64",
        "--windir",
        windir,
        "-i",
        "-enable",
    ];
    let run = run(&args, None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("--windir"), "{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert_eq!(run.stdout, "", "nothing printed before the refusal");
    assert_eq!(std::fs::read(&metabase).ok(), Some(original), "the file is unchanged");
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"]);
}

/// Under IIS 6.0 on x64 each aspnet_regiis runs only while IIS runs worker processes of its own
/// bitness; a refusal is reported (exit code 1, the tool's words on stdout) and writes nothing.
#[rstest]
#[case::the_64_bit_tool_while_iis_runs_32_bit(fixture(SEED_FAILING), "amd64", "64-bit")]
#[case::the_32_bit_tool_while_iis_runs_64_bit(SEED_METABASE.as_bytes().to_vec(), "x86", "32-bit")]
fn aspnet_regiis_refuses_the_other_bitness_and_writes_nothing(
    #[case] original: Vec<u8>,
    #[case] framework: &str,
    #[case] bitness: &str,
) {
    let (folder, metabase) = metabase_with(&original);
    let run = aspnet_regiis(&metabase, framework, true, None);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("it needs IIS in {bitness} mode")), "{}", run.stdout);
    assert!(run.stderr.contains("Enable32bitAppOnWin64"), "{}", run.stderr);
    assert!(!run.stdout.contains("Finished installing"), "{}", run.stdout);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original), "the file is unchanged");
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"], "no History copy");
}

/// On 32-bit Windows (`--os x86`) there is no gate for the 32-bit tool and no 64-bit tool.
#[test]
fn aspnet_regiis_on_32_bit_windows_has_no_gate_and_no_framework64() {
    let (_folder, metabase) = metabase_with(SEED_METABASE.as_bytes());
    let args = |framework| {
        [
            "aspnet-regiis",
            "--metabase",
            path_str(&metabase),
            "--framework",
            framework,
            "--windir",
            r"d:\WINDOWS",
            "--os",
            "x86",
            "-i",
        ]
    };
    let x86 = run(&args("x86"), None);
    assert_eq!(x86.code, 0, "{}", x86.stderr);
    let before = std::fs::read(&metabase).expect("the metabase is there");
    let amd64 = run(&args("amd64"), None);
    assert_eq!(amd64.code, 2, "{}", amd64.stdout);
    assert!(amd64.stderr.contains("no Framework64"), "{}", amd64.stderr);
    assert_eq!(std::fs::read(&metabase).ok(), Some(before));
}

// ---------------------------------------------------------------------------------------------
// Files that are not metabases to read

#[cfg(unix)]
#[rstest]
#[case::dev_zero("/dev/zero", "a character device")]
#[case::dev_null("/dev/null", "a character device")]
#[case::folder("/", "a folder")]
fn devices_and_folders_are_refused_at_once(
    #[case] path: &str,
    #[case] message: &str,
    #[values("get", "set", "aspnet-regiis")] tool: &str,
) {
    let started = std::time::Instant::now();
    let run = match tool {
        "get" => adsutil(Path::new(path), &["get", "W3SVC/IIs5IsolationModeEnabled"]),
        "set" => adsutil(Path::new(path), &["set", "W3SVC/IIs5IsolationModeEnabled", "0"]),
        _ => aspnet_regiis(Path::new(path), "x86", true, None),
    };
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains(&format!("{path}: ")), "{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "refused at once, not after reading");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let fifo = folder.path().join("MetaBase.xml");
    make_fifo(&fifo);
    // No one ever writes to the FIFO: a harness that opened it for reading would wait
    // forever, and `run` would then fail on its one-minute bound instead of hanging.
    for action in [&["get", "W3SVC/IIs5IsolationModeEnabled"][..], &["set", "W3SVC/X/Y", "1"]] {
        let run = adsutil(&fifo, action);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stderr.contains("a FIFO (named pipe), not a regular file"), "{}", run.stderr);
    }
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"]);
}

/// Makes a FIFO with mkfifo(1), through `harness::process` like every process the suite starts.
#[cfg(unix)]
pub(crate) fn make_fifo(path: &Path) {
    let launch = Launch {
        program: "mkfifo".into(),
        args: vec![path.as_os_str().to_owned()],
        env: Vec::new(),
    };
    let made = process::run_bounded(&launch, &[], Duration::from_secs(30), &scratch())
        .expect("mkfifo starts");
    assert!(made.status.is_some_and(|status| status.success()), "mkfifo failed: {}", made.stderr);
}

#[test]
fn a_file_over_256_mib_is_refused_before_it_is_read() {
    let (folder, metabase) = metabase_with(b"");
    let file = std::fs::OpenOptions::new().write(true).open(&metabase).expect("open");
    // Sparse: the test costs no disk, and a harness that read it would take 257 MiB of memory.
    file.set_len(257 * 1024 * 1024).expect("a sparse file");
    let run = adsutil(&metabase, &["get", "W3SVC/IIs5IsolationModeEnabled"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("more than the 256 MiB"), "{}", run.stderr);
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml"]);
}

/// A hosting server's metabase: `sites` site keys, each with a ROOT key.
fn hosting_metabase(sites: usize, attributes_on_site_1: usize) -> Vec<u8> {
    let mut keys = String::from(
        "<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tIIs5IsolationModeEnabled=\"FALSE\"\r\n\t>\r\n</IIsWebService>\r\n",
    );
    for site in 1..=sites {
        keys.push_str(&format!("<IIsWebServer\tLocation =\"/LM/W3SVC/{site}\"\r\n"));
        if site == 1 {
            for at in 0..attributes_on_site_1 {
                keys.push_str(&format!("\t\tCustom{at}=\"{at}\"\r\n"));
            }
        }
        keys.push_str(&format!(
            "\t\tServerComment=\"site {site}\"\r\n\t>\r\n</IIsWebServer>\r\n<IIsWebVirtualDir\tLocation =\"/LM/W3SVC/{site}/ROOT\"\r\n\t>\r\n</IIsWebVirtualDir>\r\n"
        ));
    }
    self::keys(&keys)
}

/// 100,000 keys and 200,000 attributes on one key read and edit in seconds (the harness took
/// minutes when lookups were linear scans). The figure itself is in `cargo xtask bench`; this
/// only checks that such a file works, within `run`'s one-minute bound.
#[rstest]
#[case::many_keys(50_000, 0)]
#[case::many_attributes(1, 200_000)]
fn a_hosting_servers_metabase_reads_and_edits(#[case] sites: usize, #[case] attributes: usize) {
    let (_folder, metabase) = metabase_with(&hosting_metabase(sites, attributes));
    let last = format!("W3SVC/{sites}/ServerComment");
    let get = adsutil(&metabase, &["get", &last]);
    assert_eq!(get.code, 0, "{}", get.stderr);
    assert!(get.stdout.ends_with(&format!("\"site {sites}\"\n")), "{}", get.stdout);
    let set = adsutil(&metabase, &["set", "W3SVC/1/ServerComment", "edited"]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let enumerated = adsutil(&metabase, &["enum", "W3SVC"]);
    assert_eq!(enumerated.code, 0, "{}", enumerated.stderr);
    assert_eq!(enumerated.stdout.lines().filter(|line| line.starts_with('[')).count(), sites);
}

// ---------------------------------------------------------------------------------------------
// Edits keep the file

#[cfg(unix)]
#[test]
fn an_edit_through_a_symlink_edits_the_target_and_keeps_the_link() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let real_folder = folder.path().join("inetsrv");
    std::fs::create_dir(&real_folder).expect("a folder");
    let real = real_folder.join("MetaBase.xml");
    std::fs::write(&real, fixture(SEED_FAILING)).expect("write");
    let link = folder.path().join("link.xml");
    std::os::unix::fs::symlink("inetsrv/MetaBase.xml", &link).expect("a symlink");

    let run = adsutil(&link, &["set", "W3SVC/IIs5IsolationModeEnabled", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let link_meta = std::fs::symlink_metadata(&link).expect("the link is there");
    assert!(link_meta.file_type().is_symlink(), "the link is still a link");
    assert_eq!(std::fs::read_link(&link).expect("a link"), Path::new("inetsrv/MetaBase.xml"));
    let get = adsutil(&real, &["get", "W3SVC/IIs5IsolationModeEnabled"]);
    assert!(get.stdout.ends_with("False\n"), "the target was edited: {}", get.stdout);
    assert_eq!(
        folder_entries(&real_folder),
        ["History", "MetaBase.xml"],
        "History beside the target"
    );
    assert_eq!(folder_entries(folder.path()), ["inetsrv", "link.xml"]);
}

#[cfg(unix)]
#[test]
fn an_edit_keeps_mode_and_owner_and_history_copies_are_no_more_readable() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (folder, metabase) = metabase_with(&seed_failing_64bit_iis());
    std::fs::set_permissions(&metabase, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let before = std::fs::metadata(&metabase).expect("metadata");

    let run = aspnet_regiis(&metabase, "amd64", true, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = std::fs::metadata(&metabase).expect("metadata");
    assert_eq!(after.mode() & 0o7777, 0o640, "a 640 file stays 640");
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    let copy = folder.path().join("History").join("metabase_0000000001.xml");
    let copy_mode = std::fs::metadata(&copy).expect("a History copy").mode() & 0o7777;
    assert_eq!(copy_mode, 0o640, "the copy is as private as the file");
}

#[cfg(unix)]
#[test]
fn a_hard_linked_metabase_is_refused_and_left_alone() {
    use std::os::unix::fs::MetadataExt;
    let original = seed_failing_64bit_iis();
    let (folder, metabase) = metabase_with(&original);
    let other = folder.path().join("backup.xml");
    std::fs::hard_link(&metabase, &other).expect("a hard link");
    let inode = std::fs::metadata(&metabase).expect("metadata").ino();

    for run in [
        adsutil(&metabase, &["set", "W3SVC/IIs5IsolationModeEnabled", "0"]),
        aspnet_regiis(&metabase, "amd64", true, None),
    ] {
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stderr.contains("has 2 hard links"), "{}", run.stderr);
        assert!(run.stderr.contains("edit a copy"), "{}", run.stderr);
    }
    assert_eq!(std::fs::metadata(&metabase).expect("metadata").ino(), inode, "same file");
    assert_eq!(std::fs::read(&metabase).ok(), Some(original.clone()));
    assert_eq!(std::fs::read(&other).ok(), Some(original));
    assert_eq!(folder_entries(folder.path()), ["MetaBase.xml", "backup.xml"]);
}

/// IIS keeps at most MaxHistoryFiles copies, removing the oldest first; 10 when the metabase
/// does not say.
#[rstest]
#[case::set_at_lm(Some(3), 3)]
#[case::iis_default(None, 10)]
fn history_keeps_at_most_max_history_files(#[case] max: Option<u32>, #[case] kept: usize) {
    let (folder, metabase) = metabase_with(&fixture(SEED_FAILING));
    // The fixture says MaxHistoryFiles="10" at /LM, as IIS writes it.
    let prepared = match max {
        Some(max) => adsutil(&metabase, &["set", "/LM/MaxHistoryFiles", &max.to_string()]),
        None => adsutil(&metabase, &["delete", "/LM/MaxHistoryFiles"]),
    };
    assert_eq!(prepared.code, 0, "{}", prepared.stderr);
    std::fs::remove_dir_all(folder.path().join("History")).expect("the first History copy");
    // A file of the user's own in History is never removed.
    let history = folder.path().join("History");
    std::fs::create_dir(&history).expect("a History folder");
    std::fs::write(history.join("notes.txt"), "mine").expect("write");
    let edits = kept + 4;
    for edit in 0..edits {
        let value = if edit % 2 == 0 { "0" } else { "1" };
        let run = adsutil(&metabase, &["set", "W3SVC/IIs5IsolationModeEnabled", value]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let mut expected: Vec<String> =
        (edits - kept + 1..=edits).map(|n| format!("metabase_{n:010}.xml")).collect();
    expected.push("notes.txt".to_owned());
    assert_eq!(folder_entries(&history), expected, "the newest {kept}, the oldest removed first");
}

// ---------------------------------------------------------------------------------------------
// Real metabases: every edit undone restores every byte

/// The `Location`s below `/LM` of a metabase's keys, in document order, read off the text as
/// IIS writes them (`Location ="/LM/..."`).
fn lm_locations(text: &str) -> Vec<String> {
    text.split("Location =\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|location| location.starts_with("/LM"))
        .map(str::to_string)
        .collect()
}

/// A value of the same type different from `property`'s, and the spellings that set it back
/// (adsutil's own answer first: the number of a flag value, the items of a list).
fn other_value_and_back(property: &Property) -> (String, Vec<String>) {
    let value = property.value.clone();
    match property.kind {
        PropertyKind::Boolean => {
            let back = if property.as_bool() == Some(true) { "True" } else { "False" };
            let other = if property.as_bool() == Some(true) { "FALSE" } else { "TRUE" };
            (other.to_string(), vec![back.to_string(), value])
        }
        PropertyKind::Integer => {
            let number = property.as_u32().expect("a real file's DWORD is a number");
            ((number ^ 1).to_string(), vec![number.to_string()])
        }
        PropertyKind::Flags => {
            let bits = property.as_flags().expect("a real file names known flags");
            // No flag set, or one with a name in every table but AuthPersistence's, or by
            // number: either way written in the form the file writes.
            let other = if bits == 0 { "1" } else { "0" };
            (other.to_string(), vec![bits.to_string(), value])
        }
        PropertyKind::List => {
            let items = property.items();
            let mut other = items.clone();
            other.push("an item of the harness's own".to_string());
            (other.join("\n"), vec![items.join("\n")])
        }
        PropertyKind::String | PropertyKind::ExpandString | PropertyKind::Binary => {
            (format!("{value}-edited"), vec![value])
        }
    }
}

/// The kinds a set of properties covers, as adsutil names them.
fn kinds(properties: &[(String, Property)]) -> Vec<PropertyKind> {
    let mut kinds: Vec<PropertyKind> = Vec::new();
    for (_, property) in properties {
        if !kinds.contains(&property.kind) {
            kinds.push(property.kind);
        }
    }
    kinds
}

/// Every property of every key below `/LM`, with its adsutil path.
fn every_property(metabase: &Metabase) -> Vec<(String, Property)> {
    let mut all = Vec::new();
    for location in lm_locations(metabase.text()) {
        let enumeration = metabase.enumerate(&location).unwrap_or_else(|e| panic!("{e}"));
        for property in enumeration.properties.into_iter().filter(|p| p.name != "KeyType") {
            all.push((format!("{location}/{}", property.name), property));
        }
    }
    all
}

/// Every property of every type in the file, set to another value and set back in each
/// spelling adsutil accepts, gives the file back byte for byte; so does a property set where
/// it was absent and deleted again. In memory, through the library, so that all of them can
/// be tried; `real_metabases_round_trip_through_adsutil` does a sample through the binary.
#[rstest]
fn every_property_of_a_real_metabase_set_and_set_back_restores_every_byte(
    #[files("data/real/iis6/*.xml")] path: PathBuf,
) {
    let original = Metabase::read(&path).unwrap_or_else(|error| panic!("{error}"));
    let text = original.text().to_string();
    let properties = every_property(&original);
    assert!(properties.len() > 100, "{} properties", properties.len());
    for kind in [PropertyKind::Boolean, PropertyKind::Integer, PropertyKind::Flags] {
        assert!(kinds(&properties).contains(&kind), "the file has a {kind} property");
    }
    assert!(kinds(&properties).contains(&PropertyKind::List));
    let mut metabase = original.clone();
    for (at, (path, property)) in properties.iter().enumerate() {
        let (other, backs) = other_value_and_back(property);
        for back in backs {
            metabase.set(path, &other).unwrap_or_else(|e| panic!("set {path} {other:?}: {e}"));
            assert_ne!(metabase.text(), text, "{path}: setting {other:?} changed nothing");
            metabase.set(path, &back).unwrap_or_else(|e| panic!("set {path} {back:?}: {e}"));
            assert!(metabase.text() == text, "{path}: set back with {back:?} changed the file");
        }
        // Every tenth key: a property that was absent, set and deleted.
        if at % 10 == 0 {
            let key = path.rsplit_once('/').map_or("", |(key, _)| key);
            let probe = format!("{key}/HarnessProbe");
            metabase.set(&probe, "x").unwrap_or_else(|e| panic!("set {probe}: {e}"));
            metabase.delete(&probe).unwrap_or_else(|e| panic!("delete {probe}: {e}"));
            assert!(metabase.text() == text, "{probe}: set and deleted changed the file");
        }
    }
}

/// Through the `adsutil` binary on a copy of each real file: one property of each type set
/// and set back (flags by number, as adsutil shows them, and by name), a flag property added
/// where it was absent and deleted, and a delete of an absent property: the file keeps every
/// byte, and each step keeps a History copy of what it replaced.
#[rstest]
fn real_metabases_round_trip_through_adsutil(#[files("data/real/iis6/*.xml")] path: PathBuf) {
    let original = std::fs::read(&path).expect("the real file");
    let (folder, metabase) = metabase_with(&original);
    let read = Metabase::read(&metabase).unwrap_or_else(|error| panic!("{error}"));
    let properties = every_property(&read);
    let mut edits = 0;
    for kind in kinds(&properties) {
        let (path, property) =
            properties.iter().find(|(_, p)| p.kind == kind).expect("a property of the kind");
        let (other, backs) = other_value_and_back(property);
        for back in backs {
            let set = adsutil(&metabase, &["set", path, &other]);
            assert_eq!(set.code, 0, "set {path} {other:?}: {}", set.stderr);
            let shown = adsutil(&metabase, &["get", path]);
            assert!(shown.stdout.starts_with(&format!("{}: ({kind}) ", pad(&property.name))));
            let back_run = adsutil(&metabase, &["set", path, &back]);
            assert_eq!(back_run.code, 0, "set {path} {back:?}: {}", back_run.stderr);
            assert_eq!(std::fs::read(&metabase).ok(), Some(original.clone()), "{path} {back:?}");
            edits += 2;
        }
    }

    // A flag property by names where it was absent, then deleted.
    let pools = "W3SVC/AppPools/AccessFlags";
    assert_eq!(adsutil(&metabase, &["get", pools]).code, 1, "absent in the real file");
    let set = adsutil(&metabase, &["set", pools, "AccessScript | AccessRead"]);
    assert_eq!(
        (set.code, set.stdout.as_str()),
        (0, format!("{}: (INTEGER) 513\n", pad("AccessFlags")).as_str())
    );
    let text = std::fs::read_to_string(&metabase).expect("UTF-8");
    assert!(text.contains("\t\tAccessFlags=\"AccessRead | AccessScript\"\n"), "by names");
    let deleted = adsutil(&metabase, &["delete", pools]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original.clone()));
    edits += 2;

    // Deleting what is not there writes nothing.
    let absent = adsutil(&metabase, &["delete", "W3SVC/AppPools/HarnessProbe"]);
    assert_eq!(absent.code, 1, "{}", absent.stdout);
    assert_eq!(std::fs::read(&metabase).ok(), Some(original.clone()));
    let history = folder_entries(&folder.path().join("History"));
    assert_eq!(history.len(), edits.min(10), "MaxHistoryFiles is 10 in the real file");
}

#[rstest]
fn a_real_metabase_shows_its_symbolic_flags_as_adsutil_does(
    #[files("data/real/iis6/modsic-*.xml")] path: PathBuf,
) {
    let (_folder, metabase) = metabase_with(&std::fs::read(&path).expect("the real file"));
    for (property, shown) in [
        // NotifyPreProcHeaders | NotifyOrderHigh (metabase line 896).
        ("W3SVC/Filters/URLSCAN/FilterFlags", "(INTEGER) 540672"),
        // AppPoolRecycleTime | AppPoolRecycleMemory | AppPoolRecyclePrivateMemory.
        ("W3SVC/AppPools/LogEventOnRecycle", "(INTEGER) 137"),
        ("W3SVC/1/ROOT/AccessFlags", "(INTEGER) 1"),
        ("W3SVC/PasswordChangeFlags", "(INTEGER) 6"),
        ("W3SVC/MD_ISM_ACCESS_CHECK", "(INTEGER) 65535"),
    ] {
        let run = adsutil(&metabase, &["get", property]);
        let name = property.rsplit('/').next().unwrap_or_default();
        assert_eq!((run.code, run.stdout), (0, format!("{}: {shown}\n", pad(name))), "{property}");
    }
}
