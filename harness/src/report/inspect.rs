//! What `inspect` says about an image, in words and as `--json`: one fact a line (DLL or EXE,
//! every ISAPI role its exports show with their entry points, the DLLs it imports), and last
//! a prediction of the processes that would load it, labelled as a prediction.

use crate::arch::Bits;
use crate::pe::{self, ExportStatus, ImageInfo, RoleExports};

/// `inspect --json`: the ImageInfo object with the file as given first, the ISAPI roles its
/// exports show, and the labelled prediction last.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct InspectReport<'a> {
    /// The file as it was given on the command line.
    file: &'a str,
    #[serde(flatten)]
    info: &'a ImageInfo,
    /// Every ISAPI role the exports show, with its entry points.
    isapi_roles: Vec<RoleExports>,
    /// Which processes would accept the image, from its headers alone: a prediction, not a load.
    predicted_from_headers: pe::Prediction,
}

pub fn report<'a>(file: &'a str, info: &'a ImageInfo) -> InspectReport<'a> {
    InspectReport {
        file,
        info,
        isapi_roles: pe::isapi_roles(&info.exports),
        predicted_from_headers: info.predict(),
    }
}

fn line(out: &mut String, label: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("{:<15}{value}\n", format!("{label}:")));
}

/// The image one fact a line, the labelled prediction last.
pub fn text(file: &str, info: &ImageInfo) -> String {
    let mut out = String::new();
    line(&mut out, "file", file);
    let prediction = info.predict();
    let loads_in = format!(
        "predicted from headers: {}, because {}",
        prediction.processes(),
        prediction.reason
    );

    let (true, Some(machine), Some(code)) = (info.pe, info.machine, info.machine_code) else {
        let why = info.problem.as_deref().unwrap_or("no PE signature");
        line(&mut out, "format", format_args!("not a PE image ({why})"));
        line(&mut out, "loads in", loads_in);
        return out;
    };

    let format = match info.bits {
        Some(Bits::B32) => "PE32 (32-bit)".to_owned(),
        Some(Bits::B64) => "PE32+ (64-bit)".to_owned(),
        _ => "PE, with an optional header that is neither PE32 nor PE32+".to_owned(),
    };
    line(&mut out, "format", format);
    let disagreement = match (info.magic_matches_machine, info.bits) {
        (Some(false), Some(bits)) => format!(
            ", which disagrees with the {} optional header",
            if bits == Bits::B64 { "PE32+" } else { "PE32" }
        ),
        _ => String::new(),
    };
    line(&mut out, "machine", format_args!("{machine} (0x{code:04x}){disagreement}"));
    line(
        &mut out,
        "code",
        match info.has_code {
            Some(true) => "yes",
            Some(false) => "no (SizeOfCode 0, no entry point, no executable section)",
            None => "unknown (headers unreadable)",
        },
    );
    line(
        &mut out,
        "kind",
        match info.is_dll {
            Some(true) => "DLL",
            Some(false) => "EXE (IMAGE_FILE_DLL is not set)",
            None => "unknown",
        },
    );
    line(&mut out, ".NET", clr_text(info.clr));
    if info.has_code.is_some() {
        let roles = pe::isapi_roles(&info.exports);
        if roles.is_empty() {
            line(
                &mut out,
                "ISAPI",
                "no ISAPI entry points (a filter needs GetFilterVersion and HttpFilterProc, \
                 an extension GetExtensionVersion and HttpExtensionProc, an IIS 7+ native module \
                 RegisterModule: GetProcAddress fails with Win32 error 127)",
            );
        }
        for role in &roles {
            line(&mut out, role.role.label(), role_text(role));
        }
        let imports =
            if info.imports.is_empty() { "none".to_owned() } else { info.imports.join(", ") };
        line(&mut out, "imports", imports);
    }
    if let Some(problem) = &info.problem {
        line(&mut out, "problem", problem);
    }
    line(&mut out, "loads in", loads_in);
    out
}

