//! `patgate-ci`: reviews token requests and revokes grants from CI pipelines (docs/CLI.md).

fn main() -> std::process::ExitCode {
    patgate_cli::main()
}
