//! Architectures, bitnesses and operating systems: the words the whole harness is written in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A processor architecture a filter image or a host program is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86,
    Amd64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86, Arch::Amd64];

    /// The folder name used for this architecture under `target/isapi-harness/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Amd64 => "amd64",
        }
    }

    pub fn bits(self) -> Bits {
        match self {
            Arch::X86 => Bits::B32,
            Arch::Amd64 => Bits::B64,
        }
    }

    /// The .NET Framework folder that holds this architecture's build of ASP.NET.
    pub fn framework_folder(self) -> &'static str {
        match self {
            Arch::X86 => "Framework",
            Arch::Amd64 => "Framework64",
        }
    }

    pub fn parse(text: &str) -> Option<Arch> {
        match text.to_ascii_lowercase().as_str() {
            "x86" | "i386" | "i686" | "32" => Some(Arch::X86),
            "amd64" | "x64" | "x86_64" | "64" => Some(Arch::Amd64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86 => "x86",
            Arch::Amd64 => "AMD64",
        })
    }
}

/// "a" or "an" before an architecture or machine name, as the name is read aloud: "an x86",
/// "an AMD64", "an ARM64", "an IA64", "a 0x01c4". Upper-case names are read letter by
/// letter, and the letters whose names start with a vowel sound take "an".
pub fn article(name: &str) -> &'static str {
    let mut chars = name.chars();
    let (Some(first), second) = (chars.next(), chars.next()) else { return "a" };
    let spelled_out = first.is_ascii_uppercase()
        && second.is_none_or(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let an = if spelled_out {
        "AEFHILMNORSX".contains(first)
    } else {
        // Lower case: `x86` is read "ex-eighty-six"; other words by their first vowel.
        "aeiouxAEIOU8".contains(first)
    };
    if an { "an" } else { "a" }
}

/// The bitness of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bits {
    B32,
    B64,
}

impl Bits {
    pub fn number(self) -> u32 {
        match self {
            Bits::B32 => 32,
            Bits::B64 => 64,
        }
    }

    pub fn other(self) -> Bits {
        match self {
            Bits::B32 => Bits::B64,
            Bits::B64 => Bits::B32,
        }
    }

    /// The build of the host program that runs at this bitness.
    pub fn host_arch(self) -> Arch {
        match self {
            Bits::B32 => Arch::X86,
            Bits::B64 => Arch::Amd64,
        }
    }
}

impl Serialize for Bits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.number())
    }
}

/// The number, as [`Bits`] serialises.
impl schemars::JsonSchema for Bits {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bits".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "enum": [Bits::B32.number(), Bits::B64.number()],
        })
    }
}

impl<'de> Deserialize<'de> for Bits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u32::deserialize(deserializer)? {
            32 => Ok(Bits::B32),
            64 => Ok(Bits::B64),
            other => Err(serde::de::Error::custom(format!("bits must be 32 or 64, not {other}"))),
        }
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-bit", self.number())
    }
}

/// The bitness of the simulated Windows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    X64,
    X86,
}

impl Os {
    /// The bitness of a process that is 64-bit wherever the OS allows it (inetinfo.exe; a
    /// worker process without WOW64).
    pub fn native_bits(self) -> Bits {
        match self {
            Os::X64 => Bits::B64,
            Os::X86 => Bits::B32,
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Os::X64 => "x64",
            Os::X86 => "x86",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::article;

    #[test]
    fn names_take_the_article_they_are_read_with() {
        for name in ["x86", "AMD64", "ARM64", "ARM", "IA64", "x64"] {
            assert_eq!(article(name), "an", "{name}");
        }
        for name in ["0x01c4", "PowerPC", "32-bit"] {
            assert_eq!(article(name), "a", "{name}");
        }
    }
}
