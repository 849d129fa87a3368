//! Language-model answers to findings: anonymize, ask, restore, and remember.
//!
//! [`Answerer::explain`] builds the grounded prompt of [`super::explain::prompt`] (the
//! finding, its evidence, the retrieved passages numbered for citation), replaces every
//! identifying value in it with a placeholder ([`Anonymizer`]), asks the model at
//! temperature 0 unless told otherwise, and writes the real names back into the answer.
//! Secrets are never written back. The answer lists the passages it could cite.
//!
//! [`AnswerCache`] keeps answers on disk keyed by provider, endpoint, model, cluster
//! identity, finding fingerprint, prompt version and the passages given, so a repeated
//! scan does not pay twice and another cluster's answer is never returned: the key's
//! fields are stored in each entry and compared on every read, so even a hash collision
//! cannot hand back the wrong answer.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kubesage_core::Finding;
use kubesage_core::llm::{ChatMessage, ChatRequest, LlmProvider};
use serde::{Deserialize, Serialize};

use super::anonymize::Anonymizer;
use super::explain::{Explanation, PROMPT_VERSION, Source, heading, prompt};
use super::index::Hit;
use crate::error::{Error, Result};

/// Tokens an answer may use unless the caller says otherwise.
pub const DEFAULT_MAX_TOKENS: u32 = 700;

/// Cached answers older than this are asked again.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a cached answer is an answer to. Every field takes part in the key and is checked
/// again when the entry is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    /// The provider (`openai`, `ollama`).
    pub provider: String,
    /// Where it was reached (two servers may serve models of the same name).
    pub endpoint: String,
    /// The model asked.
    pub model: String,
    /// The cluster the finding is about (see [`Answerer::cluster`]).
    pub cluster: String,
    /// The finding's fingerprint (analyzer, reason and object).
    pub fingerprint: String,
    /// [`PROMPT_VERSION`] when the answer was made.
    pub prompt_version: u32,
    /// The passages the prompt held (source and heading), so new runbooks get a new answer.
    pub passages: Vec<String>,
    /// Whether the prompt was anonymized (an answer to a clear-text prompt is not reused
    /// for an anonymized one, nor the reverse).
    pub anonymized: bool,
}

impl CacheKey {
    /// The file name of the entry: 128 bits of hash, as hex.
    fn file_name(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        // Two FNV-1a 64 passes with different offsets; the stored key is compared on read,
        // so the hash only has to spread entries, not to be collision-proof.
        let fnv =
            |offset: u64| text.bytes().fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        format!("{:016x}{:016x}.json", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
    }
}

/// One cache file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: CacheKey,
    /// Seconds since the Unix epoch when the answer was stored.
    created: u64,
    explanation: Explanation,
}

/// Answers on disk, one JSON file each, written atomically.
#[derive(Debug, Clone)]
pub struct AnswerCache {
    dir: PathBuf,
    max_age: Duration,
}

impl AnswerCache {
    /// A cache in `dir` (created on the first store) whose entries live [`DEFAULT_MAX_AGE`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AnswerCache { dir: dir.into(), max_age: DEFAULT_MAX_AGE }
    }

    /// Sets how long entries are used.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `$KUBESAGE_CACHE_DIR/answers`, else `$XDG_CACHE_HOME/kubesage/answers`, else
    /// `~/.cache/kubesage/answers`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("KUBESAGE_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kubesage")))
            .or_else(|| var("HOME").map(|h| h.join(".cache").join("kubesage")))
            .map(|d| d.join("answers"))
    }

    /// The stored answer to `key`, when there is a fresh one whose stored key is `key`.
    /// An unreadable or corrupt entry is a miss (and is replaced by the next store).
    pub fn get(&self, key: &CacheKey) -> Option<Explanation> {
        let path = self.dir.join(key.file_name());
        let bytes = std::fs::read(&path).ok()?;
        let entry: Entry = match serde_json::from_slice(&bytes) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a corrupt cached answer");
                return None;
            }
        };
        let age = now_secs().saturating_sub(entry.created);
        (entry.key == *key && age <= self.max_age.as_secs()).then_some(entry.explanation)
    }

    /// Stores the answer to `key` (through a temporary file renamed into place).
    pub fn put(&self, key: &CacheKey, explanation: &Explanation) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io { path: self.dir.clone(), source })?;
        let entry = Entry { key: key.clone(), created: now_secs(), explanation: explanation.clone() };
        let bytes =
            serde_json::to_vec(&entry).map_err(|e| Error::Knowledge(format!("cannot encode a cached answer: {e}")))?;
        let path = self.dir.join(key.file_name());
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|source| Error::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Io { path, source })
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Asks a language model about findings.
#[derive(Debug)]
pub struct Answerer<'a, P> {
    /// The model.
    pub provider: &'a P,
    /// Where the provider is reached, for the cache key.
    pub endpoint: String,
    /// The cluster's identity, for the cache key: something that differs between clusters
    /// (the API server's URL and context, a snapshot's path, `demo`).
    pub cluster: String,
    /// Where answers are remembered; `None` asks every time.
    pub cache: Option<AnswerCache>,
    /// Whether prompts are anonymized (on unless the user turns it off).
    pub anonymize: bool,
    /// The sampling temperature (0 for reproducible answers).
    pub temperature: f32,
    /// The most tokens an answer may use.
    pub max_tokens: u32,
}

