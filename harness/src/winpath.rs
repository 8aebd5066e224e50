//! Absolute Windows paths as the metabase and the user write them (`d:\WINDOWS\...`).

use std::fmt;

use anyhow::bail;

/// An absolute, drive-qualified Windows path. Comparison ignores case, as Windows does.
#[derive(Debug, Clone)]
pub struct WinPath {
    drive: char,
    /// The components after the drive root, as written.
    components: Vec<String>,
    original: String,
}

/// A hint for `C:Inetpub...`: a drive letter, a colon and then a name is what a shell leaves of
/// an unquoted `C:\Inetpub\...`, as bash and sh read a backslash as an escape. (To Windows,
/// `C:file.dll` is relative to drive C:'s current folder, which no IIS configuration relies on.)
fn eaten_backslashes_hint(text: &str) -> &'static str {
    let mut chars = text.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(drive), Some(':'), Some(next))
            if drive.is_ascii_alphabetic() && next != '\\' && next != '/' =>
        {
            "; its backslashes look eaten by the shell: quote it in single quotes (`'C:\\Inetpub\\filter.dll'`)"
        }
        _ => "",
    }
}

impl WinPath {
    pub fn parse(text: &str) -> anyhow::Result<WinPath> {
        let trimmed = text.trim();
        let mut chars = trimmed.chars();
        let (Some(drive), Some(':'), Some('\\' | '/')) = (chars.next(), chars.next(), chars.next())
        else {
            bail!(
                "`{text}` is not an absolute Windows path; write it as `C:\\folder\\file.dll`{}",
                eaten_backslashes_hint(trimmed)
            );
        };
        if !drive.is_ascii_alphabetic() {
            bail!("`{text}` does not start with a drive letter");
        }
        let components: Vec<String> = chars
            .as_str()
            .split(['\\', '/'])
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if components.is_empty() {
            bail!("`{text}` names a drive, not a file");
        }
        for component in &components {
            if component == "." || component == ".." {
                bail!("`{text}` contains `{component}`; write the path without it");
            }
            if component.contains(['<', '>', ':', '"', '|', '?', '*', '\0']) {
                bail!("`{text}` contains a character Windows does not allow in a file name");
            }
        }
        Ok(WinPath { drive: drive.to_ascii_uppercase(), components, original: trimmed.to_owned() })
    }

    /// The drive letter, upper case.
    pub fn drive(&self) -> char {
        self.drive
    }

    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The path as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The path of `name` in the same folder, where a DLL's own dependencies are looked for first.
    /// Whether both paths name files in the same folder (Windows ignores case).
    pub fn same_folder(&self, other: &WinPath) -> bool {
        let folder = |path: &WinPath| {
            let (_, folders) = path.components.split_last()?;
            Some((path.drive(), folders.iter().map(|c| c.to_lowercase()).collect::<Vec<_>>()))
        };
        folder(self).is_some() && folder(self) == folder(other)
    }

    pub fn sibling(&self, name: &str) -> Option<WinPath> {
        let (_, folders) = self.components.split_last()?;
        let mut components = folders.to_vec();
        components.push(name.to_owned());
        // The drive letter as written, so the sibling reads like the path it came from.
        let drive = self.original.chars().next()?;
        WinPath::parse(&format!("{drive}:\\{}", components.join("\\"))).ok()
    }

    /// The folder the path is in; None for a file at a drive's root.
    pub fn parent(&self) -> Option<WinPath> {
        let (_, folders) = self.components.split_last()?;
        if folders.is_empty() {
            return None;
        }
        let drive = self.original.chars().next()?;
        WinPath::parse(&format!("{drive}:\\{}", folders.join("\\"))).ok()
    }

    /// The path of `name` inside this folder. `name` is one component (a DLL name as an import
    /// table gives it); one that is no valid component leaves the path as it is.
    pub fn child(&self, name: &str) -> WinPath {
        let drive = self.original.chars().next().unwrap_or(self.drive);
        WinPath::parse(&format!("{drive}:\\{}\\{name}", self.components.join("\\")))
            .unwrap_or_else(|_| self.clone())
    }

    /// A case-folded form, for comparisons and as a map key.
    pub fn key(&self) -> String {
        format!("{}:\\{}", self.drive, self.components.join("\\")).to_lowercase()
    }
}

impl PartialEq for WinPath {
    fn eq(&self, other: &WinPath) -> bool {
        self.key() == other.key()
    }
}

impl Eq for WinPath {}

impl std::hash::Hash for WinPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for WinPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::WinPath;

    #[test]
    fn parses_and_compares_without_case() {
        let a = WinPath::parse(r"d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll")
            .unwrap();
        let b = WinPath::parse("D:/windows/microsoft.net/framework/v2.0.50727/ASPNET_FILTER.DLL")
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.drive(), 'D');
        assert_eq!(a.components().len(), 5);
        assert_eq!(a.as_str(), r"d:\WINDOWS\Microsoft.NET\Framework\v2.0.50727\aspnet_filter.dll");
    }

    #[test]
    fn a_sibling_shares_the_folder() {
        let filter = WinPath::parse(r"d:\Filters\x86\filter.dll").unwrap();
        assert_eq!(filter.sibling("msvcr71.dll").unwrap().as_str(), r"d:\Filters\x86\msvcr71.dll");
    }

    #[test]
    fn refuses_what_is_not_an_absolute_file_path() {
        for bad in [
            "aspnet_filter.dll",
            r"\WINDOWS\x.dll",
            "C:",
            r"C:\",
            r"C:\a\..\b.dll",
            r"1:\x.dll",
            r"C:\a?.dll",
        ] {
            assert!(WinPath::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    /// What bash leaves of an unquoted `C:\Inetpub\wwwroot\f.dll` gets a hint to quote it;
    /// a path that was never Windows-shaped does not.
    #[test]
    fn a_path_whose_backslashes_the_shell_ate_gets_a_hint_to_quote_it() {
        let error = WinPath::parse("C:Inetpubwwwrootf.dll").unwrap_err().to_string();
        assert!(
            error.contains("`C:Inetpubwwwrootf.dll` is not an absolute Windows path"),
            "{error}"
        );
        assert!(error.contains("eaten by the shell: quote it"), "{error}");
        let error = WinPath::parse("aspnet_filter.dll").unwrap_err().to_string();
        assert!(!error.contains("shell"), "{error}");
    }
}
