//! IIS 7 to 10's `applicationHost.config` (and IIS Express's `applicationhost.config`): the
//! reader and the typed questions the IIS 7+ model asks of it, and `appcmd`'s edits.
//!
//! What is read, with the schema defaults IIS applies when an attribute is absent (IIS
//! configuration reference, Microsoft Learn / MicrosoftDocs iis-docs, one page per element):
//! - `system.applicationHost/applicationPools`: each `<add>` pool with `enable32BitAppOnWin64`
//!   (default false), `managedPipelineMode` (Integrated), `managedRuntimeVersion` (v4.0, the
//!   IIS 8+ default), `autoStart` and `<failure>` (`rapidFailProtection` true,
//!   `rapidFailProtectionMaxCrashes` 5, `rapidFailProtectionInterval` 00:05:00,
//!   `loadBalancerCapabilities` HttpLevel). A pool's own attribute wins over
//!   `<applicationPoolDefaults>` ("individual application pool settings override any default
//!   values", applicationPoolDefaults page).
//! - `system.applicationHost/sites`: `<site name id serverAutoStart>` (serverAutoStart from
//!   `<siteDefaults>`, default true), its `http` bindings, its applications and their pool
//!   (`applicationPool`, else the site's `<applicationDefaults>`, else the sites'
//!   `<applicationDefaults>`, else DefaultAppPool).
//! - `system.webServer/globalModules`, `isapiFilters`, `handlers`, `security/isapiCgiRestriction`,
//!   at the root and in `<location path="...">` blocks (`""` for the server, a site's name for
//!   the site), merged as IIS merges collections: `<add>` appends, `<remove>` drops by key,
//!   `<clear/>` empties what came before.
//!
//! Everything else in the file, including sections no schema here knows, is kept as written.

pub(crate) mod edit;
pub(crate) mod env;
pub(crate) mod parse;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http_sys::Binding;
use crate::vocab::PipelineMode;
use parse::Tree;

/// An error about one applicationHost.config: `{file}:{line}: {what}; {what to do}`.
#[derive(Debug, Clone)]
pub struct ApphostError {
    file: PathBuf,
    line: Option<usize>,
    what: String,
    fix: String,
}

impl ApphostError {
    pub(crate) fn at(
        file: &Path,
        line: usize,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> ApphostError {
        ApphostError { file: file.to_owned(), line: Some(line), what: what.into(), fix: fix.into() }
    }

    pub(crate) fn file_only(
        file: &Path,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> ApphostError {
        ApphostError { file: file.to_owned(), line: None, what: what.into(), fix: fix.into() }
    }

    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for ApphostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}; {}", self.file.display(), self.what, self.fix),
            None => write!(f, "{}: {}; {}", self.file.display(), self.what, self.fix),
        }
    }
}

impl std::error::Error for ApphostError {}

/// Which server wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    /// IIS 7 to 10 with WAS and w3wp.exe.
    Full,
    /// IIS Express: iisexpress.exe, one process per site, no WAS.
    Express,
}

/// Where a pool's setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The pool's own attribute.
    Pool,
    /// `<applicationPoolDefaults>`.
    Defaults,
    /// The schema's default: nothing in the file sets it.
    Schema,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    pub name: String,
    pub line: usize,
    pub enable_32bit: (bool, Source),
    pub pipeline_mode: PipelineMode,
    /// `v4.0`, `v2.0`, `v1.1`, or empty for "No Managed Code".
    pub runtime_version: String,
    pub rapid_fail: RapidFail,
}

/// A pool's `<failure>` settings that decide rapid-fail protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RapidFail {
    pub enabled: bool,
    pub max_crashes: u32,
    pub interval: Duration,
    /// `loadBalancerCapabilities="TcpLevel"`: a disabled pool's requests get their connection
    /// reset instead of a 503.
    pub tcp_level: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    pub name: String,
    pub id: u64,
    pub line: usize,
    pub auto_start: bool,
    /// The `http` bindings (other protocols are not modelled).
    pub bindings: Vec<Binding>,
    /// Longest path first is not assumed: in document order.
    pub applications: Vec<ApplicationConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationConfig {
    pub path: String,
    pub pool: String,
}

