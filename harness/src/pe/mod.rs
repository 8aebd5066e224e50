//! What a file's PE headers say: machine, bitness, whether the loader counts it as having code,
//! whether it is a DLL, its .NET (COR20) flags and its ISAPI exports.
//!
//! This is the static half of the harness. It reads bytes and never loads anything: a load
//! result only ever comes from a host process asking the real loader (ARCHITECTURE.md, the first invariant).
//! [`ImageInfo::predict`] turns the headers into a *prediction* of which processes would accept
//! the image, following what real loaders do with odd images (the table below); callers label it as a prediction and check it against real loads, never substitute it.
//!
//! What real loaders do with odd images, as Wine's loader tests (dlls/kernel32/tests/loader.c)
//! check it on both Windows and Wine; "row N" elsewhere in the project refers to this table.
//!
//! | row | image | 32-bit process | 64-bit process |
//! | --- | --- | --- | --- |
//! | 1 | native: machine and magic match the process | loads | loads |
//! | 2 | AMD64 with code | 193 | loads |
//! | 3 | AMD64 without code | 193 | loads |
//! | 4 | x86 with code | loads | 193 |
//! | 5 | x86 without code (a resource-only DLL) | loads | loads |
//! | 6 | x86 IL-only .NET, runtime 2.5 or later | loads | loads (not on Windows 7 and older) |
//! | 7 | another machine of the same width (ARM, ARM64, IA64, unknown) | 193 | 193 |
//! | 8 | machine and optional-header magic disagree | 193 | 193 |
//! | 9 | an unknown optional-header magic | 193 | 193 |
//! | 10 | no MZ signature (a text file) | 193 | 193 |
//! | 11 | a 16-bit NE or an LE/LX image | 193 | 193 |
//! | 12 | e_lfanew past the end, or no PE signature | 193 | 193 |
//! | 13 | impossible sizes (SizeOfOptionalHeader 0, SizeOfImage too small) | 193 | 193 |
//! | 14 | hand-made "tiny PE" images | depends on the Windows version | same |
//! | 15 | a valid image cut short | 193 | 193 |
//! | 16 | an empty file | 193 | 193 |
//!
//! Every input is untrusted: a user may point `inspect` at any file, and the odd-image suite
//! feeds it truncated and corrupt images on purpose. Nothing here panics or indexes without a
//! bounds check; a file that starts like a PE image but cannot be read says why in
//! [`ImageInfo::problem`].

use std::fmt;
use std::path::Path;

use object::LittleEndian as LE;
use object::ReadRef;
use object::pe;
use object::read::pe::{DataDirectories, ImageNtHeaders, ImageOptionalHeader, SectionTable};
use serde::{Serialize, Serializer};

use crate::arch::Bits;

pub use linkage::{
    AssemblyDependency, ExportedAs, ImportedDll, ImportedFunction, Linkage, read_linkage,
};
pub use predict::{Prediction, PredictionReason};
pub use roles::{EntryPoint, IsapiRole, RoleExports, isapi_roles};
pub use version::{VersionInfo, read_version};

mod linkage;
mod predict;
mod roles;
#[cfg(test)]
pub(crate) mod test_image;
#[cfg(test)]
mod tests;
mod version;

/// Everything `inspect` reports about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ImageInfo {
    /// The file starts with the DOS header's `MZ`: it means to be an executable image, even
    /// when the rest cannot be read.
    pub mz: bool,
    /// The file has an MZ header, a readable `PE\0\0` signature and a readable file header.
    pub pe: bool,
    /// `FileHeader.Machine`.
    pub machine: Option<Machine>,
    /// The raw `FileHeader.Machine` value, for display next to [`ImageInfo::machine`] (several
    /// codes map to [`Machine::Arm`]).
    pub machine_code: Option<u16>,
    /// 32 for the PE32 optional header magic (0x10b), 64 for PE32+ (0x20b); `None` when the
    /// magic is neither or unreadable.
    pub bits: Option<Bits>,
    /// Whether the loader counts the image as containing code; `None` when the optional header
    /// or the section table cannot be read. See [`contains_code`] for the rule.
    pub has_code: Option<bool>,
    /// `IMAGE_FILE_DLL` in `FileHeader.Characteristics`.
    pub is_dll: Option<bool>,
    /// The optional header magic is the one the machine's natural bitness needs (I386 with
    /// PE32; AMD64, ARM64 or IA64 with PE32+). `None` for machines with no known bitness.
    pub magic_matches_machine: Option<bool>,
    /// The COR20 (.NET) header, when the CLR data directory points at a readable one.
    pub clr: Option<ClrInfo>,
    /// How the three ISAPI entry points are exported.
    pub isapi_exports: IsapiExports,
    /// Every exported name, in name-table order (empty if there are none or this is not PE).
    pub exports: Vec<String>,
    /// The DLLs the image imports from, in import-table order: what the loader must find
    /// before the image itself can load.
    pub imports: Vec<String>,
    /// Why the file, or part of it, could not be read; the first problem found.
    pub problem: Option<String>,
}

