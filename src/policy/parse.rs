//! One parser for `-m` rules, config files and in-sandbox commands.
