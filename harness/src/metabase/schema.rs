//! The one table of property types, the one list of the properties the model reads, and what a
//! value of each type may look like.
//!
//! IIS keeps the real schema in MBSchema.xml; the harness only needs the types of the
//! properties that decide how filters load, plus a few that appear around them in real files,
//! so that it can show values the way adsutil does and normalise them when writing. A property
//! that is not in the table is a STRING; the flag properties are `flags`'s tables.
//!
//! Reading checks only the values the model reads ([`MODEL_READS`]): a real metabase holds
//! hundreds of properties the harness has no use for, some with values it could not judge
//! (custom IDs, flags of a later schema), and refusing a file for one of them would refuse a
//! file IIS runs with. Every other value passes through as written, whatever it holds.

use std::fmt;

pub(crate) use super::flags::parse_u32;
use super::flags::{self, FlagError};

/// The data type of a metabase property, as adsutil names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropertyKind {
    /// A DWORD used as true/false; IIS writes `TRUE`/`FALSE`.
    Boolean,
    /// A DWORD.
    Integer,
    String,
    /// A string with `%variables%` (EXPANDSZ).
    ExpandString,
    /// A MULTISZ: one item per line.
    List,
    /// A DWORD of bit flags, written symbolically (`AccessRead | AccessScript`).
    Flags,
    Binary,
}

impl PropertyKind {
    /// The type label adsutil prints in parentheses.
    pub fn adsutil_label(self) -> &'static str {
        match self {
            PropertyKind::Boolean => "BOOLEAN",
            PropertyKind::Integer => "INTEGER",
            PropertyKind::String => "STRING",
            PropertyKind::ExpandString => "EXPANDSZ",
            PropertyKind::List => "LIST",
            // adsutil.vbs reads properties through ADSI, where a flag property is a DWORD
            // ("ADSI/WMI Data Type: DWORD", IIS 6.0 SDK, e.g. AccessFlags ms525016): it shows
            // the number, as for any other DWORD, never the names the file is written with.
            PropertyKind::Flags => "INTEGER",
            PropertyKind::Binary => "BINARY",
        }
    }
}

impl fmt::Display for PropertyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.adsutil_label())
    }
}

struct SchemaEntry {
    name: &'static str,
    kind: PropertyKind,
}

const fn entry(name: &'static str, kind: PropertyKind) -> SchemaEntry {
    SchemaEntry { name, kind }
}

/// The property types the harness knows, with the types Microsoft's IIS 6.0 metabase property reference gives.
const SCHEMA: &[SchemaEntry] = {
    use PropertyKind::*;
    &[
        // Isolation mode and bitness: which process loads the filters.
        entry("IIs5IsolationModeEnabled", Boolean),
        // Metabase history (IIsComputer, /LM): how many previous versions History keeps.
        entry("MaxHistoryFiles", Integer),
        entry("Enable32BitAppOnWin64", Boolean),
        // Filters (IIsFilters / IIsFilter).
        entry("FilterLoadOrder", String),
        entry("FilterPath", String),
        entry("FilterEnabled", Boolean),
        entry("FilterDescription", String),
        entry("FilterState", Integer),
        entry("FilterEnableCache", Boolean),
        // Application pools and their health settings.
        entry("AppPoolId", String),
        entry("AppPoolAutoStart", Boolean),
        entry("AppPoolIdentityType", Integer),
        entry("IdleTimeout", Integer),
        entry("PeriodicRestartTime", Integer),
        entry("RapidFailProtection", Boolean),
        entry("RapidFailProtectionMaxCrashes", Integer),
        entry("RapidFailProtectionInterval", Integer),
        // The web service and its sites.
        entry("ServerAutoStart", Boolean),
        entry("ServerComment", String),
        entry("ServerState", Integer),
        entry("AppRoot", String),
        entry("ServerBindings", List),
        entry("SecureBindings", List),
        entry("Path", String),
        entry("AppIsolated", Integer),
        entry("WebSvcExtRestrictionList", List),
        entry("InProcessIsapiApps", List),
        entry("ScriptMaps", List),
        entry("HttpCustomHeaders", List),
        // Compression schemes, which live below /LM/W3SVC/Filters without being filters.
        entry("HcCompressionDll", ExpandString),
        entry("HcFileExtensions", List),
        entry("HcScriptFileExtensions", List),
        entry("HcDoDynamicCompression", Boolean),
        entry("HcDoStaticCompression", Boolean),
        entry("HcDoOnDemandCompression", Boolean),
    ]
};

/// The properties the start-up model and the admin tools read for their meaning, the only
/// values checked when a metabase is read: a bad one is an error at its line (exit 2), since
/// the model would otherwise decide from a value IIS would not have. Any other property passes
/// through untouched. The accessors in `mod.rs` read through this list only (they assert it).
pub(crate) const MODEL_READS: &[&str] = &[
    // Which process loads the filters, and its bitness.
    "IIs5IsolationModeEnabled",
    "Enable32BitAppOnWin64",
    // The filters and the order they load in.
    "FilterLoadOrder",
    "FilterPath",
    "FilterEnabled",
    // What GetFilterVersion returned at the filter's last load, as IIS recorded it.
    "FilterFlags",
    // Rapid-fail protection, which decides when a failing pool is disabled.
    "RapidFailProtection",
    "RapidFailProtectionMaxCrashes",
    "RapidFailProtectionInterval",
    // How many History copies a write keeps.
    "MaxHistoryFiles",
    // The web sites: which start, what they listen on, their applications and pools.
    "ServerBindings",
    "ServerAutoStart",
    "ServerState",
    "ServerComment",
    "AppRoot",
    "AppPoolId",
    "AppIsolated",
];