/// The processor a PE image is built for (`FileHeader.Machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Machine {
    /// IMAGE_FILE_MACHINE_I386 (0x014c).
    X86,
    /// IMAGE_FILE_MACHINE_AMD64 (0x8664).
    Amd64,
    /// IMAGE_FILE_MACHINE_ARM64 (0xaa64).
    Arm64,
    /// 32-bit ARM: IMAGE_FILE_MACHINE_ARM (0x01c0), THUMB (0x01c2) or ARMNT (0x01c4).
    Arm,
    /// IMAGE_FILE_MACHINE_IA64 (0x0200), Itanium.
    Ia64,
    /// Anything else, kept as its raw value.
    Other(u16),
}

impl Machine {
    pub fn from_code(code: u16) -> Machine {
        match pe::Machine(code) {
            pe::IMAGE_FILE_MACHINE_I386 => Machine::X86,
            pe::IMAGE_FILE_MACHINE_AMD64 => Machine::Amd64,
            pe::IMAGE_FILE_MACHINE_ARM64 => Machine::Arm64,
            pe::IMAGE_FILE_MACHINE_ARM
            | pe::IMAGE_FILE_MACHINE_THUMB
            | pe::IMAGE_FILE_MACHINE_ARMNT => Machine::Arm,
            pe::IMAGE_FILE_MACHINE_IA64 => Machine::Ia64,
            _ => Machine::Other(code),
        }
    }

    /// The bitness of the processes this machine's code runs in, where it is known.
    pub fn bits(&self) -> Option<Bits> {
        match self {
            Machine::X86 | Machine::Arm => Some(Bits::B32),
            Machine::Amd64 | Machine::Arm64 | Machine::Ia64 => Some(Bits::B64),
            Machine::Other(_) => None,
        }
    }

    /// The harness architecture with this machine, for the two the harness builds.
    pub fn arch(&self) -> Option<crate::arch::Arch> {
        match self {
            Machine::X86 => Some(crate::arch::Arch::X86),
            Machine::Amd64 => Some(crate::arch::Arch::Amd64),
            _ => None,
        }
    }

    /// The lowercase name used in JSON (and in a server copy's `system_files`).
    pub fn json_name(&self) -> String {
        match self {
            Machine::X86 => "x86".to_owned(),
            Machine::Amd64 => "amd64".to_owned(),
            Machine::Arm64 => "arm64".to_owned(),
            Machine::Arm => "arm".to_owned(),
            Machine::Ia64 => "ia64".to_owned(),
            Machine::Other(code) => format!("0x{code:04x}"),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::X86 => f.write_str("x86"),
            Machine::Amd64 => f.write_str("AMD64"),
            Machine::Arm64 => f.write_str("ARM64"),
            Machine::Arm => f.write_str("ARM"),
            Machine::Ia64 => f.write_str("IA64"),
            Machine::Other(code) => write!(f, "0x{code:04x}"),
        }
    }
}

impl Serialize for Machine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.json_name())
    }
}

/// Its name, as [`Machine`] serialises: a known machine's, or any other's raw code in hex.
impl schemars::JsonSchema for Machine {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Machine".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let known = [Machine::X86, Machine::Amd64, Machine::Arm64, Machine::Arm, Machine::Ia64];
        let names: Vec<String> = known.iter().map(Machine::json_name).collect();
        schemars::json_schema!({
            "type": "string",
            "anyOf": [{ "enum": names }, { "pattern": "^0x[0-9a-f]{4}$" }],
        })
    }
}

