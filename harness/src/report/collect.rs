//! What `collect` wrote, in words: one line per file copied, per OS file recorded and per file
//! left out with why, then a summary naming the folder, the configuration and the server.

use std::path::PathBuf;

use crate::arch::Os;
use crate::server_copy::{LeftOut, SystemFile};
use crate::windows_loader::{Redistributable, WindowsVersion};

/// A copy as written.
#[derive(Debug, Clone)]
pub struct Collected {
    pub folder: PathBuf,
    /// The server's configuration, its Windows path.
    pub config: String,
    pub windows: Option<WindowsVersion>,
    /// Why the Windows is not known, when it is not.
    pub windows_unknown: Option<String>,
    pub os: Os,
    pub installed: Vec<Redistributable>,
    pub copied: Vec<String>,
    pub system_files: Vec<SystemFile>,
    pub left_out: Vec<LeftOut>,
}

/// Every line, the summary last.
pub fn lines(collected: &Collected) -> Vec<String> {
    let mut lines = vec![format!("config    {}", collected.config)];
    lines.extend(collected.copied.iter().map(|path| format!("copied    {path}")));
    for file in &collected.system_files {
        let mut line = format!("recorded  {}", file.path);
        if let Some(version) = &file.version {
            line.push_str(&format!(" {version}"));
        }
        if let Some(machine) = &file.machine {
            line.push_str(&format!(" ({machine})"));
        }
        lines.push(line);
    }
    lines.extend(
        collected.left_out.iter().map(|out| format!("left out  {}: {}", out.path, out.why)),
    );
    if let Some(why) = &collected.windows_unknown {
        lines.push(format!(
            "note      the server's Windows is not known ({why}); a run takes the configuration's default, or give --windows"
        ));
    }
    let windows = collected.windows.map_or("Windows (not known)".to_owned(), |w| w.to_string());
    let installed = if collected.installed.is_empty() {
        "no redistributables".to_owned()
    } else {
        let names: Vec<String> = collected.installed.iter().map(ToString::to_string).collect();
        format!("installed {}", names.join(", "))
    };
    lines.push(format!(
        "collect: wrote {} ({windows}, {}, {installed}): {} files copied, {} OS files recorded, {} left out",
        collected.folder.display(),
        match collected.os {
            Os::X64 => "x64",
            Os::X86 => "x86",
        },
        collected.copied.len(),
        collected.system_files.len(),
        collected.left_out.len()
    ));
    lines
}
