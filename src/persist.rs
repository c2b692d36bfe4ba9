//! Saving and loading weights: postcard bytes with a header that rejects
//! another architecture's weights.
//!
//! Layout of a saved model (what postcard writes for [`Weights`]):
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | magic `CNET` |
//! | 4 | format version (1) |
//! | 5 | scalar size in bytes (4 for `f32`, 8 for `f64`) |
//! | 6..8 | reserved, zero |
//! | 8..16 | the model's [`Model::FINGERPRINT`], little-endian |
//! | 16.. | every parameter, little-endian, in memory order |
//!
//! Postcard writes a float as its little-endian bytes and a fixed-size tuple
//! without a length, so past the 16-byte header the blob is exactly the
//! model's memory image on a little-endian machine. That is what lets
//! [`view`] use weights where they lie (in flash) with no copy at all, while
//! [`load_into`] fills caller storage (a `static`) without building the model
//! on the stack.

use crate::model::Int8Model;
use crate::{Float, Model};
use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

/// Bytes before the parameters.
pub const HEADER_LEN: usize = 16;
const MAGIC: [u8; 4] = *b"CNET";
const VERSION: u8 = 1;

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
    /// Written by an unknown format version.
    UnsupportedVersion(u8),
    /// Saved with another scalar type (`f64` weights for an `f32` model).
    ScalarMismatch {
        /// Scalar size of the model, in bytes.
        expected: u8,
        /// Scalar size in the blob.
        found: u8,
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
            Self::UnsupportedVersion(v) => write!(f, "unsupported weight format version {v}"),
            Self::ScalarMismatch { expected, found } => {
                write!(f, "weights use {found}-byte scalars, the model uses {expected}-byte scalars")
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

/// Total bytes of a saved `M`: header plus parameters.
pub const fn saved_len<T: Float, M: Model<T>>() -> usize {
    HEADER_LEN + M::LEN * T::BYTES
}

fn header<T: Float, M: Model<T>>() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = VERSION;
    h[5] = T::BYTES as u8;
    h[8..].copy_from_slice(&M::FINGERPRINT.to_le_bytes());
    h
}

/// Checks the header and the total length of a blob for `M`.
fn check_header<T: Float, M: Model<T>>(bytes: &[u8]) -> Result<(), LoadError> {
    let expected = saved_len::<T, M>();
    if bytes.len() < HEADER_LEN {
        return Err(LoadError::Truncated { expected, actual: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(LoadError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(LoadError::UnsupportedVersion(bytes[4]));
    }
    if bytes[5] as usize != T::BYTES {
        return Err(LoadError::ScalarMismatch { expected: T::BYTES as u8, found: bytes[5] });
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&bytes[8..HEADER_LEN]);
    let found = u64::from_le_bytes(fp);
    if found != M::FINGERPRINT {
        return Err(LoadError::WrongArchitecture { expected: M::FINGERPRINT, found });
    }
    match bytes.len() {
        n if n < expected => Err(LoadError::Truncated { expected, actual: n }),
        n if n > expected => Err(LoadError::TrailingBytes { expected, actual: n }),
        _ => Ok(()),
    }
}

fn check_finite<T: Float>(params: &[T]) -> Result<(), LoadError> {
    match params.iter().position(|w| !w.is_finite()) {
        Some(index) => Err(LoadError::NonFinite { index }),
        None => Ok(()),
    }
}

/// A model as serde sees it: the header, then every parameter. Serializing it
/// with postcard gives the saved form; any other serde format works too.
pub struct Weights<'m, T, M>(pub &'m M, PhantomData<T>);

impl<'m, T: Float, M: Model<T>> Weights<'m, T, M> {
    /// Wraps `model` for serialization.
    pub fn of(model: &'m M) -> Self {
        Self(model, PhantomData)
    }
}

impl<T: Float + Serialize, M: Model<T>> Serialize for Weights<'_, T, M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut outer = s.serialize_tuple(2)?;
        outer.serialize_element(&header::<T, M>())?;
        outer.serialize_element(&FlatParams(self.0.flat()))?;
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

/// Reads a tuple of parameters straight into `self.0`.
struct FillParams<'a, T>(&'a mut [T]);

impl<'de, T: Float + de::Deserialize<'de>> DeserializeSeed<'de> for FillParams<'_, T> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let len = self.0.len();
        d.deserialize_tuple(len, self)
    }
}

impl<'de, T: Float + de::Deserialize<'de>> Visitor<'de> for FillParams<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} parameters", self.0.len())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for (i, w) in self.0.iter_mut().enumerate() {
            *w = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &"all parameters"))?;
        }
        Ok(())
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