/// What the COR20 header's `Flags` and runtime version say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClrInfo {
    /// COMIMAGE_FLAGS_ILONLY: no native code besides the IL.
    pub il_only: bool,
    /// COMIMAGE_FLAGS_32BITREQUIRED.
    pub requires_32bit: bool,
    /// COMIMAGE_FLAGS_32BITPREFERRED (AnyCPU, prefer 32-bit).
    pub prefers_32bit: bool,
    /// COMIMAGE_FLAGS_NATIVE_ENTRYPOINT.
    pub native_entry_point: bool,
    pub major_runtime_version: u16,
    pub minor_runtime_version: u16,
}

impl ClrInfo {
    /// Windows only treats an image as IL-only (and so loadable in a 64-bit process) from
    /// runtime version 2.5 on; Wine's loader ignores the version (query_image_section in
    /// Wine's loader tests, and Wine's is_valid_binary).
    pub fn runtime_at_least_2_5(&self) -> bool {
        (self.major_runtime_version, self.minor_runtime_version) >= (2, 5)
    }
}

/// The ISAPI filter entry points IIS looks up with GetProcAddress (httpfilt.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsapiEntryPoint {
    GetFilterVersion,
    HttpFilterProc,
    TerminateFilter,
}

impl IsapiEntryPoint {
    pub const ALL: [IsapiEntryPoint; 3] = [
        IsapiEntryPoint::GetFilterVersion,
        IsapiEntryPoint::HttpFilterProc,
        IsapiEntryPoint::TerminateFilter,
    ];

    /// The undecorated name IIS asks for.
    pub fn name(self) -> &'static str {
        match self {
            IsapiEntryPoint::GetFilterVersion => "GetFilterVersion",
            IsapiEntryPoint::HttpFilterProc => "HttpFilterProc",
            IsapiEntryPoint::TerminateFilter => "TerminateFilter",
        }
    }

    /// IIS fails to load a filter without this export (Win32 error 127); TerminateFilter is
    /// optional.
    pub fn required(self) -> bool {
        !matches!(self, IsapiEntryPoint::TerminateFilter)
    }
}

/// How one ISAPI entry point is exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "status", content = "exported_as", rename_all = "lowercase")]
pub enum ExportStatus {
    /// Exported under the exact name IIS asks for.
    Present,
    /// Not under that name, but under a decorated form of it (`GetFilterVersion@4`,
    /// `_GetFilterVersion@4`, `_GetFilterVersion`, or a C++ mangled `?GetFilterVersion@@...`):
    /// GetProcAddress will not find it.
    Decorated(String),
    Missing,
}

impl ExportStatus {
    pub fn is_present(&self) -> bool {
        matches!(self, ExportStatus::Present)
    }
}

/// The export status of the three ISAPI entry points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IsapiExports {
    #[serde(rename = "GetFilterVersion")]
    pub get_filter_version: ExportStatus,
    #[serde(rename = "HttpFilterProc")]
    pub http_filter_proc: ExportStatus,
    #[serde(rename = "TerminateFilter")]
    pub terminate_filter: ExportStatus,
}

impl IsapiExports {
    pub fn none() -> IsapiExports {
        IsapiExports {
            get_filter_version: ExportStatus::Missing,
            http_filter_proc: ExportStatus::Missing,
            terminate_filter: ExportStatus::Missing,
        }
    }

    /// Classifies each entry point against a list of exported names.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> IsapiExports {
        let status = |entry: IsapiEntryPoint| export_status(entry.name(), names);
        IsapiExports {
            get_filter_version: status(IsapiEntryPoint::GetFilterVersion),
            http_filter_proc: status(IsapiEntryPoint::HttpFilterProc),
            terminate_filter: status(IsapiEntryPoint::TerminateFilter),
        }
    }

    pub fn get(&self, entry: IsapiEntryPoint) -> &ExportStatus {
        match entry {
            IsapiEntryPoint::GetFilterVersion => &self.get_filter_version,
            IsapiEntryPoint::HttpFilterProc => &self.http_filter_proc,
            IsapiEntryPoint::TerminateFilter => &self.terminate_filter,
        }
    }

    /// Every entry point IIS requires is exported under its plain name.
    pub fn required_present(&self) -> bool {
        IsapiEntryPoint::ALL
            .into_iter()
            .filter(|entry| entry.required())
            .all(|entry| self.get(entry).is_present())
    }
}

