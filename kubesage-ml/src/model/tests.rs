//! Models written byte by byte here (a small protobuf writer, no ONNX tooling): hostile files
//! that must give typed errors, and small graphs of our operators with known answers.

use tract_onnx::prelude::*;

use super::*;

/// Just enough of the protobuf wire format to write ONNX messages.
#[derive(Default)]
pub(super) struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }
    fn key(&mut self, field: u32, wire: u8) -> &mut Self {
        self.varint(u64::from(field) << 3 | u64::from(wire))
    }
    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0).varint(v as u64)
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, 2).varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: &Pb) -> &mut Self {
        self.bytes(field, &m.0)
    }
    fn float(&mut self, field: u32, f: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&f.to_le_bytes());
        self
    }
}

pub(super) const FLOAT: i64 = 1;
const STRING: i64 = 8;
const INT64: i64 = 7;

/// A `TensorProto` with raw data.
pub(super) fn tensor(name: &str, data_type: i64, dims: &[i64], raw: &[u8]) -> Pb {
    let mut t = Pb::default();
    for &d in dims {
        t.int(1, d);
    }
    t.int(2, data_type).str(8, name).bytes(9, raw);
    t
}

/// A tensor `ValueInfoProto`; `None` dims are unnamed (symbolic).
fn value_info(name: &str, elem_type: i64, dims: &[Option<i64>]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        let mut dim = Pb::default();
        if let Some(v) = d {
            dim.int(1, *v);
        }
        shape.msg(1, &dim);
    }
    let mut tensor_type = Pb::default();
    tensor_type.int(1, elem_type).msg(2, &shape);
    let mut type_proto = Pb::default();
    type_proto.msg(1, &tensor_type);
    let mut vi = Pb::default();
    vi.str(1, name).msg(2, &type_proto);
    vi
}

enum Attr<'a> {
    Int(i64),
    Floats(&'a [f32]),
    Ints(&'a [i64]),
    Str(&'a str),
    Strs(&'a [&'a str]),
    Tensor(Pb),
}

fn attribute(name: &str, value: Attr) -> Pb {
    let mut a = Pb::default();
    a.str(1, name);
    match value {
        Attr::Int(i) => a.int(3, i).int(20, 2),
        Attr::Floats(v) => {
            v.iter().for_each(|&f| {
                a.float(7, f);
            });
            a.int(20, 6)
        }
        Attr::Ints(v) => {
            v.iter().for_each(|&i| {
                a.int(8, i);
            });
            a.int(20, 7)
        }
        Attr::Str(s) => a.str(4, s).int(20, 3),
        Attr::Strs(v) => {
            v.iter().for_each(|s| {
                a.str(9, s);
            });
            a.int(20, 8)
        }
        Attr::Tensor(t) => a.msg(5, &t).int(20, 4),
    };
    a
}

fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<(&str, Attr)>) -> Pb {
    let mut n = Pb::default();
    inputs.iter().for_each(|i| {
        n.str(1, i);
    });
    outputs.iter().for_each(|o| {
        n.str(2, o);
    });
    n.str(3, &format!("{op}_node")).str(4, op).str(7, domain);
    for (name, value) in attrs {
        n.msg(5, &attribute(name, value));
    }
    n
}

/// A model of `nodes`, with `inputs`, `outputs` and `initializers`.
fn model(nodes: Vec<Pb>, inputs: Vec<Pb>, outputs: Vec<Pb>, initializers: Vec<Pb>) -> Vec<u8> {
    let mut g = Pb::default();
    nodes.iter().for_each(|n| {
        g.msg(1, n);
    });
    g.str(2, "test");
    initializers.iter().for_each(|t| {
        g.msg(5, t);
    });
    inputs.iter().for_each(|i| {
        g.msg(11, i);
    });
    outputs.iter().for_each(|o| {
        g.msg(12, o);
    });
    let mut m = Pb::default();
    m.int(1, 8).str(2, "kubesage-tests");
    for (domain, version) in [("", 17), ("ai.onnx.ml", 3)] {
        let mut opset = Pb::default();
        opset.str(1, domain).int(2, version);
        m.msg(8, &opset);
    }
    m.msg(7, &g);
    m.0
}

pub(super) fn floats_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