fn clr_text(clr: Option<pe::ClrInfo>) -> String {
    let Some(clr) = clr else {
        return "no".to_owned();
    };
    let mut parts = vec![if clr.il_only { "IL-only" } else { "mixed-mode (not IL-only)" }];
    if clr.requires_32bit {
        parts.push("32BITREQUIRED");
    }
    if clr.prefers_32bit {
        parts.push("32BITPREFERRED");
    }
    if clr.native_entry_point {
        parts.push("NATIVE_ENTRYPOINT");
    }
    format!(
        "{}, runtime {}.{}",
        parts.join(", "),
        clr.major_runtime_version,
        clr.minor_runtime_version
    )
}

/// A role's entry points, each with how it is exported.
fn role_text(role: &RoleExports) -> String {
    let each: Vec<String> = role
        .entry_points
        .iter()
        .map(|entry| export_text(entry.name, entry.required, &entry.status))
        .collect();
    each.join(", ")
}

fn export_text(name: &str, required: bool, status: &ExportStatus) -> String {
    match status {
        ExportStatus::Present => format!("{name} ok"),
        ExportStatus::Decorated(exported) => {
            let why = if exported.starts_with('?') {
                "C++ name mangling; declare it extern \"C\" and"
            } else if exported.contains('@') {
                "x86 stdcall decoration;"
            } else {
                "a leading underscore;"
            };
            format!("{name} missing (exported as {exported}: {why} link with a .def file)")
        }
        ExportStatus::Missing if required => {
            format!("{name} missing (IIS needs it: GetProcAddress fails with Win32 error 127)")
        }
        ExportStatus::Missing => format!("{name} not exported (optional)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::test_image::{MACHINE_I386, MAGIC_PE32_PLUS, TestImage};

    fn text(bytes: &[u8]) -> String {
        super::text(r"C:\WINDOWS\filter.dll", &pe::inspect_bytes(bytes))
    }

    #[test]
    fn a_good_x86_filter_reads_one_fact_a_line() {
        assert_eq!(
            text(&TestImage::x86().isapi_filter().build()),
            concat!(
                "file:          C:\\WINDOWS\\filter.dll\n",
                "format:        PE32 (32-bit)\n",
                "machine:       x86 (0x014c)\n",
                "code:          yes\n",
                "kind:          DLL\n",
                ".NET:          no\n",
                "filter:        GetFilterVersion ok, HttpFilterProc ok, TerminateFilter ok\n",
                "imports:       none\n",
                "loads in:      predicted from headers: 32-bit processes only, because a native x86 image with code needs a 32-bit process\n",
            )
        );
    }

    #[test]
    fn decorated_and_missing_exports_say_what_to_do() {
        let out = text(
            &TestImage::x86()
                .with_exports(&["GetFilterVersion@4", "?HttpFilterProc@@YGKPAUX@@KPAX@Z"])
                .build(),
        );
        assert!(
            out.contains(
                "filter:        GetFilterVersion missing (exported as GetFilterVersion@4: x86 stdcall decoration; link with a .def file), \
                 HttpFilterProc missing (exported as ?HttpFilterProc@@YGKPAUX@@KPAX@Z: C++ name mangling; declare it extern \"C\" and link with a .def file), \
                 TerminateFilter not exported (optional)\n"
            ),
            "{out}"
        );
        let none = text(&TestImage::amd64().build());
        assert!(
            none.contains(
                "ISAPI:         no ISAPI entry points (a filter needs GetFilterVersion and HttpFilterProc, \
                 an extension GetExtensionVersion and HttpExtensionProc, an IIS 7+ native module \
                 RegisterModule: GetProcAddress fails with Win32 error 127)\n"
            ),
            "{none}"
        );
        let one = text(&TestImage::amd64().with_exports(&["GetFilterVersion"]).build());
        assert!(
            one.contains(
                "filter:        GetFilterVersion ok, HttpFilterProc missing (IIS needs it: \
                 GetProcAddress fails with Win32 error 127), TerminateFilter not exported (optional)\n"
            ),
            "{one}"
        );
    }

    /// One DLL that is a filter, an extension and a native module shows each role, in that
    /// order, with its own entry points; an EXE says so.
    #[test]
    fn every_role_shows_with_its_entry_points() {
        let all = text(
            &TestImage::amd64()
                .with_exports(&[
                    "GetExtensionVersion",
                    "GetFilterVersion",
                    "HttpExtensionProc",
                    "HttpFilterProc",
                    "RegisterModule",
                ])
                .build(),
        );
        assert!(
            all.contains(concat!(
                "filter:        GetFilterVersion ok, HttpFilterProc ok, TerminateFilter not exported (optional)\n",
                "extension:     GetExtensionVersion ok, HttpExtensionProc ok, TerminateExtension not exported (optional)\n",
                "native module: RegisterModule ok\n",
                "imports:       none\n",
            )),
            "{all}"
        );
        let mut exe = TestImage::amd64().isapi_filter().build();
        // IMAGE_FILE_DLL (0x2000) in the file header's Characteristics, 22 bytes after "PE\0\0".
        let pe = u32::from_le_bytes(exe[0x3c..0x40].try_into().unwrap()) as usize;
        exe[pe + 23] &= !0x20;
        let exe = text(&exe);
        assert!(exe.contains("kind:          EXE (IMAGE_FILE_DLL is not set)\n"), "{exe}");
    }

    #[test]
    fn odd_images_name_their_oddity() {
        let il_only = text(&TestImage::x86().with_cor(0x3, 2, 5).build());
        assert!(
            il_only.contains(".NET:          IL-only, 32BITREQUIRED, runtime 2.5\n"),
            "{il_only}"
        );

        let mismatch = text(&TestImage::new(MACHINE_I386, MAGIC_PE32_PLUS, &[0xc3]).build());
        assert!(mismatch.contains("format:        PE32+ (64-bit)\n"), "{mismatch}");
        assert!(
            mismatch.contains(
                "machine:       x86 (0x014c), which disagrees with the PE32+ optional header\n"
            ),
            "{mismatch}"
        );
        assert!(
            mismatch.contains("loads in:      predicted from headers: neither 32- nor 64-bit processes (Win32 error 193), because the machine and"),
            "{mismatch}"
        );

        let no_code = text(&TestImage::x86().without_code().build());
        assert!(no_code.contains("code:          no (SizeOfCode 0"), "{no_code}");
        assert!(no_code.contains("predicted from headers: 32- and 64-bit processes"), "{no_code}");
    }

    #[test]
    fn a_text_file_is_not_a_pe_image() {
        assert_eq!(
            text(b"This is not a DLL.\r\n"),
            concat!(
                "file:          C:\\WINDOWS\\filter.dll\n",
                "format:        not a PE image (no MZ signature: it looks like a text file (\"This is not a DLL.\"))\n",
                "loads in:      predicted from headers: neither 32- nor 64-bit processes (Win32 error 193), because it is not a PE image\n",
            )
        );
    }

    #[test]
    fn a_truncated_image_shows_what_it_could_read() {
        let bytes = TestImage::x86().isapi_filter().build();
        let out = text(&bytes[..100]);
        assert!(out.contains("machine:       x86 (0x014c)\n"), "{out}");
        assert!(out.contains("code:          unknown (headers unreadable)\n"), "{out}");
        assert!(!out.contains("exports:"), "{out}");
        assert!(
            out.contains(
                "problem:       truncated at byte 100: the optional header at 0x58 needs 96 bytes\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn json_adds_the_file_and_the_labelled_prediction() {
        let info = pe::inspect_bytes(&TestImage::amd64().isapi_filter().build());
        let json = serde_json::to_value(report("filter.dll", &info)).expect("serialises");
        assert_eq!(json["file"], "filter.dll");
        assert_eq!(json["pe"], true);
        assert_eq!(json["machine"], "amd64");
        assert_eq!(json["bits"], 64);
        assert_eq!(json["has_code"], true);
        assert_eq!(json["predicted_from_headers"]["loads_in_32bit"], false);
        assert_eq!(json["predicted_from_headers"]["loads_in_64bit"], true);
    }
}
