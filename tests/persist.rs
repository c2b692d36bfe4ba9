//! Weight blobs, format version 2: the CRC-32 trailer, and every corruption
//! of a small model's blob refused by both `view` and `load_into`, with
//! `load_into` leaving the model untouched whenever it refuses.
//!
//! The model is small (47 parameters, a 208-byte blob) so that every bit and
//! every header byte can be tried in a few milliseconds; the committed LeNet
//! blob gets the same checks in `tests/firmware_data.rs`.
#![cfg(feature = "std")]

use constnet::persist::{self, crc32, reseal, saved_len, Aligned, Crc32, LoadError, FORMAT_VERSION, HEADER_LEN};
use constnet::{load_into, view, Model, Params};

constnet::sequential! {
    /// 47 parameters: conv 3x3x1x2 + 2, dense 8x3 + 3.
    struct Small: [4, 4, 1] {
        conv: Conv2d<2, 3> => Relu,   // [2, 2, 2]
        flat: Flatten,                // [8]
        out:  Dense<3> => Softmax,
    }
}

type Net = Small<f32>;
const LEN: usize = saved_len::<f32, Net>();
const FINGERPRINT: u64 = <Net as Model<f32>>::FINGERPRINT;

/// The blob of `Net::new(1)`.
fn blob() -> Vec<u8> {
    persist::to_vec(&Net::new(1))
}

/// Offers `bytes` to `view` (from 16-byte-aligned storage) and to
/// `load_into` (into a model holding other weights), requires both to refuse
/// with the same error and `load_into` to leave the model as it was, and
/// returns the error.
fn refused(bytes: &[u8], what: &str) -> LoadError {
    let mut aligned = Box::new(Aligned([0u8; 2 * LEN]));
    aligned.0[..bytes.len()].copy_from_slice(bytes);
    let e = match view::<f32, Net>(&aligned.0[..bytes.len()]) {
        Ok(_) => panic!("{what}: view loaded it"),
        Err(e) => e,
    };
    let mut model = Net::new(9);
    let before: Vec<u32> = model.flat().iter().map(|w| w.to_bits()).collect();
    assert_eq!(load_into(bytes, &mut model), Err(e), "{what}: load_into and view disagree");
    let after: Vec<u32> = model.flat().iter().map(|w| w.to_bits()).collect();
    assert_eq!(before, after, "{what}: load_into changed the model although it refused the blob");
    e
}

/// The checksum error `bytes` must give: its trailer against the CRC-32 of
/// the rest, computed by crc32fast.
fn checksum_error(bytes: &[u8]) -> LoadError {
    let (body, trailer) = bytes.split_at(bytes.len() - 4);
    LoadError::ChecksumMismatch {
        stored: u32::from_le_bytes(trailer.try_into().unwrap()),
        computed: crc32fast::hash(body),
    }
}

#[test]
fn crc32_is_zlibs() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for len in [1, 2, 3, 7, 64, 255, 256, 1000, 5000] {
        assert_eq!(crc32(&data[..len]), crc32fast::hash(&data[..len]), "{len} bytes");
        // In pieces, as bytes received over the air.
        let (a, b) = data[..len].split_at(len / 3);
        assert_eq!(Crc32::new().update(a).update(b).finish(), crc32fast::hash(&data[..len]), "{len} bytes, split");
    }
    // Computed at compile time.
    const AT_COMPILE_TIME: u32 = crc32(b"123456789");
    assert_eq!(AT_COMPILE_TIME, 0xCBF4_3926);
}

#[test]
fn a_blob_is_header_parameters_and_checksum() {
    let bytes = blob();
    assert_eq!(LEN, HEADER_LEN + 47 * 4 + 4);
    assert_eq!(bytes.len(), LEN);
    assert_eq!(&bytes[..4], b"CNET");
    assert_eq!(bytes[4], FORMAT_VERSION);
    assert_eq!(FORMAT_VERSION, 2);
    assert_eq!(bytes[5], 4);
    assert_eq!(bytes[6..8], [0, 0]);
    assert_eq!(bytes[8..16], FINGERPRINT.to_le_bytes());
    let model = Net::new(1);
    let params: Vec<u8> = model.flat().iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(bytes[16..LEN - 4], params[..]);
    assert_eq!(bytes[LEN - 4..], crc32fast::hash(&bytes[..LEN - 4]).to_le_bytes());

    // It loads both ways, bit for bit; saving into a buffer gives the same bytes.
    let mut aligned = Box::new(Aligned([0u8; LEN]));
    aligned.0.copy_from_slice(&bytes);
    let viewed = view::<f32, Net>(&aligned.0).unwrap();
    assert_eq!(viewed.flat(), model.flat());
    let mut loaded: Net = constnet::zeroed();
    load_into(&bytes, &mut loaded).unwrap();
    assert_eq!(loaded.flat(), model.flat());
    let mut buf = [0u8; LEN];
    assert_eq!(persist::save(&model, &mut buf).unwrap(), &bytes[..]);
    assert_eq!(persist::save(&model, &mut buf[..LEN - 1]), Err(LoadError::BufferTooSmall { needed: LEN }));
}

