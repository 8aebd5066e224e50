//! The reader and the edits, on the real files in `tests/data/real/iis7/` and on small texts.

use std::path::Path;

use super::edit::{Command, parse_command};
use super::*;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/real/iis7");

fn real(name: &str) -> Apphost {
    Apphost::read(&Path::new(REAL).join(name)).unwrap()
}

fn parse(text: &str) -> Result<Apphost, ApphostError> {
    Apphost::parse(text, Path::new("t.config"))
}

#[test]
fn every_real_file_reads_with_its_pools_sites_and_modules() {
    let mut files = 0;
    for entry in std::fs::read_dir(REAL).unwrap() {
        let path = entry.unwrap().path();
        let apphost = Apphost::read(&path).unwrap_or_else(|error| panic!("{error}"));
        assert!(looks_like_apphost(apphost.text()), "{}", path.display());
        assert!(!apphost.global_modules().is_empty(), "{}", path.display());
        // JexusManager's file has its twelve sites inside one comment, and no live site.
        let commented_out = path.ends_with("express-jexusmanager-original.config");
        assert_eq!(apphost.sites().unwrap().is_empty(), commented_out, "{}", path.display());
        files += 1;
    }
    assert!(files >= 14);
}

/// A web.config declares `<configSections>` and `<system.webServer>` as applicationHost.config
/// does; only `<system.applicationHost>` with its sites or pools makes one.
#[test]
fn only_system_application_host_content_makes_an_apphost() {
    let web_config = r#"<?xml version="1.0"?>
<configuration>
  <configSections>
    <section name="log4net" type="log4net.Config.Log4NetConfigurationSectionHandler, log4net" />
  </configSections>
  <system.webServer>
    <handlers><add name="x" path="*.x" verb="*" modules="IsapiModule" /></handlers>
  </system.webServer>
</configuration>"#;
    assert_eq!(configuration_kind(web_config), ConfigurationKind::OtherConfiguration);
    let declared_only = "<configuration><configSections><sectionGroup name=\"system.applicationHost\" /></configSections><system.applicationHost /></configuration>";
    assert_eq!(configuration_kind(declared_only), ConfigurationKind::OtherConfiguration);
    let pools = "<configuration><system.applicationHost><applicationPools /></system.applicationHost></configuration>";
    assert_eq!(configuration_kind(pools), ConfigurationKind::Apphost);
    let metabase = "<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\"><MBProperty><IIS_Global /></MBProperty></configuration>";
    assert_eq!(configuration_kind(metabase), ConfigurationKind::Metabase);
}

#[test]
fn iis_express_files_are_told_from_full_iis() {
    assert_eq!(real("express-boletonet.config").edition(), Edition::Express);
    assert_eq!(real("full-collinsauve-aspnetcoretest.config").edition(), Edition::Full);
}

#[test]
fn express_files_hold_the_stock_pools_filters_and_several_sites() {
    let apphost = real("express-boletonet.config");
    let pools = apphost.pools().unwrap();
    let names: Vec<&str> = pools.iter().map(|pool| pool.name.as_str()).collect();
    assert!(names.contains(&"Clr4IntegratedAppPool") && names.contains(&"UnmanagedClassicAppPool"));
    let classic = pools.iter().find(|pool| pool.name == "Clr2ClassicAppPool").unwrap();
    assert_eq!(
        (classic.pipeline_mode, classic.runtime_version.as_str()),
        (PipelineMode::Classic, "v2.0")
    );
    let unmanaged = pools.iter().find(|pool| pool.name == "UnmanagedClassicAppPool").unwrap();
    assert_eq!(unmanaged.runtime_version, "");
    assert_eq!(apphost.sites().unwrap().len(), 3);
    let filters = apphost.isapi_filters(None);
    let stock = filters.iter().find(|filter| filter.name == "ASP.Net_4.0_64bit").unwrap();
    assert_eq!(stock.preconditions, ["bitness64", "runtimeVersionv4.0"]);
}

#[test]
fn a_bom_and_crlf_and_comments_pass_through() {
    // BOM, LF: the AspNetCoreModule test file; CRLF: the reverse-proxy export.
    let bom = real("express-aspnet-aspnetcoremodule-http.config");
    assert!(bom.text().starts_with('\u{feff}'));
    let crlf = real("full-mattgillard-iis-reverse-proxy.config");
    assert_eq!(crlf.tree().newline, "\r\n");
    // A commented-out module is not a module.
    let commented = real("full-aspnet-iisintegration-functionaltests-iis.config");
    assert!(!commented.global_modules().iter().any(|module| module.name == "WebSocketModule"));
}