/// `y = x + c` on a `[batch, 3]` float input.
pub(super) fn add_model(c: Pb) -> Vec<u8> {
    model(
        vec![node("Add", "", &["x", "c"], &["y"], vec![])],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("y", FLOAT, &[None, Some(3)])],
        vec![c],
    )
}

fn rows(rows: &[[f32; 3]]) -> Tensor {
    tract_ndarray::Array2::from_shape_vec((rows.len(), 3), rows.iter().flatten().copied().collect())
        .expect("rows")
        .into_tensor()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_plain_array_view::<f32>().expect("f32").iter().copied().collect()
}

#[test]
fn a_well_formed_graph_loads_with_a_symbolic_batch() {
    let bytes = add_model(tensor("c", FLOAT, &[3], &floats_bytes(&[1.0, 2.0, 3.0])));
    let m = Model::from_bytes(&bytes).expect("loads");
    assert_eq!(m.inputs()[0].shape, vec![-1, 3]);
    assert_eq!(m.outputs()[0].shape, vec![-1, 3]);
    assert_eq!(m.outputs()[0].datatype, DataType::Fp32);
    assert_eq!(m.metadata().producer_name, "kubesage-tests");
    for n in [1, 4] {
        let out = m.run(vec![rows(&vec![[0.0, 0.0, 0.5]; n])]).expect("runs");
        assert_eq!(out[0].shape(), &[n, 3]);
        assert_eq!(&f32s(&out[0])[..3], &[1.0, 2.0, 3.5]);
    }
}

#[test]
fn empty_truncated_and_too_large_files_are_refused() {
    assert!(matches!(Model::from_bytes(&[]), Err(Error::ModelDecode { .. })));
    let bytes = add_model(tensor("c", FLOAT, &[3], &floats_bytes(&[1.0, 2.0, 3.0])));
    for cut in 1..bytes.len() {
        let got = Model::from_bytes(&bytes[..cut]);
        assert!(matches!(got, Err(Error::ModelDecode { .. } | Error::ModelInvalid { .. })), "cut at {cut}: {got:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.onnx");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_MODEL_BYTES + 1).expect("a sparse file");
    assert!(matches!(Model::load(&path), Err(Error::ModelTooLarge { .. })));
    assert!(matches!(Model::load(&dir.path().join("absent.onnx")), Err(Error::Io { .. })));
}

#[test]
fn a_tensor_declaring_more_than_it_stores_is_refused_before_allocation() {
    // 2^40 floats declared, 12 bytes stored: a few bytes of file asking for 4 TiB.
    for dims in [vec![1i64 << 40], vec![1 << 20, 1 << 20], vec![3, -1], vec![1000]] {
        let bytes = add_model(tensor("c", FLOAT, &dims, &floats_bytes(&[1.0, 2.0, 3.0])));
        let got = Model::from_bytes(&bytes);
        assert!(matches!(got, Err(Error::ModelInvalid { .. })), "dims {dims:?}: {got:?}");
    }
}

#[test]
fn external_data_is_refused() {
    let mut c = tensor("c", FLOAT, &[3], &[]);
    let mut location = Pb::default();
    location.str(1, "location").str(2, "/etc/passwd");
    c.msg(13, &location).int(14, 1);
    let got = Model::from_bytes(&add_model(c));
    let Err(Error::ModelInvalid { reason, .. }) = got else { panic!("{got:?}") };
    assert!(reason.contains("external data"), "{reason}");
}

#[test]
fn a_constant_shape_asking_for_a_huge_tensor_is_refused() {
    let shape = tensor("shape", INT64, &[2], &[(1i64 << 30).to_le_bytes(), (1i64 << 30).to_le_bytes()].concat());
    let bytes = model(
        vec![node("ConstantOfShape", "", &["shape"], &["y"], vec![])],
        vec![],
        vec![value_info("y", FLOAT, &[None, None])],
        vec![shape],
    );
    assert!(matches!(Model::from_bytes(&bytes), Err(Error::ModelInvalid { .. })));
}

#[test]
fn an_unknown_operator_is_named() {
    let bytes = model(
        vec![node("Frobnicate", "com.example", &["x"], &["y"], vec![])],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("y", FLOAT, &[None, Some(3)])],
        vec![],
    );
    match Model::from_bytes(&bytes) {
        Err(Error::UnsupportedOperator { op, domain, .. }) => {
            assert_eq!(op, "Frobnicate");
            assert_eq!(domain, "com.example");
        }
        other => panic!("{other:?}"),
    }
}

