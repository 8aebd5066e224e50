//! A small PE image builder for the unit tests, written byte by byte like Wine's loader tests'
//! `create_test_dll()`: MZ header, `PE\0\0`, file header, optional header with 16 data
//! directories, one section at RVA 0x1000 (file offset 0x200) holding a few code bytes, an
//! optional export table and an optional COR20 header.
//!
//! xtask has its own builder for the images the real loader is asked to load
//! (xtask/src/odd_images.rs); this one stays test-only so the two crates stay independent.

/// Where the builder puts the NT headers (`e_lfanew`).
pub(crate) const NT_OFFSET: usize = 0x40;
pub(crate) const FILE_HEADER_OFFSET: usize = NT_OFFSET + 4;
pub(crate) const OPTIONAL_HEADER_OFFSET: usize = FILE_HEADER_OFFSET + 20;
const SECTION_RVA: u32 = 0x1000;
const SECTION_FILE_OFFSET: u32 = 0x200;
const FILE_ALIGNMENT: u32 = 0x200;
const SECTION_ALIGNMENT: u32 = 0x1000;
/// Where in the section the export directory starts (the code bytes come first).
const EXPORTS_AT: usize = 0x10;

pub(crate) const MACHINE_I386: u16 = 0x014c;
pub(crate) const MACHINE_AMD64: u16 = 0x8664;
pub(crate) const MACHINE_ARM64: u16 = 0xaa64;
pub(crate) const MACHINE_IA64: u16 = 0x0200;
pub(crate) const MAGIC_PE32: u16 = 0x10b;
pub(crate) const MAGIC_PE32_PLUS: u16 = 0x20b;

const SCN_CNT_CODE: u32 = 0x0000_0020;
const SCN_CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_READ: u32 = 0x4000_0000;

#[derive(Debug, Clone)]
pub(crate) struct TestImage {
    pub machine: u16,
    pub magic: u16,
    pub dll: bool,
    pub size_of_code: u32,
    pub entry_point: u32,
    pub section_flags: u32,
    pub code: Vec<u8>,
    pub exports: Vec<String>,
    /// COR20 `Flags`, major and minor runtime version.
    pub cor: Option<(u32, u16, u16)>,
}

impl TestImage {
    /// A DLL with one executable section holding `code`, no entry point.
    pub fn new(machine: u16, magic: u16, code: &[u8]) -> TestImage {
        TestImage {
            machine,
            magic,
            dll: true,
            size_of_code: FILE_ALIGNMENT,
            entry_point: 0,
            section_flags: SCN_CNT_CODE | SCN_MEM_EXECUTE | SCN_MEM_READ,
            code: code.to_vec(),
            exports: Vec::new(),
            cor: None,
        }
    }

    /// An x86 PE32 DLL whose code is a `ret`.
    pub fn x86() -> TestImage {
        TestImage::new(MACHINE_I386, MAGIC_PE32, &[0xc3])
    }

    /// An AMD64 PE32+ DLL whose code is a `ret`.
    pub fn amd64() -> TestImage {
        TestImage::new(MACHINE_AMD64, MAGIC_PE32_PLUS, &[0xc3])
    }

    /// No code by the loader's rule: SizeOfCode 0, no entry point, a read-only data section.
    pub fn without_code(mut self) -> TestImage {
        self.size_of_code = 0;
        self.entry_point = 0;
        self.section_flags = SCN_CNT_INITIALIZED_DATA | SCN_MEM_READ;
        self
    }

    pub fn with_exports(mut self, names: &[&str]) -> TestImage {
        self.exports = names.iter().map(|name| (*name).to_owned()).collect();
        self
    }

    pub fn with_cor(mut self, flags: u32, major: u16, minor: u16) -> TestImage {
        self.cor = Some((flags, major, minor));
        self
    }

    /// The ISAPI exports, undecorated, as filter.def produces them.
    pub fn isapi_filter(self) -> TestImage {
        self.with_exports(&["GetFilterVersion", "HttpFilterProc", "TerminateFilter"])
    }

    fn is_pe32_plus(&self) -> bool {
        self.magic == MAGIC_PE32_PLUS
    }

    pub fn optional_header_size(&self) -> usize {
        if self.is_pe32_plus() { 240 } else { 224 }
    }

    pub fn section_header_offset(&self) -> usize {
        OPTIONAL_HEADER_OFFSET + self.optional_header_size()
    }

