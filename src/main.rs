fn main() -> std::process::ExitCode {
    vizier::cli::run(std::env::args_os())
}
