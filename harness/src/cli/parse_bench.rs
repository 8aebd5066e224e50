//! The parse-speed half of `isapi-harness bench`: metabases of 1 MB and the size of a hosting
//! server's (100,000 keys; 200,000 attributes on one key), generated in memory in IIS's layout
//! with flag values written symbolically as IIS writes them, read and asked every question the
//! start-up model and the admin tools ask, timed, in keys (or attributes) per second. The same
//! rate at 1 MB and at 100,000 keys is what "linear" means here. It needs no machine, so
//! `bench --parse-only` runs anywhere.
//!
//! The figure belongs in a benchmark, not a timed test: a shared CI machine's speed varies too
//! much for a threshold, and a quadratic step shows as a collapse of the rate, not a few percent.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::metabase::Metabase;

/// The sizes measured: (keys, attributes on the one big key). 6,000 keys of `many_keys` make a
/// metabase of about 1 MB, the size of a real server's with a few thousand sites.
const ONE_MEGABYTE_KEYS: usize = 6_000;
const MANY_KEYS: usize = 100_000;
const MANY_ATTRIBUTES: usize = 200_000;

/// A metabase in IIS's layout with `keys` keys: sites, each with a ROOT key (its access and
/// authentication flags by name) and a site `Filters` key holding one filter (its FilterFlags by
/// name, which reading checks), one application pool per hundred sites, and the filter keys of
/// the seed case.
pub fn many_keys(keys: usize) -> String {
    let sites = keys / 4;
    let mut text = head();
    for pool in 0..sites.div_ceil(100) {
        key(&mut text, "IIsApplicationPool", &format!("/LM/W3SVC/AppPools/Pool{pool}"), &[]);
    }
    for site in 1..=sites {
        let comment = format!("Site {site}");
        let bindings = format!(":80:site{site}.example.com");
        key(
            &mut text,
            "IIsWebServer",
            &format!("/LM/W3SVC/{site}"),
            &[("ServerComment", &comment), ("ServerBindings", &bindings)],
        );
        let pool = format!("Pool{}", site / 100);
        key(
            &mut text,
            "IIsWebVirtualDir",
            &format!("/LM/W3SVC/{site}/ROOT"),
            &[
                ("AccessFlags", "AccessRead | AccessScript"),
                ("AppPoolId", &pool),
                ("AuthFlags", "AuthAnonymous | AuthNTLM"),
            ],
        );
        key(
            &mut text,
            "IIsFilters",
            &format!("/LM/W3SVC/{site}/Filters"),
            &[("FilterLoadOrder", "Rewrite")],
        );
        key(
            &mut text,
            "IIsFilter",
            &format!("/LM/W3SVC/{site}/Filters/Rewrite"),
            &[
                ("FilterFlags", "NotifyPreProcHeaders | NotifyOrderHigh"),
                ("FilterPath", r"C:\Program Files\Rewrite\rewrite.dll"),
            ],
        );
    }
    text.push_str(TAIL);
    text
}

/// A metabase whose one site key carries `attributes` attributes.
pub fn many_attributes(attributes: usize) -> String {
    let mut text = head();
    text.push_str("<IIsWebServer\tLocation =\"/LM/W3SVC/1\"\r\n");
    for at in 0..attributes {
        let _ = write!(text, "\t\tCustomProperty{at}=\"value {at}\"\r\n");
    }
    text.push_str("\t>\r\n</IIsWebServer>\r\n");
    text.push_str(TAIL);
    text
}

