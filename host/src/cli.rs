//! The `rabat` command line: the server, the local runner, the checker and the builder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::SettingsArgs;
use crate::decide::Decision;
use crate::model::{Card, Offer};
use crate::policy::build::{BuildOptions, Target, build_policy};
use crate::policy::sandbox::{LogLevel, LogLine};
use crate::policy::{
    CallInput, CompiledPolicy, Failure, Limits, Rejection, Runtime, RuntimeConfig,
};

#[path = "scaffold/mod.rs"]
pub mod scaffold;

#[derive(Debug, Parser)]
#[command(
    name = "rabat",
    version,
    about = "A loyalty rules engine for point-of-sale systems"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of the settings variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server
    Serve {
        #[command(flatten)]
        settings: SettingsArgs,
        /// Create (if absent) a demo merchant, cards, a POS token and the example policy,
        /// and print curl lines to try
        #[arg(long)]
        demo: bool,
    },
    /// Run a policy locally on a bill, exactly as the server would
    Run(RunArgs),
    /// Say what an upload of this module would say
    Check {
        /// The policy component (.wasm)
        policy: PathBuf,
    },
    /// Create a policy crate to start from: a policy with unit tests, its config, a
    /// sample bill and card, a README (added to the enclosing workspace, if any)
    New {
        /// The new crate's directory, e.g. `my-policy` (must not exist)
        path: PathBuf,
        /// The package name; default: the directory's name
        #[arg(long)]
        name: Option<String>,
        /// The rabat-rules SDK (its `rules-guest` directory) to depend on, outside a
        /// rabat workspace; default: the one this rabat was built from
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a policy crate into a component ready to upload (honours CARGO_TARGET_DIR)
    Build {
        /// The policy crate's directory
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The Rust target to build for
        #[arg(long, value_enum, default_value_t = Target::default())]
        target: Target,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The policy component (.wasm), as built by `rabat build`
    #[arg(long)]
    pub policy: PathBuf,
    /// The bill: a Papaya POS endpoint-1 request body (JSON)
    #[arg(long)]
    pub order: PathBuf,
    /// The loyalty card (JSON: cardId, tier, tags, points, visits, …; for a contract-0.3
    /// policy also availablePoints, wallet and profile); default: a new card with the
    /// bill's cardId
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// The merchant's policy config (a JSON object); default `{}`
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run `accrue` (points for the bill once completed) instead of `evaluate`; the bill
    /// may then be a Papaya endpoint-2 body (`"event": "order.completed"`) too
    #[arg(long)]
    pub accrue: bool,
    /// With `--accrue`: the till's last offer for the bill (JSON, as the host passes it to
    /// `accrue`; `--save-offer` writes one), so a redemption can be tried locally
    #[arg(long, requires = "accrue", value_name = "FILE")]
    pub offer: Option<PathBuf>,
    /// Write the offer this evaluation makes (JSON, what the host would hold and later
    /// pass to `accrue`) to FILE, for `rabat run --accrue --offer FILE`
    #[arg(long, conflicts_with = "accrue", value_name = "FILE")]
    pub save_offer: Option<PathBuf>,
    /// Fuel (instructions) for the call
    #[arg(long, default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Deadline for the call, in milliseconds
    #[arg(long, default_value_t = Limits::default().deadline_ms)]
    pub deadline_ms: u64,
    /// Print one JSON object (for tools) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        // A command's output piped into `head` and closed: end quietly, as `cargo` and
        // `ls` do, instead of panicking in `println!` ("failed printing to stdout: Broken
        // pipe"). The server keeps ignoring SIGPIPE: a client that hangs up is an error on
        // that connection, not the end of the process.
        sigpipe::reset();
    }
    let result = match cli.command {
        Command::Serve { settings, demo } => serve(&settings, demo),
        Command::Run(args) => run(&args),
        Command::Check { policy } => check(&policy),
        Command::New { path, name, sdk } => new(scaffold::NewOptions { path, name, sdk }),
        Command::Build { dir, target } => build(&dir, target),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &SettingsArgs, demo: bool) -> anyhow::Result<ExitCode> {
    let settings = args.resolve()?;
    crate::logging::init();
    for flag in crate::config::secrets_on_the_command_line() {
        tracing::warn!(
            "{flag} was given on the command line, where every user of this machine can read it (ps): use the RABAT_… environment variable or a --…-file flag instead"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(crate::server::serve(settings, demo, crate::http::app))?;
    Ok(ExitCode::SUCCESS)
}

fn load_policy(runtime: &Runtime, path: &Path) -> anyhow::Result<CompiledPolicy> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("could not read the policy {}", path.display()))?;
    // What the file is comes before how big it is: a 5 MB JPEG is "not WebAssembly".
    let result = if bytes.starts_with(b"\0asm") {
        runtime.compile(&bytes)
    } else {
        Err(Rejection::NotWasm)
    };
    result.with_context(|| format!("{} was rejected", path.display()))
}

fn read_json_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("could not read the {what} {}", path.display()))
}

fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let policy = load_policy(&runtime, &args.policy)?;
    let bill = read_json_file(&args.order, "bill")?;
    let invalid = |e: crate::papaya::PapayaError| {
        anyhow::anyhow!(
            "the bill {} is invalid: {}",
            args.order.display(),
            e.body().message
        )
    };
    // `accrue` runs on the completed bill: Papaya's endpoint-2 body, or an endpoint-1 one.
    let completed = args.accrue
        && serde_json::from_slice::<serde_json::Value>(&bill)
            .is_ok_and(|v| v.get("event").is_some());
    let query = if completed {
        let completed = crate::papaya::parse_order_completed(&bill).map_err(invalid)?;
        crate::papaya::DiscountQuery {
            card_id: completed.card_id,
            order: completed.order,
        }
    } else {
        crate::papaya::parse_discount_query(&bill).map_err(invalid)?
    };
    let (card, extras) = match &args.card {
        Some(path) => {
            let bytes = read_json_file(path, "card")?;
            let invalid = || format!("the card {} is invalid", path.display());
            let card = serde_json::from_slice::<Card>(&bytes).with_context(invalid)?;
            let extras = serde_json::from_slice::<CardFileExtras>(&bytes)
                .with_context(invalid)?
                .into_extras(&card)
                .with_context(invalid)?;
            (card, extras)
        }
        None => (Card::new(query.card_id.clone()), None),
    };
    let config = match &args.config {
        Some(path) => {
            let text = String::from_utf8(read_json_file(path, "config")?)
                .with_context(|| format!("the config {} is not UTF-8", path.display()))?;
            crate::policy_config::validate(&text)
                .with_context(|| format!("the config {} is invalid", path.display()))?;
            text
        }
        None => "{}".to_owned(),
    };
    let limits = Limits {
        fuel: args.fuel,
        deadline_ms: args.deadline_ms,
        ..Limits::default()
    };
    let offer = match &args.offer {
        Some(path) => Some(
            serde_json::from_slice::<Offer>(&read_json_file(path, "offer")?).with_context(
                || {
                    format!(
                        "the offer {} is invalid (write one with `rabat run --save-offer FILE`)",
                        path.display()
                    )
                },
            )?,
        ),
        None => None,
    };
    let input = CallInput {
        order: &query.order,
        card: Some(&card),
        config: &config,
        offer: offer.as_ref(),
        extras: extras.as_ref(),
        limits: &limits,
    };
    if args.accrue {
        let report = runtime.accrue(&policy, input);
        return print_accrual(args.json, &policy, report);
    }
    let available = extras
        .as_ref()
        .map_or(card.spendable_points(), |e| e.available_points);
    let (decision, offer) = decide_locally(&runtime, &policy, input, available);
    if let Some(path) = &args.save_offer {
        // An answer that failed offers nothing: the till got no discount.
        let offer = offer.clone().unwrap_or_else(|| Offer {
            offered_at: crate::clock::now_ms(),
            total_discount: decision.response.total_discount,
            ..Offer::default()
        });
        let text = serde_json::to_string_pretty(&offer)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("could not write the offer {}", path.display()))?;
        let code = print_decision(args.json, &policy, &decision, Some(&offer))?;
        if !args.json {
            eprintln!(
                "offer    {} ({} points held; try it with --accrue --offer)",
                path.display(),
                offer.held_points
            );
        }
        return Ok(code);
    }
    print_decision(args.json, &policy, &decision, offer.as_ref())
}

