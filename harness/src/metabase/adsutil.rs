//! How `adsutil.vbs` shows properties and keys: the name padded to 32 columns, the type in
//! parentheses, then the value (`Enable32BitAppOnWin64           : (BOOLEAN) True`); MULTISZ
//! values as `(LIST) (N Items)` with one indented, quoted item per line; child keys of an
//! `ENUM` in brackets (`[/w3svc/Filters/ASP.NET_2.0.50727.0]`).

use super::Property;
use super::parse::Document;
use super::path::{self, KeyPath, fold};
use super::schema::{self, PropertyKind};

/// What `adsutil ENUM` reports for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumeration {
    /// The key's `Location` as written (as asked, for a key only implied by keys below it).
    pub key: String,
    /// `KeyType` first (when the key has an element), then the properties in document order.
    pub properties: Vec<Property>,
    /// The child keys in document order, spelled as adsutil prints them:
    /// `/w3svc/Filters/ASP.NET_2.0.50727.0`.
    pub children: Vec<String>,
}

impl Enumeration {
    /// The lines adsutil prints: properties, a blank line, then `[child]` lines.
    pub fn adsutil_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.properties.iter().map(Property::adsutil_line).collect();
        if !self.children.is_empty() {
            lines.push(String::new());
        }
        lines.extend(self.children.iter().map(|child| format!("[{child}]")));
        lines
    }
}

impl Property {
    /// The property as adsutil prints it; a LIST takes one line per item after the first.
    pub fn adsutil_line(&self) -> String {
        let head = format!("{:<32}: ({}) ", self.name, self.kind.adsutil_label());
        match self.kind {
            PropertyKind::Boolean => match schema::parse_bool(&self.value) {
                Some(true) => format!("{head}True"),
                Some(false) => format!("{head}False"),
                None => format!("{head}{}", self.value),
            },
            PropertyKind::String | PropertyKind::ExpandString => {
                format!("{head}\"{}\"", self.value)
            }
            PropertyKind::List => {
                let items = self.items();
                let mut text = format!("{head}({} Items)", items.len());
                for item in items {
                    text.push_str(&format!("\n  \"{item}\""));
                }
                text
            }
            // A flag value shows as its number, as adsutil shows every DWORD (see
            // `PropertyKind::adsutil_label`); one the model does not read and that names no
            // known flag shows as written.
            PropertyKind::Flags => match self.as_flags() {
                Some(bits) => format!("{head}{bits}"),
                None => format!("{head}{}", self.value.trim()),
            },
            PropertyKind::Integer | PropertyKind::Binary => {
                format!("{head}{}", self.value.trim())
            }
        }
    }
}

/// The enumeration of a key that exists (written, or implied by keys below it).
pub(crate) fn enumerate(doc: &Document, key_path: &KeyPath) -> Enumeration {
    let id = key_path.id();
    let key = doc.key(&id);
    let mut properties = Vec::new();
    if let Some(key) = key {
        properties.extend(doc.property_view(&id, "KeyType"));
        properties.extend(key.props.iter().map(|prop| prop.view(key)));
    }
    let depth = key_path.components().len();
    let mut children: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for below in doc.keys.iter().filter(|other| path::is_below(&other.id, &id)) {
        let Some(below_path) = KeyPath::from_location(&below.location) else {
            continue;
        };
        let Some(child) = below_path.components().get(..=depth) else {
            continue;
        };
        let folded = fold(&child.join("/"));
        if !seen.insert(folded) {
            continue;
        }
        children.push(adsutil_spelling(child));
    }
    Enumeration {
        key: key.map_or_else(|| key_path.display(), |key| key.location.clone()),
        properties,
        children,
    }
}

/// A key path the way adsutil prints child keys: without `/LM`, the service name in lower case
/// (`/w3svc/Filters/Compression`), the rest as the file spells it.
fn adsutil_spelling(components: &[String]) -> String {
    let mut text = String::new();
    for (at, component) in components.iter().enumerate() {
        text.push('/');
        if at == 0 {
            text.push_str(&component.to_lowercase());
        } else {
            text.push_str(component);
        }
    }
    text
}
