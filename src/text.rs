//! Text assembled at compile time: the shape errors of
//! [`model::shape`](crate::model::shape) (const panics cannot format numbers)
//! and the layer labels of the summary (`"Conv2d 5x5/1 valid"`).

/// Up to `N` bytes of text, built by `const fn`s; longer text is cut off.
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    /// Empty text.
    pub(crate) const fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }

    /// Appends `s`.
    pub(crate) const fn text(mut self, s: &str) -> Self {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && self.len < N {
            self.buf[self.len] = b[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// Appends `n` in decimal.
    pub(crate) const fn num(mut self, mut n: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 && self.len < N {
            k -= 1;
            self.buf[self.len] = digits[k];
            self.len += 1;
        }
        self
    }

    /// Appends `a`, or `axb` when the two differ (a height and a width).
    pub(crate) const fn pair(self, [a, b]: [usize; 2]) -> Self {
        if a == b {
            self.num(a)
        } else {
            self.num(a).text("x").num(b)
        }
    }

    /// The text so far. (Cutting off at `N` bytes may split a character;
    /// the text is then empty. Every caller writes ASCII.)
    pub(crate) const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => "",
        }
    }

    /// Panics with the text: at compile time, a compile error that shows it.
    pub(crate) const fn fail(&self) -> ! {
        panic!("{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn builds_and_cuts_off() {
        assert_eq!(
            Text::<32>::new().text("Conv2d ").num(5).text("x").num(5).text("/").pair([1, 1]).as_str(),
            "Conv2d 5x5/1"
        );
        assert_eq!(Text::<32>::new().pair([3, 2]).text(" ").num(0).num(1234).as_str(), "3x2 01234");
        assert_eq!(Text::<4>::new().text("abc").num(123).as_str(), "abc1");
    }
}