const SMALL: &str = "<configuration>\n<configSections />\n<system.applicationHost>\n<applicationPools>\n\
    <add name=\"A\" enable32BitAppOnWin64=\"true\" />\n<add name=\"B\" />\n<add name=\"C\" managedPipelineMode=\"Classic\" />\n\
    <applicationPoolDefaults enable32BitAppOnWin64=\"false\" managedRuntimeVersion=\"v2.0\">\n\
    <failure rapidFailProtectionInterval=\"00:10:00\" />\n</applicationPoolDefaults>\n</applicationPools>\n\
    <sites>\n<site name=\"One\" id=\"1\">\n<application path=\"/\" />\n<application path=\"/app\" applicationPool=\"C\" />\n\
    <bindings>\n<binding protocol=\"http\" bindingInformation=\"*:80:\" />\n<binding protocol=\"https\" bindingInformation=\"*:443:\" />\n</bindings>\n</site>\n\
    <applicationDefaults applicationPool=\"B\" />\n</sites>\n</system.applicationHost>\n<system.webServer>\n\
    <isapiFilters>\n<filter name=\"G\" path=\"C:\\g.dll\" />\n<filter name=\"Off\" path=\"C:\\off.dll\" enabled=\"false\" />\n</isapiFilters>\n\
    </system.webServer>\n<location path=\"One\">\n<system.webServer>\n<isapiFilters>\n<remove name=\"G\" />\n\
    <filter name=\"Site\" path=\"C:\\site.dll\" />\n</isapiFilters>\n</system.webServer>\n</location>\n</configuration>\n";

#[test]
fn pool_settings_resolve_own_then_defaults_then_schema() {
    let apphost = parse(SMALL).unwrap();
    let pools = apphost.pools().unwrap();
    assert_eq!(pools[0].enable_32bit, (true, Source::Pool));
    assert_eq!(pools[1].enable_32bit, (false, Source::Defaults));
    assert_eq!(pools[1].runtime_version, "v2.0");
    assert_eq!(pools[2].pipeline_mode, PipelineMode::Classic);
    assert_eq!(pools[2].rapid_fail.interval, std::time::Duration::from_secs(600));
    assert_eq!(pools[2].rapid_fail.max_crashes, 5);
    let sites = apphost.sites().unwrap();
    assert_eq!(sites[0].bindings.len(), 1, "https is not modelled");
    assert_eq!(sites[0].applications[0].pool, "B", "from the sites' applicationDefaults");
    assert_eq!(sites[0].applications[1].pool, "C");
}

#[test]
fn site_locations_add_and_remove_filters() {
    let apphost = parse(SMALL).unwrap();
    let server: Vec<String> = apphost.isapi_filters(None).into_iter().map(|f| f.name).collect();
    assert_eq!(server, ["G"], "a disabled filter is not loaded");
    let site: Vec<String> =
        apphost.isapi_filters(Some("one")).into_iter().map(|f| f.name).collect();
    assert_eq!(site, ["Site"]);
}

#[test]
fn bad_input_names_the_line() {
    let broken =
        SMALL.replace("<add name=\"B\" />", "<add name=\"B\" enable32BitAppOnWin64=\"yes\" />");
    let error = parse(&broken).unwrap_err();
    assert_eq!(error.line(), Some(6));
    assert!(error.to_string().starts_with("t.config:6: enable32BitAppOnWin64=\"yes\""), "{error}");
    let unclosed = SMALL.replace("</sites>\n", "");
    assert!(parse(&unclosed).unwrap_err().to_string().contains("is never closed"));
    let binding = SMALL.replace("*:80:", "*:eighty:");
    assert_eq!(parse(&binding).unwrap_err().line(), Some(17));
}

#[test]
fn a_malformed_tag_is_refused_at_its_line_as_in_a_metabase() {
    // Line 6 of SMALL is `<add name="B" />`.
    let cases = [
        ("<add name=\"B\" name=\"D\" />", "appears twice in one tag"),
        ("<add name=\"B\" enabled />", "not followed by ="),
        ("<add name=B />", "not in double quotes"),
        ("<add name=\"B &amp C\" />", "an & that starts no entity"),
        ("<add name=\"B&#1;\" />", "the control character"),
        ("<add name=\"B\"", "is not ended with >"),
    ];
    for (tag, words) in cases {
        let error = parse(&SMALL.replace("<add name=\"B\" />", tag)).expect_err(tag);
        assert_eq!(error.line(), Some(6), "{tag}: {error}");
        assert!(error.to_string().contains(words), "{tag}: {error}");
    }
}

fn command(line: &str) -> Command {
    let args: Vec<String> = line.split(' ').map(str::to_owned).collect();
    parse_command(&args).unwrap()
}

