//! An image's version resource (`VS_VERSIONINFO`): the file version of its `VS_FIXEDFILEINFO`
//! and the `CompanyName` of its string table. `collect` records the first for each OS file it
//! does not copy, and reads the second to tell the OS's own files from a vendor's DLL that sits
//! in a system folder.
//!
//! The layout is Microsoft Learn's "VS_VERSIONINFO structure": `wLength`, `wValueLength`,
//! `wType`, the key `VS_VERSION_INFO` in UTF-16 and padding to 32 bits, then the 52-byte
//! `VS_FIXEDFILEINFO` (signature `0xFEEF04BD`, then the version words), then the children
//! (`StringFileInfo`, whose `String` entries are key, padding, UTF-16 value). Every input is
//! untrusted: nothing here panics, and what cannot be read is None.

use std::path::Path;

use object::LittleEndian as LE;
use object::ReadRef;
use object::pe;
use object::read::pe::{ImageNtHeaders, PeFile, ResourceNameOrId};

/// What a version resource says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionInfo {
    /// `VS_FIXEDFILEINFO`'s file version, `major.minor.build.revision`.
    pub file_version: Option<String>,
    /// The string table's `CompanyName`.
    pub company: Option<String>,
}

/// No real version resource comes near this; a bigger one is not read.
const MAX_VERSION_RESOURCE: usize = 64 * 1024;
const FIXED_FILE_INFO_SIGNATURE: u32 = 0xFEEF_04BD;

/// The version resource of the image at `path`; None when it has none or it cannot be read.
pub fn read_version(path: &Path) -> Option<VersionInfo> {
    let (file, _) = crate::input::open_regular(path).ok()?;
    let cache = object::ReadCache::new(file);
    let info = super::inspect_data(&super::Bounded(&cache));
    let data = match (info.pe, info.bits?) {
        (true, crate::arch::Bits::B32) => {
            resource::<pe::ImageNtHeaders32, _>(&super::Bounded(&cache))
        }
        (true, crate::arch::Bits::B64) => {
            resource::<pe::ImageNtHeaders64, _>(&super::Bounded(&cache))
        }
        (false, _) => None,
    }?;
    Some(parse_version_info(&data))
}

/// The bytes of the first `RT_VERSION` resource.
fn resource<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(bytes: R) -> Option<Vec<u8>> {
    let file = PeFile::<Pe, R>::parse(bytes).ok()?;
    let sections = file.section_table();
    let directory = file.data_directories().resource_directory(bytes, &sections).ok()??;
    let root = directory.root().ok()?;
    let by_name = root
        .entries
        .iter()
        .find(|entry| matches!(entry.name_or_id(), ResourceNameOrId::Id(pe::RT_VERSION)))?
        .data(directory)
        .ok()?
        .table()?;
    let by_language = by_name.entries.first()?.data(directory).ok()?.table()?;
    let data = by_language.entries.first()?.data(directory).ok()?.data()?;
    let size = data.size.get(LE) as usize;
    if size > MAX_VERSION_RESOURCE {
        return None;
    }
    let (offset, _) = sections.pe_file_range_at(data.offset_to_data.get(LE))?;
    bytes.read_bytes_at(u64::from(offset), size as u64).ok().map(<[u8]>::to_vec)
}

