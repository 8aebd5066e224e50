//! The simulated machine's environment variables, which applicationHost.config paths name
//! (`%windir%\System32\inetsrv\isapi.dll`, `%IIS_BIN%\iisres.dll`). They are expanded with the
//! values of the machine being modelled, never with those of the computer the harness runs on.
//!
//! The machine: Windows in `C:\Windows` (the folder Wine redirects for 32-bit processes, so
//! WOW64 file-system redirection happens for real), programs in `C:\Program Files`.
//! As on Windows, the process that expands a path decides some values: a 32-bit process on
//! 64-bit Windows sees `ProgramFiles` as `C:\Program Files (x86)` ("WOW64 Implementation
//! Details", Microsoft Learn: environment variables of a 32-bit process), which is how one
//! `%ProgramFiles%\...` module path in applicationHost.config reaches both builds of a module.
//! IIS Express sets `IIS_BIN` to the folder of the iisexpress.exe that runs and `IIS_USER_HOME`
//! to the user's `Documents\IISExpress` (the paths Visual Studio's IIS Express files use);
//! the user is `IISUser`, a name of the harness's choosing.
//!
//! A name the machine does not have is left as written, `%NAME%` and all, which is what
//! `ExpandEnvironmentStrings` does; such a path is then not an absolute path, and the model says
//! so rather than hand it to a loader.

use crate::arch::{Arch, Bits, Os};
use crate::winpath::WinPath;

/// The simulated machine's Windows folder.
pub const WINDIR: &str = r"C:\Windows";
/// The user IIS Express runs as on the simulated machine.
const USER_PROFILE: &str = r"C:\Users\IISUser";

/// The environment one process of the simulated machine sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Environment {
    pub os: Os,
    /// The bitness of the process that expands the path.
    pub bits: Bits,
}

impl Environment {
    /// The value of `name` (case-insensitive, as Windows compares variable names).
    pub fn value(&self, name: &str) -> Option<String> {
        let wow64 = self.os == Os::X64 && self.bits == Bits::B32;
        let program_files_native = r"C:\Program Files";
        let program_files_x86 =
            if self.os == Os::X64 { r"C:\Program Files (x86)" } else { program_files_native };
        let program_files = if wow64 { program_files_x86 } else { program_files_native };
        let value = match name.to_ascii_lowercase().as_str() {
            "windir" | "systemroot" => WINDIR.to_owned(),
            "systemdrive" => "C:".to_owned(),
            "programfiles" => program_files.to_owned(),
            "programfiles(x86)" if self.os == Os::X64 => program_files_x86.to_owned(),
            "programw6432" if self.os == Os::X64 => program_files_native.to_owned(),
            "commonprogramfiles" => format!(r"{program_files}\Common Files"),
            "programdata" | "allusersprofile" => r"C:\ProgramData".to_owned(),
            "public" => r"C:\Users\Public".to_owned(),
            "userprofile" => USER_PROFILE.to_owned(),
            "temp" | "tmp" => format!(r"{USER_PROFILE}\AppData\Local\Temp"),
            "iis_bin" => format!(r"{program_files}\IIS Express"),
            "iis_user_home" => format!(r"{USER_PROFILE}\Documents\IISExpress"),
            "iis_sites_home" => format!(r"{USER_PROFILE}\Documents\My Web Sites"),
            _ => return None,
        };
        Some(value)
    }

