//! Synthetic "odd" images for the real loader: files that no compiler here would make, written
//! byte by byte the way Wine's loader tests write theirs (`create_test_dll()` in
//! dlls/kernel32/tests/loader.c). The harness later asks real 32- and 64-bit host processes to
//! load each one; what the loader answers is the result, and the header prediction of
//! `isapi-harness inspect` is checked against it. Row numbers below are those of the table in
//! harness/src/pe/mod.rs.
//!
//! | file | what it is | row |
//! | --- | --- | --- |
//! | `x86_no_code.dll` | I386 PE32 DLL, SizeOfCode 0, no entry point, one read-only data section (a resource-only DLL) | 5: loads in 32-bit processes and, on Windows and Wine, in 64-bit ones too |
//! | `amd64_no_code.dll` | the same as AMD64 PE32+ | 3: the no-code escape is one-way; 193 in a 32-bit process |
//! | `arm64.dll` | ARM64 PE32+ DLL, an executable section holding `ret`, no entry point | 7: a same-bitness foreign machine; 193 everywhere on x86/x64 |
//! | `ia64.dll` | IA64 (Itanium) PE32+ DLL with an executable section | 7 (inferred, the Wine tests do not cover IA64) |
//! | `x86_pe32plus.dll` | I386 machine with the PE32+ optional header | 8: machine and magic disagree; 193 everywhere |
//! | `x86_il_only.dll` | I386 PE32 DLL with a COR20 header, flags ILONLY, runtime 2.5 | 6: IL-only .NET; 32-bit processes, and 64-bit ones on Windows 8+ and Wine |
//! | `text.dll` | the text "This is not a DLL.\r\n" | 10: no MZ signature; 193 |
//! | `empty.dll` | 0 bytes | 16: 193 (1006 only when loaded as a data file) |
//! | `bad_lfanew.dll` | `x86_no_code.dll` with e_lfanew = 0x98760000, past the end of the file (Wine's value) | 12: 193 |
//!
//! `truncate` makes row 15's image (a valid PE cut short) from a real built filter.
//!
//! Every image is otherwise well formed, so that it fails, or loads, for its one oddity: file
//! alignment 0x200, section alignment 0x1000, one section at RVA 0x1000, correct SizeOfImage and
//! SizeOfHeaders, DYNAMIC_BASE and NX_COMPAT set (Wine refuses non-x86 images without them,
//! which would hide the machine check), no imports and nothing to relocate.
//!
//! `x86_il_only.dll` keeps an executable `.text` section, as real IL-only assemblies do: an
//! IL-only image without code would also pass the no-code escape of row 5, and a load in a
//! 64-bit process would then prove nothing about the COR20 flags. Its metadata is an empty
//! root, which is enough for the loader's header checks but not a usable assembly.

use std::path::Path;

use anyhow::{Context, bail};

/// Writes every odd image into `out_dir`, rewriting a file only when its bytes differ, so a
/// second build does no work.
pub fn write_all(out_dir: &Path) -> anyhow::Result<()> {
    write_images(out_dir).map(|_| ())
}

/// Writes the first `len` bytes of `src` to `dst` (row 15: a valid image cut short), only when
/// `dst` does not already hold exactly those bytes.
pub fn truncate(src: &Path, dst: &Path, len: usize) -> anyhow::Result<()> {
    let bytes = std::fs::read(src).with_context(|| format!("cannot read `{}`", src.display()))?;
    let Some(head) = bytes.get(..len) else {
        bail!(
            "cannot truncate `{}` to {len} bytes: it is only {} bytes long",
            src.display(),
            bytes.len()
        );
    };
    write_if_changed(dst, head)?;
    Ok(())
}

/// Writes the images and returns how many files it actually (re)wrote.
fn write_images(out_dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create `{}`", out_dir.display()))?;
    let mut written = 0;
    for (name, bytes) in images() {
        if write_if_changed(&out_dir.join(name), &bytes)? {
            println!("build: odd image {name}");
            written += 1;
        }
    }
    Ok(written)
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(false);
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(true)
}