fn export_status<S: AsRef<str>>(wanted: &str, names: &[S]) -> ExportStatus {
    if names.iter().any(|name| name.as_ref() == wanted) {
        return ExportStatus::Present;
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .find(|name| is_decoration_of(name, wanted))
        .map_or(ExportStatus::Missing, |name| ExportStatus::Decorated(name.to_owned()))
}

/// `name` is `wanted` with x86 stdcall (`wanted@N`, `_wanted@N`), cdecl (`_wanted`) or MSVC
/// C++ (`?wanted@@...`) decoration: what a filter built without a .def file exports.
fn is_decoration_of(name: &str, wanted: &str) -> bool {
    if let Some(rest) = name.strip_prefix('?') {
        return rest.strip_prefix(wanted).is_some_and(|tail| tail.starts_with("@@"));
    }
    let undecorated = name.strip_prefix('_').unwrap_or(name);
    let Some(tail) = undecorated.strip_prefix(wanted) else {
        return false;
    };
    if tail.is_empty() {
        // `_GetFilterVersion`; the bare name itself was handled as Present.
        return undecorated.len() != name.len();
    }
    tail.strip_prefix('@')
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a file and inspects it. Fails only when the file cannot be read at all; anything it
/// contains, including nothing, is an answer.
///
/// Only the parts the headers point at are read (the DOS and PE headers, the section table,
/// the export, import and CLR directories), each read bounded by [`MAX_HEADER_READ`], so a
/// 1 GB file costs a few kilobytes. A FIFO or device is refused without being opened for a
/// read that could block (see `input`).
pub fn inspect(path: &Path) -> Result<ImageInfo, crate::input::Refusal> {
    let (file, _) = crate::input::open_regular(path)?;
    let cache = object::ReadCache::new(file);
    Ok(inspect_data(&Bounded(&cache)))
}

/// Reads a file's headers and what it links to (see `linkage`), each part once; None when the
/// file cannot be read. Only an image of a known bitness has a linkage.
pub fn inspect_with_linkage(path: &Path) -> Option<(ImageInfo, Linkage)> {
    let (file, _) = crate::input::open_regular(path).ok()?;
    let cache = object::ReadCache::new(file);
    let info = inspect_data(&Bounded(&cache));
    let linkage = match (info.pe, info.bits) {
        (true, Some(bits)) => read_linkage(&Bounded(&cache), bits),
        _ => Linkage::default(),
    };
    Some((info, linkage))
}

/// Inspects an image held in memory. Never panics.
pub fn inspect_bytes(bytes: &[u8]) -> ImageInfo {
    inspect_data(bytes)
}

/// The most a single header read may ask for: far more than any real export or import
/// directory, and little enough that a header pointing at gigabytes costs nothing.
pub const MAX_HEADER_READ: u64 = 16 * 1024 * 1024;

/// A file read on demand, refusing any one read larger than [`MAX_HEADER_READ`].
struct Bounded<'a>(&'a object::ReadCache<std::fs::File>);

impl<'a> ReadRef<'a> for &'a Bounded<'a> {
    fn len(self) -> Result<u64, ()> {
        self.0.len()
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        if size > MAX_HEADER_READ {
            return Err(());
        }
        self.0.read_bytes_at(offset, size)
    }

    fn read_bytes_at_until(
        self,
        range: std::ops::Range<u64>,
        delimiter: u8,
    ) -> Result<&'a [u8], ()> {
        let end = range.end.min(range.start.saturating_add(MAX_HEADER_READ));
        self.0.read_bytes_at_until(range.start..end, delimiter)
    }
}

fn inspect_data<'data, R: ReadRef<'data>>(bytes: R) -> ImageInfo {
    let mut info = ImageInfo {
        mz: bytes.read_bytes_at(0, 2).is_ok_and(|head| head == b"MZ"),
        pe: false,
        machine: None,
        machine_code: None,
        bits: None,
        has_code: None,
        is_dll: None,
        magic_matches_machine: None,
        clr: None,
        isapi_exports: IsapiExports::none(),
        exports: Vec::new(),
        imports: Vec::new(),
        problem: None,
    };
    if let Err(problem) = read_image(bytes, &mut info) {
        info.problem.get_or_insert(problem);
    }
    info
}

