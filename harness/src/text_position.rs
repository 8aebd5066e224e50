//! Where a place in a document is, for the two XML readers (MetaBase.xml and
//! applicationHost.config): the line a byte offset is on, where a slice the XML reader handed
//! out starts, where the XML starts and which line ending the file uses. Errors name a line;
//! byte-faithful edits need offsets.

/// The line of any byte offset, from one pass over the text.
#[derive(Clone, Debug)]
pub struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    pub fn of(text: &str) -> Lines {
        Lines { newlines: text.match_indices('\n').map(|(at, _)| at).collect() }
    }

    /// The 1-based line that byte `at` is on.
    pub fn line(&self, at: usize) -> usize {
        self.newlines.partition_point(|&newline| newline < at) + 1
    }
}

/// Where `part`, a slice borrowed from `text`, starts in it; None for a slice of other memory
/// (the reader's own buffer, for an unescaped value).
pub fn offset_within(text: &str, part: &[u8]) -> Option<usize> {
    let base = text.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= base && at + part.len() <= base + text.len()).then(|| at - base)
}

/// A position quick-xml reports, as an offset (it counts in u64).
pub fn reader_offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// Where the XML starts: past a UTF-8 byte order mark, if the file has one.
pub fn past_bom(text: &str) -> usize {
    if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 }
}

/// The line ending a file uses (that of its first line), which every line an edit inserts
/// uses too. A file on one line says nothing; IIS writes CRLF.
pub fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(at) if at > 0 && text.as_bytes()[at - 1] == b'\r' => "\r\n",
        Some(_) => "\n",
        None => "\r\n",
    }
}
