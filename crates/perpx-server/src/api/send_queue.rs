//! A WebSocket connection's send queue: the messages its session task has produced and its
//! writer task has not yet handed to the socket, bounded in messages (`ws_send_buffer`).
//!
//! **Why a group commit goes in whole.** The engine publishes one batch per group commit, and
//! a single command can give one account more notices than `ws_send_buffer`: a `cancel_all`
//! over its resting orders, a liquidation closing them, a busy group commit. The session task
//! queues a whole batch before the writer task runs at all, so a queue that refused a message
//! once it held `ws_send_buffer` of them cut such a stream off within one batch, however fast
//! the client read (a test: `cancel_all` over 100 orders with a queue of 64, in
//! `crates/perpx/tests/ws.rs`). The bound is checked when a batch *arrives*: a client is slow
//! when `ws_send_buffer` messages still wait, unsent, as the next batch comes in. What is
//! queued stays below `ws_send_buffer` plus one batch.
//!
//! The writer takes everything queued at once and flushes it with one write, which is also
//! what lets it keep up with a busy stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;

/// The most messages the writer hands the socket in one flush (it takes whole batches, so a
/// flush may hold more).
const WRITE_BATCH: usize = 256;

/// How long one write may take before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// A client that did not read fast enough: `limit` messages were still waiting when more came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("slow consumer: more than {limit} messages unread")]
pub(crate) struct SlowConsumer {
    /// The connection's `ws_send_buffer`.
    pub limit: usize,
}

/// The session's end: queues messages for the writer.
#[derive(Debug)]
pub(crate) struct SendQueue {
    tx: mpsc::UnboundedSender<Vec<Message>>,
    queued: Arc<AtomicUsize>,
    limit: usize,
}

/// The writer's end: takes what is queued, and says what it wrote.
#[derive(Debug)]
pub(crate) struct SendQueueReader {
    rx: mpsc::UnboundedReceiver<Vec<Message>>,
    queued: Arc<AtomicUsize>,
}

/// A send queue bounded at `limit` messages (at least 1).
pub(crate) fn send_queue(limit: usize) -> (SendQueue, SendQueueReader) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (SendQueue { tx, queued: Arc::clone(&queued), limit: limit.max(1) }, SendQueueReader { rx, queued })
}

impl SendQueue {
    /// Queues `messages` together, if fewer than the limit are still waiting (however many
    /// `messages` holds). A closed writer (the connection is going) drops them silently.
    ///
    /// # Errors
    /// [`SlowConsumer`]: the limit's worth is still unsent; nothing was queued.
    pub(crate) fn push(&self, messages: Vec<Message>) -> Result<(), SlowConsumer> {
        if messages.is_empty() {
            return Ok(());
        }
        if self.queued.load(Ordering::Acquire) >= self.limit {
            return Err(SlowConsumer { limit: self.limit });
        }
        self.force(messages);
        Ok(())
    }

    /// Queues one message; see [`SendQueue::push`].
    ///
    /// # Errors
    /// [`SlowConsumer`].
    pub(crate) fn push_one(&self, message: Message) -> Result<(), SlowConsumer> {
        self.push(vec![message])
    }

    /// Queues `messages` whatever is waiting: for the close frame that ends a connection.
    pub(crate) fn force(&self, messages: Vec<Message>) {
        self.queued.fetch_add(messages.len(), Ordering::AcqRel);
        // Fails only once the writer has gone; the connection is closing then.
        drop(self.tx.send(messages));
    }
}

impl SendQueueReader {
    /// The next queued messages, waiting for them; `None` once the session has gone and the
    /// queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<Vec<Message>> {
        self.rx.recv().await
    }

    /// More queued messages, if any, without waiting.
    fn try_recv(&mut self) -> Option<Vec<Message>> {
        self.rx.try_recv().ok()
    }

    /// `count` messages were handed to the socket: they no longer count against the limit.
    fn written(&self, count: usize) {
        self.queued.fetch_sub(count, Ordering::AcqRel);
    }

    /// Writes `first` and whatever else is queued behind it (up to about [`WRITE_BATCH`]
    /// messages) to `sink` with one flush: one syscall for a burst, not one a message. Returns
    /// whether a close frame was among them.
    ///
    /// # Errors
    /// The sink failed, or the write took longer than [`WRITE_TIMEOUT`]: the connection is gone.
    pub(crate) async fn write_burst<S>(&mut self, sink: &mut S, first: Vec<Message>) -> Result<bool, ()>
    where
        S: Sink<Message> + Unpin,
    {
        let burst = async {
            let (mut fed, mut closed) = (0, false);
            let mut next = Some(first);
            while let Some(messages) = next.take() {
                for m in messages {
                    closed |= matches!(m, Message::Close(_));
                    sink.feed(m).await?;
                    fed += 1;
                }
                if fed < WRITE_BATCH && !closed {
                    next = self.try_recv();
                }
            }
            sink.flush().await.map(|()| (fed, closed))
        };
        match tokio::time::timeout(WRITE_TIMEOUT, burst).await {
            Ok(Ok((fed, closed))) => {
                self.written(fed);
                Ok(closed)
            }
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<Message> {
        (0..n).map(|i| Message::Text(i.to_string().into())).collect()
    }

    #[test]
    fn a_batch_larger_than_the_limit_goes_in_whole_when_the_queue_has_room() {
        let (queue, mut reader) = send_queue(4);
        assert_eq!(queue.push(text(10)), Ok(()), "ten messages into an empty queue of four");
        assert_eq!(reader.try_recv().map(|m| m.len()), Some(10));
    }

    #[test]
    fn a_client_is_slow_when_the_limit_is_still_unwritten_as_more_arrives() {
        let (queue, mut reader) = send_queue(4);
        queue.push(text(3)).unwrap();
        queue.push_one(Message::Text("fourth".into())).unwrap();
        assert_eq!(queue.push(text(1)), Err(SlowConsumer { limit: 4 }));
        assert_eq!(SlowConsumer { limit: 4 }.to_string(), "slow consumer: more than 4 messages unread");
        // The writer hands what it took to the socket: room again.
        let taken = reader.try_recv().unwrap().len() + reader.try_recv().unwrap().len();
        assert_eq!(taken, 4);
        assert!(reader.try_recv().is_none(), "the refused message was not queued");
        reader.written(taken);
        assert_eq!(queue.push(text(2)), Ok(()));
    }

    #[test]
    fn taken_but_unwritten_messages_still_count() {
        let (queue, mut reader) = send_queue(2);
        queue.push(text(2)).unwrap();
        let taken = reader.try_recv().unwrap();
        assert_eq!(queue.push(text(1)), Err(SlowConsumer { limit: 2 }), "taken, not yet written");
        reader.written(taken.len());
        assert_eq!(queue.push(text(1)), Ok(()));
    }

    #[test]
    fn the_close_frame_is_queued_even_behind_a_full_queue() {
        let (queue, mut reader) = send_queue(1);
        queue.push(text(1)).unwrap();
        queue.force(vec![Message::Close(None)]);
        assert_eq!(reader.try_recv().map(|m| m.len()), Some(1));
        assert!(matches!(reader.try_recv().as_deref(), Some([Message::Close(None)])));
        drop(queue);
        assert!(reader.try_recv().is_none());
    }
}
