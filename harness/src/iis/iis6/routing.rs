//! Where each of a scenario's requests goes on IIS 6.0, before any process runs: HTTP.sys's
//! bindings pick the site, the longest application path its pool, and ScriptMaps the ISAPI
//! extension; and the requests `diagnose` and the replays add for an ASP.NET page.

use super::*;

/// Where HTTP.sys sends one of a scenario's requests, before any IIS code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutedTo {
    /// The site (its key name) and the pool of the application the URL falls in.
    Site { site: String, pool: String },
    /// HTTP.sys answers 400 ("Bad Request - Invalid Hostname") itself.
    InvalidHostname,
    /// Nothing answers.
    NoAnswer,
}

/// The scenario's requests as HTTP.sys routes them, each once (repetitions left out), in the
/// order they are sent; `diagnose` predicts their answers.
pub fn routed_requests(scenario: &Scenario) -> anyhow::Result<Vec<(String, RoutedTo)>> {
    let model = Iis6::new(scenario, Purpose::Start)?;
    Ok(model
        .requests
        .iter()
        .filter(|request| request.ordinal == 1)
        .map(|request| {
            let to = match request.target {
                Target::Site { site, pool } => RoutedTo::Site {
                    site: model.sites[site].config.id.clone(),
                    pool: model.pools[pool].name.clone(),
                },
                Target::InvalidHostname => RoutedTo::InvalidHostname,
                Target::NoAnswer(_) => RoutedTo::NoAnswer,
            };
            (request.url.clone(), to)
        })
        .collect())
}

/// The requests the scenario sends, each routed by HTTP.sys and repeated as asked. Without any,
/// one `GET /` goes to each started site.
pub(super) fn route_requests(
    scenario: &Scenario,
    sites: &[Site],
    pools: &[Pool],
) -> anyhow::Result<Vec<Request>> {
    let started: Vec<usize> = (0..sites.len()).filter(|&i| sites[i].config.auto_start).collect();
    let pool_index: std::collections::HashMap<String, usize> = pools
        .iter()
        .enumerate()
        .map(|(index, pool)| (pool.name.to_ascii_lowercase(), index))
        .collect();
    let pool_of = |site: usize, path: &str| -> usize {
        let pool = sites[site].config.app_for(path).map(|app| app.pool.as_str()).unwrap_or("");
        pool_index.get(&pool.to_ascii_lowercase()).copied().unwrap_or(0)
    };
    let router = http_sys::Router::new(
        started
            .iter()
            .flat_map(|&i| sites[i].config.bindings.iter().map(move |binding| (i, binding))),
    );
    let lowest_id = started.iter().copied().min_by_key(|&i| site_order(&sites[i].config.id));
    let mut routed: Vec<(String, String, Target)> = Vec::new();
    if scenario.requests.is_empty() {
        for &site in &started {
            let url = format!("http://{}/", authority(&sites[site].config));
            routed.push((url, "/".to_owned(), Target::Site { site, pool: pool_of(site, "/") }));
        }
    }
    for url in &scenario.requests {
        let target = match (&url.host, lowest_id) {
            // `/path`: the started site with the lowest id.
            (None, Some(site)) => Target::Site { site, pool: pool_of(site, &url.path) },
            (None, None) => Target::NoAnswer(NoAnswer::NothingListensOnPort),
            (Some(_), _) => match router.route(url) {
                Route::Site(site) => Target::Site { site, pool: pool_of(site, &url.path) },
                Route::InvalidHostname => Target::InvalidHostname,
                Route::NoListener => Target::NoAnswer(NoAnswer::NothingListensOnPort),
            },
        };
        routed.push((url.text.clone(), url.path.clone(), target));
    }
    let mut requests = Vec::new();
    for (url, path, target) in routed {
        let extension = match target {
            Target::Site { site, .. } => {
                mapped_extension(scenario.config.metabase()?, &sites[site].config, &path)?
            }
            _ => None,
        };
        for ordinal in 1..=scenario.repeat_requests {
            requests.push(Request {
                url: url.clone(),
                path: path.clone(),
                ordinal,
                target,
                extension: extension.clone(),
            });
        }
    }
    Ok(requests)
}

/// The ISAPI extension a URL path of `site` maps to: ScriptMaps inherited down to the URL's
/// folder, a wildcard map first, else the entry for the last segment's file extension. A
/// mapped executable that is not an absolute Windows path is bad input, as a FilterPath would
/// be.
pub(super) fn mapped_extension(
    metabase: &Metabase,
    site: &SiteConfig,
    url_path: &str,
) -> anyhow::Result<Option<MappedExtension>> {
    let (folder, file) = url_path.rsplit_once('/').unwrap_or(("", url_path));
    let file_extension = file.rfind('.').map(|dot| &file[dot..]);
    let key = format!("/LM/W3SVC/{}/ROOT{folder}", site.id);
    let Some(mapping) = metabase.script_map_for(&key, file_extension) else {
        return Ok(None);
    };
    let path = WinPath::parse(&mapping.executable).with_context(|| {
        format!(
            "{}:{}: the ScriptMaps entry for {} at {} is not an absolute Windows path; give the full path to the extension",
            metabase.origin().display(),
            mapping.line,
            mapping.extension,
            mapping.set_at
        )
    })?;
    Ok(Some(MappedExtension { mapping, path }))
}

/// The scenario with the requests a verification sends: its own when it names any, else
/// `GET /` to each started site and, where that site's root maps `.aspx` to an extension,
/// `GET /default.aspx`, so that a configuration counts as working only when its ASP.NET pages
/// are served too.
pub fn with_aspnet_page_requests(scenario: &Scenario) -> anyhow::Result<Scenario> {
    let mut scenario = scenario.clone();
    if !scenario.requests.is_empty() {
        return Ok(scenario);
    }
    let metabase = scenario.config.metabase()?;
    let mut sites: Vec<SiteConfig> =
        metabase.sites()?.into_iter().filter(|site| site.auto_start).collect();
    sites.sort_by_key(|site| site_order(&site.id));
    let mut urls = Vec::new();
    for site in &sites {
        let root = format!("http://{}", authority(site));
        urls.push(format!("{root}/"));
        let root_key = format!("/LM/W3SVC/{}/ROOT", site.id);
        if metabase.script_map_for(&root_key, Some(ASPNET_PAGE_EXTENSION)).is_some() {
            urls.push(format!("{root}/default{ASPNET_PAGE_EXTENSION}"));
        }
    }
    scenario.requests = urls
        .iter()
        .map(|url| crate::http_sys::RequestUrl::parse(url).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    Ok(scenario)
}

/// The file extension of an ASP.NET page.
pub(super) const ASPNET_PAGE_EXTENSION: &str = ".aspx";

/// Site ids in numeric order where they are numbers (IIS writes them so), others after.
pub(super) fn site_order(id: &str) -> (u64, String) {
    (id.parse().unwrap_or(u64::MAX), id.to_owned())
}

/// The host and port a request to a site's first binding names.
pub(super) fn authority(site: &SiteConfig) -> String {
    let Some(binding) = site.bindings.first() else { return "localhost".to_owned() };
    let host = match (&binding.host, binding.ip) {
        (Some(host), _) => host.clone(),
        (None, Some(std::net::IpAddr::V6(ip))) => format!("[{ip}]"),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => "localhost".to_owned(),
    };
    if binding.port == 80 { host } else { format!("{host}:{}", binding.port) }
}
