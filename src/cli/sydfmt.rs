//! stockade invoked as `sydfmt`: formats sydbox-1's special magic commands,
//! as Paludis's `esandbox exec` needs (`[[ -e "$(sydfmt exec -- CMD...)" ]]`).
//! `sydfmt exec [--] PROGRAM [ARG...]` prints the magic path, without a
//! newline: `/dev/sydbox/cmd/exec!` then PROGRAM and each ARG separated by
//! the unit separator (octal 037).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use stockade::policy::sydbox::UNIT_SEPARATOR;

const USAGE: &str = "\
usage: sydfmt [-hv]
       sydfmt exec [--] PROGRAM [ARG...]

Prints the sydbox magic path that runs PROGRAM outside the sandbox.
";

/// Runs `sydfmt ARGS`; returns the exit code.
pub fn main(argv: &[OsString]) -> i32 {
    let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    match args.as_slice() {
        [b"-h" | b"--help", ..] => {
            super::print_out(USAGE);
            0
        }
        [b"-v" | b"--version", ..] => {
            super::print_out(&format!(
                "sydfmt (stockade {})\n",
                env!("CARGO_PKG_VERSION")
            ));
            0
        }
        [b"exec", rest @ ..] => {
            let command = match rest {
                [b"--", command @ ..] => command,
                command => command,
            };
            if command.is_empty() {
                super::print_err(USAGE);
                return 1;
            }
            let mut out = b"/dev/sydbox/cmd/exec!".to_vec();
            out.extend_from_slice(&command.join(&UNIT_SEPARATOR));
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&out)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return 1;
            }
            0
        }
        [other, ..] => {
            super::print_err(&format!(
                "sydfmt: invalid command `{}'\n{USAGE}\n",
                String::from_utf8_lossy(other)
            ));
            1
        }
        [] => {
            super::print_err(USAGE);
            1
        }
    }
}
