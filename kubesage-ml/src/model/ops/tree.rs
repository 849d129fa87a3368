//! The decision trees of `TreeEnsembleClassifier` and `TreeEnsembleRegressor`, read from the
//! operators' parallel attribute arrays (`nodes_*` for the nodes, `class_*` or `target_*` for
//! the leaves' weights) into one flat array of nodes.
//!
//! Loading checks what evaluation relies on: every child a node names exists in the same tree,
//! each tree's root (its node of lowest id) is no node's child and no walk from it comes back to
//! a node it passed (so a walk down a tree ends), every weight is for an existing class or target
//! and every leaf exists. Evaluation then only indexes checked positions.

use std::collections::HashMap;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{floats_attr, indices_attr};

/// How a branch node compares a feature with its threshold to take its `true` child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

#[derive(Clone, Copy, Debug)]
enum Node {
    Branch {
        feature: u32,
        threshold: f32,
        rule: Rule,
        missing_goes_true: bool,
        yes: u32,
        no: u32,
    },
    /// The leaf's weights are `weights[start..end]`.
    Leaf {
        start: u32,
        end: u32,
    },
}

/// How the trees' weights for one class or target combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

impl Aggregate {
    pub(crate) fn parse(s: &str) -> TractResult<Self> {
        match s {
            "SUM" => Ok(Aggregate::Sum),
            "AVERAGE" => Ok(Aggregate::Average),
            "MIN" => Ok(Aggregate::Min),
            "MAX" => Ok(Aggregate::Max),
            other => bail!("unknown aggregate_function {other:?}"),
        }
    }
}

/// A checked tree ensemble.
#[derive(Debug)]
pub(crate) struct Forest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    /// `(class or target, weight)` of every leaf, leaf by leaf.
    weights: Vec<(u32, f64)>,
    /// The number of classes or targets scores are computed for.
    pub(crate) n_targets: usize,
    /// One more than the largest feature index a branch reads.
    pub(crate) n_features: usize,
    aggregate: Aggregate,
    /// Whether each class or target gets a weight from some leaf.
    pub(crate) used_targets: Vec<bool>,
    /// Whether no weight is negative.
    pub(crate) weights_all_positive: bool,
}

impl Forest {
    /// Reads the trees of `node`; `leaf` is `class` (classifiers) or `target` (regressors).
    pub(crate) fn parse(node: &NodeProto, leaf: &str, n_targets: usize, aggregate: Aggregate) -> TractResult<Self> {
        let tree_ids = node.get_attr_slice::<i64>("nodes_treeids")?;
        let node_ids = node.get_attr_slice::<i64>("nodes_nodeids")?;
        let n = tree_ids.len();
        if n == 0 {
            bail!("the ensemble has no nodes");
        }
        let features = indices_attr(node, "nodes_featureids")?;
        let modes = node.get_attr_tvec::<&str>("nodes_modes")?;
        let values = floats_attr(node, "nodes_values")?.unwrap_or_default();
        let true_ids = node.get_attr_slice::<i64>("nodes_truenodeids")?;
        let false_ids = node.get_attr_slice::<i64>("nodes_falsenodeids")?;
        let missing = node.get_attr_opt_slice::<i64>("nodes_missing_value_tracks_true")?.unwrap_or(&[]);
        for (name, len) in [
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", features.len()),
            ("nodes_modes", modes.len()),
            ("nodes_values", values.len()),
            ("nodes_truenodeids", true_ids.len()),
            ("nodes_falsenodeids", false_ids.len()),
        ] {
            if len != n {
                bail!("{name} has {len} entries, nodes_treeids {n}");
            }
        }
        if !missing.is_empty() && missing.len() != n {
            bail!("nodes_missing_value_tracks_true has {} entries, nodes_treeids {n}", missing.len());
        }

        let mut index = HashMap::with_capacity(n);
        for (i, key) in tree_ids.iter().zip(node_ids).enumerate() {
            if index.insert((*key.0, *key.1), i).is_some() {
                bail!("node {} of tree {} is declared twice", key.1, key.0);
            }
        }
        let child = |i: usize, id: i64, side: &str| -> TractResult<u32> {
            match index.get(&(tree_ids[i], id)) {
                Some(&c) => Ok(c as u32),
                None => bail!("node {} of tree {}: its {side} child {id} does not exist", node_ids[i], tree_ids[i]),
            }
        };

        // Leaves' weights, grouped by the node they belong to.
        let p = |s: &str| format!("{leaf}_{s}");
        let leaf_trees = node.get_attr_slice::<i64>(&p("treeids"))?;
        let leaf_nodes = node.get_attr_slice::<i64>(&p("nodeids"))?;
        let leaf_targets = indices_attr(node, &p("ids"))?;
        let leaf_weights = floats_attr(node, &p("weights"))?.unwrap_or_default();
        let m = leaf_trees.len();
        for (name, len) in
            [(p("nodeids"), leaf_nodes.len()), (p("ids"), leaf_targets.len()), (p("weights"), leaf_weights.len())]
        {
            if len != m {
                bail!("{name} has {len} entries, {} {m}", p("treeids"));
            }
        }
        let mut per_node: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        let mut used_targets = vec![false; n_targets];
        for k in 0..m {
            let Some(&i) = index.get(&(leaf_trees[k], leaf_nodes[k])) else {
                bail!("a weight is for node {} of tree {}, which does not exist", leaf_nodes[k], leaf_trees[k]);
            };
            let target = leaf_targets[k];
            if target as usize >= n_targets {
                bail!("a weight is for class or target {target}; there are {n_targets}");
            }
            used_targets[target as usize] = true;
            per_node[i].push((target, leaf_weights[k]));
        }

        let mut nodes = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(m);
        let mut n_features = 0usize;
        let mut is_child = vec![false; n];
        for i in 0..n {
            let rule = match modes[i] {
                "LEAF" => None,
                "BRANCH_LEQ" => Some(Rule::Leq),
                "BRANCH_LT" => Some(Rule::Lt),
                "BRANCH_GTE" => Some(Rule::Gte),
                "BRANCH_GT" => Some(Rule::Gt),
                "BRANCH_EQ" => Some(Rule::Eq),
                "BRANCH_NEQ" => Some(Rule::Neq),
                other => bail!("node {} of tree {}: unknown mode {other:?}", node_ids[i], tree_ids[i]),
            };
            match rule {
                None => {
                    let start = weights.len() as u32;
                    weights.append(&mut per_node[i]);
                    nodes.push(Node::Leaf { start, end: weights.len() as u32 });
                }
                Some(rule) => {
                    if !per_node[i].is_empty() {
                        bail!("node {} of tree {} is a branch but has weights", node_ids[i], tree_ids[i]);
                    }
                    let (yes, no) = (child(i, true_ids[i], "true")?, child(i, false_ids[i], "false")?);
                    is_child[yes as usize] = true;
                    is_child[no as usize] = true;
                    n_features = n_features.max(features[i] as usize + 1);
                    nodes.push(Node::Branch {
                        feature: features[i],
                        threshold: values[i] as f32,
                        rule,
                        missing_goes_true: missing.get(i).is_some_and(|&b| b != 0),
                        yes,
                        no,
                    });
                }
            }
        }

        // Each tree's root is its node of lowest id (as onnxruntime reads it), which no node
        // may name as a child; trees in the order of their ids.
        let mut first: HashMap<i64, (i64, u32)> = HashMap::new();
        for i in 0..n {
            let entry = first.entry(tree_ids[i]).or_insert((node_ids[i], i as u32));
            if node_ids[i] < entry.0 {
                *entry = (node_ids[i], i as u32);
            }
        }
        let mut roots: Vec<(i64, u32)> = first.into_iter().map(|(tree, (_, i))| (tree, i)).collect();
        roots.sort_unstable();
        for &(tree, root) in &roots {
            if is_child[root as usize] {
                bail!(
                    "tree {tree}: its root, node {}, is also a child (the nodes form a cycle)",
                    node_ids[root as usize]
                );
            }
        }
        let roots: Vec<u32> = roots.into_iter().map(|(_, r)| r).collect();
        check_acyclic(&nodes, &roots)?;

        let weights_all_positive = weights.iter().all(|&(_, w)| w >= 0.0);
        Ok(Forest { nodes, roots, weights, n_targets, n_features, aggregate, used_targets, weights_all_positive })
    }

