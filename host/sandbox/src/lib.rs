//! The policy runtime: one wasmtime engine, policies compiled and validated once, and a
//! fresh sandboxed instance (pooling allocator, fuel, epoch deadline, memory limiter) for
//! every call, so nothing leaks from one customer to the next.

pub mod bindings;
pub mod build;
pub mod contract;
pub mod decide;
pub mod input;
pub mod lift;
pub mod limits;
pub mod sandbox;
pub mod validate;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, Instance, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

pub use limits::Limits;
use limits::{MemoryLimitExceeded, TableLimitExceeded};
use rabat_domain::coupon::CardExtras;
use rabat_domain::model::{Accrual, Card, Evaluation, Offer, Order};
use sandbox::{CallState, HostState, LogLine, WasiState};
pub use validate::{ModuleLimits, Rejection};

/// How the engine is set up; fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Largest module accepted at upload.
    pub max_module_bytes: usize,
    /// Policy instances alive at once (pool slots); a call past this fails safe.
    pub max_instances: u32,
    /// The largest memory any merchant's limits may allow.
    pub max_memory_bytes: usize,
    /// The largest table any merchant's limits may allow.
    pub max_table_elements: usize,
    /// Bytes of each pooled memory (and table) kept mapped and zeroed by `memset` between
    /// calls rather than returned to the kernel: cheaper for the small memories policies
    /// touch (see BENCHMARKS.md).
    pub keep_resident_bytes: usize,
    /// The same for each pooled table. A policy's table (its indirect-call targets) is a
    /// few hundred elements: within one page it is reset by `memset` alone, where a larger
    /// setting costs a `PAGEMAP_SCAN` system call per call to find that one page dirty.
    pub table_keep_resident_bytes: usize,
    /// Fill a table's function references on first use (wasmtime's default) rather than
    /// when the instance is made; eager filling measured slower (BENCHMARKS.md). Part of
    /// the compiled code: changing it changes [`Runtime::engine_key`].
    pub table_lazy_init: bool,
    /// Granularity of the wall-clock deadline.
    pub epoch_tick: Duration,
    /// Reset pooled memories with Linux's `PAGEMAP_SCAN` (only the pages a call dirtied)
    /// where the kernel has it; elsewhere wasmtime falls back to resetting the kept-resident
    /// bytes. On by default: −28 % on the empty floor and −16 % on a 3-item evaluation,
    /// measured on a quiet machine (BENCHMARKS.md).
    pub pagemap_scan: bool,
    /// Map a module's initial memory copy-on-write from its image rather than copying it.
    pub memory_init_cow: bool,
    /// What an upload may ask the compiler for (checked before compiling).
    pub module_limits: ModuleLimits,
    /// Write `/tmp/perf-PID.map` so `perf` names the policies' compiled functions (for
    /// profiling the benchmarks; off by default).
    pub perf_map: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_module_bytes: 4 << 20,
            max_instances: 128,
            max_memory_bytes: 64 << 20,
            max_table_elements: 20_000,
            keep_resident_bytes: 256 << 10,
            table_keep_resident_bytes: 4 << 10,
            table_lazy_init: true,
            epoch_tick: Duration::from_millis(1),
            pagemap_scan: true,
            memory_init_cow: true,
            module_limits: ModuleLimits::default(),
            perf_map: false,
        }
    }
}

/// Why a call gave no usable answer. None of these ever blocks a till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Failure {
    #[error("the policy returned an error: {0}")]
    PolicyError(String),
    #[error("the policy ran out of fuel (instruction budget)")]
    OutOfFuel,
    #[error("the policy ran past its deadline")]
    Timeout,
    #[error("the policy hit its memory limit: {0}")]
    MemoryLimit(String),
    #[error("the policy trapped: {0}")]
    Trap(String),
    #[error("the policy's answer is invalid: {0}")]
    InvalidAnswer(String),
    #[error("the policy could not be run: {0}")]
    Unavailable(String),
}