fn head() -> String {
    let mut text = String::from(
        "\u{feff}<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n",
    );
    key(&mut text, "IIsComputer", "/LM", &[("MaxHistoryFiles", "10")]);
    key(&mut text, "IIsWebService", "/LM/W3SVC", &[("IIs5IsolationModeEnabled", "FALSE")]);
    key(
        &mut text,
        "IIsApplicationPools",
        "/LM/W3SVC/AppPools",
        &[("Enable32BitAppOnWin64", "TRUE")],
    );
    key(
        &mut text,
        "IIsFilters",
        "/LM/W3SVC/Filters",
        &[("FilterLoadOrder", "ASP.NET_2.0.50727.0")],
    );
    key(
        &mut text,
        "IIsFilter",
        "/LM/W3SVC/Filters/ASP.NET_2.0.50727.0",
        &[
            ("FilterFlags", "NotifyReadRawData | NotifyOrderLow"),
            ("FilterPath", r"C:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll"),
        ],
    );
    text
}

const TAIL: &str = "</MBProperty>\r\n</configuration>\r\n";

fn key(text: &mut String, element: &str, location: &str, props: &[(&str, &str)]) {
    let _ = write!(text, "<{element}\tLocation =\"{location}\"\r\n");
    for (name, value) in props {
        let _ = write!(text, "\t\t{name}=\"{value}\"\r\n");
    }
    let _ = write!(text, "\t>\r\n</{element}>\r\n");
}

/// Times reading `text` and every step the model and the tools take on it; `sites` is how
/// many sites' flag values to read by name.
fn measure(
    text: &str,
    edit_path: &str,
    sites: usize,
) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    let origin = Path::new("generated.xml");
    let mut steps = Vec::new();
    let started = Instant::now();
    let mut metabase = Metabase::parse(text, origin)?;
    steps.push(("parse", started.elapsed()));

    let started = Instant::now();
    let _ = metabase.iis5_isolation_mode();
    let _ = metabase.enable_32bit_app_on_win64();
    let _ = metabase.global_filters();
    for pool in metabase.app_pools() {
        let _ = metabase.rapid_fail(&pool);
    }
    steps.push(("model questions (mode, filters, every pool)", started.elapsed()));

    let started = Instant::now();
    for site in 1..=sites {
        let path = format!("W3SVC/{site}/ROOT/AccessFlags");
        let bits = metabase.get(&path)?.and_then(|flags| flags.as_flags());
        anyhow::ensure!(bits == Some(0x201), "{path} reads as {bits:?}");
    }
    steps.push(("every site's AccessFlags by name", started.elapsed()));

    let started = Instant::now();
    let mut scenario =
        crate::scenario::Scenario::new("bench", crate::arch::Os::X64, metabase.clone());
    for site in 1..=sites {
        let url = format!("http://site{site}.example.com/");
        scenario
            .requests
            .push(crate::http_sys::RequestUrl::parse(&url).map_err(anyhow::Error::msg)?);
    }
    let routed = crate::iis::iis6::routed_requests(&scenario)?;
    anyhow::ensure!(
        sites == 0 || routed.len() == sites,
        "{} of {sites} requests routed",
        routed.len()
    );
    steps.push(("IIS 6 model: sites, their filters, a request routed to each", started.elapsed()));

    let started = Instant::now();
    let _ = metabase.enumerate("W3SVC")?;
    steps.push(("adsutil enum W3SVC", started.elapsed()));

    let started = Instant::now();
    metabase.set(edit_path, "edited")?;
    steps.push(("adsutil set (splice and read again)", started.elapsed()));
    Ok(steps)
}

/// The pools (and sites) of the IIS 7+ file: the size of a real multi-site server's
/// applicationHost.config (a public one has 62 sites, 66 `<location>` blocks, 704 KB).
const APPHOST_POOLS: usize = 60;

