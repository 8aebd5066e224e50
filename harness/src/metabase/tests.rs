//! Unit tests of the metabase model: every formatting quirk the reader must accept, the
//! errors it must give, byte-faithful edits, aspnet_regiis and the atomic writer.

use std::path::Path;

use super::write::write_with;
use super::*;
use crate::arch::{Arch, Os};

const FILTER: &str = "ASP.NET_2.0.50727.0";

fn parse(text: &str) -> Metabase {
    match Metabase::parse(text, Path::new("metabase.xml")) {
        Ok(metabase) => metabase,
        Err(error) => panic!("the test document does not parse: {error}"),
    }
}

fn parse_error(text: &str) -> MetabaseError {
    match Metabase::parse(text, Path::new("metabase.xml")) {
        Ok(_) => panic!("the document parsed, but should not:\n{text}"),
        Err(error) => error,
    }
}

/// A small metabase in LF, without BOM or namespace, built from key elements.
fn lf_document(keys: &str) -> String {
    format!(
        "<?xml version =\"1.0\"?>\n<configuration>\n<MBProperty>\n{keys}</MBProperty>\n</configuration>\n"
    )
}

fn seed() -> Metabase {
    parse(SEED_METABASE)
}

fn set(metabase: &mut Metabase, path: &str, value: &str) {
    if let Err(error) = metabase.set(path, value) {
        panic!("set {path} {value}: {error}");
    }
}

