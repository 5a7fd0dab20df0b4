//! Network address rules and socket addresses.
