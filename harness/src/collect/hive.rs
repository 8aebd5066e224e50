//! Registry hive files (`regf`, as in `Windows\System32\config\SOFTWARE`), read just far enough
//! for `registry.rs`'s questions: a key by its path, the names of its subkeys, a value by name.
//!
//! The format, as Windows writes it from NT 4.0 on: a 4 KB base block (`regf`, the format's
//! minor version at 0x18, the root key's cell at 0x24), then hive bins full of cells. A cell
//! offset counts from the end of the base block; a cell starts with its size as an i32
//! (negative while the cell is in use) and its data follows. The cells read here:
//!
//! - `nk`, a key: flags (0x02; 0x20 means its name is Latin-1 rather than UTF-16), the number of
//!   subkeys and their list (0x14, 0x1C), the number of values and their list (0x24, 0x28), the
//!   name's length and the name (0x48, 0x4C).
//! - `lf`, `lh`, `li`: a list of subkeys (a count at 0x02, then 8-byte entries, a cell and a
//!   hash, or 4-byte ones for `li`); `ri`, a list of such lists, for keys with many subkeys.
//! - A value list: one cell offset per value, as many as the key counts.
//! - `vk`, a value: its name's length (0x02), the data's length (0x04; the top bit set means
//!   up to 4 bytes held in the next field itself), the data's cell (0x08), its type (0x0C),
//!   flags (0x10; 1 means a Latin-1 name) and the name (0x14). Data over 16,344 bytes in a hive
//!   of minor version 4 or later lies in a `db` cell: a count of segments and a list of them.
//!
//! Names compare without regard to case, as the registry's do. Transaction logs beside a hive
//! are not applied: what is read is what the file holds. A hive that is cut short or whose
//! offsets point nowhere gives no key or no value there rather than an error: the questions
//! asked of it are each optional.
//!
//! Written here rather than taken from a crate: the one reader with a licence the harness can
//! ship under brought about 80 crates into every build (a terminal library among them) for
//! these few hundred lines.

/// Where hive bins start, and cell offsets count from.
const BASE_BLOCK: usize = 4096;
/// A key whose name is stored one byte per character.
const KEY_COMPRESSED_NAME: u16 = 0x0020;
/// A value whose name is stored one byte per character.
const VALUE_COMPRESSED_NAME: u16 = 0x0001;
/// The largest data a value keeps in one cell; longer data is split into `db` segments.
const BIG_DATA_SEGMENT: usize = 16344;
/// How deep `ri` lists may nest before the reader stops following them (Windows writes one
/// level; a loop in a damaged file must not recurse for ever).
const MAX_INDEX_DEPTH: u32 = 4;

/// The value types read here.
const REG_SZ: u32 = 1;
const REG_EXPAND_SZ: u32 = 2;
const REG_DWORD: u32 = 4;
const REG_DWORD_BIG_ENDIAN: u32 = 5;
const REG_MULTI_SZ: u32 = 7;
const REG_QWORD: u32 = 11;

/// A hive file's bytes, checked to start with a base block.
pub struct HiveFile {
    bytes: Vec<u8>,
    minor_version: u32,
    root: u32,
}

/// A key of a [`HiveFile`], by its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(u32);

/// A value's data, by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// REG_SZ and REG_EXPAND_SZ (unexpanded), without the trailing NULs.
    Text(String),
    /// REG_MULTI_SZ, one string per item.
    Lines(Vec<String>),
    /// REG_DWORD (either byte order) and REG_QWORD.
    Number(u64),
    /// Any other type (binary data, links, resource lists).
    Other,
}

impl HiveFile {
    /// Checks that `bytes` start with a hive's base block whose root key lies inside the file.
    pub fn parse(bytes: Vec<u8>) -> Result<HiveFile, String> {
        if bytes.len() < BASE_BLOCK || &bytes[..4] != b"regf" {
            return Err("no `regf` base block at the start".to_owned());
        }
        let minor_version = u32_at(&bytes, 0x18).unwrap_or(0);
        let root = u32_at(&bytes, 0x24).unwrap_or(u32::MAX);
        let hive = HiveFile { bytes, minor_version, root };
        if hive.key_cell(root).is_none() {
            return Err(format!("its root key (cell {root:#x}) is not a key"));
        }
        Ok(hive)
    }