fn get(metabase: &Metabase, path: &str) -> Property {
    match metabase.get(path) {
        Ok(Some(property)) => property,
        other => panic!("get {path}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

#[test]
fn the_seed_metabase_is_the_state_before_aspnet_regiis() {
    let metabase = seed();
    assert!(metabase.text().starts_with('\u{feff}'), "IIS writes a BOM");
    assert!(metabase.text().contains("\r\n"), "IIS writes CRLF");
    assert!(metabase.iis5_isolation_mode());
    assert!(!metabase.enable_32bit_app_on_win64());
    let filters = metabase.global_filters();
    assert_eq!(filters.len(), 1);
    assert_eq!(filters[0].name, FILTER);
    assert_eq!(
        filters[0].path.as_deref(),
        Some(r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_filter.dll")
    );
    assert!(filters[0].enabled && filters[0].key_exists);
    assert_eq!(metabase.app_pools(), ["DefaultAppPool"]);
}

#[test]
fn the_failing_fixture_is_the_seed_after_the_32_bit_aspnet_regiis() {
    let failing = include_str!("../../../tests/data/metabase/seed-failing.xml");
    let metabase = parse(failing);
    assert!(metabase.iis5_isolation_mode());
    assert!(metabase.enable_32bit_app_on_win64());
    assert_eq!(
        metabase.global_filters()[0].path.as_deref(),
        Some(r"d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll")
    );
}

#[test]
fn a_bom_crlf_document_with_iis_layout_is_read() {
    let text = "\u{feff}<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n<IIsWebService\tLocation =\"/LM/W3SVC\"\r\n\t\tIIs5IsolationModeEnabled=\"FALSE\"\r\n\t>\r\n</IIsWebService>\r\n</MBProperty>\r\n</configuration>\r\n";
    let metabase = parse(text);
    assert!(!metabase.iis5_isolation_mode());
    assert_eq!(get(&metabase, "W3SVC/IIs5IsolationModeEnabled").line, 5);
}

#[test]
fn a_document_without_namespace_or_bom_in_lf_is_read() {
    let metabase = parse(&lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\" IIs5IsolationModeEnabled=\"0\">\n</IIsWebService>\n",
    ));
    assert!(!metabase.iis5_isolation_mode());
}

#[test]
fn the_iis_5_1_namespace_is_read() {
    let text = "<?xml version =\"1.0\"?>\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V54_0\">\n<MBProperty>\n<IIsWebService\tLocation =\"/LM/W3SVC\"\n\t>\n</IIsWebService>\n</MBProperty>\n</configuration>\n";
    assert!(parse(text).iis5_isolation_mode());
}

#[test]
fn an_unknown_namespace_is_refused_at_its_line() {
    let text = "<?xml version =\"1.0\"?>\n<configuration\n\txmlns=\"urn:example\">\n<MBProperty>\n</MBProperty>\n</configuration>\n";
    let error = parse_error(text);
    assert_eq!(error.line(), Some(3));
    assert!(error.to_string().contains("unknown namespace \"urn:example\""), "{error}");
}

#[test]
fn absent_isolation_mode_means_iis5_mode_by_schema_default() {
    let metabase =
        parse(&lf_document("<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n"));
    assert!(metabase.iis5_isolation_mode());
}

#[test]
fn multi_line_values_are_lists_of_items() {
    let metabase = seed();
    let script_maps = get(&metabase, "W3SVC/ScriptMaps");
    assert_eq!(script_maps.kind, PropertyKind::List);
    assert_eq!(script_maps.items().len(), 3);
    assert_eq!(
        script_maps.items()[0],
        r".asp,d:\WINDOWS\system32\inetsrv\asp.dll,5,GET,HEAD,POST,TRACE"
    );
    let extensions = get(&metabase, "W3SVC/Filters/Compression/gzip/HcFileExtensions");
    assert_eq!(extensions.items(), ["htm", "html", "txt"]);
}

#[test]
fn custom_children_are_properties_by_name() {
    let metabase = seed();
    // MBSchema makes ServerConfigFlags a flag property (ServerConfigSSL40 = 1); the file
    // writes it as a number, which reads as the same bits.
    let flags = get(&metabase, "W3SVC/Info/ServerConfigFlags");
    assert_eq!(flags.kind, PropertyKind::Flags);
    assert_eq!((flags.value.as_str(), flags.as_flags()), ("1", Some(1)));
    let names: Vec<String> = metabase
        .enumerate("W3SVC/Info")
        .map(|e| e.properties.into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
    assert_eq!(names, ["KeyType", "AdminServer", "ServerConfigFlags"]);
}

#[test]
fn paths_are_case_insensitive_and_the_lm_prefix_is_optional() {
    let metabase = seed();
    let expected = get(&metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath");
    for spelling in [
        "/LM/W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath",
        "LM/w3svc/filters/asp.net_2.0.50727.0/filterpath",
        "w3svc/FILTERS/ASP.NET_2.0.50727.0/FILTERPATH",
        "IIS://LocalHost/W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath",
    ] {
        assert_eq!(get(&metabase, spelling), expected, "{spelling}");
    }
    // The site's Filters key is written `filters` in the file.
    assert_eq!(get(&metabase, "W3SVC/1/Filters/KeyType").value, "IIsFilters");
}

#[test]
fn enable_32bit_is_read_at_apppools_then_inherited_from_w3svc() {
    let with = |w3svc: &str, pools: &str| {
        parse(&lf_document(&format!(
            "<IIsWebService Location=\"/LM/W3SVC\" {w3svc}>\n</IIsWebService>\n<IIsApplicationPools Location=\"/LM/W3SVC/AppPools\" {pools}>\n</IIsApplicationPools>\n"
        )))
        .enable_32bit_app_on_win64()
    };
    assert!(!with("", ""), "absent means 64-bit workers");
    assert!(with("Enable32BitAppOnWin64=\"TRUE\"", ""), "inherited from /LM/W3SVC");
    assert!(
        !with("Enable32BitAppOnWin64=\"TRUE\"", "Enable32BitAppOnWin64=\"FALSE\""),
        "AppPools wins"
    );
    assert!(with("", "Enable32BitAppOnWin64=\"1\""));
    assert!(!with("", "Enable32BitAppOnWin64=\"0\""));
}

#[test]
fn filter_load_order_trims_blanks_skips_empty_items_and_non_filters() {
    let metabase = parse(&lf_document(concat!(
        "<IIsFilters Location=\"/LM/W3SVC/Filters\"\n",
        "\t\tFilterLoadOrder=\" Compression , ASP.NET_2.0.50727.0,, Missing \"\n",
        "\t>\n</IIsFilters>\n",
        "<IIsFilter Location=\"/LM/W3SVC/Filters/asp.net_2.0.50727.0\"\n",
        "\t\tFilterEnabled=\"FALSE\"\n",
        "\t\tFilterPath=\"C:\\f.dll\"\n",
        "\t>\n</IIsFilter>\n",
        "<IIsConfigObject Location=\"/LM/W3SVC/Filters/Compression\">\n</IIsConfigObject>\n",
        "<IIsCompressionScheme Location=\"/LM/W3SVC/Filters/Compression/gzip\">\n</IIsCompressionScheme>\n",
    )));
    let filters = metabase.global_filters();
    let names: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Compression", FILTER, "Missing"]);
    assert_eq!(
        (filters[0].path.as_deref(), filters[0].key_exists),
        (None, true),
        "Compression is no filter"
    );
    assert_eq!(filters[1].path.as_deref(), Some(r"C:\f.dll"));
    assert!(!filters[1].enabled, "FilterEnabled FALSE");
    assert_eq!(filters[1].line, 8);
    assert_eq!((filters[2].key_exists, filters[2].line, filters[2].enabled), (false, 5, true));
}

#[test]
fn app_pools_and_rapid_fail_protection_are_inherited() {
    let metabase =
        parse(include_str!("../../../tests/data/metabase/worker-process-64bit-site-filter.xml"));
    assert_eq!(metabase.app_pools(), ["DefaultAppPool", "Reports"]);
    assert_eq!(
        metabase.rapid_fail("Reports"),
        RapidFail { enabled: true, max_crashes: 3, interval_minutes: 10 }
    );
    assert_eq!(
        metabase.rapid_fail("defaultapppool"),
        RapidFail { enabled: true, max_crashes: 5, interval_minutes: 5 }
    );
    let off = parse(&lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\" RapidFailProtection=\"FALSE\" RapidFailProtectionMaxCrashes=\"9\">\n</IIsWebService>\n",
    ));
    assert_eq!(off.app_pools(), ["DefaultAppPool"]);
    assert_eq!(
        off.rapid_fail("DefaultAppPool"),
        RapidFail { enabled: false, max_crashes: 9, interval_minutes: 5 }
    );
}

#[test]
fn entities_are_decoded_when_read_and_escaped_when_written() {
    let mut metabase = parse(&lf_document(
        "<IIsFilter Location=\"/LM/W3SVC/Filters/X\"\n\t\tFilterDescription=\"a &quot;b&quot; &amp; &lt;c&gt;\"\n\t>\n</IIsFilter>\n",
    ));
    assert_eq!(get(&metabase, "W3SVC/Filters/X/FilterDescription").value, "a \"b\" & <c>");
    set(&mut metabase, "W3SVC/Filters/X/FilterDescription", "x & \"y\" <z>");
    assert!(
        metabase.text().contains("FilterDescription=\"x &amp; &quot;y&quot; &lt;z>\""),
        "{}",
        metabase.text()
    );
    assert_eq!(get(&metabase, "W3SVC/Filters/X/FilterDescription").value, "x & \"y\" <z>");
}

#[test]
fn a_bad_boolean_is_refused_with_file_line_and_advice() {
    let text = lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\"\n\t\tIIs5IsolationModeEnabled=\"MAYBE\"\n\t>\n</IIsWebService>\n",
    );
    assert_eq!(
        parse_error(&text).to_string(),
        "metabase.xml:5: IIs5IsolationModeEnabled=\"MAYBE\" is not a Boolean; write TRUE or FALSE"
    );
}

#[test]
fn malformed_documents_name_their_line() {
    let cases: [(&str, usize, &str); 6] = [
        (
            "<IIsFilter Location=\"/LM/W3SVC/Filters/X\"\n\t\tFilterFlags=\"lots\"\n\t>\n</IIsFilter>\n",
            5,
            "names lots, which is not a flag of FilterFlags",
        ),
        ("<IIsFilter\n\t\tFilterPath=\"x\"\n\t>\n</IIsFilter>\n", 4, "has no Location"),
        (
            "<IIsFilter Location=\"/LM/W3SVC/Filters/X\">\n</IIsFilter>\n<IIsFilter Location=\"/lm/w3svc/filters/x\">\n</IIsFilter>\n",
            6,
            "written twice (also on line 4)",
        ),
        (
            "<IIsFilter Location=\"/LM/W3SVC/Filters/X\">\n<IIsFilter Location=\"/LM/W3SVC/Filters/Y\">\n</IIsFilter>\n",
            5,
            "is inside key",
        ),
        (
            "<IIsFilter Location=\"/LM/W3SVC/Filters/X\">\n</MBProperty>\n",
            4,
            "<IIsFilter> is never closed",
        ),
        (
            "<IIsWebService Location=\"/LM/W3SVC\" FilterLoadOrder=\"X\">\n</IIsWebService>\n",
            4,
            "not a Filters key",
        ),
    ];
    for (keys, line, what) in cases {
        let error = parse_error(&lf_document(keys));
        assert_eq!(error.line(), Some(line), "{error}");
        assert!(error.to_string().contains(what), "{error}");
        assert_eq!(error.kind(), MetabaseErrorKind::Malformed);
    }
}

// ---------------------------------------------------------------------------------------------
// Editing

#[test]
fn set_then_set_back_gives_the_same_bytes_in_a_crlf_bom_file() {
    let original = seed();
    let mut metabase = original.clone();
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "0");
    assert!(!metabase.iis5_isolation_mode());
    assert_ne!(metabase.text(), original.text());
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "TRUE");
    set(&mut metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath", r"C:\other.dll");
    set(
        &mut metabase,
        "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterPath",
        r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_filter.dll",
    );
    // Adding a property and deleting it again must also leave no trace.
    set(&mut metabase, "W3SVC/AppPools/Enable32BitAppOnWin64", "1");
    assert!(metabase.enable_32bit_app_on_win64());
    assert!(metabase.delete("W3SVC/AppPools/Enable32BitAppOnWin64").is_ok());
    assert_eq!(metabase.text(), original.text());
}

#[test]
fn set_then_set_back_gives_the_same_bytes_in_an_lf_file_without_namespace() {
    let text = lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\"\n\tIIs5IsolationModeEnabled=\"FALSE\"\n\tScriptMaps=\".a,x.dll\n\t\t.b,y.dll\">\n</IIsWebService>\n",
    );
    let mut metabase = parse(&text);
    set(&mut metabase, "w3svc/iis5isolationmodeenabled", "1");
    set(&mut metabase, "w3svc/ScriptMaps", ".c,z.dll");
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "false");
    set(&mut metabase, "W3SVC/ScriptMaps", ".a,x.dll\n.b,y.dll");
    assert_eq!(metabase.text(), text);
}