impl<'a, P: LlmProvider<Error = Error>> Answerer<'a, P> {
    /// An answerer with the cache off, anonymization on, temperature 0.
    pub fn new(provider: &'a P, endpoint: impl Into<String>, cluster: impl Into<String>) -> Self {
        Answerer {
            provider,
            endpoint: endpoint.into(),
            cluster: cluster.into(),
            cache: None,
            anonymize: true,
            temperature: 0.0,
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }

    /// The cache key of `finding` answered from `passages`.
    pub fn key(&self, finding: &Finding, passages: &[Hit]) -> CacheKey {
        CacheKey {
            provider: self.provider.name().to_owned(),
            endpoint: self.endpoint.clone(),
            model: self.provider.model().to_owned(),
            cluster: self.cluster.clone(),
            fingerprint: kubesage_core::fingerprint(&finding.analyzer, &finding.reason, &finding.object),
            prompt_version: PROMPT_VERSION,
            passages: passages.iter().map(|h| format!("{} — {}", h.source, h.heading)).collect(),
            anonymized: self.anonymize,
        }
    }

    /// The messages sent for `finding`: the grounded prompt, anonymized by `anonymizer`
    /// (which must already know the cluster's names; see [`Anonymizer::register_object`])
    /// unless anonymization is off.
    pub fn messages(&self, finding: &Finding, passages: &[Hit], anonymizer: &mut Anonymizer) -> Vec<ChatMessage> {
        let (system, user) = prompt(finding, passages);
        let user = if self.anonymize {
            anonymizer.register_object(&finding.object);
            for link in &finding.links {
                anonymizer.register_object(link);
            }
            anonymizer.anonymize(&user)
        } else {
            user
        };
        vec![ChatMessage::system(system), ChatMessage::user(user)]
    }

    /// The model's explanation of `finding`, from the cache when it holds one. The answer
    /// has the real names back (secrets stay as placeholders) and ends with the list of
    /// passages its `[n]` citations refer to.
    pub async fn explain(
        &self,
        finding: &Finding,
        passages: &[Hit],
        anonymizer: &mut Anonymizer,
    ) -> Result<Explanation> {
        let key = self.key(finding, passages);
        if let Some(mut cached) = self.cache.as_ref().and_then(|c| c.get(&key)) {
            cached.cached = true;
            return Ok(cached);
        }
        let request = ChatRequest::new(self.messages(finding, passages, anonymizer))
            .with_temperature(self.temperature)
            .with_max_tokens(self.max_tokens);
        let response = self.provider.chat(&request).await?;
        let text = if self.anonymize { anonymizer.restore(&response.content) } else { response.content };
        let sources: Vec<Source> =
            passages.iter().map(|h| Source { source: h.source.clone(), heading: h.heading.clone() }).collect();
        let mut answer = heading(finding);
        answer.push_str(text.trim());
        if !sources.is_empty() {
            answer.push_str("\n\nSources:\n");
            for (i, s) in sources.iter().enumerate() {
                answer.push_str(&format!("[{}] {} — {}\n", i + 1, s.source, s.heading));
            }
        }
        let model = if response.model.is_empty() { self.provider.model().to_owned() } else { response.model };
        let explanation = Explanation {
            finding: finding.id.clone(),
            mode: "llm".to_owned(),
            model: Some(model),
            answer: answer.trim_end().to_owned(),
            sources,
            cached: false,
            note: None,
        };
        if let Some(cache) = &self.cache {
            // A cache that cannot be written costs a repeat question, not the answer.
            if let Err(e) = cache.put(&key, &explanation) {
                tracing::warn!(error = %kubesage_core::error::display_chain(&e), "could not cache an answer");
            }
        }
        Ok(explanation)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kubesage_core::llm::{ChatResponse, Role};
    use kubesage_core::{Evidence, ObjectRef, Severity};

    use super::*;

    /// A provider that records what it is sent and answers with a fixed text in which
    /// `{0}` is replaced by the first placeholder it saw.
    struct Recorder {
        sent: Mutex<Vec<ChatRequest>>,
        reply: String,
        model: String,
    }

    impl Recorder {
        fn new(reply: &str) -> Self {
            Recorder { sent: Mutex::new(Vec::new()), reply: reply.to_owned(), model: "m1".to_owned() }
        }

        fn calls(&self) -> usize {
            self.sent.lock().map(|s| s.len()).unwrap_or(0)
        }

        fn last_user(&self) -> String {
            let sent = self.sent.lock().expect("the log");
            let request = sent.last().expect("a request");
            request.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.clone()).collect()
        }
    }

    impl LlmProvider for Recorder {
        type Error = Error;

        fn name(&self) -> &str {
            "recorder"
        }

        fn model(&self) -> &str {
            &self.model
        }

        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
            let user: String = request.messages.iter().map(|m| m.content.clone()).collect();
            let first = user.find('<').and_then(|i| user[i..].find('>').map(|j| user[i..=i + j].to_owned()));
            self.sent.lock().expect("the log").push(request.clone());
            let content = self.reply.replace("{0}", first.as_deref().unwrap_or(""));
            Ok(ChatResponse { content, model: self.model.clone(), ..ChatResponse::default() })
        }

        async fn chat_stream(
            &self,
            request: &ChatRequest,
            on_delta: &mut (dyn FnMut(&str) + Send),
        ) -> Result<ChatResponse> {
            let answer = self.chat(request).await?;
            on_delta(&answer.content);
            Ok(answer)
        }
    }

