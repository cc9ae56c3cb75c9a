//! The `rabat` binary: see `rabat --help`.

fn main() -> std::process::ExitCode {
    rabat::cli::main()
}