    /// Expands every `%NAME%` the machine has; leaves the others as written.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('%') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('%') {
                Some(close) => match self.value(&after[..close]) {
                    Some(value) => {
                        out.push_str(&value);
                        rest = &after[close + 1..];
                    }
                    None => {
                        // The closing `%` may open the next variable, as for Windows.
                        out.push('%');
                        out.push_str(&after[..close]);
                        rest = &after[close..];
                    }
                },
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The standard folders a real IIS 7+ server holds its modules in, with the architecture of the
/// build each holds (iis-facts §6; WOW64 file-system redirection: a 32-bit process asking for
/// `%windir%\System32` gets `%windir%\SysWOW64`, "File System Redirector", Microsoft Learn).
/// `None` means the folder does not exist on that Windows.
fn standard_folder_arch(os: Os, path: &WinPath) -> Option<Arch> {
    let lower: Vec<String> = path.components().iter().map(|c| c.to_ascii_lowercase()).collect();
    let native = match os {
        Os::X64 => Arch::Amd64,
        Os::X86 => Arch::X86,
    };
    let x86_on_x64 = (os == Os::X64).then_some(Arch::X86);
    if path.drive() != 'C' {
        return None;
    }
    match lower.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["windows", "system32", "inetsrv", _, ..] => Some(native),
        ["windows", "syswow64", "inetsrv", _, ..] => x86_on_x64,
        ["windows", "microsoft.net", "framework", _, _] => Some(Arch::X86),
        ["windows", "microsoft.net", "framework64", _, _] => x86_on_x64.map(|_| Arch::Amd64),
        ["program files", "iis express" | "iis", _, ..] => Some(native),
        ["program files (x86)", "iis express" | "iis", _, ..] => x86_on_x64,
        _ => None,
    }
}

/// The architecture of the build a real server has at a global module's path, when the path is
/// in one of the standard folders (the scenario places the mock native module of it there).
/// Paths that are no module's image get nothing from here.
pub fn standard_module_arch(apphost: &super::Apphost, os: Os, path: &WinPath) -> Option<Arch> {
    let arch = standard_folder_arch(os, path)?;
    let is_module = apphost.global_modules().iter().any(|module| {
        [Bits::B32, Bits::B64].into_iter().any(|bits| {
            let expanded = WinPath::parse(&Environment { os, bits }.expand(&module.path)).ok();
            expanded.is_some_and(|expanded| {
                expanded == *path || wow64_twin(&expanded).is_some_and(|twin| twin == *path)
            })
        })
    });
    is_module.then_some(arch)
}

/// `C:\Windows\SysWOW64\...` for `C:\Windows\System32\...`: the file a 32-bit process gets.
pub fn wow64_twin(path: &WinPath) -> Option<WinPath> {
    let components = path.components();
    let [windows, system32, rest @ ..] = components else { return None };
    if !windows.eq_ignore_ascii_case("Windows")
        || !system32.eq_ignore_ascii_case("System32")
        || rest.is_empty()
    {
        return None;
    }
    WinPath::parse(&format!("{}:\\{windows}\\SysWOW64\\{}", path.drive(), rest.join("\\"))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_expand_with_the_simulated_machine_and_the_process_bitness() {
        let native = Environment { os: Os::X64, bits: Bits::B64 };
        let wow64 = Environment { os: Os::X64, bits: Bits::B32 };
        assert_eq!(
            native.expand(r"%windir%\System32\inetsrv\isapi.dll"),
            r"C:\Windows\System32\inetsrv\isapi.dll"
        );
        assert_eq!(native.expand(r"%SystemDrive%\inetpub"), r"C:\inetpub");
        assert_eq!(
            wow64.expand(r"%ProgramFiles%\IIS\Asp.Net Core Module\V2\aspnetcorev2.dll"),
            r"C:\Program Files (x86)\IIS\Asp.Net Core Module\V2\aspnetcorev2.dll"
        );
        assert_eq!(
            native.expand(r"%IIS_BIN%\iisres.dll"),
            r"C:\Program Files\IIS Express\iisres.dll"
        );
        assert_eq!(native.expand("%ANCM_PATH%"), "%ANCM_PATH%");
        assert_eq!(native.expand("100% %windir%"), r"100% C:\Windows");
        assert_eq!(native.expand("%UNKNOWN%%windir%"), r"%UNKNOWN%C:\Windows");
    }

    #[test]
    fn the_host_computer_s_environment_is_never_read() {
        // SAFETY-free check: whatever the harness's own environment holds, the simulated one
        // answers from its table.
        let env = Environment { os: Os::X64, bits: Bits::B64 };
        assert_eq!(env.value("HOME"), None);
        assert_eq!(env.value("PATH"), None);
        assert_eq!(env.value("WINDIR").as_deref(), Some(WINDIR));
    }
}
