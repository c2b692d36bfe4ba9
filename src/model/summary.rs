//! The model summary table: one row per layer, then totals and the bytes a
//! microcontroller needs. Works without `std` (it is a `Display`).

use crate::{Float, Model};
use core::fmt;
use core::marker::PhantomData;

/// Summary of model `M`: print it with `{}`.
///
/// ```
/// use constnet::{zoo::Lenet, summary::Summary};
/// let table = format!("{}", Summary::<f32, Lenet>::new());
/// assert!(table.contains("Total params: 20,522"));
/// assert!(table.contains("Inference workspace: 7,744 bytes"));
/// ```
pub struct Summary<T, M>(PhantomData<(T, M)>);

impl<T: Float, M: Model<T>> Summary<T, M> {
    /// The summary of `M`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: Float, M: Model<T>> Default for Summary<T, M> {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `[a, b, c]`, padded to `width`.
struct ShapeCell<'a>(&'a [usize], usize);

impl fmt::Display for ShapeCell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = heapless::String::<32>::new();
        let _ = fmt::write(&mut buf, format_args!("{:?}", self.0));
        write!(f, "{:<w$}", buf.as_str(), w = self.1)
    }
}

/// Writes an integer with thousands separators.
pub(crate) struct Thousands(pub usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = heapless::String::<32>::new();
        let _ = fmt::write(&mut digits, format_args!("{}", self.0));
        let mut out = heapless::String::<40>::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                let _ = out.push(',');
            }
            let _ = out.push(ch);
        }
        f.pad(out.as_str())
    }
}

impl<T: Float, M: Model<T>> fmt::Display for Summary<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const RULE: &str = "------------------------------------------------------------------------------------------";
        writeln!(
            f,
            "{:<8} {:<18} {:<14} {:<14} {:<10} {:<5} {:>10}",
            "layer", "kind", "input", "output", "activation", "bias", "params"
        )?;
        writeln!(f, "{RULE}")?;
        for l in M::LAYERS {
            writeln!(
                f,
                "{:<8} {:<18} {} {} {:<10} {:<5} {:>10}",
                l.name,
                l.info.kind,
                ShapeCell(l.input, 14),
                ShapeCell(l.output, 14),
                l.info.activation,
                if l.info.bias { "yes" } else { "no" },
                Thousands(l.params)
            )?;
        }
        writeln!(f, "{RULE}")?;
        writeln!(f, "Total params: {} ({})", Thousands(M::LEN), T::NAME)?;
        writeln!(f, "Parameter bytes: {} bytes", Thousands(M::PARAM_BYTES))?;
        write!(f, "Inference workspace: {} bytes", Thousands(M::WORKSPACE_BYTES))
    }
}