impl Failure {
    /// The outcome's name in logs, metrics and the evaluation log.
    pub fn outcome(&self) -> &'static str {
        match self {
            Failure::PolicyError(_) => "policy_error",
            Failure::OutOfFuel => "out_of_fuel",
            Failure::Timeout => "timeout",
            Failure::MemoryLimit(_) => "memory_limit",
            Failure::Trap(_) => "trap",
            Failure::InvalidAnswer(_) => "invalid_answer",
            Failure::Unavailable(_) => "unavailable",
        }
    }
}

/// What one call did, whatever its outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReport<T> {
    #[serde(skip)]
    pub result: Result<T, Failure>,
    pub fuel_used: u64,
    pub peak_memory_bytes: usize,
    #[serde(serialize_with = "serialize_micros", rename = "durationMicros")]
    pub duration: Duration,
    pub logs: Vec<LogLine>,
    pub logs_dropped: u32,
}

fn serialize_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The input of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallInput<'a> {
    pub order: &'a Order,
    pub card: Option<&'a Card>,
    /// The merchant's config, a JSON object as text.
    pub config: &'a str,
    /// For `accrue`: the till's last offer for this order (contract 0.2 and 0.3 policies
    /// see it; 0.1 policies do not).
    pub offer: Option<&'a Offer>,
    /// What a contract-0.3 policy sees of the card beyond `card`: available points,
    /// wallet, profile. `None`: the card's balance is available, the wallet and the
    /// profile are empty. Ignored without a card, and by 0.1 and 0.2 policies.
    pub extras: Option<&'a CardExtras>,
    pub limits: &'a Limits,
}

#[derive(Clone)]
enum Pre {
    Plain(InstancePre<CallState<()>>),
    Wasi(InstancePre<CallState<WasiState>>),
}

/// Which version of the policy contract a component was built for. Both run; each call
/// goes the way of its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Contract {
    /// `rabat:rules@0.1.0` (`wit/v0_1/rules.wit`): the input as WIT records.
    #[serde(rename = "rabat:rules@0.1.0")]
    V0_1,
    /// `rabat:rules@0.2.0` (`wit/v0_2/rules.wit`): the input as one buffer (`rabat-wire`).
    #[serde(rename = "rabat:rules@0.2.0")]
    V0_2,
    /// `rabat:rules@0.3.0` (`wit/rules.wit`): 0.2 plus the card's available points,
    /// wallet and profile in the same buffer, coupons in the answers.
    #[serde(rename = "rabat:rules@0.3.0")]
    V0_3,
}

impl Contract {
    /// The contract's package name and version, e.g. `rabat:rules@0.2.0`.
    pub fn name(self) -> &'static str {
        match self {
            Contract::V0_1 => "rabat:rules@0.1.0",
            Contract::V0_2 => "rabat:rules@0.2.0",
            Contract::V0_3 => "rabat:rules@0.3.0",
        }
    }

    /// Whether a policy of this contract sees the till's offer in `accrue`, may cost and
    /// redeem points and may change the card (0.2 and later).
    pub fn sees_offers(self) -> bool {
        match self {
            Contract::V0_1 => false,
            Contract::V0_2 | Contract::V0_3 => true,
        }
    }

    /// Whether a policy of this contract sees the card's wallet and profile and may redeem
    /// and issue coupons (0.3 and later).
    pub fn sees_coupons(self) -> bool {
        matches!(self, Contract::V0_3)
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated, compiled policy, ready to be instantiated cheaply. Cloning is cheap.
#[derive(Clone)]
pub struct CompiledPolicy {
    pre: Pre,
    exports: Exports,
    component: Component,
    info: Arc<PolicyInfo>,
}

/// Where the policy's exports are, looked up once at compile time.
#[derive(Clone, Copy)]
struct Exports {
    evaluate: ComponentExportIndex,
    accrue: ComponentExportIndex,
}

/// What validation learned about a module.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    pub sha256: String,
    pub size_bytes: usize,
    pub imports: Vec<String>,
    pub uses_wasi: bool,
    /// The contract the component was built for.
    pub contract: Contract,
    /// Compiling it (or, when loaded from the compiled cache, deserializing it).
    #[serde(serialize_with = "serialize_micros", rename = "compileMicros")]
    pub compile_time: Duration,
}

