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

/// The rows of a summary table; `unit` heads the last column. The name and
/// kind columns fit the longest entry.
fn table(f: &mut fmt::Formatter<'_>, layers: &[LayerSummary], unit: &str) -> fmt::Result {
    let name = layers.iter().map(|l| l.name.len()).fold(8, usize::max);
    let kind = layers.iter().map(|l| l.info.kind.len()).fold(18, usize::max);
    let rule = name + kind + 64;
    writeln!(
        f,
        "{:<name$} {:<kind$} {:<14} {:<14} {:<10} {:<5} {:>10}",
        "layer", "kind", "input", "output", "activation", "bias", unit
    )?;
    writeln!(f, "{:-<rule$}", "")?;
    for l in layers {
        writeln!(
            f,
            "{:<name$} {:<kind$} {} {} {:<10} {:<5} {:>10}",
            l.name,
            l.info.kind,
            ShapeCell(l.input, 14),
            ShapeCell(l.output, 14),
            l.info.activation,
            if l.info.bias { "yes" } else { "no" },
            Thousands(l.params)
        )?;
    }
    writeln!(f, "{:-<rule$}", "")
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

#[cfg(test)]
mod tests {
    use super::Summary;
    use crate::layers::pool::{Avg, Max};
    use crate::zoo::Lenet;
    use crate::{Conv2d, EdgePad, Layer, Linear, NoBias, Pool2d, Upsample};
    use core::fmt::Write;

    #[test]
    fn lenet_rows_show_kernel_stride_and_padding() {
        let mut table = heapless::String::<2048>::new();
        write!(table, "{}", Summary::<f32, Lenet>::new()).unwrap();
        let mut rows = table.lines().skip(2);
        assert!(rows.next().unwrap().starts_with("conv1    Conv2d 5x5/1 valid [28, 28, 1]    [24, 24, 8]"));
        assert!(rows.next().unwrap().starts_with("pool1    MaxPool2d 2x2/2    [24, 24, 8]    [12, 12, 8]"));
        assert!(rows.next().unwrap().starts_with("conv2    Conv2d 5x5/1 valid [12, 12, 8]    [8, 8, 16]"));
        assert!(rows.next().unwrap().starts_with("pool2    MaxPool2d 2x2/2    [8, 8, 16]     [4, 4, 16]"));
    }

    fn kind<L: Layer<f32>>() -> &'static str {
        L::INFO.kind
    }

    #[test]
    fn window_layers_show_their_geometry() {
        assert_eq!(kind::<Conv2d<f32, 8, 8, 1, 2, 3, 3, 2, 2, 1, 1, 4, 4>>(), "Conv2d 3x3/2 pad 1");
        assert_eq!(
            kind::<Conv2d<f32, 8, 8, 1, 2, 3, 3, 1, 1, 1, 1, 8, 8, Linear, NoBias, EdgePad>>(),
            "Conv2d 3x3/1 edge 1"
        );
        assert_eq!(kind::<Conv2d<f32, 8, 8, 1, 2, 3, 2, 1, 2, 1, 0, 8, 4>>(), "Conv2d 3x2/1x2 pad 1x0");
        assert_eq!(kind::<Pool2d<Avg, 8, 8, 1, 2, 2, 1, 1, 7, 7>>(), "AvgPool2d 2x2/1");
        assert_eq!(kind::<Pool2d<Max, 8, 8, 1, 3, 1, 3, 1, 2, 8>>(), "MaxPool2d 3x1/3x1");
        assert_eq!(kind::<Upsample<4, 4, 1, 2, 2, 8, 8>>(), "Upsample 2x2");
    }
}