#[test]
fn appcmd_edits_splice_and_set_back_gives_the_same_bytes() {
    for name in
        ["full-collinsauve-aspnetcoretest.config", "express-aspnet-aspnetcoremodule-http.config"]
    {
        let original = real(name);
        let mut apphost = original.clone();
        let add = command(
            "set config /section:system.webServer/isapiFilters /+[name='Jk',path='C:\\tomcat\\isapi_redirect.dll',preCondition='bitness64']",
        );
        apphost.apply(&add).unwrap();
        let added = apphost.isapi_filters(None).into_iter().find(|f| f.name == "Jk").unwrap();
        assert_eq!(added.preconditions, ["bitness64"]);
        assert_eq!(added.path, r"C:\tomcat\isapi_redirect.dll");
        assert!(apphost.apply(&add).is_err(), "a duplicate is refused as appcmd refuses it");
        apphost
            .apply(&command("set config /section:system.webServer/isapiFilters /-[name='Jk']"))
            .unwrap();
        assert_eq!(apphost.text(), original.text(), "{name}");
        let pool = original.pools().unwrap()[0].name.clone();
        let args = vec![
            "set".into(),
            "apppool".into(),
            pool.clone(),
            "/enable32BitAppOnWin64:true".into(),
        ];
        apphost.apply(&parse_command(&args).unwrap()).unwrap();
        assert_eq!(apphost.pools().unwrap()[0].enable_32bit, (true, Source::Pool));
        let changed: Vec<(&str, &str)> =
            original.text().lines().zip(apphost.text().lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed.len(), 1, "one line changes");
    }
}

/// A handler and an isapiCgiRestriction entry, added and removed as appcmd does on the real
/// files: the model reads what was added, a duplicate key is refused, and removing gives the
/// same bytes back.
#[test]
fn appcmd_edits_handlers_and_the_isapi_cgi_restriction_byte_faithfully() {
    for name in
        ["full-collinsauve-aspnetcoretest.config", "express-aspnet-aspnetcoremodule-http.config"]
    {
        let original = real(name);
        let mut apphost = original.clone();
        let add_handler = command(
            "set config /section:system.webServer/handlers /+[name='PyISAPI',path='*.py',verb='GET,POST',modules='IsapiModule',scriptProcessor='C:\\Python\\PyISAPI_loader.dll',preCondition='bitness64']",
        );
        apphost.apply(&add_handler).unwrap();
        let handlers = apphost.handlers("");
        let added = handlers.last().unwrap();
        assert_eq!(
            (added.name.as_str(), added.path.as_str(), added.verb.as_str()),
            ("PyISAPI", "*.py", "GET,POST"),
            "{name}: a new handler goes at the end of the collection"
        );
        assert_eq!(added.script_processor.as_deref(), Some(r"C:\Python\PyISAPI_loader.dll"));
        assert_eq!(added.preconditions, ["bitness64"]);
        assert!(apphost.apply(&add_handler).is_err(), "{name}: a duplicate name is refused");
        let allow = command(
            "set config /section:system.webServer/security/isapiCgiRestriction /+[path='C:\\Python\\PyISAPI_loader.dll',allowed='true']",
        );
        apphost.apply(&allow).unwrap();
        let listed = apphost.isapi_cgi_restriction("").listed;
        assert!(
            listed.contains(&(r"C:\Python\PyISAPI_loader.dll".to_owned(), true)),
            "{name}: {listed:?}"
        );
        assert!(apphost.apply(&allow).is_err(), "{name}: a duplicate path is refused");
        apphost
            .apply(&command(
                "set config /section:system.webServer/security/isapiCgiRestriction /-[path='c:\\python\\pyisapi_loader.dll']",
            ))
            .unwrap();
        apphost
            .apply(&command("set config /section:system.webServer/handlers /-[name='PyISAPI']"))
            .unwrap();
        assert_eq!(apphost.text(), original.text(), "{name}");
    }
    let no_verb = parse_command(&[
        "set".into(),
        "config".into(),
        "/section:handlers".into(),
        "/+[name='X',path='*.x']".into(),
    ])
    .unwrap_err();
    assert!(no_verb.contains("has no verb='...'"), "{no_verb}");
}

#[test]
fn appcmd_sets_the_defaults_and_refuses_what_it_does_not_know() {
    let mut apphost = parse(SMALL).unwrap();
    apphost.apply(&command("set config /section:applicationPools /applicationPoolDefaults.enable32BitAppOnWin64:true")).unwrap();
    assert_eq!(apphost.pools().unwrap()[1].enable_32bit, (true, Source::Defaults));
    assert!(
        parse_command(&[
            "set".into(),
            "apppool".into(),
            "A".into(),
            "/enable32BitAppOnWin64:maybe".into()
        ])
        .is_err()
    );
    assert!(parse_command(&["delete".into(), "site".into()]).is_err());
    let edit::Applied::Pools(listed) = apphost.apply(&Command::ListPools).unwrap() else {
        panic!("list apppool lists the pools");
    };
    let names: Vec<&str> = listed.iter().map(|pool| pool.name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
}
