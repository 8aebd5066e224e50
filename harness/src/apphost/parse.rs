//! Reading applicationHost.config: quick-xml events in, a tree of elements (with the byte spans
//! each tag and attribute value occupies in the text) out, or an error that names the line.
//!
//! IIS 7+ keeps its whole server configuration in one XML file whose schema is open-ended
//! (`<configSections>` declares the sections, and any module may add its own), so the reader
//! keeps every element and attribute as written and leaves meaning to the typed questions in
//! `apphost/mod.rs`. Comments, the XML declaration, a UTF-8 BOM, CRLF or LF all pass through;
//! the spans are what `appcmd` edits splice at, so the bytes around an edit never change.

use crate::text_position::{Lines, newline_of, offset_within, past_bom};
pub(crate) use crate::xml_attributes::Attr;
use crate::xml_attributes::{self, AttrProblem};
use crate::xml_spans::{TextKind, XmlSpans};
use std::path::Path;

use quick_xml::events::BytesStart;

use super::ApphostError;

/// The parsed tree. Element 0 is `<configuration>`.
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    pub(crate) elements: Vec<Element>,
    /// The file's line ending, which every inserted line uses too.
    pub(crate) newline: &'static str,
}

#[derive(Clone, Debug)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) children: Vec<usize>,
    pub(crate) attrs: Vec<Attr>,
    /// The `<` of the start tag.
    pub(crate) start: usize,
    /// Just past the last attribute's closing quote (past the name if there is none).
    pub(crate) last_attr_end: usize,
    /// Just past the element: past its end tag, or past `/>`.
    pub(crate) end: usize,
    /// Where its end tag starts (None for `<x/>`).
    pub(crate) end_tag: Option<usize>,
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        // Attribute names in applicationHost.config are case-sensitive in IIS's schema; the
        // files IIS and its tools write use one spelling, so an exact match is what IIS does.
        self.attrs.iter().find(|attr| attr.name == name)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.attr(name).map(|attr| attr.value.as_str())
    }
}

impl Tree {
    pub(crate) fn parse(text: &str, origin: &Path) -> Result<Tree, ApphostError> {
        Parser::new(text, origin).run()
    }

    /// The children of `parent` named `name`, in document order.
    pub(crate) fn children<'t>(
        &'t self,
        parent: usize,
        name: &'t str,
    ) -> impl Iterator<Item = usize> + 't {
        self.elements[parent]
            .children
            .iter()
            .copied()
            .filter(move |&child| self.elements[child].name == name)
    }

    pub(crate) fn child(&self, parent: usize, name: &str) -> Option<usize> {
        self.children(parent, name).next()
    }

    /// The element reached from `from` by a `/`-separated path of element names.
    pub(crate) fn descend(&self, from: usize, path: &str) -> Option<usize> {
        path.split('/')
            .filter(|part| !part.is_empty())
            .try_fold(from, |at, name| self.child(at, name))
    }

    pub(crate) fn element(&self, at: usize) -> &Element {
        &self.elements[at]
    }
}

