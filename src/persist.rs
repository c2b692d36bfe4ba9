//! Saving and loading weights: postcard bytes with a header that rejects
//! another architecture's weights and a CRC-32 trailer that rejects corrupted
//! ones.
//!
//! Layout of a saved model, format version 2 (what postcard writes for
//! [`Weights`]; `P` = `M::LEN * T::BYTES`, the parameters' bytes):
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | magic `CNET` |
//! | 4 | format version ([`FORMAT_VERSION`], 2) |
//! | 5 | scalar size in bytes (4 for `f32`, 8 for `f64`) |
//! | 6..8 | reserved, must be zero |
//! | 8..16 | the model's [`Model::FINGERPRINT`], little-endian |
//! | 16..16 + P | every parameter, little-endian, in memory order |
//! | 16 + P..20 + P | [`crc32`] (IEEE 802.3, as zlib) of bytes 0..16 + P, little-endian |
//!
//! Postcard writes a float as its little-endian bytes and a fixed-size tuple
//! without a length, so past the 16-byte header the blob is exactly the
//! model's memory image on a little-endian machine, followed by the 4-byte
//! checksum. That is what lets [`view`] use weights where they lie (in flash)
//! with no copy at all, while [`load_into`] fills caller storage (a `static`)
//! without building the model on the stack. The checksum is a trailer, not a
//! header field, so that the parameters still start at byte 16 and keep the
//! alignment `view` needs.
//!
//! Both check a blob the same way, in this order, and return the first
//! failure as a [`LoadError`]:
//!
//! 1. at least [`HEADER_LEN`] bytes ([`LoadError::Truncated`]), the magic
//!    ([`LoadError::BadMagic`]), the version ([`LoadError::UnsupportedVersion`])
//!    and the scalar size ([`LoadError::ScalarMismatch`]): what the blob is;
//! 2. the length, [`saved_len`]: if it is wrong, the fingerprint tells
//!    another architecture's weights ([`LoadError::WrongArchitecture`]) from
//!    a cut or padded blob ([`LoadError::Truncated`],
//!    [`LoadError::TrailingBytes`]);
//! 3. the checksum ([`LoadError::ChecksumMismatch`]), before the header
//!    fields left, so that a corrupted fingerprint or reserved byte is
//!    reported as corruption rather than as another architecture;
//! 4. the reserved bytes ([`LoadError::ReservedNotZero`]), the fingerprint
//!    ([`LoadError::WrongArchitecture`]) and that every parameter is finite
//!    ([`LoadError::NonFinite`]).
//!
//! The checksum and the finiteness check read the bytes once, together: a
//! load costs one pass over the blob (and `load_into` a second one to copy
//! it, after everything has passed). CRC-32 detects every error burst of up
//! to 32 bits (a flipped bit, an edited byte, up to 4 edited bytes in a row)
//! and any two flipped bits in a blob of up to 512 MiB; other corruption
//! gets through with a chance of about 1 in 4 billion. The tests flip every
//! bit of a small model's blob and edit every header byte.
//!
//! **Version 1** (the same bytes without the trailer, with 1 at byte 4 and
//! the reserved bytes unchecked) is refused with
//! `UnsupportedVersion { found: 1, expected: 2 }`: save the weights again.
//! Without the model at hand, a version-1 blob converts by setting byte 4 to
//! 2 and appending the little-endian [`crc32`] of the result (the reserved
//! bytes must be zero, as version 1 wrote them).

use crate::model::Int8Model;
use crate::{Float, Model};
use core::fmt;
use core::marker::PhantomData;
use serde::ser::{Serialize, SerializeTuple, Serializer};

/// Bytes before the parameters.
pub const HEADER_LEN: usize = 16;
/// Bytes after the parameters: the CRC-32 of everything before.
pub const TRAILER_LEN: usize = 4;
/// The format version this library writes and reads (byte 4 of a blob).
pub const FORMAT_VERSION: u8 = 2;
const MAGIC: [u8; 4] = *b"CNET";