/// A one-tree regressor on `[batch, 3]`: `x0 <= 0.5` gives 1.0, else `x2 < 2` gives 2.0, else 3.0.
fn tree_model(true_ids: &[i64], modes: &[&str]) -> Vec<u8> {
    let tree = node(
        "TreeEnsembleRegressor",
        "ai.onnx.ml",
        &["x"],
        &["y"],
        vec![
            ("n_targets", Attr::Int(1)),
            ("nodes_treeids", Attr::Ints(&[0, 0, 0, 0, 0])),
            ("nodes_nodeids", Attr::Ints(&[0, 1, 2, 3, 4])),
            ("nodes_featureids", Attr::Ints(&[0, 0, 2, 0, 0])),
            ("nodes_modes", Attr::Strs(modes)),
            ("nodes_values", Attr::Floats(&[0.5, 0.0, 2.0, 0.0, 0.0])),
            ("nodes_truenodeids", Attr::Ints(true_ids)),
            ("nodes_falsenodeids", Attr::Ints(&[2, 0, 4, 0, 0])),
            ("nodes_missing_value_tracks_true", Attr::Ints(&[1, 0, 0, 0, 0])),
            ("target_treeids", Attr::Ints(&[0, 0, 0])),
            ("target_nodeids", Attr::Ints(&[1, 3, 4])),
            ("target_ids", Attr::Ints(&[0, 0, 0])),
            ("target_weights", Attr::Floats(&[1.0, 2.0, 3.0])),
            ("base_values", Attr::Floats(&[0.25])),
        ],
    );
    model(
        vec![tree],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("y", FLOAT, &[None, Some(1)])],
        vec![],
    )
}