struct Parser<'t> {
    text: &'t str,
    base: usize,
    origin: &'t Path,
    lines: Lines,
    elements: Vec<Element>,
    stack: Vec<usize>,
    root_closed: bool,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, origin: &'t Path) -> Parser<'t> {
        Parser {
            text,
            base: past_bom(text),
            origin,
            lines: Lines::of(text),
            elements: Vec::new(),
            stack: Vec::new(),
            root_closed: false,
        }
    }

    fn run(mut self) -> Result<Tree, ApphostError> {
        let body = &self.text[self.base..];
        if body.trim().is_empty() {
            return Err(self.error_line(1, "the file is empty", "give an applicationHost.config"));
        }
        if let Some((at, what)) = crate::input::control_in_document(body) {
            return Err(self.error_at(self.base + at, what, "remove it"));
        }
        crate::xml_spans::read(body, self.base, &mut self)?;
        if let Some(&open) = self.stack.last() {
            let element = &self.elements[open];
            return Err(self.error_line(
                element.line,
                format!("<{}> is never closed", element.name),
                format!("add </{}>", element.name),
            ));
        }
        if self.elements.is_empty() {
            return Err(self.error_line(
                1,
                "there is no <configuration> element",
                "an applicationHost.config is one <configuration> element",
            ));
        }
        let newline = newline_of(self.text);
        Ok(Tree { elements: self.elements, newline })
    }

    fn start(
        &mut self,
        start: &BytesStart<'_>,
        lt: usize,
        empty_end: Option<usize>,
    ) -> Result<(), ApphostError> {
        let name = start.name().0.to_string();
        let line = self.line(lt);
        if self.stack.is_empty() {
            if self.root_closed || !self.elements.is_empty() {
                return Err(self.error_line(
                    line,
                    format!("<{name}> follows </configuration>"),
                    "keep everything inside the one <configuration> element",
                ));
            }
            if name != "configuration" {
                return Err(self.error_line(
                    line,
                    format!("the document element is <{name}>, not <configuration>"),
                    "an applicationHost.config starts with <configuration>",
                ));
            }
        }
        let content_at = self.offset_of(start).unwrap_or(lt + 1);
        let close = content_at + start.len();
        let attrs = self.attributes(start, lt)?;
        let last_attr_end = attrs.last().map_or(lt + 1 + name.len(), |attr| attr.span.end);
        let index = self.elements.len();
        let parent = self.stack.last().copied();
        self.elements.push(Element {
            name,
            line,
            children: Vec::new(),
            attrs,
            start: lt,
            last_attr_end,
            end: empty_end.unwrap_or(close + 1),
            end_tag: None,
        });
        if let Some(parent) = parent {
            self.elements[parent].children.push(index);
        }
        match empty_end {
            Some(_) => {
                if parent.is_none() {
                    self.root_closed = true;
                }
            }
            None => self.stack.push(index),
        }
        Ok(())
    }

    fn end(&mut self, name: &str, lt: usize, after: usize) -> Result<(), ApphostError> {
        let Some(open) = self.stack.pop() else {
            return Err(self.error_at(
                lt,
                format!("</{name}> closes no open element"),
                "remove it",
            ));
        };
        if self.elements[open].name != name {
            let element = &self.elements[open];
            return Err(self.error_line(
                element.line,
                format!(
                    "<{}> is never closed (</{name}> on line {} comes first)",
                    element.name,
                    self.line(lt)
                ),
                format!("add </{}>", element.name),
            ));
        }
        self.elements[open].end = after;
        self.elements[open].end_tag = Some(lt);
        if self.stack.is_empty() {
            self.root_closed = true;
        }
        Ok(())
    }

    fn attributes(&self, start: &BytesStart<'_>, lt: usize) -> Result<Vec<Attr>, ApphostError> {
        xml_attributes::read(self.text, &self.lines, start, lt).map_err(|problem| match problem {
            AttrProblem::Malformed { at, what, fix } => self.error_at(at, what, fix),
            AttrProblem::NotFromText => self.error_at(
                lt,
                "an attribute was not read from the text itself",
                "this is a bug in the harness",
            ),
        })
    }

    fn offset_of(&self, part: &str) -> Option<usize> {
        self.offset_of_bytes(part.as_bytes())
    }

    /// Where a slice handed out by the reader starts in the text (the reader borrows from it).
    fn offset_of_bytes(&self, part: &[u8]) -> Option<usize> {
        offset_within(self.text, part)
    }

    fn line(&self, at: usize) -> usize {
        self.lines.line(at)
    }

    fn error_at(&self, at: usize, what: impl Into<String>, fix: impl Into<String>) -> ApphostError {
        self.error_line(self.line(at), what, fix)
    }

    fn error_line(
        &self,
        line: usize,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> ApphostError {
        ApphostError::at(self.origin, line, what, fix)
    }
}

impl XmlSpans for Parser<'_> {
    type Error = ApphostError;

    fn on_start(
        &mut self,
        tag: &BytesStart<'_>,
        lt: usize,
        empty_end: Option<usize>,
    ) -> Result<(), ApphostError> {
        self.start(tag, lt, empty_end)
    }

    fn on_end(&mut self, name: &str, lt: usize, after: usize) -> Result<(), ApphostError> {
        self.end(name, lt, after)
    }

    fn on_text(&mut self, text: &str, kind: TextKind, at: usize) -> Result<(), ApphostError> {
        // References and CDATA are values IIS never writes outside an element; only text is
        // checked for.
        if kind == TextKind::Text && self.stack.is_empty() && !text.trim_ascii().is_empty() {
            return Err(self.error_at(at, "text outside <configuration>", "remove it"));
        }
        Ok(())
    }

    fn broken(&self, at: usize, error: String) -> ApphostError {
        self.error_at(at, format!("the XML is broken: {error}"), "fix the markup")
    }
}
