//! The web sites of a metabase: each `IIsWebServer` under `/LM/W3SVC` with its bindings, its
//! state, its applications and their pools, and its own filters.
//!
//! Values the IIS 6.0 metabase property reference documents, used here:
//! - `ServerBindings`: a MULTISZ of `IP:port:host header`.
//! - `ServerAutoStart`: whether the site starts with the service; TRUE when absent.
//! - `ServerState`: the state IIS last recorded; 2 is started, 4 stopped (MD_SERVER_STATE_*).
//!   IIS writes it when it runs; the harness reports it and starts a site by `ServerAutoStart`,
//!   the setting the service itself reads at start.
//! - `AppRoot` on an `IIsWebVirtualDir`/`IIsWebDirectory` key makes it an application;
//!   `AppPoolId` and `AppIsolated` are inherited from the keys above where not set.

use std::collections::HashMap;

use super::parse::Key;
use super::{FilterConfig, Metabase, MetabaseError, MetabaseErrorKind, path, read, schema};
use crate::http_sys::Binding;

/// One web site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteConfig {
    /// The key's name below `/LM/W3SVC` (`"1"`), which IIS calls the site id.
    pub id: String,
    /// `ServerComment`: the name IIS Manager shows.
    pub comment: Option<String>,
    pub bindings: Vec<Binding>,
    pub auto_start: bool,
    pub state: Option<u32>,
    /// Applications, the site's root first, then in document order.
    pub apps: Vec<AppConfig>,
    /// The site's own filters, in its `FilterLoadOrder`.
    pub filters: Vec<FilterConfig>,
    /// The `IIsWebServer` key's line; 0 for the implied Default Web Site.
    pub line: usize,
    /// True when the metabase has no `IIsWebServer` and this is the Default Web Site that
    /// a fresh installation has (id 1, `:80:`).
    pub implied: bool,
}

/// One application of a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    /// The URL path the application serves (`/`, `/shop`), from its key below `ROOT`.
    pub url_path: String,
    /// The key's `Location`, as written.
    pub key: String,
    /// The application pool, from the key or the nearest key above that sets `AppPoolId`.
    pub pool: String,
    /// `AppIsolated` (0 in process, 1 out of process, 2 pooled), inherited likewise.
    pub isolated: Option<u32>,
    pub line: usize,
}

impl SiteConfig {
    /// The application whose URL path is the longest prefix of `path` (segment-wise, without
    /// regard to case, as IIS matches URLs).
    pub fn app_for(&self, url_path: &str) -> Option<&AppConfig> {
        let url = url_path.to_ascii_lowercase();
        self.apps
            .iter()
            .filter(|app| {
                let prefix = app.url_path.to_ascii_lowercase();
                prefix == "/"
                    || url == prefix
                    || url.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|app| app.url_path.len())
    }
}

/// The pool a metabase without `AppPoolId` anywhere uses: the one a fresh installation has.
const DEFAULT_APP_POOL: &str = "DefaultAppPool";

impl Metabase {
    /// The web sites, in document order, or the implied Default Web Site when there is no
    /// `IIsWebServer` key. A binding that cannot be read is bad input.
    pub fn sites(&self) -> Result<Vec<SiteConfig>, MetabaseError> {
        let apps = self.application_keys();
        let mut sites = Vec::new();
        for key in &self.doc.keys {
            if !key.element.eq_ignore_ascii_case("IIsWebServer")
                || path::parent_id(&key.id) != Some("/lm/w3svc")
            {
                continue;
            }
            let Some(id) = path::last_component(&key.location) else { continue };
            let mut bindings = Vec::new();
            if let Some(property) = key.property(read("ServerBindings")) {
                for item in schema::list_items(&property.value) {
                    let binding = Binding::parse(&item).map_err(|what| {
                        MetabaseError::new(
                            MetabaseErrorKind::Malformed,
                            &self.origin,
                            Some(property.line),
                            format!("ServerBindings of site {id}: {what}"),
                            "write each binding as IP:port:host header, e.g. `:80:` or `10.0.0.5:80:www.example.com`",
                        )
                    })?;
                    bindings.push(binding);
                }
            }
            sites.push(SiteConfig {
                id: id.to_owned(),
                comment: key.property(read("ServerComment")).map(|p| p.value.clone()),
                bindings,
                auto_start: key
                    .property(read("ServerAutoStart"))
                    .and_then(|p| schema::parse_bool(&p.value))
                    .unwrap_or(true),
                state: key.property(read("ServerState")).and_then(|p| schema::parse_u32(&p.value)),
                apps: self
                    .apps_below(&key.id, apps.get(key.id.as_str()).map_or(&[], Vec::as_slice)),
                filters: self.filters_at(&format!("{}/filters", key.id)),
                line: key.line,
                implied: false,
            });
        }
        if sites.is_empty() {
            let default_apps = apps.get("/lm/w3svc/1").map_or(&[][..], Vec::as_slice);
            sites.push(self.implied_default_site(default_apps));
        }
        Ok(sites)
    }

