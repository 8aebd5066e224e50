//! `appcmd`'s edits of applicationHost.config, as byte splices: an attribute's value is
//! replaced between its quotes, a new attribute goes after the last one of its tag, a new
//! element goes on a line of its own before its collection's end tag, indented like its
//! siblings, with the file's own line ending; a removed element takes its whole line. Nothing
//! else in the file changes, so setting a value and setting it back gives the file it was.
//!
//! The commands modelled are the ones the bitness fixes use (`appcmd` reference, Microsoft Learn
//! "Getting Started with AppCmd.exe"; the `/+[...]` and `/-[...]` collection syntax is
//! documented there):
//! - `set apppool "NAME" /enable32BitAppOnWin64:true|false`
//! - `set config /section:applicationPools /applicationPoolDefaults.enable32BitAppOnWin64:true|false`
//! - `set config /section:system.webServer/isapiFilters /+[name='X',path='...',preCondition='...']`
//!   and `/-[name='X']`
//! - `set config /section:system.webServer/handlers /+[name='X',path='*.x',verb='*',modules='IsapiModule',scriptProcessor='...',preCondition='...']`
//!   and `/-[name='X']`
//! - `set config /section:system.webServer/security/isapiCgiRestriction /+[path='...',allowed='true']`
//!   and `/-[path='...']`
//! - `list apppool`

use quick_xml::escape::escape;

use super::{Apphost, ApphostError};

/// One parsed `appcmd` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SetPoolBitness {
        pool: String,
        enable_32bit: bool,
    },
    SetDefaultsBitness {
        enable_32bit: bool,
    },
    /// `/+[...]`: a new entry at the end of a server-level collection.
    Add {
        collection: Collection,
        attributes: Vec<(String, String)>,
    },
    /// `/-[key='...']`: the entry with that unique key goes.
    Remove {
        collection: Collection,
        key: String,
    },
    ListPools,
}

/// A server-level collection `set config` adds entries to and removes them from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    IsapiFilters,
    Handlers,
    IsapiCgiRestriction,
}

impl Collection {
    /// The section, as appcmd names it and as the file nests it.
    pub fn section(self) -> &'static str {
        match self {
            Collection::IsapiFilters => "system.webServer/isapiFilters",
            Collection::Handlers => "system.webServer/handlers",
            Collection::IsapiCgiRestriction => "system.webServer/security/isapiCgiRestriction",
        }
    }

    /// The element of one entry.
    fn element(self) -> &'static str {
        match self {
            Collection::IsapiFilters => "filter",
            Collection::Handlers | Collection::IsapiCgiRestriction => "add",
        }
    }

    /// The attribute that identifies an entry in the schema: two entries may not share it.
    fn key(self) -> &'static str {
        match self {
            Collection::IsapiFilters | Collection::Handlers => "name",
            Collection::IsapiCgiRestriction => "path",
        }
    }

    /// The attributes the schema requires of a new entry.
    fn required(self) -> &'static [&'static str] {
        match self {
            Collection::IsapiFilters => &["name", "path"],
            Collection::Handlers => &["name", "path", "verb"],
            Collection::IsapiCgiRestriction => &["path"],
        }
    }

    /// From the `/section:` value, lower-cased, with or without its group.
    fn named(section: &str) -> Option<Collection> {
        match section {
            "isapifilters" | "system.webserver/isapifilters" => Some(Collection::IsapiFilters),
            "handlers" | "system.webserver/handlers" => Some(Collection::Handlers),
            "isapicgirestriction" | "system.webserver/security/isapicgirestriction" => {
                Some(Collection::IsapiCgiRestriction)
            }
            _ => None,
        }
    }
}

