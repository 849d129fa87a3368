//! What the row-wise ONNX-ML operators share: one input `[rows, features]` (numeric, computed on
//! as `f32`), outputs with one row (or one label) per input row. An operator implements
//! [`RowOperator`] (its name, the features it reads, its outputs, its arithmetic on the rows);
//! [`Rowwise`] wraps it and implements tract's `Expansion`, `Op`, `EvalOp` and `TypedOp` once
//! for all of them: the inference rules, the checks of the input's rank, type and width (at load
//! when the width is known, and at every run) and the output facts.

use std::fmt;

use tract_onnx::tract_hir::internal::*;

/// The features an operator reads from each row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Features {
    /// Features by index, below this count; wider rows are fine (the trees).
    AtLeast(usize),
    /// The whole row, which must be this wide (a support vector machine's dot products).
    Exactly(usize),
}

impl Features {
    fn count(self) -> usize {
        match self {
            Features::AtLeast(n) | Features::Exactly(n) => n,
        }
    }
}

/// One output of a row-wise operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputSpec {
    /// `[rows]`: one value (a label) per row.
    PerRow(DatumType),
    /// `[rows, columns]`.
    Columns(DatumType, usize),
}

impl OutputSpec {
    fn datum_type(self) -> DatumType {
        match self {
            OutputSpec::PerRow(dt) | OutputSpec::Columns(dt, _) => dt,
        }
    }

    fn fact(self, rows: TDim) -> TypedFact {
        match self {
            OutputSpec::PerRow(dt) => dt.fact([rows]),
            OutputSpec::Columns(dt, n) => dt.fact([rows, n.to_dim()]),
        }
    }
}

/// An operator computed row by row on `f32` features, parsed and checked at load.
pub(crate) trait RowOperator: fmt::Debug + Send + Sync + 'static {
    /// The ONNX operator's name.
    const NAME: &'static str;
    /// What reads the features, for error messages ("the trees").
    const READER: &'static str;

    /// The features each row must hold.
    fn features(&self) -> Features;

    /// The outputs, in order.
    fn outputs(&self) -> TVec<OutputSpec>;

    /// Computes the outputs of `rows` rows of `width` features (`x` row-major, `width` checked
    /// against [`RowOperator::features`]), each as [`RowOperator::outputs`] describes it.
    fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>>;

    /// One-line hints for tract's dumps.
    fn info(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A [`RowOperator`] as tract's loader and runtime see it. Two are equal when they share the
/// parsed operator (floats have no `Eq`, and tract only needs equality to merge identical
/// nodes).
#[derive(Debug)]
pub(crate) struct Rowwise<T>(Arc<T>);

impl<T: RowOperator> Rowwise<T> {
    /// The operator, ready for tract's loader.
    pub(crate) fn expand(op: T) -> Box<dyn InferenceOp> {
        expand(Rowwise(Arc::new(op)))
    }

    /// Checks a run-time width against the features the operator reads.
    fn check_width(&self, width: usize) -> TractResult<()> {
        match self.0.features() {
            Features::AtLeast(n) if width < n => bail!("{} read {n} features, the input has {width}", T::READER),
            Features::Exactly(n) if width != n => bail!("the model has {n} features, the input {width}"),
            _ => Ok(()),
        }
    }
}

impl<T> Clone for Rowwise<T> {
    fn clone(&self) -> Self {
        Rowwise(Arc::clone(&self.0))
    }
}

impl<T> PartialEq for Rowwise<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Rowwise<T> {}

impl<T: RowOperator> Expansion for Rowwise<T> {
    fn name(&self) -> StaticName {
        T::NAME.into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.outputs().len())
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let specs = self.0.outputs();
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, specs.len())?;
        s.equals(&inputs[0].rank, 2)?;
        for (output, spec) in outputs.iter().zip(specs) {
            s.equals(&output.datum_type, spec.datum_type())?;
            match spec {
                OutputSpec::PerRow(_) => s.equals(&output.rank, 1)?,
                OutputSpec::Columns(_, n) => {
                    s.equals(&output.rank, 2)?;
                    s.equals(&output.shape[1], n.to_dim())?;
                }
            }
            s.equals(&output.shape[0], &inputs[0].shape[0])?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl<T: RowOperator> Op for Rowwise<T> {
    fn name(&self) -> StaticName {
        T::NAME.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(self.0.info())
    }

    op_as_typed_op!();
}

impl<T: RowOperator> EvalOp for Rowwise<T> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, width) = match *input.shape() {
            [n, f] => (n, f),
            [f] => (1, f),
            ref other => bail!("expected a [rows, features] input, got shape {other:?}"),
        };
        let dt = input.datum_type();
        if !(dt.is_float() || dt.is_integer()) {
            bail!("expected a numeric input, got {dt:?}");
        }
        self.check_width(width)?;
        // An f32 input is read in place; anything else is cast once.
        let cast = input.cast_to::<f32>()?;
        let x = cast.try_as_plain_ram()?.as_slice::<f32>()?;
        let outputs = self.0.eval(x, rows, width)?;
        Ok(outputs.into_iter().map(Tensor::into_tvalue).collect())
    }
}

