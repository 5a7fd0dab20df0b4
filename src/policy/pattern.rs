//! Path patterns: `*`, `**`, `?`, `[...]` and a trailing `/***`.
