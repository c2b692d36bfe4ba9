//! Output for the int8 firmwares without `core::fmt`: text and unsigned
//! numbers written to the host's stdout by semihosting, and a panic handler
//! that says where it panicked and exits with failure.
//!
//! `core::fmt` (`hprintln!`, `panic-semihosting`'s message) is about 5 KB
//! of flash, a quarter of what the int8 LeNet's code and weights need
//! (`tools/firmware-int8.sh` counts flash without the test data), so these
//! firmwares print with [`say!`] instead. The library's panic messages are
//! never formatted: the location is enough to find a failing check.

use cortex_m_semihosting::{debug, hio};

/// Something [`say!`] can print.
pub trait Say {
    /// Writes `self` to the host's stdout.
    fn say(self);
}

#[inline(never)]
fn write(bytes: &[u8]) {
    if let Ok(mut stdout) = hio::hstdout() {
        let _ = stdout.write_all(bytes);
    }
}

impl Say for &str {
    fn say(self) {
        write(self.as_bytes());
    }
}

/// `(n / d, n % d)` by shifts and subtractions (`d > 0`): a Cortex-M0 has
/// no division instruction, and the library routine is 400 bytes of flash.
#[inline(never)]
fn divmod(n: u32, d: u32) -> (u32, u32) {
    let (mut q, mut r, mut dd, mut bit) = (0u32, n, d, 1u32);
    while dd <= r >> 1 {
        dd <<= 1;
        bit <<= 1;
    }
    loop {
        if r >= dd {
            r -= dd;
            q |= bit;
        }
        if bit == 1 {
            return (q, r);
        }
        dd >>= 1;
        bit >>= 1;
    }
}

impl Say for usize {
    /// In decimal.
    #[inline(never)]
    fn say(self) {
        let mut digits = [0u8; 10];
        let mut n = self as u32;
        let mut len = 0;
        for d in digits.iter_mut().rev() {
            let (q, r) = divmod(n, 10);
            *d = b'0' + r as u8;
            n = q;
            len += 1;
            if n == 0 {
                break;
            }
        }
        write(&digits[digits.len() - len..]);
    }
}

/// `num / den` with four decimals (`0.9100`), in integers.
pub struct Fixed4 {
    /// Numerator.
    pub num: usize,
    /// Denominator, not zero.
    pub den: usize,
}

impl Say for Fixed4 {
    fn say(self) {
        let (num, den) = (self.num as u32, self.den as u32);
        let (v, _) = divmod(num * 10_000 + den / 2, den);
        let (whole, frac) = divmod(v, 10_000);
        (whole as usize).say();
        ".".say();
        for place in [1000, 100, 10] {
            if frac < place {
                "0".say();
            }
        }
        (frac as usize).say();
    }
}

/// `0x` and the value in hexadecimal.
pub struct Hex(pub usize);

impl Say for Hex {
    fn say(self) {
        let mut digits = *b"0x00000000";
        for (k, d) in digits[2..].iter_mut().rev().enumerate() {
            *d = b"0123456789abcdef"[(self.0 >> (4 * k)) & 15];
        }
        write(&digits);
    }
}

/// Prints each argument in turn: `say!("agree=", k, "/", n, "\n")`.
macro_rules! say {
    ($($x:expr),* $(,)?) => {{
        $( $crate::out::Say::say($x); )*
    }};
}
pub(crate) use say;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    say!("panicked");
    if let Some(at) = info.location() {
        say!(" at ", at.file(), ":", at.line() as usize);
    }
    say!("\n");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
