//! Writing a metabase so that a crash never leaves half a file, the file stays the file it
//! was, and previous versions are kept the way IIS keeps them in `History`.
//!
//! The steps:
//! 1. The file edited is the one the path leads to: a symbolic link is followed, and the link
//!    stays a link to the edited file. A path that is not a regular file is refused.
//! 2. The new text goes to a temporary file in that file's folder (`.<name>.<pid>.tmp`), created
//!    readable by its owner only, then given the old file's owner and mode (a 640 file stays
//!    640), and flushed to disk.
//! 3. The current file is copied to `History/metabase_<NNNNNNNNNN>.xml` beside it (ten digits,
//!    one more than the highest number already there, starting at 1), with the file's mode, so
//!    that a copy is never more readable than the file.
//! 4. The temporary file is renamed over the file, which replaces it in one step.
//! 5. History is trimmed to `MaxHistoryFiles` (the metabase's own value at `/LM`, IIS's default
//!    of 10 when it does not say; 0 keeps no copies), oldest (lowest number) first, as IIS does.
//!    Only files named like the harness's own copies are ever removed.
//!
//! If any of steps 2 to 4 fails, the temporary file and the History copy are removed and the
//! file is untouched. Writing text identical to the file writes nothing at all.
//!
//! A file with more than one hard link is refused rather than written. Replacing it (step 4)
//! would break the link: the other names would keep the old text. Writing it in place would
//! keep the link but give up atomicity: a crash mid-write would leave every name with half a
//! file. Neither is what a user who linked the file expects, so the harness says so and leaves
//! the choice to them. For the same reason a file whose owner the harness cannot give to the
//! replacement (another user's file in a folder the harness may write) is refused.
//!
//! Test hook: when the environment variable [`FAIL_WRITE_HOOK`]
//! (`ISAPI_HARNESS_FAIL_WRITE_AFTER_BYTES`) holds a number N, writing the temporary file stops
//! with an error after N bytes, as if the process had died mid-write. It exists so the test
//! suite can check that an interrupted write leaves the old file whole; it is read in
//! `fail_after_bytes` and nowhere else.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::{MetabaseError, MetabaseErrorKind};

/// The name of the test hook's environment variable (see the module documentation).
pub const FAIL_WRITE_HOOK: &str = "ISAPI_HARNESS_FAIL_WRITE_AFTER_BYTES";

/// The folder beside the metabase that keeps previous versions.
const HISTORY_FOLDER: &str = "History";

/// IIS's default for `MaxHistoryFiles` (MD_ROOT_MAX_HISTORY_FILES, set at `/LM`).
pub(crate) const DEFAULT_MAX_HISTORY_FILES: u32 = 10;

