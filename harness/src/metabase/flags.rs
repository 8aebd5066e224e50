//! The flag-typed properties: the names IIS writes for their bits, and reading and writing a
//! value by those names.
//!
//! IIS 6.0 writes a flag DWORD symbolically, its flags' names joined by `" | "`
//! (`AccessFlags="AccessRead | AccessScript"`), and `"0"` when no flag is set. The names and
//! their values are MBSchema.xml's: each flag property of the `IIsConfigObject` collection has
//! `<Flag InternalName= Value=>` children. [`FLAG_TABLES`] is those lists as the real schema
//! `tests/data/real/iis6/schema/modsic-mbschema-sample.xml` holds them (lines 509-614, every
//! `<Flag>` of the file), in the schema's order. That is the order IIS writes names in: the kept
//! metabase has `AuthBasic | AuthNTLM | AuthMD5` (line 976, Basic = 2 before Anonymous = 1 in
//! the schema), and published excerpts of other servers' files have
//! `AccessExecute | AccessRead | AccessScript` and `EnableDirBrowsing | DirBrowseShowDate | ...`
//! (0x80000000 first): neither by value nor alphabetical, but as the schema lists them.
//!
//! The table is in the code rather than read from MBSchema.xml at run time because users bring
//! a MetaBase.xml without its schema. Only one real IIS 6.0 schema was found; a build whose
//! schema names more flags needs them added here (a value with an unnamed bit still reads, by
//! number).

/// One flag property: its name and its flags, in MBSchema.xml's order.
pub(crate) struct FlagTable {
    pub(crate) property: &'static str,
    pub(crate) flags: &'static [(&'static str, u32)],
}

/// Every flag property of MBSchema.xml with its flags; a test compares it with the kept file.
pub(crate) const FLAG_TABLES: &[FlagTable] = &[
    FlagTable {
        property: "AccessFlags",
        flags: &[
            ("AccessExecute", 4),
            ("AccessSource", 16),
            ("AccessRead", 1),
            ("AccessWrite", 2),
            ("AccessScript", 512),
            ("AccessNoRemoteExecute", 8192),
            ("AccessNoRemoteRead", 4096),
            ("AccessNoRemoteWrite", 1024),
            ("AccessNoRemoteScript", 16384),
            ("AccessNoPhysicalDir", 32768),
        ],
    },
    FlagTable {
        property: "AccessSSLFlags",
        flags: &[
            ("AccessSSL", 8),
            ("AccessSSL128", 256),
            ("AccessSSLNegotiateCert", 32),
            ("AccessSSLRequireCert", 64),
            ("AccessSSLMapCert", 128),
        ],
    },
    FlagTable {
        property: "AuthFlags",
        flags: &[
            ("AuthBasic", 2),
            ("AuthAnonymous", 1),
            ("AuthNTLM", 4),
            ("AuthMD5", 16),
            ("AuthPassport", 64),
        ],
    },
    FlagTable { property: "AuthPersistence", flags: &[("AuthPersistSingleRequest", 64)] },
    FlagTable {
        property: "DirBrowseFlags",
        flags: &[
            ("EnableDirBrowsing", 2147483648),
            ("DirBrowseShowDate", 2),
            ("DirBrowseShowTime", 4),
            ("DirBrowseShowSize", 8),
            ("DirBrowseShowExtension", 16),
            ("DirBrowseShowLongDate", 32),
            ("EnableDefaultDoc", 1073741824),
        ],
    },
    FlagTable {
        property: "FilterFlags",
        flags: &[
            ("NotifySecurePort", 1),
            ("NotifyNonSecurePort", 2),
            ("NotifyReadRawData", 32768),
            ("NotifyPreProcHeaders", 16384),
            ("NotifyAuthentication", 8192),
            ("NotifyUrlMap", 4096),
            ("NotifyAccessDenied", 2048),
            ("NotifySendResponse", 64),
            ("NotifySendRawData", 1024),
            ("NotifyLog", 512),
            ("NotifyEndOfRequest", 128),
            ("NotifyEndOfNetSession", 256),
            ("NotifyOrderHigh", 524288),
            ("NotifyOrderMedium", 262144),
            ("NotifyOrderLow", 131072),
            ("NotifyAuthComplete", 67108864),
        ],
    },
    FlagTable {
        property: "LogExtFileFlags",
        flags: &[
            ("LogExtFileDate", 1),
            ("LogExtFileHost", 1048576),
            ("LogExtFileTime", 2),
            ("LogExtFileClientIp", 4),
            ("LogExtFileUserName", 8),
            ("LogExtFileSiteName", 16),
            ("LogExtFileComputerName", 32),
            ("LogExtFileServerIp", 64),
            ("LogExtFileMethod", 128),
            ("LogExtFileUriStem", 256),
            ("LogExtFileUriQuery", 512),
            ("LogExtFileHttpStatus", 1024),
            ("LogExtFileWin32Status", 2048),
            ("LogExtFileBytesSent", 4096),
            ("LogExtFileBytesRecv", 8192),
            ("LogExtFileTimeTaken", 16384),
            ("LogExtFileServerPort", 32768),
            ("LogExtFileUserAgent", 65536),
            ("LogExtFileCookie", 131072),
            ("LogExtFileReferer", 262144),
            ("LogExtFileProtocolVersion", 524288),
            ("LogExtFileHttpSubStatus", 2097152),
        ],
    },
    FlagTable {
        property: "PasswordChangeFlags",
        flags: &[("AuthChangeUnsecure", 1), ("AuthChangeDisable", 2), ("AuthAdvNotifyDisable", 4)],
    },
    FlagTable {
        property: "ServerConfigFlags",
        flags: &[
            ("ServerConfigSSL40", 1),
            ("ServerConfigSSL128", 2),
            ("ServerConfigSSLAllowEncrypt", 4),
            ("ServerConfigAutoPWSync", 8),
        ],
    },
    FlagTable {
        property: "AspAppServiceFlags",
        flags: &[("AspEnableTracker", 1), ("AspEnableSxs", 2), ("AspUsePartition", 4)],
    },
    FlagTable {
        property: "LogEventOnRecycle",
        flags: &[
            ("AppPoolRecycleTime", 1),
            ("AppPoolRecycleRequests", 2),
            ("AppPoolRecycleSchedule", 4),
            ("AppPoolRecycleMemory", 8),
            ("AppPoolRecycleIsapiUnhealthy", 16),
            ("AppPoolRecycleOnDemand", 32),
            ("AppPoolRecycleConfigChange", 64),
            ("AppPoolRecyclePrivateMemory", 128),
        ],
    },
];

