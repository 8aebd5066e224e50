//! The attributes of a start tag, each with the place it occupies in the text, for both XML
//! readers (MetaBase.xml and applicationHost.config). Both files are edited byte for byte, so
//! an attribute keeps its spans; and both refuse a malformed tag in the same words, at the
//! line to fix.

use crate::text_position::{Lines, offset_within};
use std::collections::HashMap;
use std::ops::Range;

use quick_xml::escape::EscapeError;
use quick_xml::events::BytesStart;
use quick_xml::events::attributes::AttrError;

/// One attribute of a start tag.
#[derive(Clone, Debug)]
pub struct Attr {
    pub name: String,
    /// The value with entities decoded.
    pub value: String,
    pub line: usize,
    /// From the first letter of the name to past the closing quote.
    pub span: Range<usize>,
    /// Between the quotes, as written (escaped).
    pub value_span: Range<usize>,
}

/// Why a tag's attributes could not be read. Each reader turns it into its own error, which
/// names the file as well.
#[derive(Debug, PartialEq, Eq)]
pub enum AttrProblem {
    /// The text is wrong at byte `at`: what is wrong, and what to do.
    Malformed { at: usize, what: String, fix: String },
    /// The reader handed out an attribute that is not a slice of the text: a harness bug.
    NotFromText,
}

fn malformed(at: usize, what: impl Into<String>, fix: impl Into<String>) -> AttrProblem {
    AttrProblem::Malformed { at, what: what.into(), fix: fix.into() }
}

/// The attributes of `start`, whose `<` is at byte `lt` of `text`, the text the reader
/// borrows from.
pub fn read(
    text: &str,
    lines: &Lines,
    start: &BytesStart<'_>,
    lt: usize,
) -> Result<Vec<Attr>, AttrProblem> {
    // Positions in the reader's attribute errors count from the first byte after `<`.
    let content_at = offset_within(text, start.as_bytes()).unwrap_or(lt + 1);
    // A `<` outside quotes means the tag was never ended with `>` and the reader ran on into
    // the next tag; say so at the tag rather than at whatever attribute error that causes.
    let mut quote = None;
    for c in start.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '<') => {
                let name = start.name().0;
                return Err(malformed(
                    lt,
                    format!("the tag <{name}> is not ended with >"),
                    "add > after its last attribute",
                ));
            }
            _ => {}
        }
    }
    let mut attrs: Vec<Attr> = Vec::new();
    // quick-xml's own duplicate check compares each attribute with every earlier one, which is
    // quadratic in a tag with many thousands; this one is a hash lookup.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|error| reader_error(text, lines, &error, content_at))?;
        let name = attr.key.0;
        let raw: &str = &attr.value;
        let (Some(name_at), Some(value_at)) =
            (offset_within(text, name.as_bytes()), offset_within(text, raw.as_bytes()))
        else {
            return Err(AttrProblem::NotFromText);
        };
        // The raw value is decoded by hand rather than with quick-xml's `normalized_value`,
        // which would turn the line breaks between MULTISZ items into spaces.
        let value = quick_xml::escape::unescape(raw).map_err(|error| {
            let problem = match error {
                EscapeError::UnrecognizedEntity(_, entity) => {
                    format!("an unknown entity &{entity};")
                }
                EscapeError::UnterminatedEntity(_) => "an & that starts no entity".to_string(),
                EscapeError::InvalidCharRef(_) => "a bad character reference".to_string(),
                EscapeError::TooManyNestedEntities => "too many entities".to_string(),
            };
            malformed(
                value_at,
                format!("the value of {name} has {problem}"),
                "write & as &amp;, < as &lt; and \" as &quot;",
            )
        })?;
        let value_end = value_at + raw.len();
        // A character reference (`&#1;`) is as refused as the character itself.
        if let Some((_, c)) = crate::input::find_control(&value) {
            return Err(malformed(
                value_at,
                format!(
                    "the value of {name} holds the control character {} (a character reference), which XML does not allow",
                    crate::input::describe_control(c)
                ),
                "remove the character reference; only TAB (&#9;), LF (&#10;) and CR (&#13;) may be written",
            ));
        }
        if let Some(&first) = seen.get(name) {
            return Err(malformed(
                name_at,
                format!(
                    "attribute {name} appears twice in one tag (first on line {})",
                    attrs[first].line
                ),
                "keep one of them",
            ));
        }
        seen.insert(name, attrs.len());
        attrs.push(Attr {
            name: name.to_string(),
            line: lines.line(name_at),
            span: name_at..value_end + 1,
            value_span: value_at..value_end,
            value: value.into_owned(),
        });
    }
    Ok(attrs)
}