/// An applicationHost.config of about 700 KB: `pools` pools, one site per pool with two
/// bindings, and a `<location>` per site holding its handler mappings and an ISAPI filter, as
/// IIS writes a server whose sites were configured one by one.
pub fn apphost_with_pools(pools: usize) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n    <configSections>\r\n        <sectionGroup name=\"system.applicationHost\">\r\n            <section name=\"applicationPools\" allowDefinition=\"AppHostOnly\" overrideModeDefault=\"Deny\" />\r\n            <section name=\"sites\" allowDefinition=\"AppHostOnly\" overrideModeDefault=\"Deny\" />\r\n        </sectionGroup>\r\n    </configSections>\r\n    <system.applicationHost>\r\n        <applicationPools>\r\n",
    );
    for pool in 0..pools {
        let bits = if pool % 2 == 0 { "true" } else { "false" };
        let _ = write!(
            text,
            "            <add name=\"Pool{pool}\" enable32BitAppOnWin64=\"{bits}\" managedRuntimeVersion=\"v4.0\">\r\n                <failure rapidFailProtectionMaxCrashes=\"5\" />\r\n            </add>\r\n"
        );
    }
    text.push_str("            <applicationPoolDefaults managedRuntimeVersion=\"v4.0\" />\r\n        </applicationPools>\r\n        <sites>\r\n");
    for site in 1..=pools {
        let _ = write!(
            text,
            "            <site name=\"Site{site}\" id=\"{site}\">\r\n                <application path=\"/\" applicationPool=\"Pool{}\">\r\n                    <virtualDirectory path=\"/\" physicalPath=\"D:\\Sites\\Site{site}\" />\r\n                </application>\r\n                <bindings>\r\n                    <binding protocol=\"http\" bindingInformation=\"*:80:site{site}.example.com\" />\r\n                    <binding protocol=\"https\" bindingInformation=\"*:443:site{site}.example.com\" />\r\n                </bindings>\r\n            </site>\r\n",
            site - 1
        );
    }
    text.push_str("        </sites>\r\n    </system.applicationHost>\r\n    <system.webServer>\r\n        <globalModules>\r\n");
    for module in 0..40 {
        let _ = write!(
            text,
            "            <add name=\"Module{module}\" image=\"%windir%\\System32\\inetsrv\\module{module}.dll\" />\r\n"
        );
    }
    text.push_str("        </globalModules>\r\n        <isapiFilters>\r\n            <filter name=\"ASP.Net_4.0_64bit\" path=\"%windir%\\Microsoft.NET\\Framework64\\v4.0.30319\\aspnet_filter.dll\" enableCache=\"true\" preCondition=\"runtimeVersionv4.0,bitness64\" />\r\n        </isapiFilters>\r\n    </system.webServer>\r\n");
    for site in 1..=pools {
        let _ = write!(
            text,
            "    <location path=\"Site{site}\">\r\n        <system.webServer>\r\n            <isapiFilters>\r\n                <filter name=\"Site{site}Filter\" path=\"D:\\Filters\\site{site}.dll\" preCondition=\"bitness64\" />\r\n            </isapiFilters>\r\n            <handlers accessPolicy=\"Read, Script\">\r\n"
        );
        for handler in 0..40 {
            let _ = write!(
                text,
                "                <add name=\"Handler{handler}-ISAPI-4.0_64bit\" path=\"*.ext{handler}\" verb=\"GET,HEAD,POST,DEBUG\" modules=\"IsapiModule\" scriptProcessor=\"%windir%\\Microsoft.NET\\Framework64\\v4.0.30319\\aspnet_isapi.dll\" preCondition=\"classicMode,runtimeVersionv4.0,bitness64\" responseBufferLimit=\"0\" />\r\n"
            );
        }
        text.push_str(
            "            </handlers>\r\n        </system.webServer>\r\n    </location>\r\n",
        );
    }
    text.push_str("</configuration>\r\n");
    text
}

