//! The IIS 6.0 metabase (`MetaBase.xml`): reading it, asking it the questions the start-up model
//! needs, and editing it the way `adsutil.vbs` and `aspnet_regiis.exe -i` do.
//!
//! The document text is the source of truth. [`Metabase`] keeps the text as read and an index
//! of it (keys, properties and the byte spans they occupy); every edit splices new bytes into
//! the text at those spans and parses the result again, so that whatever the edit did not touch
//! stays byte for byte as IIS (or the user) wrote it: BOM, namespace, TABs, CRLF, attribute
//! order, unknown keys, `<Custom>` elements, AdminACL blobs.
//!
//! Module map, one concern each:
//! - `path`: the one normaliser of metabase and adsutil paths (`W3SVC/...`, `/LM/W3SVC/...`).
//! - `schema`: the one table of property types, the list of the properties the model reads
//!   (the only values checked on reading), and value checking by type.
//! - `flags`: MBSchema's flag names and values, and flag values read and written by name.
//! - `parse`: the quick-xml reader that turns text into the index, and every "malformed" error.
//! - `edit`: set / delete / create key as byte splices, followed by a re-parse.
//! - `adsutil`: how `adsutil.vbs` prints properties and enumerations.
//! - `aspnet_regiis`: what `aspnet_regiis -i [-enable]` changes, and where it refuses to run.
//! - `script_maps`: which ISAPI extension a request maps to (ScriptMaps, inherited), whether
//!   the Web Service Extension list lets it run, and where its application runs.
//! - `write`: the atomic writer, the `History` copies and the crash-injection test hook.

mod adsutil;
mod aspnet_regiis;
mod edit;
mod error;
mod flags;
mod parse;
mod path;
mod schema;
mod script_maps;
mod sites;
mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use adsutil::Enumeration;
pub use aspnet_regiis::{ASPNET_FILTER_NAME, aspnet_regiis_install};
pub use error::{MetabaseError, MetabaseErrorKind};
pub use schema::PropertyKind;
pub use script_maps::{Restriction, ScriptMapping};
pub use sites::{AppConfig, SiteConfig};
pub use write::FAIL_WRITE_HOOK;
/// The atomic writer, shared with applicationHost.config's edits.
pub(crate) use write::write_atomically;

/// The seed case's metabase before `aspnet_regiis -i` runs: IIS 5.0 isolation mode,
/// `Enable32BitAppOnWin64` not set (so false), and the global ASP.NET filter registered from
/// `Framework64`. Written in IIS's own formatting (BOM, CRLF, TABs, V64 namespace).
pub const SEED_METABASE: &str = include_str!("seed-metabase.xml");

/// A metabase document: its text and an index of its keys and properties.
#[derive(Clone, Debug)]
pub struct Metabase {
    origin: PathBuf,
    text: String,
    doc: parse::Document,
}

/// One global ISAPI filter as the WWW service would load it: a name from `FilterLoadOrder` and
/// what the `IIsFilter` key of that name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterConfig {
    /// The name as written in `FilterLoadOrder`.
    pub name: String,
    /// `FilterPath`, if the key has one. A key without it (like `Compression`) is not a filter.
    pub path: Option<String>,
    /// `FilterEnabled`; true when absent (the schema default).
    pub enabled: bool,
    /// Whether an `IIsFilter` key (any key) exists for this name under `/LM/W3SVC/Filters`.
    pub key_exists: bool,
    /// `FilterFlags`: the `SF_NOTIFY_*` bits IIS recorded from the filter's GetFilterVersion at
    /// its last load (0, the schema default, when absent). A record of the past, never a load
    /// result: the model decides from what the filter returns in this run's host.
    pub recorded_flags: u32,
    /// The line of the filter's key, or of `FilterLoadOrder` when the key does not exist.
    pub line: usize,
}

