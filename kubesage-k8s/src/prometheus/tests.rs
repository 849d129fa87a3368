//! The client against a tiny HTTP server on loopback that checks each request and answers
//! a canned response; every exchange runs under a timeout, so a missing call fails.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

const QUERY: &str = r#"rate(http_requests_total{job="api", path=~"/a b&c"}[5m])"#;

/// A canned answer: status line, extra headers, body.
struct Answer {
    status: &'static str,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: &'static str, body: &str) -> Self {
        Answer { status, headers: "Content-Type: application/json\r\n".to_owned(), body: body.as_bytes().to_vec() }
    }
}

/// Serves one request with `answer` and returns the base URL and a handle yielding the
/// request line's target (`/api/v1/query?query=...`).
async fn serve_once(answer: Answer) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read request");
            assert!(n > 0 && request.len() < 65_536, "incomplete request");
            request.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&request).into_owned();
        let mut reply = format!("HTTP/1.1 {}\r\n{}", answer.status, answer.headers).into_bytes();
        if !answer.headers.contains("Transfer-Encoding") && !answer.headers.contains("Content-Length") {
            reply.extend_from_slice(format!("Content-Length: {}\r\n", answer.body.len()).as_bytes());
        }
        reply.extend_from_slice(b"Connection: close\r\n\r\n");
        reply.extend_from_slice(&answer.body);
        // The client may hang up early (a refused oversize body); that is not this test's failure.
        let _ = socket.write_all(&reply).await;
        let _ = socket.shutdown().await;
        let line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("GET"), "{line}");
        parts.next().unwrap_or_default().to_owned()
    });
    (base, handle)
}

/// Runs `call` against a server answering `answer`; returns the result and the request target.
async fn exchange<F, Fut>(answer: Answer, call: F) -> (Result<Vec<Series>>, String)
where
    F: FnOnce(PrometheusClient) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Series>>>,
{
    let (base, server) = serve_once(answer).await;
    let client = PrometheusClient::new(&base, Duration::from_secs(5)).expect("client");
    tokio::time::timeout(Duration::from_secs(10), async {
        let result = call(client).await;
        let target = server.await.expect("the server task");
        (result, target)
    })
    .await
    .expect("the exchange finished in time")
}

/// The path and the decoded query parameters of a request target.
fn split_target(target: &str) -> (String, BTreeMap<String, String>) {
    let url = Url::parse(&format!("http://localhost{target}")).expect("a valid request target");
    (url.path().to_owned(), url.query_pairs().into_owned().collect())
}

/// A port nothing listens on: bound, then released.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

const MATRIX: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"container_cpu_usage","namespace":"shop","pod":"checkout-1"},
     "values":[[1700000000,"0.5"],[1700000300,"0.75"],[1700000600,"1e2"]]},
    {"metric":{"namespace":"shop","pod":"cart-2"},"values":[[1700000300.981,"3"]]}]}}"#;

#[tokio::test]
async fn range_query_sends_encoded_parameters_and_reads_a_matrix() {
    let (result, target) = exchange(Answer::json("200 OK", MATRIX), |c| async move {
        c.query_range(QUERY, 1_700_000_000, 1_700_000_600, 300).await
    })
    .await;
    // Everything PromQL needs escaping is escaped on the wire...
    assert!(!target.contains(['{', '"', ' ', '[']), "{target}");
    // ...and decodes back to exactly what was asked.
    let (path, params) = split_target(&target);
    assert_eq!(path, "/api/v1/query_range");
    assert_eq!(params["query"], QUERY);
    assert_eq!(
        (params["start"].as_str(), params["end"].as_str(), params["step"].as_str()),
        ("1700000000", "1700000600", "300")
    );
    assert_eq!(params.len(), 4);

    let series = result.expect("a matrix");
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].labels["__name__"], "container_cpu_usage");
    assert_eq!(series[0].labels["pod"], "checkout-1");
    assert_eq!(series[0].timestamps, [1_700_000_000, 1_700_000_300, 1_700_000_600]);
    assert_eq!(series[0].values, [0.5, 0.75, 100.0]);
    assert!(!series[1].labels.contains_key("__name__"));
    assert_eq!((series[1].timestamps.as_slice(), series[1].values.as_slice()), (&[1_700_000_300][..], &[3.0][..]));
}

#[tokio::test]
async fn instant_query_reads_a_vector_one_point_each_below_a_path_prefix() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"__name__":"up","job":"a"},"value":[1700000000.5,"1"]},
        {"metric":{"__name__":"up","job":"b"},"value":[1700000000.5,"0"]}]},"warnings":["ignored"]}"#;
    let (base, server) = serve_once(Answer::json("200 OK", body)).await;
    // Prometheus behind `--web.route-prefix=/prom` or a proxy path; no trailing slash given.
    let client = PrometheusClient::new(&format!("{base}/prom"), Duration::from_secs(5)).expect("client");
    let series = tokio::time::timeout(Duration::from_secs(10), client.query("up", Some(1_700_000_000)))
        .await
        .expect("in time")
        .expect("a vector");
    let (path, params) = split_target(&server.await.expect("server"));
    assert_eq!(path, "/prom/api/v1/query");
    assert_eq!(params, BTreeMap::from([("query".into(), "up".into()), ("time".into(), "1700000000".into())]));
    assert_eq!(series.len(), 2);
    assert_eq!(series[1].labels["job"], "b");
    assert_eq!((series[1].timestamps.clone(), series[1].values.clone()), (vec![1_700_000_000], vec![0.0]));
}

