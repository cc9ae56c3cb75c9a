//! The policy runtime on real components: every hostile fixture gets its documented
//! outcome within its limits, upload-time validation names what is wrong, and the same
//! runtime keeps serving good policies afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::wasm::{core_module, example, fixture};
use rabat_domain::model::{Card, Order};
use rabat_sandbox::{CallInput, Failure, Limits, Rejection, Runtime, RuntimeConfig};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn seed_order() -> Order {
    let bill = common::wasm::data("bills/papaya-discount-request.json");
    rabat_domain::papaya::parse_discount_query(&bill)
        .unwrap()
        .order
}

fn gold() -> Card {
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    card.visits = 12;
    card
}

fn evaluate(
    runtime: &Runtime,
    wasm: &[u8],
    limits: &Limits,
) -> rabat_sandbox::CallReport<rabat_domain::model::Evaluation> {
    let policy = runtime.compile(wasm).unwrap();
    let order = seed_order();
    let card = gold();
    runtime.evaluate(
        &policy,
        CallInput {
            order: &order,
            card: Some(&card),
            config: r#"{"tiers":{"gold":10}}"#,
            offer: None,
            extras: None,
            limits,
        },
    )
}

/// A good policy still answers correctly in the same runtime.
fn still_serves(runtime: &Runtime) {
    let report = evaluate(runtime, &example("tier-discount"), &Limits::default());
    let evaluation = report.result.expect("the good policy answers");
    assert_eq!(evaluation.discounts.len(), 1);
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    let runtime = runtime();
    let limits = Limits::default();
    let report = evaluate(&runtime, &fixture("loop"), &limits);
    assert_eq!(report.result.unwrap_err(), Failure::OutOfFuel);
    assert!(
        report.fuel_used >= limits.fuel,
        "all fuel used: {}",
        report.fuel_used
    );
    still_serves(&runtime);
}

#[test]
fn endless_loop_with_fuel_to_spare_hits_the_deadline() {
    let runtime = runtime();
    let limits = Limits {
        fuel: u64::MAX / 2,
        deadline_ms: 30,
        ..Limits::default()
    };
    let report = evaluate(&runtime, &fixture("loop"), &limits);
    // Stopped by the deadline, not by the fuel (which would take minutes and say
    // out_of_fuel). No wall-clock bound is asserted: this machine is shared and noisy.
    assert_eq!(report.result.unwrap_err(), Failure::Timeout);
    still_serves(&runtime);
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let runtime = runtime();
    let limits = Limits::default();
    let report = evaluate(&runtime, &fixture("memory-bomb"), &limits);
    match report.result.unwrap_err() {
        Failure::MemoryLimit(message) => assert!(
            message.contains(&limits.memory_bytes.to_string()),
            "{message}"
        ),
        other => panic!("expected memory limit, got {other:?}"),
    }
    assert!(report.peak_memory_bytes <= limits.memory_bytes);
    still_serves(&runtime);
}

#[test]
fn deep_recursion_traps() {
    let runtime = runtime();
    let report = evaluate(&runtime, &fixture("deep-recursion"), &Limits::default());
    assert!(
        matches!(report.result, Err(Failure::Trap(_))),
        "{:?}",
        report.result
    );
    still_serves(&runtime);
}

