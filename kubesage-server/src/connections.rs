//! A listener that holds at most a fixed number of connections open.
//!
//! The request-level concurrency limit sheds work, but every open connection still costs
//! buffers (hyper reads up to a few hundred kilobytes ahead), so under a flood of clients
//! memory grows with the number of connections, not with the work done. Capping
//! connections bounds that: past the cap, new connections wait in the kernel's accept
//! backlog until one closes. Accepted sockets get `TCP_NODELAY`, as small JSON answers
//! should not wait for Nagle's algorithm.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A TCP listener with a cap on open connections.
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl LimitedListener {
    /// Wraps `inner`, allowing `max` connections at once (at least 1).
    pub fn new(inner: TcpListener, max: usize) -> Self {
        LimitedListener { inner, permits: Arc::new(Semaphore::new(max.max(1))) }
    }

    /// Connections that may still be opened before the cap.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// An accepted connection; its slot is freed when it is dropped.
#[derive(Debug)]
pub struct LimitedStream {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            // The semaphore is never closed; if it were, accept nothing more.
            Err(_) => std::future::pending().await,
        };
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        (LimitedStream { io, _permit: permit }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn connections_past_the_cap_wait_until_one_closes() {
        let inner = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = inner.local_addr().expect("addr");
        let mut listener = LimitedListener::new(inner, 1);
        let _c1 = TcpStream::connect(addr).await.expect("connect 1");
        let (first, _) = listener.accept().await;
        assert_eq!(listener.available(), 0);
        let _c2 = TcpStream::connect(addr).await.expect("connect 2 (queued by the kernel)");
        // With the only slot taken, accepting does not complete ...
        let mut pending = Box::pin(listener.accept());
        assert!(futures::poll!(pending.as_mut()).is_pending());
        // ... until the first connection closes.
        drop(first);
        let (second, _) = pending.await;
        assert!(second.io.nodelay().expect("nodelay"));
    }
}