/// Reads `appcmd` arguments as written on Windows (`/name:value`, `-name:value`, quotes already
/// removed by the shell).
pub fn parse_command(args: &[String]) -> Result<Command, String> {
    let usage = "appcmd knows: set apppool \"NAME\" /enable32BitAppOnWin64:true|false; \
                 set config /section:applicationPools /applicationPoolDefaults.enable32BitAppOnWin64:true|false; \
                 set config /section:system.webServer/isapiFilters /+[name='X',path='...',preCondition='...'] or /-[name='X']; \
                 set config /section:system.webServer/handlers /+[name='X',path='*.x',verb='*',modules='IsapiModule',scriptProcessor='...'] or /-[name='X']; \
                 set config /section:system.webServer/security/isapiCgiRestriction /+[path='...',allowed='true'] or /-[path='...']; \
                 list apppool";
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    // `/commit:apphost` is where these sections live anyway.
    let words: Vec<&str> = words
        .into_iter()
        .filter(|w| !option_name(w).is_some_and(|(name, _)| name.eq_ignore_ascii_case("commit")))
        .collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    match lower.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list", "apppool" | "apppools"] => Ok(Command::ListPools),
        ["set", "apppool", _, _] => {
            let pool = strip_name_option(words[2]);
            let (name, value) = option_name(words[3]).ok_or(usage)?;
            if !name.eq_ignore_ascii_case("enable32BitAppOnWin64") {
                return Err(format!(
                    "`{}`: only /enable32BitAppOnWin64 is modelled for set apppool",
                    words[3]
                ));
            }
            Ok(Command::SetPoolBitness { pool, enable_32bit: parse_bool(value)? })
        }
        ["set", "config", section, _] => {
            let section = section
                .strip_prefix("/section:")
                .or_else(|| section.strip_prefix("-section:"))
                .ok_or_else(|| format!("`{}` should be /section:NAME", words[2]))?;
            let edit = words[3];
            match section {
                "applicationpools" | "system.applicationhost/applicationpools" => {
                    let (name, value) = option_name(edit).ok_or(usage)?;
                    if !name.eq_ignore_ascii_case("applicationPoolDefaults.enable32BitAppOnWin64") {
                        return Err(format!(
                            "`{edit}`: only /applicationPoolDefaults.enable32BitAppOnWin64 is modelled"
                        ));
                    }
                    Ok(Command::SetDefaultsBitness { enable_32bit: parse_bool(value)? })
                }
                other => {
                    let Some(collection) = Collection::named(other) else {
                        return Err(format!("section `{other}` is not modelled; {usage}"));
                    };
                    let key = collection.key();
                    let body = edit.get(1..).unwrap_or_default();
                    if let Some(items) = body.strip_prefix("+[").and_then(|b| b.strip_suffix(']')) {
                        let attributes = parse_items(items)?;
                        for required in collection.required() {
                            if !attributes.iter().any(|(n, _)| n == required) {
                                return Err(format!(
                                    "`{edit}` has no {required}='...'; an entry of {} needs {}",
                                    collection.section(),
                                    collection.required().join(", ")
                                ));
                            }
                        }
                        Ok(Command::Add { collection, attributes })
                    } else if let Some(items) =
                        body.strip_prefix("-[").and_then(|b| b.strip_suffix(']'))
                    {
                        let attributes = parse_items(items)?;
                        let key = attributes
                            .into_iter()
                            .find(|(n, _)| n == key)
                            .map(|(_, v)| v)
                            .ok_or_else(|| format!("`{edit}` has no {key}='...'"))?;
                        Ok(Command::Remove { collection, key })
                    } else {
                        Err(format!("`{edit}` is neither /+[{key}='...',...] nor /-[{key}='...']"))
                    }
                }
            }
        }
        _ => Err(usage.to_owned()),
    }
}

fn strip_name_option(word: &str) -> String {
    match option_name(word) {
        Some((name, value)) if name.eq_ignore_ascii_case("apppool.name") => value.to_owned(),
        _ => word.to_owned(),
    }
}

/// `/name:value` or `-name:value`.
fn option_name(word: &str) -> Option<(&str, &str)> {
    let body = word.strip_prefix('/').or_else(|| word.strip_prefix('-'))?;
    body.split_once(':')
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim_matches('"').to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("`{value}` is neither true nor false")),
    }
}

/// `name='X',path='C:\a,b.dll'`: commas inside quotes belong to the value.
fn parse_items(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut items = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) =
            rest.split_once('=').ok_or_else(|| format!("`{rest}` is not name='value'"))?;
        let after = after.trim_start();
        let (value, tail) = match after.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let inner = &after[1..];
                let end =
                    inner.find(quote).ok_or_else(|| format!("`{after}` has no closing quote"))?;
                (&inner[..end], &inner[end + 1..])
            }
            _ => match after.find(',') {
                Some(comma) => (&after[..comma], &after[comma..]),
                None => (after, ""),
            },
        };
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(format!("`{name}` is not an attribute name"));
        }
        crate::input::check_text(&format!("value of {name}"), value).map_err(|e| e.to_string())?;
        items.push((name.to_owned(), value.to_owned()));
        rest = tail.trim_start().strip_prefix(',').unwrap_or(tail).trim_start();
    }
    Ok(items)
}

