//! What `SVMClassifier` and `SVMRegressor` share: the kernel (`kernel_type` and
//! `kernel_params` = `[gamma, coef0, degree]`) and libsvm's pairwise-coupling probabilities.
//! Both are computed in `f64`, as libsvm (and so scikit-learn) does.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// A support vector machine's kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kernel {
    /// `x·y`
    Linear,
    /// `(gamma x·y + coef0)^degree`
    Poly { gamma: f64, coef0: f64, degree: f64 },
    /// `exp(-gamma |x - y|²)`
    Rbf { gamma: f64 },
    /// `tanh(gamma x·y + coef0)`
    Sigmoid { gamma: f64, coef0: f64 },
}

impl Kernel {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let params = node.get_attr_opt_slice::<f32>("kernel_params")?.unwrap_or(&[]);
        let param = |i: usize| params.get(i).map_or(0.0, |&p| f64::from(p));
        let (gamma, coef0, degree) = (param(0), param(1), param(2));
        match node.get_attr_opt::<&str>("kernel_type")?.unwrap_or("LINEAR") {
            "LINEAR" => Ok(Kernel::Linear),
            "POLY" => Ok(Kernel::Poly { gamma, coef0, degree }),
            "RBF" => Ok(Kernel::Rbf { gamma }),
            "SIGMOID" => Ok(Kernel::Sigmoid { gamma, coef0 }),
            other => bail!("unknown kernel_type {other:?}"),
        }
    }

    /// The kernel of two vectors of the same length.
    pub(crate) fn apply(self, x: &[f32], y: &[f32]) -> f64 {
        let dot = || x.iter().zip(y).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>();
        match self {
            Kernel::Linear => dot(),
            Kernel::Poly { gamma, coef0, degree } => (gamma * dot() + coef0).powf(degree),
            Kernel::Rbf { gamma } => {
                let d2: f64 = x
                    .iter()
                    .zip(y)
                    .map(|(&a, &b)| {
                        let d = f64::from(a) - f64::from(b);
                        d * d
                    })
                    .sum();
                (-gamma * d2).exp()
            }
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot() + coef0).tanh(),
        }
    }
}

/// Platt's sigmoid of a pairwise decision value, as libsvm's `sigmoid_predict`.
pub(crate) fn sigmoid_probability(decision: f64, a: f64, b: f64) -> f64 {
    let f = decision * a + b;
    if f >= 0.0 { (-f).exp() / (1.0 + (-f).exp()) } else { 1.0 / (1.0 + f.exp()) }
}

/// Class probabilities from pairwise ones (`r[i][j]`: P(i | i or j), row-major `k × k`), by
/// the second method of Wu, Lin and Weng (2004) as libsvm's `multiclass_probability` iterates
/// it: same start, stopping rule and iteration cap, so the same answer as scikit-learn.
pub(crate) fn multiclass_probability(k: usize, r: &[f64]) -> Vec<f64> {
    let mut q = vec![0f64; k * k];
    let mut qp = vec![0f64; k];
    let mut p = vec![1.0 / k as f64; k];
    for t in 0..k {
        for j in 0..t {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = q[j * k + t];
        }
        for j in t + 1..k {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = -r[j * k + t] * r[t * k + j];
        }
    }
    let eps = 0.005 / k as f64;
    let max_iter = k.max(100);
    for _ in 0..max_iter {
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t * k + j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        let max_error = qp.iter().map(|&v| (v - pqp).abs()).fold(0.0, f64::max);
        if max_error < eps {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_recovers_consistent_pairwise_probabilities() {
        // Pairwise probabilities made from p = (0.5, 0.3, 0.2): r_ij = p_i / (p_i + p_j).
        let p = [0.5, 0.3, 0.2];
        let mut r = vec![0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    r[i * 3 + j] = p[i] / (p[i] + p[j]);
                }
            }
        }
        let got = multiclass_probability(3, &r);
        for (a, b) in got.iter().zip(p) {
            assert!((a - b).abs() < 1e-3, "{got:?}");
        }
        assert!((got.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn kernels() {
        let (x, y) = ([1.0f32, 2.0], [3.0f32, -1.0]);
        assert_eq!(Kernel::Linear.apply(&x, &y), 1.0);
        assert!((Kernel::Rbf { gamma: 0.5 }.apply(&x, &y) - (-0.5f64 * 13.0).exp()).abs() < 1e-15);
        assert_eq!(Kernel::Poly { gamma: 1.0, coef0: 1.0, degree: 2.0 }.apply(&x, &y), 4.0);
    }
}