#[test]
fn a_new_attribute_is_written_on_its_own_line_before_the_closing_bracket() {
    let mut metabase = seed();
    set(&mut metabase, "W3SVC/AppPools/Enable32BitAppOnWin64", "1");
    assert!(metabase.text().contains(
        "\t\tPeriodicRestartTime=\"1740\"\r\n\t\tEnable32BitAppOnWin64=\"TRUE\"\r\n\t>\r\n</IIsApplicationPools>\r\n"
    ));
    // Nothing else changed: the new text is the old text with exactly that line inserted.
    let line = "\t\tEnable32BitAppOnWin64=\"TRUE\"\r\n";
    assert_eq!(metabase.text().replacen(line, "", 1), SEED_METABASE);
}

#[test]
fn a_new_attribute_after_a_same_line_bracket_goes_on_a_new_line() {
    let mut metabase =
        parse(&lf_document("<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n"));
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "0");
    assert!(metabase.text().contains(
        "<IIsWebService Location=\"/LM/W3SVC\"\n\t\tIIs5IsolationModeEnabled=\"FALSE\">\n"
    ));
}

#[test]
fn a_new_filter_key_is_written_in_iis_style_after_the_filters_subtree() {
    let mut metabase = seed();
    set(&mut metabase, "W3SVC/Filters/Rewriter/FilterPath", r"C:\rewrite.dll");
    let block = "</IIsCompressionScheme>\r\n<IIsFilter\tLocation =\"/LM/W3SVC/Filters/Rewriter\"\r\n\t\tFilterPath=\"C:\\rewrite.dll\"\r\n\t>\r\n</IIsFilter>\r\n<IIsConfigObject\tLocation =\"/LM/W3SVC/Info\"";
    assert!(metabase.text().contains(block), "{}", metabase.text());
    // Not in FilterLoadOrder, so IIS would not load it.
    assert_eq!(metabase.global_filters().len(), 1);
}

#[test]
fn a_new_app_pool_key_is_created_and_listed() {
    let mut metabase = seed();
    set(&mut metabase, "W3SVC/AppPools/Reports/RapidFailProtectionMaxCrashes", "2");
    assert_eq!(metabase.app_pools(), ["DefaultAppPool", "Reports"]);
    assert_eq!(metabase.rapid_fail("Reports").max_crashes, 2);
    assert_eq!(get(&metabase, "W3SVC/AppPools/Reports/KeyType").value, "IIsApplicationPool");
}