impl CompiledPolicy {
    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }

    /// The contract the component was built for (what `rabat check` prints).
    pub fn contract(&self) -> Contract {
        self.info.contract
    }

    /// The native artifact, for [`Runtime::load_compiled`] in this or another process
    /// whose [`Runtime::engine_key`] is the same.
    pub fn serialize(&self) -> Result<Vec<u8>, wasmtime::Error> {
        self.component.serialize()
    }
}

impl std::fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field("info", &self.info)
            .finish()
    }
}

/// The engine and what every call shares.
pub struct Runtime {
    engine: Engine,
    plain: Linker<CallState<()>>,
    wasi: Linker<CallState<WasiState>>,
    config: RuntimeConfig,
    engine_key: String,
    ticker_stop: Arc<AtomicBool>,
}

/// Why a serialized artifact could not be used. The caller compiles instead.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("the compiled artifact does not load: {0}")]
    Deserialize(String),
    #[error("the compiled artifact loads but is not an acceptable policy: {0}")]
    Rejected(#[from] Rejection),
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        // Every component slot comes with what one call may use at most (see `limits`), so
        // as long as callers stay within `max_instances` calls at once (the host's
        // admission does), no call fails for want of a slot.
        let mut pool = PoolingAllocationConfig::default();
        let per_call = |n: u32| config.max_instances.saturating_mul(n);
        pool.total_component_instances(config.max_instances)
            .total_core_instances(per_call(limits::CORE_INSTANCES_PER_CALL))
            .total_memories(per_call(limits::MEMORIES_PER_CALL))
            .total_tables(per_call(limits::TABLES_PER_CALL))
            .total_stacks(0)
            .max_memory_size(config.max_memory_bytes)
            .table_elements(config.max_table_elements)
            .linear_memory_keep_resident(config.keep_resident_bytes)
            .table_keep_resident(config.table_keep_resident_bytes);
        let auto = |on: bool| {
            if on {
                wasmtime::Enabled::Auto
            } else {
                wasmtime::Enabled::No
            }
        };
        // Memory protection keys are not tried: the benchmark machine's CPU has no `pku`
        // (see BENCHMARKS.md), and wasmtime's support is behind a feature.
        pool.pagemap_scan(auto(config.pagemap_scan));

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 << 10)
            .table_lazy_init(config.table_lazy_init)
            .memory_init_cow(config.memory_init_cow)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if config.perf_map {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&wasm)?;
        let engine_key = engine_key(&engine);

        let mut plain = Linker::new(&engine);
        lift::add_host_to_linker(&mut plain)?;
        let mut wasi = Linker::new(&engine);
        lift::add_host_to_linker(&mut wasi)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut wasi)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), config.epoch_tick, ticker_stop.clone())?;

        Ok(Runtime {
            engine,
            plain,
            wasi,
            config,
            engine_key,
            ticker_stop,
        })
    }

    /// Names everything a compiled artifact depends on (wasmtime version, target, engine
    /// settings): artifacts are only shared between engines with the same key.
    pub fn engine_key(&self) -> &str {
        &self.engine_key
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Validates and compiles a module: what an upload (and `rabat check`) does.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledPolicy, Rejection> {
        let started = Instant::now();
        // What a file is comes first: a large PDF is "not WebAssembly", not "too large".
        validate::kind(bytes)?;
        if bytes.len() > self.config.max_module_bytes {
            return Err(Rejection::TooLarge {
                size: bytes.len(),
                limit: self.config.max_module_bytes,
            });
        }
        validate::bounds(bytes, &self.config.module_limits)?;
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| Rejection::Invalid(format!("{e:#}")))?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        self.prepare(component, sha256, bytes.len(), started)
    }

    /// See [`CompiledPolicy::serialize`].
    pub fn serialize(&self, policy: &CompiledPolicy) -> Result<Vec<u8>, wasmtime::Error> {
        policy.serialize()
    }

    /// A policy from an artifact [`CompiledPolicy::serialize`] wrote, validated like an upload.
    /// `module_sha256` and `size_bytes` describe the module it was compiled from.
    pub fn load_compiled(
        &self,
        artifact: &[u8],
        module_sha256: &str,
        size_bytes: usize,
    ) -> Result<CompiledPolicy, ArtifactError> {
        let started = Instant::now();
        let component = self.deserialize(artifact)?;
        Ok(self.prepare(component, module_sha256.to_owned(), size_bytes, started)?)
    }

    /// One of rabat's two `unsafe` spots (the other is `lift`'s `Lift` impls).
    #[allow(unsafe_code)]
    fn deserialize(&self, artifact: &[u8]) -> Result<Component, ArtifactError> {
        // SAFETY: wasmtime runs the bytes as native code without verifying them, so they
        // must come from `Component::serialize`. They do: artifacts are only ever written
        // by `CompiledPolicy::serialize` into rabat's own database (the `compiled_policies`
        // table, as trusted as the binary and the rest of the data: no API writes it),
        // keyed by this engine's compatibility key, and the store hands them out only
        // when they match the SHA-256 stored with them, so a damaged or truncated row
        // never gets here. wasmtime itself rejects (with an error, not UB) an artifact
        // from another wasmtime version or engine configuration.
        unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|e| ArtifactError::Deserialize(format!("{e:#}")))
    }

    /// Checks a compiled component's imports and world and pre-instantiates it.
    fn prepare(
        &self,
        component: Component,
        sha256: String,
        size_bytes: usize,
        started: Instant,
    ) -> Result<CompiledPolicy, Rejection> {
        let mut imports = Vec::new();
        for (name, _) in component.component_type().imports(&self.engine) {
            validate::check_import(name)?;
            imports.push(name.to_owned());
        }
        let uses_wasi = imports.iter().any(|name| validate::uses_wasi(name));
        let contract = contract_of(&self.engine, &component, &imports)?;
        let wrong_world = |e: wasmtime::Error| Rejection::WrongWorld(format!("{e:#}"));
        // The bindings' `PolicyPre` checks the exports' types against the contract.
        let pre = if uses_wasi {
            let pre = self.wasi.instantiate_pre(&component).map_err(wrong_world)?;
            check_world(&pre, contract).map_err(wrong_world)?;
            Pre::Wasi(pre)
        } else {
            let pre = self
                .plain
                .instantiate_pre(&component)
                .map_err(wrong_world)?;
            check_world(&pre, contract).map_err(wrong_world)?;
            Pre::Plain(pre)
        };
        let export = |name: &str| {
            component
                .get_export_index(None, name)
                .ok_or_else(|| Rejection::WrongWorld(format!("the component exports no `{name}`")))
        };
        let exports = Exports {
            evaluate: export("evaluate")?,
            accrue: export("accrue")?,
        };
        Ok(CompiledPolicy {
            pre,
            exports,
            component,
            info: Arc::new(PolicyInfo {
                sha256,
                size_bytes,
                imports,
                uses_wasi,
                contract,
                compile_time: started.elapsed(),
            }),
        })
    }

    /// Asks the policy for the discounts on an open bill.
    pub fn evaluate(
        &self,
        policy: &CompiledPolicy,
        input: CallInput<'_>,
    ) -> CallReport<Evaluation> {
        let output_limit = input.limits.output_bytes;
        match policy.contract() {
            Contract::V0_1 => {
                let call = EvaluateCall {
                    ctx: bindings::context_to_wit(input.order, input.card, input.config),
                    output_limit,
                };
                self.call(policy, input, call)
            }
            Contract::V0_2 => match encode_input(&input, None) {
                Ok(buffer) => self.call(
                    policy,
                    input,
                    CallV2 {
                        buffer,
                        output_limit,
                        export: |exports| exports.evaluate,
                        answer: lift::evaluation_v2,
                    },
                ),
                Err(failure) => not_run(failure),
            },
            Contract::V0_3 => match encode_input(&input, None) {
                Ok(buffer) => self.call(
                    policy,
                    input,
                    CallV2 {
                        buffer,
                        output_limit,
                        export: |exports| exports.evaluate,
                        answer: lift::evaluation_v3,
                    },
                ),
                Err(failure) => not_run(failure),
            },
        }
    }

    /// Asks the policy for the points earned by a completed bill (and, on contracts 0.2
    /// and 0.3, the points (0.3: and coupons) to redeem and the card's changes; `input.offer` is the till's last
    /// offer for the order).
    pub fn accrue(&self, policy: &CompiledPolicy, input: CallInput<'_>) -> CallReport<Accrual> {
        let output_limit = input.limits.output_bytes;
        match policy.contract() {
            Contract::V0_1 => {
                let call = AccrueCall {
                    ctx: bindings::context_to_wit(input.order, input.card, input.config),
                    output_limit,
                };
                self.call(policy, input, call)
            }
            Contract::V0_2 => match encode_input(&input, input.offer) {
                Ok(buffer) => self.call(
                    policy,
                    input,
                    CallV2 {
                        buffer,
                        output_limit,
                        export: |exports| exports.accrue,
                        answer: lift::accrual_v2,
                    },
                ),
                Err(failure) => not_run(failure),
            },
            Contract::V0_3 => match encode_input(&input, input.offer) {
                Ok(buffer) => self.call(
                    policy,
                    input,
                    CallV2 {
                        buffer,
                        output_limit,
                        export: |exports| exports.accrue,
                        answer: lift::accrual_v3,
                    },
                ),
                Err(failure) => not_run(failure),
            },
        }
    }

    fn call<C: Call>(
        &self,
        policy: &CompiledPolicy,
        input: CallInput<'_>,
        call: C,
    ) -> CallReport<C::Output> {
        match &policy.pre {
            Pre::Plain(pre) => self.call_in(pre, policy.exports, (), input.limits, |_| {}, call),
            Pre::Wasi(pre) => {
                let wasi = WasiState::new(
                    input.order.created.unwrap_or(0),
                    seed(&input.order.order_id),
                );
                let drain = |state: &mut CallState<WasiState>| {
                    state.wasi.drain_stdio_into(&mut state.host.log)
                };
                self.call_in(pre, policy.exports, wasi, input.limits, drain, call)
            }
        }
    }

    fn call_in<W: Send + 'static, C: Call>(
        &self,
        pre: &InstancePre<CallState<W>>,
        exports: Exports,
        wasi: W,
        limits: &Limits,
        after: impl FnOnce(&mut CallState<W>),
        call: C,
    ) -> CallReport<C::Output> {
        let mut store = Store::new(
            &self.engine,
            CallState {
                host: HostState::new(limits),
                wasi,
            },
        );
        store.limiter(|s| &mut s.host.limiter);
        let tick_ms = u64::try_from(self.config.epoch_tick.as_millis())
            .unwrap_or(1)
            .max(1);
        store.set_epoch_deadline(limits.deadline_ms.div_ceil(tick_ms).max(1));
        let started = Instant::now();
        let caps = lift::Caps::enter(limits);
        let outcome = store.set_fuel(limits.fuel).and_then(|()| {
            let instance = pre.instantiate(&mut store)?;
            call.run(&instance, exports, &mut store)
        });
        drop(caps);
        let duration = started.elapsed();
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let mut state = store.into_data();
        after(&mut state);
        let result = match outcome {
            Ok(answer) => answer,
            Err(error) => Err(classify(&error, state.host.panic.take())),
        };
        CallReport {
            result,
            fuel_used,
            peak_memory_bytes: state.host.limiter.peak_memory,
            duration,
            logs: state.host.log.lines,
            logs_dropped: state.host.log.dropped,
        }
    }
}