/// The flag table of a property, if it is a flag property.
pub(crate) fn table(property: &str) -> Option<&'static FlagTable> {
    FLAG_TABLES.iter().find(|table| table.property.eq_ignore_ascii_case(property))
}

/// Why a flag value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FlagError {
    /// An item between the bars that is neither a number nor a name (`AccessRead |`).
    Empty,
    /// A name the property's table does not have.
    Unknown(String),
}

impl FlagTable {
    /// The value of flags written as IIS writes them or as a user types them: names or numbers
    /// (decimal, or `0x` hexadecimal) joined by `|`, with any blanks or line breaks around
    /// them. Names match in any case: MBSchema gives no case rule for flag names, and the
    /// metabase treats other names (keys, properties) without case, so a file IIS would read
    /// is not refused here for its spelling.
    pub(crate) fn value_of(&self, text: &str) -> Result<u32, FlagError> {
        let text = text.trim();
        if text.is_empty() {
            // An empty value is no flag set, as the schema's `DefaultValue=""` would be.
            return Ok(0);
        }
        text.split('|').map(str::trim).try_fold(0u32, |bits, item| {
            if item.is_empty() {
                return Err(FlagError::Empty);
            }
            if let Some(number) = parse_u32(item) {
                return Ok(bits | number);
            }
            self.flags
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(item))
                .map(|(_, value)| bits | value)
                .ok_or_else(|| FlagError::Unknown(item.to_string()))
        })
    }

    /// The value as IIS writes it: the names of the bits set, in the schema's order, joined by
    /// `" | "`; `0` when none is set. A value with a bit the schema has no name for is written
    /// as its decimal number: no source shows what IIS writes then, and a number says exactly
    /// what is set.
    pub(crate) fn text_of(&self, bits: u32) -> String {
        if bits == 0 {
            return "0".to_string();
        }
        let named = self.flags.iter().fold(0u32, |all, (_, value)| all | value);
        if bits & !named != 0 {
            return bits.to_string();
        }
        self.flags
            .iter()
            .filter(|(_, value)| bits & value == *value)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The names, for messages: `AccessExecute, AccessSource, ...`.
    pub(crate) fn names(&self) -> String {
        self.flags.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }
}

/// Whether a stored value is written as a plain number (`131072`) rather than by names: an
/// edit keeps that form, so that setting a value and setting it back restores the file's bytes.
/// `0` says nothing, since IIS writes no flag set as `0` too.
pub(crate) fn is_numeric(text: &str) -> bool {
    parse_u32(text).is_some_and(|number| number != 0)
}

/// A DWORD in decimal (as IIS writes it) or `0x` hexadecimal.
pub(crate) fn parse_u32(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
