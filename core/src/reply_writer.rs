//! Writing a reply piece by piece instead of building a [`Reply`] tree.
//!
//! The read-only queries run once per client request, and a tree of
//! `Reply` values costs an allocation per key and per value (a replica's
//! map is some 60 of them) only to be encoded and dropped at once. The core
//! writes its answers to a [`ReplyWriter`]; the shell's writer encodes
//! straight into the client's output buffer, and [`ReplyBuilder`] builds
//! the same `Reply` for everything that wants a value (the driver's path,
//! tests).

use crate::reply::Reply;

/// A sink for one reply written in order: a container announces how many
/// items follow, then they are written.
pub trait ReplyWriter {
    /// An array of `len` items.
    fn array(&mut self, len: usize);
    /// A map of `pairs` key/value pairs (RESP2: a flat array of `2 * pairs`).
    fn map(&mut self, pairs: usize);
    fn bulk(&mut self, bytes: &[u8]);
    /// A number as a bulk string (`addReplyBulkLongLong`).
    fn bulk_int(&mut self, n: i64);
    /// Any other reply, already built (errors, nulls, the rare shapes).
    fn reply(&mut self, reply: &Reply);
}

/// A [`ReplyWriter`] that builds the [`Reply`] value the pieces describe.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    /// Open containers, innermost last: what they hold so far and how many
    /// items they still expect.
    open: Vec<Open>,
    done: Option<Reply>,
}

#[derive(Debug)]
struct Open {
    map: bool,
    items: Vec<Reply>,
    expected: usize,
}

impl ReplyBuilder {
    pub fn new() -> ReplyBuilder {
        ReplyBuilder::default()
    }

    /// The reply written. Panics if it was never written or not finished:
    /// a writer that announces more items than it writes is a bug.
    pub fn finish(self) -> Reply {
        assert!(self.open.is_empty(), "reply left unfinished");
        self.done.expect("no reply written")
    }

    fn push(&mut self, reply: Reply) {
        let mut reply = reply;
        loop {
            let Some(top) = self.open.last_mut() else {
                assert!(self.done.is_none(), "more than one reply written");
                self.done = Some(reply);
                return;
            };
            top.items.push(reply);
            if top.items.len() < top.expected {
                return;
            }
            let full = self.open.pop().expect("just looked at it");
            reply = if full.map {
                let mut items = full.items.into_iter();
                let mut pairs = Vec::with_capacity(full.expected / 2);
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    pairs.push((k, v));
                }
                Reply::Map(pairs)
            } else {
                Reply::Array(full.items)
            };
        }
    }

    fn open(&mut self, map: bool, expected: usize) {
        if expected == 0 {
            self.push(if map {
                Reply::Map(Vec::new())
            } else {
                Reply::Array(Vec::new())
            });
            return;
        }
        self.open.push(Open {
            map,
            items: Vec::with_capacity(expected),
            expected,
        });
    }
}

impl ReplyWriter for ReplyBuilder {
    fn array(&mut self, len: usize) {
        self.open(false, len);
    }

    fn map(&mut self, pairs: usize) {
        self.open(true, 2 * pairs);
    }

    fn bulk(&mut self, bytes: &[u8]) {
        self.push(Reply::bulk(bytes));
    }

    fn bulk_int(&mut self, n: i64) {
        self.push(Reply::bulk_int(n));
    }

    fn reply(&mut self, reply: &Reply) {
        self.push(reply.clone());
    }
}

/// Builds the [`Reply`] that `write` writes.
pub fn build(write: impl FnOnce(&mut ReplyBuilder)) -> Reply {
    let mut b = ReplyBuilder::new();
    write(&mut b);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_containers_close_when_their_last_item_is_written() {
        let r = build(|w| {
            w.array(3);
            w.map(2);
            w.bulk(b"a");
            w.bulk_int(1);
            w.bulk(b"b");
            w.array(0);
            w.reply(&Reply::NullArray);
            w.map(0);
        });
        assert_eq!(
            r,
            Reply::Array(vec![
                Reply::Map(vec![
                    (Reply::bulk("a"), Reply::bulk("1")),
                    (Reply::bulk("b"), Reply::Array(vec![])),
                ]),
                Reply::NullArray,
                Reply::Map(vec![]),
            ])
        );
    }

    #[test]
    #[should_panic(expected = "unfinished")]
    fn a_container_missing_items_is_a_bug() {
        build(|w| {
            w.array(2);
            w.bulk(b"x");
        });
    }
}
