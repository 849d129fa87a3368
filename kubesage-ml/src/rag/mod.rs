//! Retrieval for explanations: Markdown runbooks chunked by heading ([`chunk`]), a BM25
//! index over them ([`bm25`]), passage vectors from a sentence model ([`dense`]), the two
//! rankings fused ([`hybrid`]), the built-in knowledge base and user indexes ([`kb`],
//! [`index`]).
//!
//! Lexical retrieval is what makes exact alert names and error strings match
//! (`KubePodCrashLooping`, `x509: certificate signed by unknown authority`); dense
//! embeddings add meaning when the model is installed (a paraphrase that shares no word
//! with the runbook still finds it), and the two rankings are fused with exact matches kept
//! first. Without the model, retrieval is BM25 alone and says so.

pub mod anonymize;
pub mod answer;
pub mod bm25;
pub mod chunk;
pub mod dense;
pub mod explain;
pub mod hybrid;
pub mod index;
pub mod kb;