const PE_SIGNATURE: &[u8] = b"PE\0\0";
const PE32_MAGIC: u16 = pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC;
const PE32_PLUS_MAGIC: u16 = pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC;
/// Size of `FileHeader` (`IMAGE_SIZEOF_FILE_HEADER`).
const FILE_HEADER_SIZE: u64 = 20;
/// Both Windows and Wine compare SectionAlignment against the 4 KiB page.
const PAGE_MASK: u32 = 0xfff;

fn truncated(len: u64, what: impl fmt::Display) -> String {
    format!("truncated at byte {len}: {what}")
}

/// Reads the headers in the order the loader does, filling `info` as far as it gets; an `Err`
/// is the reason it stopped.
fn read_image<'data, R: ReadRef<'data>>(bytes: R, info: &mut ImageInfo) -> Result<(), String> {
    let len = bytes.len().map_err(|()| "cannot tell the file's size".to_owned())?;
    if len == 0 {
        return Err("empty file".to_owned());
    }
    let head = bytes.read_bytes_at(0, len.min(64)).unwrap_or(&[]);
    if !head.starts_with(b"MZ") {
        return Err(not_mz(head));
    }
    let dos_header = pe::ImageDosHeader::parse(bytes)
        .map_err(|_| truncated(len, "the DOS header needs 64 bytes"))?;
    let nt_offset = u64::from(dos_header.nt_headers_offset());
    if nt_offset >= len {
        // A small e_lfanew in a short file is most likely a copy cut short.
        let hint = if nt_offset < 0x1_0000 { " (is the file truncated?)" } else { "" };
        return Err(format!(
            "e_lfanew points past the end of the file: 0x{nt_offset:x}, in a file of {len} bytes{hint}"
        ));
    }
    let signature = bytes.read_bytes_at(nt_offset, PE_SIGNATURE.len() as u64).map_err(|_| {
        truncated(len, format_args!("the PE signature at 0x{nt_offset:x} needs 4 bytes"))
    })?;
    if signature != PE_SIGNATURE {
        return Err(no_pe_signature(nt_offset, signature));
    }
    let file_header_offset = nt_offset + PE_SIGNATURE.len() as u64;
    let file_header: &pe::ImageFileHeader = bytes.read_at(file_header_offset).map_err(|_| {
        truncated(len, format_args!("the file header at 0x{file_header_offset:x} needs 20 bytes"))
    })?;
    info.pe = true;
    let machine_code = file_header.machine.get(LE).0;
    let machine = Machine::from_code(machine_code);
    info.machine = Some(machine);
    info.machine_code = Some(machine_code);
    info.is_dll = Some(file_header.characteristics.get(LE).contains(pe::IMAGE_FILE_DLL));

    let optional_offset = file_header_offset + FILE_HEADER_SIZE;
    let magic: &object::U16<LE> = bytes.read_at(optional_offset).map_err(|_| {
        truncated(len, format_args!("the optional header at 0x{optional_offset:x} is missing"))
    })?;
    let bits = match magic.get(LE) {
        PE32_MAGIC => Bits::B32,
        PE32_PLUS_MAGIC => Bits::B64,
        other => {
            // The loader rejects an unknown magic outright (ground truth row 9), so a machine
            // with a known bitness cannot match it.
            info.magic_matches_machine = machine.bits().map(|_| false);
            return Err(format!(
                "unknown optional header magic 0x{other:04x} (PE32 is 0x10b, PE32+ is 0x20b)"
            ));
        }
    };
    info.bits = Some(bits);
    info.magic_matches_machine = machine.bits().map(|natural| natural == bits);
    if bits == Bits::B32 {
        read_optional::<pe::ImageNtHeaders32, R>(bytes, file_header, optional_offset, info)
    } else {
        read_optional::<pe::ImageNtHeaders64, R>(bytes, file_header, optional_offset, info)
    }
}

