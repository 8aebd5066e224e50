//! Editing a metabase as byte splices into its text, followed by a re-parse.
//!
//! An edit never re-serialises the document: it replaces the bytes of one attribute value,
//! inserts or removes whole lines, and leaves every other byte alone. New text follows IIS's
//! own layout so that an edited file looks as if IIS had written it:
//! - a new attribute is a line `\t\tName="value"` placed just before the line holding the start
//!   tag's `>` (or, when `>` shares a line with the last attribute, on a new line after it);
//! - a new key is `<Type\tLocation ="/LM/..."`, one line per attribute, `\t>`, `</Type>`, placed
//!   after the last key of the nearest ancestor's subtree (before `</MBProperty>` if there is
//!   none);
//! - MULTISZ items are separated the way the value already separates them (a line break and
//!   the continuation indent), else by a line break and two TABs.
//!
//! Every line break written is the file's own (CRLF or LF). After splicing, the new text is
//! parsed again; if that fails the harness has a bug, the edit is reported as such and the
//! metabase keeps its previous text.

use std::ops::Range;

use super::Metabase;
use super::error::{MetabaseError, MetabaseErrorKind};
use super::parse::{Document, Place, Prop, Tag};
use super::path::{self, KeyPath};
use super::schema::{self, PropertyKind};

/// Replace the bytes in `range` with `text` (an insertion when the range is empty).
pub(crate) struct Splice {
    range: Range<usize>,
    text: String,
}

/// Keys that setting a property may create, because IIS tools create them on demand:
/// `aspnet_regiis` and installers register filters, adsutil users add application pools.
/// Returns the key type to write.
fn creatable_key_type(id: &str) -> Option<&'static str> {
    let rest = id.strip_prefix("/lm/w3svc/")?;
    match rest.split_once('/') {
        None if rest == "filters" => Some("IIsFilters"),
        None if rest == "apppools" => Some("IIsApplicationPools"),
        Some(("filters", name)) if !name.is_empty() && !name.contains('/') => Some("IIsFilter"),
        Some(("apppools", name)) if !name.is_empty() && !name.contains('/') => {
            Some("IIsApplicationPool")
        }
        _ => None,
    }
}

/// How the parents of creatable keys are spelled when the harness has to write them.
fn canonical_location(id: &str) -> Option<&'static str> {
    match id {
        "/lm/w3svc/filters" => Some("/LM/W3SVC/Filters"),
        "/lm/w3svc/apppools" => Some("/LM/W3SVC/AppPools"),
        _ => None,
    }
}

impl Metabase {
    /// Sets `name` at the key `key_path` to `value` (adsutil's spelling of a value).
    pub(crate) fn set_property(
        &mut self,
        key_path: &KeyPath,
        name: &str,
        value: &str,
    ) -> Result<(), MetabaseError> {
        let id = key_path.id();
        let existing = self.doc.property(&id, name);
        self.check_settable(key_path, name, existing.is_some())?;
        // `escape_value` writes what XML can hold; the other control characters it cannot.
        if let Some((at, c)) = crate::input::find_control(value) {
            return Err(self.refused(
                format!(
                    "the value for {name} holds the control character {} at byte {at}, which XML cannot hold",
                    crate::input::describe_control(c)
                ),
                "give the value without it; TAB and line breaks are allowed",
            ));
        }
        let kind = existing.map_or_else(|| schema::kind_of(name), |prop| prop.kind);
        let stored = schema::normalise_input(
            schema::canonical_name(name),
            kind,
            value,
            existing.map(|prop| prop.value.as_str()),
        )
        .map_err(|(what, fix)| self.refused(what, fix))?;
        let splice = match self.doc.key(&id) {
            Some(key) => match key.property(name) {
                Some(prop) => self.replace_value(prop, kind, &stored),
                None => self.insert_attribute(
                    &key.tag,
                    schema::canonical_name(name),
                    &self.stored_text(None, kind, &stored),
                ),
            },
            None => self.create_key(
                key_path,
                &[(schema::canonical_name(name), self.stored_text(None, kind, &stored))],
            )?,
        };
        self.apply(vec![splice])
    }