#[test]
fn missing_parent_keys_are_created_with_the_filter() {
    let mut metabase =
        parse(&lf_document("<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n"));
    set(&mut metabase, "W3SVC/Filters/F/FilterPath", "f.dll");
    assert!(metabase.text().contains(concat!(
        "</IIsWebService>\n<IIsFilters\tLocation =\"/LM/W3SVC/Filters\"\n\t>\n</IIsFilters>\n",
        "<IIsFilter\tLocation =\"/LM/W3SVC/Filters/F\"\n\t\tFilterPath=\"f.dll\"\n\t>\n</IIsFilter>\n</MBProperty>"
    )));
}

#[test]
fn other_missing_keys_are_refused() {
    let mut metabase = seed();
    let error = metabase.set("W3SVC/7/ServerAutoStart", "1").err();
    let error = error.map(|e| (e.kind(), e.to_string()));
    assert!(
        matches!(&error, Some((MetabaseErrorKind::Refused, text)) if text.contains("key /LM/W3SVC/7 does not exist; create it")),
        "{error:?}"
    );
    assert_eq!(metabase.text(), SEED_METABASE);
}

#[test]
fn values_are_checked_and_normalised_by_type() {
    let mut metabase = seed();
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "false");
    assert!(metabase.text().contains("IIs5IsolationModeEnabled=\"FALSE\""));
    set(&mut metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags", "0x28000");
    assert_eq!(
        get(&metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags").value,
        "NotifyReadRawData | NotifyOrderLow"
    );
    let before = metabase.text().to_string();
    for (path, value) in [
        ("W3SVC/IIs5IsolationModeEnabled", "maybe"),
        ("W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags", "lots"),
        ("W3SVC/AccessFlags", "AccessRead |"),
        ("W3SVC/Location", "/x"),
        ("W3SVC/FilterLoadOrder", "X"),
        ("W3SVC/Bad Name", "x"),
    ] {
        let refused = metabase.set(path, value).err().map(|e| e.kind());
        assert_eq!(refused, Some(MetabaseErrorKind::Refused), "{path} {value}");
    }
    assert_eq!(metabase.text(), before, "refused edits change nothing");
}

#[test]
fn get_tells_a_missing_property_from_a_missing_key() {
    let metabase = seed();
    assert!(matches!(metabase.get("W3SVC/AppPools/Enable32BitAppOnWin64"), Ok(None)));
    let missing = metabase.get("W3SVC/99/ServerAutoStart").err().map(|e| e.kind());
    assert_eq!(missing, Some(MetabaseErrorKind::PathNotFound));
    // An unknown property on an existing key: set is allowed, as an attribute.
    let mut metabase = metabase;
    set(&mut metabase, "W3SVC/MyOwnSetting", "hello");
    assert_eq!(
        get(&metabase, "W3SVC/myownsetting").adsutil_line(),
        format!("{:<32}: (STRING) \"hello\"", "MyOwnSetting")
    );
}

#[test]
fn custom_properties_are_edited_in_place() {
    let mut metabase = seed();
    set(&mut metabase, "W3SVC/Info/ServerConfigFlags", "0");
    assert!(
        metabase
            .text()
            .contains("\t\tName=\"ServerConfigFlags\"\r\n\t\tID=\"1027\"\r\n\t\tValue=\"0\"\r\n")
    );
    assert!(metabase.delete("W3SVC/Info/ServerConfigFlags").is_ok());
    assert!(!metabase.text().contains("<Custom"));
    assert!(metabase.text().contains("\t\tAdminServer=\"2\"\r\n\t>\r\n</IIsConfigObject>"));
}

#[test]
fn deleting_a_key_deletes_its_subtree() {
    let mut metabase = seed();
    assert!(metabase.delete("W3SVC/Filters/Compression").is_ok());
    assert!(!metabase.text().contains("Compression"));
    let children = metabase.enumerate("W3SVC/Filters").map(|e| e.children).unwrap_or_default();
    assert_eq!(children, ["/w3svc/Filters/ASP.NET_2.0.50727.0"]);
    assert!(
        metabase.text().contains("</IIsFilter>\r\n<IIsConfigObject\tLocation =\"/LM/W3SVC/Info\"")
    );
    let not_set = metabase.delete("W3SVC/Filters/NoSuchProperty").err().map(|e| e.kind());
    assert_eq!(not_set, Some(MetabaseErrorKind::NotSet));
}

#[test]
fn enumerate_prints_like_adsutil() {
    let lines = seed().enumerate("w3svc/filters").map(|e| e.adsutil_lines()).unwrap_or_default();
    assert_eq!(
        lines,
        [
            "KeyType                         : (STRING) \"IIsFilters\"".to_string(),
            format!(
                "AdminACL                        : (STRING) \"{}\"",
                "496344b0000000002c000000000000001400000002001800010000000000140003000000010100000000000512000000"
            ),
            "FilterLoadOrder                 : (STRING) \"ASP.NET_2.0.50727.0\"".to_string(),
            String::new(),
            "[/w3svc/Filters/ASP.NET_2.0.50727.0]".to_string(),
            "[/w3svc/Filters/Compression]".to_string(),
        ]
    );
}

#[test]
fn properties_print_like_adsutil() {
    let metabase = seed();
    assert_eq!(
        get(&metabase, "W3SVC/IIs5IsolationModeEnabled").adsutil_line(),
        "IIs5IsolationModeEnabled        : (BOOLEAN) True"
    );
    assert_eq!(
        get(&metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterFlags").adsutil_line(),
        "FilterFlags                     : (INTEGER) 131072"
    );
    assert_eq!(
        get(&metabase, "W3SVC/InProcessIsapiApps").adsutil_line(),
        concat!(
            "InProcessIsapiApps              : (LIST) (4 Items)\n",
            "  \"d:\\WINDOWS\\system32\\inetsrv\\httpext.dll\"\n",
            "  \"d:\\WINDOWS\\system32\\inetsrv\\httpodbc.dll\"\n",
            "  \"d:\\WINDOWS\\system32\\inetsrv\\ssinc.dll\"\n",
            "  \"d:\\WINDOWS\\system32\\msw3prt.dll\"",
        )
    );
}

// ---------------------------------------------------------------------------------------------
// aspnet_regiis

/// Runs `aspnet_regiis -i` on x64 with IIS set to the tool's own bitness first (the real tool
/// refuses otherwise; see `aspnet_regiis_refuses_the_other_bitness`).
fn install(metabase: &mut Metabase, framework: Arch, enable: bool) -> Vec<String> {
    set_iis_bitness_for(metabase, framework);
    match aspnet_regiis_install(metabase, framework, r"d:\WINDOWS", enable, Os::X64) {
        Ok(changes) => changes,
        Err(error) => panic!("aspnet_regiis: {error}"),
    }
}

/// `Enable32bitAppOnWin64` as the tool of `framework` needs it: 1 for the 32-bit one, absent
/// (false) for the 64-bit one, so that switching back restores a file that never had it.
fn set_iis_bitness_for(metabase: &mut Metabase, framework: Arch) {
    let path = "W3SVC/AppPools/Enable32bitAppOnWin64";
    match framework {
        Arch::X86 if !metabase.enable_32bit_app_on_win64() => metabase.set(path, "1").unwrap(),
        Arch::Amd64 if metabase.enable_32bit_app_on_win64() => metabase.delete(path).unwrap(),
        _ => {}
    }
}

#[test]
fn aspnet_regiis_from_framework_registers_the_32_bit_filter_and_extension() {
    let mut metabase = seed();
    let changes = install(&mut metabase, Arch::X86, true);
    assert_eq!(changes.len(), 3, "{changes:?}");
    let filters = metabase.global_filters();
    assert_eq!(filters.len(), 1);
    assert_eq!(
        filters[0].path.as_deref(),
        Some(r"d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll")
    );
    let extensions = get(&metabase, "W3SVC/WebSvcExtRestrictionList").items();
    assert_eq!(
        extensions[3],
        r"1,d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll,0,ASP.NET v2.0.50727,ASP.NET v2.0.50727"
    );
    // The root's ASP.NET script maps follow the tool; ASP's stays.
    assert_eq!(
        get(&metabase, "W3SVC/ScriptMaps").items(),
        [
            r".asp,d:\WINDOWS\system32\inetsrv\asp.dll,5,GET,HEAD,POST,TRACE",
            r".aspx,d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG",
            r".asmx,d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG",
        ]
    );
    // Running it again changes nothing; running the 64-bit one restores the seed exactly.
    assert!(install(&mut metabase, Arch::X86, true).is_empty());
    install(&mut metabase, Arch::Amd64, true);
    assert_eq!(metabase.text(), SEED_METABASE);
}

#[test]
fn aspnet_regiis_rewrites_older_script_maps_below_the_root_and_leaves_later_ones() {
    let mut metabase = parse(&lf_document(concat!(
        "<IIsWebService Location=\"/LM/W3SVC\"\n\t\tScriptMaps=\".aspx,C:\\WINDOWS\\Microsoft.NET\\Framework64\\v2.0.50727\\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG\"\n\t>\n</IIsWebService>\n",
        "<IIsWebVirtualDir Location=\"/LM/W3SVC/1/ROOT/old\"\n\t\tScriptMaps=\".aspx,C:\\WINDOWS\\Microsoft.NET\\Framework\\v1.1.4322\\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG\n\t\t.php,C:\\php\\php5isapi.dll,5\"\n\t>\n</IIsWebVirtualDir>\n",
        "<IIsWebVirtualDir Location=\"/LM/W3SVC/1/ROOT/new\"\n\t\tScriptMaps=\".aspx,C:\\WINDOWS\\Microsoft.NET\\Framework64\\v4.0.30319\\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG\"\n\t>\n</IIsWebVirtualDir>\n",
    )));
    metabase.set("W3SVC/AppPools/Enable32bitAppOnWin64", "1").unwrap();
    let changes =
        aspnet_regiis_install(&mut metabase, Arch::X86, r"C:\WINDOWS", false, Os::X64).unwrap();
    let ours = r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll";
    assert_eq!(
        get(&metabase, "W3SVC/ScriptMaps").items(),
        [format!(".aspx,{ours},1,GET,HEAD,POST,DEBUG")]
    );
    assert_eq!(
        get(&metabase, "W3SVC/1/ROOT/old/ScriptMaps").items(),
        [format!(".aspx,{ours},1,GET,HEAD,POST,DEBUG"), r".php,C:\php\php5isapi.dll,5".to_owned()]
    );
    assert!(
        get(&metabase, "W3SVC/1/ROOT/new/ScriptMaps").value.contains("v4.0.30319"),
        "a later ASP.NET keeps its maps"
    );
    // Without -enable the extension is listed, not allowed.
    assert_eq!(
        get(&metabase, "W3SVC/WebSvcExtRestrictionList").items(),
        [format!("0,{ours},0,ASP.NET v2.0.50727,ASP.NET v2.0.50727")]
    );
    assert!(changes.iter().any(|change| change.contains("/LM/W3SVC/1/ROOT/old")), "{changes:?}");
}

/// Under IIS 6.0 on x64 each aspnet_regiis runs only while IIS runs worker processes of its own
/// bitness (the ASP.NET IIS Registration Tool page for .NET 3.5); a refusal changes nothing.
#[test]
fn aspnet_regiis_refuses_the_other_bitness() {
    let mut metabase = seed();
    let before = metabase.text().to_string();
    let kind = |result: Result<Vec<String>, MetabaseError>| result.err().map(|e| e.kind());
    let refused = aspnet_regiis_install(&mut metabase, Arch::X86, r"d:\WINDOWS", true, Os::X64);
    assert_eq!(kind(refused), Some(MetabaseErrorKind::ToolRefused), "32-bit tool, 64-bit IIS");
    assert_eq!(metabase.text(), before);
    metabase.set("W3SVC/AppPools/Enable32bitAppOnWin64", "1").unwrap();
    let before = metabase.text().to_string();
    let refused = aspnet_regiis_install(&mut metabase, Arch::Amd64, r"d:\WINDOWS", true, Os::X64);
    assert_eq!(kind(refused), Some(MetabaseErrorKind::ToolRefused), "64-bit tool, 32-bit IIS");
    assert_eq!(metabase.text(), before);
    // 32-bit Windows has no gate and no Framework64.
    let mut x86 = seed();
    aspnet_regiis_install(&mut x86, Arch::X86, r"d:\WINDOWS", true, Os::X86).unwrap();
    let no_tool = aspnet_regiis_install(&mut x86, Arch::Amd64, r"d:\WINDOWS", true, Os::X86);
    assert_eq!(kind(no_tool), Some(MetabaseErrorKind::Refused));
}

#[test]
fn aspnet_regiis_creates_what_is_missing() {
    let mut metabase =
        parse(&lf_document("<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n"));
    install(&mut metabase, Arch::Amd64, true);
    let filters = metabase.global_filters();
    assert_eq!(filters.len(), 1);
    assert_eq!(filters[0].name, FILTER);
    assert_eq!(get(&metabase, "W3SVC/Filters/ASP.NET_2.0.50727.0/FilterDescription").value, FILTER);
    assert_eq!(get(&metabase, "W3SVC/WebSvcExtRestrictionList").items().len(), 1);
}

#[test]
fn aspnet_regiis_lists_the_filter_exactly_once() {
    let mut metabase = parse(&lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n<IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"ASP.NET_2.0.50727.0,Other, asp.net_2.0.50727.0\">\n</IIsFilters>\n",
    ));
    install(&mut metabase, Arch::X86, false);
    assert_eq!(get(&metabase, "W3SVC/Filters/FilterLoadOrder").value, "ASP.NET_2.0.50727.0,Other");
    let mut appended = parse(&lf_document(
        "<IIsWebService Location=\"/LM/W3SVC\">\n</IIsWebService>\n<IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"Other,\">\n</IIsFilters>\n",
    ));
    install(&mut appended, Arch::X86, false);
    assert_eq!(get(&appended, "W3SVC/Filters/FilterLoadOrder").value, "Other,ASP.NET_2.0.50727.0");
}

#[test]
fn aspnet_regiis_enable_needs_the_web_service_key() {
    let mut metabase = parse(&lf_document("<IIsComputer Location=\"/LM\">\n</IIsComputer>\n"));
    let before = metabase.text().to_string();
    let refused = aspnet_regiis_install(&mut metabase, Arch::X86, r"C:\WINDOWS", true, Os::X86)
        .err()
        .map(|e| e.kind());
    assert_eq!(refused, Some(MetabaseErrorKind::Refused));
    assert_eq!(metabase.text(), before, "a failed install leaves the metabase as it was");
}

// ---------------------------------------------------------------------------------------------
// Writing

#[test]
fn writes_are_atomic_and_keep_history() -> Result<(), Box<dyn std::error::Error>> {
    let folder = tempfile::tempdir()?;
    let target = folder.path().join("MetaBase.xml");
    std::fs::write(&target, SEED_METABASE)?;
    let mut metabase = Metabase::read(&target)?;
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "0");
    metabase.write_atomically(&target)?;
    assert_eq!(std::fs::read_to_string(&target)?, metabase.text());
    let first = folder.path().join("History").join("metabase_0000000001.xml");
    assert_eq!(std::fs::read_to_string(&first)?, SEED_METABASE);

    // Writing the same text again is not a change and makes no History copy.
    metabase.write_atomically(&target)?;
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "1");
    metabase.write_atomically(&target)?;
    let history: Vec<_> = std::fs::read_dir(folder.path().join("History"))?.collect();
    assert_eq!(history.len(), 2);
    assert_eq!(std::fs::read_to_string(&target)?, SEED_METABASE);
    Ok(())
}

