//! What `aspnet_regiis.exe -i [-enable]` of ASP.NET 2.0.50727 changes in an IIS 6.0 metabase,
//! and where it refuses to run.
//!
//! From Microsoft's documentation of the ASP.NET IIS Registration Tool (k6h9cz8h, the .NET 3.5
//! page that covers Windows Server 2003): `-i` installs the tool's own ASP.NET version and
//! updates the script maps "at the IIS metabase root and below", leaving applications mapped to
//! a later version alone; `-enable` allows ASP.NET in the Web Service Extension list. The tool
//! also points the global ASP.NET filter at the `aspnet_filter.dll` of the Framework folder it
//! was run from. That is how the seed case breaks: run from `Framework` (32-bit) on x64 in
//! IIS 5.0 isolation mode, it registers a 32-bit filter that the 64-bit inetinfo.exe must load.
//!
//! The same tool's documentation gates it on IIS's bitness under IIS 6.0 on 64-bit Windows:
//! each build runs only while IIS runs worker processes of that build's bitness
//! (`W3SVC/AppPools/Enable32bitAppOnWin64`, KB 894435).
//! A refusal is an error of kind [`MetabaseErrorKind::ToolRefused`], and changes nothing.

use super::error::{MetabaseError, MetabaseErrorKind};
use super::path::{KeyPath, fold};
use super::{Metabase, filter_names};
use crate::arch::{Arch, Os};

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

    /// The entry `-i` without `-enable` writes when there is none: the extension listed but
    /// prohibited, since only `-enable` allows it.
    pub(super) fn listed_extension(framework_dir: &str) -> String {
        format!("0{}", &allowed_extension(framework_dir)[1..])
    }

    /// Whether a WebSvcExtRestrictionList entry is the one for ASP.NET 2.0.50727 (from either
    /// Framework folder), whatever its allowed flag.
    pub(super) fn is_aspnet_extension(entry: &str) -> bool {
        entry.split(',').nth(1).is_some_and(|path| {
            path.to_ascii_lowercase().ends_with("\\v2.0.50727\\aspnet_isapi.dll")
        })
    }

    /// The extensions `-i` maps at `/LM/W3SVC` when nothing there is mapped to ASP.NET yet, with
    /// their script-map flags (1: a script; 5: a script whose file must exist) and verbs. The
    /// real tool maps several dozen; these are the ones installers and real metabases show for
    /// 2.0.50727 (`.aspx`, `.asmx`, `.ashx`, `.axd` as scripts; `.asax`, `.ascx`, `.config` and
    /// the other forbidden types checked for existence).
    pub(super) const ROOT_SCRIPT_MAPS: &[(&str, u32)] = &[
        (".asax", 5),
        (".ascx", 5),
        (".ashx", 1),
        (".asmx", 1),
        (".aspx", 1),
        (".axd", 1),
        (".vsdisco", 1),
        (".rem", 1),
        (".soap", 1),
        (".config", 5),
    ];

    /// The verbs on each ASP.NET script map, as 2.0.50727 writes them.
    pub(super) const VERBS: &str = "GET,HEAD,POST,DEBUG";
}

/// The ASP.NET version this tool installs, for comparing script maps with.
const OWN_VERSION: [u32; 3] = [2, 0, 50727];

/// Applies `aspnet_regiis -i` (and `-enable`) run from `framework`'s folder under `windir` on a
/// Windows of bitness `os`. Returns one human-readable line per change. A refusal of the real
/// tool (see the module comment) is an error of kind [`MetabaseErrorKind::ToolRefused`]; on any
/// error `mb` is left as it was.
pub fn aspnet_regiis_install(
    mb: &mut Metabase,
    framework: Arch,
    windir: &str,
    enable: bool,
    os: Os,
) -> Result<Vec<String>, MetabaseError> {
    check_windir(mb, windir)?;
    check_bitness(mb, framework, os)?;
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
    point_script_maps(&mut work, &format!("{framework_dir}\\aspnet_isapi.dll"), &mut changes)?;
    list_extension(&mut work, &framework_dir, enable, &mut changes)?;
    *mb = work;
    Ok(changes)
}