/// What a `--card` file may carry beside the card for a contract-0.3 policy: the available
/// points (default: the balance), the wallet, the profile and the next expiry, in
/// camelCase (the card's own `pendingPoints` is the card's).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardFileExtras {
    available_points: Option<i64>,
    #[serde(default)]
    wallet: Vec<rabat_domain::coupon::WalletCoupon>,
    #[serde(default)]
    profile: rabat_domain::coupon::Profile,
    /// The next expiry: `{"at": <epoch ms>, "points": N}`.
    next_expiry: Option<rabat_domain::lots::NextExpiry>,
}

impl CardFileExtras {
    /// The extras of the call; `None` when the file has none of them.
    fn into_extras(self, card: &Card) -> anyhow::Result<Option<rabat_domain::coupon::CardExtras>> {
        if self.available_points.is_none()
            && self.wallet.is_empty()
            && self.profile.is_empty()
            && self.next_expiry.is_none()
        {
            return Ok(None);
        }
        if let Some(problem) = self.profile.problem() {
            anyhow::bail!("profile: {problem}");
        }
        for (i, coupon) in self.wallet.iter().enumerate() {
            if let Some(problem) = rabat_domain::coupon::code_problem(&coupon.code) {
                anyhow::bail!("wallet[{i}].code: {problem}");
            }
            if let Some(problem) = coupon.value.problem() {
                anyhow::bail!("wallet[{i}].value: {problem}");
            }
        }
        Ok(Some(rabat_domain::coupon::CardExtras {
            available_points: self.available_points.unwrap_or(card.spendable_points()),
            wallet: self.wallet,
            profile: self.profile,
            next_expiry: self.next_expiry,
            notes: Vec::new(),
        }))
    }
}

/// What the till would answer, as the server decides it: the policy's answer through the
/// money rules, and, for discounts that cost points, only those the card's available
/// points cover (its balance, or the card file's `availablePoints`); the
/// dropped ones are in the log, as the server logs them. Also the offer the server would
/// hold and later pass to `accrue` (`None` when the policy failed).
fn decide_locally(
    runtime: &Runtime,
    policy: &CompiledPolicy,
    input: CallInput<'_>,
    available_points: i64,
) -> (Decision, Option<Offer>) {
    let crate::policy::CallReport {
        result,
        fuel_used,
        peak_memory_bytes,
        duration,
        mut logs,
        logs_dropped,
    } = runtime.evaluate(policy, input);
    let mut offer = None;
    let result = result.and_then(|evaluation| {
        // The host's gates as at the till: a coupon is usable when the card file's wallet
        // holds it (the till checks the store under the card's lock), then the points.
        let wallet = input
            .extras
            .map(|e| e.wallet.as_slice())
            .unwrap_or_default();
        let lookup = |code: &str| {
            Some(
                wallet
                    .iter()
                    .find(|c| c.code == code)
                    .map(|c| rabat_domain::coupon::CouponTerms {
                        batch: c.batch.clone(),
                        value: c.value,
                        min_bill: c.min_bill,
                    })
                    .ok_or_else(|| format!("coupon {code} is not in the card file's wallet")),
            )
        };
        let afforded = rabat_domain::points::settle(
            &evaluation.discounts,
            available_points,
            Some(input.order.total),
            rabat_domain::currency::minor_units(&input.order.currency),
            &lookup,
        );
        logs.extend(afforded.dropped.iter().map(|message| LogLine {
            level: LogLevel::Warn,
            message: format!("host: {message}"),
        }));
        let kept = crate::model::Evaluation {
            discounts: afforded.kept,
            message: evaluation.message,
        };
        let (response, sources) = crate::money::discount_response_traced(input.order, &kept)
            .map_err(|e| Failure::InvalidAnswer(e.to_string()))?;
        offer = Some(rabat_domain::points::offer(
            &kept.discounts,
            &response,
            &sources,
            crate::clock::now_ms(),
        ));
        Ok(response)
    });
    let report = crate::policy::CallReport {
        result: Ok(()),
        fuel_used,
        peak_memory_bytes,
        duration,
        logs,
        logs_dropped,
    };
    let decision = crate::service::runner::money_decision(input.order, result, report);
    (decision, offer)
}

