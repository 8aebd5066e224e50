//! The one reading loop both configuration formats share: quick-xml's events, each with the
//! byte offsets in the whole file where it starts and ends, handed to the format's own reader
//! (`metabase::parse`, `apphost::parse`). Positions are what both readers need: an edit is a
//! byte splice, and every refusal names the line to fix.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::text_position::reader_offset;

/// What kind of character data a [`XmlSpans::on_text`] call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Plain text between tags.
    Text,
    /// An entity or character reference, as written (`&amp;`).
    Reference,
    /// A CDATA section (its content is not handed over).
    CData,
}

/// A format's reader, fed by [`read`].
pub trait XmlSpans {
    type Error;
    /// A start tag at `lt`; `empty_end` is the offset past `/>` when the element is empty.
    fn on_start(
        &mut self,
        tag: &BytesStart<'_>,
        lt: usize,
        empty_end: Option<usize>,
    ) -> Result<(), Self::Error>;
    /// The end tag `</name>` from `lt` to `after`.
    fn on_end(&mut self, name: &str, lt: usize, after: usize) -> Result<(), Self::Error>;
    /// Character data at `at`.
    fn on_text(&mut self, text: &str, kind: TextKind, at: usize) -> Result<(), Self::Error>;
    /// The markup is broken at `at` (quick-xml's own words in `error`).
    fn broken(&self, at: usize, error: String) -> Self::Error;
}

/// Reads `body`, which starts at byte `base` of its file (past a byte order mark), event by
/// event into `spans`. End tags are not matched here: each format matches them against its own
/// stack, so that an unclosed element is reported at the line that opened it rather than where
/// the parser noticed. Declarations, processing instructions, comments and doctypes pass
/// through as written.
pub fn read<S: XmlSpans>(body: &str, base: usize, spans: &mut S) -> Result<(), S::Error> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = false;
    loop {
        let before = base + reader_offset(reader.buffer_position());
        let event = reader.read_event().map_err(|error| {
            spans.broken(base + reader_offset(reader.error_position()), error.to_string())
        })?;
        let after = base + reader_offset(reader.buffer_position());
        match event {
            Event::Start(start) => spans.on_start(&start, before, None)?,
            Event::Empty(start) => spans.on_start(&start, before, Some(after))?,
            Event::End(end) => spans.on_end(end.name().0, before, after)?,
            Event::Text(text) => spans.on_text(&text, TextKind::Text, before)?,
            Event::GeneralRef(reference) => {
                spans.on_text(&format!("&{};", &*reference), TextKind::Reference, before)?
            }
            Event::CData(_) => spans.on_text("<![CDATA[", TextKind::CData, before)?,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => return Ok(()),
        }
    }
}