/// A `globalModules` entry, an `isapiFilters` filter or an ISAPI handler's DLL: an image IIS may
/// load, with its path as written and the preconditions on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    pub name: String,
    /// As written, environment variables unexpanded.
    pub path: String,
    pub preconditions: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerConfig {
    pub name: String,
    /// The request path pattern (`*.aspx`).
    pub path: String,
    pub verb: String,
    pub modules: String,
    pub script_processor: Option<String>,
    pub preconditions: Vec<String>,
    pub line: usize,
}

/// `system.webServer/security/isapiCgiRestriction`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CgiRestriction {
    pub not_listed_isapis_allowed: bool,
    /// Each listed path as written, and whether it is allowed.
    pub listed: Vec<(String, bool)>,
}

/// A parsed applicationHost.config.
#[derive(Debug, Clone)]
pub struct Apphost {
    origin: PathBuf,
    text: String,
    tree: Tree,
}

/// What a configuration file is, from its content rather than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigurationKind {
    /// An IIS 7+ applicationHost.config: `<system.applicationHost>` with its `<sites>` or
    /// `<applicationPools>`.
    Apphost,
    /// A `<configuration>` without them: a web.config, a machine.config, an app's .exe.config.
    /// These declare `<configSections>` too, so that alone does not make an
    /// applicationHost.config.
    OtherConfiguration,
    /// Anything else, left to the MetaBase.xml reader to accept or to explain.
    Metabase,
}

/// Tells an applicationHost.config from an IIS 6.0 MetaBase.xml and from the other
/// `<configuration>` files users pick up by mistake.
pub fn configuration_kind(text: &str) -> ConfigurationKind {
    if text.contains("<MBProperty") {
        ConfigurationKind::Metabase
    } else if text.contains("<system.applicationHost")
        && (text.contains("<sites") || text.contains("<applicationPools"))
    {
        ConfigurationKind::Apphost
    } else if text.contains("<configuration") {
        ConfigurationKind::OtherConfiguration
    } else {
        ConfigurationKind::Metabase
    }
}

/// Whether text is an applicationHost.config (see [`configuration_kind`]).
pub fn looks_like_apphost(text: &str) -> bool {
    configuration_kind(text) == ConfigurationKind::Apphost
}

