//! The driver → link command queue: bounded, never waited on by the
//! driver, and free until used. A tokio `mpsc` channel allocates its first
//! block of 32 slots when created (3 KiB here), once per link: at 1 000
//! masters that was a sixth of a sentinel's memory for queues that almost
//! always hold zero or one command.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The queue and who waits on it, under one lock (taken for a few
/// instructions, by the driver and one link task).
struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// The receiver's waker while it waits: an item or the sender's end
    /// wakes it. Polled by hand (no `Notify` future), the link task keeps
    /// no waiting state of its own.
    waiting: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl<T> State<T> {
    fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front();
        super::give_back_if_drained(&mut self.items);
        item
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; a poisoned one is as good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why [`Sender::try_send`] refused an item.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    Full,
    Closed,
}

/// One word: the driver keeps one per link.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue of at most `capacity` items.
pub fn queue<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            waiting: None,
            sender_gone: false,
            receiver_gone: false,
        }),
        capacity,
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    pub fn try_send(&self, item: T) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        if state.receiver_gone {
            return Err(SendError::Closed);
        }
        if state.items.len() >= self.shared.capacity {
            return Err(SendError::Full);
        }
        state.items.push_back(item);
        let waiting = state.waiting.take();
        drop(state);
        if let Some(w) = waiting {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.sender_gone = true;
        let waiting = state.waiting.take();
        drop(state);
        if let Some(w) = waiting {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the queue is empty and the sender gone.
    /// Cancel-safe: an item is only taken when this returns it.
    #[cfg(test)]
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`Receiver::recv`] by hand: `Pending` registers `cx`'s waker, which
    /// the next item or the sender's end wakes.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock();
        if let Some(item) = state.pop() {
            return Poll::Ready(Some(item));
        }
        if state.sender_gone {
            return Poll::Ready(None);
        }
        match &mut state.waiting {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// An item already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.shared.lock().pop()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        state.waiting = None;
        state.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_arrive_in_order_and_a_full_queue_refuses() {
        let (tx, mut rx) = queue(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(SendError::Full));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn the_receiver_waits_for_a_send_and_ends_with_the_sender() {
        let (tx, mut rx) = queue(4);
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            let end = rx.recv().await;
            (first, end)
        });
        tokio::task::yield_now().await;
        tx.try_send("ping").unwrap();
        drop(tx);
        assert_eq!(waiting.await.unwrap(), (Some("ping"), None));
    }

    #[tokio::test]
    async fn a_backlog_gives_its_memory_back_once_drained() {
        let (tx, mut rx) = queue(64);
        for i in 0..40 {
            tx.try_send(i).unwrap();
        }
        assert!(tx.shared.lock().items.capacity() >= 40);
        for i in 0..40 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert_eq!(tx.shared.lock().items.capacity(), 0);
        tx.try_send(41).unwrap();
        assert_eq!(rx.try_recv(), Some(41));
    }

    #[tokio::test]
    async fn a_gone_receiver_closes_the_queue() {
        let (tx, rx) = queue(4);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(SendError::Closed));
    }
}
