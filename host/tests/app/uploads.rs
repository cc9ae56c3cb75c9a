//! What a policy upload may cost the server, on SQLite and (when configured) PostgreSQL:
//! modules asking the compiler for too much are refused before compiling (422, id 11,
//! naming the limit), a merchant's stored policies are bounded (413, id 14), and compiles
//! beyond the server's bound wait, then get 503.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{Reply, TestApp, settings};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::{distinct, example};
use rabat::config::Settings;

app_on_both_engines!(
    modules_asking_too_much_of_the_compiler_are_refused,
    a_merchants_stored_policies_are_bounded,
    compiles_beyond_the_servers_bound_wait_then_get_503,
    concurrent_uploads_never_pass_the_quotas,
);

fn leb(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A component holding one core module with `bodies` (each a function body's bytes,
/// locals declaration included, without its size) of type `() -> ()`.
fn component(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module); // one type: () -> ()
    let mut functions = Vec::new();
    leb(bodies.len() as u64, &mut functions);
    functions.extend(std::iter::repeat_n(0u8, bodies.len()));
    section(3, &functions, &mut module);
    let mut code = Vec::new();
    leb(bodies.len() as u64, &mut code);
    for body in bodies {
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(body);
    }
    section(10, &code, &mut module);
    let mut out = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut out); // a core module section
    out
}

async fn upload(
    app: &TestApp,
    merchant: &crate::common::app::TestMerchant,
    wasm: Vec<u8>,
) -> Reply {
    app.call(
        "POST",
        &format!("/admin/v1/merchants/{}/policies", merchant.id),
        Some(&merchant.api_key),
        wasm,
    )
    .await
}

fn assert_error(reply: &Reply, status: u16, id: u64, words: &[&str]) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let message = reply.json["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
}

async fn app_with(app: &TestApp, change: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = settings();
    change(&mut settings);
    TestApp::with_settings(
        TestDb {
            store: app.db.reopen().await,
            target: Target::Shared,
        },
        settings,
    )
    .await
}

async fn modules_asking_too_much_of_the_compiler_are_refused(app: &TestApp) {
    let m = app.merchant("crafty").await;
    // One function declaring 6 000 locals (five bytes of module).
    let mut locals = Vec::new();
    leb(1, &mut locals);
    leb(6_000, &mut locals);
    locals.extend_from_slice(&[0x7f, 0x0b]); // i32; end
    let reply = upload(app, &m, component(&[locals])).await;
    assert_error(&reply, 422, 11, &["locals", "6000", "5000"]);
    // 20 001 empty functions.
    let reply = upload(app, &m, component(&vec![vec![0, 0x0b]; 20_001])).await;
    assert_error(&reply, 422, 11, &["functions", "20001", "20000"]);
    // One function of 300 KiB of `nop`.
    let mut huge = vec![0u8];
    huge.extend(std::iter::repeat_n(0x01u8, 300 << 10));
    huge.push(0x0b);
    let reply = upload(app, &m, component(&[huge])).await;
    assert_error(&reply, 422, 11, &["a function of (bytes)", "262144"]);
    // Within the limits, such a module reaches the compiler (and is no policy).
    let reply = upload(app, &m, component(&[vec![0, 0x0b]])).await;
    assert_error(&reply, 422, 11, &["not a rabat policy"]);
    // A real policy is well within every limit.
    let reply = upload(app, &m, example("tier-discount")).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

async fn a_merchants_stored_policies_are_bounded(app: &TestApp) {
    let wasm = example("tier-discount");
    let size = wasm.len() as u64;
    let bounded = app_with(app, |s| {
        s.uploads.max_policy_versions = 3;
        s.uploads.max_policy_bytes = size * 2 + size / 2;
    })
    .await;
    let m = bounded.merchant("hoarder").await;
    let store = bounded.state.store();
    store
        .add_policy(&m.id, &distinct(&wasm, 1), None, crate::common::app::audit)
        .await
        .unwrap();
    store
        .add_policy(&m.id, &distinct(&wasm, 2), None, crate::common::app::audit)
        .await
        .unwrap();
    // Two stored: a third would take more bytes than allowed.
    let reply = upload(&bounded, &m, wasm.clone()).await;
    assert_error(&reply, 413, 14, &["max-policy-bytes", "bytes"]);
    // Plenty of bytes, but the number of versions is at its bound.
    let counted = app_with(app, |s| s.uploads.max_policy_versions = 2).await;
    let reply = upload(&counted, &m, wasm.clone()).await;
    assert_error(
        &reply,
        413,
        14,
        &["2 policy versions", "max-policy-versions"],
    );
    // Another merchant has its own quota.
    let other = bounded.merchant("frugal").await;
    let reply = upload(&bounded, &other, wasm).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    counted.shutdown().await;
    bounded.shutdown().await;
}

async fn compiles_beyond_the_servers_bound_wait_then_get_503(app: &TestApp) {
    let busy = app_with(app, |s| {
        s.uploads.max_concurrent_compiles = 1;
        s.uploads.compile_queue = std::time::Duration::from_millis(1);
    })
    .await;
    let m = busy.merchant("eager").await;
    let wasm = example("tier-discount");
    let (a, b, c) = futures::join!(
        upload(&busy, &m, distinct(&wasm, 1)),
        upload(&busy, &m, distinct(&wasm, 2)),
        upload(&busy, &m, distinct(&wasm, 3)),
    );
    let statuses: Vec<u16> = [&a, &b, &c].iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.contains(&201), "{statuses:?}");
    let refused = [&a, &b, &c]
        .into_iter()
        .find(|r| r.status.as_u16() == 503)
        .unwrap_or_else(|| panic!("no upload waited and got 503: {statuses:?}"));
    assert_error(
        refused,
        503,
        503,
        &["compiling other policies", "upload again"],
    );
    // Once the compile is done, the next upload goes through.
    let reply = upload(&busy, &m, distinct(&wasm, 4)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    busy.shutdown().await;
}

/// Sets one quota for a module of the given size.
type SetLimit = fn(&mut Settings, u64);

/// Issue 21, item 13: eight uploads at once all pass the check made before compiling (it
/// sees nothing stored yet); the quota is checked again inside each write's transaction,
/// under the merchant's lock, so exactly as many versions are stored as it allows — for
/// the number of versions and for the bytes — and the rest are refused with 413, id 14.
async fn concurrent_uploads_never_pass_the_quotas(app: &TestApp) {
    let wasm = example("tier-discount");
    let size = wasm.len() as u64;
    let cases: [(&str, SetLimit, &str); 2] = [
        (
            "versions",
            |s, _| s.uploads.max_policy_versions = 2,
            "max-policy-versions",
        ),
        (
            "bytes",
            |s, size| s.uploads.max_policy_bytes = size * 2 + size / 2,
            "max-policy-bytes",
        ),
    ];
    for (name, limit, setting) in cases {
        let bounded = app_with(app, |s| {
            limit(s, size);
            s.uploads.max_concurrent_compiles = 8;
        })
        .await;
        let m = bounded.merchant(name).await;
        let replies =
            futures::future::join_all((0..8).map(|i| upload(&bounded, &m, distinct(&wasm, i))))
                .await;
        let created = replies.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 2, "{name}: {replies:?}");
        for reply in replies.iter().filter(|r| r.status != 201) {
            assert_error(reply, 413, 14, &[setting]);
        }
        let stored = bounded.state.store().list_policies(&m.id).await.unwrap();
        assert_eq!(stored.len(), 2, "{name}: {stored:?}");
        bounded.shutdown().await;
    }
}