/// Why a weight blob was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Shorter than the model needs.
    Truncated {
        /// Bytes the model needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Longer than the model needs: probably another model's weights.
    TrailingBytes {
        /// Bytes the model needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Not a constnet weight blob.
    BadMagic,
    /// Written in another format version than [`FORMAT_VERSION`] (version 1
    /// blobs have no checksum: save the weights again).
    UnsupportedVersion {
        /// The blob's version (byte 4).
        found: u8,
        /// The version this library reads, [`FORMAT_VERSION`].
        expected: u8,
    },
    /// Saved with another scalar type (`f64` weights for an `f32` model).
    ScalarMismatch {
        /// Scalar size of the model, in bytes.
        expected: u8,
        /// Scalar size in the blob.
        found: u8,
    },
    /// The CRC-32 of the blob's bytes differs from its trailer: the blob was
    /// corrupted (a flipped bit, an edited byte) after it was saved.
    ChecksumMismatch {
        /// The checksum in the trailer.
        stored: u32,
        /// The checksum of the header and parameters as they are.
        computed: u32,
    },
    /// Header bytes 6 and 7 are reserved and must be zero; the checksum
    /// matched, so the blob was written that way (not by this library).
    ReservedNotZero {
        /// Bytes 6 and 7 of the blob.
        found: [u8; 2],
    },
    /// Weights of another architecture.
    WrongArchitecture {
        /// This model's fingerprint.
        expected: u64,
        /// The blob's fingerprint.
        found: u64,
    },
    /// A weight is NaN or infinite.
    NonFinite {
        /// Index of the first such weight in the flat parameters.
        index: usize,
    },
    /// [`view`] needs the parameters aligned for the scalar type and a
    /// little-endian target.
    Misaligned,
    /// An int8 model's zero point, scale or requantization is out of range.
    InvalidQuantization,
    /// The output buffer is too small to save into.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { expected, actual } => {
                write!(f, "weight blob truncated: {actual} bytes, the model needs {expected}")
            }
            Self::TrailingBytes { expected, actual } => {
                write!(f, "weight blob too long: {actual} bytes, the model needs {expected} (another model's weights?)")
            }
            Self::BadMagic => f.write_str("not a constnet weight blob (bad magic)"),
            Self::UnsupportedVersion { found, expected } => write!(
                f,
                "weight blob of format version {found}, this library reads version {expected} (save the weights again)"
            ),
            Self::ScalarMismatch { expected, found } => {
                write!(f, "weights use {found}-byte scalars, the model uses {expected}-byte scalars")
            }
            Self::ChecksumMismatch { stored, computed } => write!(
                f,
                "weight blob corrupted: its bytes have CRC-32 {computed:#010x}, its trailer says {stored:#010x}"
            ),
            Self::ReservedNotZero { found: [a, b] } => {
                write!(f, "weight blob header bytes 6 and 7 are reserved and must be zero, found {a:#04x} {b:#04x}")
            }
            Self::WrongArchitecture { expected, found } => {
                write!(f, "weights of another architecture (fingerprint {found:#018x}, this model is {expected:#018x})")
            }
            Self::NonFinite { index } => write!(f, "weight {index} is NaN or infinite"),
            Self::Misaligned => {
                f.write_str("weights are not aligned for the scalar type (or the target is big-endian)")
            }
            Self::InvalidQuantization => {
                f.write_str("an int8 zero point, scale or requantization multiplier is out of range")
            }
            Self::BufferTooSmall { needed } => write!(f, "output buffer too small: {needed} bytes needed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LoadError {}

/// Total bytes of a saved `M`: header, parameters and checksum trailer.
pub const fn saved_len<T: Float, M: Model<T>>() -> usize {
    HEADER_LEN + M::LEN * T::BYTES + TRAILER_LEN
}

// ---------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------

/// CRC-32 lookup table for the reflected IEEE polynomial `0xEDB8_8320`,
/// four bits at a time, computed at compile time: 64 bytes of flash (a
/// byte-wide table is 1 KiB, a fortieth of an int8 LeNet's whole
/// firmware), for about five more instructions per byte checked (the f32
/// LeNet's blob: 13.6 per byte against 8.5).
const CRC_TABLE: [u32; 16] = {
    let mut table = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// A running CRC-32 (IEEE 802.3, the one of zlib, gzip and PNG: reflected
/// polynomial `0xEDB8_8320`, initial value and final xor `0xFFFF_FFFF`), for
/// bytes that arrive in pieces (a blob received over the air). `const`, so
/// firmware can also compute one at compile time.
///
/// ```
/// use constnet::persist::{crc32, Crc32};
/// assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
/// assert_eq!(Crc32::new().update(b"1234").update(b"56789").finish(), 0xCBF4_3926);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32(u32);

impl Crc32 {
    /// The checksum of no bytes yet.
    pub const fn new() -> Self {
        Self(!0)
    }

    /// The checksum with `bytes` appended.
    #[must_use]
    pub const fn update(self, bytes: &[u8]) -> Self {
        let mut c = self.0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i] as u32;
            c = CRC_TABLE[((c ^ b) & 0xf) as usize] ^ (c >> 4);
            c = CRC_TABLE[((c ^ (b >> 4)) & 0xf) as usize] ^ (c >> 4);
            i += 1;
        }
        Self(c)
    }

    /// The CRC-32 of the bytes so far.
    pub const fn finish(self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// The CRC-32 of `bytes` (see [`Crc32`]), as a blob's trailer holds it for
/// bytes `0..16 + P`.
pub const fn crc32(bytes: &[u8]) -> u32 {
    Crc32::new().update(bytes).finish()
}

/// Rewrites a blob's trailer (its last [`TRAILER_LEN`] bytes) with the
/// [`crc32`] of the bytes before it, for tools that edit a saved blob (and
/// tests that need an edited blob to get past the checksum). Leaves a blob
/// shorter than the trailer as it is. `const`, so a firmware can derive an
/// edited blob at compile time.
///
/// The checksum guards against accidental corruption, not against tampering:
/// anyone can recompute it, as this function does. Authenticate blobs from
/// an untrusted source (a signature) if that matters.
pub const fn reseal(blob: &mut [u8]) {
    let Some(body) = blob.len().checked_sub(TRAILER_LEN) else {
        return;
    };
    let (head, trailer) = blob.split_at_mut(body);
    let crc = crc32(head).to_le_bytes();
    let mut i = 0;
    while i < TRAILER_LEN {
        trailer[i] = crc[i];
        i += 1;
    }
}

// ---------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------

fn header<T: Float, M: Model<T>>() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = FORMAT_VERSION;
    h[5] = T::BYTES as u8;
    h[8..].copy_from_slice(&M::FINGERPRINT.to_le_bytes());
    h
}

/// Checks a blob for `M` (every check of the module docs, in their order)
/// and returns its parameter bytes. Reads the bytes once.
fn check<T: Float, M: Model<T>>(bytes: &[u8]) -> Result<&[u8], LoadError> {
    check_blob(bytes, T::BYTES, M::FINGERPRINT, saved_len::<T, M>(), |w| T::read_le(w).is_finite())
}

/// [`check`] for a model of `item`-byte scalars with `fingerprint`, whose
/// blob is `expected` bytes; `finite` tells whether one scalar is usable.
fn check_blob(
    bytes: &[u8],
    item: usize,
    fingerprint: u64,
    expected: usize,
    finite: impl Fn(&[u8]) -> bool,
) -> Result<&[u8], LoadError> {
    let actual = bytes.len();
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(LoadError::Truncated { expected, actual });
    };
    if header[..4] != MAGIC {
        return Err(LoadError::BadMagic);
    }
    if header[4] != FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion { found: header[4], expected: FORMAT_VERSION });
    }
    if header[5] as usize != item {
        return Err(LoadError::ScalarMismatch { expected: item as u8, found: header[5] });
    }
    let mut found = [0u8; 8];
    found.copy_from_slice(&header[8..]);
    let found = u64::from_le_bytes(found);
    let wrong_architecture = LoadError::WrongArchitecture { expected: fingerprint, found };
    if actual != expected {
        return Err(if found != fingerprint {
            wrong_architecture
        } else if actual < expected {
            LoadError::Truncated { expected, actual }
        } else {
            LoadError::TrailingBytes { expected, actual }
        });
    }

    // One pass: the checksum, and the first non-finite parameter.
    let (body, trailer) = bytes.split_at(expected - TRAILER_LEN);
    let params = &body[HEADER_LEN..];
    let mut crc = Crc32::new().update(header);
    let mut non_finite = None;
    for (index, w) in params.chunks_exact(item).enumerate() {
        crc = crc.update(w);
        if non_finite.is_none() && !finite(w) {
            non_finite = Some(index);
        }
    }
    let mut stored = [0u8; TRAILER_LEN];
    stored.copy_from_slice(trailer);
    let (stored, computed) = (u32::from_le_bytes(stored), crc.finish());
    if stored != computed {
        return Err(LoadError::ChecksumMismatch { stored, computed });
    }
    if header[6..8] != [0, 0] {
        return Err(LoadError::ReservedNotZero { found: [header[6], header[7]] });
    }
    if found != fingerprint {
        return Err(wrong_architecture);
    }
    match non_finite {
        Some(index) => Err(LoadError::NonFinite { index }),
        None => Ok(params),
    }
}