    /// Deletes the property `name` at the key `key_path`.
    pub(crate) fn delete_property(
        &mut self,
        key_path: &KeyPath,
        name: &str,
    ) -> Result<(), MetabaseError> {
        self.check_not_key_itself(name)?;
        let id = key_path.id();
        if !self.doc.key_exists(&id) {
            return Err(self.path_not_found(key_path));
        }
        let Some(prop) = self.doc.property(&id, name) else {
            return Err(MetabaseError::new(
                MetabaseErrorKind::NotSet,
                &self.origin,
                None,
                format!("the parameter \"{name}\" is not set at {}", key_path.display()),
                "check the name with adsutil enum",
            ));
        };
        let span = match &prop.place {
            Place::Attribute { span, .. } => span.clone(),
            Place::Custom { element, .. } => element.clone(),
        };
        let splice = Splice { range: self.removal_range(span), text: String::new() };
        self.apply(vec![splice])
    }

    /// Deletes the key `key_path` and every key below it.
    pub(crate) fn delete_key(&mut self, key_path: &KeyPath) -> Result<(), MetabaseError> {
        let id = key_path.id();
        let splices: Vec<Splice> = self
            .doc
            .keys
            .iter()
            .filter(|key| key.id == id || path::is_below(&key.id, &id))
            .map(|key| Splice {
                range: self.removal_range(key.tag.start..key.end),
                text: String::new(),
            })
            .collect();
        if splices.is_empty() {
            return Err(self.path_not_found(key_path));
        }
        self.apply(splices)
    }

    /// Replaces item `index` of the MULTISZ `name` at `key_id`, leaving the other items' bytes
    /// alone.
    pub(crate) fn replace_list_item(
        &mut self,
        key_id: &str,
        name: &str,
        index: usize,
        item: &str,
    ) -> Result<(), MetabaseError> {
        let span = self
            .doc
            .property(key_id, name)
            .and_then(|prop| self.raw_items(prop).into_iter().nth(index))
            .map(|(span, _)| span)
            .ok_or_else(|| {
                self.internal(&format!("item {index} of {name} at {key_id} is not there"))
            })?;
        self.apply(vec![Splice { range: span, text: escape_value(item) }])
    }

    /// Appends an item to the MULTISZ `name` at `key_path`, creating the property if needed.
    pub(crate) fn push_list_item(
        &mut self,
        key_path: &KeyPath,
        name: &str,
        item: &str,
    ) -> Result<(), MetabaseError> {
        let id = key_path.id();
        let Some(prop) = self.doc.property(&id, name) else {
            return self.set_property(key_path, name, item);
        };
        let splice = match (self.raw_items(prop).last(), &prop.place) {
            (Some((last, _)), _) => {
                let separator = self.list_separator(prop);
                Splice {
                    range: last.end..last.end,
                    text: format!("{separator}{}", escape_value(item)),
                }
            }
            (None, Place::Attribute { value, .. })
            | (None, Place::Custom { value: Some(value), .. }) => {
                Splice { range: value.clone(), text: escape_value(item) }
            }
            (None, Place::Custom { tag, .. }) => {
                self.insert_attribute(tag, "Value", &escape_value(item))
            }
        };
        self.apply(vec![splice])
    }