    fn finding() -> Finding {
        Finding::new(
            "pod",
            "CrashLoopBackOff",
            Severity::Critical,
            ObjectRef::new("Pod", "payments-prod", "ledger-writer-5c9d"),
            "Container ledger-writer-5c9d is crash looping.",
        )
        .with_evidence(Evidence::Event {
            event_type: "Warning".into(),
            reason: "BackOff".into(),
            message:
                "dial tcp 10.42.7.19:5432: connect: connection refused (db-primary.payments-prod.svc.cluster.local) \
                      password=hunter2-Very-Secret"
                    .into(),
            count: 12,
            last_seen: None,
        })
    }

    fn passages() -> Vec<Hit> {
        vec![Hit {
            source: "builtin:pod.md".into(),
            heading: "pod/CrashLoopBackOff".into(),
            score: 1.0,
            text: "A container keeps exiting.".into(),
        }]
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime").block_on(future)
    }

    #[test]
    fn nothing_identifying_is_sent_and_names_come_back() {
        let llm = Recorder::new("Restart {0} after fixing the database.");
        let answerer = Answerer::new(&llm, "http://llm", "cluster-a");
        let mut anonymizer = Anonymizer::new();
        let e = block_on(answerer.explain(&finding(), &passages(), &mut anonymizer)).expect("an answer");
        let sent = llm.last_user();
        for secret in ["payments-prod", "ledger-writer-5c9d", "10.42.7.19", "db-primary", "hunter2-Very-Secret"] {
            assert!(!sent.contains(secret), "{secret:?} reached the provider:\n{sent}");
        }
        assert!(sent.contains("CrashLoopBackOff") && sent.contains("[1] builtin:pod.md"), "{sent}");
        // The first placeholder in the prompt is the namespace or the pod; either is restored.
        assert!(e.answer.starts_with("### critical Pod payments-prod/ledger-writer-5c9d: CrashLoopBackOff"));
        assert!(e.answer.contains("\nRestart payments-prod") || e.answer.contains("\nRestart ledger-writer-5c9d"));
        assert!(e.answer.contains("Sources:\n[1] builtin:pod.md — pod/CrashLoopBackOff"), "{}", e.answer);
        assert_eq!((e.mode.as_str(), e.model.as_deref(), e.cached), ("llm", Some("m1"), false));
    }

    #[test]
    fn anonymization_off_sends_the_prompt_as_is() {
        let llm = Recorder::new("ok");
        let answerer = Answerer { anonymize: false, ..Answerer::new(&llm, "http://llm", "cluster-a") };
        block_on(answerer.explain(&finding(), &passages(), &mut Anonymizer::new())).expect("an answer");
        assert!(llm.last_user().contains("ledger-writer-5c9d"));
    }

