//! The one table of property types, and what a value of each type may look like.
//!
//! IIS keeps the real schema in MBSchema.xml; the harness only needs the types of the
//! properties that decide how filters load, plus a few that appear around them in real files,
//! so that it can check values when reading and normalise them when writing. A property that
//! is not in the table is a STRING: it is kept and edited as text, never checked.

use std::fmt;

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
            // The file stores flags by name and the harness does not carry the table of bit
            // values, so it shows them as written under a label of their own.
            PropertyKind::Flags => "FLAGS",
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
        entry("FilterFlags", Integer),
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
        entry("ServerBindings", List),
        entry("SecureBindings", List),
        entry("Path", String),
        entry("AppIsolated", Integer),
        entry("WebSvcExtRestrictionList", List),
        entry("InProcessIsapiApps", List),
        entry("ScriptMaps", List),
        entry("HttpCustomHeaders", List),
        entry("AccessFlags", Flags),
        entry("AuthFlags", Flags),
        // Compression schemes, which live below /LM/W3SVC/Filters without being filters.
        entry("HcCompressionDll", ExpandString),
        entry("HcFileExtensions", List),
        entry("HcScriptFileExtensions", List),
        entry("HcDoDynamicCompression", Boolean),
        entry("HcDoStaticCompression", Boolean),
        entry("HcDoOnDemandCompression", Boolean),
    ]
};

/// The type of a property: from the table, else STRING.
pub(crate) fn kind_of(name: &str) -> PropertyKind {
    lookup(name).map_or(PropertyKind::String, |entry| entry.kind)
}

/// The schema's spelling of a property name, or the name as given when it is not in the table.
pub(crate) fn canonical_name(name: &str) -> &str {
    lookup(name).map_or(name, |entry| entry.name)
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

/// A DWORD in decimal (as IIS writes it) or `0x` hexadecimal.
pub(crate) fn parse_u32(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The items of a MULTISZ value as IIS writes it: one per line, continuation lines indented.
pub(crate) fn list_items(value: &str) -> Vec<String> {
    value.lines().map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

/// Why a value read from a file is not a valid value of its type: `(what is wrong, what to do)`.
pub(crate) fn check_stored(
    name: &str,
    kind: PropertyKind,
    value: &str,
) -> Result<(), (String, String)> {
    match kind {
        PropertyKind::Boolean if parse_bool(value).is_none() => {
            Err((format!("{name}=\"{value}\" is not a Boolean"), "write TRUE or FALSE".to_string()))
        }
        PropertyKind::Integer if parse_u32(value).is_none() => Err((
            format!("{name}=\"{value}\" is not a number"),
            "write a whole number between 0 and 4294967295".to_string(),
        )),
        PropertyKind::Flags if !is_flags(value) => Err((
            format!("{name}=\"{value}\" is not a set of flags"),
            "write flag names separated by \" | \", e.g. AccessRead | AccessScript".to_string(),
        )),
        _ => Ok(()),
    }
}

/// Turns a value given to adsutil into the text IIS writes for that type (`1` -> `TRUE`).
/// A LIST value gives one item per line.
pub(crate) fn normalise_input(
    name: &str,
    kind: PropertyKind,
    value: &str,
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
            if is_flags(value) {
                Ok(value.trim().to_string())
            } else {
                Err((
                    format!("\"{value}\" is not a set of flags, and {name} is one"),
                    "give a number or flag names separated by \" | \"".to_string(),
                ))
            }
        }
        PropertyKind::String
        | PropertyKind::ExpandString
        | PropertyKind::List
        | PropertyKind::Binary => Ok(value.to_string()),
    }
}

/// A number, or names (or numbers) joined by `|`.
fn is_flags(value: &str) -> bool {
    value.trim().is_empty()
        || value.split('|').map(str::trim).all(|flag| {
            !flag.is_empty() && flag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}
