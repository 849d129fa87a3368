//! `SVMClassifier` (ai.onnx.ml): scikit-learn's `SVC`/`NuSVC` (one-vs-one over support vectors)
//! and liblinear-style linear SVMs (no support vectors: one coefficient row per class).
//!
//! One-vs-one, as libsvm and onnxruntime: for classes `i < j` the decision value is
//! `Σ coef[j-1][v] K(x, sv_v)` over class `i`'s vectors `+ Σ coef[i][v] K(x, sv_v)` over class
//! `j`'s `+ rho[pair]`; a positive value votes for `i`, otherwise `j`, and the label is the first
//! class with the most votes. With `prob_a`/`prob_b` (`SVC(probability=True)`) the scores are
//! Platt-scaled pairwise probabilities coupled into class probabilities (libsvm's method);
//! without, they are the pairwise decision values (`[-d, d]` for two classes), which skl2onnx
//! turns into scikit-learn's one-vs-rest `decision_function` with standard operators.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::svm::{Kernel, multiclass_probability, sigmoid_probability};
use super::{ClassLabels, PostTransform, check_features, class_labels, eq_by_arc, rows_dim, rows_f32};

#[derive(Debug)]
enum Mode {
    /// Coefficients `[classes, features]`, `rho[0]` added to every class.
    Linear { coefficients: Vec<f32> },
    /// Support vectors `[vectors, features]` grouped by class; coefficients `[classes - 1, vectors]`.
    OneVsOne { support: Vec<f32>, per_class: Vec<usize>, starts: Vec<usize>, coefficients: Vec<f64> },
}

#[derive(Debug)]
struct Params {
    labels: ClassLabels,
    kernel: Kernel,
    mode: Mode,
    features: usize,
    rho: Vec<f64>,
    prob_a: Vec<f64>,
    prob_b: Vec<f64>,
    post: PostTransform,
    weights_all_positive: bool,
}

impl Params {
    fn classes(&self) -> usize {
        self.labels.len()
    }

    fn has_probabilities(&self) -> bool {
        matches!(self.mode, Mode::OneVsOne { .. }) && !self.prob_a.is_empty()
    }

    /// Scores per row: class probabilities, pairwise decision values, or per-class scores.
    fn score_width(&self) -> usize {
        let k = self.classes();
        match self.mode {
            Mode::OneVsOne { .. } if !self.has_probabilities() => {
                if k > 2 {
                    k * (k - 1) / 2
                } else {
                    2
                }
            }
            _ => k,
        }
    }
}

/// A parsed `SVMClassifier`.
#[derive(Clone, Debug)]
pub(crate) struct SvmClassifier {
    params: Arc<Params>,
}

eq_by_arc!(SvmClassifier, params);

fn f64s(node: &NodeProto, name: &str) -> TractResult<Vec<f64>> {
    Ok(node.get_attr_opt_slice::<f32>(name)?.unwrap_or(&[]).iter().map(|&x| f64::from(x)).collect())
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = class_labels(node, "classlabels_ints", "classlabels_strings")?;
    let k = labels.len();
    let kernel = Kernel::parse(node)?;
    let coefficients = node.get_attr_opt_slice::<f32>("coefficients")?.unwrap_or(&[]);
    if coefficients.is_empty() {
        bail!("coefficients are empty");
    }
    let rho = f64s(node, "rho")?;
    let prob_a = f64s(node, "prob_a")?;
    let prob_b = f64s(node, "prob_b")?;
    if prob_a.len() != prob_b.len() {
        bail!("prob_a has {} values, prob_b {}", prob_a.len(), prob_b.len());
    }
    let post = PostTransform::parse(node)?;
    let weights_all_positive = coefficients.iter().all(|&c| c >= 0.0);
    let per_class: Vec<usize> = node
        .get_attr_opt_slice::<i64>("vectors_per_class")?
        .unwrap_or(&[])
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| format_err!("vectors_per_class has {v}")))
        .collect::<TractResult<_>>()?;
    let vectors =
        per_class.iter().try_fold(0usize, |a, &v| a.checked_add(v)).ok_or_else(|| format_err!("too many vectors"))?;
    let (mode, features) = if vectors > 0 {
        if per_class.len() != k {
            bail!("vectors_per_class has {} entries for {k} classes", per_class.len());
        }
        let support = node.get_attr_opt_slice::<f32>("support_vectors")?.unwrap_or(&[]);
        if support.is_empty() || support.len() % vectors != 0 {
            bail!("{} support vector values do not split into {vectors} vectors", support.len());
        }
        let features = support.len() / vectors;
        let pairs = k * (k - 1) / 2;
        if coefficients.len() < (k - 1) * vectors {
            bail!("{} coefficients; {k} classes and {vectors} vectors need {}", coefficients.len(), (k - 1) * vectors);
        }
        if rho.len() < pairs {
            bail!("rho has {} values for {pairs} class pairs", rho.len());
        }
        if !prob_a.is_empty() && prob_a.len() < pairs {
            bail!("prob_a has {} values for {pairs} class pairs", prob_a.len());
        }
        if prob_a.is_empty() && k == 2 && post != PostTransform::None {
            bail!("a binary SVMClassifier without probabilities supports post_transform NONE only");
        }
        let mut starts = Vec::with_capacity(k);
        let mut at = 0;
        for &n in &per_class {
            starts.push(at);
            at += n;
        }
        let coefficients = coefficients.iter().map(|&c| f64::from(c)).collect();
        (Mode::OneVsOne { support: support.to_vec(), per_class, starts, coefficients }, features)
    } else {
        if coefficients.len() % k != 0 {
            bail!("{} coefficients do not split into {k} classes", coefficients.len());
        }
        if rho.is_empty() {
            bail!("rho is empty");
        }
        (Mode::Linear { coefficients: coefficients.to_vec() }, coefficients.len() / k)
    };
    let params = Params { labels, kernel, mode, features, rho, prob_a, prob_b, post, weights_all_positive };
    Ok((expand(SvmClassifier { params: Arc::new(params) }), vec![]))
}