    #[test]
    fn the_cache_answers_repeats_and_separates_clusters_models_and_prompts() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let llm = Recorder::new("answer");
        let cached = |cluster: &str| Answerer {
            cache: Some(AnswerCache::new(dir.path())),
            ..Answerer::new(&llm, "http://llm", cluster)
        };
        let ask = |a: &Answerer<'_, Recorder>, passages: &[Hit]| {
            block_on(a.explain(&finding(), passages, &mut Anonymizer::new())).expect("an answer")
        };
        let first = ask(&cached("cluster-a"), &passages());
        assert_eq!(llm.calls(), 1);
        let again = ask(&cached("cluster-a"), &passages());
        assert_eq!(llm.calls(), 1, "a repeat is answered from the cache");
        assert!(again.cached && !first.cached);
        assert_eq!(again.answer, first.answer);

        ask(&cached("cluster-b"), &passages());
        assert_eq!(llm.calls(), 2, "another cluster is asked again");
        let mut more = passages();
        more.push(Hit { source: "team/db.md".into(), heading: "Database".into(), score: 0.5, text: "x".into() });
        ask(&cached("cluster-a"), &more);
        assert_eq!(llm.calls(), 3, "other passages are asked again");
        let other_model = Recorder { model: "m2".into(), ..Recorder::new("answer") };
        let a = Answerer {
            cache: Some(AnswerCache::new(dir.path())),
            ..Answerer::new(&other_model, "http://llm", "cluster-a")
        };
        ask(&a, &passages());
        assert_eq!(other_model.calls(), 1, "another model is asked");

        let base = cached("cluster-a").key(&finding(), &passages());
        let older = CacheKey { prompt_version: PROMPT_VERSION - 1, ..base.clone() };
        assert_ne!(older.file_name(), base.file_name());
        assert!(AnswerCache::new(dir.path()).get(&older).is_none());
    }

    #[test]
    fn stale_corrupt_and_mismatched_entries_are_misses() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let llm = Recorder::new("answer");
        let answerer = Answerer { cache: Some(AnswerCache::new(dir.path())), ..Answerer::new(&llm, "e", "c") };
        block_on(answerer.explain(&finding(), &passages(), &mut Anonymizer::new())).expect("an answer");
        let key = answerer.key(&finding(), &passages());
        let path = dir.path().join(key.file_name());
        assert!(AnswerCache::new(dir.path()).get(&key).is_some());
        // An entry stored long ago.
        let text = std::fs::read_to_string(&path).expect("the entry");
        let mut entry: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        entry["created"] = serde_json::json!(1_000_000);
        std::fs::write(&path, entry.to_string()).expect("write");
        assert!(AnswerCache::new(dir.path()).get(&key).is_none(), "a week-old answer is stale");
        let forever = AnswerCache::new(dir.path()).with_max_age(Duration::from_secs(u64::MAX / 2));
        assert!(forever.get(&key).is_some());
        std::fs::write(&path, text).expect("write");

        // An entry whose stored key differs (a collision, or a file copied from elsewhere).
        let text = std::fs::read_to_string(&path).expect("the entry");
        std::fs::write(&path, text.replace("\"cluster\":\"c\"", "\"cluster\":\"other\"")).expect("write");
        assert!(AnswerCache::new(dir.path()).get(&key).is_none());
        // A corrupt entry.
        std::fs::write(&path, b"{not json").expect("write");
        assert!(AnswerCache::new(dir.path()).get(&key).is_none());
        block_on(answerer.explain(&finding(), &passages(), &mut Anonymizer::new())).expect("asked again");
        assert_eq!(llm.calls(), 2);
        assert!(AnswerCache::new(dir.path()).get(&key).is_some(), "the corrupt entry was replaced");
    }

    #[test]
    fn provider_errors_come_through() {
        struct Down;
        impl LlmProvider for Down {
            type Error = Error;
            fn name(&self) -> &str {
                "down"
            }
            fn model(&self) -> &str {
                "m"
            }
            async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse> {
                Err(Error::Llm {
                    provider: "down".into(),
                    attempts: 3,
                    kind: crate::llm::LlmErrorKind::Unreachable { url: "http://x".into(), reason: "refused".into() },
                })
            }
            async fn chat_stream(&self, r: &ChatRequest, _: &mut (dyn FnMut(&str) + Send)) -> Result<ChatResponse> {
                self.chat(r).await
            }
        }
        let e = block_on(Answerer::new(&Down, "e", "c").explain(&finding(), &passages(), &mut Anonymizer::new()));
        assert!(matches!(e, Err(Error::Llm { attempts: 3, .. })));
    }
}
