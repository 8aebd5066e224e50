//! The one place that decides what input the harness accepts before it reads it: files must be
//! regular files of a bounded size, opened without blocking, and text taken from the command
//! line or a file must not carry control characters.
//!
//! Why each rule exists:
//! - A device (`/dev/zero`) or a FIFO given as a metabase would have the harness read forever or
//!   wait forever. So the path's metadata is checked before the file is opened, the open itself
//!   cannot block (`O_NONBLOCK` on Unix, for a FIFO swapped in between the check and the open),
//!   and the opened handle's metadata is checked again.
//! - A regular file can still be huge. Real metabases are under 50 MB; [`MAX_INPUT_BYTES`]
//!   (256 MiB) leaves room and still bounds memory. The read itself is capped too, for a file
//!   that grows while it is read.
//! - XML 1.0 allows no control characters but TAB, LF and CR, written or as character
//!   references; IIS never writes them. A NUL inside a key path makes two spellings of one key
//!   that compare differently, so one is silently lost. [`check_text`] refuses them in values a
//!   user types, so that nothing the harness writes can hold them.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::Path;

/// The largest metabase or scenario file the harness reads: 256 MiB.
pub const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// Why a file was not read; displays as a sentence without the file name, which callers add.
#[derive(Debug)]
pub struct Refusal(String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// Opens a regular file for reading without ever blocking on it, and returns it with its size.
/// A directory, FIFO, socket or device is refused from its metadata alone.
pub fn open_regular(path: &Path) -> Result<(File, u64), Refusal> {
    let before = std::fs::metadata(path).map_err(|error| Refusal(error.to_string()))?;
    check_regular(&before)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|error| Refusal(error.to_string()))?;
    // The path may have been replaced between the check and the open: check what was opened.
    let opened = file.metadata().map_err(|error| Refusal(error.to_string()))?;
    check_regular(&opened)?;
    Ok((file, opened.len()))
}

/// Reads a whole regular file of at most [`MAX_INPUT_BYTES`].
pub fn read_regular(path: &Path) -> Result<Vec<u8>, Refusal> {
    let (file, len) = open_regular(path)?;
    check_size(len)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte more than the limit tells a file that grew past it from one that ends there.
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Refusal(error.to_string()))?;
    check_size(bytes.len() as u64)?;
    Ok(bytes)
}

/// [`read_regular`], as UTF-8 text.
pub fn read_regular_text(path: &Path) -> Result<String, Refusal> {
    String::from_utf8(read_regular(path)?).map_err(|error| {
        Refusal(format!(
            "it is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

fn check_size(len: u64) -> Result<(), Refusal> {
    if len > MAX_INPUT_BYTES {
        return Err(Refusal(format!(
            "it is {} MiB, more than the {} MiB the harness reads (real metabases are under 50 MB)",
            len.div_ceil(1024 * 1024),
            MAX_INPUT_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

fn check_regular(metadata: &Metadata) -> Result<(), Refusal> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(Refusal(format!("it is {}, not a regular file", kind_of(metadata))))
}

/// What a file that is not a regular file is, in words.
fn kind_of(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// Whether `c` is a control character the harness refuses: any but TAB, LF and CR.
pub fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The first refused control character in `text`, with its byte offset.
pub fn find_control(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| is_refused_control(c))
}

/// Refuses a value typed on the command line (or written in a scenario) that holds a control
/// character other than TAB, LF and CR; `what` names it (`the value of adsutil set`).
pub fn check_text(what: &str, text: &str) -> anyhow::Result<()> {
    if let Some((at, c)) = find_control(text) {
        anyhow::bail!(
            "{what} holds the control character {} at byte {at}; only TAB, LF and CR may appear in values (XML allows no other)",
            describe_control(c)
        );
    }
    Ok(())
}

/// The first control character XML does not allow in a whole document, with the sentence that
/// says so: both XML readers refuse a file for it the same way.
pub fn control_in_document(text: &str) -> Option<(usize, String)> {
    let (at, c) = find_control(text)?;
    Some((
        at,
        format!(
            "the control character {} is in the file, where XML allows none but TAB, LF and CR",
            describe_control(c)
        ),
    ))
}

/// `U+0001`, with its usual name where it has one.
pub fn describe_control(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\u{1b}' => " (ESC)",
        '\u{7f}' => " (DEL)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_but_tab_lf_cr_are_refused() {
        assert!(check_text("x", "a\tb\r\nc").is_ok());
        assert!(check_text("x", "a\u{1}b").is_err());
        assert!(check_text("x", "a\0b").is_err());
        assert!(check_text("x", "a\u{85}b").is_err());
        assert_eq!(find_control("ab\u{7f}"), Some((2, '\u{7f}')));
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_folders_are_refused_without_reading() {
        let error = read_regular(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(error.contains("a character device"), "{error}");
        let error = read_regular(Path::new("/")).unwrap_err().to_string();
        assert!(error.contains("a folder"), "{error}");
    }
}