#[test]
fn tree_regressor_walks_its_branches_and_sends_missing_values_where_told() {
    let m = Model::from_bytes(&tree_model(&[1, 0, 3, 0, 0], &["BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "LEAF"]))
        .expect("loads");
    let out =
        m.run(vec![rows(&[[0.0, 9.0, 9.0], [1.0, 0.0, 1.0], [1.0, 0.0, 5.0], [f32::NAN, 0.0, 5.0]])]).expect("runs");
    assert_eq!(f32s(&out[0]), vec![1.25, 2.25, 3.25, 1.25]);
}

#[test]
fn trees_with_cycles_or_missing_children_are_refused() {
    let modes = ["BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "LEAF"];
    // Node 2's true child is node 0: a cycle (and no root).
    let got = Model::from_bytes(&tree_model(&[1, 0, 0, 0, 0], &modes));
    assert!(matches!(got, Err(Error::ModelInvalid { .. })), "{got:?}");
    // Node 2's true child is itself.
    let got = Model::from_bytes(&tree_model(&[1, 0, 2, 0, 0], &modes));
    let Err(Error::ModelInvalid { reason, .. }) = got else { panic!("{got:?}") };
    assert!(reason.contains("cycle"), "{reason}");
    // Node 2's true child does not exist.
    let got = Model::from_bytes(&tree_model(&[1, 0, 7, 0, 0], &modes));
    let Err(Error::ModelInvalid { reason, .. }) = got else { panic!("{got:?}") };
    assert!(reason.contains("does not exist"), "{reason}");
    // An unknown mode.
    let got = Model::from_bytes(&tree_model(&[1, 0, 3, 0, 0], &["BRANCH_LEQ", "LEAF", "BRANCH_MAYBE", "LEAF", "LEAF"]));
    assert!(matches!(got, Err(Error::ModelInvalid { .. })), "{got:?}");
}

#[test]
fn label_encoder_maps_strings_to_ints_with_a_default() {
    let bytes = model(
        vec![node(
            "LabelEncoder",
            "ai.onnx.ml",
            &["x"],
            &["y"],
            vec![
                ("keys_strings", Attr::Strs(&["Running", "Pending", "Failed"])),
                ("values_int64s", Attr::Ints(&[0, 1, 2])),
                ("default_int64", Attr::Int(-7)),
            ],
        )],
        vec![value_info("x", STRING, &[None])],
        vec![value_info("y", INT64, &[None])],
        vec![],
    );
    let m = Model::from_bytes(&bytes).expect("loads");
    assert_eq!(m.inputs()[0].datatype, DataType::Bytes);
    assert_eq!(m.outputs()[0].datatype, DataType::Int64);
    let x = tensor1(&["Failed".to_string(), "Unknown".to_string(), "Running".to_string()]);
    let out = m.run(vec![x]).expect("runs");
    assert_eq!(out[0].to_plain_array_view::<i64>().expect("i64").iter().copied().collect::<Vec<_>>(), vec![2, -7, 0]);
}

#[test]
fn string_labelled_classifier_with_zipmap_reports_its_labels() {
    // One stump: x0 <= 0 weighs class "ok" 0.9 / "bad" 0.1, else 0.2 / 0.8.
    let classifier = node(
        "TreeEnsembleClassifier",
        "ai.onnx.ml",
        &["x"],
        &["label", "probabilities"],
        vec![
            ("classlabels_strings", Attr::Strs(&["ok", "bad"])),
            ("nodes_treeids", Attr::Ints(&[0, 0, 0])),
            ("nodes_nodeids", Attr::Ints(&[0, 1, 2])),
            ("nodes_featureids", Attr::Ints(&[0, 0, 0])),
            ("nodes_modes", Attr::Strs(&["BRANCH_LEQ", "LEAF", "LEAF"])),
            ("nodes_values", Attr::Floats(&[0.0, 0.0, 0.0])),
            ("nodes_truenodeids", Attr::Ints(&[1, 0, 0])),
            ("nodes_falsenodeids", Attr::Ints(&[2, 0, 0])),
            ("class_treeids", Attr::Ints(&[0, 0, 0, 0])),
            ("class_nodeids", Attr::Ints(&[1, 1, 2, 2])),
            ("class_ids", Attr::Ints(&[0, 1, 0, 1])),
            ("class_weights", Attr::Floats(&[0.9, 0.1, 0.2, 0.8])),
        ],
    );
    let zipmap = node(
        "ZipMap",
        "ai.onnx.ml",
        &["probabilities"],
        &["output_probability"],
        vec![("classlabels_strings", Attr::Strs(&["ok", "bad"]))],
    );
    let mut seq_of_maps = Pb::default();
    seq_of_maps.str(1, "output_probability");
    let bytes = model(
        vec![classifier, zipmap],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("label", STRING, &[None]), seq_of_maps],
        vec![],
    );
    let m = Model::from_bytes(&bytes).expect("loads");
    let probabilities = &m.outputs()[1];
    assert_eq!(probabilities.class_labels, Some(ClassLabels::Strings(vec!["ok".into(), "bad".into()])));
    assert_eq!(probabilities.shape, vec![-1, 2]);
    let out = m.run(vec![rows(&[[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])]).expect("runs");
    let labels: Vec<String> = out[0].to_plain_array_view::<String>().expect("strings").iter().cloned().collect();
    assert_eq!(labels, vec!["ok", "bad"]);
    assert_eq!(f32s(&out[1]), vec![0.9, 0.1, 0.2, 0.8]);
}

#[test]
fn imputer_replaces_a_marker_in_int64_inputs() {
    let bytes = model(
        vec![node(
            "Imputer",
            "ai.onnx.ml",
            &["x"],
            &["y"],
            vec![("imputed_value_int64s", Attr::Ints(&[10, 20, 30])), ("replaced_value_int64", Attr::Int(-1))],
        )],
        vec![value_info("x", INT64, &[None, Some(3)])],
        vec![value_info("y", INT64, &[None, Some(3)])],
        vec![],
    );
    let m = Model::from_bytes(&bytes).expect("loads");
    let x = tract_ndarray::arr2(&[[-1i64, 5, -1], [1, -1, 2]]).into_tensor();
    let out = m.run(vec![x]).expect("runs");
    let y: Vec<i64> = out[0].to_plain_array_view::<i64>().expect("i64").iter().copied().collect();
    assert_eq!(y, vec![10, 5, 30, 1, 20, 2]);
}

#[test]
fn operator_attributes_that_do_not_fit_together_are_refused() {
    let bytes = model(
        vec![node(
            "Scaler",
            "ai.onnx.ml",
            &["x"],
            &["y"],
            vec![("offset", Attr::Floats(&[0.0, 1.0])), ("scale", Attr::Floats(&[1.0, 2.0, 3.0]))],
        )],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("y", FLOAT, &[None, Some(3)])],
        vec![],
    );
    assert!(matches!(Model::from_bytes(&bytes), Err(Error::ModelInvalid { .. })));
    let svm = model(
        vec![node(
            "SVMClassifier",
            "ai.onnx.ml",
            &["x"],
            &["label", "scores"],
            vec![
                ("classlabels_ints", Attr::Ints(&[0, 1])),
                ("vectors_per_class", Attr::Ints(&[2, 2])),
                ("support_vectors", Attr::Floats(&[0.0; 7])),
                ("coefficients", Attr::Floats(&[1.0; 4])),
                ("rho", Attr::Floats(&[0.0])),
                ("kernel_type", Attr::Str("RBF")),
            ],
        )],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("label", INT64, &[None]), value_info("scores", FLOAT, &[None, Some(2)])],
        vec![],
    );
    let got = Model::from_bytes(&svm);
    assert!(matches!(got, Err(Error::ModelInvalid { .. })), "{got:?}");
}

#[test]
fn a_constant_attribute_tensor_is_checked_too() {
    let bytes = model(
        vec![
            node("Constant", "", &[], &["c"], vec![("value", Attr::Tensor(tensor("", FLOAT, &[1 << 40], &[0; 4])))]),
            node("Add", "", &["x", "c"], &["y"], vec![]),
        ],
        vec![value_info("x", FLOAT, &[None, Some(3)])],
        vec![value_info("y", FLOAT, &[None, Some(3)])],
        vec![],
    );
    assert!(matches!(Model::from_bytes(&bytes), Err(Error::ModelInvalid { .. })));
}

#[test]
fn random_bytes_are_refused_without_panicking() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 2, 3, 10, 100, 4096, 1 << 16] {
        for _ in 0..20 {
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let got = Model::from_bytes(&noise);
            assert!(
                matches!(
                    got,
                    Err(Error::ModelDecode { .. } | Error::ModelInvalid { .. } | Error::UnsupportedOperator { .. })
                ),
                "{len} random bytes: {got:?}"
            );
        }
    }
}