// ---------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------

/// A model as serde sees it: the header, every parameter, then the CRC-32
/// trailer. Serializing it with postcard gives the saved form; any other
/// serde format works too (the checksum is always that of the postcard
/// bytes).
pub struct Weights<'m, T, M>(pub &'m M, PhantomData<T>);

impl<'m, T: Float, M: Model<T>> Weights<'m, T, M> {
    /// Wraps `model` for serialization.
    pub fn of(model: &'m M) -> Self {
        Self(model, PhantomData)
    }
}

impl<T: Float + Serialize, M: Model<T>> Serialize for Weights<'_, T, M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let header = header::<T, M>();
        let mut crc = Crc32::new().update(&header);
        for &w in self.0.flat() {
            w.write_le(&mut |b| crc = crc.update(&[b]));
        }
        let mut outer = s.serialize_tuple(3)?;
        outer.serialize_element(&header)?;
        outer.serialize_element(&FlatParams(self.0.flat()))?;
        outer.serialize_element(&crc.finish().to_le_bytes())?;
        outer.end()
    }
}

/// The parameters as a fixed-length tuple (no length prefix).
struct FlatParams<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for FlatParams<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for w in self.0 {
            t.serialize_element(w)?;
        }
        t.end()
    }
}

/// Saves `model` into `buf` with postcard and returns the bytes written
/// ([`saved_len`] of them). No allocation.
pub fn save<'b, T, M>(model: &M, buf: &'b mut [u8]) -> Result<&'b mut [u8], LoadError>
where
    T: Float + Serialize,
    M: Model<T>,
{
    let needed = saved_len::<T, M>();
    postcard::to_slice(&Weights::<T, M>::of(model), buf).map_err(|_| LoadError::BufferTooSmall { needed })
}

