//! `kubesage plan model MODEL --rps N --p99-ms M`: measure a model here, size the pods that
//! serve it, and print (or apply) the manifests.
//!
//! The measurement is of this binary running the model, which is what the pods will run:
//! resident memory with the model loaded, then single-row runs on one thread (inputs drawn
//! from the model's schema with a fixed seed) after a warm-up — mean, p50 and p99. The sizing
//! arithmetic is [`kubesage_k8s::plan::manifests::size`]'s; the explanation goes to stderr and
//! into the YAML as comments, so the figures travel with the manifests.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kubesage_k8s::plan::manifests::{self, ModelProfile, Placement, Targets};
use kubesage_ml::model::data::{NamedTensor, TensorData};
use kubesage_ml::model::{DataType, Model};

use crate::error::{Error, Result};

/// Exit code when the plan cannot meet the latency target.
pub const EXIT_LATENCY_MISSED: u8 = 4;

/// Output formats of `plan model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    /// The manifests as a YAML stream, the reasoning as comments.
    Yaml,
    /// `{"profile", "plan", "manifests"}`.
    Json,
}

/// Arguments of `plan model`.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// The ONNX model file.
    pub model: PathBuf,
    /// Requests per second to serve.
    #[arg(long)]
    pub rps: f64,
    /// The p99 latency to meet, in milliseconds.
    #[arg(long = "p99-ms")]
    pub p99_ms: f64,
    /// The model's name in the repository (default: the file's stem, or its folder's name
    /// for `<name>/<version>/model.onnx`).
    #[arg(long)]
    pub name: Option<String>,
    /// The model's version.
    #[arg(long, default_value_t = 1)]
    pub version: u64,
    /// The namespace of the manifests.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// The kubesage image the pods run.
    #[arg(long, default_value = concat!("ghcr.io/kubesage/kubesage:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// An OCI image holding `<name>/<version>/model.onnx`, mounted as an image volume;
    /// without it, a PersistentVolumeClaim `<name>-models` to copy the model into.
    #[arg(long, value_name = "IMAGE")]
    pub model_image: Option<String>,
    /// The autoscaler's ceiling (default: twice the planned replicas).
    #[arg(long)]
    pub max_replicas: Option<u32>,
    /// Single-row runs to time.
    #[arg(long, default_value_t = 2000)]
    pub runs: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PlanOutput::Yaml)]
    pub output: PlanOutput,
    /// Server-side apply the manifests to the cluster: a dry run and its diff first, the
    /// apply itself only with --yes.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: apply after showing the diff.
    #[arg(long, requires = "apply")]
    pub yes: bool,
    /// Kubeconfig for --apply (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "PATH", requires = "apply")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --apply.
    #[arg(long, value_name = "NAME", requires = "apply")]
    pub context: Option<String>,
}

/// A deterministic generator for inputs (xorshift64*), so two measurements see the same rows.
struct Rows(u64);

impl Rows {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// One row for every input of `model`, from its schema (`-1` dimensions become 1).
fn sample_inputs(model: &Model, rows: &mut Rows) -> Result<Vec<NamedTensor>> {
    model
        .inputs()
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec.shape.iter().map(|&d| if d < 0 { 1 } else { d as usize }).collect();
            let n: usize = shape.iter().product();
            let data = match spec.datatype {
                DataType::Fp32 => TensorData::Fp32((0..n).map(|_| rows.unit() as f32).collect()),
                DataType::Fp64 => TensorData::Fp64((0..n).map(|_| rows.unit()).collect()),
                DataType::Fp16 => TensorData::Fp16((0..n).map(|_| rows.unit() as f32).collect()),
                DataType::Int64 => TensorData::Int64((0..n).map(|_| (rows.next() % 4) as i64).collect()),
                DataType::Int32 => TensorData::Int32((0..n).map(|_| (rows.next() % 4) as i32).collect()),
                DataType::Bool => TensorData::Bool((0..n).map(|_| rows.next().is_multiple_of(2)).collect()),
                DataType::Bytes => TensorData::Bytes((0..n).map(|_| b"a".to_vec()).collect()),
                other => {
                    return Err(Error::Usage(format!(
                        "input {:?} is {other}: plan model draws FP16/32/64, INT32/64, BOOL and BYTES inputs only",
                        spec.name
                    )));
                }
            };
            Ok(NamedTensor::new(spec.name.clone(), shape, data)?)
        })
        .collect()
}