/// One export call, generic over the store's state type.
trait Call {
    type Output;
    fn run<T: 'static>(
        self,
        instance: &Instance,
        exports: Exports,
        store: &mut Store<T>,
    ) -> wasmtime::Result<Result<Self::Output, Failure>>;
}

type Context = bindings::rabat::rules::types::Context;

struct EvaluateCall {
    ctx: Context,
    output_limit: usize,
}

impl Call for EvaluateCall {
    type Output = Evaluation;

    fn run<T: 'static>(
        self,
        instance: &Instance,
        exports: Exports,
        store: &mut Store<T>,
    ) -> wasmtime::Result<Result<Evaluation, Failure>> {
        // The answer's texts are copied only up to the limits while it is lifted (see
        // `lift`), so a hostile answer cannot make the host allocate more.
        let func = instance
            .get_typed_func::<(&Context,), lift::EvaluateResult>(&mut *store, exports.evaluate)?;
        let (answer,) = func.call(&mut *store, (&self.ctx,))?;
        Ok(match answer {
            Ok(eval) => lift::evaluation(eval, self.output_limit),
            Err(error) => Err(lift::policy_error(error, self.output_limit)),
        })
    }
}

struct AccrueCall {
    ctx: Context,
    output_limit: usize,
}

impl Call for AccrueCall {
    type Output = Accrual;

