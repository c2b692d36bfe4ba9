//! Bounded decompression: a gzip bomb behind a valid IDX header, and
//! headers declaring too much, fail after reading little and allocating
//! little. A binary of its own, for the measuring allocator.
#![cfg(feature = "std")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use constnet::data::{self, DataError};

/// The system allocator, recording per thread the bytes live and their
/// peak (frees of another thread's memory only lower the figures).
struct Measuring;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

// SAFETY: forwards to the system allocator; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counts the old block and the new one, as a moving realloc holds both.
        note(new_size as isize);
        note(-(layout.size() as isize));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Measuring = Measuring;

/// `f`'s result and the most heap it held at once on this thread, in bytes.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    (r, (PEAK.with(Cell::get) - start).max(0) as usize)
}

const MIB: usize = 1 << 20;

/// A reader that counts the bytes taken from it.
struct Counting<R> {
    inner: R,
    taken: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

/// Writes `head`, then `zeros` zero bytes, gzip-compressed (fast level:
/// zeros still shrink about 200 times) as they are written.
fn write_gz(path: &Path, head: &[u8], zeros: usize) {
    let file = BufWriter::new(File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(head).unwrap();
    let block = vec![0u8; MIB];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(block.len());
        gz.write_all(&block[..n]).unwrap();
        left -= n;
    }
    gz.finish().unwrap().flush().unwrap();
}

/// Ten 28x28 images as declared, then 1 GiB of zeros: a ~5 MB file that
/// a loader inflating it whole would need more than 1 GiB of RAM for.
#[test]
fn gzip_bomb_after_the_declared_images_is_refused_unread() {
    let dir = temp_dir("bomb");
    let bomb = dir.join("bomb-images.gz");
    let mut head = idx_header(data::IDX_IMAGES_MAGIC, &[10, 28, 28]);
    head.extend(std::iter::repeat_n(7u8, 10 * 784));
    write_gz(&bomb, &head, 1 << 30);
    let compressed = std::fs::metadata(&bomb).unwrap().len();
    assert!(compressed < 16 * MIB as u64, "{compressed}");

    let expected = 16 + 10 * 784;
    let (e, peak) = peak_heap(|| data::read_idx_images(&bomb).unwrap_err());
    assert!(matches!(e.inner(), DataError::TrailingData { expected: x } if *x == expected), "{e:?}");
    assert_eq!(e.path(), Some(bomb.as_path()));
    assert!(e.to_string().contains("bomb-images.gz"), "{e}");
    assert!(peak < 2 * MIB, "peak heap {peak} bytes");

    // How much of the file was read: the decoder's buffers' worth, not
    // the 1 GiB of zeros behind it.
    let mut file = Counting { inner: File::open(&bomb).unwrap(), taken: 0 };
    let e = data::read_idx_images_from(&mut file).unwrap_err();
    assert!(matches!(e, DataError::TrailingData { .. }), "{e:?}");
    assert!(file.taken < 256 * 1024, "read {} of {compressed} compressed bytes", file.taken);

    // Loaded with a matching label file: the same error.
    let labels = dir.join("labels");
    std::fs::write(&labels, [idx_header(data::IDX_LABELS_MAGIC, &[10]), vec![3; 10]].concat()).unwrap();
    let (e, peak) = peak_heap(|| data::load_idx::<f32>(&bomb, &labels).unwrap_err());
    assert!(matches!(e.inner(), DataError::TrailingData { .. }), "{e:?}");
    assert_eq!(e.path(), Some(bomb.as_path()));
    assert!(peak < 2 * MIB, "peak heap {peak} bytes");

    // With labels for 9 images, the counts differ: found from the headers.
    std::fs::write(&labels, [idx_header(data::IDX_LABELS_MAGIC, &[9]), vec![3; 9]].concat()).unwrap();
    let (e, peak) = peak_heap(|| data::load_idx::<f32>(&bomb, &labels).unwrap_err());
    assert!(matches!(e.inner(), DataError::CountMismatch { images: 10, labels: 9, .. }), "{e:?}");
    assert!(peak < 2 * MIB, "peak heap {peak} bytes");
    let _ = std::fs::remove_dir_all(dir);
}

/// Headers declaring more than the limit are refused before any data is
/// read; a header within it but over a file holding less allocates only
/// for what is there.
#[test]
fn huge_declared_sizes_allocate_nothing() {
    let dir = temp_dir("huge");
    let images = dir.join("huge-images.gz");
    write_gz(&images, &idx_header(data::IDX_IMAGES_MAGIC, &[u32::MAX, 28, 28]), MIB);
    let (e, peak) = peak_heap(|| data::read_idx_images(&images).unwrap_err());
    let declared = u64::from(u32::MAX) * 784;
    assert!(
        matches!(e.inner(), DataError::TooLarge { declared: Some(d), limit: data::MAX_FILE_BYTES } if *d == declared),
        "{e:?}"
    );
    assert_eq!(e.path(), Some(images.as_path()));
    assert!(peak < MIB, "peak heap {peak} bytes");

    let labels = dir.join("huge-labels.gz");
    write_gz(&labels, &idx_header(data::IDX_LABELS_MAGIC, &[u32::MAX]), 0);
    let e = data::read_idx_labels(&labels).unwrap_err();
    assert!(matches!(e.inner(), DataError::TooLarge { declared: Some(0xffff_ffff), .. }), "{e:?}");

    // Exactly the limit (1024 images of 1024 x 1024) is accepted as a
    // header; the file then holds 1 MiB of them.
    let short = dir.join("short-images.gz");
    write_gz(&short, &idx_header(data::IDX_IMAGES_MAGIC, &[1024, 1024, 1024]), MIB);
    let (e, peak) = peak_heap(|| data::read_idx_images(&short).unwrap_err());
    let (expected, actual) = (16 + data::MAX_FILE_BYTES, 16 + MIB as u64);
    assert!(matches!(e.inner(), DataError::Truncated { expected: x, actual: a } if (*x, *a) == (expected, actual)));
    assert!(peak < 8 * MIB, "peak heap {peak} bytes");
    let _ = std::fs::remove_dir_all(dir);
}

/// Files without a header (CIFAR-10) are read up to a limit.
#[test]
fn headerless_files_stop_at_the_limit() {
    let dir = temp_dir("cifar");
    let path = dir.join("zeros.bin.gz");
    write_gz(&path, &[], 64 * MIB);
    let (e, peak) = peak_heap(|| data::read_maybe_gz(&path, MIB as u64).unwrap_err());
    assert!(matches!(e.inner(), DataError::TooLarge { declared: None, limit } if *limit == MIB as u64), "{e:?}");
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(peak < 8 * MIB, "peak heap {peak} bytes");
    assert_eq!(data::read_maybe_gz(&path, 64 * MIB as u64).unwrap().len(), 64 * MIB);
    let _ = std::fs::remove_dir_all(dir);
}