/// Loads and times the model.
pub fn measure(path: &std::path::Path, name: &str, version: u64, runs: usize) -> Result<ModelProfile> {
    let file_bytes =
        std::fs::metadata(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?.len();
    let model = Model::load(path)?;
    let mut rows = Rows(0x9e37_79b9_7f4a_7c15);
    let warm = sample_inputs(&model, &mut rows)?;
    for _ in 0..runs.clamp(10, 200) {
        model.infer(warm.clone(), &[])?;
    }
    let inputs: Vec<Vec<NamedTensor>> = (0..64).map(|_| sample_inputs(&model, &mut rows)).collect::<Result<_>>()?;
    let mut times = Vec::with_capacity(runs.max(1));
    let budget = Instant::now();
    for i in 0..runs.max(1) {
        let input = inputs[i % inputs.len()].clone();
        let started = Instant::now();
        model.infer(input, &[])?;
        times.push(started.elapsed().as_secs_f64());
        if budget.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let (resident, _) = crate::metrics::process_memory();
    Ok(ModelProfile {
        name: name.to_owned(),
        version,
        file_bytes,
        resident_bytes: resident,
        mean_secs: times.iter().sum::<f64>() / times.len() as f64,
        p50_secs: at(0.5),
        p99_secs: at(0.99),
        runs: times.len(),
    })
}

fn default_name(path: &std::path::Path) -> String {
    let parent_of_version = path
        .parent()
        .filter(|v| v.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.parse::<u64>().is_ok()))
        .and_then(|v| v.parent())
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    parent_of_version.unwrap_or(stem).to_owned()
}

/// Runs `plan model`.
pub fn run(
    _config: Option<&std::path::Path>,
    args: &ModelArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8> {
    if !(args.rps.is_finite() && args.rps > 0.0) {
        return Err(Error::Usage(format!("--rps {}: expected a positive request rate", args.rps)));
    }
    if !(args.p99_ms.is_finite() && args.p99_ms > 0.0) {
        return Err(Error::Usage(format!("--p99-ms {}: expected a positive latency", args.p99_ms)));
    }
    let name = args.name.clone().unwrap_or_else(|| default_name(&args.model));
    kubesage_ml::model::repository::check_name(&name)?;
    let profile = measure(&args.model, &name, args.version, args.runs)?;
    let targets = Targets { rps: args.rps, p99_ms: args.p99_ms, max_replicas: args.max_replicas };
    let plan = manifests::size(&profile, &targets)?;
    let placement = Placement {
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        model_image: args.model_image.clone(),
    };
    let docs = manifests::manifests(&profile, &plan, &placement);
    let write_err = |e: std::io::Error| Error::Output(e.to_string());
    let measured = format!(
        "measured here ({} cores): {} runs of one row, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs; {} MiB resident",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        profile.runs,
        profile.mean_secs * 1e6,
        profile.p50_secs * 1e6,
        profile.p99_secs * 1e6,
        profile.resident_bytes >> 20
    );
    for line in std::iter::once(&measured).chain(&plan.notes) {
        writeln!(err, "plan: {line}").map_err(write_err)?;
    }
    if args.apply {
        apply(args, &docs, out)?;
        return Ok(if plan.latency_met { 0 } else { EXIT_LATENCY_MISSED });
    }
    match args.output {
        PlanOutput::Yaml => {
            for line in std::iter::once(&measured).chain(&plan.notes) {
                writeln!(out, "# {line}").map_err(write_err)?;
            }
            if args.model_image.is_none() {
                writeln!(
                    out,
                    "# the model goes into the claim {name}-models as {name}/{}/model.onnx (for example with kubectl cp \
                     through a pod that mounts it), or give --model-image",
                    args.version
                )
                .map_err(write_err)?;
            }
            out.write_all(manifests::to_yaml(&docs)?.as_bytes()).map_err(write_err)?;
        }
        PlanOutput::Json => {
            let value = serde_json::json!({"profile": profile, "plan": plan, "manifests": docs});
            serde_json::to_writer_pretty(&mut *out, &value).map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out).map_err(write_err)?;
        }
    }
    Ok(if plan.latency_met { 0 } else { EXIT_LATENCY_MISSED })
}

/// `--apply`: the dry run's diff, then (with `--yes`) the apply.
fn apply(args: &ModelArgs, docs: &[serde_json::Value], out: &mut dyn Write) -> Result<()> {
    let write_err = |e: std::io::Error| Error::Output(e.to_string());
    let options = kubesage_k8s::LiveOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    runtime.block_on(async {
        let source = kubesage_k8s::LiveSource::connect(&options).await?;
        let client = source.client();
        let changes = kubesage_k8s::plan::apply::preview(&client, docs).await?;
        for c in &changes {
            let verb = if c.created {
                "create"
            } else if c.lines.is_empty() {
                "unchanged"
            } else {
                "update"
            };
            writeln!(out, "{verb} {} {}", c.kind, c.object).map_err(write_err)?;
            if !c.created {
                for line in &c.lines {
                    writeln!(out, "    {line}").map_err(write_err)?;
                }
            }
        }
        if args.yes {
            kubesage_k8s::plan::apply::apply(&client, docs).await?;
            writeln!(out, "applied {} objects (server-side apply, field manager kubesage)", docs.len())
                .map_err(write_err)?;
        } else {
            writeln!(out, "dry run only: run again with --yes to apply").map_err(write_err)?;
        }
        Ok(())
    })
}