/// CRC-32 detects every single-bit error: no flipped bit anywhere in the
/// blob loads. Bits of the magic, version and scalar size give those fields'
/// errors (checked before the checksum, to tell a non-blob or another
/// version from corruption); every other bit, in the reserved bytes, the
/// fingerprint, the parameters or the trailer, gives the checksum error.
#[test]
fn every_single_bit_flip_is_refused() {
    let good = blob();
    let mut flips = 0;
    for at in 0..LEN {
        for bit in 0..8 {
            let mut bytes = good.clone();
            bytes[at] ^= 1 << bit;
            let got = refused(&bytes, &format!("bit {bit} of byte {at} flipped"));
            let want = match at {
                0..4 => LoadError::BadMagic,
                4 => LoadError::UnsupportedVersion { found: bytes[4], expected: 2 },
                5 => LoadError::ScalarMismatch { expected: 4, found: bytes[5] },
                _ => checksum_error(&bytes),
            };
            assert_eq!(got, want, "bit {bit} of byte {at} flipped");
            flips += 1;
        }
    }
    assert_eq!(flips, 8 * 208);
}

/// Every value of every header byte other than the saved one is refused
/// (16 x 255 edits): by the checksum as they are, and by the field's own
/// check when the checksum is recomputed after the edit (a blob written that
/// way): the reserved bytes must be zero, the fingerprint must be the model's.
#[test]
fn every_single_byte_edit_of_the_header_is_refused() {
    let good = blob();
    let mut edits = 0;
    for at in 0..HEADER_LEN {
        for value in (0..=255u8).filter(|&v| v != good[at]) {
            let mut bytes = good.clone();
            bytes[at] = value;
            let what = format!("byte {at} = {value:#04x}");
            let field = match at {
                0..4 => Some(LoadError::BadMagic),
                4 => Some(LoadError::UnsupportedVersion { found: value, expected: 2 }),
                5 => Some(LoadError::ScalarMismatch { expected: 4, found: value }),
                _ => None,
            };
            assert_eq!(refused(&bytes, &what), field.unwrap_or_else(|| checksum_error(&bytes)), "{what}");

            reseal(&mut bytes);
            let resealed = match at {
                6..8 => LoadError::ReservedNotZero { found: [bytes[6], bytes[7]] },
                8..16 => LoadError::WrongArchitecture {
                    expected: FINGERPRINT,
                    found: u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
                },
                _ => field.unwrap(),
            };
            assert_eq!(refused(&bytes, &what), resealed, "{what}, checksum recomputed");
            edits += 1;
        }
    }
    assert_eq!(edits, 16 * 255);
}

#[test]
fn wrong_lengths_are_refused_and_named() {
    let good = blob();
    for len in [0, 1, 4, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 4, LEN - 4, LEN - 1] {
        assert_eq!(refused(&good[..len], "truncated"), LoadError::Truncated { expected: LEN, actual: len }, "{len}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4]);
    assert_eq!(refused(&longer, "4 bytes more"), LoadError::TrailingBytes { expected: LEN, actual: LEN + 4 });
    // A blob of another length and another fingerprint: another model's.
    let mut other = good[..LEN - 8].to_vec();
    other[8] ^= 1;
    let found = FINGERPRINT ^ 1;
    assert_eq!(refused(&other, "other model"), LoadError::WrongArchitecture { expected: FINGERPRINT, found });
}

#[test]
fn a_non_finite_weight_is_refused_once_the_checksum_matches() {
    let good = blob();
    let n = <Net as Params<f32>>::LEN;
    for (index, bad) in [(0, f32::NAN), (20, f32::INFINITY), (n - 1, f32::NEG_INFINITY)] {
        let mut bytes = good.clone();
        let at = HEADER_LEN + 4 * index;
        bytes[at..at + 4].copy_from_slice(&bad.to_le_bytes());
        assert_eq!(refused(&bytes, "non-finite, stale checksum"), checksum_error(&bytes));
        reseal(&mut bytes);
        assert_eq!(refused(&bytes, "non-finite"), LoadError::NonFinite { index }, "weight {index} = {bad}");
    }
}

/// Version 1 (no trailer) is refused with an error naming both versions,
/// and converts as the module docs say.
#[test]
fn a_version_1_blob_is_refused_and_converts() {
    let mut v1 = blob()[..LEN - 4].to_vec();
    v1[4] = 1;
    assert_eq!(refused(&v1, "version 1"), LoadError::UnsupportedVersion { found: 1, expected: 2 });
    let e = LoadError::UnsupportedVersion { found: 1, expected: 2 };
    assert!(e.to_string().contains("version 1") && e.to_string().contains("version 2"), "{e}");

    let mut v2 = v1;
    v2[4] = 2;
    let crc = crc32(&v2);
    v2.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(v2, blob());
}

#[test]
fn reseal_leaves_short_blobs_alone() {
    let mut short = [1u8, 2, 3];
    reseal(&mut short);
    assert_eq!(short, [1, 2, 3]);
    let mut four = [9u8; 4];
    reseal(&mut four);
    assert_eq!(four, crc32(b"").to_le_bytes());
}