/// Saves `model` into a new vector.
#[cfg(feature = "std")]
pub fn to_vec<T, M>(model: &M) -> std::vec::Vec<u8>
where
    T: Float + Serialize,
    M: Model<T>,
{
    // Only fails on a full buffer, which a growing vector never is.
    postcard::to_stdvec(&Weights::<T, M>::of(model)).expect("serializing into a Vec cannot fail")
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Loads weights from `bytes` into `model` (e.g. a `static`), in place: the
/// model is never built on the stack. The whole blob is checked first (one
/// pass: header, length, checksum, finiteness; see the module docs), then
/// copied in a second pass that cannot fail, so a rejected blob leaves
/// `model` untouched. Alignment does not matter.
pub fn load_into<T: Float, M: Model<T>>(bytes: &[u8], model: &mut M) -> Result<(), LoadError> {
    let params = check::<T, M>(bytes)?;
    for (w, b) in model.flat_mut().iter_mut().zip(params.chunks_exact(T::BYTES)) {
        *w = T::read_le(b);
    }
    Ok(())
}

/// Loads weights from `bytes` into a new model on the heap, never on the
/// stack, whatever its size: [`load_into`] a zeroed `Box` (the blob is
/// checked the same way).
///
/// ```
/// use constnet::{persist, zoo::Lenet, Model};
///
/// let blob = persist::to_vec(&*Lenet::<f32>::new_boxed(7));
/// let model: Box<Lenet> = persist::load_boxed(&blob)?;
/// assert_eq!(persist::to_vec(&*model), blob);
/// # Ok::<(), constnet::LoadError>(())
/// ```
#[cfg(feature = "std")]
pub fn load_boxed<T: Float, M: Model<T>>(bytes: &[u8]) -> Result<std::boxed::Box<M>, LoadError> {
    let mut model = crate::zeroed_boxed::<T, M>();
    load_into(bytes, &mut *model)?;
    Ok(model)
}

/// Uses weights where they lie (in flash, typically `include_bytes!` into an
/// aligned `static`): checks header, length, checksum, that every weight is
/// finite (one pass over the bytes: about 1.1 million instructions for the
/// LeNet's 82 KB on a Cortex-M4F) and alignment, then returns the model as a
/// reference into `bytes`, with no copy. RAM then holds only the inference
/// workspace.
pub fn view<T: Float, M: Model<T>>(bytes: &[u8]) -> Result<&M, LoadError> {
    let params = check::<T, M>(bytes)?;
    if cfg!(target_endian = "big") || params.as_ptr().align_offset(core::mem::align_of::<M>()) != 0 {
        return Err(LoadError::Misaligned);
    }
    // SAFETY: `params` is exactly `size_of::<M>()` bytes (`check` returns
    // `M::LEN * T::BYTES` of them, and `Params` guarantees that is the size
    // of `M`), aligned for `M` (checked above), and little-endian like the
    // target, so it holds `M::LEN` valid `T`s (every bit pattern is a valid
    // `T`), which is all `M` is made of. The returned reference borrows
    // `bytes`, which is immutable for as long.
    Ok(unsafe { &*(params.as_ptr() as *const M) })
}

/// A `static` byte array with the alignment [`view`] needs, for
/// `include_bytes!`: `static W: Aligned<[u8; N]> = Aligned(*include_bytes!(...))`.
/// The header is 16 bytes, so parameters that follow it stay aligned.
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

// ---------------------------------------------------------------------------
// Int8 models
// ---------------------------------------------------------------------------
//
// The same format, with scalar size 1 and the int8 model's fingerprint (which
// covers every layer's quantization layout); the payload is the model's
// bytes ([`Bytes`](crate::quant::Bytes)), alignment 1, so `view_int8` works
// from any address.

/// Total bytes of a saved int8 model `Q`: header, its bytes, trailer.
pub const fn saved_len_int8<Q: Int8Model>() -> usize {
    HEADER_LEN + Q::SIZE + TRAILER_LEN
}

/// Checks an int8 blob (as [`view`] checks a float one, then every zero
/// point, scale and multiplier) and returns the model in it.
fn check_int8<Q: Int8Model>(bytes: &[u8]) -> Result<&Q, LoadError> {
    let expected = saved_len_int8::<Q>();
    let params = check_blob(bytes, 1, Q::FINGERPRINT, expected, |_| true)?;
    let model = Q::from_bytes(params).ok_or(LoadError::Truncated { expected, actual: bytes.len() })?;
    if !model.is_valid() {
        return Err(LoadError::InvalidQuantization);
    }
    Ok(model)
}

/// Saves an int8 model into `buf` and returns the bytes written
/// ([`saved_len_int8`] of them). No allocation.
pub fn save_int8<'b, Q: Int8Model>(model: &Q, buf: &'b mut [u8]) -> Result<&'b mut [u8], LoadError> {
    let needed = saved_len_int8::<Q>();
    let out = buf.get_mut(..needed).ok_or(LoadError::BufferTooSmall { needed })?;
    out[..4].copy_from_slice(&MAGIC);
    out[4] = FORMAT_VERSION;
    out[5] = 1;
    out[6..8].fill(0);
    out[8..HEADER_LEN].copy_from_slice(&Q::FINGERPRINT.to_le_bytes());
    out[HEADER_LEN..needed - TRAILER_LEN].copy_from_slice(model.as_bytes());
    reseal(out);
    Ok(out)
}

/// Saves an int8 model into a new vector.
#[cfg(feature = "std")]
pub fn to_vec_int8<Q: Int8Model>(model: &Q) -> std::vec::Vec<u8> {
    let mut v = std::vec![0u8; saved_len_int8::<Q>()];
    let _ = save_int8(model, &mut v);
    v
}

/// Uses an int8 model where it lies (in flash): checks header, length,
/// checksum and every zero point, scale and multiplier, then returns it as
/// a reference into `bytes`, with no copy and no alignment requirement.
pub fn view_int8<Q: Int8Model>(bytes: &[u8]) -> Result<&Q, LoadError> {
    check_int8(bytes)
}

/// Loads an int8 model from `bytes` into `model` (e.g. a `static`). The
/// blob is checked first: on error `model` is left untouched.
pub fn load_int8_into<Q: Int8Model>(bytes: &[u8], model: &mut Q) -> Result<(), LoadError> {
    let checked = check_int8::<Q>(bytes)?;
    model.as_bytes_mut().copy_from_slice(checked.as_bytes());
    Ok(())
}