    /// The key at `path` below the root (`Microsoft\Windows NT\CurrentVersion`), any case.
    pub fn key(&self, path: &str) -> Option<Key> {
        path.split('\\').filter(|name| !name.is_empty()).try_fold(Key(self.root), |key, name| {
            let wanted = name.to_uppercase();
            self.subkeys(key)
                .into_iter()
                .find(|sub| self.key_name(*sub).is_some_and(|found| found.to_uppercase() == wanted))
        })
    }

    /// The names of `key`'s subkeys, in the hive's order.
    pub fn subkey_names(&self, key: Key) -> Vec<String> {
        self.subkeys(key).into_iter().filter_map(|sub| self.key_name(sub)).collect()
    }

    /// The value of `key` named `name` (any case; "" is the key's default value).
    pub fn value(&self, key: Key, name: &str) -> Option<Data> {
        let cell = self.key_cell(key.0)?;
        let count = u32_at(cell, 0x24)? as usize;
        if count == 0 {
            return None;
        }
        let list = self.cell(u32_at(cell, 0x28)?)?;
        let wanted = name.to_uppercase();
        (0..count)
            .filter_map(|index| self.cell(u32_at(list, index * 4)?))
            .filter(|value| value.starts_with(b"vk"))
            .find(|value| value_name(value).is_some_and(|found| found.to_uppercase() == wanted))
            .and_then(|value| self.value_data(value))
    }

    /// The data of the cell at `offset`, if the file holds all of it.
    fn cell(&self, offset: u32) -> Option<&[u8]> {
        let start = BASE_BLOCK.checked_add(usize::try_from(offset).ok()?)?;
        let size = i32::from_le_bytes(self.bytes.get(start..start + 4)?.try_into().ok()?);
        let size = usize::try_from(size.unsigned_abs()).ok()?;
        self.bytes.get(start + 4..start.checked_add(size)?)
    }

    fn key_cell(&self, offset: u32) -> Option<&[u8]> {
        self.cell(offset).filter(|cell| cell.starts_with(b"nk") && cell.len() >= 0x4C)
    }

    fn key_name(&self, key: Key) -> Option<String> {
        let cell = self.key_cell(key.0)?;
        let length = usize::from(u16_at(cell, 0x48)?);
        let name = cell.get(0x4C..0x4C + length)?;
        Some(decode_name(name, u16_at(cell, 0x02)? & KEY_COMPRESSED_NAME != 0))
    }

    fn subkeys(&self, key: Key) -> Vec<Key> {
        let Some(cell) = self.key_cell(key.0) else { return Vec::new() };
        if u32_at(cell, 0x14).unwrap_or(0) == 0 {
            return Vec::new();
        }
        let mut keys = Vec::new();
        if let Some(list) = u32_at(cell, 0x1C) {
            self.collect_subkeys(list, 0, &mut keys);
        }
        keys
    }

    /// Appends the keys a subkey list names (following an `ri` list into its lists).
    fn collect_subkeys(&self, list: u32, depth: u32, keys: &mut Vec<Key>) {
        let Some(cell) = self.cell(list) else { return };
        let count = usize::from(u16_at(cell, 0x02).unwrap_or(0));
        let entries = cell.get(4..).unwrap_or_default();
        let offsets = |stride: usize| {
            (0..count).filter_map(move |index| u32_at(entries, index * stride)).collect::<Vec<_>>()
        };
        match cell.get(..2) {
            Some(b"lf" | b"lh") => keys.extend(offsets(8).into_iter().map(Key)),
            Some(b"li") => keys.extend(offsets(4).into_iter().map(Key)),
            Some(b"ri") if depth < MAX_INDEX_DEPTH => {
                for sublist in offsets(4) {
                    self.collect_subkeys(sublist, depth + 1, keys);
                }
            }
            _ => {}
        }
    }

