//! A scripted HTTP/1.1 server on loopback: it answers each connection with the next reply
//! of its script and records what it was sent. Streamed replies go out as separate HTTP
//! chunks, so the client sees the boundaries the script chose (or finer ones).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a reply's body goes out.
enum Body {
    /// All at once, with a `Content-Length`.
    Full(Vec<u8>),
    /// As HTTP chunks, one a piece, then the end.
    Chunks(Vec<Vec<u8>>),
    /// As HTTP chunks, then nothing more, with the connection left open.
    ChunksThenStall(Vec<Vec<u8>>),
    /// Nothing at all, not even a status line; the connection stays open.
    Silent,
}

/// One scripted reply.
pub(crate) struct Reply {
    status: &'static str,
    headers: Vec<String>,
    body: Body,
}

impl Reply {
    /// A complete JSON answer.
    pub(crate) fn json(status: &'static str, body: &str) -> Self {
        Reply { status, headers: vec!["Content-Type: application/json".into()], body: Body::Full(body.into()) }
    }

    /// A complete answer of another type.
    pub(crate) fn text(status: &'static str, content_type: &str, body: &str) -> Self {
        Reply { status, headers: vec![format!("Content-Type: {content_type}")], body: Body::Full(body.into()) }
    }

    /// A stream of server-sent events, sent in these pieces.
    pub(crate) fn sse(pieces: Vec<Vec<u8>>) -> Self {
        Reply { status: "200 OK", headers: vec!["Content-Type: text/event-stream".into()], body: Body::Chunks(pieces) }
    }

    /// A stream of JSON lines, sent in these pieces.
    pub(crate) fn ndjson(pieces: Vec<Vec<u8>>) -> Self {
        Reply {
            status: "200 OK",
            headers: vec!["Content-Type: application/x-ndjson".into()],
            body: Body::Chunks(pieces),
        }
    }

    /// A stream that sends these pieces and then stalls.
    pub(crate) fn stalling_sse(pieces: Vec<Vec<u8>>) -> Self {
        Reply { body: Body::ChunksThenStall(pieces), ..Reply::sse(Vec::new()) }
    }

    /// A server that reads the request and never answers.
    pub(crate) fn silent() -> Self {
        Reply { status: "", headers: Vec::new(), body: Body::Silent }
    }

    /// Adds a header (`Retry-After: 7`).
    pub(crate) fn with_header(mut self, header: &str) -> Self {
        self.headers.push(header.to_owned());
        self
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `POST /v1/chat/completions HTTP/1.1`.
    pub(crate) request_line: String,
    /// Header names in lower case.
    pub(crate) headers: BTreeMap<String, String>,
    /// The JSON body.
    pub(crate) body: serde_json::Value,
}

impl Recorded {
    /// The request target (`/v1/chat/completions`).
    pub(crate) fn path(&self) -> &str {
        self.request_line.split(' ').nth(1).unwrap_or_default()
    }
}

/// A running scripted server.
pub(crate) struct Scripted {
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Scripted {
    /// Starts serving `script`, one reply per connection, in order; once the script is
    /// done, the listener closes.
    pub(crate) async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        tokio::spawn(async move {
            for reply in script {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let request = read_request(&mut socket).await;
                log.lock().expect("the request log").push(request);
                answer(&mut socket, reply).await;
            }
        });
        Scripted { base, requests }
    }

    /// The requests received so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("the request log").clone()
    }
}

/// Reads one request: the head, then `Content-Length` bytes of body.
async fn read_request(socket: &mut TcpStream) -> Recorded {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut buf).await.expect("read the request");
        assert!(n > 0 && data.len() < 1 << 20, "incomplete request head");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut buf).await.expect("read the request body");
        assert!(n > 0, "incomplete request body");
        body.extend_from_slice(&buf[..n]);
    }
    let body = serde_json::from_slice(&body).expect("the request body is JSON");
    Recorded { request_line, headers, body }
}

/// Writes a reply. The client may hang up early; that is not the server's failure.
async fn answer(socket: &mut TcpStream, reply: Reply) {
    let mut head = format!("HTTP/1.1 {}\r\n", reply.status);
    for header in &reply.headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n");
    let (pieces, stall) = match reply.body {
        Body::Silent => return std::future::pending().await,
        Body::Full(body) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
            return;
        }
        Body::Chunks(pieces) => (pieces, false),
        Body::ChunksThenStall(pieces) => (pieces, true),
    };
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    let _ = socket.write_all(head.as_bytes()).await;
    // An empty chunk would end the body.
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        let _ = socket.write_all(&chunk).await;
        let _ = socket.flush().await;
        tokio::task::yield_now().await;
    }
    if stall {
        return std::future::pending().await;
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let _ = socket.shutdown().await;
}

/// A port nothing listens on: bound, then released.
pub(crate) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}
