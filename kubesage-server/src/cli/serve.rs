//! `kubesage serve`: the HTTP service.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use kubesage_core::{ScanOptions, SourceScope, kinds_read, select_analyzers};
use kubesage_k8s::source::SourceChoice;
use kubesage_k8s::{LiveOptions, LiveSource, WatchedCluster};

use crate::analysis::{Pacing, analyze_once, watch_loop};
use crate::auth::TokenSet;
use crate::error::{Error, Result};
use crate::state::{AppState, ServeSettings};

/// Arguments of `kubesage serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (`0.0.0.0:8080` in a pod; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", env = "KUBESAGE_LISTEN")]
    pub listen: String,
    /// Serve the findings of the demo cluster embedded in the binary.
    #[arg(long, conflicts_with_all = ["snapshot", "kubeconfig", "context"])]
    pub demo: bool,
    /// Serve the findings of snapshot files or folders.
    #[arg(long, num_args = 1.., value_name = "PATH", conflicts_with_all = ["kubeconfig", "context"])]
    pub snapshot: Vec<PathBuf>,
    /// Watch a live cluster through this kubeconfig (default: $KUBECONFIG, ~/.kube/config,
    /// then the in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Only watch and report this namespace.
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// Run only these analyzers.
    #[arg(long = "analyzer", short = 'a', value_name = "NAME", num_args = 1.., value_delimiter = ',')]
    pub analyzers: Vec<String>,
    /// File of API bearer tokens, one per line (a mounted Kubernetes Secret); re-read when it changes.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Serve `/v1` without tokens on a non-loopback address (loopback needs no flag).
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub max_body_bytes: usize,
    /// Seconds before a request is abandoned with 503.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// `/v1` requests served at once; more are shed with 503.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_concurrency: usize,
    /// Connections held open at once; more wait in the accept backlog.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// Allow cross-origin requests from this origin (repeatable); CORS is off by default.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Milliseconds of quiet after a cluster change before re-analysing.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub debounce_ms: u64,
    /// A Prometheus (base URL) to read each firing alert's expression from, so anomalies
    /// around the alert are attached to it.
    #[arg(long, value_name = "URL", env = "KUBESAGE_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// How far before an alert's start its expression is read (`6h`, `2d`).
    #[arg(long, value_name = "DURATION", default_value = "6h")]
    pub alert_lookback: String,
    /// The resolution it is read at (`60s`, `5m`).
    #[arg(long, value_name = "STEP", default_value = "1m")]
    pub alert_step: String,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = 25)]
    pub shutdown_timeout_secs: u64,
    /// A runbook index (`kubesage kb ingest`) to search besides the built-in knowledge base
    /// (default: `$KUBESAGE_INDEX`, else the per-user index when it exists).
    #[arg(long, value_name = "PATH")]
    pub index: Option<PathBuf>,
    /// Serve the models in this folder (`DIR/<name>/<version>/model.onnx`, created if
    /// missing) over the Open Inference Protocol (KServe v2) under `/v2`. Without `--demo`,
    /// `--snapshot`, `--kubeconfig` or `--context`, no cluster is watched: a model server.
    #[arg(long, value_name = "DIR", env = "KUBESAGE_MODEL_REPOSITORY")]
    pub model_repository: Option<PathBuf>,
    /// Largest model upload, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    pub max_model_bytes: usize,
    /// Which language model explains findings (`/v1/findings/{id}/explanation`).
    #[command(flatten)]
    pub llm: crate::explainer::LlmArgs,
}