    /// The number of trees.
    pub(crate) fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Adds one row's leaves into `scores` (per class or target) as the aggregate says;
    /// `has_score` tells which got any weight. Both are reset first. `row` must hold at least
    /// [`Forest::n_features`] values.
    pub(crate) fn eval_row(&self, row: &[f32], scores: &mut [f64], has_score: &mut [bool]) {
        scores.iter_mut().for_each(|s| *s = 0.0);
        has_score.iter_mut().for_each(|h| *h = false);
        for &root in &self.roots {
            let mut at = root as usize;
            let (start, end) = loop {
                match self.nodes[at] {
                    Node::Leaf { start, end } => break (start as usize, end as usize),
                    Node::Branch { feature, threshold, rule, missing_goes_true, yes, no } => {
                        let x = row[feature as usize];
                        let go = match rule {
                            Rule::Leq => x <= threshold,
                            Rule::Lt => x < threshold,
                            Rule::Gte => x >= threshold,
                            Rule::Gt => x > threshold,
                            Rule::Eq => x == threshold,
                            Rule::Neq => x != threshold,
                        } || (missing_goes_true && x.is_nan());
                        at = if go { yes } else { no } as usize;
                    }
                }
            };
            for &(target, w) in &self.weights[start..end] {
                let t = target as usize;
                match self.aggregate {
                    Aggregate::Sum | Aggregate::Average => scores[t] += w,
                    Aggregate::Min => {
                        if !has_score[t] || w < scores[t] {
                            scores[t] = w
                        }
                    }
                    Aggregate::Max => {
                        if !has_score[t] || w > scores[t] {
                            scores[t] = w
                        }
                    }
                }
                has_score[t] = true;
            }
        }
        if self.aggregate == Aggregate::Average {
            let trees = self.n_trees() as f64;
            scores.iter_mut().for_each(|s| *s /= trees);
        }
    }
}

/// Fails if a walk from a root can come back to a node it passed (depth-first, iterative).
fn check_acyclic(nodes: &[Node], roots: &[u32]) -> TractResult<()> {
    // 0: not seen, 1: on the current path, 2: done.
    let mut state = vec![0u8; nodes.len()];
    let mut stack: Vec<(u32, u8)> = Vec::new();
    for &root in roots {
        if state[root as usize] == 2 {
            continue;
        }
        stack.push((root, 0));
        state[root as usize] = 1;
        while let Some(top) = stack.last_mut() {
            let at = top.0 as usize;
            let next = match nodes[at] {
                Node::Branch { yes, no, .. } if top.1 < 2 => {
                    top.1 += 1;
                    Some(if top.1 == 1 { yes } else { no })
                }
                _ => None,
            };
            match next {
                Some(c) => match state[c as usize] {
                    0 => {
                        state[c as usize] = 1;
                        stack.push((c, 0));
                    }
                    1 => bail!("the trees contain a cycle"),
                    _ => {}
                },
                None => {
                    state[at] = 2;
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}