#[test]
fn panic_is_a_trap_with_its_message() {
    let runtime = runtime();
    let report = evaluate(&runtime, &fixture("panic"), &Limits::default());
    match report.result.unwrap_err() {
        Failure::Trap(message) => assert!(message.contains("boom: card tier missing"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    still_serves(&runtime);
}

#[test]
fn huge_answer_is_invalid() {
    let runtime = runtime();
    // The size is under test, not the time: a loaded CI machine must not turn this into a
    // timeout.
    let limits = Limits {
        deadline_ms: 10_000,
        ..Limits::default()
    };
    let report = evaluate(&runtime, &fixture("huge-answer"), &limits);
    match report.result.unwrap_err() {
        Failure::InvalidAnswer(message) => {
            assert!(message.contains("10000 discounts"), "{message}")
        }
        other => panic!("expected an invalid answer, got {other:?}"),
    }
    still_serves(&runtime);
}

#[test]
fn policy_error_is_reported_with_its_message() {
    let runtime = runtime();
    let report = evaluate(&runtime, &fixture("policy-error"), &Limits::default());
    assert_eq!(
        report.result.unwrap_err(),
        Failure::PolicyError("config has no tiers".into())
    );
}

#[test]
fn forbidden_imports_are_rejected_by_name() {
    let runtime = runtime();
    for (name, import) in [
        ("wasi-fs", "wasi:filesystem/"),
        ("wasi-net", "wasi:sockets/"),
    ] {
        match runtime.compile(&fixture(name)).unwrap_err() {
            Rejection::ForbiddenImport(found) => {
                assert!(found.starts_with(import), "{name}: {found}")
            }
            other => panic!("{name}: expected a forbidden import, got {other:?}"),
        }
    }
    still_serves(&runtime);
}

#[test]
fn wasi_clock_is_frozen_at_the_order_time_and_random_is_seeded() {
    let runtime = runtime();
    let first = evaluate(&runtime, &fixture("wasi-clock"), &Limits::default());
    let message = first.result.unwrap().message.unwrap_or_default();
    let created = seed_order().created.unwrap();
    assert!(message.contains(&format!("now={created}")), "{message}");
    // The same order sees the same randomness: replays are deterministic.
    let second = evaluate(&runtime, &fixture("wasi-clock"), &Limits::default());
    assert_eq!(second.result.unwrap().message.unwrap_or_default(), message);
}

#[test]
fn wasi_stdio_goes_to_the_call_log() {
    let runtime = runtime();
    let report = evaluate(&runtime, &fixture("wasi-stdio"), &Limits::default());
    assert!(report.result.is_ok(), "{:?}", report.result);
    assert!(
        report
            .logs
            .iter()
            .any(|l| l.message.contains("hello from stdout")),
        "{:?}",
        report.logs
    );
}

#[test]
fn uploads_that_are_not_policies_are_rejected() {
    let runtime = runtime();
    assert_eq!(
        runtime.compile(b"just some text, not wasm").unwrap_err(),
        Rejection::NotWasm
    );
    assert_eq!(
        runtime.compile(&core_module("panic")).unwrap_err(),
        Rejection::CoreModule
    );
    match runtime.compile(&fixture("other-world")).unwrap_err() {
        Rejection::WrongWorld(why) => assert!(!why.is_empty()),
        other => panic!("expected wrong world, got {other:?}"),
    }
    let small = Runtime::new(RuntimeConfig {
        max_instances: 2,
        max_module_bytes: 1000,
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(matches!(
        small.compile(&example("tier-discount")).unwrap_err(),
        Rejection::TooLarge { limit: 1000, .. }
    ));
    // Something that is not WebAssembly at all is told so, whatever its size: the magic
    // bytes are read before the size is judged.
    assert_eq!(
        small.compile(&vec![b'x'; 5000]).unwrap_err(),
        Rejection::NotWasm
    );
    still_serves(&runtime);
}

#[test]
fn examples_are_small_and_import_only_the_host() {
    let runtime = runtime();
    for name in [
        "tier-discount",
        "category-discount",
        "welcome-coupon",
        "stamp-card",
        "happy-hour",
        "tier-category",
        "pay-with-points",
        "three-for-two",
        "tier-upgrade",
        "birthday-points",
    ] {
        let wasm = example(name);
        assert!(wasm.len() <= 64 * 1024, "{name} is {} bytes", wasm.len());
        let policy = runtime.compile(&wasm).unwrap();
        assert_eq!(policy.contract(), rabat_sandbox::Contract::V0_3, "{name}");
        assert!(
            !policy.info().uses_wasi,
            "{name} imports {:?}",
            policy.info().imports
        );
    }
}

#[test]
fn no_state_leaks_between_calls() {
    // Fresh instance per call: two calls see the same initial memory, so the same
    // answer and the same fuel.
    let runtime = runtime();
    let a = evaluate(&runtime, &example("tier-discount"), &Limits::default());
    let b = evaluate(&runtime, &example("tier-discount"), &Limits::default());
    assert_eq!(a.fuel_used, b.fuel_used);
    assert_eq!(a.result.unwrap(), b.result.unwrap());
}