impl Expansion for SvmClassifier {
    fn name(&self) -> StaticName {
        "SVMClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, self.params.labels.datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].datum_type, DatumType::F32)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.params.score_width().to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for SvmClassifier {
    fn name(&self) -> StaticName {
        "SVMClassifier".into()
    }

    op_as_typed_op!();
}

impl SvmClassifier {
    /// The label index and the scores of one row.
    fn row(&self, x: &[f32], kernels: &mut Vec<f64>, scores: &mut Vec<f64>) -> usize {
        let p = &*self.params;
        let k = p.classes();
        scores.clear();
        match &p.mode {
            Mode::Linear { coefficients } => {
                for c in coefficients.chunks_exact(p.features) {
                    scores.push(p.kernel.apply(x, c) + p.rho[0]);
                }
                let mut best = 0;
                for (i, &s) in scores.iter().enumerate() {
                    if s > scores[best] {
                        best = i;
                    }
                }
                // onnxruntime's binary rule for the linear layout.
                let max = scores[best];
                let label =
                    if k == 2 && ((p.weights_all_positive && max >= 0.5) || (!p.weights_all_positive && max > 0.0)) {
                        1
                    } else {
                        best
                    };
                p.post.apply(scores);
                label
            }
            Mode::OneVsOne { support, per_class, starts, coefficients } => {
                let vectors = support.len() / p.features;
                kernels.clear();
                kernels.extend(support.chunks_exact(p.features).map(|sv| p.kernel.apply(x, sv)));
                let mut votes = vec![0usize; k];
                let mut pair = 0;
                for i in 0..k {
                    for j in i + 1..k {
                        let (si, sj) = (starts[i], starts[j]);
                        let mut d = 0.0;
                        for m in 0..per_class[i] {
                            d += coefficients[(j - 1) * vectors + si + m] * kernels[si + m];
                        }
                        for m in 0..per_class[j] {
                            d += coefficients[i * vectors + sj + m] * kernels[sj + m];
                        }
                        d += p.rho[pair];
                        votes[if d > 0.0 { i } else { j }] += 1;
                        scores.push(d);
                        pair += 1;
                    }
                }
                let mut label = 0;
                for (c, &v) in votes.iter().enumerate() {
                    if v > votes[label] {
                        label = c;
                    }
                }
                if p.has_probabilities() {
                    let mut r = vec![0f64; k * k];
                    let mut pair = 0;
                    for i in 0..k {
                        for j in i + 1..k {
                            let v = sigmoid_probability(scores[pair], p.prob_a[pair], p.prob_b[pair])
                                .clamp(1e-7, 1.0 - 1e-7);
                            r[i * k + j] = v;
                            r[j * k + i] = 1.0 - v;
                            pair += 1;
                        }
                    }
                    *scores = multiclass_probability(k, &r);
                } else if k == 2 {
                    let d = scores[0];
                    *scores = vec![-d, d];
                }
                p.post.apply(scores);
                label
            }
        }
    }
}

impl EvalOp for SvmClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (x, rows, width) = rows_f32(&input)?;
        let p = &*self.params;
        if width != p.features {
            bail!("the model has {} features, the input {width}", p.features);
        }
        let w = p.score_width();
        let mut picks = Vec::with_capacity(rows);
        let mut out = Vec::with_capacity(rows * w);
        let (mut kernels, mut scores) = (Vec::new(), Vec::new());
        for r in 0..rows {
            picks.push(self.row(&x[r * width..(r + 1) * width], &mut kernels, &mut scores));
            out.extend(scores.iter().map(|&s| s as f32));
        }
        let labels = p.labels.pick(&picks);
        let scores = tract_ndarray::Array2::from_shape_vec((rows, w), out)?.into_tensor();
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for SvmClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        check_features(inputs[0], self.params.features, "the support vector machine")?;
        let rows = rows_dim(inputs[0])?;
        Ok(tvec!(
            self.params.labels.datum_type().fact([rows.clone()]),
            f32::fact([rows, self.params.score_width().to_dim()])
        ))
    }

    as_op!();
}
