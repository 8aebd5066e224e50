//! The questions about ISAPI extensions that a request asks of the metabase: which extension a
//! URL's file extension is mapped to (`ScriptMaps`, inherited), whether the Web Service
//! Extension list lets it run (`WebSvcExtRestrictionList`), and where an application runs in
//! IIS 5.0 isolation mode (`InProcessIsapiApps`; `AppIsolated` is read with the sites, in
//! `sites.rs`).
//!
//! Inheritance is IIS's: an inheritable property set at a key applies to every key and URL
//! below it until a key below sets it again, and a key that sets it replaces the whole value
//! (ScriptMaps lists are not merged). `ScriptMaps` carries the INHERIT attribute in the IIS 6.0
//! metabase reference, like `AppIsolated` (cc783874); a URL whose folder has no key of its own
//! takes the values of the nearest key above it.

use super::path::{fold, parent_id};
use super::{Metabase, schema};

/// One ScriptMaps entry that a request's extension matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptMapping {
    /// The file extension as written (`.aspx`), or `*` for a wildcard application map.
    pub extension: String,
    /// The program that handles it: an ISAPI extension (a DLL) or a CGI program (an EXE),
    /// its path with any quotes and a CGI interpreter's arguments taken off.
    pub executable: String,
    /// The script-map flags (1: a script, allowed with Scripts permission; 4: check that the
    /// file exists), when written as a number.
    pub flags: Option<u32>,
    /// The verbs the map is limited to; empty means all verbs.
    pub verbs: Vec<String>,
    /// The `Location` of the key the list was set at, as written.
    pub set_at: String,
    /// The 1-based line of the ScriptMaps property.
    pub line: usize,
}

impl ScriptMapping {
    /// A map to a CGI program, which IIS starts as a process of its own for each request
    /// rather than loading it into the worker: an application mapping names "the ISAPI or CGI
    /// program" that processes the file ("Setting Application Mappings", IIS 5.0 help), and
    /// an `.exe` is run as a CGI while a `.dll` is loaded as an ISAPI extension (IIS 7's
    /// "Add or Edit Script Map Dialog Box", cc742394, says so of the same script maps).
    pub fn is_cgi(&self) -> bool {
        fold(&self.executable).ends_with(".exe")
    }
}

/// The program of a ScriptMaps (or Web Service Extension) field. A path in quotes ends at
/// the closing quote; otherwise at the first `.dll` or `.exe` that ends a word, since a path
/// may hold spaces (`C:\Program Files\...`) and a CGI interpreter's arguments follow it
/// (`C:\Perl\bin\perl.exe "%s" %s`).
fn program_of(field: &str) -> String {
    let field = field.trim();
    if let Some(quoted) = field.strip_prefix('"')
        && let Some(close) = quoted.find('"')
    {
        return quoted[..close].to_owned();
    }
    let lower = field.to_ascii_lowercase();
    let ends_program = |at: usize| {
        let after = at + ".dll".len();
        (lower[at..].starts_with(".dll") || lower[at..].starts_with(".exe"))
            && lower[after..].chars().next().is_none_or(|c| c.is_whitespace() || c == '"')
    };
    match (0..lower.len()).filter(|&at| lower.is_char_boundary(at)).find(|&at| ends_program(at)) {
        Some(at) => field[..at + ".dll".len()].to_owned(),
        None => field.to_owned(),
    }
}

/// The entries of one ScriptMaps list, set at the key whose `Location` is `set_at`.
fn mappings(set_at: &str, prop: &super::parse::Prop) -> Vec<ScriptMapping> {
    schema::list_items(&prop.value)
        .iter()
        .filter_map(|item| {
            let mut fields = item.split(',');
            let extension = fields.next()?.trim().to_owned();
            let executable = program_of(fields.next()?);
            let flags = fields.next().and_then(schema::parse_u32);
            let verbs = fields.map(|verb| verb.trim().to_owned()).collect();
            Some(ScriptMapping {
                extension,
                executable,
                flags,
                verbs,
                set_at: set_at.to_owned(),
                line: prop.line,
            })
        })
        .collect()
}

/// What the Web Service Extension list says about one executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restriction {
    /// Listed and allowed (`1,<path>,...`), or not listed while `1,*.dll` allows the unknown.
    Allowed { entry: String },
    /// Listed and prohibited, or not listed while `0,*.dll` prohibits the unknown.
    Prohibited { entry: String },
    /// No `WebSvcExtRestrictionList` at `/LM/W3SVC`: nothing is locked down.
    NoList,
}

impl Restriction {
    pub fn allows(&self) -> bool {
        !matches!(self, Restriction::Prohibited { .. })
    }
}