/// Loads weights from `bytes` into `model` (e.g. a `static`), in place: the
/// model is never built on the stack. On error `model` may hold part of the
/// new weights; it is left zeroed rather than half-loaded.
pub fn load_into<'de, T, M>(bytes: &'de [u8], model: &mut M) -> Result<(), LoadError>
where
    T: Float + de::Deserialize<'de>,
    M: Model<T>,
{
    check_header::<T, M>(bytes)?;
    let mut de = postcard::Deserializer::from_bytes(&bytes[HEADER_LEN..]);
    let filled = FillParams(model.flat_mut()).deserialize(&mut de);
    let result = match filled {
        // The length was checked, so postcard cannot run short.
        Err(_) => Err(LoadError::Truncated { expected: saved_len::<T, M>(), actual: bytes.len() }),
        Ok(()) => check_finite(model.flat()),
    };
    if result.is_err() {
        model.flat_mut().iter_mut().for_each(|w| *w = T::zero());
    }
    result
}

/// Uses weights where they lie (in flash, typically `include_bytes!` into an
/// aligned `static`): checks header, length, alignment and that every weight
/// is finite, then returns the model as a reference into `bytes`. RAM then
/// holds only the inference workspace.
pub fn view<T: Float, M: Model<T>>(bytes: &[u8]) -> Result<&M, LoadError> {
    check_header::<T, M>(bytes)?;
    let params = &bytes[HEADER_LEN..];
    if cfg!(target_endian = "big") || params.as_ptr().align_offset(core::mem::align_of::<M>()) != 0 {
        return Err(LoadError::Misaligned);
    }
    // SAFETY: `params` is exactly `size_of::<M>()` bytes (checked by
    // `check_header`: `M::LEN * T::BYTES`, and `Params` guarantees that is the
    // size of `M`), aligned for `M` (checked above), and little-endian like
    // the target, so it holds `M::LEN` valid `T`s (every bit pattern is a
    // valid `T`), which is all `M` is made of. The returned reference borrows
    // `bytes`, which is immutable for as long.
    let model = unsafe { &*(params.as_ptr() as *const M) };
    check_finite(model.flat())?;
    Ok(model)
}

/// A `static` byte array with the alignment [`view`] needs, for
/// `include_bytes!`: `static W: Aligned<[u8; N]> = Aligned(*include_bytes!(...))`.
/// The header is 16 bytes, so parameters that follow it stay aligned.
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

// ---- int8 models ---------------------------------------------------------------
//
// The same header, with scalar size 1 and the int8 model's fingerprint (which
// covers every layer's quantization layout); the payload is the model's bytes
// ([`Bytes`]): alignment 1, so `view_int8` works from any address.

/// Total bytes of a saved int8 model `Q`: header plus its bytes.
pub const fn saved_len_int8<Q: Int8Model>() -> usize {
    HEADER_LEN + Q::SIZE
}

fn header_int8<Q: Int8Model>() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = VERSION;
    h[5] = 1;
    h[8..].copy_from_slice(&Q::FINGERPRINT.to_le_bytes());
    h
}

/// Checks the header, the length and every stored parameter of an int8 blob.
fn check_int8<Q: Int8Model>(bytes: &[u8]) -> Result<&Q, LoadError> {
    let expected = saved_len_int8::<Q>();
    let h = header_int8::<Q>();
    if bytes.len() < HEADER_LEN {
        return Err(LoadError::Truncated { expected, actual: bytes.len() });
    }
    if bytes[..4] != MAGIC {
        return Err(LoadError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(LoadError::UnsupportedVersion(bytes[4]));
    }
    if bytes[5] != 1 {
        return Err(LoadError::ScalarMismatch { expected: 1, found: bytes[5] });
    }
    if bytes[8..HEADER_LEN] != h[8..] {
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&bytes[8..HEADER_LEN]);
        return Err(LoadError::WrongArchitecture { expected: Q::FINGERPRINT, found: u64::from_le_bytes(fp) });
    }
    let model = match bytes.len() {
        n if n < expected => return Err(LoadError::Truncated { expected, actual: n }),
        n if n > expected => return Err(LoadError::TrailingBytes { expected, actual: n }),
        _ => Q::from_bytes(&bytes[HEADER_LEN..]).ok_or(LoadError::Truncated { expected, actual: bytes.len() })?,
    };
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
    out[..HEADER_LEN].copy_from_slice(&header_int8::<Q>());
    out[HEADER_LEN..].copy_from_slice(model.as_bytes());
    Ok(out)
}

/// Saves an int8 model into a new vector.
#[cfg(feature = "std")]
pub fn to_vec_int8<Q: Int8Model>(model: &Q) -> std::vec::Vec<u8> {
    let mut v = std::vec![0u8; saved_len_int8::<Q>()];
    let _ = save_int8(model, &mut v);
    v
}

/// Uses an int8 model where it lies (in flash): checks header, length and
/// every zero point, scale and multiplier, then returns it as a reference
/// into `bytes`, with no copy and no alignment requirement.
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