/// Times reading an applicationHost.config and every question the IIS 7+ model asks of it.
fn measure_apphost(text: &str) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    let mut steps = Vec::new();
    let started = Instant::now();
    let mut apphost = crate::apphost::Apphost::parse(text, Path::new("generated.config"))?;
    steps.push(("parse (pools and sites checked)", started.elapsed()));
    let started = Instant::now();
    let pools = apphost.pools()?;
    let sites = apphost.sites()?;
    let _ = apphost.global_modules();
    for site in &sites {
        let _ = apphost.isapi_filters(Some(&site.name));
        let _ = apphost.handlers(&site.name);
    }
    steps.push((
        "model questions (pools, sites, modules, each site's filters and handlers)",
        started.elapsed(),
    ));
    let started = Instant::now();
    let pool = pools.last().map(|pool| pool.name.clone()).unwrap_or_default();
    apphost.apply(&crate::apphost::edit::Command::SetPoolBitness { pool, enable_32bit: true })?;
    steps.push(("appcmd set apppool (splice and read again)", started.elapsed()));
    Ok(steps)
}

/// Runs both sizes and returns the lines to print.
pub fn run() -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let text = apphost_with_pools(APPHOST_POOLS);
    let steps = measure_apphost(&text)?;
    let total: Duration = steps.iter().map(|(_, time)| *time).sum();
    lines.push(format!(
        "bench: read an applicationHost.config of {APPHOST_POOLS} pools and sites ({:.0} KB): {:.3} s in all",
        text.len() as f64 / 1e3,
        total.as_secs_f64()
    ));
    for (step, time) in steps {
        lines.push(format!("bench:   {step}: {:.3} s", time.as_secs_f64()));
    }
    for (label, count, text, edit, sites) in [
        (
            "keys",
            ONE_MEGABYTE_KEYS,
            many_keys(ONE_MEGABYTE_KEYS),
            "W3SVC/1/ServerComment",
            ONE_MEGABYTE_KEYS / 4,
        ),
        ("keys", MANY_KEYS, many_keys(MANY_KEYS), "W3SVC/1/ServerComment", MANY_KEYS / 4),
        (
            "attributes",
            MANY_ATTRIBUTES,
            many_attributes(MANY_ATTRIBUTES),
            "W3SVC/1/CustomProperty7",
            0,
        ),
    ] {
        let steps = measure(&text, edit, sites)?;
        let total: Duration = steps.iter().map(|(_, time)| *time).sum();
        lines.push(format!(
            "bench: parse a metabase of {count} {label} ({:.1} MB): {:.3} s in all, {:.0} {label} per second",
            text.len() as f64 / 1e6,
            total.as_secs_f64(),
            count as f64 / total.as_secs_f64().max(1e-9)
        ));
        for (step, time) in steps {
            lines.push(format!("bench:   {step}: {:.3} s", time.as_secs_f64()));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_metabases_read_as_planned() {
        let metabase = Metabase::parse(&many_keys(2_000), Path::new("k.xml")).unwrap();
        assert_eq!(metabase.app_pools().len(), 5);
        let filters = metabase.global_filters();
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].recorded_flags, 0x2_8000, "FilterFlags read by name");
        let access = metabase.get("W3SVC/500/ROOT/AccessFlags").unwrap();
        assert_eq!(access.and_then(|p| p.as_flags()), Some(0x201));
        let site_filter = metabase.get("W3SVC/500/Filters/Rewrite/FilterFlags").unwrap();
        assert_eq!(site_filter.and_then(|p| p.as_flags()), Some(0x8_4000));
        assert!(measure(&many_keys(400), "W3SVC/1/ServerComment", 100).is_ok());
        let metabase = Metabase::parse(&many_attributes(50), Path::new("a.xml")).unwrap();
        assert!(metabase.get("W3SVC/1/CustomProperty49").unwrap().is_some());
        let text = apphost_with_pools(APPHOST_POOLS);
        assert!((650_000..800_000).contains(&text.len()), "{} bytes", text.len());
        let apphost = crate::apphost::Apphost::parse(&text, Path::new("g.config")).unwrap();
        assert_eq!(apphost.pools().unwrap().len(), APPHOST_POOLS);
        assert_eq!(apphost.isapi_filters(Some("Site7")).len(), 2);
    }
}
