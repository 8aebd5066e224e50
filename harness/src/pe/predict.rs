//! The prediction from headers: which processes would accept an image, following the table of
//! what real loaders do with odd images in `mod.rs`. Labelled as a prediction wherever it is
//! shown, and checked against real loads.

use super::*;

/// Which processes the headers say the loader would accept the image in, on x86 and x64
/// Windows (and Wine). A prediction: only a real load decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "PredictionJson")]
pub struct Prediction {
    pub loads_in_32bit: bool,
    pub loads_in_64bit: bool,
    pub reason: PredictionReason,
}

/// Why the headers predict what they do; each names a row of the ground-truth table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionReason {
    /// No readable PE signature: 193 everywhere (rows 10, 12, 16).
    NotPe,
    /// A PE image whose optional header or section table cannot be read (rows 13, 15).
    Unreadable,
    /// An optional header magic that is neither PE32 nor PE32+ (row 9).
    UnknownMagic,
    /// Machine and magic disagree, e.g. I386 with PE32+ (row 8).
    MagicMismatch,
    /// A machine neither x86 nor x64 Windows runs (row 7).
    ForeignMachine(Machine),
    /// A native x86 or AMD64 image: only its own bitness (rows 1 to 4).
    Native(Machine),
    /// A 32-bit image without code, which 64-bit processes accept too (row 5).
    NoCode32,
    /// A 64-bit image without code: there is no such escape the other way (row 3).
    NoCode64,
    /// An IL-only .NET image (runtime >= 2.5, no 32BITREQUIRED) which 64-bit processes accept
    /// too on Windows 8 and later and on Wine (row 6).
    IlOnly,
    /// IL-only but 32BITREQUIRED: Windows keeps it to 32-bit processes; Wine ignores the flag
    /// (row 6).
    IlOnly32BitRequired,
    /// IL-only for a runtime older than 2.5: Windows treats it as a native x86 image; Wine
    /// ignores the version (row 6).
    IlOnlyOldRuntime,
}

impl ImageInfo {
    /// A DLL of `machine` whose headers were not read: one of the running Windows's own system
    /// files, known by its folder (System32 or SysWOW64) and listed by name only.
    pub fn unread_dll(machine: Machine) -> ImageInfo {
        let bits = machine.bits();
        ImageInfo {
            mz: true,
            pe: true,
            machine: Some(machine),
            machine_code: None,
            bits,
            has_code: Some(true),
            is_dll: Some(true),
            magic_matches_machine: Some(bits.is_some()),
            clr: None,
            isapi_exports: super::IsapiExports::none(),
            exports: Vec::new(),
            imports: Vec::new(),
            problem: None,
        }
    }

    /// Predicts from the headers which processes would load the image.
    pub fn predict(&self) -> Prediction {
        let neither = |reason| Prediction { loads_in_32bit: false, loads_in_64bit: false, reason };
        let only = |bits: Bits, reason| Prediction {
            loads_in_32bit: bits == Bits::B32,
            loads_in_64bit: bits == Bits::B64,
            reason,
        };
        let both = |reason| Prediction { loads_in_32bit: true, loads_in_64bit: true, reason };

        let (true, Some(machine)) = (self.pe, self.machine) else {
            return neither(PredictionReason::NotPe);
        };
        if self.bits.is_none() {
            return neither(PredictionReason::UnknownMagic);
        }
        let Some(has_code) = self.has_code else {
            return neither(PredictionReason::Unreadable);
        };
        if !matches!(machine, Machine::X86 | Machine::Amd64) {
            return neither(PredictionReason::ForeignMachine(machine));
        }
        if self.magic_matches_machine != Some(true) {
            return neither(PredictionReason::MagicMismatch);
        }
        if machine == Machine::Amd64 {
            // A 64-bit image never loads in a 32-bit process, code or not (row 3).
            let reason = if has_code {
                PredictionReason::Native(machine)
            } else {
                PredictionReason::NoCode64
            };
            return only(Bits::B64, reason);
        }
        // The order is the loader's: Wine's is_valid_binary lets any code-less 32-bit image
        // through before it looks at the COR20 header.
        if !has_code {
            return both(PredictionReason::NoCode32);
        }
        match self.clr {
            Some(clr) if clr.il_only && clr.requires_32bit => {
                only(Bits::B32, PredictionReason::IlOnly32BitRequired)
            }
            Some(clr) if clr.il_only && !clr.runtime_at_least_2_5() => {
                only(Bits::B32, PredictionReason::IlOnlyOldRuntime)
            }
            Some(clr) if clr.il_only => both(PredictionReason::IlOnly),
            _ => only(Bits::B32, PredictionReason::Native(machine)),
        }
    }
}

impl Prediction {
    /// "32-bit processes only", "32- and 64-bit processes", ...
    pub fn processes(&self) -> &'static str {
        match (self.loads_in_32bit, self.loads_in_64bit) {
            (true, true) => "32- and 64-bit processes",
            (true, false) => "32-bit processes only",
            (false, true) => "64-bit processes only",
            (false, false) => "neither 32- nor 64-bit processes (Win32 error 193)",
        }
    }
}

impl fmt::Display for PredictionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PredictionReason::NotPe => f.write_str("it is not a PE image"),
            PredictionReason::Unreadable => {
                f.write_str("the optional header or section table is truncated or corrupt")
            }
            PredictionReason::UnknownMagic => f.write_str("the optional header magic is unknown"),
            PredictionReason::MagicMismatch => {
                f.write_str("the machine and the optional header magic disagree")
            }
            PredictionReason::ForeignMachine(machine) => {
                write!(f, "{machine} code runs on neither x86 nor x64 Windows")
            }
            PredictionReason::Native(machine) => match machine.bits() {
                Some(bits) => write!(f, "a native {machine} image with code needs a {bits} process"),
                None => write!(f, "a native {machine} image"),
            },
            PredictionReason::NoCode32 => f.write_str(
                "a 32-bit image without code (resource-only style) is also accepted by 64-bit processes",
            ),
            PredictionReason::NoCode64 => f.write_str(
                "a 64-bit image needs a 64-bit process even without code (only 32-bit images without code may cross over)",
            ),
            PredictionReason::IlOnly => f.write_str(
                "an IL-only .NET image is also accepted by 64-bit processes (Windows 8 and later, Wine; Windows 7 and older refuse)",
            ),
            PredictionReason::IlOnly32BitRequired => f.write_str(
                "an IL-only .NET image marked 32BITREQUIRED stays in 32-bit processes on Windows (Wine ignores the flag and loads it in 64-bit processes too)",
            ),
            PredictionReason::IlOnlyOldRuntime => f.write_str(
                "an IL-only image for a runtime older than 2.5 counts as native x86 on Windows (Wine ignores the version and loads it in 64-bit processes too)",
            ),
        }
    }
}

/// A [`Prediction`] as its JSON has it: the reason in words.
#[derive(Serialize, schemars::JsonSchema)]
struct PredictionJson {
    loads_in_32bit: bool,
    loads_in_64bit: bool,
    /// Why, in words: the row of the ground-truth table the headers fall under.
    reason: String,
}

/// Described as what it serialises into.
impl schemars::JsonSchema for Prediction {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Prediction".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        PredictionJson::json_schema(generator)
    }
}

impl From<Prediction> for PredictionJson {
    fn from(prediction: Prediction) -> PredictionJson {
        PredictionJson {
            loads_in_32bit: prediction.loads_in_32bit,
            loads_in_64bit: prediction.loads_in_64bit,
            reason: prediction.reason.to_string(),
        }
    }
}
