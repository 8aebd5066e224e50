//! Reading MetaBase.xml: quick-xml events in, an index of keys and properties (with the byte
//! spans they occupy in the text) out, or a [`MetabaseError`] that names the line.
//!
//! The format, as IIS 6.0 writes it: `<configuration xmlns="urn:microsoft-catalog:XML_Metabase_V64_0">`
//! holds `<MBProperty>`, which holds one element per key. The element name is the key type
//! (`IIsWebService`, `IIsFilter`, ... any name), `Location` is the key path, every other
//! attribute is a property, and `<Custom Name=".." Value=".." .../>` children are properties the
//! schema does not know. Keys do not nest in the XML; the hierarchy is in the paths.

use crate::text_position::{Lines, newline_of, offset_within, past_bom};
use crate::xml_attributes::{self, Attr, AttrProblem};
use crate::xml_spans::{TextKind, XmlSpans};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use quick_xml::events::BytesStart;

use super::Property;
use super::error::{MetabaseError, MetabaseErrorKind};
use super::path::{self, fold};
use super::schema::{self, PropertyKind};

/// The namespaces IIS writes on `<configuration>`: IIS 6.0 and IIS 5.1.
const KNOWN_NAMESPACES: [&str; 2] =
    ["urn:microsoft-catalog:XML_Metabase_V64_0", "urn:microsoft-catalog:XML_Metabase_V54_0"];

/// The index of a parsed metabase. Offsets are byte offsets into the text it was parsed from.
#[derive(Clone, Debug)]
pub(crate) struct Document {
    /// The file's line ending, which every inserted line uses too.
    pub(crate) newline: &'static str,
    /// The keys in document order.
    pub(crate) keys: Vec<Key>,
    /// Where `</MBProperty>` starts: a new key with no ancestor in the file goes before it.
    pub(crate) mbproperty_close: usize,
    /// Each key's index in `keys` by id, so that a lookup does not scan every key (a hosting
    /// server's metabase has tens of thousands).
    index: HashMap<String, usize>,
    /// The ids of keys that have no element but hold keys that do (`/lm/w3svc` when only
    /// `/LM/W3SVC/Filters` is written).
    implied: HashSet<String>,
}

/// One key: one element below `<MBProperty>`.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    /// The element name, which is the key type (`IIsFilter`).
    pub(crate) element: String,
    /// `Location` as written.
    pub(crate) location: String,
    /// `Location` normalised for lookups (see `path`).
    pub(crate) id: String,
    pub(crate) line: usize,
    pub(crate) tag: Tag,
    /// Just past the element: past its end tag, or past `/>`.
    pub(crate) end: usize,
    /// Attributes (other than `Location`) in order, then `<Custom>` properties in order.
    pub(crate) props: Vec<Prop>,
    /// Each property's index in `props` by folded name, filled when the key is complete.
    by_name: HashMap<String, usize>,
}

/// Where the parts of a start tag are, which is what inserting an attribute needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tag {
    /// The `<`.
    pub(crate) start: usize,
    /// Just past the last attribute's closing quote (past the name if there is none).
    pub(crate) last_attr_end: usize,
    /// The `>` that ends the start tag, or the `/` of `/>`.
    pub(crate) close: usize,
}

/// One property at one key.
#[derive(Clone, Debug)]
pub(crate) struct Prop {
    /// The name as written.
    pub(crate) name: String,
    pub(crate) kind: PropertyKind,
    /// The value with entities decoded and line breaks kept (MULTISZ items are lines).
    pub(crate) value: String,
    pub(crate) line: usize,
    pub(crate) place: Place,
}

/// Where a property is written.
#[derive(Clone, Debug)]
pub(crate) enum Place {
    /// An attribute of the key's start tag.
    Attribute {
        /// From the first letter of the name to past the closing quote.
        span: Range<usize>,
        /// The value between the quotes, as written (escaped).
        value: Range<usize>,
    },
    /// A `<Custom>` child element.
    Custom {
        /// The whole element.
        element: Range<usize>,
        tag: Tag,
        /// The `Value` attribute's value between the quotes, if there is one.
        value: Option<Range<usize>>,
    },
}

impl Document {
    /// Parses metabase text (with or without a UTF-8 BOM).
    pub(crate) fn parse(text: &str, origin: &Path) -> Result<Document, MetabaseError> {
        Parser::new(text, origin).run()
    }

    /// The key written with this id, if there is an element for it.
    pub(crate) fn key(&self, id: &str) -> Option<&Key> {
        self.index.get(id).map(|&at| &self.keys[at])
    }