#[test]
fn an_interrupted_write_leaves_the_old_file_whole() -> Result<(), Box<dyn std::error::Error>> {
    let folder = tempfile::tempdir()?;
    let target = folder.path().join("MetaBase.xml");
    std::fs::write(&target, SEED_METABASE)?;
    let mut metabase = Metabase::read(&target)?;
    set(&mut metabase, "W3SVC/IIs5IsolationModeEnabled", "0");
    let error = write_with(metabase.text().as_bytes(), &target, Some(100), 10).err();
    assert_eq!(error.map(|e| e.kind()), Some(MetabaseErrorKind::Io));
    assert_eq!(std::fs::read_to_string(&target)?, SEED_METABASE);
    let left: Vec<_> =
        std::fs::read_dir(folder.path())?.filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("MetaBase.xml")], "no temporary file, no History");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Flag properties, and the properties the model reads

/// The kept real MBSchema.xml, the source of the flag table.
fn real_schema() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/real/iis6/schema/modsic-mbschema-sample.xml");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The value of `name="..."` in one line of MBSchema.xml (which writes `InternalName ="x"`).
fn schema_attribute<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let at = line
        .find(&format!("{name} =\""))
        .map(|at| at + name.len() + 3)
        .or_else(|| line.find(&format!("{name}=\"")).map(|at| at + name.len() + 2))?;
    line[at..].split('"').next()
}