/// Every image, by file name.
fn images() -> Vec<(&'static str, Vec<u8>)> {
    let x86_no_code = Spec::new(MACHINE_I386, MAGIC_PE32, Section::Data(NO_CODE_DATA)).build();
    let mut bad_lfanew = x86_no_code.clone();
    put_u32(&mut bad_lfanew, E_LFANEW_AT, 0x9876_0000);
    vec![
        ("x86_no_code.dll", x86_no_code),
        (
            "amd64_no_code.dll",
            Spec::new(MACHINE_AMD64, MAGIC_PE32_PLUS, Section::Data(NO_CODE_DATA)).build(),
        ),
        ("arm64.dll", Spec::new(MACHINE_ARM64, MAGIC_PE32_PLUS, Section::Code(ARM64_RET)).build()),
        ("ia64.dll", Spec::new(MACHINE_IA64, MAGIC_PE32_PLUS, Section::Code(IA64_BUNDLE)).build()),
        (
            "x86_pe32plus.dll",
            Spec::new(MACHINE_I386, MAGIC_PE32_PLUS, Section::Code(X86_RET)).build(),
        ),
        ("x86_il_only.dll", Spec::new(MACHINE_I386, MAGIC_PE32, Section::Clr).build()),
        ("text.dll", b"This is not a DLL.\r\n".to_vec()),
        ("empty.dll", Vec::new()),
        ("bad_lfanew.dll", bad_lfanew),
    ]
}

const MACHINE_I386: u16 = 0x014c;
const MACHINE_AMD64: u16 = 0x8664;
const MACHINE_ARM64: u16 = 0xaa64;
const MACHINE_IA64: u16 = 0x0200;
const MAGIC_PE32: u16 = 0x10b;
const MAGIC_PE32_PLUS: u16 = 0x20b;

const FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
const FILE_LARGE_ADDRESS_AWARE: u16 = 0x0020;
const FILE_32BIT_MACHINE: u16 = 0x0100;
const FILE_DLL: u16 = 0x2000;
const DLL_DYNAMIC_BASE: u16 = 0x0040;
const DLL_NX_COMPAT: u16 = 0x0100;
const SUBSYSTEM_WINDOWS_GUI: u16 = 2;

const SCN_CNT_CODE: u32 = 0x0000_0020;
const SCN_CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_READ: u32 = 0x4000_0000;

const COMIMAGE_FLAGS_ILONLY: u32 = 0x1;
/// sizeof(IMAGE_COR20_HEADER).
const COR20_SIZE: usize = 72;
const DIRECTORY_ENTRY_COM_DESCRIPTOR: usize = 14;

/// Where e_lfanew sits in the DOS header.
const E_LFANEW_AT: usize = 0x3c;
/// The NT headers follow the DOS header and its stub.
const NT_OFFSET: usize = 0x80;
const FILE_HEADER_AT: usize = NT_OFFSET + 4;
const OPTIONAL_HEADER_AT: usize = FILE_HEADER_AT + 20;
const FILE_ALIGNMENT: u32 = 0x200;
const SECTION_ALIGNMENT: u32 = 0x1000;
/// The one section: first in the file after the headers, first page after them in memory.
const SECTION_FILE_OFFSET: u32 = 0x200;
const SECTION_RVA: u32 = 0x1000;
/// Image bases no system DLL uses, so that nothing has to move; the images have no
/// relocations (and need none: they hold no absolute addresses).
const IMAGE_BASE_32: u64 = 0x5e00_0000;
const IMAGE_BASE_64: u64 = 0x1_5e00_0000;

/// The usual real-mode stub: prints its message and exits (bytes from every linker since MS
/// LINK 2; only cosmetic, it makes the files look like the DLLs users know).
const DOS_STUB: &[u8] = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21\
This program cannot be run in DOS mode.\r\r\n$";

const NO_CODE_DATA: &[u8] = b"isapi-harness odd image: data only, no code\0";
/// x86 `ret`.
const X86_RET: &[u8] = &[0xc3];
/// AArch64 `ret` (0xd65f03c0).
const ARM64_RET: &[u8] = &[0xc0, 0x03, 0x5f, 0xd6];
/// One 16-byte IA64 bundle. No x86 or x64 loader maps IA64 code, so it is never executed; it
/// only gives the executable section some bytes.
const IA64_BUNDLE: &[u8] = &[
    0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x80, 0x00, 0x80, 0x00, 0x84,
];

