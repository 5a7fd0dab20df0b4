//! Violation reports: human lines, JSON lines, the exit summary and stats.
