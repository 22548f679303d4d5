//! Accepting connections: a cap on how many are open, a header-read and an
//! idle timeout on each, prompt refusal beyond the cap, and a drain on
//! shutdown.
//!
//! `axum::serve` has none of these: a client that opens connections and
//! sends nothing holds a task and a file descriptor each for ever, and once
//! the process runs out of descriptors nobody else is served. Here every
//! connection holds a permit of a semaphore sized below the descriptor
//! limit; a connection past the cap gets a `503` and is closed at once.

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// The connection series a server exports: open now, and refused past
/// the cap (clones share their values, as prometheus-client's do).
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    pub open: Gauge,
    pub refused: Counter,
}

/// Connection limits.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Most connections open at once; one more is answered `503` and
    /// closed. Lowered at start to fit the process's descriptor limit.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, counted
    /// from when the connection opens (slowloris).
    pub header_read_timeout: Duration,
    /// How long a connection may sit with no bytes in either direction and
    /// no request being answered before it is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Descriptors kept free for what is not a client connection: registry
/// files, the listener, refusals being written, the runtime.
const RESERVED_FDS: u64 = 64;
/// Refusals being written at once; past this a connection is just closed.
const MAX_REFUSING: usize = 32;

/// `wanted`, lowered to what the descriptor limit leaves room for, and
/// whether it was lowered.
pub fn fit_to_fd_limit(wanted: usize) -> (usize, bool) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    match limit {
        Some(n) => {
            let room = n.saturating_sub(RESERVED_FDS + MAX_REFUSING as u64).max(1);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if wanted > room { (room, true) } else { (wanted, false) }
        }
        None => (wanted, false),
    }
}

/// Serves `router` on `listener` until `stop` turns true, then lets open
/// connections finish their requests for at most `drain` and returns
/// whether they all did.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
    metrics: ConnectionMetrics,
) -> bool {
    let max = limits.max_connections.max(1);
    let open = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let limits = Arc::new(limits);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of descriptors or a connection reset before it was
            // accepted: wait a moment rather than spin on the error.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                let router = router.clone();
                let limits = limits.clone();
                let stop = stop.clone();
                let metrics = metrics.clone();
                metrics.open.inc();
                tokio::spawn(async move {
                    connection(stream, router, &limits, stop).await;
                    metrics.open.dec();
                    drop(permit);
                });
            }
            Err(_) => {
                metrics.refused.inc();
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    tokio::time::timeout(drain, open.acquire_many(all)).await.is_ok()
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
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
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The whole answer to a connection past the cap.
fn refusal() -> String {
    let body = r#"{"error": {"code": "too_many_connections", "message": "the server has its most open connections: try again shortly"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(refusal().as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// One connection: HTTP/1.1 with hyper's header-read timeout, closed when
/// idle for `idle_timeout` (gracefully, so a request being answered is
/// finished first) and when the server stops.
async fn connection(stream: TcpStream, router: Router, limits: &ConnectionLimits, mut stop: watch::Receiver<bool>) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let router = router.clone();
            let busy = Busy::new(activity.clone());
            async move {
                let response = tower::ServiceExt::oneshot(router, request.map(axum::body::Body::new)).await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let tick = (limits.idle_timeout / 4).clamp(Duration::from_millis(25), Duration::from_secs(1));
    let mut closing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.wait_for(|s| *s), if closing_since.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing_since = Some(Instant::now());
            }
            _ = tokio::time::sleep(tick) => {
                if !activity.idle_for(limits.idle_timeout) {
                    continue;
                }
                match closing_since {
                    None => {
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                    // Asked to close and still nothing moves (a client
                    // that does not read its response): drop it.
                    Some(since) if since.elapsed() >= limits.idle_timeout => return,
                    Some(_) => {}
                }
            }
        }
    }
}

/// When bytes last moved on a connection, and how many of its requests are
/// being answered.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self, limit: Duration) -> bool {
        if self.busy.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let now = self.start.elapsed();
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        now.saturating_sub(last) >= limit
    }
}

/// Marks a request as being answered while it lives (a slow prediction is
/// not idleness).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records when bytes last moved.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