/// An application pool's rapid-fail protection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RapidFail {
    pub enabled: bool,
    pub max_crashes: u32,
    pub interval_minutes: u32,
}

/// One property as it is set at one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// The property name: the schema's spelling when the property is known, else as written.
    pub name: String,
    pub kind: PropertyKind,
    /// The value as written (entities decoded, not otherwise interpreted): `TRUE`, `131072`,
    /// `AccessRead | AccessScript`, or the lines of a MULTISZ.
    pub value: String,
    /// The `Location` of the key that holds it, as written.
    pub key: String,
    /// The 1-based line the property is written on.
    pub line: usize,
}

impl Property {
    /// The value as a Boolean (`TRUE`/`FALSE`/`1`/`0`, any case), if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        schema::parse_bool(&self.value)
    }

    /// The value as a DWORD, if it is a number.
    pub fn as_u32(&self) -> Option<u32> {
        schema::parse_u32(&self.value)
    }

    /// A flag property's value as its bits, from the names (or numbers) it is written with;
    /// `None` if it names a flag the schema does not have.
    pub fn as_flags(&self) -> Option<u32> {
        schema::flag_value(&self.name, &self.value).ok()
    }

    /// The items of a MULTISZ value (one per line, indentation and blank lines dropped).
    pub fn items(&self) -> Vec<String> {
        schema::list_items(&self.value)
    }
}

impl Metabase {
    /// Reads and parses a metabase file.
    pub fn read(path: &Path) -> Result<Metabase, MetabaseError> {
        let bytes = crate::input::read_regular(path).map_err(|refusal| {
            MetabaseError::new(
                MetabaseErrorKind::Io,
                path,
                None,
                format!("cannot read the metabase: {refusal}"),
                "give the path of a MetaBase.xml file (a regular file, at most 256 MiB)",
            )
        })?;
        let text = parse::decode(&bytes, path)?;
        Metabase::parse(&text, path)
    }

    /// Parses metabase text; `origin` only names the file in errors (and is what [`origin`]
    /// returns).
    ///
    /// [`origin`]: Metabase::origin
    pub fn parse(text: &str, origin: &Path) -> Result<Metabase, MetabaseError> {
        let doc = parse::Document::parse(text, origin)?;
        Ok(Metabase { origin: origin.to_path_buf(), text: text.to_string(), doc })
    }

    /// The current document text, including any edits made so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The file this metabase was read from (or the name given to [`Metabase::parse`]).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// `/LM/W3SVC` `IIs5IsolationModeEnabled`. The schema default is TRUE, so a metabase that
    /// does not say runs in IIS 5.0 isolation mode.
    pub fn iis5_isolation_mode(&self) -> bool {
        self.bool_at(&["/lm/w3svc"], "IIs5IsolationModeEnabled").unwrap_or(true)
    }

    /// `Enable32BitAppOnWin64` as the worker processes see it: set at `/LM/W3SVC/AppPools`
    /// (where KB 895976 and adsutil put it) or inherited from `/LM/W3SVC` (where TechNet lists
    /// it, with the INHERIT attribute). Absent means false.
    pub fn enable_32bit_app_on_win64(&self) -> bool {
        // KB 895976: "0 or missing => 64-bit; present and anything other than 0 => 32-bit".
        // The parser already insists the value is a Boolean, so "anything else" is TRUE or 1.
        self.bool_at(&["/lm/w3svc/apppools", "/lm/w3svc"], "Enable32BitAppOnWin64").unwrap_or(false)
    }

    /// The global filters, in `FilterLoadOrder` order: the order in which IIS loads them.
    pub fn global_filters(&self) -> Vec<FilterConfig> {
        self.filters_at("/lm/w3svc/filters")
    }