#[test]
fn the_flag_table_is_the_real_schema_s_every_flag_in_its_order() {
    let mut from_schema: Vec<(String, Vec<(String, u32)>)> = Vec::new();
    let mut property = None;
    for line in real_schema().lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("<Property") {
            property = schema_attribute(trimmed, "InternalName").map(str::to_string);
        } else if trimmed.starts_with("<Flag") {
            let name = schema_attribute(trimmed, "InternalName").expect("a flag name");
            let value = schema_attribute(trimmed, "Value").and_then(schema::parse_u32);
            let owner = property.clone().expect("a flag inside a property");
            if from_schema.last().is_none_or(|(last, _)| *last != owner) {
                from_schema.push((owner, Vec::new()));
            }
            if let Some((_, flags)) = from_schema.last_mut() {
                flags.push((name.to_string(), value.expect("a flag value")));
            }
        }
    }
    let table: Vec<(String, Vec<(String, u32)>)> = flags::FLAG_TABLES
        .iter()
        .map(|table| {
            let flags = table.flags.iter().map(|(name, value)| (name.to_string(), *value));
            (table.property.to_string(), flags.collect())
        })
        .collect();
    assert_eq!(table, from_schema);
    assert_eq!(table.iter().map(|(_, flags)| flags.len()).sum::<usize>(), 84);
}