impl Metabase {
    /// The ScriptMaps entry that handles a request at the metabase key `key_id`
    /// (`/LM/W3SVC/1/ROOT/app`, any case; the key need not exist) for a file with
    /// `file_extension` (with its dot, `.aspx`; None for a URL whose last segment has none):
    /// the list of the nearest key at or above it that sets ScriptMaps, up to `/LM/W3SVC`.
    /// A wildcard application map (`*`) takes every request first, whatever its extension
    /// (the ScriptMaps reference, ms526052, has `*` route all requests through its DLL; IIS
    /// 6.0's wildcard maps intercept every incoming request, ms525529); handing the request
    /// on with HSE_REQ_EXEC_URL is then that DLL's own choice.
    pub fn script_map_for(
        &self,
        key_id: &str,
        file_extension: Option<&str>,
    ) -> Option<ScriptMapping> {
        let (key, prop) = self.inherited_property(key_id, "ScriptMaps")?;
        let maps = mappings(&key, prop);
        let wanted = file_extension.map(fold);
        maps.iter()
            .find(|map| map.extension == "*")
            .or_else(|| maps.iter().find(|map| Some(fold(&map.extension)) == wanted))
            .cloned()
    }

    /// Every entry of every ScriptMaps list, at whatever key it is set, in document order:
    /// each program some URL may reach, which is what a copy of the server must carry.
    pub fn every_script_mapping(&self) -> Vec<ScriptMapping> {
        self.doc
            .keys
            .iter()
            .filter_map(|key| Some(mappings(&key.location, key.property("ScriptMaps")?)))
            .flatten()
            .collect()
    }

    /// What `WebSvcExtRestrictionList` at `/LM/W3SVC` says about running `executable`: its own
    /// entry (paths compared without regard to case), else the `*.dll` entry for unknown ISAPI
    /// extensions. IIS checks this list before it loads an extension, and a prohibited one
    /// answers 404.2 (TechNet cc759233, "What is a Web service extension").
    pub fn web_service_extension(&self, executable: &str) -> Restriction {
        let Some(list) = self.doc.property("/lm/w3svc", "WebSvcExtRestrictionList") else {
            return Restriction::NoList;
        };
        let entries = schema::list_items(&list.value);
        // An entry names the program as a script map does, a CGI's arguments included.
        let path_of = |entry: &str| entry.split(',').nth(1).map(|path| fold(&program_of(path)));
        let verdict = |entry: &String| match entry.trim_start().starts_with('1') {
            true => Restriction::Allowed { entry: entry.clone() },
            false => Restriction::Prohibited { entry: entry.clone() },
        };
        let wanted = fold(executable);
        if let Some(entry) = entries.iter().find(|entry| path_of(entry).as_deref() == Some(&wanted))
        {
            return verdict(entry);
        }
        // Only ISAPI extensions (DLLs) fall under `*.dll`; CGIs fall under `*.exe`.
        let wildcard = if wanted.ends_with(".exe") { "*.exe" } else { "*.dll" };
        match entries.iter().find(|entry| path_of(entry).as_deref() == Some(wildcard)) {
            Some(entry) => verdict(entry),
            // An unknown extension with no wildcard entry: IIS 6.0 writes both wildcards on
            // install; a list without them is taken to prohibit the unknown, as the lockdown
            // is meant to (a decision, no source says).
            None => Restriction::Prohibited { entry: format!("(no {wildcard} entry)") },
        }
    }

    /// Whether `executable` is listed in `InProcessIsapiApps` at `/LM/W3SVC`: IIS 5.0
    /// isolation mode runs it inside inetinfo.exe whatever the application's protection.
    pub fn in_process_isapi_app(&self, executable: &str) -> bool {
        self.doc.property("/lm/w3svc", "InProcessIsapiApps").is_some_and(|prop| {
            schema::list_items(&prop.value).iter().any(|item| fold(item) == fold(executable))
        })
    }