/// What a command did, for `iis::iis7::messages::appcmd` to say in appcmd's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// An object (`APPPOOL`, with its name) changed.
    Changed { kind: &'static str, name: String },
    /// A section was changed at the server level.
    Section(&'static str),
    /// The pools, for `list apppool`.
    Pools(Vec<super::PoolConfig>),
}

impl Apphost {
    /// Applies one command to the text in memory; `write` by the caller makes it last.
    pub fn apply(&mut self, command: &Command) -> Result<Applied, ApphostError> {
        match command {
            Command::ListPools => Ok(Applied::Pools(self.pools()?)),
            Command::SetPoolBitness { pool, enable_32bit } => {
                let Some(at) = self.pool_element(pool) else {
                    return Err(ApphostError::file_only(
                        self.origin(),
                        format!("no application pool named `{pool}`"),
                        "give a name `list apppool` shows",
                    ));
                };
                self.set_attribute(at, "enable32BitAppOnWin64", bool_text(*enable_32bit))?;
                Ok(Applied::Changed { kind: "APPPOOL", name: pool.clone() })
            }
            Command::SetDefaultsBitness { enable_32bit } => {
                let pools = self.pools_element().ok_or_else(|| {
                    ApphostError::file_only(
                        self.origin(),
                        "there is no <applicationPools> section",
                        "add one inside <system.applicationHost>",
                    )
                })?;
                let at = match self.tree().child(pools, "applicationPoolDefaults") {
                    Some(at) => at,
                    None => {
                        self.insert_child(pools, "applicationPoolDefaults", &[], true)?;
                        self.tree()
                            .child(
                                self.pools_element().expect("still there"),
                                "applicationPoolDefaults",
                            )
                            .expect("just inserted")
                    }
                };
                self.set_attribute(at, "enable32BitAppOnWin64", bool_text(*enable_32bit))?;
                Ok(Applied::Section("system.applicationHost/applicationPools"))
            }
            Command::Add { collection, attributes } => {
                let (element, key) = (collection.element(), collection.key());
                let value =
                    &attributes.iter().find(|(n, _)| n == key).expect("parsed with its key").1;
                let section = self.collection_section(*collection)?;
                if self.entry(*collection, value).is_some() {
                    return Err(ApphostError::file_only(
                        self.origin(),
                        format!(
                            "Cannot add duplicate collection entry of type '{element}' with unique key attribute '{key}' set to '{value}'"
                        ),
                        format!("remove it first with /-[{key}='...'] or choose another {key}"),
                    ));
                }
                self.insert_child(section, element, attributes, false)?;
                Ok(Applied::Section(collection.section()))
            }
            Command::Remove { collection, key } => {
                let Some(at) = self.entry(*collection, key) else {
                    return Err(ApphostError::file_only(
                        self.origin(),
                        format!(
                            "no entry with {}='{key}' at the server level of {}",
                            collection.key(),
                            collection.section()
                        ),
                        "give one the file lists",
                    ));
                };
                self.remove_element(at)?;
                Ok(Applied::Section(collection.section()))
            }
        }
    }

    /// Writes the text atomically over `path` (the same writer as MetaBase.xml's, without its
    /// History copies: IIS 7+ keeps configuration history through its own service, not the
    /// tool that edits).
    pub fn write_atomically(&self, path: &std::path::Path) -> anyhow::Result<()> {
        crate::metabase::write_atomically(self.text().as_bytes(), path, 0)?;
        Ok(())
    }

    fn pool_element(&self, name: &str) -> Option<usize> {
        let pools = self.pools_element()?;
        self.tree().children(pools, "add").find(|&at| {
            self.tree().element(at).value("name").is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Where a new server-level entry goes: IIS writes some sections (`handlers`) inside
    /// `<location path="">` rather than at the root, and the last server-level copy is the one
    /// IIS reads last.
    fn collection_section(&self, collection: Collection) -> Result<usize, ApphostError> {
        let path = collection.section();
        self.sections_for(path, "").last().copied().ok_or_else(|| {
            let (parent, name) = path.rsplit_once('/').expect("a section has a group");
            ApphostError::file_only(
                self.origin(),
                format!("there is no server-level <{name}> section"),
                format!("add <{name}> inside <{}>", parent.replace('/', "><")),
            )
        })
    }

    /// The server-level entry of `collection` whose key is `value` (as IIS compares them,
    /// ignoring case), in whichever server-level copy of the section holds it.
    fn entry(&self, collection: Collection, value: &str) -> Option<usize> {
        self.sections_for(collection.section(), "").into_iter().find_map(|section| {
            self.tree().children(section, collection.element()).find(|&at| {
                self.tree()
                    .element(at)
                    .value(collection.key())
                    .is_some_and(|found| found.eq_ignore_ascii_case(value))
            })
        })
    }

    fn splice(&mut self, range: std::ops::Range<usize>, with: &str) -> Result<(), ApphostError> {
        let mut text = self.text().to_owned();
        text.replace_range(range, with);
        self.replace_text(text)
    }

    fn set_attribute(&mut self, at: usize, name: &str, value: &str) -> Result<(), ApphostError> {
        let element = self.tree().element(at).clone();
        match element.attr(name) {
            Some(attr) => self.splice(attr.value_span.clone(), &escape(value)),
            None => {
                let at = element.last_attr_end;
                self.splice(at..at, &format!(" {name}=\"{}\"", escape(value)))
            }
        }
    }

    /// Inserts `<name a="v" ... />` as the last child of `parent` (or the first with `first`),
    /// on its own line, indented like its siblings (or one step deeper than the parent).
    fn insert_child(
        &mut self,
        parent: usize,
        name: &str,
        attributes: &[(String, String)],
        first: bool,
    ) -> Result<(), ApphostError> {
        let nl = self.tree().newline;
        let text = self.text().to_owned();
        let element = self.tree().element(parent).clone();
        let parent_indent = indent_of(&text, element.start);
        let sibling = if first { element.children.first() } else { element.children.last() };
        let indent = match sibling {
            Some(&child) => indent_of(&text, self.tree().element(child).start),
            None => format!("{parent_indent}{}", step(&parent_indent)),
        };
        let attrs: String =
            attributes.iter().map(|(n, v)| format!(" {n}=\"{}\"", escape(v.as_str()))).collect();
        let new = format!("<{name}{attrs} />");
        match (element.end_tag, first, element.children.first()) {
            (Some(_), true, Some(&child)) => {
                let at = self.tree().element(child).start;
                self.splice(at..at, &format!("{new}{nl}{indent}"))
            }
            (Some(end_tag), _, _) => {
                // Before the end tag's own indentation, so the end tag keeps its line.
                let line_start = text[..end_tag].rfind('\n').map_or(0, |at| at + 1);
                let at =
                    if text[line_start..end_tag].trim().is_empty() { line_start } else { end_tag };
                let lead = if at == end_tag { nl.to_owned() } else { String::new() };
                self.splice(at..at, &format!("{lead}{indent}{new}{nl}"))
            }
            (None, _, _) => {
                // `<isapiFilters />` becomes `<isapiFilters>` ... `</isapiFilters>`.
                let open = format!("{}>", &text[element.start..element.last_attr_end]);
                let replaced =
                    format!("{open}{nl}{indent}{new}{nl}{parent_indent}</{}>", element.name);
                self.splice(element.start..element.end, &replaced)
            }
        }
    }

    /// Removes an element; when it stands alone on its line, the line goes with it.
    fn remove_element(&mut self, at: usize) -> Result<(), ApphostError> {
        let element = self.tree().element(at).clone();
        let text = self.text();
        let line_start = text[..element.start].rfind('\n').map_or(0, |p| p + 1);
        let line_end = text[element.end..].find('\n').map_or(text.len(), |p| element.end + p + 1);
        let alone = text[line_start..element.start].trim().is_empty()
            && text[element.end..line_end].trim().is_empty();
        let range = if alone { line_start..line_end } else { element.start..element.end };
        self.splice(range, "")
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The spaces or tabs before the element on its line.
fn indent_of(text: &str, at: usize) -> String {
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    text[line_start..at].chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

/// One level of indentation in the file's own style.
fn step(indent: &str) -> &'static str {
    if indent.starts_with('\t') { "\t" } else { "    " }
}