#[test]
fn flag_values_read_by_name_with_any_spacing_case_or_numbers() {
    let filter = |flags: &str| {
        let text = lf_document(&format!(
            "<IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"F\">\n</IIsFilters>\n<IIsFilter Location=\"/LM/W3SVC/Filters/F\"\n\t\tFilterFlags=\"{flags}\"\n\t>\n</IIsFilter>\n"
        ));
        parse(&text).global_filters()[0].recorded_flags
    };
    assert_eq!(filter("NotifyPreProcHeaders | NotifyOrderHigh"), 0x4000 | 0x8_0000);
    assert_eq!(filter("NotifyPreProcHeaders|NotifyOrderHigh"), 0x8_4000);
    assert_eq!(filter("NotifyPreProcHeaders |\n\t\t\tNotifyOrderHigh"), 0x8_4000, "over two lines");
    assert_eq!(filter("notifyreadrawdata | NOTIFYORDERLOW"), 0x8000 | 0x2_0000);
    assert_eq!(filter("131072"), 0x2_0000);
    assert_eq!(filter("0x8000 | NotifyOrderLow"), 0x2_8000);
    assert_eq!(filter("0"), 0);
    let absent = lf_document(
        "<IIsFilters Location=\"/LM/W3SVC/Filters\" FilterLoadOrder=\"F\">\n</IIsFilters>\n<IIsFilter Location=\"/LM/W3SVC/Filters/F\">\n</IIsFilter>\n",
    );
    assert_eq!(parse(&absent).global_filters()[0].recorded_flags, 0, "the schema default");
}

#[test]
fn an_unknown_flag_in_a_property_the_model_reads_is_refused_with_the_known_names() {
    let text = lf_document(
        "<IIsFilter Location=\"/LM/W3SVC/Filters/F\"\n\t\tFilterPath=\"f.dll\"\n\t\tFilterFlags=\"NotifyPreProcHeaders | NotifyEverything\"\n\t>\n</IIsFilter>\n",
    );
    let error = parse_error(&text);
    assert_eq!(error.line(), Some(6));
    assert_eq!(
        error.to_string(),
        "metabase.xml:6: FilterFlags=\"NotifyPreProcHeaders | NotifyEverything\" names NotifyEverything, which is not a flag of FilterFlags; write a number or flag names joined by \" | \"; the flags of FilterFlags are NotifySecurePort, NotifyNonSecurePort, NotifyReadRawData, NotifyPreProcHeaders, NotifyAuthentication, NotifyUrlMap, NotifyAccessDenied, NotifySendResponse, NotifySendRawData, NotifyLog, NotifyEndOfRequest, NotifyEndOfNetSession, NotifyOrderHigh, NotifyOrderMedium, NotifyOrderLow, NotifyAuthComplete"
    );
    let empty = lf_document(
        "<IIsFilter Location=\"/LM/W3SVC/Filters/F\"\n\t\tFilterFlags=\"NotifyLog |\"\n\t>\n</IIsFilter>\n",
    );
    assert!(parse_error(&empty).to_string().contains("has an empty flag between bars"));
}

#[test]
fn properties_the_model_does_not_read_pass_through_whatever_they_hold() {
    let text = lf_document(concat!(
        "<IIsWebService Location=\"/LM/W3SVC\"\n",
        "\t\tAccessFlags=\"AccessRead | AccessTeleport\"\n",
        "\t\tAppPoolIdentityType=\"two\"\n",
        "\t\tAppPoolAutoStart=\"perhaps\"\n",
        "\t\tLogExtFileFlags=\"LogExtFileDate | 0x40000000\"\n",
        "\t>\n",
        "\t<Custom Name=\"UnknownName_9999\" ID=\"9999\" Value=\"not a DWORD\" Type=\"DWORD\" UserType=\"IIS_MD_UT_SERVER\" Attributes=\"NO_ATTRIBUTES\"/>\n",
        "</IIsWebService>\n",
    ));
    let metabase = parse(&text);
    assert_eq!(metabase.text(), text);
    let access = get(&metabase, "W3SVC/AccessFlags");
    assert_eq!((access.kind, access.as_flags()), (PropertyKind::Flags, None));
    assert_eq!(
        access.adsutil_line(),
        format!("{:<32}: (INTEGER) AccessRead | AccessTeleport", "AccessFlags")
    );
    assert_eq!(get(&metabase, "W3SVC/AppPoolIdentityType").value, "two");
    assert_eq!(
        get(&metabase, "W3SVC/AppPoolAutoStart").adsutil_line(),
        format!("{:<32}: (BOOLEAN) perhaps", "AppPoolAutoStart")
    );
    assert_eq!(
        get(&metabase, "W3SVC/LogExtFileFlags").as_flags(),
        Some(0x4000_0001),
        "a bit with no name reads by number"
    );
    assert_eq!(get(&metabase, "W3SVC/UnknownName_9999").value, "not a DWORD");
    for read in schema::MODEL_READS {
        assert!(schema::is_read_by_model(&read.to_lowercase()), "{read}");
    }
    assert!(!schema::is_read_by_model("AccessFlags"));
}