/// What the one section holds.
#[derive(Debug, Clone, Copy)]
enum Section {
    /// `.text`: executable code; SizeOfCode and BaseOfCode describe it. Entry point stays 0
    /// (no DllMain), which the loader accepts for a DLL.
    Code(&'static [u8]),
    /// `.rdata`: read-only initialised data, no code by the loader's rule (SizeOfCode 0, no
    /// entry point, no executable section).
    Data(&'static [u8]),
    /// `.text` as a C# compiler lays it out for an IL-only AnyCPU assembly: the COR20 header
    /// (ILONLY, runtime 2.5) followed by an empty metadata root.
    Clr,
}

struct Spec {
    machine: u16,
    magic: u16,
    section: Section,
}

impl Spec {
    fn new(machine: u16, magic: u16, section: Section) -> Spec {
        Spec { machine, magic, section }
    }

    fn pe32_plus(&self) -> bool {
        self.magic == MAGIC_PE32_PLUS
    }

    fn optional_header_size(&self) -> usize {
        // 96 (PE32) or 112 (PE32+) bytes of fields, then 16 data directories of 8 bytes.
        if self.pe32_plus() { 112 + 16 * 8 } else { 96 + 16 * 8 }
    }

    fn section_header_at(&self) -> usize {
        OPTIONAL_HEADER_AT + self.optional_header_size()
    }

    fn build(&self) -> Vec<u8> {
        let contents = self.section_contents();
        let raw_size = align(contents.len(), FILE_ALIGNMENT);
        let virtual_size = contents.len() as u32;
        let size_of_image = SECTION_RVA + align(contents.len(), SECTION_ALIGNMENT);
        let is_code = !matches!(self.section, Section::Data(_));
        let mut out = vec![0u8; SECTION_FILE_OFFSET as usize];

        // DOS header: the fields every linker writes, then e_lfanew.
        out[0..2].copy_from_slice(b"MZ");
        put_u16(&mut out, 0x02, 0x90); // e_cblp
        put_u16(&mut out, 0x04, 3); // e_cp
        put_u16(&mut out, 0x08, 4); // e_cparhdr
        put_u16(&mut out, 0x0c, 0xffff); // e_maxalloc
        put_u16(&mut out, 0x10, 0xb8); // e_sp
        put_u16(&mut out, 0x18, 0x40); // e_lfarlc
        put_u32(&mut out, E_LFANEW_AT, NT_OFFSET as u32);
        out[0x40..0x40 + DOS_STUB.len()].copy_from_slice(DOS_STUB);

        out[NT_OFFSET..NT_OFFSET + 4].copy_from_slice(b"PE\0\0");

        // IMAGE_FILE_HEADER.
        let fh = FILE_HEADER_AT;
        put_u16(&mut out, fh, self.machine);
        put_u16(&mut out, fh + 2, 1); // NumberOfSections
        put_u16(&mut out, fh + 16, self.optional_header_size() as u16);
        let width = if self.pe32_plus() { FILE_LARGE_ADDRESS_AWARE } else { FILE_32BIT_MACHINE };
        put_u16(&mut out, fh + 18, FILE_EXECUTABLE_IMAGE | FILE_DLL | width);

        // IMAGE_OPTIONAL_HEADER32/64: the standard fields.
        let oh = OPTIONAL_HEADER_AT;
        put_u16(&mut out, oh, self.magic);
        out[oh + 2] = 2; // MajorLinkerVersion
        if is_code {
            put_u32(&mut out, oh + 4, raw_size); // SizeOfCode
        } else {
            put_u32(&mut out, oh + 8, raw_size); // SizeOfInitializedData
        }
        // AddressOfEntryPoint (oh + 16) stays 0: no DllMain.
        put_u32(&mut out, oh + 20, SECTION_RVA); // BaseOfCode
        // The layouts part here: PE32 has BaseOfData and a 4-byte ImageBase, PE32+ an 8-byte
        // ImageBase; both reach SectionAlignment at +32.
        if self.pe32_plus() {
            put_u64(&mut out, oh + 24, IMAGE_BASE_64);
        } else {
            put_u32(&mut out, oh + 24, SECTION_RVA); // BaseOfData
            put_u32(&mut out, oh + 28, IMAGE_BASE_32 as u32);
        }
        let nt = oh + 32;
        put_u32(&mut out, nt, SECTION_ALIGNMENT);
        put_u32(&mut out, nt + 4, FILE_ALIGNMENT);
        // OS and subsystem versions as mingw-w64 writes them: 4.0 for PE32, 5.2 for PE32+.
        let (major, minor) = if self.pe32_plus() { (5, 2) } else { (4, 0) };
        put_u16(&mut out, nt + 8, major); // MajorOperatingSystemVersion
        put_u16(&mut out, nt + 10, minor);
        put_u16(&mut out, nt + 12, 1); // MajorImageVersion
        put_u16(&mut out, nt + 16, major); // MajorSubsystemVersion
        put_u16(&mut out, nt + 18, minor);
        put_u32(&mut out, nt + 24, size_of_image);
        put_u32(&mut out, nt + 28, SECTION_FILE_OFFSET); // SizeOfHeaders
        put_u16(&mut out, nt + 36, SUBSYSTEM_WINDOWS_GUI);
        put_u16(&mut out, nt + 38, DLL_DYNAMIC_BASE | DLL_NX_COMPAT);
        // Stack and heap reserve/commit: 4 fields of 4 (PE32) or 8 (PE32+) bytes.
        let field = if self.pe32_plus() { 8 } else { 4 };
        for (i, value) in [0x10_0000u64, 0x1000, 0x10_0000, 0x1000].into_iter().enumerate() {
            let at = nt + 40 + i * field;
            if self.pe32_plus() {
                put_u64(&mut out, at, value);
            } else {
                put_u32(&mut out, at, value as u32);
            }
        }
        let loader_flags = nt + 40 + 4 * field;
        put_u32(&mut out, loader_flags + 4, 16); // NumberOfRvaAndSizes
        let directories = loader_flags + 8;
        if matches!(self.section, Section::Clr) {
            let entry = directories + DIRECTORY_ENTRY_COM_DESCRIPTOR * 8;
            put_u32(&mut out, entry, SECTION_RVA);
            put_u32(&mut out, entry + 4, COR20_SIZE as u32);
        }
        debug_assert_eq!(directories + 16 * 8, self.section_header_at());

        // IMAGE_SECTION_HEADER.
        let sh = self.section_header_at();
        let (name, characteristics): (&[u8], u32) = if is_code {
            (b".text", SCN_CNT_CODE | SCN_MEM_EXECUTE | SCN_MEM_READ)
        } else {
            (b".rdata", SCN_CNT_INITIALIZED_DATA | SCN_MEM_READ)
        };
        out[sh..sh + name.len()].copy_from_slice(name);
        put_u32(&mut out, sh + 8, virtual_size);
        put_u32(&mut out, sh + 12, SECTION_RVA);
        put_u32(&mut out, sh + 16, raw_size);
        put_u32(&mut out, sh + 20, SECTION_FILE_OFFSET);
        put_u32(&mut out, sh + 36, characteristics);

        out.extend_from_slice(&contents);
        out.resize(SECTION_FILE_OFFSET as usize + raw_size as usize, 0);
        out
    }

    fn section_contents(&self) -> Vec<u8> {
        match self.section {
            Section::Code(bytes) | Section::Data(bytes) => bytes.to_vec(),
            Section::Clr => clr_contents(),
        }
    }
}

/// The COR20 header at the start of the section, the metadata root right after it.
fn clr_contents() -> Vec<u8> {
    const VERSION: &[u8; 12] = b"v2.0.50727\0\0";
    let metadata_at = COR20_SIZE;
    let metadata_size = 16 + VERSION.len() + 4;
    let mut data = vec![0u8; metadata_at + metadata_size];

    put_u32(&mut data, 0, COR20_SIZE as u32); // cb
    put_u16(&mut data, 4, 2); // MajorRuntimeVersion
    put_u16(&mut data, 6, 5); // MinorRuntimeVersion: 2.5, what Windows wants for IL-only
    put_u32(&mut data, 8, SECTION_RVA + metadata_at as u32); // MetaData.VirtualAddress
    put_u32(&mut data, 12, metadata_size as u32); // MetaData.Size
    put_u32(&mut data, 16, COMIMAGE_FLAGS_ILONLY); // Flags
    // EntryPointToken (20) 0: a library.

    // Metadata root: signature "BSJB", version 1.1, the runtime version string, no streams.
    let root = metadata_at;
    put_u32(&mut data, root, 0x424a_5342);
    put_u16(&mut data, root + 4, 1);
    put_u16(&mut data, root + 6, 1);
    put_u32(&mut data, root + 12, VERSION.len() as u32);
    data[root + 16..root + 16 + VERSION.len()].copy_from_slice(VERSION);
    data
}

fn align(len: usize, alignment: u32) -> u32 {
    (len as u32).div_ceil(alignment) * alignment
}

fn put_u16(out: &mut [u8], at: usize, value: u16) {
    out[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut [u8], at: usize, value: u64) {
    out[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    fn image(name: &str) -> Vec<u8> {
        images()
            .into_iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| bytes)
            .unwrap_or_else(|| panic!("no odd image {name}"))
    }

    /// What the headers of a built image say, read back at the offsets the PE format fixes.
    struct Headers {
        machine: u16,
        magic: u16,
        size_of_code: u32,
        entry_point: u32,
        section_flags: u32,
        section_data: Vec<u8>,
        com_directory: (u32, u32),
    }

    fn headers(bytes: &[u8]) -> Headers {
        assert_eq!(&bytes[0..2], b"MZ");
        let nt = u32_at(bytes, 0x3c) as usize;
        assert_eq!(nt, 0x80);
        assert_eq!(&bytes[nt..nt + 4], b"PE\0\0");
        let fh = nt + 4;
        assert_eq!(u16_at(bytes, fh + 2), 1, "one section");
        let optional_size = u16_at(bytes, fh + 16) as usize;
        assert_ne!(u16_at(bytes, fh + 18) & FILE_DLL, 0, "a DLL");
        let oh = fh + 20;
        let magic = u16_at(bytes, oh);
        let pe32_plus = magic == MAGIC_PE32_PLUS;
        assert_eq!(optional_size, if pe32_plus { 240 } else { 224 });
        assert_eq!(u32_at(bytes, oh + 32), 0x1000, "SectionAlignment");
        assert_eq!(u32_at(bytes, oh + 36), 0x200, "FileAlignment");
        assert_eq!(u32_at(bytes, oh + 56), 0x2000, "SizeOfImage: headers page + one section page");
        assert_eq!(u32_at(bytes, oh + 60), 0x200, "SizeOfHeaders");
        assert_eq!(u16_at(bytes, oh + 70), DLL_DYNAMIC_BASE | DLL_NX_COMPAT);
        let directories = oh + if pe32_plus { 112 } else { 96 };
        assert_eq!(u32_at(bytes, directories - 4), 16, "NumberOfRvaAndSizes");
        let com = directories + DIRECTORY_ENTRY_COM_DESCRIPTOR * 8;

        let sh = oh + optional_size;
        assert!(sh + 40 <= 0x200, "headers fit in SizeOfHeaders");
        let virtual_size = u32_at(bytes, sh + 8) as usize;
        assert_eq!(u32_at(bytes, sh + 12), 0x1000, "section RVA");
        let raw_size = u32_at(bytes, sh + 16) as usize;
        let raw_at = u32_at(bytes, sh + 20) as usize;
        assert_eq!((raw_at, raw_size), (0x200, 0x200));
        assert_eq!(bytes.len(), raw_at + raw_size, "the file ends with the section");
        assert!(virtual_size > 0 && virtual_size <= raw_size);
        Headers {
            machine: u16_at(bytes, fh),
            magic,
            size_of_code: u32_at(bytes, oh + 4),
            entry_point: u32_at(bytes, oh + 16),
            section_flags: u32_at(bytes, sh + 36),
            section_data: bytes[raw_at..raw_at + virtual_size].to_vec(),
            com_directory: (u32_at(bytes, com), u32_at(bytes, com + 4)),
        }
    }

    #[test]
    fn no_code_images_have_no_code_by_the_loaders_rule() {
        for (name, machine, magic) in [
            ("x86_no_code.dll", MACHINE_I386, MAGIC_PE32),
            ("amd64_no_code.dll", MACHINE_AMD64, MAGIC_PE32_PLUS),
        ] {
            let h = headers(&image(name));
            assert_eq!((h.machine, h.magic), (machine, magic), "{name}");
            assert_eq!((h.size_of_code, h.entry_point), (0, 0), "{name}");
            assert_eq!(h.section_flags & (SCN_CNT_CODE | SCN_MEM_EXECUTE), 0, "{name}");
            assert_eq!(h.com_directory, (0, 0), "{name}");
        }
    }

    #[test]
    fn code_images_have_an_executable_section_and_no_entry_point() {
        for (name, machine, code) in [
            ("arm64.dll", MACHINE_ARM64, ARM64_RET),
            ("ia64.dll", MACHINE_IA64, IA64_BUNDLE),
            ("x86_pe32plus.dll", MACHINE_I386, X86_RET),
        ] {
            let h = headers(&image(name));
            assert_eq!(h.machine, machine, "{name}");
            assert_eq!(h.magic, MAGIC_PE32_PLUS, "{name}");
            assert_eq!(h.size_of_code, 0x200, "{name}");
            assert_eq!(h.entry_point, 0, "{name}");
            assert_ne!(h.section_flags & SCN_MEM_EXECUTE, 0, "{name}");
            assert_eq!(h.section_data, code, "{name}");
        }
        assert_eq!(u32_at(ARM64_RET, 0), 0xd65f_03c0);
    }

    #[test]
    fn the_il_only_image_points_at_a_cor20_header_flagged_ilonly() {
        let h = headers(&image("x86_il_only.dll"));
        assert_eq!((h.machine, h.magic), (MACHINE_I386, MAGIC_PE32));
        assert_eq!(h.com_directory, (0x1000, 72));
        assert_ne!(h.section_flags & SCN_MEM_EXECUTE, 0, "code, so row 5 cannot explain a load");
        let cor = &h.section_data;
        assert_eq!(u32_at(cor, 0), 72, "cb");
        assert_eq!((u16_at(cor, 4), u16_at(cor, 6)), (2, 5), "runtime version");
        assert_eq!(u32_at(cor, 16), COMIMAGE_FLAGS_ILONLY, "Flags");
        let (metadata_rva, metadata_size) = (u32_at(cor, 8) as usize, u32_at(cor, 12) as usize);
        let metadata = metadata_rva - 0x1000;
        assert_eq!(metadata + metadata_size, cor.len(), "metadata inside the section");
        assert_eq!(&cor[metadata..metadata + 4], b"BSJB");
    }

    #[test]
    fn files_that_are_not_images() {
        assert_eq!(image("text.dll"), b"This is not a DLL.\r\n");
        assert!(image("empty.dll").is_empty());
        let bad = image("bad_lfanew.dll");
        assert_eq!(&bad[0..2], b"MZ");
        assert_eq!(u32_at(&bad, 0x3c), 0x9876_0000);
        assert!(u32_at(&bad, 0x3c) as usize > bad.len());
        assert_eq!(bad.len(), image("x86_no_code.dll").len());
    }

    #[test]
    fn the_dos_stub_fits_before_the_nt_headers() {
        assert!(0x40 + DOS_STUB.len() <= NT_OFFSET);
        assert!(DOS_STUB.ends_with(b"mode.\r\r\n$"));
    }

    fn scratch_dir(test: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-odd-images-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn write_all_writes_every_image_once() {
        let dir = scratch_dir("write");
        assert_eq!(write_images(&dir).expect("first write"), 9);
        for (name, bytes) in images() {
            assert_eq!(std::fs::read(dir.join(name)).expect(name), bytes, "{name}");
        }
        assert_eq!(write_images(&dir).expect("second write"), 0, "nothing changed");
        std::fs::write(dir.join("arm64.dll"), b"stale").expect("spoil one");
        assert_eq!(write_images(&dir).expect("third write"), 1, "only the changed file");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn truncate_cuts_and_refuses_to_grow() {
        let dir = scratch_dir("truncate");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let src = dir.join("filter.dll");
        std::fs::write(&src, image("x86_no_code.dll")).expect("source");
        let dst = dir.join("truncated.dll");
        truncate(&src, &dst, 100).expect("truncate");
        assert_eq!(std::fs::read(&dst).expect("truncated"), image("x86_no_code.dll")[..100]);

        let error = truncate(&src, &dst, 5000).expect_err("longer than the source");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot truncate `{}` to 5000 bytes: it is only 1024 bytes long",
                src.display()
            )
        );
        let missing = truncate(&dir.join("absent.dll"), &dst, 1).expect_err("missing source");
        assert!(missing.to_string().starts_with("cannot read `"), "{missing}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