    fn value_data(&self, value: &[u8]) -> Option<Data> {
        let length = u32_at(value, 0x04)?;
        let kind = u32_at(value, 0x0C)?;
        let bytes = if length & 0x8000_0000 != 0 {
            // Up to four bytes, held where the data's cell would be named.
            let inline = (length & 0x7FFF_FFFF) as usize;
            value.get(0x08..0x08 + inline.min(4))?.to_vec()
        } else {
            let length = length as usize;
            let cell = self.cell(u32_at(value, 0x08)?)?;
            if length > BIG_DATA_SEGMENT && self.minor_version >= 4 && cell.starts_with(b"db") {
                self.big_data(cell, length)?
            } else {
                cell.get(..length)?.to_vec()
            }
        };
        Some(match kind {
            REG_SZ | REG_EXPAND_SZ => Data::Text(utf16_text(&bytes)),
            REG_MULTI_SZ => Data::Lines(
                utf16_text(&bytes)
                    .split('\0')
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            REG_DWORD => Data::Number(u64::from(u32_at(&bytes, 0)?)),
            REG_DWORD_BIG_ENDIAN => {
                Data::Number(u64::from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)))
            }
            REG_QWORD => Data::Number(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)),
            _ => Data::Other,
        })
    }

    /// A `db` cell's segments, joined and cut to the value's length.
    fn big_data(&self, cell: &[u8], length: usize) -> Option<Vec<u8>> {
        let segments = usize::from(u16_at(cell, 0x02)?);
        let list = self.cell(u32_at(cell, 0x04)?)?;
        let mut bytes = Vec::with_capacity(length);
        for index in 0..segments {
            let segment = self.cell(u32_at(list, index * 4)?)?;
            let wanted = (length - bytes.len()).min(BIG_DATA_SEGMENT).min(segment.len());
            bytes.extend_from_slice(&segment[..wanted]);
        }
        (bytes.len() == length).then_some(bytes)
    }
}

fn value_name(value: &[u8]) -> Option<String> {
    let length = usize::from(u16_at(value, 0x02)?);
    let name = value.get(0x14..0x14 + length)?;
    Some(decode_name(name, u16_at(value, 0x10)? & VALUE_COMPRESSED_NAME != 0))
}

/// A key's or value's name: Latin-1 bytes when compressed, else UTF-16LE.
fn decode_name(bytes: &[u8], compressed: bool) -> String {
    if compressed {
        bytes.iter().map(|&byte| char::from(byte)).collect()
    } else {
        utf16_text(bytes)
    }
}