/// Reads the optional header, the data directories and the section table, then the parts that
/// live in sections (exports, the COR20 header).
fn read_optional<'data, Nt: ImageNtHeaders, R: ReadRef<'data>>(
    bytes: R,
    file_header: &pe::ImageFileHeader,
    optional_offset: u64,
    info: &mut ImageInfo,
) -> Result<(), String> {
    let len = bytes.len().unwrap_or(0);
    let fixed_size = std::mem::size_of::<Nt::ImageOptionalHeader>() as u64;
    let optional: &Nt::ImageOptionalHeader = bytes.read_at(optional_offset).map_err(|_| {
        truncated(
            len,
            format_args!("the optional header at 0x{optional_offset:x} needs {fixed_size} bytes"),
        )
    })?;
    let declared_size = u64::from(file_header.size_of_optional_header.get(LE));
    if declared_size < fixed_size {
        // The section table would then overlap the optional header's own fields. Windows and
        // Wine refuse SizeOfOptionalHeader = 0 (ground truth row 13); only hand-made "tiny PE"
        // images get away with overlaps, on some versions (row 14).
        let kind = if fixed_size == std::mem::size_of::<pe::ImageOptionalHeader64>() as u64 {
            "PE32+"
        } else {
            "PE32"
        };
        return Err(format!(
            "SizeOfOptionalHeader is {declared_size}, smaller than the {fixed_size} bytes of a {kind} optional header"
        ));
    }

    // The data directories are whatever of NumberOfRvaAndSizes fits in SizeOfOptionalHeader
    // and in the file, as the loader clamps them; a bogus count must not make the rest
    // unreadable.
    let directories_offset = optional_offset + fixed_size;
    let directories_room = (declared_size - fixed_size).min(len.saturating_sub(directories_offset))
        / std::mem::size_of::<pe::ImageDataDirectory>() as u64;
    let directory_count = u64::from(optional.number_of_rva_and_sizes()).min(directories_room);
    let directories_bytes =
        bytes.read_bytes_at(directories_offset, directory_count * 8).unwrap_or(&[]);
    let directories =
        DataDirectories::parse(directories_bytes, u32::try_from(directory_count).unwrap_or(0))
            .map_err(|error| format!("data directories unreadable: {error}"))?;

    let sections_offset = optional_offset + declared_size;
    let section_count = file_header.number_of_sections.get(LE);
    let sections = SectionTable::parse(file_header, bytes, sections_offset).map_err(|_| {
        truncated(
            len,
            format_args!(
                "{section_count} section headers at 0x{sections_offset:x} need {} bytes",
                u64::from(section_count) * 40
            ),
        )
    })?;

    info.has_code = Some(contains_code(
        optional.size_of_code(),
        optional.address_of_entry_point(),
        optional.section_alignment(),
        &sections,
    ));

    read_exports(bytes, &directories, &sections, info);
    read_imports(bytes, &directories, &sections, info);
    read_clr(bytes, &directories, &sections, info);
    Ok(())
}

/// The loader's notion of "contains code", which decides whether a 32-bit image may be loaded
/// into a 64-bit process (ground truth row 5). This mirrors Wine's server (`get_image_params`
/// in server/mapping.c, `ImageContainsCode`), and what Wine's loader tests expect of Windows:
/// SizeOfCode != 0, or AddressOfEntryPoint != 0, or a SectionAlignment that is not a multiple
/// of the page (the image is then mapped flat, headers and all, as one executable block), or
/// any section with IMAGE_SCN_MEM_EXECUTE. IMAGE_SCN_CNT_CODE alone is deliberately not
/// counted: neither loader looks at it.
fn contains_code(
    size_of_code: u32,
    entry_point: u32,
    section_alignment: u32,
    sections: &SectionTable<'_>,
) -> bool {
    size_of_code != 0
        || entry_point != 0
        || section_alignment & PAGE_MASK != 0
        || sections
            .iter()
            .any(|section| section.characteristics.get(LE).contains(pe::IMAGE_SCN_MEM_EXECUTE))
}

fn read_exports<'data, R: ReadRef<'data>>(
    bytes: R,
    directories: &DataDirectories<'data>,
    sections: &SectionTable<'data>,
    info: &mut ImageInfo,
) {
    let table = match directories.export_table(bytes, sections) {
        Ok(Some(table)) => table,
        Ok(None) => return,
        Err(error) => {
            info.problem.get_or_insert(format!("export table unreadable: {error}"));
            return;
        }
    };
    for (name_pointer, _) in table.name_iter() {
        match table.name_from_pointer(name_pointer) {
            Ok(name) => info.exports.push(String::from_utf8_lossy(name).into_owned()),
            Err(error) => {
                info.problem.get_or_insert(format!(
                    "export name at RVA 0x{name_pointer:x} unreadable: {error}"
                ));
            }
        }
    }
    info.isapi_exports = IsapiExports::from_names(&info.exports);
}