    fn run<T: 'static>(
        self,
        instance: &Instance,
        exports: Exports,
        store: &mut Store<T>,
    ) -> wasmtime::Result<Result<Accrual, Failure>> {
        let func = instance
            .get_typed_func::<(&Context,), lift::AccrueResult>(&mut *store, exports.accrue)?;
        let (answer,) = func.call(&mut *store, (&self.ctx,))?;
        Ok(match answer {
            Ok(accrual) => Ok(lift::accrual(accrual, self.output_limit)),
            Err(error) => Err(lift::policy_error(error, self.output_limit)),
        })
    }
}

/// A 0.2 call: the input is one `list<u8>` (one copy into the guest), the answer is read
/// within the limits (see `lift`). `evaluate` and `accrue` differ only in the export, the
/// answer's type and how that becomes the host's.
struct CallV2<A, O> {
    buffer: Vec<u8>,
    output_limit: usize,
    export: fn(&Exports) -> ComponentExportIndex,
    answer: fn(A, usize) -> Result<O, Failure>,
}

impl<A, O> Call for CallV2<A, O>
where
    A: wasmtime::component::ComponentType + wasmtime::component::Lift + Send + Sync + 'static,
{
    type Output = O;

    fn run<T: 'static>(
        self,
        instance: &Instance,
        exports: Exports,
        store: &mut Store<T>,
    ) -> wasmtime::Result<Result<O, Failure>> {
        let func = instance.get_typed_func::<(&[u8],), (Result<A, lift::AnswerText>,)>(
            &mut *store,
            (self.export)(&exports),
        )?;
        let (answer,) = func.call(&mut *store, (self.buffer.as_slice(),))?;
        Ok(match answer {
            Ok(value) => (self.answer)(value, self.output_limit),
            Err(error) => Err(lift::policy_error(error, self.output_limit)),
        })
    }
}