/// UTF-16LE text without its trailing NULs (a registry string usually ends with one).
fn utf16_text(bytes: &[u8]) -> String {
    let units: Vec<u16> =
        bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]])).collect();
    String::from_utf16_lossy(&units).trim_end_matches('\0').to_owned()
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hive laid out by hand: the root `ROOT` with the subkey `Software` (a UTF-16 name),
    /// found through an `ri` list, holding a Latin-1 named REG_SZ, an inline REG_DWORD, a
    /// REG_MULTI_SZ and a REG_QWORD.
    fn small_hive() -> Vec<u8> {
        let mut bytes = vec![0u8; BASE_BLOCK];
        bytes[..4].copy_from_slice(b"regf");
        bytes[0x18..0x1C].copy_from_slice(&5u32.to_le_bytes());
        let mut cells: Vec<u8> = Vec::new();
        // Each cell: its size (negative: in use), then its data, padded to 8 bytes.
        let mut add = |data: Vec<u8>| -> u32 {
            let offset = cells.len() as u32;
            let size = (data.len() + 4).next_multiple_of(8);
            cells.extend_from_slice(&(-(size as i32)).to_le_bytes());
            cells.extend_from_slice(&data);
            cells.resize(offset as usize + size, 0);
            offset
        };
        let key = |name: &[u8], compressed: bool, subkeys: (u32, u32), values: (u32, u32)| {
            let mut data = vec![0u8; 0x4C];
            data[..2].copy_from_slice(b"nk");
            let flags: u16 = if compressed { KEY_COMPRESSED_NAME } else { 0 };
            data[0x02..0x04].copy_from_slice(&flags.to_le_bytes());
            data[0x14..0x18].copy_from_slice(&subkeys.0.to_le_bytes());
            data[0x1C..0x20].copy_from_slice(&subkeys.1.to_le_bytes());
            data[0x24..0x28].copy_from_slice(&values.0.to_le_bytes());
            data[0x28..0x2C].copy_from_slice(&values.1.to_le_bytes());
            data[0x48..0x4A].copy_from_slice(&(name.len() as u16).to_le_bytes());
            data.extend_from_slice(name);
            data
        };
        let value = |name: &str, kind: u32, length: u32, data_field: u32| {
            let mut data = vec![0u8; 0x14];
            data[..2].copy_from_slice(b"vk");
            data[0x02..0x04].copy_from_slice(&(name.len() as u16).to_le_bytes());
            data[0x04..0x08].copy_from_slice(&length.to_le_bytes());
            data[0x08..0x0C].copy_from_slice(&data_field.to_le_bytes());
            data[0x0C..0x10].copy_from_slice(&kind.to_le_bytes());
            data[0x10..0x12].copy_from_slice(&VALUE_COMPRESSED_NAME.to_le_bytes());
            data.extend_from_slice(name.as_bytes());
            data
        };
        let utf16 =
            |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };

        let version_text = add(utf16("5.2\0"));
        let lines = add(utf16("one\0two\0\0"));
        let qword = add(0x1_0000_0002u64.to_le_bytes().to_vec());
        let values = [
            add(value("CurrentVersion", REG_SZ, 8, version_text)),
            add(value("Installed", REG_DWORD, 0x8000_0004, 1)),
            add(value("Paths", REG_MULTI_SZ, 18, lines)),
            add(value("Big", REG_QWORD, 8, qword)),
        ];
        let value_list = add(values.iter().flat_map(|offset| offset.to_le_bytes()).collect());
        let software = add(key(&utf16("Software"), false, (0, u32::MAX), (4, value_list)));
        let mut leaf = b"lh".to_vec();
        leaf.extend_from_slice(&1u16.to_le_bytes());
        leaf.extend_from_slice(&software.to_le_bytes());
        leaf.extend_from_slice(&0u32.to_le_bytes());
        let leaf = add(leaf);
        let mut index = b"ri".to_vec();
        index.extend_from_slice(&1u16.to_le_bytes());
        index.extend_from_slice(&leaf.to_le_bytes());
        let index = add(index);
        let root = add(key(b"ROOT", true, (1, index), (0, u32::MAX)));
        bytes[0x24..0x28].copy_from_slice(&root.to_le_bytes());
        bytes.extend_from_slice(&cells);
        bytes
    }

    #[test]
    fn keys_and_values_are_found_by_name_in_any_case() {
        let hive = HiveFile::parse(small_hive()).unwrap();
        let root = hive.key("").unwrap();
        assert_eq!(hive.subkey_names(root), ["Software"]);
        let software = hive.key(r"SOFTWARE").unwrap();
        assert_eq!(hive.key(r"\software\"), Some(software));
        assert_eq!(hive.value(software, "currentversion"), Some(Data::Text("5.2".into())));
        assert_eq!(hive.value(software, "Installed"), Some(Data::Number(1)));
        assert_eq!(
            hive.value(software, "Paths"),
            Some(Data::Lines(vec!["one".into(), "two".into()]))
        );
        assert_eq!(hive.value(software, "Big"), Some(Data::Number(0x1_0000_0002)));
        assert_eq!(hive.value(software, "Absent"), None);
        assert_eq!(hive.key(r"Software\Absent"), None);
    }

    #[test]
    fn a_file_that_is_no_hive_is_refused_and_a_damaged_one_answers_nothing() {
        assert!(HiveFile::parse(b"MZ".repeat(4096)).err().expect("refused").contains("regf"));
        let mut bytes = small_hive();
        let root = u32_at(&bytes, 0x24).unwrap() as usize;
        let mut no_root = bytes.clone();
        no_root[BASE_BLOCK + root + 4..BASE_BLOCK + root + 6].copy_from_slice(b"xx");
        assert!(HiveFile::parse(no_root).err().expect("refused").contains("root key"));
        // The subkey list points past the end of the file.
        let list_field = BASE_BLOCK + root + 4 + 0x1C;
        bytes[list_field..list_field + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        let hive = HiveFile::parse(bytes).unwrap();
        assert_eq!(hive.key("Software"), None);
        assert!(hive.subkey_names(hive.key("").unwrap()).is_empty());
    }
}