/// Writes `bytes` to `target` atomically, keeping at most `max_history` previous versions.
pub(crate) fn write_atomically(
    bytes: &[u8],
    target: &Path,
    max_history: u32,
) -> Result<(), MetabaseError> {
    write_with(bytes, target, fail_after_bytes(), max_history)
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
    max_history: u32,
) -> Result<(), MetabaseError> {
    let (real, current) = resolve(target)?;
    let folder =
        real.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Some(file_name) = real.file_name() else {
        return Err(io_error(target, "is not a file name", None));
    };
    let previous = match &current {
        Some(_) => Some(crate::input::read_regular(&real).map_err(|refusal| {
            refused(target, format!("cannot read the current file: {refusal}"), "check the file")
        })?),
        None => None,
    };
    if previous.as_deref() == Some(bytes) {
        return Ok(());
    }
    let temp = folder.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
    if let Err(error) = write_file(&temp, bytes, fail_after, current.as_ref()) {
        remove_quietly(&temp);
        return Err(match error {
            WriteError::Owner(error) => owner_refused(target, current.as_ref(), &error),
            WriteError::Io(error) => io_error(
                target,
                &format!("cannot write the new version to {}", temp.display()),
                Some(error),
            ),
        });
    }
    let history = match previous.as_deref().filter(|_| max_history > 0) {
        None => None,
        Some(previous) => match keep_history(folder, previous, current.as_ref()) {
            Ok(history) => Some(history),
            Err(error) => {
                remove_quietly(&temp);
                return Err(io_error(
                    target,
                    "cannot keep a copy of the current file in History",
                    Some(error),
                ));
            }
        },
    };
    if let Err(error) = fs::rename(&temp, &real) {
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
    if history.is_some() {
        // The edit is made; a copy that cannot be removed only means History keeps one more.
        trim_history(&folder.join(HISTORY_FOLDER), max_history);
    }
    Ok(())
}

/// The file a path leads to, with its metadata (None when there is no file yet), or why it
/// cannot be edited.
fn resolve(target: &Path) -> Result<(PathBuf, Option<Metadata>), MetabaseError> {
    let real = match fs::canonicalize(target) {
        Ok(real) => real,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(target).is_ok_and(|meta| meta.file_type().is_symlink()) {
                return Err(refused(
                    target,
                    "is a symbolic link to a file that does not exist",
                    "point the link at the metabase, or give the metabase's own path",
                ));
            }
            return Ok((target.to_path_buf(), None));
        }
        Err(error) => return Err(io_error(target, "cannot follow the path", Some(error))),
    };
    let meta =
        fs::metadata(&real).map_err(|error| io_error(target, "cannot read it", Some(error)))?;
    if !meta.is_file() {
        return Err(refused(
            target,
            "is not a regular file",
            "give the path of a MetaBase.xml file",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(refused(
                target,
                format!(
                    "has {} hard links; replacing it would leave the other names with the old text, and writing it in place could leave half a file after a crash",
                    meta.nlink()
                ),
                "edit a copy (cp it to a file of its own), or remove the other links first",
            ));
        }
    }
    Ok((real, Some(meta)))
}

/// Why writing the temporary file failed: the owner could not be kept, or plain I/O.
enum WriteError {
    #[cfg_attr(not(unix), allow(dead_code, reason = "only Unix files have an owner to keep"))]
    Owner(io::Error),
    Io(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> WriteError {
        WriteError::Io(error)
    }
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

fn keep_history(
    folder: &Path,
    previous: &[u8],
    current: Option<&Metadata>,
) -> io::Result<HistoryCopy> {
    let history = folder.join(HISTORY_FOLDER);
    let created_folder = (!history.is_dir()).then(|| history.clone());
    fs::create_dir_all(&history)?;
    let highest = history_numbers(&history)?.into_iter().max().unwrap_or(0);
    let file = history.join(format!("metabase_{:010}.xml", highest + 1));
    let temp =
        history.join(format!(".metabase_{:010}.xml.{}.tmp", highest + 1, std::process::id()));
    // The copy gets the file's mode but not necessarily its owner: a History copy owned by the
    // editing user is still no more readable than the file was.
    let copied = write_file(&temp, previous, None, None)
        .map_err(|error| match error {
            WriteError::Owner(error) | WriteError::Io(error) => error,
        })
        .and_then(|()| match current {
            Some(meta) => fs::set_permissions(&temp, meta.permissions()),
            None => Ok(()),
        })
        .and_then(|()| fs::rename(&temp, &file));
    if let Err(error) = copied {
        remove_quietly(&temp);
        if let Some(created) = &created_folder {
            let _ = fs::remove_dir(created);
        }
        return Err(error);
    }
    Ok(HistoryCopy { file, created_folder })
}

/// The numbers of the History copies in `history`.
fn history_numbers(history: &Path) -> io::Result<Vec<u64>> {
    Ok(fs::read_dir(history)?
        .filter_map(Result::ok)
        .filter_map(|entry| history_number(&entry.file_name().to_string_lossy()))
        .collect())
}

/// Removes the oldest History copies until at most `max` are left.
fn trim_history(history: &Path, max: u32) {
    let Ok(mut numbers) = history_numbers(history) else { return };
    numbers.sort_unstable();
    let excess = numbers.len().saturating_sub(usize::try_from(max).unwrap_or(usize::MAX));
    for number in &numbers[..excess] {
        remove_quietly(&history.join(format!("metabase_{number:010}.xml")));
    }
}

/// The number in a History file name `metabase_<digits>.xml`.
fn history_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("metabase_")?.strip_suffix(".xml")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes a new file and flushes it to disk, or (test hook) stops after `fail_after` bytes.
/// With `like`, the file gets that file's owner and mode; it is created readable by its owner
/// only, so that the text is never more exposed than in the file it replaces.
fn write_file(
    path: &Path,
    bytes: &[u8],
    fail_after: Option<usize>,
    like: Option<&Metadata>,
) -> Result<(), WriteError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if like.is_some() {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    if let Some(limit) = fail_after {
        file.write_all(&bytes[..limit.min(bytes.len())])?;
        return Err(WriteError::Io(io::Error::other(format!(
            "simulated crash after {limit} bytes ({FAIL_WRITE_HOOK} is set)"
        ))));
    }
    file.write_all(bytes)?;
    if let Some(like) = like {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let mine = file.metadata()?;
            if (mine.uid(), mine.gid()) != (like.uid(), like.gid()) {
                std::os::unix::fs::fchown(&file, Some(like.uid()), Some(like.gid()))
                    .map_err(WriteError::Owner)?;
            }
        }
        // After the owner: changing the owner may clear set-id bits.
        file.set_permissions(like.permissions())?;
    }
    file.sync_all()?;
    Ok(())
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

fn owner_refused(target: &Path, current: Option<&Metadata>, error: &io::Error) -> MetabaseError {
    #[cfg(unix)]
    let owner = current.map_or_else(String::new, |meta| {
        use std::os::unix::fs::MetadataExt;
        format!(" (uid {}, gid {})", meta.uid(), meta.gid())
    });
    #[cfg(not(unix))]
    let owner = {
        let _ = current;
        String::new()
    };
    refused(
        target,
        format!("cannot give the new version the file's owner{owner}: {error}"),
        "run the edit as the file's owner (or root), or edit a copy of your own",
    )
}

fn refused(target: &Path, what: impl Into<String>, fix: &str) -> MetabaseError {
    MetabaseError::new(
        MetabaseErrorKind::Refused,
        target,
        None,
        format!("{}; the metabase was not changed", what.into()),
        fix,
    )
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