/// The real tool's bitness gate on 64-bit Windows, read from the configuration it would read.
/// 32-bit Windows has no Framework64, so there is no 64-bit tool to run.
fn check_bitness(mb: &Metabase, framework: Arch, os: Os) -> Result<(), MetabaseError> {
    let wow64 = mb.enable_32bit_app_on_win64();
    let (what, fix) = match (os, framework, wow64) {
        (Os::X86, Arch::Amd64, _) => {
            return Err(MetabaseError::new(
                MetabaseErrorKind::Refused,
                &mb.origin,
                None,
                "32-bit Windows has no Framework64 folder, so there is no 64-bit aspnet_regiis to run",
                "run it with --framework x86, or simulate 64-bit Windows with --os x64",
            ));
        }
        (Os::X64, Arch::Amd64, true) => (
            "the 64-bit aspnet_regiis runs only while IIS runs 64-bit worker processes, and W3SVC/AppPools/Enable32bitAppOnWin64 is true",
            "set it to 0 first (cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 0), or run the 32-bit tool from Framework",
        ),
        (Os::X64, Arch::X86, false) => (
            "the 32-bit aspnet_regiis runs on 64-bit Windows only while IIS runs 32-bit worker processes, and W3SVC/AppPools/Enable32bitAppOnWin64 is false",
            "set it to 1 first (cscript adsutil.vbs SET W3SVC/AppPools/Enable32bitAppOnWin64 1), or run the 64-bit tool from Framework64",
        ),
        _ => return Ok(()),
    };
    Err(MetabaseError::new(MetabaseErrorKind::ToolRefused, &mb.origin, None, what, fix))
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

/// `-i` points every script map at the root and below that names an `aspnet_isapi.dll` of this
/// version or an earlier one at this tool's DLL, and maps ASP.NET's extensions at the root when
/// nothing there is mapped to ASP.NET. A later version's maps are left alone, as documented.
/// The same version from the other Framework folder counts as this version: on x64 that is
/// exactly what switching between the 32-bit and the 64-bit ASP.NET has to rewrite (KB 894435
/// re-runs `-i` for that).
fn point_script_maps(
    mb: &mut Metabase,
    isapi: &str,
    changes: &mut Vec<String>,
) -> Result<(), MetabaseError> {
    let name = "ScriptMaps";
    let keys: Vec<(String, String)> = mb
        .doc
        .keys
        .iter()
        .filter(|key| key.id == "/lm/w3svc" || key.id.starts_with("/lm/w3svc/"))
        .filter(|key| key.property(name).is_some())
        .map(|key| (key.id.clone(), key.location.clone()))
        .collect();
    let mut root_maps_aspnet = false;
    for (id, location) in keys {
        let items = mb.doc.property(&id, name).map(|prop| mb.raw_items(prop)).unwrap_or_default();
        let mut rewritten = 0;
        for (index, (_, item)) in items.iter().enumerate() {
            let Some(map) = ScriptMap::parse(item) else { continue };
            let Some(version) = aspnet_version(map.executable) else { continue };
            if id == "/lm/w3svc" {
                root_maps_aspnet = true;
            }
            if version > OWN_VERSION || map.executable.eq_ignore_ascii_case(isapi) {
                continue;
            }
            let new = format!("{},{isapi},{}", map.extension, map.rest);
            mb.replace_list_item(&id, name, index, &new)?;
            rewritten += 1;
        }
        if rewritten > 0 {
            changes.push(format!(
                "{name} of {location}: {rewritten} ASP.NET mapping{} -> \"{isapi}\"",
                if rewritten == 1 { "" } else { "s" }
            ));
        }
    }
    if !root_maps_aspnet {
        let w3svc = KeyPath::below_lm(&["W3SVC"]);
        if mb.doc.key(&w3svc.id()).is_none() {
            return Err(no_web_service(mb, "there are no script maps to install at the root"));
        }
        for (extension, flags) in unverified::ROOT_SCRIPT_MAPS {
            let map = format!("{extension},{isapi},{flags},{}", unverified::VERBS);
            mb.push_list_item(&w3svc, name, &map)?;
        }
        changes.push(format!(
            "{name} of /LM/W3SVC: mapped {} extensions to \"{isapi}\"",
            unverified::ROOT_SCRIPT_MAPS.len()
        ));
    }
    Ok(())
}

/// One ScriptMaps item: `extension,executable,flags[,verbs]`.
struct ScriptMap<'a> {
    extension: &'a str,
    executable: &'a str,
    /// The flags and verbs, as written.
    rest: &'a str,
}