#[tokio::test]
async fn scalar_is_one_series_without_labels_and_no_time_means_the_servers_now() {
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000123.456,"42"]}}"#;
    let (result, target) =
        exchange(Answer::json("200 OK", body), |c| async move { c.query("6 * 7", None).await }).await;
    let (_, params) = split_target(&target);
    assert_eq!(params.keys().collect::<Vec<_>>(), ["query"]);
    assert_eq!(params["query"], "6 * 7");
    let series = result.expect("a scalar");
    assert_eq!(series, vec![Series::new(vec![1_700_000_123], vec![42.0])]);
}

#[tokio::test]
async fn nan_and_infinities_become_gaps() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},
        "values":[[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,"0.25"]]}]}}"#;
    let (result, _) =
        exchange(Answer::json("200 OK", body), |c| async move { c.query_range("x", 1, 4, 1).await }).await;
    let series = result.expect("a matrix");
    assert_eq!(series[0].timestamps, [1, 2, 3, 4]);
    let v = &series[0].values;
    assert!(v[..3].iter().all(|x| x.is_nan()), "{v:?}");
    assert_eq!(v[3], 0.25);
}

#[tokio::test]
async fn an_api_error_is_a_query_error_with_its_type_and_message() {
    let body = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error: unclosed left parenthesis"}"#;
    let (result, target) =
        exchange(Answer::json("400 Bad Request", body), |c| async move { c.query("rate(", None).await }).await;
    assert_eq!(split_target(&target).1["query"], "rate(");
    match result {
        Err(Error::PrometheusQuery { error_type, message }) => {
            assert_eq!(error_type, "bad_data");
            assert!(message.contains("unclosed left parenthesis"), "{message}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_bodies_are_response_errors() {
    let cases = [
        Answer {
            status: "200 OK",
            headers: "Content-Type: text/html\r\n".into(),
            body: b"<html>login</html>".to_vec(),
        },
        Answer::json("200 OK", r#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}}"#),
        Answer::json("200 OK", r#"{"status":"success"}"#),
        Answer::json("200 OK", r#"{"status":"success","data":{"resultType":"string","result":[1,"s"]}}"#),
        Answer::json("200 OK", r#"{"status":"partial"}"#),
        Answer::json("200 OK", ""),
        Answer { status: "502 Bad Gateway", headers: String::new(), body: b"upstream connect error".to_vec() },
    ];
    for answer in cases {
        let shown = String::from_utf8_lossy(&answer.body).into_owned();
        let (result, _) = exchange(answer, |c| async move { c.query("up", None).await }).await;
        match result {
            Err(Error::PrometheusResponse(message)) => assert!(message.contains("/api/v1/query"), "{message}"),
            other => panic!("{shown}: expected a response error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_port_is_unreachable() {
    let port = closed_port().await;
    let client = PrometheusClient::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).expect("client");
    let result = tokio::time::timeout(Duration::from_secs(10), client.query("up", None)).await.expect("in time");
    match result {
        Err(e @ Error::PrometheusUnreachable { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&format!("127.0.0.1:{port}/api/v1/query")), "{message}");
            assert!(message.to_lowercase().contains("refused"), "{message}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let client = PrometheusClient::new(&base, Duration::from_millis(300)).expect("client");
    let result = tokio::time::timeout(Duration::from_secs(10), client.query("up", None)).await.expect("in time");
    server.abort();
    match result {
        Err(Error::PrometheusUnreachable { reason, .. }) => assert!(reason.contains("within 300ms"), "{reason}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn too_many_points_are_refused_before_sending() {
    // Nothing listens: a request that was sent would be "unreachable", not refused.
    let port = closed_port().await;
    let client = PrometheusClient::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).expect("client");
    let day = 86_400;
    match client.query_range("up", 0, 30 * day, 60).await {
        Err(Error::PrometheusResponse(m)) => assert!(m.contains("43200 points") && m.contains("236s"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    for (start, end, step) in [(10, 0, 60), (0, 10, 0), (i64::MIN, i64::MAX, 1)] {
        assert!(matches!(client.query_range("up", start, end, step).await, Err(Error::PrometheusResponse(_))));
    }
    // Exactly 11,000 steps is what Prometheus still accepts: that one is sent.
    let result = client.query_range("up", 0, 11_000 * 60, 60).await;
    assert!(matches!(result, Err(Error::PrometheusUnreachable { .. })), "{result:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let big = format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, " ".repeat(5_000));
    // Declared too large by Content-Length.
    let declared = Answer::json("200 OK", &big);
    // Chunked, no length: refused once the bytes read pass the limit.
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(1_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let streamed = Answer { status: "200 OK", headers: "Transfer-Encoding: chunked\r\n".into(), body: chunked };
    for answer in [declared, streamed] {
        let (result, _) =
            exchange(answer, |c| async move { c.with_max_body_bytes(2_000).query("up", None).await }).await;
        match result {
            Err(Error::PrometheusResponse(m)) => assert!(m.contains("2000-byte limit"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    // The same answer within the limit is read.
    let (result, _) = exchange(Answer::json("200 OK", &big), |c| async move { c.query("up", None).await }).await;
    assert_eq!(result.expect("within the default limit"), vec![]);
}

#[test]
fn base_urls_must_be_absolute_http() {
    for bad in ["", "prometheus:9090", "ftp://host", "http://", "http://host/?x=1", "unix:/run/p.sock"] {
        assert!(
            matches!(PrometheusClient::new(bad, Duration::from_secs(1)), Err(Error::PrometheusUrl { .. })),
            "{bad:?}"
        );
    }
    let client = PrometheusClient::new("https://user:secret@example.com/prom", Duration::from_secs(1)).expect("ok");
    assert_eq!(client.base_url(), "https://user:***@example.com/prom/");
    let Err(e) = PrometheusClient::new("gopher://user:secret@host", Duration::from_secs(1)) else {
        panic!("gopher is refused")
    };
    assert!(!e.to_string().contains("secret"), "{e}");
}
