//! The checksum every view is held to: 32-bit FNV-1a over little-endian bytes. Simple to
//! reimplement in any language, which matters more here than speed or strength: it detects
//! divergence, it does not defend against forgery. A leaf module: the replicated state and
//! the schema's description both feed it.

/// 32-bit FNV-1a, fed with little-endian field bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(u32);

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

impl Default for Checksum {
    fn default() -> Self {
        Checksum(FNV_OFFSET_BASIS)
    }
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum::default()
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u32::from(*byte)).wrapping_mul(FNV_PRIME);
        }
    }

    pub fn write_u32(&mut self, value: u32) {
        self.write_bytes(&value.to_le_bytes());
    }

    pub fn finish(self) -> u32 {
        self.0
    }
}