    /// Whether the key exists: written, or implied by a key below it (IIS does not always
    /// write an element for a key that only holds other keys, e.g. `Filters/Compression`).
    pub(crate) fn key_exists(&self, id: &str) -> bool {
        self.index.contains_key(id) || self.implied.contains(id)
    }

    /// A property set at the key with this id.
    pub(crate) fn property(&self, id: &str, name: &str) -> Option<&Prop> {
        self.key(id)?.property(name)
    }

    /// A property as the public API shows it, including the read-only `KeyType` that adsutil
    /// reports for every key.
    pub(crate) fn property_view(&self, id: &str, name: &str) -> Option<Property> {
        let key = self.key(id)?;
        if name.eq_ignore_ascii_case("KeyType") {
            return Some(Property {
                name: "KeyType".to_string(),
                kind: PropertyKind::String,
                value: key.element.clone(),
                key: key.location.clone(),
                line: key.line,
            });
        }
        key.property(name).map(|prop| prop.view(key))
    }
}

impl Key {
    pub(crate) fn property(&self, name: &str) -> Option<&Prop> {
        self.by_name.get(&fold(name)).map(|&at| &self.props[at])
    }
}

impl Prop {
    pub(crate) fn view(&self, key: &Key) -> Property {
        Property {
            name: schema::canonical_name(&self.name).to_string(),
            kind: self.kind,
            value: self.value.clone(),
            key: key.location.clone(),
            line: self.line,
        }
    }
}

/// Turns the bytes of a file into text, or says why they are not a UTF-8 metabase.
pub(crate) fn decode(bytes: &[u8], origin: &Path) -> Result<String, MetabaseError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(malformed(
            origin,
            1,
            "the file is UTF-16, but IIS reads and writes MetaBase.xml as UTF-8",
            "save it as UTF-8",
        ));
    }
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let byte = bytes.get(at).copied().unwrap_or_default();
        malformed(
            origin,
            line,
            format!("the file is not UTF-8 (byte 0x{byte:02X} at offset {at})"),
            "save it as UTF-8",
        )
    })
}

fn malformed(
    origin: &Path,
    line: usize,
    what: impl Into<String>,
    fix: impl Into<String>,
) -> MetabaseError {
    MetabaseError::new(MetabaseErrorKind::Malformed, origin, Some(line), what, fix)
}

/// What an open element is to the parser.
enum Role {
    Configuration,
    MBProperty,
    /// A key: its index in `keys`.
    Key(usize),
    /// A `<Custom>` written with an end tag, waiting for it.
    Custom(PendingCustom),
    /// An element below `<configuration>` that is not `<MBProperty>`: kept, not read.
    Other,
}

struct PendingCustom {
    key: usize,
    prop: Prop,
}

struct Frame {
    name: String,
    line: usize,
    role: Role,
}