impl Apphost {
    pub fn read(path: &Path) -> Result<Apphost, ApphostError> {
        let text = crate::input::read_regular_text(path).map_err(|refusal| {
            ApphostError::file_only(
                path,
                format!("cannot read the file: {refusal}"),
                "give an applicationHost.config (a regular UTF-8 file, at most 256 MiB)",
            )
        })?;
        Apphost::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Apphost, ApphostError> {
        let tree = Tree::parse(text, origin)?;
        let apphost = Apphost { origin: origin.to_owned(), text: text.to_owned(), tree };
        // Everything the model reads is checked now, so that bad input is found before any
        // machine is touched.
        apphost.pools()?;
        apphost.sites()?;
        Ok(apphost)
    }

    pub fn origin(&self) -> &Path {
        &self.origin
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// IIS Express's files name its own folder, `%IIS_BIN%`, for their modules.
    pub fn edition(&self) -> Edition {
        if self.text.to_ascii_lowercase().contains("%iis_bin%") {
            Edition::Express
        } else {
            Edition::Full
        }
    }

    fn error(&self, line: usize, what: impl Into<String>, fix: impl Into<String>) -> ApphostError {
        ApphostError::at(&self.origin, line, what, fix)
    }

    fn section(&self, from: usize, path: &str) -> Option<usize> {
        self.tree.descend(from, path)
    }

    fn bool_attr(&self, at: usize, name: &str) -> Result<Option<bool>, ApphostError> {
        let element = self.tree.element(at);
        let Some(attr) = element.attr(name) else { return Ok(None) };
        match attr.value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(self.error(
                attr.line,
                format!("{name}=\"{}\" is neither true nor false", attr.value),
                format!("write {name}=\"true\" or {name}=\"false\""),
            )),
        }
    }

    fn u32_attr(&self, at: usize, name: &str) -> Result<Option<u32>, ApphostError> {
        let Some(attr) = self.tree.element(at).attr(name) else { return Ok(None) };
        attr.value.trim().parse().map(Some).map_err(|_| {
            self.error(
                attr.line,
                format!("{name}=\"{}\" is not a number", attr.value),
                "write a whole number",
            )
        })
    }

    fn timespan_attr(&self, at: usize, name: &str) -> Result<Option<Duration>, ApphostError> {
        let Some(attr) = self.tree.element(at).attr(name) else { return Ok(None) };
        parse_timespan(&attr.value).map(Some).ok_or_else(|| {
            self.error(
                attr.line,
                format!("{name}=\"{}\" is not a time span", attr.value),
                "write it as hh:mm:ss, e.g. 00:05:00",
            )
        })
    }

    fn pools_element(&self) -> Option<usize> {
        self.section(0, "system.applicationHost/applicationPools")
    }

    /// The application pools, with every setting the model needs resolved against
    /// `<applicationPoolDefaults>` and the schema.
    pub fn pools(&self) -> Result<Vec<PoolConfig>, ApphostError> {
        let Some(pools) = self.pools_element() else { return Ok(Vec::new()) };
        let defaults = self.tree.child(pools, "applicationPoolDefaults");
        let mut out: Vec<PoolConfig> = Vec::new();
        for pool in self.tree.children(pools, "add") {
            let element = self.tree.element(pool);
            let Some(name) = element.value("name") else {
                return Err(self.error(
                    element.line,
                    "an application pool <add> has no name",
                    "give it name=\"...\"",
                ));
            };
            if let Some(first) = out.iter().find(|p| p.name.eq_ignore_ascii_case(name)) {
                return Err(self.error(
                    element.line,
                    format!(
                        "application pool `{name}` is defined twice (also on line {})",
                        first.line
                    ),
                    "keep one of them",
                ));
            }
            let enable_32bit = match (
                self.bool_attr(pool, "enable32BitAppOnWin64")?,
                defaults.map(|d| self.bool_attr(d, "enable32BitAppOnWin64")).transpose()?.flatten(),
            ) {
                (Some(value), _) => (value, Source::Pool),
                (None, Some(value)) => (value, Source::Defaults),
                (None, None) => (false, Source::Schema),
            };
            let inherited = |name: &str| -> Option<&str> {
                element
                    .value(name)
                    .or_else(|| defaults.and_then(|d| self.tree.element(d).value(name)))
            };
            let pipeline_mode = match inherited("managedPipelineMode") {
                None => PipelineMode::Integrated,
                Some(mode) if mode.eq_ignore_ascii_case("Integrated") => PipelineMode::Integrated,
                Some(mode) if mode.eq_ignore_ascii_case("Classic") => PipelineMode::Classic,
                Some(mode) => {
                    return Err(self.error(
                        element.line,
                        format!("managedPipelineMode=\"{mode}\" of pool `{name}` is neither Integrated nor Classic"),
                        "write Integrated or Classic",
                    ));
                }
            };
            let runtime_version = inherited("managedRuntimeVersion").unwrap_or("v4.0").to_owned();
            let rapid_fail = self.rapid_fail(pool, defaults)?;
            out.push(PoolConfig {
                name: name.to_owned(),
                line: element.line,
                enable_32bit,
                pipeline_mode,
                runtime_version,
                rapid_fail,
            });
        }
        Ok(out)
    }

    fn rapid_fail(&self, pool: usize, defaults: Option<usize>) -> Result<RapidFail, ApphostError> {
        let own = self.tree.child(pool, "failure");
        let inherited = defaults.and_then(|d| self.tree.child(d, "failure"));
        let pick = |name: &str| {
            [own, inherited]
                .into_iter()
                .flatten()
                .find(|&at| self.tree.element(at).attr(name).is_some())
        };
        let enabled = match pick("rapidFailProtection") {
            Some(at) => self.bool_attr(at, "rapidFailProtection")?.unwrap_or(true),
            None => true,
        };
        let max_crashes = match pick("rapidFailProtectionMaxCrashes") {
            Some(at) => self.u32_attr(at, "rapidFailProtectionMaxCrashes")?.unwrap_or(5),
            None => 5,
        };
        let interval = match pick("rapidFailProtectionInterval") {
            Some(at) => self
                .timespan_attr(at, "rapidFailProtectionInterval")?
                .unwrap_or(Duration::from_secs(300)),
            None => Duration::from_secs(300),
        };
        let tcp_level = pick("loadBalancerCapabilities").is_some_and(|at| {
            self.tree
                .element(at)
                .value("loadBalancerCapabilities")
                .is_some_and(|v| v.eq_ignore_ascii_case("TcpLevel"))
        });
        Ok(RapidFail { enabled, max_crashes, interval, tcp_level })
    }

    /// The sites, their http bindings and their applications' pools.
    pub fn sites(&self) -> Result<Vec<SiteConfig>, ApphostError> {
        let Some(sites) = self.section(0, "system.applicationHost/sites") else {
            return Ok(Vec::new());
        };
        let site_defaults = self.tree.child(sites, "siteDefaults");
        let default_auto_start = match site_defaults {
            Some(at) => self.bool_attr(at, "serverAutoStart")?.unwrap_or(true),
            None => true,
        };
        let server_app_pool = self
            .tree
            .child(sites, "applicationDefaults")
            .and_then(|at| self.tree.element(at).value("applicationPool"))
            .unwrap_or("DefaultAppPool");
        let mut out: Vec<SiteConfig> = Vec::new();
        for site in self.tree.children(sites, "site") {
            let element = self.tree.element(site);
            let Some(name) = element.value("name") else {
                return Err(self.error(
                    element.line,
                    "a <site> has no name",
                    "give it name=\"...\"",
                ));
            };
            let id = match element.attr("id") {
                Some(attr) => attr.value.trim().parse().map_err(|_| {
                    self.error(
                        attr.line,
                        format!("site id=\"{}\" is not a number", attr.value),
                        "write a whole number",
                    )
                })?,
                // IIS gives a site without an id the next free one; the harness numbers in order.
                None => out.iter().map(|s| s.id).max().unwrap_or(0) + 1,
            };
            let auto_start = self.bool_attr(site, "serverAutoStart")?.unwrap_or(default_auto_start);
            let mut bindings = Vec::new();
            if let Some(list) = self.tree.child(site, "bindings") {
                for binding in self.tree.children(list, "binding") {
                    let b = self.tree.element(binding);
                    if !b.value("protocol").is_some_and(|p| p.eq_ignore_ascii_case("http")) {
                        continue;
                    }
                    let information = b.value("bindingInformation").unwrap_or_default();
                    bindings.push(Binding::parse(information).map_err(|what| {
                        self.error(
                            b.line,
                            what,
                            "write bindingInformation as IP:port:host, e.g. *:80:",
                        )
                    })?);
                }
            }
            let site_app_pool = self
                .tree
                .child(site, "applicationDefaults")
                .and_then(|at| self.tree.element(at).value("applicationPool"))
                .unwrap_or(server_app_pool);
            let applications = self
                .tree
                .children(site, "application")
                .map(|app| {
                    let app = self.tree.element(app);
                    ApplicationConfig {
                        path: app.value("path").unwrap_or("/").to_owned(),
                        pool: app.value("applicationPool").unwrap_or(site_app_pool).to_owned(),
                    }
                })
                .collect();
            out.push(SiteConfig {
                name: name.to_owned(),
                id,
                line: element.line,
                auto_start,
                bindings,
                applications,
            });
        }
        Ok(out)
    }

    /// The sections at `section` that apply to `location` ("" for the server level, a site's
    /// name, or `Site/app`): the root one, then each `<location>` on the way, in that order.
    fn sections_for(&self, section: &str, location: &str) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(at) = self.section(0, section) {
            out.push(at);
        }
        let wanted = location.trim_matches('/');
        // The server level first, then the site, then deeper paths.
        let mut levels: Vec<String> = vec![String::new()];
        let mut so_far = String::new();
        for part in wanted.split('/').filter(|p| !p.is_empty()) {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            levels.push(so_far.clone());
        }
        for level in &levels {
            for location in self.tree.children(0, "location") {
                let path = self.tree.element(location).value("path").unwrap_or("");
                let path = path.trim_matches('/');
                let path = if path == "." { "" } else { path };
                if path.eq_ignore_ascii_case(level)
                    && let Some(at) = self.section(location, section)
                {
                    out.push(at);
                }
            }
        }
        out
    }

