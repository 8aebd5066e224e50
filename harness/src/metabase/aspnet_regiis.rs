//! What `aspnet_regiis.exe -i [-enable]` of ASP.NET 2.0.50727 changes in an IIS 6.0 metabase
//! (Microsoft's documentation of the ASP.NET IIS Registration Tool): it points the global ASP.NET filter at the `aspnet_filter.dll` of the
//! Framework folder it was run from, makes sure IIS loads that filter, and with `-enable` allows
//! ASP.NET in the Web Service Extension list.
//!
//! That last point is how the seed case breaks: run from `Framework` (32-bit) on x64 in IIS 5.0
//! isolation mode, it registers a 32-bit filter that the 64-bit inetinfo.exe must load.
//!
//! Which Framework folder the tool may run from is gated on the real machine (the 32-bit tool
//! "runs only if IIS has been set to run in 32-bit mode"); the harness does not model that
//! check, so that any registration a user can end up with can be reproduced.

use super::error::{MetabaseError, MetabaseErrorKind};
use super::path::{KeyPath, fold};
use super::{Metabase, filter_names};
use crate::arch::Arch;

/// The name of the global filter key ASP.NET 2.0 registers (as seen in real metabases, e.g. the
/// metabase excerpt Helicon published; not `.42`).
pub const ASPNET_FILTER_NAME: &str = "ASP.NET_2.0.50727.0";

/// The Framework version folder.
const VERSION_FOLDER: &str = "v2.0.50727";

/// The facts about `aspnet_regiis -i` that no source confirms (UNVERIFIED: the exact metabase
/// writes, and the format of the Web Service Extension entry). They live here, in
/// one place, so that a better source changes one spot.
mod unverified {
    /// The description written on a filter key aspnet_regiis has to create.
    pub(super) const FILTER_DESCRIPTION: &str = super::ASPNET_FILTER_NAME;
    /// `FilterEnabled` on a filter key aspnet_regiis has to create.
    pub(super) const FILTER_ENABLED: &str = "TRUE";

    /// The WebSvcExtRestrictionList entry that allows ASP.NET: allowed flag, ISAPI path,
    /// deletable flag, group id, description.
    pub(super) fn allowed_extension(framework_dir: &str) -> String {
        format!("1,{framework_dir}\\aspnet_isapi.dll,0,ASP.NET v2.0.50727,ASP.NET v2.0.50727")
    }

    /// Whether a WebSvcExtRestrictionList entry is the one for ASP.NET 2.0.50727 (from either
    /// Framework folder), whatever its allowed flag.
    pub(super) fn is_aspnet_extension(entry: &str) -> bool {
        entry.split(',').nth(1).is_some_and(|path| {
            path.to_ascii_lowercase().ends_with("\\v2.0.50727\\aspnet_isapi.dll")
        })
    }
}

/// Applies `aspnet_regiis -i` (and `-enable`) run from `framework`'s folder under `windir`.
/// Returns one human-readable line per change; on error `mb` is left as it was.
pub fn aspnet_regiis_install(
    mb: &mut Metabase,
    framework: Arch,
    windir: &str,
    enable: bool,
) -> Result<Vec<String>, MetabaseError> {
    check_windir(mb, windir)?;
    // Work on a copy so that a failure half-way leaves the caller's metabase untouched.
    let mut work = mb.clone();
    let framework_dir = format!(
        "{}\\Microsoft.NET\\{}\\{VERSION_FOLDER}",
        windir.trim_end_matches(['\\', '/']),
        framework.framework_folder()
    );
    let mut changes = Vec::new();
    register_filter(&mut work, &format!("{framework_dir}\\aspnet_filter.dll"), &mut changes)?;
    add_to_load_order(&mut work, &mut changes)?;
    if enable {
        allow_extension(&mut work, &framework_dir, &mut changes)?;
    }
    // aspnet_regiis -i also points the script maps (.aspx and friends) at this Framework's
    // aspnet_isapi.dll. Script maps choose the ISAPI *extension* for a request; they do not
    // decide which filters a process loads, so the harness leaves them alone.
    *mb = work;
    Ok(changes)
}

/// The Windows folder must be one a FilterPath could be written under: an absolute path on a
/// drive, with no `.` or `..` component, no UNC share, no control character. Checked the way
/// the start-up model checks a FilterPath, by `WinPath`.
fn check_windir(mb: &Metabase, windir: &str) -> Result<(), MetabaseError> {
    let refuse = |why: String| {
        MetabaseError::new(
            MetabaseErrorKind::Refused,
            &mb.origin,
            None,
            format!("--windir `{windir}` is not a Windows folder IIS could load from: {why}"),
            r"give an absolute folder on a drive, like C:\WINDOWS or d:\WINDOWS",
        )
    };
    if let Some((at, c)) = crate::input::find_control(windir) {
        return Err(refuse(format!(
            "it holds the control character {} at byte {at}",
            crate::input::describe_control(c)
        )));
    }
    crate::winpath::WinPath::parse(windir).map(|_| ()).map_err(|error| refuse(error.to_string()))
}