fn print_decision(
    json: bool,
    policy: &CompiledPolicy,
    decision: &Decision,
    offer: Option<&Offer>,
) -> anyhow::Result<ExitCode> {
    let info = policy.info();
    if json {
        let value = serde_json::json!({
            "outcome": decision.outcome(),
            "decision": decision,
            "offer": offer,
            "module": info,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        // The answer the till gets — on a failure, the fail-safe one — then the numbers.
        println!("{}", serde_json::to_string_pretty(&decision.response)?);
        print_stats(policy, &decision.report);
        if let Some(failure) = &decision.failure {
            eprintln!();
            eprintln!("error: {failure} (the till gets the answer above: no discount)");
        }
    }
    Ok(if decision.failure.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_accrual(
    json: bool,
    policy: &CompiledPolicy,
    report: crate::policy::CallReport<crate::model::Accrual>,
) -> anyhow::Result<ExitCode> {
    if json {
        let value = serde_json::json!({
            "outcome": report.result.as_ref().map_or_else(|f| f.outcome(), |_| "answer"),
            "accrual": report.result.as_ref().ok(),
            "failure": report.result.as_ref().err(),
            "report": &report,
            "module": policy.info(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(if report.result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    match &report.result {
        Ok(accrual) => {
            println!("{}", serde_json::to_string_pretty(accrual)?);
            let unit = CallReportStats::from(&report);
            print_stats_of(policy, &unit);
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            print_stats_of(policy, &CallReportStats::from(&report));
            eprintln!();
            eprintln!("error: {failure} (the bill would be recorded with 0 points)");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The numbers `rabat run` prints under an answer.
struct CallReportStats<'a> {
    fuel_used: u64,
    peak_memory_bytes: usize,
    duration: std::time::Duration,
    logs: &'a [crate::policy::sandbox::LogLine],
    logs_dropped: u32,
}

impl<'a, T> From<&'a crate::policy::CallReport<T>> for CallReportStats<'a> {
    fn from(r: &'a crate::policy::CallReport<T>) -> Self {
        CallReportStats {
            fuel_used: r.fuel_used,
            peak_memory_bytes: r.peak_memory_bytes,
            duration: r.duration,
            logs: &r.logs,
            logs_dropped: r.logs_dropped,
        }
    }
}

fn print_stats(policy: &CompiledPolicy, report: &crate::policy::CallReport<()>) {
    print_stats_of(policy, &CallReportStats::from(report));
}

fn print_stats_of(policy: &CompiledPolicy, stats: &CallReportStats<'_>) {
    let info = policy.info();
    eprintln!();
    eprintln!("fuel     {} instructions", stats.fuel_used);
    eprintln!(
        "memory   {} KiB peak",
        stats.peak_memory_bytes.div_ceil(1024)
    );
    eprintln!("time     {} µs", stats.duration.as_micros());
    eprintln!(
        "module   {} bytes{}",
        info.size_bytes,
        if info.uses_wasi { " (uses WASI)" } else { "" }
    );
    if stats.logs.is_empty() {
        eprintln!("logs     (none)");
    } else {
        eprintln!("logs");
        for line in stats.logs {
            eprintln!("  [{:?}] {}", line.level, line.message);
        }
        if stats.logs_dropped > 0 {
            eprintln!("  … {} more lines dropped", stats.logs_dropped);
        }
    }
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let policy = load_policy(&runtime, path)?;
    let info = policy.info();
    println!(
        "ok: {} is a valid rabat policy ({} bytes, sha256 {}, compiled in {} ms; imports: {})",
        path.display(),
        info.size_bytes,
        info.sha256,
        info.compile_time.as_millis(),
        if info.imports.is_empty() {
            "none".to_owned()
        } else {
            info.imports.join(", ")
        }
    );
    println!("contract: {}", info.contract);
    Ok(ExitCode::SUCCESS)
}

fn new(options: scaffold::NewOptions) -> anyhow::Result<ExitCode> {
    let created = scaffold::create(&options)?;
    let shown = options.path.display();
    let place = match &created.registration {
        scaffold::Registration::RabatWorkspace(manifest)
        | scaffold::Registration::OtherWorkspace(manifest) => {
            format!("a member of the workspace {}", shown_path(manifest))
        }
        scaffold::Registration::Standalone => "a workspace of its own".to_owned(),
    };
    println!("created {shown}: package {} ({place})", created.name);
    for file in &created.files {
        println!("  {shown}/{file}");
    }
    println!();
    println!("next: rabat build {}", shell_word(&shown.to_string()));
    Ok(ExitCode::SUCCESS)
}

fn build(dir: &Path, target: Target) -> anyhow::Result<ExitCode> {
    let built = build_policy(&BuildOptions {
        crate_dir: dir.to_path_buf(),
        target,
        target_dir: None,
        quiet: false,
    })?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    load_policy(&runtime, &built.path)?;
    println!(
        "built {} ({} bytes)",
        shown_path(&built.path),
        built.size_bytes
    );
    println!("next: {}", run_command(dir, &built.path));
    Ok(ExitCode::SUCCESS)
}

/// The `rabat run` line that tries a freshly built policy: on the crate's own sample bill,
/// card and config when it has them (`rabat new` makes them), else on the repository's.
fn run_command(crate_dir: &Path, wasm: &Path) -> String {
    let examples = crate::policy::build::examples_dir().join("data");
    let first = |candidates: &[PathBuf]| candidates.iter().find(|p| p.is_file()).cloned();
    let bill = first(&[
        crate_dir.join(scaffold::SAMPLE_BILL_PATH),
        PathBuf::from("examples/data/bills/papaya-discount-request.json"),
        examples.join("bills/papaya-discount-request.json"),
    ]);
    let card = first(&[
        crate_dir.join(scaffold::SAMPLE_CARD_PATH),
        PathBuf::from("examples/data/cards/gold.json"),
        examples.join("cards/gold.json"),
    ]);
    let config = first(&[crate_dir.join("config.json")]);
    let mut line = format!("rabat run --policy {}", shell_word(&shown_path(wasm)));
    for (flag, path) in [("--order", bill), ("--card", card), ("--config", config)] {
        if let Some(path) = path {
            line.push_str(&format!(" {flag} {}", shell_word(&shown_path(&path))));
        }
    }
    if !line.contains("--order") {
        line.push_str(" --order <a Papaya POS bill (JSON)>");
    }
    line
}

/// `path` as the user would type it: relative to the current directory when under it.
fn shown_path(path: &Path) -> String {
    let clean = |p: &Path| -> PathBuf {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
    };
    let path = clean(path);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            let cwd = cwd.canonicalize().unwrap_or(cwd);
            let full = path.canonicalize().ok()?;
            full.strip_prefix(&cwd).ok().map(Path::to_path_buf)
        })
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