    /// The items of a MULTISZ as written: the span of each (indentation excluded) and its
    /// decoded text.
    pub(crate) fn raw_items(&self, prop: &Prop) -> Vec<(Range<usize>, String)> {
        let Some(value) = value_span(prop) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        let mut line_start = value.start;
        for line in self.text[value.clone()].split('\n') {
            let lead = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                let start = line_start + lead;
                let decoded = quick_xml::escape::unescape(trimmed)
                    .map_or_else(|_| trimmed.to_string(), |v| v.into_owned());
                items.push((start..start + trimmed.len(), decoded));
            }
            line_start += line.len() + 1;
        }
        items
    }

    /// `Location` and `KeyType` look like properties to adsutil users but are the key itself.
    fn check_not_key_itself(&self, name: &str) -> Result<(), MetabaseError> {
        if name.eq_ignore_ascii_case("Location") || name.eq_ignore_ascii_case("KeyType") {
            return Err(self.refused(
                format!(
                    "{name} is the key's {}, not a property",
                    if name.eq_ignore_ascii_case("Location") { "path" } else { "type" }
                ),
                "create or delete the key instead",
            ));
        }
        Ok(())
    }

    /// What must hold before a property is set: a name that can be written as an attribute
    /// (when it is new), and `FilterLoadOrder` only where the parser accepts it.
    fn check_settable(
        &self,
        key_path: &KeyPath,
        name: &str,
        exists: bool,
    ) -> Result<(), MetabaseError> {
        self.check_not_key_itself(name)?;
        if !exists && !is_xml_name(name) {
            return Err(self.refused(
                format!("\"{name}\" is not a property name"),
                "property names are letters, digits and _ (e.g. FilterPath)",
            ));
        }
        if name.eq_ignore_ascii_case("FilterLoadOrder")
            && !super::parse::is_filters_key(&key_path.id())
        {
            return Err(self.refused(
                format!("FilterLoadOrder belongs on a Filters key, not on {}", key_path.display()),
                "set it at W3SVC/Filters (global filters) or W3SVC/<site>/Filters",
            ));
        }
        Ok(())
    }

    /// The text to store for a value: for a LIST, the items joined the way `prop` joins them.
    fn stored_text(&self, prop: Option<&Prop>, kind: PropertyKind, value: &str) -> String {
        if kind != PropertyKind::List {
            return escape_value(value);
        }
        let separator = prop
            .map_or_else(|| format!("{}\t\t", self.doc.newline), |prop| self.list_separator(prop));
        schema::list_items(value)
            .iter()
            .map(|item| escape_value(item))
            .collect::<Vec<_>>()
            .join(&separator)
    }

    fn replace_value(&self, prop: &Prop, kind: PropertyKind, stored: &str) -> Splice {
        let text = self.stored_text(Some(prop), kind, stored);
        match &prop.place {
            Place::Attribute { value, .. } | Place::Custom { value: Some(value), .. } => {
                Splice { range: value.clone(), text }
            }
            Place::Custom { tag, .. } => self.insert_attribute(tag, "Value", &text),
        }
    }

    /// What separates the items of a MULTISZ: the line break and indent it already uses.
    fn list_separator(&self, prop: &Prop) -> String {
        let default = format!("{}\t\t", self.doc.newline);
        let items = self.raw_items(prop);
        match items.as_slice() {
            [first, second, ..] => {
                let between = &self.text[first.0.end..second.0.start];
                if between.contains('\n') { between.to_string() } else { default }
            }
            _ => default,
        }
    }

    /// A new attribute line in IIS's layout.
    fn insert_attribute(&self, tag: &Tag, name: &str, escaped: &str) -> Splice {
        let newline = self.doc.newline;
        let gap = &self.text[tag.last_attr_end..tag.close];
        match gap.rfind('\n') {
            // `>` (or `/>`) is on a line of its own: the attribute goes on the line before it.
            Some(at) => {
                let at = tag.last_attr_end + at + 1;
                Splice { range: at..at, text: format!("\t\t{name}=\"{escaped}\"{newline}") }
            }
            None => Splice {
                range: tag.last_attr_end..tag.last_attr_end,
                text: format!("{newline}\t\t{name}=\"{escaped}\""),
            },
        }
    }

    /// New elements for `key_path` (and its parent, when the parent has no element yet) with
    /// the given properties (values already escaped).
    fn create_key(
        &self,
        key_path: &KeyPath,
        props: &[(&str, String)],
    ) -> Result<Splice, MetabaseError> {
        let id = key_path.id();
        let Some(key_type) = creatable_key_type(&id) else {
            return Err(self.refused(
                format!("key {} does not exist", key_path.display()),
                "create it in the metabase (an element with that Location) or check the path",
            ));
        };
        let newline = self.doc.newline;
        let mut block = String::new();
        let mut top_id = id.clone();
        let location = match key_path.parent() {
            Some(parent) if creatable_key_type(&parent.id()).is_some() => {
                let parent_id = parent.id();
                let parent_location = match self.doc.key(&parent_id) {
                    Some(existing) => existing.location.trim_end_matches('/').to_string(),
                    None => {
                        let spelled = canonical_location(&parent_id)
                            .map_or_else(|| parent.display(), str::to_string);
                        let parent_type =
                            creatable_key_type(&parent_id).unwrap_or("IIsConfigObject");
                        block.push_str(&key_element(parent_type, &spelled, &[], newline));
                        top_id = parent_id;
                        spelled
                    }
                };
                let name = key_path.components().last().map_or("", String::as_str);
                format!("{parent_location}/{name}")
            }
            _ => canonical_location(&id).map_or_else(|| key_path.display(), str::to_string),
        };
        block.push_str(&key_element(key_type, &location, props, newline));
        Ok(self.insert_block(self.key_insertion_point(&top_id), block))
    }

    /// Where a new key goes: after the last element of the subtree of its nearest ancestor
    /// (or of itself, when keys below it exist), so that keys stay grouped the way IIS writes
    /// them; before `</MBProperty>` when nothing related exists.
    fn key_insertion_point(&self, id: &str) -> Option<usize> {
        let mut candidate = Some(id);
        while let Some(ancestor) = candidate {
            let end = self
                .doc
                .keys
                .iter()
                .filter(|key| key.id == ancestor || path::is_below(&key.id, ancestor))
                .map(|key| key.end)
                .max();
            if end.is_some() {
                return end;
            }
            candidate = path::parent_id(ancestor);
        }
        None
    }

    /// Inserts whole lines after the element ending at `after`, or before `</MBProperty>`.
    fn insert_block(&self, after: Option<usize>, block: String) -> Splice {
        let newline = self.doc.newline;
        let Some(after) = after else {
            let close = self.doc.mbproperty_close;
            let line_start = self.text[..close].rfind('\n').map_or(0, |at| at + 1);
            return if self.text[line_start..close].trim().is_empty() {
                Splice { range: line_start..line_start, text: block }
            } else {
                Splice { range: close..close, text: format!("{newline}{block}") }
            };
        };
        let rest = &self.text[after..];
        let line_break = if rest.starts_with("\r\n") {
            2
        } else if rest.starts_with('\n') {
            1
        } else {
            0
        };
        if line_break > 0 {
            let at = after + line_break;
            Splice { range: at..at, text: block }
        } else {
            let block = block.strip_suffix(newline).unwrap_or(&block).to_string();
            Splice { range: after..after, text: format!("{newline}{block}") }
        }
    }

    /// The bytes to remove to delete `span`: its whole line(s) when nothing else is on them,
    /// else just the span and the blanks before it.
    fn removal_range(&self, span: Range<usize>) -> Range<usize> {
        let text = &self.text;
        let line_start = text[..span.start].rfind('\n').map_or(0, |at| at + 1);
        let line_end = text[span.end..].find('\n').map_or(text.len(), |at| span.end + at + 1);
        let alone_before = text[line_start..span.start].trim().is_empty();
        let alone_after = text[span.end..line_end].trim().is_empty();
        match (alone_before, alone_after) {
            (true, true) => line_start..line_end,
            // The span starts its line but `>` follows it: join `>` to the previous line.
            (true, false) if line_start > 0 => {
                let previous_break = if text[..line_start].ends_with("\r\n") { 2 } else { 1 };
                line_start - previous_break..span.end
            }
            _ => {
                let blanks = text[..span.start].len()
                    - text[..span.start].trim_end_matches([' ', '\t']).len();
                span.start - blanks..span.end
            }
        }
    }

    /// Applies splices (which must not overlap) and re-parses; on failure nothing changes.
    fn apply(&mut self, mut splices: Vec<Splice>) -> Result<(), MetabaseError> {
        splices.sort_by_key(|splice| std::cmp::Reverse(splice.range.start));
        let mut text = self.text.clone();
        let mut limit = text.len();
        for splice in &splices {
            if splice.range.end > limit || splice.range.start > splice.range.end {
                return Err(self.internal("two edits overlap"));
            }
            text.replace_range(splice.range.clone(), &splice.text);
            limit = splice.range.start;
        }
        match Document::parse(&text, &self.origin) {
            Ok(doc) => {
                self.text = text;
                self.doc = doc;
                Ok(())
            }
            Err(error) => {
                Err(self
                    .internal(&format!("the edited metabase does not parse ({})", error.what())))
            }
        }
    }

    pub(crate) fn internal(&self, what: &str) -> MetabaseError {
        MetabaseError::internal(&self.origin, what)
    }
}

/// A key element in IIS's layout, ending with a line break.
fn key_element(key_type: &str, location: &str, props: &[(&str, String)], newline: &str) -> String {
    let mut element = format!("<{key_type}\tLocation =\"{}\"{newline}", escape_value(location));
    for (name, value) in props {
        element.push_str(&format!("\t\t{name}=\"{value}\"{newline}"));
    }
    element.push_str(&format!("\t>{newline}</{key_type}>{newline}"));
    element
}

fn value_span(prop: &Prop) -> Option<Range<usize>> {
    match &prop.place {
        Place::Attribute { value, .. } => Some(value.clone()),
        Place::Custom { value, .. } => value.clone(),
    }
}

/// Escapes what cannot stand in a double-quoted attribute value. Line breaks stay literal:
/// IIS writes MULTISZ items on lines of their own.
pub(crate) fn escape_value(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

/// A name that can be written as an attribute without breaking the XML.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