/// The input buffer of a 0.2 or 0.3 call (one layout for both; `offer` only for
/// `accrue`).
fn encode_input(input: &CallInput<'_>, offer: Option<&Offer>) -> Result<Vec<u8>, Failure> {
    input::encode(input.order, input.card, input.extras, input.config, offer)
        .map_err(|e| Failure::Unavailable(format!("the policy's input could not be written: {e}")))
}

/// The report of a call that never started.
fn not_run<T>(failure: Failure) -> CallReport<T> {
    CallReport {
        result: Err(failure),
        fuel_used: 0,
        peak_memory_bytes: 0,
        duration: Duration::ZERO,
        logs: Vec::new(),
        logs_dropped: 0,
    }
}

/// Tells which contract a component was built for: by the version of the `rabat:rules`
/// interfaces it imports, or, when it imports none (a policy that never logs), by
/// `evaluate`'s parameter (0.1: a `context` record; else one `list<u8>`) and, for a
/// `list<u8>`, by its answer's `discount` record (0.3: it has a `coupon` field; 0.2: not).
fn contract_of(
    engine: &Engine,
    component: &Component,
    imports: &[String],
) -> Result<Contract, Rejection> {
    let imported = |version: &str| {
        imports
            .iter()
            .any(|name| name.starts_with("rabat:rules/") && name.ends_with(version))
    };
    let found: Vec<Contract> = [Contract::V0_1, Contract::V0_2, Contract::V0_3]
        .into_iter()
        .filter(|c| imported(&c.name()["rabat:rules".len()..]))
        .collect();
    match found.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        several => {
            let names: Vec<&str> = several.iter().map(|c| c.name()).collect();
            return Err(Rejection::WrongWorld(format!(
                "it imports the interfaces of several contracts: {}",
                names.join(", ")
            )));
        }
    }
    let ty = component.component_type();
    let Some(evaluate) = ty.get_export(engine, "evaluate") else {
        return Err(Rejection::WrongWorld(
            "the component exports no `evaluate`".into(),
        ));
    };
    let ComponentItem::ComponentFunc(func) = evaluate.ty else {
        return Err(Rejection::WrongWorld(
            "the component's `evaluate` is not a function".into(),
        ));
    };
    match func.params().next().map(|(_, ty)| ty) {
        Some(wasmtime::component::types::Type::List(_)) => {
            Ok(if answers_coupons(func.results().next()) {
                Contract::V0_3
            } else {
                Contract::V0_2
            })
        }
        Some(wasmtime::component::types::Type::Record(_)) => Ok(Contract::V0_1),
        _ => Err(Rejection::WrongWorld(
            "its `evaluate` takes neither a `list<u8>` (0.2) nor a `context` (0.1)".into(),
        )),
    }
}