#[test]
fn adsutil_shows_a_flag_value_as_its_number_whatever_the_file_writes() {
    let text = lf_document(
        "<IIsWebVirtualDir Location=\"/LM/W3SVC/1/ROOT\"\n\t\tAccessFlags=\"AccessRead | AccessScript\"\n\t\tAuthFlags=\"AuthBasic | AuthNTLM | AuthMD5\"\n\t\tDirBrowseFlags=\"0\"\n\t>\n</IIsWebVirtualDir>\n",
    );
    let metabase = parse(&text);
    let line = |name: &str| get(&metabase, &format!("W3SVC/1/ROOT/{name}")).adsutil_line();
    assert_eq!(line("AccessFlags"), format!("{:<32}: (INTEGER) 513", "AccessFlags"));
    assert_eq!(line("AuthFlags"), format!("{:<32}: (INTEGER) 22", "AuthFlags"));
    assert_eq!(line("dirbrowseflags"), format!("{:<32}: (INTEGER) 0", "DirBrowseFlags"));
}

#[test]
fn a_flag_value_is_set_by_names_or_number_in_the_form_the_file_writes_it() {
    let text = lf_document(
        "<IIsWebVirtualDir Location=\"/LM/W3SVC/1/ROOT\"\n\t\tAccessFlags=\"AccessRead | AccessScript\"\n\t\tAuthFlags=\"22\"\n\t>\n</IIsWebVirtualDir>\n",
    );
    let mut metabase = parse(&text);
    let value =
        |metabase: &Metabase, name: &str| get(metabase, &format!("W3SVC/1/ROOT/{name}")).value;
    // By names, in any order and case: written in the schema's order, as IIS writes them.
    set(&mut metabase, "W3SVC/1/ROOT/AccessFlags", "accessscript|AccessExecute | AccessRead");
    assert_eq!(value(&metabase, "AccessFlags"), "AccessExecute | AccessRead | AccessScript");
    // By number: still names where the file writes names.
    set(&mut metabase, "W3SVC/1/ROOT/AccessFlags", "513");
    assert_eq!(metabase.text(), text, "set back by number restores every byte");
    set(&mut metabase, "W3SVC/1/ROOT/AccessFlags", "0");
    assert_eq!(value(&metabase, "AccessFlags"), "0");
    set(&mut metabase, "W3SVC/1/ROOT/AccessFlags", "AccessRead | AccessScript");
    assert_eq!(metabase.text(), text, "set back by names restores every byte");
    // A property the file writes as a number stays a number, given names or a number.
    set(&mut metabase, "W3SVC/1/ROOT/AuthFlags", "AuthAnonymous");
    assert_eq!(value(&metabase, "AuthFlags"), "1");
    set(&mut metabase, "W3SVC/1/ROOT/AuthFlags", "AuthBasic | AuthNTLM | AuthMD5");
    assert_eq!(metabase.text(), text);
    // A new flag property is written by names; a bit with no name makes it a number.
    set(&mut metabase, "W3SVC/1/ROOT/AccessSSLFlags", "0x108");
    assert_eq!(value(&metabase, "AccessSSLFlags"), "AccessSSL | AccessSSL128");
    set(&mut metabase, "W3SVC/1/ROOT/AccessSSLFlags", "0x10008");
    assert_eq!(value(&metabase, "AccessSSLFlags"), "65544");
    let before = metabase.text().to_string();
    for wrong in ["AccessRead | AccessFly", "AccessRead |", "lots"] {
        let refused = metabase.set("W3SVC/1/ROOT/AccessFlags", wrong).err();
        let message = refused.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            message.contains("the flags of AccessFlags are AccessExecute, AccessSource"),
            "{message}"
        );
    }
    assert_eq!(metabase.text(), before, "refused edits change nothing");
}

#[test]
fn the_real_iis6_metabase_reads_as_the_model_needs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/real/iis6/modsic-metabase-sample.xml");
    let mut metabase = Metabase::read(&path).unwrap_or_else(|error| panic!("{error}"));
    assert!(!metabase.iis5_isolation_mode());
    assert!(!metabase.enable_32bit_app_on_win64());
    assert_eq!(metabase.app_pools(), ["DefaultAppPool", "oval"]);
    let filters = metabase.global_filters();
    assert_eq!(filters.len(), 1, "Compression is not in FilterLoadOrder");
    assert_eq!(filters[0].name, "URLSCAN");
    assert_eq!(
        filters[0].path.as_deref(),
        Some(r"C:\WINDOWS\system32\inetsrv\urlscan\urlscan.dll")
    );
    // FilterFlags="NotifyPreProcHeaders | NotifyOrderHigh" (line 896).
    assert_eq!(filters[0].recorded_flags, 0x4000 | 0x8_0000);
    // `<Custom>` children: a DWORD, and a MULTISZ over two lines.
    let check = get(&metabase, "W3SVC/MD_ISM_ACCESS_CHECK");
    assert_eq!((check.kind, check.as_u32()), (PropertyKind::Integer, Some(65535)));
    let registration =
        get(&metabase, "/LM/IISADMIN/PROPERTYREGISTRATION/MD_METADATA_ID_REGISTRATION");
    assert_eq!(
        registration.items(),
        ["0-65535;Microsoft Reserved", "65536-524288;Microsoft IIS Admin Objects Reserved"]
    );
    // A MULTISZ attribute, its items indented by three TABs: an item added keeps the indent.
    assert_eq!(get(&metabase, "W3SVC/ScriptMaps").items().len(), 8);
    let item = r".aspx,C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_isapi.dll,1,GET,HEAD,POST,DEBUG";
    let mut items = get(&metabase, "W3SVC/ScriptMaps").items();
    items.push(item.to_string());
    set(&mut metabase, "W3SVC/ScriptMaps", &items.join("\n"));
    assert!(metabase.text().contains(&format!("ssinc.dll,5,GET,POST\n\t\t\t{item}\"")));
}
