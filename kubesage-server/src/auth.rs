//! Bearer-token authentication for `/v1`.
//!
//! Tokens come from the configuration and from a token file (one per line, `#` comments),
//! which is how a Kubernetes Secret mounted as a volume presents them. The kubelet replaces
//! a mounted Secret's files when the Secret changes, so the file is re-read when its
//! modification time changes (checked at most once a second): rotating a token needs no
//! restart. Comparison is constant-time in the token's content.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

#[derive(Debug)]
struct FileTokens {
    path: PathBuf,
    tokens: Vec<Vec<u8>>,
    modified: Option<SystemTime>,
    checked: Instant,
}

/// The tokens the API accepts.
#[derive(Debug)]
pub struct TokenSet {
    fixed: Vec<Vec<u8>>,
    file: Option<RwLock<FileTokens>>,
    recheck: Duration,
}

fn parse_tokens(text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn read_file(path: &Path) -> Result<(Vec<Vec<u8>>, Option<SystemTime>)> {
    let text =
        std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok((parse_tokens(&text), modified))
}

impl TokenSet {
    /// Tokens from the configuration and, optionally, a file. Fails when the file cannot be
    /// read or when no token at all results (an empty Secret must not open the API).
    pub fn new(fixed: impl IntoIterator<Item = String>, file: Option<&Path>) -> Result<Self> {
        let fixed: Vec<Vec<u8>> =
            fixed.into_iter().map(|t| t.trim().as_bytes().to_vec()).filter(|t| !t.is_empty()).collect();
        let file = match file {
            Some(path) => {
                let (tokens, modified) = read_file(path)?;
                Some(RwLock::new(FileTokens { path: path.to_owned(), tokens, modified, checked: Instant::now() }))
            }
            None => None,
        };
        let set = TokenSet { fixed, file, recheck: Duration::from_secs(1) };
        if set.count() == 0 {
            return Err(Error::Usage("no API token configured: the token file and configuration hold none".into()));
        }
        Ok(set)
    }

    /// Sets how often the token file's modification time is looked at (default: 1 s).
    pub fn recheck_every(mut self, interval: Duration) -> Self {
        self.recheck = interval;
        self
    }

    fn count(&self) -> usize {
        self.fixed.len()
            + self.file.as_ref().map_or(0, |f| f.read().unwrap_or_else(std::sync::PoisonError::into_inner).tokens.len())
    }

    fn refresh(&self) {
        let Some(file) = &self.file else { return };
        {
            let f = file.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if f.checked.elapsed() < self.recheck {
                return;
            }
        }
        let mut f = file.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.checked = Instant::now();
        let modified = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
        if modified == f.modified {
            return;
        }
        match read_file(&f.path) {
            // Keep the old tokens when the new file is empty or unreadable (a Secret being
            // swapped out): failing closed would lock every client out mid-rotation.
            Ok((tokens, modified)) if !tokens.is_empty() => {
                tracing::info!(path = %f.path.display(), tokens = tokens.len(), "reloaded API tokens");
                f.tokens = tokens;
                f.modified = modified;
            }
            Ok(_) => tracing::warn!(path = %f.path.display(), "token file is empty now; keeping the previous tokens"),
            Err(e) => tracing::warn!(error = %e, "cannot re-read the token file; keeping the previous tokens"),
        }
    }

    /// Whether `candidate` is one of the tokens.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        self.refresh();
        let mut ok = self.fixed.iter().fold(false, |acc, t| acc | constant_time_eq(t, candidate));
        if let Some(file) = &self.file {
            let f = file.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            ok = f.tokens.iter().fold(ok, |acc, t| acc | constant_time_eq(t, candidate));
        }
        ok
    }
}

/// Equal-length comparison that looks at every byte whatever the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: answers 401 with `WWW-Authenticate: Bearer` unless the request carries an
/// accepted `Authorization: Bearer <token>` (or no tokens are configured).
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(tokens) = state.tokens() else { return next.run(request).await };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let message = match presented {
        Some(token) if tokens.accepts(token.as_bytes()) => return next.run(request).await,
        Some(_) => "the bearer token is not valid",
        None => "missing bearer token: send `Authorization: Bearer <token>`",
    };
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(ErrorBody { error: message.to_owned() })).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"kubesage\""));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tokens_from_config_and_file_with_comments() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(file, "# rotated 2026-11\n  file-token  \n\n").expect("write");
        let set = TokenSet::new(["cfg-token".to_owned()], Some(file.path())).expect("tokens");
        assert!(set.accepts(b"cfg-token"));
        assert!(set.accepts(b"file-token"));
        assert!(!set.accepts(b"file-toke"));
        assert!(!set.accepts(b""));
        assert!(!set.accepts(b"# rotated 2026-11"));
    }

    #[test]
    fn a_rotated_token_file_is_picked_up_and_an_emptied_one_is_not() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let rewrite = |text: &str, age_secs: u64| {
            std::fs::write(file.path(), text).expect("write");
            let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 - age_secs);
            std::fs::File::options()
                .write(true)
                .open(file.path())
                .and_then(|f| f.set_modified(when))
                .expect("set the modification time");
        };
        rewrite("old-token\n", 30);
        let set = TokenSet::new(Vec::<String>::new(), Some(file.path())).expect("tokens").recheck_every(Duration::ZERO);
        assert!(set.accepts(b"old-token"));
        rewrite("new-token\n", 20);
        assert!(set.accepts(b"new-token"));
        assert!(!set.accepts(b"old-token"));
        rewrite("", 10);
        assert!(set.accepts(b"new-token"), "an emptied file keeps the previous tokens");
    }

    #[test]
    fn no_tokens_and_unreadable_files_are_errors() {
        assert!(matches!(TokenSet::new(Vec::<String>::new(), None), Err(Error::Usage(_))));
        let empty = tempfile::NamedTempFile::new().expect("temp file");
        assert!(matches!(TokenSet::new(Vec::<String>::new(), Some(empty.path())), Err(Error::Usage(_))));
        let missing = Path::new("/nonexistent/kubesage/token");
        assert!(matches!(TokenSet::new(Vec::<String>::new(), Some(missing)), Err(Error::Io { .. })));
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
