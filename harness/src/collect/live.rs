//! `collect` on the server itself (the Windows build, run as an administrator): its drives are
//! this machine's, its Windows folder is `%windir%`, and its Windows and runtimes come from the
//! live registry, through the same questions `registry` asks of offline hives.

use std::path::PathBuf;

use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, REG_DWORD, REG_EXPAND_SZ, REG_QWORD,
    REG_SZ, RegCloseKey, RegEnumKeyExW, RegOpenKeyExW, RegQueryValueExW,
};

use super::registry::{Hive, Registry, Value};

/// The live registry, read through `HKEY_LOCAL_MACHINE\SOFTWARE` and `SYSTEM` in their 64-bit
/// view, so that `WOW6432Node` is a key like any other whatever this build's bitness.
pub struct LiveRegistry;

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// An open key, closed when dropped.
struct Key(HKEY);

impl Key {
    fn open(hive: Hive, path: &str) -> Option<Key> {
        let root = match hive {
            Hive::Software => "SOFTWARE",
            Hive::System => "SYSTEM",
        };
        let name = wide(&format!(r"{root}\{path}"));
        let mut key: HKEY = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; `key` receives the handle.
        let status = unsafe {
            RegOpenKeyExW(
                HKEY_LOCAL_MACHINE,
                name.as_ptr(),
                0,
                KEY_READ | KEY_WOW64_64KEY,
                &mut key,
            )
        };
        (status == ERROR_SUCCESS).then_some(Key(key))
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW and is closed once.
        unsafe {
            RegCloseKey(self.0);
        }
    }
}

impl Registry for LiveRegistry {
    fn value(&mut self, hive: Hive, key: &str, name: &str) -> Option<Value> {
        let key = Key::open(hive, key)?;
        let name = wide(name);
        let mut kind = 0u32;
        let mut size = 0u32;
        // SAFETY: a size query: no data pointer, `kind` and `size` receive the answer.
        let status = unsafe {
            RegQueryValueExW(
                key.0,
                name.as_ptr(),
                std::ptr::null(),
                &mut kind,
                std::ptr::null_mut(),
                &mut size,
            )
        };
        if status != ERROR_SUCCESS || size > 64 * 1024 {
            return None;
        }
        let mut data = vec![0u8; size as usize];
        // SAFETY: `data` holds `size` bytes, as the call is told.
        let status = unsafe {
            RegQueryValueExW(
                key.0,
                name.as_ptr(),
                std::ptr::null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut size,
            )
        };
        if status != ERROR_SUCCESS {
            return None;
        }
        data.truncate(size as usize);
        match kind {
            REG_SZ | REG_EXPAND_SZ => {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                    .take_while(|&unit| unit != 0)
                    .collect();
                Some(Value::Text(String::from_utf16_lossy(&units)))
            }
            REG_DWORD => {
                Some(Value::Number(u64::from(u32::from_le_bytes(data.get(..4)?.try_into().ok()?))))
            }
            REG_QWORD => Some(Value::Number(u64::from_le_bytes(data.get(..8)?.try_into().ok()?))),
            _ => None,
        }
    }

    fn subkeys(&mut self, hive: Hive, key: &str) -> Vec<String> {
        let Some(key) = Key::open(hive, key) else { return Vec::new() };
        let mut names = Vec::new();
        for index in 0.. {
            let mut name = [0u16; 256];
            let mut length = name.len() as u32;
            // SAFETY: `name` holds `length` UTF-16 units, as the call is told.
            let status = unsafe {
                RegEnumKeyExW(
                    key.0,
                    index,
                    name.as_mut_ptr(),
                    &mut length,
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if status != ERROR_SUCCESS {
                break;
            }
            names.push(String::from_utf16_lossy(&name[..length as usize]));
        }
        names
    }
}

/// This machine's drives: C: and every other letter that exists.
pub fn drives() -> Vec<(char, PathBuf)> {
    ('D'..='Z')
        .map(|letter| (letter, PathBuf::from(format!("{letter}:\\"))))
        .filter(|(_, root)| root.is_dir())
        .collect()
}
