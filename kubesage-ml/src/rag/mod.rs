//! Retrieval for explanations: Markdown runbooks chunked by heading ([`chunk`]), a BM25
//! index over them ([`bm25`]), the built-in knowledge base and user indexes ([`kb`]).
//!
//! Lexical retrieval is what makes exact alert names and error strings match
//! (`KubePodCrashLooping`, `x509: certificate signed by unknown authority`); dense
//! embeddings add meaning when they are available, and the two rankings are fused.

pub mod anonymize;
pub mod answer;
pub mod bm25;
pub mod chunk;
pub mod explain;
pub mod index;
pub mod kb;