    /// The filters an `IIsFilters` key lists in its `FilterLoadOrder`, in that order: the
    /// global ones at `/LM/W3SVC/Filters`, a site's at `/LM/W3SVC/<n>/Filters`.
    fn filters_at(&self, filters_id: &str) -> Vec<FilterConfig> {
        let Some(order) = self.doc.property(filters_id, read("FilterLoadOrder")) else {
            return Vec::new();
        };
        filter_names(&order.value)
            .into_iter()
            .map(|name| {
                let id = format!("{filters_id}/{}", path::fold(&name));
                match self.doc.key(&id) {
                    Some(key) => FilterConfig {
                        path: key.property(read("FilterPath")).map(|p| p.value.clone()),
                        enabled: key
                            .property(read("FilterEnabled"))
                            .and_then(|p| schema::parse_bool(&p.value))
                            .unwrap_or(true),
                        key_exists: true,
                        recorded_flags: key
                            .property(read("FilterFlags"))
                            .and_then(|p| schema::flag_value(&p.name, &p.value).ok())
                            .unwrap_or(0),
                        line: key.line,
                        name,
                    },
                    None => FilterConfig {
                        name,
                        path: None,
                        enabled: true,
                        key_exists: false,
                        recorded_flags: 0,
                        line: order.line,
                    },
                }
            })
            .collect()
    }

    /// The application pools (`IIsApplicationPool` keys under `/LM/W3SVC/AppPools`) in document
    /// order; `DefaultAppPool` when there are none, as on a fresh install.
    pub fn app_pools(&self) -> Vec<String> {
        let pools: Vec<String> = self
            .doc
            .keys
            .iter()
            .filter(|key| key.element.eq_ignore_ascii_case("IIsApplicationPool"))
            .filter(|key| path::parent_id(&key.id) == Some("/lm/w3svc/apppools"))
            .filter_map(|key| path::last_component(&key.location).map(str::to_string))
            .collect();
        if pools.is_empty() { vec!["DefaultAppPool".to_string()] } else { pools }
    }

    /// Rapid-fail protection for one pool, each setting read from the pool's key or inherited
    /// from `/LM/W3SVC/AppPools`, then `/LM/W3SVC`, else the schema default (on, 5 crashes in 5
    /// minutes).
    pub fn rapid_fail(&self, pool: &str) -> RapidFail {
        let pool_id = format!("/lm/w3svc/apppools/{}", path::fold(pool));
        let chain = [pool_id.as_str(), "/lm/w3svc/apppools", "/lm/w3svc"];
        RapidFail {
            enabled: self.bool_at(&chain, "RapidFailProtection").unwrap_or(true),
            max_crashes: self.u32_at(&chain, "RapidFailProtectionMaxCrashes").unwrap_or(5),
            interval_minutes: self.u32_at(&chain, "RapidFailProtectionInterval").unwrap_or(5),
        }
    }

    /// One property in adsutil path syntax (`W3SVC/Filters/NAME/FilterPath`). `Ok(None)`: the
    /// key exists but the property is not set at it (values are not inherited here, as
    /// adsutil's "is not set at this node" says). An error of kind
    /// [`MetabaseErrorKind::PathNotFound`]: there is no such key.
    pub fn get(&self, path: &str) -> Result<Option<Property>, MetabaseError> {
        let (key_path, name) = self.split_property_path(path)?;
        if !self.doc.key_exists(&key_path.id()) {
            return Err(self.path_not_found(&key_path));
        }
        Ok(self.doc.property_view(&key_path.id(), &name))
    }