#[test]
fn binary_boosting_takes_one_or_two_base_values() {
    // One stump on class 0 only, with negative weights: a log-odds, as gradient boosting exports.
    for base in [&[0.5f32][..], &[0.5, 0.5]] {
        let classifier = node(
            "TreeEnsembleClassifier",
            "ai.onnx.ml",
            &["x"],
            &["label", "probabilities"],
            vec![
                ("classlabels_int64s", Attr::Ints(&[3, 7])),
                ("nodes_treeids", Attr::Ints(&[0, 0, 0])),
                ("nodes_nodeids", Attr::Ints(&[0, 1, 2])),
                ("nodes_featureids", Attr::Ints(&[1, 0, 0])),
                ("nodes_modes", Attr::Strs(&["BRANCH_LEQ", "LEAF", "LEAF"])),
                ("nodes_values", Attr::Floats(&[0.0, 0.0, 0.0])),
                ("nodes_truenodeids", Attr::Ints(&[1, 0, 0])),
                ("nodes_falsenodeids", Attr::Ints(&[2, 0, 0])),
                ("class_treeids", Attr::Ints(&[0, 0])),
                ("class_nodeids", Attr::Ints(&[1, 2])),
                ("class_ids", Attr::Ints(&[0, 0])),
                ("class_weights", Attr::Floats(&[-2.0, 1.5])),
                ("base_values", Attr::Floats(base)),
                ("post_transform", Attr::Str("LOGISTIC")),
            ],
        );
        let bytes = model(
            vec![classifier],
            vec![value_info("x", FLOAT, &[None, Some(3)])],
            vec![value_info("label", INT64, &[None]), value_info("probabilities", FLOAT, &[None, Some(2)])],
            vec![],
        );
        let m = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("base {base:?}: {e}"));
        let out = m.run(vec![rows(&[[0.0, -1.0, 0.0], [0.0, 1.0, 0.0]])]).expect("runs");
        let labels: Vec<i64> = out[0].to_plain_array_view::<i64>().expect("i64").iter().copied().collect();
        assert_eq!(labels, vec![3, 7], "base {base:?}");
        let sigma = |s: f64| 1.0 / (1.0 + (-s).exp());
        let want = [sigma(1.5), sigma(-1.5), sigma(-2.0), sigma(2.0)];
        for (got, want) in f32s(&out[1]).iter().zip(want) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "base {base:?}: {got} vs {want}");
        }
    }
}
