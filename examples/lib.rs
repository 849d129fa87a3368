//! Runnable examples of the KubeSage Rust API live beside this file; see `scan_demo.rs`.