/// The reader's own complaint about an attribute, at the line to fix.
fn reader_error(text: &str, lines: &Lines, error: &AttrError, content_at: usize) -> AttrProblem {
    let at = |position: usize| content_at + position;
    // The reader reports a missing `=` or value where it looked for it, past any line break;
    // the line to fix is the one with the attribute name.
    let after_name = |position: usize| {
        let end = at(position).min(text.len());
        text[..end].trim_end().len().saturating_sub(1)
    };
    match *error {
        AttrError::ExpectedEq(p) => malformed(
            after_name(p),
            "an attribute name is not followed by =",
            "write attributes as Name=\"value\"",
        ),
        AttrError::ExpectedValue(p) => malformed(
            after_name(p),
            "an attribute has = but no value",
            "write attributes as Name=\"value\"",
        ),
        AttrError::UnquotedValue(p) => malformed(
            at(p),
            "an attribute value is not in double quotes",
            "write attributes as Name=\"value\"",
        ),
        AttrError::ExpectedQuote(p, _) => {
            malformed(at(p), "an attribute value has no closing quote", "add the closing \"")
        }
        AttrError::Duplicated(p, previous) => {
            let name: String = text[at(p).min(text.len())..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '=')
                .collect();
            malformed(
                at(p),
                format!(
                    "attribute {name} appears twice in one tag (first on line {})",
                    lines.line(at(previous))
                ),
                "keep one of them",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    /// The attributes of the first tag of `text`, or the line and words of the problem.
    fn first_tag(text: &str) -> Result<Vec<Attr>, (usize, String)> {
        let lines = Lines::of(text);
        let mut reader = Reader::from_str(text);
        loop {
            match reader.read_event().expect("the test's XML reads") {
                Event::Start(start) | Event::Empty(start) => {
                    return read(text, &lines, &start, 0).map_err(|problem| match problem {
                        AttrProblem::Malformed { at, what, .. } => (lines.line(at), what),
                        AttrProblem::NotFromText => (0, "not from the text".to_owned()),
                    });
                }
                Event::Eof => panic!("no tag in {text:?}"),
                _ => {}
            }
        }
    }

    #[test]
    fn attributes_keep_their_spans_and_decode_their_values() {
        let text = "<add name=\"Tom &amp; Jerry\"\n     path=\"a\nb\" />";
        let attrs = first_tag(text).expect("reads");
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0].value, "Tom & Jerry");
        assert_eq!(&text[attrs[0].value_span.clone()], "Tom &amp; Jerry");
        assert_eq!(&text[attrs[0].span.clone()], "name=\"Tom &amp; Jerry\"");
        assert_eq!((attrs[1].line, attrs[1].value.as_str()), (2, "a\nb"), "line breaks kept");
    }

    #[test]
    fn each_malformed_attribute_is_refused_at_the_line_to_fix() {
        let cases = [
            ("<a\n x=\"1\"\n x=\"2\"/>", 3, "appears twice in one tag (first on line 2)"),
            ("<a\n flag\n/>", 2, "not followed by ="),
            ("<a\n x=1/>", 2, "not in double quotes"),
            ("<a\n x=\"Tom &amp Jerry\"/>", 2, "an & that starts no entity"),
            ("<a\n x=\"&nbsp;\"/>", 2, "an unknown entity &nbsp;"),
            ("<a\n x=\"C:\\&#1;.dll\"/>", 2, "the control character"),
            ("<a x=\"1\"\n<b/>", 1, "not ended with >"),
        ];
        for (text, line, words) in cases {
            let (got_line, what) = first_tag(text).expect_err(text);
            assert!(what.contains(words), "{text:?}: {what}");
            assert_eq!(got_line, line, "{text:?}: {what}");
        }
    }
}