    fn implied_default_site(&self, app_keys: &[&Key]) -> SiteConfig {
        let apps = self.apps_below("/lm/w3svc/1", app_keys);
        SiteConfig {
            id: "1".to_owned(),
            comment: Some("Default Web Site".to_owned()),
            bindings: vec![Binding { ip: None, port: 80, host: None }],
            auto_start: true,
            state: None,
            apps,
            filters: self.filters_at("/lm/w3svc/1/filters"),
            line: 0,
            implied: true,
        }
    }

    /// The applications at or below `<site>/ROOT`, the root first. A site whose root is not
    /// marked as an application still serves `/`, from the pool its root inherits.
    fn apps_below(&self, site_id: &str, app_keys: &[&Key]) -> Vec<AppConfig> {
        let root = format!("{site_id}/root");
        let mut apps: Vec<AppConfig> = app_keys
            .iter()
            .map(|key| AppConfig {
                url_path: url_path_below(&key.location, root.split('/').count()),
                key: key.location.clone(),
                pool: self
                    .inherited(&key.id, read("AppPoolId"))
                    .unwrap_or_else(|| DEFAULT_APP_POOL.to_owned()),
                isolated: self
                    .inherited(&key.id, read("AppIsolated"))
                    .and_then(|v| schema::parse_u32(&v)),
                line: key.line,
            })
            .collect();
        apps.sort_by_key(|app| app.url_path != "/");
        if apps.first().is_none_or(|app| app.url_path != "/") {
            let root_key = self.doc.key(&root);
            apps.insert(
                0,
                AppConfig {
                    url_path: "/".to_owned(),
                    key: root_key
                        .map(|key| key.location.clone())
                        .unwrap_or_else(|| format!("{}/ROOT", site_location(site_id))),
                    pool: self
                        .inherited(&root, read("AppPoolId"))
                        .unwrap_or_else(|| DEFAULT_APP_POOL.to_owned()),
                    isolated: self
                        .inherited(&root, read("AppIsolated"))
                        .and_then(|v| schema::parse_u32(&v)),
                    line: root_key.map_or(0, |key| key.line),
                },
            );
        }
        apps
    }

    /// The keys marked as applications (`AppRoot`) at or below a site's `ROOT`, by the site's
    /// id (`/lm/w3svc/1`): one pass over the file, so that a server with thousands of sites
    /// costs no more per site than one with a single one.
    fn application_keys(&self) -> HashMap<&str, Vec<&Key>> {
        let mut by_site: HashMap<&str, Vec<&Key>> = HashMap::new();
        for key in &self.doc.keys {
            if key.property(read("AppRoot")).is_none() {
                continue;
            }
            // `/lm/w3svc/<site>/root[/...]`: the site's id is the first three components.
            let mut slashes = key.id.match_indices('/').map(|(at, _)| at).skip(3);
            let (Some(site_end), root_end) = (slashes.next(), slashes.next()) else { continue };
            let root = &key.id[site_end + 1..root_end.unwrap_or(key.id.len())];
            if key.id.starts_with("/lm/w3svc/") && root == "root" {
                by_site.entry(&key.id[..site_end]).or_default().push(key);
            }
        }
        by_site
    }

    /// A property from the key `id` or the nearest key above it that sets it.
    fn inherited(&self, id: &str, name: &str) -> Option<String> {
        self.inherited_property(id, name).map(|(_, property)| property.value.clone())
    }
}

/// The URL path of a key below a site's `ROOT`, spelled as written: the components of
/// `location` after the first `root_components` (`/LM/W3SVC/1/ROOT/Shop` -> `/Shop`).
fn url_path_below(location: &str, root_components: usize) -> String {
    let rest: Vec<&str> =
        location.trim().trim_end_matches('/').split('/').skip(root_components).collect();
    format!("/{}", rest.join("/"))
}

/// A key id's `Location` spelling for a key the file does not write (`/lm/w3svc/1` ->
/// `/LM/W3SVC/1`).
fn site_location(site_id: &str) -> String {
    site_id.to_uppercase()
}
