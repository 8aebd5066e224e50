//! The one normaliser of metabase paths.
//!
//! Two spellings meet here: `Location` attributes in the file (`/LM/W3SVC/Filters`, sometimes
//! `/LM/W3SVC/1/filters`) and adsutil arguments (`W3SVC/Filters`, `/LM/W3SVC/...`,
//! `LM/w3svc/...`, `IIS://LocalHost/W3SVC/...`). Both become an *id*: the path below the root,
//! case-folded, `/`-separated, no trailing slash. IIS compares paths without regard to case, and
//! real files mix `Filters` and `filters`, so ids are what every lookup compares.

/// Case folding used for every comparison of key and property names.
pub(crate) fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// The id of a key from its `Location` attribute as written (`.` and `/` stay as they are).
pub(crate) fn location_id(location: &str) -> String {
    let trimmed = location.trim();
    let trimmed = if trimmed.len() > 1 { trimmed.trim_end_matches('/') } else { trimmed };
    fold(trimmed)
}

/// The id of the parent of a key id (`/lm/w3svc/filters` -> `/lm/w3svc`).
pub(crate) fn parent_id(id: &str) -> Option<&str> {
    id.rsplit_once('/').map(|(parent, _)| parent).filter(|parent| !parent.is_empty())
}

/// Whether the key `id` lies strictly below the key `ancestor`.
pub(crate) fn is_below(id: &str, ancestor: &str) -> bool {
    id.len() > ancestor.len() && id.starts_with(ancestor) && id[ancestor.len()..].starts_with('/')
}

/// The last component of a `Location` as written (`/LM/W3SVC/AppPools/Pool1` -> `Pool1`).
pub(crate) fn last_component(location: &str) -> Option<&str> {
    location.trim_end_matches('/').rsplit('/').next().filter(|name| !name.is_empty())
}

/// A key path below `/LM`, as a user wrote it in adsutil syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyPath {
    /// The components after `/LM`, spelled as given.
    components: Vec<String>,
}

impl KeyPath {
    /// Parses adsutil path syntax: an optional `IIS://<machine>` or `/LM/` prefix, then
    /// components separated by `/`. `None` for a path with no components at all.
    pub(crate) fn from_adsutil(input: &str) -> Option<KeyPath> {
        let mut rest = input.trim();
        // ADSI spells the machine where the metabase spells `LM` (local machine).
        if rest.len() >= 6 && rest[..6].eq_ignore_ascii_case("iis://") {
            rest = rest[6..].split_once('/').map_or("", |(_machine, tail)| tail);
            if rest.is_empty() {
                return Some(KeyPath { components: Vec::new() });
            }
        }
        let mut components: Vec<String> =
            rest.split('/').filter(|part| !part.is_empty()).map(str::to_string).collect();
        if components.is_empty() {
            return None;
        }
        if components[0].eq_ignore_ascii_case("LM") {
            components.remove(0);
        }
        Some(KeyPath { components })
    }

    /// A path from components below `/LM`, e.g. `["W3SVC", "Filters"]`.
    pub(crate) fn below_lm(components: &[&str]) -> KeyPath {
        KeyPath { components: components.iter().map(|c| c.to_string()).collect() }
    }

    /// A path from a `Location` that starts with `/LM` (other locations, `.` and `/`, are not
    /// addressable with adsutil and give `None`).
    pub(crate) fn from_location(location: &str) -> Option<KeyPath> {
        let mut parts = location.split('/').filter(|part| !part.is_empty());
        if !parts.next()?.eq_ignore_ascii_case("LM") || !location.starts_with('/') {
            return None;
        }
        Some(KeyPath { components: parts.map(str::to_string).collect() })
    }

    /// The id to look keys up by.
    pub(crate) fn id(&self) -> String {
        let mut id = String::from("/lm");
        for component in &self.components {
            id.push('/');
            id.push_str(&fold(component));
        }
        id
    }

    /// The path as a user should read it: `/LM/W3SVC/Filters`.
    pub(crate) fn display(&self) -> String {
        let mut text = String::from("/LM");
        for component in &self.components {
            text.push('/');
            text.push_str(component);
        }
        text
    }

    pub(crate) fn components(&self) -> &[String] {
        &self.components
    }

    /// Splits off the last component, which adsutil reads as a property name.
    pub(crate) fn split_last(&self) -> Option<(KeyPath, String)> {
        let (last, init) = self.components.split_last()?;
        Some((KeyPath { components: init.to_vec() }, last.clone()))
    }

    pub(crate) fn parent(&self) -> Option<KeyPath> {
        self.split_last().map(|(parent, _)| parent)
    }

    pub(crate) fn child(&self, name: &str) -> KeyPath {
        let mut components = self.components.clone();
        components.push(name.to_string());
        KeyPath { components }
    }
}