impl<T: RowOperator> TypedOp for Rowwise<T> {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        let rows = match input.rank() {
            2 => input.shape[0].clone(),
            1 => 1.into(),
            r => bail!("expected a [rows, features] input, got rank {r}"),
        };
        let needed = self.0.features().count();
        if let Ok(w) = input.shape[input.rank() - 1].to_usize()
            && w < needed
        {
            bail!("{} reads {needed} features, the input has {w}", T::READER);
        }
        Ok(self.0.outputs().into_iter().map(|spec| spec.fact(rows.clone())).collect())
    }

    as_op!();
}

/// The `rows` rows of `x`, `width` values each (`x` holds `rows * width` values, as the
/// input tensor's shape says; a row of no features is an empty slice).
pub(crate) fn rows_of(x: &[f32], rows: usize, width: usize) -> impl Iterator<Item = &[f32]> {
    (0..rows).map(move |r| &x[r * width..(r + 1) * width])
}

/// A `[rows, columns]` tensor of `f32` from row-major values.
pub(crate) fn columns(values: Vec<f32>, rows: usize, columns: usize) -> TractResult<Tensor> {
    Ok(tract_ndarray::Array2::from_shape_vec((rows, columns), values)?.into_tensor())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums each row: the smallest operator there is.
    #[derive(Debug)]
    struct RowSum {
        features: Features,
    }

    impl RowOperator for RowSum {
        const NAME: &'static str = "RowSum";
        const READER: &'static str = "the sum";

        fn features(&self) -> Features {
            self.features
        }

        fn outputs(&self) -> TVec<OutputSpec> {
            tvec!(OutputSpec::PerRow(DatumType::I64), OutputSpec::Columns(DatumType::F32, 1))
        }

        fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>> {
            let sums: Vec<f32> = rows_of(x, rows, width).map(|r| r.iter().sum()).collect();
            let labels: Vec<i64> = sums.iter().map(|&s| s as i64).collect();
            Ok(tvec!(tensor1(&labels), columns(sums, rows, 1)?))
        }
    }

    fn op(features: Features) -> Rowwise<RowSum> {
        Rowwise(Arc::new(RowSum { features }))
    }

    fn run(op: &Rowwise<RowSum>, input: Tensor) -> TractResult<TVec<TValue>> {
        EvalOp::eval(op, &EvalContext::out_of_plan(), tvec!(input.into_tvalue()))
    }

    #[test]
    fn evaluates_rows_of_any_numeric_type_and_one_dimensional_input_as_one_row() {
        let op = op(Features::AtLeast(2));
        let out = run(&op, tensor2(&[[1f32, 2.0, 3.0], [4.0, 5.0, 6.0]])).expect("f32 rows");
        assert_eq!(*out[0], tensor1(&[6i64, 15]));
        assert_eq!(*out[1], tensor2(&[[6f32], [15.0]]));
        let out = run(&op, tensor2(&[[1i64, 2], [3, 4]])).expect("i64 rows");
        assert_eq!(*out[1], tensor2(&[[3f32], [7.0]]));
        let out = run(&op, tensor1(&[1f64, 2.0])).expect("one f64 row");
        assert_eq!(*out[1], tensor2(&[[3f32]]));
    }

    #[test]
    fn refuses_narrow_rows_other_ranks_and_non_numeric_inputs() {
        let err = run(&op(Features::AtLeast(3)), tensor2(&[[1f32, 2.0]])).expect_err("too narrow");
        assert_eq!(err.to_string(), "the sum read 3 features, the input has 2");
        assert!(run(&op(Features::Exactly(3)), tensor2(&[[1f32, 2.0, 3.0, 4.0]])).is_err());
        assert!(run(&op(Features::Exactly(3)), tensor2(&[[1f32, 2.0, 3.0]])).is_ok());
        assert!(run(&op(Features::AtLeast(1)), tensor3(&[[[1f32]]])).is_err());
        assert!(run(&op(Features::AtLeast(1)), tensor2(&[[String::from("a")]])).is_err());
    }

    #[test]
    fn output_facts_follow_the_rows_and_check_a_known_width() {
        let op = op(Features::AtLeast(3));
        let rows = TDim::from(7);
        let facts = op.output_facts(&[&f32::fact([rows.clone(), 4.to_dim()])]).expect("facts");
        assert_eq!(facts[0], i64::fact([rows.clone()]));
        assert_eq!(facts[1], f32::fact([rows, 1.to_dim()]));
        assert!(op.output_facts(&[&f32::fact([5.to_dim(), 2.to_dim()])]).is_err());
        assert!(op.output_facts(&[&f32::fact([5.to_dim(), 2.to_dim(), 3.to_dim()])]).is_err());
    }

    #[test]
    fn equal_only_when_sharing_the_operator() {
        let a = op(Features::AtLeast(1));
        assert_eq!(a, a.clone());
        assert_ne!(a, op(Features::AtLeast(1)));
    }
}
