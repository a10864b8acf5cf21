//! The load generator: many concurrent keep-alive HTTP/1.1 connections, each sending one
//! request at a time and timing it, on one thread so that the server keeps the other cores.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Builds the bytes of the `seq`-th request of a run, or `None` when the scenario has run
/// out of inputs (e.g. every pending request was reviewed).
pub type RequestMaker = Arc<dyn Fn(u64) -> Option<Vec<u8>> + Send + Sync>;

/// A request as raw HTTP/1.1 bytes, with the headers GitHub's clients send.
pub fn request(method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Vec<u8> {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: patgate-bench\r\nAccept: application/vnd.github+json\r\nX-GitHub-Api-Version: 2022-11-28\r\n"
    );
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match body {
        Some(body) => text.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => text.push_str("\r\n"),
    }
    text.into_bytes()
}

/// What one measured run gave.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Requests completed in the measured window with the expected status.
    pub ok: u64,
    /// Requests completed in the measured window with another status, or failed.
    pub errors: u64,
    /// The first unexpected status seen, for the report.
    pub first_error: Option<String>,
    /// Requests per second in the measured window.
    #[serde(deserialize_with = "nan_if_null")]
    pub throughput: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p99_ms: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub p999_ms: f64,
    /// Whether the scenario ran out of inputs before the window closed.
    pub exhausted: bool,
}

/// A figure that was not a number (no request completed) is written as `null`: read it back
/// as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value: Option<f64> = serde::Deserialize::deserialize(d)?;
    Ok(value.unwrap_or(f64::NAN))
}

/// A complete response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One keep-alive connection.
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Sends one request and reads its whole response; reconnects when the server closed
    /// the connection.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let result = self.exchange(request).await;
        match &result {
            Ok(response)
                if response
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close")) =>
            {
                self.stream = None;
            }
            Err(_) => self.stream = None,
            Ok(_) => {}
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Response> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| std::io::Error::other("not connected"))?;
        stream.write_all(request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| std::io::Error::other("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other("bad status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        let chunked = headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        let body = if chunked {
            read_chunked(stream, &mut self.buf, head_end).await?
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < head_end + length {
                read_more(stream, &mut self.buf).await?;
            }
            self.buf[head_end..head_end + length].to_vec()
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut pos: usize,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf[pos..], b"\r\n") {
                break pos + i;
            }
            read_more(stream, buf).await?;
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).unwrap_or("");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        pos = line_end + 2;
        while buf.len() < pos + size + 2 {
            read_more(stream, buf).await?;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
        if size == 0 {
            return Ok(body);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Drives `connections` connections for `warmup + measure`, each sending the requests
/// `make` builds, and times those completed in the measured window.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    expect: u16,
    make: RequestMaker,
) -> RunStats {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + warmup;
    let window = Window {
        start,
        end: start + measure,
    };
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(drive(addr, window, expect, make.clone(), counter.clone())))
        .collect();
    let mut tallies = Vec::with_capacity(connections);
    for task in tasks {
        if let Ok(tally) = task.await {
            tallies.push(tally);
        }
    }
    summarize(tallies, window)
}

/// The measured part of a run: what completes between `start` and `end` counts.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one connection saw in the measured window.
#[derive(Debug)]
struct Tally {
    /// Of the requests answered with the expected status, in microseconds.
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    /// Whether the connection stopped because the scenario ran out of inputs.
    exhausted: bool,
}

impl Tally {
    /// Counts one request completed in the window, `elapsed` after it was sent.
    fn record(&mut self, result: &std::io::Result<Response>, expect: u16, elapsed: Duration) {
        match result {
            Ok(response) if response.status == expect => {
                let micros = elapsed.as_micros();
                self.latencies
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            Ok(response) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| {
                    format!(
                        "{} {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                            .chars()
                            .take(160)
                            .collect::<String>()
                    )
                });
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// One connection of a run: sends request after request (the `counter`-th each time) until
/// the window ends or the scenario runs out of inputs, counting those inside the window.
async fn drive(
    addr: SocketAddr,
    window: Window,
    expect: u16,
    make: RequestMaker,
    counter: Arc<AtomicU64>,
) -> Tally {
    let mut conn = Connection::new(addr);
    let mut tally = Tally {
        latencies: Vec::with_capacity(64 * 1024),
        errors: 0,
        first_error: None,
        exhausted: false,
    };
    while Instant::now() < window.end {
        let Some(request) = make(counter.fetch_add(1, Ordering::Relaxed)) else {
            tally.exhausted = true;
            break;
        };
        let sent = Instant::now();
        let result = conn.send(&request).await;
        let done = Instant::now();
        if sent < window.start || done > window.end {
            continue;
        }
        tally.record(&result, expect, done - sent);
        if result.is_err() {
            // Not connected: give the server a moment rather than spin.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tally
}

/// The run's figures from its connections' tallies: throughput over the window (or the part
/// of it used, when every connection ran out of inputs early) and latency percentiles.
fn summarize(tallies: Vec<Tally>, window: Window) -> RunStats {
    let mut all = Vec::new();
    let mut stats = RunStats::default();
    for tally in tallies {
        all.extend(tally.latencies);
        stats.errors += tally.errors;
        stats.exhausted |= tally.exhausted;
        if stats.first_error.is_none() {
            stats.first_error = tally.first_error;
        }
    }
    let now = Instant::now();
    let last_done = if now < window.end {
        // Every connection ran out of inputs early: the window is what was used of it.
        window.start.max(now)
    } else {
        window.end
    };
    all.sort_unstable();
    stats.ok = all.len() as u64;
    let seconds = (last_done - window.start).as_secs_f64().max(1e-3);
    stats.throughput = stats.ok as f64 / seconds;
    stats.p50_ms = percentile(&all, 0.50);
    stats.p99_ms = percentile(&all, 0.99);
    stats.p999_ms = percentile(&all, 0.999);
    stats
}

/// The nearest-rank percentile `q` of `sorted` latencies in microseconds, in milliseconds.
pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[index]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let data: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile(&data, 0.50), 500.0);
        assert_eq!(percentile(&data, 0.99), 990.0);
        assert_eq!(percentile(&data, 0.999), 999.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn requests_carry_length_and_credentials() {
        let bytes = request("POST", "/x", Some("ghs_t"), Some("{\"a\":1}"));
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(text.starts_with("POST /x HTTP/1.1\r\n"));
        assert!(text.contains("Authorization: Bearer ghs_t\r\n"));
        assert!(text.ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"));
    }
}
