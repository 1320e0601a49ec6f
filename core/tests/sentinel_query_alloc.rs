//! `Sentinel::query` runs once per client `SENTINEL` request: routing one
//! (deciding it is not a query, or reading its arguments) must not
//! allocate. A counting allocator checks it; the count is per thread so
//! tests running beside this one do not disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialised thread-local without a destructor, so
// touching it never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn argv(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

#[test]
fn routing_a_request_through_query_does_not_allocate() {
    let mut s = Sentinel::new(1, 26379);
    s.apply_directive(
        Millis(0),
        &["monitor", "mymaster", "127.0.0.1", "6379", "2"],
    )
    .expect("directive applies");
    // Not queries: the driver answers these; `query` must say so for free.
    let not_queries = [
        argv(&["SET", "mymaster", "quorum", "1", "parallel-syncs", "2"]),
        argv(&["is-master-down-by-addr", "127.0.0.1", "6379", "1", "*"]),
        argv(&["monitor", "x", "127.0.0.1", "1", "1"]),
        argv(&["debug", "ping-period", "500"]),
        argv(&["nosuchsubcommand-with-a-long-name-beyond-any-query"]),
        argv(&["master"]),
    ];
    for args in &not_queries {
        let mut answer = Some(rsentinel_core::reply::Reply::ok());
        let n = allocations_during(|| answer = s.query(Millis(1), args));
        assert_eq!(answer, None, "{args:?} is not a query");
        assert_eq!(n, 0, "routing {args:?} allocated");
    }
    // A query for an unknown master: its error is the only allocation.
    let args = argv(&["GET-MASTER-ADDR-BY-NAME", "nope"]);
    let mut answer = None;
    let n = allocations_during(|| answer = s.query(Millis(1), &args));
    assert_eq!(answer, Some(rsentinel_core::reply::Reply::NullArray));
    assert_eq!(n, 0, "a null reply needs no allocation");
}
