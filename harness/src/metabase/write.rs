//! Writing a metabase so that a crash never leaves half a file, and the previous version is
//! kept, the way IIS keeps `History\MetaBase_<major>_<minor>.xml`.
//!
//! The new text goes to a temporary file in the target's folder (`.<name>.<pid>.tmp`), which is
//! flushed to disk; then the current file is copied to `History/metabase_<NNNNNNNNNN>.xml`
//! beside it (ten digits, one more than the highest number already there, starting at 1); then
//! the temporary file is renamed over the target, which replaces it in one step. If any step
//! fails, the temporary file and the History copy are removed and the target is untouched.
//! Writing text identical to the file writes nothing at all.
//!
//! Test hook: when the environment variable [`FAIL_WRITE_HOOK`]
//! (`ISAPI_HARNESS_FAIL_WRITE_AFTER_BYTES`) holds a number N, writing the temporary file stops
//! with an error after N bytes, as if the process had died mid-write. It exists so the test
//! suite can check that an interrupted write leaves the old file whole; it is read in
//! `fail_after_bytes` and nowhere else.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::{MetabaseError, MetabaseErrorKind};

/// The name of the test hook's environment variable (see the module documentation).
pub const FAIL_WRITE_HOOK: &str = "ISAPI_HARNESS_FAIL_WRITE_AFTER_BYTES";

/// The folder beside the metabase that keeps previous versions.
const HISTORY_FOLDER: &str = "History";

/// Writes `bytes` to `target` atomically, keeping the previous version in `History`.
pub(crate) fn write_atomically(bytes: &[u8], target: &Path) -> Result<(), MetabaseError> {
    write_with(bytes, target, fail_after_bytes())
}

/// The test hook: the one place that reads [`FAIL_WRITE_HOOK`]. Anything but a number is
/// ignored, so a stray value cannot break a real run.
fn fail_after_bytes() -> Option<usize> {
    std::env::var(FAIL_WRITE_HOOK).ok()?.trim().parse().ok()
}

/// [`write_atomically`] with the crash injection passed in, so unit tests need not touch the
/// process environment.
pub(crate) fn write_with(
    bytes: &[u8],
    target: &Path,
    fail_after: Option<usize>,
) -> Result<(), MetabaseError> {
    let folder =
        target.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(file_name) = target.file_name() else {
        return Err(io_error(target, "is not a file name", None));
    };
    let previous = match fs::read(target) {
        Ok(previous) => Some(previous),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_error(target, "cannot read the current file", Some(error))),
    };
    if previous.as_deref() == Some(bytes) {
        return Ok(());
    }
    let temp = folder.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    if let Err(error) = write_file(&temp, bytes, fail_after) {
        remove_quietly(&temp);
        return Err(io_error(
            target,
            &format!("cannot write the new version to {}", temp.display()),
            Some(error),
        ));
    }
    let history =
        match previous.as_deref().map(|previous| keep_history(folder, previous)).transpose() {
            Ok(history) => history,
            Err(error) => {
                remove_quietly(&temp);
                return Err(io_error(
                    target,
                    "cannot keep a copy of the current file in History",
                    Some(error),
                ));
            }
        };
    if let Err(error) = fs::rename(&temp, target) {
        remove_quietly(&temp);
        if let Some(history) = history {
            history.undo();
        }
        return Err(io_error(
            target,
            &format!("cannot replace it with {}", temp.display()),
            Some(error),
        ));
    }
    sync_folder(folder);
    Ok(())
}

/// A History copy just made, and whether its folder was made with it (to undo both).
struct HistoryCopy {
    file: PathBuf,
    created_folder: Option<PathBuf>,
}

impl HistoryCopy {
    fn undo(self) {
        remove_quietly(&self.file);
        if let Some(folder) = self.created_folder {
            // Only removes the folder if it is still empty, which is what we want.
            let _ = fs::remove_dir(folder);
        }
    }
}

fn keep_history(folder: &Path, previous: &[u8]) -> io::Result<HistoryCopy> {
    let history = folder.join(HISTORY_FOLDER);
    let created_folder = (!history.is_dir()).then(|| history.clone());
    fs::create_dir_all(&history)?;
    let highest = fs::read_dir(&history)?
        .filter_map(Result::ok)
        .filter_map(|entry| history_number(&entry.file_name().to_string_lossy()))
        .max()
        .unwrap_or(0);
    let file = history.join(format!("metabase_{:010}.xml", highest + 1));
    let temp =
        history.join(format!(".metabase_{:010}.xml.{}.tmp", highest + 1, std::process::id()));
    let copied = write_file(&temp, previous, None).and_then(|()| fs::rename(&temp, &file));
    if let Err(error) = copied {
        remove_quietly(&temp);
        if let Some(created) = &created_folder {
            let _ = fs::remove_dir(created);
        }
        return Err(error);
    }
    Ok(HistoryCopy { file, created_folder })
}

/// The number in a History file name `metabase_<digits>.xml`.
fn history_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("metabase_")?.strip_suffix(".xml")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes a new file and flushes it to disk, or (test hook) stops after `fail_after` bytes.
fn write_file(path: &Path, bytes: &[u8], fail_after: Option<usize>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    if let Some(limit) = fail_after {
        file.write_all(&bytes[..limit.min(bytes.len())])?;
        return Err(io::Error::other(format!(
            "simulated crash after {limit} bytes ({FAIL_WRITE_HOOK} is set)"
        )));
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename itself durable where the platform allows opening a folder (Windows does
/// not, and NTFS journals the rename itself).
fn sync_folder(folder: &Path) {
    if cfg!(unix)
        && let Ok(handle) = File::open(folder)
    {
        let _ = handle.sync_all();
    }
}

fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

fn io_error(target: &Path, what: &str, error: Option<io::Error>) -> MetabaseError {
    let what = match error {
        Some(error) => format!("{what}: {error}"),
        None => what.to_string(),
    };
    MetabaseError::new(
        MetabaseErrorKind::Io,
        target,
        None,
        what,
        "the metabase was not changed; check that its folder is writable and has space",
    )
}
