//! The `tailcache-bench` binary: parses flags and runs a benchmark.

fn main() {
    std::process::exit(tailcache_bench::cli::main_with_args(std::env::args_os()));
}