    /// A collection merged over the sections that apply to `location`.
    fn collection(&self, section: &str, item: &str, key: &str, location: &str) -> Vec<usize> {
        let mut items: Vec<usize> = Vec::new();
        for at in self.sections_for(section, location) {
            for &child in &self.tree.element(at).children {
                let element = self.tree.element(child);
                let key_of =
                    |at: usize| self.tree.element(at).value(key).map(str::to_ascii_lowercase);
                match element.name.as_str() {
                    "clear" => items.clear(),
                    "remove" => {
                        let gone = element.value(key).map(str::to_ascii_lowercase);
                        items.retain(|&kept| key_of(kept) != gone);
                    }
                    name if name == item => {
                        let this = key_of(child);
                        items.retain(|&kept| key_of(kept) != this);
                        items.push(child);
                    }
                    _ => {}
                }
            }
        }
        items
    }

    fn image(&self, at: usize, path_attr: &str) -> ImageConfig {
        let element = self.tree.element(at);
        ImageConfig {
            name: element.value("name").unwrap_or_default().to_owned(),
            path: element.value(path_attr).unwrap_or_default().to_owned(),
            preconditions: preconditions(element.value("preCondition")),
            line: element.attr(path_attr).map_or(element.line, |attr| attr.line),
        }
    }