fn read_imports<'data, R: ReadRef<'data>>(
    bytes: R,
    directories: &DataDirectories<'data>,
    sections: &SectionTable<'data>,
    info: &mut ImageInfo,
) {
    let table = match directories.import_table(bytes, sections) {
        Ok(Some(table)) => table,
        Ok(None) => return,
        Err(error) => {
            info.problem.get_or_insert(format!("import table unreadable: {error}"));
            return;
        }
    };
    let Ok(mut descriptors) = table.descriptors() else {
        info.problem.get_or_insert("import descriptors unreadable".to_owned());
        return;
    };
    // The table ends with a null descriptor; a table that runs off the file ends here too.
    while let Ok(Some(descriptor)) = descriptors.next() {
        match table.name(descriptor.name.get(LE)) {
            Ok(name) => info.imports.push(String::from_utf8_lossy(name).into_owned()),
            Err(error) => {
                info.problem.get_or_insert(format!("import name unreadable: {error}"));
                return;
            }
        }
    }
}

fn read_clr<'data, R: ReadRef<'data>>(
    bytes: R,
    directories: &DataDirectories<'data>,
    sections: &SectionTable<'data>,
    info: &mut ImageInfo,
) {
    // Like the loader, a CLR directory only counts when both its address and size are set.
    let Some(directory) = directories
        .get(pe::IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR)
        .filter(|directory| directory.size.get(LE) != 0)
    else {
        return;
    };
    let header = directory
        .data(bytes, sections)
        .ok()
        .and_then(|data| data.read_at::<pe::ImageCor20Header>(0).ok());
    let Some(header) = header else {
        info.problem.get_or_insert(format!(
            "the CLR (COR20) header at RVA 0x{:x} ({} bytes) is unreadable; it needs {} bytes inside a section",
            directory.virtual_address.get(LE),
            directory.size.get(LE),
            std::mem::size_of::<pe::ImageCor20Header>()
        ));
        return;
    };
    let flags = header.flags.get(LE);
    info.clr = Some(ClrInfo {
        il_only: flags.contains(pe::COMIMAGE_FLAGS_ILONLY),
        requires_32bit: flags.contains(pe::COMIMAGE_FLAGS_32BITREQUIRED),
        prefers_32bit: flags.contains(pe::COMIMAGE_FLAGS_32BITPREFERRED),
        native_entry_point: flags.contains(pe::COMIMAGE_FLAGS_NATIVE_ENTRYPOINT),
        major_runtime_version: header.major_runtime_version.get(LE),
        minor_runtime_version: header.minor_runtime_version.get(LE),
    });
}

/// Says what a file that does not start with "MZ" looks like, so a user who pointed the
/// harness at the wrong file sees it at once.
fn not_mz(head: &[u8]) -> String {
    let looks_like_text = head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t' || b == b'\r' || b == b'\n');
    if looks_like_text {
        let first_line = String::from_utf8_lossy(head);
        let first_line = first_line.lines().next().unwrap_or("");
        format!("no MZ signature: it looks like a text file (\"{}\")", first_line.escape_default())
    } else {
        let shown: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("no MZ signature (the file starts with {})", shown.join(" "))
    }
}

/// Names what sits at e_lfanew instead of `PE\0\0`: Windows' loader answers a different NT
/// status for 16-bit NE and LE/LX images (ground truth row 11), though all become 193.
fn no_pe_signature(offset: u64, found: &[u8]) -> String {
    let kind = match found.get(..2) {
        Some(b"NE") => ": a 16-bit NE (Windows 3.x / OS/2) image",
        Some(b"LE") | Some(b"LX") => ": an LE/LX (VxD / OS/2) image",
        _ => "",
    };
    let shown: Vec<String> = found.iter().map(|b| format!("{b:02x}")).collect();
    format!("no PE signature at e_lfanew 0x{offset:x} (found {}){kind}", shown.join(" "))
}
