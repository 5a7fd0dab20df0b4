//! Rendering arguments for reports: paths quoted and escaped, flags by name.

use crate::report::escape;

/// A path as shown in a report: quoted, with odd bytes escaped.
pub fn path(p: &[u8]) -> String {
    format!("\"{}\"", escape(p))
}

/// open(2) flags by name, e.g. `O_WRONLY|O_CREAT|O_TRUNC`.
pub fn open_flags(flags: i32) -> String {
    let mut names = vec![match flags & libc::O_ACCMODE {
        libc::O_WRONLY => "O_WRONLY",
        libc::O_RDWR => "O_RDWR",
        _ => "O_RDONLY",
    }];
    const NAMED: [(i32, &str); 11] = [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_SYNC, "O_SYNC"),
        (libc::O_DIRECT, "O_DIRECT"),
    ];
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        names.push("O_TMPFILE");
    } else if flags & libc::O_DIRECTORY != 0 {
        names.push("O_DIRECTORY");
    }
    for (bit, name) in NAMED {
        if flags & bit == bit {
            names.push(name);
        }
    }
    names.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_are_named() {
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(
            open_flags(libc::O_RDWR | libc::O_TMPFILE),
            "O_RDWR|O_TMPFILE"
        );
    }

    #[test]
    fn paths_are_quoted_and_escaped() {
        assert_eq!(path(b"/tmp/\xff"), "\"/tmp/\\xff\"");
    }
}