/// Whether the model reads this property (see [`MODEL_READS`]).
pub(crate) fn is_read_by_model(name: &str) -> bool {
    MODEL_READS.iter().any(|read| read.eq_ignore_ascii_case(name))
}

/// The type of a property: a flag property when MBSchema gives it flags, else from the table,
/// else STRING.
pub(crate) fn kind_of(name: &str) -> PropertyKind {
    if flags::table(name).is_some() {
        return PropertyKind::Flags;
    }
    lookup(name).map_or(PropertyKind::String, |entry| entry.kind)
}

/// The schema's spelling of a property name, or the name as given when it is not known.
pub(crate) fn canonical_name(name: &str) -> &str {
    match flags::table(name) {
        Some(table) => table.property,
        None => lookup(name).map_or(name, |entry| entry.name),
    }
}

fn lookup(name: &str) -> Option<&'static SchemaEntry> {
    SCHEMA.iter().find(|entry| entry.name.eq_ignore_ascii_case(name))
}

/// The type a `<Custom Type="...">` declares, for properties not in the table.
pub(crate) fn kind_of_custom_type(custom_type: &str) -> Option<PropertyKind> {
    match custom_type.trim().to_ascii_uppercase().as_str() {
        "DWORD" => Some(PropertyKind::Integer),
        "STRING" => Some(PropertyKind::String),
        "EXPANDSZ" => Some(PropertyKind::ExpandString),
        "MULTISZ" => Some(PropertyKind::List),
        "BINARY" => Some(PropertyKind::Binary),
        _ => None,
    }
}

/// `TRUE`/`FALSE`/`1`/`0`, any case: the Boolean spellings IIS and adsutil accept.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_uppercase().as_str() {
        "TRUE" | "1" => Some(true),
        "FALSE" | "0" => Some(false),
        _ => None,
    }
}

/// The items of a MULTISZ value as IIS writes it: one per line, continuation lines indented.
pub(crate) fn list_items(value: &str) -> Vec<String> {
    value.lines().map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

/// Why a value read from a file cannot be used: `(what is wrong, what to do)`. Only the
/// properties the model reads are judged; any other value is fine as it is.
pub(crate) fn check_stored(
    name: &str,
    kind: PropertyKind,
    value: &str,
) -> Result<(), (String, String)> {
    if !is_read_by_model(name) {
        return Ok(());
    }
    match kind {
        PropertyKind::Boolean if parse_bool(value).is_none() => {
            Err((format!("{name}=\"{value}\" is not a Boolean"), "write TRUE or FALSE".to_string()))
        }
        PropertyKind::Integer if parse_u32(value).is_none() => Err((
            format!("{name}=\"{value}\" is not a number"),
            "write a whole number between 0 and 4294967295".to_string(),
        )),
        PropertyKind::Flags => flag_value(name, value).map(|_| ()),
        _ => Ok(()),
    }
}

/// The value of a flag property's text, or why it has none: `(what is wrong, what to do)`,
/// naming the flags the property has.
pub(crate) fn flag_value(name: &str, value: &str) -> Result<u32, (String, String)> {
    let Some(table) = flags::table(name) else {
        return parse_u32(value).ok_or_else(|| {
            (format!("{name}=\"{value}\" is not a number"), "write a whole number".to_string())
        });
    };
    let shown = value.split_whitespace().collect::<Vec<_>>().join(" ");
    table.value_of(value).map_err(|error| {
        let what = match error {
            FlagError::Empty => format!("{name}=\"{shown}\" has an empty flag between bars"),
            FlagError::Unknown(flag) => {
                format!(
                    "{name}=\"{shown}\" names {flag}, which is not a flag of {}",
                    table.property
                )
            }
        };
        let fix = format!(
            "write a number or flag names joined by \" | \"; the flags of {} are {}",
            table.property,
            table.names()
        );
        (what, fix)
    })
}

/// Turns a value given to adsutil into the text IIS writes for that type (`1` -> `TRUE`).
/// A LIST value gives one item per line. A flag value, given by names or by number, is written
/// the way `stored` (the value it replaces) is: as a number where the file holds a number, else
/// by names as IIS writes them, so that setting a value back restores the file's bytes.
pub(crate) fn normalise_input(
    name: &str,
    kind: PropertyKind,
    value: &str,
    stored: Option<&str>,
) -> Result<String, (String, String)> {
    match kind {
        PropertyKind::Boolean => match parse_bool(value) {
            Some(true) => Ok("TRUE".to_string()),
            Some(false) => Ok("FALSE".to_string()),
            None => Err((
                format!("\"{value}\" is not a Boolean, and {name} is one"),
                "give 1, 0, TRUE or FALSE".to_string(),
            )),
        },
        PropertyKind::Integer => match parse_u32(value) {
            Some(number) => Ok(number.to_string()),
            None => Err((
                format!("\"{value}\" is not a number, and {name} is one"),
                "give a whole number between 0 and 4294967295".to_string(),
            )),
        },
        PropertyKind::Flags => {
            let bits = flag_value(name, value)?;
            match flags::table(name) {
                Some(table) if !stored.is_some_and(flags::is_numeric) => Ok(table.text_of(bits)),
                _ => Ok(bits.to_string()),
            }
        }
        PropertyKind::String
        | PropertyKind::ExpandString
        | PropertyKind::List
        | PropertyKind::Binary => Ok(value.to_string()),
    }
}