    /// `globalModules`, in load order. They are server-level only (`AppHostOnly`).
    pub fn global_modules(&self) -> Vec<ImageConfig> {
        self.collection("system.webServer/globalModules", "add", "name", "")
            .into_iter()
            .map(|at| self.image(at, "image"))
            .collect()
    }

    /// The enabled ISAPI filters that apply to a site (server level, then the site's own
    /// `<location>`), in load order; with `site` None, the server level alone.
    pub fn isapi_filters(&self, site: Option<&str>) -> Vec<ImageConfig> {
        self.collection("system.webServer/isapiFilters", "filter", "name", site.unwrap_or(""))
            .into_iter()
            .filter(|&at| {
                !self
                    .tree
                    .element(at)
                    .value("enabled")
                    .is_some_and(|v| v.eq_ignore_ascii_case("false"))
            })
            .map(|at| self.image(at, "path"))
            .collect()
    }

    /// The handler mappings that apply at `location`, in the order IIS tries them.
    pub fn handlers(&self, location: &str) -> Vec<HandlerConfig> {
        self.collection("system.webServer/handlers", "add", "name", location)
            .into_iter()
            .map(|at| {
                let element = self.tree.element(at);
                let value = |name: &str| element.value(name).unwrap_or_default().to_owned();
                HandlerConfig {
                    name: value("name"),
                    path: value("path"),
                    verb: element.value("verb").unwrap_or("*").to_owned(),
                    modules: value("modules"),
                    script_processor: element
                        .value("scriptProcessor")
                        .filter(|s| !s.trim().is_empty())
                        .map(str::to_owned),
                    preconditions: preconditions(element.value("preCondition")),
                    line: element.line,
                }
            })
            .collect()
    }

    /// `isapiCgiRestriction` at `location`.
    pub fn isapi_cgi_restriction(&self, location: &str) -> CgiRestriction {
        let section = "system.webServer/security/isapiCgiRestriction";
        let mut restriction = CgiRestriction::default();
        for at in self.sections_for(section, location) {
            if let Some(value) = self.tree.element(at).value("notListedIsapisAllowed") {
                restriction.not_listed_isapis_allowed = value.eq_ignore_ascii_case("true");
            }
        }
        restriction.listed = self
            .collection(section, "add", "path", location)
            .into_iter()
            .map(|at| {
                let element = self.tree.element(at);
                (
                    element.value("path").unwrap_or_default().to_owned(),
                    element.value("allowed").is_some_and(|v| v.eq_ignore_ascii_case("true")),
                )
            })
            .collect();
        restriction
    }

    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Replaces the text with an edited one, re-reading it so the tree matches.
    pub(crate) fn replace_text(&mut self, text: String) -> Result<(), ApphostError> {
        *self = Apphost::parse(&text, &self.origin)?;
        Ok(())
    }
}

/// A `preCondition` attribute's comma-separated list, trimmed, empty entries dropped.
fn preconditions(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `hh:mm:ss` or `d.hh:mm:ss`, as IIS writes a TimeSpan.
fn parse_timespan(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (days, clock) = match text.split_once('.') {
        Some((days, clock)) if clock.contains(':') => (days.parse::<u64>().ok()?, clock),
        _ => (0, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let [h, m, s] = parts[..] else { return None };
    let seconds: f64 = s.parse().ok()?;
    let total = days * 86_400 + h.parse::<u64>().ok()? * 3600 + m.parse::<u64>().ok()? * 60;
    Some(Duration::from_secs(total) + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests;
