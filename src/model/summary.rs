//! The model summary table: one row per layer, then totals and the bytes a
//! microcontroller needs. Works without `std` (it is a `Display`).

use crate::model::Int8Model;
use crate::{Float, LayerSummary, Model};
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

/// The rows of a summary table; `unit` heads the last column.
fn table(f: &mut fmt::Formatter<'_>, layers: &[LayerSummary], unit: &str) -> fmt::Result {
    const RULE: &str = "------------------------------------------------------------------------------------------";
    writeln!(
        f,
        "{:<8} {:<18} {:<14} {:<14} {:<10} {:<5} {:>10}",
        "layer", "kind", "input", "output", "activation", "bias", unit
    )?;
    writeln!(f, "{RULE}")?;
    for l in layers {
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
    writeln!(f, "{RULE}")
}

impl<T: Float, M: Model<T>> fmt::Display for Summary<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        table(f, M::LAYERS, "params")?;
        writeln!(f, "Total params: {} ({})", Thousands(M::LEN), T::NAME)?;
        writeln!(f, "Parameter bytes: {} bytes", Thousands(M::PARAM_BYTES))?;
        write!(f, "Inference workspace: {} bytes", Thousands(M::WORKSPACE_BYTES))
    }
}

/// Summary of the int8 model `Q` (say `Int8<Lenet>`): per layer the bytes
/// it stores (weights, biases, requantization), then the totals.
///
/// ```
/// use constnet::{summary::Int8Summary, zoo::Lenet, Int8};
/// let table = format!("{}", Int8Summary::<Int8<Lenet>>::new());
/// assert!(table.contains("Inference workspace: 1,936 bytes"));
/// ```
pub struct Int8Summary<Q>(PhantomData<Q>);

impl<Q: Int8Model> Int8Summary<Q> {
    /// The summary of `Q`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<Q: Int8Model> Default for Int8Summary<Q> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Q: Int8Model> fmt::Display for Int8Summary<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        table(f, Q::LAYERS, "bytes")?;
        writeln!(f, "Model bytes (int8): {} bytes", Thousands(Q::PARAM_BYTES))?;
        write!(f, "Inference workspace: {} bytes", Thousands(Q::WORKSPACE_BYTES))
    }
}