    pub fn build(&self) -> Vec<u8> {
        let (section, export_dir, cor_dir) = self.section_contents();
        let raw_size = align(section.len() as u32, FILE_ALIGNMENT);
        let size_of_image = SECTION_RVA + align(section.len() as u32, SECTION_ALIGNMENT);
        let mut out = vec![0u8; SECTION_FILE_OFFSET as usize];

        out[0..2].copy_from_slice(b"MZ");
        put_u32(&mut out, 0x3c, NT_OFFSET as u32);
        out[NT_OFFSET..NT_OFFSET + 4].copy_from_slice(b"PE\0\0");

        let fh = FILE_HEADER_OFFSET;
        put_u16(&mut out, fh, self.machine);
        put_u16(&mut out, fh + 2, 1); // NumberOfSections
        put_u16(&mut out, fh + 16, self.optional_header_size() as u16);
        let mut characteristics = 0x0002; // EXECUTABLE_IMAGE
        if self.dll {
            characteristics |= 0x2000;
        }
        characteristics |= if self.is_pe32_plus() { 0x0020 } else { 0x0100 };
        put_u16(&mut out, fh + 18, characteristics);

        let oh = OPTIONAL_HEADER_OFFSET;
        put_u16(&mut out, oh, self.magic);
        out[oh + 2] = 1; // MajorLinkerVersion
        put_u32(&mut out, oh + 4, self.size_of_code);
        put_u32(&mut out, oh + 8, if self.size_of_code == 0 { raw_size } else { 0 });
        put_u32(&mut out, oh + 16, self.entry_point);
        put_u32(&mut out, oh + 20, SECTION_RVA); // BaseOfCode
        // From here the two layouts differ: PE32 has BaseOfData and a 4-byte ImageBase.
        let nt = if self.is_pe32_plus() {
            put_u64(&mut out, oh + 24, 0x1_2345_0000);
            oh + 32
        } else {
            put_u32(&mut out, oh + 28, 0x1000_0000);
            oh + 32
        };
        put_u32(&mut out, nt, SECTION_ALIGNMENT);
        put_u32(&mut out, nt + 4, FILE_ALIGNMENT);
        put_u16(&mut out, nt + 8, 4); // MajorOperatingSystemVersion
        put_u16(&mut out, nt + 16, 4); // MajorSubsystemVersion
        put_u32(&mut out, nt + 24, size_of_image);
        put_u32(&mut out, nt + 28, SECTION_FILE_OFFSET); // SizeOfHeaders
        put_u16(&mut out, nt + 36, 3); // Subsystem: WINDOWS_CUI
        put_u16(&mut out, nt + 38, 0x0140); // DYNAMIC_BASE | NX_COMPAT
        let after_stack_heap = if self.is_pe32_plus() { nt + 40 + 32 } else { nt + 40 + 16 };
        put_u32(&mut out, after_stack_heap + 4, 16); // NumberOfRvaAndSizes
        let directories = after_stack_heap + 8;
        if let Some((rva, size)) = export_dir {
            put_u32(&mut out, directories, rva);
            put_u32(&mut out, directories + 4, size);
        }
        if let Some((rva, size)) = cor_dir {
            put_u32(&mut out, directories + 14 * 8, rva);
            put_u32(&mut out, directories + 14 * 8 + 4, size);
        }
        assert_eq!(directories + 16 * 8, self.section_header_offset());

        let sh = self.section_header_offset();
        out[sh..sh + 5].copy_from_slice(b".text");
        put_u32(&mut out, sh + 8, section.len() as u32); // VirtualSize
        put_u32(&mut out, sh + 12, SECTION_RVA);
        put_u32(&mut out, sh + 16, raw_size);
        put_u32(&mut out, sh + 20, SECTION_FILE_OFFSET);
        put_u32(&mut out, sh + 36, self.section_flags);

        out.extend_from_slice(&section);
        out.resize(SECTION_FILE_OFFSET as usize + raw_size as usize, 0);
        out
    }

    /// The section's bytes, and the (RVA, size) of the export directory and COR20 header in it.
    #[allow(clippy::type_complexity)]
    fn section_contents(&self) -> (Vec<u8>, Option<(u32, u32)>, Option<(u32, u32)>) {
        let mut data = self.code.clone();
        data.resize(EXPORTS_AT.max(data.len()), 0);
        let rva = |offset: usize| SECTION_RVA + offset as u32;

        let export_dir = (!self.exports.is_empty()).then(|| {
            let mut names = self.exports.clone();
            // The loader binary-searches the name table, so it is sorted.
            names.sort();
            let n = names.len();
            let dir = data.len();
            let functions = dir + 40;
            let name_pointers = functions + 4 * n;
            let ordinals = name_pointers + 4 * n;
            let strings = ordinals + 2 * n;
            data.resize(strings, 0);
            let dll_name = data.len();
            data.extend_from_slice(b"test.dll\0");
            put_u32(&mut data, dir + 12, rva(dll_name));
            put_u32(&mut data, dir + 16, 1); // Base
            put_u32(&mut data, dir + 20, n as u32);
            put_u32(&mut data, dir + 24, n as u32);
            put_u32(&mut data, dir + 28, rva(functions));
            put_u32(&mut data, dir + 32, rva(name_pointers));
            put_u32(&mut data, dir + 36, rva(ordinals));
            for (i, name) in names.iter().enumerate() {
                put_u32(&mut data, functions + 4 * i, SECTION_RVA);
                let at = data.len();
                data.extend_from_slice(name.as_bytes());
                data.push(0);
                put_u32(&mut data, name_pointers + 4 * i, rva(at));
                put_u16(&mut data, ordinals + 2 * i, i as u16);
            }
            (rva(dir), (data.len() - dir) as u32)
        });

        let cor_dir = self.cor.map(|(flags, major, minor)| {
            data.resize(align(data.len() as u32, 4) as usize, 0);
            let at = data.len();
            data.resize(at + 72, 0);
            put_u32(&mut data, at, 72); // cb
            put_u16(&mut data, at + 4, major);
            put_u16(&mut data, at + 6, minor);
            put_u32(&mut data, at + 16, flags);
            (rva(at), 72)
        });
        (data, export_dir, cor_dir)
    }
}

fn align(value: u32, alignment: u32) -> u32 {
    value.div_ceil(alignment) * alignment
}

pub(crate) fn put_u16(out: &mut [u8], at: usize, value: u16) {
    out[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut [u8], at: usize, value: u64) {
    out[at..at + 8].copy_from_slice(&value.to_le_bytes());
}
