//! Bounds-checked integer reads in either byte order: `None` past the end, never a panic.

pub(super) fn bytes<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

pub(super) fn le32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_le_bytes)
}

pub(super) fn be32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_be_bytes)
}

#[inline]
pub(super) fn read32(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    if big_endian {
        be32(b, at)
    } else {
        le32(b, at)
    }
}

pub(super) fn read16(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let v = bytes(b, at)?;
    Some(if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    })
}

pub(super) fn read64(b: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let v = bytes(b, at)?;
    Some(if big_endian {
        u64::from_be_bytes(v)
    } else {
        u64::from_le_bytes(v)
    })
}
