//! Configuration: one TOML file, validated into typed settings with every problem reported.