    /// The nearest key at or above `key_id` that sets `name` (the key need not exist): its
    /// `Location` as written and the property. The one reading of metabase inheritance.
    pub(crate) fn inherited_property(
        &self,
        key_id: &str,
        name: &str,
    ) -> Option<(String, &super::parse::Prop)> {
        let mut id = fold(key_id.trim_end_matches('/'));
        loop {
            if let Some(key) = self.doc.key(&id)
                && let Some(prop) = key.property(name)
            {
                return Some((key.location.clone(), prop));
            }
            id = parent_id(&id)?.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn metabase(keys: &str) -> Metabase {
        let text = format!(
            "<?xml version =\"1.0\"?>\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\n<MBProperty>\n{keys}</MBProperty>\n</configuration>\n"
        );
        Metabase::parse(&text, Path::new("script-maps.xml")).unwrap()
    }

    fn seed() -> Metabase {
        Metabase::parse(super::super::SEED_METABASE, Path::new("seed.xml")).unwrap()
    }

    #[test]
    fn the_seed_maps_aspx_at_the_root_to_the_64_bit_extension() {
        let seed = seed();
        let map = seed.script_map_for("/LM/W3SVC/1/ROOT/some/folder", Some(".ASPX")).unwrap();
        assert_eq!(
            map.executable,
            r"d:\WINDOWS\Microsoft.NET\Framework64\v2.0.50727\aspnet_isapi.dll"
        );
        assert_eq!((map.flags, map.set_at.as_str()), (Some(1), "/LM/W3SVC"));
        assert_eq!(map.verbs, ["GET", "HEAD", "POST", "DEBUG"]);
        assert_eq!(seed.script_map_for("/LM/W3SVC/1/ROOT", Some(".htm")), None);
        assert_eq!(seed.script_map_for("/LM/W3SVC/1/ROOT", None), None);
        assert!(seed.web_service_extension(&map.executable).allows());
        assert_eq!(
            seed.web_service_extension(r"C:\other\x.dll"),
            Restriction::Prohibited { entry: "0,*.dll".to_owned() }
        );
        assert!(seed.in_process_isapi_app(r"D:\windows\system32\inetsrv\ssinc.dll"));
        assert!(!seed.in_process_isapi_app(&map.executable));
    }

    #[test]
    fn a_key_that_sets_script_maps_replaces_the_whole_list_below_it() {
        let mb = metabase(concat!(
            "<IIsWebService Location=\"/LM/W3SVC\"\n\t\tScriptMaps=\".aspx,C:\\root.dll,1\n\t\t.asp,C:\\asp.dll,5\"\n\t\tWebSvcExtRestrictionList=\"1,*.dll\n\t\t0,C:\\banned.dll,0,Banned,Banned\"\n\t>\n</IIsWebService>\n",
            "<IIsWebVirtualDir Location=\"/LM/W3SVC/1/ROOT/app\"\n\t\tScriptMaps=\".aspx,C:\\app.dll,1\n\t\t*,C:\\wildcard.dll,0\"\n\t>\n</IIsWebVirtualDir>\n",
        ));
        let at = |key: &str, ext: &str| {
            let ext = (!ext.is_empty()).then_some(ext);
            mb.script_map_for(key, ext).map(|map| map.executable)
        };
        assert_eq!(at("/LM/W3SVC/1/ROOT", ".aspx").as_deref(), Some(r"C:\root.dll"));
        assert_eq!(
            at("/LM/W3SVC/1/ROOT/app", ".asp").as_deref(),
            Some(r"C:\wildcard.dll"),
            "the app's list replaced the root's .asp; its wildcard answers"
        );
        assert_eq!(
            at("/LM/W3SVC/1/ROOT/app/sub", ".aspx").as_deref(),
            Some(r"C:\wildcard.dll"),
            "a wildcard map takes the request before the entry for its extension"
        );
        assert_eq!(at("/LM/W3SVC/1/ROOT/app", "").as_deref(), Some(r"C:\wildcard.dll"));
        assert_eq!(at("/LM/W3SVC/1/ROOT", "").as_deref(), None, "no wildcard above the app");
        assert!(mb.web_service_extension(r"C:\unknown.dll").allows(), "1,*.dll allows the unknown");
        assert!(!mb.web_service_extension(r"c:\BANNED.dll").allows());
        assert_eq!(metabase("").web_service_extension(r"C:\x.dll"), Restriction::NoList);
    }

    #[test]
    fn a_cgi_map_names_its_program_apart_from_the_interpreter_s_arguments() {
        let mb = metabase(concat!(
            "<IIsWebService Location=\"/LM/W3SVC\"\n\t\tScriptMaps=\".pl,C:\\Perl\\bin\\perl.exe &quot;%s&quot; %s,5,GET,HEAD,POST\n",
            "\t\t.php,&quot;C:\\Program Files\\PHP\\php-cgi.exe&quot;,5\n",
            "\t\t.cfm,C:\\Program Files\\CF\\jrun.dll,5\"\n",
            "\t\tWebSvcExtRestrictionList=\"0,*.exe\n\t\t1,C:\\Perl\\bin\\perl.exe &quot;%s&quot; %s,0,Perl,Perl CGI\"\n\t>\n</IIsWebService>\n",
        ));
        let map = |ext: &str| mb.script_map_for("/LM/W3SVC/1/ROOT", Some(ext)).unwrap();
        let perl = map(".pl");
        assert_eq!(perl.executable, r"C:\Perl\bin\perl.exe", "the arguments taken off");
        assert_eq!((perl.flags, perl.verbs.len()), (Some(5), 3));
        assert!(perl.is_cgi());
        let php = map(".php");
        assert_eq!(php.executable, r"C:\Program Files\PHP\php-cgi.exe", "quotes taken off");
        assert!(php.is_cgi());
        let cfm = map(".cfm");
        assert_eq!(cfm.executable, r"C:\Program Files\CF\jrun.dll", "a path with a space");
        assert!(!cfm.is_cgi());
        assert!(mb.web_service_extension(&perl.executable).allows(), "listed with its arguments");
        assert!(!mb.web_service_extension(&php.executable).allows(), "0,*.exe");
    }
}
