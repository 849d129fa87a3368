//! KubeSage models: the home of anomaly detection on cluster metrics, local embeddings and
//! retrieval, and model serving, each under its own module as its issue lands.
//!
//! The crate depends only on `kubesage-core`, whose traits it implements; it never talks to
//! a cluster itself.
