//! Every Redis reply is bounded in size: a server (or something posing as one) that
//! answers with a bulk string or an array of gigabytes must not grow rotor to gigabytes.
//! redis-rs parses a whole reply before anyone sees it and has no limit of its own, so
//! rotor hands it a stream that fails once more than [`MAX_REPLY`] bytes arrive without
//! a command sent in between (every reply of rotor's scripts is a few KiB).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The largest reply rotor reads.
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

/// What a reply past the bound fails with.
pub const TOO_LARGE: &str = "the reply is larger than 4 MiB, more than any answer to rotor's commands; rotor stopped reading it";

/// A stream that counts the bytes read since the last write.
#[derive(Debug)]
pub struct Bounded<S> {
    inner: S,
    since_write: usize,
}

impl<S> Bounded<S> {
    pub fn new(inner: S) -> Self {
        Bounded {
            inner,
            since_write: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.since_write > MAX_REPLY {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, TOO_LARGE)));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.since_write += buf.filled().len() - before;
            if self.since_write > MAX_REPLY {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, TOO_LARGE)));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.since_write = 0;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_flood_is_cut_and_a_write_starts_a_new_reply() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut b = Bounded::new(client);
        let feeder = tokio::spawn(async move {
            let block = vec![b'a'; 1 << 15];
            for _ in 0..(MAX_REPLY / block.len() + 8) {
                if server.write_all(&block).await.is_err() {
                    break;
                }
            }
            server
        });
        let mut got = 0usize;
        let mut buf = vec![0; 1 << 15];
        let err = loop {
            match b.read(&mut buf).await {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        assert!(got <= MAX_REPLY + buf.len(), "{got}");
        drop(feeder);
        // A write resets the count: many small replies are fine.
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut b = Bounded::new(client);
        for _ in 0..(2 * MAX_REPLY / 1024) {
            b.write_all(b"PING\r\n").await.unwrap();
            server.write_all(&[b'x'; 1024]).await.unwrap();
            b.read_exact(&mut [0; 1024]).await.unwrap();
        }
    }
}