struct Parser<'t> {
    text: &'t str,
    /// Where the XML starts: past the BOM.
    base: usize,
    origin: &'t Path,
    lines: Lines,
    keys: Vec<Key>,
    /// Each key's index by id, for the duplicate check and then for [`Document::key`].
    index: HashMap<String, usize>,
    stack: Vec<Frame>,
    seen_root: bool,
    seen_mbproperty: bool,
    mbproperty_close: Option<usize>,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, origin: &'t Path) -> Parser<'t> {
        Parser {
            text,
            base: past_bom(text),
            origin,
            lines: Lines::of(text),
            keys: Vec::new(),
            index: HashMap::new(),
            stack: Vec::new(),
            seen_root: false,
            seen_mbproperty: false,
            mbproperty_close: None,
        }
    }

    fn run(mut self) -> Result<Document, MetabaseError> {
        let body = &self.text[self.base..];
        if body.trim().is_empty() {
            return Err(self.error_at_line(
                1,
                "the file is empty",
                "restore MetaBase.xml from its History folder or write a <configuration> document",
            ));
        }
        // XML allows no control character but TAB, LF and CR anywhere in a document, and IIS
        // writes none; a NUL inside a key path would make a second spelling of the key.
        if let Some((at, what)) = crate::input::control_in_document(body) {
            return Err(self.error_at(
                self.base + at,
                what,
                "remove it (a value cannot hold it either)",
            ));
        }
        crate::xml_spans::read(body, self.base, &mut self)?;
        if let Some(open) = self.stack.last() {
            return Err(self.error_at_line(
                open.line,
                format!("<{}> is never closed", open.name),
                format!("add </{}>", open.name),
            ));
        }
        if !self.seen_root {
            return Err(MetabaseError::new(
                MetabaseErrorKind::Malformed,
                self.origin,
                None,
                "there is no <configuration> element",
                "a metabase is a <configuration> element holding <MBProperty>",
            ));
        }
        let newline = newline_of(self.text);
        let mbproperty_close = self.mbproperty_close.ok_or_else(|| {
            self.error_at_line(
                1,
                "there is no <MBProperty> element",
                "add <MBProperty> inside <configuration>",
            )
        })?;
        let mut implied = HashSet::new();
        for key in &self.keys {
            let mut ancestor = path::parent_id(&key.id);
            while let Some(id) = ancestor {
                // An ancestor already implied had its own ancestors walked when it was added.
                if !self.index.contains_key(id) && !implied.insert(id.to_string()) {
                    break;
                }
                ancestor = path::parent_id(id);
            }
        }
        Ok(Document { newline, keys: self.keys, mbproperty_close, index: self.index, implied })
    }

    fn start(
        &mut self,
        start: &BytesStart<'_>,
        lt: usize,
        empty_end: Option<usize>,
    ) -> Result<(), MetabaseError> {
        let name = start.name().0.to_string();
        let line = self.line(lt);
        let content_at = self.offset_of(start).unwrap_or(lt + 1);
        let tag_close = content_at + start.len();
        let role = match self.stack.last().map(|frame| &frame.role) {
            None => {
                if self.seen_root {
                    return Err(self.error_at_line(
                        line,
                        format!("<{name}> follows </configuration>"),
                        "keep everything inside the one <configuration> element",
                    ));
                }
                if name != "configuration" {
                    return Err(self.error_at_line(
                        line,
                        format!("the document element is <{name}>, not <configuration>"),
                        "a metabase starts with <configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">",
                    ));
                }
                self.seen_root = true;
                for attr in self.attributes(start, lt)? {
                    if attr.name == "xmlns" && !KNOWN_NAMESPACES.contains(&attr.value.as_str()) {
                        return Err(self.error_at_line(
                            attr.line,
                            format!("unknown namespace \"{}\"", attr.value),
                            format!(
                                "use xmlns=\"{}\" (IIS 6.0) or leave it out",
                                KNOWN_NAMESPACES[0]
                            ),
                        ));
                    }
                }
                if empty_end.is_some() {
                    return Err(self.error_at_line(
                        line,
                        "<configuration/> is empty, with no <MBProperty>",
                        "put the keys inside <MBProperty> in <configuration>",
                    ));
                }
                Role::Configuration
            }
            Some(Role::Configuration) if name == "MBProperty" => {
                if self.seen_mbproperty {
                    return Err(self.error_at_line(
                        line,
                        "a second <MBProperty> element",
                        "keep all keys in one <MBProperty>",
                    ));
                }
                self.seen_mbproperty = true;
                if empty_end.is_some() {
                    return Err(self.error_at_line(
                        line,
                        "<MBProperty/> is empty",
                        "write the keys between <MBProperty> and </MBProperty>",
                    ));
                }
                Role::MBProperty
            }
            Some(Role::Configuration | Role::Other) => Role::Other,
            Some(Role::MBProperty) => {
                let key = self.key(start, &name, lt, line, tag_close)?;
                let index = self.keys.len();
                self.index.insert(key.id.clone(), index);
                self.keys.push(key);
                if let Some(end) = empty_end {
                    self.keys[index].end = end;
                    self.check_key(index)?;
                }
                Role::Key(index)
            }
            Some(Role::Key(index)) => {
                let index = *index;
                if name != "Custom" {
                    let key = &self.keys[index];
                    return Err(self.error_at_line(
                        line,
                        format!("<{name}> is inside key {} (opened on line {})", key.location, key.line),
                        format!("a key holds only <Custom> elements; close the key with </{}> before it", key.element),
                    ));
                }
                let prop = self.custom(start, lt, line, tag_close, empty_end)?;
                match empty_end {
                    Some(_) => {
                        self.keys[index].props.push(prop);
                        Role::Other
                    }
                    None => Role::Custom(PendingCustom { key: index, prop }),
                }
            }
            Some(Role::Custom(_)) => {
                return Err(self.error_at_line(
                    line,
                    format!("<{name}> inside <Custom>"),
                    "a <Custom> element holds nothing; write it as <Custom Name=\"..\" Value=\"..\"/>",
                ));
            }
        };
        if empty_end.is_none() {
            self.stack.push(Frame { name, line, role });
        }
        Ok(())
    }

    fn end(&mut self, name: &str, lt: usize, after: usize) -> Result<(), MetabaseError> {
        // An end tag that matches no open element is stray; one that matches an outer element
        // means the inner ones were never closed.
        if !self.stack.iter().any(|frame| frame.name == name) {
            return Err(self.error_at(
                lt,
                format!("</{name}> closes no open element"),
                "remove it",
            ));
        }
        let Some(frame) = self.stack.pop() else {
            return Err(self.error_at(
                lt,
                format!("</{name}> closes no open element"),
                "remove it",
            ));
        };
        if frame.name != name {
            return Err(self.error_at_line(
                frame.line,
                format!(
                    "<{}> is never closed (</{name}> on line {} comes first)",
                    frame.name,
                    self.line(lt)
                ),
                format!("add </{}>", frame.name),
            ));
        }
        match frame.role {
            Role::Configuration => {
                if !self.seen_mbproperty {
                    return Err(self.error_at_line(
                        frame.line,
                        "<configuration> has no <MBProperty>",
                        "put the keys inside <MBProperty> in <configuration>",
                    ));
                }
            }
            Role::MBProperty => self.mbproperty_close = Some(lt),
            Role::Key(index) => {
                self.keys[index].end = after;
                self.check_key(index)?;
            }
            Role::Custom(mut pending) => {
                if let Place::Custom { element, .. } = &mut pending.prop.place {
                    element.end = after;
                }
                self.keys[pending.key].props.push(pending.prop);
            }
            Role::Other => {}
        }
        Ok(())
    }

    fn text_content(&self, text: &str, at: usize) -> Result<(), MetabaseError> {
        let inside_other = matches!(self.stack.last(), Some(Frame { role: Role::Other, .. }));
        if text.trim().is_empty() || inside_other {
            return Ok(());
        }
        let lead = text.len() - text.trim_start().len();
        let shown: String = text.trim().chars().take(40).collect();
        Err(self.error_at(
            at + lead,
            format!("text \"{shown}\" where only elements belong"),
            "remove it (values belong in attributes)",
        ))
    }

    /// Reads a key element's start tag.
    fn key(
        &self,
        start: &BytesStart<'_>,
        element: &str,
        lt: usize,
        line: usize,
        close: usize,
    ) -> Result<Key, MetabaseError> {
        let attrs = self.attributes(start, lt)?;
        let last_attr_end =
            attrs.last().map_or(close - start.len() + element.len(), |a| a.span.end);
        let mut location = None;
        let mut props: Vec<Prop> = Vec::new();
        for attr in attrs {
            if attr.name.eq_ignore_ascii_case("Location") {
                location = Some(attr);
                continue;
            }
            props.push(Prop {
                kind: schema::kind_of(&attr.name),
                name: attr.name,
                value: attr.value,
                line: attr.line,
                place: Place::Attribute { span: attr.span, value: attr.value_span },
            });
        }
        let Some(location) = location else {
            return Err(self.error_at_line(
                line,
                format!("key <{element}> has no Location"),
                "give it the key's path, e.g. Location =\"/LM/W3SVC/Filters\"",
            ));
        };
        if location.value.trim().is_empty() {
            return Err(self.error_at_line(
                location.line,
                format!("key <{element}> has an empty Location"),
                "give it the key's path, e.g. Location =\"/LM/W3SVC/Filters\"",
            ));
        }
        let id = path::location_id(&location.value);
        if let Some(other) = self.index.get(&id).map(|&at| &self.keys[at]) {
            return Err(self.error_at_line(
                line,
                format!("key {} is written twice (also on line {})", location.value, other.line),
                "merge the two elements into one",
            ));
        }
        Ok(Key {
            element: element.to_string(),
            location: location.value,
            id,
            line,
            tag: Tag { start: lt, last_attr_end, close },
            end: close,
            props,
            by_name: HashMap::new(),
        })
    }

    /// Reads a `<Custom>` element's start tag into a property.
    fn custom(
        &self,
        start: &BytesStart<'_>,
        lt: usize,
        line: usize,
        close: usize,
        empty_end: Option<usize>,
    ) -> Result<Prop, MetabaseError> {
        let attrs = self.attributes(start, lt)?;
        let last_attr_end =
            attrs.last().map_or(close - start.len() + "Custom".len(), |a| a.span.end);
        let find = |name: &str| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name));
        let Some(name) = find("Name").filter(|a| !a.value.trim().is_empty()) else {
            return Err(self.error_at_line(
                line,
                "<Custom> has no Name",
                "give it the property name, e.g. Name=\"ServerConfigFlags\"",
            ));
        };
        let kind = match schema::kind_of(&name.value) {
            PropertyKind::String => find("Type")
                .and_then(|t| schema::kind_of_custom_type(&t.value))
                .unwrap_or(PropertyKind::String),
            known => known,
        };
        let value = find("Value");
        Ok(Prop {
            name: name.value.clone(),
            kind,
            value: value.map(|v| v.value.clone()).unwrap_or_default(),
            line: value.map_or(line, |v| v.line),
            place: Place::Custom {
                element: lt..empty_end.unwrap_or(close),
                tag: Tag { start: lt, last_attr_end, close },
                value: value.map(|v| v.value_span.clone()),
            },
        })
    }

    /// The metabase rules a complete key must follow; fills the key's index of names.
    fn check_key(&mut self, index: usize) -> Result<(), MetabaseError> {
        let key = &self.keys[index];
        let mut by_name = HashMap::with_capacity(key.props.len());
        for (at, prop) in key.props.iter().enumerate() {
            if let Some(&first) = by_name.get(&fold(&prop.name)) {
                let first: &Prop = &key.props[first];
                return Err(self.error_at_line(
                    prop.line,
                    format!(
                        "property {} is set twice at {} (also on line {})",
                        prop.name, key.location, first.line
                    ),
                    "keep one of them",
                ));
            }
            by_name.insert(fold(&prop.name), at);
            if let Err((what, fix)) = schema::check_stored(&prop.name, prop.kind, &prop.value) {
                return Err(self.error_at_line(prop.line, what, fix));
            }
            if prop.name.eq_ignore_ascii_case("FilterLoadOrder") && !is_filters_key(&key.id) {
                return Err(self.error_at_line(
                    prop.line,
                    format!(
                        "FilterLoadOrder is set at {}, which is not a Filters key",
                        key.location
                    ),
                    "move it to /LM/W3SVC/Filters (global filters) or /LM/W3SVC/<site>/Filters",
                ));
            }
        }
        self.keys[index].by_name = by_name;
        Ok(())
    }

    /// The attributes of a start tag with their spans, or the line of the first bad one.
    fn attributes(&self, start: &BytesStart<'_>, lt: usize) -> Result<Vec<Attr>, MetabaseError> {
        xml_attributes::read(self.text, &self.lines, start, lt).map_err(|problem| match problem {
            AttrProblem::Malformed { at, what, fix } => self.error_at(at, what, fix),
            AttrProblem::NotFromText => {
                self.internal("an attribute was not read from the text itself")
            }
        })
    }

    /// Where a slice handed out by the reader starts in the text. The reader borrows from the
    /// text (`Reader::from_str`), so this is pointer arithmetic within one allocation.
    fn offset_of(&self, part: &str) -> Option<usize> {
        offset_within(self.text, part.as_bytes())
    }

    fn line(&self, at: usize) -> usize {
        self.lines.line(at)
    }

    fn error_at(
        &self,
        at: usize,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> MetabaseError {
        self.error_at_line(self.line(at), what, fix)
    }

    fn error_at_line(
        &self,
        line: usize,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> MetabaseError {
        malformed(self.origin, line, what, fix)
    }

    fn internal(&self, what: &str) -> MetabaseError {
        MetabaseError::internal(self.origin, what)
    }
}

/// `/LM/W3SVC/Filters` or a site's `/LM/W3SVC/<number>/Filters`: the keys that may carry
/// `FilterLoadOrder`.
pub(crate) fn is_filters_key(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("/lm/w3svc/") else {
        return false;
    };
    match rest.split_once('/') {
        None => rest == "filters",
        Some((site, tail)) => {
            tail == "filters" && !site.is_empty() && site.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

impl XmlSpans for Parser<'_> {
    type Error = MetabaseError;

    fn on_start(
        &mut self,
        tag: &BytesStart<'_>,
        lt: usize,
        empty_end: Option<usize>,
    ) -> Result<(), MetabaseError> {
        self.start(tag, lt, empty_end)
    }

    fn on_end(&mut self, name: &str, lt: usize, after: usize) -> Result<(), MetabaseError> {
        self.end(name, lt, after)
    }

    fn on_text(&mut self, text: &str, _: TextKind, at: usize) -> Result<(), MetabaseError> {
        self.text_content(text, at)
    }

    fn broken(&self, at: usize, error: String) -> MetabaseError {
        self.error_at(
            at,
            format!("the XML is broken: {error}"),
            "fix the markup, or restore the file from its History folder",
        )
    }
}
