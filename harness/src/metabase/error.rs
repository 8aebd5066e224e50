//! [`MetabaseError`]: what went wrong with a metabase, where, and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure a [`MetabaseError`] is, for callers that react differently (adsutil
/// reports a missing path or property with exit code 1, everything else is bad input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetabaseErrorKind {
    /// The file is not a metabase that can be read (XML or metabase rules broken).
    Malformed,
    /// The path names no key.
    PathNotFound,
    /// The key exists but the property is not set at it.
    NotSet,
    /// An edit that cannot be made (bad value, missing key, read-only property).
    Refused,
    /// A tool that refuses to run in this configuration, as the real one does (aspnet_regiis
    /// of the other bitness than IIS's): an observed refusal, not bad input.
    ToolRefused,
    /// Reading or writing a file failed.
    Io,
    /// The harness produced text it cannot read back: a bug in the harness.
    Internal,
}

/// An error about one metabase file. Displays as `{file}:{line}: {what is wrong}; {what to do}`,
/// without the line when there is none to point at.
#[derive(Clone, Debug)]
pub struct MetabaseError {
    kind: MetabaseErrorKind,
    file: PathBuf,
    line: Option<usize>,
    what: String,
    fix: String,
}

impl MetabaseError {
    pub(crate) fn new(
        kind: MetabaseErrorKind,
        file: &Path,
        line: Option<usize>,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> MetabaseError {
        MetabaseError { kind, file: file.to_path_buf(), line, what: what.into(), fix: fix.into() }
    }

    /// The harness produced or read something it should not have: a bug, said as one.
    pub(crate) fn internal(file: &Path, what: &str) -> MetabaseError {
        MetabaseError::new(
            MetabaseErrorKind::Internal,
            file,
            None,
            format!("internal error: {what}"),
            "this is a bug in the harness, please report it; the file was not changed",
        )
    }

    pub fn kind(&self) -> MetabaseErrorKind {
        self.kind
    }

    /// The file the error is about.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The 1-based line the error points at, when it points at one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong, without the file, line or advice.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for MetabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => {
                write!(f, "{}:{}: {}; {}", self.file.display(), line, self.what, self.fix)
            }
            None => write!(f, "{}: {}; {}", self.file.display(), self.what, self.fix),
        }
    }
}

impl std::error::Error for MetabaseError {}
