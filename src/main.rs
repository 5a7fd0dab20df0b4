//! The `stockade` command: argument parsing only, over the library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
