//! What the element-wise ONNX-ML operators share (`Imputer`, `LabelEncoder`): one input of any
//! shape, one output of the same shape and a fixed type, each element mapped on its own. An
//! operator implements [`ElementOperator`] (its name, its output type, the width of the last
//! axis it may need, its mapping); [`Elementwise`] wraps it and implements tract's `Expansion`,
//! `Op`, `EvalOp` and `TypedOp` once for both.

use std::fmt;

use tract_onnx::tract_hir::internal::*;

/// An operator mapping each element of its input, parsed and checked at load.
pub(crate) trait ElementOperator: fmt::Debug + Send + Sync + 'static {
    /// The ONNX operator's name.
    const NAME: &'static str;

    /// The output's type.
    fn output_type(&self) -> DatumType;

    /// The number of values per feature, when there is more than one: the last axis must then
    /// be this wide.
    fn width(&self) -> Option<usize> {
        None
    }

    /// Maps the input (its last axis checked against [`ElementOperator::width`]) into an
    /// output of the same shape and of [`ElementOperator::output_type`].
    fn eval(&self, input: TValue) -> TractResult<Tensor>;
}

/// An [`ElementOperator`] as tract's loader and runtime see it; two are equal when they share
/// the parsed operator.
#[derive(Debug)]
pub(crate) struct Elementwise<T>(Arc<T>);

impl<T: ElementOperator> Elementwise<T> {
    /// The operator, ready for tract's loader.
    pub(crate) fn expand(op: T) -> Box<dyn InferenceOp> {
        expand(Elementwise(Arc::new(op)))
    }

    /// Checks the last axis's width, when known, against the operator's.
    fn check_width(&self, last: Option<usize>) -> TractResult<()> {
        if let (Some(n), Some(w)) = (self.0.width(), last)
            && w != n
        {
            bail!("{} has {n} values, the input has {w} features", T::NAME);
        }
        Ok(())
    }
}

impl<T> Clone for Elementwise<T> {
    fn clone(&self) -> Self {
        Elementwise(Arc::clone(&self.0))
    }
}

impl<T> PartialEq for Elementwise<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Elementwise<T> {}

impl<T: ElementOperator> Expansion for Elementwise<T> {
    fn name(&self) -> StaticName {
        T::NAME.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, self.0.output_type())?;
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl<T: ElementOperator> Op for Elementwise<T> {
    fn name(&self) -> StaticName {
        T::NAME.into()
    }

    op_as_typed_op!();
}

impl<T: ElementOperator> EvalOp for Elementwise<T> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        self.check_width(Some(input.shape().last().copied().unwrap_or(1)))?;
        Ok(tvec!(self.0.eval(input)?.into_tvalue()))
    }
}

impl<T: ElementOperator> TypedOp for Elementwise<T> {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        self.check_width(input.shape.iter().last().and_then(|w| w.to_usize().ok()))?;
        Ok(tvec!(self.0.output_type().fact(input.shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles each element, with one factor per feature when there are several.
    #[derive(Debug)]
    struct Double {
        width: Option<usize>,
    }

    impl ElementOperator for Double {
        const NAME: &'static str = "Double";

        fn output_type(&self) -> DatumType {
            DatumType::F32
        }

        fn width(&self) -> Option<usize> {
            self.width
        }

        fn eval(&self, input: TValue) -> TractResult<Tensor> {
            let mut out = input.cast_to::<f32>()?.into_owned();
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?.iter_mut().for_each(|v| *v *= 2.0);
            Ok(out)
        }
    }

    fn run(op: &Elementwise<Double>, input: Tensor) -> TractResult<TVec<TValue>> {
        EvalOp::eval(op, &EvalContext::out_of_plan(), tvec!(input.into_tvalue()))
    }

    #[test]
    fn maps_every_element_and_checks_the_last_axis() {
        let any = Elementwise(Arc::new(Double { width: None }));
        let out = run(&any, tensor2(&[[1i64, 2, 3]])).expect("any width");
        assert_eq!(*out[0], tensor2(&[[2f32, 4.0, 6.0]]));
        let two = Elementwise(Arc::new(Double { width: Some(2) }));
        let err = run(&two, tensor2(&[[1f32, 2.0, 3.0]])).expect_err("three features for two values");
        assert_eq!(err.to_string(), "Double has 2 values, the input has 3 features");
        assert!(run(&two, tensor2(&[[1f32, 2.0]])).is_ok());
        let fact = f32::fact([4.to_dim(), 3.to_dim()]);
        assert!(two.output_facts(&[&fact]).is_err());
        assert_eq!(any.output_facts(&[&fact]).expect("facts")[0], fact);
        assert_ne!(any, Elementwise(Arc::new(Double { width: None })));
        assert_eq!(any, any.clone());
    }
}
