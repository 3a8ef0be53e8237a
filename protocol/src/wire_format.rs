//! The two encodings of the protocol and their names, which the WebSocket subprotocol
//! carries. What each one does to bytes is [`crate::codec`]'s; this leaf module only names
//! them, so the schema's subprotocols do not depend on the codec.

/// The two encodings of the protocol, chosen per connection by the WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// bincode 2, binary frames. The compact default.
    Bincode,
    /// JSON, text frames. For browsers and scripts.
    Json,
}

impl WireFormat {
    /// Every format, in the server's order of preference.
    pub const ALL: [WireFormat; 2] = [WireFormat::Bincode, WireFormat::Json];

    /// The codec's name, the last part of a subprotocol (`bincode`, `json`).
    pub fn codec_name(self) -> &'static str {
        match self {
            WireFormat::Bincode => "bincode",
            WireFormat::Json => "json",
        }
    }

    /// The format a codec name selects, if any.
    pub fn from_codec_name(name: &str) -> Option<WireFormat> {
        WireFormat::ALL
            .into_iter()
            .find(|format| format.codec_name() == name)
    }

    /// Whether frames of this format are WebSocket text frames (else binary).
    pub fn uses_text_frames(self) -> bool {
        self == WireFormat::Json
    }
}

impl std::fmt::Display for WireFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.codec_name())
    }
}
