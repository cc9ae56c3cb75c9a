//! The host never copies more of a policy's answer or log messages than the limits allow,
//! however the policy lays them out in its memory: bytes the host allocates during a call
//! are counted on the calling thread by a global allocator of this test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)] // the counting allocator forwards to `System`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::wasm::{example, fixture};
use rabat_domain::model::{Card, Evaluation, Order};
use rabat_sandbox::{CallInput, CallReport, Failure, Limits, Runtime, RuntimeConfig};

/// Counts the bytes allocated on each thread (growth by `realloc` included).
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|n| n.set(n.get().saturating_add(bytes)));
}

// SAFETY: forwards to the system allocator; counting touches only a const thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// What a call may allocate on the host, whatever the policy answers: the store, the
/// instance, the context handed over, the capped log and answer.
const HOST_BYTES: usize = 4 << 20;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 4,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn order() -> Order {
    let bill = common::wasm::data("bills/papaya-discount-request.json");
    rabat_domain::papaya::parse_discount_query(&bill)
        .unwrap()
        .order
}

/// Evaluates `wasm` with `config`, returning the report and the bytes the call allocated.
fn evaluate(runtime: &Runtime, wasm: &[u8], config: &str) -> (CallReport<Evaluation>, usize) {
    let policy = runtime.compile(wasm).unwrap();
    let order = order();
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    // The sizes are under test, not the time: a loaded machine must not turn these into
    // timeouts or fuel exhaustion.
    let limits = Limits {
        deadline_ms: 60_000,
        fuel: 1_000_000_000,
        ..Limits::default()
    };
    let input = CallInput {
        order: &order,
        card: Some(&card),
        config,
        offer: None,
        extras: None,
        limits: &limits,
    };
    let before = ALLOCATED.get();
    let report = runtime.evaluate(&policy, input);
    let allocated = ALLOCATED.get() - before;
    (report, allocated)
}

#[test]
fn a_legitimate_call_allocates_little() {
    let runtime = runtime();
    let (report, allocated) = evaluate(
        &runtime,
        &example("tier-discount"),
        r#"{"tiers":{"gold":10}}"#,
    );
    assert_eq!(report.result.unwrap().discounts.len(), 1);
    assert!(allocated < HOST_BYTES, "{allocated} bytes allocated");
}

#[test]
fn an_answer_aliasing_one_string_many_times_is_not_copied() {
    let runtime = runtime();
    let wasm = fixture("aliased-answer");
    // 1 000 descriptions of 4 MiB each, all the same guest buffer: 4 GB if lifted whole.
    let (report, allocated) = evaluate(&runtime, &wasm, r#"{"entries":1000,"bytes":4194304}"#);
    match report.result.unwrap_err() {
        Failure::InvalidAnswer(message) => assert!(
            message.contains("1000 discounts") && message.contains("at most 64"),
            "{message}"
        ),
        other => panic!("expected an invalid answer, got {other:?}"),
    }
    assert!(allocated < HOST_BYTES, "{allocated} bytes allocated");

    // Within the count, the text limit stops the copying: 64 × 4 MiB = 256 MiB.
    let (report, allocated) = evaluate(&runtime, &wasm, r#"{"entries":64,"bytes":4194304}"#);
    let limit = Limits::default().output_bytes;
    match report.result.unwrap_err() {
        Failure::InvalidAnswer(message) => assert!(
            message.contains("in 64 discounts")
                && message.contains(&format!("the limit is {limit} bytes")),
            "{message}"
        ),
        other => panic!("expected an invalid answer, got {other:?}"),
    }
    assert!(allocated < HOST_BYTES, "{allocated} bytes allocated");

    // The same policy with a small answer is served.
    let (report, _) = evaluate(&runtime, &wasm, r#"{"entries":2,"bytes":10}"#);
    let evaluation = report.result.unwrap();
    assert_eq!(evaluation.discounts.len(), 2);
    assert_eq!(evaluation.discounts[1].description, "xxxxxxxxxx");
}

#[test]
fn a_huge_message_logged_many_times_is_not_copied() {
    let runtime = runtime();
    let limits = Limits::default();
    // 1 000 lines of 4 MiB: 4 GB if each message were lifted whole.
    let (report, allocated) = evaluate(
        &runtime,
        &fixture("log-flood"),
        r#"{"lines":1000,"bytes":4194304}"#,
    );
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert_eq!(report.logs.len(), limits.log_lines);
    assert_eq!(
        report.logs_dropped as usize,
        1000 - limits.log_lines,
        "lines past the cap are counted"
    );
    let kept = &report.logs[0].message;
    assert_eq!(kept.len(), limits.log_line_bytes + '…'.len_utf8());
    assert!(kept.ends_with('…'), "cut lines are marked");
    assert!(allocated < HOST_BYTES, "{allocated} bytes allocated");
}
