//! `isapi-harness adsutil`: reads and edits a metabase file the way `adsutil.vbs` reads and
//! edits the live metabase (`GET`, `SET`, `DELETE`, `ENUM`), with adsutil's output.
//!
//! A path or property that is not there is a reported failure (exit code 1, adsutil's own
//! words on stdout); a metabase that cannot be read or an edit that cannot be made is bad input
//! (an error, exit code 2). Edits are written atomically, keeping the previous version in
//! `History` beside the file.

use std::process::ExitCode;

use super::{AdsutilAction, AdsutilArgs};
use crate::iis::iis6::messages::tools;
use crate::metabase::{Metabase, MetabaseError, MetabaseErrorKind};

pub fn run(args: AdsutilArgs) -> anyhow::Result<ExitCode> {
    super::appcmd::refuse_apphost(&args.metabase, "adsutil")?;
    let mut metabase = Metabase::read(&args.metabase)?;
    match args.action {
        AdsutilAction::Get { path } => match metabase.get(&path) {
            Ok(Some(property)) => {
                println!("{}", property.adsutil_line());
                Ok(ExitCode::SUCCESS)
            }
            Ok(None) => not_set(&path),
            Err(error) => not_found(error),
        },
        AdsutilAction::Set { path, value } => {
            metabase.set(&path, &value)?;
            metabase.write_atomically(&args.metabase)?;
            match metabase.get(&path)? {
                Some(property) => println!("{}", property.adsutil_line()),
                None => anyhow::bail!("internal error: {path} is not set right after setting it"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AdsutilAction::Delete { path } => {
            // adsutil deletes a key when the path names one, else the property it ends with.
            let is_key = metabase.enumerate(&path).is_ok();
            match metabase.delete(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == MetabaseErrorKind::NotSet => return not_set(&path),
                Err(error) => return not_found(error),
            }
            metabase.write_atomically(&args.metabase)?;
            if is_key {
                println!("{}", tools::adsutil_deleted_key(&path));
            } else {
                println!("{}", tools::adsutil_deleted_property(last_component(&path)));
            }
            Ok(ExitCode::SUCCESS)
        }
        AdsutilAction::Enum { path } => match metabase.enumerate(&path) {
            Ok(enumeration) => {
                for line in enumeration.adsutil_lines() {
                    println!("{line}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => not_found(error),
        },
    }
}

fn not_set(path: &str) -> anyhow::Result<ExitCode> {
    println!("{}", tools::adsutil_not_set(last_component(path)));
    Ok(ExitCode::from(1))
}

/// adsutil's report for a path that names no key; any other error is bad input.
fn not_found(error: MetabaseError) -> anyhow::Result<ExitCode> {
    if error.kind() != MetabaseErrorKind::PathNotFound {
        return Err(error.into());
    }
    println!("{}", tools::ADSUTIL_PATH_NOT_FOUND);
    Ok(ExitCode::from(1))
}

fn last_component(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}