/// Whether `evaluate`'s answer type (`result<evaluation, string>`) has discounts with a
/// `coupon` field: contract 0.3's, where 0.2's have none.
fn answers_coupons(answer: Option<wasmtime::component::types::Type>) -> bool {
    use wasmtime::component::types::Type;
    let Some(Type::Result(result)) = answer else {
        return false;
    };
    let Some(Type::Record(evaluation)) = result.ok() else {
        return false;
    };
    let Some(Type::List(discounts)) = evaluation
        .fields()
        .find(|f| f.name == "discounts")
        .map(|f| f.ty)
    else {
        return false;
    };
    let Type::Record(discount) = discounts.ty() else {
        return false;
    };
    discount.fields().any(|f| f.name == "coupon")
}

/// Checks the component's exports against its contract's world (the generated bindings'
/// own check).
fn check_world<T: 'static>(pre: &InstancePre<T>, contract: Contract) -> wasmtime::Result<()> {
    match contract {
        Contract::V0_1 => bindings::PolicyPre::new(pre.clone()).map(drop),
        Contract::V0_2 => bindings::v0_2::PolicyPre::new(pre.clone()).map(drop),
        Contract::V0_3 => bindings::v0_3::PolicyPre::new(pre.clone()).map(drop),
    }
}

/// Names what went wrong in a call that did not return.
fn classify(error: &wasmtime::Error, panic: Option<String>) -> Failure {
    if let Some(limit) = error.downcast_ref::<MemoryLimitExceeded>() {
        return Failure::MemoryLimit(limit.to_string());
    }
    if let Some(limit) = error.downcast_ref::<TableLimitExceeded>() {
        return Failure::MemoryLimit(limit.to_string());
    }
    if let Some(message) = panic {
        return Failure::Trap(format!("panicked: {message}"));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Failure::OutOfFuel,
        Some(Trap::Interrupt) => Failure::Timeout,
        Some(Trap::StackOverflow) => {
            Failure::Trap("call stack exhausted (runaway recursion?)".into())
        }
        Some(Trap::MemoryOutOfBounds) => Failure::Trap(
            "out of bounds memory access (a stack overflow in the policy looks like this too)"
                .into(),
        ),
        Some(trap) => Failure::Trap(
            trap.to_string()
                .trim_start_matches("wasm trap: ")
                .to_owned(),
        ),
        None => Failure::Unavailable(format!("{error:#}")),
    }
}

/// The engine's compatibility hash as stable text: wasmtime feeds it to a `Hasher`, and a
/// SHA-256 one gives the same key in every process (std's hashers promise no stability).
fn engine_key(engine: &Engine) -> String {
    struct ShaHasher(Sha256);
    impl std::hash::Hasher for ShaHasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            // Unused: the key is the full digest, taken below.
            0
        }
    }
    let mut hasher = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(hasher.0.finalize())
}

/// A stable seed from the order id (FNV-1a), so a replay sees the same randomness.
fn seed(order_id: &str) -> u64 {
    order_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn spawn_epoch_ticker(
    engine: Engine,
    tick: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("rabat-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
}