    /// Sets one property, as `adsutil.vbs SET` does. See `edit` for what is written where.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), MetabaseError> {
        let (key_path, name) = self.split_property_path(path)?;
        self.set_property(&key_path, &name, value)
    }

    /// Deletes a key (with everything below it) when `path` names one, else the property the
    /// last component names.
    pub fn delete(&mut self, path: &str) -> Result<(), MetabaseError> {
        let whole = self.key_path(path)?;
        if self.doc.key_exists(&whole.id()) {
            return self.delete_key(&whole);
        }
        let (key_path, name) = self.split_property_path(path)?;
        self.delete_property(&key_path, &name)
    }

    /// The properties set at a key and the paths of its child keys, as `adsutil.vbs ENUM`.
    pub fn enumerate(&self, path: &str) -> Result<Enumeration, MetabaseError> {
        let key_path = self.key_path(path)?;
        if !self.doc.key_exists(&key_path.id()) {
            return Err(self.path_not_found(&key_path));
        }
        Ok(adsutil::enumerate(&self.doc, &key_path))
    }

    /// Writes the current text to `path` atomically, keeping the previous version in a
    /// `History` folder beside it, at most [`Metabase::max_history_files`] of them. See the
    /// `write` module for the details and the test hook.
    pub fn write_atomically(&self, path: &Path) -> Result<(), MetabaseError> {
        write::write_atomically(self.text.as_bytes(), path, self.max_history_files())
    }

    /// `/LM` `MaxHistoryFiles`: how many previous versions History keeps; IIS's default, 10,
    /// when the metabase does not say. Read from the text being written, so an edit of the
    /// value applies to the write that makes it.
    pub fn max_history_files(&self) -> u32 {
        self.u32_at(&["/lm"], "MaxHistoryFiles").unwrap_or(write::DEFAULT_MAX_HISTORY_FILES)
    }

    fn bool_at(&self, chain: &[&str], name: &str) -> Option<bool> {
        chain
            .iter()
            .find_map(|id| self.doc.property(id, read(name)))
            .and_then(|p| schema::parse_bool(&p.value))
    }

    fn u32_at(&self, chain: &[&str], name: &str) -> Option<u32> {
        chain
            .iter()
            .find_map(|id| self.doc.property(id, read(name)))
            .and_then(|p| schema::parse_u32(&p.value))
    }

    fn key_path(&self, input: &str) -> Result<path::KeyPath, MetabaseError> {
        if let Some((at, c)) = crate::input::find_control(input) {
            return Err(self.refused(
                format!(
                    "the path holds the control character {} at byte {at}",
                    crate::input::describe_control(c)
                ),
                "write the path without it; metabase paths are printable text",
            ));
        }
        path::KeyPath::from_adsutil(input).ok_or_else(|| {
            self.refused(
                format!("\"{input}\" is not a metabase path"),
                "write it like W3SVC/Filters or /LM/W3SVC/AppPools",
            )
        })
    }

    fn split_property_path(&self, input: &str) -> Result<(path::KeyPath, String), MetabaseError> {
        let whole = self.key_path(input)?;
        whole.split_last().ok_or_else(|| {
            self.refused(
                format!("\"{input}\" names no property"),
                "end the path with a property name, e.g. W3SVC/IIs5IsolationModeEnabled",
            )
        })
    }

    fn path_not_found(&self, key_path: &path::KeyPath) -> MetabaseError {
        MetabaseError::new(
            MetabaseErrorKind::PathNotFound,
            &self.origin,
            None,
            format!("key {} does not exist", key_path.display()),
            "check the path (adsutil enum W3SVC lists the keys below /LM/W3SVC)",
        )
    }

    fn refused(&self, what: impl Into<String>, fix: impl Into<String>) -> MetabaseError {
        MetabaseError::new(MetabaseErrorKind::Refused, &self.origin, None, what, fix)
    }
}

/// A property the model reads for its meaning. Reading checks only the values of
/// [`schema::MODEL_READS`], so a question about any other property would get a value nobody
/// checked: this is where that mistake shows, in every test run.
fn read(name: &str) -> &str {
    debug_assert!(
        schema::is_read_by_model(name),
        "{name} is read by the model but missing from schema::MODEL_READS"
    );
    name
}

/// The names in a `FilterLoadOrder` value: comma separated, blanks trimmed, empty items dropped.
fn filter_names(load_order: &str) -> Vec<String> {
    load_order
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}