/// Reads a `VS_VERSIONINFO` block.
pub fn parse_version_info(data: &[u8]) -> VersionInfo {
    VersionInfo {
        file_version: fixed_file_version(data),
        company: string_value(data, "CompanyName"),
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn align4(at: usize) -> usize {
    at.div_ceil(4) * 4
}

/// `VS_FIXEDFILEINFO`'s file version: the value right after the root key and its padding.
fn fixed_file_version(data: &[u8]) -> Option<String> {
    let key = utf16("VS_VERSION_INFO\0");
    if data.get(6..6 + key.len())? != key.as_slice() || u16_at(data, 2)? < 52 {
        return None;
    }
    let fixed = align4(6 + key.len());
    if u32_at(data, fixed)? != FIXED_FILE_INFO_SIGNATURE {
        return None;
    }
    let (most, least) = (u32_at(data, fixed + 8)?, u32_at(data, fixed + 12)?);
    Some(format!("{}.{}.{}.{}", most >> 16, most & 0xFFFF, least >> 16, least & 0xFFFF))
}

/// The value of the first `String` entry keyed `name`: its key in UTF-16 with its NUL, the
/// padding to 32 bits, then the value up to its NUL. The entry's header (`wLength`,
/// `wValueLength`, `wType`) is the six bytes before the key, and `wType` 1 marks text.
fn string_value(data: &[u8], name: &str) -> Option<String> {
    let key = utf16(&format!("{name}\0"));
    let at = data.windows(key.len()).position(|window| window == key.as_slice())?;
    if at < 6 || at % 2 != 0 || u16_at(data, at - 2)? != 1 {
        return None;
    }
    let length = u16_at(data, at - 6)? as usize;
    let end = (at - 6 + length).min(data.len());
    let start = align4(at + key.len());
    let units: Vec<u16> = data
        .get(start..end)?
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&unit| unit != 0)
        .collect();
    let value = String::from_utf16_lossy(&units).trim().to_owned();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `VS_VERSIONINFO` as the resource compiler lays it out, with one `String`.
    fn block(version: [u16; 4], company: &str) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend([0u8; 6]);
        data.extend(utf16("VS_VERSION_INFO\0"));
        while data.len() % 4 != 0 {
            data.push(0);
        }
        data.extend(FIXED_FILE_INFO_SIGNATURE.to_le_bytes());
        data.extend(0x0001_0000u32.to_le_bytes());
        data.extend(((u32::from(version[0]) << 16) | u32::from(version[1])).to_le_bytes());
        data.extend(((u32::from(version[2]) << 16) | u32::from(version[3])).to_le_bytes());
        data.extend([0u8; 36]);
        let entry_start = data.len();
        let value = utf16(&format!("{company}\0"));
        data.extend([0u8; 4]);
        data.extend(1u16.to_le_bytes());
        data.extend(utf16("CompanyName\0"));
        while data.len() % 4 != 0 {
            data.push(0);
        }
        data.extend(&value);
        let entry_length = (data.len() - entry_start) as u16;
        data[entry_start..entry_start + 2].copy_from_slice(&entry_length.to_le_bytes());
        let value_length = (value.len() / 2) as u16;
        data[entry_start + 2..entry_start + 4].copy_from_slice(&value_length.to_le_bytes());
        let total = data.len() as u16;
        data[0..2].copy_from_slice(&total.to_le_bytes());
        data[2..4].copy_from_slice(&52u16.to_le_bytes());
        data
    }

    #[test]
    fn the_file_version_and_company_are_read() {
        let info = parse_version_info(&block([5, 2, 3790, 4062], "Microsoft Corporation"));
        assert_eq!(info.file_version.as_deref(), Some("5.2.3790.4062"));
        assert_eq!(info.company.as_deref(), Some("Microsoft Corporation"));
    }

    #[test]
    fn what_is_no_version_block_reads_as_nothing() {
        for data in [&b""[..], b"VS_VERSION_INFO", &[0xFF; 200]] {
            assert_eq!(parse_version_info(data), VersionInfo::default());
        }
        let mut cut = block([1, 0, 0, 0], "Vendor");
        cut.truncate(50);
        assert_eq!(parse_version_info(&cut).file_version, None);
    }

    #[test]
    fn wines_kernel32_says_its_version_and_microsoft() {
        let path = Path::new("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernel32.dll");
        if !path.exists() {
            return;
        }
        let info = read_version(path).expect("kernel32 has a version resource");
        assert!(info.file_version.is_some_and(|v| v.starts_with("10.")));
        assert_eq!(info.company.as_deref(), Some("Microsoft Corporation"));
    }
}