/// Runs the service until SIGTERM or Ctrl-C. Prints `listening on http://ADDR` once bound.
pub fn run(config_path: Option<&Path>, args: &ServeArgs, out: &mut dyn Write) -> Result<u8> {
    init_logging();
    let config = super::scan::load_config(config_path)?;
    let token_file = args.token_file.clone().or(config.token_file.as_ref().map(PathBuf::from));
    let tokens = if token_file.is_some() || !config.api_tokens.is_empty() {
        Some(TokenSet::new(config.api_tokens.clone(), token_file.as_deref())?)
    } else {
        None
    };
    let addr: SocketAddr = args.listen.parse().map_err(|e| {
        Error::Usage(format!("--listen {:?}: expected HOST:PORT with an IP address ({e})", args.listen))
    })?;
    if tokens.is_none() && !addr.ip().is_loopback() && !args.allow_unauthenticated {
        return Err(Error::Usage(format!(
            "refusing to serve the API on {addr} without authentication: give --token-file (or api_tokens in the \
             configuration), or --allow-unauthenticated"
        )));
    }
    let names = if args.analyzers.is_empty() { config.analyzers.clone() } else { args.analyzers.clone() };
    let all = kubesage_k8s::analyze::all();
    let scope = SourceScope {
        namespace: args.namespace.clone().or(config.namespace.clone()),
        kinds: kinds_read(&select_analyzers(&all, &names)?),
    };
    let options = ScanOptions { namespace: scope.namespace.clone(), selector: None, analyzers: names, now: None };
    let duration = |flag: &str, text: &str| {
        kubesage_k8s::prometheus::parse_step(text)
            .map(Duration::from_secs)
            .ok_or_else(|| Error::Usage(format!("{flag} {text:?}: expected a duration such as 90s, 5m, 6h or 2d")))
    };
    let prometheus = args
        .prometheus
        .as_deref()
        .map(|url| kubesage_k8s::prometheus::PrometheusClient::new(url, Duration::from_secs(30)))
        .transpose()?;
    let settings = ServeSettings {
        prometheus,
        alert_lookback: duration("--alert-lookback", &args.alert_lookback)?,
        alert_step: duration("--alert-step", &args.alert_step)?,
        max_body_bytes: args.max_body_bytes,
        max_model_bytes: args.max_model_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        max_concurrency: args.max_concurrency.max(1),
        cors_origins: args.cors_origins.clone(),
        ..ServeSettings::default()
    };

    let explainer = crate::explainer::Explainer::configured(args.index.as_deref(), &args.llm)?;
    if let Some(endpoint) = explainer.llm_endpoint() {
        tracing::info!(%endpoint, "findings are explained by a language model");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    let models = args
        .model_repository
        .as_deref()
        .map(kubesage_ml::model::repository::ModelRepository::open)
        .transpose()?
        .map(std::sync::Arc::new);
    let cluster_asked = args.demo || !args.snapshot.is_empty() || args.kubeconfig.is_some() || args.context.is_some();
    runtime.block_on(async {
        let live = !args.demo && args.snapshot.is_empty();
        let state = if models.is_some() && !cluster_asked {
            let state = AppState::new(settings, tokens, "none (model server)");
            state.set_models_only();
            state
        } else if live {
            let live_options = LiveOptions {
                kubeconfig: args.kubeconfig.clone().or(config.kubeconfig.as_ref().map(PathBuf::from)),
                context: args.context.clone().or(config.context.clone()),
                page_size: config.page_size,
                timeout: Duration::from_secs(config.request_timeout_secs),
                ..LiveOptions::default()
            };
            let source = LiveSource::connect(&live_options).await?;
            let state = AppState::new(settings, tokens, kubesage_core::ClusterSource::describe(&source));
            state.set_explainer(explainer);
            let view = WatchedCluster::start(source.client(), &scope);
            state.set_watch(view.clone());
            let pacing = Pacing { debounce: Duration::from_millis(args.debounce_ms), ..Pacing::default() };
            let loop_state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = watch_loop(loop_state, view, options, pacing).await {
                    tracing::error!(error = %kubesage_core::error::display_chain(&e), "the analysis loop stopped");
                }
            });
            state
        } else {
            let choice = if args.demo { SourceChoice::Demo } else { SourceChoice::Snapshot(args.snapshot.clone()) };
            let (cluster, source) = choice.load(&scope).await?;
            let state = AppState::new(settings, tokens, source);
            state.set_explainer(explainer);
            analyze_once(&state, &cluster, &options)?;
            state
        };

        if let Some(repository) = models {
            state.set_models(std::sync::Arc::clone(&repository));
            let loading = state.clone();
            tokio::task::spawn_blocking(move || {
                match repository.load_all() {
                    Ok(all) => {
                        for s in &all {
                            if s.state == kubesage_ml::model::repository::ModelState::Ready {
                                tracing::info!(model = %s.name, version = s.version, "model loaded");
                            } else {
                                tracing::error!(model = %s.name, version = s.version, reason = %s.reason, "model not loaded");
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %kubesage_core::error::display_chain(&e), "cannot read the model repository"),
                }
                loading.set_models_loaded();
            });
        }

        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
        let bound = listener.local_addr().map_err(|source| Error::Listen { addr: addr.to_string(), source })?;
        writeln!(out, "listening on http://{bound}")
            .and_then(|()| out.flush())
            .map_err(|e| Error::Output(e.to_string()))?;
        tracing::info!(%bound, "serving");

        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let shutdown_state = state.clone();
        let graceful = async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            shutdown_state.begin_shutdown();
            let _ = stop_tx.send(true);
        };
        let listener = crate::connections::LimitedListener::new(listener, args.max_connections);
        let server = axum::serve(listener, crate::app(state)).with_graceful_shutdown(graceful);
        let deadline = Duration::from_secs(args.shutdown_timeout_secs);
        tokio::select! {
            result = server => result.map_err(|source| Error::Listen { addr: bound.to_string(), source })?,
            () = async {
                let _ = stop_rx.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(deadline).await;
            } => tracing::warn!("requests still in flight after the shutdown timeout; stopping anyway"),
        }
        Ok(0)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Logs to stderr: `KUBESAGE_LOG` (or `RUST_LOG`) sets the filter (default `info`),
/// `KUBESAGE_LOG_FORMAT=json` writes one JSON object per line for log collectors.
fn init_logging() {
    let filter = std::env::var("KUBESAGE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,tower_http=info".to_owned());
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::env::var("KUBESAGE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