impl ScriptMap<'_> {
    fn parse(item: &str) -> Option<ScriptMap<'_>> {
        let (extension, tail) = item.split_once(',')?;
        let (executable, rest) = tail.split_once(',')?;
        Some(ScriptMap { extension, executable, rest })
    }
}

/// The ASP.NET version of `...\Microsoft.NET\Framework[64]\vA.B.C\aspnet_isapi.dll`.
fn aspnet_version(executable: &str) -> Option<[u32; 3]> {
    let mut parts = executable.rsplit(['\\', '/']);
    let file = parts.next()?;
    let version = parts.next()?.strip_prefix(['v', 'V'])?;
    if !file.eq_ignore_ascii_case("aspnet_isapi.dll") {
        return None;
    }
    let numbers: Vec<u32> = version.split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
    let [major, minor, build] = numbers[..] else { return None };
    Some([major, minor, build])
}

fn no_web_service(mb: &Metabase, why: &str) -> MetabaseError {
    MetabaseError::new(
        MetabaseErrorKind::Refused,
        &mb.origin,
        None,
        format!("key /LM/W3SVC does not exist, so {why}"),
        "add the IIsWebService key (Location =\"/LM/W3SVC\")",
    )
}

/// `-i` lists ASP.NET in the Web Service Extension list (prohibited, when it was not listed);
/// `-enable` allows it.
fn list_extension(
    mb: &mut Metabase,
    framework_dir: &str,
    enable: bool,
    changes: &mut Vec<String>,
) -> Result<(), MetabaseError> {
    let w3svc = KeyPath::below_lm(&["W3SVC"]);
    if mb.doc.key(&w3svc.id()).is_none() {
        return Err(no_web_service(mb, "there is no Web Service Extension list to change"));
    }
    let name = "WebSvcExtRestrictionList";
    let current = mb
        .doc
        .property(&w3svc.id(), name)
        .map(|prop| mb.raw_items(prop))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .find(|(_, (_, item))| unverified::is_aspnet_extension(item));
    let allowed = unverified::allowed_extension(framework_dir);
    let wanted = match &current {
        // Without -enable an entry keeps its allowed flag; only its folder follows the tool.
        Some((_, (_, item))) if !enable && item.starts_with('0') => {
            unverified::listed_extension(framework_dir)
        }
        None if !enable => unverified::listed_extension(framework_dir),
        _ => allowed,
    };
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

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_aspnet_version_of_a_script_map() {
        let version = super::aspnet_version;
        assert_eq!(
            version(r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll"),
            Some([2, 0, 50727])
        );
        assert_eq!(
            version(r"C:\WINDOWS\Microsoft.NET\Framework\v1.1.4322\ASPNET_ISAPI.DLL"),
            Some([1, 1, 4322])
        );
        assert_eq!(version(r"d:\WINDOWS\system32\inetsrv\asp.dll"), None);
        assert_eq!(version("aspnet_isapi.dll"), None);
    }
}
