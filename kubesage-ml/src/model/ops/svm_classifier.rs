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

use super::rowwise::{Features, OutputSpec, RowOperator, Rowwise, columns, rows_of};
use super::svm::{Kernel, multiclass_probability, sigmoid_probability};
use super::{ClassLabels, PostTransform, class_labels};

#[derive(Debug)]
enum Mode {
    /// Coefficients `[classes, features]`, `rho[0]` added to every class.
    Linear { coefficients: Vec<f32> },
    /// Support vectors `[vectors, features]` grouped by class; coefficients `[classes - 1, vectors]`.
    OneVsOne { support: Vec<f32>, per_class: Vec<usize>, starts: Vec<usize>, coefficients: Vec<f64> },
}

/// A parsed `SVMClassifier`.
#[derive(Debug)]
pub(crate) struct SvmClassifier {
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

impl SvmClassifier {
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
    let op = SvmClassifier { labels, kernel, mode, features, rho, prob_a, prob_b, post, weights_all_positive };
    Ok((Rowwise::expand(op), vec![]))
}

impl SvmClassifier {
    /// The label index and the scores of one row.
    fn row(&self, x: &[f32], kernels: &mut Vec<f64>, scores: &mut Vec<f64>) -> usize {
        let k = self.classes();
        scores.clear();
        match &self.mode {
            Mode::Linear { coefficients } => {
                for c in coefficients.chunks_exact(self.features) {
                    scores.push(self.kernel.apply(x, c) + self.rho[0]);
                }
                let mut best = 0;
                for (i, &s) in scores.iter().enumerate() {
                    if s > scores[best] {
                        best = i;
                    }
                }
                // onnxruntime's binary rule for the linear layout.
                let max = scores[best];
                let label = if k == 2
                    && ((self.weights_all_positive && max >= 0.5) || (!self.weights_all_positive && max > 0.0))
                {
                    1
                } else {
                    best
                };
                self.post.apply(scores);
                label
            }
            Mode::OneVsOne { support, per_class, starts, coefficients } => {
                let vectors = support.len() / self.features;
                kernels.clear();
                kernels.extend(support.chunks_exact(self.features).map(|sv| self.kernel.apply(x, sv)));
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
                        d += self.rho[pair];
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
                if self.has_probabilities() {
                    let mut r = vec![0f64; k * k];
                    let mut pair = 0;
                    for i in 0..k {
                        for j in i + 1..k {
                            let v = sigmoid_probability(scores[pair], self.prob_a[pair], self.prob_b[pair])
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
                self.post.apply(scores);
                label
            }
        }
    }
}

impl RowOperator for SvmClassifier {
    const NAME: &'static str = "SVMClassifier";
    const READER: &'static str = "the support vector machine";

    fn features(&self) -> Features {
        Features::Exactly(self.features)
    }

    fn outputs(&self) -> TVec<OutputSpec> {
        tvec!(OutputSpec::PerRow(self.labels.datum_type()), OutputSpec::Columns(DatumType::F32, self.score_width()))
    }

    fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>> {
        let w = self.score_width();
        let mut picks = Vec::with_capacity(rows);
        let mut out = Vec::with_capacity(rows * w);
        let (mut kernels, mut scores) = (Vec::new(), Vec::new());
        for row in rows_of(x, rows, width) {
            picks.push(self.row(row, &mut kernels, &mut scores));
            out.extend(scores.iter().map(|&s| s as f32));
        }
        Ok(tvec!(self.labels.pick(&picks), columns(out, rows, w)?))
    }
}