fn filters_path() -> KeyPath {
    KeyPath::below_lm(&["W3SVC", "Filters"])
}

fn register_filter(
    mb: &mut Metabase,
    filter_path: &str,
    changes: &mut Vec<String>,
) -> Result<(), MetabaseError> {
    let key = filters_path().child(ASPNET_FILTER_NAME);
    let Some(existing) = mb.doc.key(&key.id()) else {
        // Set one by one so the attributes come out in the order IIS writes them (by name).
        mb.set_property(&key, "FilterDescription", unverified::FILTER_DESCRIPTION)?;
        mb.set_property(&key, "FilterEnabled", unverified::FILTER_ENABLED)?;
        mb.set_property(&key, "FilterPath", filter_path)?;
        changes.push(format!("created filter {} with FilterPath {filter_path}", key.display()));
        return Ok(());
    };
    let location = existing.location.clone();
    let old = existing.property("FilterPath").map(|prop| prop.value.clone());
    if old.as_deref() != Some(filter_path) {
        mb.set_property(&key, "FilterPath", filter_path)?;
        let old = old.map_or_else(|| "(not set)".to_string(), |old| format!("\"{old}\""));
        changes.push(format!("FilterPath of {location}: {old} -> \"{filter_path}\""));
    }
    Ok(())
}

fn add_to_load_order(mb: &mut Metabase, changes: &mut Vec<String>) -> Result<(), MetabaseError> {
    let filters = filters_path();
    let old = mb.doc.property(&filters.id(), "FilterLoadOrder").map(|prop| prop.value.clone());
    let old_text = old.clone().unwrap_or_default();
    let names = filter_names(&old_text);
    let is_aspnet = |name: &String| fold(name) == fold(ASPNET_FILTER_NAME);
    let new = match names.iter().filter(|name| is_aspnet(name)).count() {
        1 => return Ok(()),
        0 => {
            let kept = old_text.trim_end().trim_end_matches(',').trim_end();
            if kept.is_empty() {
                ASPNET_FILTER_NAME.to_string()
            } else {
                format!("{kept},{ASPNET_FILTER_NAME}")
            }
        }
        // Listed more than once: IIS would load it twice. Keep the first mention only.
        _ => {
            let mut seen = false;
            let kept: Vec<&str> = names
                .iter()
                .filter(|name| !is_aspnet(name) || !std::mem::replace(&mut seen, true))
                .map(String::as_str)
                .collect();
            kept.join(",")
        }
    };
    mb.set_property(&filters, "FilterLoadOrder", &new)?;
    let old = old.map_or_else(|| "(not set)".to_string(), |old| format!("\"{old}\""));
    changes.push(format!("FilterLoadOrder of /LM/W3SVC/Filters: {old} -> \"{new}\""));
    Ok(())
}

fn allow_extension(
    mb: &mut Metabase,
    framework_dir: &str,
    changes: &mut Vec<String>,
) -> Result<(), MetabaseError> {
    let w3svc = KeyPath::below_lm(&["W3SVC"]);
    if mb.doc.key(&w3svc.id()).is_none() {
        return Err(MetabaseError::new(
            MetabaseErrorKind::Refused,
            &mb.origin,
            None,
            "key /LM/W3SVC does not exist, so there is no Web Service Extension list to change",
            "add the IIsWebService key (Location =\"/LM/W3SVC\") or run without -enable",
        ));
    }
    let wanted = unverified::allowed_extension(framework_dir);
    let name = "WebSvcExtRestrictionList";
    let current = mb
        .doc
        .property(&w3svc.id(), name)
        .map(|prop| mb.raw_items(prop))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .find(|(_, (_, item))| unverified::is_aspnet_extension(item));
    match current {
        Some((_, (_, item))) if item == wanted => {}
        Some((index, (_, item))) => {
            mb.replace_list_item(&w3svc.id(), name, index, &wanted)?;
            changes.push(format!("{name} of /LM/W3SVC: \"{item}\" -> \"{wanted}\""));
        }
        None => {
            mb.push_list_item(&w3svc, name, &wanted)?;
            changes.push(format!("{name} of /LM/W3SVC: added \"{wanted}\""));
        }
    }
    Ok(())
}
